"""A plain NumPy implementation of Algorithm 2, for checking the kernel and for benchmarks.

It draws the same random numbers as :func:`.algorithm.run_ce_dos` and computes the same things
with NumPy's own reductions and sorts, so the two agree to rounding on the first iterations; over
100 iterations a last-bit difference can flip one elite membership and runs part ways, so the
tests compare whole runs by the distribution of their outcomes over seeds.
"""

from __future__ import annotations

import numpy as np

from ... import experiments
from ...markets import ACTION_MAX, ACTION_MIN, Market
from .algorithm import n_elite

__all__ = ["run_ce_dos_numpy"]


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
