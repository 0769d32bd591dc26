r"""QMIX (Rashid et al., ICML 2018): monotonic value-function factorisation for cooperative
multi-agent Q-learning with a centralised mixing network.

Networks (QMIX Sec. 4, Fig. 2)
------------------------------
- One **agent network** ``Q_a(o_a, .)`` shared by all agents: an MLP over the agent's observation,
  with the one-hot agent index appended when ``agent_id=True`` (QMIX's parameter sharing; the
  paper's agent network is a DRQN with a GRU, ours is the learning core's feed-forward
  :class:`sharelib.nn.MLP`, so agents act on their current observation only).
- A **mixing network** that turns the chosen actions' values ``q = (Q_1(o_1, u_1), ..., Q_n(o_n,
  u_n))`` into ``Q_tot`` with weights produced by **hypernetworks** of the global state ``s``::

      W1 = |hyper_w1(s)|  (n x embed)      b1 = hyper_b1(s)  (embed)
      W2 = |hyper_w2(s)|  (embed x 1)      b2 = V(s)         (V: Linear-ReLU-Linear)
      Q_tot(s, u) = elu(q^T W1 + b1)^T W2 + b2

  The absolute values make every mixing weight non-negative, which gives QMIX's monotonicity
  constraint ``dQ_tot / dQ_a >= 0`` for every agent ``a`` (Eq. 5), sufficient for the
  decentralised argmax to equal the centralised one (Eq. 4); the biases are unconstrained. The
  hypernetworks are single linear layers (the paper's version; ``hyper_hidden=(64,)`` gives
  PyMARL's two-layer ReLU hypernetworks for the weights).

Learning (QMIX Sec. 4, Eq. 6 and Algorithm 1 of its appendix)
-------------------------------------------------------------
Per environment step of all ``E`` copies: epsilon-greedy actions of every agent on its own
``Q_a`` (epsilon schedule exactly as :class:`sharelib.learners.DQN`); the **joint** transition
``(o, s, u, r_tot, o', s', done)`` of each copy goes into a ring buffer of ``buffer_size`` joint
transitions, with the **team reward** ``r_tot = sum_a r_a`` (the sum of the agents' rewards after
the reward hook, so a team-reward environment should hand each agent its share, and an
individual-reward one gets its social welfare maximised). After ``learning_starts`` steps, every
``train_freq`` vector steps, ``gradient_steps`` Adam steps on the squared TD loss (Eq. 6, with
the factor ``1/2`` and averaged over the minibatch of ``batch_size`` joint transitions)::

    L = 1/(2B) sum_b (Q_tot(s, u; theta) - y)^2,
    y = r_tot + gamma (1 - done) Q_tot(s', u*; theta-),   u*_a = argmax_u Q_a(o'_a, u; theta-)

(with ``double=True``, ``u*_a = argmax_u Q_a(o'_a, u; theta)`` evaluated by the target networks,
PyMARL's ``double_q``). Because the mixer is monotonic, the per-agent argmax is the joint argmax of
``Q_tot(s', .; theta-)``, so this is the paper's ``max_u' Q_tot``. The target networks (agent and
mixer, ``theta-``) are hard copies of the online ones every ``target_update`` gradient steps; the
gradient (agent and mixer parameters together, one vector) is clipped to ``max_grad_norm`` in L2
norm, as PyMARL does. Episode ends (terminal or time limit) are not bootstrapped, as in DQN. All
gradients are written out by hand (:meth:`QMIX.td_loss`, :meth:`QMIX.mix_backward`) and checked
against finite differences in ``tests/test_qmix.py``.

The global state is ``state_fn(env) -> (E, state_dim)``, called after every ``reset`` and
``step`` (so for a copy that just ended, ``s'`` is already the next episode's first state; it is
never bootstrapped from). Default: the concatenation of all agents' observations (``state_dim =
n_agents * obs_dim``), computed from the stored observations rather than stored twice.

Hooks: ``reward`` (before the team sum) and ``params`` (``{"q": agent network (1, P_agent),
"mixer": mixer (1, P_mixer)}``, views into the learner's parameters, after every gradient step).
"""

from __future__ import annotations

import numpy as np

from ..experiments import check_int
from ..nn.mlp import MLP
from ..nn.optim import Adam, _clip_rows
from .common import check_hidden, check_network, set_replay_settings
from .dqn import DQN

__all__ = ["QMIX"]


def _elu(z):
    return np.where(z > 0.0, z, np.expm1(np.minimum(z, 0.0)))


class QMIX:
    """QMIX (module docstring).

    Parameters
    ----------
    obs_dim, n_actions, n_agents : int
    state_dim : int or None
        Width of the global state; None: ``n_agents * obs_dim`` (the concatenated observations).
        Required with ``state_fn``.
    hidden, activation : the agent network's hidden widths and activation ("relu" or "tanh")
    agent_id : bool
        Append the one-hot agent index to each agent's input (QMIX's default).
    embed : int
        Width of the mixing network's hidden layer (32 in QMIX).
    hyper_hidden : sequence of int
        Hidden ReLU layers of ``hyper_w1`` and ``hyper_w2``; ``()`` (default): single linear layers.
    lr, gamma : float
    buffer_size, batch_size, learning_starts, train_freq, gradient_steps, target_update : int
        As :class:`DQN`, with ``buffer_size`` and ``batch_size`` counted in joint transitions and
        ``target_update`` in gradient steps.
    eps_start, eps_end : float;  eps_decay_steps : int;  eps_decay_rate : float in (0, 1] or None
        :class:`DQN`'s epsilon schedule (QMIX: 1 to 0.05 linearly over 50,000 steps).
    double : bool (double-Q targets; QMIX's paper: False);  max_grad_norm : float
    state_fn : callable ``env -> (E, state_dim)`` or None (module docstring)
    hooks : Hooks (reward and params hooks only);  seed : int >= 0
    """

    algo = "qmix"

    def __init__(self, obs_dim, n_actions, n_agents, state_dim=None, *, hidden=(64,), activation="relu",
                 agent_id=True, embed=32, hyper_hidden=(), lr=5e-4, gamma=0.99, buffer_size=5_000,
                 batch_size=32, learning_starts=500, train_freq=1, gradient_steps=1, target_update=200,
                 eps_start=1.0, eps_end=0.05, eps_decay_steps=50_000, eps_decay_rate=None, double=False,
                 max_grad_norm=10.0, state_fn=None, hooks=None, seed=0):
        self.obs_dim, self.n_actions, self.n_agents, self.hidden, self.activation = check_network(
            obs_dim, n_actions, n_agents, hidden, activation)
        if state_fn is not None and not callable(state_fn):
            raise ValueError(f"state_fn must be a callable env -> (n_envs, state_dim) or None; got {state_fn!r}")
        self.state_fn = state_fn
        if state_fn is not None and state_dim is None:
            raise ValueError("state_dim must be given with state_fn (the width of state_fn(env))")
        if state_fn is None and state_dim is not None and state_dim != self.n_agents * self.obs_dim:
            raise ValueError(f"state_dim={state_dim} must be n_agents * obs_dim = {self.n_agents * self.obs_dim} "
                             "without state_fn (the default state is the concatenated observations)")
        self.state_dim = (self.n_agents * self.obs_dim if state_dim is None
                          else check_int("state_dim", state_dim, min=1))
        self.agent_id = bool(agent_id)
        self.embed = check_int("embed", embed, min=1)
        self.hyper_hidden = check_hidden("hyper_hidden", hyper_hidden)
        set_replay_settings(self, lr=lr, gamma=gamma, buffer_size=buffer_size, batch_size=batch_size,
                            learning_starts=learning_starts, train_freq=train_freq, gradient_steps=gradient_steps,
                            target_update=target_update, eps_start=eps_start, eps_end=eps_end,
                            eps_decay_steps=eps_decay_steps, eps_decay_rate=eps_decay_rate, double=double,
                            max_grad_norm=max_grad_norm, hooks=hooks, seed=seed)

        n, S, m = self.n_agents, self.state_dim, self.embed
        self.agent_net = MLP((self.obs_dim + (n if self.agent_id else 0), *self.hidden, self.n_actions),
                             self.activation)
        self.hyper_w1 = MLP((S, *self.hyper_hidden, n * m), "relu")
        self.hyper_b1 = MLP((S, m), "linear")
        self.hyper_w2 = MLP((S, *self.hyper_hidden, m), "relu")
        self.hyper_v = MLP((S, m, 1), "relu")
        nets = (self.agent_net, self.hyper_w1, self.hyper_b1, self.hyper_w2, self.hyper_v)
        offs = np.cumsum([0] + [net.n_params for net in nets])
        self._slices = [slice(int(a), int(b)) for a, b in zip(offs[:-1], offs[1:])]
        # one flat vector (agent network, then the mixer's four hypernetworks): one Adam state and
        # one gradient norm over everything, as PyMARL clips the agent and mixer parameters together
        rng = np.random.default_rng(self.seed)
        self.params = np.concatenate([net.init(rng) for net in nets])
        self.q_params = self.params[self._slices[0]][None]  # views: a params hook edits in place
        self.mixer_params = self.params[offs[1]:][None]
        self.target_params = self.params.copy()
        self.opt = Adam(self.params.shape, lr=self.lr)
        self._eye = np.eye(n)
        self.env_steps = 0
        self.grad_steps = 0
        self.iteration = 0

    @classmethod
    def for_env(cls, env, **kw):
        """For a batched environment (``state_dim`` must be given with a ``state_fn``)."""
        return cls(env.obs_dim, env.n_actions, env.n_agents, **kw)

    epsilon = DQN.epsilon

    # ------------------------------------------------------------------ networks
    def _agent_input(self, obs):
        """``(E, n, obs_dim) -> (E * n, obs_dim [+ n])`` float64, agent-major within a copy."""
        obs = np.asarray(obs, dtype=np.float64)
        E, n = obs.shape[:2]
        if self.agent_id:
            obs = np.concatenate([obs, np.broadcast_to(self._eye, (E, n, n))], axis=-1)
        return np.ascontiguousarray(obs.reshape(E * n, -1))

    def q_values(self, obs, params=None):
        """Agent values ``Q_a(o_a, .)`` for observations ``(E, n, obs_dim)`` -> ``(E, n, n_actions)``."""
        obs = np.asarray(obs)
        if obs.ndim != 3 or obs.shape[1:] != (self.n_agents, self.obs_dim):
            raise ValueError(f"obs must have shape (E, {self.n_agents}, {self.obs_dim}); got {obs.shape}")
        p = self.params if params is None else params
        q = self.agent_net.forward(p[self._slices[0]], self._agent_input(obs))
        return q.reshape(obs.shape[0], self.n_agents, self.n_actions)

    # epsilon-greedy on each agent's own Q_a, and greedy evaluation: DQN's (through q_values above)
    act = DQN.act
    evaluate = DQN.evaluate

    def mix(self, q, state, params=None, cache=False):
        """``Q_tot`` ``(B,)`` of agent values ``q`` ``(B, n)`` in global states ``state`` ``(B,
        state_dim)`` (module docstring; QMIX Sec. 4). With ``cache=True`` returns ``(Q_tot, cache)``
        for :meth:`mix_backward`."""
        p = self.params if params is None else params
        q = np.asarray(q, dtype=np.float64)
        s = np.ascontiguousarray(state, dtype=np.float64)
        B, n, m = q.shape[0], self.n_agents, self.embed
        if q.shape != (B, n) or s.shape != (B, self.state_dim):
            raise ValueError(f"q must have shape (B, {n}) and state (B, {self.state_dim}); got {q.shape}, {s.shape}")
        _, sw1, sb1, sw2, sv = self._slices
        pw1, cw1 = self.hyper_w1.forward_cache(p[sw1], s)
        b1, cb1 = self.hyper_b1.forward_cache(p[sb1], s)
        pw2, cw2 = self.hyper_w2.forward_cache(p[sw2], s)
        v, cv = self.hyper_v.forward_cache(p[sv], s)
        W1 = np.abs(pw1).reshape(B, n, m)  # non-negative mixing weights: monotonic in every q_a (Eq. 5)
        W2 = np.abs(pw2)
        z = np.matmul(q[:, None, :], W1)[:, 0] + b1
        h = _elu(z)
        qtot = np.einsum("bm,bm->b", h, W2) + v[:, 0]
        if not cache:
            return qtot
        return qtot, (p, q, pw1.copy(), pw2.copy(), W1, W2, z, h, cw1, cb1, cw2, cv)

    def mix_backward(self, cache, g, grad=None):
        """Backward pass of :meth:`mix`: given ``g = dL/dQ_tot`` ``(B,)``, accumulate ``dL/d mixer
        parameters`` into ``grad`` (the learner's flat layout, ``(P,)``; skipped if None) and return
        ``dL/dq`` ``(B, n)``."""
        p, q, pw1, pw2, W1, W2, z, h, cw1, cb1, cw2, cv = cache
        B, n, m = q.shape[0], self.n_agents, self.embed
        g = np.asarray(g, dtype=np.float64)
        dh = g[:, None] * W2
        dz = dh * np.where(z > 0.0, 1.0, h + 1.0)  # elu'(z) = exp(z) = elu(z) + 1 for z <= 0
        dq = np.matmul(W1, dz[:, :, None])[:, :, 0]
        if grad is not None:
            _, sw1, sb1, sw2, sv = self._slices
            dpw1 = (q[:, :, None] * dz[:, None, :]).reshape(B, n * m) * np.sign(pw1)  # d|x|/dx = sign(x)
            dpw2 = g[:, None] * h * np.sign(pw2)
            self.hyper_w1.backward(p[sw1], cw1, dpw1, grad=grad[sw1])
            self.hyper_b1.backward(p[sb1], cb1, dz, grad=grad[sb1])
            self.hyper_w2.backward(p[sw2], cw2, dpw2, grad=grad[sw2])
            self.hyper_v.backward(p[sv], cv, g[:, None], grad=grad[sv])
        return dq

    # ------------------------------------------------------------------ replay
    def _state(self, env, obs):
        if self.state_fn is None:
            return None
        s = np.asarray(self.state_fn(env), dtype=np.float32)
        if s.shape != (obs.shape[0], self.state_dim):
            raise ValueError(f"state_fn(env) must return shape ({obs.shape[0]}, {self.state_dim}); got {s.shape}")
        return s

    def _alloc_buffer(self, d=None, n=None):  # DQN's signature; the widths are the learner's
        C, n, d = self.buffer_size, self.n_agents, self.obs_dim
        self._b_obs = np.zeros((C, n, d), np.float32)
        self._b_next = np.zeros((C, n, d), np.float32)
        if self.state_fn is not None:
            self._b_state = np.zeros((C, self.state_dim), np.float32)
            self._b_state2 = np.zeros((C, self.state_dim), np.float32)
        self._b_act = np.zeros((C, n), np.int64)
        self._b_rew = np.zeros(C)
        self._b_done = np.zeros(C, np.bool_)
        self._b_pos = 0
        self._b_full = False

    def _store(self, o, s, a, r_tot, o2, s2, d):
        E, C = o.shape[0], self.buffer_size
        idx = (self._b_pos + np.arange(E)) % C
        self._b_obs[idx], self._b_act[idx], self._b_rew[idx] = o, a, r_tot
        self._b_next[idx], self._b_done[idx] = o2, d
        if self.state_fn is not None:
            self._b_state[idx], self._b_state2[idx] = s, s2
        if self._b_pos + E >= C:
            self._b_full = True
        self._b_pos = (self._b_pos + E) % C

    def _batch_states(self, idx):
        if self.state_fn is None:
            B = len(idx)
            return self._b_obs[idx].reshape(B, -1), self._b_next[idx].reshape(B, -1)
        return self._b_state[idx], self._b_state2[idx]

    # ------------------------------------------------------------------ learning
    def td_loss(self, idx, grad=None):
        """``1/(2B) sum_b (Q_tot(s, u) - y)^2`` over the stored joint transitions ``idx`` (module
        docstring, QMIX Eq. 6); its gradient w.r.t. all online parameters accumulates into ``grad``
        (``(P,)``, the layout of :attr:`params`) when given. The targets ``y`` are constants."""
        idx = np.asarray(idx)
        B, n, nA = len(idx), self.n_agents, self.n_actions
        O, O2 = self._b_obs[idx], self._b_next[idx]
        S, S2 = self._batch_states(idx)
        A, R, D = self._b_act[idx], self._b_rew[idx], self._b_done[idx]
        p, pt, sa = self.params, self.target_params, self._slices[0]
        X2 = self._agent_input(O2)
        qt2 = self.agent_net.forward(pt[sa], X2).reshape(B, n, nA)
        q_sel = self.agent_net.forward(p[sa], X2).reshape(B, n, nA) if self.double else qt2
        astar = q_sel.argmax(axis=-1)
        qt2a = np.take_along_axis(qt2, astar[..., None], -1)[..., 0]
        y = R + self.gamma * (~D) * self.mix(qt2a, S2, params=pt)
        q, cache = self.agent_net.forward_cache(p[sa], self._agent_input(O))
        q = q.reshape(B, n, nA)
        qa = np.take_along_axis(q, A[..., None], -1)[..., 0]
        qtot, mcache = self.mix(qa, S, cache=True)
        err = qtot - y
        if grad is not None:
            dqa = self.mix_backward(mcache, err / B, grad)
            dout = np.zeros((B, n, nA))
            np.put_along_axis(dout, A[..., None], dqa[..., None], -1)
            self.agent_net.backward(p[sa], cache, dout.reshape(B * n, nA), grad=grad[sa])
        return 0.5 * float(np.mean(err ** 2))

    def _learn(self, rng):
        size = self.buffer_size if self._b_full else self._b_pos
        idx = rng.integers(0, size, self.batch_size)
        grad = np.zeros((1, self.params.size))
        loss = self.td_loss(idx, grad[0])
        _clip_rows(grad, self.max_grad_norm)
        self.opt.step(self.params, grad[0])
        self.grad_steps += 1
        if self.grad_steps % self.target_update == 0:
            self.target_params[:] = self.params
        return loss

    # the loop is DQN's (one vector step, store, learn, log), with QMIX's joint buffer and states
    train = DQN.train

    def _train_start(self, env, obs):
        self._st = self._state(env, obs)

    def _remember(self, env, obs, a, r, obs2, d):
        st2 = self._state(env, obs2)
        self._store(obs, self._st, a, r.sum(axis=1), obs2, st2, d)  # team reward: the agents' sum
        self._st = st2

    def _hooked_params(self) -> dict:
        return {"q": self.q_params, "mixer": self.mixer_params}

    def _checked_params(self) -> tuple:
        return (("QMIX parameters", self.params),)
