"""SOTO (Zimmer et al. 2021), the SOTO-GGF and SOTO-ALF baselines of FPF/LMF's Figs. 1 and 5
(sharelib.sharing.federation.soto): the welfares' gradients by hand and against finite differences,
the beta schedule, the self-oriented learner as independent PPO, the team reward, parameter errors
and tiny deterministic runs."""

import numpy as np
import pytest

from sharelib.envs import JobScheduling
from sharelib.learners import PPO, HookContext
from sharelib.learners.common import EpisodeTracker
from sharelib.sharing.federation import discrete as D
from sharelib.sharing.federation.experiments import METHODS, _METHOD_NB, build_method, discrete_run
from sharelib.sharing.federation.soto import (SOTO, alf, alf_grad, beta_schedule, ggf, ggf_grad, ggf_weights,
                                              welfare_grad)


def fd(F, J, j, h):
    """One-sided finite differences of F at J along coordinate j: (right, left)."""
    e = np.zeros(len(J))
    e[j] = h
    J = np.asarray(J, float)
    return (F(J + e) - F(J)) / h, (F(J) - F(J - e)) / h


# ------------------------------------------------------------------------------------ welfares
def test_ggf_and_its_gradient_by_hand():
    np.testing.assert_array_equal(ggf_weights(4), [1.0, 0.5, 0.25, 0.125])
    J = [3.0, 1.0, 2.0]  # sorted 1, 2, 3 -> weights 1, 1/2, 1/4 by rank
    assert ggf(J) == pytest.approx(1 * 1 + 0.5 * 2 + 0.25 * 3)
    np.testing.assert_array_equal(ggf_grad(J), [0.25, 1.0, 0.5])
    np.testing.assert_array_equal(ggf_grad(J, weights=[3, 2, 2]), [2.0, 3.0, 2.0])
    # away from ties the gradient is the finite difference of F
    rng = np.random.default_rng(0)
    for _ in range(5):
        J = rng.normal(size=6) * 10
        g = ggf_grad(J)
        for j in range(6):
            r, l = fd(ggf, J, j, 1e-6)
            assert g[j] == pytest.approx(r, rel=1e-6) and g[j] == pytest.approx(l, rel=1e-6)


def test_ggf_ties_share_the_mean_of_their_ranks_weights():
    J = [2.0, 2.0, 1.0, 2.0]  # agent 2 is the worst off; agents 0, 1, 3 share ranks 2-4
    g = ggf_grad(J)
    np.testing.assert_allclose(g, [(0.5 + 0.25 + 0.125) / 3, (0.5 + 0.25 + 0.125) / 3, 1.0,
                                   (0.5 + 0.25 + 0.125) / 3], rtol=1e-15)
    np.testing.assert_allclose(ggf_grad([5.0] * 3), [7 / 12] * 3)  # all equal: equal weights
    # the tie's value lies between the one-sided derivatives (a supergradient of the concave F)
    for j in (0, 1, 3):
        r, l = fd(ggf, J, j, 1e-6)
        assert r == pytest.approx(0.125) and l == pytest.approx(0.5)
        assert r - 1e-9 <= g[j] <= l + 1e-9
    assert sum(g) == pytest.approx(sum(ggf_weights(4)))  # a permutation-average keeps the total


def test_alf_and_its_gradient_by_hand_with_the_floor():
    assert alf([1.0, 4.0], alpha=0.5) == pytest.approx((1 + 2) / 0.5)
    np.testing.assert_allclose(alf_grad([1.0, 4.0], alpha=0.5), [1.0, 0.5])
    assert alf([1.0, np.e], alpha=1.0) == pytest.approx(1.0)  # alpha 1: sum of logs
    np.testing.assert_allclose(alf_grad([2.0, 4.0], alpha=1.0), [0.5, 0.25])
    # at or below the floor: the gradient at the clipped point, floor^-alpha
    np.testing.assert_allclose(alf_grad([0.0, -3.0, 0.01, 2.0], alpha=0.9, floor=0.01),
                               [0.01 ** -0.9, 0.01 ** -0.9, 0.01 ** -0.9, 2 ** -0.9], rtol=1e-14)
    assert alf([0.0, -3.0], alpha=0.9, floor=0.01) == pytest.approx(2 * 0.01 ** 0.1 / 0.1)
    J = np.array([0.3, 1.7, 5.0, 12.0])
    for a in (0.0, 0.5, 0.9, 1.0, 2.0):
        g = alf_grad(J, alpha=a)
        for j in range(4):
            r, _ = fd(lambda x: alf(x, alpha=a), J, j, 1e-7)
            assert g[j] == pytest.approx(r, rel=1e-5)
    np.testing.assert_array_equal(welfare_grad(J, "alf", alpha=0.5), alf_grad(J, alpha=0.5))
    np.testing.assert_array_equal(welfare_grad(J, "ggf"), ggf_grad(J))


# ------------------------------------------------------------------------------------ schedule
def test_beta_schedule_is_linear_over_the_first_half_then_zero():
    np.testing.assert_allclose([beta_schedule(k, 10) for k in range(10)], [1, .8, .6, .4, .2, 0, 0, 0, 0, 0],
                               atol=1e-15)
    np.testing.assert_allclose([beta_schedule(k, 4, start=0.5, end=0.1, anneal=1.0) for k in range(4)],
                               [0.5, 0.4, 0.3, 0.2])
    assert beta_schedule(0, 1) == 1.0
    assert [beta_schedule(k, 5, start=1.0, end=1.0) for k in range(5)] == [1.0] * 5
    # the schedule is what training uses
    env = JobScheduling(n_envs=2, max_steps=20)
    s = SOTO(env, "ggf", hidden=(4,), n_steps=20, n_epochs=1, n_minibatches=2, seed=0)
    res = s.train(env, 6 * 40, seed=0)
    np.testing.assert_allclose(res.stats["beta"], [beta_schedule(k, 6) for k in range(6)])
    assert res.returns.shape == (6, 4) and np.all(res.episodes == 2)


# ------------------------------------------------------------------------------------ learners
KW = dict(hidden=(8,), n_steps=50, n_epochs=2, n_minibatches=4)


def test_beta_one_is_independent_ppo_seed_for_seed():
    s = SOTO(JobScheduling(n_envs=2, max_steps=50), "alf", beta_start=1.0, beta_end=1.0, seed=3, **KW)
    rs = s.train(JobScheduling(n_envs=2, max_steps=50), 400, seed=5)
    p = PPO.for_env(JobScheduling(n_envs=2, max_steps=50), seed=3, **KW)
    rp = p.train(JobScheduling(n_envs=2, max_steps=50), 400, seed=5)
    np.testing.assert_array_equal(rs.returns, rp.returns)
    np.testing.assert_array_equal(s.selfish.policy_params, p.policy_params)
    np.testing.assert_array_equal(s.selfish.value_params, p.value_params)
    for k in ("policy_loss", "value_loss", "entropy"):
        np.testing.assert_array_equal(rs.stats[f"self_{k}"], rp.stats[k])
    assert not np.array_equal(s.team.policy_params, p.policy_params)  # the team policy learned too
    # and with beta annealed the behaviour differs (the test can fail)
    a = SOTO(JobScheduling(n_envs=2, max_steps=50), "alf", seed=3, **KW)
    ra = a.train(JobScheduling(n_envs=2, max_steps=50), 400, seed=5)
    np.testing.assert_array_equal(ra.returns[0], rp.returns[0])  # beta_0 = 1: the first rollout is PPO's
    assert not np.array_equal(ra.returns, rp.returns)


def test_team_reward_weights_and_the_estimate_of_J():
    env = JobScheduling(n_envs=2, max_steps=20)
    s = SOTO(env, "ggf", j_rate=0.25, seed=0, **dict(KW, n_steps=20))
    np.testing.assert_allclose(s.team_weights(), [0.25] * 4)  # no episode yet: all equal
    s.update_J([1.0, 4.0, 2.0, 3.0], 0)  # no episode ended: nothing changes
    assert s.J is None
    s.update_J([1.0, 4.0, 2.0, 3.0], 2)
    s.update_J([5.0, 4.0, 2.0, 3.0], 2)
    np.testing.assert_allclose(s.J, [2.0, 4.0, 2.0, 3.0])  # 0.75 * 1 + 0.25 * 5
    w = ggf_grad(s.J) / ggf_grad(s.J).sum()  # agents 0 and 2 tie for the worst
    np.testing.assert_allclose(s.team_weights(), w)
    np.testing.assert_allclose(w, np.array([0.75, 0.125, 0.75, 0.25]) / 1.875)
    r = np.random.default_rng(0).normal(size=(3, 2, 4))
    out = s._team_reward(r, HookContext(s.team, 0, 0, None))
    np.testing.assert_allclose(out, np.repeat((r @ w)[..., None], 4, axis=2))
    u = SOTO(env, "alf", alpha=0.5, normalize=False, seed=0, **dict(KW, n_steps=20))
    u.update_J([1.0, 4.0, 0.0, 16.0], 1)
    np.testing.assert_allclose(u.team_weights(), [1.0, 0.5, 1e-3 ** -0.5, 0.25])


def test_importance_weights_of_a_mixed_rollout():
    env = JobScheduling(n_envs=3, max_steps=10)
    s = SOTO(env, "ggf", truncate=1.0, seed=1, **dict(KW, n_steps=10))
    obs0 = env.reset(0)
    ro_s, ro_t, _ = s.collect(env, obs0, np.random.default_rng(0), np.random.default_rng(1), EpisodeTracker(3, 4), 0.5)
    np.testing.assert_array_equal(ro_s.actions, ro_t.actions)
    np.testing.assert_array_equal(ro_s.rewards, ro_t.rewards)
    # each learner's logp is its own policy's of the action taken; rho = min(1, p_own / mu)
    obs = ro_s.obs
    ps = np.take_along_axis(np.stack([s.selfish.probs(o) for o in obs]), ro_s.actions[..., None], 3)[..., 0]
    pt = np.take_along_axis(np.stack([s.team.probs(o) for o in obs]), ro_s.actions[..., None], 3)[..., 0]
    np.testing.assert_allclose(np.exp(ro_s.logp), ps, rtol=1e-10)
    np.testing.assert_allclose(np.exp(ro_t.logp), pt, rtol=1e-10)
    mu = 0.5 * ps + 0.5 * pt
    np.testing.assert_allclose(s._rho["self"], np.minimum(1.0, ps / mu), rtol=1e-10)
    np.testing.assert_allclose(s._rho["team"], np.minimum(1.0, pt / mu), rtol=1e-10)
    assert np.all(s._rho["self"] <= 1.0) and np.any(s._rho["self"] < 1.0)
    np.testing.assert_array_equal(ro_s.values[-1], s.selfish.values(ro_s.last_obs))
    np.testing.assert_array_equal(ro_t.values[-1], s.team.values(ro_t.last_obs))
    # beta 0: the team policy acts alone and its weights are exactly 1
    s.collect(env, obs0, np.random.default_rng(0), np.random.default_rng(1), EpisodeTracker(3, 4), 0.0)
    np.testing.assert_array_equal(s._rho["team"], 1.0)
    a = s.act(obs0, np.random.default_rng(0))[0]  # what SOTO deploys: the team-oriented policy
    np.testing.assert_array_equal(a, s.team.act(obs0, np.random.default_rng(0))[0])


def test_parameter_errors_name_the_parameter():
    env = JobScheduling(n_envs=2, max_steps=20)
    cases = [(dict(welfare="nash"), "welfare"), (dict(alpha=-0.1), "alpha"), (dict(floor=0.0), "floor"),
             (dict(beta_start=1.5), "beta_start"), (dict(beta_end=-0.1), "beta_end"), (dict(anneal=0.0), "anneal"),
             (dict(anneal=1.5), "anneal"), (dict(j_rate=0.0), "j_rate"), (dict(truncate=0.0), "truncate"),
             (dict(weights=[1, 2, 3, 4]), "weights"), (dict(weights=[1, 1]), "weights"), (dict(seed=-1), "seed"),
             (dict(hooks=None), "hooks")]
    for kw, name in cases:
        with pytest.raises(ValueError, match=name):
            SOTO(env, **dict(dict(welfare="ggf", hidden=(4,), n_steps=20), **kw))
    with pytest.raises(ValueError, match="iteration"):
        beta_schedule(5, 5)
    with pytest.raises(ValueError, match="anneal"):
        beta_schedule(0, 5, anneal=0)
    with pytest.raises(ValueError, match="J must be"):
        ggf_grad([[1.0, 2.0]])
    with pytest.raises(ValueError, match="welfare"):
        welfare_grad([1.0], "gini")
    with pytest.raises(ValueError, match="n_minibatches"):
        SOTO(env, hidden=(4,), n_steps=2, n_minibatches=8).train(env, 100)
    with pytest.raises(ValueError, match="soto_alpha"):
        discrete_run("job", "soto_alf", iterations=1, n_envs=2, hidden=(4,), soto_alpha=-1.0)
    with pytest.raises(ValueError, match="soto_anneal"):
        discrete_run("job", "soto_ggf", iterations=1, n_envs=2, hidden=(4,), soto_anneal=2.0)


# ------------------------------------------------------------------------------------ wiring, runs
def test_methods_are_wired_into_the_figures_and_not_into_the_small_game():
    assert {"soto_ggf", "soto_alf"} <= set(METHODS) and not {"soto_ggf", "soto_alf"} & set(_METHOD_NB)
    assert {"soto_ggf", "soto_alf"} <= set(D.FIGURES["fig1"][1])
    assert "SOTO-GGF" not in D.NOT_RUN and "SOTO-ALF" not in D.NOT_RUN
    assert D.LABELS["soto_ggf"] == "SOTO-GGF" and D.LABELS["soto_alf"] == "SOTO-ALF"
    env = JobScheduling(n_envs=2)
    L, parts = build_method(env, "soto_alf", dict(hidden=(4,), n_steps=200), soto_alpha=0.7, soto_anneal=0.25)
    assert isinstance(L, SOTO) and L.welfare == "alf" and L.alpha == 0.7 and L.anneal == 0.25
    np.testing.assert_array_equal(parts, np.arange(4))


@pytest.mark.parametrize("method", ["soto_ggf", "soto_alf"])
def test_tiny_discrete_run_is_deterministic(method):
    kw = dict(scenario="job", iterations=3, n_envs=2, hidden=[8], lr=1e-2, vf_lr=1e-3, lambda_u=1.0, lambda_e=1.0,
              lambda_h=0.01, alpha=1e-3, eta=1.5, seed=0)
    a = D.run_point(method=method, **kw)
    b = D.run_point(method=method, **kw)
    c = D.run_point(method=method, **dict(kw, seed=1))
    assert a["returns"].shape == (3, 4) and np.all(np.isfinite(a["returns"]))
    np.testing.assert_array_equal(a["returns"], b["returns"])
    np.testing.assert_array_equal(a["participants"], np.arange(4))
    assert not np.array_equal(a["returns"], c["returns"])
    ippo = D.run_point(method="ippo", **kw)["returns"]
    np.testing.assert_array_equal(a["returns"][0], ippo[0])  # beta_0 = 1: the first episode is IPPO's
