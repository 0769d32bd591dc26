"""Cells of a small wall-free grid, shared by the AS paper's grid games (Exchange, Navigation).

A cell is one integer ``row * size + col``. Both games start an episode by putting agents and
objects on distinct random cells, and give every agent the same observation: every such cell's
``(row, col) / (size - 1)``, then a few state flags, then (optionally) the observer's one-hot index.
"""

from __future__ import annotations

import numba

from .base import rng_integer

__all__ = ["place_distinct", "write_global_obs"]


@numba.njit(cache=True)
def place_distinct(rng, e, cells, n_cells):
    """Fill ``cells`` with distinct cells uniform on ``[0, n_cells)``, from copy ``e``'s stream
    (one draw per attempt, a draw equal to an earlier cell is rejected and redrawn)."""
    for j in range(cells.shape[0]):
        while True:
            c = rng_integer(rng, e, n_cells)
            ok = True
            for m in range(j):
                if cells[m] == c:
                    ok = False
                    break
            if ok:
                break
        cells[j] = c


@numba.njit(cache=True)
def write_global_obs(obs, e, cells, size, flags, agent_id):
    """Copy ``e``'s observation for all agents: coordinates of ``cells``, then ``flags``, then the
    observer's one-hot index if ``agent_id``."""
    n = obs.shape[1]
    scale = 1.0 / (size - 1)
    o = obs[e, 0]
    for j in range(cells.shape[0]):
        o[2 * j] = (cells[j] // size) * scale
        o[2 * j + 1] = (cells[j] % size) * scale
    width = 2 * cells.shape[0] + flags.shape[0]
    for k in range(flags.shape[0]):
        o[2 * cells.shape[0] + k] = flags[k]
    for i in range(1, n):
        for k in range(width):
            obs[e, i, k] = o[k]
    if agent_id:
        for i in range(n):
            for k in range(n):
                obs[e, i, width + k] = 1.0 if k == i else 0.0
