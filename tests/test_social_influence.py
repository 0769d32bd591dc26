"""SOCIAL (sharelib.sharing.social_influence): the influence reward by hand (zero when the model ignores the
agent's action, the mutual information when the other copies it), the counterfactual shortcut, the model's
gradient and learning, the masks at episode ends, beta = 0 is IPPO seed for seed, errors and determinism."""

from types import SimpleNamespace

import numpy as np
import pytest

from sharelib.learners import Rollout
from sharelib.sharing.federation import ssd as S
from sharelib.sharing.social_influence import SocialInfluence, influence_from_probs

TINY = dict(iterations=3, n_envs=2, hidden=(8,), lr=1e-2, vf_lr=1e-3, clip=0.2, n_epochs=1, n_minibatches=1)


class FixedPolicy:
    """A stand-in learner whose policy is the same ``pi (A,)`` at every observation."""

    def __init__(self, pi):
        self.pi = np.asarray(pi, float)

    def probs(self, obs):
        return np.broadcast_to(self.pi, obs.shape[:2] + self.pi.shape).copy()


def ctx_for(obs, actions, dones, pi):
    T, E, n, _ = obs.shape
    ro = Rollout(obs.astype(np.float32), actions, np.zeros((T, E, n)), dones, np.zeros((T + 1, E, n)),
                 np.zeros((T, E, n)), obs[-1].astype(np.float32))
    return SimpleNamespace(rollout=ro, learner=FixedPolicy(pi))


def test_no_influence_when_the_model_ignores_the_action():
    rng = np.random.default_rng(0)
    for hidden in ((), (5,), (4, 3)):
        h = SocialInfluence(3, 4, 3, hidden=hidden, seed=1)
        W, _b = h.net.views(h.params)[0]
        W[:, 4:] = 0.0  # the one-hot action's rows of the first layer: conditional == marginal
        obs = rng.standard_normal((20, 4))
        pi = rng.dirichlet(np.ones(3), size=20)
        for k in range(3):
            c = influence_from_probs(h.counterfactual_log_probs(k, obs), pi, rng.integers(0, 3, 20))
            np.testing.assert_allclose(c, 0.0, atol=1e-12)
        assert np.abs(h.log_probs(0, obs, np.zeros(20, int)) - h.log_probs(0, obs, np.full(20, 2))).max() < 1e-12


def test_influence_by_hand_when_the_other_copies_the_action():
    # two agents, two actions, a linear model: logit L on "j's next action = k's action", so p(copy) = q
    d, L = 2, 1.3
    h = SocialInfluence(2, d, 2, hidden=(), seed=0)
    for k in range(2):
        W, b = h.net.views(h.params[k])[0]
        W[:], b[:] = 0.0, 0.0
        W[d + 0, 0] = W[d + 1, 1] = L
    q = 1 / (1 + np.exp(-L))
    pi = np.array([0.3, 0.7])
    cond = {0: np.array([q, 1 - q]), 1: np.array([1 - q, q])}
    marg = pi[0] * cond[0] + pi[1] * cond[1]
    want = {a: np.sum(cond[a] * np.log(cond[a] / marg)) for a in (0, 1)}
    obs = np.zeros((2, d))
    got = influence_from_probs(h.counterfactual_log_probs(0, obs), np.tile(pi, (2, 1)), np.array([0, 1]))
    np.testing.assert_allclose(got, [want[0], want[1]], rtol=1e-12)
    # a deterministic copy (q -> 1): c(a) = -log pi(a), whose mean over pi is the mutual information H(pi)
    for k in range(2):
        W, _b = h.net.views(h.params[k])[0]
        W[d + 0, 0] = W[d + 1, 1] = 60.0
    got = influence_from_probs(h.counterfactual_log_probs(1, obs), np.tile(pi, (2, 1)), np.array([0, 1]))
    np.testing.assert_allclose(got, -np.log(pi), rtol=1e-9)
    np.testing.assert_allclose(pi @ got, -(pi * np.log(pi)).sum(), rtol=1e-9)


def test_counterfactual_shortcut_matches_the_mlp_on_each_action():
    rng = np.random.default_rng(3)
    h = SocialInfluence(3, 5, 4, hidden=(6, 5), seed=2)
    obs = rng.standard_normal((7, 5))
    cf = h.counterfactual_log_probs(1, obs)
    assert cf.shape == (7, 4, 2, 4)
    for a in range(4):
        np.testing.assert_allclose(cf[:, a], h.log_probs(1, obs, np.full(7, a)), atol=1e-12)
    np.testing.assert_allclose(np.exp(cf).sum(-1), 1.0)


def test_model_gradient_against_finite_differences():
    rng = np.random.default_rng(4)
    h = SocialInfluence(3, 3, 3, hidden=(4,), seed=5)
    X = h.inputs(rng.standard_normal((6, 3)), rng.integers(0, 3, 6))
    Y = rng.integers(0, 3, (6, 2))
    p = h.params[0].copy()
    _, g = h.loss_grad(0, X, Y, params=p)
    eps = 1e-6
    fd = np.empty_like(p)
    for i in range(p.size):
        e = np.zeros_like(p)
        e[i] = eps
        fd[i] = (h.loss_grad(0, X, Y, params=p + e)[0] - h.loss_grad(0, X, Y, params=p - e)[0]) / (2 * eps)
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-8)


def test_model_learns_next_actions_that_are_a_function_of_observation_and_action():
    rng = np.random.default_rng(6)
    n, d, A, N = 3, 4, 3, 512
    h = SocialInfluence(n, d, A, hidden=(16,), lr=1e-2, epochs=1, minibatches=4, seed=7)
    cat = rng.integers(0, d, N)
    obs = np.zeros((N, n, d))
    obs[np.arange(N), :, cat] = 1.0
    acts = rng.integers(0, A, (N, n))
    # agents 1 and 2 (agent 0's model's heads) act next as functions of agent 0's observation and action
    nxt = np.stack([acts[:, 1], (acts[:, 0] + cat) % A, (2 * acts[:, 0] + cat // 2 + 1) % A], 1)
    losses = [h.fit(obs, acts, nxt)[0] for _ in range(150)]
    assert losses[-1] < 0.5 * losses[0]
    pred = h.log_probs(0, obs[:, 0], acts[:, 0]).argmax(-1)  # (N, 2): agents 1 and 2
    assert (pred == nxt[:, 1:]).mean() > 0.9


def test_hook_masks_episode_ends_and_mixes_rewards():
    rng = np.random.default_rng(8)
    T, E, n, d, A = 6, 2, 2, 3, 2
    h = SocialInfluence(n, d, A, alpha=2.0, beta=0.5, hidden=(4,), seed=0)
    for k in range(n):  # a strong dependence on the action, so c > 0 where it is computed
        W, _b = h.net.views(h.params[k])[0]
        W[d:] = 3.0 * rng.standard_normal(W[d:].shape)
    obs = rng.standard_normal((T, E, n, d))
    acts = rng.integers(0, A, (T, E, n))
    dones = np.zeros((T, E), bool)
    dones[2, 0] = True
    r = rng.standard_normal((T, E, n))
    before = h.params.copy()
    out = h(r, ctx_for(obs, acts, dones, [0.4, 0.6]))
    c = h.last_influence
    assert np.all(c[2, 0] == 0) and np.all(c[T - 1] == 0)
    valid = ~dones
    valid[-1] = False
    assert np.all(c[valid] > 0)
    np.testing.assert_allclose(out, 2.0 * r + 0.5 * c)
    assert not np.array_equal(h.params, before)  # the model was trained after computing c
    assert h.last_loss.shape == (n,)


def test_beta_zero_is_ippo_seed_for_seed():
    for env in ("cleanup", "harvest"):
        ippo = S.ssd_run(env, 3, "fpf_lmf", "ippo", seed=3, **TINY)["returns"]
        zero = S.ssd_run(env, 3, "fpf_lmf", "social", social_beta=0.0, seed=3, **TINY)["returns"]
        np.testing.assert_array_equal(zero, ippo)


def test_ssd_run_with_social_is_deterministic():
    kw = dict(TINY, iterations=2)
    a = S.ssd_run("cleanup", 3, "fpf_lmf", "social", social_beta=5.0, seed=0, **kw)
    b = S.ssd_run("cleanup", 3, "fpf_lmf", "social", social_beta=5.0, seed=0, **kw)
    c = S.ssd_run("cleanup", 3, "fpf_lmf", "social", social_beta=5.0, seed=1, **kw)
    np.testing.assert_array_equal(a["returns"], b["returns"])
    assert a["returns"].shape == (2, 3) and np.isfinite(a["returns"]).all()
    assert not np.array_equal(a["returns"], c["returns"])
    assert "social" in S.PPO_METHODS and S.LABELS["social"] == "SOCIAL" and "SOCIAL" not in S.NOT_RUN


def test_parameter_errors_name_the_parameter():
    for kw, name in ((dict(n_agents=1), "n_agents"), (dict(obs_dim=0), "obs_dim"), (dict(n_actions=0), "n_actions"),
                     (dict(alpha=-1.0), "alpha"), (dict(beta=-0.1), "beta"), (dict(beta=float("nan")), "beta"),
                     (dict(lr=0.0), "lr"), (dict(epochs=0), "epochs"), (dict(minibatches=0), "minibatches"),
                     (dict(seed=-1), "seed"), (dict(hidden=32), "hidden"), (dict(hidden=(0,)), "hidden")):
        with pytest.raises(ValueError, match=name):
            SocialInfluence(**dict(dict(n_agents=2, obs_dim=3, n_actions=2), **kw))
    with pytest.raises(ValueError, match=r"beta must be a number >= 0"):
        S.ssd_run("cleanup", 3, "fpf_lmf", "social", social_beta=-1.0, **TINY)
    h = SocialInfluence(2, 3, 2)
    obs = np.zeros((2, 1, 3, 4))
    with pytest.raises(ValueError, match="obs_dim"):
        h(np.zeros((2, 1, 3)), ctx_for(obs, np.zeros((2, 1, 3), int), np.zeros((2, 1), bool), [0.5, 0.5]))
