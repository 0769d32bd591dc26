r"""The baselines of the AS paper, all on the same PPO core as AS (Sec. 5.2: "implemented on the
foundation of the same PPO-based MARL algorithm").

Each is plain :class:`~sharelib.learners.PPO` with AS's settings (Table 1: ReLU, critic lr 1e-4,
gamma 0.99, GAE lambda 0.98, clip 0.2, K = 3 full-batch update iterations, no advantage
normalisation, no entropy bonus) plus one sharing hook of the learning core:

``"ippo"``
    Independent PPO on private rewards (Fig. 6): no hook.
``"vs"``, value sharing (Du et al. 2022)
    Each agent learns its own critic and shares its *values*: the policy of ``i`` is trained on
    the mean advantage over ``i`` and its neighbours (the "reduced advantage" of the public DPPO
    code, averaged as the AS paper describes: "updated based on the average value"), an advantage
    hook; value targets stay private.
``"vps"``, value-function parameter sharing (Zhang et al. 2018)
    Each critic is fitted to its own reward, then the critics' parameters take one consensus step
    ``phi_i <- sum_j W_ij phi_j`` with Metropolis weights over the graph (a parameter hook). This
    is the discounted, deep, episodic counterpart of Zhang et al.'s average-reward Algorithm 1 that
    the AS paper implies; the advantages of ``i`` use ``i``'s own reward with its consensus critic.
``"ps"``, policy parameter sharing (Zhang & Zavlanos 2019)
    Each agent trains its copy of the policy on its own advantage, then the policies' parameters
    take one consensus step over the graph; critics stay private. Simplification, stated: the
    paper's agents each learn a *joint* policy for all agents; here each copy is the policy of
    its owner, and consensus pulls the copies together (the environments give every agent its
    index in the observation, so one set of parameters can still act differently per agent).
``"centralised"``
    Centralised PPO on the team reward with one policy over joint actions (Fig. 6, ``N = 2``):
    :class:`JointActionEnv` turns ``n`` agents with ``A`` actions into one agent with ``A**n``.

A dynamic graph (a callable of the observations, as Cooperative Predation's distance rule) is used
per sample by ``"vs"``; the consensus baselines use, per learning iteration, every pair that was
in contact at some sample of the rollout.

The scalability study's protocols apply to the baselines as to AS ("We apply the same approach to
baseline algorithms"): ``partners=1`` keeps, per learning iteration, one random neighbour per agent
(the others' values or parameters are not used), and ``communicate_every=2`` shares only every
second learning iteration (in the gaps each agent learns alone: its own advantages, no consensus).
"""

from __future__ import annotations

import numpy as np

from ...experiments import check_choice, check_int
from ...learners import PPO, Hooks
from ...learners.hooks import consensus
from .learner import one_random_partner

__all__ = ["METHODS", "make_baseline", "metropolis_weights", "JointActionEnv", "AS_PPO_SETTINGS"]

METHODS = ("ippo", "vs", "vps", "ps", "centralised")

#: The PPO settings AS and every baseline share (Table 1 of the paper; the rest is ours).
AS_PPO_SETTINGS = dict(activation="relu", vf_lr=1e-4, gamma=0.99, gae_lambda=0.98, clip=0.2, n_epochs=3,
                       n_minibatches=1, norm_adv=False, ent_coef=0.0, max_grad_norm=0.5)


def metropolis_weights(adjacency: np.ndarray) -> np.ndarray:
    """Doubly stochastic consensus weights on a graph: ``W_ij = 1 / (1 + max(d_i, d_j))`` on edges,
    the rest on the diagonal (Xiao & Boyd's Metropolis-Hastings rule)."""
    A = np.asarray(adjacency, dtype=bool) & ~np.eye(len(adjacency), dtype=bool)
    A = A | A.T
    deg = A.sum(1)
    W = np.where(A, 1.0 / (1.0 + np.maximum(deg[:, None], deg[None, :])), 0.0)
    W[np.diag_indices_from(W)] = 1.0 - W.sum(1)
    return W


def _masks(graph, obs, n):
    """Per-sample neighbour masks ``(..., n, n)`` (self excluded) from a static or dynamic graph."""
    if callable(graph):
        lead = obs.shape[:-2]
        m = np.asarray(graph(obs.reshape(-1, *obs.shape[-2:])), bool).reshape(*lead, n, n)
    else:
        m = np.broadcast_to(np.asarray(graph, bool), (*obs.shape[:-2], n, n))
    return m & ~np.eye(n, dtype=bool)


class _Protocol:
    """Who may share with whom in one learning iteration (the scalability study's protocols)."""

    def __init__(self, graph, n, partners, communicate_every, seed):
        self.graph, self.n = graph, n
        self.partners = None if partners is None else check_int("partners", partners, min=1, max=1)
        self.every = check_int("communicate_every", communicate_every, min=1)
        self.rng = np.random.default_rng([seed, 2])
        self._picked = (-1, None)

    def masks(self, ctx):
        """``(T, E, n, n)`` neighbour masks for this iteration, or None in a communication gap."""
        if ctx.iteration % self.every:
            return None
        m = _masks(self.graph, ctx.rollout.obs, self.n)
        if self.partners == 1:
            if self._picked[0] != ctx.iteration:  # one draw per iteration, shared by both hooks
                self._picked = (ctx.iteration, one_random_partner(m, self.rng))
            m = m & self._picked[1]
        return m


def _mean_over_neighbourhood(protocol):
    def hook(adv, ctx):
        m = protocol.masks(ctx)
        if m is None:
            return adv
        m = m | np.eye(protocol.n, dtype=bool)  # (T, E, n, n), self included
        return np.einsum("teij,tej->tei", m, adv) / m.sum(-1)
    return hook


def _consensus_per_rollout(protocol, nets):
    def hook(pops, ctx):
        m = protocol.masks(ctx)
        if m is not None:
            contact = m.reshape(-1, protocol.n, protocol.n).any(axis=0)
            consensus(metropolis_weights(contact), nets=nets)(pops, ctx)
    return hook


def make_baseline(method: str, env, *, graph=None, hidden=(128, 64), lr=5e-5, n_steps=None, partners=None,
                  communicate_every=1, seed=0, **overrides):
    """A PPO learner for ``env`` with the sharing of ``method`` (see the module docstring).

    ``graph``: ``None`` (everyone), an ``(n, n)`` bool matrix or a callable of observations
    ``(N, n, d) -> (N, n, n)``. For ``"centralised"`` wrap the environment in
    :class:`JointActionEnv` first; the learner is then single-agent.
    """
    check_choice("method", method, METHODS)
    n = env.n_agents
    kw = dict(AS_PPO_SETTINGS, hidden=hidden, lr=lr, n_steps=n_steps or env.max_steps, seed=seed)
    kw.update(overrides)
    if method == "centralised":
        if not isinstance(env, JointActionEnv):
            raise ValueError("method 'centralised' needs the environment wrapped in JointActionEnv")
        return PPO.for_env(env, **kw)
    graph = ~np.eye(n, dtype=bool) if graph is None else graph
    protocol = _Protocol(graph, n, partners, communicate_every, seed)
    hooks = {"ippo": Hooks(),
             "vs": Hooks(advantage=_mean_over_neighbourhood(protocol)),
             "vps": Hooks(params=_consensus_per_rollout(protocol, ("value",))),
             "ps": Hooks(params=_consensus_per_rollout(protocol, ("policy",)))}[method]
    return PPO.for_env(env, hooks=hooks, **kw)


class JointActionEnv:
    """``n`` agents seen as one: the joint action ``a = sum_i a_i A**i`` and the team reward.

    The observation is agent 0's (in the AS environments every agent sees the whole state); the
    reward is the sum of the agents' rewards. Only the attributes and methods a learner uses are
    provided (``reset``, ``step``, sizes, ``last_episode_return``).
    """

    def __init__(self, env):
        self.env = env
        self.n_envs = env.n_envs
        self.n_agents = 1
        self.obs_dim = env.obs_dim
        self.n_actions = env.n_actions ** env.n_agents
        self.max_steps = env.max_steps
        self._base = env.n_actions ** np.arange(env.n_agents)

    def split(self, joint: np.ndarray) -> np.ndarray:
        """Joint actions ``(E, 1)`` to per-agent actions ``(E, n)``."""
        return (np.asarray(joint).reshape(-1, 1) // self._base) % self.env.n_actions

    def reset(self, seed):
        return self.env.reset(seed)[:, :1]

    def step(self, actions):
        obs, rew, done = self.env.step(self.split(actions))
        return obs[:, :1], rew.sum(axis=1, keepdims=True), done
