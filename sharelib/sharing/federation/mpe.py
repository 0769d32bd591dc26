r"""Fig. 7 of FPF/LMF (Dong et al., AAAI 2025): the cooperating agents' returns in MPE against a random
adversary, per scenario and method.

What runs
---------
The four scenarios of :mod:`sharelib.envs.mpe` (mpe2's physics and rewards; Physical deception, Covert
communication, Predator-prey, Keep-away; 100-step episodes; the opponent plays uniformly random
actions, "the adversary agent's policy fixed as a random policy"). Only the cooperating team learns:
the learning core's PPO, one network per agent, with the federation as its params hook through the
same :func:`.experiments.build_method` as the discrete scenarios. One learning iteration is a
25-step rollout in each of ``n_envs`` copies, so a federation round every iteration is the FPF-LMF
code's ``fed_steps = 25`` (notes Sec. 1.6); an episode spans 4 iterations.

Methods (:data:`METHODS`): ``ippo`` (independent PPO, the stand-in for the code's independent DDPG),
``dandf`` (D&F, everybody uploads), ``fpf`` (half of the team uploads, drawn once per seed: the paper's
reading; the code's MPE FPF uploads from all agents, i.e. it is our ``dandf``, notes Sec. 1.6), ``lmf``
(full participation, Eq. 14 over one federation of all agents; "we only compare the performance of
full-participation LMF"), ``maddpg`` (MADDPG, Lowe et al. 2017, the paper's utilitarian baseline:
:class:`sharelib.learners.MADDPG`, a decentralised actor and a centralised critic on every team member's
observation and action per agent, discrete actions through the Gumbel-softmax relaxation; no federation;
the random opponent stays outside the learner, as for the others). The two entries of :data:`NOT_RUN`
are not run, with the reason.

MADDPG's settings (:data:`MADDPG_SETTINGS`), on the same number of environment steps as the PPO methods:
from the FPF-LMF code (notes Sec. 1.6) Adam step 1e-3 for actor (``lr``) and critic (``vf_lr``), gamma
0.95, batch 64, buffer 5e5, the soft update ``tau`` = 0.01 (the code's "tau = 0.99" read as the weight
the target keeps, as in the MADDPG code's polyak 0.99), the preset's ``hidden`` for actors and critics;
from the MADDPG code: gradient-norm clipping 0.5, the logit penalty 1e-3 mean(logits^2), Gumbel-softmax
temperature 1, target actions the target actors' relaxed samples; ours: one gradient step (and soft
update) per vector step of the ``n_envs`` copies (with the presets' 10 copies one per 10 environment
steps; the codes' one per 100 steps would leave about 300 updates in the ``reduced`` budget), learning
from the end of the first episode of every copy (``learning_starts`` = 100 ``n_envs`` steps; the MADDPG
code's rule, batch times episode length = 6400 steps, is a fifth of the ``reduced`` budget). The
code's MPE learners are continuous-action (MA)DDPG with a tanh output; ours acts on mpe2's discrete
actions through logits.

Constants (:data:`CONSTANTS`): the paper's text gives none for MPE. From the FPF-LMF code (notes Sec.
1.6): episodes 10 000 of 100 steps, federation every 25 steps, the pull toward the federated model
``lambda`` = 5 (our ``lambda_u``), ``alpha`` = 1e-3, ``beta`` = 1 (our ``eta``), gamma 0.95, Adam step
1e-3 for actor and critic, 64-64-64 MLPs, no egalitarian model (``lambda_e`` = 0). Ours: ``lambda_h`` =
0.01, GAE lambda 0.95, PPO's 2 epochs of 4 minibatches, discrete actions, 5 seeds (the code's ``round``
is not in the notes; 5 as in its other experiments).

Metric (:func:`team_return`): the team's return per 100-step episode, the mean over the cooperating
agents of their episode returns, as the code's evaluation logs it (the reward is shared in Physical
deception, Covert communication and Predator-prey, so there it is each agent's return; Keep-away's
rewards are individual and the code logs their mean). We log the training episodes (stochastic
policies), the code logs separate greedy evaluation episodes.
"""

from __future__ import annotations

import numpy as np

from ... import experiments as _ex
from ...envs.mpe import MPE_SCENARIOS
from ...learners.maddpg import MADDPG
from .experiments import build_method

__all__ = ["SCENARIOS", "METHODS", "NOT_RUN", "LABELS", "NAMES", "CONSTANTS", "PAPER_EPISODES",
           "EPISODE_STEPS", "FED_STEPS", "MADDPG_SETTINGS", "mpe_run", "team_return", "mpe_experiment", "run_point"]

SCENARIOS = tuple(MPE_SCENARIOS)  # Fig. 7 (a)-(d)
NAMES = {"deception": "Physical deception", "crypto": "Covert communication", "tag": "Predator-prey",
         "push": "Keep-away"}
METHODS = ("ippo", "dandf", "fpf", "lmf", "maddpg")
LABELS = {"ippo": "IPPO", "dandf": "D&F", "fpf": "FPF (random half)", "lmf": "LMF (all)", "maddpg": "MADDPG"}

#: episodes per run and steps per episode (the FPF-LMF code, notes Sec. 1.6)
PAPER_EPISODES = 10_000
EPISODE_STEPS = 100
#: env steps between federation rounds (the code's ``fed_steps``) = our rollout length
FED_STEPS = 25

#: where every constant comes from
CONSTANTS = {
    "episodes": (PAPER_EPISODES, "FPF-LMF code"), "episode_steps": (EPISODE_STEPS, "FPF-LMF code"),
    "fed_steps": (FED_STEPS, "FPF-LMF code"), "lambda_u": (5.0, "FPF-LMF code (its single lambda)"),
    "lambda_e": (0.0, "FPF-LMF code (no egalitarian model in its MPE)"), "alpha": (1e-3, "FPF-LMF code"),
    "eta": (1.0, "FPF-LMF code (beta)"), "gamma": (0.95, "FPF-LMF code"), "lr": (1e-3, "FPF-LMF code (alpha as Adam step)"),
    "hidden": ((64, 64, 64), "FPF-LMF code"), "lambda_h": (0.01, "ours"), "gae_lambda": (0.95, "ours"),
    "seeds": (5, "ours (the code's other experiments)"),
}

#: MADDPG's fixed settings in :func:`mpe_run` (module doc; ``lr``, ``vf_lr``, ``gamma``, ``hidden`` come
#: from the run's arguments, ``learning_starts`` is ``EPISODE_STEPS * n_envs``, one gradient step per
#: vector step)
MADDPG_SETTINGS = dict(batch_size=64, buffer_size=500_000, tau=0.01, tau_gs=1.0, max_grad_norm=0.5, logit_reg=1e-3,
                       target_actions="sample", train_freq=1, gradient_steps=1, activation="relu")

#: baselines of Fig. 7 that we do not run, with the reason (never silently dropped)
NOT_RUN = {
    "DDPG (the code's independent learner)": "IPPO stands in for independent learning, because every federation "
                                             "here is built on the same PPO; the code's off-policy family is "
                                             "represented by MADDPG (centralised critics)",
    "adversary as pre-trained DDPG (Appendix 6.4.3)": "not in Fig. 7 (which uses the random adversary)",
}


def team_return(returns) -> np.ndarray:
    """The team's return per episode: the mean over the last axis (agents) of ``returns``."""
    R = np.asarray(returns, dtype=float)
    if R.ndim < 2:
        raise ValueError(f"returns must have shape (..., episodes, n_agents); got shape {R.shape}")
    return R.mean(axis=-1)


def mpe_run(scenario="tag", method="lmf", episodes=40, n_envs=4, hidden=(64, 64, 64), lr=1e-3, vf_lr=1e-3,
            lambda_u=5.0, lambda_e=0.0, lambda_h=0.01, alpha=1e-3, eta=1.0, gamma=0.95, gae_lambda=0.95,
            seed=0):
    """Train ``method``'s team on ``scenario`` for ``episodes`` 100-step episodes per copy (rounded up to
    a whole number of episodes in every one of the ``n_envs`` copies). ``maddpg`` uses ``hidden``,
    ``lr`` (actors), ``vf_lr`` (critics), ``gamma`` and :data:`MADDPG_SETTINGS`; the federation and PPO
    arguments do not apply to it. Its curve is logged every 25 steps like the PPO methods'.

    Returns ``returns`` ``(episodes, n)`` (each row: the agents' mean return over the ``n_envs`` copies'
    episode that ended then), ``steps`` ``(episodes,)`` (environment steps per copy at that time),
    ``participants`` (FPF's uploaders; everybody otherwise), ``n_agents``, ``n_envs``."""
    scenario = _ex.check_choice("scenario", scenario, SCENARIOS)
    method = _ex.check_choice("method", method, METHODS)
    episodes = _ex.check_int("episodes", episodes, min=1)
    env = MPE_SCENARIOS[scenario](n_envs=_ex.check_int("n_envs", n_envs, min=1), max_steps=EPISODE_STEPS)
    if method == "maddpg":  # no federation: everybody is a "participant" as in IPPO
        learner = MADDPG.for_env(env, hidden=tuple(hidden), actor_lr=lr, critic_lr=vf_lr, gamma=gamma,
                                 learning_starts=EPISODE_STEPS * env.n_envs, seed=seed, **MADDPG_SETTINGS)
        res = learner.train(env, episodes * EPISODE_STEPS * env.n_envs, seed=seed, log_every=FED_STEPS)
        env.close()
        done = res.episodes > 0
        return dict(returns=res.returns[done], steps=res.steps[done] // env.n_envs,
                    participants=np.arange(env.n_agents), n_agents=env.n_agents, n_envs=env.n_envs)
    learner, participants = build_method(
        env, method, dict(hidden=tuple(hidden), lr=lr, vf_lr=vf_lr, n_steps=FED_STEPS, n_epochs=2, n_minibatches=4,
                          gamma=gamma, gae_lambda=gae_lambda),
        lambda_u=lambda_u, lambda_e=lambda_e, lambda_h=lambda_h, alpha=alpha, eta=eta, every=1, seed=seed)
    res = learner.train(env, episodes * EPISODE_STEPS * env.n_envs, seed=seed)
    env.close()
    done = res.episodes > 0  # copies run in lockstep: every 4th iteration ends one episode in each
    return dict(returns=res.returns[done], steps=res.steps[done] // env.n_envs, participants=participants,
                n_agents=env.n_agents, n_envs=env.n_envs)


def run_point(scenario, method, episodes, n_envs, hidden, lr, vf_lr, lambda_u, lambda_e, lambda_h, alpha, eta,
              gamma, gae_lambda, seed):
    """One sweep point (:func:`mpe_run` with every setting named)."""
    return mpe_run(scenario, method, episodes=episodes, n_envs=n_envs, hidden=tuple(hidden), lr=lr, vf_lr=vf_lr,
                   lambda_u=lambda_u, lambda_e=lambda_e, lambda_h=lambda_h, alpha=alpha, eta=eta, gamma=gamma,
                   gae_lambda=gae_lambda, seed=seed)


def _grid(P):
    episodes = max(1, int(round(P["budget"] * PAPER_EPISODES / P["n_envs"])))
    return [dict(scenario=s, method=m, episodes=episodes, n_envs=P["n_envs"], hidden=list(P["hidden"]), lr=P["lr"],
                 vf_lr=P["vf_lr"], lambda_u=P["lambda_u"], lambda_e=P["lambda_e"], lambda_h=P["lambda_h"],
                 alpha=P["alpha"], eta=P["eta"], gamma=P["gamma"], gae_lambda=P["gae_lambda"])
            for s in P["scenarios"] for m in P["methods"]]


def mpe_plans(P: dict) -> list:
    """The sweep behind ``notebooks/fpf_lmf/04_mpe.ipynb``, for ``python -m sharelib sweep fpf_lmf.mpe``
    (running it needs the ``mpe`` extra)."""
    return [_ex.SweepPlan(run_point, _grid(P), P["runs"], P["seed"], "FPF/LMF MPE")]


def mpe_experiment(P: dict, *, runs=None, backend="serial", n_jobs=None, cache=None, store=None, stale="reuse",
                   progress=False) -> dict:
    """Every (scenario, method) of ``P`` over ``P["runs"]`` seeds through :func:`sharelib.experiments.sweep`
    (``store`` / ``stale``: a results store, see there).

    ``P`` is the resolved ``fpf_lmf.mpe`` preset: ``scenarios``, ``methods``, ``budget`` (fraction of the
    code's 10 000 episodes, split over the ``n_envs`` copies), ``n_envs``, ``runs``, ``hidden``, ``lr``,
    ``vf_lr``, ``lambda_u``, ``lambda_e``, ``lambda_h``, ``alpha``, ``eta``, ``gamma``, ``gae_lambda``,
    ``seed``. Returns ``{(scenario, method): [run dicts]}``, each also carrying ``episodes`` (over all
    copies) and ``seed``.
    """
    for s in P["scenarios"]:
        _ex.check_choice("scenario", s, SCENARIOS)
    for m in P["methods"]:
        _ex.check_choice("method", m, METHODS)
    (plan,) = mpe_plans(P)
    if not plan.grid:
        raise ValueError("no (scenario, method) to run; check scenarios and methods")
    pts = _ex.sweep(plan.fn, plan.grid, runs=plan.runs if runs is None else runs, seed=plan.seed, backend=backend,
                    n_jobs=n_jobs, cache=cache, store=store, stale=stale, progress=progress, desc=plan.desc)
    out = {}
    for p in pts:
        v = dict(p.value, episodes=p.params["episodes"] * p.params["n_envs"], seed=p.seed)
        out.setdefault((p.params["scenario"], p.params["method"]), []).append(v)
    return out


_COMMON = dict(scenarios=list(SCENARIOS), methods=list(METHODS), lambda_u=5.0, lambda_e=0.0, lambda_h=0.01,
               alpha=1e-3, eta=1.0, gamma=0.95, gae_lambda=0.95, lr=1e-3, vf_lr=1e-3, seed=0)
_ex.register_presets(
    "fpf_lmf.mpe",
    # CI smoke scale: 16 episodes of 100 steps per (scenario, method) = 0.16% of the code's 10k, 1 seed, (16,) MLPs
    quick=dict(_COMMON, budget=0.0016, n_envs=4, runs=1, hidden=[16]),
    # what figures/fpf_lmf/reduced/ was made with (about half an hour on one core): 3% of the code's episodes
    # (300 episodes of 100 steps in 10 copies), 2 of 5 seeds, (64, 64) MLPs
    reduced=dict(_COMMON, budget=0.03, n_envs=10, runs=2, hidden=[64, 64]),
    # the code's settings where the text is silent (CONSTANTS): 10k episodes, 64-64-64 MLPs, 5 seeds
    paper=dict(_COMMON, budget=1.0, n_envs=10, runs=5, hidden=[64, 64, 64]),
)


_ex.register_sweep("fpf_lmf.mpe", mpe_plans)
