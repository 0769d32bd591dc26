"""Tests for sharelib.sharing.d3c (D3C paper: Eqs. 1, 7-11, Algorithms 1-2)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharelib import experiments
from sharelib.games import PrisonersDilemma, paper_network
from sharelib.sharing import d3c


def _random_state(game, n, d, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    A = rng.dirichlet(np.ones(n), size=n)
    return x, A


GAMES = [
    pytest.param(paper_network(True), 4, 3, id="braess"),
    pytest.param(PrisonersDilemma(4, 1.3), 4, 3, id="pd"),
]


# --- mixing and budget balance ----------------------------------------------------------------


def test_init_mixing_matches_paper():
    A = d3c.init_mixing(5)
    np.testing.assert_allclose(np.diag(A), 0.99)
    np.testing.assert_allclose(A[0, 1:], 0.01 / 4)
    np.testing.assert_allclose(A.sum(1), 1.0)
    with pytest.raises(ValueError, match="n must be"):
        d3c.init_mixing(1)


def test_mixed_losses_example_eq1():
    """Eq. 1: agent 1's loss mixes column 1, [A11, A21, A31] = [0.9, 0.3, 0.5]."""
    A = np.array([[0.9, 0.05, 0.05], [0.3, 0.6, 0.1], [0.5, 0.25, 0.25]])
    f = np.array([1.0, 2.0, 4.0])
    assert d3c.mixed_losses(A, f)[0] == pytest.approx(0.9 + 0.6 + 2.0)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 8), seed=st.integers(0, 2**31), lr=st.floats(0, 50))
def test_budget_balance_and_simplex_rows(n, seed, lr):
    """Invariants: rows of A stay on the simplex after mirror steps; sum(A^T f) == sum(f)."""
    rng = np.random.default_rng(seed)
    A = d3c.init_mixing(n)
    for _ in range(5):
        A = d3c.mirror_step(A, rng.standard_normal((n, n)) * 10, lr)
        assert np.all(A > 0)
        np.testing.assert_allclose(A.sum(axis=1), 1.0, rtol=1e-12)
        f = rng.standard_normal(n) * 100
        assert d3c.mixed_losses(A, f).sum() == pytest.approx(f.sum(), rel=1e-9, abs=1e-9)


def test_mirror_step_is_entropic_and_clips_logits():
    A = np.array([[0.5, 0.25, 0.25]])
    g = np.array([[1.0, 0.0, -1.0]])
    out = d3c.mirror_step(A, g, 0.3)
    expect = A * np.exp(-0.3 * g)
    np.testing.assert_allclose(out, expect / expect.sum())
    clipped = d3c.mirror_step(np.array([[0.98, 0.01, 0.01]]), np.array([[0.0, 100.0, 0.0]]), 1.0, clip=(-5, 5))
    assert clipped[0, 1] == pytest.approx(np.exp(-5) / (0.98 + np.exp(-5) + 0.01))


# --- exact derivatives of Eq. 11 --------------------------------------------------------------


@pytest.mark.parametrize("game,n,d", GAMES)
@pytest.mark.parametrize("target", ["mixed", "original"])
def test_time_derivative_matches_finite_difference(game, n, d, target):
    x, A = _random_state(game, n, d, 10)
    f, G = game.losses_and_grads(x)
    D = d3c.loss_time_derivative(A, G, target)
    M = d3c.mixed_own_grads(A, G)
    h = 1e-6
    fp = game.losses(x - h * M)
    fm = game.losses(x + h * M)
    watch = (lambda v: A.T @ v) if target == "mixed" else (lambda v: v)
    np.testing.assert_allclose(D, (watch(fp) - watch(fm)) / (2 * h), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("game,n,d", GAMES)
@pytest.mark.parametrize("target", ["mixed", "original"])
def test_eq11_gradient_matches_finite_difference(game, n, d, target):
    x, A = _random_state(game, n, d, 11)
    _, G = game.losses_and_grads(x)
    grad, D = d3c.d3c_gradient(A, G, eps=1e12, target=target)  # huge eps: ReLU active everywhere
    h = 1e-6
    fd = np.zeros((n, n))
    for i in range(n):
        for m in range(n):
            Ap, Am = A.copy(), A.copy()
            Ap[i, m] += h
            Am[i, m] -= h
            fd[i, m] = (d3c.loss_time_derivative(Ap, G, target)[i] - d3c.loss_time_derivative(Am, G, target)[i]) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6 * np.abs(fd).max())


def test_relu_gate_and_kl_term():
    game = PrisonersDilemma(3, 1.0)
    x, A = _random_state(game, 3, 2, 12)
    _, G = game.losses_and_grads(x)
    _, D = d3c.d3c_gradient(A, G)
    gate = d3c.d3c_gradient(A, G, eps=-np.abs(D).max() - 1.0)[0]  # ReLU inactive for all agents
    np.testing.assert_allclose(gate, 0.0)
    nu = 0.3
    g_kl = d3c.d3c_gradient(A, G, eps=-np.abs(D).max() - 1.0, nu=nu)[0]
    # d/dA_i of nu * KL(e_i || A_i) = -nu * log A_ii
    np.testing.assert_allclose(g_kl, -nu * np.diag(1.0 / np.diag(A)))


def test_win_stay_lose_shift():
    """If every watched loss decreases (D_i + eps <= 0) A stays; otherwise it moves."""
    game = PrisonersDilemma(2, 1.0)
    A = d3c.init_mixing(2)
    x = np.array([[2.0], [2.0]])  # far from Nash: both losses decrease under gradient play
    _, G = game.losses_and_grads(x)
    grad, D = d3c.d3c_gradient(A, G)
    assert np.all(D < 0)
    np.testing.assert_allclose(d3c.mirror_step(A, grad, 1.0), A)
    x = np.array([[0.05], [0.05]])  # near Nash, losses rise: x_ji -> 0 hurts player i
    _, G = game.losses_and_grads(x)
    grad, D = d3c.d3c_gradient(A, G)
    assert np.all(D > 0)
    A2 = d3c.mirror_step(A, grad, 1.0)
    assert np.all(np.diag(A2) < np.diag(A))  # agents shift attention to the other


# --- the local price-of-anarchy bounds --------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_eq7_bound_is_above_true_local_ratio(seed):
    game = PrisonersDilemma(2, 1.0)
    x, A = _random_state(game, 2, 1, seed)
    f, G = game.losses_and_grads(x)
    for dt in (0.01, 0.05):
        true = d3c.local_price_of_anarchy(game, x, A, dt=dt, n_grid=41)
        bound = d3c.local_poa_bound(A, f, G, dt=dt, mu=1.0)
        assert 1.0 <= true <= bound + 1e-9
    assert d3c.egalitarian_poa_bound(A, f, G, dt=0.05, mu=1.0) >= 1.0


def test_bound_formula_by_hand():
    game = PrisonersDilemma(2, 1.0)
    x = np.array([[0.3], [-0.4]])
    A = np.eye(2) * 0.8 + 0.1
    f, G = game.losses_and_grads(x)
    fA = A.T @ f
    M = np.array([A[0, 0] * G[0, 0] + A[1, 0] * G[1, 0], A[0, 1] * G[0, 1] + A[1, 1] * G[1, 1]])
    dfA = np.array([-(A[0, i] * G[0] + A[1, i] * G[1]).ravel() @ M.ravel() for i in range(2)])
    z = dfA / fA + (M**2).sum(1) / (2.0 * fA)
    expect = np.max(1 + 0.1 * np.maximum(z, 0))
    assert d3c.local_poa_bound(A, f, G, dt=0.1, mu=2.0) == pytest.approx(expect)


def test_egalitarian_bound_formula_by_hand():
    game = PrisonersDilemma(3, 1.0)
    x, A = _random_state(game, 3, 2, 13)
    f, G = game.losses_and_grads(x)
    fA = A.T @ f
    k = int(np.argmax(fA))
    M = d3c.mixed_own_grads(A, G)
    dfk = -sum(np.einsum("l,ld->d", A[:, k], G[:, j]) @ M[j] for j in range(3))
    z = dfk / fA[k] + (M**2).sum() / (0.5 * fA[k])
    assert d3c.egalitarian_poa_bound(A, f, G, dt=0.2, mu=0.5) == pytest.approx(1 + 0.2 * max(z, 0.0))


# --- batched runs -----------------------------------------------------------------------------


def _numpy_reference(game, x0, A0, steps, lr_x, lr_A, eps, target):
    x, A = x0.copy(), A0.copy()
    for _ in range(steps):
        _, G = game.losses_and_grads(x)
        grad, _ = d3c.d3c_gradient(A, G, eps=eps, target=target)
        x = x - lr_x * d3c.mixed_own_grads(A, G)
        A = d3c.mirror_step(A, grad, lr_A)
    return x, A


@pytest.mark.parametrize("target", ["mixed", "original"])
def test_batched_kernel_equals_step_by_step_reference(target):
    pd = PrisonersDilemma(3, 1.0)
    res = d3c.run_pd(pd, method="d3c", n_runs=3, seed=4, steps=50, lr_x=0.05, lr_A=0.3, eps=0.5, target=target)
    x0 = np.random.default_rng(4).standard_normal((3,) + pd.shape)
    for r in range(3):
        x, A = _numpy_reference(pd, x0[r], d3c.init_mixing(3), 50, 0.05, 0.3, 0.5, target)
        np.testing.assert_allclose(res.x[r], x, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(res.A[r], A, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.A.sum(-1), 1.0)


def test_runs_are_reproducible_and_seeded():
    net = paper_network(True)
    a = d3c.run_braess(net, n_runs=4, seed=1, steps=30)
    b = d3c.run_braess(net, n_runs=4, seed=1, steps=30)
    c = d3c.run_braess(net, n_runs=4, seed=2, steps=30)
    np.testing.assert_array_equal(a.total, b.total)
    assert not np.array_equal(a.total, c.total)


def test_pd_gd_reaches_nash_and_d3c_the_optimum():
    pd = PrisonersDilemma(10, 1.0)
    P = experiments.resolve("d3c.pd", "quick", n_runs=8)
    res = d3c.pd_experiment(P, methods=("gd", "d3c", "cooperative"))
    np.testing.assert_allclose(res["gd"].ratio[:, -1], 10 / 9, rtol=1e-6)  # rho = n/(n-1) at Nash
    np.testing.assert_allclose(res["d3c"].ratio[:, -1], 1.0, atol=1e-3)
    np.testing.assert_allclose(res["cooperative"].ratio[:, -1], 1.0, atol=1e-9)
    assert res["d3c"].distance[:, -1].max() < 1e-2
    assert pd.optimal_total() == pytest.approx(81.0)


def test_braess_gd_reaches_80_over_65():
    P = experiments.resolve("d3c.braess", "quick", n_runs=8, steps=3000)
    res = d3c.braess_experiment(True, P)
    np.testing.assert_allclose(res["gd"].ratio[:, -1], 80 / 65, rtol=2e-3)
    assert res["d3c"].ratio[:, -1].mean() < res["gd"].ratio[:, -1].mean() - 0.05
    np.testing.assert_allclose(res["d3c"].A.sum(-1), 1.0)


def test_run_validation():
    with pytest.raises(ValueError, match="method"):
        d3c.run_braess(paper_network(True), method="sgd")
    with pytest.raises(ValueError, match="target"):
        d3c.run_pd(PrisonersDilemma(3, 1.0), target="both")
    with pytest.raises(ValueError, match="steps"):
        d3c.run_pd(PrisonersDilemma(3, 1.0), steps=-1)


# --- zeroth-order D3C (Algorithms 1-2) --------------------------------------------------------


def test_zeroth_order_trials_and_no_update_when_winning():
    # log(0.01 / 2) = -5.3 < l = -5: with the paper's clip an update with a zero gradient would
    # still move A (see the docstring), so this check widens the clip
    zo = d3c.ZerothOrderD3C(3, lr=1.0, delta=0.5, tau_min=2, tau_max=4, clip=(-10, 10), rng=0)
    assert np.all((zo.tau >= 2) & (zo.tau <= 4))
    np.testing.assert_allclose(np.linalg.norm(zo.direction, axis=1), 1.0)
    np.testing.assert_allclose(zo.propose().sum(1), 1.0)
    A0 = zo.A.copy()
    # returns keep increasing: the first trial is compared with G_b = 0 < returns, so no update
    for t in range(1, 40):
        zo.report(np.full(3, float(t)))
    np.testing.assert_allclose(zo.A, A0)
    assert zo.n_updates.min() >= 8


def test_zeroth_order_moves_away_from_a_losing_perturbation():
    zo = d3c.ZerothOrderD3C(2, lr=0.5, delta=0.5, tau_min=3, tau_max=3, clip=(-10, 10), rng=1)
    a = zo.direction.copy()
    logA = np.log(zo.A.copy())
    for _ in range(3):
        done = zo.report(np.array([-6.0, -6.0]))  # worse than G_b = 0
    assert done.all()
    # rho = ReLU((0 - (-6)) / 3) = 2; step = -lr * rho * a in logit space
    expect = logA - 0.5 * 2.0 * a
    expect = np.exp(expect) / np.exp(expect).sum(1, keepdims=True)
    np.testing.assert_allclose(zo.A, expect)


def test_zeroth_order_mix_and_validation():
    zo = d3c.ZerothOrderD3C(3, rng=2)
    r = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(zo.mix(r), zo.propose().T @ r)
    assert zo.mix(r).sum() == pytest.approx(r.sum())  # budget balance of the perturbed rows
    np.testing.assert_allclose(zo.reward_matrix() @ r, zo.mix(r))  # row convention of learners.mix_rewards
    with pytest.raises(ValueError, match="returns"):
        zo.report(np.zeros(2))
    with pytest.raises(ValueError, match="tau_max"):
        d3c.ZerothOrderD3C(3, tau_min=5, tau_max=2)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(2, 6))
def test_zeroth_order_rows_stay_on_simplex(seed, n):
    rng = np.random.default_rng(seed)
    zo = d3c.ZerothOrderD3C(n, lr=5.0, delta=1.0, tau_min=1, tau_max=3, nu=0.1, rng=seed)
    for _ in range(30):
        zo.report(rng.standard_normal(n) * 10)
        for M in (zo.A, zo.propose()):
            assert np.all(M > 0)
            np.testing.assert_allclose(M.sum(1), 1.0)
        assert np.all(np.log(zo.A) >= -10 - np.log(n) - 1e-9)  # logits in [-5, 5]


def test_zeroth_order_reproducible():
    a = d3c.ZerothOrderD3C(4, rng=9)
    b = d3c.ZerothOrderD3C(4, rng=9)
    for t in range(50):
        g = -np.ones(4) * t
        a.report(g)
        b.report(g)
    np.testing.assert_array_equal(a.A, b.A)


def test_equilibria_of_the_mixed_braess_game_under_symmetric_mixing():
    from sharelib.games import paper_network

    net = paper_network(True)
    eq = d3c.mixed_braess_equilibria(net, [1.0, 0.99, 0.5, 0.25])
    # selfish: Braess's all-SABE 80/65; halfway: one SAE, one SBE, two SABE (270/260); fully cooperative: the optimum
    assert eq["classes"][0] == [(0, 0, 4)] and eq["worst"][0] == pytest.approx(80 / 65)
    assert eq["classes"][1] == [(0, 0, 4)]
    assert eq["classes"][2] == [(1, 1, 2)] and eq["worst"][2] == pytest.approx(270 / 260)
    assert eq["classes"][3] == [(2, 2, 0)] and eq["best"][3] == pytest.approx(1.0)
    # with A = I the mixed game is the original one
    assert sorted(t for t, _ in net.pure_nash(np.eye(4))) == sorted(t for t, _ in net.pure_nash())
    with pytest.raises(ValueError, match="mixing"):
        net.pure_nash(np.full((4, 4), 0.5))
    with pytest.raises(ValueError, match="self_weights"):
        d3c.mixed_braess_equilibria(net, [1.5])


def test_mixed_equilibria_use_the_columns_of_A():
    # driver 0 takes over driver 1's commute entirely (row 1 = e_0: f^A_0 = f_0 + f_1, f^A_1 = 0), so
    # driver 1 is indifferent and every equilibrium must be optimal for the pair (0, 1) given the others
    from sharelib.games import paper_network

    net = paper_network(True)
    A = np.eye(4)
    A[1] = [1.0, 0.0, 0.0, 0.0]
    for _, prof in net.pure_nash(A):
        costs = net.pure_costs(prof)
        for r in range(net.n_routes):
            dev = prof.copy()
            dev[0] = r
            assert net.pure_costs(dev)[:2].sum() >= costs[:2].sum() - 1e-9
    # and the mixing changes the equilibria (all-SABE is the only one without it)
    assert {tuple(p) for _, p in net.pure_nash(A)} != {tuple(p) for _, p in net.pure_nash()}


def test_self_weight_from_attention_inverts_relative_attention():
    A = d3c.symmetric_mixing(5, 0.7)
    np.testing.assert_allclose(d3c.self_weight_from_attention(d3c.relative_attention(A), 5), 0.7)
    np.testing.assert_allclose(np.diag(d3c.symmetric_mixing(3, 1 / 3)), 1 / 3)
