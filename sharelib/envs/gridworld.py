"""A small grid-world engine: ASCII maps, oriented agents, egocentric moves with conflict resolution,
beams, and egocentric observation windows. Shared by the sequential social dilemmas
(:mod:`sharelib.envs.ssd`) and reusable for other grid worlds.

Everything here is a ``@njit(cache=True)`` helper that works on one copy ``e`` of a batch, on plain
arrays: ``cells`` (int8 ``(E, H, W)``, cell codes below), ``occ`` (int16 ``(E, H, W)``, index of the
agent standing in a cell or -1), ``pos`` (int64 ``(E, n, 2)``, ``(row, col)``), ``ori`` (int64
``(E, n)``, orientation), ``alive`` (bool ``(E, n)``, False while an agent is tagged out).
Randomness comes from the per-copy SplitMix64 streams of :mod:`sharelib.envs.base`.

Conventions
-----------
- Orientation ``o``: 0 up, 1 right, 2 down, 3 left (clockwise); facing vector ``(DR[o], DC[o])`` in
  ``(row, col)``; the agent's right is the facing of ``(o + 1) % 4``.
- Actions (the SSD order): 0 move left, 1 move right, 2 move forward ("up"), 3 move backward
  ("down"), 4 stay, 5 turn clockwise, 6 turn counter-clockwise, 7 fire, 8 clean. Moves are
  egocentric: forward is the facing direction, left and right are the agent's own.
- Move conflicts (:func:`move_agents`): a random priority order (one permutation per step); a cell
  claimed by several movers goes to the highest-priority one, the others stay; a move into a cell
  held by an agent that stays is cancelled; two agents trying to swap both stay; chains and cycles
  of three or more agents all move. The result never puts two agents in one cell.
- Beams (:func:`cast_beam`): three parallel rays of ``length`` cells, the centre one from the cell
  in front of the agent, the side ones from the cells to its left and right; a ray stops before a
  wall or the map's edge and at (after covering) the first agent it reaches.
"""

from __future__ import annotations

import numba
import numpy as np

from .base import rng_integer

__all__ = [
    "FLOOR", "WALL", "APPLE", "WASTE", "RIVER", "STREAM", "SELF", "OTHER", "FIRE_BEAM", "CLEAN_BEAM",
    "DR", "DC", "parse_map", "permutation", "move_agents", "cast_beam", "write_view",
    "MOVE_LEFT", "MOVE_RIGHT", "MOVE_UP", "MOVE_DOWN", "STAY", "TURN_CW", "TURN_CCW", "FIRE", "CLEAN",
]

# cell codes of the state map (and of the "grid" observation)
FLOOR, WALL, APPLE, WASTE, RIVER, STREAM = 0, 1, 2, 3, 4, 5
# codes used only in observations
SELF, OTHER, FIRE_BEAM, CLEAN_BEAM = 6, 7, 8, 9

MOVE_LEFT, MOVE_RIGHT, MOVE_UP, MOVE_DOWN, STAY, TURN_CW, TURN_CCW, FIRE, CLEAN = range(9)

DR = np.array([-1, 0, 1, 0], dtype=np.int64)
DC = np.array([0, 1, 0, -1], dtype=np.int64)


def parse_map(rows, allowed: str, name: str = "map") -> np.ndarray:
    """Validate an ASCII map and return it as a ``(H, W)`` array of single characters.

    ``rows`` is a list of equal-length strings over the characters in ``allowed``.
    """
    if isinstance(rows, str) or not isinstance(rows, (list, tuple)) or len(rows) == 0:
        raise ValueError(f"{name} must be a non-empty list of equal-length strings; got {rows!r:.80}")
    if not all(isinstance(r, str) for r in rows):
        raise ValueError(f"{name} must be a list of strings")
    widths = {len(r) for r in rows}
    if len(widths) != 1 or 0 in widths:
        raise ValueError(f"{name} rows must all have the same non-zero length; got lengths {sorted(widths)}")
    bad = sorted(set("".join(rows)) - set(allowed))
    if bad:
        raise ValueError(f"{name} may only contain the characters {allowed!r}; got {''.join(bad)!r}")
    return np.array([list(r) for r in rows])


@numba.njit(cache=True)
def permutation(rng, e, perm):
    """Fill ``perm`` with a uniform random permutation of ``0..len(perm)-1`` (Fisher-Yates from the
    top, ``len(perm) - 1`` draws from copy ``e``'s stream)."""
    n = perm.shape[0]
    for i in range(n):
        perm[i] = i
    for i in range(n - 1, 0, -1):
        j = rng_integer(rng, e, i + 1)
        t = perm[i]
        perm[i] = perm[j]
        perm[j] = t


@numba.njit(cache=True)
def _move_direction(action, o):
    """Absolute direction of an egocentric move action (0-3) for orientation ``o``."""
    if action == MOVE_UP:
        return o
    if action == MOVE_DOWN:
        return (o + 2) % 4
    if action == MOVE_RIGHT:
        return (o + 1) % 4
    return (o + 3) % 4


@numba.njit(cache=True)
def move_agents(e, act, pos, ori, occ, cells, alive, perm, scratch):
    """Apply turns and moves of copy ``e`` (``act``: the agents' actions in the SSD order).

    ``perm`` is this step's priority order (earlier = higher priority); ``scratch`` an int64
    ``(4, n)`` work array. See the module docstring for the conflict rule.
    """
    n = pos.shape[1]
    H, W = cells.shape[1], cells.shape[2]
    rank, tr, tc, mover = scratch[0], scratch[1], scratch[2], scratch[3]
    for k in range(n):
        rank[perm[k]] = k
    for i in range(n):
        mover[i] = 0
        if not alive[e, i]:
            continue
        a = act[i]
        o = ori[e, i]
        if a == TURN_CW:
            ori[e, i] = (o + 1) % 4
        elif a == TURN_CCW:
            ori[e, i] = (o + 3) % 4
        elif a <= MOVE_DOWN:
            d = _move_direction(a, o)
            r = pos[e, i, 0] + DR[d]
            c = pos[e, i, 1] + DC[d]
            if 0 <= r < H and 0 <= c < W and cells[e, r, c] != WALL:
                mover[i] = 1
                tr[i] = r
                tc[i] = c
    # contested cells: the highest-priority claimant keeps its claim (decided on the initial claims)
    for i in range(n):
        if mover[i] == 1:
            for j in range(n):
                if j != i and mover[j] >= 1 and tr[j] == tr[i] and tc[j] == tc[i] and rank[j] < rank[i]:
                    mover[i] = 2  # loses, decided after the loop so that all claims count
                    break
    for i in range(n):
        if mover[i] == 2:
            mover[i] = 0
    # cancel moves into stayers and swaps until nothing changes (cancelling is monotone)
    changed = True
    while changed:
        changed = False
        for i in range(n):
            if mover[i] == 0:
                continue
            j = occ[e, tr[i], tc[i]]
            if j >= 0:
                if mover[j] == 0:
                    mover[i] = 0
                    changed = True
                elif tr[j] == pos[e, i, 0] and tc[j] == pos[e, i, 1]:
                    mover[i] = 0
                    mover[j] = 0
                    changed = True
    for i in range(n):
        if mover[i]:
            occ[e, pos[e, i, 0], pos[e, i, 1]] = -1
    for i in range(n):
        if mover[i]:
            pos[e, i, 0] = tr[i]
            pos[e, i, 1] = tc[i]
            occ[e, tr[i], tc[i]] = i


@numba.njit(cache=True)
def _ray(e, r, c, dr, dc, length, cells, occ, beam, code, clean, hits):
    """One ray from cell ``(r, c)`` along ``(dr, dc)``; returns the number of cells cleaned (0/1)."""
    H, W = cells.shape[1], cells.shape[2]
    for _ in range(length):
        if r < 0 or r >= H or c < 0 or c >= W or cells[e, r, c] == WALL:
            return 0
        beam[e, r, c] = code
        if clean and cells[e, r, c] == WASTE:
            cells[e, r, c] = RIVER
            return 1
        j = occ[e, r, c]
        if j >= 0:
            hits[j] += 1
            return 0
        r += dr
        c += dc
    return 0


@numba.njit(cache=True)
def cast_beam(e, i, pos, ori, cells, occ, beam, length, clean, hits):
    """Agent ``i`` of copy ``e`` fires (``clean=False``) or cleans (``clean=True``).

    Covered cells get ``FIRE_BEAM`` or ``CLEAN_BEAM`` in ``beam``; ``hits[j]`` is incremented for
    every agent ``j`` a ray stops at; a cleaning ray turns the first ``WASTE`` cell it reaches into
    ``RIVER`` and stops there. Returns the number of cells cleaned (0 to 3).
    """
    o = ori[e, i]
    fr, fc = DR[o], DC[o]
    rr, rc = DR[(o + 1) % 4], DC[(o + 1) % 4]
    pr, pc = pos[e, i, 0], pos[e, i, 1]
    code = CLEAN_BEAM if clean else FIRE_BEAM
    k = _ray(e, pr + fr, pc + fc, fr, fc, length, cells, occ, beam, code, clean, hits)
    k += _ray(e, pr + rr, pc + rc, fr, fc, length, cells, occ, beam, code, clean, hits)
    k += _ray(e, pr - rr, pc - rc, fr, fc, length, cells, occ, beam, code, clean, hits)
    return k


@numba.njit(cache=True)
def write_view(out, e, i, pos, ori, alive, cells, beam, show_beams, v, rgb, palette, agent_rgb):
    """Write agent ``i``'s egocentric ``(2v+1) x (2v+1)`` view of copy ``e`` into ``out`` (flat).

    Forward is up in the window for every orientation: window cell ``(a, b)`` shows world cell
    ``p + (v - a) f + (b - v) r``. ``rgb=False``: one code per cell (the cell codes, 1 outside the
    map, beams 8/9 if ``show_beams``, other agents 7, the agent itself 6). ``rgb=True``: colours
    divided by 255, channel last, from ``palette`` (uint8 ``(10, 3)`` indexed by code, row 1 for
    walls; outside the map is black) and ``agent_rgb`` (agent ``j`` drawn in row ``j % len``).
    """
    S = 2 * v + 1
    if not alive[e, i]:
        for k in range(out.shape[0]):
            out[k] = 0.0
        return
    H, W = cells.shape[1], cells.shape[2]
    o = ori[e, i]
    fr, fc = DR[o], DC[o]
    rr, rc = DR[(o + 1) % 4], DC[(o + 1) % 4]
    pr, pc = pos[e, i, 0], pos[e, i, 1]
    inv = np.float32(1.0 / 255.0)
    for a in range(S):
        for b in range(S):
            wr = pr + (v - a) * fr + (b - v) * rr
            wc = pc + (v - a) * fc + (b - v) * rc
            k = a * S + b
            if 0 <= wr < H and 0 <= wc < W:
                code = cells[e, wr, wc]
                if show_beams and beam[e, wr, wc] > 0:
                    code = beam[e, wr, wc]
                if rgb:
                    out[3 * k] = palette[code, 0] * inv
                    out[3 * k + 1] = palette[code, 1] * inv
                    out[3 * k + 2] = palette[code, 2] * inv
                else:
                    out[k] = code
            else:
                if rgb:
                    out[3 * k] = 0.0
                    out[3 * k + 1] = 0.0
                    out[3 * k + 2] = 0.0
                else:
                    out[k] = WALL
    n = pos.shape[1]
    na = agent_rgb.shape[0]
    for j in range(n):
        if not alive[e, j]:
            continue
        dr = pos[e, j, 0] - pr
        dc = pos[e, j, 1] - pc
        a = v - (dr * fr + dc * fc)
        b = v + (dr * rr + dc * rc)
        if 0 <= a < S and 0 <= b < S:
            k = a * S + b
            if rgb:
                out[3 * k] = agent_rgb[j % na, 0] * inv
                out[3 * k + 1] = agent_rgb[j % na, 1] * inv
                out[3 * k + 2] = agent_rgb[j % na, 2] * inv
            else:
                out[k] = SELF if j == i else OTHER
