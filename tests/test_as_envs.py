"""Rules of the AS paper's environments (sharelib.envs.exchange, .navigation, .predation) on small
hand-set states, and the paper's reference totals. The interface (shapes, seeding, copy
independence, auto-reset) is tested for them in test_envs.py and test_pettingzoo_api.py."""

import numpy as np
import pytest

from sharelib.envs import CooperativeNavigation, Exchange
from sharelib.envs.exchange import scripted_totals

# ------------------------------------------------------------------------------------------------
# Exchange
# ------------------------------------------------------------------------------------------------
UP, DOWN, LEFT, RIGHT, OPEN, STAY = range(6)
BOXES = [[0, 0], [0, 4], [4, 0]]  # box k holds agent k's food


def test_exchange_open_pays_the_opener_minus_5_and_the_owner_plus_10_once():
    env = Exchange(n_envs=1)
    # agent 0 stands on box 1 (agent 1's food), agent 1 far away, agent 2 on nothing
    env.set_state([[0, 4], [2, 2], [3, 3]], BOXES)
    _, r, _ = env.step(np.array([[OPEN, STAY, STAY]]))
    np.testing.assert_allclose(r[0], [-5.01, 9.99, -0.01])  # the owner gains at once, anywhere
    assert env.opened[0].tolist() == [False, True, False]
    assert env.open_counts[0].tolist() == [1, 0, 0]
    # the box stays open: opening it again does nothing
    _, r, _ = env.step(np.array([[OPEN, STAY, STAY]]))
    np.testing.assert_allclose(r[0], [-0.01] * 3)
    assert env.open_counts[0].tolist() == [1, 0, 0]


def test_exchange_owner_cannot_open_its_own_box_and_open_needs_the_box_cell():
    env = Exchange(n_envs=3)
    # copy 0: agent 0 on its own box; copy 1: agent 0 next to box 1 (adjacent is not enough);
    # copy 2: agent 0 on no box at all
    env.set_state([[[0, 0], [2, 2], [2, 2]], [[0, 3], [2, 2], [2, 2]], [[2, 2], [2, 2], [2, 2]]],
                  BOXES)
    _, r, _ = env.step(np.tile([OPEN, STAY, STAY], (3, 1)))
    np.testing.assert_allclose(r, -0.01)
    assert not env.opened.any()
    assert env.agent_positions[:, 0].tolist() == [[0, 0], [0, 3], [2, 2]]  # "open" does not move


def test_exchange_simultaneous_openers_split_the_cost():
    env = Exchange(n_envs=1)
    # agents 0 and 1 both stand on box 2 and open it; the owner (agent 2) stands there too
    env.set_state([[4, 0], [4, 0], [4, 0]], BOXES)
    _, r, _ = env.step(np.array([[OPEN, OPEN, OPEN]]))
    np.testing.assert_allclose(r[0], [-2.51, -2.51, 9.99])
    assert env.opened[0].tolist() == [False, False, True]
    assert env.open_counts[0].tolist() == [1, 1, 0]
    # two boxes opened in one step by different agents
    env.set_state([[0, 4], [4, 0], [2, 2]], BOXES)
    _, r, _ = env.step(np.array([[OPEN, OPEN, STAY]]))
    np.testing.assert_allclose(r[0], [-5.01, -5.01 + 10, 9.99])  # 0 opens box 1, 1 opens box 2


def test_exchange_moves_and_grid_edges():
    env = Exchange(n_envs=1)
    env.set_state([[0, 0], [4, 4], [2, 2]], BOXES)
    env.step(np.array([[UP, DOWN, LEFT]]))  # two moves off the grid: stay
    assert env.agent_positions[0].tolist() == [[0, 0], [4, 4], [2, 1]]
    env.step(np.array([[LEFT, RIGHT, RIGHT]]))
    assert env.agent_positions[0].tolist() == [[0, 0], [4, 4], [2, 2]]
    env.step(np.array([[DOWN, UP, STAY]]))
    assert env.agent_positions[0].tolist() == [[1, 0], [3, 4], [2, 2]]
    # agents may share cells and stand on boxes
    env.set_state([[2, 1], [2, 3], [1, 0]], BOXES)
    env.step(np.array([[RIGHT, LEFT, UP]]))
    assert env.agent_positions[0].tolist() == [[2, 2], [2, 2], [0, 0]]


def test_exchange_observation_is_the_normalised_global_state():
    env = Exchange(n_envs=1)
    o = env.set_state([[0, 1], [2, 3], [4, 4]], BOXES, opened=[False, True, False])[0]
    expect = np.array([0, 1, 2, 3, 4, 4] + [0, 0, 0, 4, 4, 0], dtype=np.float32) / 4
    np.testing.assert_allclose(o[0, :12], expect)
    np.testing.assert_array_equal(o[0, 12:], [0, 1, 0])
    assert o.shape == (3, 15) and np.all(o == o[0])  # the same for every agent
    env2 = Exchange(n_envs=1, agent_id=True)
    o2 = env2.set_state([[0, 1], [2, 3], [4, 4]], BOXES)[0]
    assert o2.shape == (3, 18)
    np.testing.assert_array_equal(o2[:, 15:], np.eye(3))
    np.testing.assert_array_equal(o2[:, :15], np.broadcast_to(o2[0, :15], (3, 15)))


def test_exchange_starts_on_distinct_cells_and_lasts_exactly_max_steps():
    env = Exchange(n_envs=500, max_steps=300)
    env.reset(3)
    cells = np.concatenate([env.agent_positions, env.box_positions], 1) @ [5, 1]
    assert all(len(set(c)) == 6 for c in cells.tolist())
    assert len(np.unique(cells[:, 0])) == 25  # spread over the grid
    assert not env.opened.any()
    act = np.full((500, 3), STAY)
    for k in range(1, 301):
        _, _, d = env.step(act)
        assert d.all() == (k == 300) and d.any() == (k == 300)
    assert env.truncated.all()
    np.testing.assert_allclose(env.last_episode_return, -3.0, atol=1e-9)


def test_exchange_episode_does_not_end_when_all_boxes_are_open():
    env = Exchange(n_envs=1, max_steps=10)
    env.set_state([[0, 4], [4, 0], [0, 0]], BOXES)  # 0 on box 1, 1 on box 2, 2 on box 0
    _, r, d = env.step(np.array([[OPEN] * 3]))
    np.testing.assert_allclose(r[0], [4.99] * 3)
    assert env.opened.all() and not d[0]
    for _ in range(9):
        _, _, d = env.step(np.array([[OPEN] * 3]))
    assert d[0] and env.truncated[0]
    np.testing.assert_allclose(env.last_episode_return[0], 5 - 0.1, atol=1e-9)
    assert not env.opened.any()  # the auto-reset closed the boxes


def test_exchange_scripted_totals_match_the_papers_optimum_6_and_selfish_minus_9():
    """AS Sec. 5.3: 300 steps, -0.01 per step, -5 per box opened, +10 to its owner: optimum 6,
    free riding -9. The step cost is paid on all 300 steps (fixed length), so walking to the boxes
    costs nothing extra and the cooperative total is 3 (10 - 5) - 3 0.01 300 = 6 exactly."""
    t = scripted_totals(n_envs=128, seed=0)
    assert t["expected_cooperative"] == pytest.approx(6.0, abs=1e-12)
    assert t["expected_selfish"] == pytest.approx(-9.0, abs=1e-12)
    assert t["cooperative"] == pytest.approx(6.0, abs=1e-9)
    assert t["selfish"] == pytest.approx(-9.0, abs=1e-9)
    # the scripted cooperative policy opens every box exactly once, by the agent of the cycle
    env = Exchange(n_envs=64)
    env.reset(1)
    for _ in range(9):  # at most 8 moves on a 5x5 grid, then "open"
        env.step(env.scripted_actions(True))
    assert env.opened.all() and np.all(env.open_counts == 1)
    # selfish walking (random moves, never "open") costs no more than standing still: -9
    rng = np.random.default_rng(0)
    env = Exchange(n_envs=64)
    env.reset(2)
    for _ in range(300):
        env.step(rng.choice([UP, DOWN, LEFT, RIGHT, STAY], size=(64, 3)))
    np.testing.assert_allclose(env.last_episode_return.sum(1), -9.0, atol=1e-9)
    # a shorter episode: the closed form follows max_steps
    t = scripted_totals(n_envs=16, seed=0, max_steps=50)
    assert t["cooperative"] == pytest.approx(15 - 1.5, abs=1e-9) == t["expected_cooperative"]


def test_exchange_is_a_social_dilemma_for_each_agent():
    """An agent gains by skipping its opening while the others open (free riding): 10 - 0.01 T
    instead of 10 - 5 - 0.01 T, and the agent whose box it skipped loses its food."""
    env = Exchange(n_envs=8, max_steps=40)
    env.reset(0)
    for _ in range(40):
        a = env.scripted_actions(True)
        a[:, 0] = np.where(a[:, 0] == OPEN, STAY, a[:, 0])  # agent 0 never opens
        env.step(a)
    ret = env.last_episode_return
    # agent 0 gets its food (agent 2 opens box 0) and pays nothing; agent 1 still opens box 2
    # (pays 5) but its own box stays closed
    np.testing.assert_allclose(ret, np.broadcast_to([10 - 0.4, -5 - 0.4, 10 - 5 - 0.4], (8, 3)),
                               atol=1e-9)
    assert ret[0, 0] > 10 - 5 - 0.4  # deviating pays the deviator ...
    assert ret[0].sum() < 3 * (10 - 5) - 3 * 0.4  # ... and costs the group


def test_exchange_neighbours_complete_graph_and_render():
    env = Exchange(n_envs=2)
    env.reset(0)
    N = env.neighbours()
    assert N.shape == (2, 3, 3) and N.dtype == np.bool_
    np.testing.assert_array_equal(N[1], ~np.eye(3, dtype=bool))
    np.testing.assert_array_equal(env.neighbours(include_self=True), True)
    img = env.render(1)
    assert img.dtype == np.uint8 and img.shape == (160, 160, 3)


def test_exchange_set_state_validates():
    env = Exchange(n_envs=1)
    with pytest.raises(ValueError, match="distinct"):
        env.set_state([[0, 0]] * 3, [[1, 1], [1, 1], [2, 2]])
    with pytest.raises(ValueError, match="positions"):
        env.set_state([[0, 5], [0, 0], [0, 0]], BOXES)
    with pytest.raises(ValueError, match="agent_id"):
        Exchange(agent_id=1)


# ------------------------------------------------------------------------------------------------
# Cooperative navigation
# ------------------------------------------------------------------------------------------------
N_STAY = CooperativeNavigation.STAY
LANDMARKS = [[0, 0], [4, 4], [0, 4]]  # landmark i is agent i's


def test_navigation_distance_reward_is_minus_manhattan_over_8():
    env = CooperativeNavigation(n_envs=1)
    env.set_state([[0, 0], [0, 0 + 1], [4, 0]], LANDMARKS)
    _, r, _ = env.step(np.array([[N_STAY, DOWN, N_STAY]]))
    # agent 0 on its landmark: 0; agent 1 at (1, 1): |1-4| + |1-4| = 6; agent 2 at (4, 0): 4 + 4 = 8
    np.testing.assert_allclose(r[0], [0.0, -6 / 8, -8 / 8])
    _, r, _ = env.step(np.array([[RIGHT, RIGHT, UP]]))
    np.testing.assert_allclose(r[0], [-1 / 8, -5 / 8, -7 / 8])
    env2 = CooperativeNavigation(n_envs=1, size=3)  # normalised by 2 (size - 1) = 4
    env2.set_state([[0, 0], [1, 1], [2, 2]], [[2, 2], [1, 1], [0, 2]])
    _, r, _ = env2.step(np.array([[N_STAY] * 3]))
    np.testing.assert_allclose(r[0], [-1.0, 0.0, -0.5])


def test_navigation_collisions_cost_every_agent_in_the_cell_minus_1_once():
    env = CooperativeNavigation(n_envs=4)
    agents = [
        [[2, 1], [2, 3], [0, 2]],  # 0 and 1 step into (2, 2) together
        [[2, 1], [2, 2], [0, 2]],  # 0 steps onto 1, which stays: both pay
        [[2, 1], [2, 3], [1, 2]],  # all three end in (2, 2): each pays once
        [[2, 1], [2, 2], [0, 2]],  # 0 and 1 swap cells: no collision
    ]
    acts = [[RIGHT, LEFT, N_STAY], [RIGHT, N_STAY, N_STAY], [RIGHT, LEFT, DOWN], [RIGHT, LEFT, N_STAY]]
    env.set_state(agents, LANDMARKS)
    _, r, _ = env.step(np.array(acts))
    pos = env.agent_positions
    dist = (np.abs(pos - np.array(LANDMARKS)).sum(-1)) / 8
    hit = np.array([[1, 1, 0], [1, 1, 0], [1, 1, 1], [0, 0, 0]])
    np.testing.assert_allclose(r, -dist - hit)
    np.testing.assert_array_equal(env.collision_counts, hit)
    assert pos[3].tolist() == [[2, 2], [2, 1], [0, 2]]
    # a collision on the landmark: the waiting agent pays too (the externality)
    env = CooperativeNavigation(n_envs=1, collision_penalty=0.5)
    env.set_state([[0, 0], [0, 1], [3, 3]], LANDMARKS)
    _, r, _ = env.step(np.array([[N_STAY, LEFT, N_STAY]]))
    np.testing.assert_allclose(r[0], [-0.5, -8 / 8 - 0.5, -4 / 8])


def test_navigation_moves_edges_and_observation():
    env = CooperativeNavigation(n_envs=1)
    env.set_state([[0, 0], [4, 4], [2, 2]], LANDMARKS)
    o, _, _ = env.step(np.array([[UP, RIGHT, LEFT]]))  # off the grid: stay
    assert env.agent_positions[0].tolist() == [[0, 0], [4, 4], [2, 1]]
    expect = np.array([0, 0, 4, 4, 2, 1] + [0, 0, 4, 4, 0, 4], dtype=np.float32) / 4
    np.testing.assert_allclose(o[0], np.broadcast_to(expect, (3, 12)))
    env2 = CooperativeNavigation(n_envs=1, agent_id=True)
    o2 = env2.set_state([[0, 0], [4, 4], [2, 1]], LANDMARKS)[0]
    assert o2.shape == (3, 15)
    np.testing.assert_allclose(o2[:, :12], np.broadcast_to(expect, (3, 12)))
    np.testing.assert_array_equal(o2[:, 12:], np.eye(3))


def test_navigation_matches_a_numpy_reference_on_random_states():
    rng = np.random.default_rng(0)
    E, S = 2000, 5
    env = CooperativeNavigation(n_envs=E)
    ag = rng.integers(0, S, (E, 3, 2))
    lm = rng.integers(0, S, (E, 3, 2))
    act = rng.integers(0, 5, (E, 3))
    env.set_state(ag, lm)
    _, r, _ = env.step(act)
    moves = np.array([[-1, 0], [1, 0], [0, -1], [0, 1], [0, 0]])
    new = ag + moves[act]
    new = np.where(((new < 0) | (new >= S)).any(-1, keepdims=True), ag, new)
    np.testing.assert_array_equal(env.agent_positions, new)
    cell = new @ [S, 1]
    shared = (cell[:, :, None] == cell[:, None, :]).sum(-1) > 1
    np.testing.assert_allclose(r, -np.abs(new - lm).sum(-1) / 8 - shared)
    assert shared.any() and (~shared).any()


def test_navigation_starts_on_distinct_cells_and_lasts_exactly_100_steps():
    env = CooperativeNavigation(n_envs=300)
    env.reset(5)
    cells = np.concatenate([env.agent_positions, env.landmark_positions], 1) @ [5, 1]
    assert all(len(set(c)) == 6 for c in cells.tolist())
    assert len(np.unique(cells[:, 3])) == 25
    act = np.full((300, 3), N_STAY)
    for k in range(1, 101):
        _, _, d = env.step(act)
        assert d.all() == (k == 100) and d.any() == (k == 100)
    assert env.truncated.all()


def test_navigation_communication_graph():
    env = CooperativeNavigation(n_envs=2)
    line = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=bool)
    np.testing.assert_array_equal(env.adjacency, line)
    np.testing.assert_array_equal(env.neighbours()[1], line)
    np.testing.assert_array_equal(env.neighbours(include_self=True)[0], line | np.eye(3, dtype=bool))
    env5 = CooperativeNavigation(n_envs=1, n_agents=5, graph="complete")
    np.testing.assert_array_equal(env5.adjacency, ~np.eye(5, dtype=bool))
    assert env5.obs_dim == 20
    with pytest.raises(ValueError, match="graph"):
        CooperativeNavigation(graph="ring")
    with pytest.raises(ValueError, match="n_agents"):
        CooperativeNavigation(n_agents=13)
