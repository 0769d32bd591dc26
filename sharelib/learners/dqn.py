r"""Deep Q-learning (Mnih et al. 2015) for many independent agents, with optional double Q.

Per network (one per agent, or one shared), an MLP ``Q_theta(o, .)`` over the discrete actions,
a target copy ``Q_theta-`` and an Adam optimiser.  Per environment step of all ``E`` copies:

1. actions are epsilon-greedy in ``Q_theta``, with ``epsilon`` decaying linearly from
   ``eps_start`` to ``eps_end`` over ``eps_decay_steps`` environment steps (summed over copies),
   or, with ``eps_decay_rate`` set, geometrically in rounds of ``eps_decay_steps`` steps:
   ``max(eps_end, eps_start * eps_decay_rate ** round)`` (the CoLight/LToS traffic code's
   ``0.4 * 0.9^round``, floor 0.05);
2. ``r <- hooks.reward(r)`` (called with a one-step rollout, ``T = 1``), and the ``E``
   transitions ``(o, a, r', o', done)`` of every agent go into a ring replay buffer of
   ``buffer_size`` transitions;
3. after ``learning_starts`` steps, every ``train_freq`` vector steps, ``gradient_steps`` Adam
   steps on the Huber TD loss over a uniformly drawn minibatch of ``batch_size``:
   ``y = r' + gamma (1 - done) Q_theta-(o', argmax_a Q_theta(o', a))`` (double DQN, van Hasselt
   et al. 2016) or ``y = r' + gamma (1 - done) max_a Q_theta-(o', a)`` (``double=False``);
4. ``hooks.params({"q": ...})`` after every gradient step;  the target network is copied from
   the online one every ``target_update`` gradient steps.

Every agent learns from its own column of the stored rewards; the minibatch indices are shared
across agents (same transitions, different rewards and observations).  Episode ends (terminal or
time limit) are not bootstrapped.  The advantage and loss-term hooks do not apply to DQN.
"""

from __future__ import annotations

import numba
import numpy as np

from ..experiments import check_float, check_int
from ..nn.heads import huber_loss
from ..nn.mlp import MLP, _backward, _forward, _forward_agents
from ..nn.optim import Adam, _clip_rows
from .actor_critic import evaluate
from .common import EpisodeTracker, TrainResult, check_network, set_replay_settings, warn_nonfinite_training
from .hooks import HookContext, Rollout

__all__ = ["DQN"]


@numba.njit(cache=True)
def _dqn_grad(p, pt, sizes, act, X, A, R, X2, D, gamma, double, delta, grad):
    """Huber TD loss and its gradient (into ``grad``, zeroed here) on one minibatch."""
    B = X.shape[0]
    W = np.sum(sizes)
    c = np.empty(B * W)
    c2 = np.empty(B * W)
    qt = _forward(pt, sizes, act, X2, c2).copy()
    nA = qt.shape[1]
    astar = np.empty(B, np.int64)
    if double:
        qo = _forward(p, sizes, act, X2, c)
        for b in range(B):
            astar[b] = np.argmax(qo[b])
    else:
        for b in range(B):
            astar[b] = np.argmax(qt[b])
    y = np.empty(B)
    for b in range(B):
        y[b] = R[b] + (0.0 if D[b] else gamma * qt[b, astar[b]])
    q = _forward(p, sizes, act, X, c)
    qa = np.empty(B)
    for b in range(B):
        qa[b] = q[b, A[b]]
    loss, dq = huber_loss(qa, y, delta)
    dout = np.zeros((B, nA))
    for b in range(B):
        dout[b, A[b]] = dq[b]
    grad[:] = 0.0
    _backward(p, sizes, act, c, dout, grad, np.empty((0, sizes[0])))
    return loss


class DQN:
    """Multi-agent DQN (module docstring).

    Parameters
    ----------
    obs_dim, n_actions, n_agents : int
    hidden, activation : network shape ("relu" or "tanh" hidden units)
    lr, gamma : float
    buffer_size, batch_size, learning_starts, train_freq, gradient_steps, target_update : int
        ``batch_size <= buffer_size`` (minibatches are drawn with replacement from the stored
        transitions); ``learning_starts`` may be below ``batch_size`` or above ``buffer_size``.
    eps_start, eps_end : float;  eps_decay_steps : int;  eps_decay_rate : float in (0, 1] or None
    double : bool (double-Q targets);  huber_delta, max_grad_norm : float
    share_params : bool;  hooks : Hooks (reward and params hooks only);  seed : int >= 0
    hidden : sequence of layer widths (a bare int is refused: write ``(64,)`` or ``(64, 64)``)
    """

    algo = "dqn"

    def __init__(self, obs_dim, n_actions, n_agents=1, *, hidden=(64, 64), activation="relu",
                 lr=1e-3, gamma=0.99, buffer_size=10_000, batch_size=64, learning_starts=500,
                 train_freq=1, gradient_steps=1, target_update=100, eps_start=1.0, eps_end=0.05,
                 eps_decay_steps=5_000, eps_decay_rate=None, double=True, huber_delta=1.0, max_grad_norm=10.0,
                 share_params=False, hooks=None, seed=0):
        self.obs_dim, self.n_actions, self.n_agents, self.hidden, self.activation = check_network(
            obs_dim, n_actions, n_agents, hidden, activation)
        set_replay_settings(self, lr=lr, gamma=gamma, buffer_size=buffer_size, batch_size=batch_size,
                            learning_starts=learning_starts, train_freq=train_freq, gradient_steps=gradient_steps,
                            target_update=target_update, eps_start=eps_start, eps_end=eps_end,
                            eps_decay_steps=eps_decay_steps, eps_decay_rate=eps_decay_rate, double=double,
                            max_grad_norm=max_grad_norm, hooks=hooks, seed=seed)
        self.huber_delta = check_float("huber_delta", huber_delta, min=0, min_inclusive=False)
        self.share_params = bool(share_params)
        self.q_net = MLP((self.obs_dim, *self.hidden, self.n_actions), activation)
        m = 1 if self.share_params else self.n_agents
        self.q_params = self.q_net.init(np.random.default_rng(self.seed), n=m)
        self.target_params = self.q_params.copy()
        self.opt = Adam(self.q_params.shape, lr=self.lr)
        self.env_steps = 0
        self.grad_steps = 0
        self.iteration = 0

    for_env = classmethod(lambda cls, env, **kw: cls(env.obs_dim, env.n_actions, env.n_agents, **kw))

    def epsilon(self, env_steps=None):
        s = self.env_steps if env_steps is None else env_steps
        if self.eps_decay_rate is not None:
            return max(self.eps_end, self.eps_start * self.eps_decay_rate ** (s // self.eps_decay_steps))
        f = min(1.0, s / self.eps_decay_steps)
        return self.eps_start + f * (self.eps_end - self.eps_start)

    def q_values(self, obs):
        """``Q(o, .)`` for observations ``(E, n, obs_dim)`` -> ``(E, n, n_actions)``."""
        return _forward_agents(self.q_params, self.q_net._sizes, self.q_net._act, np.asarray(obs), self.share_params)

    def act(self, obs, rng=None, greedy=False, epsilon=None):
        """Epsilon-greedy actions ``(E, n)`` (returned as a 1-tuple-compatible ``(actions, None, None)``)."""
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        q = self.q_values(obs)
        a = q.argmax(axis=-1)
        if not greedy:
            eps = self.epsilon() if epsilon is None else epsilon
            explore = rng.random(a.shape) < eps
            a = np.where(explore, rng.integers(0, self.n_actions, a.shape), a)
        return a, None, None

    def evaluate(self, env, n_episodes=10, seed=0, greedy=True):
        return evaluate(self, env, n_episodes, seed, greedy)

    def _alloc_buffer(self, d, n):
        C = self.buffer_size
        self._b_obs = np.zeros((C, n, d), np.float32)
        self._b_next = np.zeros((C, n, d), np.float32)
        self._b_act = np.zeros((C, n), np.int64)
        self._b_rew = np.zeros((C, n))
        self._b_done = np.zeros(C, np.bool_)
        self._b_pos = 0
        self._b_full = False

    def _store(self, o, a, r, o2, d):
        E = o.shape[0]
        C = self.buffer_size
        idx = (self._b_pos + np.arange(E)) % C
        self._b_obs[idx], self._b_act[idx], self._b_rew[idx] = o, a, r
        self._b_next[idx], self._b_done[idx] = o2, d
        if self._b_pos + E >= C:
            self._b_full = True
        self._b_pos = (self._b_pos + E) % C

    def _learn(self, rng):
        size = self.buffer_size if self._b_full else self._b_pos
        idx = rng.integers(0, size, self.batch_size)
        n, d = self.n_agents, self.obs_dim
        O, O2 = self._b_obs[idx], self._b_next[idx]
        Aa, Rr, Dd = self._b_act[idx], self._b_rew[idx], self._b_done[idx]
        grad = np.zeros_like(self.q_params)
        loss = 0.0
        if self.share_params:
            X = np.ascontiguousarray(O.transpose(1, 0, 2).reshape(-1, d), dtype=np.float64)
            X2 = np.ascontiguousarray(O2.transpose(1, 0, 2).reshape(-1, d), dtype=np.float64)
            loss = _dqn_grad(self.q_params[0], self.target_params[0], self.q_net._sizes, self.q_net._act,
                             X, Aa.T.reshape(-1).copy(), Rr.T.reshape(-1).copy(), X2, np.tile(Dd, n),
                             self.gamma, self.double, self.huber_delta, grad[0])
        else:
            for i in range(n):
                loss += _dqn_grad(self.q_params[i], self.target_params[i], self.q_net._sizes,
                                  self.q_net._act, np.ascontiguousarray(O[:, i], dtype=np.float64),
                                  Aa[:, i].copy(), Rr[:, i].copy(),
                                  np.ascontiguousarray(O2[:, i], dtype=np.float64), Dd,
                                  self.gamma, self.double, self.huber_delta, grad[i]) / n
        _clip_rows(grad, self.max_grad_norm)
        self.opt.step(self.q_params, grad)
        self.grad_steps += 1
        if self.grad_steps % self.target_update == 0:
            self.target_params[:] = self.q_params
        return loss

    def train(self, env, total_steps, seed=0, progress=False, log_every=None, callback=None):
        """Train for ``total_steps`` environment steps (summed over copies).

        The learning curve has one point per ``log_every`` vector steps (default: about 100
        points).  Returns a :class:`TrainResult` (returns before hooks).  ``seed``: any integer
        >= 0.  If the TD loss, returns or parameters become non-finite, a
        :class:`sharelib.diagnostics.NonFiniteWarning` names the first environment step where they did.
        """
        seed = check_int("seed", seed, min=0)
        if log_every is not None:
            log_every = check_int("log_every", log_every, min=1)
        if (env.obs_dim, env.n_actions, env.n_agents) != (self.obs_dim, self.n_actions, self.n_agents):
            raise ValueError("env does not match the learner's (obs_dim, n_actions, n_agents)")
        total_steps = check_int("total_steps", total_steps, min=1)
        ss = np.random.SeedSequence(seed)
        rng = np.random.default_rng(ss)
        obs = env.reset(int(ss.generate_state(1)[0] % (2**31)))
        E, n = env.n_envs, self.n_agents
        if not hasattr(self, "_b_obs"):
            self._alloc_buffer(self.obs_dim, n)
        self._train_start(env, obs)
        n_vec = -(-total_steps // E)
        log_every = log_every or max(1, n_vec // 100)
        K = -(-n_vec // log_every)
        steps, rets, eps = np.zeros(K, np.int64), np.full((K, n), np.nan), np.zeros(K, np.int64)
        losses = np.full(K, np.nan)
        learned = np.zeros(K, np.bool_)  # whether losses[k] comes from any gradient step
        epsilons = np.zeros(K)
        tracker = EpisodeTracker(E, n)
        acc_loss, n_loss = 0.0, 0
        it = range(n_vec)
        if progress:
            from tqdm.auto import tqdm
            it = tqdm(it, desc=type(self).__name__, leave=False)
        zeros_v = np.zeros((2, E, n))
        zeros_lp = np.zeros((1, E, n))
        for s in it:
            a = self.act(obs, rng)[0]
            obs2, r, d = env.step(a)
            tracker.add(r, d)
            r_store = r
            if self.hooks.reward is not None:
                ro = Rollout(obs[None], a[None], r[None], d[None], zeros_v, zeros_lp, obs2)
                ctx = HookContext(self, self.iteration, self.env_steps, ro)
                r_store = np.asarray(self.hooks.reward(r[None], ctx), dtype=np.float64)[0]
            self._remember(env, obs, a, r_store, obs2, d)
            obs = obs2
            self.env_steps += E
            if self.env_steps >= self.learning_starts and s % self.train_freq == 0:
                for _ in range(self.gradient_steps):
                    acc_loss += self._learn(rng)
                    n_loss += 1
                    if self.hooks.params is not None:
                        ro = Rollout(obs[None], a[None], r[None], d[None], zeros_v, zeros_lp, obs2)
                        ctx = HookContext(self, self.iteration, self.env_steps, ro)
                        self.hooks.params(self._hooked_params(), ctx)
                    self.iteration += 1
            if (s + 1) % log_every == 0 or s == n_vec - 1:
                k = s // log_every
                steps[k] = self.env_steps
                rets[k], eps[k] = tracker.pop()
                losses[k] = acc_loss / n_loss if n_loss else np.nan
                learned[k] = n_loss > 0
                epsilons[k] = self.epsilon()
                acc_loss, n_loss = 0.0, 0
                if callback is not None:
                    callback(self, k, TrainResult(steps[:k + 1], rets[:k + 1], eps[:k + 1]))
        res = TrainResult(steps, rets, eps, {"td_loss": losses, "epsilon": epsilons})
        checked = TrainResult(steps, rets, eps, {"td_loss": np.where(learned, losses, 0.0)})
        warn_nonfinite_training(self, checked, params=self._checked_params())
        return res

    # -- what a learner with another buffer or network changes in the loop of train (QMIX) --------
    def _train_start(self, env, obs):
        """Called after the environment's reset in :meth:`train`."""

    def _remember(self, env, obs, a, r, obs2, d):
        """Store the ``E`` transitions of one vector step (rewards after the reward hook)."""
        self._store(obs, a, r, obs2, d)

    def _hooked_params(self) -> dict:
        """What the params hook receives (views: it may edit them in place)."""
        return {"q": self.q_params}

    def _checked_params(self) -> tuple:
        """``(name, array)`` pairs checked for non-finite values after training."""
        return (("Q parameters", self.q_params),)
