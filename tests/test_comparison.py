"""The comparison of all mechanisms on one backbone (sharelib.comparison)."""

import numpy as np
import pytest

from sharelib import comparison as C
from sharelib.learners.hooks import HookContext, Rollout
from sharelib.sharing.inequity_aversion import inequity_aversion

TINY = dict(total_steps=2 * 4 * 500, n_envs=4, n_points=2, eval_episodes=2, seed=3)


@pytest.fixture(scope="module")
def independent_run():
    return C.run_mechanism("coin_game", "independent", **TINY)


@pytest.mark.parametrize("mechanism", [m for m in C.MECHANISMS if m != "independent"])
def test_every_mechanism_with_everyone_defecting_is_independent_ppo_seed_for_seed(mechanism, independent_run):
    r = C.run_mechanism("coin_game", mechanism, defectors=2, **TINY)
    np.testing.assert_array_equal(r["returns"], independent_run["returns"])
    np.testing.assert_array_equal(r["eval_returns"], independent_run["eval_returns"])
    assert r["policy_digest"] == independent_run["policy_digest"]  # the same networks, bit for bit
    assert r["defector"].all() and r["numbers"] == 0.0


@pytest.mark.parametrize("mechanism", ["team", "d3c", "vs", "ps", "fpf", "ltos"])
def test_with_sharing_on_the_mechanism_changes_the_learning(mechanism, independent_run):
    r = C.run_mechanism("coin_game", mechanism, **TINY)
    assert r["policy_digest"] != independent_run["policy_digest"]
    assert r["numbers"] > 0 and r["reveals"] != "nothing"


def test_runs_are_deterministic_and_parameters_are_checked():
    a = C.run_mechanism("coin_game", "d3c", **TINY)
    b = C.run_mechanism("coin_game", "d3c", **TINY)
    np.testing.assert_array_equal(a["returns"], b["returns"])
    np.testing.assert_array_equal(a["A_final"], b["A_final"])
    with pytest.raises(ValueError, match="mechanism"):
        C.run_mechanism(mechanism="altruism")
    with pytest.raises(ValueError, match="defectors"):
        C.run_mechanism(defectors=3)
    with pytest.raises(ValueError, match="env"):
        C.run_mechanism(env="chess")


def test_opting_out_of_a_mixing_matrix():
    M = C.mixing_matrix("fixed_mixing", 4, share=0.3)
    np.testing.assert_allclose(M.sum(1), 1.0)
    assert M[0, 0] == pytest.approx(0.7) and M[0, 1] == pytest.approx(0.1)
    np.testing.assert_array_equal(C.opt_out(M, np.ones(4, bool)), M)
    O = C.opt_out(M, np.array([False, True, True, True]))
    np.testing.assert_array_equal(O[0], [1, 0, 0, 0])  # the defector learns from its own reward
    np.testing.assert_array_equal(O[1:, 0], 0.0)  # and nobody learns from it
    np.testing.assert_allclose(O.sum(1), 1.0)
    np.testing.assert_allclose(O[1], [0, 0.7 / 0.9, 0.1 / 0.9, 0.1 / 0.9])
    np.testing.assert_array_equal(C.opt_out(C.mixing_matrix("team", 3), np.zeros(3, bool)), np.eye(3))


def _ctx(dones):
    T, E = dones.shape
    ro = Rollout(None, None, None, dones, None, None, None)
    return HookContext(learner=None, iteration=0, env_steps=0, rollout=ro)


def test_inequity_aversion_by_hand():
    alpha, beta, g = 2.0, 0.5, 0.5
    hook = inequity_aversion(3, alpha=alpha, beta=beta, smoothing=g)
    r = np.zeros((3, 1, 3))
    r[0, 0] = [1.0, 0.0, 0.0]
    r[1, 0] = [0.0, 0.0, 2.0]
    dones = np.array([[False], [True], [False]])
    u = hook(r, _ctx(dones))
    # t = 0: e = (1, 0, 0); agent 0 is ahead of two (guilt), agents 1, 2 behind one (envy)
    np.testing.assert_allclose(u[0, 0], [1 - beta * 2 / 2, -alpha * 1 / 2, -alpha * 1 / 2])
    # t = 1: e = (0.5, 0, 2)
    e = np.array([0.5, 0.0, 2.0])
    want = [r[1, 0, i] - (alpha * np.maximum(e - e[i], 0).sum() + beta * np.maximum(e[i] - e, 0).sum()) / 2
            for i in range(3)]
    np.testing.assert_allclose(u[1, 0], want)
    np.testing.assert_allclose(u[2, 0], 0.0)  # a new episode: e reset, no rewards, no inequity
    # an agent that sees nobody keeps its reward; the others ignore it
    vis = np.ones((3, 3), bool)
    vis[0, :] = vis[:, 0] = False
    u2 = inequity_aversion(3, alpha=alpha, beta=beta, smoothing=g, visible=vis)(r, _ctx(dones))
    np.testing.assert_array_equal(u2[:, :, 0], r[:, :, 0])
    np.testing.assert_allclose(u2[0, 0, 1:], 0.0)  # agents 1 and 2 equal at t = 0 once 0 is unseen
    with pytest.raises(ValueError, match="alpha"):
        inequity_aversion(3, alpha=-1.0)
    with pytest.raises(ValueError, match="visible"):
        inequity_aversion(3, visible=np.ones((2, 2), bool))


def test_communication_counts():
    r = C.run_mechanism("coin_game", "vs", **TINY)
    assert r["reveals"].startswith("advantage") and r["numbers"] == 1.0  # one value per step to one other
    r = C.run_mechanism("coin_game", "ps", **TINY)
    assert r["numbers"] > 1.0  # a whole policy per iteration, spread over its 500 steps


def _fake(returns, defector):
    return dict(eval_returns=np.asarray(returns, float), defector=np.asarray(defector, bool),
                social=dict(equality=0.5, sustainability=10.0))


def test_dilemma_numbers_by_hand_and_verdicts():
    res = {("e", "m", 0): [_fake([2, 2, 2], [0, 0, 0]), _fake([4, 4, 4], [0, 0, 0])],
           ("e", "m", 1): [_fake([5, 1, 1], [1, 0, 0]), _fake([7, 3, 3], [1, 0, 0])]}
    d = C.dilemma(res, "e", "m", 1)
    assert d["n_runs"] == 2
    assert d["out_earns"][0] == pytest.approx(4.0) and d["out_earns"][1] == pytest.approx(0.0)
    assert d["pays"][0] == pytest.approx(3.0)  # 5 - 2 and 7 - 4
    assert d["group_loss"][0] == pytest.approx(-1.0)  # 6 - 7 and 12 - 13
    assert C.verdict(d["out_earns"]) == "yes" and C.verdict((-1.0, 0.5)) == "no"
    assert C.verdict((0.2, 0.5)) == "unclear" and C.verdict((0.2, float("nan"))) == "yes (1 run)"
    o = C.outcome(res[("e", "m", 0)])
    assert o["collective"][0] == pytest.approx(9.0) and o["equality"][0] == 0.5


def test_evaluation_counts_one_episode_per_copy_where_episodes_end_early():
    # the corridor ends at the first goal (a few steps); 20 evaluation steps would hold several
    # episodes, each worth up to 1 per agent, if the evaluation did not stop at the first
    r = C.run_mechanism("prisoner_corridor", "independent", total_steps=2 * 8 * 20, n_envs=8, n_points=2,
                        eval_episodes=64, seed=1)
    assert r["eval_returns"].max() <= 1.0
    assert r["eval_returns"].sum() > 0.4  # someone reaches a goal


def test_plans_run_k_defectors_only_where_a_sharer_is_left():
    assert C.defector_counts("coin_game", [0, 1, 2]) == [0, 1]  # 2 agents: with 2 defectors nobody shares
    assert C.defector_counts("cleanup", [0, 1, 2]) == [0, 1, 2]
    assert C.n_agents("exchange") == 3 and C.defector_counts("exchange", [0, 1, 2, 3]) == [0, 1, 2]
    P = dict(C._ex.resolve("compare", "quick"), envs=["coin_game", "cleanup"], mechanisms=["independent", "team"],
             defectors=[0, 1, 2])
    (plan,) = C.plans(P)
    cells = sorted((g["env"], g["mechanism"], g["defectors"]) for g in plan.grid)
    assert cells == sorted([("coin_game", "independent", 0), ("coin_game", "team", 0), ("coin_game", "team", 1),
                            ("cleanup", "independent", 0), ("cleanup", "team", 0), ("cleanup", "team", 1),
                            ("cleanup", "team", 2)])
