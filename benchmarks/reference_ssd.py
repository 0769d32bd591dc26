"""A straightforward per-step Python/NumPy Cleanup and Harvest, one copy, written for comparison with
sharelib's batched kernel (``sharelib.envs.ssd``): the same rules (the module docstring there), the
same order of random draws, so that with the same random stream both give identical trajectories
(``tests/test_ssd_reference.py``), and the speed a user gets from the obvious implementation
(``benchmarks/envs.py``).

Randomness: ``rng`` is any object with ``uniform()`` and ``integer(n)``; :class:`SplitMixStream`
reproduces the kernel's per-copy stream, :class:`NumpyStream` wraps a NumPy generator.
"""

from __future__ import annotations

import numpy as np

FLOOR, WALL, APPLE, WASTE, RIVER, STREAM, SELF, OTHER, FIRE_BEAM, CLEAN_BEAM = range(10)
DIRS = [(-1, 0), (0, 1), (1, 0), (0, -1)]  # up, right, down, left
PALETTE = [(0, 0, 0), (180, 180, 180), (0, 255, 0), (99, 156, 194), (113, 75, 24), (113, 75, 24),
           (0, 0, 0), (0, 0, 0), (255, 255, 0), (100, 255, 255)]
AGENT_RGB = [(0, 0, 255), (2, 81, 154), (204, 0, 204), (216, 30, 54), (254, 151, 0), (100, 255, 255),
             (99, 99, 255), (250, 204, 255), (238, 223, 16)]
M64 = (1 << 64) - 1


class SplitMixStream:
    """SplitMix64, as ``sharelib.envs.base.rng_next`` (pure Python integers)."""

    def __init__(self, state: int):
        self.s = int(state) & M64

    def _next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def uniform(self):
        return (self._next() >> 11) * (1.0 / 9007199254740992.0)

    def integer(self, n):
        return int(self.uniform() * n)


class NumpyStream:
    def __init__(self, seed=0):
        self.g = np.random.default_rng(seed)

    def uniform(self):
        return self.g.random()

    def integer(self, n):
        return int(self.g.integers(n))


CONSTANTS = {
    ("cleanup", "canonical"): dict(depletion=0.4, restoration=0.0, apple_p=0.05, waste_p=0.5, T=1000),
    ("cleanup", "fpf_lmf"): dict(depletion=0.7, restoration=0.1, apple_p=0.3, waste_p=0.5, T=100),
    ("harvest", "canonical"): dict(spawn_probs=(0, 0.005, 0.02, 0.05), T=1000),
    ("harvest", "fpf_lmf"): dict(spawn_probs=(0, 0.005, 0.02, 0.05), T=100),
}


class ReferenceSSD:
    def __init__(self, game, map_rows, n_agents, *, variant="canonical", obs="grid", rng=None,
                 max_steps=None, view_radius=7):
        self.game, self.variant, self.obs, self.n = game, variant, obs, n_agents
        self.c = dict(CONSTANTS[game, variant])
        self.T = max_steps or self.c["T"]
        self.v = view_radius
        self.chars = np.array([list(r) for r in map_rows])
        self.H, self.W = self.chars.shape
        cells = lambda ch: [tuple(x) for x in np.argwhere(self.chars == ch)]  # row-major
        self.spawn = cells("P")
        self.apple_pts = sorted(cells("A") + cells("B"))
        self.river_pts = sorted(cells("H") + cells("R"))
        self.rng = rng or NumpyStream(0)
        self.show_beams = variant == "fpf_lmf"
        self.beam_random = variant == "canonical"
        self.cleaned = np.zeros(n_agents, dtype=int)

    # -- helpers -------------------------------------------------------------------------------
    def inside(self, r, c):
        return 0 <= r < self.H and 0 <= c < self.W

    def agent_at(self, r, c):
        for j in range(self.n):
            if tuple(self.positions[j]) == (r, c):
                return j
        return -1

    def permutation(self):
        perm = list(range(self.n))
        for i in range(self.n - 1, 0, -1):
            j = self.rng.integer(i + 1)
            perm[i], perm[j] = perm[j], perm[i]
        return perm

    # -- reset and step -------------------------------------------------------------------------
    def reset(self):
        idx = list(range(len(self.spawn)))
        self.positions = np.zeros((self.n, 2), dtype=int)
        for i in range(self.n):
            j = i + self.rng.integer(len(self.spawn) - i)
            idx[i], idx[j] = idx[j], idx[i]
            self.positions[i] = self.spawn[idx[i]]
        self.orientations = np.array([self.rng.integer(4) for _ in range(self.n)])
        codes = {"@": WALL, "H": WASTE, "R": RIVER, "S": STREAM, "A": APPLE}
        self.cells = np.array([[codes.get(ch, FLOOR) for ch in row] for row in self.chars], dtype=np.int8)
        self.beams = np.zeros((self.H, self.W), dtype=np.int8)
        self.t = 0
        self.spawn_phase()
        return self.observe()

    def step(self, actions):
        self.beams[:] = 0
        rewards = np.zeros(self.n)
        self.hits = np.zeros(self.n, dtype=int)
        self.move(list(actions))
        for i in range(self.n):
            r, c = self.positions[i]
            if self.cells[r, c] == APPLE:
                rewards[i] += 1
                self.cells[r, c] = FLOOR
        order = self.permutation() if self.beam_random else list(range(self.n))
        for i in order:
            if actions[i] == 7:
                rewards[i] -= 1
                self.beam(i, clean=False)
            elif actions[i] == 8:
                self.cleaned[i] += self.beam(i, clean=True)
        rewards -= 50 * self.hits
        self.spawn_phase()
        obs = self.observe()
        self.t += 1
        done = self.t >= self.T
        if done:
            self.final_obs = obs
            hits = self.hits
            obs = self.reset()
            self.hits = hits
        return obs, rewards, done

    def move(self, actions):
        perm = self.permutation()
        rank = {agent: k for k, agent in enumerate(perm)}
        target = {}
        for i, a in enumerate(actions):
            o = self.orientations[i]
            if a == 5:
                self.orientations[i] = (o + 1) % 4
            elif a == 6:
                self.orientations[i] = (o + 3) % 4
            elif a <= 3:
                d = {2: o, 3: (o + 2) % 4, 1: (o + 1) % 4, 0: (o + 3) % 4}[a]
                r, c = self.positions[i] + DIRS[d]
                if self.inside(r, c) and self.cells[r, c] != WALL:
                    target[i] = (r, c)
        winners = {}
        for i, cell in target.items():
            if cell not in winners or rank[i] < rank[winners[cell]]:
                winners[cell] = i
        movers = {i: cell for i, cell in target.items() if winners[cell] == i}
        changed = True
        while changed:
            changed = False
            for i in list(movers):
                if i not in movers:
                    continue
                j = self.agent_at(*movers[i])
                if j >= 0 and j not in movers:
                    del movers[i]
                    changed = True
                elif j >= 0 and movers[j] == tuple(self.positions[i]):
                    del movers[i], movers[j]
                    changed = True
        for i, cell in movers.items():
            self.positions[i] = cell

    def beam(self, i, clean):
        o = self.orientations[i]
        f, right = np.array(DIRS[o]), np.array(DIRS[(o + 1) % 4])
        p = self.positions[i]
        cleaned = 0
        for start in (p + f, p + right, p - right):
            cell = start.copy()
            for _ in range(5):
                r, c = cell
                if not self.inside(r, c) or self.cells[r, c] == WALL:
                    break
                self.beams[r, c] = CLEAN_BEAM if clean else FIRE_BEAM
                if clean and self.cells[r, c] == WASTE:
                    self.cells[r, c] = RIVER
                    cleaned += 1
                    break
                j = self.agent_at(r, c)
                if j >= 0:
                    if not clean:
                        self.hits[j] += 1
                    break
                cell = cell + f
        return cleaned

    def spawn_phase(self):
        free = [(r, c) for r, c in self.apple_pts if self.cells[r, c] != APPLE and self.agent_at(r, c) < 0]
        if self.game == "harvest":
            new = []
            for r, c in free:
                k = sum(self.cells[r + dr, c + dc] == APPLE for dr in (-1, 0, 1) for dc in (-1, 0, 1)
                        if (dr or dc) and self.inside(r + dr, c + dc))
                p = self.c["spawn_probs"][min(k, 3)]
                if p > 0 and self.rng.uniform() < p:
                    new.append((r, c))
            for r, c in new:
                self.cells[r, c] = APPLE
            return
        n_waste = sum(self.cells[r, c] == WASTE for r, c in self.river_pts)
        d = n_waste / len(self.river_pts)
        dep, rest = self.c["depletion"], self.c["restoration"]
        if d >= dep:
            return
        p_apple = self.c["apple_p"] if d <= rest else self.c["apple_p"] * (1 - (d - rest) / (dep - rest))
        if p_apple > 0:
            for r, c in free:
                if self.rng.uniform() < p_apple:
                    self.cells[r, c] = APPLE
        clean_cells = [(r, c) for r, c in self.river_pts if self.cells[r, c] == RIVER]
        if self.c["waste_p"] > 0 and clean_cells:
            r, c = clean_cells[self.rng.integer(len(clean_cells))]
            if self.rng.uniform() < self.c["waste_p"]:
                self.cells[r, c] = WASTE

    def observe(self):
        v, S = self.v, 2 * self.v + 1
        out = np.zeros((self.n, S, S, 3) if self.obs == "rgb" else (self.n, S, S), dtype=np.float32)
        for i in range(self.n):
            o = self.orientations[i]
            f, right = np.array(DIRS[o]), np.array(DIRS[(o + 1) % 4])
            p = self.positions[i]
            for a in range(S):
                for b in range(S):
                    r, c = p + (v - a) * f + (b - v) * right
                    if self.inside(r, c):
                        code = self.cells[r, c]
                        if self.show_beams and self.beams[r, c]:
                            code = self.beams[r, c]
                        out[i, a, b] = np.array(PALETTE[code]) / 255 if self.obs == "rgb" else code
                    else:
                        out[i, a, b] = 0 if self.obs == "rgb" else WALL
            for j in range(self.n):
                d = self.positions[j] - p
                a, b = v - d @ f, v + d @ right
                if 0 <= a < S and 0 <= b < S:
                    if self.obs == "rgb":
                        out[i, a, b] = np.array(AGENT_RGB[j % 9]) / 255
                    else:
                        out[i, a, b] = SELF if j == i else OTHER
        return out.reshape(self.n, -1)
