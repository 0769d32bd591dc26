"""CE-DOS experiments of Sec. 4: the Figs. 3-5 grid, the paper's claims as numbers, ablations, presets.

Every run of a figure is one call of :func:`figure_point` (module-level, so
:func:`sharelib.experiments.sweep` can send it to processes or a cluster).
"""

from __future__ import annotations

import numpy as np

from ... import experiments
from ...markets import MARKETS, sample_market
from .algorithm import run_ce_dos

__all__ = ["PAPER_ALGO", "DEFAULT_READING", "CODE_READING", "figure_point", "figure_grid", "figure_data",
           "sharer_counts", "ablation_data", "panel_arrays", "claims"]

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
    from ... import metrics

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


# ----------------------------------------------------------------------------------------------
# Presets
# ----------------------------------------------------------------------------------------------

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
