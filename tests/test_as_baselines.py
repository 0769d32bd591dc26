"""The AS paper's baselines on the PPO core, in the prisoner's dilemma where each one's outcome is known:
private learners defect, averaging advantages (value sharing) cooperates, a joint-action policy on
the team reward picks mutual cooperation; the consensus steps make the shared networks equal."""

import numpy as np
import pytest

from sharelib.envs.toy import MatrixGame
from sharelib.learners.common import EpisodeTracker
from sharelib.sharing.anticipation.baselines import JointActionEnv, make_baseline, metropolis_weights


def _train(method, iters=300):
    env = MatrixGame(n_envs=64)
    e = JointActionEnv(env) if method == "centralised" else env
    learner = make_baseline(method, e, hidden=(), lr=1e-2, vf_lr=1e-2, n_steps=1, seed=0)
    res = learner.train(e, 64 * iters, seed=0)
    return learner, res.final_return(0.2).sum(), learner.probs(np.ones((1, learner.n_agents, 1)))[0]


@pytest.mark.parametrize("method,total", [("ippo", 2.0), ("vps", 2.0), ("ps", 2.0), ("vs", 6.0), ("centralised", 6.0)])
def test_outcome_in_the_prisoners_dilemma(method, total):
    _, got, _ = _train(method)
    assert got == pytest.approx(total, abs=0.15)


def test_consensus_steps_equalise_the_shared_networks():
    env = MatrixGame(n_envs=8)
    for method, shared, private in (("vps", "value_params", "policy_params"), ("ps", "policy_params", "value_params")):
        learner = make_baseline(method, env, hidden=(4,), lr=1e-2, n_steps=1, seed=0)
        rollout, _ = learner.collect(env, env.reset(0), np.random.default_rng(0), EpisodeTracker(8, 2))
        learner.update(rollout, np.random.default_rng(0))
        p = getattr(learner, shared)
        np.testing.assert_allclose(p[0], p[1], atol=1e-15)  # two agents, one edge: W = 1/2 everywhere
        q = getattr(learner, private)
        assert not np.allclose(q[0], q[1])


def test_metropolis_weights_are_doubly_stochastic():
    A = np.array([[0, 1, 0, 0], [1, 0, 1, 1], [0, 1, 0, 0], [0, 1, 0, 0]], bool)
    W = metropolis_weights(A)
    np.testing.assert_allclose(W.sum(0), 1.0)
    np.testing.assert_allclose(W.sum(1), 1.0)
    assert W[0, 2] == 0 and W[0, 1] == pytest.approx(0.25)


def test_joint_actions_round_trip():
    env = JointActionEnv(MatrixGame(n_envs=4))
    assert env.n_actions == 4 and env.split(np.array([[0], [1], [2], [3]])).tolist() == [[0, 0], [1, 0], [0, 1], [1, 1]]
    with pytest.raises(ValueError, match="JointActionEnv"):
        make_baseline("centralised", MatrixGame())
    with pytest.raises(ValueError, match="method must be one of"):
        make_baseline("magic", MatrixGame())


@pytest.mark.parametrize("env", ["cooperative_predation", "cooperative_navigation", "exchange", "cleanup", "harvest"])
def test_every_method_trains_on_every_environment(env):
    from sharelib.sharing.anticipation.experiments import env_run

    small = (16,) if env in ("cleanup", "harvest") else (8,)
    for method in ("as", "vs", "vps", "ps", "ippo"):
        out = env_run(env, method, 2, n_envs=2, hidden=small, seed=1)
        assert out["total"].shape == (2,) and np.isfinite(out["total"]).all(), method
        assert out["episodes"].tolist() == [2, 4]
    assert "anticipation_mse" in env_run(env, "as", 1, n_envs=1, hidden=small)


def test_protocols_apply_to_the_baselines():
    env = MatrixGame(n_envs=8)
    learner = make_baseline("ps", env, hidden=(4,), lr=1e-2, n_steps=1, communicate_every=2, seed=0)
    obs, rng = env.reset(0), np.random.default_rng(0)
    for it in range(2):
        rollout, obs = learner.collect(env, obs, rng, EpisodeTracker(8, 2))
        learner.update(rollout, rng)
        p = learner.policy_params
        assert np.allclose(p[0], p[1]) == (it == 0), it  # consensus on iteration 0, not in the gap
    from sharelib.learners.hooks import HookContext, Rollout
    from sharelib.sharing.anticipation.baselines import _Protocol

    proto = _Protocol(~np.eye(5, dtype=bool), 5, 1, 1, seed=0)
    ro = Rollout(np.zeros((3, 2, 5, 1)), None, None, None, None, None, None)
    m = proto.masks(HookContext(None, 0, 0, ro))
    assert (m.sum(-1) == 1).all() and (proto.masks(HookContext(None, 0, 0, ro)) == m).all()
