"""Optimisers over flat parameter vectors or populations ``(n_agents, n_params)``.

:class:`Adam` follows Kingma & Ba (2015), Algorithm 1, exactly:
``m <- b1 m + (1-b1) g``; ``v <- b2 v + (1-b2) g^2``;
``p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``.
:class:`SGD`: ``u <- momentum u + g``; ``p <- p - lr u``.
:func:`clip_grad_norm` rescales each row (agent) of a gradient so its L2 norm
is at most ``max_norm`` (Pascanu et al. 2013).

Gradients are of a loss to *minimise*.  Each optimiser keeps its state in
arrays the shape of the parameters; with a population every row is updated by
the same rule (agents never share optimiser state).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["Adam", "SGD", "clip_grad_norm"]


@numba.njit(cache=True, error_model="numpy")  # no division-by-zero branch: the loop vectorises
def _adam_step(p, g, m, v, lr, b1, b2, eps, t):
    # the scalars in the parameters' precision, so float32 parameters are updated in float32
    # arithmetic throughout (vectorised; for float64 this is exactly the float64 formula)
    c = np.empty(7, p.dtype)
    c[0] = b1
    c[1] = 1.0 - b1
    c[2] = b2
    c[3] = 1.0 - b2
    c[4] = lr
    c[5] = 1.0 - b1**t
    c[6] = 1.0 - b2**t
    b1_, nb1, b2_, nb2, lr_, c1, c2 = c[0], c[1], c[2], c[3], c[4], c[5], c[6]
    e = np.empty(1, p.dtype)
    e[0] = eps
    eps_ = e[0]
    for k in range(p.shape[0]):
        m[k] = b1_ * m[k] + nb1 * g[k]
        v[k] = b2_ * v[k] + nb2 * g[k] * g[k]
        p[k] -= lr_ * (m[k] / c1) / (np.sqrt(v[k] / c2) + eps_)


@numba.njit(cache=True)
def _clip_rows(g, max_norm):
    n = g.shape[0]
    norms = np.empty(n)
    for i in range(n):
        s = 0.0
        for k in range(g.shape[1]):
            s += g[i, k] * g[i, k]
        s = np.sqrt(s)
        norms[i] = s
        if s > max_norm:
            f = max_norm / (s + 1e-12)
            for k in range(g.shape[1]):
                g[i, k] *= f
    return norms


def clip_grad_norm(grad, max_norm):
    """Clip in place each row's L2 norm to ``max_norm``; returns the norms before clipping.

    ``grad`` is ``(P,)`` (one vector) or ``(n, P)`` (one row per agent).
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be a float > 0; got {max_norm}")
    g2 = grad.reshape(1, -1) if grad.ndim == 1 else grad
    norms = _clip_rows(g2, float(max_norm))
    return norms[0] if grad.ndim == 1 else norms


class Adam:
    """Adam with bias correction (Kingma & Ba 2015, Algorithm 1).

    Parameters
    ----------
    shape : tuple
        Shape of the parameter array it updates (``(P,)`` or ``(n, P)``).
    lr, betas, eps : float
        Step size, decay rates ``(b1, b2)``, and denominator constant.
    dtype : {"float64", "float32"}
        Type of the moment estimates (use the parameters' type).
    """

    def __init__(self, shape, lr=3e-4, betas=(0.9, 0.999), eps=1e-8, dtype="float64"):
        if not lr > 0:
            raise ValueError(f"lr must be a float > 0; got {lr}")
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"betas must lie in [0, 1); got {betas}")
        self.lr = float(lr)
        self.b1, self.b2 = float(betas[0]), float(betas[1])
        self.eps = float(eps)
        self.m = np.zeros(shape, dtype)
        self.v = np.zeros(shape, dtype)
        self.t = 0

    def step(self, params, grad):
        """Update ``params`` in place from ``grad`` (same shape); returns ``params``."""
        if params.shape != self.m.shape or grad.shape != self.m.shape:
            raise ValueError(f"params and grad must have shape {self.m.shape}; got {params.shape}, {grad.shape}")
        if not params.flags.c_contiguous:
            raise ValueError("params must be C-contiguous (it is updated in place)")
        self.t += 1
        _adam_step(params.reshape(-1), np.ascontiguousarray(grad, dtype=self.m.dtype).reshape(-1), self.m.reshape(-1),
                   self.v.reshape(-1), self.lr, self.b1, self.b2, self.eps, float(self.t))
        return params


class SGD:
    """Stochastic gradient descent with optional (heavy-ball) momentum."""

    def __init__(self, shape, lr=1e-2, momentum=0.0):
        if not lr > 0:
            raise ValueError(f"lr must be a float > 0; got {lr}")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1); got {momentum}")
        self.lr = float(lr)
        self.momentum = float(momentum)
        self.u = np.zeros(shape)

    def step(self, params, grad):
        if params.shape != self.u.shape or grad.shape != self.u.shape:
            raise ValueError(f"params and grad must have shape {self.u.shape}; got {params.shape}, {grad.shape}")
        self.u *= self.momentum
        self.u += grad
        params -= self.lr * self.u
        return params
