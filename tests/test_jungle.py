"""Rules of the jungle (sharelib.envs.jungle), each checked by a scripted step on a placed map."""

import numpy as np
import pytest

from sharelib.envs import Jungle

UP, LEFT, STAY, RIGHT, DOWN = 0, 1, 2, 3, 4
A_UP, A_LEFT, A_RIGHT, A_DOWN = 5, 6, 7, 8


def placed(agents, foods, **kw):
    env = Jungle(n_envs=2, n_agents=len(agents), n_food=len(foods),
                 n_neighbours=min(len(agents), kw.pop("n_neighbours", 4)), **kw)
    env.reset(0)
    env.place(agents, foods)
    return env


def step(env, *actions):
    return env.step(np.tile(np.array(actions, dtype=np.int64), (env.n_envs, 1)))


def test_reset_places_distinct_cells_inside_the_walls():
    env = Jungle(n_envs=8)
    env.reset(3)
    cells = np.concatenate([env.positions, env.food_positions], axis=1)
    assert cells.shape == (8, 32, 2)
    assert cells.min() >= 1 and cells.max() <= 28
    for e in range(8):
        assert len({tuple(c) for c in cells[e]}) == 32
    assert not np.array_equal(env.positions[0], env.positions[1])  # copies differ


def test_attack_rewards_food_agent_empty_and_wall():
    # agent 0 hits food above it, agent 1 hits agent 2 on its right, agent 3 hits an empty cell,
    # agent 4 (next to the left wall) hits the wall
    env = placed([(5, 5), (10, 10), (10, 11), (20, 20), (15, 1)], [(4, 5)])
    _, r, _ = step(env, A_UP, A_RIGHT, STAY, A_DOWN, A_LEFT)
    np.testing.assert_allclose(r[0], [1 - 0.01, 2 - 0.01, -4.0, -0.01, -0.01])
    np.testing.assert_array_equal(env.attacks[0], [1, 1, 1, 1])


def test_a_victim_hit_by_two_agents_loses_twice():
    env = placed([(10, 10), (10, 9), (10, 11)], [(2, 2)])
    _, r, _ = step(env, STAY, A_RIGHT, A_LEFT)
    np.testing.assert_allclose(r[0], [-8.0, 1.99, 1.99])


def test_attacks_are_resolved_before_moves():
    # agent 1 attacks agent 0's cell while agent 0 moves away: the hit still lands
    env = placed([(10, 10), (10, 11)], [(2, 2)])
    _, r, _ = step(env, LEFT, A_LEFT)
    np.testing.assert_allclose(r[0], [-4.0, 1.99])
    np.testing.assert_array_equal(env.positions[0, 0], (10, 9))


def test_moves_in_index_order_into_just_vacated_cells_and_blocked_by_others():
    # 0 tries 1's cell before 1 has moved: blocked; 1 moves right; 2 tries the cell 1 now holds
    env = placed([(10, 10), (10, 11), (10, 13), (5, 5), (6, 1)], [(4, 5)])
    step(env, RIGHT, RIGHT, LEFT, UP, LEFT)
    pos = env.positions[0]
    np.testing.assert_array_equal(pos[0], (10, 10))  # blocked by agent 1 (not yet moved)
    np.testing.assert_array_equal(pos[1], (10, 12))
    np.testing.assert_array_equal(pos[2], (10, 13))  # blocked: agent 1 is now at (10, 12)
    np.testing.assert_array_equal(pos[3], (5, 5))  # blocked by the food
    np.testing.assert_array_equal(pos[4], (6, 1))  # blocked by the wall


def test_an_agent_may_enter_a_cell_an_earlier_agent_just_left():
    env = placed([(10, 11), (10, 10)], [(2, 2)])
    step(env, RIGHT, RIGHT)
    np.testing.assert_array_equal(env.positions[0], [(10, 12), (10, 11)])


def test_observation_view_and_position():
    env = placed([(10, 10), (10, 12), (14, 14)], [(7, 10)])
    o = env.step(np.full((2, 3), STAY))[0][0]
    view = o[0, :121].reshape(11, 11)
    assert view[5, 5] == 1.0  # itself
    assert view[5, 7] == 1.0  # agent 1 two to the right
    assert view[2, 5] == -1.0  # the food three up
    assert view[9, 9] == 0.0  # agent 2 at (4, 4) offset: outside the radius-5 disc (32 > 25)
    assert view.sum() == 1.0
    np.testing.assert_allclose(o[0, 121:], [10 / 30, 10 / 30], rtol=1e-6)
    # walls are not encoded: an agent by the wall sees zeros there
    env = placed([(1, 1)], [(20, 20)], n_neighbours=1)
    v = env.step(np.full((2, 1), STAY))[0][0, 0, :121].reshape(11, 11)
    assert v[4, 5] == 0.0 and v.sum() == 1.0


def test_neighbours_are_self_then_nearest_with_ties_by_index():
    env = placed([(10, 10), (10, 12), (10, 8), (20, 20), (10, 15)], [(2, 2)], n_neighbours=3)
    nb = env.neighbours[0]
    np.testing.assert_array_equal(nb[0], [0, 1, 2])  # 1 and 2 both at distance 2: index order
    np.testing.assert_array_equal(nb[4], [4, 1, 0])
    assert (nb[:, 0] == np.arange(5)).all()


def test_episode_length_and_auto_reset():
    env = Jungle(n_envs=3, max_steps=5)
    env.reset(1)
    for t in range(5):
        _, _, d = env.step(np.zeros((3, 20), dtype=np.int64))
    assert d.all() and env.truncated.all()
    assert np.isfinite(env.last_episode_return).all()


def test_determinism_and_copy_independence():
    a = np.random.default_rng(0).integers(0, 9, (50, 4, 20))
    env1, env2 = Jungle(n_envs=4), Jungle(n_envs=1)
    env1.reset(7)
    env2.reset(7)
    for t in range(50):
        o1, r1, _ = env1.step(a[t])
        o2, r2, _ = env2.step(a[t, :1])
        np.testing.assert_array_equal(o1[:1], o2)
        np.testing.assert_array_equal(r1[:1], r2)


@pytest.mark.parametrize("kw,name", [(dict(n_neighbours=21), "n_neighbours"), (dict(n_agents=0), "n_agents"),
                                     (dict(size=2), "size"), (dict(n_food=-1), "n_food"),
                                     (dict(n_agents=700, n_food=100), "n_food")])
def test_bad_parameters_are_named(kw, name):
    with pytest.raises(ValueError, match=name):
        Jungle(**kw)


def test_food_ratio_of_fig5():
    assert [Jungle.food_for(n) for n in (10, 20, 30, 40, 50)] == [6, 12, 18, 24, 30]


def test_render_shape():
    env = Jungle(n_envs=1)
    env.reset(0)
    img = env.render(cell=8)
    assert img.shape == (240, 240, 3) and img.dtype == np.uint8
