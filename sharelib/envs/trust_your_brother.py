r"""Trust-Your-Brother: a hard-coded predator chases two prey around a table (D3C Sec. 3.3, Fig. 4b).

Rules (D3C Sec. 3.3)
--------------------
"A predator chases two prey around a table. The predator uses a hard-coded policy to move towards
the nearest prey unless it is already adjacent to a prey, in which case it stays put. If the prey
are equidistant to the predator, the predator selects its prey at random. The prey receive 0
reward if they chose not to move and -.01 if they attempted to move. They additionally receive -1
if the predator is adjacent to them after moving." "Both prey receive the same 2-d observation
vector. The first feature specifies the counter-clockwise distance to the predator minus the
clockwise distance for the blue prey. The second feature specifies the same for the green prey."
Fig. 4b: "The predator's prey can only escape if the other prey simultaneously moves out of the way."

Our reading of what the text leaves open (documented choices)
--------------------------------------------------------------
- The table is a ring of ``table_size`` seats (default 8), indexed clockwise; each seat holds at
  most one animal. Start seats of the predator and the two prey are uniformly random and distinct.
- Prey actions: 0 = stay, 1 = move counter-clockwise, 2 = move clockwise (one seat). Both prey
  move simultaneously; a move is blocked (the prey stays, and still pays the move cost of an
  *attempted* move) when the target seat holds the predator, when both prey target the same seat,
  when the two prey try to swap seats, or when the target holds the other prey and that prey does
  not leave. So a prey fleeing towards its brother escapes only if the brother moves on too.
- Order within a step: prey move; rewards (``-move_cost`` per attempted move, ``-catch_penalty``
  for each prey at ring distance 1 from the predator); then the predator moves one seat towards
  the nearest prey along the shorter arc (ties between prey, and between the two arcs when the
  prey is exactly opposite, broken uniformly at random), or stays if a prey is adjacent.
- Observation (identical for both prey): ``[f_0, f_1]`` with
  ``f_k = (ccw_distance(prey_k -> predator) - cw_distance(prey_k -> predator)) / table_size``,
  a value in ``(-1, 1)``; the division by ``table_size`` is our scaling (the paper gives none).
- Episodes end by the time limit ``max_steps`` (default 20; the paper gives none).

The dilemma: when the predator sits next to prey X with prey Y (the "brother") just ahead of X,
X escapes the -1 only if Y moves on too at a cost of 0.01 to itself, while Y, two seats from a
predator that stays put next to X, is safe if it stays. With two hand-coded strategies, "make
room" (move away from the predator when it is within 2 seats) and "selfish" (move only when it is
adjacent), mean episode returns over 4000 seeded episodes (seed 0, defaults, ``tests/test_envs.py``)
are: both make room -0.19 each; one selfish -0.11, its brother -7.7 (-8.1 with the roles swapped);
both selfish -9.2 and -8.7; never moving -10.4 and -10.0. Restricted to these two
strategies it is a Chicken-type social dilemma: deviating from mutual "make room" pays the deviator
(-0.11 > -0.19) and costs the pair about 8.
"""

from __future__ import annotations

import numba
import numpy as np

from .base import MultiAgentEnv, end_step, rng_integer
from . import render as _r

__all__ = ["TrustYourBrother"]


@numba.njit(cache=True)
def _ring_dist(a, b, L):
    d = a - b
    if d < 0:
        d = -d
    return min(d, L - d)


# packed int state columns of I (column 0 is the step counter): seats of prey 0, prey 1, predator
_Y0, _Y1, _Q = 1, 2, 3


@numba.njit(cache=True)
def _write_obs(obs, I, e, L):
    q = I[e, _Q]
    for k in range(2):
        x = I[e, _Y0 + k]
        ccw = (x - q) % L  # steps counter-clockwise from prey k to the predator
        cw = (q - x) % L
        f = (ccw - cw) / L
        obs[e, 0, k] = f
        obs[e, 1, k] = f


@numba.njit(cache=True)
def _reset_one(rng, e, I, L):
    a = rng_integer(rng, e, L)
    b = rng_integer(rng, e, L - 1)
    if b >= a:
        b += 1
    c = rng_integer(rng, e, L - 2)
    lo = min(a, b)
    hi = max(a, b)
    if c >= lo:
        c += 1
    if c >= hi:
        c += 1
    I[e, 0] = 0
    I[e, _Q] = a
    I[e, _Y0] = b
    I[e, _Y1] = c


@numba.njit(cache=True)
def _reset_kernel(mask, rng, I, obs, P):
    L = np.int64(P[0])
    for e in range(I.shape[0]):
        if mask[e]:
            _reset_one(rng, e, I, L)
            _write_obs(obs, I, e, L)


@numba.njit(cache=True)
def _step_kernel(actions, rng, I, F, B, obs, final_obs, P):
    L, move_cost, catch_penalty, max_steps = np.int64(P[0]), P[1], P[2], np.int64(P[3])
    for e in range(I.shape[0]):
        p0 = I[e, _Y0]
        p1 = I[e, _Y1]
        q = I[e, _Q]
        a0 = actions[e, 0]
        a1 = actions[e, 1]
        t0 = p0 if a0 == 0 else ((p0 - 1) % L if a0 == 1 else (p0 + 1) % L)
        t1 = p1 if a1 == 0 else ((p1 - 1) % L if a1 == 1 else (p1 + 1) % L)
        ok0 = a0 != 0 and t0 != q
        ok1 = a1 != 0 and t1 != q
        if ok0 and ok1 and t0 == t1:  # same target seat
            ok0 = False
            ok1 = False
        if t0 == p1 and t1 == p0:  # swap
            ok0 = False
            ok1 = False
        if ok0 and t0 == p1 and not ok1:  # the brother does not make room
            ok0 = False
        if ok1 and t1 == p0 and not ok0:
            ok1 = False
        if ok0:
            p0 = t0
        if ok1:
            p1 = t1
        I[e, _Y0] = p0
        I[e, _Y1] = p1
        F[e, 0, 0] = -move_cost if a0 != 0 else 0.0
        F[e, 0, 1] = -move_cost if a1 != 0 else 0.0
        d0 = _ring_dist(p0, q, L)
        d1 = _ring_dist(p1, q, L)
        if d0 == 1:
            F[e, 0, 0] -= catch_penalty
        if d1 == 1:
            F[e, 0, 1] -= catch_penalty
        # the predator: stay if adjacent to a prey, else one seat towards the nearest prey
        if d0 > 1 and d1 > 1:
            if d0 < d1:
                target = p0
            elif d1 < d0:
                target = p1
            else:
                target = p0 if rng_integer(rng, e, 2) == 0 else p1
            cw = (target - q) % L
            ccw = (q - target) % L
            if cw < ccw:
                step = 1
            elif ccw < cw:
                step = -1
            else:
                step = 1 if rng_integer(rng, e, 2) == 1 else -1
            I[e, _Q] = (q + step) % L
        if end_step(e, I, F, B, max_steps, False):
            _write_obs(final_obs, I, e, L)
            _reset_one(rng, e, I, L)
        _write_obs(obs, I, e, L)


class TrustYourBrother(MultiAgentEnv):
    """D3C's Trust-Your-Brother (Sec. 3.3), batched over ``n_envs`` copies (rules in the module doc).

    Parameters
    ----------
    n_envs : int
        Number of independent copies stepped together.
    table_size : int
        Number of seats around the table (>= 5; our choice 8).
    move_cost : float
        Cost of an attempted move (D3C: 0.01).
    catch_penalty : float
        Loss of a prey that has the predator next to it after moving (D3C: 1).
    max_steps : int
        Episode length (our choice: 20).
    """

    name = "trust_your_brother"
    n_agents = 2
    n_actions = 3
    action_names = ("stay", "counter-clockwise", "clockwise")
    obs_dim = 2
    obs_low = -1.0
    obs_high = 1.0
    STAY, CCW, CW = 0, 1, 2
    int_state_cols = 3  # seats of prey 0, prey 1, the predator

    def __init__(self, n_envs: int = 1, table_size: int = 8, move_cost: float = 0.01,
                 catch_penalty: float = 1.0, max_steps: int = 20):
        from sharelib.experiments import check_float, check_int

        self.table_size = check_int("table_size", table_size, min=5)
        self.move_cost = check_float("move_cost", move_cost, min=0.0)
        self.catch_penalty = check_float("catch_penalty", catch_penalty, min=0.0)
        self.max_steps = check_int("max_steps", max_steps, min=1)
        super().__init__(n_envs)

    def params(self) -> dict:
        return dict(table_size=self.table_size, move_cost=self.move_cost,
                    catch_penalty=self.catch_penalty, max_steps=self.max_steps)

    def _allocate(self):
        self._P = np.array([self.table_size, self.move_cost, self.catch_penalty, self.max_steps],
                           dtype=np.float64)

    @property
    def positions(self) -> tuple[np.ndarray, np.ndarray]:
        """``(prey seats int (E, 2), predator seat int (E,))`` (copies)."""
        return self._I[:, _Y0:_Y1 + 1].copy(), self._I[:, _Q].copy()

    def set_state(self, prey, predator) -> np.ndarray:
        """Put every copy in the given seats (for tests and figures); returns the new observation.

        ``prey`` int ``(E, 2)`` or ``(2,)``, ``predator`` int ``(E,)`` or scalar; seats distinct.
        """
        prey = np.broadcast_to(np.asarray(prey, dtype=np.int64), (self.n_envs, 2))
        pred = np.broadcast_to(np.asarray(predator, dtype=np.int64), (self.n_envs,))
        L = self.table_size
        if prey.min() < 0 or prey.max() >= L or pred.min() < 0 or pred.max() >= L:
            raise ValueError(f"seats must be in [0, {L - 1}]")
        if np.any(prey[:, 0] == prey[:, 1]) or np.any(prey[:, 0] == pred) or np.any(prey[:, 1] == pred):
            raise ValueError("the predator and the two prey must sit on distinct seats")
        if not self._has_reset:
            self.reset(0)
        self._I[:, _Y0:_Y1 + 1] = prey
        self._I[:, _Q] = pred
        for e in range(self.n_envs):
            _write_obs(self._obs, self._I, e, L)
        return self._obs.copy()

    def _reset_kernel(self, mask):
        _reset_kernel(mask, self._rng, self._I, self._obs, self._P)

    def _step_kernel(self, actions):
        _step_kernel(actions, self._rng, self._I, self._F, self._B, self._obs, self.final_obs,
                     self._P)

    def render(self, env_index: int = 0, size: int = 192) -> np.ndarray:
        """RGB image of copy ``env_index``: the table (brown) with its seats, the predator black,
        prey 0 blue and prey 1 green (the colours of D3C Fig. 4b)."""
        e = self._check_env_index(env_index)
        L = self.table_size
        img = np.empty((size, size, 3), dtype=np.uint8)
        img[:] = _r.BACKGROUND
        c = size / 2
        R = size * 0.36
        _r.fill_disc(img, c, c, R * 0.62, (181, 136, 99))
        seat_r = min(size * 0.08, np.pi * R / L * 0.85)
        colors = {int(self._I[e, _Q]): _r.PREDATOR, int(self._I[e, _Y0]): (31, 119, 180),
                  int(self._I[e, _Y1]): (44, 160, 44)}
        for k in range(L):
            ang = 2 * np.pi * k / L  # seat 0 at the top, clockwise on screen
            y, x = c - R * np.cos(ang), c + R * np.sin(ang)
            _r.fill_disc(img, y, x, seat_r, (210, 210, 210))
            if k in colors:
                _r.fill_disc(img, y, x, seat_r * 0.85, colors[k])
        return img
