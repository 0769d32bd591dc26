"""Fig. 1 of CE-DOS: the two-agent coin example, exactly and by simulation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import experiments

__all__ = ["CoinExample", "coin_example", "simulate_coin_game"]


@dataclass(frozen=True)
class CoinExample:
    """Fig. 1: one coin, worth ``value_yellow`` to agent 1 and ``value_blue`` to agent 2.

    ``payoffs[x, y]`` is the pair of expected rewards when agent 1 picks up (x = 1) or not
    (x = 0) and agent 2 picks up (y = 1) or not; when both try, each gets the coin with
    probability 1/2.
    """

    payoffs: np.ndarray
    nash: tuple
    nash_values: tuple
    shared_profile: tuple
    transfer: float
    shared_values: tuple
    shared_profile_is_equilibrium: bool


def coin_example(value_yellow: float = 1.0, value_blue: float = 2.0, transfer: float = 1.0) -> CoinExample:
    """Compute Fig. 1 exactly.

    Without sharing, picking up is dominant for both (0.5 > 0 for yellow, 1 > 0 for blue when
    the other tries), so the equilibrium is (try, try) with expected values 0.5 and 1. With
    sharing, yellow abstains, blue collects the coin (worth 2) and transfers ``transfer``;
    the expected values become ``(transfer, 2 - transfer)`` = (1, 1) for ``transfer = 1``, a strong
    Pareto improvement. With that transfer conditioned on yellow abstaining, abstaining is a best
    response for yellow (1 >= 0.5) and the profile is an equilibrium of the game with sharing.

    >>> ex = coin_example()
    >>> ex.nash_values, ex.shared_values
    ((0.5, 1.0), (1.0, 1.0))
    """
    vy = experiments.check_float("value_yellow", value_yellow, min=0.0)
    vb = experiments.check_float("value_blue", value_blue, min=0.0)
    t = experiments.check_float("transfer", transfer, min=0.0)
    P = np.zeros((2, 2, 2))
    for x in (0, 1):
        for y in (0, 1):
            if x and y:
                P[x, y] = (0.5 * vy, 0.5 * vb)
            elif x:
                P[x, y] = (vy, 0.0)
            elif y:
                P[x, y] = (0.0, vb)
    nash = [(x, y) for x in (0, 1) for y in (0, 1)
            if P[x, y, 0] >= P[1 - x, y, 0] and P[x, y, 1] >= P[x, 1 - y, 1]]
    ne = nash[0]
    shared = (float(P[0, 1, 0] + t), float(P[0, 1, 1] - t))
    # yellow deviating to "try" forfeits the transfer and gets P[1, 1, 0]; blue deviating to
    # "not" gets 0 and pays nothing.
    eq = shared[0] >= P[1, 1, 0] and shared[1] >= P[0, 0, 1]
    return CoinExample(payoffs=P, nash=ne, nash_values=(float(P[ne][0]), float(P[ne][1])),
                       shared_profile=(0, 1), transfer=t, shared_values=shared,
                       shared_profile_is_equilibrium=bool(eq))


def simulate_coin_game(profile, transfer: float = 0.0, n_episodes: int = 100_000, seed: int = 0,
                       value_yellow: float = 1.0, value_blue: float = 2.0) -> tuple[float, float]:
    """Monte-Carlo check of Fig. 1: mean rewards of (yellow, blue) for a pick-up profile.

    ``profile = (x, y)`` with 1 = try to pick up. When both try, a fair coin flip decides. Blue
    transfers ``transfer`` to yellow whenever it holds the coin.
    """
    x, y = (int(v) for v in profile)
    rng = np.random.default_rng(experiments.check_int("seed", seed, min=0))
    n = experiments.check_int("n_episodes", n_episodes, min=1)
    if x and y:
        blue_wins = rng.random(n) < 0.5
    elif y:
        blue_wins = np.ones(n, dtype=bool)
    else:
        blue_wins = np.zeros(n, dtype=bool)
    yellow_wins = (~blue_wins) & bool(x)
    ry = yellow_wins * value_yellow + blue_wins * transfer
    rb = blue_wins * (value_blue - transfer)
    return float(ry.mean()), float(rb.mean())
