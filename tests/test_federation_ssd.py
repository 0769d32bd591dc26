"""FPF/LMF on Cleanup and Harvest (sharelib.sharing.federation.ssd): determinism, FPF without participants is
IPPO seed for seed, the MIN hook by hand, the variants, the presets and the validation errors."""

import numpy as np
import pytest

from sharelib import experiments as ex
from sharelib.sharing.federation import ssd as S
from sharelib.sharing.federation import q_baselines as Q
from sharelib.sharing.federation.experiments import min_reward

TINY = dict(iterations=2, n_envs=2, hidden=(8,), lr=1e-2, vf_lr=1e-3, clip=0.2, n_epochs=1, n_minibatches=1)


def test_run_is_deterministic_for_a_seed_and_changes_with_it():
    a = S.ssd_run("cleanup", 3, "fpf_lmf", "fpf", seed=0, **TINY)
    b = S.ssd_run("cleanup", 3, "fpf_lmf", "fpf", seed=0, **TINY)
    c = S.ssd_run("cleanup", 3, "fpf_lmf", "fpf", seed=1, **TINY)
    np.testing.assert_array_equal(a["returns"], b["returns"])
    np.testing.assert_array_equal(a["participants"], b["participants"])
    assert a["returns"].shape == (2, 3) and len(a["participants"]) == 1  # the random half of 3
    assert not np.array_equal(a["returns"], c["returns"])


def test_fpf_with_no_participants_is_ippo_seed_for_seed():
    kw = dict(TINY, iterations=3, alpha=0.5, lambda_u=1.0, lambda_e=1.0)  # a strong pull, so a leak would show
    for env in ("cleanup", "harvest"):
        ippo = S.ssd_run(env, 3, "fpf_lmf", "ippo", seed=4, **kw)["returns"]
        none = S.ssd_run(env, 3, "fpf_lmf", "fpf", participants=[], seed=4, **kw)
        np.testing.assert_array_equal(none["returns"], ippo)
        assert none["participants"].size == 0
        # the test can fail: with the code's reading (everybody takes the proximal step) the same run differs
        pulled = S.ssd_run(env, 3, "fpf_lmf", "fpf", participants=[], regularize="all", seed=4, **kw)["returns"]
        assert not np.array_equal(pulled, ippo)


def test_min_reward_hook_by_hand():
    r = np.array([[[1.0, -2.0, 3.0], [0.0, 5.0, 4.0]]])
    np.testing.assert_array_equal(min_reward(r, None), [[[-2.0, -2.0, -2.0], [0.0, 0.0, 0.0]]])


def test_rmf_reward_by_hand():
    r = np.array([[[1.0, -2.0, 4.0], [0.0, 6.0, 3.0]]])
    np.testing.assert_allclose(Q.rmf_reward(0.5)(r, None), [[[-2.0 + 0.5] * 3, [0.0 + 1.5] * 3]])
    np.testing.assert_array_equal(Q.rmf_reward(0.0)(r, None), min_reward(r, None))  # weight 0 is MIN
    with pytest.raises(ValueError, match="weight"):
        Q.rmf_reward(-0.1)


def test_q_learners_take_the_code_settings():
    E = S.ENVS["cleanup"](n_envs=4, n_agents=3, variant="fpf_lmf", obs="grid", max_steps=100)
    L = Q.build_q_learner(E, "idqn", total_episodes=400)
    assert (L.batch_size, L.learning_starts, L.buffer_size) == (1600, 1600, 40_000)  # 16 episodes; the whole run
    assert (L.train_freq, L.gradient_steps, L.target_update) == (100, 4, 100)  # one step per agent per episode
    assert (L.lr, L.gamma, L.max_grad_norm, L.double) == (1e-3, 0.95, 15.0, True)
    assert L.epsilon(0) == 0.5 and L.epsilon(8000) == pytest.approx(0.01) and L.epsilon(4000) == pytest.approx(0.255)
    assert Q.build_q_learner(E, "idqn", total_episodes=10**6).buffer_size == 500_000  # the code's 5,000 episodes
    M = Q.build_q_learner(E, "qmix", total_episodes=400)
    assert type(M).__name__ == "QMIX" and M.batch_size == 3200 and M.embed == 32
    with pytest.raises(ValueError, match="method"):
        Q.build_q_learner(E, "ippo", total_episodes=4)
    with pytest.raises(ValueError, match="total_episodes"):
        Q.build_q_learner(E, "idqn", total_episodes=0)


def test_q_methods_store_the_rewards_of_their_criterion():
    E = S.ENVS["harvest"](n_envs=2, n_agents=3, variant="fpf_lmf", obs="grid", max_steps=100)
    stored = {}
    for m in ("idqn", "idqn_avg", "idqn_min", "idqn_rmf"):
        L = Q.build_q_learner(E, m, hidden=(8,), total_episodes=4, seed=1)
        L.train(E, 400, seed=3, log_every=100)
        stored[m] = L._b_rew[:L._b_pos]
    r = stored["idqn"]  # the same actions until the first learning step (none here: 4 episodes < 16)
    assert np.abs(r).sum() > 0
    np.testing.assert_allclose(stored["idqn_avg"], np.repeat(r.mean(1, keepdims=True), 3, 1))
    np.testing.assert_allclose(stored["idqn_min"], np.repeat(r.min(1, keepdims=True), 3, 1))
    np.testing.assert_allclose(stored["idqn_rmf"], np.repeat(r.min(1, keepdims=True) + Q.RMF_WEIGHT * r.mean(1, keepdims=True), 3, 1))


def test_q_methods_run_learn_and_are_deterministic():
    for m in Q.Q_METHODS:
        a = S.ssd_run("cleanup", 3, "fpf_lmf", m, iterations=10, n_envs=2, hidden=(8,), seed=5)
        b = S.ssd_run("cleanup", 3, "fpf_lmf", m, iterations=10, n_envs=2, hidden=(8,), seed=5)
        assert a["returns"].shape == (10, 3) and np.isfinite(a["returns"]).all()
        np.testing.assert_array_equal(a["returns"], b["returns"])
        c = S.ssd_run("cleanup", 3, "fpf_lmf", m, iterations=10, n_envs=2, hidden=(8,), seed=6)
        assert not np.array_equal(a["returns"], c["returns"])


def test_every_method_runs_and_the_hooks_change_learning():
    base = S.ssd_run("harvest", 3, "fpf_lmf", "ippo", seed=2, **dict(TINY, iterations=3))["returns"]
    for m in S.PPO_METHODS:
        out = S.ssd_run("harvest", 3, "fpf_lmf", m, seed=2, **dict(TINY, iterations=3))
        assert out["returns"].shape == (3, 3) and np.isfinite(out["returns"]).all()
        np.testing.assert_array_equal(out["returns"][0], base[0])  # same first episode, before any update
        if m in ("ippo_avg", "ippo_min", "ia", "fen", "lmf"):
            assert not np.array_equal(out["returns"], base), m


def test_variants_differ_in_cleanup():
    a = S.ssd_run("cleanup", 3, "fpf_lmf", "ippo", seed=0, **TINY)["returns"]
    b = S.ssd_run("cleanup", 3, "canonical", "ippo", seed=0, **TINY)["returns"]
    assert not np.array_equal(a, b)


def test_validation_errors_name_the_parameter():
    for kw, name in ((dict(env="coins"), "env"), (dict(variant="old"), "variant"), (dict(method="mappo"), "method"),
                     (dict(n_agents=1), "n_agents"), (dict(n_agents=11), "n_agents"),
                     (dict(iterations=0), "iterations"), (dict(regularize="some"), "regularize"),
                     (dict(method="ippo", participants=[0]), "participants"),
                     (dict(method="fpf", participants=[5]), "participants")):
        with pytest.raises(ValueError, match=name):
            S.ssd_run(**dict(dict(TINY, env="cleanup", n_agents=3), **kw))
    with pytest.raises(ValueError, match="budget"):
        S.iterations_for(0.0, 10)
    P = ex.resolve("fpf_lmf.ssd", "quick")
    for key, bad in (("envs", ["coins"]), ("canonical", ["coins"]), ("methods", ["mappo"]), ("n_envs", 0)):
        with pytest.raises(ValueError, match=key):
            S.ssd_experiment(dict(P, **{key: bad}))
    with pytest.raises(ValueError, match="non-empty"):
        S.ssd_experiment(dict(P, methods=[]))


def test_presets_and_the_paper_scale():
    for name in ("quick", "reduced", "paper"):
        P = ex.resolve("fpf_lmf.ssd", name)
        assert S.iterations_for(P["budget"], P["n_envs"]) >= 1
        assert P["agents"] == [3, 5] and set(P["envs"]) == set(S.ENVS)
    paper = ex.resolve("fpf_lmf.ssd", "paper")
    assert S.iterations_for(paper["budget"], paper["n_envs"]) * paper["n_envs"] == S.PAPER_EPISODES
    assert paper["runs"] == 5 and paper["n_envs"] == S.FED_EPIS
    assert (paper["alpha"], paper["eta"], paper["lambda_u"], paper["lambda_e"]) == (1e-3, 1.5, 1.0, 0.1)


def test_sweep_covers_the_grid_and_is_deterministic():
    P = dict(ex.resolve("fpf_lmf.ssd", "quick"), envs=["cleanup", "harvest"], agents=[3], methods=["ippo", "fpf"],
             canonical=["cleanup"], budget=0.0002, hidden=[8], n_epochs=1)
    a = S.ssd_experiment(P)
    assert set(a) == {(e, 3, v, m) for e, v in (("cleanup", "fpf_lmf"), ("cleanup", "canonical"),
                                                ("harvest", "fpf_lmf")) for m in ("ippo", "fpf")}
    b = S.ssd_experiment(P)
    for k in a:
        np.testing.assert_array_equal(a[k][0]["returns"], b[k][0]["returns"])
        assert a[k][0]["episodes"] == 2 and a[k][0]["returns"].shape == (1, 3)
