r"""Cooperative navigation on a grid: each agent walks to its own landmark without collisions (AS
paper, Sec. 5.1, after Zhang et al. 2018's networked-agent navigation).

What the paper says (Anticipation Sharing, Sec. 5.1, "Cooperative navigation (C. Navigation)")
-------------------------------------------------------------------------------------------
"Building on (Zhang et al., 2018b), this task requires each agent to approach a landmark. We adopt
the same observation and action configurations as in (Zhang et al., 2018b). Agents earn rewards
based on their proximity to targets but incur a -1 penalty upon collisions. Agents can only
exchange information with adjacent counterparts. We set the time horizon of an episode as 100 time
steps and use three agents. The environment size is 5x5." The illustration (Fig. 8a) is missing
from our copy. Zhang et al. (2018) assign each agent its own target landmark and reward it for
being close to it (our recollection, not checked against their code); everything below the quote
is our reading.

Rules we chose (all documented choices)
---------------------------------------
- Grid ``size x size`` (5x5), no walls; ``n_agents`` = 3 agents; agent ``i`` has landmark ``i``.
- Actions (5): 0 = up, 1 = down, 2 = left, 3 = right, 4 = stay. All agents move simultaneously; a
  move off the grid leaves the agent where it is. Agents never block each other (moves always
  succeed), so two or more agents can end a step in the same cell.
- Reward of agent ``i`` at each step, after the moves:
  ``r_i = -d_i / (2 (size - 1)) - collision_penalty * c_i`` where ``d_i`` is the Manhattan
  distance from agent ``i`` to its own landmark (so the proximity term is in ``[-1, 0]``: 0 on the
  landmark, -1 at the opposite corner; ``2 (size - 1) = 8`` on 5x5) and ``c_i = 1`` if at least one
  other agent ends the step in agent ``i``'s cell (every agent in a shared cell pays -1 once,
  however many others are there; ``collision_penalty`` = 1). Two agents swapping cells do not
  collide (only end-of-step cells count).
- Episodes last exactly ``max_steps`` (100) steps (they do not end when agents reach their
  landmarks; ``truncated`` is set at the end).
- Start: the ``n`` landmarks and the ``n`` agents are put on ``2 n`` distinct cells drawn uniformly
  at random at every reset (no agent starts on a landmark or on another agent).
- Observation (the same for every agent; Zhang et al. give each agent all positions): a flat float
  vector in ``[0, 1]``: ``(row, col) / (size - 1)`` of agents 0 .. n-1, then of landmarks
  0 .. n-1 (``obs_dim = 4 n = 12``); ``agent_id=True`` appends the observer's one-hot index
  (``obs_dim = 5 n``), default False.
- Communication graph ("agents can only exchange information with adjacent counterparts"): with
  ``graph="line"`` (default) agents ``i`` and ``i + 1`` are neighbours (0 - 1 - 2), read as
  "adjacent in the agents' order" since the fixed graph of the networked-agent setting does not move
  with the agents; ``graph="complete"`` connects everybody. :attr:`CooperativeNavigation.adjacency`
  ``(n, n)`` and :meth:`CooperativeNavigation.neighbours` ``(E, n, n)`` give it (no self loops
  unless ``include_self=True``).

Where the private rewards conflict: agent ``i``'s reward depends on the others' moves through
collisions, and a collision is an externality: an agent that steps into an occupied cell (for
instance crossing or stopping on another agent's landmark, where that agent waits) costs the
occupant -1 as well as itself, and the occupant can avoid it only by leaving the landmark (losing
proximity reward) or the walker by a detour (losing proximity reward for longer). Which agent
yields is a conflict of interests; the team optimum needs collision-free paths. It is a milder
conflict than Exchange's: colliding also hurts the agent that causes it.
"""

from __future__ import annotations

import numba
import numpy as np

from ..experiments import check_bool, check_choice, check_float, check_int
from .base import MultiAgentEnv, end_step
from . import render as _r
from .cells import place_distinct, write_global_obs

__all__ = ["CooperativeNavigation"]

_DR = np.array([-1, 1, 0, 0], dtype=np.int64)
_DC = np.array([0, 0, -1, 1], dtype=np.int64)

# packed int state columns of I (column 0 is the step counter), for n agents:
# 1 .. n: agent cells; n+1 .. 2n: landmark cells; 2n+1 .. 3n: collision counts since reset(seed)


@numba.njit(cache=True)
def _write_obs(obs, I, e, S, n, agent_id):
    write_global_obs(obs, e, I[e, 1:1 + 2 * n], S, I[e, 1:1], agent_id)


@numba.njit(cache=True)
def _reset_one(rng, e, I, S, n):
    I[e, 0] = 0
    place_distinct(rng, e, I[e, 1:1 + 2 * n], S * S)  # agents, then landmarks, on 2n distinct cells


@numba.njit(cache=True)
def _reset_kernel(mask, rng, I, obs, P):
    S, agent_id = np.int64(P[0]), P[3] > 0
    n = obs.shape[1]
    for e in range(I.shape[0]):
        if mask[e]:
            _reset_one(rng, e, I, S, n)
            _write_obs(obs, I, e, S, n, agent_id)


@numba.njit(cache=True)
def _step_kernel(actions, rng, I, F, B, obs, final_obs, P):
    S, max_steps, penalty, agent_id = np.int64(P[0]), np.int64(P[1]), P[2], P[3] > 0
    n = actions.shape[1]
    norm = 1.0 / (2 * (S - 1))
    for e in range(I.shape[0]):
        for i in range(n):
            a = actions[e, i]
            if a < 4:
                p = I[e, 1 + i]
                r = p // S + _DR[a]
                c = p % S + _DC[a]
                if 0 <= r < S and 0 <= c < S:
                    I[e, 1 + i] = r * S + c
        for i in range(n):
            p, g = I[e, 1 + i], I[e, 1 + n + i]
            d = abs(p // S - g // S) + abs(p % S - g % S)
            rew = -d * norm
            for j in range(n):
                if j != i and I[e, 1 + j] == p:
                    rew -= penalty
                    I[e, 1 + 2 * n + i] += 1
                    break
            F[e, 0, i] = rew
        if end_step(e, I, F, B, max_steps, False):
            _write_obs(final_obs, I, e, S, n, agent_id)
            _reset_one(rng, e, I, S, n)
        _write_obs(obs, I, e, S, n, agent_id)


class CooperativeNavigation(MultiAgentEnv):
    """The AS paper's grid cooperative navigation, batched over ``n_envs`` copies (rules in the
    module doc).

    Parameters
    ----------
    n_envs : int
        Number of independent copies stepped together.
    n_agents : int
        Number of agents (AS: 3), each with its own landmark; ``2 n_agents <= size**2``.
    size : int
        Side of the square grid (AS: 5).
    max_steps : int
        Episode length; every episode lasts exactly this long (AS: 100).
    collision_penalty : float
        Loss of every agent sharing its cell with another one after a step (AS: 1).
    graph : {"line", "complete"}
        Communication graph (see the module doc).
    agent_id : bool
        Append the one-hot index of the observing agent to its observation (default False).

    Attributes
    ----------
    collision_counts : int array (E, n)
        Steps on which each agent collided, since the last ``reset(seed)``.
    adjacency : bool array (n, n)
        The communication graph (no self loops).
    """

    name = "cooperative_navigation"
    n_agents = 3
    n_actions = 5
    action_names = ("up", "down", "left", "right", "stay")
    UP, DOWN, LEFT, RIGHT, STAY = 0, 1, 2, 3, 4
    obs_low = 0.0
    obs_high = 1.0

    def __init__(self, n_envs: int = 1, n_agents: int = 3, size: int = 5, max_steps: int = 100,
                 collision_penalty: float = 1.0, graph: str = "line", agent_id: bool = False):
        self.size = check_int("size", size, min=2)
        self.n_agents = check_int("n_agents", n_agents, min=2, max=self.size**2 // 2)
        self.max_steps = check_int("max_steps", max_steps, min=1)
        self.collision_penalty = check_float("collision_penalty", collision_penalty)
        self.graph = check_choice("graph", graph, ("line", "complete"))
        self.agent_id = check_bool("agent_id", agent_id)
        n = self.n_agents
        self.obs_dim = 4 * n + (n if self.agent_id else 0)
        self.int_state_cols = 3 * n
        if self.graph == "line":
            self.adjacency = np.abs(np.subtract.outer(np.arange(n), np.arange(n))) == 1
        else:
            self.adjacency = ~np.eye(n, dtype=np.bool_)
        super().__init__(n_envs)

    def params(self) -> dict:
        return dict(n_agents=self.n_agents, size=self.size, max_steps=self.max_steps,
                    collision_penalty=self.collision_penalty, graph=self.graph,
                    agent_id=self.agent_id)

    def _allocate(self):
        n = self.n_agents
        self.collision_counts = self._I[:, 1 + 2 * n:1 + 3 * n]  # a view
        self._P = np.array([self.size, self.max_steps, self.collision_penalty, self.agent_id],
                           dtype=np.float64)

    def neighbours(self, include_self: bool = False) -> np.ndarray:
        """The communication graph for every copy, bool ``(E, n, n)`` (fixed)."""
        A = self.adjacency | (np.eye(self.n_agents, dtype=np.bool_) if include_self else False)
        return np.broadcast_to(A, (self.n_envs,) + A.shape).copy()

    def _rc(self, cols):
        cells = self._I[:, cols]
        return np.stack([cells // self.size, cells % self.size], axis=-1)

    @property
    def agent_positions(self) -> np.ndarray:
        """``(row, col)`` of every agent, int ``(E, n, 2)`` (a copy)."""
        return self._rc(slice(1, 1 + self.n_agents))

    @property
    def landmark_positions(self) -> np.ndarray:
        """``(row, col)`` of every landmark (landmark i is agent i's), int ``(E, n, 2)``."""
        n = self.n_agents
        return self._rc(slice(1 + n, 1 + 2 * n))

    def set_state(self, agents, landmarks) -> np.ndarray:
        """Put every copy in a given state (for tests and figures); returns the new observation.

        ``agents``, ``landmarks``: int ``(E, n, 2)`` or ``(n, 2)`` of ``(row, col)`` (any cells).
        """
        S, E, n = self.size, self.n_envs, self.n_agents
        ag = np.broadcast_to(np.asarray(agents, dtype=np.int64), (E, n, 2))
        lm = np.broadcast_to(np.asarray(landmarks, dtype=np.int64), (E, n, 2))
        if min(ag.min(), lm.min()) < 0 or max(ag.max(), lm.max()) >= S:
            raise ValueError(f"positions must be in [0, {S - 1}]")
        if not self._has_reset:
            self.reset(0)
        self._I[:, 1:1 + n] = ag[..., 0] * S + ag[..., 1]
        self._I[:, 1 + n:1 + 2 * n] = lm[..., 0] * S + lm[..., 1]
        for e in range(E):
            _write_obs(self._obs, self._I, e, S, n, self.agent_id)
        return self._obs.copy()

    def reset(self, seed: int = 0) -> np.ndarray:
        seed = check_int("seed", seed, min=0)  # before any state changes
        self.collision_counts[:] = 0
        return super().reset(seed)

    def _reset_kernel(self, mask):
        _reset_kernel(mask, self._rng, self._I, self._obs, self._P)

    def _step_kernel(self, actions):
        _step_kernel(actions, self._rng, self._I, self._F, self._B, self._obs, self.final_obs,
                     self._P)

    def render(self, env_index: int = 0, cell: int = 32) -> np.ndarray:
        """RGB image of copy ``env_index``: landmarks as squares and agents as discs in the agent's
        colour."""
        e = self._check_env_index(env_index)
        S, n = self.size, self.n_agents
        img = _r.canvas(S, S, cell)
        colors = _r.AGENT_COLORS
        for k in range(n):
            g = int(self._I[e, 1 + n + k])
            _r.fill_cell(img, g // S, g % S, colors[k % len(colors)], cell, margin=8)
        for i in range(n):
            p = int(self._I[e, 1 + i])
            dx = 0.22 * (i - (n - 1) / 2) / max(1, (n - 1) / 2)
            _r.disc_in_cell(img, p // S, p % S, (0, 0, 0), cell, 0.22, dx)
            _r.disc_in_cell(img, p // S, p % S, colors[i % len(colors)], cell, 0.17, dx)
        return img
