"""Tests of sharelib.sharing.ce_dos: Eq. 1, Algorithm 2 (CE-DOS), the coin example, the sweep layer."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from sharelib import experiments
from sharelib.markets import sample_market, simple_market
from sharelib.sharing import ce_dos as C

floats = st.floats(min_value=-5.0, max_value=5.0, allow_nan=False, allow_infinity=False)


@st.composite
def batches(draw):
    n = draw(st.integers(2, 7))
    k = draw(st.integers(1, 6))
    r = draw(hnp.arrays(np.float64, (k, n), elements=st.floats(0.0, 10.0)))
    raw = draw(hnp.arrays(np.float64, (k, n), elements=floats))
    sharer = draw(hnp.arrays(np.bool_, (n,)))
    return r, raw, sharer


# ---------------------------------------------------------------------------------------------
# Eq. 1: budget balance, non-negative and capped shares
# ---------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(batches(), st.sampled_from(C.SHARING_RULES), st.sampled_from(C.SHARE_CAPS))
def test_budget_balance_and_share_bounds(batch, sharing, cap):
    r, raw, sharer = batch
    s = C.clip_shares(raw, r, sharer, cap)
    assert np.all(s >= 0)
    assert np.all(s[:, ~sharer] == 0)                      # defectors never share
    if cap == "reward":
        assert np.all(s <= np.maximum(r, 0) + 1e-15)       # s_i <= r_i(a) (Sec. 4.2)
    else:
        np.testing.assert_array_equal(s[:, sharer], np.maximum(raw[:, sharer], 0))
    u = C.utilities(r, s, sharer, sharing, "sample")
    # sum_i u_i = sum_i r_i in every joint sample (Eq. 1 is budget balanced)
    np.testing.assert_allclose(u.sum(axis=1), r.sum(axis=1), rtol=1e-12, atol=1e-12)
    # the public code's pooling: balanced for the mean over samples
    ub = C.utilities(r, s, sharer, sharing, "batch")
    np.testing.assert_allclose(ub.mean(axis=0).sum(), r.mean(axis=0).sum(), rtol=1e-12, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(batches())
def test_eq1_formula_and_receivers(batch):
    r, raw, sharer = batch
    s = C.clip_shares(raw, r, sharer, "none")
    n = r.shape[1]
    u = C.utilities(r, s, sharer, "eq1")
    expected = r - s + (s.sum(axis=1, keepdims=True) - s) / (n - 1)
    np.testing.assert_allclose(u, expected, rtol=1e-12, atol=1e-12)
    u2 = C.utilities(r, s, sharer, "sharers")
    # defectors neither pay nor receive under the public code's rule
    np.testing.assert_array_equal(u2[:, ~sharer], r[:, ~sharer])
    if sharer.sum() >= 2:
        m = sharer.sum()
        exp2 = r - s + (s.sum(axis=1, keepdims=True) - s) / (m - 1)
        np.testing.assert_allclose(u2[:, sharer], exp2[:, sharer], rtol=1e-12, atol=1e-12)
    else:  # a lone sharer has nobody to share with: the transfer is void
        np.testing.assert_array_equal(u2, r)


def test_two_agent_utilities_sec_3_1():
    # u0 = r0 - s0 + s1, u1 = r1 - s1 + s0
    assert C.utilities([3.0, 1.0], [0.5, 2.0], [True, True]).tolist() == [4.5, -0.5]
    # one defector: it still receives under Eq. 1 ...
    assert C.utilities([3.0, 1.0], [0.5, 2.0], [True, False]).tolist() == [2.5, 1.5]
    # ... and not under the public code's rule
    assert C.utilities([3.0, 1.0], [0.5, 2.0], [True, False], "sharers").tolist() == [3.0, 1.0]


# ---------------------------------------------------------------------------------------------
# Fig. 1: coin example
# ---------------------------------------------------------------------------------------------


def test_coin_example_fig1():
    ex = C.coin_example()
    assert ex.nash == (1, 1)
    assert ex.nash_values == (0.5, 1.0)
    assert ex.shared_values == (1.0, 1.0)
    assert ex.shared_profile_is_equilibrium
    # strong Pareto improvement
    assert all(s > v or s == v for s, v in zip(ex.shared_values, ex.nash_values))
    assert sum(ex.shared_values) > sum(ex.nash_values)
    y, b = C.simulate_coin_game((1, 1), 0.0, 200_000, seed=3)
    assert y == pytest.approx(0.5, abs=0.01) and b == pytest.approx(1.0, abs=0.02)
    assert C.simulate_coin_game((0, 1), 1.0) == (1.0, 1.0)
    # a transfer below the yellow agent's Nash value does not sustain the sharing profile
    assert not C.coin_example(transfer=0.4).shared_profile_is_equilibrium


# ---------------------------------------------------------------------------------------------
# Algorithm 2
# ---------------------------------------------------------------------------------------------


def test_n_elite():
    assert C.n_elite(100, 0.25, "drop") == 75
    assert C.n_elite(100, 0.25, "keep") == 25
    assert C.n_elite(100, 0.29, "keep") == 29
    assert C.n_elite(10, 1.0, "drop") == 0


@pytest.mark.parametrize("k", [1, 2, 3, 7, 100, 257])
def test_select_returns_every_order_statistic(k):
    rng = np.random.default_rng(k)
    # continuous, skewed, ties, all equal
    for x in (rng.normal(size=k), np.exp(3 * rng.normal(size=k)), np.round(rng.normal(size=k)), np.zeros(k)):
        before = x.copy()
        buf = np.empty(2 * k)
        got = [C.algorithm._select(x, j, buf) for j in range(k)]
        np.testing.assert_array_equal(got, np.sort(before))
        np.testing.assert_array_equal(x, before)


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.float64, st.integers(2, 30), elements=st.sampled_from([0.0, 1.0, 2.0, 0.5, -1.0])),
       st.data())
def test_elite_mask_is_top_by_utility_with_stable_ties(u, data):
    k = u.size
    n_el = data.draw(st.integers(1, k))
    mask = np.empty(k, dtype=bool)
    u = np.ascontiguousarray(u, dtype=np.float64)
    before = u.copy()
    C.algorithm._elite_mask(u, n_el, mask, np.empty(2 * k))
    np.testing.assert_array_equal(u, before)  # utilities are not reordered
    ref = np.zeros(k, dtype=bool)
    ref[np.argsort(-u, kind="stable")[:n_el]] = True
    np.testing.assert_array_equal(mask, ref)


@pytest.mark.parametrize("market", ["simple", "logistic"])
def test_kernel_matches_numpy_reference_on_the_first_iterations_for_every_reading(market):
    # same random numbers, same arithmetic up to rounding: equal to rounding while no last-bit
    # difference has flipped an elite membership (over a few iterations, it never does)
    m = sample_market(market, 6, 11)
    for rd in itertools.product(C.SHARING_RULES, C.ELITE_MODES, C.SHARE_CAPS, C.POOLS, C.ACTION_UPDATES):
        kw = dict(zip(["sharing", "elite", "share_cap", "pool", "action_update"], rd))
        a = C.run_ce_dos(m, n_sharers=3, n_iter=5, n_sample=20, n_eval=7, seed=4, **kw)
        b = C.run_ce_dos_numpy(m, 3, n_iter=5, n_sample=20, n_eval=7, seed=4,
                               per_agent=rd[0] == "sharers", **kw)
        np.testing.assert_allclose(a.mu_a[-1], b["mu_a"], rtol=1e-9, atol=1e-12, err_msg=str(rd))
        np.testing.assert_allclose(a.sigma_a[-1], b["sigma_a"], rtol=1e-9, atol=1e-12, err_msg=str(rd))
        np.testing.assert_allclose(a.mu_s[-1], b["mu_s"], rtol=1e-9, atol=1e-12, err_msg=str(rd))
        np.testing.assert_allclose(a.global_reward, b["global_reward"], rtol=1e-9, err_msg=str(rd))
        np.testing.assert_allclose(a.final_utility, b["final_utility"], rtol=1e-9, atol=1e-15, err_msg=str(rd))
    # a separate floor for the share policies
    a = C.run_ce_dos(m, n_sharers=4, n_iter=5, n_sample=20, seed=4, share_sigma_min=1e-3)
    b = C.run_ce_dos_numpy(m, 4, n_iter=5, n_sample=20, seed=4, share_sigma_min=1e-3)
    np.testing.assert_allclose(a.sigma_s[-1], b["sigma_s"], rtol=1e-9, atol=1e-15)
    assert np.nanmin(a.sigma_s[-1]) < 0.2


def _ks_statistic(x, y):
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the empirical CDFs."""
    x, y = np.sort(x), np.sort(y)
    z = np.concatenate([x, y])
    return np.abs(np.searchsorted(x, z, "right") / x.size - np.searchsorted(y, z, "right") / y.size).max()


def _final_outcomes(run, market, n_seeds, **kw):
    """Global utility, sharers' mean share and mean action of whole paper-setting runs, over seeds."""
    out = []
    for s in range(n_seeds):
        m = sample_market(market, 10, 1000 + s)
        r = run(m, s, **kw)
        out.append((r["final_utility"].sum(), r["final_share"][:5].mean(), r["final_action"].mean()))
    return np.array(out).T


def _kernel(m, s, **kw):
    r = C.run_ce_dos(m, n_sharers=5, seed=s, **kw)
    return {"final_utility": r.final_utility, "final_share": r.final_share, "final_action": r.final_action}


def _reference(m, s, **kw):
    return C.run_ce_dos_numpy(m, 5, seed=s, **kw)


@pytest.mark.parametrize("market", ["simple", "logistic"])
def test_kernel_and_numpy_reference_give_the_same_distribution_of_outcomes(market):
    # whole runs at the paper's settings (n = 10, 5 sharers, 100 iterations of 100 samples) over
    # 60 seeds: a rounding difference may make single runs part ways, the distribution must not
    # move. Two-sample KS at level 0.001 (critical value 1.95 sqrt(2 / 60) = 0.356) on each outcome.
    # Power check: a wrong reading (the elite keeps 25% instead of 75%) is rejected here. When the
    # test was written, a kernel broken on purpose to ignore the share cap failed it (KS 0.42 on
    # global utility, 1.0 on the mean share); two subtler breaks (receipts over n instead of n - 1,
    # the std with ddof = 1) moved the outcomes too little for 60 seeds and were caught by the
    # first-iterations test above (and the budget-balance tests).
    n_seeds = 60
    crit = 1.95 * np.sqrt(2 / n_seeds)
    kernel = _final_outcomes(_kernel, market, n_seeds)
    reference = _final_outcomes(_reference, market, n_seeds)
    for name, k, r in zip(("global utility", "mean share", "mean action"), kernel, reference):
        assert _ks_statistic(k, r) < crit, name
    wrong = _final_outcomes(_reference, market, n_seeds, elite="keep")
    assert max(_ks_statistic(k, w) for k, w in zip(kernel, wrong)) > crit


def test_first_update_is_the_elite_statistics():
    # one iteration, alpha = 1: the new policy is exactly the elite's mean and (floored) std
    m = simple_market(3, 2.0)
    res = C.run_ce_dos(m, n_sharers=3, n_iter=1, n_sample=40, alpha=1.0, sigma_min=1e-9, seed=9, n_eval=1)
    rng = np.random.default_rng(9)
    raw = 0.0 + 1.0 * rng.standard_normal((3, 40))
    a = np.clip(raw, 0.1, 4.0)
    r = a / a.sum(axis=0) ** 2.0
    s = np.clip(rng.standard_normal((3, 40)), 0, None)
    s = np.minimum(s, r)
    u = r - s + (s.sum(axis=0) - s) / 2
    for i in range(3):
        el = np.argsort(-u[i], kind="stable")[:30]
        assert res.mu_a[1, i] == pytest.approx(a[i, el].mean(), rel=1e-12)
        assert res.sigma_a[1, i] == pytest.approx(a[i, el].std(), rel=1e-12)
        assert res.mu_s[1, i] == pytest.approx(s[i, el].mean(), rel=1e-12)


def test_result_traces_and_invariants():
    res = C.run_ce_dos("logistic", 8, 5, n_iter=30, seed=2)
    n = 8
    assert res.mu_a.shape == (31, n) and res.utility.shape == (30, n) and res.global_reward.shape == (30,)
    assert np.all(res.sigma_a[1:] >= 0.2 - 1e-15) and np.all(res.sigma_s[1:, :5] >= 0.2 - 1e-15)
    assert np.all(np.isnan(res.mu_s[:, 5:]))                        # defectors have no share policy
    assert np.all(res.share[:, 5:] == 0) and np.all(res.final_share[5:] == 0)
    assert np.all(res.share >= 0) and np.all(res.share <= res.reward + 1e-15)
    # budget balance: sum of utilities = sum of rewards, per iteration and at the end
    np.testing.assert_allclose(res.utility.sum(axis=1), res.global_reward, rtol=1e-10)
    np.testing.assert_allclose(res.final_utility.sum(), res.final_reward.sum(), rtol=1e-10)
    assert np.all((res.final_action >= 0.1) & (res.final_action <= 4.0))
    s = res.summary()
    assert s["global_utility"] == pytest.approx(res.final_reward.sum())
    assert s["mean_share"] == pytest.approx(res.final_share[:5].mean())


def test_seeded_reproducibility():
    a = C.run_ce_dos("simple", 5, 2, n_iter=10, seed=123)
    b = C.run_ce_dos("simple", 5, 2, n_iter=10, seed=123)
    c = C.run_ce_dos("simple", 5, 2, n_iter=10, seed=124)
    np.testing.assert_array_equal(a.mu_a, b.mu_a)
    np.testing.assert_array_equal(a.final_utility, b.final_utility)
    assert not np.array_equal(a.mu_a, c.mu_a)


def test_readings_coincide_without_sharers():
    m = sample_market("simple", 5, 0)
    base = C.run_ce_dos(m, n_sharers=0, n_iter=20, seed=1)
    for sharing, cap, pool in itertools.product(C.SHARING_RULES, C.SHARE_CAPS, C.POOLS):
        other = C.run_ce_dos(m, n_sharers=0, n_iter=20, seed=1, sharing=sharing, share_cap=cap, pool=pool)
        np.testing.assert_array_equal(base.mu_a, other.mu_a)


def test_selfish_agents_overproduce_in_the_simple_market():
    # With n > xi every agent's reward grows with its own production (test_markets), so independent
    # CE without sharing drives production towards the upper bound 4, and global reward towards
    # (4 n)^(1 - xi), far below the optimum (0.1 n)^(1 - xi).
    m = simple_market(10, 3.0)
    res = C.run_ce_dos(m, n_sharers=0, seed=0)
    assert res.mu_a[-1].mean() > 3.5
    assert res.final_reward.sum() < 3 * (4 * 10) ** (1 - 3.0)


def test_sharing_raises_global_utility_small_instance():
    # Sec. 4.3 on one small instance (paired market, 3 seeds each): all sharers vs none.
    m = sample_market("simple", 10, 5)
    g0 = np.mean([C.run_ce_dos(m, n_sharers=0, seed=s).summary()["global_utility"] for s in range(3)])
    g1 = np.mean([C.run_ce_dos(m, n_sharers=10, seed=s).summary()["global_utility"] for s in range(3)])
    assert g1 > 5 * g0


@pytest.mark.parametrize("kwargs, match", [
    (dict(market="simple", n_agents=1), "n_agents must be an integer >= 2"),
    (dict(market="simple", n_agents=4, n_sharers=5), "n_sharers must be an integer in \\[0, 4\\]"),
    (dict(market="simple", n_agents=4, psi=0.0), "psi must be a number in \\(0"),
    (dict(market="simple", n_agents=4, psi=1.0), "leaves no elite sample"),
    (dict(market="simple", n_agents=4, elite="keep", psi=0.25, n_sample=3), "leaves no elite sample"),
    (dict(market="simple", n_agents=4, alpha=0.0), "alpha must be a number in \\(0"),
    (dict(market="simple", n_agents=4, alpha=1.5), "alpha"),
    (dict(market="simple", n_agents=4, sigma_min=0.0), "sigma_min must be a number > 0"),
    (dict(market="simple", n_agents=4, sharing="all"), "sharing must be one of"),
    (dict(market="simple", n_agents=4, elite="top"), "elite must be one of"),
    (dict(market="simple", n_agents=4, share_cap=None), "share_cap must be one of"),
    (dict(market="simple", n_agents=4, n_iter=0), "n_iter"),
    (dict(market="simple", n_agents=4, action_bounds=(0.0, 4.0)), "action_bounds"),
    (dict(market="energy", n_agents=4), "market must be one of"),
    (dict(market="simple"), "n_agents is required"),
])
def test_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        C.run_ce_dos(**kwargs)


def test_elite_keep_all_is_valid():
    res = C.run_ce_dos("simple", 3, 1, elite="keep", psi=1.0, n_iter=3, n_sample=5)
    assert res.config["n_elite"] == 5


# ---------------------------------------------------------------------------------------------
# Sweep layer and claims
# ---------------------------------------------------------------------------------------------


def test_figure_grid_sweep_and_claims():
    pts = C.figure_grid(["simple"], [3], n_runs=2, seed=0, n_iter=5, n_sample=10)
    assert len(pts) == 2 * 4
    # one market per run, shared by all sharer counts
    assert len({p["market_seed"] for p in pts if p["run"] == 0}) == 1
    res = experiments.sweep(C.experiments._figure_point_grid, pts, backend="serial", progress=False)
    P = C.panel_arrays(res)[("simple", 3)]
    assert P["global_utility"].shape == (2, 4)
    assert np.all(np.isnan(P["mean_share"][:, 0])) and np.all(np.isnan(P["defector_utility"][:, -1]))
    direct = C.figure_point("simple", 3, pts[5]["n_sharers"], pts[5]["market_seed"], pts[5]["ce_seed"],
                            n_iter=5, n_sample=10)
    np.testing.assert_equal(direct, res[5].value)
    # paired design: the seeds do not depend on the readings
    other = C.figure_grid(["simple"], [3], n_runs=2, seed=0, n_iter=5, n_sample=10, sharing="sharers")
    assert [p["ce_seed"] for p in other] == [p["ce_seed"] for p in pts]
    res2 = experiments.sweep(C.experiments._figure_point_grid, other[:1], backend="serial", progress=False)
    np.testing.assert_equal(res2[0].value, res[0].value)    # nobody shares at k = 0: identical runs
    rows = C.claims({("simple", 3): P})
    assert rows[0]["mixed_populations"] == 4
    assert -1 <= rows[0]["spearman_sharers_global"] <= 1
    assert C.sharer_counts(100, 3)[-2:] == [99, 100]


def test_presets_registered():
    for exp in ("ce_dos.method", "ce_dos.figures", "ce_dos.ablations"):
        q, p = experiments.get_preset(exp, "quick"), experiments.get_preset(exp, "paper")
        assert set(q) == set(p)
    P = experiments.get_preset("ce_dos.figures", "paper")
    assert P["sizes"] == [10, 50, 100] and P["n_runs"] == 10
    assert (P["n_iter"], P["n_sample"], P["psi"], P["alpha"], P["sigma_min"]) == (100, 100, 0.25, 0.5, 0.2)


def test_any_subset_of_agents_can_share():
    mask = np.array([False, True, False, True, True])
    res = C.run_ce_dos("logistic", 5, sharers=mask, n_iter=10, seed=3)
    assert res.n_sharers == 3
    assert np.all(res.share[:, ~mask] == 0) and np.all(np.isnan(res.mu_s[:, ~mask]))
    assert np.all(np.isfinite(res.mu_s[:, mask]))
    with pytest.raises(ValueError, match="either n_sharers or sharers"):
        C.run_ce_dos("logistic", 5, 2, sharers=mask)
    with pytest.raises(ValueError, match="boolean array of shape"):
        C.run_ce_dos("logistic", 5, sharers=[1, 0, 1, 0, 1])
