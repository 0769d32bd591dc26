r"""Toy environments for learner sanity tests, on the batched :class:`MultiAgentEnv` interface.

Each has a known optimal return, so a test can check that a learner *solves* it:

:class:`GridWorld` (single agent)
    ``size x size`` grid, start in the top-left cell, goal in the bottom-right one.  Actions
    0 up, 1 down, 2 left, 3 right (moves into a wall leave the agent in place).  Every step costs
    ``step_cost``; entering the goal pays ``+1`` on top and ends the episode; time limit
    ``max_steps``.  Observation: one-hot of the cell (``size**2``).  Optimal return
    ``1 - step_cost * 2 (size - 1)`` (:attr:`GridWorld.optimal_return`).
:class:`Chain` (single agent)
    ``length`` states in a row, start at state 0.  Action 1 moves right, action 0 moves left (and
    stays at state 0, paying a small distracting reward ``small_reward``).  Reaching the last state
    pays ``+1`` and ends the episode; time limit ``max_steps`` (default ``length + 2``).
    Observation: one-hot of the state.  Optimal return 1 (always move right); the greedy
    "stay left" policy earns ``small_reward * max_steps`` (a local optimum that an undirected
    learner must escape by exploration, as in Osband et al. 2016's chain).
:class:`Bandit` (single agent)
    One-step episodes; arm ``a`` pays ``means[a] + noise_std * N(0, 1)``.  Observation: the
    constant 1.  Optimal expected return ``max(means)``.
:class:`MatrixGame` (2 agents)
    A repeated one-shot 2x2 matrix game (default: the prisoner's dilemma with ``T=5, R=3, P=1,
    S=0``; action 0 cooperate, 1 defect).  Observation: the constant 1 for both.  Used by the
    sharing-hook tests: selfish learners defect; with rewards fully mixed they cooperate.
"""

from __future__ import annotations

import numba
import numpy as np

from . import render as _r
from .base import MultiAgentEnv, rng_uniform

__all__ = ["GridWorld", "Chain", "Bandit", "MatrixGame"]


# ------------------------------------------------------------------------------------ gridworld
@numba.njit(cache=True)
def _grid_step(actions, pos, t, obs, rew, done, trunc, size, step_cost, max_steps):
    for e in range(pos.shape[0]):
        r, c = pos[e, 0], pos[e, 1]
        a = actions[e, 0]
        if a == 0 and r > 0:
            r -= 1
        elif a == 1 and r < size - 1:
            r += 1
        elif a == 2 and c > 0:
            c -= 1
        elif a == 3 and c < size - 1:
            c += 1
        obs[e, 0, pos[e, 0] * size + pos[e, 1]] = 0.0
        pos[e, 0] = r
        pos[e, 1] = c
        t[e] += 1
        goal = r == size - 1 and c == size - 1
        rew[e, 0] = -step_cost + (1.0 if goal else 0.0)
        d = goal or t[e] >= max_steps
        done[e] = d
        trunc[e] = d and not goal
        if d:
            pos[e, 0] = 0
            pos[e, 1] = 0
            t[e] = 0
        obs[e, 0, pos[e, 0] * size + pos[e, 1]] = 1.0


class GridWorld(MultiAgentEnv):
    """Single-agent gridworld (module docstring); ``size >= 2``."""

    name = "gridworld"
    n_agents = 1
    n_actions = 4
    action_names = ("up", "down", "left", "right")

    def __init__(self, n_envs: int = 1, size: int = 4, step_cost: float = 0.01, max_steps: int = 20):
        from sharelib.experiments import check_float, check_int

        self.size = check_int("size", size, min=2)
        self.step_cost = check_float("step_cost", step_cost, min=0.0)
        self.max_steps = check_int("max_steps", max_steps, min=2 * (self.size - 1))
        self.obs_dim = self.size * self.size
        super().__init__(n_envs)

    def params(self):
        return dict(size=self.size, step_cost=self.step_cost, max_steps=self.max_steps)

    @property
    def optimal_return(self) -> float:
        return 1.0 - self.step_cost * 2 * (self.size - 1)

    def _allocate(self):
        self._pos = np.zeros((self.n_envs, 2), dtype=np.int64)

    def _reset_kernel(self, mask):
        self._pos[mask] = 0
        self._t[mask] = 0
        self._obs[mask] = 0.0
        self._obs[mask, 0, 0] = 1.0

    def _step_kernel(self, actions):
        _grid_step(actions, self._pos, self._t, self._obs, self._rew, self._done, self.truncated,
                   self.size, self.step_cost, self.max_steps)

    def render(self, env_index: int = 0, cell: int = 24) -> np.ndarray:
        e = self._check_env_index(env_index)
        img = _r.canvas(self.size, self.size, cell)
        _r.fill_cell(img, self.size - 1, self.size - 1, _r.GOAL, cell)
        _r.disc_in_cell(img, int(self._pos[e, 0]), int(self._pos[e, 1]), _r.AGENT_COLORS[0], cell)
        return img


# ---------------------------------------------------------------------------------------- chain
@numba.njit(cache=True)
def _chain_step(actions, pos, t, obs, rew, done, trunc, length, small_reward, max_steps):
    for e in range(pos.shape[0]):
        s = pos[e]
        r = 0.0
        if actions[e, 0] == 1:
            s += 1
        elif s > 0:
            s -= 1
        else:
            r = small_reward
        obs[e, 0, pos[e]] = 0.0
        pos[e] = s
        t[e] += 1
        goal = s == length - 1
        if goal:
            r = 1.0
        rew[e, 0] = r
        d = goal or t[e] >= max_steps
        done[e] = d
        trunc[e] = d and not goal
        if d:
            pos[e] = 0
            t[e] = 0
        obs[e, 0, pos[e]] = 1.0


class Chain(MultiAgentEnv):
    """Single-agent chain with a distracting small reward (module docstring); ``length >= 2``."""

    name = "chain"
    n_agents = 1
    n_actions = 2
    action_names = ("left", "right")

    def __init__(self, n_envs: int = 1, length: int = 8, small_reward: float = 0.01, max_steps=None):
        from sharelib.experiments import check_float, check_int

        self.length = check_int("length", length, min=2)
        self.small_reward = check_float("small_reward", small_reward, min=0.0)
        self.max_steps = check_int("max_steps", self.length + 2 if max_steps is None else max_steps,
                                   min=self.length - 1)
        self.obs_dim = self.length
        super().__init__(n_envs)

    def params(self):
        return dict(length=self.length, small_reward=self.small_reward, max_steps=self.max_steps)

    optimal_return = 1.0

    def _allocate(self):
        self._pos = np.zeros(self.n_envs, dtype=np.int64)

    def _reset_kernel(self, mask):
        self._pos[mask] = 0
        self._t[mask] = 0
        self._obs[mask] = 0.0
        self._obs[mask, 0, 0] = 1.0

    def _step_kernel(self, actions):
        _chain_step(actions, self._pos, self._t, self._obs, self._rew, self._done, self.truncated,
                    self.length, self.small_reward, self.max_steps)

    def render(self, env_index: int = 0, cell: int = 24) -> np.ndarray:
        e = self._check_env_index(env_index)
        img = _r.canvas(1, self.length, cell)
        _r.fill_cell(img, 0, self.length - 1, _r.GOAL, cell)
        _r.disc_in_cell(img, 0, int(self._pos[e]), _r.AGENT_COLORS[0], cell)
        return img


# --------------------------------------------------------------------------------------- bandit
@numba.njit(cache=True)
def _bandit_step(actions, rng, means, noise_std, rew, done, trunc):
    for e in range(actions.shape[0]):
        # Box-Muller from the copy's own stream
        u1 = rng_uniform(rng, e)
        u2 = rng_uniform(rng, e)
        z = np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(2.0 * np.pi * u2)
        rew[e, 0] = means[actions[e, 0]] + noise_std * z
        done[e] = True
        trunc[e] = False


class Bandit(MultiAgentEnv):
    """Single-agent k-armed Gaussian bandit with one-step episodes (module docstring)."""

    name = "bandit"
    n_agents = 1
    obs_dim = 1
    max_steps = 1

    def __init__(self, n_envs: int = 1, means=(0.2, 0.5, 0.9, 0.4), noise_std: float = 0.1):
        from sharelib.experiments import check_float

        means = np.asarray(means, dtype=np.float64)
        if means.ndim != 1 or means.size < 2 or not np.all(np.isfinite(means)):
            raise ValueError(f"means must be a 1-D sequence of >= 2 finite floats; got {means!r}")
        self.means = means
        self.n_actions = int(means.size)
        self.noise_std = check_float("noise_std", noise_std, min=0.0)
        super().__init__(n_envs)

    def params(self):
        return dict(means=tuple(self.means.tolist()), noise_std=self.noise_std)

    @property
    def optimal_return(self) -> float:
        return float(self.means.max())

    def _allocate(self):
        pass

    def _reset_kernel(self, mask):
        self._obs[mask] = 1.0

    def _step_kernel(self, actions):
        _bandit_step(actions, self._rng, self.means, self.noise_std, self._rew, self._done, self.truncated)

    def render(self, env_index: int = 0, cell: int = 24) -> np.ndarray:
        self._check_env_index(env_index)
        img = _r.canvas(1, self.n_actions, cell)
        best = int(np.argmax(self.means))
        _r.fill_cell(img, 0, best, _r.GOAL, cell)
        return img


# --------------------------------------------------------------------------------- matrix game
@numba.njit(cache=True)
def _matrix_step(actions, payoff, rew, done, trunc):
    for e in range(actions.shape[0]):
        a0 = actions[e, 0]
        a1 = actions[e, 1]
        rew[e, 0] = payoff[a0, a1, 0]
        rew[e, 1] = payoff[a0, a1, 1]
        done[e] = True
        trunc[e] = False


class MatrixGame(MultiAgentEnv):
    """Repeated one-shot two-player matrix game (module docstring).

    ``payoff[a0, a1] = (reward of agent 0, reward of agent 1)``, shape ``(k, k, 2)``; the
    default is the prisoner's dilemma ``T=5, R=3, P=1, S=0`` (0 = cooperate, 1 = defect).
    """

    name = "matrix_game"
    n_agents = 2
    obs_dim = 1
    max_steps = 1

    PRISONERS_DILEMMA = np.array([[[3.0, 3.0], [0.0, 5.0]], [[5.0, 0.0], [1.0, 1.0]]])

    def __init__(self, n_envs: int = 1, payoff=None):
        payoff = self.PRISONERS_DILEMMA if payoff is None else np.asarray(payoff, dtype=np.float64)
        if payoff.ndim != 3 or payoff.shape[0] != payoff.shape[1] or payoff.shape[2] != 2:
            raise ValueError(f"payoff must have shape (k, k, 2); got {payoff.shape}")
        self.payoff = np.ascontiguousarray(payoff, dtype=np.float64)
        self.n_actions = int(payoff.shape[0])
        super().__init__(n_envs)

    def params(self):
        return dict(payoff=self.payoff.tolist())

    def _allocate(self):
        pass

    def _reset_kernel(self, mask):
        self._obs[mask] = 1.0

    def _step_kernel(self, actions):
        _matrix_step(actions, self.payoff, self._rew, self._done, self.truncated)

    def render(self, env_index: int = 0, cell: int = 24) -> np.ndarray:
        self._check_env_index(env_index)
        return _r.canvas(self.n_actions, self.n_actions, cell)
