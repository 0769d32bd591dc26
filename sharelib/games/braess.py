"""Traffic networks with Braess's paradox (D3C paper, Sec. 3.1, Figs. 2-3).

The network has four nodes S, A, B, E and five directed edges, indexed in this order::

    0: S->A    1: A->E    2: S->B    3: B->E    4: A->B (the optional shortcut)

Edge ``e`` costs ``slope[e] * n_e + intercept[e]`` minutes to every driver on it, where ``n_e``
is the number of drivers on the edge (affine congestion costs). The routes are SAE = {0, 1},
SBE = {2, 3} and, with the shortcut, SABE = {0, 4, 3}.

Strategies (our reading; the paper does not spell out the parameterisation)
--------------------------------------------------------------------------
Driver ``i`` holds logits ``x_i`` over its routes and plays the mixed strategy
``p_i = softmax(x_i)``. Its loss ``f_i(x)`` is its *expected* commute time when every driver
samples its route independently. Because the edge costs are affine, the expectation is exact::

    f_i = sum_r p_ir sum_{e in r} ( slope_e (1 + sum_{j != i} q_je) + intercept_e ),
    q_je = sum_{r' ∋ e} p_jr'      (probability that driver j uses edge e)

``f_i`` is multilinear in ``(p_1, ..., p_n)``, so the social optimum over mixed profiles is
attained at a pure profile and is found exactly by enumerating the ``n_routes ** n`` pure
profiles (:meth:`BraessNetwork.optimum`).

The paper's network (Fig. 2a): SA and BE cost 10 per driver, AE and SB cost 45, AB costs 0.
With four drivers, without AB two drivers take each route (65 min each); with AB every driver
takes SABE at the Nash equilibrium (80 min each), so the price of anarchy is 80/65 = 1.2308.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numba
import numpy as np

from .. import experiments as _ex

__all__ = [
    "EDGE_NAMES",
    "ROUTES",
    "BraessNetwork",
    "paper_network",
    "random_braess_networks",
    "braess_losses_grads",
    "softmax_rows",
]

EDGE_NAMES = ("SA", "AE", "SB", "BE", "AB")
#: route incidence (routes x edges); the first two rows are the routes without the shortcut
ROUTES = np.array(
    [
        [1, 1, 0, 0, 0],  # SAE
        [0, 0, 1, 1, 0],  # SBE
        [1, 0, 0, 1, 1],  # SABE
    ],
    dtype=np.float64,
)
ROUTE_NAMES = ("SAE", "SBE", "SABE")


@numba.njit(cache=True)
def softmax_rows(x, out):
    """Row-wise softmax of ``x`` (n, k) written into ``out``."""
    n, k = x.shape
    for i in range(n):
        m = x[i, 0]
        for r in range(1, k):
            if x[i, r] > m:
                m = x[i, r]
        s = 0.0
        for r in range(k):
            out[i, r] = np.exp(x[i, r] - m)
            s += out[i, r]
        for r in range(k):
            out[i, r] /= s


@numba.njit(cache=True)
def braess_losses_grads(x, slope, intercept, incidence, f, G):
    """Expected commute times and their exact logit gradients.

    Parameters
    ----------
    x : (n, R) logits of the n drivers over the R routes.
    slope, intercept : (E,) affine edge costs.
    incidence : (R, E) route-edge incidence (rows of :data:`ROUTES`).
    f : (n,) output, ``f[k]`` = expected commute time of driver k.
    G : (n, n, R) output, ``G[k, j] = d f_k / d x_j`` (gradient w.r.t. driver j's logits).
    """
    n, R = x.shape
    E = slope.shape[0]
    p = np.empty((n, R))
    softmax_rows(x, p)
    q = np.zeros((n, E))  # edge-use probabilities
    for j in range(n):
        for r in range(R):
            for e in range(E):
                q[j, e] += p[j, r] * incidence[r, e]
    qsum = np.zeros(E)
    for j in range(n):
        for e in range(E):
            qsum[e] += q[j, e]
    gp = np.empty(R)  # gradient w.r.t. probabilities of one driver
    for k in range(n):
        # route costs for driver k given the others
        f[k] = 0.0
        for r in range(R):
            cr = 0.0
            for e in range(E):
                if incidence[r, e] != 0.0:
                    cr += incidence[r, e] * (slope[e] * (1.0 + qsum[e] - q[k, e]) + intercept[e])
            gp[r] = cr
            f[k] += p[k, r] * cr
        # own gradient: d f_k / d p_k = route costs
        dot = 0.0
        for r in range(R):
            dot += p[k, r] * gp[r]
        for r in range(R):
            G[k, k, r] = p[k, r] * (gp[r] - dot)
        # cross gradients: d f_k / d p_js = sum_e q_ke slope_e incidence[s, e]
        for j in range(n):
            if j == k:
                continue
            for s in range(R):
                v = 0.0
                for e in range(E):
                    v += q[k, e] * slope[e] * incidence[s, e]
                gp[s] = v
            dot = 0.0
            for s in range(R):
                dot += p[j, s] * gp[s]
            for s in range(R):
                G[k, j, s] = p[j, s] * (gp[s] - dot)


@numba.njit(cache=True)
def _enumerate_pure(slope, intercept, incidence, n):
    """Optimal total, best and worst pure-Nash totals over all ``R**n`` pure profiles."""
    R, E = incidence.shape
    total_profiles = R**n
    prof = np.zeros(n, dtype=np.int64)
    counts = np.zeros(E)
    opt = np.inf
    best_nash = np.inf
    worst_nash = -np.inf
    for code in range(total_profiles):
        c = code
        for i in range(n):
            prof[i] = c % R
            c //= R
        for e in range(E):
            counts[e] = 0.0
        for i in range(n):
            for e in range(E):
                counts[e] += incidence[prof[i], e]
        tot = 0.0
        is_nash = True
        for i in range(n):
            ci = 0.0
            for e in range(E):
                if incidence[prof[i], e] != 0.0:
                    ci += slope[e] * counts[e] + intercept[e]
            tot += ci
            for r in range(R):
                if r == prof[i]:
                    continue
                alt = 0.0
                for e in range(E):
                    if incidence[r, e] != 0.0:
                        alt += slope[e] * (counts[e] - incidence[prof[i], e] + 1.0) + intercept[e]
                if alt < ci - 1e-9:
                    is_nash = False
        if tot < opt:
            opt = tot
        if is_nash:
            if tot < best_nash:
                best_nash = tot
            if tot > worst_nash:
                worst_nash = tot
    return opt, best_nash, worst_nash


@dataclass(frozen=True)
class BraessNetwork:
    """A four-node traffic network with affine edge costs (see the module docstring).

    Parameters
    ----------
    slope, intercept : array of 5 floats, edge costs ``slope_e * n_e + intercept_e`` for the
        edges SA, AE, SB, BE, AB.
    shortcut : whether edge AB (and so route SABE) exists.
    n_drivers : number of drivers (the paper uses 4).
    """

    slope: np.ndarray
    intercept: np.ndarray
    shortcut: bool = True
    n_drivers: int = 4

    def __post_init__(self):
        object.__setattr__(self, "n_drivers", _ex.check_int("n_drivers", self.n_drivers, min=1, max=8))
        for name in ("slope", "intercept"):
            v = np.asarray(getattr(self, name), dtype=np.float64)
            if v.shape != (5,):
                raise ValueError(f"{name} must have 5 entries (SA, AE, SB, BE, AB); got shape {v.shape}")
            if not np.all(np.isfinite(v)) or np.any(v < 0):
                raise ValueError(f"{name} must be finite and >= 0; got {v}")
            object.__setattr__(self, name, v)

    @property
    def n_routes(self) -> int:
        return 3 if self.shortcut else 2

    @property
    def incidence(self) -> np.ndarray:
        return ROUTES[: self.n_routes].copy()

    def losses_and_grads(self, x):
        """``(f, G)``: expected commute times (n,) and ``G[k, j] = d f_k / d x_j`` (n, n, R)."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.n_drivers, self.n_routes):
            raise ValueError(f"x must have shape {(self.n_drivers, self.n_routes)}; got {x.shape}")
        f = np.empty(self.n_drivers)
        G = np.empty((self.n_drivers, self.n_drivers, self.n_routes))
        braess_losses_grads(x, self.slope, self.intercept, self.incidence, f, G)
        return f, G

    def losses(self, x) -> np.ndarray:
        return self.losses_and_grads(x)[0]

    def pure_costs(self, profile) -> np.ndarray:
        """Commute time of each driver when driver i takes route ``profile[i]``."""
        profile = np.asarray(profile, dtype=np.int64)
        inc = self.incidence
        counts = inc[profile].sum(axis=0)
        edge_cost = self.slope * counts + self.intercept
        return inc[profile] @ edge_cost

    def _profiles(self):
        return itertools.product(range(self.n_routes), repeat=self.n_drivers)

    def optimum(self):
        """Social optimum ``(total, profile)`` by enumerating pure profiles (exact, see module doc)."""
        best, arg = np.inf, None
        for prof in self._profiles():
            tot = self.pure_costs(prof).sum()
            if tot < best - 1e-12:
                best, arg = tot, prof
        return float(best), np.array(arg)

    def pure_nash(self, mixing=None):
        """All pure Nash equilibria as a list of ``(total, profile)``, found by enumeration.

        ``mixing`` (n, n), optional: a right-stochastic mixing matrix ``A``; the equilibria are
        then those of the *mixed* game in which driver i minimises ``f^A_i = sum_j A_ji f_j``
        (D3C's Eq. 1); ``total`` is always the sum of the drivers' own commutes. Without
        ``mixing`` (``A = I``) a congestion game is a potential game, so at least one pure
        equilibrium exists; a mixed game may have none.
        """
        n, R = self.n_drivers, self.n_routes
        A = np.eye(n) if mixing is None else np.asarray(mixing, dtype=np.float64)
        if A.shape != (n, n) or not np.all(np.isfinite(A)) or np.any(A < 0) or not np.allclose(A.sum(1), 1.0):
            raise ValueError(f"mixing must be a ({n}, {n}) matrix with non-negative rows summing to 1")
        profiles = np.array(list(self._profiles()), dtype=np.int64)  # row k is profile number k in base R
        costs = np.array([self.pure_costs(p) for p in profiles])
        mixed = costs @ A  # mixed[k, i] = sum_j A_ji costs[k, j]
        place = R ** np.arange(n - 1, -1, -1)
        out = []
        for k, prof in enumerate(profiles):
            # every unilateral deviation of driver i to route r is profile k + (r - prof_i) R^(n-1-i)
            dev = k + (np.arange(R)[None, :] - prof[:, None]) * place[:, None]
            if np.all(mixed[dev, np.arange(n)[:, None]] >= mixed[k][:, None] - 1e-9):
                out.append((float(costs[k].sum()), prof))
        return out

    def summary(self):
        """``(optimal total, best pure-Nash total, worst pure-Nash total)`` (jitted enumeration)."""
        return _enumerate_pure(self.slope, self.intercept, self.incidence, self.n_drivers)

    def worst_nash(self) -> float:
        return float(self.summary()[2])

    def best_nash(self) -> float:
        return float(self.summary()[1])

    def price_of_anarchy(self) -> float:
        """Worst pure-Nash total over optimal total (Eq. 2 with the identity mixing matrix)."""
        return self.worst_nash() / self.optimum()[0]

    def with_shortcut(self, shortcut: bool) -> "BraessNetwork":
        return BraessNetwork(self.slope, self.intercept, shortcut, self.n_drivers)

    @property
    def params(self) -> np.ndarray:
        """``[slope(5), intercept(5)]`` as one array (the layout the batched kernels use)."""
        return np.concatenate([self.slope, self.intercept])


def paper_network(shortcut: bool = True) -> BraessNetwork:
    """The network of Fig. 2a: SA, BE cost 10 per driver; AE, SB cost 45; AB costs 0."""
    return BraessNetwork(
        slope=np.array([10.0, 0.0, 0.0, 10.0, 0.0]),
        intercept=np.array([0.0, 45.0, 45.0, 0.0, 0.0]),
        shortcut=shortcut,
        n_drivers=4,
    )


def random_braess_networks(n_networks: int, rng=None, *, n_drivers: int = 4, max_tries: int = 1_000_000,
                           slope_max: float = 20.0, intercept_max: float = 60.0,
                           shortcut_max: float = 5.0, margin: float = 1e-6):
    """Random networks that exhibit Braess's paradox (for Fig. 2b).

    Generator rule (ours; the paper does not publish its generator): draw the four main edges'
    slopes i.i.d. ``U(0, slope_max)`` and intercepts i.i.d. ``U(0, intercept_max)``, and the
    shortcut AB's slope and intercept i.i.d. ``U(0, shortcut_max)``. Keep the draw only if adding
    AB makes the Nash worse: the *best* pure Nash total with AB exceeds the *worst* pure Nash
    total without AB by more than ``margin`` (every equilibrium gets worse). Rejected draws are
    discarded.

    Returns
    -------
    networks : list of :class:`BraessNetwork` (with the shortcut).
    acceptance : fraction of draws that were kept.
    """
    n_networks = _ex.check_int("n_networks", n_networks, min=1)
    if not (rng is None or isinstance(rng, (np.random.Generator, np.random.BitGenerator, np.random.SeedSequence,
                                            list, tuple, np.ndarray))):
        rng = _ex.check_int("rng", rng, min=0)  # a seed
    rng = np.random.default_rng(rng)
    out, tries = [], 0
    while len(out) < n_networks:
        tries += 1
        if tries > max_tries:
            raise RuntimeError(f"only {len(out)} Braess networks found in {max_tries} draws")
        slope = np.empty(5)
        icpt = np.empty(5)
        slope[:4] = rng.uniform(0, slope_max, 4)
        icpt[:4] = rng.uniform(0, intercept_max, 4)
        slope[4] = rng.uniform(0, shortcut_max)
        icpt[4] = rng.uniform(0, shortcut_max)
        _, best_with, _ = _enumerate_pure(slope, icpt, ROUTES, n_drivers)
        _, _, worst_without = _enumerate_pure(slope, icpt, ROUTES[:2].copy(), n_drivers)
        if best_with > worst_without + margin:
            out.append(BraessNetwork(slope, icpt, True, n_drivers))
    return out, len(out) / tries
