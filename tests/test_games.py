"""Tests for sharelib.games: Braess networks and the convex n-player prisoner's dilemma (D3C paper)."""

import numpy as np
import pytest

from sharelib.games import (
    BraessNetwork,
    PrisonersDilemma,
    gradient_play,
    paper_network,
    price_of_anarchy,
    random_braess_networks,
    ratio_to_optimal,
)
from sharelib.games.equilibria import best_response_gap, social_optimum


def _fd_jacobian(game, x, h=1e-6):
    G = np.zeros((x.shape[0],) + x.shape)
    for idx in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        G[(slice(None),) + idx] = (game.losses(xp) - game.losses(xm)) / (2 * h)
    return G


# --- Braess -----------------------------------------------------------------------------------


def test_paper_network_closed_forms():
    """Fig. 2a: 65 min each without AB, Nash 80 min each with AB, rho = 80/65."""
    without, with_ab = paper_network(False), paper_network(True)
    assert without.summary() == (260.0, 260.0, 260.0)
    opt, best, worst = with_ab.summary()
    assert (opt, best, worst) == (260.0, 320.0, 320.0)
    (tot, prof), = with_ab.pure_nash()
    assert list(prof) == [2, 2, 2, 2]  # everybody takes SABE
    np.testing.assert_allclose(with_ab.pure_costs(prof), [80.0] * 4)
    np.testing.assert_allclose(with_ab.pure_costs([0, 0, 1, 1]), [65.0] * 4)
    assert with_ab.price_of_anarchy() == pytest.approx(80 / 65)


def test_expected_commute_matches_monte_carlo():
    net = paper_network(True)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3))
    p = np.exp(x) / np.exp(x).sum(1, keepdims=True)
    prof = np.array([rng.choice(3, size=200_000, p=p[i]) for i in range(4)]).T
    inc = net.incidence
    counts = inc[prof].sum(axis=1)  # (S, E)
    edge = counts * net.slope + net.intercept
    mc = np.einsum("sie,se->si", inc[prof], edge).mean(0)
    np.testing.assert_allclose(net.losses(x), mc, rtol=5e-3)


@pytest.mark.parametrize("shortcut", [False, True])
def test_braess_gradients_match_finite_differences(shortcut):
    rng = np.random.default_rng(2)
    net = BraessNetwork(rng.uniform(0, 20, 5), rng.uniform(0, 50, 5), shortcut)
    x = rng.standard_normal((4, net.n_routes))
    _, G = net.losses_and_grads(x)
    np.testing.assert_allclose(G, _fd_jacobian(net, x), atol=1e-5)


def test_gd_reaches_braess_nash():
    net = paper_network(True)
    x, hist = gradient_play(net, np.random.default_rng(3).standard_normal((4, 3)), lr=0.01, steps=4000)
    assert hist[-1].sum() == pytest.approx(320.0, rel=2e-3)
    assert ratio_to_optimal(hist[-1].sum(), 260.0) == pytest.approx(80 / 65, rel=2e-3)


def test_random_networks_exhibit_braess_paradox():
    nets, acc = random_braess_networks(25, 7)
    assert len(nets) == 25 and 0 < acc < 1
    for net in nets:
        assert net.shortcut
        opt_with, best_with, _ = net.summary()
        opt_without, _, worst_without = net.with_shortcut(False).summary()
        assert best_with > worst_without  # every Nash gets worse with the shortcut
        assert opt_with <= opt_without + 1e-9  # the optimum cannot get worse
    # reproducible
    again, _ = random_braess_networks(25, 7)
    np.testing.assert_array_equal(nets[3].slope, again[3].slope)


def test_braess_validation():
    with pytest.raises(ValueError, match="slope"):
        BraessNetwork(np.ones(4), np.ones(5))
    with pytest.raises(ValueError, match="x must have shape"):
        paper_network(False).losses(np.zeros((4, 3)))


# --- Prisoner's dilemma -----------------------------------------------------------------------


@pytest.mark.parametrize("n,c", [(2, 1.0), (3, 0.5), (10, 1.0), (6, 2.5)])
def test_pd_closed_forms(n, c):
    pd = PrisonersDilemma(n, c)
    f_nash = pd.losses(pd.nash())
    np.testing.assert_allclose(f_nash, (n - 1) * c**2)
    assert pd.losses(pd.optimum()).sum() == pytest.approx((n - 1) ** 2 * c**2)
    assert pd.price_of_anarchy() == pytest.approx(n / (n - 1))
    # the optimum is a minimiser of the total: random perturbations only increase it
    rng = np.random.default_rng(n)
    for _ in range(20):
        y = pd.optimum() + 0.1 * rng.standard_normal(pd.shape)
        assert pd.losses(y).sum() > pd.optimal_total()


def test_pd_matches_eq12_matrix_form():
    """f = sum over columns of ([x^T; ...; x^T] - C)^2 (Eq. 12)."""
    pd = PrisonersDilemma(4, 1.7)
    x = np.random.default_rng(4).standard_normal(pd.shape)
    C = pd.target_matrix()
    assert set(np.unique(C)) == {0.0, 1.7}
    # each column (entry x_jm) has exactly one player with target c
    np.testing.assert_array_equal((C > 0).sum(0), 1)
    f = ((np.tile(x.ravel(), (4, 1)) - C) ** 2).sum(axis=1)
    np.testing.assert_allclose(pd.losses(x), f)


def test_pd_paper_formula_agrees_only_at_c_equal_one():
    assert PrisonersDilemma(10, 1.0).paper_price_of_anarchy() == pytest.approx(10 / 9)
    assert PrisonersDilemma(10, 1.0).price_of_anarchy() == pytest.approx(10 / 9)
    assert PrisonersDilemma(10, 2.0).price_of_anarchy() != pytest.approx(PrisonersDilemma(10, 2.0).paper_price_of_anarchy())


def test_pd_gradients_match_finite_differences():
    pd = PrisonersDilemma(4, 1.3)
    x = np.random.default_rng(5).standard_normal(pd.shape)
    _, G = pd.losses_and_grads(x)
    np.testing.assert_allclose(G, _fd_jacobian(pd, x), atol=1e-6)


def test_gd_converges_to_pd_nash_at_origin():
    pd = PrisonersDilemma(10, 1.0)
    x, hist = gradient_play(pd, np.random.default_rng(6).standard_normal(pd.shape), lr=0.05, steps=500)
    np.testing.assert_allclose(x, 0.0, atol=1e-8)
    assert price_of_anarchy(hist[-1].sum(), pd.optimal_total()) == pytest.approx(10 / 9)
    assert best_response_gap(pd, x, steps=200) < 1e-12


def test_pd_validation():
    with pytest.raises(ValueError, match="n_players"):
        PrisonersDilemma(1, 1.0)
    with pytest.raises(ValueError, match="c"):
        PrisonersDilemma(3, 0.0)


def test_social_optimum_by_optimisation_matches_closed_form():
    pd = PrisonersDilemma(5, 0.7)
    x, total = social_optimum(pd, np.random.default_rng(8).standard_normal(pd.shape), lr=0.05, steps=5000)
    np.testing.assert_allclose(x, 0.7 / 5, atol=1e-6)
    assert total == pytest.approx(pd.optimal_total(), rel=1e-9)
