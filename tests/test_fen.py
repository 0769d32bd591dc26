"""FEN's classic discrete scenarios (sharelib.envs.fen): every rule of the reference notes Sec. 2
checked by a scripted step, plus batching and the PettingZoo adapter."""

import numpy as np
import pytest

from sharelib.envs import JobScheduling, ManufacturingPlant, MatthewEffect
from sharelib.envs.fen import PLANT_REQUIREMENTS

STAY, XM, XP, YM, YP = range(5)


def act(*a):
    return np.array([a], dtype=np.int64)


# ------------------------------------------------------------------------------- Job Scheduling
def job(pos, target=(3, 3), **kw):
    env = JobScheduling(**kw)
    env.reset(0)
    env.set_state(np.array(pos), np.array(target))
    return env


def test_job_moves_and_boundaries():
    env = job([[1, 1], [5, 5], [3, 1], [1, 5]])
    env.step(act(XM, XP, YM, YP))  # all four would leave 1..5: cancelled
    np.testing.assert_array_equal(env.positions[0], [[1, 1], [5, 5], [3, 1], [1, 5]])
    env.step(act(XP, XM, YP, YM))
    np.testing.assert_array_equal(env.positions[0], [[2, 1], [4, 5], [3, 2], [1, 4]])


def test_job_lower_index_wins_contested_cell():
    env = job([[2, 3], [4, 3], [5, 5], [1, 1]])
    env.step(act(XP, XM, STAY, STAY))  # both want (3, 3)
    np.testing.assert_array_equal(env.positions[0, :2], [[3, 3], [4, 3]])


def test_job_no_following_and_no_swaps():
    env = job([[1, 1], [2, 1], [4, 4], [5, 4]])
    # agent 0 follows agent 1 into its vacated cell: refused; 2 and 3 swap: both refused
    env.step(act(XP, XP, XP, XM))
    np.testing.assert_array_equal(env.positions[0], [[1, 1], [3, 1], [4, 4], [5, 4]])


def test_job_reward_and_observation():
    env = job([[3, 2], [1, 1], [5, 5], [1, 5]], target=(3, 3))
    o, r, d = env.step(act(YP, STAY, STAY, STAY))
    np.testing.assert_array_equal(r[0], [1, 0, 0, 0])
    o, r, d = env.step(act(STAY, STAY, STAY, STAY))
    np.testing.assert_array_equal(r[0], [1, 0, 0, 0])  # stays on the target: rewarded every step
    np.testing.assert_array_equal(o[0, 1, :4], [1, 1, 2, 2])
    # agent 1 at (1, 1): 3x3 occupancy over dx then dy; only its own cell is occupied
    np.testing.assert_array_equal(o[0, 1, 4:], [0, 0, 0, 0, 1, 0, 0, 0, 0])
    # agent 0 at (3, 3): nobody around
    assert o[0, 0, 8] == 1 and o[0, 0, 4:].sum() == 1
    env.set_positions([[3, 3], [3, 4], [2, 2], [5, 5]])
    o = env.step(act(STAY, STAY, STAY, STAY))[0]
    # agent 0 sees (2, 2) at offset (-1, -1) -> index 4, itself at 8, (3, 4) at offset (0, +1) -> 9
    np.testing.assert_array_equal(np.flatnonzero(o[0, 0, 4:]), [0, 4, 5])


def test_job_reset_distributions():
    env = JobScheduling(n_envs=2000)
    env.reset(3)
    t, p = env.target, env.positions
    assert set(np.unique(t)) == {2, 3, 4}
    assert p.min() == 1 and p.max() == 5
    cells = p[..., 0] * 10 + p[..., 1]
    assert all(len(set(c)) == 4 for c in cells)  # (L): distinct starts
    fen = JobScheduling(n_envs=2000, rules="fen")
    fen.reset(3)
    c = fen.positions[..., 0] * 10 + fen.positions[..., 1]
    assert any(len(set(x)) < 4 for x in c)  # (F): duplicates happen (P ~ 0.22 per copy)
    assert env.state().shape == (2000, 74)


def test_job_episode_length_and_batch_independence():
    a, b = JobScheduling(n_envs=1), JobScheduling(n_envs=3)
    a.reset(5), b.reset(5)
    rng = np.random.default_rng(1)
    for t in range(200):
        acts = rng.integers(0, 5, (3, 4))
        oa, ra, da = a.step(acts[:1])
        ob, rb, db = b.step(acts)
        np.testing.assert_array_equal(oa[0], ob[0])
        np.testing.assert_array_equal(ra[0], rb[0])
    assert da[0] and a.truncated[0]


# ------------------------------------------------------------------------------- Matthew Effect
def matthew(pos, sizes, res, n=3):
    env = MatthewEffect(n_agents=n, n_resources=len(res))
    env.reset(0)
    env.set_state(np.array(pos, float), np.array(sizes, float), np.array(res, float))
    return env


def test_matthew_moves_by_speed_and_clips():
    env = matthew([[0.5, 0.5], [0.005, 0.5], [0.5, 0.99]], [0.02, 0.03, 0.04], [[0.9, 0.1]])
    env.step(act(XP, XM, YP))
    p = env.positions[0]
    np.testing.assert_allclose(p, [[0.53, 0.5], [0.0, 0.5], [0.5, 1.0]])


def test_matthew_eating_growth_and_ties():
    # resource 0 within reach of agents 0 and 1 (lowest index wins), resource 1 within reach of 0
    # too (reward stays 1), resource 2 within reach of agent 2 only
    env = matthew([[0.5, 0.5], [0.51, 0.5], [0.2, 0.2]], [0.05, 0.05, 0.148],
                  [[0.52, 0.5], [0.5, 0.52], [0.2, 0.25]])
    o, r, d = env.step(act(STAY, STAY, STAY))
    np.testing.assert_array_equal(r[0], [1, 0, 1])
    np.testing.assert_allclose(env.sizes[0], [0.06, 0.05, 0.15])  # +0.005 per resource, cap 0.15
    np.testing.assert_allclose(o[0, :, 3], 0.01 + env.sizes[0])
    res = env.resources[0]
    assert not np.allclose(res[0], [0.52, 0.5]) and not np.allclose(res[2], [0.2, 0.25])
    # strict inequality: exactly at distance = size nothing is eaten
    env = matthew([[0.5, 0.5]], [0.05], [[0.5, 0.55]], n=1)
    assert env.step(act(STAY))[1][0, 0] == 0


def test_matthew_observation_nearest_resource():
    env = matthew([[0.1, 0.1], [0.9, 0.9], [0.5, 0.5]], [0.01] * 3,
                  [[0.3, 0.1], [0.8, 0.8], [0.5, 0.7]])
    o = env.step(act(STAY, STAY, STAY))[0][0]
    np.testing.assert_allclose(o[:, 4:], [[0.3, 0.1], [0.8, 0.8], [0.5, 0.7]], rtol=1e-6)
    np.testing.assert_allclose(o[0, :4], [0.1, 0.1, 0.01, 0.02], rtol=1e-6)
    assert env.state().shape == (1, 3 * (4 + 3 * 3))


def test_matthew_reset_ranges():
    env = MatthewEffect(n_envs=500)
    env.reset(2)
    s = env.sizes
    assert 0.01 <= s.min() and s.max() <= 0.05
    assert env.state().shape == (500, 130)


# ------------------------------------------------------------------------------- Manufacturing Plant
def plant(pos, gems, poss=None, **kw):
    env = ManufacturingPlant(**kw)
    env.reset(0)
    env.set_state(np.array(pos), np.array(gems), poss)
    return env


FAR = [[8, 8, 0]] * 8  # gems parked on one cell nobody visits


def test_plant_collect_reward_and_respawn():
    gems = np.array(FAR)
    gems[0] = [3, 3, 1]
    env = plant([[3, 2], [9, 9], [2, 9], [9, 2], [6, 6]], gems)
    o, r, d = env.step(act(YP, STAY, STAY, STAY, STAY))
    # agent 0 needs (2, 1, 0): a type-1 gem is collected, +0.01 ((L)), no product yet
    np.testing.assert_allclose(r[0], [0.01, 0, 0, 0, 0])
    np.testing.assert_array_equal(env.possession[0, 0], [0, 1, 0])
    g = env.gems[0, 0]
    assert 3 <= g[0] <= 8 and 3 <= g[1] <= 8 and 0 <= g[2] <= 2
    assert env.gems_collected[0] == 1


def test_plant_manufacture_and_leftovers():
    gems = np.array(FAR)
    gems[0] = [3, 3, 0]
    # agent 0 holds (1, 1, 5): one more type 0 makes one product; type 2 (not required) stays
    env = plant([[3, 2], [9, 9], [2, 9], [9, 2], [6, 6]], gems, poss=[[1, 1, 5]] + [[0, 0, 0]] * 4)
    o, r, d = env.step(act(YP, STAY, STAY, STAY, STAY))
    np.testing.assert_allclose(r[0, 0], 1.01)
    np.testing.assert_array_equal(env.possession[0, 0], [0, 0, 5])
    np.testing.assert_array_equal(o[0, 0, 2:5], [0, 0, 5])
    # agent 4 with (0, 3, 4) and requirement (0, 1, 2) makes 2 products at once
    env = plant([[9, 9], [2, 2], [2, 9], [9, 2], [6, 6]], FAR, poss=[[0, 0, 0]] * 4 + [[0, 3, 4]])
    r = env.step(act(*[STAY] * 5))[1]
    assert r[0, 4] == 2 and list(env.possession[0, 4]) == [0, 1, 0]


def test_plant_fen_gem_reward_only_while_needed():
    gems = np.array(FAR)
    gems[0] = [3, 3, 0]
    gems[1] = [3, 4, 0]
    env = plant([[3, 2], [9, 9], [2, 9], [9, 2], [6, 6]], gems, rules="fen")
    # agent 0 needs 2 of type 0: first unit +0.1, second (the last needed) +0 but no product
    # without a type-1 gem
    r1 = env.step(act(YP, *[STAY] * 4))[1][0, 0]
    r2 = env.step(act(YP, *[STAY] * 4))[1][0, 0]
    assert r1 == pytest.approx(0.1) and r2 == 0.0
    np.testing.assert_array_equal(env.possession[0, 0], [2, 0, 0])


def test_plant_boundaries_and_sequential_claims():
    env = plant([[2, 2], [9, 9], [3, 2], [4, 2], [6, 6]], FAR)
    env.step(act(XM, XP, XM, XM, STAY))  # 0 and 1 leave 2..9: cancelled; 2 into 0's cell: refused
    np.testing.assert_array_equal(env.positions[0, :4], [[2, 2], [9, 9], [3, 2], [4, 2]])


def test_plant_observation_window():
    gems = np.array(FAR)
    gems[0] = [5, 5, 2]  # at offset (0, 0) of agent 0 -> cell index 12 of the 5x5 window
    gems[1] = [3, 7, 0]  # offset (-2, +2) -> cell 4
    env = plant([[5, 5], [9, 9], [2, 9], [9, 2], [2, 2]], gems)
    o = env.step(act(*[STAY] * 5))[0][0, 0]
    w = o[5:].reshape(25, 3)
    assert list(w[12]) != [0, 0, 1]  # the gem under agent 0 was collected (and respawned)
    assert list(w[4]) == [1, 0, 0]
    flat = ManufacturingPlant(one_hot=False)
    flat.reset(0)
    flat.set_state([[5, 5], [9, 9], [2, 9], [9, 2], [2, 2]], gems)
    o2 = flat.step(act(*[STAY] * 5))[0][0, 0]
    assert o2.shape == (30,) and o2[5 + 4] == 1
    assert flat.state().shape == (1, 169) and env.state().shape == (1, 457)


def test_plant_gem_cap_terminates():
    env = ManufacturingPlant(gem_cap=0)
    assert env.gem_cap == 0
    env = ManufacturingPlant(gem_cap=1, rules="fen")
    gems = np.array(FAR)
    gems[0] = [3, 3, 0]
    gems[1] = [4, 3, 1]
    env.reset(0)
    env.set_state([[3, 2], [4, 2], [2, 9], [9, 2], [6, 6]], gems)
    o, r, d = env.step(act(YP, YP, STAY, STAY, STAY))  # two gems collected > cap of 1
    assert d[0] and not env.truncated[0]


def test_requirements_table():
    np.testing.assert_array_equal(PLANT_REQUIREMENTS.sum(1), [3, 2, 2, 2, 3])


@pytest.mark.parametrize("cls,kw", [(JobScheduling, {}), (MatthewEffect, dict(n_agents=0)),
                                    (ManufacturingPlant, dict(one_hot=1)),
                                    (JobScheduling, dict(rules="soto"))])
def test_validation(cls, kw):
    with pytest.raises(ValueError):
        cls(max_steps=0) if not kw else cls(**kw)
