"""MADDPG (sharelib.learners.maddpg): gradients against finite differences (critic, actor through the
critic's input gradient and the Gumbel-softmax Jacobian), soft targets, the centralised critic's inputs,
determinism, parameter errors, and learning a cooperative matrix game."""

import numpy as np
import pytest

from sharelib.envs.toy import MatrixGame
from sharelib.learners import MADDPG, TrainResult
from sharelib.learners.maddpg import gumbel_softmax, gumbel_softmax_vjp


def small(n=2, d=3, A=3, **kw):
    base = dict(hidden=(5,), activation="tanh", seed=1)
    base.update(kw)
    return MADDPG(d, A, n, **base)


def batch(L, B=6, seed=0):
    rng = np.random.default_rng(seed)
    n, d, A = L.n_agents, L.obs_dim, L.n_actions
    O = rng.standard_normal((B, n, d))
    O2 = rng.standard_normal((B, n, d))
    Y = gumbel_softmax(rng.standard_normal((B, n, A)), rng.gumbel(size=(B, n, A)), 1.0)
    R = rng.standard_normal((B, n))
    D = rng.random(B) < 0.3
    return O, Y, R, O2, D, rng


def fd_grad(f, params, eps=1e-6):
    g = np.zeros_like(params)
    flat, gf = params.reshape(-1), g.reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        fp = f()
        flat[k] = old - eps
        fm = f()
        flat[k] = old
        gf[k] = (fp - fm) / (2 * eps)
    return g


def test_gumbel_softmax_jacobian_against_finite_differences():
    rng = np.random.default_rng(0)
    for tau in (1.0, 0.5, 2.0):
        z, g, v = rng.standard_normal(4), rng.gumbel(size=4), rng.standard_normal(4)
        y = gumbel_softmax(z, g, tau)
        assert np.isclose(y.sum(), 1.0) and (y > 0).all()
        J = np.empty((4, 4))
        for k in range(4):
            e = np.zeros(4)
            e[k] = 1e-6
            J[:, k] = (gumbel_softmax(z + e, g, tau) - gumbel_softmax(z - e, g, tau)) / 2e-6
        np.testing.assert_allclose(J, (np.diag(y) - np.outer(y, y)) / tau, atol=1e-8)
        np.testing.assert_allclose(gumbel_softmax_vjp(y, v, tau), J.T @ v, atol=1e-8)
    # the argmax of the relaxed sample is a draw from softmax(logits) (Gumbel-max)
    z = np.array([1.0, 0.0, -1.0])
    a = gumbel_softmax(np.broadcast_to(z, (40000, 3)), rng.gumbel(size=(40000, 3)), 0.3).argmax(-1)
    np.testing.assert_allclose(np.bincount(a, minlength=3) / 40000, np.exp(z) / np.exp(z).sum(), atol=0.01)


@pytest.mark.parametrize("target_actions", ["sample", "softmax"])
def test_critic_gradient_against_finite_differences(target_actions):
    L = small(target_actions=target_actions, gamma=0.9)
    L.critic_target += 0.1  # targets apart from the online critic: only the online one is differentiated
    L.actor_target += 0.2
    O, Y, R, O2, D, rng = batch(L)
    g2 = rng.gumbel(size=Y.shape)
    loss, grad = L.critic_grad(O, Y, R, O2, D, gumbel2=g2)
    # row i: agent i's own loss; the returned loss is the mean over the agents (hence the factor n)
    fd = L.n_agents * fd_grad(lambda: L.critic_grad(O, Y, R, O2, D, gumbel2=g2)[0], L.critic_params)
    np.testing.assert_allclose(grad, fd, atol=1e-7, rtol=1e-5)
    # the loss by hand: t_i = r_i + gamma (1 - done) Q'_i(o', y'), y' from the target actors
    z2 = L.logits(O2, target=True)
    Y2 = gumbel_softmax(z2, g2, L.tau_gs) if target_actions == "sample" else gumbel_softmax(z2, 0.0, L.tau_gs)
    t = R + 0.9 * (1 - D[:, None]) * L.q(O2, Y2, target=True)
    np.testing.assert_allclose(loss, np.mean(0.5 * (L.q(O, Y) - t) ** 2), rtol=1e-12)


@pytest.mark.parametrize("tau_gs,logit_reg", [(1.0, 1e-3), (0.6, 0.05), (2.0, 0.0)])
def test_actor_gradient_against_finite_differences(tau_gs, logit_reg):
    L = small(n=3, tau_gs=tau_gs, logit_reg=logit_reg)
    L.actor_params += 0.3 * np.random.default_rng(5).standard_normal(L.actor_params.shape)  # logits away from 0
    O, Y, R, O2, D, rng = batch(L, B=5)
    g = rng.gumbel(size=Y.shape)
    loss, grad = L.actor_grad(O, Y, gumbel=g)
    fd = L.n_agents * fd_grad(lambda: L.actor_grad(O, Y, gumbel=g)[0], L.actor_params)
    np.testing.assert_allclose(grad, fd, atol=1e-8, rtol=1e-5)
    assert np.abs(grad).max() > 1e-4
    # the loss by hand: agent i's action replaced by its relaxed sample, the others' from the batch
    z = L.logits(O)
    want = 0.0
    for i in range(3):
        Yi = Y.copy()
        Yi[:, i] = gumbel_softmax(z[:, i], g[:, i], tau_gs)
        want += (-L.q(O, Yi)[:, i].mean() + logit_reg * np.mean(z[:, i] ** 2)) / 3
    np.testing.assert_allclose(loss, want, rtol=1e-12)


def test_soft_target_update_by_hand():
    L = small(tau=0.25)
    rng = np.random.default_rng(3)
    L.actor_params[:] = rng.standard_normal(L.actor_params.shape)
    L.critic_params[:] = rng.standard_normal(L.critic_params.shape)
    a0, c0 = L.actor_target.copy(), L.critic_target.copy()
    L.soft_update_targets()
    np.testing.assert_allclose(L.actor_target, 0.75 * a0 + 0.25 * L.actor_params, rtol=1e-14)
    np.testing.assert_allclose(L.critic_target, 0.75 * c0 + 0.25 * L.critic_params, rtol=1e-14)
    # one learning step: targets move by tau toward the updated online networks
    env = MatrixGame(n_envs=4, payoff=np.ones((3, 3, 2)))
    L = MADDPG.for_env(env, hidden=(4,), tau=0.25, batch_size=4, learning_starts=0, seed=0)
    a0, c0 = L.actor_target.copy(), L.critic_target.copy()
    L.train(env, 4, seed=0)
    assert L.grad_steps == 1
    np.testing.assert_allclose(L.actor_target, 0.75 * a0 + 0.25 * L.actor_params, rtol=1e-12)
    np.testing.assert_allclose(L.critic_target, 0.75 * c0 + 0.25 * L.critic_params, rtol=1e-12)


def test_critic_sees_every_agents_observation_and_action():
    L = small(n=3, d=2, A=4, hidden=(8,))
    L.critic_params += 0.5 * np.random.default_rng(0).standard_normal(L.critic_params.shape)
    O, Y, R, O2, D, rng = batch(L, B=4)
    q = L.q(O, Y)
    X = L.critic_input(O, Y)
    assert X.shape == (4, 3 * 2 + 3 * 4)
    np.testing.assert_array_equal(X[:, :6], O.reshape(4, 6))
    np.testing.assert_array_equal(X[:, 6:], Y.reshape(4, 12))
    for j in range(3):
        Yj = Y.copy()
        Yj[:, j] = np.eye(4)[(Y[:, j].argmax(-1) + 1) % 4]  # another action of agent j only
        Oj = O.copy()
        Oj[:, j] += 1.0  # another observation of agent j only
        for i in range(3):
            assert np.all(np.abs(L.q(O, Yj)[:, i] - q[:, i]) > 1e-6), (i, j)
            assert np.all(np.abs(L.q(Oj, Y)[:, i] - q[:, i]) > 1e-6), (i, j)
    # the actor sees only its own observation
    z = L.logits(O)
    Oo = O.copy()
    Oo[:, 1] += 1.0
    z2 = L.logits(Oo)
    np.testing.assert_array_equal(z[:, [0, 2]], z2[:, [0, 2]])
    assert not np.allclose(z[:, 1], z2[:, 1])


def _coordination_game():
    M = np.array([[10.0, 0.0, 0.0], [0.0, 6.0, 0.0], [0.0, 0.0, 6.0]])  # common payoff, optimum (0, 0)
    return np.stack([M, M], -1)


def test_determinism_and_train_result():
    def run(seed, net_seed=0):
        env = MatrixGame(n_envs=4, payoff=_coordination_game())
        L = MADDPG.for_env(env, hidden=(8,), learning_starts=24, batch_size=8, seed=net_seed)
        res = L.train(env, 200, seed=seed, log_every=5)
        return L, res

    (L1, r1), (L2, r2) = run(3), run(3)
    assert isinstance(r1, TrainResult) and r1.returns.shape == (10, 2) and r1.steps.tolist() == list(range(20, 201, 20))
    assert r1.episodes.tolist() == [20] * 10  # one-step episodes in 4 copies, 5 vector steps per window
    np.testing.assert_array_equal(r1.returns, r2.returns)
    np.testing.assert_array_equal(r1.stats["critic_loss"], r2.stats["critic_loss"])
    np.testing.assert_array_equal(L1.actor_params, L2.actor_params)
    np.testing.assert_array_equal(L1.critic_params, L2.critic_params)
    assert np.isnan(r1.stats["critic_loss"][0]) and np.isfinite(r1.stats["critic_loss"][1:]).all()
    L3, r3 = run(4)
    assert not np.array_equal(L1.actor_params, L3.actor_params)
    L4, _ = run(3, net_seed=1)
    assert not np.array_equal(L1.actor_params, L4.actor_params)
    a, y, z = L1.act(np.ones((7, 2, 1)), rng=0)
    assert a.shape == (7, 2) and y.shape == (7, 2, 3) and np.array_equal(a, y.argmax(-1))
    ag, _, zg = L1.act(np.ones((7, 2, 1)), greedy=True)
    np.testing.assert_array_equal(ag, zg.argmax(-1))


@pytest.mark.parametrize("kw,name", [
    (dict(n_agents=0), "n_agents"), (dict(n_actions=1), "n_actions"), (dict(obs_dim=0), "obs_dim"),
    (dict(hidden=64), "hidden"), (dict(critic_hidden=(0,)), "hidden width"), (dict(activation="sigmoid"), "activation"),
    (dict(actor_lr=0.0), "actor_lr"), (dict(critic_lr=-1.0), "critic_lr"), (dict(gamma=1.5), "gamma"),
    (dict(tau=0.0), "tau"), (dict(tau=1.5), "tau"), (dict(tau_gs=0.0), "tau_gs"), (dict(buffer_size=0), "buffer_size"),
    (dict(batch_size=0), "batch_size"), (dict(batch_size=20, buffer_size=10), "batch_size"),
    (dict(learning_starts=-1), "learning_starts"), (dict(train_freq=0), "train_freq"),
    (dict(gradient_steps=0), "gradient_steps"), (dict(max_grad_norm=0.0), "max_grad_norm"),
    (dict(logit_reg=-1e-3), "logit_reg"), (dict(target_actions="mean"), "target_actions"), (dict(seed=-1), "seed"),
])
def test_parameter_errors_name_the_parameter(kw, name):
    args = dict(obs_dim=2, n_actions=3, n_agents=2)
    args.update(kw)
    with pytest.raises(ValueError, match=name):
        MADDPG(**args)


def test_call_errors():
    env = MatrixGame(n_envs=2, payoff=_coordination_game())
    L = MADDPG.for_env(env)
    with pytest.raises(ValueError, match="total_steps"):
        L.train(env, 0)
    with pytest.raises(ValueError, match="seed"):
        L.train(env, 10, seed=-1)
    with pytest.raises(ValueError, match="log_every"):
        L.train(env, 10, log_every=0)
    with pytest.raises(ValueError, match="n_agents"):
        MADDPG(1, 3, 3).train(env, 10)
    with pytest.raises(ValueError, match="obs must have shape"):
        L.act(np.ones((2, 3, 1)))
    with pytest.raises(ValueError, match="actions must have shape"):
        L.q(np.ones((2, 2, 1)), np.ones((2, 2, 2)))


def test_learns_the_cooperative_optimum_of_a_coordination_game():
    """A one-step common-payoff game: 10 if both play 0, 6 if both play 1 or both 2, 0 on any
    miscoordination. Random play earns 22/9; the critic must learn that an action's value depends on the
    other agent's. MADDPG's greedy joint action is the optimum (0, 0) in at least 4 of 5 seeds, its
    policies nearly deterministic there, and its critics rank the joint actions as the game does."""
    hits = 0
    for seed in range(5):
        env = MatrixGame(n_envs=8, payoff=_coordination_game())
        L = MADDPG.for_env(env, hidden=(32,), actor_lr=1e-2, critic_lr=1e-2, tau=0.05, learning_starts=256,
                           batch_size=64, seed=seed)
        L.train(env, 8000, seed=seed)
        a = L.act(np.ones((1, 2, 1)), greedy=True)[0][0]
        ret = L.evaluate(env, n_episodes=200, seed=seed, greedy=False)
        one = np.ones((3, 2, 1))
        q00, q01, q11 = (L.q(one[:1], np.stack([np.eye(3)[x], np.eye(3)[y]])[None])[0]
                         for x, y in [(0, 0), (0, 1), (1, 1)])
        ok = (a.tolist() == [0, 0] and ret.min() > 9.0 and (q00 > q11).all() and (q00 > q01 + 3).all())
        hits += ok
    assert hits >= 4, hits


def test_nonfinite_training_warns_once_with_the_step():
    from sharelib.diagnostics import NonFiniteWarning
    env = MatrixGame(n_envs=4, payoff=np.full((3, 3, 2), 1e200))  # squared TD errors overflow
    # learning starts after 2 vector steps (8 env steps), in the first log window, which ends at step 8
    L = MADDPG.for_env(env, hidden=(4,), batch_size=4, learning_starts=8, seed=0)
    match = r"MADDPG\.train: critic_loss.*at step 8;"
    with np.errstate(all="ignore"), pytest.warns(NonFiniteWarning, match=match) as ws:
        L.train(env, 80, seed=0, log_every=2)
    assert len([w for w in ws if issubclass(w.category, NonFiniteWarning)]) == 1
