"""The convex n-player prisoner's dilemma of the D3C paper (Sec. 3.2, Eq. 12, Fig. 4a).

Formulation (our reading of Eq. 12)
-----------------------------------
Player ``i`` controls ``n - 1`` numbers ``x_ij`` (j != i), its "cooperation toward j": 0 means
defect against j, ``c`` means cooperate with j. The joint strategy ``x`` is the column vector of
all ``n (n - 1)`` entries. Eq. 12 stacks ``x^T`` once per player, subtracts a target matrix
``C`` (n x n(n-1), entries 0 or c), squares elementwise and sums over the columns, so player
``k``'s loss is the squared distance of the *whole* joint strategy to its own target row::

    f_k(x) = sum_{j != k', (j, m)} (x_jm - C_k[j, m])^2,
    C_k[j, m] = c  if m == k (player j cooperates with k), else 0.

This encodes the three wishes of Sec. 3.2: player k wants to defect against everybody
(``x_km -> 0``), wants the others to defect against each other (``x_jm -> 0`` for j, m != k)
and wants the others to cooperate with it (``x_jk -> c``).

Closed forms (derived in the docstrings below and checked in ``tests/test_games.py``):

* Nash equilibrium: ``d f_k / d x_k = 2 x_k``, so the unique Nash is the origin, where every
  player loses ``(n - 1) c^2`` and the total is ``n (n - 1) c^2``.
* Social optimum: entry ``x_jm`` enters the total as ``(x_jm - c)^2 + (n - 1) x_jm^2``, minimised
  at ``x_jm = c / n``; the optimal total is ``(n - 1)^2 c^2``.
* Price of anarchy: ``rho = n / (n - 1)``, *independent of c*. The paper states
  ``rho = n / (c (n - 1))``; the two agree at ``c = 1`` (the setting of Figs. 5-6) but not
  elsewhere. Any loss of the form of Eq. 12 scales as ``c^2`` in both numerator and denominator,
  so no reading of Eq. 12 with quadratic losses and targets in {0, c} gives a ``1/c`` dependence;
  we report our value next to the paper's formula in the sweep over ``n`` and ``c``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .. import experiments as _ex

__all__ = ["PrisonersDilemma", "pd_losses_grads", "target_index"]


@numba.njit(cache=True)
def target_index(j, m):
    """Player that entry ``x[j, m]`` is directed at (skips j itself)."""
    return m if m < j else m + 1


@numba.njit(cache=True)
def pd_losses_grads(x, c, f, G):
    """Losses of Eq. 12 and their exact gradients.

    Parameters
    ----------
    x : (n, n-1) strategies, ``x[j, m]`` = cooperation of player j toward player ``target_index(j, m)``.
    c : cooperation level (the nonzero entries of C).
    f : (n,) output losses.
    G : (n, n, n-1) output, ``G[k, j] = d f_k / d x_j = 2 (x_j - C_k[j])``.
    """
    n = x.shape[0]
    d = x.shape[1]
    for k in range(n):
        s = 0.0
        for j in range(n):
            for m in range(d):
                t = c if target_index(j, m) == k else 0.0
                r = x[j, m] - t
                s += r * r
                G[k, j, m] = 2.0 * r
        f[k] = s


@dataclass(frozen=True)
class PrisonersDilemma:
    """Convex n-player prisoner's dilemma (Eq. 12). See the module docstring for the derivation."""

    n_players: int = 10
    c: float = 1.0

    def __post_init__(self):
        # frozen: store the checked values (a Python int and float, whatever the caller passed)
        object.__setattr__(self, "n_players", _ex.check_int("n_players", self.n_players, min=2))
        object.__setattr__(self, "c", _ex.check_float("c", self.c, min=0.0, min_inclusive=False))

    @property
    def shape(self):
        return (self.n_players, self.n_players - 1)

    def losses_and_grads(self, x):
        x = np.asarray(x, dtype=np.float64)
        if x.shape != self.shape:
            raise ValueError(f"x must have shape {self.shape}; got {x.shape}")
        n = self.n_players
        f = np.empty(n)
        G = np.empty((n, n, n - 1))
        pd_losses_grads(x, float(self.c), f, G)
        return f, G

    def losses(self, x):
        return self.losses_and_grads(x)[0]

    def target_matrix(self) -> np.ndarray:
        """The matrix ``C`` of Eq. 12, shape (n, n(n-1)), rows = players, columns = entries x_jm."""
        n = self.n_players
        C = np.zeros((n, n * (n - 1)))
        for k in range(n):
            for j in range(n):
                for m in range(n - 1):
                    if target_index(j, m) == k:
                        C[k, j * (n - 1) + m] = self.c
        return C

    def nash(self) -> np.ndarray:
        """The unique Nash equilibrium (the origin)."""
        return np.zeros(self.shape)

    def nash_total(self) -> float:
        return float(self.n_players * (self.n_players - 1) * self.c**2)

    def optimum(self) -> np.ndarray:
        """The unique social optimum ``x_jm = c / n``."""
        return np.full(self.shape, self.c / self.n_players)

    def optimal_total(self) -> float:
        return float((self.n_players - 1) ** 2 * self.c**2)

    def price_of_anarchy(self) -> float:
        """``n / (n - 1)`` under our reading of Eq. 12 (the paper writes ``n / (c (n - 1))``)."""
        return self.nash_total() / self.optimal_total()

    def paper_price_of_anarchy(self) -> float:
        """The paper's closed form ``n / (c (n - 1))`` (Sec. 3.2), for comparison."""
        return self.n_players / (self.c * (self.n_players - 1))
