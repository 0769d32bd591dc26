"""The batched multi-agent environment interface shared by every environment in :mod:`sharelib.envs`.

An environment object holds ``E`` independent copies (``n_envs``) of one game with ``n`` agents.
All state lives in plain NumPy arrays; stepping all copies is one call of an ``@njit(cache=True)``
kernel, so a batch of 1024 copies costs little more Python overhead than a single one.

Contract (what learners may rely on, and nothing else)
------------------------------------------------------
- ``Env(n_envs=1, **game_params)``; attributes ``n_envs`` (E), ``n_agents`` (n), ``obs_dim``,
  ``n_actions`` (discrete, the same for every agent), ``max_steps`` (time limit),
  ``agents`` (``["agent_0", ...]``), ``observation_shape`` (``(obs_dim,)``), and per-agent
  ``action_specs`` / ``observation_specs`` (dicts keyed by agent name).
- ``reset(seed) -> obs``: float32 ``(E, n, obs_dim)``. Every copy is seeded deterministically from
  ``seed`` (copy ``e`` gets its own random stream, spawned with :class:`numpy.random.SeedSequence`),
  so copy ``e``'s trajectory under given actions does not depend on ``n_envs`` or on other copies.
- ``step(actions) -> (obs, rewards, dones)``: ``actions`` int array ``(E, n)`` with values in
  ``[0, n_actions)``; ``obs`` float32 ``(E, n, obs_dim)``; ``rewards`` float64 ``(E, n)``;
  ``dones`` bool ``(E,)``. A copy whose episode ended (terminal state or time limit) is reset inside
  the same step and the returned ``obs`` of that copy is its new first observation (as gymnasium
  vector environments do); learners treat ``dones`` as episode boundaries. ``truncated`` (bool
  ``(E,)``, attribute) tells which of the ended copies ended by the time limit only, and
  ``final_obs`` (float32 ``(E, n, obs_dim)``, attribute) holds, for the copies with ``dones`` set by
  the last step, the observation of the state where the episode ended (other rows are stale).
- ``episode_return`` (float64 ``(E, n)``) is the return so far of the running episode of each copy;
  ``last_episode_return`` that of its last finished episode (NaN before the first one).
- ``render(env_index=0) -> uint8 (H, W, 3)`` RGB image of one copy.
- The returned arrays are fresh (never overwritten by a later ``step``), so learners may store them.

Randomness inside the games uses a per-copy SplitMix64 stream (:func:`rng_uniform`,
:func:`rng_integer`) kept in ``self._rng`` (uint64 ``(E,)``); numba's global RNG is not touched, so
several environments can be interleaved without changing each other's numbers.

Subclasses implement ``_reset_kernel(mask)`` and ``_step_kernel(actions)`` (both fill the
preallocated buffers: ``self._obs``, ``self.final_obs`` and the packed state ``self._I`` (int),
``self._F`` (rewards and returns), ``self._B`` (done flags); see ``MultiAgentEnv.__init__``) and
``render``. :func:`end_step` does the common per-copy bookkeeping inside a step kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from ..experiments import check_int

__all__ = [
    "MultiAgentEnv",
    "DiscreteSpec",
    "BoxSpec",
    "rng_next",
    "rng_uniform",
    "rng_integer",
    "seed_states",
    "end_step",
]


# ----------------------------------------------------------------------------------------------
# specs (plain dataclasses: no gymnasium dependency at run time; the PettingZoo adapter converts)
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DiscreteSpec:
    """A discrete action space ``{0, ..., n - 1}``."""

    n: int


@dataclass(frozen=True)
class BoxSpec:
    """A box observation space: ``shape``, elementwise ``low``/``high`` bounds and ``dtype``."""

    shape: tuple
    low: float
    high: float
    dtype: str = "float32"


# ----------------------------------------------------------------------------------------------
# per-copy random streams (SplitMix64; Steele, Lea & Flood 2014)
# ----------------------------------------------------------------------------------------------
@numba.njit(cache=True)
def rng_next(state, e):
    """Advance copy ``e``'s SplitMix64 state in place and return the next 64-bit output."""
    s = state[e] + np.uint64(0x9E3779B97F4A7C15)
    state[e] = s
    z = s
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True)
def rng_uniform(state, e):
    """A float in ``[0, 1)`` from copy ``e``'s stream (53 random bits)."""
    return (rng_next(state, e) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True)
def rng_integer(state, e, n):
    """An integer uniform on ``{0, ..., n - 1}`` from copy ``e``'s stream (n small, bias < 2**-50)."""
    return np.int64(rng_uniform(state, e) * n)


def seed_states(seed: int, n_envs: int) -> np.ndarray:
    """One independent uint64 SplitMix64 state per copy, spawned from ``SeedSequence(seed)``.

    Copy ``e``'s state depends only on ``(seed, e)``, not on ``n_envs``.
    """
    children = np.random.SeedSequence(seed).spawn(n_envs)
    return np.array([c.generate_state(1, np.uint64)[0] for c in children], dtype=np.uint64)


@numba.njit(cache=True)
def _check_actions(actions, n_actions):
    """Return -1 if every action is in ``[0, n_actions)``, else the flat index of the first bad one."""
    flat = actions.ravel()
    for i in range(flat.size):
        a = flat[i]
        if a < 0 or a >= n_actions:
            return i
    return -1


@numba.njit(cache=True)
def end_step(e, I, F, B, max_steps, terminal):
    """Common bookkeeping of copy ``e`` once its rewards are in ``F[e, 0]``: step counter, done and
    truncated flags, running and last episode returns. Returns True if the episode ended; the
    caller then writes ``final_obs`` and resets the copy (setting ``I[e, 0] = 0``)."""
    I[e, 0] += 1
    d = terminal or I[e, 0] >= max_steps
    B[e, 0] = d
    B[e, 1] = d and not terminal
    n = F.shape[2]
    for i in range(n):
        F[e, 1, i] += F[e, 0, i]
    if d:
        for i in range(n):
            F[e, 2, i] = F[e, 1, i]
            F[e, 1, i] = 0.0
    return d


# ----------------------------------------------------------------------------------------------
# the base class
# ----------------------------------------------------------------------------------------------
class MultiAgentEnv:
    """Base class of batched multi-agent environments (see the module docstring for the contract).

    Subclasses set the class attributes ``name``, ``n_agents``, ``n_actions`` and ``action_names``,
    set ``obs_dim``/``max_steps`` (and any game parameters) in ``__init__`` *before* calling
    ``super().__init__(n_envs)``, allocate their state arrays in ``_allocate`` and implement
    ``_reset_kernel``, ``_step_kernel`` and ``render``.
    """

    name: str = "base"
    n_agents: int = 0
    n_actions: int = 0
    obs_dim: int = 0
    max_steps: int = 0
    action_names: tuple = ()
    obs_low: float = 0.0
    obs_high: float = 1.0
    int_state_cols: int = 0  # game-specific int64 state columns in self._I (after the step counter)

    def __init__(self, n_envs: int = 1):
        if isinstance(n_envs, bool) or not isinstance(n_envs, (int, np.integer)) or n_envs < 1:
            raise ValueError(f"n_envs must be an integer >= 1; got {n_envs!r}")
        self.n_envs = int(n_envs)
        E, n = self.n_envs, self.n_agents
        self._rng = seed_states(0, E)
        # Packed state, so that a kernel call takes few arguments (numba's dispatch costs about
        # 0.2 us per argument, which dominates single-copy stepping). Public names are views.
        # _I: int64 (E, 1 + int_state_cols): column 0 = steps taken in the episode, then the game's.
        self._I = np.zeros((E, 1 + self.int_state_cols), dtype=np.int64)
        self._t = self._I[:, 0]
        # _F: float64 (E, 3, n): last rewards, return of the running episode, of the last one.
        self._F = np.zeros((E, 3, n), dtype=np.float64)
        self._rew = self._F[:, 0]
        self.episode_return = self._F[:, 1]  # return of the running episode
        self.last_episode_return = self._F[:, 2]  # return of the last finished episode
        self.last_episode_return[:] = np.nan
        # _B: bool (E, 2): done, truncated (by the time limit only) after the last step.
        self._B = np.zeros((E, 2), dtype=np.bool_)
        self._done = self._B[:, 0]
        self.truncated = self._B[:, 1]
        self._obs = np.zeros((E, n, self.obs_dim), dtype=np.float32)
        self.final_obs = np.zeros((E, n, self.obs_dim), dtype=np.float32)
        self._allocate()
        self._has_reset = False

    # -- descriptive attributes ------------------------------------------------------------------
    @property
    def agents(self) -> list[str]:
        return [f"agent_{i}" for i in range(self.n_agents)]

    @property
    def observation_shape(self) -> tuple:
        return (self.obs_dim,)

    @property
    def action_specs(self) -> dict:
        return {a: DiscreteSpec(self.n_actions) for a in self.agents}

    @property
    def observation_specs(self) -> dict:
        return {
            a: BoxSpec((self.obs_dim,), float(self.obs_low), float(self.obs_high), "float32")
            for a in self.agents
        }

    def params(self) -> dict:
        """The game parameters (constructor keywords other than ``n_envs``)."""
        return {}

    def __repr__(self) -> str:
        kw = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}(n_envs={self.n_envs}{', ' if kw else ''}{kw})"

    # -- API ---------------------------------------------------------------------------------------
    def reset(self, seed: int = 0) -> np.ndarray:
        """Start a new episode in every copy; return obs float32 ``(E, n, obs_dim)``.

        ``seed``: any integer >= 0 (``numpy.random.SeedSequence`` takes integers of any size).
        """
        self._rng = seed_states(check_int("seed", seed, min=0), self.n_envs)
        self._t[:] = 0
        self.episode_return[:] = 0.0
        self.last_episode_return[:] = np.nan
        self.truncated[:] = False
        self._reset_kernel(np.ones(self.n_envs, dtype=np.bool_))
        self._has_reset = True
        return self._obs.copy()

    def step(self, actions):
        """Advance every copy by one step; see the module docstring for shapes and auto-reset."""
        if not self._has_reset:
            raise RuntimeError("call reset(seed) before step()")
        given = a = np.asarray(actions)
        if a.shape != (self.n_envs, self.n_agents):
            raise ValueError(
                f"actions must have shape (n_envs, n_agents) = {(self.n_envs, self.n_agents)}; "
                f"got {a.shape}"
            )
        if a.dtype.kind not in "iu":
            raise ValueError(f"actions must be integers; got dtype {a.dtype}")
        if a.dtype != np.int64 or not a.flags.c_contiguous:
            a = np.ascontiguousarray(a, dtype=np.int64)
        bad = _check_actions(a, self.n_actions)
        if bad >= 0:
            # the value as given: a uint64 action >= 2**63 wraps to a negative int64 above
            where = tuple(int(i) for i in np.unravel_index(bad, a.shape))
            raise ValueError(
                f"actions must be in [0, {self.n_actions - 1}]; got {given[where].item()} at {where}"
            )
        self._step_kernel(a)
        return self._obs.copy(), self._rew.copy(), self._done.copy()

    def render(self, env_index: int = 0) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_env_index(self, env_index) -> int:
        if isinstance(env_index, bool) or not isinstance(env_index, (int, np.integer)) or not (
            0 <= env_index < self.n_envs
        ):
            raise ValueError(
                f"env_index must be an integer in [0, {self.n_envs - 1}]; got {env_index!r}"
            )
        return int(env_index)

    # -- for subclasses ------------------------------------------------------------------------------
    def _allocate(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _reset_kernel(self, mask: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _step_kernel(self, actions: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError
