"""Eq. 1 of CE-DOS: utilities after sharing, and the clipping of shares (Sec. 4.2).

An agent ``i`` with reward ``r_i(a)`` that shares ``s_i >= 0`` has utility

    u_i(a, s) = r_i(a) - s_i + sum_{j != i} s_j / (n - 1)            (Eq. 1)

The kernels work on joint samples stored agent-major, ``x[i, t]`` for agent ``i`` and sample
``t`` (the layout of :mod:`.algorithm`); :func:`utilities` and :func:`clip_shares` are their
checked entry points for batches ``(k, n)`` (used by the tests and the notebooks).
"""

from __future__ import annotations

import numba
import numpy as np

from ... import experiments

__all__ = ["SHARING_RULES", "SHARE_CAPS", "POOLS", "utilities", "clip_shares"]

#: ``"eq1"``: Eq. 1 as printed (every other agent receives); ``"sharers"``: the public code (only
#: the other sharers receive, and defectors neither pay nor receive).
SHARING_RULES = ("eq1", "sharers")
#: ``"reward"``: shares clipped to ``[0, r_i(a)]`` (Sec. 4.2); ``"none"``: to ``[0, inf)``.
SHARE_CAPS = ("reward", "none")
#: ``"sample"``: receipts per joint sample (Eq. 1); ``"batch"``: averaged over the iteration's
#: samples (the public code).
POOLS = ("sample", "batch")


@numba.njit(cache=True)
def _clip_shares_t(raw, r, sharer, cap, out):
    """Shares clipped to ``[0, r_i]`` (``cap``) or ``[0, inf)``; 0 for defectors."""
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
    """Eq. 1 (``rule`` 0) or the public code's rule (1); receipts per sample (``pool`` 0) or pooled.

    ``tot`` (>= k) is scratch. With nobody to receive (no sharer for Eq. 1, fewer than two for
    the public code's rule) the transfer is void, ``u = r`` (the public code takes the mean of an
    empty list there, NaN).
    """
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
        u[:, :] = r
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
