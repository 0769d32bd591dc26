r"""LToS's *prisoner* corridor: a grid version of the prisoner's dilemma (Yi et al. 2022, Sec. 5.1).

Rules (LToS Sec. 5.1, Fig. 2a)
------------------------------
"There are two agents A and B that respectively start on two sides of the middle of a grid
corridor with *full* observation. At each timestep, each agent chooses an action *left* or *right*
and moves to the corresponding adjacent grid, and every action incurs a cost -0.01. There are three
goals, two goals at both ends and one in the middle. The agent gets a reward +1 for reaching the
goal. The game ends once some agent reaches a goal or two agents reach different goals
simultaneously." If both reach the middle goal together "a collision occurs and only one of the
agents wins the goal with equal probability". The paper reports DQN converging to defect/defect
with an average return of about 0.5 and LToS reaching about 1 ("the highest possible return").

Layout (our choice: the figure with the layout is missing from our copy of the paper)
--------------------------------------------------------------------------------------
With ``d_middle`` (steps from a start cell to the middle goal) and ``d_end`` (steps to the agent's
own end goal), the corridor has ``L = 2 (d_end + d_middle) + 1`` cells; goals are the cells
``0``, ``d_end + d_middle`` (middle) and ``L - 1``; A (``agent_0``) starts at ``d_end`` and B
(``agent_1``) at ``d_end + 2 d_middle``. The default ``d_middle = 1, d_end = 2`` gives::

    cell:  0  1  2  3  4  5  6
           G  .  A  G  B  .  G        (7 cells, G = goal)

Because the game ends as soon as a goal is reached, the one-shot strategies "cooperate" (C: walk to
your own end goal) and "defect" (D: walk to the middle goal) pay, with move cost ``c`` and goal
reward ``g`` (rows: my strategy, columns: the other's)::

              C                         D
    C   R = g - c d_end           S = -c d_middle
    D   T = g - c d_middle        P = g / 2 - c d_middle   (expected, random winner)

which for the defaults is R = 0.98, S = -0.01, T = 0.99, P = 0.49: a prisoner's dilemma
(T > R > P > S and 2R > T + S) whenever ``0 < c (d_end - d_middle) < g / 2``. Selfish learners end
at D/D (average return 0.49, "about 0.5"); with fully mixed rewards (each agent learns from the
mean of both rewards, A_ij = 1/2) the payoffs become C/C 0.98, C/D = D/C = 0.49, D/D 0.49, so C
weakly dominates and C/C (0.98, "about 1") is the only equilibrium in undominated strategies.
:func:`strategy_payoffs` gives these closed forms; the tests check them against rollouts.

Other details (our reading): actions 0 = left, 1 = right (no "stay", as in the paper); both agents
move simultaneously; the cost ``-c`` is paid on every step including the one reaching a goal; an
episode is also cut at ``max_steps`` (default 20, counted as truncation). Observation of each agent
(full observation): one-hot of its own cell followed by one-hot of the other agent's cell
(``obs_dim = 2 L``).
"""

from __future__ import annotations

import numba
import numpy as np

from .base import MultiAgentEnv, end_step, rng_integer
from . import render as _r

__all__ = ["PrisonerCorridor", "strategy_payoffs"]


@numba.njit(cache=True)
def _write_obs(obs, I, e, L):
    # I[e, 1], I[e, 2]: cells of agents 0 and 1
    for i in range(2):
        for k in range(2 * L):
            obs[e, i, k] = 0.0
        obs[e, i, I[e, 1 + i]] = 1.0
        obs[e, i, L + I[e, 2 - i]] = 1.0


@numba.njit(cache=True)
def _reset_one(I, e, d_middle, d_end):
    I[e, 0] = 0
    I[e, 1] = d_end
    I[e, 2] = d_end + 2 * d_middle


@numba.njit(cache=True)
def _reset_kernel(mask, I, obs, P):
    d_middle, d_end = np.int64(P[0]), np.int64(P[1])
    L = 2 * (d_end + d_middle) + 1
    for e in range(I.shape[0]):
        if mask[e]:
            _reset_one(I, e, d_middle, d_end)
            _write_obs(obs, I, e, L)


@numba.njit(cache=True)
def _step_kernel(actions, rng, I, F, B, obs, final_obs, P):
    d_middle, d_end = np.int64(P[0]), np.int64(P[1])
    move_cost, goal_reward, max_steps = P[2], P[3], np.int64(P[4])
    L = 2 * (d_end + d_middle) + 1
    mid = d_end + d_middle
    for e in range(I.shape[0]):
        for i in range(2):
            p = I[e, 1 + i] + (1 if actions[e, i] == 1 else -1)
            if p < 0:
                p = 0
            elif p > L - 1:
                p = L - 1
            I[e, 1 + i] = p
            F[e, 0, i] = -move_cost
        p0 = I[e, 1]
        p1 = I[e, 2]
        at_goal0 = p0 == 0 or p0 == mid or p0 == L - 1
        at_goal1 = p1 == 0 or p1 == mid or p1 == L - 1
        if p0 == mid and p1 == mid:
            # collision on the middle goal: one of the two wins it with equal probability
            F[e, 0, rng_integer(rng, e, 2)] += goal_reward
        else:
            if at_goal0:
                F[e, 0, 0] += goal_reward
            if at_goal1:
                F[e, 0, 1] += goal_reward
        if end_step(e, I, F, B, max_steps, at_goal0 or at_goal1):
            _write_obs(final_obs, I, e, L)
            _reset_one(I, e, d_middle, d_end)
        _write_obs(obs, I, e, L)


def strategy_payoffs(d_middle: int = 1, d_end: int = 2, move_cost: float = 0.01,
                     goal_reward: float = 1.0) -> dict:
    """Closed-form expected returns of the one-shot strategies C (own end goal) and D (middle goal).

    Returns a dict ``{("C", "C"): (r_A, r_B), ("C", "D"): ..., ("D", "C"): ..., ("D", "D"): ...}``
    with A's strategy first (see the module docstring for the table).
    """
    R = goal_reward - move_cost * d_end
    S = -move_cost * d_middle
    T = goal_reward - move_cost * d_middle
    P = goal_reward / 2 - move_cost * d_middle
    return {("C", "C"): (R, R), ("C", "D"): (S, T), ("D", "C"): (T, S), ("D", "D"): (P, P)}


class PrisonerCorridor(MultiAgentEnv):
    """LToS's prisoner corridor (Sec. 5.1), batched over ``n_envs`` copies; layout in the module doc.

    Parameters
    ----------
    n_envs : int
        Number of independent copies stepped together.
    d_middle : int
        Steps from a start cell to the middle goal (>= 1).
    d_end : int
        Steps from a start cell to the agent's own end goal (> ``d_middle``).
    move_cost : float
        Cost of every action (the paper: 0.01).
    goal_reward : float
        Reward for reaching a goal (the paper: 1).
    max_steps : int
        Time limit of an episode (our choice; the paper gives none).
    """

    name = "prisoner_corridor"
    n_agents = 2
    n_actions = 2
    action_names = ("left", "right")
    LEFT, RIGHT = 0, 1
    int_state_cols = 2  # cells of agents 0 and 1

    def __init__(self, n_envs: int = 1, d_middle: int = 1, d_end: int = 2, move_cost: float = 0.01,
                 goal_reward: float = 1.0, max_steps: int = 20):
        from sharelib.experiments import check_float, check_int

        self.d_middle = check_int("d_middle", d_middle, min=1)
        self.d_end = check_int("d_end", d_end, min=self.d_middle + 1)
        self.move_cost = check_float("move_cost", move_cost, min=0.0)
        self.goal_reward = check_float("goal_reward", goal_reward, min=0.0, min_inclusive=False)
        self.max_steps = check_int("max_steps", max_steps, min=1)
        self.length = 2 * (self.d_end + self.d_middle) + 1
        self.middle = self.d_end + self.d_middle
        self.goals = (0, self.middle, self.length - 1)
        self.obs_dim = 2 * self.length
        super().__init__(n_envs)

    def params(self) -> dict:
        return dict(d_middle=self.d_middle, d_end=self.d_end, move_cost=self.move_cost,
                    goal_reward=self.goal_reward, max_steps=self.max_steps)

    def payoffs(self) -> dict:
        """:func:`strategy_payoffs` for this instance's parameters."""
        return strategy_payoffs(self.d_middle, self.d_end, self.move_cost, self.goal_reward)

    @property
    def positions(self) -> np.ndarray:
        """Cells of both agents, int ``(E, 2)`` (a copy)."""
        return self._I[:, 1:3].copy()

    def _allocate(self):
        self._P = np.array([self.d_middle, self.d_end, self.move_cost, self.goal_reward,
                            self.max_steps], dtype=np.float64)

    def _reset_kernel(self, mask):
        _reset_kernel(mask, self._I, self._obs, self._P)

    def _step_kernel(self, actions):
        _step_kernel(actions, self._rng, self._I, self._F, self._B, self._obs, self.final_obs, self._P)

    def render(self, env_index: int = 0, cell: int = 32) -> np.ndarray:
        """RGB image of copy ``env_index``: goals gold, A red, B blue."""
        e = self._check_env_index(env_index)
        img = _r.canvas(1, self.length, cell)
        for g in self.goals:
            _r.fill_cell(img, 0, g, _r.GOAL, cell)
        p0, p1 = self._I[e, 1:3]
        if p0 == p1:
            _r.disc_in_cell(img, 0, p0, _r.AGENT_COLORS[0], cell, 0.25, -0.2)
            _r.disc_in_cell(img, 0, p1, _r.AGENT_COLORS[1], cell, 0.25, 0.2)
        else:
            _r.disc_in_cell(img, 0, p0, _r.AGENT_COLORS[0], cell)
            _r.disc_in_cell(img, 0, p1, _r.AGENT_COLORS[1], cell)
        return img
