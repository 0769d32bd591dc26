r"""LMF (Dong et al., AAAI 2025, Algorithm 2, Eqs. 13-14) on the learning core's params hook.

Let ``theta_{i,t}`` be agent i's policy before the learning core's update of iteration t and
``theta_tilde_{i,t}`` after it; the update ``g_i = theta_tilde_i - theta_i`` plays the role of
``alpha_t E[grad J_i^ego]`` (a PPO update is several Adam steps, not one gradient step). At a
federation round with weights ``C_t`` (:mod:`.graphs`; identity rows for agents outside ``N_p``):

- ``exchange="params"`` (Eq. 13): ``theta_{i,t+1} = sum_j c_t(i, j) theta_{j,t} + g_i``;
- ``exchange="gradients"`` (Eq. 14): ``theta_{i,t+1} = theta_{i,t} + sum_j c_t(i, j) g_j``;
- ``exchange="code_params"`` (the public code's ``PPO-LMF-Params``): ``theta <- C theta_tilde``
  after the update, with ``mix``: ``C = (1 - mix) I + mix C_graph`` (code: ``mix = 0.1`` on the ring).

With ``C_t = I`` all three are the plain update (tested). Between rounds nothing is exchanged.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...experiments import check_choice, check_float, check_int
from .graphs import GRAPHS, check_doubly_stochastic, graph_matrix

__all__ = ["LMF"]


class LMF:
    """Params hook of LMF; ``graph`` one of :data:`GRAPHS` or a callable ``(round, rng) -> C``."""

    def __init__(self, learner, graph="fix", exchange="params", participants=None, every=1, mix=1.0,
                 group_size=2, n_groups=2, nets=("policy",), seed=0):
        self.n = learner.n_agents
        if not callable(graph):
            check_choice("graph", graph, GRAPHS)
        self.graph = graph
        self.exchange = check_choice("exchange", exchange, ("params", "gradients", "code_params"))
        self.every = check_int("every", every, min=1)
        self.mix = check_float("mix", mix, min=0, max=1)
        self.group_size, self.n_groups = group_size, n_groups
        self.participants = np.arange(self.n) if participants is None else np.asarray(participants, np.int64)
        self.nets = tuple(nets)
        self.rng = np.random.default_rng(check_int("seed", seed, min=0))
        self.rounds = 0
        self._prev = {"policy": learner.policy_params.copy(), "value": learner.value_params.copy()}
        self.learner = learner

    def install(self):
        self.learner.hooks = dataclasses.replace(self.learner.hooks, params=self)
        return self.learner

    def matrix(self):
        """``C_t`` over all n agents for the next round (identity rows outside ``N_p``)."""
        p = self.participants
        if callable(self.graph):
            Cp = np.asarray(self.graph(self.rounds, self.rng), float)
        else:
            Cp = graph_matrix(self.graph, len(p), self.rng, min(self.group_size, len(p)), self.n_groups)
        Cp = (1 - self.mix) * np.eye(len(p)) + self.mix * Cp
        if self.exchange != "gradients":
            check_doubly_stochastic(Cp, "C_t")
        C = np.eye(self.n)
        C[np.ix_(p, p)] = Cp
        return C

    def __call__(self, nets, ctx):
        fed = (ctx.iteration + 1) % self.every == 0
        C = self.matrix() if fed else None
        for name in ("policy", "value"):
            if name not in nets:
                continue
            P = nets[name]
            if fed and name in self.nets:
                prev = self._prev[name]
                g = P - prev
                if self.exchange == "params":
                    P[:] = C @ prev + g  # Eq. 13
                elif self.exchange == "gradients":
                    P[:] = prev + C @ g  # Eq. 14
                else:
                    P[:] = C @ P
            self._prev[name] = P.copy()
        if fed:
            self.rounds += 1
