"""A straightforward pure-Python/NumPy Coin game in the PettingZoo ``ParallelEnv`` style: the
reference that ``benchmarks/envs.py`` measures :class:`sharelib.envs.CoinGame` against.

Same rules as ``sharelib.envs.coin_game`` (D3C Sec. 3.4: 5x5 torus, 4 moves, per-cell spawn
probability 0.005 with a random owner, +1 per coin, -2 to the owner when the other agent takes it,
500 steps, four-plane egocentric observation of 100 floats), written the way a PettingZoo
environment usually is: one copy, Python objects for the state, dicts keyed by agent name, a new
NumPy observation per agent per step. It does not import pettingzoo (so the benchmark runs without
it) but follows its ``reset(seed=...)`` / five-dict ``step`` API.
"""

from __future__ import annotations

import numpy as np

MOVES = {0: (-1, 0), 1: (1, 0), 2: (0, -1), 3: (0, 1)}


class ReferenceCoinGame:
    metadata = {"name": "reference_coin_game"}

    def __init__(self, size: int = 5, max_steps: int = 500, spawn_prob: float = 0.005):
        self.size = size
        self.max_steps = max_steps
        self.spawn_prob = spawn_prob
        self.possible_agents = ["agent_0", "agent_1"]
        self.agents = []
        self.rng = np.random.default_rng()

    def _obs(self):
        S = self.size
        C = S * S
        out = {}
        for i, a in enumerate(self.possible_agents):
            o = np.zeros(4 * C, dtype=np.float32)
            r, c = self.pos[i]
            o[r * S + c] = 1.0
            r, c = self.pos[1 - i]
            o[C + r * S + c] = 1.0
            for (r, c), owner in self.coins.items():
                o[(2 if owner == i else 3) * C + r * S + c] = 1.0
            out[a] = o
        return out

    def reset(self, seed=None, options=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        S = self.size
        cells = self.rng.choice(S * S, size=2, replace=False)
        self.pos = [divmod(int(cells[0]), S), divmod(int(cells[1]), S)]
        self.coins = {}
        self.t = 0
        self.agents = list(self.possible_agents)
        return self._obs(), {a: {} for a in self.agents}

    def step(self, actions):
        S = self.size
        rewards = {a: 0.0 for a in self.agents}
        for i, a in enumerate(self.possible_agents):
            dr, dc = MOVES[int(actions[a])]
            r, c = self.pos[i]
            self.pos[i] = ((r + dr) % S, (c + dc) % S)
        taken = set()
        for i, a in enumerate(self.possible_agents):
            cell = self.pos[i]
            if cell in self.coins:
                owner = self.coins[cell]
                rewards[a] += 1.0
                if owner != i:
                    rewards[self.possible_agents[owner]] -= 2.0
                taken.add(cell)
        for cell in taken:
            del self.coins[cell]
        for r in range(S):
            for c in range(S):
                cell = (r, c)
                if cell not in self.coins and cell not in self.pos:
                    if self.rng.random() < self.spawn_prob:
                        self.coins[cell] = int(self.rng.integers(2))
        self.t += 1
        trunc = self.t >= self.max_steps
        obs = self._obs()
        terminations = {a: False for a in self.agents}
        truncations = {a: trunc for a in self.agents}
        infos = {a: {} for a in self.agents}
        if trunc:
            self.agents = []
        return obs, rewards, terminations, truncations, infos
