"""Algorithm 2 of CE-DOS (Belzner et al. 2018): cross-entropy DOS, one jitted kernel per run.

Every agent ``i`` keeps isotropic normal policies ``N(mu_a, sigma_a)`` over its action and, if it
is a sharer, ``N(mu_s, sigma_s)`` over its share. Each iteration (Alg. 2, lines 3-15) draws
``n_sample`` joint samples, clips actions to the action space and shares to ``[0, r_i]``, scores
them with Eq. 1 (:mod:`.utility`), keeps each agent's elite samples by utility and moves the
policy's mean and standard deviation towards the elite's with learning rate ``alpha`` and floor
``sigma_min``. After ``n_iter`` iterations every agent executes a sampled action and share
(lines 16-18). The readings the paper leaves open are described in :mod:`sharelib.sharing.ce_dos`.

Randomness: the kernel takes a ``numpy.random.Generator`` (numba draws from it with NumPy's own
algorithms) and draws agent by agent: all actions, agent-major, then the sharers' shares. A plain
NumPy implementation drawing ``rng.standard_normal((n, n_sample))`` and then
``rng.standard_normal((n_sharers, n_sample))`` sees the same numbers (:mod:`.reference`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from ... import experiments
from ...diagnostics import warn_if_nonfinite
from ...markets import ACTION_MAX, ACTION_MIN, MARKETS, Market, _market_rewards_row, sample_market
from .utility import POOLS, SHARE_CAPS, SHARING_RULES, _clip_shares_t, _utilities_t

__all__ = ["ELITE_MODES", "ACTION_UPDATES", "CEDOSResult", "run_ce_dos", "n_elite"]

#: ``"drop"``: drop the worst ``psi`` fraction of samples (Sec. 3.3, public code); ``"keep"``:
#: keep the best ``psi * n_sample`` (Alg. 2, line 10).
ELITE_MODES = ("drop", "keep")
#: ``"clipped"``: elite statistics of the executed (clipped) actions; ``"raw"``: of the unclipped
#: normal draws (public code).
ACTION_UPDATES = ("clipped", "raw")


@numba.njit(cache=True)
def _rewards_t(code, xi, c, o, cp, op, a, out, row_a, row_r):
    """Market rewards (Eq. 3, or Eqs. 4-6) of every joint sample ``a[:, t]`` into ``out[:, t]``.

    The market's own per-joint-action kernel, fed one sample at a time through the scratch rows
    ``row_a``, ``row_r`` (length n), so the market is defined once, in :mod:`sharelib.markets`.
    """
    n, k = a.shape
    for t in range(k):
        for i in range(n):
            row_a[i] = a[i, t]
        _market_rewards_row(code, xi, c, o, cp, op, row_a, row_r)
        for i in range(n):
            out[i, t] = row_r[i]


@numba.njit(cache=True)
def _sample_joint_t(rng, mu_a, sig_a, mu_s, sig_s, sharer, a_min, a_max, raw_a, a, raw_s):
    """Alg. 2, lines 3-5: draw joint samples agent-major (all actions, then the sharers' shares)."""
    n, k = a.shape
    for i in range(n):
        for t in range(k):
            x = mu_a[i] + sig_a[i] * rng.standard_normal()
            raw_a[i, t] = x
            a[i, t] = min(max(x, a_min), a_max)
    for i in range(n):
        for t in range(k):
            raw_s[i, t] = mu_s[i] + sig_s[i] * rng.standard_normal() if sharer[i] else 0.0


@numba.njit(cache=True)
def _sample_and_score(rng, mu_a, sig_a, mu_s, sig_s, sharer, a_min, a_max, code, xi, c, o, cp, op,
                      cap, rule, pool, raw_a, a, raw_s, s, r, u, tot, row_a, row_r):
    """Alg. 2, lines 3-9: draw joint samples, clip actions and shares, market rewards, Eq. 1."""
    _sample_joint_t(rng, mu_a, sig_a, mu_s, sig_s, sharer, a_min, a_max, raw_a, a, raw_s)
    _rewards_t(code, xi, c, o, cp, op, a, r, row_a, row_r)
    _clip_shares_t(raw_s, r, sharer, cap, s)
    _utilities_t(r, s, sharer, rule, pool, u, tot)


@numba.njit(cache=True)
def _select(x, j, buf):
    """The ``j``-th smallest entry of ``x`` (0-based), leaving ``x`` untouched.

    Quickselect with a branch-free three-way partition: each round writes every value twice into
    one half of the scratch ``buf`` (length >= 2 len(x)), the smaller ones packed from its start
    and the larger ones from its end, and only the write positions depend on the comparisons. With
    no data-dependent branch to mispredict (elite membership is random), it takes ~0.7 us on 100
    random samples (Sec. 4.2's batch), against ~1.9 us for numba's ``np.partition`` (which copies
    ``x``) and ~3.3 us for a stable ``np.argsort``. Kept because that is measurable end to end: with
    ``np.partition`` a paper-setting run (simple market, n = 100, half sharing) took 28.9 ms
    instead of 15.4 ms (``benchmarks/ce_dos.py``, 2026-12-02), the selection being most of a run.
    ``tests/test_ce_dos.py`` checks it against ``np.sort`` on continuous, tied and constant data.
    """
    k = x.shape[0]
    m = k  # size of the current candidate set
    src = -1  # where the candidates start in buf; -1: they are x itself
    half = 0  # the half of buf the next round writes into
    while m > 1:
        if src < 0:
            a, b, c = x[0], x[m >> 1], x[m - 1]
        else:
            a, b, c = buf[src], buf[src + (m >> 1)], buf[src + m - 1]
        # median of three as pivot
        if a > b:
            a, b = b, a
        if b > c:
            b = c
            if a > b:
                b = a
        pivot = b
        n_less = 0
        n_greater = 0
        top = half + k - 1
        if src < 0:
            for t in range(m):
                v = x[t]
                buf[half + n_less] = v
                buf[top - n_greater] = v
                n_less += v < pivot
                n_greater += v > pivot
        else:
            for t in range(m):
                v = buf[src + t]
                buf[half + n_less] = v
                buf[top - n_greater] = v
                n_less += v < pivot
                n_greater += v > pivot
        if j < n_less:
            src = half
            m = n_less
        elif j >= m - n_greater:
            j -= m - n_greater
            src = top - n_greater + 1
            m = n_greater
        else:
            return pivot
        half = k - half
    return x[0] if src < 0 else buf[src]


@numba.njit(cache=True)
def _elite_mask(u, n_el, mask, buf):
    """Mark in ``mask`` the ``n_el`` samples with the highest utility ``u`` (Alg. 2, line 10).

    Ties at the threshold go to lower sample indices, so the set is that of a stable sort,
    ``np.argsort(-u, kind="stable")[:n_el]`` (what :mod:`.reference` computes).
    """
    k = u.shape[0]
    thr = _select(u, k - n_el, buf)
    ties = n_el
    for t in range(k):
        mask[t] = u[t] > thr
        ties -= mask[t]
    for t in range(k):
        if ties == 0:
            break
        if u[t] == thr:
            mask[t] = True
            ties -= 1


@numba.njit(cache=True)
def _masked_mean_std(x, mask, n_el):
    """Mean and population standard deviation (``np.std``, ddof 0) of ``x[mask]``."""
    m = 0.0
    for t in range(x.shape[0]):
        m += x[t] * mask[t]
    m /= n_el
    v = 0.0
    for t in range(x.shape[0]):
        v += (x[t] - m) ** 2 * mask[t]
    return m, math.sqrt(v / n_el)


@numba.njit(cache=True)
def _record_policy(row, mu_a, sig_a, mu_s, sig_s, sharer, tr_mu_a, tr_sig_a, tr_mu_s, tr_sig_s):
    """Write the policies into row ``row`` of the traces (NaN share policy for defectors)."""
    for i in range(sharer.shape[0]):
        tr_mu_a[row, i] = mu_a[i]
        tr_sig_a[row, i] = sig_a[i]
        tr_mu_s[row, i] = mu_s[i] if sharer[i] else np.nan
        tr_sig_s[row, i] = sig_s[i] if sharer[i] else np.nan


@numba.njit(cache=True)
def _ce_dos_kernel(code, xi, c, o, cp, op, sharer, n_iter, n_sample, n_el, mu0, sigma0, smu0, ssigma0,
                   alpha, sigma_min, share_sigma_min, a_min, a_max, rule, cap, pool, update_raw, n_eval, rng,
                   tr_mu_a, tr_sig_a, tr_mu_s, tr_sig_s, tr_u, tr_r, tr_s, tr_glob,
                   ev_a, ev_s, ev_r, ev_u, ex_a, ex_s, ex_r, ex_u):
    """Algorithm 2 (CE-DOS) for one market; writes traces and the final evaluation in place.

    Traces: ``tr_mu_a`` etc. (n_iter + 1, n) hold the policy before each iteration and after the
    last; ``tr_u``, ``tr_r``, ``tr_s`` (n_iter, n) the per-agent sample means of utility, reward and
    (clipped) share in each iteration; ``tr_glob`` (n_iter,) the sample mean of global reward.
    ``ev_*`` (n,) are means over ``n_eval`` executions of lines 16-18, ``ex_*`` the first one.
    ``rng`` is a ``numpy.random.Generator``.
    """
    n = sharer.shape[0]
    mu_a = np.full(n, mu0)
    sig_a = np.full(n, sigma0)
    mu_s = np.full(n, smu0)
    sig_s = np.full(n, ssigma0)
    raw_a, a, raw_s = np.empty((n, n_sample)), np.empty((n, n_sample)), np.empty((n, n_sample))
    s, r, u = np.empty((n, n_sample)), np.empty((n, n_sample)), np.empty((n, n_sample))
    tot = np.empty(max(n_sample, n_eval))
    row_a, row_r = np.empty(n), np.empty(n)
    el = np.empty(n_sample, dtype=np.bool_)
    buf = np.empty(2 * n_sample)
    for it in range(n_iter):
        _record_policy(it, mu_a, sig_a, mu_s, sig_s, sharer, tr_mu_a, tr_sig_a, tr_mu_s, tr_sig_s)
        # lines 3-9: sample, clip actions to the action space and shares to [0, r_i], Eq. 1
        _sample_and_score(rng, mu_a, sig_a, mu_s, sig_s, sharer, a_min, a_max, code, xi, c, o, cp, op,
                          cap, rule, pool, raw_a, a, raw_s, s, r, u, tot, row_a, row_r)
        for i in range(n):
            tr_u[it, i] = u[i].mean()
            tr_r[it, i] = r[i].mean()
            tr_s[it, i] = s[i].mean()
        tr_glob[it] = tr_r[it].sum()
        for i in range(n):
            # lines 10-15: elite by utility, mean/std of its actions and shares, smoothed, floored
            _elite_mask(u[i], n_el, el, buf)
            m_new, sd_new = _masked_mean_std(raw_a[i] if update_raw else a[i], el, n_el)
            mu_a[i] = (1.0 - alpha) * mu_a[i] + alpha * m_new
            sig_a[i] = max((1.0 - alpha) * sig_a[i] + alpha * sd_new, sigma_min)
            if sharer[i]:
                m_new, sd_new = _masked_mean_std(s[i], el, n_el)
                mu_s[i] = (1.0 - alpha) * mu_s[i] + alpha * m_new
                sig_s[i] = max((1.0 - alpha) * sig_s[i] + alpha * sd_new, share_sigma_min)
    _record_policy(n_iter, mu_a, sig_a, mu_s, sig_s, sharer, tr_mu_a, tr_sig_a, tr_mu_s, tr_sig_s)
    # lines 16-18: execute a_i, s_i ~ pi_i (n_eval times, averaged)
    e_raw_a, e_a, e_raw_s = np.empty((n, n_eval)), np.empty((n, n_eval)), np.empty((n, n_eval))
    e_s, e_r, e_u = np.empty((n, n_eval)), np.empty((n, n_eval)), np.empty((n, n_eval))
    _sample_and_score(rng, mu_a, sig_a, mu_s, sig_s, sharer, a_min, a_max, code, xi, c, o, cp, op,
                      cap, rule, pool, e_raw_a, e_a, e_raw_s, e_s, e_r, e_u, tot, row_a, row_r)
    for i in range(n):
        ex_a[i], ex_s[i], ex_r[i], ex_u[i] = e_a[i, 0], e_s[i, 0], e_r[i, 0], e_u[i, 0]
        ev_a[i], ev_s[i], ev_r[i], ev_u[i] = e_a[i].mean(), e_s[i].mean(), e_r[i].mean(), e_u[i].mean()


def n_elite(n_sample: int, psi: float, elite: str = "drop") -> int:
    """Number of elite samples kept per agent and iteration.

    ``"drop"``: ``n_sample - floor(psi * n_sample)`` (Sec. 3.3; the public code's
    ``sort[int(len(sort) * PSI):]``). ``"keep"``: ``floor(psi * n_sample)`` (Algorithm 2, line 10).

    >>> n_elite(100, 0.25, "drop"), n_elite(100, 0.25, "keep")
    (75, 25)
    """
    # the small epsilon guards against 0.29 * 100 = 28.999999999999996
    dropped = int(math.floor(psi * n_sample + 1e-9))
    return n_sample - dropped if elite == "drop" else dropped


def _sharer_mask(n_agents: int, n_sharers, sharers) -> np.ndarray:
    if sharers is not None:
        if n_sharers is not None:
            raise ValueError("give either n_sharers or sharers, not both")
        mask = np.asarray(sharers)
        if mask.dtype != np.bool_ or mask.shape != (n_agents,):
            raise ValueError(f"sharers must be a boolean array of shape ({n_agents},); got {mask.dtype} {mask.shape}")
        return mask.copy()
    n_sharers = n_agents if n_sharers is None else n_sharers
    n_sharers = experiments.check_int("n_sharers", n_sharers, min=0, max=n_agents)
    mask = np.zeros(n_agents, dtype=np.bool_)
    mask[:n_sharers] = True  # as in the public code: agents 0 .. n_sharers-1 share
    return mask


@dataclass
class CEDOSResult:
    """Outcome of one CE-DOS run (Algorithm 2).

    Attributes
    ----------
    market : Market
    sharer : ndarray of bool, shape (n,)
    config : dict
        The algorithm's parameters (everything passed to :func:`run_ce_dos` but the market).
    mu_a, sigma_a, mu_s, sigma_s : ndarray, shape (n_iter + 1, n)
        Policy means and standard deviations before every iteration and after the last one.
        Share policies of defectors are NaN (defectors never share).
    utility, reward, share : ndarray, shape (n_iter, n)
        Per-agent means over the ``n_sample`` joint samples of each iteration.
    global_reward : ndarray, shape (n_iter,)
        Mean over samples of ``sum_i r_i`` (equal to ``sum_i u_i``, budget balance of Eq. 1).
    final_action, final_share, final_reward, final_utility : ndarray, shape (n,)
        Means over ``n_eval`` executions of the final policies (Algorithm 2, lines 16-18).
    exec_action, exec_share, exec_reward, exec_utility : ndarray, shape (n,)
        The first of those executions: the single joint action Algorithm 2 executes.
    """

    market: Market
    sharer: np.ndarray
    config: dict
    mu_a: np.ndarray
    sigma_a: np.ndarray
    mu_s: np.ndarray
    sigma_s: np.ndarray
    utility: np.ndarray
    reward: np.ndarray
    share: np.ndarray
    global_reward: np.ndarray
    final_action: np.ndarray
    final_share: np.ndarray
    final_reward: np.ndarray
    final_utility: np.ndarray
    exec_action: np.ndarray
    exec_share: np.ndarray
    exec_reward: np.ndarray
    exec_utility: np.ndarray

    @property
    def n_agents(self) -> int:
        return int(self.sharer.size)

    @property
    def n_sharers(self) -> int:
        return int(self.sharer.sum())

    def summary(self) -> dict:
        """Scalar outcomes (expected values under the final policies; NaN where a group is empty).

        Keys: ``global_utility`` (sum of utilities), ``mean_share`` (mean over sharers),
        ``sharer_utility`` and ``defector_utility`` (mean individual utility per group),
        ``mean_action``, ``sharer_reward`` (mean reward of sharers before sharing),
        ``share_fraction`` (sharers' total share over their total reward), and the first four with
        prefix ``last_`` from the last iteration's samples.
        """
        sh, de = self.sharer, ~self.sharer

        def grp(x, m):
            return float(x[m].mean()) if m.any() else float("nan")

        out = {
            "global_utility": float(self.final_utility.sum()),
            "mean_share": grp(self.final_share, sh),
            "sharer_utility": grp(self.final_utility, sh),
            "defector_utility": grp(self.final_utility, de),
            "mean_action": float(self.final_action.mean()),
            "sharer_reward": grp(self.final_reward, sh),
            # fraction of their own reward the sharers give away (NaN without sharers)
            "share_fraction": (float(self.final_share[sh].sum() / self.final_reward[sh].sum())
                               if sh.any() and self.final_reward[sh].sum() > 0 else float("nan")),
        }
        u, s = self.utility[-1], self.share[-1]
        out.update({
            "last_global_utility": float(u.sum()),
            "last_mean_share": grp(s, sh),
            "last_sharer_utility": grp(u, sh),
            "last_defector_utility": grp(u, de),
        })
        return out


def run_ce_dos(
    market: Market | str = "simple",
    n_agents: int | None = None,
    n_sharers: int | None = None,
    *,
    sharers=None,
    n_iter: int = 100,
    n_sample: int = 100,
    mu0: float = 0.0,
    sigma0: float = 1.0,
    share_mu0: float = 0.0,
    share_sigma0: float = 1.0,
    psi: float = 0.25,
    alpha: float = 0.5,
    sigma_min: float = 0.2,
    share_sigma_min: float | None = None,
    elite: str = "drop",
    sharing: str = "eq1",
    share_cap: str = "reward",
    pool: str = "sample",
    action_update: str = "clipped",
    action_bounds: tuple[float, float] = (ACTION_MIN, ACTION_MAX),
    n_eval: int = 100,
    seed: int = 0,
) -> CEDOSResult:
    """Run Cross-Entropy DOS (Algorithm 2) on a market.

    Parameters
    ----------
    market : Market or {"simple", "logistic"}
        A market instance, or a kind to draw from the domain sampler of Sec. 4.2 with ``seed``.
    n_agents : int, optional
        Number of agents (>= 2); required when ``market`` is a kind.
    n_sharers : int, optional
        Agents ``0 .. n_sharers - 1`` share, the rest defect (default: all share).
    sharers : array of bool, optional
        Explicit sharer mask instead of ``n_sharers``.
    n_iter, n_sample : int
        Iterations and joint samples per iteration (Sec. 4.2: 100 and 100).
    mu0, sigma0 : float
        Prior of the action policies (Eq. 2; Sec. 4.2: 0 and 1).
    share_mu0, share_sigma0 : float
        Prior of the share policies (Sec. 4.2 gives one prior; the public code uses 0 and 1).
    psi : float in (0, 1]
        Elite fraction; its meaning depends on ``elite``.
    alpha : float in (0, 1]
        Learning rate of the mean and standard-deviation updates (Alg. 2, lines 12-13).
    sigma_min : float > 0
        Floor on every policy standard deviation (Alg. 2, line 14).
    share_sigma_min : float > 0, optional
        A separate floor for the share policies (the public code has one, ``MIN_STD_SHARE``, also
        0.2); default: ``sigma_min``.
    elite : {"drop", "keep"}
        ``"drop"``: drop the worst ``psi`` fraction (Sec. 3.3, public code); ``"keep"``: keep the
        best ``psi * n_sample`` (Alg. 2, line 10).
    sharing : {"eq1", "sharers"}
        Eq. 1 (all others receive) or the public code (only other sharers receive).
    share_cap : {"reward", "none"}
        Clip shares to ``[0, r_i(a)]`` (Sec. 4.2) or to ``[0, inf)``.
    pool : {"sample", "batch"}
        Receipts per joint sample (Eq. 1) or averaged over the iteration's samples (public code).
    action_update : {"clipped", "raw"}
        Elite statistics of clipped actions, or of the raw normal draws (public code).
    action_bounds : (float, float)
        Action space (Sec. 4.2: [0.1, 4]).
    n_eval : int
        Executions of the final policies averaged in ``final_*`` (1 = Algorithm 2 as printed).
    seed : int
        Seed of the kernel's ``numpy.random.default_rng(seed)`` stream (and, when ``market`` is a
        kind, of the market, drawn from ``SeedSequence([seed, 1])``): any integer >= 0.

    Returns
    -------
    CEDOSResult

    A run whose policies or rewards become non-finite emits a
    :class:`sharelib.diagnostics.NonFiniteWarning` with the first iteration where they did.
    """
    seed = experiments.check_int("seed", seed, min=0)
    if isinstance(market, str):
        experiments.check_choice("market", market, MARKETS)
        if n_agents is None:
            raise ValueError("n_agents is required when market is a kind ('simple' or 'logistic')")
        n_agents = experiments.check_int("n_agents", n_agents, min=2)
        market = sample_market(market, n_agents, np.random.SeedSequence([seed, 1]))
    elif isinstance(market, Market):
        if n_agents is not None and n_agents != market.n_agents:
            raise ValueError(f"n_agents={n_agents} disagrees with the market's {market.n_agents} agents")
        experiments.check_int("n_agents", market.n_agents, min=2)  # a check only: Market stores an int
    else:
        raise ValueError(f"market must be a Market or one of {MARKETS}; got {market!r}")
    n = market.n_agents
    mask = _sharer_mask(n, n_sharers, sharers)
    n_iter = experiments.check_int("n_iter", n_iter, min=1)
    n_sample = experiments.check_int("n_sample", n_sample, min=1)
    mu0 = experiments.check_float("mu0", mu0)
    sigma0 = experiments.check_float("sigma0", sigma0, min=0.0, min_inclusive=False)
    share_mu0 = experiments.check_float("share_mu0", share_mu0)
    share_sigma0 = experiments.check_float("share_sigma0", share_sigma0, min=0.0, min_inclusive=False)
    psi = experiments.check_float("psi", psi, min=0.0, max=1.0, min_inclusive=False)
    alpha = experiments.check_float("alpha", alpha, min=0.0, max=1.0, min_inclusive=False)
    sigma_min = experiments.check_float("sigma_min", sigma_min, min=0.0, min_inclusive=False)
    share_sigma_min = sigma_min if share_sigma_min is None else experiments.check_float(
        "share_sigma_min", share_sigma_min, min=0.0, min_inclusive=False)
    elite = experiments.check_choice("elite", elite, ELITE_MODES)
    sharing = experiments.check_choice("sharing", sharing, SHARING_RULES)
    share_cap = experiments.check_choice("share_cap", share_cap, SHARE_CAPS)
    pool = experiments.check_choice("pool", pool, POOLS)
    action_update = experiments.check_choice("action_update", action_update, ACTION_UPDATES)
    n_eval = experiments.check_int("n_eval", n_eval, min=1)
    try:
        a_min, a_max = (float(x) for x in action_bounds)
    except (TypeError, ValueError):
        raise ValueError(f"action_bounds must be two numbers (low, high); got {action_bounds!r}") from None
    if not (math.isfinite(a_min) and math.isfinite(a_max) and a_min < a_max):
        raise ValueError(f"action_bounds must be finite with low < high; got {action_bounds!r}")
    if market.kind == "simple" and a_min <= 0:
        raise ValueError(f"action_bounds must be > 0 in the simple market (Eq. 3 divides by sum a); got {action_bounds!r}")
    n_el = n_elite(n_sample, psi, elite)
    if n_el < 1:
        raise ValueError(
            f"n_sample * psi leaves no elite sample: elite={elite!r}, psi={psi}, n_sample={n_sample} "
            f"keeps {n_el}; increase n_sample or {'lower' if elite == 'drop' else 'raise'} psi"
        )
    tr = {k: np.empty((n_iter + 1, n)) for k in ("mu_a", "sigma_a", "mu_s", "sigma_s")}
    it = {k: np.empty((n_iter, n)) for k in ("utility", "reward", "share")}
    glob = np.empty(n_iter)
    ev = {k: np.empty(n) for k in ("final_action", "final_share", "final_reward", "final_utility",
                                    "exec_action", "exec_share", "exec_reward", "exec_utility")}
    _ce_dos_kernel(
        *market.kernel_args(), mask, n_iter, n_sample, n_el, mu0, sigma0, share_mu0, share_sigma0,
        alpha, sigma_min, share_sigma_min, a_min, a_max, SHARING_RULES.index(sharing), share_cap == "reward",
        POOLS.index(pool), action_update == "raw", n_eval, np.random.default_rng(seed),
        tr["mu_a"], tr["sigma_a"], tr["mu_s"], tr["sigma_s"], it["utility"], it["reward"], it["share"], glob,
        ev["final_action"], ev["final_share"], ev["final_reward"], ev["final_utility"],
        ev["exec_action"], ev["exec_share"], ev["exec_reward"], ev["exec_utility"],
    )
    _warn_nonfinite_ce_dos("run_ce_dos", glob, tr, it, mask)
    config = dict(n_iter=n_iter, n_sample=n_sample, mu0=mu0, sigma0=sigma0, share_mu0=share_mu0,
                  share_sigma0=share_sigma0, psi=psi, alpha=alpha, sigma_min=sigma_min,
                  share_sigma_min=share_sigma_min, elite=elite,
                  sharing=sharing, share_cap=share_cap, pool=pool, action_update=action_update,
                  action_bounds=(a_min, a_max), n_eval=n_eval, seed=seed, n_elite=n_el)
    return CEDOSResult(market=market, sharer=mask, config=config, global_reward=glob, **tr, **it, **ev)


def _warn_nonfinite_ce_dos(caller, glob, tr, it, sharer):
    """One warning if a run's trace went non-finite (checked once, after the kernel returned).

    Per-iteration traces are reported by iteration (0-based, as their rows); the policy traces
    (``n_iter + 1`` rows, row 0 the prior) by update: "at update k" is the policy after k updates.
    The share policies of non-sharers are NaN by design and not checked.
    """
    if warn_if_nonfinite(f"{caller}: global reward", glob, unit="iteration", stacklevel=3):
        return
    for key, arr in it.items():
        if warn_if_nonfinite(f"{caller}: {key}", arr, unit="iteration", stacklevel=3):
            return
    for key, arr in tr.items():
        if warn_if_nonfinite(f"{caller}: {key}", arr[:, sharer] if key.endswith("_s") else arr, unit="update",
                             stacklevel=3):
            return
