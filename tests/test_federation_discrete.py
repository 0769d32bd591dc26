"""FPF/LMF on FEN's discrete scenarios (sharelib.sharing.federation.discrete): metrics on hand-built
arrays, FEN's fair-efficient reward by hand, the presets, and seeded determinism of the sweep."""

import numpy as np
import pytest

from sharelib import experiments as ex
from sharelib.learners import HookContext, Rollout
from sharelib.sharing.federation import discrete as D


def test_collective_is_the_sum_over_agents():
    R = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0]])
    np.testing.assert_array_equal(D.collective(R), [6.0, 5.0])
    np.testing.assert_array_equal(D.collective(np.stack([R, 2 * R])), [[6.0, 5.0], [12.0, 10.0]])
    with pytest.raises(ValueError, match="returns"):
        D.collective(np.ones(3))


def test_participant_split_by_hand():
    R = np.array([[4.0, 0.0, 2.0, 1.0], [1.0, 1.0, 1.0, 5.0]])
    ins, outs = D.participant_split(R, [0, 2])
    np.testing.assert_allclose(ins, [3.0, 1.0])
    np.testing.assert_allclose(outs, [0.5, 3.0])
    ins, outs = D.participant_split(R, [0, 1, 2, 3])
    np.testing.assert_allclose(ins, R.mean(-1))
    assert np.isnan(outs).all()
    for bad in ([0, 0], [4], [-1]):
        with pytest.raises(ValueError, match="participants"):
            D.participant_split(R, bad)


def test_egalitarian_ratio_by_hand():
    # iteration 0: returns 1 and 3 -> std 1, mean 2 -> 0.5; iteration 1: equal -> 0; iteration 2: mean 0 -> NaN
    R = np.array([[1.0, 3.0], [2.0, 2.0], [0.0, 0.0], [0.0, 4.0]])
    out = D.egalitarian_ratio(R, last=0.5)
    np.testing.assert_allclose(out["curve"][[0, 1, 3]], [0.5, 0.0, 1.0])
    assert np.isnan(out["curve"][2])
    assert out["average"] == pytest.approx((0.5 + 0.0 + 1.0) / 3)
    assert out["last"] == pytest.approx(1.0)  # last 2 iterations: NaN skipped, then 1.0
    # the ratio is scale free and uses the population std (np.std), as the paper's "std / mean"
    np.testing.assert_allclose(D.egalitarian_ratio(10 * R)["curve"], out["curve"])
    with pytest.raises(ValueError, match="last"):
        D.egalitarian_ratio(R, last=0.0)


def _fen_by_hand(r, max_u):
    """The fair-efficient reward of one episode (T, n), written from the notes' formula."""
    T, n = r.shape
    out = np.empty_like(r)
    for t in range(T):
        u = r[: t + 1].sum(0) / (t + 1)
        avg = u.mean()
        rat = (u - avg) / avg if avg != 0 else np.zeros(n)
        out[t] = min(1.0, avg / max_u) / (0.1 + np.abs(rat))
    return out


def test_fen_reward_matches_the_formula_and_resets_after_done():
    rng = np.random.default_rng(0)
    T, E, n = 6, 2, 3
    r = (rng.random((T, E, n)) < 0.3).astype(float)
    dones = np.zeros((T, E), bool)
    dones[2, 0] = True  # env 0: two episodes of 3 steps; env 1: one of 6
    hook = D.FENReward(E, n, max_u=0.25)
    ro = Rollout(np.zeros((T, E, n, 1), np.float32), np.zeros((T, E, n), np.int64), r, dones,
                 np.zeros((T + 1, E, n)), np.zeros((T, E, n)), np.zeros((E, n, 1), np.float32))
    out = hook(r, HookContext(None, 0, 0, ro))
    np.testing.assert_allclose(out[:3, 0], _fen_by_hand(r[:3, 0], 0.25))
    np.testing.assert_allclose(out[3:, 0], _fen_by_hand(r[3:, 0], 0.25))
    np.testing.assert_allclose(out[:, 1], _fen_by_hand(r[:, 1], 0.25))
    # an all-zero start gives util 0: reward 0 until somebody scores
    z = D.fen_reward_kernel(np.zeros((2, 1, 2)), np.zeros((2, 1), bool), np.zeros((1, 2)), np.zeros(1, np.int64),
                            0.25, np.empty((2, 1, 2)))
    np.testing.assert_array_equal(z, 0.0)
    # the state carries over to the next rollout of the same episode (env 1 did not end)
    assert hook.count[1] == T and hook.count[0] == 3
    with pytest.raises(ValueError, match="max_u"):
        D.FENReward(1, 2, max_u=0.0)


def test_presets_validate_and_paper_is_the_codes_scale():
    for name in ("quick", "reduced", "paper"):
        P = ex.resolve("fpf_lmf.discrete", name)
        assert set(P["scenarios"]) == set(D.PAPER_EPISODES)
        for s in P["scenarios"]:
            ne = D.FED_EPI[s] if P["n_envs"] is None else P["n_envs"]
            assert D.iterations_for(s, P["budget"], ne) >= 1
    paper = ex.resolve("fpf_lmf.discrete", "paper")
    assert paper["budget"] == 1.0 and paper["runs"] == 5 and paper["hidden"] == [256, 256]
    assert paper["alpha"] == 1e-3 and paper["eta"] == 1.5 and paper["lambda_u"] == paper["lambda_e"] == 1.0
    # with n_envs = fed_epi, the paper preset runs exactly the code's episodes
    assert {s: D.iterations_for(s, 1.0, D.FED_EPI[s]) * D.FED_EPI[s] for s in D.PAPER_EPISODES} == D.PAPER_EPISODES
    assert D.iterations_for("matthew", 0.1, 10) == 400
    with pytest.raises(ValueError, match="scenario"):
        D.iterations_for("harvest", 0.1, 10)
    with pytest.raises(ValueError, match="budget"):
        D.iterations_for("job", 0.0, 5)


def test_figure_methods_cover_every_figure():
    need = D.figure_methods()
    for scs, ms in D.FIGURES.values():
        for s in scs:
            assert set(ms) <= set(need[s])
    assert "lmf_ring" in need["matthew"] and "lmf_ring" not in need["job"]
    assert D.figure_methods(["fig3d"], ["job"]) == {}
    with pytest.raises(ValueError, match="figure"):
        D.figure_methods(["fig9"])


TINY = dict(ex.resolve("fpf_lmf.discrete", "quick"), scenarios=["job"], budget=0.0006, n_envs=2)


def test_sweep_is_deterministic_for_a_seed_and_changes_with_it():
    a = D.discrete_experiment(TINY, ["fig3abc"])
    b = D.discrete_experiment(TINY, ["fig3abc"])
    c = D.discrete_experiment(dict(TINY, seed=1), ["fig3abc"])
    assert set(a) == {("job", "fpf"), ("job", "fpf_code")}
    for k in a:
        np.testing.assert_array_equal(a[k][0]["returns"], b[k][0]["returns"])
        np.testing.assert_array_equal(a[k][0]["participants"], b[k][0]["participants"])
        assert a[k][0]["episodes"] == 3 * 2 and a[k][0]["returns"].shape == (3, 4)
    assert any(not np.array_equal(a[k][0]["returns"], c[k][0]["returns"]) for k in a)
    assert len(a[("job", "fpf")][0]["participants"]) == 2  # the paper's half of 4
    np.testing.assert_array_equal(a[("job", "fpf_code")][0]["participants"], [0, 1, 2])  # i <= floor(4/2)


def test_fen_method_trains_on_a_different_reward_than_ippo():
    kw = dict(scenario="job", iterations=3, n_envs=2, hidden=[8], lr=1e-2, vf_lr=1e-3, lambda_u=1.0, lambda_e=1.0,
              lambda_h=0.01, alpha=1e-3, eta=1.5, seed=0)
    ippo = D.run_point(method="ippo", **kw)["returns"]
    fen = D.run_point(method="fen", **kw)["returns"]
    np.testing.assert_array_equal(ippo[0], fen[0])  # same first episode (same seed, before any update)
    assert not np.array_equal(ippo, fen)  # then the learners differ (the hook is in use)
