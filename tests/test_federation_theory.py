"""Theorems 1 and 2 on quadratics: the measured quantities stay under the bounds with the
theorems' constants, and the bounds are not vacuous where they should bite."""

import numpy as np
import pytest

from sharelib.sharing.federation.theory import theorem1_constants, theorem1_run, theorem2_run


@pytest.mark.parametrize("n_p", [2, 5, 10])
def test_theorem1_measured_under_bound(n_p):
    r = theorem1_run(T=1500, n_p=n_p, seed=n_p)
    assert (r["measured"] <= r["bound"]).all()
    assert r["consensus_gap"] <= r["gap_bound"]
    # O(1/T) part: the running mean falls towards the floor
    assert r["measured"][-1] < r["measured"][9]


def test_theorem1_full_participation_reaches_nu_ball():
    r = theorem1_run(T=3000, n_p=10, nu=1e-6)
    assert r["grad_sq"][-1] < 1e-3  # with N_p = N the fixed point has grad F ~ 0
    partial = theorem1_run(T=3000, n_p=3, nu=1e-6)
    assert partial["grad_sq"][-1] > 10 * r["grad_sq"][-1]  # opt-outs bias the federation


def test_theorem1_conditions_checked():
    with pytest.raises(ValueError, match="lambda_u"):
        theorem1_constants(10, 5, 1.0, 0.1, 0.05, 0.5)
    with pytest.raises(ValueError, match="kappa"):
        theorem1_constants(10, 5, 5.0, 0.1, 1.0, 1.0)


def test_theorem2_gap_under_bound_and_decays():
    r = theorem2_run(T=2000)
    assert (r["gap"] <= r["bound"]).all()
    assert r["gap"][-1] < 1e-3 * r["gap"][0]
    # a graph that never connects the two halves would not reach consensus: the test can fail
    assert 0 < r["eps_bar"] < 1
    with pytest.raises(ValueError, match="beta"):
        theorem2_run(beta=0.4)
