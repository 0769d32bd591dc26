r"""MADDPG (Lowe et al., NeurIPS 2017): decentralised actors, one centralised critic per agent, for
discrete actions through the Gumbel-softmax relaxation.

Written from the paper's Algorithm 1 (its Appendix), with the discrete-action device the paper uses
in its experiments (the Gumbel-softmax estimator, Jang et al. 2017 / Maddison et al. 2017). Per agent
``i`` (one network each, never shared):

- actor ``mu_i(o_i)``: an MLP giving logits ``l_i`` over the ``A`` actions. The *relaxed* action is
  ``y_i = softmax((l_i + g) / tau_gs)`` with ``g`` i.i.d. standard Gumbel noise and temperature
  ``tau_gs``; the environment gets ``argmax y_i``, which is a sample from ``softmax(l_i)`` (the
  Gumbel-max trick), so acting is sampling the actor's categorical policy;
- critic ``Q_i(o_1..o_n, a_1..a_n)``: an MLP on the concatenation of every agent's observation and
  every agent's (relaxed) action vector (in agent order: ``[o_1, ..., o_n, y_1, ..., y_n]``), so it
  sees what the others saw and did;
- target actor ``mu'_i`` and target critic ``Q'_i``, soft updates ``theta' <- (1 - tau) theta' + tau
  theta`` after every gradient step (Algorithm 1's last line);
- one replay buffer of joint transitions ``(o, y, r, o', terminal)`` (``y`` the relaxed actions
  stored, as the acting step computed them; the environment executed their argmax).

One gradient step (every ``train_freq`` vector steps after ``learning_starts`` environment steps,
``gradient_steps`` of them; one minibatch of ``batch_size`` joint transitions drawn uniformly, shared
by the agents), for every agent ``i``:

1. critic: minimise ``0.5 mean (Q_i(o, y) - t_i)^2`` with ``t_i = r_i + gamma (1 - terminal)
   Q'_i(o', y'_1, ..., y'_n)``, the target actions ``y'_j`` the target actors' relaxed samples on
   ``o'_j`` (``target_actions="sample"``, default: the MADDPG code's choice, a fresh Gumbel draw) or
   their softmax ``softmax(l'_j / tau_gs)`` (``"softmax"``, no noise);
2. actor (after the critic step, with the updated critic, as the MADDPG code): minimise
   ``-mean Q_i(o, y_1, .., y_i = relaxed sample of mu_i(o_i), .., y_n) + logit_reg mean(l_i^2)``,
   the other agents' actions those stored in the buffer, agent ``i``'s a fresh relaxed sample. The
   gradient goes through the critic's input gradient ``dQ_i/dy_i`` and the Gumbel-softmax Jacobian
   ``dy/dl = (1/tau_gs) (diag(y) - y y^T)`` (the noise held fixed), then the actor's backward pass.
   ``logit_reg`` = 1e-3 is the MADDPG code's small penalty on the logits (0 switches it off);
3. each network's gradient (one row per agent) is clipped to L2 norm ``max_grad_norm`` (0.5, the
   MADDPG code's clipping value; it clips per weight tensor, we clip the agent's whole vector), then
   one Adam step (``actor_lr``, ``critic_lr``);
4. soft target updates for actor and critic.

Episode ends: a terminal state is not bootstrapped; an episode cut by the time limit is (its next
observation is the environment's ``final_obs``, the state where it was cut), as the MADDPG code does
with MPE's time limit. Rewards are each agent's own (``r_i``); with a shared team reward every critic
learns the same return.

Everything is seeded: the networks from ``seed`` (``numpy.random.default_rng``), the run from
:meth:`MADDPG.train`'s ``seed`` (one Generator for the Gumbel noise and the minibatch draws, the
environment's reset seed derived from it), so the same settings and seeds give the same numbers.
Hot loops are batched: each network's forward and backward pass over a whole minibatch is one call
of the numba MLP kernels (BLAS matrix products).
"""

from __future__ import annotations

import numpy as np

from ..experiments import check_choice, check_float, check_int
from ..nn.mlp import MLP, _forward_agents
from ..nn.optim import Adam, _clip_rows
from .actor_critic import evaluate
from .common import EpisodeTracker, TrainResult, check_hidden, check_network, warn_nonfinite_training

__all__ = ["MADDPG", "gumbel_softmax", "gumbel_softmax_vjp"]


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)


def gumbel_softmax(logits, gumbel, tau_gs):
    """The relaxed sample ``softmax((logits + gumbel) / tau_gs)`` along the last axis."""
    return _softmax((np.asarray(logits, dtype=np.float64) + gumbel) / tau_gs)


def gumbel_softmax_vjp(y, v, tau_gs):
    """``J^T v`` for the Jacobian ``J = dy/dlogits = (1/tau_gs) (diag(y) - y y^T)`` of
    :func:`gumbel_softmax` (symmetric, so also ``J v``), along the last axis."""
    return y * (v - (y * v).sum(axis=-1, keepdims=True)) / tau_gs


class MADDPG:
    """Multi-agent deep deterministic policy gradient with discrete actions (module docstring).

    Parameters
    ----------
    obs_dim, n_actions, n_agents : int
        ``n_agents >= 1`` (with one agent it is DDPG with a Gumbel-softmax actor).
    hidden, critic_hidden : sequences of layer widths (``critic_hidden=None``: the same as ``hidden``)
    activation : "relu" or "tanh" (hidden units; outputs linear)
    actor_lr, critic_lr : float > 0 (Adam steps);  gamma : float in [0, 1]
    tau : float in (0, 1] (soft target update);  tau_gs : float > 0 (Gumbel-softmax temperature)
    buffer_size, batch_size, learning_starts, train_freq, gradient_steps : int
    max_grad_norm : float > 0;  logit_reg : float >= 0
    target_actions : "sample" (target actors' relaxed samples) or "softmax"
    seed : int >= 0 (network initialisation)
    """

    algo = "maddpg"

    def __init__(self, obs_dim, n_actions, n_agents, *, hidden=(64, 64), critic_hidden=None, activation="relu",
                 actor_lr=1e-3, critic_lr=1e-3, gamma=0.95, tau=0.01, tau_gs=1.0, buffer_size=500_000,
                 batch_size=64, learning_starts=1000, train_freq=1, gradient_steps=1, max_grad_norm=0.5,
                 logit_reg=1e-3, target_actions="sample", seed=0):
        self.obs_dim, self.n_actions, self.n_agents, self.hidden, self.activation = check_network(
            obs_dim, n_actions, n_agents, hidden, activation)
        self.critic_hidden = self.hidden if critic_hidden is None else check_hidden("critic_hidden", critic_hidden)
        self.actor_lr = check_float("actor_lr", actor_lr, min=0, min_inclusive=False)
        self.critic_lr = check_float("critic_lr", critic_lr, min=0, min_inclusive=False)
        self.gamma = check_float("gamma", gamma, min=0, max=1)
        self.tau = check_float("tau", tau, min=0, max=1, min_inclusive=False)
        self.tau_gs = check_float("tau_gs", tau_gs, min=0, min_inclusive=False)
        self.buffer_size = check_int("buffer_size", buffer_size, min=1)
        self.batch_size = check_int("batch_size", batch_size, min=1)
        if self.batch_size > self.buffer_size:
            raise ValueError(f"batch_size={self.batch_size} must be <= buffer_size={self.buffer_size} "
                             "(a minibatch is drawn from the replay buffer)")
        self.learning_starts = check_int("learning_starts", learning_starts, min=0)
        self.train_freq = check_int("train_freq", train_freq, min=1)
        self.gradient_steps = check_int("gradient_steps", gradient_steps, min=1)
        self.max_grad_norm = check_float("max_grad_norm", max_grad_norm, min=0, min_inclusive=False)
        self.logit_reg = check_float("logit_reg", logit_reg, min=0)
        self.target_actions = check_choice("target_actions", target_actions, ("sample", "softmax"))
        self.seed = check_int("seed", seed, min=0)
        n, d, A = self.n_agents, self.obs_dim, self.n_actions
        self.critic_in = n * d + n * A
        self.actor = MLP((d, *self.hidden, A), self.activation)
        self.critic = MLP((self.critic_in, *self.critic_hidden, 1), self.activation)
        rng = np.random.default_rng(self.seed)
        self.actor_params = self.actor.init(rng, n=n, out_gain=0.01)
        self.critic_params = self.critic.init(rng, n=n, out_gain=1.0)
        self.actor_target = self.actor_params.copy()
        self.critic_target = self.critic_params.copy()
        self.actor_opt = Adam(self.actor_params.shape, lr=self.actor_lr)
        self.critic_opt = Adam(self.critic_params.shape, lr=self.critic_lr)
        self.env_steps = 0
        self.grad_steps = 0

    for_env = classmethod(lambda cls, env, **kw: cls(env.obs_dim, env.n_actions, env.n_agents, **kw))

    # -- acting ----------------------------------------------------------------------------------------
    def _check_obs(self, obs):
        obs = np.asarray(obs, dtype=np.float64)
        if obs.ndim != 3 or obs.shape[1:] != (self.n_agents, self.obs_dim):
            raise ValueError(f"obs must have shape (B, {self.n_agents}, {self.obs_dim}); got {obs.shape}")
        return obs

    def logits(self, obs, target=False):
        """Every actor's logits on its own observations: ``(B, n, obs_dim) -> (B, n, n_actions)``."""
        obs = self._check_obs(obs)
        P = self.actor_target if target else self.actor_params
        return _forward_agents(P, self.actor._sizes, self.actor._act, obs, False)

    def act(self, obs, rng=None, greedy=False):
        """``(actions (B, n), relaxed actions (B, n, A), logits)``: the argmax of a Gumbel-softmax sample
        (a draw from ``softmax(logits)``), or with ``greedy`` the argmax of the logits (relaxed actions
        then ``softmax(logits / tau_gs)``)."""
        z = self.logits(obs)
        if greedy:
            return z.argmax(axis=-1), _softmax(z / self.tau_gs), z
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        y = gumbel_softmax(z, rng.gumbel(size=z.shape), self.tau_gs)
        return y.argmax(axis=-1), y, z

    def evaluate(self, env, n_episodes=10, seed=0, greedy=True):
        """Mean environment return per agent over ``n_episodes`` episodes (summed over copies)."""
        return evaluate(self, env, n_episodes, seed, greedy)

    # -- critic ----------------------------------------------------------------------------------------
    def critic_input(self, obs, actions):
        """``[o_1, ..., o_n, y_1, ..., y_n]`` ``(B, n obs_dim + n A)`` from ``obs (B, n, d)`` and
        ``actions (B, n, A)`` (relaxed or one-hot)."""
        obs = self._check_obs(obs)
        y = np.asarray(actions, dtype=np.float64)
        if y.shape != (obs.shape[0], self.n_agents, self.n_actions):
            raise ValueError(f"actions must have shape ({obs.shape[0]}, {self.n_agents}, {self.n_actions}); "
                             f"got {y.shape}")
        B = obs.shape[0]
        return np.ascontiguousarray(np.concatenate([obs.reshape(B, -1), y.reshape(B, -1)], axis=1))

    def q(self, obs, actions, target=False):
        """Every agent's critic ``Q_i(o, y)``: ``(B, n)``."""
        X = self.critic_input(obs, actions)
        P = self.critic_target if target else self.critic_params
        return np.stack([self.critic.forward(P[i], X)[:, 0] for i in range(self.n_agents)], axis=1)

    def _act_slot(self, i):
        o = self.n_agents * self.obs_dim + i * self.n_actions
        return slice(o, o + self.n_actions)

    # -- gradients (also used by the tests) -------------------------------------------------------------
    def critic_grad(self, O, Y, R, O2, D, rng=None, gumbel2=None):
        """The critics' loss on a minibatch, averaged over the agents (``sum_i 0.5 mean (Q_i - t_i)^2 / n``),
        and the gradient ``(n, P_critic)`` whose row ``i`` is that of agent ``i``'s own loss, on a minibatch
        (``O, O2 (B, n, d)``, ``Y (B, n, A)``, ``R (B, n)``, ``D (B,)`` terminal flags). ``gumbel2``
        ``(B, n, A)``: the target actions' noise (drawn from ``rng`` if None and needed)."""
        B, n = O.shape[0], self.n_agents
        z2 = self.logits(O2, target=True)
        if self.target_actions == "sample":
            if gumbel2 is None:
                gumbel2 = rng.gumbel(size=z2.shape)
            Y2 = gumbel_softmax(z2, gumbel2, self.tau_gs)
        else:
            Y2 = _softmax(z2 / self.tau_gs)
        X = self.critic_input(O, Y)
        X2 = self.critic_input(O2, Y2)
        notdone = 1.0 - np.asarray(D, dtype=np.float64)
        grad = np.zeros_like(self.critic_params)
        loss = 0.0
        for i in range(n):
            q2 = self.critic.forward(self.critic_target[i], X2)[:, 0]
            t = R[:, i] + self.gamma * notdone * q2
            q, cache = self.critic.forward_cache(self.critic_params[i], X)
            u = q[:, 0] - t
            loss += 0.5 * float(np.mean(u * u)) / n
            self.critic.backward(self.critic_params[i], cache, (u / B)[:, None], grad=grad[i])
        return loss, grad

    def actor_grad(self, O, Y, rng=None, gumbel=None):
        """The actors' loss averaged over the agents, ``sum_i (-mean Q_i + logit_reg mean l_i^2) / n``, and
        the gradient ``(n, P_actor)`` whose row ``i`` is that of agent ``i``'s own loss:
        agent ``i``'s action replaced by its relaxed sample with noise ``gumbel[:, i]`` (``(B, n, A)``,
        drawn from ``rng`` if None), the others' from ``Y``."""
        B, n, A = O.shape[0], self.n_agents, self.n_actions
        if gumbel is None:
            gumbel = rng.gumbel(size=(B, n, A))
        X = self.critic_input(O, Y)
        grad = np.zeros_like(self.actor_params)
        scratch = np.zeros(self.critic.n_params)
        loss = 0.0
        for i in range(n):
            z, acache = self.actor.forward_cache(self.actor_params[i], np.ascontiguousarray(O[:, i]))
            y = gumbel_softmax(z, gumbel[:, i], self.tau_gs)
            Xi = X.copy()
            Xi[:, self._act_slot(i)] = y
            q, ccache = self.critic.forward_cache(self.critic_params[i], Xi)
            _, dx = self.critic.backward(self.critic_params[i], ccache, np.ones((B, 1)), grad=scratch,
                                         need_dx=True)
            dL_dy = -dx[:, self._act_slot(i)] / B
            dz = gumbel_softmax_vjp(y, dL_dy, self.tau_gs) + (2.0 * self.logit_reg / (B * A)) * z
            loss += (-float(np.mean(q)) + self.logit_reg * float(np.mean(z * z))) / n
            self.actor.backward(self.actor_params[i], acache, dz, grad=grad[i])
        return loss, grad

    def soft_update_targets(self):
        """``target <- (1 - tau) target + tau online`` for actors and critics."""
        self.actor_target += self.tau * (self.actor_params - self.actor_target)
        self.critic_target += self.tau * (self.critic_params - self.critic_target)

    # -- replay -----------------------------------------------------------------------------------------
    def _alloc_buffer(self):
        C, n, d, A = self.buffer_size, self.n_agents, self.obs_dim, self.n_actions
        self._b_obs = np.zeros((C, n, d), np.float32)
        self._b_next = np.zeros((C, n, d), np.float32)
        self._b_act = np.zeros((C, n, A), np.float32)
        self._b_rew = np.zeros((C, n))
        self._b_done = np.zeros(C, np.bool_)
        self._b_pos = 0
        self._b_full = False

    def _store(self, o, y, r, o2, d):
        E = o.shape[0]
        C = self.buffer_size
        idx = (self._b_pos + np.arange(E)) % C
        self._b_obs[idx], self._b_act[idx], self._b_rew[idx] = o, y, r
        self._b_next[idx], self._b_done[idx] = o2, d
        if self._b_pos + E >= C:
            self._b_full = True
        self._b_pos = (self._b_pos + E) % C

    def _learn(self, rng):
        size = self.buffer_size if self._b_full else self._b_pos
        idx = rng.integers(0, size, self.batch_size)
        O = self._b_obs[idx].astype(np.float64)
        Y = self._b_act[idx].astype(np.float64)
        R, O2, D = self._b_rew[idx], self._b_next[idx].astype(np.float64), self._b_done[idx]
        closs, cgrad = self.critic_grad(O, Y, R, O2, D, rng)
        cnorm = _clip_rows(cgrad, self.max_grad_norm)
        self.critic_opt.step(self.critic_params, cgrad)
        aloss, agrad = self.actor_grad(O, Y, rng)
        anorm = _clip_rows(agrad, self.max_grad_norm)
        self.actor_opt.step(self.actor_params, agrad)
        self.soft_update_targets()
        self.grad_steps += 1
        return closs, aloss, float(np.max(cnorm)), float(np.max(anorm))

    # -- training ---------------------------------------------------------------------------------------
    def train(self, env, total_steps, seed=0, progress=False, log_every=None, callback=None):
        """Train for ``total_steps`` environment steps (summed over copies).

        The learning curve has one point per ``log_every`` vector steps (default: about 100 points):
        a :class:`TrainResult` of the environment's returns, with ``stats`` ``critic_loss``,
        ``actor_loss`` (NaN in windows without a gradient step). ``seed``: any integer >= 0. If a loss,
        the returns or the parameters become non-finite, a :class:`sharelib.diagnostics.NonFiniteWarning`
        names the first environment step where they did.
        """
        seed = check_int("seed", seed, min=0)
        if log_every is not None:
            log_every = check_int("log_every", log_every, min=1)
        if (env.obs_dim, env.n_actions, env.n_agents) != (self.obs_dim, self.n_actions, self.n_agents):
            raise ValueError(
                f"env has (obs_dim, n_actions, n_agents) = {(env.obs_dim, env.n_actions, env.n_agents)} but the "
                f"learner was built for {(self.obs_dim, self.n_actions, self.n_agents)}")
        total_steps = check_int("total_steps", total_steps, min=1)
        ss = np.random.SeedSequence(seed)
        rng = np.random.default_rng(ss)
        obs = env.reset(int(ss.generate_state(1)[0] % (2**31)))
        E, n = env.n_envs, self.n_agents
        if not hasattr(self, "_b_obs"):
            self._alloc_buffer()
        n_vec = -(-total_steps // E)
        log_every = log_every or max(1, n_vec // 100)
        K = -(-n_vec // log_every)
        steps, rets, eps = np.zeros(K, np.int64), np.full((K, n), np.nan), np.zeros(K, np.int64)
        closs, aloss = np.full(K, np.nan), np.full(K, np.nan)
        learned = np.zeros(K, np.bool_)
        tracker = EpisodeTracker(E, n)
        acc_c = acc_a = 0.0
        n_loss = 0
        it = range(n_vec)
        if progress:
            from tqdm.auto import tqdm
            it = tqdm(it, desc=type(self).__name__, leave=False)
        for s in it:
            a, y, _ = self.act(obs, rng)
            obs2, r, d = env.step(a)
            tracker.add(r, d)
            nxt = obs2
            if d.any():  # the state where the episode ended, not the next episode's first one
                nxt = np.where(d[:, None, None], env.final_obs, obs2)
            self._store(obs, y, r, nxt, d & ~env.truncated)
            obs = obs2
            self.env_steps += E
            if self.env_steps >= self.learning_starts and s % self.train_freq == 0:
                for _ in range(self.gradient_steps):
                    c, ac, _, _ = self._learn(rng)
                    acc_c += c
                    acc_a += ac
                    n_loss += 1
            if (s + 1) % log_every == 0 or s == n_vec - 1:
                k = s // log_every
                steps[k] = self.env_steps
                rets[k], eps[k] = tracker.pop()
                if n_loss:
                    closs[k], aloss[k] = acc_c / n_loss, acc_a / n_loss
                learned[k] = n_loss > 0
                acc_c = acc_a = 0.0
                n_loss = 0
                if callback is not None:
                    callback(self, k, TrainResult(steps[:k + 1], rets[:k + 1], eps[:k + 1]))
        res = TrainResult(steps, rets, eps, {"critic_loss": closs, "actor_loss": aloss})
        checked = TrainResult(steps, rets, eps, {"critic_loss": np.where(learned, closs, 0.0),
                                                 "actor_loss": np.where(learned, aloss, 0.0)})
        warn_nonfinite_training(self, checked, params=(("actor parameters", self.actor_params),
                                                       ("critic parameters", self.critic_params)))
        return res
