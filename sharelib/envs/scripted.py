"""Scripted agents for Cleanup and Harvest: hand-written behaviours that make the dilemmas visible
without training (the notebooks compare nobody cleaning with some agents cleaning, and greedy with
restrained harvesting).

Roles (one per agent):

- ``EAT``: walk to the nearest apple (shortest path on the map, other agents ignored) and eat it.
- ``CLEAN``: walk to the nearest waste cell and clean it: fire the cleaning beam when waste lies
  on the ray ahead, turn towards waste in an adjacent cell.
- ``RESTRAINED``: eat only apples with at least ``min_neighbours`` apples among their 8 neighbours
  (so no patch is emptied and Harvest's regrowth, which needs neighbouring apples, goes on);
  otherwise wander.

An agent with nothing to walk to moves at random. Moves are egocentric, so an agent walks in any
direction without turning. Randomness comes from a per-copy stream of :mod:`sharelib.envs.base`.
"""

from __future__ import annotations

import numba
import numpy as np

from . import gridworld as gw
from .base import rng_integer, seed_states

__all__ = ["EAT", "CLEAN", "RESTRAINED", "ScriptedAgents"]

EAT, CLEAN, RESTRAINED = 0, 1, 2


@numba.njit(cache=True)
def _apple_neighbours(cells, e, r, c):
    H, W = cells.shape[1], cells.shape[2]
    k = 0
    for dr in range(-1, 2):
        for dc in range(-1, 2):
            if (dr or dc) and 0 <= r + dr < H and 0 <= c + dc < W and cells[e, r + dr, c + dc] == gw.APPLE:
                k += 1
    return k


@numba.njit(cache=True)
def _is_target(cells, e, r, c, role, min_nb):
    code = cells[e, r, c]
    if role == CLEAN:
        return code == gw.WASTE
    if code != gw.APPLE:
        return False
    return role == EAT or _apple_neighbours(cells, e, r, c) >= min_nb


@numba.njit(cache=True)
def _first_step(cells, e, r0, c0, role, min_nb, queue, first, seen):
    """Breadth-first search from (r0, c0) to the nearest target other than the start; returns the
    absolute direction of the first step (0-3), -1 if there is none."""
    H, W = cells.shape[1], cells.shape[2]
    seen[:] = False
    seen[r0 * W + c0] = True
    queue[0] = r0 * W + c0
    first[0] = -1  # the start: its neighbours are reached by their own direction
    head, tail = 0, 1
    while head < tail:
        cell = queue[head]
        d0 = first[head]
        head += 1
        r, c = cell // W, cell % W
        if d0 >= 0 and _is_target(cells, e, r, c, role, min_nb):
            return d0
        for d in range(4):
            rr, cc = r + gw.DR[d], c + gw.DC[d]
            if 0 <= rr < H and 0 <= cc < W and cells[e, rr, cc] != gw.WALL and not seen[rr * W + cc]:
                seen[rr * W + cc] = True
                queue[tail] = rr * W + cc
                first[tail] = d if d0 < 0 else d0
                tail += 1
    return -1


@numba.njit(cache=True)
def _waste_ahead(cells, e, r, c, o, length):
    H, W = cells.shape[1], cells.shape[2]
    for k in range(1, length + 1):
        rr, cc = r + k * gw.DR[o], c + k * gw.DC[o]
        if not (0 <= rr < H and 0 <= cc < W) or cells[e, rr, cc] == gw.WALL:
            return False
        if cells[e, rr, cc] == gw.WASTE:
            return True
    return False


@numba.njit(cache=True)
def _relative_move(d, o):
    """The egocentric move action that goes in absolute direction ``d`` for orientation ``o``."""
    rel = (d - o) % 4
    if rel == 0:
        return gw.MOVE_UP
    if rel == 1:
        return gw.MOVE_RIGHT
    if rel == 2:
        return gw.MOVE_DOWN
    return gw.MOVE_LEFT


@numba.njit(cache=True)
def _actions_kernel(cells, pos, ori, alive, roles, min_nb, beam_length, clean_action, rng, out):
    E, n = pos.shape[0], pos.shape[1]
    HW = cells.shape[1] * cells.shape[2]
    queue = np.empty(HW, dtype=np.int64)
    first = np.empty(HW, dtype=np.int64)
    seen = np.empty(HW, dtype=np.bool_)
    for e in range(E):
        for i in range(n):
            if not alive[e, i]:
                out[e, i] = gw.STAY
                continue
            r, c, o = pos[e, i, 0], pos[e, i, 1], ori[e, i]
            role = roles[i]
            if role == CLEAN and _waste_ahead(cells, e, r, c, o, beam_length):
                out[e, i] = clean_action
                continue
            d = _first_step(cells, e, r, c, role, min_nb, queue, first, seen)
            if d < 0:
                out[e, i] = _relative_move(rng_integer(rng, e, 4), o)
            elif role == CLEAN and cells[e, r + gw.DR[d], c + gw.DC[d]] == gw.WASTE:
                # waste in the next cell: face it (the beam starts in front of the agent)
                out[e, i] = gw.TURN_CW if (d - o) % 4 == 1 else gw.TURN_CCW
            else:
                out[e, i] = _relative_move(d, o)


class ScriptedAgents:
    """Actions of scripted agents for a :class:`~sharelib.envs.ssd.Cleanup` or
    :class:`~sharelib.envs.ssd.Harvest` environment.

    Parameters
    ----------
    env : Cleanup or Harvest
    roles : sequence of {"eat", "clean", "restrained"}
        One role per agent (module docstring).
    min_neighbours : int
        For ``"restrained"``: the apples a target apple must have around it (default 2).
    seed : int
        Seed of the agents' own random streams (one per copy).

    >>> from sharelib.envs import Cleanup
    >>> env = Cleanup(n_envs=2, n_agents=3, map="as")
    >>> agents = ScriptedAgents(env, ["eat", "eat", "clean"])
    >>> obs = env.reset(0)
    >>> actions = agents(env)       # int (2, 3), valid actions of env
    >>> actions.shape
    (2, 3)
    """

    ROLE_NAMES = {"eat": EAT, "clean": CLEAN, "restrained": RESTRAINED}

    def __init__(self, env, roles, min_neighbours: int = 2, seed: int = 0):
        from sharelib.experiments import check_choice, check_int

        roles = list(roles)
        if len(roles) != env.n_agents:
            raise ValueError(f"roles must give one role per agent ({env.n_agents}); got {len(roles)}")
        for k, r in enumerate(roles):
            check_choice(f"roles[{k}]", r, tuple(self.ROLE_NAMES))
        if "clean" in roles and "clean" not in env.action_names:
            raise ValueError("role 'clean' needs an environment with a clean action (Cleanup)")
        self.roles = roles
        self._roles = np.array([self.ROLE_NAMES[r] for r in roles], dtype=np.int64)
        self.min_neighbours = check_int("min_neighbours", min_neighbours, min=0, max=8)
        self._rng = seed_states(check_int("seed", seed, min=0), env.n_envs)
        self._clean = env.action_names.index("clean") if "clean" in env.action_names else -1

    def __call__(self, env) -> np.ndarray:
        """Actions int ``(E, n)`` for the current state of ``env``."""
        out = np.empty((env.n_envs, env.n_agents), dtype=np.int64)
        A = env._A
        _actions_kernel(env._G[:, 0], A[:, :, :2], A[:, :, 2], A[:, :, 3], self._roles,
                        self.min_neighbours, env.beam_length, self._clean, self._rng, out)
        return out
