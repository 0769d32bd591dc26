r"""DGN (Jiang et al., ICLR 2020): deep Q-learning with the graph-attention network of
:class:`sharelib.nn.DGNNet`, one network shared by all agents; the low level of LToS on the
jungle (LToS Sec. 4.3).

:class:`DGN` is the learning core's :class:`sharelib.learners.DQN` (same loop, replay buffer,
epsilon-greedy acting, reward and params hooks) with the Q-network replaced: a minibatch is
``batch_size`` *joint* transitions, all agents of a copy at once, because agent ``i``'s Q depends
on its neighbours' observations. The neighbourhoods travel with the observations: wrap the
environment in :class:`WithNeighbours`, which appends each agent's ``k`` neighbour indices as
``k`` extra observation columns (so the buffer stores the graph of ``s`` and of ``s'`` with the
transition and the target uses the graph of ``s'``).

DGN's jungle settings (``../shared/specs/ltos_d3c_as_cedos_reference_notes.md`` 1.4) and what we
do with them:

- network 512 -> 128, 2 relation layers of 8 heads x 16, Q head on ``[h0, h1, h2]``: the defaults;
- Adam, lr 1e-4, MSE loss, ``gamma = 0.96``: the defaults (loss ``0.5 (Q - y)^2`` averaged over
  agents and transitions; DGN's Keras MSE also averages over the 9 actions, a constant factor
  that Adam's step size is insensitive to);
- soft target updates ``tau = 0.01`` after every gradient step: ``target_tau``;
- epsilon ``0.6 * 0.996^episode``, floor 0.01: ``eps_start``, ``eps_decay``, ``eps_end``, an
  "episode" being ``episode_steps`` environment steps of one copy (so with ``E`` copies epsilon
  decays ``E`` times per ``episode_steps`` vector steps, as ``E`` sequential episodes would);
- buffer 200,000, one gradient step on 10 joint transitions every 3rd step, training from
  episode 200: ``buffer_size`` (in joint transitions), ``batch_size``, ``train_freq``,
  ``learning_starts`` (all the presets' choice);
- left out: DGN's temporal relation regularisation (a KL term between the attention weights of
  consecutive steps; DGN's jungle script trains without it by default as far as the notes show,
  and it would need the next step's attention in the loss), storing only every 3rd step (we
  store every step), and DGN's use of the *current* step's graph for ``s'`` (we use ``s'``'s own).
"""

from __future__ import annotations

import numpy as np

from ..experiments import check_float, check_int
from ..nn.attention import DGNNet
from ..nn.heads import huber_loss
from ..nn.optim import Adam, _clip_rows
from .dqn import DQN

__all__ = ["DGN", "WithNeighbours", "split_graph"]


def split_graph(obs, k):
    """``(features (..., d), neighbours int (..., k))`` of observations whose last ``k`` columns
    hold neighbour indices (:class:`WithNeighbours`)."""
    obs = np.asarray(obs)
    return obs[..., :-k], np.rint(obs[..., -k:]).astype(np.int64)


class WithNeighbours:
    """``env`` (one with ``neighbours``, int ``(E, n, k)``, like :class:`sharelib.envs.Jungle`) with
    the neighbourhood appended to every observation as ``k`` float columns (``obs_dim + k``)."""

    def __init__(self, env):
        if not hasattr(env, "neighbours"):
            raise ValueError("env must provide neighbours (E, n, k), e.g. sharelib.envs.Jungle")
        self.env = env
        self.n_envs, self.n_agents, self.n_actions = env.n_envs, env.n_agents, env.n_actions
        self.n_neighbours = int(env.n_neighbours)
        self.obs_dim = env.obs_dim + self.n_neighbours
        self.max_steps = env.max_steps

    @property
    def neighbours(self):
        return self.env.neighbours

    def _aug(self, obs):
        return np.concatenate([obs, self.env.neighbours.astype(obs.dtype)], axis=-1)

    def reset(self, seed=0):
        return self._aug(self.env.reset(seed))

    def step(self, actions):
        obs, r, d = self.env.step(actions)
        return self._aug(obs), r, d


class DGN(DQN):
    """DGN (module docstring) for observations ``[features, neighbour indices]`` of width
    ``obs_dim`` (the last ``n_neighbours`` columns are the indices).

    Parameters
    ----------
    obs_dim, n_actions, n_agents, n_neighbours : int
    encoder, n_heads, d_head, n_relations : the :class:`sharelib.nn.DGNNet`'s shape
    lr, gamma, buffer_size, batch_size, learning_starts, train_freq, gradient_steps : as DQN
        (``batch_size`` counts joint transitions)
    target_tau : float in (0, 1]
        Soft target update after every gradient step.
    hard_target_update : int or None
        If set, copy the target every ``hard_target_update`` gradient steps instead (no soft update).
    huber_delta : float or None
        None: DGN's MSE loss; a float: the Huber loss with that threshold (DQN's).
    eps_start, eps_decay, eps_end : float;  episode_steps : int
        ``epsilon = max(eps_end, eps_start * eps_decay ** (env_steps // episode_steps))``.
    double : bool (DGN: False, the target is ``max_a Q_bar(s', a)``);  max_grad_norm : float
    dtype : "float64" or "float32" (the network's precision);  hooks, seed : as DQN
    """

    algo = "dgn"

    def __init__(self, obs_dim, n_actions, n_agents, n_neighbours, *, encoder=(512, 128), n_heads=8,
                 d_head=16, n_relations=2, lr=1e-4, gamma=0.96, buffer_size=200_000, batch_size=10,
                 learning_starts=0, train_freq=3, gradient_steps=1, target_tau=0.01,
                 eps_start=0.6, eps_decay=0.996, eps_end=0.01, episode_steps=120, double=False,
                 max_grad_norm=10.0, dtype="float32", huber_delta=None, hard_target_update=None,
                 hooks=None, seed=0):
        self.k = check_int("n_neighbours", n_neighbours, min=1, max=n_agents)
        if check_int("obs_dim", obs_dim, min=1) <= self.k:
            raise ValueError(f"obs_dim={obs_dim} must exceed n_neighbours={self.k} (features + indices)")
        super().__init__(obs_dim, n_actions, n_agents, hidden=(1,), lr=lr, gamma=gamma,
                         buffer_size=buffer_size, batch_size=batch_size, learning_starts=learning_starts,
                         train_freq=train_freq, gradient_steps=gradient_steps, eps_start=eps_start,
                         eps_end=eps_end, double=double, max_grad_norm=max_grad_norm, share_params=True,
                         hooks=hooks, seed=seed)
        self.target_tau = check_float("target_tau", target_tau, min=0, max=1, min_inclusive=False)
        # the two rules a subclass may change (CoLight's traffic settings): loss and target update
        self.huber_delta = None if huber_delta is None else check_float("huber_delta", huber_delta, min=0,
                                                                         min_inclusive=False)
        self.hard_target_update = (None if hard_target_update is None
                                   else check_int("hard_target_update", hard_target_update, min=1))
        self.eps_decay = check_float("eps_decay", eps_decay, min=0, max=1)
        self.episode_steps = check_int("episode_steps", episode_steps, min=1)
        self.q_net = self._network(obs_dim - self.k, n_actions, encoder=encoder, n_heads=n_heads, d_head=d_head,
                                   n_relations=n_relations, dtype=dtype)
        self.q_params = self.q_net.init(np.random.default_rng(self.seed))[None].copy()
        self.target_params = self.q_params.copy()
        self.opt = Adam(self.q_params.shape, lr=self.lr, dtype=self.q_net.dtype)

    @staticmethod
    def _network(d_features, n_actions, **kw):
        """The Q-network over the features (a subclass swaps it: :class:`sharelib.learners.CoLight`)."""
        return DGNNet(d_features, n_actions, **kw)

    @classmethod
    def for_env(cls, env, **kw):
        """For a :class:`WithNeighbours`-wrapped environment (or any with ``n_neighbours`` whose
        observations end in the neighbour indices)."""
        return cls(env.obs_dim, env.n_actions, env.n_agents, env.n_neighbours, **kw)

    def epsilon(self, env_steps=None):
        s = self.env_steps if env_steps is None else env_steps
        return max(self.eps_end, self.eps_start * self.eps_decay ** (s // self.episode_steps))

    def q_values(self, obs, params=None):
        """``Q (E, n, n_actions)`` for observations ``(E, n, obs_dim)`` ending in the neighbour indices."""
        x, nbr = split_graph(obs, self.k)
        p = self.q_params[0] if params is None else params
        return self.q_net.forward(p, x, nbr)

    def td_loss(self, idx, grad=None):
        """``0.5 mean (Q(s, a) - y)^2`` over the stored joint transitions ``idx`` and all agents;
        its gradient accumulates into ``grad`` (``(P,)``) when given."""
        x, nbr = split_graph(self._b_obs[idx], self.k)
        x2, nbr2 = split_graph(self._b_next[idx], self.k)
        A, R, D = self._b_act[idx], self._b_rew[idx], self._b_done[idx]
        net, p, pt = self.q_net, self.q_params[0], self.target_params[0]
        qt = net.forward(pt, x2, nbr2).astype(np.float64)
        if self.double:
            astar = net.forward(p, x2, nbr2).argmax(axis=-1)
            v2 = np.take_along_axis(qt, astar[..., None], -1)[..., 0]
        else:
            v2 = qt.max(axis=-1)
        y = R + self.gamma * (~D)[:, None] * v2
        q, cache = net.forward_cache(p, x, nbr)
        qa = np.take_along_axis(q, A[..., None], -1)[..., 0].astype(np.float64)
        err = qa - y
        if self.huber_delta is None:  # DGN's MSE
            loss, derr = 0.5 * float(np.mean(err ** 2)), err / err.size
        else:
            loss, derr = huber_loss(qa.reshape(-1), y.reshape(-1), self.huber_delta)
            derr = derr.reshape(err.shape)
        dq = np.zeros(q.shape)
        np.put_along_axis(dq, A[..., None], derr[..., None], -1)
        if grad is not None:
            net.backward(p, cache, dq, grad=grad)
        return float(loss)

    def _learn(self, rng):
        size = self.buffer_size if self._b_full else self._b_pos
        idx = rng.integers(0, size, self.batch_size)
        grad = np.zeros_like(self.q_params)
        loss = self.td_loss(idx, grad[0])
        _clip_rows(grad, self.max_grad_norm)
        self.opt.step(self.q_params, grad)
        self.grad_steps += 1
        if self.hard_target_update is None:
            self.target_params += np.asarray(self.target_tau, self.q_params.dtype) * (self.q_params - self.target_params)
        elif self.grad_steps % self.hard_target_update == 0:
            self.target_params[:] = self.q_params
        return loss
