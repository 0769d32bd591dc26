r"""A CoLight-style one-layer graph attention over each agent's neighbours (Wei et al. 2019), the
low level of LToS's traffic code (``../shared/specs/ltos_d3c_as_cedos_reference_notes.md`` 1.3:
``MultiHeadsAttModel`` with 1 head, ``dv = dout = 32``), forward and backward in NumPy.

For hidden features ``H`` ``(B, n, d)`` (the per-intersection embedding, in the code the output of
the ``[32, 32]`` MLP on ``[features, w_in]``) and neighbourhoods ``nbr`` int ``(n, k)`` or
``(B, n, k)`` (itself in slot 0, ``-1`` for a padded slot):

    a_i = relu(H_i W_a + b_a),  m_j = relu(H_j W_m + b_m),  v_j = relu(H_j W_v + b_v)   (dv each)
    alpha_is = softmax_s(a_i . m_{N_i[s]})   over the real slots s of N_i
    out_i = relu((sum_s alpha_is v_{N_i[s]}) W_o + b_o)                                   (dout)

(agent and neighbour projections, dot-product attention, one head so the mean over heads is the
identity, then a ReLU dense layer). :class:`CoLightNet` is the whole Q-network of the code (notes 1.3,
``build_network``): the ``[32, 32]`` ReLU trunk on each agent's input, this layer, and a linear
``Dense(n_actions)`` head, ``Q_i = out_i W_q + b_q``. It has :class:`sharelib.nn.DGNNet`'s interface
(``forward(params, x, nbr)``, ``forward_cache``, ``backward(..., need_dx)``) so the graph Q-learner
:class:`sharelib.learners.CoLight` and LToS's high-level gradient use it as they use DGN's network.
Left out: the code's activity regulariser ``L2ReLURegularizer(0.1)`` on positive Q-values (a
penalty on the output, not part of the architecture; stated where the traffic experiment lists its
constants).
"""

from __future__ import annotations

import numpy as np

from ..experiments import check_int
from .mlp import MLP

__all__ = ["NeighbourAttention", "CoLightNet"]

_NAMES = ("W_a", "b_a", "W_m", "b_m", "W_v", "b_v", "W_o", "b_o")


class NeighbourAttention:
    """One-head dot-product attention over neighbour slots (module docstring).

    Parameters are one flat float64 vector (:meth:`init`, :meth:`views`), in the order
    ``W_a, b_a, W_m, b_m, W_v, b_v`` (``(d, dv)`` and ``(dv,)``) then ``W_o, b_o`` (``(dv, dout)``,
    ``(dout,)``).
    """

    def __init__(self, d_in: int, dv: int = 32, dout: int = 32):
        self.d_in = check_int("d_in", d_in, min=1)
        self.dv = check_int("dv", dv, min=1)
        self.dout = check_int("dout", dout, min=1)
        d, v, o = self.d_in, self.dv, self.dout
        self._shapes = ((d, v), (v,), (d, v), (v,), (d, v), (v,), (v, o), (o,))
        self.n_params = int(sum(np.prod(s) for s in self._shapes))

    def views(self, params):
        """The parameter arrays (views into ``params``) as a dict by name."""
        params = np.asarray(params)
        if params.shape != (self.n_params,):
            raise ValueError(f"params must have shape ({self.n_params},); got {params.shape}")
        out, i = {}, 0
        for name, s in zip(_NAMES, self._shapes):
            size = int(np.prod(s))
            out[name] = params[i:i + size].reshape(s)
            i += size
        return out

    def init(self, seed: int = 0) -> np.ndarray:
        """Glorot-uniform weights, zero biases."""
        rng = np.random.default_rng(check_int("seed", seed, min=0))
        p = np.zeros(self.n_params)
        for name, w in self.views(p).items():
            if name.startswith("W"):
                a = np.sqrt(6.0 / (w.shape[0] + w.shape[1]))
                w[:] = rng.uniform(-a, a, w.shape)
        return p

    def _check(self, H, nbr):
        H = np.asarray(H, dtype=np.float64)
        if H.ndim != 3 or H.shape[2] != self.d_in:
            raise ValueError(f"H must have shape (B, n, {self.d_in}); got {H.shape}")
        B, n, _ = H.shape
        nbr = np.asarray(nbr, dtype=np.int64)
        if nbr.ndim == 2:
            nbr = np.broadcast_to(nbr, (B, *nbr.shape))
        if nbr.ndim != 3 or nbr.shape[:2] != (B, n):
            raise ValueError(f"nbr must have shape (n, k) or (B, n, k) with n = {n}; got {nbr.shape}")
        if nbr.size and (nbr.min() < -1 or nbr.max() >= n or (nbr[..., 0] < 0).any()):
            raise ValueError(f"nbr must hold agent indices in [0, {n - 1}] or -1 (padding), slot 0 real")
        return H, nbr

    def forward(self, params, H, nbr):
        """``out`` ``(B, n, dout)`` and the cache for :meth:`backward`."""
        H, nbr = self._check(H, nbr)
        P = self.views(params)
        B, n, _ = H.shape
        A = np.maximum(H @ P["W_a"] + P["b_a"], 0.0)
        M = np.maximum(H @ P["W_m"] + P["b_m"], 0.0)
        V = np.maximum(H @ P["W_v"] + P["b_v"], 0.0)
        mask = nbr >= 0
        idx = np.where(mask, nbr, 0)
        bidx = np.arange(B)[:, None, None]
        Mg, Vg = M[bidx, idx], V[bidx, idx]  # (B, n, k, dv)
        e = np.einsum("bnd,bnkd->bnk", A, Mg)
        e = np.where(mask, e, -np.inf)
        e = e - e.max(axis=-1, keepdims=True)
        alpha = np.exp(e)
        alpha /= alpha.sum(axis=-1, keepdims=True)
        C = np.einsum("bnk,bnkd->bnd", alpha, Vg)
        out = np.maximum(C @ P["W_o"] + P["b_o"], 0.0)
        return out, (H, idx, mask, A, M, V, Mg, Vg, alpha, C, out)

    def backward(self, params, cache, dout):
        """Gradients ``(d params (n_params,), d H (B, n, d_in))`` of ``sum(dout * out)``."""
        H, idx, mask, A, M, V, Mg, Vg, alpha, C, out = cache
        P = self.views(params)
        g = np.zeros(self.n_params)
        G = self.views(g)
        B = H.shape[0]
        dz = np.asarray(dout, dtype=np.float64) * (out > 0)
        G["W_o"][:] = np.einsum("bnd,bno->do", C, dz)
        G["b_o"][:] = dz.sum(axis=(0, 1))
        dC = dz @ P["W_o"].T
        dalpha = np.einsum("bnd,bnkd->bnk", dC, Vg)
        dVg = alpha[..., None] * dC[:, :, None, :]
        de = alpha * (dalpha - (alpha * dalpha).sum(axis=-1, keepdims=True))
        dA = np.einsum("bnk,bnkd->bnd", de, Mg)
        dMg = de[..., None] * A[:, :, None, :]
        dMg[~mask] = 0.0
        dVg[~mask] = 0.0
        dM, dV = np.zeros_like(M), np.zeros_like(V)
        bidx = np.broadcast_to(np.arange(B)[:, None, None], idx.shape)
        np.add.at(dM, (bidx, idx), dMg)
        np.add.at(dV, (bidx, idx), dVg)
        dH = np.zeros_like(H)
        for X, dX, w, b in ((A, dA, "W_a", "b_a"), (M, dM, "W_m", "b_m"), (V, dV, "W_v", "b_v")):
            dpre = dX * (X > 0)
            G[w][:] = np.einsum("bnd,bnv->dv", H, dpre)
            G[b][:] = dpre.sum(axis=(0, 1))
            dH += dpre @ P[w].T
        return g, dH


class CoLightNet:
    """CoLight's Q-network (module docstring) for inputs of width ``d_in`` and ``n_actions``
    actions: ``relu(MLP(x))`` with ReLU hidden layers of widths ``hidden`` (the code's
    ``[32, 32]``), :class:`NeighbourAttention` (``dv``, ``dout``: 32 and 32), a linear Q head.

    Parameters are one flat float64 vector: the trunk's (:class:`sharelib.nn.MLP` layout), then the
    attention layer's, then ``W_q (dout, n_actions)`` and ``b_q (n_actions,)``.

    Examples
    --------
    >>> net = CoLightNet(6, 4, hidden=(8, 8), dv=4, dout=4)
    >>> nbr = np.array([[0, 1, -1], [1, 0, 2], [2, 1, -1]])
    >>> net.forward(net.init(0), np.ones((2, 3, 6)), nbr).shape
    (2, 3, 4)
    """

    dtype = "float64"

    def __init__(self, d_in: int, n_actions: int, hidden=(32, 32), dv: int = 32, dout: int = 32):
        self.d_in = check_int("d_in", d_in, min=1)
        self.n_actions = check_int("n_actions", n_actions, min=1)
        hidden = () if isinstance(hidden, (int, np.integer)) else tuple(hidden)
        if not hidden or any(int(h) < 1 for h in hidden):
            raise ValueError(f"hidden must be a non-empty sequence of positive widths, e.g. (32, 32); got {hidden!r}")
        self.hidden = tuple(int(h) for h in hidden)
        self.trunk = MLP((self.d_in, *self.hidden), "relu")
        self.attention = NeighbourAttention(self.hidden[-1], dv, dout)
        self._split = (self.trunk.n_params, self.trunk.n_params + self.attention.n_params)
        self.n_params = self._split[1] + (self.attention.dout + 1) * self.n_actions

    def _parts(self, params):
        params = np.asarray(params, dtype=np.float64)
        if params.shape != (self.n_params,):
            raise ValueError(f"params must have shape ({self.n_params},); got {params.shape}")
        a, b = self._split
        o = self.attention.dout
        W_q = params[b:b + o * self.n_actions].reshape(o, self.n_actions)
        return params[:a], params[a:b], W_q, params[b + o * self.n_actions:]

    def init(self, seed=0) -> np.ndarray:
        """Glorot-uniform weights (Keras's default, the code's framework), zero biases; ``seed``
        an int >= 0 or a ``numpy.random.Generator``."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(check_int("seed", seed, min=0))
        p = np.zeros(self.n_params)
        trunk, att, W_q, _ = self._parts(p)
        trunk[:] = self.trunk.init(rng, scheme="glorot")
        att[:] = self.attention.init(int(rng.integers(2**31)))
        a = np.sqrt(6.0 / sum(W_q.shape))
        W_q[:] = rng.uniform(-a, a, W_q.shape)
        return p

    def forward(self, params, x, nbr):
        """``Q (B, n, n_actions)`` for inputs ``x (B, n, d_in)`` and neighbourhoods ``nbr`` ``(n, k)``
        or ``(B, n, k)`` (itself in slot 0, ``-1`` for padding)."""
        return self.forward_cache(params, x, nbr)[0]

    def forward_cache(self, params, x, nbr):
        """``(Q, cache)``; pass the cache to :meth:`backward`."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 3 or x.shape[2] != self.d_in:
            raise ValueError(f"x must have shape (batch, n_agents, {self.d_in}); got {x.shape}")
        B, n, _ = x.shape
        trunk, att, W_q, b_q = self._parts(params)
        pre, tcache = self.trunk.forward_cache(trunk, x.reshape(B * n, self.d_in))
        H = np.maximum(pre, 0.0).reshape(B, n, -1)  # the code's trunk ends in a ReLU too
        out, acache = self.attention.forward(att, H, nbr)
        return out @ W_q + b_q, (params, tcache, H, acache, out)

    def backward(self, params, cache, dq, grad=None, need_dx=False):
        """Gradient w.r.t. the parameters given ``dq = d loss / d Q (B, n, n_actions)``; returns
        ``grad`` (accumulated into the given array if any) or ``(grad, dx (B, n, d_in))``."""
        _, tcache, H, acache, out = cache
        B, n, _ = H.shape
        dq = np.asarray(dq, dtype=np.float64)
        if dq.shape != (B, n, self.n_actions):
            raise ValueError(f"dq must have shape {(B, n, self.n_actions)}; got {dq.shape}")
        trunk, att, W_q, _ = self._parts(params)
        g = np.zeros(self.n_params)
        g_trunk, g_att, g_W, g_b = self._parts(g)
        g_W[:] = np.einsum("bno,bna->oa", out, dq)
        g_b[:] = dq.sum(axis=(0, 1))
        ga, dH = self.attention.backward(att, acache, dq @ W_q.T)
        g_att[:] = ga
        dpre = (dH * (H > 0)).reshape(B * n, -1)
        res = self.trunk.backward(trunk, tcache, dpre, grad=g_trunk, need_dx=need_dx)
        if grad is not None:
            grad += g
            g = grad
        return (g, res[1].reshape(B, n, self.d_in)) if need_dx else g
