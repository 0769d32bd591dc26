r"""LToS on the prisoner corridor (Sec. 5.1, Fig. 3a): independent DQN, fixed LToS, LToS and QMIX.

:func:`run_corridor` trains one method once and returns its learning curve of the *average*
return per agent (the paper's metric; reward sharing preserves the sum, so the average of the
shaped returns equals the environment's), its selfishness ``w_ii`` over training, and the greedy
return after training. Hyperparameters of the low level are the learning core's corridor DQN
(:func:`sharelib.learners.mixing.default_learner_kw`; the paper's appendix with its own is not in
our copy); the high level's are those of the public traffic code (module
:mod:`sharelib.sharing.ltos`). QMIX (the paper's centralised baseline "throughout the three
scenarios") is :class:`sharelib.learners.QMIX` with the same keywords: its agent network the same
32-unit MLP (plus the agent's one-hot id), trained on the team reward through its mixing network of
the concatenated observations.
"""

from __future__ import annotations

import numpy as np

from .. import experiments
from ..envs import PrisonerCorridor
from ..learners import DQN, QMIX
from ..learners.actor_critic import evaluate
from ..learners.mixing import _bin, default_learner_kw
from .ltos import LToS, SharingEnv

__all__ = ["METHODS", "run_corridor"]

METHODS = ("dqn", "fixed_ltos", "ltos", "qmix")


def run_corridor(method: str = "ltos", total_steps: int = 40_000, n_envs: int = 8, seed: int = 0,
                 n_points: int = 40, initial_selfishness: float = 0.8, w_noise: float = 0.3,
                 eval_episodes: int = 64) -> dict:
    """Train ``method`` (one of :data:`METHODS`) on the corridor; returns ``steps`` (bin right
    edges), ``returns`` (average return per agent of the episodes ending in each bin),
    ``selfishness`` (mean ``w_ii`` in force per bin; 1 for DQN and QMIX, which share no reward), ``final``
    (average over agents and the last 20% of training) and ``eval`` (greedy, after training).
    ``initial_selfishness`` and ``w_noise`` (the high level's logit noise) are :class:`LToS`'s."""
    method = experiments.check_choice("method", method, METHODS)
    total_steps = experiments.check_int("total_steps", total_steps, min=1)
    n_envs = experiments.check_int("n_envs", n_envs, min=1)
    n_points = experiments.check_int("n_points", n_points, min=1)
    eval_episodes = experiments.check_int("eval_episodes", eval_episodes, min=1)
    seed = experiments.check_int("seed", seed, min=0)
    ss = np.random.SeedSequence(seed)
    init_seed, train_seed, eval_seed = (int(s.generate_state(1)[0] % 2**31) for s in ss.spawn(3))
    kw = default_learner_kw("prisoner_corridor", "dqn", total_steps)
    env = PrisonerCorridor(n_envs)
    if method in ("dqn", "qmix"):
        learner = (DQN if method == "dqn" else QMIX).for_env(env, seed=init_seed, **kw)
        res = learner.train(env, total_steps, seed=train_seed)
        ev = evaluate(learner, PrisonerCorridor(min(n_envs, eval_episodes)), n_episodes=eval_episodes,
                      seed=eval_seed, greedy=True)
        selfish = np.ones(n_points)
    else:
        L = LToS(env, initial_selfishness=initial_selfishness, learn_weights=(method == "ltos"),
                 w_noise=w_noise, dqn_kw=kw, seed=init_seed)
        res = L.train(total_steps, seed=train_seed)
        log = np.asarray(L.selfishness_log)  # one entry per training vector step
        vec = np.arange(1, len(log) + 1) * n_envs
        idx = np.clip(np.searchsorted(np.linspace(0, vec[-1], n_points + 1), vec, side="left") - 1, 0, n_points - 1)
        selfish = np.bincount(idx, log, n_points) / np.maximum(np.bincount(idx, None, n_points), 1)
        ev = evaluate(L.low, SharingEnv(PrisonerCorridor(min(n_envs, eval_episodes)), L),
                      n_episodes=eval_episodes, seed=eval_seed, greedy=True)
    edges = np.linspace(0, res.steps[-1], n_points + 1)
    curve = _bin(res.steps, res.returns, res.episodes, edges).mean(axis=1)
    return dict(method=method, steps=edges[1:], returns=curve, selfishness=selfish,
                final=float(np.mean(res.final_return(0.2))), eval=float(np.mean(ev)))


experiments.register_presets(
    "ltos_corridor",
    quick=dict(total_steps=12_000, runs=2, n_envs=8, seed=0),
    paper=dict(total_steps=40_000, runs=5, n_envs=8, seed=0),
)
