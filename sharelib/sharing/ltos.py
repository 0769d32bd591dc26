r"""LToS: learning to share rewards on a graph (Yi et al., NeurIPS 2022, Sec. 4).

Reward sharing (Eq. 2)
----------------------
Each agent ``i`` splits its reward among its neighbourhood ``N_i`` (itself included) with weights
``w_i^out = (w_ij)_{j in N_i}`` on the simplex; what agent ``i`` learns from is what it receives,

    r_i^w = sum_j w_ji r_j        (Eq. 2),

so ``sum_i r_i^w = sum_i r_i``: sharing moves reward, it never creates or destroys any.
Neighbourhoods are int arrays ``(E, n, k)`` with the agent itself in slot 0 (the jungle's
:attr:`sharelib.envs.Jungle.neighbours`, or :func:`complete_graph`). On a directed graph such as
"self + 3 nearest" (where ``j in N_i`` does not imply ``i in N_j``) we read Eq. 2 as: ``i`` receives
from every agent that lists it, and its low-level policy sees ``w_i^in`` laid out on its own slots
(``w_in[i, s]`` = what ``N_i[s]`` gives to ``i``, 0 if ``N_i[s]`` does not list ``i``), as in the
public code's padded in-weights. :func:`share_rewards` and :func:`incoming_weights` are the two
halves of Eq. 2. A slot holding ``-1`` is padding (an intersection at the edge of the traffic grid
has fewer than 4 neighbours): it gives and receives nothing, and the high level's softmax leaves it
out (weight 0; the code's logit -40).

The bi-level policy (Sec. 4.2-4.3, Eqs. 3-6)
---------------------------------------------
- Low level ``pi_i(a_i | o_i, w_i^in)``: a Q-network on ``[o_i, w_i^in]`` trained by DQN on the
  shaped reward ``r_i^w`` (the learning core's :class:`sharelib.learners.DQN`, unchanged: the
  sharing lives in :class:`SharingEnv`, which augments observations with ``w^in`` and returns
  shaped rewards).
- High level ``phi_i(w_i^out | o_i)``: a deterministic policy on the simplex
  (:class:`sharelib.learners.SimplexDPG`'s actor), whose critic is the low level's value: from
  Proposition 4.1, ``q_i^{phi_i}(o_i, w_i^out) = v_i(o_i; w_i^in)`` with ``v_i = max_a Q_i``. The
  first-order update of Eq. 6 (second-order term neglected, as in the paper) is DDPG through that
  critic: each ``w_j^out[i]`` is moved along ``d v_i / d w_i^in[j]``, the gradient of the receiver's
  value, summed over receivers (the public code's rearrangement of ``d sum_i V_i / d w_in`` into
  the out-weight layout).
- Alternation: one high-level step every ``high_every`` low-level gradient steps (the traffic
  code's ``UPDATE_W_FREQ`` = 5); the high level starts at ``w_ii = initial_selfishness`` (0.8, the
  code's ``INITIAL_OWN_W_OUT_RATIO``) through a bias on the self logit; exploration adds Gaussian
  noise to its logits (``w_noise``; the code uses Ornstein-Uhlenbeck noise scaled by the low
  level's epsilon).
- *Fixed LToS* (the paper's ablation): ``learn_weights=False`` keeps the initial weights;
  ``initial_selfishness=1`` then shares nothing (the low level is DQN on ``[o, w^in]`` with a
  constant ``w^in``).
- The self-logit bias is per agent, ``log(s / (1 - s) * m_i)`` with ``m_i`` the agent's real
  (non-padded) other neighbours, so every agent starts at ``w_ii = s`` (the code's bias).

Low levels: ``low="mlp"``, the learning core's MLP :class:`sharelib.learners.DQN` on ``[o_i,
w_i^in]`` (the prisoner corridor); ``low="dgn"``, :class:`sharelib.learners.DGN`, the paper's choice
for the jungle: one graph-attention Q-network over all agents on ``[o_i, w_i^in]`` plus the
neighbourhood, so ``v_i`` depends on the neighbours' inputs too and the high-level gradient is
``d sum_i v_i / d w^in`` of the whole network (the public code's gradient of ``sum_i V_i``);
``low="colight"``, :class:`sharelib.learners.CoLight`, the traffic code's: the same with CoLight's
one-layer attention over the road-connected neighbours (padded slots ``-1``).
``sharing=False`` switches sharing off: the weights are the identity (``w_ii = 1``), the low level
sees no ``w^in`` and there is no high level, which is the paper's DGN (or DQN) baseline, "LToS
without reward sharing"; a test checks it equals :class:`DGN` seed for seed.

Deviations, each stated in the notebook: the low level's TD target uses the ``w^in`` actually in
force at the next step (stored with the transition) instead of the target w-network's with TD3
noise.
"""

from __future__ import annotations

import numba
import numpy as np

from ..experiments import check_bool, check_choice, check_float, check_int
from ..learners import DGN, DQN, CoLight, SimplexDPG

__all__ = ["share_rewards", "incoming_weights", "complete_graph", "SharingEnv", "LToS", "GRAPH_LOWS"]

#: low levels whose Q-network sees the neighbourhood (the graph travels in the observation)
GRAPH_LOWS = ("dgn", "colight")


@numba.njit(cache=True)
def _share(rewards, w_out, nbr, out):
    E, n, k = nbr.shape
    for e in range(E):
        for i in range(n):
            out[e, i] = 0.0
        for j in range(n):
            for s in range(k):
                if nbr[e, j, s] >= 0:  # -1: a padded slot (weight 0)
                    out[e, nbr[e, j, s]] += w_out[e, j, s] * rewards[e, j]


@numba.njit(cache=True)
def _incoming(w_out, nbr, out):
    E, n, k = nbr.shape
    for e in range(E):
        for i in range(n):
            for s in range(k):
                j = nbr[e, i, s]
                v = 0.0
                if j < 0:
                    out[e, i, s] = 0.0
                    continue
                for t in range(k):
                    if nbr[e, j, t] == i:
                        v = w_out[e, j, t]
                        break
                out[e, i, s] = v


@numba.njit(cache=True)
def _outgoing_grad(g_in, nbr, out):
    """Scatter ``d/d w_in[i, s]`` to the out-weight that produced it: ``w_out[N_i[s], t]`` with
    ``N_{N_i[s]}[t] = i`` (the transpose of :func:`_incoming`)."""
    E, n, k = nbr.shape
    for e in range(E):
        for j in range(n):
            for t in range(k):
                out[e, j, t] = 0.0
        for i in range(n):
            for s in range(k):
                j = nbr[e, i, s]
                if j < 0:
                    continue
                for t in range(k):
                    if nbr[e, j, t] == i:
                        out[e, j, t] += g_in[e, i, s]
                        break


def _check_graph(w_out, nbr):
    w_out = np.ascontiguousarray(w_out, dtype=np.float64)
    nbr = np.ascontiguousarray(nbr, dtype=np.int64)
    if nbr.ndim != 3 or w_out.shape != nbr.shape:
        raise ValueError(f"w_out and neighbours must both have shape (E, n, k); got {w_out.shape} and {nbr.shape}")
    if nbr.size and (nbr.min() < -1 or nbr.max() >= nbr.shape[1]):
        raise ValueError(f"neighbours must be agent indices in [0, {nbr.shape[1] - 1}] or -1 (a padded slot)")
    return w_out, nbr


def share_rewards(rewards, w_out, neighbours) -> np.ndarray:
    """Eq. 2: ``r_i^w = sum_j w_ji r_j``; rewards ``(E, n)``, ``w_out`` and ``neighbours`` ``(E, n, k)``
    (``w_out[e, j, s]`` is the fraction of ``r_j`` that ``j`` gives to ``neighbours[e, j, s]``)."""
    w_out, nbr = _check_graph(w_out, neighbours)
    r = np.ascontiguousarray(rewards, dtype=np.float64)
    if r.shape != nbr.shape[:2]:
        raise ValueError(f"rewards must have shape {nbr.shape[:2]}; got {r.shape}")
    out = np.empty_like(r)
    _share(r, w_out, nbr, out)
    return out


def incoming_weights(w_out, neighbours) -> np.ndarray:
    """``w_in[e, i, s]``: the weight ``neighbours[e, i, s]`` gives to ``i`` (0 if it does not list ``i``)."""
    w_out, nbr = _check_graph(w_out, neighbours)
    out = np.empty_like(w_out)
    _incoming(w_out, nbr, out)
    return out


def complete_graph(n_envs: int, n_agents: int) -> np.ndarray:
    """Every agent's neighbourhood is everyone, itself first: int ``(E, n, n)``."""
    E, n = check_int("n_envs", n_envs, min=1), check_int("n_agents", n_agents, min=1)
    base = np.array([[i] + [j for j in range(n) if j != i] for i in range(n)], dtype=np.int64)
    return np.broadcast_to(base, (E, n, n)).copy()


class SharingEnv:
    """An environment seen through LToS's sharing (Eq. 2), for the low level's learner.

    Observations are ``[o_i, w_i^in]`` (``obs_dim = env.obs_dim + k``), followed by the ``k``
    neighbour indices for a DGN low level (:class:`sharelib.learners.WithNeighbours`' layout);
    without sharing (``ltos.sharing`` False) the ``w^in`` columns are left out. Rewards are
    ``r^w``; the environment's own rewards of the last step stay in :attr:`raw_rewards`. The
    weights come from ``ltos``'s high level at every step; the wrapper also keeps the high level's
    replay of ``(o, neighbours)`` and runs its updates (:meth:`LToS._high_step`).
    """

    def __init__(self, env, ltos: "LToS"):
        self.env, self.ltos = env, ltos
        self.n_envs, self.n_agents, self.n_actions = env.n_envs, env.n_agents, env.n_actions
        self.k = ltos.k
        self.n_neighbours = self.k
        self._with_w = ltos.sharing
        self._with_graph = ltos.low_kind in GRAPH_LOWS
        self.obs_dim = env.obs_dim + self.k * (int(self._with_w) + int(self._with_graph))
        self.max_steps = env.max_steps

    def _graph(self):
        nb = getattr(self.env, "neighbours", None) if hasattr(self.env, "n_neighbours") else None
        if nb is None:
            return complete_graph(self.n_envs, self.n_agents)
        return nb() if callable(nb) else nb

    @property
    def neighbours(self):
        return self._nbr

    def _augment(self, obs):
        self._o = np.asarray(obs, dtype=np.float64)
        self._nbr = self._graph()
        self.w_out = self.ltos.weights(self._o, explore=self.ltos.training, nbr=self._nbr)
        self.ltos._remember(self._o, self._nbr)
        parts = [obs]
        if self._with_w:
            parts.append(incoming_weights(self.w_out, self._nbr).astype(obs.dtype))
        if self._with_graph:
            parts.append(self._nbr.astype(obs.dtype))
        return np.concatenate(parts, axis=-1) if len(parts) > 1 else obs

    def reset(self, seed=0):
        return self._augment(self.env.reset(seed))

    def step(self, actions):
        w_out, nbr = self.w_out, self._nbr
        obs, r, d = self.env.step(actions)
        self.raw_rewards = r
        shaped = share_rewards(r, w_out, nbr)
        self.ltos._after_env_step(w_out)
        return self._augment(obs), shaped, d

    @property
    def final_obs(self):  # not used by DQN (it learns from the auto-reset obs, masked by done)
        return self.env.final_obs


class LToS:
    """LToS (module docstring): a DQN or DGN low level on ``[o, w^in]`` and a simplex DPG high level.

    Parameters
    ----------
    env : a batched environment; one with ``n_neighbours`` provides ``neighbours`` (int
        ``(E, n, k)``, itself in slot 0, like :class:`sharelib.envs.Jungle`), any other gets the
        complete graph
    n_neighbours : int, optional
        ``k``, the neighbourhood size including the agent; default ``env.n_neighbours`` or
        ``n_agents``.
    initial_selfishness : float in (0, 1), or (0, 1] with ``learn_weights=False``
        ``w_ii`` at the start (0.8); the rest is spread evenly over the other real slots.
    learn_weights : bool
        False gives *fixed* LToS (the weights stay at their initial values).
    high_every : int
        Low-level gradient steps per high-level step (5).
    high_lr, high_batch, w_noise : float, int, float
        The high level's Adam rate, minibatch of stored observations, logit noise when exploring.
    high_hidden : sequence of int
        The high level's hidden widths.
    low : {"mlp", "dgn", "colight"}
        The low level: :class:`sharelib.learners.DQN` (an MLP per agent, or shared),
        :class:`sharelib.learners.DGN` (DGN's attention network) or
        :class:`sharelib.learners.CoLight` (CoLight's one-layer attention, the traffic code's); the
        last two need an environment with ``neighbours``.
    sharing : bool
        False: no sharing (identity weights, no ``w^in`` input, no high level), the DGN / DQN
        baseline.
    dqn_kw : dict
        Keywords of the low level's learner (:class:`DQN` or :class:`DGN`).
    seed : int >= 0
    """

    def __init__(self, env, *, n_neighbours=None, initial_selfishness=0.8, learn_weights=True,
                 high_every=5, high_lr=1e-3, high_batch=64, w_noise=0.3, high_hidden=(32,),
                 high_buffer=10_000, low="mlp", sharing=True, dqn_kw=None, seed=0):
        seed = check_int("seed", seed, min=0)
        n = env.n_agents
        k = n_neighbours if n_neighbours is not None else getattr(env, "n_neighbours", n)
        self.k = check_int("n_neighbours", k, min=2, max=n)
        self.sharing = check_bool("sharing", sharing)
        self.learn_weights = check_bool("learn_weights", learn_weights) and self.sharing
        # fixed LToS may keep everything (identity sharing); a learned softmax cannot start there
        self.initial_selfishness = check_float("initial_selfishness", initial_selfishness,
                                               min=0, max=1, min_inclusive=False,
                                               max_inclusive=not self.learn_weights)
        self.low_kind = check_choice("low", low, ("mlp",) + GRAPH_LOWS)
        if self.low_kind in GRAPH_LOWS and not hasattr(env, "neighbours"):
            raise ValueError(f"low={self.low_kind!r} needs an environment with neighbours (E, n, k), "
                             "e.g. Jungle or TrafficSignalControl")
        self.high_every = check_int("high_every", high_every, min=1)
        self.high_batch = check_int("high_batch", high_batch, min=1)
        self.high_buffer = check_int("high_buffer", high_buffer, min=self.high_batch)
        s_low, s_high, s_rng = self.seeds(seed)
        self.high = SimplexDPG(env.obs_dim, self.k, n, hidden=high_hidden, actor_lr=high_lr,
                               noise_std=w_noise, seed=s_high)
        self.wrapped = SharingEnv(env, self)
        # self-logit bias: softmax gives w_ii = initial_selfishness, the other real slots equal shares
        nb0 = np.asarray(self.wrapped._graph())[0]
        others = np.maximum((nb0[:, 1:] >= 0).sum(axis=1), 1) if nb0.shape == (n, self.k) else self.k - 1
        s = self.initial_selfishness
        if s < 1:
            self.high.actor.views(self.high.actor_params)[-1][1][:, 0] += np.log(s / (1 - s) * others)
        if self.low_kind in GRAPH_LOWS:
            cls = DGN if self.low_kind == "dgn" else CoLight
            self.low = cls(self.wrapped.obs_dim, env.n_actions, n, self.k, seed=s_low, **(dqn_kw or {}))
        else:
            self.low = DQN(self.wrapped.obs_dim, env.n_actions, n, seed=s_low, **(dqn_kw or {}))
        self._rng = np.random.default_rng(s_rng)
        self._O = np.zeros((self.high_buffer, n, env.obs_dim))
        self._N = np.zeros((self.high_buffer, n, self.k), dtype=np.int64)
        self._pos, self._full = 0, False
        self._last_grad_steps = 0
        self.training = False
        self.selfishness_log = []  # mean w_ii of the weights in force, per environment step

    @staticmethod
    def seeds(seed):
        """The seeds ``(low level, high level, sampling)`` derived from :class:`LToS`'s ``seed``
        (the low level's :class:`DQN` gets the first: a DQN with it is LToS's low level)."""
        ss = np.random.SeedSequence(check_int("seed", seed, min=0))
        return tuple(int(s.generate_state(1)[0] % 2**31) for s in ss.spawn(3))

    # -- the high level --------------------------------------------------------------------------
    def weights(self, obs, explore=False, nbr=None) -> np.ndarray:
        """``w^out`` ``(E, n, k)`` for observations ``(E, n, obs_dim)``, 0 on the padded slots
        (``nbr == -1``) of the neighbourhoods ``nbr`` ``(E, n, k)`` if given; fixed LToS: the
        constant initial weights (``w_ii = initial_selfishness``, the rest in equal shares); without
        sharing: the identity (``w_ii = 1``)."""
        if not self.sharing:
            w = np.zeros(obs.shape[:2] + (self.k,))
            w[..., 0] = 1.0
            return w
        mask = None if nbr is None else np.asarray(nbr) >= 0
        if not self.learn_weights:
            s, E, n = self.initial_selfishness, obs.shape[0], obs.shape[1]
            if mask is None:
                w = np.full((E, n, self.k), (1 - s) / (self.k - 1))
            else:
                m = mask[..., 1:].sum(axis=-1, keepdims=True)
                w = np.where(mask, (1 - s) / np.maximum(m, 1), 0.0)
            w[..., 0] = s
            return w
        return self.high.act(obs, self._rng, explore=explore and self.learn_weights, mask=mask)

    def _remember(self, o, nbr):
        if not self.training:
            return
        E = o.shape[0]
        idx = (self._pos + np.arange(E)) % self.high_buffer
        self._O[idx], self._N[idx] = o, nbr
        self._full = self._full or self._pos + E >= self.high_buffer
        self._pos = (self._pos + E) % self.high_buffer

    def high_gradient(self, obs, nbr) -> np.ndarray:
        """``d sum_i v_i / d w^out`` ``(B, n, k)`` at ``w^out = phi(o)`` with ``v_i = max_a Q_i(o_i,
        w_i^in, a)`` (Prop. 4.1's critic; the first-order update of Eq. 6)."""
        obs = np.asarray(obs, dtype=np.float64)
        w = self.weights(obs, nbr=nbr)
        x = np.concatenate([obs, incoming_weights(w, nbr)], axis=-1)
        q_net, P, d = self.low.q_net, self.low.q_params, obs.shape[2]
        if self.low_kind in GRAPH_LOWS:  # v_i depends on every neighbour's w_in: d sum_i v_i / d w_in
            q, cache = q_net.forward_cache(P[0], x, nbr)
            dout = np.zeros(q.shape)
            np.put_along_axis(dout, q.argmax(axis=-1)[..., None], 1.0, -1)
            _, dx = q_net.backward(P[0], cache, dout, need_dx=True)
            g_in = np.ascontiguousarray(dx[..., d:d + self.k], dtype=np.float64)
        else:
            g_in = np.zeros_like(w)
            for i in range(obs.shape[1]):
                p = P[0 if self.low.share_params else i]
                q, cache = q_net.forward_cache(p, x[:, i])
                dout = np.zeros_like(q)
                dout[np.arange(len(q)), q.argmax(axis=1)] = 1.0
                _, dx = q_net.backward(p, cache, dout, need_dx=True)
                g_in[:, i] = dx[:, d:]
        g_out = np.empty_like(g_in)
        _outgoing_grad(g_in, np.ascontiguousarray(nbr, dtype=np.int64), g_out)
        return g_out

    def _high_step(self):
        size = self.high_buffer if self._full else self._pos
        idx = self._rng.integers(0, size, self.high_batch)
        O, N = self._O[idx], self._N[idx]
        self.high.update_actor_with_grad(O, self.high_gradient(O, N), mask=N >= 0)

    def _after_env_step(self, w_out):
        self.selfishness_log.append(float(w_out[..., 0].mean()))
        if not (self.training and self.learn_weights):
            return
        gs = self.low.grad_steps
        if gs // self.high_every > self._last_grad_steps // self.high_every:
            self._high_step()
        self._last_grad_steps = gs

    # -- training ----------------------------------------------------------------------------------
    def train(self, total_steps, seed=0, **kw):
        """Alternate the two levels for ``total_steps`` environment steps; returns the low level's
        :class:`sharelib.learners.TrainResult` (its returns are the *shaped* returns, whose sum over
        agents equals the environment's)."""
        self.training = True
        try:
            return self.low.train(self.wrapped, total_steps, seed=seed, **kw)
        finally:
            self.training = False

    def act(self, obs_aug, rng=None, greedy=True):
        return self.low.act(obs_aug, rng, greedy=greedy)
