"""Tests of sharelib.markets: the simple (Eq. 3) and logistic (Eqs. 4-6) markets of CE-DOS."""

import numpy as np
import pytest

from sharelib import markets as M


def test_simple_market_closed_form():
    m = M.simple_market(3, 2.5)
    a = np.array([[0.5, 1.0, 2.5], [4.0, 4.0, 4.0]])
    r = M.rewards(m, a)
    S = a.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(r, a / S**2.5, rtol=1e-14)
    # global reward is S ** (1 - xi)
    np.testing.assert_allclose(r.sum(axis=1), S[:, 0] ** (1 - 2.5), rtol=1e-14)
    assert M.rewards(m, [1.0, 1.0, 2.0]).tolist() == pytest.approx([1 / 4**2.5, 1 / 4**2.5, 2 / 4**2.5])


def test_simple_market_selfish_gradient_matches_finite_difference():
    # d r_i / d a_i = (S - xi a_i) / S^(xi + 1) > 0 when S > xi a_i: each agent wants to overproduce,
    # while global reward S^(1 - xi) falls with every unit produced (the dilemma of Sec. 4.1).
    xi, n = 3.0, 10
    m = M.simple_market(n, xi)
    a = np.linspace(0.5, 2.0, n)
    S = a.sum()
    h = 1e-6
    for i in (0, 4, 9):
        e = np.zeros(n)
        e[i] = h
        fd = (M.rewards(m, a + e)[i] - M.rewards(m, a - e)[i]) / (2 * h)
        assert fd == pytest.approx((S - xi * a[i]) / S ** (xi + 1), rel=1e-6)
        assert fd > 0
        g_fd = (M.rewards(m, a + e).sum() - M.rewards(m, a - e).sum()) / (2 * h)
        assert g_fd == pytest.approx((1 - xi) * S ** (-xi), rel=1e-6)
        assert g_fd < 0


def test_logistic_market_matches_equations_4_to_6():
    c = np.array([1.0, 2.0, 3.0])
    o = np.array([1.5, 2.0, 2.5])
    m = M.logistic_market(c, o, 2.0, 1.2)
    a = np.array([[0.1, 2.0, 4.0], [1.0, 1.0, 1.0]])
    p = 1 / (1 + np.exp(-c * (a - o)))                     # Eq. 4
    prod = p.sum(axis=1, keepdims=True)
    price = 1 - 1 / (1 + np.exp(-2.0 * (prod - 1.2)))      # Eq. 5
    np.testing.assert_allclose(M.rewards(m, a), p * price, rtol=1e-13)   # Eq. 6
    np.testing.assert_allclose(M.production(m, a), p, rtol=1e-13)
    np.testing.assert_allclose(M.price(m, prod), price, rtol=1e-13)
    # production is increasing in a_i, the price decreasing in production
    assert np.all(np.diff(M.production(m, np.linspace(0.1, 4, 50)[:, None] * np.ones(3)), axis=0) > 0)
    assert np.all(np.diff(M.price(m, np.linspace(0, 3, 50))) < 0)
    assert M.price(m, 1.2) == pytest.approx(0.5)


def test_rewards_batch_shapes():
    m = M.sample_market("logistic", 4, 0)
    a = np.random.default_rng(0).uniform(0.1, 4, size=(2, 3, 4))
    r = M.rewards(m, a)
    assert r.shape == (2, 3, 4)
    np.testing.assert_allclose(r[1, 2], M.rewards(m, a[1, 2]))
    with pytest.raises(ValueError, match="n_agents=4"):
        M.rewards(m, np.ones(5))


def test_domain_sampler_sec_4_2():
    rng = np.random.default_rng(1)
    xis = [M.sample_market("simple", 5, rng).xi for _ in range(300)]
    assert 2 <= min(xis) and max(xis) <= 4 and np.std(xis) > 0.4
    lm = [M.sample_market("logistic", 50, rng) for _ in range(20)]
    allc = np.concatenate([x.c for x in lm] + [[x.c_price for x in lm]])
    allo = np.concatenate([x.o for x in lm] + [[x.o_price for x in lm]])
    assert allc.min() >= 1 and allc.max() <= 3 and abs(allc.mean() - 2) < 0.1
    assert allo.min() >= 1 and allo.max() <= 3 and abs(allo.mean() - 2) < 0.1
    # seeded: same seed, same market
    a, b = M.sample_market("logistic", 3, 7), M.sample_market("logistic", 3, 7)
    assert np.array_equal(a.c, b.c) and a.o_price == b.o_price


def test_market_validation():
    with pytest.raises(ValueError, match="market must be one of"):
        M.sample_market("energy", 3, 0)
    with pytest.raises(ValueError, match="n_agents"):
        M.sample_market("simple", 0, 0)
    with pytest.raises(ValueError, match="xi"):
        M.simple_market(3, -1.0)
    with pytest.raises(ValueError, match="same length"):
        M.logistic_market([1.0, 2.0], [1.0], 1.0, 1.0)
    with pytest.raises(ValueError, match="logistic market only"):
        M.production(M.simple_market(2, 2.0), [1.0, 1.0])
