"""Equilibrium and efficiency helpers for differentiable games.

A *game* here is any object with ``losses_and_grads(x) -> (f, G)`` where ``f`` (n,) are the
players' losses and ``G[k, j] = d f_k / d x_j`` (players' strategies are the rows of ``x``).
"""

from __future__ import annotations

import math

import numpy as np

from .. import experiments as _ex
from ..diagnostics import warn_if_nonfinite

__all__ = ["gradient_play", "price_of_anarchy", "ratio_to_optimal", "best_response_gap", "social_optimum"]


def price_of_anarchy(nash_total: float, optimal_total: float) -> float:
    """Eq. 2: total loss at the (worst) Nash divided by the minimal total loss (losses > 0)."""
    if optimal_total <= 0:
        raise ValueError(f"optimal_total must be > 0; got {optimal_total}")
    return float(nash_total) / float(optimal_total)


def ratio_to_optimal(total, optimal_total):
    """"Ratio to optimal" of Sec. 3: a learner's total loss over the optimal total loss."""
    return np.asarray(total, dtype=np.float64) / optimal_total


def gradient_play(game, x0, *, lr: float = 0.01, steps: int = 1000, A=None):
    """Simultaneous gradient descent of every player on its (mixed) loss.

    Player ``i`` steps ``x_i <- x_i - lr * d f^A_i / d x_i`` with ``f^A = A^T f`` (Sec. 2.1);
    ``A=None`` is the identity (plain gradient descent, which converges to a Nash equilibrium
    in the games of this package). Returns the final strategies and the (steps+1, n) loss history.
    If the losses become non-finite (``lr`` too large), a :class:`sharelib.diagnostics.NonFiniteWarning`
    names the first step where they did.
    """
    lr = _ex.check_float("lr", lr, min=0.0, min_inclusive=False)
    steps = _ex.check_int("steps", steps, min=0)
    x = np.array(x0, dtype=np.float64)
    n = x.shape[0]
    A = np.eye(n) if A is None else np.asarray(A, dtype=np.float64)
    hist = np.empty((steps + 1, n))
    for t in range(steps + 1):
        f, G = game.losses_and_grads(x)
        hist[t] = f
        if t == steps:
            break
        M = np.einsum("lj,ljd->jd", A, G)  # d f^A_j / d x_j
        x = x - lr * M
    warn_if_nonfinite("gradient_play: loss", hist, hint=f"lr={lr} is too large for this game")
    return x, hist


def best_response_gap(game, x, *, lr: float = 0.01, steps: int = 2000) -> float:
    """Largest improvement any single player can get by unilateral gradient descent from ``x``.

    Zero (up to optimisation error) at a Nash equilibrium; used in tests as a Nash certificate.
    """
    x = np.array(x, dtype=np.float64)
    f0 = game.losses_and_grads(x)[0]
    gap = 0.0
    for i in range(x.shape[0]):
        y = x.copy()
        for _ in range(steps):
            _, G = game.losses_and_grads(y)
            y[i] -= lr * G[i, i]
        gap = max(gap, f0[i] - game.losses_and_grads(y)[0][i])
    warn_if_nonfinite("best_response_gap: gap", gap, hint=f"lr={lr} is too large for this game")
    return gap


def social_optimum(game, x0, *, lr: float = 0.01, steps: int = 5000, tol: float = 1e-12):
    """Minimise the total loss ``sum_k f_k(x)`` by gradient descent from ``x0`` (a local optimum
    in general; the global one for convex games such as the prisoner's dilemma of Eq. 12).

    For Braess networks use the exact enumeration :meth:`BraessNetwork.optimum` instead.
    Returns ``(x, total)``; a :class:`sharelib.diagnostics.NonFiniteWarning` says so if the total
    loss became non-finite (``lr`` too large), with the first such step.
    """
    lr = _ex.check_float("lr", lr, min=0.0, min_inclusive=False)
    steps = _ex.check_int("steps", steps, min=1)
    x = np.array(x0, dtype=np.float64)
    prev = np.inf
    first_bad = None
    for t in range(steps):
        f, G = game.losses_and_grads(x)
        total = float(f.sum())
        if first_bad is None and not math.isfinite(total):
            first_bad = t
        if abs(prev - total) <= tol * max(1.0, abs(total)):
            break
        prev = total
        x = x - lr * G.sum(axis=0)  # d(sum_k f_k)/d x_j = sum_k G_kj
    total = float(game.losses(x).sum())
    warn_if_nonfinite("social_optimum: total loss", total, steps if first_bad is None else first_bad,
                      hint=f"lr={lr} is too large for this game")
    return x, total
