r"""Cooperative predation: N predators on a line either approach a prey together or free-ride (AS
paper, Sec. 5.1 and Fig. 7).

What the paper says (Anticipation Sharing, Sec. 5.1, "Cooperative predation (C. Predation)")
-----------------------------------------------------------------------------------------
"All predators cooperating (approaching the prey) results in each gaining a reward of -1.
Universal defection (not approaching) leads to a -3 reward for each predator. In mixed scenarios,
predators actively pursuing the prey receive a -4 reward, while non-participating predators gain
0. [...] For each episode, the prey's position, x_tar in X, and the agents' starting positions,
x_ag_i in X, are randomized within X = [0, 30]. The state is represented as
s^t = [x_ag_1^t - x_tar, ..., x_ag_N^t - x_tar] [...]. The action set A = {-1, +1} represents left
and right movements. Neighboring agents are those within a normalized distance of 0.1. [...] The
time horizon of an episode is set as 30. Our main experiments use 8 predator agents, while we test
with 20 and 30 agents." Fig. 7 uses "Cooperative Predation with two agents. For this task, the
action set includes two actions: 'moving towards the target' and 'moving away from the target'."
Everything below the quotes is our reading.

Rules we chose (all documented choices)
---------------------------------------
- World ``X = [0, world_size]`` (30). Prey and predators start at independent uniform positions in
  ``X`` every episode. The prey never moves; there is no capture event.
- Actions (2). Default (absolute, the paper's ``{-1, +1}``): 0 = move left by ``step_size`` (1),
  1 = move right by ``step_size``. With ``relative_actions=True`` (the Fig. 7 variant): 0 = move
  towards the prey, 1 = move away from it. "Towards" is right when ``x_i <= x_tar`` (right, by
  convention, for an agent exactly on the prey) and left otherwise. New positions are clipped to
  ``X`` (an agent at 0 moving left stays at 0).
- "Approach" (``approach="direction"``, default): agent ``i`` approaches in a step iff its move
  goes towards the prey (as defined above; judged from the positions before the move, whatever
  clipping does). So in the relative variant approach = action 0 exactly, and "everybody
  approaches" is always available. ``approach="distance"``: agent ``i`` approaches iff
  ``|x_i' - x_tar| < |x_i - x_tar|`` (strictly); it differs from "direction" only for an agent
  within ``step_size`` of the prey, whose move towards it overshoots to a larger distance (and so
  is not an approach).
- Rewards each step, ``k`` the number of approachers: ``k = N``: every agent ``reward_all`` (-1);
  ``k = 0``: every agent ``reward_none`` (-3); otherwise approachers ``reward_approacher`` (-4)
  and the others ``reward_other`` (0). So per step, not approaching strictly dominates
  (0 > -1 when all others approach, 0 > -4 in mixed profiles, -3 > -4 when nobody else
  approaches), and universal defection (-3 each) is worse than universal cooperation (-1 each):
  an N-player prisoner's dilemma repeated over the episode (totals per agent -30 vs -90).
- Episodes last exactly ``max_steps`` (30) steps (``truncated`` is set at the end).
- Observation: the paper's state ``s = [x_1 - x_tar, ..., x_N - x_tar] / world_size``, in
  ``[-1, 1]``, the same for every agent (``obs_dim = N``). ``agent_id=True`` appends the observer's
  one-hot index (``obs_dim = 2 N``), default False (each AS agent has its own networks, and the
  paper's state has no index).
- Neighbours: agents ``i != j`` are neighbours when ``|x_i - x_j| / world_size <= radius`` (0.1),
  recomputed from the current positions: :meth:`CooperativePredation.neighbours` returns a fresh
  bool ``(E, N, N)`` array for the current step of every copy (no self loops unless
  ``include_self=True``). After a step that ended an episode it describes the new episode's first
  state, like ``obs``. :meth:`CooperativePredation.neighbours_from_obs` computes the same relation
  from observations ``(N, n, obs_dim)`` (``|s_i - s_j| <= radius``, as the state holds
  ``(x_k - x_tar) / world_size``), the form of ``graph`` callable (observations to ``(N, n, n)``)
  that the AS learner accepts; the two agree except for pairs within
  float32 rounding (about 1e-7) of the radius.
- ``approached`` (bool ``(E, N)``) tells which agents approached in the last step;
  ``approach_counts`` (int ``(E, N)``) counts approaches since the last ``reset(seed)`` (the
  proportion of "moving towards the target" of Fig. 7 for the actions actually taken).
"""

from __future__ import annotations

import numba
import numpy as np

from ..experiments import check_bool, check_choice, check_float, check_int
from .base import MultiAgentEnv, end_step, rng_uniform
from . import render as _r

__all__ = ["CooperativePredation"]

# packed int state columns of I (column 0 is the step counter), for N agents:
# 1 .. N: approached in the last step (0/1); N+1 .. 2N: approach counts since reset(seed)
# X float64 (E, N + 1): predator positions, then the prey's


@numba.njit(cache=True)
def _write_obs(obs, X, e, n, W, agent_id):
    tar = X[e, n]
    for k in range(n):
        v = (X[e, k] - tar) / W
        for i in range(n):
            obs[e, i, k] = v
    if agent_id:
        for i in range(n):
            for k in range(n):
                obs[e, i, n + k] = 1.0 if k == i else 0.0


@numba.njit(cache=True)
def _reset_one(rng, e, I, X, n, W):
    I[e, 0] = 0
    X[e, n] = rng_uniform(rng, e) * W
    for i in range(n):
        X[e, i] = rng_uniform(rng, e) * W


@numba.njit(cache=True)
def _reset_kernel(mask, rng, I, X, obs, P):
    W, agent_id = P[0], P[8] > 0
    n = obs.shape[1]
    for e in range(I.shape[0]):
        if mask[e]:
            _reset_one(rng, e, I, X, n, W)
            _write_obs(obs, X, e, n, W, agent_id)


@numba.njit(cache=True)
def _step_kernel(actions, rng, I, X, F, B, obs, final_obs, P):
    W, step, max_steps = P[0], P[1], np.int64(P[2])
    r_all, r_none, r_app, r_other = P[3], P[4], P[5], P[6]
    relative, agent_id, by_distance = P[7] > 0, P[8] > 0, P[9] > 0
    n = actions.shape[1]
    for e in range(I.shape[0]):
        tar = X[e, n]
        k = 0
        for i in range(n):
            x = X[e, i]
            towards = 1.0 if x <= tar else -1.0
            a = actions[e, i]
            if relative:
                d = towards if a == 0 else -towards
            else:
                d = -1.0 if a == 0 else 1.0
            y = min(max(x + d * step, 0.0), W)
            if by_distance:
                app = abs(y - tar) < abs(x - tar)
            else:
                app = d == towards
            X[e, i] = y
            I[e, 1 + i] = 1 if app else 0
            if app:
                k += 1
                I[e, 1 + n + i] += 1
        for i in range(n):
            if k == n:
                F[e, 0, i] = r_all
            elif k == 0:
                F[e, 0, i] = r_none
            else:
                F[e, 0, i] = r_app if I[e, 1 + i] else r_other
        if end_step(e, I, F, B, max_steps, False):
            _write_obs(final_obs, X, e, n, W, agent_id)
            _reset_one(rng, e, I, X, n, W)
        _write_obs(obs, X, e, n, W, agent_id)


@numba.njit(cache=True)
def _neighbours(X, W, radius, include_self, out):
    n = out.shape[1]
    for e in range(X.shape[0]):
        for i in range(n):
            for j in range(n):
                if i == j:
                    out[e, i, j] = include_self
                else:
                    out[e, i, j] = abs(X[e, i] - X[e, j]) / W <= radius


class CooperativePredation(MultiAgentEnv):
    """The AS paper's cooperative predation on a line, batched over ``n_envs`` copies (rules in
    the module doc).

    Parameters
    ----------
    n_envs : int
        Number of independent copies stepped together.
    n_agents : int
        Number of predators (AS: 8; 20 and 30 for scalability; 2 in Fig. 7).
    world_size : float
        Length of the world ``X = [0, world_size]`` (AS: 30).
    step_size : float
        Distance moved per step (AS: 1).
    max_steps : int
        Episode length (AS: 30).
    reward_all, reward_none, reward_approacher, reward_other : float
        The dilemma's rewards (AS: -1, -3, -4, 0; see the module doc).
    relative_actions : bool
        Actions 0 = towards the prey, 1 = away (Fig. 7) instead of 0 = left, 1 = right.
    approach : {"direction", "distance"}
        What counts as approaching (see the module doc).
    radius : float
        Normalised neighbour radius (AS: 0.1).
    agent_id : bool
        Append the one-hot index of the observing agent to its observation (default False).
    """

    name = "cooperative_predation"
    n_agents = 8
    n_actions = 2
    action_names = ("left", "right")
    obs_low = -1.0
    obs_high = 1.0

    def __init__(self, n_envs: int = 1, n_agents: int = 8, world_size: float = 30.0,
                 step_size: float = 1.0, max_steps: int = 30, reward_all: float = -1.0,
                 reward_none: float = -3.0, reward_approacher: float = -4.0,
                 reward_other: float = 0.0, relative_actions: bool = False,
                 approach: str = "direction", radius: float = 0.1, agent_id: bool = False):
        self.n_agents = check_int("n_agents", n_agents, min=2)
        self.world_size = check_float("world_size", world_size, min=0.0, min_inclusive=False)
        self.step_size = check_float("step_size", step_size, min=0.0, min_inclusive=False)
        self.max_steps = check_int("max_steps", max_steps, min=1)
        self.reward_all = check_float("reward_all", reward_all)
        self.reward_none = check_float("reward_none", reward_none)
        self.reward_approacher = check_float("reward_approacher", reward_approacher)
        self.reward_other = check_float("reward_other", reward_other)
        self.relative_actions = check_bool("relative_actions", relative_actions)
        self.approach = check_choice("approach", approach, ("direction", "distance"))
        self.radius = check_float("radius", radius, min=0.0)
        self.agent_id = check_bool("agent_id", agent_id)
        if self.relative_actions:
            self.action_names = ("towards", "away")
        n = self.n_agents
        self.obs_dim = n + (n if self.agent_id else 0)
        self.int_state_cols = 2 * n
        super().__init__(n_envs)

    TOWARDS, AWAY = 0, 1  # with relative_actions=True
    LEFT, RIGHT = 0, 1  # with relative_actions=False

    def params(self) -> dict:
        return dict(n_agents=self.n_agents, world_size=self.world_size, step_size=self.step_size,
                    max_steps=self.max_steps, reward_all=self.reward_all,
                    reward_none=self.reward_none, reward_approacher=self.reward_approacher,
                    reward_other=self.reward_other, relative_actions=self.relative_actions,
                    approach=self.approach, radius=self.radius, agent_id=self.agent_id)

    def _allocate(self):
        n = self.n_agents
        self._X = np.zeros((self.n_envs, n + 1), dtype=np.float64)
        self.approach_counts = self._I[:, 1 + n:1 + 2 * n]  # a view
        self._P = np.array([self.world_size, self.step_size, self.max_steps, self.reward_all,
                            self.reward_none, self.reward_approacher, self.reward_other,
                            self.relative_actions, self.agent_id, self.approach == "distance"],
                           dtype=np.float64)

    @property
    def positions(self) -> np.ndarray:
        """Predator positions, float ``(E, N)`` (a copy)."""
        return self._X[:, :self.n_agents].copy()

    @property
    def prey(self) -> np.ndarray:
        """Prey positions, float ``(E,)`` (a copy)."""
        return self._X[:, self.n_agents].copy()

    @property
    def approached(self) -> np.ndarray:
        """Which agents approached the prey in the last step, bool ``(E, N)``."""
        return self._I[:, 1:1 + self.n_agents].astype(bool)

    def neighbours(self, include_self: bool = False) -> np.ndarray:
        """Neighbours in the current state of every copy, bool ``(E, N, N)``: ``i != j`` with
        ``|x_i - x_j| / world_size <= radius`` (and ``i == j`` iff ``include_self``)."""
        out = np.empty((self.n_envs, self.n_agents, self.n_agents), dtype=np.bool_)
        _neighbours(self._X, self.world_size, self.radius,
                    check_bool("include_self", include_self), out)
        return out

    def neighbours_from_obs(self, obs, include_self: bool = False) -> np.ndarray:
        """Neighbours from observations ``(..., n, obs_dim)`` of this env: bool ``(..., n, n)``,
        ``[b, i, j]`` iff ``|s_i - s_j| <= radius`` (``i != j``; ``i == j`` iff ``include_self``),
        ``s`` the state part of agent 0's observation. Usable as a learner's graph callable."""
        obs = np.asarray(obs)
        n = self.n_agents
        if obs.shape[-2:] != (n, self.obs_dim):
            raise ValueError(f"obs must have shape (..., {n}, {self.obs_dim}); got {obs.shape}")
        s = obs[..., 0, :n].astype(np.float64)
        out = np.abs(s[..., :, None] - s[..., None, :]) <= self.radius
        eye = np.eye(n, dtype=np.bool_)
        return (out & ~eye) | (eye if check_bool("include_self", include_self) else False)

    def set_state(self, positions, prey) -> np.ndarray:
        """Put every copy in a given state (for tests and figures); returns the new observation.

        ``positions``: float ``(E, N)`` or ``(N,)``; ``prey``: float ``(E,)`` or scalar; all in ``X``.
        """
        E, n, W = self.n_envs, self.n_agents, self.world_size
        x = np.broadcast_to(np.asarray(positions, dtype=np.float64), (E, n))
        t = np.broadcast_to(np.asarray(prey, dtype=np.float64), (E,))
        if not (np.all((x >= 0) & (x <= W)) and np.all((t >= 0) & (t <= W))):
            raise ValueError(f"positions and prey must be in [0, {W}]")
        if not self._has_reset:
            self.reset(0)
        self._X[:, :n] = x
        self._X[:, n] = t
        for e in range(E):
            _write_obs(self._obs, self._X, e, n, W, self.agent_id)
        return self._obs.copy()

    def reset(self, seed: int = 0) -> np.ndarray:
        seed = check_int("seed", seed, min=0)  # before any state changes
        self._I[:, 1:] = 0
        return super().reset(seed)

    def _reset_kernel(self, mask):
        _reset_kernel(mask, self._rng, self._I, self._X, self._obs, self._P)

    def _step_kernel(self, actions):
        _step_kernel(actions, self._rng, self._I, self._X, self._F, self._B, self._obs,
                     self.final_obs, self._P)

    def render(self, env_index: int = 0, width: int = 320) -> np.ndarray:
        """RGB image of copy ``env_index``: the world as a horizontal axis, the prey as a black bar
        across all rows, predator ``i`` as a disc in row ``i`` (colours cycle)."""
        e = self._check_env_index(env_index)
        n, W = self.n_agents, self.world_size
        row = max(6, min(16, 240 // n))
        pad = 8
        img = np.empty((2 * pad + n * row, width, 3), dtype=np.uint8)
        img[:] = _r.BACKGROUND
        to_px = lambda v: pad + v / W * (width - 2 * pad)  # noqa: E731
        img[-pad // 2, pad:width - pad] = _r.GRID_LINE
        tx = int(round(to_px(self._X[e, n])))
        img[pad // 2:-pad // 2, max(tx - 1, 0):tx + 2] = _r.PREDATOR
        for i in range(n):
            _r.fill_disc(img, pad + (i + 0.5) * row, to_px(self._X[e, i]), 0.42 * row,
                         _r.AGENT_COLORS[i % len(_r.AGENT_COLORS)])
        return img
