r"""Figs. 4 and 6 of FPF/LMF (Dong et al., AAAI 2025) on the sequential social dilemmas Cleanup and Harvest.

What runs
---------
Every run is :func:`ssd_run`: the learning core's PPO (one network per agent) with a method of
:func:`.experiments.build_method` installed, on :class:`~sharelib.envs.Cleanup` or
:class:`~sharelib.envs.Harvest` with 3 or 5 agents and 100-step episodes (the FPF-LMF code's
``num_steps``; Fig. 4 plots "collective returns per 100 steps"). One learning iteration is one
episode in each of ``n_envs`` copies; the paper preset uses the code's ``fed_epis = 10`` copies, so
one federation round per iteration is the code's "one round every 10 episodes" (notes Sec. 1.5).

Two versions of the games (notes Secs. 3.2 and 3.3), side by side where they differ:

* ``variant="fpf_lmf"``: the older SSD copy the FPF-LMF code trained on (Cleanup's depletion 0.7,
  restoration 0.1, apple respawn 0.3: a much more apple-rich Cleanup; beams drawn in observations
  and resolved in agent order);
* ``variant="canonical"``: the public SSD code's rules and constants (depletion 0.4, restoration 0,
  apple respawn 0.05: no apple grows before 9 waste cells are cleaned), with the paper's 100-step
  episodes instead of the SSD code's 1000 (ours: so that both versions are measured per 100
  steps). Harvest's constants are the same in both, so by default only Cleanup is run twice
  (``P["canonical"]``).

Methods (:data:`METHODS`), on PPO (:data:`PPO_METHODS`): ``ippo`` (the egoist; PPO's counterpart of
the paper's IDQN), ``ippo_avg`` (mean reward, IDQN-AVG's), ``ippo_min`` (minimum reward, IDQN-MIN's), ``ia`` (inequity aversion, Hughes et al.
2018), ``social`` (social influence, Jaques et al. 2019: the decentralised model-of-other-agents
variant, :mod:`sharelib.sharing.social_influence`), ``fen`` (flat FEN: independent PPO on the
fair-efficient reward), ``dandf`` (D&F, everybody in the federation), ``fpf`` (a random half participates, drawn once per seed), ``lmf`` (Eq. 14 gradient
exchange among all agents, the code's SSD LMF), ``lmf_fix`` (two fixed halves) and ``lmf_dynamic``
(two random overlapping federations of N/2 redrawn every round; our reading of "multiple joint
federations"). On double DQN, the paper's own learner (:mod:`.q_baselines`, the code's DQN settings):
``idqn``, ``idqn_avg``, ``idqn_min``, ``idqn_rmf`` (regularised max-min fairness) and ``qmix``.
Baselines of the paper's Figs. 4 and 6 we do not run are in :data:`NOT_RUN` (now none).

Constants (``paper`` preset): the paper's text gives none for the SSD, so they are the FPF-LMF
code's (notes Sec. 1.5): 10,000 episodes of 100 steps, 5 seeds, ``alpha = 1e-3``, ``eta`` = the code's
``beta`` = 1.5, ``lambda_u`` (``lamdaw``) = 1, ``lambda_e`` (``lamdae``) = 0.1, gamma 0.95; the PPO
settings are the code's SSD PPO baseline's (actor lr 5e-4, critic lr 1e-3, clip 0.05, 10 epochs,
gradient-norm clip 10). Ours: ``lambda_h`` = 0.01 (not in the code), GAE lambda 0.95, 4
minibatches, a (32, 32) MLP on the 15x15 ``grid`` observation (the code: a 3x3 conv of 6 filters
then FC 32-32 on RGB), FEN's ``max_u`` = 0.25 (FEN never ran on the SSD), IA's ``alpha = 5``,
``beta = 0.05`` (Hughes et al. tune per game), SOCIAL's ``alpha = 1``, ``beta = 0.1`` and a (32,)
tanh MLP as each agent's model of the others (Jaques et al. tune per game; their agents use a conv +
LSTM network and see the others' actions). FPF's opt-outs do not take the proximal step
(``regularize="participants"``, the paper's prose "participating agents regularize"; the code pulls
everybody), so an agent that opts out is an independent PPO learner whose experience the federation
still sees (global information), and FPF with nobody participating is IPPO seed for seed (tested).

Logged: the mean per-agent return of the training episodes that ended in each iteration (the code
logs a greedy evaluation episode before every training episode: not done here).
"""

from __future__ import annotations

import numpy as np

from ... import experiments as _ex
from ...envs import Cleanup, Harvest
from .discrete import collective, egalitarian_ratio, participant_split
from .experiments import build_method
from .q_baselines import Q_METHODS, build_q_learner

__all__ = ["ENVS", "VARIANTS", "PPO_METHODS", "METHODS", "LABELS", "NOT_RUN", "PAPER_EPISODES", "EPISODE_STEPS", "FED_EPIS",
           "ssd_run", "ssd_experiment", "run_point", "iterations_for", "collective", "egalitarian_ratio",
           "participant_split"]

ENVS = {"cleanup": Cleanup, "harvest": Harvest}
VARIANTS = ("fpf_lmf", "canonical")
PPO_METHODS = ("ippo", "ippo_avg", "ippo_min", "ia", "social", "fen", "dandf", "fpf", "lmf", "lmf_fix", "lmf_dynamic")
#: the PPO methods, then the paper's own Q-learning baselines (:mod:`.q_baselines`)
METHODS = PPO_METHODS + Q_METHODS
#: episodes per run and steps per episode in the FPF-LMF code's SSD experiments (notes Sec. 1.5)
PAPER_EPISODES = 10_000
EPISODE_STEPS = 100
#: episodes between federation rounds in the code (``fed_epis``)
FED_EPIS = 10

LABELS = {"ippo": "IPPO", "ippo_avg": "IPPO-AVG", "ippo_min": "IPPO-MIN", "ia": "IA", "social": "SOCIAL",
          "fen": "FEN (flat)", "dandf": "D&F", "fpf": "FPF (random half)", "lmf": "LMF (all)", "lmf_fix": "LMF-Fix",
          "lmf_dynamic": "LMF-Dynamic (random groups)", "idqn": "IDQN", "idqn_avg": "IDQN-AVG", "idqn_min": "IDQN-MIN",
          "idqn_rmf": "IDQN-RMF", "qmix": "QMIX"}

#: baselines of the paper's Figs. 4 and 6 (and its Appendix 6.3.3) that we do not run, with the reason
NOT_RUN: dict = {}


def iterations_for(budget: float, n_envs: int) -> int:
    """Iterations giving ``budget`` times the code's 10,000 episodes with ``n_envs`` copies."""
    budget = _ex.check_float("budget", budget, min=0, min_inclusive=False)
    n_envs = _ex.check_int("n_envs", n_envs, min=1)
    return max(1, int(round(budget * PAPER_EPISODES / n_envs)))


def ssd_run(env="cleanup", n_agents=5, variant="fpf_lmf", method="fpf", iterations=10, n_envs=2, hidden=(32, 32),
            lr=5e-4, vf_lr=1e-3, clip=0.05, n_epochs=10, n_minibatches=4, gamma=0.95, gae_lambda=0.95,
            max_grad_norm=10.0, lambda_u=1.0, lambda_e=0.1, lambda_h=0.01, alpha=1e-3, eta=1.5,
            regularize="participants", ia_alpha=5.0, ia_beta=0.05, social_alpha=1.0, social_beta=0.1, fen_max_u=0.25,
            participants=None, obs="grid", seed=0):
    """Train ``method`` on ``env`` for ``iterations`` PPO iterations of one 100-step episode per copy.

    Returns ``returns`` ``(iterations, n_agents)`` (the mean per-agent return of the episodes that
    ended in each iteration), ``participants`` (FPF's ``N_p``; everybody for the other methods),
    ``apples`` ``(iterations,)`` (apples on the map at the end of each iteration, mean over copies)
    and ``n_agents``. ``participants`` overrides FPF's rule with an explicit ``N_p`` (``[]``:
    nobody). Constants: module docstring. The Q-learning methods (:data:`.q_baselines.Q_METHODS`) take
    the code's DQN settings (:data:`.q_baselines.Q_SETTINGS`) and of the learner keywords only
    ``hidden``: ``lr``, ``vf_lr``, ``clip``, ``n_epochs``, ``n_minibatches``, ``gamma``,
    ``gae_lambda`` and ``max_grad_norm`` are PPO's. ``social_alpha``, ``social_beta``: SOCIAL's
    weights of the environment reward and of the influence reward (``social_beta = 0``: IPPO).
    """
    env = _ex.check_choice("env", env, ENVS)
    n_agents = _ex.check_int("n_agents", n_agents, min=2, max=10 if env == "cleanup" else 20)
    variant = _ex.check_choice("variant", variant, VARIANTS)
    method = _ex.check_choice("method", method, METHODS)
    iterations = _ex.check_int("iterations", iterations, min=1)
    n_envs = _ex.check_int("n_envs", n_envs, min=1)
    regularize = _ex.check_choice("regularize", regularize, ("all", "participants"))
    if participants is not None:
        if method not in ("fpf", "dandf"):
            raise ValueError(f"participants applies to method 'fpf' or 'dandf' only; got method={method!r}")
        participants = np.asarray(participants, dtype=np.int64).ravel()
    E = ENVS[env](n_envs=n_envs, n_agents=n_agents, variant=variant, obs=obs, max_steps=EPISODE_STEPS)
    if method in Q_METHODS:  # the paper's own DQN baselines, with the code's DQN settings
        learner = build_q_learner(E, method, hidden=hidden, episode_steps=EPISODE_STEPS,
                                  total_episodes=iterations * n_envs, seed=seed)
        res = learner.train(E, iterations * EPISODE_STEPS * n_envs, seed=seed, log_every=EPISODE_STEPS)
        return dict(returns=np.asarray(res.returns), participants=np.arange(n_agents, dtype=np.int64),
                    n_agents=n_agents)
    ppo_kw = dict(hidden=tuple(int(h) for h in hidden), lr=lr, vf_lr=vf_lr, clip=clip, n_steps=EPISODE_STEPS,
                  n_epochs=n_epochs, n_minibatches=n_minibatches, gamma=gamma, gae_lambda=gae_lambda,
                  max_grad_norm=max_grad_norm)
    learner, parts = build_method(E, method, ppo_kw, lambda_u=lambda_u, lambda_e=lambda_e, lambda_h=lambda_h,
                                  alpha=alpha, eta=eta, every=1, fen_max_u=fen_max_u, ia_alpha=ia_alpha,
                                  ia_beta=ia_beta, social_alpha=social_alpha, social_beta=social_beta,
                                  participants=participants, regularize=regularize, seed=seed)
    res = learner.train(E, iterations * EPISODE_STEPS * n_envs, seed=seed)
    return dict(returns=np.asarray(res.returns), participants=np.asarray(parts, dtype=np.int64), n_agents=n_agents)


def run_point(env, n_agents, variant, method, iterations, n_envs, hidden, lr, vf_lr, clip, n_epochs, gamma,
              lambda_u, lambda_e, lambda_h, alpha, eta, regularize, seed):
    """One sweep point: :func:`ssd_run` with the module's other defaults."""
    return ssd_run(env, n_agents, variant, method, iterations=iterations, n_envs=n_envs, hidden=tuple(hidden), lr=lr,
                   vf_lr=vf_lr, clip=clip, n_epochs=n_epochs, gamma=gamma, lambda_u=lambda_u, lambda_e=lambda_e,
                   lambda_h=lambda_h, alpha=alpha, eta=eta, regularize=regularize, seed=seed)


def _grid(P: dict) -> list:
    for e in P["envs"]:
        _ex.check_choice("envs", e, ENVS)
    for e in P["canonical"]:
        _ex.check_choice("canonical", e, ENVS)
    for m in P["methods"]:
        _ex.check_choice("methods", m, METHODS)
    n_envs = _ex.check_int("n_envs", P["n_envs"], min=1)
    it = iterations_for(P["budget"], n_envs)
    grid = []
    for e in P["envs"]:
        for variant in ("fpf_lmf", "canonical") if e in P["canonical"] else ("fpf_lmf",):
            for n in P["agents"]:
                for m in P["methods"]:
                    grid.append(dict(env=e, n_agents=int(n), variant=variant, method=m, iterations=it, n_envs=n_envs,
                                     hidden=list(P["hidden"]), lr=P["lr"], vf_lr=P["vf_lr"], clip=P["clip"],
                                     n_epochs=P["n_epochs"], gamma=P["gamma"], lambda_u=P["lambda_u"],
                                     lambda_e=P["lambda_e"], lambda_h=P["lambda_h"], alpha=P["alpha"], eta=P["eta"],
                                     regularize=P["regularize"]))
    if not grid:
        raise ValueError("no run to do: envs, agents and methods must each be non-empty")
    return grid


def ssd_plans(P: dict) -> list:
    """The sweep behind ``notebooks/fpf_lmf/03_ssd.ipynb``, for ``python -m sharelib sweep fpf_lmf.ssd``."""
    return [_ex.SweepPlan(run_point, _grid(P), P["runs"], P["seed"], "FPF/LMF SSD")]


def ssd_experiment(P: dict, *, runs=None, backend="serial", n_jobs=None, cache=None, store=None, stale="reuse",
                   progress=False) -> dict:
    """Every (env, n_agents, variant, method) of the resolved ``fpf_lmf.ssd`` preset ``P``, over
    ``P["runs"]`` seeds, through :func:`sharelib.experiments.sweep` (cached when ``cache`` is a
    directory, resumable, parallel; ``store`` / ``stale``: a results store, see
    :func:`sharelib.experiments.sweep`). Returns ``{(env, n_agents, variant, method): [run dicts]}``;
    every run dict also carries ``episodes``, ``n_envs`` and ``seed``.
    """
    (plan,) = ssd_plans(P)
    pts = _ex.sweep(plan.fn, plan.grid, runs=plan.runs if runs is None else runs, seed=plan.seed, backend=backend,
                    n_jobs=n_jobs, cache=cache, store=store, stale=stale, progress=progress, desc=plan.desc)
    out = {}
    for p in pts:
        q = p.params
        v = dict(p.value, episodes=q["iterations"] * q["n_envs"], n_envs=q["n_envs"], seed=p.seed)
        out.setdefault((q["env"], q["n_agents"], q["variant"], q["method"]), []).append(v)
    return out


_COMMON = dict(envs=["cleanup", "harvest"], agents=[3, 5], canonical=["cleanup"], methods=list(METHODS),
               gamma=0.95, lambda_u=1.0, lambda_e=0.1, lambda_h=0.01, alpha=1e-3, eta=1.5, regularize="participants",
               seed=0)
_ex.register_presets(
    "fpf_lmf.ssd",
    # CI smoke scale: 2 iterations of 2 copies (4 episodes, 0.04% of the code's 10k), 1 seed, small PPO
    quick=dict(_COMMON, budget=0.0004, n_envs=2, runs=1, hidden=[16], lr=1e-3, vf_lr=1e-3, clip=0.2, n_epochs=2),
    # figures/fpf_lmf/reduced/: 4% of the code's episodes (400 per seed), 3 of its 5 seeds, 4 PPO epochs (code: 10)
    # and lr 1e-3 for the actor (code: 5e-4) to learn something in the shorter runs, clip 0.2 (code: 0.05)
    reduced=dict(_COMMON, budget=0.04, n_envs=10, runs=3, hidden=[32, 32], lr=1e-3, vf_lr=1e-3, clip=0.2,
                 n_epochs=4),
    # the code's settings (notes Sec. 1.5; the paper's text gives none): 10k episodes of 100 steps, 5 seeds,
    # fed_epis = 10 copies per iteration, PPO baseline lr 5e-4 / 1e-3, clip 0.05, 10 epochs
    paper=dict(_COMMON, budget=1.0, n_envs=FED_EPIS, runs=5, hidden=[32, 32], lr=5e-4, vf_lr=1e-3, clip=0.05,
               n_epochs=10),
)


_ex.register_sweep("fpf_lmf.ssd", ssd_plans)
