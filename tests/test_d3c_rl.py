"""Zeroth-order D3C for learning agents (Algorithms 1-3): sharelib.sharing.d3c_rl."""

import numpy as np
import pytest

from sharelib.games.prisoners_dilemma import PrisonersDilemma
from sharelib.sharing import d3c, d3c_rl


class _BrokenSign(d3c.ZerothOrderD3C):
    """Perturbs along a_i but steps along -a_i (the sign error the direction test must catch)."""

    def _new_trial(self, i):
        super()._new_trial(i)
        self.direction[i] *= -1


def _attention_change(monkeypatch, cls, seeds=200, steps=200):
    monkeypatch.setattr(d3c_rl, "ZerothOrderD3C", cls)
    pd = PrisonersDilemma(2, 1.0)
    ch = []
    for s in range(seeds):
        x0 = np.random.default_rng(s).standard_normal(pd.shape)
        o = d3c_rl.zeroth_order_game_run(pd, x0, steps, lr_x=0.05, seed=s, lr=0.5, delta=1.0, tau_min=5,
                                         tau_max=5, clip=(-10, 10), record_every=steps)
        ch.append((o["attention"][-1] - o["attention"][0]).mean())
    ch = np.array(ch)
    return ch.mean(), ch.std() / np.sqrt(len(ch))


def test_zeroth_order_moves_A_like_first_order_on_the_prisoners_dilemma(monkeypatch):
    pd = PrisonersDilemma(2, 1.0)
    first = d3c.run_pd(pd, method="d3c", n_runs=50, seed=0, steps=200, lr_x=0.05)
    d_first = (first.attention[:, -1] - first.attention[:, 0]).mean()
    assert d_first < -0.3  # first-order D3C (Eq. 11) raises the weight on the other agent
    mean, se = _attention_change(monkeypatch, d3c.ZerothOrderD3C)
    assert mean < -3 * se, (mean, se)  # the same direction, over 200 runs
    bmean, bse = _attention_change(monkeypatch, _BrokenSign)
    assert bmean > 0, (bmean, bse)  # a flipped update sign goes the other way


def test_game_run_validation_and_determinism():
    pd = PrisonersDilemma(2, 1.0)
    x0 = np.zeros(pd.shape) + 0.3
    a = d3c_rl.zeroth_order_game_run(pd, x0, 50, seed=3)
    b = d3c_rl.zeroth_order_game_run(pd, x0, 50, seed=3)
    np.testing.assert_array_equal(a["A"], b["A"])
    with pytest.raises(ValueError, match="x0"):
        d3c_rl.zeroth_order_game_run(pd, np.zeros((3, 2)), 5)
    with pytest.raises(ValueError, match="steps"):
        d3c_rl.zeroth_order_game_run(pd, x0, 0)


@pytest.mark.parametrize("env,learner,steps", [("trust_your_brother", "reinforce", 4000),
                                               ("coin_game", "a2c", 4000)])
def test_rl_run_invariants_and_determinism(env, learner, steps):
    kw = dict(total_steps=steps, n_envs=4, seed=1, n_points=4, d3c_kw=dict(tau_min=1, tau_max=2, lr=5.0))
    a = d3c_rl.run_d3c_rl(env, learner, "d3c", **kw)
    b = d3c_rl.run_d3c_rl(env, learner, "d3c", **kw)
    np.testing.assert_array_equal(a["A"], b["A"])
    np.testing.assert_array_equal(a["returns"], b["returns"])
    assert a["updates"].min() >= 1
    A = a["A_final"]
    np.testing.assert_allclose(A.sum(1), 1.0)
    logits = np.log(A)
    # rows are softmax(clip(., -5, 5)): logit differences within the clip width
    assert np.all(logits.max(1) - logits.min(1) <= 10 + 1e-9)
    assert not np.allclose(A, d3c.init_mixing(2))


def test_rl_baselines_keep_A_fixed_and_validation():
    o = d3c_rl.run_d3c_rl("coin_game", "a2c", "cooperative", total_steps=1000, n_envs=2, n_points=2)
    np.testing.assert_allclose(o["A_final"], 0.5)
    assert o["coins"].shape == (2, 2, 2)
    with pytest.raises(ValueError, match="method"):
        d3c_rl.run_d3c_rl(method="altruist")
    with pytest.raises(ValueError, match="env"):
        d3c_rl.run_d3c_rl(env="harvest")
    with pytest.raises(ValueError, match="learner"):
        d3c_rl.run_d3c_rl(learner="dqn")


def test_defaults_nu_only_in_coins():
    assert d3c_rl.d3c_defaults("coin_game")["nu"] == 1e-5
    assert d3c_rl.d3c_defaults("cleanup")["nu"] == 0.0
    assert d3c_rl.d3c_defaults("trust_your_brother")["clip"] == (-5.0, 5.0)


def test_lio_figure_trains_on_lios_restricted_cleanup():
    from sharelib.envs import Cleanup

    env, learner, methods, env_kw = d3c_rl.FIGURES["lio"]
    E = d3c_rl._make_env(env, 2, env_kw)
    ref = Cleanup.lio(2)
    assert E.params() == ref.params() and E.n_agents == 3 and not E.rotation
    assert env_kw == dict(lio="lio_10x10")  # _make_env must not consume the figure's keywords
    o = d3c_rl.run_d3c_rl(env, learner, "cooperative", total_steps=2000, n_envs=2, n_points=2, env_kw=env_kw)
    assert o["apples"].shape == o["cleaned"].shape == (2, 3)
    np.testing.assert_allclose(o["A_final"], 1.0 / 3)
    P = dict(lio_steps=800, lio_runs=1, n_envs=2, n_points=2, seed=0)
    r = d3c_rl.figure_experiment("lio", P, methods=["selfish"])
    assert list(r) == ["selfish"] and r["selfish"][0]["rate"].shape == (2, 3)
