"""LToS's learned sharing on a PPO low level (sharelib.sharing.ltos_ppo), the comparison's adaptation."""

from types import SimpleNamespace

import numpy as np
import pytest

from sharelib import comparison as C
from sharelib.sharing.ltos import share_rewards, complete_graph
from sharelib.sharing.ltos_ppo import LToSPPO

SPEC = SimpleNamespace(n_agents=4, obs_dim=3, n_actions=2, n_envs=2, max_steps=5)


def make(sharers=(False, True, True, True), **kw):
    return LToSPPO(SPEC, sharers=np.array(sharers), ppo_kw=dict(hidden=(8,), activation="tanh", seed=1), seed=2, **kw)


def test_high_gradient_matches_finite_differences_through_the_opt_out_mask():
    sh = make()
    rng = np.random.default_rng(0)
    sh.low.value_params[:] = rng.normal(0, 0.5, sh.low.value_params.shape)  # a critic that depends on w_in
    O = rng.normal(size=(6, 4, 3))
    w = rng.dirichlet(np.ones(4), size=(6, 4))
    g = sh.high_gradient(O, w)
    num = np.zeros_like(w)
    eps = 1e-6
    for idx in np.ndindex(*w.shape):
        up, dn = w.copy(), w.copy()
        up[idx] += eps
        dn[idx] -= eps
        num[idx] = (sh.objective(O, up) - sh.objective(O, dn)) / (2 * eps)
    np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-7)
    assert np.abs(g[:, 0]).max() == 0.0  # a defector's weights do not move anything
    # complete_graph puts agent 0 (the defector) in slot 1 of every sharer: masked, no gradient
    assert np.abs(g[:, 1:, 1]).max() == 0.0
    assert np.abs(g[:, 1:, [0, 2, 3]]).min() > 0  # the sharers' own and mutual weights do move


def test_a_defector_keeps_its_reward_and_receives_nothing():
    sh = make()
    w = sh.weights(np.zeros((2, 4, 3)), explore=True)
    np.testing.assert_allclose(w.sum(-1), 1.0)
    np.testing.assert_array_equal(w[:, 0], [[1, 0, 0, 0]] * 2)
    nbr = complete_graph(2, 4)
    assert w[:, 1:, 1].max() == 0.0  # slot 1 of a sharer is agent 0: sharers give the defector nothing
    r = np.array([[1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 0.0, 2.0]])
    shaped = share_rewards(r, w, nbr)
    np.testing.assert_allclose(shaped.sum(1), r.sum(1))  # sharing moves reward, never creates it
    np.testing.assert_allclose(shaped[:, 0], r[:, 0])
    assert abs(w[:, 1:, 0].mean() - 0.8) < 0.2  # initial selfishness 0.8 (with exploration noise)


def test_fixed_weights_and_parameter_checks():
    sh = make(sharers=(True,) * 4, learn_weights=False)
    w = sh.weights(np.zeros((1, 4, 3)))
    np.testing.assert_allclose(w[0, :, 0], 0.8)
    np.testing.assert_allclose(w[0, :, 1:], 0.2 / 3)
    with pytest.raises(ValueError, match="initial_selfishness"):
        make(initial_selfishness=1.0)
    with pytest.raises(ValueError, match="sharers"):
        make(sharers=(True, True))


def test_ltos_in_the_comparison_learns_its_weights_deterministically():
    kw = dict(total_steps=2 * 8 * 100, n_envs=8, n_points=2, eval_episodes=2, seed=0)
    a = C.run_mechanism("cleanup", "ltos", defectors=1, **kw)
    b = C.run_mechanism("cleanup", "ltos", defectors=1, **kw)
    np.testing.assert_array_equal(a["eval_returns"], b["eval_returns"])
    np.testing.assert_array_equal(a["selfishness"], b["selfishness"])
    assert a["selfishness"].shape == (2,) and a["numbers"] > 2 * 3
    assert a["reveals"].startswith("reward shares")
