"""sharelib.learners: single-agent sanity (each learner solves a toy problem to its known
optimum within a small fixed budget), GAE against a hand computation, DPG on the simplex,
determinism and validation; sharelib.envs.toy: the toy games' closed forms."""

import numpy as np
import pytest

from sharelib.envs.toy import Bandit, Chain, GridWorld, MatrixGame
from sharelib.learners import A2C, DQN, PPO, REINFORCE, SimplexDPG, gae


# ------------------------------------------------------------------------------ toy envs
def test_gridworld_optimal_path_and_time_limit():
    env = GridWorld(2, size=4, step_cost=0.01, max_steps=20)
    env.reset(0)
    total = np.zeros(2)
    for a in [1, 1, 1, 3, 3, 3]:
        obs, r, d = env.step(np.full((2, 1), a))
        total += r[:, 0]
    np.testing.assert_allclose(total, env.optimal_return)
    assert env.optimal_return == pytest.approx(0.94)
    assert d.all() and obs[:, 0, 0].all()  # auto-reset to the start cell
    for t in range(20):  # bumping into the top wall until the time limit
        obs, r, d = env.step(np.zeros((2, 1), int))
    assert d.all() and env.truncated.all()


def test_chain_and_bandit_and_matrix_game_rewards():
    ch = Chain(1, length=5, small_reward=0.01)
    ch.reset(0)
    rs = [ch.step(np.array([[1]]))[1][0, 0] for _ in range(4)]
    assert rs == [0, 0, 0, 1.0]
    _, r, _ = ch.step(np.array([[0]]))
    assert r[0, 0] == 0.01
    b = Bandit(4000, means=(0.1, 0.7), noise_std=0.5)
    b.reset(3)
    _, r, d = b.step(np.ones((4000, 1), int))
    assert d.all() and abs(r.mean() - 0.7) < 0.03 and abs(r.std() - 0.5) < 0.03
    m = MatrixGame(4)
    m.reset(0)
    _, r, _ = m.step(np.array([[0, 0], [0, 1], [1, 0], [1, 1]]))
    np.testing.assert_array_equal(r, [[3, 3], [0, 5], [5, 0], [1, 1]])


# ------------------------------------------------------------------------------ GAE
def test_gae_hand_computed():
    # one copy, one agent, T = 3, episode ends after t = 1
    r = np.array([1.0, 2.0, 3.0]).reshape(3, 1, 1)
    v = np.array([0.5, 0.4, 0.3, 0.2]).reshape(4, 1, 1)
    d = np.array([False, True, False]).reshape(3, 1)
    g, lam = 0.9, 0.8
    d2 = 3 + g * 0.2 - 0.3
    d1 = 2 - 0.4  # terminal: no bootstrap
    d0 = 1 + g * 0.4 - 0.5
    adv, ret = gae(r, v, d, g, lam)
    np.testing.assert_allclose(adv[:, 0, 0], [d0 + g * lam * d1, d1, d2])
    np.testing.assert_allclose(ret, adv + v[:3])
    # lambda = 1: Monte-Carlo return minus baseline within the episode
    adv1, _ = gae(r, v, d, g, 1.0)
    assert adv1[0, 0, 0] == pytest.approx(1 + g * 2 - 0.5)


# ------------------------------------------------------------------------------ sanity
def test_reinforce_solves_bandit():
    env = Bandit(16, means=(0.2, 0.5, 0.9, 0.4), noise_std=0.1)
    L = REINFORCE.for_env(env, hidden=(), lr=0.1, seed=0)
    res = L.train(env, 4000, seed=0)
    p = L.probs(np.ones((1, 1, 1)))[0, 0]
    assert p.argmax() == 2 and p[2] > 0.9
    assert res.final_return()[0] > 0.85  # optimum 0.9
    assert res.returns[0, 0] < 0.7       # it started near the uniform average 0.5


@pytest.mark.parametrize("cls,kw", [(PPO, dict(lr=1e-3, n_steps=32)), (A2C, dict(lr=3e-3, n_steps=8))])
def test_actor_critic_solves_gridworld(cls, kw):
    env = GridWorld(8, size=4)
    L = cls.for_env(env, hidden=(32,), seed=0, **kw)
    res = L.train(env, 30_000, seed=1)
    assert L.evaluate(GridWorld(1, size=4), n_episodes=3) == pytest.approx([env.optimal_return])
    assert res.final_return()[0] > 0.9
    assert np.nanmean(res.returns[:3]) < 0.5  # random walk at the start


def test_dqn_solves_chain():
    env = Chain(4, length=8)
    L = DQN.for_env(env, hidden=(32,), seed=0, learning_starts=200, eps_decay_steps=3000, target_update=50)
    res = L.train(env, 6000, seed=0)
    assert L.evaluate(Chain(1, length=8), n_episodes=3) == pytest.approx([1.0])
    assert res.final_return()[0] > 0.8
    assert res.stats["epsilon"][-1] == pytest.approx(0.05)


def test_dqn_vanilla_target_option_runs_and_learns():
    env = Chain(4, length=5)
    L = DQN.for_env(env, hidden=(16,), seed=1, double=False, learning_starts=100, eps_decay_steps=1500)
    L.train(env, 3000, seed=1)
    assert L.evaluate(Chain(1, length=5), n_episodes=2) == pytest.approx([1.0])


def test_simplex_dpg_follows_given_gradient_to_target():
    wstar = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    L = SimplexDPG(2, 3, 1, hidden=(16,), actor_lr=1e-2, seed=0)
    o = np.eye(2)[:, None, :]
    for _ in range(500):
        w = L.act(o, explore=False)
        L.update_actor_with_grad(o, -2 * (w - wstar[:, None, :]))  # J = -||w - w*||^2
    w = L.act(o, explore=False)
    np.testing.assert_allclose(w[:, 0], wstar, atol=5e-3)
    np.testing.assert_allclose(w.sum(-1), 1.0)


def test_simplex_dpg_with_learned_critic():
    rng = np.random.default_rng(0)
    wstar = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    L = SimplexDPG(2, 3, 1, hidden=(16,), critic_hidden=(32,), actor_lr=3e-3, critic_lr=3e-3,
                   noise_std=1.0, seed=0)
    for _ in range(1500):
        c = rng.integers(0, 2, 64)
        o = np.eye(2)[c][:, None, :]
        w = L.act(o, rng)
        L.update_critic(o, w, -((w[:, 0] - wstar[c]) ** 2).sum(-1)[:, None])
        L.update_actor(o)
        L.soft_update_targets()
    w = L.act(np.eye(2)[:, None, :], explore=False)[:, 0]
    assert np.abs(w - wstar).max() < 0.1
    assert np.argmax(w[0]) == 0 and np.argmax(w[1]) == 2


# ------------------------------------------------------------------------------ properties
def test_training_is_deterministic_given_seeds():
    def run():
        env = GridWorld(4, size=3)
        L = PPO.for_env(env, hidden=(8,), n_steps=16, seed=3)
        return L.train(env, 640, seed=5), L.policy_params.copy()

    (r1, p1), (r2, p2) = run(), run()
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(r1.returns, r2.returns)


def test_shared_parameters_use_one_network():
    env = MatrixGame(4)
    L = PPO.for_env(env, hidden=(4,), n_steps=4, share_params=True, seed=0)
    assert L.policy_params.shape[0] == 1 and L.value_params.shape[0] == 1
    L.train(env, 64, seed=0)
    p = L.probs(np.ones((1, 2, 1)))
    np.testing.assert_allclose(p[0, 0], p[0, 1])  # same observation, same network
    Ld = DQN.for_env(env, hidden=(4,), share_params=True, learning_starts=8, batch_size=8)
    Ld.train(env, 64, seed=0)
    assert Ld.q_params.shape[0] == 1


def test_validation_messages():
    with pytest.raises(ValueError, match="gamma"):
        PPO(3, 2, gamma=1.5)
    with pytest.raises(ValueError, match="n_steps"):
        A2C(3, 2, n_steps=0)
    with pytest.raises(ValueError, match="clip"):
        PPO(3, 2, clip=0.0)
    with pytest.raises(ValueError, match="obs must have shape"):
        PPO(3, 2).act(np.zeros((1, 1, 4)))
    with pytest.raises(ValueError, match="env has"):
        PPO(3, 2).train(GridWorld(1), 10)
    with pytest.raises(ValueError, match="k must"):
        SimplexDPG(3, 1)


def test_policy_without_bias_keeps_biases_zero():
    env = Bandit(8, means=(0.1, 0.9))
    L = REINFORCE.for_env(env, hidden=(), policy_bias=False, lr=0.1, seed=0)
    L.train(env, 2000, seed=0)
    mask = L.policy_net.bias_mask()
    assert not L.policy_params[:, mask].any()   # biases untouched
    assert L.policy_params[:, ~mask].any()      # weights learned (the constant observation 1)
    assert L.probs(np.ones((1, 1, 1)))[0, 0, 1] > 0.8


def test_mixing_matrix_and_run_mixing_smoke():
    from sharelib.learners.mixing import mixing_matrix, run_mixing

    A = mixing_matrix(3, 0.4)
    np.testing.assert_allclose(A.sum(1), 1.0)
    np.testing.assert_allclose(np.diag(A), 0.6)
    np.testing.assert_allclose(mixing_matrix(2, 0.5), 0.5)
    r = run_mixing("prisoner_corridor", "dqn", 0.5, total_steps=800, n_envs=4, seed=0, n_points=5,
                   eval_episodes=4)
    assert r["returns"].shape == (5, 2) and r["eval"].shape == (2,)
    r2 = run_mixing("prisoner_corridor", "dqn", 0.5, total_steps=800, n_envs=4, seed=0, n_points=5,
                    eval_episodes=4)
    np.testing.assert_array_equal(r["returns"], r2["returns"])  # seeded
    with pytest.raises(ValueError, match="learner"):
        run_mixing("prisoner_corridor", "sarsa")


# ------------------------------------------------------------------------------ fused PPO head, float32
@pytest.mark.parametrize("clip", [0.2, -1.0])
def test_fused_policy_head_matches_nn_heads(clip):
    """_policy_step_grad's fused head computes exactly the composition of sharelib.nn's heads."""
    from sharelib.learners.actor_critic import _policy_step_grad
    from sharelib.nn import MLP, categorical_entropy, categorical_logp, pg_surrogate, ppo_surrogate

    rng = np.random.default_rng(0)
    net = MLP((6, 8, 5), "tanh")
    p = net.init(rng, out_gain=1.0)
    B = 40
    X = rng.standard_normal((B, 6))
    A = rng.integers(0, 5, B)
    old = np.log(rng.dirichlet(np.ones(5), B))[np.arange(B), A] + 0.3 * rng.standard_normal(B)
    adv = rng.standard_normal(B)
    extra = 0.01 * rng.standard_normal((B, 5))
    grad = np.zeros(net.n_params)
    loss, H, kl, cf = _policy_step_grad(p, net._sizes, net._act, X, A, old, adv, clip, 0.05, extra,
                                        grad, np.empty(B * net.cache_width))
    z, cache = net.forward_cache(p, X)
    logp, dlogp = categorical_logp(z, A)
    Hb, dH = categorical_entropy(z)
    if clip > 0:
        l_ref, dl, kl_ref, cf_ref = ppo_surrogate(logp, old, adv, clip)
        assert cf_ref > 0  # some ratios are clipped in this batch
    else:
        l_ref, dl = pg_surrogate(logp, adv)
        r = np.exp(logp - old)
        kl_ref, cf_ref = np.mean(r - 1 - (logp - old)), 0.0
    dz = dl[:, None] * dlogp - 0.05 / B * dH + extra
    g_ref = net.backward(p, cache, dz)
    np.testing.assert_allclose(grad, g_ref, rtol=1e-12, atol=1e-15)
    assert loss == pytest.approx(l_ref - 0.05 * Hb.mean(), rel=1e-12)
    assert H == pytest.approx(Hb.mean(), rel=1e-12)
    assert kl == pytest.approx(kl_ref, rel=1e-10)
    assert cf == cf_ref


def test_ppo_float32_update_tracks_float64():
    """Same rollout, same minibatch order: the float32 learner's parameter change matches float64's."""
    env = GridWorld(8, size=4)
    kw = dict(hidden=(32, 32), n_steps=32, lr=1e-3, seed=0)
    L64 = PPO.for_env(env, **kw)
    L32 = PPO.for_env(env, dtype="float32", **kw)
    assert L32.policy_params.dtype == np.float32 and L32.value_params.dtype == np.float32
    np.testing.assert_array_equal(L32.policy_params, L64.policy_params.astype(np.float32))
    from sharelib.learners.common import EpisodeTracker
    ro, _ = L64.collect(env, env.reset(0), np.random.default_rng(0), EpisodeTracker(8, 1))
    p0, v0 = L64.policy_params.copy(), L64.value_params.copy()
    s64 = L64.update(ro, np.random.default_rng(1))
    s32 = L32.update(ro, np.random.default_rng(1))
    for new32, new64, old in [(L32.policy_params, L64.policy_params, p0), (L32.value_params, L64.value_params, v0)]:
        d64 = new64 - old
        d32 = new32.astype(np.float64) - old
        assert np.linalg.norm(d64) > 1e-3  # the update moved the parameters
        assert np.linalg.norm(d32 - d64) < 1e-3 * np.linalg.norm(d64)  # measured 4e-6
    for k in ("policy_loss", "value_loss", "entropy"):
        assert s32[k] == pytest.approx(s64[k], rel=1e-5, abs=1e-8)
    # acting works in float32 too, and float32 training learns the grid world
    res = L32.train(env, 30_000, seed=1)
    assert res.final_return()[0] > 0.9


@pytest.mark.parametrize("kw", [dict(), dict(share_params=True, norm_adv=False, policy_bias=False),
                                dict(n_minibatches=3, clip=None)])
def test_fused_epoch_kernel_equals_python_minibatch_loop(kw):
    """Without a loss hook, update runs one numba kernel per epoch; with a (zero) loss hook it runs
    the Python loop over minibatches.  Both must give the same parameters to the last bit."""
    from sharelib.envs.toy import MatrixGame
    from sharelib.learners import Hooks
    from sharelib.learners.common import EpisodeTracker

    env = MatrixGame(5)
    zero = Hooks(loss=lambda b: (0.0, np.zeros_like(b.logits)))
    La = PPO.for_env(env, hidden=(8,), n_steps=7, seed=3, **kw)
    Lb = PPO.for_env(env, hidden=(8,), n_steps=7, seed=3, hooks=zero, **kw)
    obs = env.reset(0)
    for it in range(3):
        ro, obs = La.collect(env, obs, np.random.default_rng(it), EpisodeTracker(5, 2))
        sa = La.update(ro, np.random.default_rng(10 + it))
        sb = Lb.update(ro, np.random.default_rng(10 + it))
    np.testing.assert_array_equal(La.policy_params, Lb.policy_params)
    np.testing.assert_array_equal(La.value_params, Lb.value_params)
    assert La.policy_opt.t == Lb.policy_opt.t == 3 * 4 * (35 // (35 // La.n_minibatches))
    assert sa == pytest.approx(sb, rel=1e-12, abs=1e-15)
