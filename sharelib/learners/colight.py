r"""CoLight (Wei et al., CIKM 2019): deep Q-learning with a one-layer graph attention over each
intersection's road-connected neighbours, one network for all intersections; the low level of
LToS on traffic (LToS Sec. 5.3; the authors' ``SwarmCoLight`` agent,
``../shared/specs/ltos_d3c_as_cedos_reference_notes.md`` 1.3).

:class:`CoLight` is :class:`sharelib.learners.DGN` (the graph Q-learner: joint minibatches, the
neighbourhood travelling in the observation, :class:`sharelib.learners.WithNeighbours`) with
:class:`sharelib.nn.CoLightNet` as its network and DQN's keywords and training rules, so the
traffic experiment's DQN settings (:func:`sharelib.sharing.ltos_traffic.dqn_kwargs`) configure it
unchanged: Huber TD loss (``huber_delta``), a hard target copy every ``target_update`` gradient
steps, epsilon ``max(eps_end, eps_start * eps_decay_rate ** (steps // eps_decay_steps))`` (the
code's ``0.4 * 0.9^round``). A minibatch is ``batch_size`` joint transitions (all intersections of
one decision), where DQN's is ``batch_size`` single-agent transitions.
"""

from __future__ import annotations

from ..experiments import check_float, check_int
from ..nn.colight import CoLightNet
from .dgn import DGN
from .dqn import DQN

__all__ = ["CoLight"]


class CoLight(DGN):
    """CoLight (module docstring) for observations ``[features, neighbour indices]`` of width
    ``obs_dim`` (the last ``n_neighbours`` columns are the indices, ``-1`` for a missing neighbour).

    Parameters
    ----------
    obs_dim, n_actions, n_agents, n_neighbours : int
    hidden : the trunk's widths (the code's ``(32, 32)``);  dv, dout : the attention's widths (32, 32)
    lr, gamma, buffer_size, batch_size, learning_starts, train_freq, gradient_steps, target_update,
    eps_start, eps_end, eps_decay_steps, eps_decay_rate, double, huber_delta, max_grad_norm, hooks,
    seed : as :class:`sharelib.learners.DQN` (``batch_size`` counts joint transitions;
    ``eps_decay_rate`` None gives DQN's linear decay)
    share_params : must be True (one network over the graph, as in CoLight); accepted so DQN's
        keywords pass through
    """

    algo = "colight"

    def __init__(self, obs_dim, n_actions, n_agents, n_neighbours, *, hidden=(32, 32), dv=32, dout=32,
                 lr=1e-3, gamma=0.8, buffer_size=10_000, batch_size=20, learning_starts=0, train_freq=1,
                 gradient_steps=1, target_update=360, eps_start=0.4, eps_end=0.05, eps_decay_steps=1440,
                 eps_decay_rate=0.9, double=False, huber_delta=1.0, max_grad_norm=10.0, share_params=True,
                 hooks=None, seed=0):
        if share_params is not True:
            raise ValueError("share_params must be True: CoLight is one network over the whole graph")
        self._net_kw = dict(hidden=hidden, dv=check_int("dv", dv, min=1), dout=check_int("dout", dout, min=1))
        super().__init__(obs_dim, n_actions, n_agents, n_neighbours, lr=lr, gamma=gamma,
                         buffer_size=buffer_size, batch_size=batch_size, learning_starts=learning_starts,
                         train_freq=train_freq, gradient_steps=gradient_steps, target_tau=1.0,
                         eps_start=eps_start, eps_decay=1.0, eps_end=eps_end, episode_steps=1,
                         double=double, max_grad_norm=max_grad_norm, dtype="float64",
                         huber_delta=huber_delta, hard_target_update=target_update, hooks=hooks, seed=seed)
        self.eps_decay_steps = check_int("eps_decay_steps", eps_decay_steps, min=1)
        self.eps_decay_rate = None if eps_decay_rate is None else check_float(
            "eps_decay_rate", eps_decay_rate, min=0, max=1, min_inclusive=False)
        self.target_update = self.hard_target_update

    def _network(self, d_features, n_actions, **_dgn_kw):
        return CoLightNet(d_features, n_actions, **self._net_kw)

    epsilon = DQN.epsilon  # DQN's schedule (the round-based one with eps_decay_rate), not DGN's
