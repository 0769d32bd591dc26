r"""FEN's classic discrete scenarios (Jiang & Lu, NeurIPS 2019), as FPF/LMF (Dong et al., AAAI 2025)
trains on them: Job Scheduling, Matthew Effect and Manufacturing Plant, batched over copies.

Rules (reference notes ``fpf_fen_ssd_reference_notes.md`` Sec. 2; "(F)" = FEN's scripts, "(L)" =
the FPF-LMF re-implementation). Shared by all three: actions ``0`` stay, ``1`` x-1, ``2`` x+1,
``3`` y-1, ``4`` y+1 (x is the first coordinate); simultaneous actions; individual rewards; no
terminal state (episodes end at ``max_steps``, 200 in (L)) except the (F) Plant gem cap.

Job Scheduling (:class:`JobScheduling`, n = 4)
    An 8x8 array; agents live on x, y in 1..5 (a move to 0 or 6 is cancelled). One target at x, y
    uniform in {2, 3, 4}, fixed for the episode. Agents start at x, y uniform in 1..5 (distinct in
    (L); (F) allows duplicates). **Sequential claims**: the occupancy grid holds all agents' cells at
    the start of the step; in index order, agent i's move succeeds iff the target cell is inside
    1..5 and not marked; success marks it. Vacated cells are not cleared during the step (no swaps,
    no following; lower indices win). Reward 1 for the agent on the target after the moves.
    Observation (13): ``x, y, tx - x, ty - y`` and the 3x3 occupancy around the agent (row-major
    over offsets -1..1 of x then y, own cell included). Global state (74): 4 x (x, y), tx, ty, the
    8x8 occupancy grid.
Matthew Effect (:class:`MatthewEffect`, n = 10, 3 resources)
    The unit square. Resources and agents uniform; size ``0.01 + 0.04 U``, speed ``0.01 + size``.
    Step: each agent moves by its speed along its action's axis, clipped to [0, 1]; then for each
    resource k in order, the first agent j (index order) with squared distance < size_j**2 eats
    it: ``r_j = 1`` (assigned, so at most 1 per step), resource k respawns uniformly,
    ``size_j = min(size_j + 0.005, 0.15)``, speed updated. Observation (6): x, y, size, speed and
    the nearest resource (squared distance, first index on ties). Global state (130): per agent
    ``x, y, size, speed`` and per resource ``dx, dy, dx**2 + dy**2``.
Manufacturing Plant (:class:`ManufacturingPlant`, n = 5, 8 gems of 3 types)
    A 12x12 array; agents on x, y in 2..9 (moves to 1 or 10 cancelled), same sequential claims as
    Job. Gems at x, y uniform in 3..8 with a uniform type (distinct at reset in (L)). Step: moves;
    for each gem in order the first agent (index order) standing on it collects it:
    ``possession[i, type] += 1``, a gem reward (``rules="fpf_lmf"``: +0.01 always; ``"fen"``: +0.1
    only if the possession is still below the requirement after the increment), the gem respawns at
    a random cell (may land on gems or agents) with a new type. Then each agent manufactures
    ``k = min over required types of floor(possession / requirement)`` products, +1 each, and
    ``possession -= k * requirement``. Requirements (types 0, 1, 2) per agent: (2,1,0), (1,0,1),
    (0,1,1), (1,1,0), (0,1,2). Observation: ``x, y, possession[3]`` and the 5x5 window of the gem
    map (one-hot, 3 per cell: 80, the (L) setting ``plant_ohe``; or ``type + 1``: 30, (F)). Where
    two gems share a cell the gem map shows the higher-index one. Global state: 5 x (x, y,
    poss[3]) + the 12x12 gem map (457 one-hot, 169 otherwise). ``gem_cap`` (F: 700) ends the
    episode (terminal) once more gems than that were collected.

``rules="fpf_lmf"`` (default) is (L); ``rules="fen"`` is (F) for the start positions and the Plant
gem reward (the caller picks (F)'s ``max_steps`` 1000 / 10 000 and ``gem_cap=700``).
Observations are the raw quantities above (the reference code normalises them with a running
mean/std in the learner, not in the environment).
"""

from __future__ import annotations

import numba
import numpy as np

from ..experiments import check_bool, check_choice, check_int
from . import render as _r
from .base import MultiAgentEnv, end_step, rng_integer, rng_uniform

__all__ = ["JobScheduling", "MatthewEffect", "ManufacturingPlant", "PLANT_REQUIREMENTS"]

_DX = np.array([0, -1, 1, 0, 0], dtype=np.int64)
_DY = np.array([0, 0, 0, -1, 1], dtype=np.int64)
#: Manufacturing Plant: units of gem types 0, 1, 2 each agent needs for one product.
PLANT_REQUIREMENTS = np.array([[2, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 1, 2]], dtype=np.int64)
_ACTIONS = ("stay", "x-1", "x+1", "y-1", "y+1")


# ------------------------------------------------------------------------------ shared kernels
@numba.njit(cache=True)
def _place_agents(rng, e, pos, lo, hi, distinct):
    """Agents at x, y uniform in ``lo..hi``; with ``distinct`` a draw on an earlier agent's cell is
    redrawn (uniform over distinct placements)."""
    n = pos.shape[1]
    w = hi - lo + 1
    for i in range(n):
        while True:
            x = lo + rng_integer(rng, e, w)
            y = lo + rng_integer(rng, e, w)
            ok = True
            if distinct:
                for j in range(i):
                    if pos[e, j, 0] == x and pos[e, j, 1] == y:
                        ok = False
                        break
            if ok:
                break
        pos[e, i, 0] = x
        pos[e, i, 1] = y


@numba.njit(cache=True)
def _mark(occ, pos, e):
    occ[e] = 0
    for i in range(pos.shape[1]):
        occ[e, pos[e, i, 0], pos[e, i, 1]] = 1


@numba.njit(cache=True)
def _claim_moves(actions, pos, occ, e, lo, hi):
    """Sequential claims (Sec. 2.1 of the notes): in index order a move succeeds iff the cell is in
    ``lo..hi`` and unmarked in ``occ`` (all start cells, plus cells claimed so far); then ``occ`` is
    rebuilt from the new cells."""
    for i in range(pos.shape[1]):
        a = actions[e, i]
        if a == 0:
            continue
        x = pos[e, i, 0] + _DX[a]
        y = pos[e, i, 1] + _DY[a]
        if lo <= x <= hi and lo <= y <= hi and occ[e, x, y] != 1:
            occ[e, x, y] = 1
            pos[e, i, 0] = x
            pos[e, i, 1] = y
    _mark(occ, pos, e)


# ------------------------------------------------------------------------------ Job Scheduling
@numba.njit(cache=True)
def _job_obs(obs, pos, tgt, occ, e):
    for i in range(pos.shape[1]):
        x, y = pos[e, i, 0], pos[e, i, 1]
        o = obs[e, i]
        o[0] = x
        o[1] = y
        o[2] = tgt[e, 0] - x
        o[3] = tgt[e, 1] - y
        k = 4
        for dx in range(-1, 2):
            for dy in range(-1, 2):
                o[k] = occ[e, x + dx, y + dy]
                k += 1


@numba.njit(cache=True)
def _job_reset_one(rng, e, pos, tgt, occ, distinct):
    tgt[e, 0] = 2 + rng_integer(rng, e, 3)
    tgt[e, 1] = 2 + rng_integer(rng, e, 3)
    _place_agents(rng, e, pos, 1, 5, distinct)
    _mark(occ, pos, e)


@numba.njit(cache=True)
def _job_reset(mask, rng, I, pos, tgt, occ, obs, distinct):
    for e in range(I.shape[0]):
        if mask[e]:
            I[e, 0] = 0
            _job_reset_one(rng, e, pos, tgt, occ, distinct)
            _job_obs(obs, pos, tgt, occ, e)


@numba.njit(cache=True)
def _job_step(actions, rng, I, F, B, obs, final_obs, pos, tgt, occ, max_steps, distinct):
    for e in range(I.shape[0]):
        _claim_moves(actions, pos, occ, e, 1, 5)
        for i in range(pos.shape[1]):
            on = pos[e, i, 0] == tgt[e, 0] and pos[e, i, 1] == tgt[e, 1]
            F[e, 0, i] = 1.0 if on else 0.0
        _job_obs(obs, pos, tgt, occ, e)
        if end_step(e, I, F, B, max_steps, False):
            final_obs[e] = obs[e]
            I[e, 0] = 0
            _job_reset_one(rng, e, pos, tgt, occ, distinct)
            _job_obs(obs, pos, tgt, occ, e)


# ------------------------------------------------------------------------------ Matthew Effect
@numba.njit(cache=True)
def _matthew_obs(obs, pos, size, res, e):
    for i in range(pos.shape[1]):
        o = obs[e, i]
        o[0] = pos[e, i, 0]
        o[1] = pos[e, i, 1]
        o[2] = size[e, i]
        o[3] = 0.01 + size[e, i]
        best = 0
        bd = np.inf
        for k in range(res.shape[1]):
            dx = res[e, k, 0] - pos[e, i, 0]
            dy = res[e, k, 1] - pos[e, i, 1]
            d = dx * dx + dy * dy
            if d < bd:
                bd = d
                best = k
        o[4] = res[e, best, 0]
        o[5] = res[e, best, 1]


@numba.njit(cache=True)
def _matthew_reset_one(rng, e, pos, size, res):
    for k in range(res.shape[1]):
        res[e, k, 0] = rng_uniform(rng, e)
        res[e, k, 1] = rng_uniform(rng, e)
    for i in range(pos.shape[1]):
        pos[e, i, 0] = rng_uniform(rng, e)
        pos[e, i, 1] = rng_uniform(rng, e)
        size[e, i] = 0.01 + 0.04 * rng_uniform(rng, e)


@numba.njit(cache=True)
def _matthew_reset(mask, rng, I, pos, size, res, obs):
    for e in range(I.shape[0]):
        if mask[e]:
            I[e, 0] = 0
            _matthew_reset_one(rng, e, pos, size, res)
            _matthew_obs(obs, pos, size, res, e)


@numba.njit(cache=True)
def _matthew_step(actions, rng, I, F, B, obs, final_obs, pos, size, res, max_steps):
    n = pos.shape[1]
    for e in range(I.shape[0]):
        for i in range(n):
            F[e, 0, i] = 0.0
            a = actions[e, i]
            if a == 0:
                continue
            ax = 0 if a <= 2 else 1
            v = pos[e, i, ax] + (0.01 + size[e, i]) * (_DX[a] + _DY[a])
            pos[e, i, ax] = min(max(v, 0.0), 1.0)
        for k in range(res.shape[1]):
            for j in range(n):
                dx = res[e, k, 0] - pos[e, j, 0]
                dy = res[e, k, 1] - pos[e, j, 1]
                if dx * dx + dy * dy < size[e, j] * size[e, j]:
                    F[e, 0, j] = 1.0
                    res[e, k, 0] = rng_uniform(rng, e)
                    res[e, k, 1] = rng_uniform(rng, e)
                    size[e, j] = min(size[e, j] + 0.005, 0.15)
                    break
        _matthew_obs(obs, pos, size, res, e)
        if end_step(e, I, F, B, max_steps, False):
            final_obs[e] = obs[e]
            I[e, 0] = 0
            _matthew_reset_one(rng, e, pos, size, res)
            _matthew_obs(obs, pos, size, res, e)


# ------------------------------------------------------------------------------ Manufacturing Plant
@numba.njit(cache=True)
def _plant_gem_map(gmap, gems, e):
    gmap[e] = 0
    for j in range(gems.shape[1]):
        gmap[e, gems[e, j, 0], gems[e, j, 1]] = gems[e, j, 2] + 1


@numba.njit(cache=True)
def _plant_obs(obs, pos, poss, gmap, e, one_hot):
    for i in range(pos.shape[1]):
        x, y = pos[e, i, 0], pos[e, i, 1]
        o = obs[e, i]
        o[0] = x
        o[1] = y
        for t in range(3):
            o[2 + t] = poss[e, i, t]
        k = 5
        for dx in range(-2, 3):
            for dy in range(-2, 3):
                g = gmap[e, x + dx, y + dy]
                if one_hot:
                    for t in range(3):
                        o[k + t] = 1.0 if g == t + 1 else 0.0
                    k += 3
                else:
                    o[k] = g
                    k += 1


@numba.njit(cache=True)
def _plant_new_gem(rng, e, gems, j):
    gems[e, j, 0] = 3 + rng_integer(rng, e, 6)
    gems[e, j, 1] = 3 + rng_integer(rng, e, 6)
    gems[e, j, 2] = rng_integer(rng, e, 3)


@numba.njit(cache=True)
def _plant_reset_one(rng, e, pos, poss, gems, gmap, occ, distinct):
    _place_agents(rng, e, pos, 2, 9, distinct)
    _mark(occ, pos, e)
    poss[e] = 0
    for j in range(gems.shape[1]):
        while True:
            _plant_new_gem(rng, e, gems, j)
            ok = True
            if distinct:
                for m in range(j):
                    if gems[e, m, 0] == gems[e, j, 0] and gems[e, m, 1] == gems[e, j, 1]:
                        ok = False
                        break
            if ok:
                break
    _plant_gem_map(gmap, gems, e)


@numba.njit(cache=True)
def _plant_reset(mask, rng, I, pos, poss, gems, gmap, occ, obs, distinct, one_hot):
    for e in range(I.shape[0]):
        if mask[e]:
            I[e, 0] = 0
            I[e, 1] = 0
            _plant_reset_one(rng, e, pos, poss, gems, gmap, occ, distinct)
            _plant_obs(obs, pos, poss, gmap, e, one_hot)


@numba.njit(cache=True)
def _plant_step(actions, rng, I, F, B, obs, final_obs, pos, poss, gems, gmap, occ, req, P):
    max_steps, distinct, one_hot = np.int64(P[0]), P[1] > 0, P[2] > 0
    fen_reward, gem_cap = P[3] > 0, np.int64(P[4])
    n = pos.shape[1]
    for e in range(I.shape[0]):
        _claim_moves(actions, pos, occ, e, 2, 9)
        for i in range(n):
            F[e, 0, i] = 0.0
        for j in range(gems.shape[1]):
            for i in range(n):
                if pos[e, i, 0] == gems[e, j, 0] and pos[e, i, 1] == gems[e, j, 1]:
                    t = gems[e, j, 2]
                    poss[e, i, t] += 1
                    if not fen_reward:
                        F[e, 0, i] += 0.01
                    elif poss[e, i, t] < req[i, t]:
                        F[e, 0, i] += 0.1
                    I[e, 1] += 1
                    _plant_new_gem(rng, e, gems, j)
                    break
        for i in range(n):
            k = np.int64(1) << 62
            for t in range(3):
                if req[i, t] > 0:
                    k = min(k, poss[e, i, t] // req[i, t])
            for t in range(3):
                poss[e, i, t] -= k * req[i, t]
            F[e, 0, i] += k
        _plant_gem_map(gmap, gems, e)
        _plant_obs(obs, pos, poss, gmap, e, one_hot)
        terminal = gem_cap > 0 and I[e, 1] > gem_cap
        if end_step(e, I, F, B, max_steps, terminal):
            final_obs[e] = obs[e]
            I[e, 0] = 0
            I[e, 1] = 0
            _plant_reset_one(rng, e, pos, poss, gems, gmap, occ, distinct)
            _plant_obs(obs, pos, poss, gmap, e, one_hot)


# ------------------------------------------------------------------------------ classes
class _FEN(MultiAgentEnv):
    n_actions = 5
    action_names = _ACTIONS

    def _common(self, max_steps, rules):
        self.max_steps = check_int("max_steps", max_steps, min=1)
        self.rules = check_choice("rules", rules, ("fpf_lmf", "fen"))
        self._distinct = self.rules == "fpf_lmf"

    def params(self) -> dict:
        return dict(max_steps=self.max_steps, rules=self.rules)

    def set_positions(self, positions) -> np.ndarray:
        """Put the agents of every copy on given cells ``(E, n, 2)`` or ``(n, 2)`` (tests, figures);
        returns the new observation."""
        if not self._has_reset:
            self.reset(0)
        p = np.broadcast_to(np.asarray(positions, dtype=self._pos.dtype), self._pos.shape)
        self._pos[:] = p
        self._refresh()
        return self._obs.copy()

    @property
    def positions(self) -> np.ndarray:
        """Agent positions ``(E, n, 2)`` (a copy)."""
        return self._pos.copy()


class JobScheduling(_FEN):
    """FEN's Job Scheduling (rules in the module docstring), batched over ``n_envs`` copies.

    Parameters: ``max_steps`` (200, (L)), ``rules`` ``"fpf_lmf"`` (distinct starts) or ``"fen"``.
    """

    name = "job_scheduling"
    n_agents = 4
    obs_dim = 13
    state_dim = 74
    obs_low, obs_high = -5.0, 5.0

    def __init__(self, n_envs: int = 1, max_steps: int = 200, rules: str = "fpf_lmf"):
        self._common(max_steps, rules)
        super().__init__(n_envs)

    def _allocate(self):
        E, n = self.n_envs, self.n_agents
        self._pos = np.zeros((E, n, 2), np.int64)
        self._tgt = np.zeros((E, 2), np.int64)
        self._occ = np.zeros((E, 8, 8), np.int64)

    @property
    def target(self) -> np.ndarray:
        return self._tgt.copy()

    def set_state(self, positions, target) -> np.ndarray:
        """Agents at ``positions`` and the target at ``target`` (``(E, 2)`` or ``(2,)``)."""
        if not self._has_reset:
            self.reset(0)
        self._tgt[:] = np.broadcast_to(np.asarray(target, np.int64), self._tgt.shape)
        return self.set_positions(positions)

    def _refresh(self):
        for e in range(self.n_envs):
            _mark(self._occ, self._pos, e)
            _job_obs(self._obs, self._pos, self._tgt, self._occ, e)

    def state(self) -> np.ndarray:
        """The (L) global state ``(E, 74)``: positions, target, occupancy grid."""
        E = self.n_envs
        return np.concatenate([self._pos.reshape(E, -1), self._tgt, self._occ.reshape(E, -1)],
                              axis=1).astype(np.float32)

    def _reset_kernel(self, mask):
        _job_reset(mask, self._rng, self._I, self._pos, self._tgt, self._occ, self._obs, self._distinct)

    def _step_kernel(self, actions):
        _job_step(actions, self._rng, self._I, self._F, self._B, self._obs, self.final_obs,
                  self._pos, self._tgt, self._occ, self.max_steps, self._distinct)

    def render(self, env_index: int = 0, cell: int = 24) -> np.ndarray:
        e = self._check_env_index(env_index)
        img = _r.canvas(5, 5, cell)
        _r.fill_cell(img, self._tgt[e, 0] - 1, self._tgt[e, 1] - 1, _r.GOAL, cell)
        for i in range(self.n_agents):
            _r.disc_in_cell(img, self._pos[e, i, 0] - 1, self._pos[e, i, 1] - 1,
                            _r.AGENT_COLORS[i % len(_r.AGENT_COLORS)], cell)
        return img


class MatthewEffect(_FEN):
    """FEN's Matthew Effect (rules in the module docstring), batched over ``n_envs`` copies.

    Parameters: ``max_steps`` (200, (L)), ``n_agents`` (10), ``n_resources`` (3).
    """

    name = "matthew_effect"
    obs_dim = 6
    obs_low, obs_high = 0.0, 1.0

    def __init__(self, n_envs: int = 1, max_steps: int = 200, n_agents: int = 10,
                 n_resources: int = 3, rules: str = "fpf_lmf"):
        self._common(max_steps, rules)
        self.n_agents = check_int("n_agents", n_agents, min=1)
        self.n_resources = check_int("n_resources", n_resources, min=1)
        self.state_dim = self.n_agents * (4 + 3 * self.n_resources)
        super().__init__(n_envs)

    def params(self) -> dict:
        return dict(super().params(), n_agents=self.n_agents, n_resources=self.n_resources)

    def _allocate(self):
        E, n = self.n_envs, self.n_agents
        self._pos = np.zeros((E, n, 2))
        self._size = np.zeros((E, n))
        self._res = np.zeros((E, self.n_resources, 2))

    @property
    def sizes(self) -> np.ndarray:
        return self._size.copy()

    @property
    def resources(self) -> np.ndarray:
        return self._res.copy()

    def set_state(self, positions, sizes, resources) -> np.ndarray:
        """Agents at ``positions`` with ``sizes`` and resources at ``resources`` (broadcast to copies)."""
        if not self._has_reset:
            self.reset(0)
        self._size[:] = np.broadcast_to(np.asarray(sizes, float), self._size.shape)
        self._res[:] = np.broadcast_to(np.asarray(resources, float), self._res.shape)
        return self.set_positions(positions)

    def _refresh(self):
        for e in range(self.n_envs):
            _matthew_obs(self._obs, self._pos, self._size, self._res, e)

    def state(self) -> np.ndarray:
        """The (L) global state ``(E, n (4 + 3 K))``."""
        d = self._res[:, None, :, :] - self._pos[:, :, None, :]
        rel = np.concatenate([d, (d ** 2).sum(-1, keepdims=True)], axis=-1).reshape(self.n_envs, self.n_agents, -1)
        own = np.concatenate([self._pos, self._size[..., None], 0.01 + self._size[..., None]], axis=-1)
        return np.concatenate([own, rel], axis=-1).reshape(self.n_envs, -1).astype(np.float32)

    def _reset_kernel(self, mask):
        _matthew_reset(mask, self._rng, self._I, self._pos, self._size, self._res, self._obs)

    def _step_kernel(self, actions):
        _matthew_step(actions, self._rng, self._I, self._F, self._B, self._obs, self.final_obs,
                      self._pos, self._size, self._res, self.max_steps)

    def render(self, env_index: int = 0, px: int = 160) -> np.ndarray:
        e = self._check_env_index(env_index)
        img = _r.canvas(1, 1, px, grid=False)
        for k in range(self.n_resources):
            _r.fill_disc(img, self._res[e, k, 1] * (px - 1), self._res[e, k, 0] * (px - 1), 2.5, _r.GOAL)
        for i in range(self.n_agents):
            _r.fill_disc(img, self._pos[e, i, 1] * (px - 1), self._pos[e, i, 0] * (px - 1),
                         max(self._size[e, i] * px, 1.5), _r.AGENT_COLORS[i % len(_r.AGENT_COLORS)])
        return img


class ManufacturingPlant(_FEN):
    """FEN's Manufacturing Plant (rules in the module docstring), batched over ``n_envs`` copies.

    Parameters: ``max_steps`` (200, (L)), ``rules`` (``"fpf_lmf"``: +0.01 per gem, distinct
    starts; ``"fen"``: +0.1 per still-needed gem), ``one_hot`` (True, (L)), ``gem_cap`` (0 = none;
    (F): 700).
    """

    name = "manufacturing_plant"
    n_agents = 5
    obs_low, obs_high = 0.0, np.inf
    int_state_cols = 1  # gems collected in the episode
    n_gems = 8

    def __init__(self, n_envs: int = 1, max_steps: int = 200, rules: str = "fpf_lmf",
                 one_hot: bool = True, gem_cap: int = 0):
        self._common(max_steps, rules)
        self.one_hot = check_bool("one_hot", one_hot)
        self.gem_cap = check_int("gem_cap", gem_cap, min=0)
        self.obs_dim = 5 + (75 if self.one_hot else 25)
        self.state_dim = 25 + (3 if self.one_hot else 1) * 144
        super().__init__(n_envs)

    def params(self) -> dict:
        return dict(super().params(), one_hot=self.one_hot, gem_cap=self.gem_cap)

    def _allocate(self):
        E, n = self.n_envs, self.n_agents
        self._pos = np.zeros((E, n, 2), np.int64)
        self._poss = np.zeros((E, n, 3), np.int64)
        self._gems = np.zeros((E, self.n_gems, 3), np.int64)
        self._gmap = np.zeros((E, 12, 12), np.int64)
        self._occ = np.zeros((E, 12, 12), np.int64)
        self._P = np.array([self.max_steps, self._distinct, self.one_hot, self.rules == "fen",
                            self.gem_cap], dtype=np.float64)

    @property
    def possession(self) -> np.ndarray:
        return self._poss.copy()

    @property
    def gems(self) -> np.ndarray:
        """Gems ``(E, 8, 3)``: x, y, type (a copy)."""
        return self._gems.copy()

    @property
    def gems_collected(self) -> np.ndarray:
        return self._I[:, 1].copy()

    def set_state(self, positions, gems, possession=None) -> np.ndarray:
        """Agents at ``positions``, gems ``(8, 3)`` (x, y, type), optional ``possession`` ``(n, 3)``."""
        if not self._has_reset:
            self.reset(0)
        self._gems[:] = np.broadcast_to(np.asarray(gems, np.int64), self._gems.shape)
        if possession is not None:
            self._poss[:] = np.broadcast_to(np.asarray(possession, np.int64), self._poss.shape)
        return self.set_positions(positions)

    def _refresh(self):
        for e in range(self.n_envs):
            _mark(self._occ, self._pos, e)
            _plant_gem_map(self._gmap, self._gems, e)
            _plant_obs(self._obs, self._pos, self._poss, self._gmap, e, self.one_hot)

    def state(self) -> np.ndarray:
        """The (L) global state: 5 x (x, y, poss[3]) and the gem map (one-hot per cell if ``one_hot``)."""
        E = self.n_envs
        own = np.concatenate([self._pos, self._poss], axis=-1).reshape(E, -1)
        g = self._gmap.reshape(E, -1)
        gm = (g[..., None] == np.arange(1, 4)).reshape(E, -1) if self.one_hot else g
        return np.concatenate([own, gm], axis=1).astype(np.float32)

    def _reset_kernel(self, mask):
        _plant_reset(mask, self._rng, self._I, self._pos, self._poss, self._gems, self._gmap,
                     self._occ, self._obs, self._distinct, self.one_hot)

    def _step_kernel(self, actions):
        _plant_step(actions, self._rng, self._I, self._F, self._B, self._obs, self.final_obs,
                    self._pos, self._poss, self._gems, self._gmap, self._occ, PLANT_REQUIREMENTS,
                    self._P)

    def render(self, env_index: int = 0, cell: int = 24) -> np.ndarray:
        e = self._check_env_index(env_index)
        img = _r.canvas(8, 8, cell)
        gem_colors = ((230, 160, 30), (120, 120, 220), (60, 180, 120))
        for j in range(self.n_gems):
            _r.fill_cell(img, self._gems[e, j, 0] - 2, self._gems[e, j, 1] - 2,
                         gem_colors[self._gems[e, j, 2]], cell, margin=6)
        for i in range(self.n_agents):
            _r.disc_in_cell(img, self._pos[e, i, 0] - 2, self._pos[e, i, 1] - 2,
                            _r.AGENT_COLORS[i % len(_r.AGENT_COLORS)], cell)
        return img
