"""The mpe2 adapter (sharelib.envs.mpe): our batched-interface tests, PettingZoo's API and seed tests
through to_parallel_env, and equality with mpe2's own environments for the same seeds and joint actions."""

import numpy as np
import pytest

pytest.importorskip("mpe2")

from sharelib.envs import MultiAgentEnv  # noqa: E402
from sharelib.envs.mpe import (MPE_SCENARIOS, CovertCommunication, KeepAway, PhysicalDeception,  # noqa: E402
                               PredatorPrey, _keep_away_parallel_env)

SHORT = dict(max_steps=30)
CLASSES = list(MPE_SCENARIOS.values())


def random_actions(env, rng):
    return rng.integers(0, env.n_actions, size=(env.n_envs, env.n_agents))


def rollout(env, seed, n_steps, action_seed=1):
    rng = np.random.default_rng(action_seed)
    out, rews, dones = [env.reset(seed)], [], []
    for _ in range(n_steps):
        o, r, d = env.step(random_actions(env, rng))
        out.append(o)
        rews.append(r)
        dones.append(d)
    return np.array(out), np.array(rews), np.array(dones)


@pytest.mark.parametrize("cls", CLASSES)
def test_shapes_dtypes_specs_and_team(cls):
    env = cls(n_envs=3, **SHORT)
    assert isinstance(env, MultiAgentEnv)
    E, n, d = 3, env.n_agents, env.obs_dim
    assert env.agents == [f"agent_{i}" for i in range(n)] and len(env.mpe_agents) == n
    assert n == {PhysicalDeception: 3, CovertCommunication: 2, PredatorPrey: 3, KeepAway: 3}[cls]
    assert len(env.opponents) == 1 and d == max(env.obs_dims)
    assert all(s.n == env.n_actions for s in env.action_specs.values())
    obs = env.reset(0)
    assert obs.shape == (E, n, d) and obs.dtype == np.float32
    rng = np.random.default_rng(0)
    for _ in range(40):
        o, r, dn = env.step(random_actions(env, rng))
        assert o.shape == (E, n, d) and o.dtype == np.float32 and np.isfinite(o).all()
        assert r.shape == (E, n) and r.dtype == np.float64
        assert dn.shape == (E,) and dn.dtype == np.bool_
    img = env.render(2)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and img.std() > 0


@pytest.mark.parametrize("cls", CLASSES)
def test_returned_arrays_are_not_overwritten(cls):
    env = cls(n_envs=2, **SHORT)
    o0 = env.reset(0)
    keep = o0.copy()
    _, r1, _ = env.step(np.zeros((2, env.n_agents), dtype=np.int64))
    keep_r = r1.copy()
    env.step(np.ones((2, env.n_agents), dtype=np.int64))
    np.testing.assert_array_equal(o0, keep)
    np.testing.assert_array_equal(r1, keep_r)


@pytest.mark.parametrize("cls", CLASSES)
def test_seeded_determinism_and_copy_independence(cls):
    a = rollout(cls(n_envs=3, **SHORT), seed=7, n_steps=70)
    b = rollout(cls(n_envs=3, **SHORT), seed=7, n_steps=70)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    env1, env3 = cls(n_envs=1, **SHORT), cls(n_envs=3, **SHORT)
    np.testing.assert_array_equal(env1.reset(3)[0], env3.reset(3)[0])
    rng = np.random.default_rng(5)
    for _ in range(70):
        act = random_actions(env3, rng)
        for x, y in zip(env1.step(act[:1]), env3.step(act)):
            np.testing.assert_array_equal(x[0], y[0])
        np.testing.assert_array_equal(env1.opponent_actions[0], env3.opponent_actions[0])
    c = rollout(cls(n_envs=3, **SHORT), seed=8, n_steps=70)
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


@pytest.mark.parametrize("cls", CLASSES)
def test_episode_returns_time_limit_and_auto_reset(cls):
    env = cls(n_envs=2, max_steps=25)
    env.reset(0)
    rng = np.random.default_rng(2)
    running = np.zeros((2, env.n_agents))
    ends = []
    for t in range(80):
        seeds = env.episode_seeds.copy()
        _, r, d = env.step(random_actions(env, rng))
        running += r
        for e in np.flatnonzero(d):
            np.testing.assert_allclose(env.last_episode_return[e], running[e], atol=1e-9)
            assert env.truncated[e] and env._t[e] == 0 and env.episode_seeds[e] != seeds[e]
            running[e] = 0
            ends.append(t)
        np.testing.assert_allclose(env.episode_return, running, atol=1e-9)
    assert ends == [24, 24, 49, 49, 74, 74]


def test_bad_arguments_raise_valueerror():
    env = PredatorPrey(n_envs=2, **SHORT)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros((2, 3), dtype=np.int64))
    env.reset(0)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((3, 3), dtype=np.int64))
    with pytest.raises(ValueError, match=r"actions must be in \[0, 4\]"):
        env.step(np.full((2, 3), 5))
    with pytest.raises(ValueError, match="seed"):
        env.reset(-1)
    with pytest.raises(ValueError, match="env_index"):
        env.render(2)
    for cls, kw, name in [(PredatorPrey, dict(n_envs=0), "n_envs"), (KeepAway, dict(max_steps=0), "max_steps"),
                          (KeepAway, dict(n_good=0), "n_good"), (PhysicalDeception, dict(n_good=1.5), "n_good"),
                          (PredatorPrey, dict(n_obstacles=-1), "n_obstacles")]:
        with pytest.raises(ValueError, match=name):
            cls(**kw)


def _reference(cls, env):
    """mpe2's own parallel env for ``env``'s scenario, built from mpe2's modules."""
    from mpe2 import simple_adversary_v3, simple_crypto_v3, simple_tag_v3
    kw = dict(max_cycles=env.max_steps, continuous_actions=False)
    if cls is PhysicalDeception:
        return simple_adversary_v3.parallel_env(N=env.n_good, **kw)
    if cls is CovertCommunication:
        return simple_crypto_v3.parallel_env(**kw)
    if cls is PredatorPrey:
        return simple_tag_v3.parallel_env(num_good=env.n_prey, num_adversaries=env.n_predators,
                                          num_obstacles=env.n_obstacles, **kw)
    return _keep_away_parallel_env(env.n_good, env.max_steps, None)


@pytest.mark.parametrize("cls,kw", [(c, {}) for c in CLASSES] + [(KeepAway, dict(n_good=1)),
                                                                  (PhysicalDeception, dict(n_good=2))])
def test_rewards_and_observations_equal_mpe2s_own(cls, kw):
    """Each copy, replayed in a fresh mpe2 env from its episode seeds with the same joint actions (ours and
    the random opponents'), gives the same observations (before our zero padding) and rewards, across
    auto-resets."""
    env = cls(n_envs=2, max_steps=20, **kw)
    obs = env.reset(4)
    refs = [_reference(cls, env) for _ in range(2)]
    ref_obs = [ref.reset(seed=int(s))[0] for ref, s in zip(refs, env.episode_seeds)]
    rng = np.random.default_rng(9)
    n_checked = 0
    for t in range(50):
        for e in range(2):
            for i, a in enumerate(env.mpe_agents):
                np.testing.assert_array_equal(obs[e, i, :env.obs_dims[i]], ref_obs[e][a])
                assert not obs[e, i, env.obs_dims[i]:].any()
        act = random_actions(env, rng)
        obs, r, d = env.step(act)
        for e in range(2):
            o, rew, term, trunc, _ = refs[e].step(env.joint_actions(e, act[e]))
            np.testing.assert_array_equal(r[e], [rew[a] for a in env.mpe_agents])
            n_checked += 1
            if d[e]:
                assert all(trunc.values()) and not any(term.values())
                for i, a in enumerate(env.mpe_agents):
                    np.testing.assert_array_equal(env.final_obs[e, i, :env.obs_dims[i]], o[a])
                ref_obs[e] = refs[e].reset(seed=int(env.episode_seeds[e]))[0]
            else:
                assert not any(trunc.values())
                ref_obs[e] = o
    assert n_checked == 100


def test_keep_away_with_more_good_agents_is_mpe2s_world_with_copies_of_its_agent():
    """n_good > 1 only adds good agents made like mpe2's own agent_0 (size, speed, collisions)."""
    from mpe2 import simple_push_v3
    stock = simple_push_v3.raw_env()
    ours = _keep_away_parallel_env(3, 25, None).unwrapped
    good = [a for a in ours.world.agents if not a.adversary]
    assert [a.name for a in ours.world.agents] == ["adversary_0", "agent_0", "agent_1", "agent_2"]
    ref = stock.world.agents[1]
    for a in good:
        assert (a.size, a.accel, a.max_speed, a.collide, a.silent, a.movable, a.initial_mass) == \
            (ref.size, ref.accel, ref.max_speed, ref.collide, ref.silent, ref.movable, ref.initial_mass)
    assert len(ours.world.landmarks) == len(stock.world.landmarks) == 2


@pytest.mark.parametrize("cls", CLASSES)
def test_opponent_is_uniformly_random(cls):
    env = cls(n_envs=4, **SHORT)
    env.reset(1)
    k = int(env.opponent_n_actions[0])
    counts = np.zeros(k)
    for _ in range(250):
        env.step(np.zeros((4, env.n_agents), dtype=np.int64))
        counts += np.bincount(env.opponent_actions[:, 0], minlength=k)
    p = counts / counts.sum()
    assert np.abs(p - 1 / k).max() < 0.05  # 1000 draws: 4 std of a frequency is about 0.05


@pytest.mark.parametrize("cls", CLASSES)
def test_pettingzoo_api_and_seed_tests(cls):
    pytest.importorskip("pettingzoo")
    from pettingzoo.test import parallel_api_test, parallel_seed_test

    from sharelib.envs.pettingzoo import to_parallel_env
    parallel_api_test(to_parallel_env(cls, **SHORT), num_cycles=70)
    parallel_seed_test(lambda: to_parallel_env(cls, **SHORT), num_cycles=70)


# ------------------------------------------------------------------------------------------------
# training on the adapter (sharelib.sharing.federation.mpe)
# ------------------------------------------------------------------------------------------------
def test_mpe_run_shapes_determinism_and_federation_invariants():
    from sharelib.sharing.federation import mpe as M
    kw = dict(episodes=2, n_envs=2, hidden=(8,), seed=3)
    a = M.mpe_run("crypto", "dandf", **kw)
    assert a["returns"].shape == (2, 2) and a["n_agents"] == 2 and list(a["steps"]) == [100, 200]
    np.testing.assert_array_equal(a["returns"], M.mpe_run("crypto", "dandf", **kw)["returns"])
    # the federation acts: a strong pull (alpha lambda_u = 0.5) changes the run; without any pull D&F is IPPO
    ippo = M.mpe_run("crypto", "ippo", **kw)["returns"]
    assert not np.array_equal(M.mpe_run("crypto", "dandf", lambda_u=500.0, **kw)["returns"], ippo)
    assert not np.array_equal(M.mpe_run("crypto", "lmf", **kw)["returns"], ippo)
    np.testing.assert_array_equal(M.mpe_run("crypto", "dandf", lambda_u=0.0, lambda_e=0.0, **kw)["returns"], ippo)
    # FPF's participants: half of the team, drawn by the seed
    f = M.mpe_run("tag", "fpf", episodes=1, n_envs=1, hidden=(8,), seed=0)
    assert len(f["participants"]) == 1 and f["returns"].shape == (1, 3)
    assert M.team_return(np.ones((4, 3)) * [1.0, 2.0, 3.0]).tolist() == [2.0] * 4
    with pytest.raises(ValueError, match="scenario"):
        M.mpe_run("spread", "ippo")
    with pytest.raises(ValueError, match="method"):
        M.mpe_run("tag", "maac")
    with pytest.raises(ValueError, match="returns"):
        M.team_return(np.ones(3))


def test_mpe_run_maddpg():
    """MADDPG in Fig. 7: same steps and curve layout as the PPO methods, the code's constants, deterministic,
    learning from the end of the first episode of every copy; out of NOT_RUN."""
    from sharelib.sharing.federation import mpe as M
    assert "maddpg" in M.METHODS and M.LABELS["maddpg"] == "MADDPG" and "MADDPG" not in M.NOT_RUN
    assert len(M.NOT_RUN) == 2
    kw = dict(episodes=2, n_envs=2, hidden=(8,), seed=3)
    a = M.mpe_run("crypto", "maddpg", **kw)
    p = M.mpe_run("crypto", "ippo", **kw)
    assert a["returns"].shape == p["returns"].shape == (2, 2) and list(a["steps"]) == list(p["steps"]) == [100, 200]
    assert a["n_agents"] == 2 and a["participants"].tolist() == [0, 1] and np.isfinite(a["returns"]).all()
    np.testing.assert_array_equal(a["returns"], M.mpe_run("crypto", "maddpg", **kw)["returns"])
    assert not np.array_equal(a["returns"], M.mpe_run("crypto", "maddpg", **dict(kw, seed=4))["returns"])
    t = M.mpe_run("tag", "maddpg", episodes=1, n_envs=1, hidden=(8,), seed=0)
    assert t["returns"].shape == (1, 3)
    s = M.MADDPG_SETTINGS
    assert (s["batch_size"], s["buffer_size"], s["tau"], s["max_grad_norm"]) == (64, 500_000, 0.01, 0.5)


def test_mpe_presets_and_experiment():
    from sharelib import experiments as ex
    from sharelib.sharing.federation import mpe as M
    P = ex.resolve("fpf_lmf.mpe", "quick", scenarios=["crypto"], methods=["ippo", "lmf"], budget=0.0004,
                   hidden=[8], n_envs=2)
    R = M.mpe_experiment(P)
    assert set(R) == {("crypto", "ippo"), ("crypto", "lmf")}
    assert all(len(v) == P["runs"] and v[0]["episodes"] == 4 and v[0]["returns"].shape == (2, 2) for v in R.values())
    paper = ex.get_preset("fpf_lmf.mpe", "paper")
    assert (paper["lambda_u"], paper["lambda_e"], paper["alpha"], paper["eta"], paper["gamma"], paper["budget"]) == \
        (5.0, 0.0, 1e-3, 1.0, 0.95, 1.0)
