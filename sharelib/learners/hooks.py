"""Sharing hooks: where the papers' mechanisms plug into the learners (see :mod:`sharelib.learners`).

This module defines the hook containers (:class:`Hooks`, :class:`HookContext`, :class:`LossBatch`)
and a few ready-made hooks that later modules and the tests use:

- :func:`mix_rewards` — reward transformation ``r'_i = sum_j A_ij r_j`` (D3C's loss mixing
  ``A^T f`` written for rewards, LToS's sharing weights on a graph, transfers).
- :func:`share_advantages` — advantage transformation ``adv'_i = sum_j N_ij adv_j``
  (value sharing: an agent learns from its neighbours' advantages).
- :func:`federated_average`, :func:`consensus`, :func:`pull_toward_mean` — parameter exchange after
  an update (FedAvg, consensus over a graph, regularisation toward a shared model).
- :func:`log_prob_penalty` — an extra policy term in the loss (an example of the loss-term hook,
  the slot used by AS's anticipation penalties).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

__all__ = [
    "Hooks",
    "HookContext",
    "LossBatch",
    "Rollout",
    "mix_rewards",
    "share_advantages",
    "federated_average",
    "consensus",
    "pull_toward_mean",
    "log_prob_penalty",
]


@dataclass
class Rollout:
    """One batch of experience, time-major.

    ``obs`` float32 ``(T, E, n, d)``; ``actions`` int64 ``(T, E, n)``; ``rewards`` float64
    ``(T, E, n)`` as returned by the environment (before any hook); ``dones`` bool ``(T, E)``
    (episode ended after step ``t``); ``values`` ``(T + 1, E, n)`` value estimates (row ``T`` is
    the bootstrap value of ``last_obs``; zeros for learners without a critic); ``logp``
    ``(T, E, n)`` log-probabilities of the actions under the acting policy (zeros for DQN);
    ``last_obs`` ``(E, n, d)``.  DQN hands its hooks one environment step as ``T = 1``.
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    values: np.ndarray
    logp: np.ndarray
    last_obs: np.ndarray


@dataclass
class HookContext:
    """What a hook may look at: the learner, counters and the current rollout.

    ``returns`` (value targets, ``(T, E, n)``) and ``advantages`` are filled in once computed
    (so the advantage and parameter hooks see them).  ``info`` is a free dict the hooks may use
    to pass data to each other within one iteration.
    """

    learner: Any
    iteration: int
    env_steps: int
    rollout: Rollout
    returns: Optional[np.ndarray] = None
    advantages: Optional[np.ndarray] = None
    info: dict = field(default_factory=dict)


@dataclass
class LossBatch:
    """A minibatch seen by the loss-term hook for one network.

    ``network``: index of the network being updated (the agent, or 0 for a shared network);
    ``agents`` int ``(B,)``: which agent produced each sample; ``obs`` ``(B, d)``; ``actions``
    ``(B,)``; ``logits`` ``(B, A)`` of the network being updated (before the step);
    ``advantages`` ``(B,)`` (after the advantage hook and normalisation); ``old_logp`` ``(B,)``
    (behaviour policy); ``index`` ``(B,)`` flat indices into the rollout's ``(T, E)`` grid
    (``t * E + e``), so a hook can look up other agents' data in ``context.rollout``.
    """

    network: int
    agents: np.ndarray
    obs: np.ndarray
    actions: np.ndarray
    logits: np.ndarray
    advantages: np.ndarray
    old_logp: np.ndarray
    index: np.ndarray
    context: HookContext


@dataclass
class Hooks:
    """The four sharing hooks; each is optional (``None`` = identity / nothing).

    reward(rewards, ctx) -> rewards
        ``(T, E, n)`` float array in, same shape out; called once per rollout before returns are
        computed (DQN: once per environment step, before the transition is stored).
    advantage(advantages, ctx) -> advantages
        ``(T, E, n)`` in and out; called after GAE, before normalisation and the policy update;
        value targets (``ctx.returns``) are not changed by it.  Actor-critic learners only.
    params(nets, ctx) -> None
        ``nets`` maps a name (``"policy"``, ``"value"`` or ``"q"``) to the population array
        ``(m, P)``; modify the arrays **in place**.  Called after every update: once per
        iteration (after all epochs) for actor-critic learners, after every gradient step for DQN
        (``ctx.iteration`` counts those calls).
    loss(batch: LossBatch) -> (value: float, dlogits: ndarray (B, A))
        An extra term added to the policy loss to minimise, given as its value and its gradient
        w.r.t. ``batch.logits``; called for every gradient step of every policy network.
        Actor-critic learners only.
    """

    reward: Optional[Callable] = None
    advantage: Optional[Callable] = None
    params: Optional[Callable] = None
    loss: Optional[Callable] = None


# ------------------------------------------------------------------------------- ready-made hooks
def _check_square(name, M, n=None):
    M = np.asarray(M, dtype=np.float64)
    if M.ndim != 2 or M.shape[0] != M.shape[1] or (n is not None and M.shape[0] != n):
        raise ValueError(f"{name} must be a square (n_agents x n_agents) matrix; got shape {M.shape}")
    return M


def mix_rewards(A) -> Callable:
    """Reward hook ``r'_i = sum_j A[i, j] r_j`` (each row of ``A`` on the simplex keeps totals).

    ``A`` is an ``(n, n)`` array, or a callable ``ctx -> A`` for weights that change over
    training (D3C, LToS).  Full mixing for 2 agents: ``A = [[.5, .5], [.5, .5]]``.
    """
    if not callable(A):
        A = _check_square("A", A)

    def hook(rewards, ctx):
        M = A(ctx) if callable(A) else A
        return np.einsum("ij,...j->...i", M, rewards)

    return hook


def share_advantages(N) -> Callable:
    """Advantage hook ``adv'_i = sum_j N[i, j] adv_j`` (value sharing over a neighbourhood)."""
    N = _check_square("N", N)

    def hook(adv, ctx):
        return np.einsum("ij,...j->...i", N, adv)

    return hook


def federated_average(every: int = 1, weights=None, nets=("policy", "value", "q")) -> Callable:
    """Parameter hook: every ``every`` updates, replace each agent's parameters by the (weighted) mean."""
    if int(every) < 1:
        raise ValueError(f"every must be an integer >= 1; got {every}")

    def hook(pops, ctx):
        if (ctx.iteration + 1) % every:
            return
        for name in nets:
            if name in pops:
                P = pops[name]
                w = np.full(P.shape[0], 1.0 / P.shape[0]) if weights is None else np.asarray(weights, float)
                P[:] = w @ P
    return hook


def consensus(W, nets=("policy", "value", "q")) -> Callable:
    """Parameter hook ``theta_i <- sum_j W[i, j] theta_j`` (one gossip step over a graph)."""
    W = _check_square("W", W)

    def hook(pops, ctx):
        for name in nets:
            if name in pops:
                pops[name][:] = W @ pops[name]
    return hook


def pull_toward_mean(strength: float, nets=("policy", "value", "q")) -> Callable:
    """Parameter hook ``theta_i <- (1 - s) theta_i + s mean_j theta_j`` (a proximal pull)."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be a float in [0, 1]; got {strength}")

    def hook(pops, ctx):
        for name in nets:
            if name in pops:
                P = pops[name]
                P += strength * (P.mean(axis=0) - P)
    return hook


def log_prob_penalty(target_action: int, coef: float) -> Callable:
    """Loss-term hook ``coef * mean_b(-log pi(target_action | s_b))``: pulls the policy toward an action.

    The gradient w.r.t. the logits is ``coef / B * (pi - onehot(target_action))``.
    """
    def hook(batch: LossBatch):
        z = batch.logits
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        B = z.shape[0]
        value = -coef * np.mean(np.log(p[:, target_action]))
        d = p.copy()
        d[:, target_action] -= 1.0
        return value, coef * d / B

    return hook
