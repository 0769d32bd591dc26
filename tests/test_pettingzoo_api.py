"""Our environments, through sharelib.envs.pettingzoo.to_parallel_env, pass PettingZoo's own
``parallel_api_test`` and ``parallel_seed_test`` and keep the episode semantics of the batched env."""

import numpy as np
import pytest

pytest.importorskip("pettingzoo")

from pettingzoo.test import parallel_api_test, parallel_seed_test  # noqa: E402

from sharelib.envs import (ENVIRONMENTS, CoinGame, CooperativeNavigation,  # noqa: E402
                           CooperativePredation, Exchange, PrisonerCorridor)
from sharelib.envs.pettingzoo import to_parallel_env  # noqa: E402

SMALL = {"coin_game": dict(max_steps=100), "cleanup": dict(max_steps=100, map="as"),
         "harvest": dict(max_steps=100, map="as")}


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
def test_parallel_api(name):
    parallel_api_test(to_parallel_env(ENVIRONMENTS[name], **SMALL.get(name, {})), num_cycles=300)


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
def test_parallel_seed(name):
    parallel_seed_test(lambda: to_parallel_env(ENVIRONMENTS[name], **SMALL.get(name, {})), num_cycles=300)


VARIANTS = [(Exchange, dict(agent_id=True)),
            (CooperativeNavigation, dict(agent_id=True, graph="complete")),
            (CooperativePredation, dict(n_agents=2, relative_actions=True)),
            (CooperativePredation, dict(n_agents=20, approach="distance", agent_id=True))]


@pytest.mark.parametrize("cls,params", VARIANTS)
def test_parallel_api_and_seed_of_variants(cls, params):
    """The AS environments' non-default variants (agent index in the observation, the Fig. 7
    two-agent towards/away predation, 20 predators) pass PettingZoo's tests too."""
    parallel_api_test(to_parallel_env(cls, **params), num_cycles=100)
    parallel_seed_test(lambda: to_parallel_env(cls, **params), num_cycles=100)


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
def test_adapter_matches_batched_env(name):
    """Same seed and actions: the adapter's observations and rewards equal copy 0 of the batched
    environment, and the episode ends with the final (not the auto-reset) observation."""
    cls, params = ENVIRONMENTS[name], SMALL.get(name, {})
    pz = to_parallel_env(cls, render_mode="rgb_array", **params)
    env = cls(n_envs=1, **params)
    obs, infos = pz.reset(seed=11)
    o = env.reset(11)
    for i, a in enumerate(pz.possible_agents):
        np.testing.assert_array_equal(obs[a], o[0, i])
        assert pz.observation_space(a).contains(obs[a])
    rng = np.random.default_rng(0)
    for _ in range(1000):
        act = rng.integers(0, env.n_actions, size=(1, env.n_agents))
        obs, rew, term, trunc, _ = pz.step({a: int(act[0, i]) for i, a in enumerate(pz.possible_agents)})
        o, r, d = env.step(act)
        expect_obs = env.final_obs if d[0] else o
        for i, a in enumerate(pz.possible_agents):
            np.testing.assert_array_equal(obs[a], expect_obs[0, i])
            assert rew[a] == r[0, i]
            assert term[a] == (d[0] and not env.truncated[0]) and trunc[a] == (d[0] and env.truncated[0])
        if d[0]:
            assert pz.agents == []
            break
    else:
        raise AssertionError("no episode ended")
    img = pz.render()
    assert img.dtype == np.uint8 and img.shape[2] == 3
    with pytest.raises(RuntimeError, match="reset"):
        pz.step({a: 0 for a in pz.possible_agents})


def test_adapter_terminations_and_reset_without_seed():
    pz = to_parallel_env(PrisonerCorridor)
    pz.reset(seed=0)
    _, rew, term, trunc, _ = pz.step({"agent_0": 1, "agent_1": 0})  # both defect: collision
    assert all(term.values()) and not any(trunc.values())
    assert sorted(rew.values()) == pytest.approx([-0.01, 0.99])
    # reset() without a seed after a seeded reset is reproducible
    a, b = to_parallel_env(CoinGame), to_parallel_env(CoinGame)
    a.reset(seed=3)
    b.reset(seed=3)
    oa, ob = a.reset()[0], b.reset()[0]
    for k in oa:
        np.testing.assert_array_equal(oa[k], ob[k])
    with pytest.raises(ValueError, match="render_mode"):
        to_parallel_env(CoinGame, render_mode="human")
