"""Small numba neural networks with hand-written backward passes (``sharelib.nn``).

Everything an agent learns lives in **one flat, contiguous float64 vector**
(or float32 with ``MLP(..., dtype="float32")``, the precision PyTorch uses by
default: about twice as fast on large batches); a population of agents is a
2-D array ``(n_agents, n_params)``.  Averaging,
mixing or regularising parameters between agents (federations, consensus,
policy sharing) is therefore plain array arithmetic, e.g. federated averaging
is ``pop[:] = pop.mean(axis=0)`` and consensus over a row-stochastic matrix
``W`` is ``pop[:] = W @ pop``.

Contents
--------
:class:`DGNNet`
    DGN's graph-attention Q-network (encoder, multi-head relation layers over each agent's
    neighbourhood, Q head on the concatenated features), :mod:`sharelib.nn.attention`.
:class:`CoLightNet`
    CoLight's Q-network (ReLU trunk, one-head attention over the neighbours with padding,
    linear Q head), :mod:`sharelib.nn.colight`.
:class:`MLP`
    Multi-layer perceptron of any layer sizes, ReLU or tanh hidden units and a
    linear output; ``init`` (seeded, orthogonal or Glorot), ``views`` (per-layer
    ``(W, b)`` views into the flat vector), ``forward``, ``forward_cache`` and
    ``backward`` (gradient w.r.t. parameters and optionally inputs) over a batch.
Heads (functions of the network output, each returning values *and* their
derivative w.r.t. the network output):
    :func:`categorical_logp`, :func:`categorical_entropy`, :func:`softmax`,
    :func:`gaussian_logp`, :func:`gaussian_entropy`, :func:`value_loss`,
    :func:`ppo_surrogate`, :func:`pg_surrogate`, :func:`huber_loss`.
The MLP kernels and Adam compute in the dtype of the parameters they are given (float64 or
float32; float32 uses a rational tanh with absolute error below 4e-7); the heads compute in
float64.  Gradient checks against finite differences need float64.
Optimisers: :class:`Adam` (Kingma & Ba 2015, Algorithm 1), :class:`SGD`
(optional momentum) and :func:`clip_grad_norm` (per row of a population).

Matrix products inside the kernels use ``np.dot`` (BLAS through SciPy, which
numba requires for it).  Importing this package pins SciPy's OpenBLAS to
``SHARELIB_BLAS_THREADS`` threads (default 1; :func:`set_blas_threads`): for
our small matrices extra BLAS threads only cost synchronisation.

Parameter layout
----------------
For layer sizes ``(d_0, d_1, ..., d_L)`` the flat vector holds, for
``l = 0..L-1``, the weight matrix ``W_l`` of shape ``(d_l, d_{l+1})`` in
row-major order followed by the bias ``b_l`` of length ``d_{l+1}``, so that
``h_{l+1} = act(h_l @ W_l + b_l)`` (no activation after the last layer).
"""

from ._blas import set_blas_threads
from .mlp import MLP, ACTIVATIONS, DTYPES
from .attention import DGNNet
from .colight import CoLightNet
from .heads import (
    softmax,
    categorical_logp,
    categorical_entropy,
    gaussian_logp,
    gaussian_entropy,
    value_loss,
    pg_surrogate,
    ppo_surrogate,
    huber_loss,
    sample_categorical,
)
from .optim import Adam, SGD, clip_grad_norm

__all__ = [
    "MLP",
    "DGNNet",
    "CoLightNet",
    "ACTIVATIONS",
    "DTYPES",
    "softmax",
    "categorical_logp",
    "categorical_entropy",
    "gaussian_logp",
    "gaussian_entropy",
    "value_loss",
    "pg_surrogate",
    "ppo_surrogate",
    "huber_loss",
    "sample_categorical",
    "Adam",
    "SGD",
    "clip_grad_norm",
    "set_blas_threads",
]
