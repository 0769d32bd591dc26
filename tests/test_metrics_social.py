"""The social outcome metrics of Perolat et al. (2017) on hand-computed cases."""

import numpy as np
import pytest

from sharelib import metrics


def test_hand_computed_two_agents():
    # T = 4, agent 0 eats at t = 1 and 3, agent 1 at t = 4; agent 1 hit at t = 2
    r = np.array([[1, 0], [0, 0], [1, 0], [0, 1]], dtype=float)
    hit = np.zeros_like(r, dtype=bool)
    hit[1, 1] = True
    m = metrics.social_metrics(r, hit=hit, cleaned=[0, 3])
    assert m["efficiency"] == pytest.approx(3 / 4)
    # returns 2 and 1: sum |Ri - Rj| = 2, 1 - 2 / (2 * 2 * 3) = 5/6
    assert m["equality"] == pytest.approx(5 / 6)
    # agent 0: mean t = (1 + 3)/2 = 2; agent 1: 4; mean 3
    assert m["sustainability"] == pytest.approx(3.0)
    assert m["peace"] == pytest.approx((2 * 4 - 1) / 4)
    assert m["cleaning"] == 3
    assert m["spread"] == pytest.approx(np.std([2, 1]) / 1.5)


def test_equality_is_one_minus_gini_and_edge_cases():
    rng = np.random.default_rng(0)
    r = rng.random((3, 10, 5))
    R = r.sum(1)
    np.testing.assert_allclose(metrics.equality(r), [1 - metrics.gini(x) for x in R])
    assert metrics.equality(np.zeros((5, 3)))[0] == 1.0          # all equal (zero)
    assert np.isnan(metrics.equality(np.array([[1.0, -2.0]]))[0])  # no Gini for a negative total
    one = np.zeros((6, 3))
    one[:, 0] = 1  # one agent takes everything: 1 - (n - 1)/n
    assert metrics.equality(one)[0] == pytest.approx(1 / 3)


def test_batches_and_validation():
    r = np.zeros((2, 5, 3))
    r[0, 4, 0] = 2.0
    assert metrics.efficiency(r).tolist() == [0.4, 0.0]
    s = metrics.sustainability(r)
    assert s[0] == 5 and np.isnan(s[1])
    assert metrics.peace(np.ones((2, 5, 3), dtype=bool)).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="rewards"):
        metrics.efficiency(np.zeros(4))
    with pytest.raises(ValueError, match="tagged or hit"):
        metrics.social_metrics(r, tagged=r > 0, hit=r > 0)
