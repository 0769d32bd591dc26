r"""The Q-learning baselines of FPF/LMF's SSD figures (Figs. 4 and 6, Appendix 6.3.3): IDQN,
IDQN-AVG, IDQN-MIN, IDQN-RMF and QMIX, with the FPF-LMF code's DQN settings.

The paper's SSD agents are double-DQN learners (notes Sec. 1.5) and its baselines are named after
them; our federations run on the learning core's PPO (:mod:`.ssd`), so the PPO counterparts
(IPPO, IPPO-AVG, IPPO-MIN) are the like-for-like comparison. These are the paper's own baselines
on its own learner, run beside them:

* ``idqn``: independent double DQN, each agent on its own reward (egoism);
* ``idqn_avg``: every agent learns from the mean reward (utilitarianism);
* ``idqn_min``: every agent learns from the minimum reward of the step (egalitarianism);
* ``idqn_rmf``: regularised max-min fairness (Zhang and Shah, NeurIPS 2014, maximise the worst-off
  agent's value "with a consideration on the overall performance"): every agent learns from
  ``min_j r_j + rmf_weight * mean_j r_j`` (:func:`rmf_reward`);
* ``qmix``: :class:`sharelib.learners.QMIX` on the team reward ``sum_i r_i`` (the code's utilitarian
  "T" federated model, used alone as a baseline).

Settings (the code's ``Exp2_SSD``, notes Sec. 1.5): Adam lr 1e-3, gradient-norm clip 15, gamma
0.95, double DQN, hard target copies every 100 learning steps, one learning step per agent per
finished episode (``train_freq`` = the 100-step episode, ``gradient_steps`` = the copies), minibatches
of 16 episodes (IDQN; 1,600 transitions) or 32 (QMIX), learning once 16 episodes are stored, a FIFO
replay of 5,000 episodes (capped at the run's own episodes, which changes nothing: the code's buffer
never evicts before 5,000 episodes), and epsilon from 0.5 to 0.01 linearly over the first 20% of the
run (the code: the greedy probability 0.5 -> 0.99 over the first 2,000 of 10,000 episodes; kept as
a fraction of the run at the reduced scale). QMIX's mixer: embedding 32, one hidden layer of 32 in
the weight hypernetworks.

Deviations, stated: the Q-network is the PPO's (32, 32) MLP on the same 15x15 ``grid``
observation (the code: a 3x3 convolution of 6 filters then FC 32-32 on RGB, LeakyReLU); the loss
is DQN's Huber loss with a threshold so large that it is the squared error (the code's MSE, up to
a factor that Adam ignores); all agents' minibatches share their indices (the code: each agent
draws its own); QMIX's state is the concatenation of the agents' observations (the code: the full
RGB map through FC 256). The minimum and RMF rewards are per step (the criteria are on values:
``min_i V_i``; a per-step minimum is mostly zero in the SSD, the paper's explanation of why MIN
fails). The logged returns are those of the training episodes (as for the PPO methods; the code
logs a greedy evaluation episode before each training episode).
"""

from __future__ import annotations

import numpy as np

from ... import experiments as _ex
from ...learners import DQN, QMIX, Hooks, mix_rewards
from .experiments import min_reward

__all__ = ["Q_METHODS", "Q_SETTINGS", "RMF_WEIGHT", "rmf_reward", "build_q_learner"]

Q_METHODS = ("idqn", "idqn_avg", "idqn_min", "idqn_rmf", "qmix")
#: the code's ``Exp2_SSD`` DQN constants (notes Sec. 1.5), episodes counted in 100-step episodes
Q_SETTINGS = dict(lr=1e-3, max_grad_norm=15.0, gamma=0.95, target_update=100, batch_episodes=16,
                  qmix_batch_episodes=32, start_episodes=16, buffer_episodes=5000, eps_start=0.5, eps_end=0.01,
                  eps_fraction=0.2, qmix_embed=32, qmix_hyper_hidden=(32,))
#: weight of the mean reward in RMF's regularised minimum (ours: Zhang and Shah leave it a free
#: constant, the FPF/LMF paper gives none)
RMF_WEIGHT = 0.1


def rmf_reward(weight: float = RMF_WEIGHT):
    """Reward hook of RMF: ``r'_i = min_j r_j + weight * mean_j r_j`` for every agent (the
    regularised max-min criterion per step, module docstring); ``weight >= 0`` (0 is MIN)."""
    weight = _ex.check_float("weight", weight, min=0)

    def hook(rewards, ctx):
        r = np.asarray(rewards, dtype=np.float64)
        return np.broadcast_to(r.min(axis=-1, keepdims=True) + weight * r.mean(axis=-1, keepdims=True),
                               r.shape).copy()

    return hook


def build_q_learner(env, method: str, *, hidden=(32, 32), episode_steps: int = 100, total_episodes: int,
                    rmf_weight: float = RMF_WEIGHT, seed: int = 0):
    """The Q-learner of ``method`` (:data:`Q_METHODS`) for ``env`` with the code's settings
    (module docstring); ``total_episodes``: the run's episodes summed over copies (sets the buffer
    cap and the epsilon schedule). Train it with ``learner.train(env, total_episodes *
    episode_steps, seed=seed, log_every=episode_steps)``."""
    method = _ex.check_choice("method", method, Q_METHODS)
    episode_steps = _ex.check_int("episode_steps", episode_steps, min=1)
    total_episodes = _ex.check_int("total_episodes", total_episodes, min=1)
    S, n, E = Q_SETTINGS, env.n_agents, env.n_envs
    batch = S["qmix_batch_episodes" if method == "qmix" else "batch_episodes"] * episode_steps
    common = dict(hidden=tuple(int(h) for h in hidden), lr=S["lr"], gamma=S["gamma"],
                  buffer_size=max(batch, min(S["buffer_episodes"], total_episodes) * episode_steps),
                  batch_size=batch, learning_starts=S["start_episodes"] * episode_steps,
                  train_freq=episode_steps, gradient_steps=E, target_update=S["target_update"],
                  eps_start=S["eps_start"], eps_end=S["eps_end"],
                  eps_decay_steps=max(1, int(S["eps_fraction"] * total_episodes * episode_steps)),
                  double=True, max_grad_norm=S["max_grad_norm"], seed=seed)
    if method == "qmix":
        return QMIX.for_env(env, embed=S["qmix_embed"], hyper_hidden=S["qmix_hyper_hidden"], **common)
    reward = {"idqn": None, "idqn_avg": mix_rewards(np.full((n, n), 1.0 / n)), "idqn_min": min_reward,
              "idqn_rmf": rmf_reward(rmf_weight)}[method]
    return DQN.for_env(env, huber_delta=1e12, hooks=Hooks(reward=reward) if reward is not None else None, **common)
