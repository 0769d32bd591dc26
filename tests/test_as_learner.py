"""AS's Algorithm 1 on the PPO core: plain PPO without neighbours, the communication protocols, and the
prisoner's dilemma where the penalty weight decides between defection and cooperation."""

import numpy as np
import pytest

from sharelib.envs.toy import MatrixGame
from sharelib.learners import PPO
from sharelib.learners.common import EpisodeTracker
from sharelib.sharing.anticipation import AnticipationSharing

SMALL = dict(hidden=(8,), lr=1e-2, vf_lr=1e-2, n_steps=1)


def test_without_neighbours_and_penalty_one_update_is_a_ppo_step():
    env = MatrixGame(n_envs=32)
    kw = dict(hidden=(8,), lr=1e-2, n_steps=1, n_epochs=1, clip=0.2, ent_coef=0.0, norm_adv=False,
              max_grad_norm=0.5, activation="relu", gamma=0.99, gae_lambda=0.98, seed=3)
    ppo = PPO.for_env(env, n_minibatches=1, vf_lr=1e-2, **kw)
    asl = AnticipationSharing.for_env(env, rho=0.0, graph=np.zeros((2, 2), bool), old_policy="rollout",
                                      vf_lr=1e-2, **kw)
    np.testing.assert_array_equal(ppo.policy_params, asl.policy_params)
    obs = env.reset(0)
    rollout, _ = ppo.collect(env, obs, np.random.default_rng(0), EpisodeTracker(32, 2))
    before = asl.anticipation_params.copy()
    ppo.update(rollout, np.random.default_rng(1))
    asl.update(rollout, np.random.default_rng(1))
    np.testing.assert_allclose(asl.policy_params, ppo.policy_params, rtol=0, atol=1e-12)
    assert not np.array_equal(asl.policy_params, before[0, 0][None]), "the policy moved"
    np.testing.assert_array_equal(asl.anticipation_params, before)  # no neighbour: nothing to anticipate


def test_half_rate_protocol_leaves_anticipations_alone_in_the_gaps():
    env = MatrixGame(n_envs=16)
    asl = AnticipationSharing.for_env(env, rho=1.0, communicate_every=2, **SMALL)
    obs = env.reset(0)
    rng = np.random.default_rng(0)
    for it in range(4):
        rollout, obs = asl.collect(env, obs, rng, EpisodeTracker(16, 2))
        before = asl.anticipation_params.copy()
        stats = asl.update(rollout, rng)
        moved = not np.array_equal(before, asl.anticipation_params)
        assert moved == (it % 2 == 0), it
        assert (stats["penalty_anticipation"] == 0.0) or it % 2 == 0


def test_one_random_partner_per_agent():
    asl = AnticipationSharing(3, 2, 5, rho=1.0, partners=1, hidden=(4,))
    mask = asl._neighbours(np.zeros((7, 5, 3)), np.random.default_rng(0))
    assert (mask.sum(axis=2) == 1).all() and not mask[:, np.arange(5), np.arange(5)].any()


def test_same_seed_same_parameters():
    def run(seed):
        env = MatrixGame(n_envs=8)
        asl = AnticipationSharing.for_env(env, rho=1.0, seed=seed, **SMALL)
        asl.train(env, 8 * 20, seed=seed)
        return asl.policy_params, asl.anticipation_params

    a, b = run(1), run(1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(run(2)[0], a[0])


@pytest.mark.parametrize("rho,cooperates", [(0.0, False), (10.0, True)])
def test_prisoners_dilemma_defects_without_penalty_and_cooperates_with_it(rho, cooperates):
    """Without the penalty each agent's anticipation of the other drifts to "cooperate" while its own
    policy defects (the private reward's best reply); a strong penalty ties policies to what the
    other anticipates, and both cooperate (the collective optimum, 3 each)."""
    env = MatrixGame(n_envs=64)
    asl = AnticipationSharing.for_env(env, rho=rho, n_steps=1, lr=1e-2, vf_lr=1e-2, hidden=(), seed=0)
    res = asl.train(env, 64 * 300, seed=0)
    own, antic = asl.shared_distributions(np.ones((1, 2, 1)))
    assert antic[0, 1, 0, 0] > 0.95 and antic[1, 0, 0, 0] > 0.95, "each anticipates the other cooperating"
    if cooperates:
        assert (own[:, 0, 0] > 0.7).all() and res.final_return(0.2).mean() > 2.5
    else:
        assert (own[:, 0, 0] < 0.05).all() and res.final_return(0.2).mean() < 1.2


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="rho must be"):
        AnticipationSharing(3, 2, 2, rho=-1.0)
    with pytest.raises(ValueError, match="order must be one of"):
        AnticipationSharing(3, 2, 2, rho=1.0, order="random")
    with pytest.raises(ValueError, match=r"graph must be an \(2, 2\)"):
        AnticipationSharing(3, 2, 2, rho=1.0, graph=np.ones((3, 3), bool))
