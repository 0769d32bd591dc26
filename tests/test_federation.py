"""FPF / LMF federations (sharelib.sharing.federation): Eqs. 9-11, 13, 14 by hand, invariants."""

import numpy as np
import pytest

from sharelib.envs import JobScheduling
from sharelib.learners import PPO, HookContext
from sharelib.sharing.federation import FPF, LMF, DandF, graph_matrix, check_doubly_stochastic


def ppo(seed=0):
    return PPO(13, 5, 4, hidden=(8,), n_steps=16, n_epochs=1, n_minibatches=2, seed=seed)


def test_federation_step_equals_eqs_9_to_11_by_hand():
    ego = ppo()
    f = FPF(ego, participants=[0, 2], lambda_u=2.0, lambda_e=0.5, alpha=0.1, eta=1.5,
            train_federation=False)
    rng = np.random.default_rng(0)
    f.uti.policy_params[0] = rng.normal(size=ego.policy_params.shape[1])
    f.ega.policy_params[0] = rng.normal(size=ego.policy_params.shape[1])
    theta = rng.normal(size=ego.policy_params.shape)
    w, wb = f.omega.copy(), f.omega_bar.copy()
    expect = theta - 0.1 * (2.0 * (theta - w) + 0.5 * (theta - wb))  # Eq. 9's proximal terms
    up = [w - 0.1 * 2.0 * (w - expect[i]) for i in (0, 2)]  # Eq. 10
    w_new = (1 - 1.5) * w + 1.5 * (up[0] + up[1]) / 2  # Eq. 11
    th = theta.copy()
    f.federate(th, np.array([0, 2]))
    np.testing.assert_allclose(th, expect)
    np.testing.assert_allclose(f.omega, w_new)
    # the prose's reading: only participants regularise
    g = FPF(ego, participants=[0, 2], lambda_u=2.0, lambda_e=0.5, alpha=0.1, regularize="participants",
            train_federation=False)
    th = theta.copy()
    g.federate(th, np.array([0, 2]))
    np.testing.assert_array_equal(th[[1, 3]], theta[[1, 3]])


def test_lambda_zero_is_independent_ppo():
    env = JobScheduling(n_envs=2, max_steps=40)
    a, b = ppo(), ppo()
    FPF(b, participants="half", lambda_u=0.0, lambda_e=0.0).install()
    ra = a.train(env, 200, seed=3)
    rb = b.train(JobScheduling(n_envs=2, max_steps=40), 200, seed=3)
    np.testing.assert_array_equal(a.policy_params, b.policy_params)
    np.testing.assert_array_equal(ra.returns, rb.returns)
    # and with lambda > 0 they differ (the test can fail)
    c = ppo()
    f = DandF(c, lambda_u=1.0, lambda_e=1.0, alpha=0.1)
    f.install()
    c.train(JobScheduling(n_envs=2, max_steps=40), 200, seed=3)
    assert not np.allclose(a.policy_params, c.policy_params)
    assert f.rounds > 0 and all(len(p) == 4 for p in f.history)


def test_participation_rules():
    ego = ppo()
    assert len(FPF(ego, participants="half").participants) == 2
    f = FPF(ego, participants="code", train_federation=False)
    ctx = HookContext(ego, 0, 0, None)
    f(dict(policy=ego.policy_params.copy()), ctx)
    np.testing.assert_array_equal(f.history[0], [0, 1, 2])  # i <= floor(n/2), notes Sec. 1.2
    with pytest.raises(ValueError, match="participants"):
        FPF(ego, participants=[0, 0])
    with pytest.raises(ValueError, match="lambda_u"):
        FPF(ego, lambda_u=-1.0)


def _lmf_step(exchange, C_kind, seed=0):
    ego = ppo()
    h = LMF(ego, graph=C_kind, exchange=exchange)
    prev = ego.policy_params.copy()
    g = np.random.default_rng(seed).normal(size=prev.shape)
    P = prev + g
    C = h.matrix()
    h.rng = np.random.default_rng(0)
    h(dict(policy=P), HookContext(ego, 0, 0, None))
    return prev, g, P, C


def test_lmf_eq13_eq14_by_hand_and_identity():
    prev, g, P, C = _lmf_step("params", "fix")
    np.testing.assert_allclose(P, C @ prev + g)
    prev, g, P, C = _lmf_step("gradients", "full")
    np.testing.assert_allclose(P, prev + C @ g)
    outs = [_lmf_step(x, "identity")[2] for x in ("params", "gradients", "code_params")]
    np.testing.assert_allclose(outs[0], outs[1])
    np.testing.assert_allclose(outs[0], outs[2])


def test_graphs_doubly_stochastic_and_consensus():
    rng = np.random.default_rng(0)
    for kind in ("full", "fix", "dynamic", "ring", "identity"):
        check_doubly_stochastic(graph_matrix(kind, 6, rng, group_size=3, n_groups=2))
    with pytest.raises(ValueError, match="doubly"):
        check_doubly_stochastic(np.array([[1.0, 0.0], [1.0, 0.0]]))
    # Eq. 13 without gradients over a connected (ring) or time-varying (dynamic) graph: consensus
    for kind in ("ring", "dynamic"):
        x = rng.normal(size=(6, 3))
        m = x.mean(0)
        for _ in range(400):
            x = graph_matrix(kind, 6, rng, group_size=3, n_groups=2) @ x
        np.testing.assert_allclose(x, np.broadcast_to(m, x.shape), atol=1e-8)
    # LMF-Fix's two groups never agree with each other
    x = rng.normal(size=(6, 3))
    for _ in range(50):
        x = graph_matrix("fix", 6) @ x
    assert not np.allclose(x[0], x[5])


def test_lmf_trains_and_keeps_mean_on_params():
    ego = ppo()
    LMF(ego, graph="ring", exchange="code_params", mix=0.1).install()
    ego.train(JobScheduling(n_envs=2, max_steps=40), 160, seed=1)
    assert np.isfinite(ego.policy_params).all()
