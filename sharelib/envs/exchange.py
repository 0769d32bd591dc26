r"""Exchange: three agents open each other's food boxes, or free-ride (AS paper, Sec. 5.1 and 5.3).

What the paper says (Anticipation Sharing, Sec. 5.1, "Exchange")
----------------------------------------------------------------
"Three agents interact with three boxes, each containing food for a specific agent. However, a box
can only be opened by another agent at a cost of 5 reward points. The food's intended recipient
gains 10 reward points. Every agent loses 0.01 reward points per time step, with a maximum of 300
steps per episode. [...] The time horizon of an episode is set as 300. The environment size is
5x5. [...] The state comprises the positions of agents and food items, randomly initialized each
episode. Agents can move in four directions, open a box, or stay still. Neighboring agents are
defined by the dashed outline rectangles." Sec. 5.3: "The optimal cooperative policy yields
approximately 6, while the non-cooperative policy results in -9." The figure with the layout and
the "dashed outline rectangles" (Fig. 8b) is missing from our copy; everything below the quote is
our reading, chosen so that it is simple and reproduces the paper's two totals.

Rules we chose (all documented choices)
---------------------------------------
- Grid ``size x size`` (5x5), no walls. A move off the grid leaves the agent where it is. Agents
  never block each other: any number of agents may share a cell, and agents may stand on boxes.
- Actions (6): 0 = up, 1 = down, 2 = left, 3 = right, 4 = open, 5 = stay.
- Box ``k`` holds agent ``k``'s food. "open" works only for an agent standing **on** the cell of an
  unopened box that is not its own (on, not next to: boxes sit on distinct cells, so the box an
  agent opens is never ambiguous). Otherwise "open" does nothing (it is a "stay"). The owner
  trying to open its own box changes nothing; an opened box stays opened until the episode ends.
- When box ``k`` is opened its owner gains ``food_reward`` (10) **immediately**, in the reward of
  the same step, wherever it is (it need not walk to the box). The opener pays ``open_cost`` (5).
  If ``m`` agents open the same box in the same step, it opens once, the owner gains 10 once and
  each of the ``m`` openers pays ``open_cost / m`` (the total is unchanged; no index order
  decides who pays).
- Every agent receives ``-step_cost`` (0.01) on every step, whatever it does.
- Fixed episode length: an episode lasts exactly ``max_steps`` (300) steps and does not end when
  all boxes are open; every episode ends by the time limit (``truncated`` is set). This is the
  reading that gives the paper's totals: the step cost is paid for all 300 steps by all 3 agents
  (``3 * 0.01 * 300 = 9``), so the optimum, every box opened once by another agent, totals
  ``3 * (10 - 5) - 9 = 6`` exactly (not just "approximately": walking to a box costs nothing
  beyond the step cost, which is paid anyway), and nobody opening anything totals ``-9``. (Had
  episodes ended once all boxes were open, the optimum would be about ``15 - 0.03 T``, near 14.7,
  not 6.) :func:`scripted_totals` rolls both policies out in the environment; the tests check 6
  and -9.
- Start: the 3 boxes and the 3 agents are put on 6 distinct cells drawn uniformly at random at
  every reset (so no agent starts on a box).
- Observation (the same global state for every agent, as the paper's learners condition on ``s``):
  a flat float vector in ``[0, 1]``: ``(row, col) / (size - 1)`` of agents 0, 1, 2, then of boxes
  0, 1, 2, then the three "box opened" flags (``obs_dim = 4 n + n = 15``). With
  ``agent_id=True`` the one-hot index of the observing agent is appended (``obs_dim = 18``), so
  that a network shared by all agents can tell them apart; default ``False`` (each AS agent has its
  own networks, and the paper's state has no index). No time feature is included.
- Communication graph: the paper's neighbourhoods (Fig. 8b) are missing; with 3 agents we use the
  complete graph (every agent is a neighbour of the two others). :attr:`Exchange.adjacency`
  ``(n, n)`` and :meth:`Exchange.neighbours` ``(E, n, n)`` (the same for every copy and step)
  give it; an agent is not its own neighbour unless ``include_self=True``.

Why it is a social dilemma: opening a box costs the opener 5 and pays only its owner 10, so a
self-interested agent never opens one (the free-rider outcome, -9 in total), while every agent
opening one box for another pays each agent ``10 - 5 = +5`` (6 in total).
"""

from __future__ import annotations

import numba
import numpy as np

from ..experiments import check_bool, check_float, check_int
from .base import MultiAgentEnv, end_step
from . import render as _r
from .cells import place_distinct, write_global_obs

__all__ = ["Exchange", "scripted_totals"]

_DR = np.array([-1, 1, 0, 0], dtype=np.int64)
_DC = np.array([0, 0, -1, 1], dtype=np.int64)
OPEN, STAY = 4, 5

# packed int state columns of I (column 0 is the step counter), for n agents:
# 1 .. n: agent cells; n+1 .. 2n: box cells; 2n+1 .. 3n: box opened flags; 3n+1 .. 4n: open counts


@numba.njit(cache=True)
def _write_obs(obs, I, e, S, n, agent_id):
    write_global_obs(obs, e, I[e, 1:1 + 2 * n], S, I[e, 1 + 2 * n:1 + 3 * n], agent_id)


@numba.njit(cache=True)
def _reset_one(rng, e, I, S, n):
    I[e, 0] = 0
    place_distinct(rng, e, I[e, 1:1 + 2 * n], S * S)  # agents, then boxes, on 2n distinct cells
    for k in range(n):
        I[e, 1 + 2 * n + k] = 0


@numba.njit(cache=True)
def _reset_kernel(mask, rng, I, obs, P):
    S, agent_id = np.int64(P[0]), P[5] > 0
    n = obs.shape[1]
    for e in range(I.shape[0]):
        if mask[e]:
            _reset_one(rng, e, I, S, n)
            _write_obs(obs, I, e, S, n, agent_id)


@numba.njit(cache=True)
def _step_kernel(actions, rng, I, F, B, obs, final_obs, P):
    S, max_steps = np.int64(P[0]), np.int64(P[1])
    open_cost, food_reward, step_cost, agent_id = P[2], P[3], P[4], P[5] > 0
    n = actions.shape[1]
    for e in range(I.shape[0]):
        for i in range(n):
            F[e, 0, i] = -step_cost
        # opening (at the positions before the moves; an opener does not move this step)
        for k in range(n):
            if I[e, 1 + 2 * n + k] != 0:
                continue
            box = I[e, 1 + n + k]
            m = 0
            for i in range(n):
                if i != k and actions[e, i] == OPEN and I[e, 1 + i] == box:
                    m += 1
            if m > 0:
                I[e, 1 + 2 * n + k] = 1
                F[e, 0, k] += food_reward
                share = open_cost / m
                for i in range(n):
                    if i != k and actions[e, i] == OPEN and I[e, 1 + i] == box:
                        F[e, 0, i] -= share
                        I[e, 1 + 3 * n + i] += 1
        # moves (off the grid: stay)
        for i in range(n):
            a = actions[e, i]
            if a < 4:
                p = I[e, 1 + i]
                r = p // S + _DR[a]
                c = p % S + _DC[a]
                if 0 <= r < S and 0 <= c < S:
                    I[e, 1 + i] = r * S + c
        if end_step(e, I, F, B, max_steps, False):
            _write_obs(final_obs, I, e, S, n, agent_id)
            _reset_one(rng, e, I, S, n)
        _write_obs(obs, I, e, S, n, agent_id)


@numba.njit(cache=True)
def _scripted_actions(I, S, cooperative, out):
    """Scripted policies over all copies: ``cooperative`` -- agent i walks (rows first, then
    columns) to box ``(i + 1) % n`` and opens it, then stays; otherwise (selfish) everybody stays."""
    n = out.shape[1]
    for e in range(I.shape[0]):
        for i in range(n):
            out[e, i] = STAY
            if not cooperative:
                continue
            k = (i + 1) % n
            if I[e, 1 + 2 * n + k] != 0:
                continue
            p, b = I[e, 1 + i], I[e, 1 + n + k]
            dr, dc = b // S - p // S, b % S - p % S
            if dr < 0:
                out[e, i] = 0
            elif dr > 0:
                out[e, i] = 1
            elif dc < 0:
                out[e, i] = 2
            elif dc > 0:
                out[e, i] = 3
            else:
                out[e, i] = OPEN


class Exchange(MultiAgentEnv):
    """The AS paper's Exchange game, batched over ``n_envs`` copies (rules in the module doc).

    Parameters
    ----------
    n_envs : int
        Number of independent copies stepped together.
    size : int
        Side of the square grid (AS: 5).
    max_steps : int
        Episode length; every episode lasts exactly this long (AS: 300).
    open_cost, food_reward, step_cost : float
        Cost to the opener (AS: 5), gain of the box's owner (AS: 10), loss of every agent per step
        (AS: 0.01).
    agent_id : bool
        Append the one-hot index of the observing agent to its observation (default False).

    Attributes
    ----------
    open_counts : int array (E, n)
        Boxes opened by each agent since the last ``reset(seed)`` (each of simultaneous openers
        counts one).
    adjacency : bool array (n, n)
        The communication graph (complete, no self loops).
    """

    name = "exchange"
    n_agents = 3
    n_actions = 6
    action_names = ("up", "down", "left", "right", "open", "stay")
    UP, DOWN, LEFT, RIGHT, OPEN, STAY = 0, 1, 2, 3, OPEN, STAY
    obs_low = 0.0
    obs_high = 1.0
    int_state_cols = 4 * 3  # agent cells, box cells, opened flags, open counts

    def __init__(self, n_envs: int = 1, size: int = 5, max_steps: int = 300,
                 open_cost: float = 5.0, food_reward: float = 10.0, step_cost: float = 0.01,
                 agent_id: bool = False):
        self.size = check_int("size", size, min=3)
        self.max_steps = check_int("max_steps", max_steps, min=1)
        self.open_cost = check_float("open_cost", open_cost)
        self.food_reward = check_float("food_reward", food_reward)
        self.step_cost = check_float("step_cost", step_cost)
        self.agent_id = check_bool("agent_id", agent_id)
        n = self.n_agents
        self.obs_dim = 5 * n + (n if self.agent_id else 0)
        self.adjacency = ~np.eye(n, dtype=np.bool_)
        super().__init__(n_envs)

    def params(self) -> dict:
        return dict(size=self.size, max_steps=self.max_steps, open_cost=self.open_cost,
                    food_reward=self.food_reward, step_cost=self.step_cost, agent_id=self.agent_id)

    def _allocate(self):
        n = self.n_agents
        self.open_counts = self._I[:, 1 + 3 * n:1 + 4 * n]  # a view
        self._P = np.array([self.size, self.max_steps, self.open_cost, self.food_reward,
                            self.step_cost, self.agent_id], dtype=np.float64)

    def neighbours(self, include_self: bool = False) -> np.ndarray:
        """The communication graph for every copy, bool ``(E, n, n)`` (complete; fixed)."""
        A = self.adjacency | (np.eye(self.n_agents, dtype=np.bool_) if include_self else False)
        return np.broadcast_to(A, (self.n_envs,) + A.shape).copy()

    # -- state access (copies) -----------------------------------------------------------------
    def _rc(self, cols):
        cells = self._I[:, cols]
        return np.stack([cells // self.size, cells % self.size], axis=-1)

    @property
    def agent_positions(self) -> np.ndarray:
        """``(row, col)`` of every agent, int ``(E, n, 2)``."""
        n = self.n_agents
        return self._rc(slice(1, 1 + n))

    @property
    def box_positions(self) -> np.ndarray:
        """``(row, col)`` of every box (box k holds agent k's food), int ``(E, n, 2)``."""
        n = self.n_agents
        return self._rc(slice(1 + n, 1 + 2 * n))

    @property
    def opened(self) -> np.ndarray:
        """Which boxes are open, bool ``(E, n)``."""
        n = self.n_agents
        return self._I[:, 1 + 2 * n:1 + 3 * n].astype(bool)

    def set_state(self, agents, boxes, opened=False) -> np.ndarray:
        """Put every copy in a given state (for tests and figures); returns the new observation.

        ``agents``, ``boxes``: int ``(E, n, 2)`` or ``(n, 2)`` of ``(row, col)``; boxes on distinct
        cells, agents anywhere. ``opened``: bool ``(E, n)``, ``(n,)`` or scalar.
        """
        S, E, n = self.size, self.n_envs, self.n_agents
        ag = np.broadcast_to(np.asarray(agents, dtype=np.int64), (E, n, 2))
        bx = np.broadcast_to(np.asarray(boxes, dtype=np.int64), (E, n, 2))
        op = np.broadcast_to(np.asarray(opened, dtype=bool), (E, n))
        if min(ag.min(), bx.min()) < 0 or max(ag.max(), bx.max()) >= S:
            raise ValueError(f"positions must be in [0, {S - 1}]")
        bcells = bx[..., 0] * S + bx[..., 1]
        if any(len(set(row.tolist())) < n for row in bcells):
            raise ValueError("boxes must be on distinct cells")
        if not self._has_reset:
            self.reset(0)
        self._I[:, 1:1 + n] = ag[..., 0] * S + ag[..., 1]
        self._I[:, 1 + n:1 + 2 * n] = bcells
        self._I[:, 1 + 2 * n:1 + 3 * n] = op
        for e in range(E):
            _write_obs(self._obs, self._I, e, S, n, self.agent_id)
        return self._obs.copy()

    def scripted_actions(self, cooperative: bool = True) -> np.ndarray:
        """Actions int ``(E, n)`` of the scripted policies in the current state: cooperative (agent
        i walks to box ``(i + 1) % n`` and opens it) or selfish (everybody stays, nobody opens)."""
        out = np.empty((self.n_envs, self.n_agents), dtype=np.int64)
        _scripted_actions(self._I, self.size, check_bool("cooperative", cooperative), out)
        return out

    def reset(self, seed: int = 0) -> np.ndarray:
        seed = check_int("seed", seed, min=0)  # before any state changes
        self.open_counts[:] = 0
        return super().reset(seed)

    def _reset_kernel(self, mask):
        _reset_kernel(mask, self._rng, self._I, self._obs, self._P)

    def _step_kernel(self, actions):
        _step_kernel(actions, self._rng, self._I, self._F, self._B, self._obs, self.final_obs,
                     self._P)

    def render(self, env_index: int = 0, cell: int = 32) -> np.ndarray:
        """RGB image of copy ``env_index``: boxes as squares in their owner's colour (grey once
        opened), agents as discs (0 red, 1 blue, 2 green)."""
        e = self._check_env_index(env_index)
        S, n = self.size, self.n_agents
        img = _r.canvas(S, S, cell)
        for k in range(n):
            b = int(self._I[e, 1 + n + k])
            color = (170, 170, 170) if self._I[e, 1 + 2 * n + k] else _r.AGENT_COLORS[k]
            _r.fill_cell(img, b // S, b % S, (0, 0, 0), cell, margin=4)
            _r.fill_cell(img, b // S, b % S, color, cell, margin=6)
        for i in range(n):
            p = int(self._I[e, 1 + i])
            dx = 0.22 * (i - 1)
            _r.disc_in_cell(img, p // S, p % S, (0, 0, 0), cell, 0.22, dx)
            _r.disc_in_cell(img, p // S, p % S, _r.AGENT_COLORS[i], cell, 0.17, dx)
        return img


def scripted_totals(n_envs: int = 64, seed: int = 0, **params) -> dict:
    """Mean total (summed over agents) episode return of the scripted cooperative and selfish
    policies, rolled out for one full episode in :class:`Exchange` (``params`` are its keywords).

    Returns ``{"cooperative": ..., "selfish": ..., "expected_cooperative": ...,
    "expected_selfish": ...}``, the last two the closed forms ``n (food - cost) - n c T`` and
    ``-n c T`` (the cooperative one holds whenever every agent reaches its box within ``T`` steps,
    which on a 5x5 grid takes at most 9 steps).
    """
    out = {}
    for name, coop in (("cooperative", True), ("selfish", False)):
        env = Exchange(n_envs=n_envs, **params)
        env.reset(seed)
        for _ in range(env.max_steps):
            _, _, d = env.step(env.scripted_actions(coop))
        assert d.all()
        out[name] = float(env.last_episode_return.sum(1).mean())
    n, T = env.n_agents, env.max_steps
    out["expected_cooperative"] = n * (env.food_reward - env.open_cost) - n * env.step_cost * T
    out["expected_selfish"] = -n * env.step_cost * T
    return out
