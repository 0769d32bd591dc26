r"""DGN's graph-attention Q-network (Jiang et al., ICLR 2020), forward and backward in numba.

The low level of LToS on the jungle (LToS Sec. 4.3: "we use DGN [...] for the low-level policy").
All weights are shared by all agents; a batch is ``B`` copies of ``n`` agents, each agent ``i``
with a neighbourhood ``N_i`` of ``k`` agent indices (itself in slot 0, as
:attr:`sharelib.envs.Jungle.neighbours`). For the ``N = B n`` rows together
(``../shared/specs/ltos_d3c_as_cedos_reference_notes.md`` 1.4, DGN's jungle network):

1. encoder: ``h^0_i = ReLU(MLP(x_i))``, an MLP whose every layer is ReLU (DGN: 512 -> 128);
2. relation layers ``l = 1..R`` (DGN: R = 2), multi-head dot-product attention of agent ``i``
   over its neighbourhood, ``M`` heads of width ``d`` (DGN: 8 x 16):

       q^m_i = h_i W_q^m + b_q^m,   k^m_j = h_j W_k^m + b_k^m,   v^m_j = h_j W_v^m + b_v^m,
       alpha^m_ij = softmax_{j in N_i}( q^m_i . k^m_j / sqrt(d) ),
       h^l_i = ReLU( [sum_j alpha^m_ij v^m_j]_{m=1..M} W_o + b_o )      (width of h^0, DGN: 128)

   (the query is the agent's own row: DGN's ``vec = [1, 0, 0, 0]`` selecting the self slot);
3. Q head: ``Q_i = [h^0_i, h^1_i, ..., h^R_i] W_Q + b_Q`` (linear, one value per action).

The projections are linear (standard scaled dot-product attention); whether DGN's Keras code puts
ReLUs on q, k, v is not in the notes. Matrix products go through ``np.dot`` (BLAS); the attention
itself (``k`` = 4 slots) is a small loop. Kernels compute in the dtype of the parameters (float64
for gradient checks, float32 for speed). :class:`DGNNet` is the thin Python wrapper.

Parameter layout (one flat vector): the encoder MLP (the :mod:`sharelib.nn` layout), then per
relation layer ``W_q, b_q, W_k, b_k, W_v, b_v`` (``D x M d`` and ``M d``), ``W_o, b_o``
(``M d x D`` and ``D``), then ``W_Q`` (``(R + 1) D x A``) and ``b_Q``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np

from ..experiments import check_int
from .mlp import DTYPES, MLP, _backward, _forward, _orthogonal
from .mlp import _n_params as _n_enc  # the encoder is an MLP: its parameter count

__all__ = ["DGNNet", "relation_forward", "relation_backward"]


# --------------------------------------------------------------------------- one relation layer
@numba.njit(cache=True, error_model="numpy")
def _rel_forward(Hin, nbr, Wq, bq, Wk, bk, Wv, bv, Wo, bo, nh, dh, Q, K, V, A, O, out):
    """One relation layer on ``Hin (N, D)``, ``N = B n``; ``nbr (B, n, k)`` indexes agents of the
    same copy. Fills ``Q, K, V, O (N, M d)``, ``A (N, M, k)`` (attention) and ``out (N, D)``."""
    B, n, k = nbr.shape
    np.dot(Hin, Wq, Q)
    np.dot(Hin, Wk, K)
    np.dot(Hin, Wv, V)
    N, HD = Q.shape
    for r in range(N):
        for c in range(HD):
            Q[r, c] += bq[c]
            K[r, c] += bk[c]
            V[r, c] += bv[c]
    scale = 1.0 / np.sqrt(dh)
    s = np.empty(k)
    for b in range(B):
        for i in range(n):
            r = b * n + i
            for h in range(nh):
                c0 = h * dh
                mx = -np.inf
                for j in range(k):
                    rj = b * n + nbr[b, i, j]
                    v = 0.0
                    for c in range(c0, c0 + dh):
                        v += Q[r, c] * K[rj, c]
                    v *= scale
                    s[j] = v
                    if v > mx:
                        mx = v
                z = 0.0
                for j in range(k):
                    s[j] = np.exp(s[j] - mx)
                    z += s[j]
                for c in range(c0, c0 + dh):
                    O[r, c] = 0.0
                for j in range(k):
                    a = s[j] / z
                    A[r, h, j] = a
                    rj = b * n + nbr[b, i, j]
                    for c in range(c0, c0 + dh):
                        O[r, c] += a * V[rj, c]
    np.dot(O, Wo, out)
    D = out.shape[1]
    for r in range(N):
        for c in range(D):
            v = out[r, c] + bo[c]
            out[r, c] = v if v > 0.0 else 0.0


@numba.njit(cache=True, error_model="numpy")
def _rel_backward(Hin, nbr, Wq, Wk, Wv, Wo, nh, dh, Q, K, V, A, O, out, dout,
                  gWq, gbq, gWk, gbk, gWv, gbv, gWo, gbo, dHin):
    """Backward of :func:`_rel_forward`: gradients accumulate (``+=``) into ``g*`` and ``dHin``."""
    B, n, k = nbr.shape
    N, D = out.shape
    HD = Q.shape[1]
    dZ = np.empty((N, D), Hin.dtype)
    for r in range(N):
        for c in range(D):
            dZ[r, c] = dout[r, c] if out[r, c] > 0.0 else 0.0
    gWo += np.dot(O.T, dZ)
    for r in range(N):
        for c in range(D):
            gbo[c] += dZ[r, c]
    dO = np.dot(dZ, Wo.T)
    dQ = np.zeros((N, HD), Hin.dtype)
    dK = np.zeros((N, HD), Hin.dtype)
    dV = np.zeros((N, HD), Hin.dtype)
    scale = 1.0 / np.sqrt(dh)
    da = np.empty(k)
    for b in range(B):
        for i in range(n):
            r = b * n + i
            for h in range(nh):
                c0 = h * dh
                sa = 0.0
                for j in range(k):
                    rj = b * n + nbr[b, i, j]
                    v = 0.0
                    for c in range(c0, c0 + dh):
                        v += dO[r, c] * V[rj, c]
                    da[j] = v
                    sa += A[r, h, j] * v
                for j in range(k):
                    rj = b * n + nbr[b, i, j]
                    a = A[r, h, j]
                    ds = a * (da[j] - sa) * scale
                    for c in range(c0, c0 + dh):
                        dQ[r, c] += ds * K[rj, c]
                        dK[rj, c] += ds * Q[r, c]
                        dV[rj, c] += a * dO[r, c]
    gWq += np.dot(Hin.T, dQ)
    gWk += np.dot(Hin.T, dK)
    gWv += np.dot(Hin.T, dV)
    for r in range(N):
        for c in range(HD):
            gbq[c] += dQ[r, c]
            gbk[c] += dK[r, c]
            gbv[c] += dV[r, c]
    dHin += np.dot(dQ, Wq.T)
    dHin += np.dot(dK, Wk.T)
    dHin += np.dot(dV, Wv.T)


# --------------------------------------------------------------------------- the whole network
@numba.njit(cache=True)
def _rel_views(p, o, D, HD):
    Wq = p[o : o + D * HD].reshape(D, HD)
    o += D * HD
    bq = p[o : o + HD]
    o += HD
    Wk = p[o : o + D * HD].reshape(D, HD)
    o += D * HD
    bk = p[o : o + HD]
    o += HD
    Wv = p[o : o + D * HD].reshape(D, HD)
    o += D * HD
    bv = p[o : o + HD]
    o += HD
    Wo = p[o : o + HD * D].reshape(HD, D)
    o += HD * D
    bo = p[o : o + D]
    o += D
    return Wq, bq, Wk, bk, Wv, bv, Wo, bo, o


@numba.njit(cache=True, error_model="numpy")
def _dgn_forward(p, sizes, nh, dh, R, nA, x, nbr):
    """Forward of the whole network. ``x (N, d_in)`` (rows ``b n + i``), ``nbr (B, n, k)``.
    Returns ``(q (N, A), enc_cache, H (R+1, N, D), Qs, Ks, Vs, Os (R, N, M d), As (R, N, M, k))``."""
    N = x.shape[0]
    k = nbr.shape[2]
    D = sizes[sizes.shape[0] - 1]
    HD = nh * dh
    enc = np.empty(N * np.sum(sizes), p.dtype)
    y = _forward(p, sizes, 0, x, enc)  # relu hidden layers, linear output
    H = np.empty((R + 1, N, D), p.dtype)
    for r in range(N):
        for c in range(D):
            v = y[r, c]
            H[0, r, c] = v if v > 0.0 else 0.0
    Qs = np.empty((R, N, HD), p.dtype)
    Ks = np.empty((R, N, HD), p.dtype)
    Vs = np.empty((R, N, HD), p.dtype)
    Os = np.empty((R, N, HD), p.dtype)
    As = np.empty((R, N, nh, k), p.dtype)
    o = _n_enc(sizes)
    for l in range(R):
        Wq, bq, Wk, bk, Wv, bv, Wo, bo, o = _rel_views(p, o, D, HD)
        _rel_forward(H[l], nbr, Wq, bq, Wk, bk, Wv, bv, Wo, bo, nh, dh,
                     Qs[l], Ks[l], Vs[l], As[l], Os[l], H[l + 1])
    WQ = p[o : o + (R + 1) * D * nA].reshape((R + 1) * D, nA)
    bQ = p[o + (R + 1) * D * nA : o + (R + 1) * D * nA + nA]
    Hc = np.empty((N, (R + 1) * D), p.dtype)
    for l in range(R + 1):
        for r in range(N):
            for c in range(D):
                Hc[r, l * D + c] = H[l, r, c]
    q = np.dot(Hc, WQ)
    for r in range(N):
        for a in range(nA):
            q[r, a] += bQ[a]
    return q, enc, H, Qs, Ks, Vs, Os, As


@numba.njit(cache=True, error_model="numpy")
def _dgn_backward(p, sizes, nh, dh, R, nA, nbr, enc, H, Qs, Ks, Vs, Os, As, dq, grad, dx):
    """Backward of :func:`_dgn_forward`: ``d loss / d p`` accumulates into ``grad``; ``dx (N,
    d_in)`` receives ``d loss / d x`` when it has ``N`` rows (0 rows: skipped)."""
    N = dq.shape[0]
    D = sizes[sizes.shape[0] - 1]
    HD = nh * dh
    o_head = _n_enc(sizes) + R * (3 * (D * HD + HD) + HD * D + D)
    WQ = p[o_head : o_head + (R + 1) * D * nA].reshape((R + 1) * D, nA)
    gWQ = grad[o_head : o_head + (R + 1) * D * nA].reshape((R + 1) * D, nA)
    gbQ = grad[o_head + (R + 1) * D * nA : o_head + (R + 1) * D * nA + nA]
    Hc = np.empty((N, (R + 1) * D), p.dtype)
    for l in range(R + 1):
        for r in range(N):
            for c in range(D):
                Hc[r, l * D + c] = H[l, r, c]
    gWQ += np.dot(Hc.T, dq)
    for r in range(N):
        for a in range(nA):
            gbQ[a] += dq[r, a]
    dHc = np.dot(dq, WQ.T)
    dH = np.empty((R + 1, N, D), p.dtype)
    for l in range(R + 1):
        for r in range(N):
            for c in range(D):
                dH[l, r, c] = dHc[r, l * D + c]
    for l in range(R - 1, -1, -1):
        o = _n_enc(sizes) + l * (3 * (D * HD + HD) + HD * D + D)
        Wq, bq, Wk, bk, Wv, bv, Wo, bo, _ = _rel_views(p, o, D, HD)
        gWq, gbq, gWk, gbk, gWv, gbv, gWo, gbo, _ = _rel_views(grad, o, D, HD)
        _rel_backward(H[l], nbr, Wq, Wk, Wv, Wo, nh, dh, Qs[l], Ks[l], Vs[l], As[l], Os[l],
                      H[l + 1], dH[l + 1], gWq, gbq, gWk, gbk, gWv, gbv, gWo, gbo, dH[l])
    d0 = np.empty((N, D), p.dtype)
    for r in range(N):
        for c in range(D):
            d0[r, c] = dH[0, r, c] if H[0, r, c] > 0.0 else 0.0
    _backward(p, sizes, 0, enc, d0, grad, dx)


# --------------------------------------------------------------------------- Python wrappers
def _check_nbr(nbr, B, n):
    nbr = np.ascontiguousarray(nbr, dtype=np.int64)
    if nbr.ndim != 3 or nbr.shape[:2] != (B, n):
        raise ValueError(f"neighbours must have shape ({B}, {n}, k); got {nbr.shape}")
    if nbr.size and (nbr.min() < 0 or nbr.max() >= n):
        raise ValueError(f"neighbours must be agent indices in [0, {n - 1}]")
    return nbr


def relation_forward(params, H, nbr, n_heads, d_head):
    """One relation layer (module doc, step 2) on ``H (B, n, D)``: returns ``(out (B, n, D),
    cache)``. ``params`` = ``(W_q, b_q, W_k, b_k, W_v, b_v, W_o, b_o)`` (float64 arrays)."""
    H = np.ascontiguousarray(H, dtype=np.float64)
    B, n, D = H.shape
    nbr = _check_nbr(nbr, B, n)
    N, HD, k = B * n, n_heads * d_head, nbr.shape[2]
    Q, K, V, O = (np.empty((N, HD)) for _ in range(4))
    A = np.empty((N, n_heads, k))
    out = np.empty((N, D))
    Hf = H.reshape(N, D)
    ps = [np.ascontiguousarray(a, dtype=np.float64) for a in params]
    _rel_forward(Hf, nbr, *ps, n_heads, d_head, Q, K, V, A, O, out)
    return out.reshape(B, n, D), (Hf, nbr, ps, Q, K, V, A, O, out)


def relation_backward(cache, dout, n_heads, d_head):
    """Gradients ``(grads of the 8 parameters, dH (B, n, D))`` of one relation layer."""
    Hf, nbr, ps, Q, K, V, A, O, out = cache
    gs = [np.zeros_like(a) for a in ps]
    dH = np.zeros_like(Hf)
    d = np.ascontiguousarray(dout, dtype=np.float64).reshape(out.shape)
    Wq, _, Wk, _, Wv, _, Wo, _ = ps
    _rel_backward(Hf, nbr, Wq, Wk, Wv, Wo, n_heads, d_head, Q, K, V, A, O, out, d,
                  gs[0], gs[1], gs[2], gs[3], gs[4], gs[5], gs[6], gs[7], dH)
    B, n, _ = nbr.shape
    return gs, dH.reshape(B, n, -1)


@dataclass(frozen=True)
class DGNNet:
    """DGN's Q-network (module doc) for inputs of width ``d_in`` and ``n_actions`` actions.

    Parameters
    ----------
    d_in, n_actions : int
    encoder : tuple of int
        Widths of the ReLU encoder (DGN: ``(512, 128)``); the last is the feature width ``D``.
    n_heads, d_head : int
        Attention heads and their width (DGN: 8 and 16).
    n_relations : int
        Relation layers (DGN: 2).
    dtype : {"float64", "float32"}

    Examples
    --------
    >>> net = DGNNet(5, 3, encoder=(8,), n_heads=2, d_head=4)
    >>> p = net.init(seed=0)
    >>> nbr = np.array([[[0, 1], [1, 0], [2, 1]]])
    >>> net.forward(p, np.ones((1, 3, 5)), nbr).shape
    (1, 3, 3)
    """

    d_in: int
    n_actions: int
    encoder: tuple = (512, 128)
    n_heads: int = 8
    d_head: int = 16
    n_relations: int = 2
    dtype: str = "float64"
    _sizes: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "d_in", check_int("d_in", self.d_in, min=1))
        object.__setattr__(self, "n_actions", check_int("n_actions", self.n_actions, min=1))
        enc = tuple(self.encoder) if not isinstance(self.encoder, (int, np.integer)) else None
        if not enc or any(int(e) < 1 for e in enc):
            raise ValueError(f"encoder must be a non-empty sequence of positive widths; got {self.encoder!r}")
        object.__setattr__(self, "encoder", tuple(int(e) for e in enc))
        object.__setattr__(self, "n_heads", check_int("n_heads", self.n_heads, min=1))
        object.__setattr__(self, "d_head", check_int("d_head", self.d_head, min=1))
        object.__setattr__(self, "n_relations", check_int("n_relations", self.n_relations, min=0))
        dt = str(np.dtype(self.dtype)) if self.dtype in DTYPES else None
        if dt is None:
            raise ValueError(f"dtype must be one of {list(DTYPES)}; got {self.dtype!r}")
        object.__setattr__(self, "_sizes", np.asarray((self.d_in, *self.encoder), dtype=np.int64))

    # ------------------------------------------------------------------ layout
    @property
    def width(self) -> int:
        return self.encoder[-1]

    @property
    def _n_rel(self) -> int:
        D, HD = self.width, self.n_heads * self.d_head
        return 3 * (D * HD + HD) + HD * D + D

    @property
    def n_params(self) -> int:
        D, R = self.width, self.n_relations
        return int(_n_enc(self._sizes)) + R * self._n_rel + (R + 1) * D * self.n_actions + self.n_actions

    def views(self, params):
        """``{"encoder": [(W, b), ...], "relations": [dict(Wq=..., ...), ...], "head": (W, b)}``,
        views into ``params`` (writes go through)."""
        params = self._check_params(params)
        enc = MLP((self.d_in, *self.encoder), "relu", dtype=self.dtype)
        o = enc.n_params
        out = {"encoder": enc.views(params[..., :o]), "relations": []}
        D, HD = self.width, self.n_heads * self.d_head
        for _ in range(self.n_relations):
            rel = {}
            for name, shape in (("Wq", (D, HD)), ("bq", (HD,)), ("Wk", (D, HD)), ("bk", (HD,)),
                                ("Wv", (D, HD)), ("bv", (HD,)), ("Wo", (HD, D)), ("bo", (D,))):
                m = int(np.prod(shape))
                rel[name] = params[..., o : o + m].reshape(params.shape[:-1] + shape)
                o += m
            out["relations"].append(rel)
        R1 = (self.n_relations + 1) * D
        W = params[..., o : o + R1 * self.n_actions].reshape(params.shape[:-1] + (R1, self.n_actions))
        o += R1 * self.n_actions
        out["head"] = (W, params[..., o : o + self.n_actions])
        return out

    def init(self, seed=0):
        """Seeded parameters ``(n_params,)``: orthogonal weights (gain sqrt 2 before a ReLU, 1 for
        the attention projections and the Q head), zero biases."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(check_int("seed", seed, min=0))
        p = np.zeros(self.n_params)
        v = self.views(p)
        for W, _ in v["encoder"]:
            W[:] = _orthogonal(rng, *W.shape, np.sqrt(2.0))
        for rel in v["relations"]:
            for name in ("Wq", "Wk", "Wv"):
                rel[name][:] = _orthogonal(rng, *rel[name].shape, 1.0)
            rel["Wo"][:] = _orthogonal(rng, *rel["Wo"].shape, np.sqrt(2.0))
        v["head"][0][:] = _orthogonal(rng, *v["head"][0].shape, 1.0)
        return p.astype(self.dtype)

    # ----------------------------------------------------------------- compute
    def _check_params(self, params):
        params = np.asarray(params)
        if params.shape[-1] != self.n_params:
            raise ValueError(f"params must have last dimension {self.n_params}; got shape {params.shape}")
        return params

    def _check_x(self, x, nbr):
        x = np.ascontiguousarray(x, dtype=self.dtype)
        if x.ndim != 3 or x.shape[2] != self.d_in:
            raise ValueError(f"x must have shape (batch, n_agents, {self.d_in}); got {x.shape}")
        return x, _check_nbr(nbr, x.shape[0], x.shape[1])

    def forward(self, params, x, nbr):
        """``Q (B, n, n_actions)`` for inputs ``x (B, n, d_in)`` and neighbourhoods ``nbr (B, n, k)``."""
        q, _ = self.forward_cache(params, x, nbr)
        return q

    def forward_cache(self, params, x, nbr):
        """``(Q (B, n, n_actions), cache)``; pass the cache to :meth:`backward`."""
        p = np.ascontiguousarray(self._check_params(params), dtype=self.dtype)
        x, nbr = self._check_x(x, nbr)
        B, n, _ = x.shape
        out = _dgn_forward(p, self._sizes, self.n_heads, self.d_head, self.n_relations,
                           self.n_actions, x.reshape(B * n, self.d_in), nbr)
        return out[0].reshape(B, n, self.n_actions), (p, nbr, out[1:])

    def backward(self, params, cache, dq, grad=None, need_dx=False):
        """Gradient w.r.t. the parameters given ``dq = d loss / d Q (B, n, n_actions)``; returns
        ``grad`` (accumulated into the given array if any) or ``(grad, dx (B, n, d_in))``."""
        p, nbr, (enc, H, Qs, Ks, Vs, Os, As) = cache
        B, n, _ = nbr.shape
        dq = np.ascontiguousarray(dq, dtype=self.dtype)
        if dq.shape != (B, n, self.n_actions):
            raise ValueError(f"dq must have shape {(B, n, self.n_actions)}; got {dq.shape}")
        if grad is None:
            grad = np.zeros(self.n_params, self.dtype)
        dx = np.empty((B * n if need_dx else 0, self.d_in), self.dtype)
        _dgn_backward(p, self._sizes, self.n_heads, self.d_head, self.n_relations, self.n_actions,
                      nbr, enc, H, Qs, Ks, Vs, Os, As, dq.reshape(B * n, self.n_actions), grad, dx)
        return (grad, dx.reshape(B, n, self.d_in)) if need_dx else grad
