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
identity, then a ReLU dense layer). A Q-head on ``out`` gives CoLight's Q-values. Not yet wired into
:class:`sharelib.learners.DQN` (whose network is an MLP over one agent's input): this module is the
layer and its exact gradient (tested against finite differences), for the swap still to do.
"""

from __future__ import annotations

import numpy as np

from ..experiments import check_int

__all__ = ["NeighbourAttention"]

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
