r"""LToS's learned reward sharing (Yi et al. 2022, Eqs. 2-6) on a PPO low level.

The comparison of all mechanisms (:mod:`sharelib.comparison`) trains everyone on one PPO
backbone; LToS's own low level is a DQN (:class:`sharelib.sharing.ltos.LToS`). This is the
adaptation, stated in ``notebooks/compare/01_mechanisms.ipynb``:

- **Sharing (Eq. 2)** on the complete graph: agent ``i`` gives ``w_ij`` of its reward to ``j``
  (``w_i^out`` on the simplex, itself in slot 0) and learns from ``r_i^w = sum_j w_ji r_j``
  (:func:`sharelib.sharing.ltos.share_rewards`), through the learning core's reward hook.
- **Low level** ``pi_i(a_i | o_i, w_i^in)``: PPO on the observation with the incoming weights
  appended (as LToS's Q-network sees them). The environment's own rewards reach the episode
  tracker, so earnings are what the environment paid.
- **High level** ``phi_i(w_i^out | o_i)``: a deterministic simplex policy
  (:class:`sharelib.learners.SimplexDPG`'s actor, initial selfishness ``w_ii = 0.8`` as in LToS's
  code). Its critic is the low level's: with PPO's state value ``V_i(o_i, w_i^in)`` in place of
  Prop. 4.1's ``max_a Q_i``, Eq. 6's first-order update moves ``w_j^out[i]`` along
  ``d V_i / d w_i^in[j]`` summed over the receivers ``i``. One high-level step per PPO iteration
  (LToS alternates one per 5 DQN gradient steps; a PPO iteration is K epochs over one rollout),
  on ``high_batch`` states drawn from that rollout.

Opting out (the comparison's Sharer's Dilemma): a defector keeps all of its reward
(``w_dd = 1``), gives and receives nothing, and its value does not enter the sharers' objective;
the sharers' weights on defectors are masked out and renormalised, and the gradient goes through
that renormalisation (:meth:`LToSPPO.high_gradient`, tested against finite differences).
"""

from __future__ import annotations

import numpy as np

from ..experiments import check_bool, check_float, check_int
from ..learners import PPO, Hooks, SimplexDPG
from .ltos import _outgoing_grad, complete_graph, incoming_weights, share_rewards

__all__ = ["LToSPPO"]


class _Sharing:
    """``env`` as LToS's low level sees it: observations ``[o_i, w_i^in]``, the environment's own
    rewards (the reward hook shapes them for learning). ``record``: keep ``(o, w^out)`` of every
    step for the reward hook and the high level (training), or not (evaluation)."""

    def __init__(self, env, owner: "LToSPPO", record: bool):
        self.env, self.owner, self.record = env, owner, record
        self.n_envs, self.n_agents, self.n_actions = env.n_envs, env.n_agents, env.n_actions
        self.obs_dim, self.max_steps = env.obs_dim + owner.k, env.max_steps

    def _augment(self, obs):
        self._o = np.asarray(obs, dtype=np.float64)
        self._w = self.owner.weights(self._o, explore=self.record)
        w_in = incoming_weights(self._w, complete_graph(self.n_envs, self.n_agents))
        return np.concatenate([obs, w_in.astype(np.asarray(obs).dtype)], axis=-1)

    def reset(self, seed=0):
        return self._augment(self.env.reset(seed))

    def step(self, actions):
        if self.record:
            self.owner._O.append(self._o)
            self.owner._W.append(self._w)
        obs, r, d = self.env.step(actions)
        return self._augment(obs), r, d


class LToSPPO:
    """LToS sharing on PPO (module docstring).

    Parameters
    ----------
    env : a batched environment (everyone is everyone's neighbour)
    sharers : bool array (n,), optional
        Who takes part; the others opt out (module docstring). Default: everyone.
    initial_selfishness : float in (0, 1)
        ``w_ii`` at the start (0.8, LToS's ``INITIAL_OWN_W_OUT_RATIO``).
    learn_weights : bool
        False: fixed LToS (the initial weights throughout).
    high_lr, high_batch, w_noise, high_hidden
        The high level's Adam rate, states per step, logit noise while training, hidden widths.
    ppo_kw : dict
        Keywords of the low level's :class:`sharelib.learners.PPO` (its ``seed`` included).
    seed : int >= 0
        The high level's initialisation and sampling.
    """

    def __init__(self, env, *, sharers=None, initial_selfishness=0.8, learn_weights=True, high_lr=1e-3,
                 high_batch=256, w_noise=0.3, high_hidden=(32,), ppo_kw=None, seed=0):
        n = env.n_agents
        self.k = check_int("n_agents", n, min=2)
        self.sharers = np.ones(n, bool) if sharers is None else np.asarray(sharers, bool)
        if self.sharers.shape != (n,):
            raise ValueError(f"sharers must be a bool array of shape ({n},); got {self.sharers.shape}")
        s = self.initial_selfishness = check_float("initial_selfishness", initial_selfishness, min=0, max=1,
                                                   min_inclusive=False, max_inclusive=False)
        self.learn_weights = check_bool("learn_weights", learn_weights)
        self.high_batch = check_int("high_batch", high_batch, min=1)
        seed = check_int("seed", seed, min=0)
        s_high, s_rng = (int(q.generate_state(1)[0] % 2**31) for q in np.random.SeedSequence(seed).spawn(2))
        self.high = SimplexDPG(env.obs_dim, self.k, n, hidden=high_hidden, actor_lr=high_lr, noise_std=w_noise,
                               seed=s_high)
        self.high.actor.views(self.high.actor_params)[-1][1][:, 0] += np.log(s / (1 - s) * (self.k - 1))
        nbr = complete_graph(1, n)[0]
        # mask[i, s]: may i give to nbr[i, s]? sharers give to sharers; a defector only to itself
        self.mask = np.where(self.sharers[:, None], self.sharers[nbr], np.arange(n)[None] == 0).astype(float)
        self.low = PPO(env.obs_dim + self.k, env.n_actions, n, hooks=Hooks(reward=self._shaped), **(ppo_kw or {}))
        self._rng = np.random.default_rng(s_rng)
        self._O, self._W = [], []
        self.selfishness = []  # per PPO iteration: mean w_ii of the sharers in the rollout

    # -- the high level -------------------------------------------------------------------------
    def _raw(self, obs, explore=False):
        if not self.learn_weights:
            w = np.full((*obs.shape[:2], self.k), (1 - self.initial_selfishness) / (self.k - 1))
            w[..., 0] = self.initial_selfishness
            return w
        return self.high.act(obs, self._rng, explore=explore)

    def _masked(self, w):
        m = w * self.mask
        return m / m.sum(axis=-1, keepdims=True)

    def weights(self, obs, explore=False) -> np.ndarray:
        """``w^out`` ``(E, n, k)`` in force for observations ``(E, n, obs_dim)`` (opt-outs applied)."""
        return self._masked(self._raw(np.asarray(obs, dtype=np.float64), explore))

    def objective(self, obs, w_raw) -> float:
        """``J = sum over sharers of mean_B V_i(o_i, w_i^in)`` for high-level outputs ``w_raw``."""
        x = self._critic_input(obs, self._masked(w_raw))
        V = self.low.value_net.forward_agents(self.low.value_params, x, self.low.share_params)[..., 0]
        return float(V[:, self.sharers].mean(axis=0).sum())

    def _critic_input(self, obs, w):
        return np.concatenate([obs, incoming_weights(w, complete_graph(len(obs), self.k))], axis=-1)

    def high_gradient(self, obs, w_raw) -> np.ndarray:
        """``d J / d w_raw`` ``(B, n, k)`` (:meth:`objective`): the receivers' value gradients
        scattered to the givers' out-weights (Eq. 6, first order), then through the masking."""
        B, n, d = obs.shape
        w = self._masked(w_raw)
        x = self._critic_input(obs, w).astype(self.low.value_net.dtype)
        g_in = np.zeros((B, n, self.k))
        for i in np.flatnonzero(self.sharers):
            p = self.low.value_params[0 if self.low.share_params else i]
            _, cache = self.low.value_net.forward_cache(p, x[:, i])
            _, dx = self.low.value_net.backward(p, cache, np.full((B, 1), 1.0 / B), need_dx=True)
            g_in[:, i] = dx[:, d:]
        g_w = np.empty_like(g_in)
        _outgoing_grad(g_in, complete_graph(B, n), g_w)
        S = (w_raw * self.mask).sum(axis=-1, keepdims=True)  # d (m w / S) / d w
        return self.mask / S * (g_w - (w * g_w).sum(axis=-1, keepdims=True))

    def high_step(self):
        """One ascent step of the sharers' high levels on states of the last rollout; clears it."""
        O = np.concatenate(self._O)  # (T * E, n, d)
        W = np.concatenate(self._W)
        self.selfishness.append(float(W[:, self.sharers, 0].mean()) if self.sharers.any() else 1.0)
        self._O, self._W = [], []
        if not (self.learn_weights and self.sharers.sum() > 1):
            return
        O = O[self._rng.integers(0, len(O), self.high_batch)]
        w_raw = self._raw(O)
        g = self.high_gradient(O, w_raw)
        g[:, ~self.sharers] = 0.0
        self.high.update_actor_with_grad(O, g)

    # -- the low level -------------------------------------------------------------------------
    def _shaped(self, rewards, ctx):
        T, E, n = rewards.shape
        W = np.stack(self._W[-T:]).reshape(T * E, n, self.k)
        return share_rewards(rewards.reshape(T * E, n), W, complete_graph(T * E, n)).reshape(T, E, n)

    def env(self, env, record: bool = True):
        """``env`` wrapped for the low level (``record=False`` for evaluation)."""
        return _Sharing(env, self, record)
