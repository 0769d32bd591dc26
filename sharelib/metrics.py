"""Common metrics: confidence intervals, rank correlation, welfare and fairness, price of anarchy.

Small, dependency-free (NumPy only) helpers shared by every paper's notebooks.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "mean_ci",
    "t_quantile",
    "pearson",
    "spearman",
    "price_of_anarchy",
    "utilitarian_welfare",
    "gini",
    "std_over_mean",
]


def t_quantile(p: float, df: int) -> float:
    """Quantile ``p`` of Student's t distribution with ``df`` degrees of freedom.

    Found by bisection on the regularised incomplete beta function (via ``math.lgamma`` and a
    continued fraction), accurate to ~1e-10; no SciPy needed.

    >>> round(t_quantile(0.975, 9), 4)
    2.2622
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1); got {p}")
    if df < 1:
        raise ValueError(f"df must be an integer >= 1; got {df}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _t_cdf(t: float, df: int) -> float:
    x = df / (df + t * t)
    tail = 0.5 * _betainc(0.5 * df, 0.5, x)
    return 1.0 - tail if t >= 0 else tail


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) (Numerical Recipes' continued fraction)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _betainc(b, a, 1.0 - x)
    # Lentz's algorithm for the continued fraction.
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return front * h / a


def mean_ci(samples, axis: int = 0, level: float = 0.95):
    """Mean and half-width of the Student-t confidence interval along ``axis``.

    Returns ``(mean, halfwidth)``; with a single sample the half-width is NaN.

    >>> m, h = mean_ci([1.0, 2.0, 3.0])
    >>> float(m), round(float(h), 4)
    (2.0, 2.4841)
    """
    x = np.asarray(samples, dtype=float)
    n = x.shape[axis]
    mean = x.mean(axis=axis)
    if n < 2:
        return mean, np.full_like(mean, np.nan)
    sem = x.std(axis=axis, ddof=1) / math.sqrt(n)
    return mean, t_quantile(0.5 + level / 2.0, n - 1) * sem


def _rank(x: np.ndarray) -> np.ndarray:
    """Ranks with ties given their average rank (as in Spearman's rho)."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=float)
    sorted_x = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j)
        i = j + 1
    return ranks


def pearson(x, y) -> float:
    """Pearson correlation coefficient of two 1-D samples (NaN when either is constant)."""
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape or len(x) < 2:
        raise ValueError(f"x and y must be 1-D samples of equal length >= 2; got {x.shape} and {y.shape}")
    xc, yc = x - x.mean(), y - y.mean()
    denom = math.sqrt(float(xc @ xc) * float(yc @ yc))
    return float(xc @ yc / denom) if denom > 0 else float("nan")


def spearman(x, y) -> float:
    """Spearman rank correlation (Pearson correlation of average ranks)."""
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape or len(x) < 2:
        raise ValueError(f"x and y must be 1-D samples of equal length >= 2; got {x.shape} and {y.shape}")
    return pearson(_rank(x), _rank(y))


def price_of_anarchy(nash_cost, optimal_cost):
    """Price of anarchy rho = (total cost at the equilibrium) / (total cost at the social optimum).

    For losses (costs) rho >= 1, with 1 meaning the equilibrium is socially optimal (D3C, Sec. 2).
    """
    nash_cost = np.asarray(nash_cost, dtype=float)
    optimal_cost = np.asarray(optimal_cost, dtype=float)
    if np.any(optimal_cost <= 0):
        raise ValueError("optimal_cost must be positive for a price of anarchy")
    return nash_cost / optimal_cost


def utilitarian_welfare(returns, axis: int = -1):
    """Sum of the agents' returns along ``axis``."""
    return np.asarray(returns, dtype=float).sum(axis=axis)


def gini(x) -> float:
    """Gini coefficient of non-negative values (0 = perfect equality)."""
    x = np.sort(np.asarray(x, dtype=float).ravel())
    if len(x) == 0 or np.any(x < 0):
        raise ValueError("gini needs a non-empty sample of non-negative values")
    total = x.sum()
    if total == 0:
        return 0.0
    n = len(x)
    return float((2.0 * np.arange(1, n + 1) - n - 1) @ x / (n * total))


def std_over_mean(x, axis: int = -1):
    """Egalitarian spread: standard deviation over mean of the agents' returns (FPF/LMF, Sec. 5)."""
    x = np.asarray(x, dtype=float)
    return x.std(axis=axis) / np.abs(x.mean(axis=axis))


# ------------------------------------------------------------------------------------------------
# social outcome metrics of sequential social dilemmas (Perolat et al. 2017, Sec. 3)
# ------------------------------------------------------------------------------------------------
def _episodes(rewards) -> np.ndarray:
    r = np.asarray(rewards, dtype=float)
    if r.ndim == 2:
        r = r[None]
    if r.ndim != 3 or r.shape[1] == 0 or r.shape[2] == 0:
        raise ValueError(f"rewards must have shape (T, n) or (E, T, n); got {np.shape(rewards)}")
    return r


def efficiency(rewards) -> np.ndarray:
    """Utilitarian efficiency U = sum_i R_i / T per episode (Perolat et al. 2017, Eq. of U).

    ``rewards``: ``(T, n)`` or ``(E, T, n)`` per-step rewards; returns ``(E,)``.
    """
    r = _episodes(rewards)
    return r.sum(axis=(1, 2)) / r.shape[1]


def equality(rewards) -> np.ndarray:
    """Equality E = 1 - sum_i sum_j |R_i - R_j| / (2 n sum_i R_i) (1 - Gini of the returns R_i),
    per episode (Perolat et al. 2017). Equal returns (all zero included) give 1; unequal returns
    with ``sum_i R_i <= 0`` have no Gini coefficient and give NaN."""
    R = _episodes(rewards).sum(axis=1)  # (E, n)
    n = R.shape[1]
    diff = np.abs(R[:, :, None] - R[:, None, :]).sum(axis=(1, 2))
    total = R.sum(axis=1)
    out = np.full(R.shape[0], np.nan)
    equal = diff == 0
    out[equal] = 1.0
    ok = ~equal & (total > 0)
    out[ok] = 1.0 - diff[ok] / (2.0 * n * total[ok])
    return out


def sustainability(rewards) -> np.ndarray:
    """Sustainability S = mean_i E[t | r^i_t > 0] per episode (Perolat et al. 2017): the mean
    time step (1-based) at which the agents collected positive rewards, averaged over the agents
    that collected any (NaN if none did)."""
    r = _episodes(rewards)
    t = np.arange(1, r.shape[1] + 1)[None, :, None]
    pos = r > 0
    count = pos.sum(axis=1)  # (E, n)
    active = count > 0
    per_agent = (pos * t).sum(axis=1) / np.maximum(count, 1)
    n_active = active.sum(axis=1)
    out = np.full(r.shape[0], np.nan)
    some = n_active > 0
    out[some] = (per_agent * active).sum(axis=1)[some] / n_active[some]
    return out


def peace(tagged) -> np.ndarray:
    """Peace P = (n T - sum_i sum_t tagged^i_t) / T per episode (Perolat et al. 2017): the mean
    number of agents not tagged out per step. ``tagged``: bool ``(T, n)`` or ``(E, T, n)``. Where
    nobody is removed from the map (the SSD variants), pass "hit by a fire beam in this step"."""
    g = _episodes(np.asarray(tagged, dtype=float))
    E, T, n = g.shape
    return (n * T - g.sum(axis=(1, 2))) / T


def social_metrics(rewards, tagged=None, hit=None, cleaned=None) -> dict:
    """The social outcome metrics SSD papers report, averaged over episodes (NaN entries skipped).

    Parameters
    ----------
    rewards : array ``(T, n)`` or ``(E, T, n)``
        Per-step rewards of one or ``E`` episodes.
    tagged, hit : bool arrays like ``rewards``, optional
        Tagged-out indicators for peace; or, where nobody is removed, fire hits (counts or bools)
        as their stand-in. Without either, peace is NaN.
    cleaned : array ``(E, n)`` or ``(n,)``, optional
        Waste cells cleaned per agent (Cleanup's cleaning effort); the total per episode.

    Returns
    -------
    dict with ``efficiency``, ``equality``, ``sustainability``, ``peace``, ``cleaning`` (NaN
    without ``cleaned``) and ``spread`` (std/mean of the returns, FPF/LMF's egalitarian measure).
    """
    r = _episodes(rewards)
    if tagged is not None and hit is not None:
        raise ValueError("give tagged or hit, not both")
    marks = tagged if tagged is not None else hit
    R = r.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = std_over_mean(R, axis=1)

    def avg(x):
        x = np.asarray(x, dtype=float)
        return float(np.nanmean(x)) if np.any(np.isfinite(x)) else float("nan")

    return {
        "efficiency": avg(efficiency(r)),
        "equality": avg(equality(r)),
        "sustainability": avg(sustainability(r)),
        "peace": avg(peace(np.asarray(marks) > 0)) if marks is not None else float("nan"),
        "cleaning": avg(np.atleast_2d(cleaned).sum(axis=1)) if cleaned is not None else float("nan"),
        "spread": avg(spread),
    }
