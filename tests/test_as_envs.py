"""Rules of the AS paper's environments (sharelib.envs.exchange, .navigation, .predation) on small
hand-set states, and the paper's reference totals. The interface (shapes, seeding, copy
independence, auto-reset) is tested for them in test_envs.py and test_pettingzoo_api.py."""

import numpy as np
import pytest

from sharelib.envs import CooperativeNavigation, CooperativePredation, Exchange
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


# ------------------------------------------------------------------------------------------------
# Cooperative predation
# ------------------------------------------------------------------------------------------------
L_, R_ = CooperativePredation.LEFT, CooperativePredation.RIGHT
TW, AW = CooperativePredation.TOWARDS, CooperativePredation.AWAY


def test_predation_reward_table_all_none_mixed():
    env = CooperativePredation(n_envs=5, n_agents=3)
    env.set_state([10.0, 20.0, 12.0], 15.0)  # towards the prey: right, left, right
    acts = [[R_, L_, R_],   # all approach: -1 each
            [L_, R_, L_],   # none: -3 each
            [R_, R_, L_],   # only agent 0 approaches: -4 for it, 0 for the others
            [R_, L_, L_],   # agents 0 and 1 approach
            [L_, L_, R_]]   # agents 1 and 2 approach
    _, r, _ = env.step(np.array(acts))
    np.testing.assert_array_equal(r, [[-1, -1, -1], [-3, -3, -3], [-4, 0, 0], [-4, -4, 0],
                                      [0, -4, -4]])
    np.testing.assert_array_equal(env.approached, [[1, 1, 1], [0, 0, 0], [1, 0, 0], [1, 1, 0],
                                                   [0, 1, 1]])
    np.testing.assert_allclose(env.positions, [[11, 19, 13], [9, 21, 11], [11, 21, 11],
                                               [11, 19, 11], [9, 19, 13]])
    np.testing.assert_array_equal(env.approach_counts.sum(1), [3, 0, 1, 2, 2])
    # other payoffs are parameters
    env = CooperativePredation(n_envs=1, n_agents=2, reward_all=2.0, reward_approacher=-7.0,
                               reward_other=1.0, reward_none=-0.5)
    env.set_state([10.0, 20.0], 15.0)
    assert env.step(np.array([[R_, R_]]))[1].tolist() == [[-7.0, 1.0]]
    assert env.step(np.array([[R_, L_]]))[1].tolist() == [[2.0, 2.0]]
    assert env.step(np.array([[L_, R_]]))[1].tolist() == [[-0.5, -0.5]]


def test_predation_relative_actions_towards_and_away():
    env = CooperativePredation(n_envs=3, n_agents=2, relative_actions=True)
    assert env.action_names == ("towards", "away")
    env.set_state([[3.5, 25.0], [3.5, 25.0], [15.0, 15.0]], [10.0, 10.0, 15.0])
    _, r, _ = env.step(np.array([[TW, TW], [TW, AW], [TW, TW]]))
    np.testing.assert_array_equal(r, [[-1, -1], [-4, 0], [-1, -1]])
    # "towards" moves right when left of (or on) the prey, left otherwise
    np.testing.assert_allclose(env.positions, [[4.5, 24.0], [4.5, 26.0], [16.0, 16.0]])
    _, r, _ = env.step(np.array([[AW, AW], [AW, TW], [TW, AW]]))
    np.testing.assert_array_equal(r, [[-3, -3], [0, -4], [-4, 0]])
    np.testing.assert_allclose(env.positions, [[3.5, 25.0], [3.5, 25.0], [15.0, 17.0]])


def test_predation_clipping_to_the_world():
    env = CooperativePredation(n_envs=1, n_agents=4)
    env.set_state([0.0, 0.4, 29.7, 30.0], 15.0)
    _, r, _ = env.step(np.array([[L_, L_, R_, R_]]))  # all move away, into the walls
    np.testing.assert_allclose(env.positions[0], [0.0, 0.0, 30.0, 30.0])
    np.testing.assert_array_equal(r[0], [-3] * 4)  # a move away blocked by the wall is no approach
    o = env.step(np.array([[R_, R_, L_, L_]]))[0]
    np.testing.assert_allclose(env.positions[0], [1.0, 1.0, 29.0, 29.0])
    np.testing.assert_allclose(o[0, 0], (np.array([1.0, 1.0, 29.0, 29.0]) - 15) / 30, rtol=1e-6)


def test_predation_approach_rule_direction_vs_distance():
    """Only an agent within one step of the prey tells the rules apart: moving towards it overshoots
    to a larger distance (an approach by direction, not by distance)."""
    for rule, expect in (("direction", [-1, -1, -1]), ("distance", [0, -4, -4])):
        env = CooperativePredation(n_envs=1, n_agents=3, approach=rule)
        env.set_state([14.6, 10.0, 20.0], 15.0)
        _, r, _ = env.step(np.array([[R_, R_, L_]]))  # 14.6 -> 15.6: distance 0.4 -> 0.6
        np.testing.assert_array_equal(r[0], expect)
        # 15.6 -> 14.6 (left), 11 -> 12, 19 -> 18: the distance rule counts 0.6 -> 0.4 an approach
        _, r, _ = env.step(np.array([[L_, R_, L_]]))
        np.testing.assert_array_equal(r[0], [-1, -1, -1])
    # on the prey: "towards" is right by convention; by distance, no move approaches
    env = CooperativePredation(n_envs=2, n_agents=2, approach="distance")
    env.set_state([[15.0, 10.0], [15.0, 10.0]], 15.0)
    _, r, _ = env.step(np.array([[R_, R_], [L_, R_]]))
    np.testing.assert_array_equal(r, [[0, -4], [0, -4]])
    env = CooperativePredation(n_envs=2, n_agents=2)
    env.set_state([[15.0, 10.0], [15.0, 10.0]], 15.0)
    _, r, _ = env.step(np.array([[R_, R_], [L_, R_]]))
    np.testing.assert_array_equal(r, [[-1, -1], [0, -4]])


def _predation_reference(x, tar, act, W=30.0, relative=False, by_distance=False):
    towards = np.where(x <= tar[:, None], 1.0, -1.0)
    d = np.where(act == 0, towards, -towards) if relative else np.where(act == 0, -1.0, 1.0)
    y = np.clip(x + d, 0.0, W)
    app = np.abs(y - tar[:, None]) < np.abs(x - tar[:, None]) if by_distance else d == towards
    k = app.sum(1, keepdims=True)
    n = x.shape[1]
    r = np.where(k == n, -1.0, np.where(k == 0, -3.0, np.where(app, -4.0, 0.0)))
    return y, r


@pytest.mark.parametrize("relative,rule", [(False, "direction"), (True, "direction"),
                                           (False, "distance"), (True, "distance")])
def test_predation_matches_a_numpy_reference(relative, rule):
    rng = np.random.default_rng(1)
    E, n = 3000, 3
    env = CooperativePredation(n_envs=E, n_agents=n, relative_actions=relative, approach=rule)
    x = rng.uniform(0, 30, (E, n))
    x[:, 0] = rng.choice([0.0, 30.0, 0.5], E)  # walls
    tar = rng.uniform(0, 30, E)
    x[:, 1] = np.clip(tar + rng.uniform(-1, 1, E), 0, 30)  # close to the prey
    act = rng.integers(0, 2, (E, n))
    env.set_state(x, tar)
    o, r, _ = env.step(act)
    y, r_ref = _predation_reference(x, tar, act, relative=relative, by_distance=rule == "distance")
    np.testing.assert_array_equal(env.positions, y)
    np.testing.assert_array_equal(r, r_ref)
    assert set(np.unique(r)) == {-1.0, -3.0, -4.0, 0.0}
    np.testing.assert_allclose(o[:, 0], ((y - tar[:, None]) / 30).astype(np.float32))


def test_predation_neighbour_radius():
    env = CooperativePredation(n_envs=2, n_agents=4)
    env.set_state([[0.0, 3.0, 3.0001, 6.5], [10.0, 10.0, 30.0, 27.0]], [15.0, 15.0])
    N = env.neighbours()
    assert N.shape == (2, 4, 4) and N.dtype == np.bool_
    # |0 - 3| / 30 = 0.1 <= 0.1: neighbours; 3.0001 is just too far from 0; 6.5 - 3.0001 > 3
    np.testing.assert_array_equal(N[0], [[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(N[1], [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]])
    assert np.all(N == N.transpose(0, 2, 1))
    np.testing.assert_array_equal(env.neighbours(include_self=True), N | np.eye(4, dtype=bool))
    # per step: after moving, the relation follows the new positions
    env.step(np.array([[R_, L_, R_, L_], [L_, L_, L_, L_]]))  # copy 0: 1, 2, 4.0001, 5.5
    N = env.neighbours()
    np.testing.assert_array_equal(N[0], [[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 0]])
    assert CooperativePredation(n_envs=1, n_agents=2, radius=0.5).radius == 0.5


def test_predation_neighbours_from_obs_agree_with_the_state():
    env = CooperativePredation(n_envs=400, n_agents=8)
    obs = env.reset(0)
    rng = np.random.default_rng(0)
    for _ in range(12):
        obs = env.step(rng.integers(0, 2, (400, 8)))[0]
    N = env.neighbours()
    M = env.neighbours_from_obs(obs)
    x = env.positions
    gap = np.abs(np.abs(x[:, :, None] - x[:, None, :]) / 30 - 0.1)
    far = gap > 1e-6
    np.testing.assert_array_equal(M[far], N[far])
    assert N.any() and (~N).any()
    assert env.neighbours_from_obs(obs[:5]).shape == (5, 8, 8)
    env_id = CooperativePredation(n_envs=1, n_agents=3, agent_id=True)
    o = env_id.set_state([1.0, 2.0, 9.0], 0.0)
    np.testing.assert_array_equal(env_id.neighbours_from_obs(o), env_id.neighbours())
    with pytest.raises(ValueError, match="obs"):
        env.neighbours_from_obs(o)


def test_predation_observation_and_episode():
    env = CooperativePredation(n_envs=2000, n_agents=2)
    obs = env.reset(4)
    x, tar = env.positions, env.prey
    np.testing.assert_allclose(obs[:, 0], ((x - tar[:, None]) / 30).astype(np.float32))
    np.testing.assert_array_equal(obs[:, 0], obs[:, 1])
    assert obs.shape == (2000, 2, 2) and np.abs(obs).max() <= 1
    # uniform starts on [0, 30] (prey and predators independent)
    for v in (x[:, 0], x[:, 1], tar):
        assert v.min() >= 0 and v.max() <= 30 and abs(v.mean() - 15) < 4 * 30 / np.sqrt(12 * 2000)
    assert abs(np.corrcoef(x[:, 0], tar)[0, 1]) < 0.1
    o = CooperativePredation(n_envs=1, n_agents=3, agent_id=True).reset(0)[0]
    assert o.shape == (3, 6)
    np.testing.assert_array_equal(o[:, 3:], np.eye(3))
    # exactly 30 steps; all towards: -30 each, all away (relative): -90 each
    for act, ret in ((TW, -30.0), (AW, -90.0)):
        env = CooperativePredation(n_envs=4, n_agents=2, relative_actions=True)
        env.reset(0)
        for k in range(1, 31):
            _, _, d = env.step(np.full((4, 2), act))
            assert d.all() == (k == 30) and d.any() == (k == 30)
        assert env.truncated.all()
        np.testing.assert_array_equal(env.last_episode_return, ret)


@pytest.mark.parametrize("n", [2, 8, 20, 30])
def test_predation_sizes_and_the_dilemma(n):
    """Per step, not approaching dominates for every agent, yet all approaching beats all not
    approaching: an n-player prisoner's dilemma at every size the paper uses."""
    env = CooperativePredation(n_envs=3, n_agents=n, relative_actions=True)
    obs = env.reset(1)
    assert obs.shape == (3, n, n) and env.neighbours().shape == (3, n, n)
    for others in (TW, AW):
        base = np.full((3, n), others)
        _, r_c, _ = env.step(np.where(np.arange(n) == 0, TW, base))
        _, r_d, _ = env.step(np.where(np.arange(n) == 0, AW, base))
        assert np.all(r_d[:, 0] > r_c[:, 0])
    _, r_all, _ = env.step(np.full((3, n), TW))
    _, r_none, _ = env.step(np.full((3, n), AW))
    assert np.all(r_all == -1) and np.all(r_none == -3)
    img = env.render(2)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.std() > 0


def test_predation_set_state_validates():
    env = CooperativePredation(n_envs=1, n_agents=2)
    with pytest.raises(ValueError, match="in \\[0, 30"):
        env.set_state([-1.0, 3.0], 2.0)
    with pytest.raises(ValueError, match="approach"):
        CooperativePredation(approach="closer")
    with pytest.raises(ValueError, match="n_agents"):
        CooperativePredation(n_agents=1)
