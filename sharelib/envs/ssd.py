r"""Sequential social dilemmas: Cleanup and Harvest (Leibo et al. 2017; Hughes et al. 2018), batched.

The rules are those of the public SSD code (``sequential_social_dilemma_games``), as recorded in
``shared/specs/fpf_fen_ssd_reference_notes.md`` section 3, on the grid engine of
:mod:`sharelib.envs.gridworld`. All copies of a batch step in one ``@njit(cache=True)`` kernel.

Step order (every copy): turns and moves (random priority for contested cells, see
:func:`~sharelib.envs.gridworld.move_agents`); eating (+1 for the agent on an apple); beams, in a
random order (``variant="canonical"``) or in agent order (``"fpf_lmf"``): FIRE costs the firer 1
and every agent it hits 50, CLEAN turns the first waste cell of each of its three rays into clean
water, at no cost; spawning (below); the time limit (``max_steps``; episodes never end otherwise).

Spawning
--------
- **Harvest**: an empty apple point with no agent on it grows an apple with probability
  ``spawn_probs[min(k, 3)]`` = (0, 0.005, 0.02, 0.05), ``k`` the apples among its 8 neighbours
  (the 3x3 block of the SSD code since its "reduce radius" commit), all points evaluated on the
  map before this step's growth. A point with no apple around it never regrows.
- **Cleanup**: with ``d`` = waste cells / river cells (the 'H' and 'R' cells of the map),
  ``d >= depletion``: nothing spawns; otherwise waste spawns (at most one cell per step, with
  probability ``waste_spawn_prob`` on a uniformly chosen clean river cell) and every empty orchard
  cell without an agent grows an apple with probability ``apple_respawn_prob * (1 - (d -
  restoration) / (depletion - restoration))`` (``apple_respawn_prob`` when ``d <= restoration``).

Variants
--------
================  ==========================  ==============================================
                  ``"canonical"``             ``"fpf_lmf"`` (the older copy FPF/LMF trained on)
================  ==========================  ==============================================
Cleanup depletion 0.4                         0.7
restoration       0.0                         0.1
apple respawn     0.05                        0.3
waste spawn       0.5                         0.5
episode           1000 steps                  100 steps
beam order        random per step             agent index
beams in obs      no                          yes
================  ==========================  ==============================================
Harvest's constants are the same in both. With ``map="as"`` the episode is 100 steps (AS Sec. 5.1).

Maps
----
``map="canonical"``: the SSD maps, Cleanup 25x18 (10 spawn points) and Harvest 16x38 (20).
``map="lio_10x10"`` and ``"lio_7x7"``: LIO's small Cleanup maps (3 and 2 agents), used by
:meth:`Cleanup.lio` with LIO's constants (no rotation: ``rotation=False`` fixes every agent facing
up and removes the turn actions).
``map="as"``: the 11x18 Cleanup and 7x38 Harvest sizes of the AS paper (Sec. 5.1). No public copy
of those maps exists; **ours** are designed from the canonical ones: the Cleanup map keeps the
river on the left (initial waste density 23/49 = 0.469, canonical 56/119 = 0.471), the stream rows
in the middle and the orchard on the right (28% of the interior, as in the canonical map), with 8
spawn points; the Harvest map is the top five rows of the canonical orchard (32% apple points,
canonical 31%, 9 spawn points). Any map can be given as a list of ASCII rows: ``@`` wall, ``P``
spawn point, ``A`` apple point (Harvest), ``B`` orchard cell, ``H`` polluted river, ``R`` clean
river, ``S`` stream (Cleanup), space floor.

Observations
------------
Egocentric ``(2v+1) x (2v+1)`` windows (``view_radius`` v = 7: the SSD 15x15), flattened row-major
into ``obs_dim`` float32 values (``view_shape`` gives the unflattened shape):

- ``obs="rgb"``: the SSD colours, channel last, divided by 255 (``obs_dim = 675``); outside the map
  is black as in the SSD code; each agent sees itself at the centre in its own colour.
- ``obs="grid"``: one code per cell (``obs_dim = 225``): 0 floor, 1 wall or outside the map,
  2 apple, 3 waste, 4 clean river, 5 stream, 6 the agent itself, 7 another agent, 8 fire beam,
  9 cleaning beam (beams only when ``show_beams``).

Decisions on the SSD code's quirks (notes section 4, item 6), each documented here:

1. The window is rotated so that **forward is up for every orientation** (the SSD code's ``rot90``
   puts it below the centre when facing left or right).
2. Beams are not drawn into observations in ``"canonical"`` (as the SSD code), drawn in
   ``"fpf_lmf"`` (as its older copy); ``show_beams`` overrides.
3. Harvest's neighbourhood is the 3x3 block (the SSD code's current radius).
4. Move conflicts use the rule of :func:`~sharelib.envs.gridworld.move_agents` (random priority, no
   two agents in a cell, no swaps, chains and cycles allowed), not the SSD code's reservation loop,
   which can in rare cases let a winner enter a cell whose occupant then fails to leave.
5. The inequity-aversion reward transformation (with its sign error) is not part of the
   environment; sharing mechanisms transform rewards through the learners' hooks.

Tagging out (Melting Pot's rule) is available as ``tag_timeout=T > 0``: an agent hit by a fire beam
is removed from the map for ``T`` steps (it cannot act, be hit or eat, and observes zeros), then
reappears on a random free spawn point. It is off (0) in both SSD variants, whose code has none: a
hit agent stays on the map and loses 50. Tag-outs take effect after all beams of the step.

Statistics kept per copy (since the last ``reset(seed)``): ``cleaned`` (waste cells cleaned by each
agent), ``hits`` (times each agent was hit in the last step), ``tagged`` (agents out of the map
after the last step). :func:`sharelib.metrics.social_metrics` turns recorded rewards into the
social outcome metrics of Perolat et al. (2017).
"""

from __future__ import annotations

import numba
import numpy as np

from . import gridworld as gw
from . import render as _r
from ..experiments import check_int
from .base import MultiAgentEnv, end_step, rng_integer, rng_uniform

__all__ = ["Cleanup", "Harvest", "CLEANUP_MAPS", "HARVEST_MAPS", "CLEANUP_ACTIONS", "HARVEST_ACTIONS"]

CLEANUP_MAPS = {
    "canonical": [
        "@@@@@@@@@@@@@@@@@@",
        "@RRRRRR     BBBBB@",
        "@HHHHHH      BBBB@",
        "@RRRRRR     BBBBB@",
        "@RRRRR  P    BBBB@",
        "@RRRRR    P BBBBB@",
        "@HHHHH       BBBB@",
        "@RRRRR      BBBBB@",
        "@HHHHHHSSSSSSBBBB@",
        "@HHHHHHSSSSSSBBBB@",
        "@RRRRR   P P BBBB@",
        "@HHHHH   P  BBBBB@",
        "@RRRRRR    P BBBB@",
        "@HHHHHH P   BBBBB@",
        "@RRRRR       BBBB@",
        "@HHHH    P  BBBBB@",
        "@RRRRR       BBBB@",
        "@HHHHH  P P BBBBB@",
        "@RRRRR       BBBB@",
        "@HHHH       BBBBB@",
        "@RRRRR       BBBB@",
        "@HHHHH      BBBBB@",
        "@RRRRR       BBBB@",
        "@HHHH       BBBBB@",
        "@@@@@@@@@@@@@@@@@@",
    ],
    # ours (see the module docstring): 11x18, the AS paper's size
    "as": [
        "@@@@@@@@@@@@@@@@@@",
        "@RRRRRR  P  BBBBB@",
        "@HHHHHH   P  BBBB@",
        "@RRRRR  P   BBBBB@",
        "@HHHHHHSSSSSSBBBB@",
        "@HHHHHHSSSSSSBBBB@",
        "@RRRRR  P P BBBBB@",
        "@HHHHH    P  BBBB@",
        "@RRRRRR  P  BBBBB@",
        "@RRRR   P    BBBB@",
        "@@@@@@@@@@@@@@@@@@",
    ],
    # LIO's small maps (Yang et al. 2020, env/maps.py; notes section 3.4): 3 and 2 agents
    "lio_10x10": [
        "@@@@@@@@@@",
        "@HH   P B@",
        "@RR    BB@",
        "@HH     B@",
        "@RR    BB@",
        "@HH P   B@",
        "@RR    BB@",
        "@HH     B@",
        "@RRP   BB@",
        "@@@@@@@@@@",
    ],
    "lio_7x7": [
        "@@@@@@@",
        "@H  PB@",
        "@H   B@",
        "@    B@",
        "@    B@",
        "@ P  B@",
        "@@@@@@@",
    ],
}

HARVEST_MAPS = {
    "canonical": [
        "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
        "@ P   P      A    P AAAAA    P  A P  @",
        "@  P     A P AA    P    AAA    A  A  @",
        "@     A AAA  AAA    A    A AA AAAA   @",
        "@ A  AAA A    A  A AAA  A  A   A A   @",
        "@AAA  A A    A  AAA A  AAA        A P@",
        "@ A A  AAA  AAA  A A    A AA   AA AA @",
        "@  A A  AAA    A A  AAA    AAA  A    @",
        "@   AAA  A      AAA  A    AAAA       @",
        "@ P  A       A  A AAA    A  A      P @",
        "@A  AAA  A  A  AAA A    AAAA     P   @",
        "@    A A   AAA  A A      A AA   A  P @",
        "@     AAA   A A  AAA      AA   AAA P @",
        "@ A    A     AAA  A  P          A    @",
        "@       P     A         P  P P     P @",
        "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
    ],
}
# ours: the AS paper's 7x38, the top five rows of the canonical orchard
HARVEST_MAPS["as"] = HARVEST_MAPS["canonical"][:6] + [HARVEST_MAPS["canonical"][-1]]

CLEANUP_ACTIONS = ("move_left", "move_right", "move_up", "move_down", "stay", "turn_clockwise",
                   "turn_counterclockwise", "fire", "clean")
HARVEST_ACTIONS = CLEANUP_ACTIONS[:8]

VARIANTS = ("canonical", "fpf_lmf")

# observation colours of the SSD code, indexed by cell code (gridworld.FLOOR ... CLEAN_BEAM)
SSD_PALETTE = np.array([
    (0, 0, 0),          # floor
    (180, 180, 180),    # wall
    (0, 255, 0),        # apple
    (99, 156, 194),     # waste
    (113, 75, 24),      # river
    (113, 75, 24),      # stream
    (0, 0, 0),          # (self: drawn in the agent's colour)
    (0, 0, 0),          # (other: drawn in the agent's colour)
    (255, 255, 0),      # fire beam
    (100, 255, 255),    # cleaning beam
], dtype=np.uint8)
SSD_AGENT_RGB = np.array([(0, 0, 255), (2, 81, 154), (204, 0, 204), (216, 30, 54), (254, 151, 0),
                          (100, 255, 255), (99, 99, 255), (250, 204, 255), (238, 223, 16)],
                         dtype=np.uint8)

# colours of render() (for people, not agents: a light floor and the house agent colours)
_RENDER_PALETTE = {gw.FLOOR: (245, 245, 240), gw.WALL: (90, 90, 90), gw.APPLE: (60, 170, 60),
                   gw.WASTE: (120, 110, 50), gw.RIVER: (110, 170, 230), gw.STREAM: (160, 200, 240)}
_RENDER_AGENTS = _r.AGENT_COLORS + ((255, 127, 14), (140, 86, 75), (227, 119, 194), (127, 127, 127),
                                    (188, 189, 34), (23, 190, 207))

# indices of the parameter vector P
(_GAME, _MAX_STEPS, _APPLE_R, _FIRE_COST, _HIT_PEN, _CLEAN_COST, _BEAM_LEN, _DEPL, _REST, _APPLE_P,
 _WASTE_P, _SP0, _SP1, _SP2, _SP3, _SHOW_BEAMS, _BEAM_RANDOM, _TAG, _VIEW, _RGB, _NP, _NA, _NR,
 _FIXED_ORI) = range(24)
_HARVEST, _CLEANUP = 0, 1
# columns of the per-agent int state A (E, n, 8)
_ROW, _COL, _ORI, _ALIVE, _TIMER, _CLEANED, _HITS, _TAGGED = range(8)
# column of the int state I after the step counter: waste cells on the map (Cleanup)
_NWASTE = 1


@numba.njit(cache=True)
def _spawn(e, rng, I, cells, occ, pts, work, P):
    """The spawn phase of copy ``e`` (module docstring)."""
    nP, nA, nR = np.int64(P[_NP]), np.int64(P[_NA]), np.int64(P[_NR])
    W = cells.shape[2]
    H = cells.shape[1]
    apple_pts = pts[nP:nP + nA]
    if P[_GAME] == _HARVEST:
        new = work[5]
        m = 0
        for k in range(nA):
            r, c = apple_pts[k] // W, apple_pts[k] % W
            if cells[e, r, c] == gw.APPLE or occ[e, r, c] >= 0:
                continue
            cnt = 0
            for dr in range(-1, 2):
                for dc in range(-1, 2):
                    rr, cc = r + dr, c + dc
                    if 0 <= rr < H and 0 <= cc < W and cells[e, rr, cc] == gw.APPLE:
                        cnt += 1
            p = P[_SP0 + min(cnt, 3)]
            if p > 0.0 and rng_uniform(rng, e) < p:
                new[m] = apple_pts[k]
                m += 1
        for k in range(m):
            cells[e, new[k] // W, new[k] % W] = gw.APPLE
        return
    river_pts = pts[nP + nA:nP + nA + nR]
    n_waste = I[e, _NWASTE]
    n_clean = nR - n_waste
    d = n_waste / nR if nR > 0 else 0.0
    depl, rest = P[_DEPL], P[_REST]
    if d >= depl:
        return
    p_waste = P[_WASTE_P]
    if d <= rest:
        p_apple = P[_APPLE_P]
    else:
        p_apple = P[_APPLE_P] * (1.0 - (d - rest) / (depl - rest))
    if p_apple > 0.0:
        for k in range(nA):
            r, c = apple_pts[k] // W, apple_pts[k] % W
            if cells[e, r, c] != gw.APPLE and occ[e, r, c] < 0:
                if rng_uniform(rng, e) < p_apple:
                    cells[e, r, c] = gw.APPLE
    if p_waste > 0.0 and n_clean > 0:
        j = rng_integer(rng, e, n_clean)
        for k in range(nR):
            r, c = river_pts[k] // W, river_pts[k] % W
            if cells[e, r, c] == gw.RIVER:
                if j == 0:
                    if rng_uniform(rng, e) < p_waste:
                        cells[e, r, c] = gw.WASTE
                        I[e, _NWASTE] += 1
                    break
                j -= 1


@numba.njit(cache=True)
def _write_obs(e, obs, G, A, colors, P):
    n = A.shape[1]
    for i in range(n):
        gw.write_view(obs[e, i], e, i, A[:, :, _ROW:_COL + 1], A[:, :, _ORI], A[:, :, _ALIVE],
                      G[:, 0], G[:, 2], P[_SHOW_BEAMS] > 0, np.int64(P[_VIEW]), P[_RGB] > 0,
                      colors[:10], colors[10:])


@numba.njit(cache=True)
def _reset_one(e, rng, I, G, A, pts, work, init_cells, P):
    n = A.shape[1]
    nP = np.int64(P[_NP])
    W = G.shape[3]
    cells, occ = G[:, 0], G[:, 1]
    cells[e] = init_cells
    occ[e] = -1
    G[e, 2] = 0
    idx = work[4]
    for k in range(nP):
        idx[k] = k
    for i in range(n):
        j = i + rng_integer(rng, e, nP - i)
        t = idx[i]
        idx[i] = idx[j]
        idx[j] = t
        p = pts[idx[i]]
        A[e, i, _ROW] = p // W
        A[e, i, _COL] = p % W
        occ[e, p // W, p % W] = i
    for i in range(n):
        A[e, i, _ORI] = 0 if P[_FIXED_ORI] > 0 else rng_integer(rng, e, 4)
        A[e, i, _ALIVE] = 1
        A[e, i, _TIMER] = 0
        A[e, i, _HITS] = 0
        A[e, i, _TAGGED] = 0
    I[e, 0] = 0
    nw = 0
    for r in range(init_cells.shape[0]):
        for c in range(init_cells.shape[1]):
            if init_cells[r, c] == gw.WASTE:
                nw += 1
    I[e, _NWASTE] = nw
    _spawn(e, rng, I, cells, occ, pts, work, P)


@numba.njit(cache=True)
def _reset_kernel(mask, rng, I, G, A, obs, pts, work, init_cells, colors, P):
    for e in range(I.shape[0]):
        if mask[e]:
            _reset_one(e, rng, I, G, A, pts, work, init_cells, P)
            _write_obs(e, obs, G, A, colors, P)


@numba.njit(cache=True)
def _respawn(e, rng, G, A, pts, P):
    """Tagged-out agents whose timeout ran out reappear on a random free spawn point."""
    n = A.shape[1]
    nP = np.int64(P[_NP])
    W = G.shape[3]
    occ = G[:, 1]
    for i in range(n):
        if A[e, i, _ALIVE] or A[e, i, _TAGGED]:
            continue
        A[e, i, _TIMER] -= 1
        if A[e, i, _TIMER] > 0:
            continue
        free = 0
        for k in range(nP):
            if occ[e, pts[k] // W, pts[k] % W] < 0:
                free += 1
        if free == 0:
            continue  # try again next step
        j = rng_integer(rng, e, free)
        for k in range(nP):
            r, c = pts[k] // W, pts[k] % W
            if occ[e, r, c] < 0:
                if j == 0:
                    A[e, i, _ROW] = r
                    A[e, i, _COL] = c
                    occ[e, r, c] = i
                    break
                j -= 1
        A[e, i, _ORI] = 0 if P[_FIXED_ORI] > 0 else rng_integer(rng, e, 4)
        A[e, i, _ALIVE] = 1


@numba.njit(cache=True)
def _step_kernel(actions, rng, I, F, B, obs, final_obs, G, A, pts, work, act_map, init_cells,
                 colors, P):
    n = A.shape[1]
    cells, occ, beam = G[:, 0], G[:, 1], G[:, 2]
    pos, ori, alive = A[:, :, _ROW:_COL + 1], A[:, :, _ORI], A[:, :, _ALIVE]
    apple_r, fire_cost, hit_pen, clean_cost = P[_APPLE_R], P[_FIRE_COST], P[_HIT_PEN], P[_CLEAN_COST]
    beam_len, tag = np.int64(P[_BEAM_LEN]), np.int64(P[_TAG])
    max_steps = np.int64(P[_MAX_STEPS])
    perm = work[0]
    act = work[1]
    scratch = work[6:10]
    for e in range(I.shape[0]):
        beam[e] = 0
        for i in range(n):
            F[e, 0, i] = 0.0
            A[e, i, _HITS] = 0
            A[e, i, _TAGGED] = 0
            act[i] = act_map[actions[e, i]]
        # 1. turns and moves
        gw.permutation(rng, e, perm[:n])
        gw.move_agents(e, act, pos, ori, occ, cells, alive, perm[:n], scratch)
        # 2. eating
        for i in range(n):
            if alive[e, i] and cells[e, pos[e, i, 0], pos[e, i, 1]] == gw.APPLE:
                F[e, 0, i] += apple_r
                cells[e, pos[e, i, 0], pos[e, i, 1]] = gw.FLOOR
        # 3. beams
        if P[_BEAM_RANDOM] > 0:
            gw.permutation(rng, e, perm[:n])
        else:
            for i in range(n):
                perm[i] = i
        hits = A[e, :, _HITS]
        for k in range(n):
            i = perm[k]
            if not alive[e, i]:
                continue
            if act[i] == gw.FIRE:
                F[e, 0, i] -= fire_cost
                gw.cast_beam(e, i, pos, ori, cells, occ, beam, beam_len, False, hits)
            elif act[i] == gw.CLEAN:
                F[e, 0, i] -= clean_cost
                # a cleaning beam stops at agents without harming them: its hits go to a scratch row
                c = gw.cast_beam(e, i, pos, ori, cells, occ, beam, beam_len, True, work[11])
                A[e, i, _CLEANED] += c
                I[e, _NWASTE] -= c
        for i in range(n):
            if hits[i] > 0:
                F[e, 0, i] -= hit_pen * hits[i]
                if tag > 0:
                    alive[e, i] = 0
                    A[e, i, _TAGGED] = 1
                    A[e, i, _TIMER] = tag
                    occ[e, pos[e, i, 0], pos[e, i, 1]] = -1
        # 4. spawning (and, with tagging out, respawning)
        _spawn(e, rng, I, cells, occ, pts, work, P)
        if tag > 0:
            _respawn(e, rng, G, A, pts, P)
        _write_obs(e, obs, G, A, colors, P)
        if end_step(e, I, F, B, max_steps, False):
            final_obs[e] = obs[e]
            _reset_one(e, rng, I, G, A, pts, work, init_cells, P)
            _write_obs(e, obs, G, A, colors, P)


class _SSD(MultiAgentEnv):
    """Common machinery of :class:`Cleanup` and :class:`Harvest` (rules in the module docstring)."""

    _game = _HARVEST
    _maps: dict = {}
    _map_chars = " @PA"
    int_state_cols = 1

    def _init_common(self, n_envs, n_agents, map, variant, obs, max_steps, view_radius, show_beams,
                     tag_timeout, fire, rotation, apple_reward, fire_cost, hit_penalty, clean_cost, beam_length):
        from sharelib.experiments import check_bool, check_choice, check_float, check_int

        self.variant = check_choice("variant", variant, VARIANTS)
        if isinstance(map, str):
            self.map_name = check_choice("map", map, tuple(self._maps))
            rows = self._maps[self.map_name]
        else:
            self.map_name = "custom"
            rows = list(map)
        chars = gw.parse_map(rows, self._map_chars, "map")
        self.map_rows = ["".join(r) for r in chars]
        self.height, self.width = chars.shape
        spawn = np.flatnonzero(chars.ravel() == "P")
        if spawn.size == 0:
            raise ValueError("map must contain at least one spawn point 'P'")
        self.n_spawn_points = int(spawn.size)
        self.n_agents = check_int("n_agents", n_agents, min=1, max=self.n_spawn_points)
        self.obs = check_choice("obs", obs, ("rgb", "grid"))
        self.fire = check_bool("fire", fire)
        self.rotation = check_bool("rotation", rotation)
        if max_steps is None:
            max_steps = 100 if (self.variant == "fpf_lmf" or self.map_name == "as") else 1000
        self.max_steps = check_int("max_steps", max_steps, min=1)
        self.view_radius = check_int("view_radius", view_radius, min=0, max=50)
        self.show_beams = (self.variant == "fpf_lmf") if show_beams is None else check_bool(
            "show_beams", show_beams)
        self.tag_timeout = check_int("tag_timeout", tag_timeout, min=0)
        self.apple_reward = check_float("apple_reward", apple_reward)
        self.fire_cost = check_float("fire_cost", fire_cost)
        self.hit_penalty = check_float("hit_penalty", hit_penalty)
        self.clean_cost = check_float("clean_cost", clean_cost)
        self.beam_length = check_int("beam_length", beam_length, min=1, max=100)
        names = CLEANUP_ACTIONS if self._game == _CLEANUP else HARVEST_ACTIONS
        if not self.fire:
            names = tuple(a for a in names if a != "fire")
        if not self.rotation:  # LIO's Cleanup: no turns, every agent faces up, moves are absolute
            names = tuple(a for a in names if not a.startswith("turn_"))
        self.action_names = names
        self.n_actions = len(names)
        self._act_map = np.array([CLEANUP_ACTIONS.index(a) for a in names], dtype=np.int64)
        S = 2 * self.view_radius + 1
        self.view_shape = (S, S, 3) if self.obs == "rgb" else (S, S)
        self.obs_dim = int(np.prod(self.view_shape))
        self.obs_high = 1.0 if self.obs == "rgb" else float(gw.CLEAN_BEAM)
        self._chars = chars
        self._spawn_cells = spawn
        self._apple_cells = np.flatnonzero(np.isin(chars.ravel(), list("AB")))
        self._river_cells = np.flatnonzero(np.isin(chars.ravel(), list("HR")))

    def _constants(self) -> dict:  # per game, overridden
        raise NotImplementedError

    def params(self) -> dict:
        p = dict(n_agents=self.n_agents, map=self.map_name if self.map_name != "custom" else self.map_rows,
                 variant=self.variant, obs=self.obs, max_steps=self.max_steps,
                 view_radius=self.view_radius, show_beams=self.show_beams,
                 tag_timeout=self.tag_timeout, fire=self.fire, rotation=self.rotation,
                 apple_reward=self.apple_reward,
                 fire_cost=self.fire_cost, hit_penalty=self.hit_penalty,
                 beam_length=self.beam_length)
        if self._game == _CLEANUP:
            p["clean_cost"] = self.clean_cost
        p.update(self._constants())
        return p

    def _allocate(self):
        E, n, H, W = self.n_envs, self.n_agents, self.height, self.width
        init = np.zeros((H, W), dtype=np.int16)
        flat = self._chars.ravel()
        codes = {"@": gw.WALL, "A": gw.APPLE, "H": gw.WASTE, "R": gw.RIVER, "S": gw.STREAM}
        for ch, code in codes.items():
            init.ravel()[flat == ch] = code
        self._init_cells = init
        self._G = np.zeros((E, 3, H, W), dtype=np.int16)  # cells, occupancy, beams
        self._A = np.zeros((E, n, 8), dtype=np.int64)     # per-agent state
        self._pts = np.concatenate([self._spawn_cells, self._apple_cells, self._river_cells]).astype(np.int64)
        width = max(n, self.n_spawn_points, self._apple_cells.size, 1)
        self._work = np.zeros((12, width), dtype=np.int64)
        self._colors = np.concatenate([SSD_PALETTE, SSD_AGENT_RGB]).astype(np.uint8)
        c = self._constants()
        sp = c.get("spawn_probs", (0.0, 0.0, 0.0, 0.0))
        P = np.zeros(24, dtype=np.float64)
        P[_GAME] = self._game
        P[_MAX_STEPS] = self.max_steps
        P[_APPLE_R], P[_FIRE_COST], P[_HIT_PEN] = self.apple_reward, self.fire_cost, self.hit_penalty
        P[_CLEAN_COST], P[_BEAM_LEN] = self.clean_cost, self.beam_length
        P[_DEPL] = c.get("depletion", 0.0)
        P[_REST] = c.get("restoration", 0.0)
        P[_APPLE_P] = c.get("apple_respawn_prob", 0.0)
        P[_WASTE_P] = c.get("waste_spawn_prob", 0.0)
        P[_SP0:_SP3 + 1] = sp
        P[_SHOW_BEAMS] = self.show_beams
        P[_BEAM_RANDOM] = self.variant == "canonical"
        P[_TAG] = self.tag_timeout
        P[_VIEW] = self.view_radius
        P[_RGB] = self.obs == "rgb"
        P[_NP], P[_NA], P[_NR] = self.n_spawn_points, self._apple_cells.size, self._river_cells.size
        P[_FIXED_ORI] = not self.rotation
        self._P = P

    # -- kernels -----------------------------------------------------------------------------------
    def reset(self, seed: int = 0) -> np.ndarray:
        seed = check_int("seed", seed, min=0)  # before any state changes
        self._A[:, :, _CLEANED] = 0
        return super().reset(seed)

    def _reset_kernel(self, mask):
        _reset_kernel(mask, self._rng, self._I, self._G, self._A, self._obs, self._pts, self._work,
                      self._init_cells, self._colors, self._P)

    def _step_kernel(self, actions):
        _step_kernel(actions, self._rng, self._I, self._F, self._B, self._obs, self.final_obs,
                     self._G, self._A, self._pts, self._work, self._act_map, self._init_cells,
                     self._colors, self._P)

    # -- state, read-only copies ---------------------------------------------------------------------
    @property
    def cells(self) -> np.ndarray:
        """State map per copy, int8 ``(E, H, W)``: 0 floor, 1 wall, 2 apple, 3 waste, 4 river, 5 stream."""
        return self._G[:, 0].astype(np.int8)

    @property
    def positions(self) -> np.ndarray:
        """Agent cells ``(row, col)``, int ``(E, n, 2)`` (undefined while tagged out)."""
        return self._A[:, :, _ROW:_COL + 1].copy()

    @property
    def orientations(self) -> np.ndarray:
        """Agent orientations, int ``(E, n)``: 0 up, 1 right, 2 down, 3 left."""
        return self._A[:, :, _ORI].copy()

    @property
    def cleaned(self) -> np.ndarray:
        """Waste cells cleaned by each agent since the last ``reset(seed)``, int ``(E, n)``."""
        return self._A[:, :, _CLEANED].copy()

    @property
    def hits(self) -> np.ndarray:
        """Fire-beam hits each agent took in the last step, int ``(E, n)``."""
        return self._A[:, :, _HITS].copy()

    @property
    def tagged(self) -> np.ndarray:
        """Agents out of the map after the last step (``tag_timeout > 0`` only), bool ``(E, n)``."""
        return self._A[:, :, _ALIVE] == 0

    @property
    def beams(self) -> np.ndarray:
        """Cells covered by beams in the last step, int8 ``(E, H, W)``: 0, 8 (fire) or 9 (cleaning)."""
        return self._G[:, 2].astype(np.int8)

    @property
    def n_apples(self) -> np.ndarray:
        """Apples on the map per copy, int ``(E,)``."""
        return (self._G[:, 0] == gw.APPLE).sum(axis=(1, 2))

    @property
    def n_waste(self) -> np.ndarray:
        """Waste cells on the map per copy, int ``(E,)`` (always 0 in Harvest)."""
        return self._I[:, _NWASTE].copy()

    def views(self, obs=None) -> np.ndarray:
        """Observations reshaped to ``(E, n) + view_shape`` (the current ones by default)."""
        o = self._obs if obs is None else np.asarray(obs)
        return o.reshape(o.shape[:-1] + self.view_shape)

    def set_state(self, positions, orientations, cells=None) -> np.ndarray:
        """Put every copy in a given state (tests and figures); returns the new observation.

        ``positions`` int ``(E, n, 2)`` or ``(n, 2)``, ``orientations`` ``(E, n)`` or ``(n,)``,
        ``cells`` (optional) ``(E, H, W)`` or ``(H, W)`` cell codes; agents must stand on distinct
        walkable cells.
        """
        E, n, H, W = self.n_envs, self.n_agents, self.height, self.width
        if not self._has_reset:
            self.reset(0)
        pos = np.broadcast_to(np.asarray(positions, dtype=np.int64), (E, n, 2))
        ori = np.broadcast_to(np.asarray(orientations, dtype=np.int64), (E, n))
        if cells is not None:
            c = np.broadcast_to(np.asarray(cells, dtype=np.int16), (E, H, W))
            if c.min() < 0 or c.max() > gw.STREAM:
                raise ValueError(f"cells must be codes in [0, {gw.STREAM}]")
            self._G[:, 0] = c
        if ori.min() < 0 or ori.max() > 3:
            raise ValueError("orientations must be in [0, 3]")
        for e in range(E):
            rc = [tuple(p) for p in pos[e]]
            if len(set(rc)) != n:
                raise ValueError("agents must stand on distinct cells")
            for r, cc in rc:
                if not (0 <= r < H and 0 <= cc < W) or self._G[e, 0, r, cc] == gw.WALL:
                    raise ValueError(f"position {(r, cc)} is outside the map or a wall")
        self._A[:, :, _ROW:_COL + 1] = pos
        self._A[:, :, _ORI] = ori
        self._A[:, :, _ALIVE] = 1
        self._G[:, 1] = -1
        for e in range(E):
            for i in range(n):
                self._G[e, 1, pos[e, i, 0], pos[e, i, 1]] = i
        self._I[:, _NWASTE] = (self._G[:, 0] == gw.WASTE).sum(axis=(1, 2))
        for e in range(E):
            _write_obs(e, self._obs, self._G, self._A, self._colors, self._P)
        return self._obs.copy()

    # -- pictures ------------------------------------------------------------------------------------
    def render(self, env_index: int = 0, cell: int = 16) -> np.ndarray:
        """RGB image of copy ``env_index``: terrain, apples, the last step's beams (pale yellow for
        fire, pale cyan for cleaning), agents as discs in the house colours with a white dot on
        the side they face (tagged-out agents are not drawn)."""
        e = self._check_env_index(env_index)
        H, W = self.height, self.width
        img = _r.canvas(H, W, cell, grid=False)
        cells, beam = self._G[e, 0], self._G[e, 2]
        for r in range(H):
            for c in range(W):
                code = int(cells[r, c])
                if code == gw.APPLE:
                    _r.fill_cell(img, r, c, _RENDER_PALETTE[gw.FLOOR], cell, 0)
                    _r.disc_in_cell(img, r, c, _RENDER_PALETTE[gw.APPLE], cell, 0.32)
                else:
                    _r.fill_cell(img, r, c, _RENDER_PALETTE[code], cell, 0)
                if beam[r, c] and code != gw.WALL:
                    tint = (255, 235, 80) if beam[r, c] == gw.FIRE_BEAM else (120, 255, 255)
                    block = img[r * cell:(r + 1) * cell, c * cell:(c + 1) * cell]
                    block[:] = (0.5 * block + 0.5 * np.array(tint)).astype(np.uint8)
        for i in range(self.n_agents):
            if not self._A[e, i, _ALIVE]:
                continue
            r, c, o = (int(x) for x in self._A[e, i, :3])
            _r.fill_disc(img, (r + 0.5) * cell, (c + 0.5) * cell, 0.45 * cell, (0, 0, 0))
            _r.fill_disc(img, (r + 0.5) * cell, (c + 0.5) * cell, 0.38 * cell,
                         _RENDER_AGENTS[i % len(_RENDER_AGENTS)])
            _r.fill_disc(img, (r + 0.5 + 0.25 * gw.DR[o]) * cell, (c + 0.5 + 0.25 * gw.DC[o]) * cell,
                         0.12 * cell, (255, 255, 255))
        return img


class Cleanup(_SSD):
    """Cleanup (Hughes et al. 2018), batched over ``n_envs`` copies; rules in :mod:`sharelib.envs.ssd`.

    Parameters
    ----------
    n_envs : int
        Copies stepped together.
    n_agents : int
        Agents, at most the map's spawn points (canonical map: 10, ``"as"``: 8). Default 5.
    map : {"canonical", "as", "lio_10x10", "lio_7x7"} or list of str
        The SSD 25x18 map, our 11x18 map of the AS paper's size, LIO's two small maps (3 and 2
        spawn points; see :meth:`lio`), or ASCII rows (characters ``@ P B H R S`` and space).
    variant : {"canonical", "fpf_lmf"}
        Rules and constants of the SSD code, or of the older copy FPF/LMF trained on (module doc).
    obs : {"rgb", "grid"}
        Observation form (module doc).
    max_steps : int or None
        Episode length; None: 1000 (canonical), 100 (fpf_lmf or ``map="as"``).
    view_radius : int
        Half-width of the egocentric window (SSD: 7, a 15x15 window).
    show_beams : bool or None
        Draw beams into observations; None: per variant.
    tag_timeout : int
        Melting Pot's tagging out (steps off the map after a hit); 0 (the SSD rule) keeps hit
        agents on the map.
    fire : bool
        Whether the FIRE action exists (the contracts code that AS builds on disables it; then the
        actions are 0-6 as listed and 7 = clean).
    rotation : bool
        Whether the turn actions exist. False (LIO's Cleanup): every agent faces up for good, so
        the moves are absolute and beams go up.
    depletion, restoration, apple_respawn_prob, waste_spawn_prob : float or None
        Spawn constants; None: per variant.
    apple_reward, fire_cost, hit_penalty, clean_cost : float
        +1 per apple, 1 per fire, 50 per hit taken, 0 per cleaning beam.
    beam_length : int
        Cells per ray (5).
    """

    name = "cleanup"
    _game = _CLEANUP
    _maps = CLEANUP_MAPS
    _map_chars = " @PBHRS"

    def __init__(self, n_envs: int = 1, n_agents: int = 5, map="canonical", variant: str = "canonical",
                 obs: str = "rgb", max_steps: int | None = None, view_radius: int = 7,
                 show_beams: bool | None = None, tag_timeout: int = 0, fire: bool = True,
                 rotation: bool = True, depletion: float | None = None, restoration: float | None = None,
                 apple_respawn_prob: float | None = None, waste_spawn_prob: float | None = None,
                 apple_reward: float = 1.0, fire_cost: float = 1.0, hit_penalty: float = 50.0,
                 clean_cost: float = 0.0, beam_length: int = 5):
        from sharelib.experiments import check_float

        self._init_common(n_envs, n_agents, map, variant, obs, max_steps, view_radius, show_beams,
                          tag_timeout, fire, rotation, apple_reward, fire_cost, hit_penalty,
                          clean_cost, beam_length)
        defaults = {"canonical": (0.4, 0.0, 0.05, 0.5), "fpf_lmf": (0.7, 0.1, 0.3, 0.5)}[self.variant]
        given = (depletion, restoration, apple_respawn_prob, waste_spawn_prob)
        names = ("depletion", "restoration", "apple_respawn_prob", "waste_spawn_prob")
        vals = [check_float(nm, d if g is None else g, min=0.0, max=1.0)
                for nm, g, d in zip(names, given, defaults)]
        self.depletion, self.restoration, self.apple_respawn_prob, self.waste_spawn_prob = vals
        if not self.restoration < self.depletion:
            raise ValueError(f"restoration must be < depletion; got restoration={self.restoration}, "
                             f"depletion={self.depletion}")
        if self._river_cells.size == 0 or self._apple_cells.size == 0:
            raise ValueError("map must contain river cells ('H' or 'R') and orchard cells ('B')")
        super().__init__(n_envs)

    @classmethod
    def lio(cls, n_envs: int = 1, map: str = "lio_10x10", **overrides) -> "Cleanup":
        """LIO's restricted Cleanup (Yang et al. 2020; notes section 3.4), which D3C's appendix F.3
        also evaluates: the 10x10 map with 3 agents (apple respawn 0.3, depletion 0.4, view 7) or
        the 7x7 map with 2 (0.5, 0.6, view 4); restoration 0, waste spawn 0.5, 50-step episodes,
        no rotation, no fire, no cleaning cost, grid observations.

        Ours where LIO's settings do not carry over: agents face up (LIO has no turns), and the
        cleaning beam is the SSD one (three rays of ``beam_length`` cells).
        """
        from sharelib.experiments import check_choice

        map = check_choice("map", map, ("lio_10x10", "lio_7x7"))
        small = map == "lio_7x7"
        kw = dict(n_agents=2 if small else 3, map=map, obs="grid", max_steps=50,
                  view_radius=4 if small else 7, fire=False, rotation=False, clean_cost=0.0,
                  apple_respawn_prob=0.5 if small else 0.3, depletion=0.6 if small else 0.4,
                  restoration=0.0, waste_spawn_prob=0.5)
        kw.update(overrides)
        return cls(n_envs, **kw)

    def _constants(self):
        return dict(depletion=self.depletion, restoration=self.restoration,
                    apple_respawn_prob=self.apple_respawn_prob, waste_spawn_prob=self.waste_spawn_prob)


class Harvest(_SSD):
    """Harvest (Perolat et al. 2017), batched over ``n_envs`` copies; rules in :mod:`sharelib.envs.ssd`.

    Parameters are those of :class:`Cleanup` without the cleaning and river ones (the map's
    characters are ``@ P A`` and space; canonical map: 20 spawn points, ``"as"``: 9), plus

    spawn_probs : sequence of 4 floats or None
        Regrowth probability of an empty apple point with 0, 1, 2, >= 3 apples among its 8
        neighbours; None: the SSD code's (0, 0.005, 0.02, 0.05).
    """

    name = "harvest"
    _game = _HARVEST
    _maps = HARVEST_MAPS
    _map_chars = " @PA"

    def __init__(self, n_envs: int = 1, n_agents: int = 5, map="canonical", variant: str = "canonical",
                 obs: str = "rgb", max_steps: int | None = None, view_radius: int = 7,
                 show_beams: bool | None = None, tag_timeout: int = 0, fire: bool = True,
                 rotation: bool = True, spawn_probs=None, apple_reward: float = 1.0, fire_cost: float = 1.0,
                 hit_penalty: float = 50.0, beam_length: int = 5):
        from sharelib.experiments import check_float

        self._init_common(n_envs, n_agents, map, variant, obs, max_steps, view_radius, show_beams,
                          tag_timeout, fire, rotation, apple_reward, fire_cost, hit_penalty, 0.0,
                          beam_length)
        sp = (0.0, 0.005, 0.02, 0.05) if spawn_probs is None else tuple(spawn_probs)
        if len(sp) != 4:
            raise ValueError(f"spawn_probs must have 4 values (0, 1, 2, >=3 neighbours); got {len(sp)}")
        self.spawn_probs = tuple(check_float(f"spawn_probs[{k}]", p, min=0.0, max=1.0)
                                 for k, p in enumerate(sp))
        if self._apple_cells.size == 0:
            raise ValueError("map must contain apple points ('A')")
        super().__init__(n_envs)

    def _constants(self):
        return dict(spawn_probs=self.spawn_probs)
