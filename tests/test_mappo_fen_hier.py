"""MAPPO (centralised critic) and hierarchical FEN, the two Fig. 1 baselines of FPF/LMF on FEN's
classic discrete scenarios (sharelib.learners.MAPPO, sharelib.sharing.federation.fen_hier)."""

import numpy as np
import pytest

from sharelib.envs import JobScheduling, MatthewEffect
from sharelib.learners import MAPPO, PPO, Hooks
from sharelib.learners.common import EpisodeTracker
from sharelib.sharing.federation.experiments import build_method, discrete_run
from sharelib.sharing.federation.fen_hier import FEN_T, FENHierarchy


# ------------------------------------------------------------------------------------ MAPPO
def test_mappo_critic_reads_the_global_state_and_actors_stay_local():
    env = JobScheduling(n_envs=3)
    L = MAPPO.for_env(env, hidden=(8,), seed=0)
    assert L.value_net.sizes[0] == env.n_agents * env.obs_dim == 52
    assert L.policy_net.sizes[0] == env.obs_dim == 13
    obs = env.reset(1)
    obs2 = obs.copy()
    obs2[:, 2] += 1.0  # another agent's observation only
    v, v2 = L.values(obs), L.values(obs2)
    assert np.all(np.abs(v[:, 0] - v2[:, 0]) > 1e-9)  # agent 0's value depends on agent 2's view
    np.testing.assert_array_equal(L.probs(obs)[:, 0], L.probs(obs2)[:, 0])  # its actor does not
    # act's values are the critic's, and a local critic ignores the other agents
    np.testing.assert_allclose(L.act(obs, 0)[2], v, rtol=0, atol=1e-12)
    P = PPO.for_env(env, hidden=(8,), seed=0)
    np.testing.assert_array_equal(P.values(obs)[:, 0], P.values(obs2)[:, 0])


def test_mappo_with_one_agent_is_ppo_seed_for_seed():
    env = MatthewEffect(n_envs=2, n_agents=1)
    kw = dict(hidden=(8,), n_steps=25, n_epochs=2, seed=4)
    for hooks in (None, Hooks(loss=lambda b: (0.0, np.zeros_like(b.logits)))):  # fused and Python paths
        a = PPO.for_env(env, hooks=hooks, **kw)
        b = MAPPO.for_env(env, hooks=hooks, **kw)
        ra = a.train(MatthewEffect(n_envs=2, n_agents=1), 400, seed=7)
        rb = b.train(MatthewEffect(n_envs=2, n_agents=1), 400, seed=7)
        np.testing.assert_array_equal(a.policy_params, b.policy_params)
        np.testing.assert_array_equal(a.value_params, b.value_params)
        np.testing.assert_array_equal(ra.returns, rb.returns)


@pytest.mark.parametrize("share", [False, True])
def test_mappo_fused_kernel_equals_python_loop(share):
    """The fused kernel gathers the critic's global rows by index; the Python loop by sample id."""
    env = JobScheduling(n_envs=2)
    zero = Hooks(loss=lambda b: (0.0, np.zeros_like(b.logits)))
    a = MAPPO.for_env(env, hidden=(8,), n_steps=9, share_params=share, seed=2)
    b = MAPPO.for_env(env, hidden=(8,), n_steps=9, share_params=share, hooks=zero, seed=2)
    obs = env.reset(0)
    for it in range(2):
        ro, obs = a.collect(env, obs, np.random.default_rng(it), EpisodeTracker(2, 4))
        a.update(ro, np.random.default_rng(10 + it))
        b.update(ro, np.random.default_rng(10 + it))
    np.testing.assert_array_equal(a.value_params, b.value_params)
    np.testing.assert_array_equal(a.policy_params, b.policy_params)


def test_mappo_method_and_critic_errors():
    env = JobScheduling(n_envs=2)
    L, _ = build_method(env, "mappo", dict(hidden=(8,), n_steps=200))
    assert isinstance(L, MAPPO) and L.critic == "global"
    with pytest.raises(ValueError, match="critic"):
        PPO.for_env(env, critic="central")
    with pytest.raises(ValueError, match="critic"):
        MAPPO.for_env(env, critic="local")


# ------------------------------------------------------------------------------------ FEN hierarchy
class _Scripted:
    """Two agents, one copy, 4-step episodes, scripted rewards; observation = the step index."""

    n_agents, obs_dim, n_actions, n_envs, max_steps = 2, 1, 2, 1, 4
    R = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, 0.0]])

    def reset(self, seed=0):
        self.t = 0
        return np.zeros((1, 2, 1), np.float32)

    def step(self, actions):
        r = self.R[self.t][None].copy()
        self.t += 1
        done = np.array([self.t == self.max_steps])
        self.final_obs = np.full((1, 2, 1), self.t, np.float32)
        if done[0]:
            self.t = 0
        return np.full((1, 2, 1), self.t, np.float32), r, done


def test_fen_hier_rewards_on_a_hand_built_case():
    env = _Scripted()
    h = FENHierarchy(env, T=2, max_u=0.5, hidden=(4,), seed=1)
    data, _ = h.collect(env, env.reset(), np.random.default_rng(0), EpisodeTracker(1, 2))
    # by hand: after step 2 u = (1, 0.5), avg 0.75, rat = (1/3, -1/3), util = min(1, 0.75 / 0.5) = 1;
    # after step 4 u = (0.75, 0.25), avg 0.5, rat = (0.5, -0.5), util = 1
    np.testing.assert_allclose(data["meta_rewards"][:, 0], [[1 / (0.1 + 1 / 3)] * 2, [1 / 0.6] * 2], rtol=1e-12)
    # meta inputs: step 0 starts from zeros; step 2 carries o = 2, rat, util of step 2
    np.testing.assert_allclose(data["meta_obs"][0, 0], [[0, 0, 0], [0, 0, 0]])
    np.testing.assert_allclose(data["meta_obs"][1, 0], [[2, 1 / 3, 1], [2, -1 / 3, 1]], rtol=1e-6)
    # sub-policy rewards: the env's for z = 0, else p_meta(z | o', rat', util') of the same step
    rat = [(1, -1), (1 / 3, -1 / 3), (1 / 3, -1 / 3), (0.5, -0.5)]  # after steps 1..4
    util = [1.0, 1.0, 1.0, 1.0]  # min(1, avg / 0.5) with avg 0.5, 0.75, 0.5, 0.5
    for t in range(4):
        x = np.array([[[t + 1, rat[t][0], util[t]], [t + 1, rat[t][1], util[t]]]], np.float32)
        p = h.meta.probs(x)[0]
        for i in range(2):
            z = data["z"][t, 0, i]
            want = env.R[t, i] if z == 0 else p[i, z]
            assert data["sub_rewards"][t, 0, i] == pytest.approx(want, rel=1e-12)
    assert set(data["z"].ravel()) != {0}  # (seed 1) some step exercises the information reward


def test_fen_hier_meta_acts_every_T_steps_only():
    env = JobScheduling(n_envs=3)
    h = FENHierarchy(env, T=FEN_T["job"], max_u=0.25, hidden=(8,), seed=0)
    data, _ = h.collect(env, env.reset(0), np.random.default_rng(0), EpisodeTracker(3, 4))
    T, S = 25, 200 // 25
    np.testing.assert_array_equal(data["meta_calls"], np.arange(0, 200, T))
    Z = data["z"].reshape(S, T, 3, 4)
    np.testing.assert_array_equal(Z, np.broadcast_to(data["meta_z"][:, None], Z.shape))
    assert data["meta_obs"].shape == (S, 3, 4, 13 + 2)


def test_fen_hier_sub_policy_trains_only_on_its_own_segments():
    env = JobScheduling(n_envs=2)
    h = FENHierarchy(env, T=50, max_u=0.25, hidden=(8,), seed=0)
    data, _ = h.collect(env, env.reset(0), np.random.default_rng(0), EpisodeTracker(2, 4))
    data["meta_z"][:] = 0
    data["meta_z"][:, :, 1] = 2  # agent 1 used sub-policy 2 throughout, the others sub-policy 0
    before = [s.policy_params.copy() for s in h.subs]
    h.update(data, np.random.default_rng(1))
    changed = [np.any(s.policy_params != b, axis=1) for s, b in zip(h.subs, before)]
    np.testing.assert_array_equal(changed[0], [True, False, True, True])
    np.testing.assert_array_equal(changed[2], [False, True, False, False])
    assert not changed[1].any() and not changed[3].any()


def test_fen_hier_is_deterministic_and_seeded():
    kw = dict(iterations=2, n_envs=2, hidden=(8,))
    a = discrete_run("matthew", "fen_hier", seed=3, **kw)["returns"]
    b = discrete_run("matthew", "fen_hier", seed=3, **kw)["returns"]
    c = discrete_run("matthew", "fen_hier", seed=4, **kw)["returns"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == (2, 10) and np.isfinite(a).all()


def test_fen_hier_parameter_errors_name_the_parameter():
    env = JobScheduling(n_envs=1)
    with pytest.raises(ValueError, match="T must divide"):
        FENHierarchy(env, T=30, max_u=0.25)
    with pytest.raises(ValueError, match="T"):
        FENHierarchy(env, T=0, max_u=0.25)
    with pytest.raises(ValueError, match="max_u"):
        FENHierarchy(env, T=25, max_u=0.0)
    with pytest.raises(ValueError, match="n_sub"):
        FENHierarchy(env, T=25, max_u=0.25, n_sub=1)
    with pytest.raises(ValueError, match="n_steps"):
        FENHierarchy(env, T=25, max_u=0.25, n_steps=10)
    with pytest.raises(ValueError, match="method"):
        build_method(env, "fen_hier", dict(hidden=(8,)))
