r"""Independent learners with mixed rewards on the learning-core dilemmas (``learning_core`` notebook).

Each agent ``i`` learns from ``r'_i = sum_j A_ij r_j`` with the symmetric mixing matrix
``A = (1 - w) I + w / (n - 1) (J - I)`` (rows on the simplex; ``w = 0``: selfish, independent
learners; ``w = (n - 1) / n``: every agent learns from the mean reward, "fully mixed", D3C's
``A_ij = 1/n``).  This is the reward hook :func:`sharelib.learners.mix_rewards` with a fixed ``A``
(D3C learns ``A``; LToS learns it per state; here it is a knob).

:func:`run_mixing` trains one learner type on one environment with one ``w`` and returns the
learning curve of the *environment's* rewards binned on a fixed grid of environment steps, the
final greedy/stochastic evaluation return, and environment-specific diagnostics (the Coin game's
fraction of own-colour coins, D3C Fig. 8d).  It is a module-level function of plain arguments, so
:func:`sharelib.experiments.sweep` can run seeds and settings in parallel.
"""

from __future__ import annotations

import numpy as np

from .. import experiments
from ..envs.coin_game import CoinGame
from ..envs.prisoner_corridor import PrisonerCorridor
from ..envs.trust_your_brother import TrustYourBrother
from .actor_critic import A2C, PPO, REINFORCE, evaluate
from .dqn import DQN
from .hooks import Hooks, mix_rewards

__all__ = ["ENVS", "LEARNERS", "mixing_matrix", "default_learner_kw", "run_mixing"]

ENVS = {"prisoner_corridor": PrisonerCorridor, "coin_game": CoinGame, "trust_your_brother": TrustYourBrother}
LEARNERS = {"dqn": DQN, "reinforce": REINFORCE, "a2c": A2C, "ppo": PPO}


def mixing_matrix(n: int, w: float) -> np.ndarray:
    """``(1 - w) I + w / (n - 1) (J - I)``: keep ``1 - w`` of your reward, spread ``w`` evenly."""
    n = experiments.check_int("n", n, min=2)
    w = experiments.check_float("w", w, min=0.0, max=1.0)
    A = np.full((n, n), w / (n - 1))
    np.fill_diagonal(A, 1.0 - w)
    return A


def default_learner_kw(env: str, learner: str, total_steps: int) -> dict:
    """Our hyperparameters per (environment, learner) (chosen by us; the papers give none for these)."""
    small = env in ("prisoner_corridor", "trust_your_brother")
    if learner == "dqn":
        return dict(hidden=(32,) if small else (64, 64), lr=1e-3, learning_starts=500, target_update=100,
                    buffer_size=10_000, batch_size=64, eps_decay_steps=max(1, total_steps // 2),
                    eps_end=0.05, gamma=0.99)
    if learner == "reinforce":
        # D3C Sec. 3.3: "linear softmax policies (no bias term)" trained with REINFORCE
        tyb = env == "trust_your_brother"
        return dict(hidden=() if tyb else (32,), policy_bias=not tyb, lr=0.05 if tyb else 1e-2,
                    n_steps=20 if small else 100, gamma=0.99, ent_coef=0.0)
    if learner == "a2c":
        return dict(hidden=(64, 64), lr=7e-4, n_steps=20, gamma=0.99, ent_coef=0.01)
    if learner == "ppo":
        return dict(hidden=(64, 64), lr=3e-4, n_steps=128 if not small else 40, gamma=0.99, ent_coef=0.01)
    raise ValueError(f"learner must be one of {sorted(LEARNERS)}; got {learner!r}")


def _bin(steps, returns, episodes, edges):
    """Episode-weighted mean return per bin of environment steps; NaN where no episode ended."""
    K = len(edges) - 1
    n = returns.shape[1]
    out = np.full((K, n), np.nan)
    idx = np.clip(np.searchsorted(edges, steps, side="left") - 1, 0, K - 1)
    r = np.nan_to_num(returns)
    for k in range(K):
        sel = idx == k
        w = episodes[sel].astype(float)
        if w.sum() > 0:
            out[k] = (w[:, None] * r[sel]).sum(0) / w.sum()
    return out


def run_mixing(env: str = "prisoner_corridor", learner: str = "dqn", w: float = 0.0,
               total_steps: int = 20_000, n_envs: int = 8, seed: int = 0, n_points: int = 40,
               eval_episodes: int = 64, learner_kw: dict | None = None, env_kw: dict | None = None) -> dict:
    """Train ``learner`` on ``env`` with mixing weight ``w``; see the module docstring.

    Returns a dict with ``steps`` (bin right edges, ``(n_points,)``), ``returns`` (``(n_points, n)``
    mean environment return of the episodes ending in each bin), ``final`` (``(n,)`` mean over the
    last 20% of training), ``eval`` (``(n,)`` mean return of ``eval_episodes`` episodes after
    training: greedy for DQN, sampled from the policy otherwise), ``w``, and for the Coin game
    ``own_fraction`` (``(n_points,)``: fraction of picked coins of the picker's own colour).
    """
    experiments.check_choice("env", env, ENVS)
    experiments.check_choice("learner", learner, LEARNERS)
    total_steps = experiments.check_int("total_steps", total_steps, min=1)
    n_envs = experiments.check_int("n_envs", n_envs, min=1)
    n_points = experiments.check_int("n_points", n_points, min=1)
    E = ENVS[env](n_envs, **(env_kw or {}))
    kw = default_learner_kw(env, learner, total_steps)
    kw.update(learner_kw or {})
    w = experiments.check_float("w", w, min=0.0, max=1.0)
    hooks = Hooks(reward=mix_rewards(mixing_matrix(E.n_agents, w))) if w > 0 else None
    ss = np.random.SeedSequence(seed)
    init_seed, train_seed, eval_seed = (int(s.generate_state(1)[0]) for s in ss.spawn(3))
    L = LEARNERS[learner].for_env(E, hooks=hooks, seed=init_seed, **kw)
    coin_log = []
    cb = None
    if env == "coin_game":
        def cb(_learner, _k, res):  # cumulative coin counts at each logged point
            coin_log.append((int(res.steps[-1]), E.coin_counts.sum(axis=0).copy()))
    res = L.train(E, total_steps, seed=train_seed, callback=cb)
    edges = np.linspace(0, res.steps[-1], n_points + 1)
    out = dict(w=w, steps=edges[1:], returns=_bin(res.steps, res.returns, res.episodes, edges),
               final=res.final_return(0.2))
    out["eval"] = evaluate(L, ENVS[env](min(n_envs, eval_episodes), **(env_kw or {})),
                           n_episodes=eval_episodes, seed=eval_seed % (2**31), greedy=(learner == "dqn"))
    if env == "coin_game" and coin_log:
        st = np.array([s for s, _ in coin_log])
        cc = np.array([c for _, c in coin_log])  # (K, 2 agents, [own, other])
        idx = np.clip(np.searchsorted(edges, st, side="left") - 1, 0, n_points - 1)
        own = np.full(n_points, np.nan)
        prev = np.zeros((2, 2))
        tot = np.zeros((n_points, 2))
        for k in range(len(st)):
            d = cc[k] - prev
            prev = cc[k]
            tot[idx[k]] += [d[:, 0].sum(), d.sum()]
        ok = tot[:, 1] > 0
        own[ok] = tot[ok, 0] / tot[ok, 1]
        out["own_fraction"] = own
    return out


experiments.register_presets(
    "learning_core",
    quick=dict(corridor_steps=20_000, corridor_runs=3, coin_learner="ppo", coin_steps=60_000, coin_runs=1,
               tyb_steps=100_000, tyb_runs=3, n_envs=8, seed=0),
    paper=dict(corridor_steps=40_000, corridor_runs=10, coin_learner="ppo", coin_steps=1_500_000, coin_runs=2,
               tyb_steps=500_000, tyb_runs=10, n_envs=16, seed=0),
)
