r"""The Coin game (Coins dilemma) as used in D3C Sec. 3.4 (Gemp et al.), after Lerer & Peysakhovich
(2017) and Foerster et al. (2018, LOLA).

Rules (D3C Sec. 3.4)
--------------------
"Two agents move on a fully-observed 5x5 gridworld, on which coins of two types corresponding to
each agent randomly spawn at each time step with probability 0.005. When an agent moves into a
square with a coin of either type, they get a reward of 1. When an agent picks up a coin of the
other player's type, the other agent receives -2. The episode lasts 500 steps. Total reward is
maximized when each agent picks up only coins of their own type, but players are tempted to pick up
all coins."

Our reading of what the text leaves open (documented choices)
--------------------------------------------------------------
- Spawn rule ``spawn="d3c"`` (default): at every step, after pick-ups, each cell holding neither a
  coin nor an agent independently receives a coin with probability ``spawn_prob`` (0.005); its type
  (owner) is agent 0 or agent 1 with probability 1/2. The board starts empty. (The other reading,
  one coin per step with probability 0.005, would give about 2.5 coins per 500-step episode, too
  few for the learning curves of D3C Fig. 8.) Expected spawns: about 0.11 coins per step.
- ``spawn="single"``: the LOLA variant: exactly one coin is on the board; at reset and right after
  it is picked up a new coin appears on a uniformly random cell not occupied by an agent, of a
  uniformly random type.
- Movement: actions 0 = up, 1 = down, 2 = left, 3 = right (no "stay"), both agents move
  simultaneously, the grid wraps around (a torus), as in Foerster et al. (2018). Both agents may
  share a cell. Start cells are uniformly random and distinct.
- Pick-up: every agent that ends its move on a coin gets ``+coin_reward`` (1); for every agent that
  picks up a coin of the other type, the coin's owner gets ``-penalty`` (2). If both agents step on
  the same coin at once, both get +1 (and the owner pays 2 if the other one is among them). The coin
  disappears.
- Episodes end only by the time limit ``max_steps`` (500): ``dones`` is set and ``truncated`` too.
- Observation of agent i (full observation, egocentric channel order, absolute coordinates):
  four ``size x size`` binary planes flattened, ``[own position, other's position, coins of own
  type, coins of other's type]`` (``obs_dim = 4 size**2 = 100``).

Invariants (tested): per step, ``sum(rewards) = coin_reward * pickups - penalty * pickups_of_other
type``; coins on the board change by ``spawned - picked``; ``coin_counts`` add up.
"""

from __future__ import annotations

import numba
import numpy as np

from ..experiments import check_int
from .base import MultiAgentEnv, end_step, rng_integer, rng_uniform
from . import render as _r

__all__ = ["CoinGame"]

_DR = np.array([-1, 1, 0, 0], dtype=np.int64)
_DC = np.array([0, 0, -1, 1], dtype=np.int64)


# packed int state columns of I (column 0 is the step counter)
_P0, _P1, _NC, _CNT = 1, 2, 3, 4  # cell of agent 0, of agent 1, coins on the board, counts (4)


@numba.njit(cache=True)
def _write_obs(obs, I, coins, e, S):
    C = S * S
    for i in range(2):
        o = obs[e, i]
        for k in range(4 * C):
            o[k] = 0.0
        o[I[e, _P0 + i]] = 1.0
        o[C + I[e, _P1 - i]] = 1.0
    for k in range(C):
        c = coins[e, k]
        if c >= 0:
            # agent 0 sees its own coins in plane 2, agent 1 sees agent-0 coins in plane 3
            obs[e, 0, (2 + c) * C + k] = 1.0
            obs[e, 1, (3 - c) * C + k] = 1.0


@numba.njit(cache=True)
def _place_single_coin(rng, e, I, coins, C):
    # uniform over cells not occupied by an agent
    p0, p1 = I[e, _P0], I[e, _P1]
    free = C - (1 if p0 == p1 else 2)
    k = rng_integer(rng, e, free)
    for cell in range(C):
        if cell == p0 or cell == p1:
            continue
        if k == 0:
            coins[e, cell] = rng_integer(rng, e, 2)
            return
        k -= 1


@numba.njit(cache=True)
def _reset_one(rng, e, I, coins, S, single):
    C = S * S
    a = rng_integer(rng, e, C)
    b = rng_integer(rng, e, C - 1)
    if b >= a:
        b += 1
    I[e, 0] = 0
    I[e, _P0] = a
    I[e, _P1] = b
    for k in range(C):
        coins[e, k] = -1
    I[e, _NC] = 0
    if single:
        _place_single_coin(rng, e, I, coins, C)
        I[e, _NC] = 1


@numba.njit(cache=True)
def _reset_kernel(mask, rng, I, coins, obs, P):
    S, single = np.int64(P[0]), P[1] > 0
    for e in range(I.shape[0]):
        if mask[e]:
            _reset_one(rng, e, I, coins, S, single)
            _write_obs(obs, I, coins, e, S)


@numba.njit(cache=True)
def _set_agent_bits(obs, e, p0, p1, C, v):
    obs[e, 0, p0] = v
    obs[e, 0, C + p1] = v
    obs[e, 1, p1] = v
    obs[e, 1, C + p0] = v


@numba.njit(cache=True)
def _set_coin_bits(obs, e, cell, owner, C, v):
    obs[e, 0, (2 + owner) * C + cell] = v
    obs[e, 1, (3 - owner) * C + cell] = v


@numba.njit(cache=True)
def _geometric(rng, e, log1m_p):
    """Failures before the first success of Bernoulli(p) trials, p = 1 - exp(log1m_p) > 0."""
    if log1m_p == -np.inf:
        return 0
    return np.int64(np.log(1.0 - rng_uniform(rng, e)) / log1m_p)


@numba.njit(cache=True)
def _step_kernel(actions, rng, I, coins, F, B, obs, final_obs, P):
    """One step of every copy. ``obs`` is updated incrementally (only the bits that change), which
    the tests check against a full re-encoding of the state. Per-cell Bernoulli(p) spawns are drawn
    by geometric skipping over the free cells (same distribution, about one draw per step)."""
    S, single, log1m_p = np.int64(P[0]), P[1] > 0, P[2]
    coin_reward, penalty, max_steps = P[3], P[4], np.int64(P[5])
    C = S * S
    for e in range(I.shape[0]):
        F[e, 0, 0] = 0.0
        F[e, 0, 1] = 0.0
        _set_agent_bits(obs, e, I[e, _P0], I[e, _P1], C, 0.0)
        for i in range(2):
            p = I[e, _P0 + i]
            r = p // S + _DR[actions[e, i]]
            c = p % S + _DC[actions[e, i]]
            if r < 0:
                r += S
            elif r >= S:
                r -= S
            if c < 0:
                c += S
            elif c >= S:
                c -= S
            I[e, _P0 + i] = r * S + c
        p0 = I[e, _P0]
        p1 = I[e, _P1]
        _set_agent_bits(obs, e, p0, p1, C, 1.0)
        picked = False
        for i in range(2):
            cell = I[e, _P0 + i]
            owner = coins[e, cell]
            if owner >= 0:
                F[e, 0, i] += coin_reward
                if owner == i:
                    I[e, _CNT + 2 * i] += 1
                else:
                    I[e, _CNT + 2 * i + 1] += 1
                    F[e, 0, owner] -= penalty
                if i == 1 or p0 != p1:  # when both stand on it, agent 1 also gets it
                    _set_coin_bits(obs, e, cell, owner, C, 0.0)
                    coins[e, cell] = -1
                    I[e, _NC] -= 1
                    picked = True
        if single:
            if picked:
                _place_single_coin(rng, e, I, coins, C)
                I[e, _NC] += 1
                for cell in range(C):
                    if coins[e, cell] >= 0:
                        _set_coin_bits(obs, e, cell, coins[e, cell], C, 1.0)
        elif log1m_p < 0.0:
            # visit the free cells in order, skipping a Geometric number of them before each spawn
            n_free = C - I[e, _NC] - (1 if p0 == p1 else 2)
            skip = _geometric(rng, e, log1m_p)
            if skip < n_free:  # else: no spawn this step (P(G >= n_free) = (1 - p)^n_free)
                for cell in range(C):
                    if coins[e, cell] < 0 and cell != p0 and cell != p1:
                        if skip == 0:
                            owner = rng_integer(rng, e, 2)
                            coins[e, cell] = owner
                            _set_coin_bits(obs, e, cell, owner, C, 1.0)
                            I[e, _NC] += 1
                            skip = _geometric(rng, e, log1m_p)
                        else:
                            skip -= 1
        if end_step(e, I, F, B, max_steps, False):
            final_obs[e] = obs[e]
            _reset_one(rng, e, I, coins, S, single)
            _write_obs(obs, I, coins, e, S)


class CoinGame(MultiAgentEnv):
    """The Coin game of D3C Sec. 3.4, batched over ``n_envs`` copies (rules in the module doc).

    Parameters
    ----------
    n_envs : int
        Number of independent copies stepped together.
    size : int
        Side of the square grid (D3C: 5).
    max_steps : int
        Episode length (D3C: 500).
    spawn : {"d3c", "single"}
        Coin spawn rule (see the module docstring).
    spawn_prob : float
        Per-cell, per-step spawn probability for ``spawn="d3c"`` (D3C: 0.005).
    coin_reward, penalty : float
        Reward for any coin picked up (D3C: 1) and loss of the owner when the other agent takes its
        coin (D3C: 2).

    Attributes
    ----------
    coin_counts : int array (E, 2, 2)
        Coins picked up since the last ``reset(seed)`` by agent i: ``[..., i, 0]`` of its own type,
        ``[..., i, 1]`` of the other's type (D3C Fig. 8d plots the own-type fraction).
    """

    name = "coin_game"
    n_agents = 2
    n_actions = 4
    action_names = ("up", "down", "left", "right")
    int_state_cols = 7  # agent cells (2), coins on the board, coin counts (2 x 2)

    def __init__(self, n_envs: int = 1, size: int = 5, max_steps: int = 500, spawn: str = "d3c",
                 spawn_prob: float = 0.005, coin_reward: float = 1.0, penalty: float = 2.0):
        from sharelib.experiments import check_choice, check_float, check_int

        self.size = check_int("size", size, min=2)
        self.max_steps = check_int("max_steps", max_steps, min=1)
        self.spawn = check_choice("spawn", spawn, ("d3c", "single"))
        self.spawn_prob = check_float("spawn_prob", spawn_prob, min=0.0, max=1.0)
        self.coin_reward = check_float("coin_reward", coin_reward)
        self.penalty = check_float("penalty", penalty)
        self.obs_dim = 4 * self.size * self.size
        with np.errstate(divide="ignore"):
            self._log1m_p = float(np.log1p(-self.spawn_prob))  # 0 (never), -inf (always)
        super().__init__(n_envs)

    def params(self) -> dict:
        return dict(size=self.size, max_steps=self.max_steps, spawn=self.spawn,
                    spawn_prob=self.spawn_prob, coin_reward=self.coin_reward, penalty=self.penalty)

    def _allocate(self):
        E, C = self.n_envs, self.size * self.size
        self._coins = np.full((E, C), -1, dtype=np.int8)
        self.coin_counts = self._I[:, _CNT:_CNT + 4].reshape(E, 2, 2)  # a view
        assert np.shares_memory(self.coin_counts, self._I)
        self._P = np.array([self.size, self.spawn == "single", self._log1m_p, self.coin_reward,
                            self.penalty, self.max_steps], dtype=np.float64)

    @property
    def cells(self) -> np.ndarray:
        """Agent cells as flat indices ``row * size + col``, int ``(E, 2)`` (a copy)."""
        return self._I[:, _P0:_P1 + 1].copy()

    @property
    def positions(self) -> np.ndarray:
        """Agent cells as ``(row, col)``, int ``(E, 2, 2)`` (a copy)."""
        cells = self._I[:, _P0:_P1 + 1]
        return np.stack([cells // self.size, cells % self.size], axis=-1)

    @property
    def n_coins(self) -> np.ndarray:
        """Number of coins on the board per copy, int ``(E,)`` (a copy)."""
        return self._I[:, _NC].copy()

    @property
    def coins(self) -> np.ndarray:
        """Coin owner per cell, int8 ``(E, size, size)``: -1 none, 0 or 1 the owner (a copy)."""
        return self._coins.reshape(self.n_envs, self.size, self.size).copy()

    def set_state(self, positions, coins) -> np.ndarray:
        """Put every copy in a given state (for tests and figures); returns the new observation.

        ``positions``: int ``(E, 2, 2)`` or ``(2, 2)`` of ``(row, col)`` per agent; ``coins``: int
        ``(E, size, size)`` or ``(size, size)`` with -1 (no coin), 0 or 1 (owner).
        """
        S, E = self.size, self.n_envs
        pos = np.broadcast_to(np.asarray(positions, dtype=np.int64), (E, 2, 2))
        cns = np.broadcast_to(np.asarray(coins, dtype=np.int64), (E, S, S))
        if pos.min() < 0 or pos.max() >= S:
            raise ValueError(f"positions must be in [0, {S - 1}]")
        if cns.min() < -1 or cns.max() > 1:
            raise ValueError("coins must be -1 (none), 0 or 1")
        if self.spawn == "single" and np.any((cns >= 0).reshape(E, -1).sum(1) != 1):
            raise ValueError("spawn='single' needs exactly one coin per copy")
        if not self._has_reset:
            self.reset(0)
        self._I[:, _P0:_P1 + 1] = pos[..., 0] * S + pos[..., 1]
        self._coins[:] = cns.reshape(E, S * S)
        self._I[:, _NC] = (self._coins >= 0).sum(1)
        for e in range(E):
            _write_obs(self._obs, self._I, self._coins, e, S)
        return self._obs.copy()

    def encode_obs(self) -> np.ndarray:
        """Observations re-encoded from scratch from the current state (the tests compare them with
        the incrementally updated ones)."""
        out = np.zeros_like(self._obs)
        for e in range(self.n_envs):
            _write_obs(out, self._I, self._coins, e, self.size)
        return out

    def reset(self, seed: int = 0) -> np.ndarray:
        seed = check_int("seed", seed, min=0)  # before any state changes
        self.coin_counts[:] = 0
        return super().reset(seed)

    def _reset_kernel(self, mask):
        _reset_kernel(mask, self._rng, self._I, self._coins, self._obs, self._P)

    def _step_kernel(self, actions):
        _step_kernel(actions, self._rng, self._I, self._coins, self._F, self._B, self._obs,
                     self.final_obs, self._P)

    def render(self, env_index: int = 0, cell: int = 32) -> np.ndarray:
        """RGB image of copy ``env_index``: agents as large discs (0 red, 1 blue), coins as small
        discs in their owner's colour."""
        e = self._check_env_index(env_index)
        S = self.size
        img = _r.canvas(S, S, cell)
        for k in range(S * S):
            c = self._coins[e, k]
            if c >= 0:
                _r.disc_in_cell(img, k // S, k % S, _r.AGENT_COLORS[c], cell, 0.18)
        p0, p1 = self._I[e, _P0:_P1 + 1]
        shift = 0.22 if p0 == p1 else 0.0
        for i, p in enumerate((p0, p1)):
            r, c = divmod(int(p), S)
            _r.fill_disc(img, (r + 0.5) * cell, (c + 0.5 + (shift if i else -shift)) * cell,
                         0.36 * cell, (0, 0, 0))
            _r.fill_disc(img, (r + 0.5) * cell, (c + 0.5 + (shift if i else -shift)) * cell,
                         0.30 * cell, _r.AGENT_COLORS[i])
        return img
