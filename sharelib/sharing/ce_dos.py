"""CE-DOS: distributed cross-entropy optimisation with utility sharing (Belzner et al. 2018).

"The Sharer's Dilemma in Collective Adaptive Systems of Self-Interested Agents" (ISoLA 2018,
arXiv 1804.10781). Each agent ``i`` chooses an action ``a_i`` and, if it is a *sharer*, a share
``s_i >= 0``; its utility is (Eq. 1)

    u_i(a, s) = r_i(a) - s_i + sum_{j != i} s_j / (n - 1).

Distributed Optimisation with Sharing (DOS, Algorithm 1) lets every agent improve its own policy
from jointly sampled actions; Cross-Entropy DOS (Algorithm 2) uses per-agent isotropic normal
policies ``N(mu, sigma)`` over action and share, keeps elite samples by utility, and moves mean and
standard deviation towards the elite's with learning rate ``alpha`` and floor ``sigma_min``. After
``n_iter`` iterations every agent samples an action and a share and executes them (Algorithm 2,
lines 16-18). Defectors never share (their share is 0), but see ``sharing`` below for whether
they receive.

Readings the paper leaves open (all are options of :func:`run_ce_dos`)
----------------------------------------------------------------------
``sharing``
    ``"eq1"`` (default): Eq. 1 as printed: "Shares are uniformly distributed among all other
    agents", so a sharer's share is spread over all ``n - 1`` others and defectors receive too.
    ``"sharers"``: the public code (``dos/experiment.py``): only agents ``< N_SHARING`` trade,
    each sharer receives the mean share of the *other sharers*; defectors neither pay nor receive.
    With fewer than two sharers there is nobody to receive, and we make the transfer void
    (``u_i = r_i``; the public code takes the mean of an empty list, i.e. NaN).
``elite``
    ``"drop"`` (default): Sec. 3.3, "we drop a fraction psi of samples ... we only keep high
    utility samples", and the public code (``elite = sort[int(len(sort) * PSI):]``): at
    ``psi = 0.25`` the elite is the top 75% of samples. ``"keep"``: Algorithm 2, line 10, "keep
    psi * n_sample elite samples with highest utility" (top 25% at ``psi = 0.25``).
``share_cap``
    ``"reward"`` (default): Sec. 4.2, "we clipped the sharing values such that agents are only able
    to share up to their current reward, i.e. s_i <= r_i(a)" (the public code does the same,
    ``np.clip(trades, 0, values)``). ``"none"``: shares clipped to ``[0, inf)`` only (Algorithm 2,
    line 5; Sec. 4.2, "other setups with unbound sharing are possible").

Two further details where the public code differs from the text, also options:

``pool``
    ``"sample"`` (default): Eq. 1 per joint sample, so what agent ``i`` receives in joint sample
    ``k`` is the others' shares in that sample (budget balance holds in every joint sample).
    ``"batch"``: the public code receives ``np.mean([trades[j] for j ...])``, a mean over the other
    sharers *and over all samples*, a constant within an iteration that therefore never affects
    elite selection (budget balance holds for the mean over samples).
``action_update``
    ``"clipped"`` (default): elite statistics of the executed (clipped to ``[0.1, 4]``) actions.
    ``"raw"``: the public code computes them from the unclipped normal draws.

Defaults follow the paper's text where it is unambiguous (Eq. 1, the share cap), and the public
code where the text contradicts itself (the elite: Sec. 3.3 and the code against Algorithm 2).

The result reports the *expected* utilities of the final policies as a Monte-Carlo mean over
``n_eval`` executions of Algorithm 2, lines 16-18 (``n_eval = 1`` is the single execution of the
algorithm; the public code's figures use the sample means of the last iteration instead, which
the traces also hold).

Randomness: the kernel draws the standard normals of ``numpy.random.default_rng(seed)``, agent by
agent, through :mod:`sharelib.pcg64` (the same numbers, generated in blocks), so
:func:`run_ce_dos_numpy`, a plain NumPy implementation that draws the same stream, reproduces every
run to rounding (checked in ``tests/test_ce_dos.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numba
import numpy as np

from .. import experiments, libm, pcg64
from ..diagnostics import warn_if_nonfinite
from ..markets import ACTION_MAX, ACTION_MIN, MARKETS, Market, sample_market

__all__ = [
    "SHARING_RULES",
    "ELITE_MODES",
    "SHARE_CAPS",
    "POOLS",
    "ACTION_UPDATES",
    "CEDOSResult",
    "run_ce_dos",
    "run_ce_dos_numpy",
    "utilities",
    "clip_shares",
    "n_elite",
    "figure_point",
    "figure_data",
    "ablation_data",
    "panel_arrays",
    "claims",
    "CoinExample",
    "coin_example",
    "simulate_coin_game",
]

SHARING_RULES = ("eq1", "sharers")
ELITE_MODES = ("drop", "keep")
SHARE_CAPS = ("reward", "none")
POOLS = ("sample", "batch")
ACTION_UPDATES = ("clipped", "raw")


# ================================================================================================
# Kernels
# ================================================================================================


@numba.njit(cache=True, error_model="numpy")
def _rewards_t(code, xi, c, o, cp, op, a, out, tot, ws):
    """Market rewards (Eq. 3 or Eq. 6) for joint samples stored agent-major: ``a[i, t]`` (n, k).

    The production curves of Eq. 4 take the vectorisable ``exp`` of :mod:`sharelib.libm` (the
    C library's bits, about twice as fast), with ``ws`` (3, >= k) as its scratch; a row with an
    argument outside its range (``|c_i (a - o_i)| >= 512``) is evaluated with ``np.exp`` instead.
    ``error_model="numpy"`` drops the per-division zero check, never needed here: actions are >=
    a_min > 0 and 1 + exp(.) >= 1. The results are bit-identical either way.
    """
    n, k = a.shape
    for t in range(k):
        tot[t] = 0.0
    if code == 0:
        for i in range(n):
            for t in range(k):
                tot[t] += a[i, t]
        for t in range(k):
            tot[t] = 1.0 / np.abs(tot[t]) ** xi
        for i in range(n):
            for t in range(k):
                out[i, t] = a[i, t] * tot[t]
    else:
        keys, rs, tails = ws[0], ws[1], ws[2]
        for i in range(n):
            # Eq. 4, p_i = 1 / (1 + exp(-c_i (a_i - o_i))), in the three steps of libm's exp
            inside = True
            for t in range(k):
                z = -c[i] * (a[i, t] - o[i])
                inside &= libm.exp_in_range(z)
                keys[t], rs[t] = libm.exp_reduce(z)
            if inside:
                for t in range(k):
                    tails[t], keys[t] = libm.exp_lookup(keys[t])  # keys now hold the scales
                for t in range(k):
                    p = 1.0 / (1.0 + libm.exp_finish(rs[t], tails[t], keys[t]))
                    out[i, t] = p
                    tot[t] += p
            else:
                for t in range(k):
                    p = 1.0 / (1.0 + np.exp(-c[i] * (a[i, t] - o[i])))
                    out[i, t] = p
                    tot[t] += p
        # Eq. 5, the price of global production (k values: np.exp is fine)
        for t in range(k):
            tot[t] = 1.0 - 1.0 / (1.0 + np.exp(-cp * (tot[t] - op)))
        for i in range(n):
            for t in range(k):
                out[i, t] *= tot[t]


@numba.njit(cache=True)
def _sample_joint_t(rng, mu_a, sig_a, mu_s, sig_s, sharer, a_min, a_max, raw_a, a, raw_s):
    """Draw joint samples agent-major: all actions (agent by agent), then the sharers' shares.

    ``rng`` is a stream of :mod:`sharelib.pcg64` (``(state, words)``): the normals of
    ``numpy.random.default_rng(seed)``, generated a row at a time.
    """
    state, words = rng
    n, k = a.shape
    for i in range(n):
        z = raw_a[i]
        pcg64.fill_standard_normal(state, words, z)
        for t in range(k):
            x = mu_a[i] + sig_a[i] * z[t]
            raw_a[i, t] = x
            a[i, t] = min(max(x, a_min), a_max)
    for i in range(n):
        if sharer[i]:
            z = raw_s[i]
            pcg64.fill_standard_normal(state, words, z)
            for t in range(k):
                raw_s[i, t] = mu_s[i] + sig_s[i] * z[t]
        else:
            for t in range(k):
                raw_s[i, t] = 0.0


@numba.njit(cache=True)
def _clip_shares_t(raw, r, sharer, cap, out):
    """Agent-major version of :func:`_clip_shares_kernel`."""
    n, k = r.shape
    for i in range(n):
        for t in range(k):
            if not sharer[i]:
                out[i, t] = 0.0
                continue
            s = raw[i, t]
            if cap and s > r[i, t]:
                s = r[i, t]
            if s < 0.0:
                s = 0.0
            out[i, t] = s


@numba.njit(cache=True)
def _utilities_t(r, s, sharer, rule, pool, u, tot):
    """Agent-major version of :func:`_utilities_kernel` (Eq. 1 or the public code's rule)."""
    n, k = r.shape
    m = 0
    for i in range(n):
        if sharer[i]:
            m += 1
    if rule == 0:
        denom = n - 1.0
        active = m >= 1 and n >= 2
    else:
        denom = m - 1.0
        active = m >= 2
    if not active:
        for i in range(n):
            for t in range(k):
                u[i, t] = r[i, t]
        return
    for t in range(k):
        tot[t] = 0.0
    for i in range(n):
        if sharer[i]:
            for t in range(k):
                tot[t] += s[i, t]
    for i in range(n):
        receives = rule == 0 or sharer[i]
        if not receives:
            for t in range(k):
                u[i, t] = r[i, t] - s[i, t]
        elif pool == 0:
            for t in range(k):
                u[i, t] = r[i, t] - s[i, t] + (tot[t] - s[i, t]) / denom
        else:
            rec = 0.0
            for t in range(k):
                rec += (tot[t] - s[i, t]) / denom
            rec /= k
            for t in range(k):
                u[i, t] = r[i, t] - s[i, t] + rec


@numba.njit(cache=True)
def _select(x, j, buf):
    """The ``j``-th smallest entry of ``x`` (0-based), leaving ``x`` untouched.

    Quickselect with a branch-free three-way partition: each round writes every value twice into
    one half of the scratch ``buf`` (length >= 2 len(x)), the smaller ones packed from its start
    and the larger ones from its end, and only the write positions depend on the comparisons. With
    no data-dependent branch to mispredict (elite membership is random), it took ~0.7 us instead of
    ~1.2 us for an in-place Hoare partition on 100 random samples (Sec. 4.2's batch); it needs no copy of ``x``
    and not ``np.partition`` (whose numba implementation takes ~15 s to compile).
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


@numba.njit(cache=True, fastmath=True)
def _moments(x):
    """Mean and standard deviation of ``x`` in SIMD arithmetic: pivot guesses only, never results."""
    s = 0.0
    q = 0.0
    for t in range(x.shape[0]):
        s += x[t]
        q += x[t] * x[t]
    m = s / x.shape[0]
    return m, math.sqrt(max(q / x.shape[0] - m * m, 0.0))


@numba.njit(cache=True)
def _count_le(x, p):
    """Number of entries ``<= p`` (an integer sum, so SIMD and exact)."""
    c = 0
    for t in range(x.shape[0]):
        c += x[t] <= p
    return c


@numba.njit(cache=True, fastmath=True)
def _sum_between(x, lo, hi):
    """Sum of the entries in ``(lo, hi]``; exact when there is one (the rest add zeros)."""
    s = 0.0
    for t in range(x.shape[0]):
        s += x[t] if (x[t] > lo) & (x[t] <= hi) else 0.0
    return s


@numba.njit(cache=True)
def _order_statistic(x, j, buf):
    """The ``j``-th smallest entry of ``x`` (0-based), by counting; :func:`_select` as the fallback.

    Quickselect moves data with a serial dependence on every comparison; counting the entries
    below a value is an integer sum that runs 4 entries per instruction. So we bracket the
    answer between two values and narrow the bracket by counting: the answer lies in ``(lo, hi]``
    while ``count(x <= lo) <= j < count(x <= hi)``. The first bracket is ``mean + (z +- 1/2) sd``,
    with ``z`` a normal quantile of ``(j + 1/2) / k`` (logistic approximation), and each step
    interpolates a new pivot from the counts. Once the bracket holds one entry, that entry is the
    answer. If the first bracket misses or the bracket stops shrinking (ties), :func:`_select`
    answers. The result is the same value either way; only the time differs (~2.5x less with
    100 samples).
    """
    k = x.shape[0]
    m, sd = _moments(x)
    if not sd > 0.0 or j < 0 or j >= k:
        return _select(x, j, buf)
    f = (j + 0.5) / k
    z = math.log(f / (1.0 - f)) / 1.702  # Phi^-1(f), to about 0.01 in the middle
    lo = m + (z - 0.5) * sd
    hi = m + (z + 0.5) * sd
    c_lo = _count_le(x, lo)
    c_hi = _count_le(x, hi)
    if not c_lo <= j < c_hi:
        return _select(x, j, buf)
    for _ in range(40):
        if c_hi - c_lo == 1:
            return _sum_between(x, lo, hi)
        frac = min(max((j + 0.5 - c_lo) / (c_hi - c_lo), 0.05), 0.95)
        p = lo + (hi - lo) * frac
        if not lo < p < hi:  # no room left between two tied or adjacent values
            break
        c = _count_le(x, p)
        if c > j:
            hi, c_hi = p, c
        else:
            lo, c_lo = p, c
    return _select(x, j, buf)


@numba.njit(cache=True)
def _elite_mask(u, n_el, buf, mask):
    """Mark in ``mask`` the ``n_el`` samples with the highest utility ``u`` (Alg. 2, line 10).

    Ties at the threshold go to lower sample indices (the same set as the first ``n_el`` entries
    of a stable descending sort, ``np.argsort(-u, kind="stable")[:n_el]``).
    """
    k = u.shape[0]
    thr = _order_statistic(u, k - n_el, buf)
    # branch-free first pass (elite membership is random, so branches would mispredict)
    above = 0
    for t in range(k):
        b = u[t] > thr
        mask[t] = b
        above += b
    ties = n_el - above
    if ties > 0:
        for t in range(k):
            if u[t] == thr:
                mask[t] = True
                ties -= 1
                if ties == 0:
                    break


@numba.njit(cache=True)
def _masked_mean_std(x, mask, n_el):
    """Mean and population standard deviation (``np.std``, ddof 0) of ``x[mask]`` (branch-free)."""
    m = 0.0
    for t in range(x.shape[0]):
        m += x[t] * mask[t]
    m /= n_el
    v = 0.0
    for t in range(x.shape[0]):
        d = x[t] - m
        v += d * d * mask[t]
    return m, math.sqrt(v / n_el)


@numba.njit(cache=True)
def _masked_mean_std2(x, y, mask, n_el):
    """:func:`_masked_mean_std` of ``x`` and of ``y`` at once, with the same bits as two calls.

    Each sum keeps its own accumulator and order; interleaving the two independent addition chains
    only lets the CPU overlap their latencies.
    """
    mx = 0.0
    my = 0.0
    for t in range(x.shape[0]):
        mx += x[t] * mask[t]
        my += y[t] * mask[t]
    mx /= n_el
    my /= n_el
    vx = 0.0
    vy = 0.0
    for t in range(x.shape[0]):
        dx = x[t] - mx
        dy = y[t] - my
        vx += dx * dx * mask[t]
        vy += dy * dy * mask[t]
    return mx, math.sqrt(vx / n_el), my, math.sqrt(vy / n_el)


@numba.njit(cache=True)
def _record_policy(row, mu_a, sig_a, mu_s, sig_s, sharer, tr_mu_a, tr_sig_a, tr_mu_s, tr_sig_s):
    """Write the policies into row ``row`` of the traces (NaN share policy for defectors)."""
    for i in range(sharer.shape[0]):
        tr_mu_a[row, i] = mu_a[i]
        tr_sig_a[row, i] = sig_a[i]
        tr_mu_s[row, i] = mu_s[i] if sharer[i] else np.nan
        tr_sig_s[row, i] = sig_s[i] if sharer[i] else np.nan


@numba.njit(cache=True)
def _sample_and_score(rng, mu_a, sig_a, mu_s, sig_s, sharer, a_min, a_max, code, xi, c, o, cp, op,
                      cap, rule, pool, raw_a, a, raw_s, s, r, u, tot, ws):
    """Alg. 2, lines 3-9: draw joint samples, clip actions and shares, market rewards, Eq. 1."""
    _sample_joint_t(rng, mu_a, sig_a, mu_s, sig_s, sharer, a_min, a_max, raw_a, a, raw_s)
    _rewards_t(code, xi, c, o, cp, op, a, r, tot, ws)
    _clip_shares_t(raw_s, r, sharer, cap, s)
    _utilities_t(r, s, sharer, rule, pool, u, tot)


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
    ``rng`` is a :mod:`sharelib.pcg64` stream of ``numpy.random.default_rng(seed)``; samples are drawn agent-major (see
    :func:`_sample_joint_t`), so a NumPy implementation drawing ``rng.standard_normal((n, k))``
    reproduces the stream exactly.
    """
    n = sharer.shape[0]
    mu_a = np.full(n, mu0)
    sig_a = np.full(n, sigma0)
    mu_s = np.full(n, smu0)
    sig_s = np.full(n, ssigma0)
    raw_a = np.empty((n, n_sample))
    a = np.empty((n, n_sample))
    raw_s = np.empty((n, n_sample))
    s = np.empty((n, n_sample))
    r = np.empty((n, n_sample))
    u = np.empty((n, n_sample))
    tot = np.empty(max(n_sample, n_eval))
    ws = np.empty((3, max(n_sample, n_eval)))
    buf = np.empty(2 * n_sample)
    el = np.empty(n_sample, dtype=np.bool_)
    for it in range(n_iter):
        _record_policy(it, mu_a, sig_a, mu_s, sig_s, sharer, tr_mu_a, tr_sig_a, tr_mu_s, tr_sig_s)
        # lines 3-9: sample, clip actions to the action space and shares to [0, r_i], Eq. 1
        _sample_and_score(rng, mu_a, sig_a, mu_s, sig_s, sharer, a_min, a_max, code, xi, c, o, cp, op,
                          cap, rule, pool, raw_a, a, raw_s, s, r, u, tot, ws)
        g = 0.0
        for i in range(n):
            su = 0.0
            sr = 0.0
            ss = 0.0
            for t in range(n_sample):
                su += u[i, t]
                sr += r[i, t]
                ss += s[i, t]
            g += sr
            tr_u[it, i] = su / n_sample
            tr_r[it, i] = sr / n_sample
            tr_s[it, i] = ss / n_sample
            # lines 10-15: elite by utility, mean/std of its actions and shares, smoothed, floored
            _elite_mask(u[i], n_el, buf, el)
            x = raw_a[i] if update_raw else a[i]
            if sharer[i]:
                m_new, sd_new, ms_new, sds_new = _masked_mean_std2(x, s[i], el, n_el)
                mu_s[i] = (1.0 - alpha) * mu_s[i] + alpha * ms_new
                sig_s[i] = max((1.0 - alpha) * sig_s[i] + alpha * sds_new, share_sigma_min)
            else:
                m_new, sd_new = _masked_mean_std(x, el, n_el)
            mu_a[i] = (1.0 - alpha) * mu_a[i] + alpha * m_new
            sig_a[i] = max((1.0 - alpha) * sig_a[i] + alpha * sd_new, sigma_min)
        tr_glob[it] = g / n_sample
    _record_policy(n_iter, mu_a, sig_a, mu_s, sig_s, sharer, tr_mu_a, tr_sig_a, tr_mu_s, tr_sig_s)
    # lines 16-18: execute a_i, s_i ~ pi_i (n_eval times, averaged)
    e_raw_a = np.empty((n, n_eval))
    e_a = np.empty((n, n_eval))
    e_raw_s = np.empty((n, n_eval))
    e_s = np.empty((n, n_eval))
    e_r = np.empty((n, n_eval))
    e_u = np.empty((n, n_eval))
    _sample_and_score(rng, mu_a, sig_a, mu_s, sig_s, sharer, a_min, a_max, code, xi, c, o, cp, op,
                      cap, rule, pool, e_raw_a, e_a, e_raw_s, e_s, e_r, e_u, tot, ws)
    for i in range(n):
        ex_a[i] = e_a[i, 0]
        ex_s[i] = e_s[i, 0]
        ex_r[i] = e_r[i, 0]
        ex_u[i] = e_u[i, 0]
        ev_a[i] = e_a[i].mean()
        ev_s[i] = e_s[i].mean()
        ev_r[i] = e_r[i].mean()
        ev_u[i] = e_u[i].mean()


# ================================================================================================
# Python layer
# ================================================================================================


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
        POOLS.index(pool), action_update == "raw", n_eval, pcg64.normal_stream(seed),
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


def run_ce_dos_numpy(market: Market, n_sharers: int, *, n_iter: int = 100, n_sample: int = 100,
                     mu0: float = 0.0, sigma0: float = 1.0, share_mu0: float = 0.0, share_sigma0: float = 1.0,
                     psi: float = 0.25, alpha: float = 0.5, sigma_min: float = 0.2,
                     share_sigma_min: float | None = None, elite: str = "drop",
                     sharing: str = "eq1", share_cap: str = "reward", pool: str = "sample",
                     action_update: str = "clipped", action_bounds=(ACTION_MIN, ACTION_MAX), n_eval: int = 100,
                     seed: int = 0, per_agent: bool = False) -> dict:
    """A straightforward NumPy implementation of Algorithm 2, for checking and benchmarking.

    Sampling, market and utilities are vectorised over agents and samples (no numba). The elite
    selection and policy update (Alg. 2, lines 10-15) are vectorised too (one ``argsort`` along
    the sample axis), or, with ``per_agent=True``, written as the algorithm reads: a Python loop
    "for each agent i" with one sort per agent, the structure of the authors' public code. It
    draws the same random stream as :func:`run_ce_dos` (``rng.standard_normal((n, n_sample))``
    for the actions, then one ``(n_sharers, n_sample)`` block for the shares), so all agree to
    rounding. Returns the policy means/stds after the last iteration, the global-reward trace and
    the final per-agent expected utilities, shares and actions.
    """
    seed = experiments.check_int("seed", seed, min=0)
    rng = np.random.default_rng(seed)
    n = market.n_agents
    sharer = np.zeros(n, dtype=bool)
    sharer[:n_sharers] = True
    m = int(sharer.sum())
    n_el = n_elite(n_sample, psi, elite)
    a_min, a_max = action_bounds
    ssmin = sigma_min if share_sigma_min is None else share_sigma_min
    mu_a, sig_a = np.full(n, mu0), np.full(n, sigma0)
    mu_s, sig_s = np.full(n, share_mu0), np.full(n, share_sigma0)

    def rewards_of(a):  # a: (n, k)
        if market.kind == "simple":
            return a / np.abs(a.sum(axis=0)) ** market.xi
        p = 1.0 / (1.0 + np.exp(-market.c[:, None] * (a - market.o[:, None])))
        pr = 1.0 - 1.0 / (1.0 + np.exp(-market.c_price * (p.sum(axis=0) - market.o_price)))
        return p * pr

    def draw(k):
        raw_a = mu_a[:, None] + sig_a[:, None] * rng.standard_normal((n, k))
        a = np.clip(raw_a, a_min, a_max)
        raw_s = np.zeros((n, k))
        raw_s[sharer] = mu_s[sharer, None] + sig_s[sharer, None] * rng.standard_normal((m, k))
        r = rewards_of(a)
        s = np.maximum(raw_s, 0.0)
        if share_cap == "reward":
            s = np.maximum(np.minimum(raw_s, r), 0.0)
        s[~sharer] = 0.0
        if sharing == "eq1":
            receivers, denom, active = np.ones(n, dtype=bool), n - 1.0, m >= 1
        else:
            receivers, denom, active = sharer, m - 1.0, m >= 2
        u = r.copy()
        if active:
            rec = (s.sum(axis=0)[None, :] - s) / denom
            if pool == "batch":
                rec = np.broadcast_to(rec.mean(axis=1, keepdims=True), rec.shape)
            u = r - s + np.where(receivers[:, None], rec, 0.0)
        return raw_a, a, s, r, u

    glob = np.empty(n_iter)
    for it in range(n_iter):
        raw_a, a, s, r, u = draw(n_sample)
        glob[it] = r.sum(axis=0).mean()
        x = raw_a if action_update == "raw" else a
        if per_agent:
            for i in range(n):
                el = np.argsort(-u[i], kind="stable")[:n_el]
                mu_a[i] = (1 - alpha) * mu_a[i] + alpha * x[i, el].mean()
                sig_a[i] = max((1 - alpha) * sig_a[i] + alpha * x[i, el].std(), sigma_min)
                if sharer[i]:
                    mu_s[i] = (1 - alpha) * mu_s[i] + alpha * s[i, el].mean()
                    sig_s[i] = max((1 - alpha) * sig_s[i] + alpha * s[i, el].std(), ssmin)
            continue
        order = np.argsort(-u, axis=1, kind="stable")[:, :n_el]
        ea = np.take_along_axis(x, order, axis=1)
        mu_a = (1 - alpha) * mu_a + alpha * ea.mean(axis=1)
        sig_a = np.maximum((1 - alpha) * sig_a + alpha * ea.std(axis=1), sigma_min)
        es = np.take_along_axis(s, order, axis=1)
        mu_s = np.where(sharer, (1 - alpha) * mu_s + alpha * es.mean(axis=1), mu_s)
        sig_s = np.where(sharer, np.maximum((1 - alpha) * sig_s + alpha * es.std(axis=1), ssmin), sig_s)
    _, a, s, r, u = draw(n_eval)
    return {"mu_a": mu_a, "sigma_a": sig_a, "mu_s": np.where(sharer, mu_s, np.nan),
            "sigma_s": np.where(sharer, sig_s, np.nan), "global_reward": glob,
            "final_utility": u.mean(axis=1), "final_share": s.mean(axis=1), "final_action": a.mean(axis=1)}


# ------------------------------------------------------------------------------------------------
# Eq. 1 and the share clipping as standalone functions (used by the tests and the notebooks)
# ------------------------------------------------------------------------------------------------


def clip_shares(raw_shares, rewards, sharer, share_cap: str = "reward") -> np.ndarray:
    """Clip raw shares to ``[0, r_i]`` (``"reward"``, Sec. 4.2) or ``[0, inf)`` (``"none"``).

    Defectors' shares are 0. Arrays of shape ``(k, n)`` or ``(n,)``.
    """
    experiments.check_choice("share_cap", share_cap, SHARE_CAPS)
    raw, r, mask = _as_batch(raw_shares, rewards, sharer)
    out = np.empty_like(r)
    _clip_shares_t(raw, r, mask, share_cap == "reward", out)
    return out.T.reshape(np.shape(rewards))


def utilities(rewards, shares, sharer, sharing: str = "eq1", pool: str = "sample") -> np.ndarray:
    """Utilities ``u_i(a, s)`` of Eq. 1 (or the public code's rule) for a batch of joint samples.

    Parameters
    ----------
    rewards, shares : array_like of shape (k, n) or (n,)
    sharer : array_like of bool, shape (n,)
        Defectors' shares are ignored (they never share).
    sharing : {"eq1", "sharers"}
    pool : {"sample", "batch"}

    Examples
    --------
    Two agents (Sec. 3.1): ``u_0 = r_0 - s_0 + s_1``.

    >>> utilities([1.0, 2.0], [0.0, 1.0], [True, True]).tolist()
    [2.0, 1.0]
    """
    experiments.check_choice("sharing", sharing, SHARING_RULES)
    experiments.check_choice("pool", pool, POOLS)
    s, r, mask = _as_batch(shares, rewards, sharer)
    s = np.ascontiguousarray(np.where(mask[:, None], s, 0.0))
    out = np.empty_like(r)
    _utilities_t(r, s, mask, SHARING_RULES.index(sharing), POOLS.index(pool), out, np.empty(r.shape[1]))
    return out.T.reshape(np.shape(rewards))


def _as_batch(x, r, sharer):
    r = np.asarray(r, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if r.shape != x.shape or r.ndim not in (1, 2):
        raise ValueError(f"rewards and shares must have the same shape (n,) or (k, n); got {r.shape} and {x.shape}")
    n = r.shape[-1]
    mask = np.asarray(sharer, dtype=np.bool_)
    if mask.shape != (n,):
        raise ValueError(f"sharer must have shape ({n},); got {mask.shape}")
    # agent-major (n, k), the kernels' layout
    return (np.ascontiguousarray(x.reshape(-1, n).T), np.ascontiguousarray(r.reshape(-1, n).T), mask)


# ================================================================================================
# Experiments of Sec. 4: Figs. 3-5
# ================================================================================================

#: Algorithm settings of Sec. 4.2 (shared by every preset below).
PAPER_ALGO = dict(n_iter=100, n_sample=100, mu0=0.0, sigma0=1.0, psi=0.25, alpha=0.5, sigma_min=0.2)
#: Default readings (see the module docstring).
DEFAULT_READING = dict(sharing="eq1", elite="drop", share_cap="reward", pool="sample", action_update="clipped")
#: The public code's readings throughout.
CODE_READING = dict(sharing="sharers", elite="drop", share_cap="reward", pool="batch", action_update="raw")


def figure_point(market: str, n_agents: int, n_sharers: int, market_seed: int, seed: int, **kw) -> dict:
    """One run of the Figs. 3-5 grid: a market drawn with ``market_seed``, CE-DOS seeded with ``seed``.

    Module-level and picklable, for :func:`sharelib.experiments.sweep`. The market depends only on
    ``market_seed`` so that, as in the public code ("one market per run, reused across
    fractions"), all sharer counts of one run face the same market. Returns ``summary()``.
    """
    market_seed = experiments.check_int("market_seed", market_seed, min=0)
    seed = experiments.check_int("seed", seed, min=0)
    m = sample_market(market, n_agents, np.random.SeedSequence(market_seed))
    return run_ce_dos(m, n_sharers=n_sharers, seed=seed, **kw).summary()


def sharer_counts(n_agents: int, step: int = 1) -> list[int]:
    """Sharer counts 0, step, 2 step, ..., always including n_agents."""
    counts = list(range(0, n_agents + 1, step))
    if counts[-1] != n_agents:
        counts.append(n_agents)
    return counts


def figure_grid(markets, sizes, n_runs: int, seed: int = 0, steps=None, **kw) -> list[dict]:
    """Grid of (market, n_agents, run, n_sharers) points for :func:`figure_point`.

    ``steps`` maps ``n_agents`` to a sharer-count step (default 1: every count from 0 to n).
    Extra keywords (algorithm settings and readings) are added to every point.

    Seeds (common random numbers): ``market_seed`` depends on (seed, market, n, run) and
    ``ce_seed``, the seed of the CE-DOS run, on (seed, market, n, run, number of sharers), never on
    the algorithm settings or readings. So every configuration and every sharer count of a run
    faces the same market, and two configurations that differ only in how shares are handled
    give identical runs when nobody shares: comparisons are paired.
    """
    seed = experiments.check_int("seed", seed, min=0)
    steps = dict(steps or {})
    pts = []
    for mk in markets:
        for n in sizes:
            for run in range(n_runs):
                key = (MARKETS.index(mk), int(n), run)
                ms = int(np.random.SeedSequence(seed, spawn_key=key).generate_state(1)[0])
                for k in sharer_counts(int(n), int(steps.get(n, steps.get(str(n), 1)))):
                    cs = int(np.random.SeedSequence(seed, spawn_key=key + (k, 1)).generate_state(1)[0])
                    pts.append(dict(market=mk, n_agents=int(n), n_sharers=k, market_seed=ms, ce_seed=cs,
                                    run=run, **kw))
    return pts


def _figure_point_grid(market, n_agents, n_sharers, market_seed, ce_seed, run, seed, label=None, **kw):
    # ``seed`` (the sweep's per-point seed) is not used: ``ce_seed`` keeps configurations paired
    return figure_point(market, n_agents, n_sharers, market_seed, ce_seed, **kw)


def ablation_data(configs: dict, markets=("simple", "logistic"), n_agents: int = 10, n_runs: int = 3, *,
                  count_step: int = 1, seed: int = 0, backend: str = "processes", n_jobs=None, cache=None,
                  progress: bool = True, **common) -> dict:
    """Run the Figs. 3-5 grid at one size for several configurations in one sweep.

    ``configs`` maps a label to keyword overrides of :func:`run_ce_dos` (readings or
    hyperparameters), applied on top of ``common``. Every configuration faces the same markets
    (same ``market_seed`` per run), so differences are paired. Returns
    ``{label: {(market, n_agents): panel}}``.
    """
    pts = []
    for label, over in configs.items():
        kw = {**common, **over}
        for p in figure_grid(markets, [n_agents], n_runs, seed, {n_agents: count_step}, **kw):
            pts.append({**p, "label": label})
    run_ce_dos("logistic", 3, 1, n_iter=1, n_sample=4, n_eval=1)
    res = experiments.sweep(_figure_point_grid, pts, runs=1, seed=seed, backend=backend, n_jobs=n_jobs,
                            cache=cache, progress=progress, desc="CE-DOS ablations")
    out = {}
    for label in configs:
        out[label] = panel_arrays([r for r in res if r.params["label"] == label])
    return out


def figure_data(markets=("simple", "logistic"), sizes=(10, 50, 100), n_runs: int = 10, *, seed: int = 0,
                steps=None, backend: str = "processes", n_jobs=None, cache=None, progress: bool = True,
                **kw) -> dict:
    """Run the whole Figs. 3-5 grid through :func:`sharelib.experiments.sweep`.

    Returns ``{(market, n_agents): panel}`` where ``panel`` (see :func:`panel_arrays`) holds the
    sharer counts and arrays of shape (n_runs, n_counts) for every summary key.
    """
    pts = figure_grid(markets, sizes, n_runs, seed, steps, **kw)
    # compile (or load from the numba cache) in this process, so forked workers inherit the kernel
    run_ce_dos("logistic", 3, 1, n_iter=1, n_sample=4, n_eval=1)
    res = experiments.sweep(_figure_point_grid, pts, runs=1, seed=seed, backend=backend, n_jobs=n_jobs,
                            cache=cache, progress=progress, desc="CE-DOS Figs. 3-5")
    return panel_arrays(res)


def panel_arrays(points) -> dict:
    """Group sweep points by (market, n_agents) into arrays indexed [run, sharer-count]."""
    groups: dict = {}
    for p in points:
        key = (p.params["market"], p.params["n_agents"])
        groups.setdefault(key, []).append(p)
    out = {}
    for key, pts in groups.items():
        counts = sorted({p.params["n_sharers"] for p in pts})
        runs = sorted({p.params["run"] for p in pts})
        ci = {k: j for j, k in enumerate(counts)}
        ri = {r: j for j, r in enumerate(runs)}
        keys = list(pts[0].value)
        arr = {k: np.full((len(runs), len(counts)), np.nan) for k in keys}
        for p in pts:
            for k in keys:
                arr[k][ri[p.params["run"]], ci[p.params["n_sharers"]]] = p.value[k]
        out[key] = {"n_sharers": np.array(counts), **arr}
    return out


def claims(panels: dict, prefix: str = "") -> list[dict]:
    """The paper's claims, per (market, n), as numbers.

    For each panel: Spearman rank correlation of the number of sharers with global utility (Sec.
    4.3, "the fraction of sharing agents correlates with global utility") pooled over all runs and
    counts, on the curve of means, and within runs (the mean over runs of each run's correlation;
    all counts of a run share one market, so this removes the market-to-market spread), the global utility with all sharers over none, the Spearman and Pearson correlation
    of the mean share with global utility (over runs and counts with at least one sharer; Sec. 4.3,
    "the amount of shared value correlates with global reward"), and in how many mixed populations
    (1 <= sharers <= n - 1, per run) defectors out-earn sharers (Sec. 4.4, the dilemma).
    ``prefix="last_"`` uses the last iteration's sample means instead of the final evaluation.
    """
    from .. import metrics

    rows = []
    for (mk, n), P in sorted(panels.items(), key=lambda kv: (MARKETS.index(kv[0][0]), kv[0][1])):
        k = P["n_sharers"]
        g = P[prefix + "global_utility"]
        kk = np.broadcast_to(k, g.shape)
        share = P[prefix + "mean_share"]
        has = kk > 0
        mixed = (kk > 0) & (kk < n)
        su, du = P[prefix + "sharer_utility"][mixed], P[prefix + "defector_utility"][mixed]
        g0 = g[:, k == 0].mean() if (k == 0).any() else np.nan
        gn = g[:, k == n].mean() if (k == n).any() else np.nan
        rows.append({
            "market": mk,
            "n_agents": int(n),
            "spearman_sharers_global": metrics.spearman(kk.ravel(), g.ravel()),
            "spearman_sharers_global_means": metrics.spearman(k, g.mean(axis=0)),
            "spearman_sharers_global_within": float(np.mean([metrics.spearman(k, row) for row in g])),
            "global_all_over_none": float(gn / g0),
            "spearman_share_global": metrics.spearman(share[has], g[has]) if has.sum() > 1 else np.nan,
            "pearson_share_global": metrics.pearson(share[has], g[has]) if has.sum() > 1 else np.nan,
            "defectors_out_earn": int((du > su).sum()),
            "mixed_populations": int(mixed.sum()),
        })
    return rows


# ================================================================================================
# Fig. 1: the two-agent coin example
# ================================================================================================


@dataclass(frozen=True)
class CoinExample:
    """Fig. 1: one coin, worth ``value_yellow`` to agent 1 and ``value_blue`` to agent 2.

    ``payoffs[x, y]`` is the pair of expected rewards when agent 1 picks up (x = 1) or not
    (x = 0) and agent 2 picks up (y = 1) or not; when both try, each gets the coin with
    probability 1/2.
    """

    payoffs: np.ndarray
    nash: tuple
    nash_values: tuple
    shared_profile: tuple
    transfer: float
    shared_values: tuple
    shared_profile_is_equilibrium: bool


def coin_example(value_yellow: float = 1.0, value_blue: float = 2.0, transfer: float = 1.0) -> CoinExample:
    """Compute Fig. 1 exactly.

    Without sharing, picking up is dominant for both (0.5 > 0 for yellow, 1 > 0 for blue when
    the other tries), so the equilibrium is (try, try) with expected values 0.5 and 1. With
    sharing, yellow abstains, blue collects the coin (worth 2) and transfers ``transfer``;
    the expected values become ``(transfer, 2 - transfer)`` = (1, 1) for ``transfer = 1``, a strong
    Pareto improvement. With that transfer conditioned on yellow abstaining, abstaining is a best
    response for yellow (1 >= 0.5) and the profile is an equilibrium of the game with sharing.

    >>> ex = coin_example()
    >>> ex.nash_values, ex.shared_values
    ((0.5, 1.0), (1.0, 1.0))
    """
    vy = experiments.check_float("value_yellow", value_yellow, min=0.0)
    vb = experiments.check_float("value_blue", value_blue, min=0.0)
    t = experiments.check_float("transfer", transfer, min=0.0)
    P = np.zeros((2, 2, 2))
    for x in (0, 1):
        for y in (0, 1):
            if x and y:
                P[x, y] = (0.5 * vy, 0.5 * vb)
            elif x:
                P[x, y] = (vy, 0.0)
            elif y:
                P[x, y] = (0.0, vb)
    nash = [(x, y) for x in (0, 1) for y in (0, 1)
            if P[x, y, 0] >= P[1 - x, y, 0] and P[x, y, 1] >= P[x, 1 - y, 1]]
    ne = nash[0]
    shared = (float(P[0, 1, 0] + t), float(P[0, 1, 1] - t))
    # yellow deviating to "try" forfeits the transfer and gets P[1, 1, 0]; blue deviating to
    # "not" gets 0 and pays nothing.
    eq = shared[0] >= P[1, 1, 0] and shared[1] >= P[0, 0, 1]
    return CoinExample(payoffs=P, nash=ne, nash_values=(float(P[ne][0]), float(P[ne][1])),
                       shared_profile=(0, 1), transfer=t, shared_values=shared,
                       shared_profile_is_equilibrium=bool(eq))


def simulate_coin_game(profile, transfer: float = 0.0, n_episodes: int = 100_000, seed: int = 0,
                       value_yellow: float = 1.0, value_blue: float = 2.0) -> tuple[float, float]:
    """Monte-Carlo check of Fig. 1: mean rewards of (yellow, blue) for a pick-up profile.

    ``profile = (x, y)`` with 1 = try to pick up. When both try, a fair coin flip decides. Blue
    transfers ``transfer`` to yellow whenever it holds the coin.
    """
    x, y = (int(v) for v in profile)
    rng = np.random.default_rng(experiments.check_int("seed", seed, min=0))
    n = experiments.check_int("n_episodes", n_episodes, min=1)
    if x and y:
        blue_wins = rng.random(n) < 0.5
    elif y:
        blue_wins = np.ones(n, dtype=bool)
    else:
        blue_wins = np.zeros(n, dtype=bool)
    yellow_wins = (~blue_wins) & bool(x)
    ry = yellow_wins * value_yellow + blue_wins * transfer
    rb = blue_wins * (value_blue - transfer)
    return float(ry.mean()), float(rb.mean())


# ================================================================================================
# Presets
# ================================================================================================

experiments.register_presets(
    "ce_dos.method",
    quick=dict(market="simple", n_agents=10, n_sharers=5, seed=0, **PAPER_ALGO),
    paper=dict(market="simple", n_agents=10, n_sharers=5, seed=0, **PAPER_ALGO),
)

experiments.register_presets(
    "ce_dos.figures",
    quick=dict(sizes=[5, 10, 20], n_runs=3, count_step=1, seed=0, **PAPER_ALGO),
    paper=dict(sizes=[10, 50, 100], n_runs=10, count_step=1, seed=0, **PAPER_ALGO),
)

experiments.register_presets(
    "ce_dos.ablations",
    quick=dict(n_agents=10, n_runs=3, count_step=5, seed=0, n_iter=100, n_sample=100),
    paper=dict(n_agents=50, n_runs=10, count_step=5, seed=0, n_iter=100, n_sample=100),
)
