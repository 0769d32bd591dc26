"""Multi-layer perceptron over a flat parameter vector, forward and backward in numba.

See the package docstring of :mod:`sharelib.nn` for the parameter layout.  The
kernels (``_forward``, ``_backward``, ``_forward_agents``) work on plain arrays
and are usable from other numba kernels; :class:`MLP` is the thin Python
wrapper that validates shapes and allocates.

Initialisation schemes (biases are always zero):

``"orthogonal"``
    Saxe, McClelland & Ganguli (2014): each ``W_l`` is a (semi-)orthogonal
    matrix from the QR decomposition of a standard normal matrix (signs fixed
    by ``diag(R)`` so the distribution is Haar), scaled by a gain: ``sqrt(2)``
    for ReLU hidden layers, ``5/3`` for tanh hidden layers, and ``out_gain``
    for the last layer (default 1; use 0.01 for policy logits and 1 for values,
    the usual PPO choice).
``"glorot"``
    Glorot & Bengio (2010) uniform: ``W ~ U[-a, a]``, ``a = gain *
    sqrt(6 / (fan_in + fan_out))``, with gain 1 for hidden layers and
    ``out_gain`` for the last one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np

from ..experiments import check_int

ACTIVATIONS = {"relu": 0, "tanh": 1, "linear": 2}
DTYPES = ("float64", "float32")

__all__ = ["MLP", "ACTIVATIONS", "DTYPES"]


@numba.njit(cache=True)
def _n_params(sizes):
    n = 0
    for l in range(sizes.shape[0] - 1):
        n += sizes[l] * sizes[l + 1] + sizes[l + 1]
    return n


@numba.njit(cache=True)
def _tanh_inplace(out):
    """``out[:] = tanh(out)`` with NumPy's ``tanh`` (SVML's vectorised one where numba finds it)."""
    np.tanh(out, out)


@numba.njit(cache=True, error_model="numpy")
def _forward(p, sizes, act, x, cache):
    """Forward pass of one MLP over a batch.

    p: (P,) parameters; sizes: int64 (L+1,); act: 0 relu, 1 tanh, 2 linear
    (hidden layers; the output layer is linear); x: (B, d_0); cache: 1-D
    float64 of length ``B * sum(sizes)`` receives every layer's post-activation
    output, layer ``l`` as a C-contiguous ``(B, d_l)`` block starting at
    ``B * sum(sizes[:l])``.  Returns the output block ``(B, d_L)`` (a view).
    Matrix products go through ``np.dot`` (BLAS).
    """
    B = x.shape[0]
    L = sizes.shape[0] - 1
    h = cache[0 : B * sizes[0]].reshape(B, sizes[0])
    for b in range(B):
        for i in range(sizes[0]):
            h[b, i] = x[b, i]
    po = 0
    co = B * sizes[0]
    for l in range(L):
        din = sizes[l]
        dout = sizes[l + 1]
        W = p[po : po + din * dout].reshape(din, dout)
        bo = po + din * dout
        out = cache[co : co + B * dout].reshape(B, dout)
        np.dot(h, W, out)
        bias = p[bo : bo + dout]
        for b in range(B):
            for j in range(dout):
                out[b, j] += bias[j]
        if l < L - 1:
            if act == 0:
                for b in range(B):
                    for j in range(dout):
                        if out[b, j] < 0.0:
                            out[b, j] = 0.0
            elif act == 1:
                _tanh_inplace(out)
        h = out
        po = bo + dout
        co += B * dout
    return h


@numba.njit(cache=True)
def _backward(p, sizes, act, cache, dout_, grad, dx):
    """Backward pass: accumulate d loss / d p into ``grad`` (+=).

    cache: from :func:`_forward` (same batch); dout_: (B, d_L) gradient of the
    loss w.r.t. the output; grad: (P,) accumulated in place; dx: (B, d_0)
    receives d loss / d x when it has B rows (pass 0 rows to skip it).
    """
    B = dout_.shape[0]
    L = sizes.shape[0] - 1
    coffs = np.empty(L + 1, np.int64)
    poffs = np.empty(L, np.int64)
    co = 0
    po = 0
    for l in range(L + 1):
        coffs[l] = co
        co += B * sizes[l]
        if l < L:
            poffs[l] = po
            po += sizes[l] * sizes[l + 1] + sizes[l + 1]
    wmax = 0
    for l in range(L + 1):
        if sizes[l] > wmax:
            wmax = sizes[l]
    work = np.empty(2 * B * wmax, p.dtype)  # two (B, width) buffers, used alternately for dz and dh
    gb = np.empty(wmax, p.dtype)  # bias-gradient accumulator (a separate array, so the loop vectorises)
    dz = work[0 : B * sizes[L]].reshape(B, sizes[L])
    for b in range(B):
        for j in range(sizes[L]):
            dz[b, j] = dout_[b, j]
    side = 0
    want_dx = dx.shape[0] == B
    for l in range(L - 1, -1, -1):
        din = sizes[l]
        dout = sizes[l + 1]
        wo = poffs[l]
        bo = wo + din * dout
        h = cache[coffs[l] : coffs[l] + B * din].reshape(B, din)
        W = p[wo:bo].reshape(din, dout)
        gW = grad[wo:bo].reshape(din, dout)
        gW += np.dot(h.T, dz)
        for j in range(dout):
            gb[j] = grad[bo + j]
        for b in range(B):  # same additions in the same order as grad[bo + j] += dz[b, j]
            for j in range(dout):
                gb[j] += dz[b, j]
        for j in range(dout):
            grad[bo + j] = gb[j]
        if l > 0 or want_dx:
            side = 1 - side
            dh = work[side * B * wmax : side * B * wmax + B * din].reshape(B, din)
            np.dot(dz, W.T, dh)
            if l > 0:
                if act == 0:
                    for b in range(B):
                        for i in range(din):
                            if h[b, i] <= 0.0:
                                dh[b, i] = 0.0
                elif act == 1:
                    for b in range(B):
                        for i in range(din):
                            hv = h[b, i]
                            dh[b, i] *= 1.0 - hv * hv
                dz = dh
            else:
                for b in range(B):
                    for i in range(din):
                        dx[b, i] = dh[b, i]


@numba.njit(cache=True)
def _forward_agents(pop, sizes, act, obs, shared):
    """Forward every agent's network on its own observations.

    pop: (m, P) population (m = n agents, or 1 when ``shared``); obs:
    (E, n, d_0); returns (E, n, d_L) in the dtype of ``pop``.
    """
    E = obs.shape[0]
    n = obs.shape[1]
    L = sizes.shape[0] - 1
    out = np.empty((E, n, sizes[L]), pop.dtype)
    cache = np.empty(E * np.sum(sizes), pop.dtype)
    x = np.empty((E, sizes[0]), pop.dtype)
    for i in range(n):
        k = 0 if shared else i
        for e in range(E):
            for j in range(sizes[0]):
                x[e, j] = obs[e, i, j]
        y = _forward(pop[k], sizes, act, x, cache)
        for e in range(E):
            for j in range(sizes[L]):
                out[e, i, j] = y[e, j]
    return out


def _orthogonal(rng, rows, cols, gain):
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.where(np.diag(r) == 0, 1.0, np.diag(r)))
    if rows < cols:
        q = q.T
    return gain * q[:rows, :cols]


@dataclass(frozen=True)
class MLP:
    """A multi-layer perceptron ``sizes[0] -> ... -> sizes[-1]``.

    Parameters
    ----------
    sizes : tuple of int
        Layer widths including input and output, e.g. ``(obs_dim, 64, 64, n_actions)``.
    activation : {"tanh", "relu", "linear"}
        Hidden-layer activation; the output layer is always linear.
    dtype : {"float64", "float32"}
        Floating-point type of parameters, activations and gradients (default float64).
        ``"float32"`` halves memory traffic and doubles the SIMD width of the matrix products
        (the precision PyTorch uses by default); :meth:`init` draws the same numbers in both
        modes (float32 parameters are the float64 ones rounded).  Finite-difference gradient
        checks need float64.

    Examples
    --------
    >>> net = MLP((3, 8, 2), "tanh")
    >>> p = net.init(seed=0)
    >>> net.forward(p, np.ones((4, 3))).shape
    (4, 2)
    """

    sizes: tuple
    activation: str = "tanh"
    dtype: str = "float64"
    _sizes: np.ndarray = field(init=False, repr=False, compare=False)
    _act: int = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        sizes = tuple(int(s) for s in self.sizes)
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"sizes must hold at least 2 positive layer widths; got {self.sizes!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}; got {self.activation!r}")
        try:
            dt = str(np.dtype(self.dtype))
        except TypeError:
            dt = None
        if dt not in DTYPES:
            raise ValueError(f"dtype must be one of {list(DTYPES)}; got {self.dtype!r}")
        object.__setattr__(self, "dtype", dt)
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "_sizes", np.asarray(sizes, dtype=np.int64))
        object.__setattr__(self, "_act", ACTIVATIONS[self.activation])

    # ------------------------------------------------------------------ layout
    @property
    def n_params(self) -> int:
        """Length of the flat parameter vector."""
        return int(_n_params(self._sizes))

    @property
    def cache_width(self) -> int:
        """Activations stored per sample by :meth:`forward_cache` (``sum(sizes)``)."""
        return int(sum(self.sizes))

    def views(self, params):
        """List of ``(W_l, b_l)`` views into ``params`` (writes go through)."""
        params = self._check_params(params)
        out, o = [], 0
        for din, dout in zip(self.sizes[:-1], self.sizes[1:]):
            W = params[..., o : o + din * dout].reshape(params.shape[:-1] + (din, dout))
            o += din * dout
            b = params[..., o : o + dout]
            o += dout
            out.append((W, b))
        return out

    def bias_mask(self) -> np.ndarray:
        """Boolean ``(n_params,)``: True at the bias entries (e.g. to train a bias-free model by
        masking the gradient, as D3C's linear softmax prey "without bias term")."""
        mask = np.zeros(self.n_params, dtype=bool)
        o = 0
        for din, dout in zip(self.sizes[:-1], self.sizes[1:]):
            o += din * dout
            mask[o : o + dout] = True
            o += dout
        return mask

    def init(self, seed=0, n=None, scheme="orthogonal", out_gain=1.0):
        """Seeded initial parameters: shape ``(n_params,)`` or ``(n, n_params)``.

        ``seed`` is an int >= 0 or a ``numpy.random.Generator``; see the module
        docstring for the schemes.
        """
        if scheme not in ("orthogonal", "glorot"):
            raise ValueError(f"scheme must be 'orthogonal' or 'glorot'; got {scheme!r}")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(check_int("seed", seed, min=0))
        m = 1 if n is None else int(n)
        if m < 1:
            raise ValueError(f"n must be an integer >= 1; got {n}")
        pop = np.zeros((m, self.n_params))  # drawn in float64, rounded below for float32
        L = len(self.sizes) - 1
        hidden_gain = {"relu": np.sqrt(2.0), "tanh": 5.0 / 3.0, "linear": 1.0}[self.activation]
        for k in range(m):
            for l, (W, _b) in enumerate(self.views(pop[k])):
                din, dout = W.shape
                if scheme == "orthogonal":
                    g = out_gain if l == L - 1 else hidden_gain
                    W[:] = _orthogonal(rng, din, dout, g)
                else:
                    g = out_gain if l == L - 1 else 1.0
                    a = g * np.sqrt(6.0 / (din + dout))
                    W[:] = rng.uniform(-a, a, size=(din, dout))
        pop = pop.astype(self.dtype)
        return pop[0] if n is None else pop

    # ----------------------------------------------------------------- compute
    def _check_params(self, params):
        params = np.asarray(params)
        if params.shape[-1] != self.n_params:
            raise ValueError(f"params must have last dimension {self.n_params}; got shape {params.shape}")
        return params

    def _check_x(self, x):
        x = np.ascontiguousarray(x, dtype=self.dtype)
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(f"x must have shape (batch, {self.sizes[0]}); got {x.shape}")
        return x

    def forward(self, params, x):
        """Network output for a batch ``x`` of shape ``(B, sizes[0])``."""
        y, _ = self.forward_cache(params, x)
        return y.copy()

    def forward_cache(self, params, x):
        """``(output view, cache)``; pass the cache to :meth:`backward`."""
        params = np.ascontiguousarray(self._check_params(params), dtype=self.dtype)
        x = self._check_x(x)
        cache = np.empty(x.shape[0] * self.cache_width, self.dtype)
        y = _forward(params, self._sizes, self._act, x, cache)
        return y, cache

    def backward(self, params, cache, dout, grad=None, need_dx=False):
        """Gradient of a loss w.r.t. the parameters given ``dout = dloss/doutput``.

        Returns ``grad`` (accumulated into the given array if any), or
        ``(grad, dx)`` when ``need_dx``.
        """
        params = np.ascontiguousarray(self._check_params(params), dtype=self.dtype)
        dout = np.ascontiguousarray(dout, dtype=self.dtype)
        cache = np.ascontiguousarray(cache, dtype=self.dtype)
        B = cache.shape[0] // self.cache_width
        if dout.shape != (B, self.sizes[-1]):
            raise ValueError(f"dout must have shape {(B, self.sizes[-1])}; got {dout.shape}")
        if grad is None:
            grad = np.zeros(self.n_params, self.dtype)
        elif grad.dtype != np.dtype(self.dtype) or not grad.flags.c_contiguous:
            raise ValueError(f"grad must be a C-contiguous {self.dtype} array; got {grad.dtype}")
        dx = np.empty((B if need_dx else 0, self.sizes[0]), self.dtype)
        _backward(params, self._sizes, self._act, cache, dout, grad, dx)
        return (grad, dx) if need_dx else grad

    def forward_agents(self, pop, obs, shared=False):
        """Each agent's output on its own observations: ``obs (E, n, d) -> (E, n, d_out)``.

        ``pop`` is ``(n, P)`` or, with ``shared=True``, ``(1, P)``.
        """
        pop = np.ascontiguousarray(pop, dtype=self.dtype)
        return _forward_agents(pop, self._sizes, self._act, np.asarray(obs), bool(shared))
