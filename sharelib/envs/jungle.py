r"""The *jungle*: DGN's MAgent moral-dilemma scenario used by LToS (Yi et al. 2022, Sec. 5.2; Jiang
et al. 2020), batched over copies in one numba kernel.

What the LToS paper says (Sec. 5.2)
-----------------------------------
"There are N agents and L stationary foods. At each timestep, each agent can attack or move to one
adjacent grid. Eating (attacking food) brings a positive reward +1, but attacking other agents
obtains a higher reward +2. The victim, however, suffers a negative reward -4, which makes each
attack between agents a negative-sum action. Moreover, attacking a blank grid gets a small negative
reward -0.01 [...] map size = 30 x 30 grids, N = 20, L = 12, and the observation consists of one's
coordinates and a field of 11 x 11 grids nearby. Each agent has 3 closest agents as its
neighbors." Fig. 5 scales agents and foods together (#agents/#foods = 5/3); Fig. 6 varies the
number of neighbours from 1 to 5.

Rules (DGN's MAgent configuration, ``../shared/specs/ltos_d3c_as_cedos_reference_notes.md`` 1.4)
-------------------------------------------------------------------------------------------------
- Map ``size x size`` (30) with walls on the whole border, so ``(size - 2)^2`` free cells. Every
  episode places ``n_agents`` agents and then ``n_food`` foods on distinct random free cells; there
  are no other walls. Coordinates are ``(row, col)``; row 0 is the top wall.
- Actions (9): 0-4 move by ``(drow, dcol)`` = up (-1, 0), left (0, -1), stay, right (0, +1),
  down (+1, 0); 5-8 attack the adjacent cell up, left, right, down (MAgent's ordering of its move
  and attack ranges). No turning.
- A step: first every attack, then the moves. Every attack action costs the attacker
  ``attack_cost`` (-0.01), whatever its target (food, agent, empty cell or wall); an attack on a
  food adds ``food_reward`` (+1) to the attacker; an attack on an agent adds ``attack_reward`` (+2)
  to the attacker and ``victim_reward`` (-4) to the victim (each attacker's hit counts, so a victim
  hit by k agents gets -4 k). Then moves in agent-index order: a move succeeds only if the target
  cell is empty at that moment (walls, foods and agents block; an agent may step into a cell an
  earlier agent has just left).
- Nothing dies and foods never run out: with MAgent's hit points (agents 400, foods 500, damage 1)
  and 120-step episodes a food cannot be used up, and an agent would have to be hit by more than
  three attackers in almost every step to die, which random or learned play does not do. So we keep
  no hit points; attack resolution order then does not matter, and MAgent's shuffled attack order
  is not reproduced. This is the one simplification of MAgent's engine.
- Episodes last ``max_steps`` (120) steps (``truncated`` set at the end; no terminal state).
- Observation (``obs_dim = (2 view_radius + 1)^2 + 2`` = 123): the ``11 x 11`` view centred on the
  agent of (agents' presence - foods' presence): +1 on cells holding an agent (itself at the centre
  included), -1 on foods, 0 elsewhere, on walls and outside the disc ``drow^2 + dcol^2 <=
  view_radius^2``; then the normalised position ``(row / size, col / size)``. This is the
  123-dimensional vector DGN's script builds from MAgent's view and feature planes.
- Neighbours: :attr:`Jungle.neighbours`, int ``(E, N, n_neighbours)``: each agent's ``n_neighbours``
  nearest agents by Euclidean distance of the positions, itself first (distance 0), ties broken by
  agent index; recomputed after every step (DGN uses the current step's graph for the next state's
  targets too). ``n_neighbours = 4`` is "self + 3 closest".
- ``attacks`` (int ``(E, 4)``) counts, since the last ``reset(seed)``, attacks on food, on agents,
  on empty cells and on walls, the quantities behind Fig. 4's behaviours.
"""

from __future__ import annotations

import numba
import numpy as np

from ..experiments import check_float, check_int
from . import render as _r
from .base import MultiAgentEnv, end_step, rng_integer

__all__ = ["Jungle"]

EMPTY, WALL, FOOD = 0, -1, -2  # grid codes; agent i is stored as i + 1
# (drow, dcol) of the 5 moves and the 4 attacks, in MAgent's order (module doc)
MOVES = np.array([(-1, 0), (0, -1), (0, 0), (0, 1), (1, 0)], dtype=np.int64)
ATTACKS = np.array([(-1, 0), (0, -1), (0, 1), (1, 0)], dtype=np.int64)
N_MOVES = 5
# attack counter columns
ON_FOOD, ON_AGENT, ON_EMPTY, ON_WALL = 0, 1, 2, 3


@numba.njit(cache=True)
def _write_obs(obs, G, pos, e, radius, size):
    n = pos.shape[1]
    side = 2 * radius + 1
    for i in range(n):
        r0, c0 = pos[e, i, 0], pos[e, i, 1]
        k = 0
        for dr in range(-radius, radius + 1):
            for dc in range(-radius, radius + 1):
                v = 0.0
                r, c = r0 + dr, c0 + dc
                if dr * dr + dc * dc <= radius * radius and 0 <= r < size and 0 <= c < size:
                    g = G[e, r, c]
                    if g > 0:
                        v = 1.0
                    elif g == FOOD:
                        v = -1.0
                obs[e, i, k] = v
                k += 1
        obs[e, i, side * side] = r0 / size
        obs[e, i, side * side + 1] = c0 / size


@numba.njit(cache=True)
def _write_neighbours(nbr, pos, e):
    n, k = pos.shape[1], nbr.shape[2]
    d = np.empty(n)
    for i in range(n):
        for j in range(n):
            dr = pos[e, i, 0] - pos[e, j, 0]
            dc = pos[e, i, 1] - pos[e, j, 1]
            d[j] = dr * dr + dc * dc
        order = np.argsort(d, kind="mergesort")  # stable: ties by index, self (0) first
        for s in range(k):
            nbr[e, i, s] = order[s]


@numba.njit(cache=True)
def _place(rng, e, G, pos, food, size):
    """Empty the map, wall the border and put agents, then foods, on distinct free cells."""
    for r in range(size):
        for c in range(size):
            G[e, r, c] = WALL if (r == 0 or c == 0 or r == size - 1 or c == size - 1) else EMPTY
    free = size - 2
    for i in range(pos.shape[1]):
        while True:
            r, c = 1 + rng_integer(rng, e, free), 1 + rng_integer(rng, e, free)
            if G[e, r, c] == EMPTY:
                break
        G[e, r, c] = i + 1
        pos[e, i, 0], pos[e, i, 1] = r, c
    for f in range(food.shape[1]):
        while True:
            r, c = 1 + rng_integer(rng, e, free), 1 + rng_integer(rng, e, free)
            if G[e, r, c] == EMPTY:
                break
        G[e, r, c] = FOOD
        food[e, f, 0], food[e, f, 1] = r, c


@numba.njit(cache=True)
def _reset_kernel(mask, rng, I, G, pos, food, nbr, obs, P):
    size, radius = np.int64(P[0]), np.int64(P[1])
    for e in range(I.shape[0]):
        if mask[e]:
            I[e, 0] = 0
            _place(rng, e, G, pos, food, size)
            _write_obs(obs, G, pos, e, radius, size)
            _write_neighbours(nbr, pos, e)


@numba.njit(cache=True)
def _step_kernel(actions, rng, I, G, pos, food, nbr, F, B, obs, final_obs, counts, P):
    size, radius, max_steps = np.int64(P[0]), np.int64(P[1]), np.int64(P[2])
    r_food, r_attack, r_victim, cost = P[3], P[4], P[5], P[6]
    n = actions.shape[1]
    for e in range(I.shape[0]):
        for i in range(n):
            F[e, 0, i] = 0.0
        # 1. attacks (all before any move)
        for i in range(n):
            a = actions[e, i]
            if a < N_MOVES:
                continue
            F[e, 0, i] += cost
            r = pos[e, i, 0] + ATTACKS[a - N_MOVES, 0]
            c = pos[e, i, 1] + ATTACKS[a - N_MOVES, 1]
            g = G[e, r, c]
            if g == FOOD:
                F[e, 0, i] += r_food
                counts[e, ON_FOOD] += 1
            elif g > 0:
                F[e, 0, i] += r_attack
                F[e, 0, g - 1] += r_victim
                counts[e, ON_AGENT] += 1
            elif g == WALL:
                counts[e, ON_WALL] += 1
            else:
                counts[e, ON_EMPTY] += 1
        # 2. moves, sequentially in agent-index order
        for i in range(n):
            a = actions[e, i]
            if a >= N_MOVES or a == 2:
                continue
            r = pos[e, i, 0] + MOVES[a, 0]
            c = pos[e, i, 1] + MOVES[a, 1]
            if G[e, r, c] == EMPTY:
                G[e, pos[e, i, 0], pos[e, i, 1]] = EMPTY
                G[e, r, c] = i + 1
                pos[e, i, 0], pos[e, i, 1] = r, c
        if end_step(e, I, F, B, max_steps, False):
            _write_obs(final_obs, G, pos, e, radius, size)
            I[e, 0] = 0
            _place(rng, e, G, pos, food, size)
        _write_obs(obs, G, pos, e, radius, size)
        _write_neighbours(nbr, pos, e)


class Jungle(MultiAgentEnv):
    """DGN's jungle (LToS Sec. 5.2), batched over ``n_envs`` copies; rules in the module doc.

    Parameters
    ----------
    n_envs : int
        Number of independent copies stepped together.
    n_agents, n_food : int
        Agents and foods (LToS: 20 and 12; Fig. 5 keeps agents : foods = 5 : 3, see
        :meth:`food_for`).
    n_neighbours : int
        Neighbourhood size including the agent itself (LToS: 4 = self + 3 closest; Fig. 6 varies
        the 3 from 1 to 5), at most ``n_agents``.
    size : int
        Side of the square map including the border walls (30).
    view_radius : int
        Radius of the circular view (5, an 11 x 11 field).
    max_steps : int
        Episode length (120, DGN's script).
    food_reward, attack_reward, victim_reward, attack_cost : float
        +1 for a hit on food, +2 / -4 for the attacker / victim of a hit on an agent, -0.01 for
        every attack action.
    """

    name = "jungle"
    n_actions = 9
    action_names = ("up", "left", "stay", "right", "down",
                    "attack_up", "attack_left", "attack_right", "attack_down")
    obs_low = -1.0
    obs_high = 1.0

    def __init__(self, n_envs: int = 1, n_agents: int = 20, n_food: int = 12,
                 n_neighbours: int = 4, size: int = 30, view_radius: int = 5,
                 max_steps: int = 120, food_reward: float = 1.0, attack_reward: float = 2.0,
                 victim_reward: float = -4.0, attack_cost: float = -0.01):
        self.size = check_int("size", size, min=3)
        free = (self.size - 2) ** 2
        self.n_agents = check_int("n_agents", n_agents, min=1, max=free)
        self.n_food = check_int("n_food", n_food, min=0, max=free - self.n_agents)
        self.n_neighbours = check_int("n_neighbours", n_neighbours, min=1, max=self.n_agents)
        self.view_radius = check_int("view_radius", view_radius, min=0)
        self.max_steps = check_int("max_steps", max_steps, min=1)
        self.food_reward = check_float("food_reward", food_reward)
        self.attack_reward = check_float("attack_reward", attack_reward)
        self.victim_reward = check_float("victim_reward", victim_reward)
        self.attack_cost = check_float("attack_cost", attack_cost)
        self.obs_dim = (2 * self.view_radius + 1) ** 2 + 2
        super().__init__(n_envs)

    @staticmethod
    def food_for(n_agents: int) -> int:
        """Foods for ``n_agents`` at LToS Fig. 5's ratio agents : foods = 5 : 3 (20 -> 12)."""
        return int(round(3 * check_int("n_agents", n_agents, min=1) / 5))

    def params(self) -> dict:
        return dict(n_agents=self.n_agents, n_food=self.n_food, n_neighbours=self.n_neighbours,
                    size=self.size, view_radius=self.view_radius, max_steps=self.max_steps,
                    food_reward=self.food_reward, attack_reward=self.attack_reward,
                    victim_reward=self.victim_reward, attack_cost=self.attack_cost)

    def _allocate(self):
        E, n = self.n_envs, self.n_agents
        self._G = np.zeros((E, self.size, self.size), dtype=np.int64)
        self._pos = np.zeros((E, n, 2), dtype=np.int64)
        self._food = np.zeros((E, self.n_food, 2), dtype=np.int64)
        self._nbr = np.zeros((E, n, self.n_neighbours), dtype=np.int64)
        self.attacks = np.zeros((E, 4), dtype=np.int64)
        self._P = np.array([self.size, self.view_radius, self.max_steps, self.food_reward,
                            self.attack_reward, self.victim_reward, self.attack_cost], dtype=np.float64)

    @property
    def positions(self) -> np.ndarray:
        """Agent cells ``(row, col)``, int ``(E, N, 2)`` (a copy)."""
        return self._pos.copy()

    @property
    def food_positions(self) -> np.ndarray:
        """Food cells ``(row, col)``, int ``(E, L, 2)`` (a copy)."""
        return self._food.copy()

    @property
    def neighbours(self) -> np.ndarray:
        """Each agent's neighbourhood in the current state, int ``(E, N, n_neighbours)``, itself in
        slot 0, then the nearest agents (module doc). A copy."""
        return self._nbr.copy()

    def place(self, agents, foods) -> np.ndarray:
        """Put agents and foods on given cells in every copy (for tests and demonstrations):
        ``agents`` int ``(N, 2)``, ``foods`` int ``(L, 2)`` of distinct free cells ``(row, col)``;
        returns the observations. The step counter is left as it is."""
        agents = np.asarray(agents, dtype=np.int64)
        foods = np.asarray(foods, dtype=np.int64).reshape(-1, 2)
        if agents.shape != (self.n_agents, 2) or foods.shape != (self.n_food, 2):
            raise ValueError(f"agents must have shape ({self.n_agents}, 2) and foods "
                             f"({self.n_food}, 2); got {agents.shape} and {foods.shape}")
        cells = np.concatenate([agents, foods])
        if cells.size and (cells.min() < 1 or cells.max() > self.size - 2):
            raise ValueError(f"cells must be inside the walls, rows and columns in [1, {self.size - 2}]")
        if len({tuple(c) for c in cells}) != len(cells):
            raise ValueError("agents and foods must be on distinct cells")
        if not self._has_reset:
            self.reset(0)
        size, radius = self.size, self.view_radius
        for e in range(self.n_envs):
            self._G[e, 1:-1, 1:-1] = EMPTY
            self._pos[e], self._food[e] = agents, foods
            for i, (r, c) in enumerate(agents):
                self._G[e, r, c] = i + 1
            for r, c in foods:
                self._G[e, r, c] = FOOD
            _write_obs(self._obs, self._G, self._pos, e, radius, size)
            _write_neighbours(self._nbr, self._pos, e)
        return self._obs.copy()

    def reset(self, seed: int = 0) -> np.ndarray:
        seed = check_int("seed", seed, min=0)  # before any state changes
        self.attacks[:] = 0
        return super().reset(seed)

    def _reset_kernel(self, mask):
        _reset_kernel(mask, self._rng, self._I, self._G, self._pos, self._food, self._nbr,
                      self._obs, self._P)

    def _step_kernel(self, actions):
        _step_kernel(actions, self._rng, self._I, self._G, self._pos, self._food, self._nbr,
                     self._F, self._B, self._obs, self.final_obs, self.attacks, self._P)

    def render(self, env_index: int = 0, cell: int = 12) -> np.ndarray:
        """RGB image of copy ``env_index``: walls grey, foods as gold squares, agents as discs
        (colours cycle over agents)."""
        e = self._check_env_index(env_index)
        cell = check_int("cell", cell, min=4)
        img = _r.canvas(self.size, self.size, cell, grid=False)
        G = self._G[e]
        for r in range(self.size):
            for c in range(self.size):
                if G[r, c] == WALL:
                    _r.fill_cell(img, r, c, _r.WALL, cell, margin=0)
                elif G[r, c] == FOOD:
                    _r.fill_cell(img, r, c, _r.GOAL, cell)
                elif G[r, c] > 0:
                    i = G[r, c] - 1
                    _r.disc_in_cell(img, r, c, _r.AGENT_COLORS[i % len(_r.AGENT_COLORS)], cell)
        return img
