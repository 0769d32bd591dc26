r"""Figs. 1, 2, 3a-d and 5 of FPF/LMF (Dong et al., AAAI 2025) on FEN's classic discrete scenarios.

What runs
---------
Every run is :func:`.experiments.discrete_run` (the learning core's PPO, one network per agent, the
federation as its params hook) on Job Scheduling, Matthew Effect or Manufacturing Plant (200-step
episodes, the FPF-LMF code's rules). One learning iteration is one episode in each of ``n_envs``
copies; by default ``n_envs`` is the code's ``fed_epi`` (5 in Job, 10 in Matthew and Plant, notes
Sec. 1.2), so a federation round every iteration is the code's "one round every ``fed_epi``
episodes". The figures (:data:`FIGURES`):

* Fig. 1: collective return per 200 steps of FPF and LMF against IPPO, IPPO-AVG, MAPPO (the core's
  PPO with a centralised critic on the concatenated observations, :class:`~sharelib.learners.MAPPO`),
  FEN flat (the code's ``PPO-FEN``: independent PPO on the fair-efficient reward, :class:`FENReward`),
  FEN hierarchical (meta-controller and 4 sub-policies, :class:`.fen_hier.FENHierarchy`) and SOTO with
  the generalised Gini (``soto_ggf``) or the alpha-fair (``soto_alf``) welfare (Zimmer et al. 2021:
  self- and team-oriented PPO policies per agent, :class:`.soto.SOTO`);
* Fig. 2: D&F (mandatory) against FPF (half participate) and LMF (all participate);
* Figs. 3a-c: FPF's participants against its opt-outs, the paper's random half (``fpf``) and the
  code's fixed ``i <= floor(N/2)`` (``fpf_code``) side by side;
* Fig. 3d: LMF, LMF-Fix and LMF-Dynamic in Matthew Effect, the paper's reading of "Dynamic"
  (overlapping random federations redrawn every round) beside the code's fixed ring;
* Fig. 5: the egalitarian ratio std/mean of the agents' returns, averaged over training and in
  the last period, for every method run.

Baselines shown in the paper's figures that we do not run would be listed in :data:`NOT_RUN` with the
reason (none left since SOTO was added). Metrics (:func:`collective`, :func:`participant_split`,
:func:`egalitarian_ratio`) work on the ``returns`` array ``(iterations, n)`` of a run: the mean
per-agent return of the episodes that ended in each iteration.
"""

from __future__ import annotations

import warnings

import numpy as np
from numba import njit

from ... import experiments as _ex
from .experiments import SCENARIOS, discrete_run

__all__ = ["FIGURES", "NOT_RUN", "PAPER_EPISODES", "FED_EPI", "FEN_MAX_U", "FENReward", "fen_reward_kernel", "fen_step_kernel",
           "collective", "participant_split", "egalitarian_ratio", "iterations_for", "figure_methods",
           "discrete_experiment", "run_point"]

#: episodes per run in the FPF-LMF code (notes Sec. 1.1; the paper's text gives no lengths)
PAPER_EPISODES = {"job": 10_000, "matthew": 40_000, "plant": 20_000}
#: episodes between federation rounds in the code (``fed_epi``, notes Sec. 1.2)
FED_EPI = {"job": 5, "matthew": 10, "plant": 10}
#: FEN's ``max_u`` (notes Sec. 2): Job 0.25 and Matthew 0.15 in both codes; Plant 0.003 is FEN's
#: own script (the FPF-LMF code's value for Plant is not in the notes)
FEN_MAX_U = {"job": 0.25, "matthew": 0.15, "plant": 0.003}

#: figure -> (scenarios, methods)
FIGURES = {
    "fig1": (("job", "matthew", "plant"), ("ippo", "ippo_avg", "mappo", "fen", "fen_hier", "soto_ggf", "soto_alf",
                                          "fpf", "lmf")),
    "fig2": (("job", "matthew", "plant"), ("dandf", "fpf", "lmf")),
    "fig3abc": (("job", "matthew", "plant"), ("fpf", "fpf_code")),
    "fig3d": (("matthew",), ("lmf", "lmf_fix", "lmf_dynamic", "lmf_ring")),
}

#: baselines of Figs. 1, 2 and 5 that we do not run, with the reason (never silently dropped)
NOT_RUN: dict = {}

LABELS = {"ippo": "IPPO", "ippo_avg": "IPPO-AVG", "mappo": "MAPPO", "fen": "FEN (flat)",
          "fen_hier": "FEN (hierarchical)", "soto_ggf": "SOTO-GGF", "soto_alf": "SOTO-ALF", "dandf": "D&F",
          "fpf": "FPF (random half)", "fpf_code": "FPF (code: i <= N/2)", "lmf": "LMF (all)", "lmf_fix": "LMF-Fix",
          "lmf_dynamic": "LMF-Dynamic (paper: random groups)", "lmf_ring": "LMF-Dynamic (code: fixed ring)"}


# ------------------------------------------------------------------------------------ FEN reward
@njit(cache=True)
def fen_step_kernel(rewards, dones, cum, count, max_u, rat, util, out):
    """One step of :func:`fen_reward_kernel` for every copy: ``rewards`` (E, n), ``dones`` (E,);
    writes ``rat`` (E, n), ``util`` (E,) and the fair-efficient reward ``out`` (E, n) of the
    episode so far including this step, then resets ``cum``, ``count`` of the copies that ended."""
    E, n = rewards.shape
    for e in range(E):
        count[e] += 1
        avg = 0.0
        for i in range(n):
            cum[e, i] += rewards[e, i]
            avg += cum[e, i]
        avg /= n * count[e]
        util[e] = min(1.0, avg / max_u)
        for i in range(n):
            u = cum[e, i] / count[e]
            rat[e, i] = (u - avg) / avg if avg != 0.0 else 0.0
            out[e, i] = util[e] / (0.1 + abs(rat[e, i]))
        if dones[e]:
            count[e] = 0
            for i in range(n):
                cum[e, i] = 0.0
    return out


@njit(cache=True)
def fen_reward_kernel(rewards, dones, cum, count, max_u, out):
    """Fair-efficient reward (FEN, notes Sec. 2.4) of a rollout, in place; ``cum`` (E, n) and
    ``count`` (E,) carry the episode-to-date sums and lengths across calls (reset after a done).

    ``u_i`` = mean per-step reward of i so far in the episode, ``avg = mean_i u_i``,
    ``rat_i = (u_i - avg) / avg`` (0 if avg = 0), ``util = min(1, avg / max_u)``,
    reward ``util / (0.1 + |rat_i|)`` (Jiang & Lu 2019's fair-efficient reward with their code's constants).
    """
    T, E, n = rewards.shape
    rat = np.empty((E, n))
    util = np.empty(E)
    for t in range(T):
        fen_step_kernel(rewards[t], dones[t], cum, count, max_u, rat, util, out[t])
    return out


class FENReward:
    """Reward hook: every step's reward replaced by FEN's fair-efficient reward (the code's PPO-FEN)."""

    def __init__(self, n_envs: int, n_agents: int, max_u: float):
        self.max_u = _ex.check_float("max_u", max_u, min=0, min_inclusive=False)
        self.cum = np.zeros((_ex.check_int("n_envs", n_envs, min=1), _ex.check_int("n_agents", n_agents, min=1)))
        self.count = np.zeros(n_envs, np.int64)

    def __call__(self, rewards, ctx):
        r = np.ascontiguousarray(rewards, dtype=np.float64)
        dones = np.ascontiguousarray(ctx.rollout.dones, dtype=np.bool_)
        return fen_reward_kernel(r, dones, self.cum, self.count, self.max_u, np.empty_like(r))


# ------------------------------------------------------------------------------------ metrics
def _returns(returns) -> np.ndarray:
    R = np.asarray(returns, dtype=float)
    if R.ndim < 2:
        raise ValueError(f"returns must have shape (..., iterations, n_agents); got shape {R.shape}")
    return R


def collective(returns) -> np.ndarray:
    """Collective return per 200 steps (one episode): the sum over agents, ``(..., iterations)``."""
    return _returns(returns).sum(axis=-1)


def participant_split(returns, participants):
    """Mean per-agent return of the participants and of the opt-outs, each ``(..., iterations)``.

    ``participants``: indices into the last axis. With nobody opting out the second is all NaN.
    """
    R = _returns(returns)
    n = R.shape[-1]
    p = np.asarray(participants, dtype=np.int64).ravel()
    if p.size and (p.min() < 0 or p.max() >= n or len(set(p.tolist())) != p.size):
        raise ValueError(f"participants must be distinct agent indices in [0, {n - 1}]; got {p.tolist()}")
    mask = np.zeros(n, bool)
    mask[p] = True
    nan = np.full(R.shape[:-1], np.nan)
    inside = R[..., mask].mean(-1) if mask.any() else nan
    outside = R[..., ~mask].mean(-1) if (~mask).any() else nan
    return inside, outside


def egalitarian_ratio(returns, last: float = 0.1) -> dict:
    """The paper's egalitarian ratio (Fig. 5): std / mean over agents of the returns.

    Returns ``curve`` ``(..., iterations)`` (one value per iteration, NaN where the mean is 0),
    ``average`` (the mean of the curve over training) and ``last`` (its mean over the last
    ``last`` fraction of the iterations, at least one).
    """
    R = _returns(returns)
    last = _ex.check_float("last", last, min=0, max=1, min_inclusive=False)
    m = R.mean(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        curve = np.where(m != 0, R.std(-1) / np.abs(m), np.nan)
    k = max(1, int(round(curve.shape[-1] * last)))
    with warnings.catch_warnings():  # a run whose every mean is 0 gives NaN, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        return dict(curve=curve, average=np.nanmean(curve, axis=-1), last=np.nanmean(curve[..., -k:], axis=-1))


# ------------------------------------------------------------------------------------ presets, runs
def iterations_for(scenario: str, budget: float, n_envs: int) -> int:
    """Iterations giving ``budget`` times the code's episodes of ``scenario`` with ``n_envs`` copies."""
    _ex.check_choice("scenario", scenario, SCENARIOS)
    budget = _ex.check_float("budget", budget, min=0, min_inclusive=False)
    n_envs = _ex.check_int("n_envs", n_envs, min=1)
    return max(1, int(round(budget * PAPER_EPISODES[scenario] / n_envs)))


def figure_methods(figures=None, scenarios=None) -> dict:
    """``{scenario: [methods]}`` needed by ``figures`` (default all), Fig. 5 using every run."""
    figures = tuple(FIGURES) if figures is None else tuple(_ex.check_choice("figure", f, FIGURES) for f in figures)
    keep = None if scenarios is None else {_ex.check_choice("scenario", s, SCENARIOS) for s in scenarios}
    out = {}
    for f in figures:
        scs, ms = FIGURES[f]
        for s in scs:
            if keep is None or s in keep:
                lst = out.setdefault(s, [])
                lst.extend(m for m in ms if m not in lst)
    return out


def run_point(scenario, method, iterations, n_envs, hidden, lr, vf_lr, lambda_u, lambda_e, lambda_h, alpha, eta,
              seed):
    """One sweep point: :func:`discrete_run` with FEN's ``max_u`` of ``scenario`` (used by ``"fen"`` and
    ``"fen_hier"``; ``"fen_hier"`` takes its segment length from :data:`.fen_hier.FEN_T`; ``"soto_ggf"`` and
    ``"soto_alf"`` run with :func:`discrete_run`'s SOTO defaults: ALF's alpha 0.9, beta annealed over the
    first half)."""
    return discrete_run(scenario, method, iterations=iterations, n_envs=n_envs, hidden=tuple(hidden), lr=lr,
                        vf_lr=vf_lr, lambda_u=lambda_u, lambda_e=lambda_e, lambda_h=lambda_h, alpha=alpha, eta=eta,
                        fen_max_u=FEN_MAX_U[scenario], seed=seed)


def _grid(P: dict, figures=None) -> list:
    need = figure_methods(figures, P["scenarios"])
    if not need:
        raise ValueError("no figure of the chosen scenarios to run; check figures and scenarios")
    grid = []
    for s, ms in need.items():
        ne = FED_EPI[s] if P.get("n_envs") is None else int(P["n_envs"])
        it = iterations_for(s, P["budget"], ne)
        for m in ms:
            grid.append(dict(scenario=s, method=m, iterations=it, n_envs=ne, hidden=list(P["hidden"]), lr=P["lr"],
                             vf_lr=P["vf_lr"], lambda_u=P["lambda_u"], lambda_e=P["lambda_e"],
                             lambda_h=P["lambda_h"], alpha=P["alpha"], eta=P["eta"]))
    return grid


def discrete_experiment(P: dict, figures=None, *, runs=None, backend="serial", n_jobs=None, cache=None,
                        store=None, stale="reuse", progress=False) -> dict:
    """Every (scenario, method) the ``figures`` need, over ``P["runs"]`` seeds, through
    :func:`sharelib.experiments.sweep` (cached when ``cache`` is a directory, resumable, parallel;
    read from and written to a results store with ``store`` / ``stale``, see
    :func:`sharelib.experiments.sweep`).

    ``P`` is the resolved ``fpf_lmf.discrete`` preset: ``scenarios``, ``budget`` (fraction of the
    code's episodes), ``n_envs`` (``None``: the code's ``fed_epi`` per scenario), ``runs``,
    ``hidden``, ``lr``, ``vf_lr``, ``lambda_u``, ``lambda_e``, ``lambda_h``, ``alpha``, ``eta``, ``seed``.
    Returns ``{(scenario, method): [run dicts]}``; every run dict also carries ``episodes`` and
    ``n_envs``.
    """
    pts = _ex.sweep(run_point, _grid(P, figures), runs=P["runs"] if runs is None else runs, seed=P["seed"],
                    backend=backend, n_jobs=n_jobs, cache=cache, store=store, stale=stale, progress=progress,
                    desc="FPF/LMF discrete")
    out = {}
    for p in pts:
        v = dict(p.value, episodes=p.params["iterations"] * p.params["n_envs"], n_envs=p.params["n_envs"],
                 seed=p.seed)
        out.setdefault((p.params["scenario"], p.params["method"]), []).append(v)
    return out


_COMMON = dict(scenarios=["job", "matthew", "plant"], n_envs=None, lambda_u=1.0, lambda_e=1.0, lambda_h=0.01,
               alpha=1e-3, eta=1.5, seed=0)
_ex.register_presets(
    "fpf_lmf.discrete",
    # CI smoke scale: 0.1% of the code's episodes (Job 5, Matthew 20, Plant 10 iterations of 2 copies), 1 seed
    quick=dict(_COMMON, budget=0.001, runs=1, hidden=[16], lr=1e-3, vf_lr=1e-3, n_envs=2),
    # what we ran for figures/fpf_lmf/reduced/ (about 30 min on one core): 10% of the code's episodes (Job 1000,
    # Matthew 4000, Plant 2000 per seed), 3 of its 5 seeds, a (32,) MLP and lr 1e-3 for actor and critic (the
    # code: 256-256, actor 1e-4, critic 1e-3)
    reduced=dict(_COMMON, budget=0.1, runs=3, hidden=[32], lr=1e-3, vf_lr=1e-3),
    # the code's settings (the paper's text gives none): episodes (Job 10k, Matthew 40k, Plant 20k), 5 seeds,
    # 256-256 MLPs, actor lr 1e-4, critic 1e-3, alpha 1e-3, eta (code's beta) 1.5, lambda_u = lambda_e = 1;
    # lambda_h = 0.01 is ours (not in the code: notes Sec. 1.7)
    paper=dict(_COMMON, budget=1.0, runs=5, hidden=[256, 256], lr=1e-4, vf_lr=1e-3),
)


def discrete_plans(P: dict) -> list:
    """The sweep behind ``notebooks/fpf_lmf/02_discrete.ipynb`` (every figure), for
    ``python -m sharelib sweep fpf_lmf.discrete``."""
    return [_ex.SweepPlan(run_point, _grid(P), P["runs"], P["seed"], "FPF/LMF discrete")]


_ex.register_sweep("fpf_lmf.discrete", discrete_plans)
