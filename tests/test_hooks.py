"""The four sharing hooks, one small worked example each (plus the ready-made hooks' algebra).

- reward: in the prisoner's dilemma, independent learners defect; with rewards fully mixed
  (A_ij = 1/2, D3C-style loss mixing) the same learners cooperate;
- advantage: value sharing (each agent learns from the sum of both advantages) also cooperates;
- params: federated averaging leaves all agents with identical parameters;
- loss: a log-probability penalty steers an indifferent bandit policy to a chosen arm.
"""

import numpy as np
import pytest

from sharelib.envs.toy import Bandit, MatrixGame
from sharelib.learners import (
    DQN,
    PPO,
    REINFORCE,
    Hooks,
    consensus,
    federated_average,
    log_prob_penalty,
    mix_rewards,
    pull_toward_mean,
    share_advantages,
)

FULL_MIX = np.full((2, 2), 0.5)


def p_cooperate(learner):
    return learner.probs(np.ones((1, 2, 1)))[0, :, 0]  # action 0 = cooperate


def train_pd(hooks, seed=0):
    env = MatrixGame(16)
    L = REINFORCE.for_env(env, hidden=(), lr=0.05, n_steps=4, hooks=hooks, seed=seed)
    res = L.train(env, 6000, seed=seed)
    return L, res


def test_reward_hook_full_mixing_turns_defectors_into_a_team():
    selfish, rs = train_pd(None)
    team, rt = train_pd(Hooks(reward=mix_rewards(FULL_MIX)))
    assert (p_cooperate(selfish) < 0.1).all()   # defect / defect
    assert (p_cooperate(team) > 0.9).all()      # cooperate / cooperate
    assert rs.final_return().mean() < 1.5       # near P = 1
    assert rt.final_return().mean() > 2.7       # near R = 3


def test_reward_hook_sees_rollout_and_shapes():
    seen = {}

    def hook(r, ctx):
        seen["shape"] = r.shape
        seen["obs"] = ctx.rollout.obs.shape
        seen["iters"] = seen.get("iters", 0) + 1
        np.testing.assert_array_equal(r, ctx.rollout.rewards)
        return r

    env = MatrixGame(3)
    L = PPO.for_env(env, hidden=(4,), n_steps=5, hooks=Hooks(reward=hook))
    L.train(env, 30, seed=0)
    assert seen == {"shape": (5, 3, 2), "obs": (5, 3, 2, 1), "iters": 2}


def test_reward_hook_in_dqn_mixing_gives_cooperation():
    def run(hooks):
        env = MatrixGame(8)
        L = DQN.for_env(env, hidden=(8,), hooks=hooks, learning_starts=64, eps_decay_steps=1500, lr=1e-2,
                        target_update=20, gamma=0.0, seed=0)
        L.train(env, 3000, seed=0)
        return L.q_values(np.ones((1, 2, 1)))[0]

    q_selfish = run(None)
    q_team = run(Hooks(reward=mix_rewards(FULL_MIX)))
    assert (q_selfish.argmax(-1) == 1).all()  # defect
    assert (q_team.argmax(-1) == 0).all()     # cooperate
    # with gamma = 0 the Q-values approach the expected (mixed) one-shot rewards
    assert q_team[0, 0] > q_team[0, 1] + 0.5


def test_advantage_hook_value_sharing_cooperates():
    team, res = train_pd(Hooks(advantage=share_advantages(np.ones((2, 2)))))
    assert (p_cooperate(team) > 0.9).all()
    assert res.final_return().mean() > 2.7


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_params_hook_federated_averaging_keeps_agents_identical(dtype):
    calls = []

    def spy(pops, ctx):
        calls.append(sorted(pops))
        federated_average()(pops, ctx)

    env = MatrixGame(4)
    L = PPO.for_env(env, hidden=(4,), n_steps=4, seed=0, hooks=Hooks(params=spy), dtype=dtype)
    assert not np.allclose(L.policy_params[0], L.policy_params[1])
    L.train(env, 48, seed=0)
    assert calls == [["policy", "value"]] * 3
    np.testing.assert_allclose(L.policy_params[0], L.policy_params[1])
    np.testing.assert_allclose(L.value_params[0], L.value_params[1])
    assert L.policy_params.dtype == dtype and L.value_params.dtype == dtype


def test_params_hooks_algebra():
    rng = np.random.default_rng(0)
    P = rng.standard_normal((3, 5))
    mean = P.mean(0)
    pops = {"policy": P.copy()}
    pull_toward_mean(0.25)(pops, None)
    np.testing.assert_allclose(pops["policy"] - mean, 0.75 * (P - mean))
    W = np.array([[0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])  # doubly stochastic ring
    pops = {"q": P.copy()}
    consensus(W)(pops, None)
    np.testing.assert_allclose(pops["q"], W @ P)
    np.testing.assert_allclose(pops["q"].mean(0), mean)  # consensus keeps the average
    with pytest.raises(ValueError, match="square"):
        mix_rewards(np.ones((2, 3)))


def test_mix_rewards_keeps_total_with_stochastic_rows():
    rng = np.random.default_rng(1)
    A = rng.dirichlet(np.ones(3), size=3)  # rows on the simplex
    r = rng.standard_normal((4, 5, 3))
    out = mix_rewards(A)(r, None)
    np.testing.assert_allclose(out[1, 2], A @ r[1, 2])
    # column-stochastic (A^T rows on the simplex) conserves the total reward
    out_t = mix_rewards(A.T)(r, None)
    np.testing.assert_allclose(out_t.sum(-1), r.sum(-1))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_loss_hook_steers_indifferent_policy(dtype):
    env = Bandit(8, means=(0.5, 0.5, 0.5), noise_std=0.1)
    seen = []

    def hook(batch):
        seen.append((batch.network, batch.logits.shape, batch.obs.shape))
        return log_prob_penalty(target_action=1, coef=1.0)(batch)

    L = REINFORCE.for_env(env, hidden=(), lr=0.1, hooks=Hooks(loss=hook), seed=0, dtype=dtype)
    L.train(env, 2000, seed=0)
    p = L.probs(np.ones((1, 1, 1)))[0, 0]
    assert p[1] > 0.9
    assert seen[0] == (0, (128, 3), (128, 1))


def test_log_prob_penalty_gradient_matches_finite_differences():
    from sharelib.learners import LossBatch

    rng = np.random.default_rng(2)
    z = rng.standard_normal((5, 4))
    hook = log_prob_penalty(2, 0.7)

    def val(zz):
        return hook(LossBatch(0, None, None, None, zz, None, None, None, None))[0]

    _, d = hook(LossBatch(0, None, None, None, z, None, None, None, None))
    eps = 1e-6
    fd = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        zp, zm = z.copy(), z.copy()
        zp[idx] += eps
        zm[idx] -= eps
        fd[idx] = (val(zp) - val(zm)) / (2 * eps)
    np.testing.assert_allclose(d, fd, atol=1e-8)


def test_dqn_rejects_policy_hooks():
    with pytest.raises(ValueError, match="reward and params"):
        DQN(1, 2, 2, hooks=Hooks(loss=lambda b: (0.0, 0.0)))
