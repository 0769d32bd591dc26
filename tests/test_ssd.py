"""Cleanup and Harvest (sharelib.envs.ssd) on hand-built tiny maps with scripted actions: the rules
of the SSD code as recorded in shared/specs (section 3), for both variants.

Action codes: 0 move left, 1 move right, 2 forward, 3 backward, 4 stay, 5 turn cw, 6 turn ccw,
7 fire, 8 clean. Orientations: 0 up, 1 right, 2 down, 3 left.
"""

import numpy as np
import pytest

from sharelib.envs import Cleanup, Harvest
from sharelib.envs import gridworld as gw
from sharelib.envs.ssd import CLEANUP_MAPS, HARVEST_MAPS

L, R, FWD, BACK, STAY, CW, CCW, FIRE, CLEAN = range(9)
UP, RIGHT, DOWN, LEFT = range(4)
VARIANTS = ["canonical", "fpf_lmf"]

OPEN = [
    "@@@@@@@@@@",
    "@PPPPPPPP@",
    "@PPPPPPPP@",
    "@PPPPPPPP@",
    "@@@@@@@@@@",
]
OPEN_HARVEST = [r.replace("@PP", "@AP", 1) if k == 1 else r for k, r in enumerate(OPEN)]


def harvest(rows=OPEN_HARVEST, n=2, E=1, **kw):
    kw.setdefault("spawn_probs", (0, 0, 0, 0))
    kw.setdefault("obs", "grid")
    return Harvest(n_envs=E, n_agents=n, map=rows, **kw)


def step(env, *acts):
    return env.step(np.tile(np.array(acts, dtype=np.int64), (env.n_envs, 1)))


def empty_cells(env):
    """The map's terrain without apples (for set_state)."""
    c = env.cells[0].astype(np.int16)
    c[c == gw.APPLE] = gw.FLOOR
    return c


# ------------------------------------------------------------------------------------------------
# eating, moving, turning
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", VARIANTS)
def test_an_apple_eaten_gives_one_and_disappears(variant):
    env = harvest(n=1, variant=variant)
    cells = empty_cells(env)
    cells[1, 3] = gw.APPLE
    env.set_state([[1, 2]], [RIGHT], cells)
    _, r, _ = step(env, FWD)
    assert r[0, 0] == 1.0
    assert tuple(env.positions[0, 0]) == (1, 3)
    assert env.cells[0, 1, 3] == gw.FLOOR
    _, r, _ = step(env, BACK)  # back to (1, 2): nothing to eat
    assert r[0, 0] == 0.0 and tuple(env.positions[0, 0]) == (1, 2)


def test_moves_are_egocentric_and_turns_do_not_move():
    env = harvest(n=1)
    start = [2, 4]
    for o in range(4):
        for a, rel in [(FWD, 0), (R, 1), (BACK, 2), (L, 3)]:
            env.set_state([start], [o])
            step(env, a)
            d = (o + rel) % 4
            assert tuple(env.positions[0, 0]) == (2 + gw.DR[d], 4 + gw.DC[d]), (o, a)
            assert env.orientations[0, 0] == o
    env.set_state([start], [UP])
    step(env, CW)
    assert env.orientations[0, 0] == RIGHT and tuple(env.positions[0, 0]) == (2, 4)
    step(env, CCW)
    step(env, CCW)
    assert env.orientations[0, 0] == LEFT and tuple(env.positions[0, 0]) == (2, 4)
    env.set_state([[1, 4]], [UP])  # a wall ahead: the move becomes a stay
    step(env, FWD)
    assert tuple(env.positions[0, 0]) == (1, 4)


def test_two_agents_moving_into_one_cell():
    """One of them gets the cell, by a random priority (about half each over many copies); the
    other stays. A move into an agent that stays is cancelled, a swap leaves both in place, a chain
    moves, and a cycle of four moves."""
    E = 600
    env = harvest(n=2, E=E)
    env.reset(1)
    env.set_state([[2, 2], [2, 4]], [RIGHT, LEFT])
    step(env, FWD, FWD)
    pos = env.positions
    got0 = np.all(pos[:, 0] == (2, 3), axis=1)
    got1 = np.all(pos[:, 1] == (2, 3), axis=1)
    assert np.all(got0 ^ got1)  # exactly one agent in the cell
    assert np.all(pos[got0, 1] == (2, 4)) and np.all(pos[got1, 0] == (2, 2))
    assert 0.4 < got0.mean() < 0.6
    # into a stayer
    env.set_state([[2, 2], [2, 3]], [RIGHT, LEFT])
    step(env, FWD, STAY)
    assert np.all(env.positions[:, 0] == (2, 2)) and np.all(env.positions[:, 1] == (2, 3))
    # a swap
    step(env, FWD, FWD)
    assert np.all(env.positions[:, 0] == (2, 2)) and np.all(env.positions[:, 1] == (2, 3))
    # a chain: 0 follows 1
    env.set_state([[2, 2], [2, 3]], [RIGHT, RIGHT])
    step(env, FWD, FWD)
    assert np.all(env.positions[:, 0] == (2, 3)) and np.all(env.positions[:, 1] == (2, 4))
    # a cycle of four around a 2x2 block
    env4 = harvest(n=4, E=20)
    env4.reset(0)
    env4.set_state([[1, 1], [1, 2], [2, 2], [2, 1]], [RIGHT, DOWN, LEFT, UP])
    step(env4, FWD, FWD, FWD, FWD)
    np.testing.assert_array_equal(env4.positions[:, :, :],
                                  np.tile([[1, 2], [2, 2], [2, 1], [1, 1]], (20, 1, 1)))


def test_random_play_never_puts_two_agents_in_one_cell():
    env = Cleanup(n_envs=16, n_agents=8, map="as", obs="grid", max_steps=50)
    env.reset(4)
    rng = np.random.default_rng(0)
    for _ in range(300):
        env.step(rng.integers(0, env.n_actions, (16, 8)))
        flat = env.positions[..., 0] * env.width + env.positions[..., 1]
        assert all(len(set(f)) == 8 for f in flat)
        assert np.all(env.cells[np.arange(16)[:, None], env.positions[..., 0],
                                env.positions[..., 1]] != gw.WALL)


# ------------------------------------------------------------------------------------------------
# beams
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", VARIANTS)
def test_fire_stops_at_the_first_agent_costs_1_and_50_and_removes_nobody(variant):
    env = harvest(n=3, variant=variant)
    env.set_state([[2, 1], [2, 3], [2, 5]], [RIGHT, UP, UP])
    _, r, _ = step(env, FIRE, STAY, STAY)
    np.testing.assert_array_equal(r[0], [-1.0, -50.0, 0.0])
    np.testing.assert_array_equal(env.hits[0], [0, 1, 0])
    beams = env.beams[0]
    assert beams[2, 2] == gw.FIRE_BEAM and beams[2, 3] == gw.FIRE_BEAM and beams[2, 4] == 0
    # the side rays run beside the agent, from its own column, five cells
    assert np.all(beams[1, 1:6] == gw.FIRE_BEAM) and np.all(beams[3, 1:6] == gw.FIRE_BEAM)
    assert beams[1, 6] == 0 and beams[3, 6] == 0
    # nobody is removed, the hit agent can still act
    assert not env.tagged.any()
    step(env, STAY, FWD, STAY)
    assert tuple(env.positions[0, 1]) == (1, 3)
    # two firers hit the same agent twice
    env.set_state([[2, 1], [2, 3], [2, 5]], [RIGHT, UP, LEFT])
    _, r, _ = step(env, FIRE, STAY, FIRE)
    np.testing.assert_array_equal(r[0], [-1.0, -100.0, -1.0])


def test_beams_stop_at_walls():
    env = harvest(n=1)
    env.set_state([[1, 4]], [UP])  # the wall right ahead: the centre ray covers nothing
    step(env, FIRE)
    beams = env.beams[0]
    assert beams[0].max() == 0 and beams[1, 4] == 0
    # side rays start beside the agent and are cut by the wall ahead of them too
    assert beams[1, 3] == gw.FIRE_BEAM and beams[1, 5] == gw.FIRE_BEAM
    env.set_state([[2, 6]], [RIGHT])  # facing the east wall two cells away
    step(env, FIRE)
    beams = env.beams[0]
    assert beams[2, 7] == gw.FIRE_BEAM and beams[2, 8] == gw.FIRE_BEAM and beams[2, 9] == 0


CLEAN_MAP = [
    "@@@@@@@@@@@@",
    "@HHHH  P BB@",
    "@RRRR  P BB@",
    "@@@@@@@@@@@@",
]


@pytest.mark.parametrize("variant", VARIANTS)
def test_cleaning_removes_the_first_waste_cell_of_each_ray(variant):
    env = Cleanup(n_envs=1, n_agents=2, map=CLEAN_MAP, variant=variant, obs="grid",
                  apple_respawn_prob=0.0, waste_spawn_prob=0.0)
    env.reset(0)
    env.set_state([[1, 6], [2, 7]], [LEFT, UP])
    _, r, _ = step(env, CLEAN, STAY)
    assert r[0, 0] == 0.0  # cleaning is free
    assert env.cells[0, 1, 4] == gw.RIVER and env.cells[0, 1, 3] == gw.WASTE
    np.testing.assert_array_equal(env.cleaned[0], [1, 0])
    assert env.n_waste[0] == 3
    step(env, CLEAN, STAY)
    assert env.cells[0, 1, 3] == gw.RIVER and env.cells[0, 1, 2] == gw.WASTE
    assert env.cleaned[0, 0] == 2 and env.n_waste[0] == 2


# ------------------------------------------------------------------------------------------------
# spawning
# ------------------------------------------------------------------------------------------------
POLLUTED = [
    "@@@@@@@@@@@@",
    "@HHHH  P BB@",
    "@RRRR  P BB@",
    "@@@@@@@@@@@@",
]


@pytest.mark.parametrize("variant", VARIANTS)
def test_cleanup_polluted_river_spawns_nothing_and_cleaning_restores_apples(variant):
    E = 400
    dep = {"canonical": 0.4, "fpf_lmf": 0.7}[variant]
    rows = list(POLLUTED)
    if variant == "fpf_lmf":  # 7 of 8 cells polluted: above the 0.7 threshold
        rows[2] = "@HHHR  P BB@"
    env = Cleanup(n_envs=E, n_agents=2, map=rows, variant=variant, obs="grid")
    assert env.depletion == dep
    env.reset(0)
    for _ in range(200):
        step(env, STAY, STAY)
    assert env.n_apples.sum() == 0  # no apple while the waste density is above depletion
    assert np.all(env.n_waste == (env.cells == gw.WASTE).sum(axis=(1, 2)))
    assert np.all(env.n_waste == (4 if variant == "canonical" else 7))  # pollution does not grow
    # clean down to 2 waste cells out of 8 (density 0.25)
    cells = env.cells[0].astype(np.int16)
    river = np.isin(np.array([list(r) for r in rows]), list("HR"))
    cells[river] = gw.RIVER
    cells[1, 1] = cells[2, 1] = gw.WASTE
    env.set_state(env.positions, env.orientations, cells)
    rest = env.restoration
    p_apple = env.apple_respawn_prob * (1 - (0.25 - rest) / (dep - rest))
    step(env, STAY, STAY)
    frac = env.n_apples.sum() / (4 * E)
    sd = np.sqrt(p_apple * (1 - p_apple) / (4 * E))
    assert abs(frac - p_apple) < 4 * sd + 1e-3, (frac, p_apple)
    # waste: at most one new cell per step, with probability 0.5
    new_waste = env.n_waste - 2
    assert set(np.unique(new_waste)) <= {0, 1}
    assert abs(new_waste.mean() - 0.5) < 4 * np.sqrt(0.25 / E)


REGROW = [
    "@@@@@@@@@@@",
    "@P       P@",
    "@ A A     @",
    "@  A    A @",
    "@ AAA     @",
    "@@@@@@@@@@@",
]


def test_harvest_regrowth_counts_neighbouring_apples():
    # only points with exactly two neighbouring apples regrow (spawn_probs[2] = 1)
    env = harvest(REGROW, n=2, spawn_probs=(0, 0, 1, 0))
    env.reset(0)
    cells = empty_cells(env)
    cells[2, 2] = cells[2, 4] = gw.APPLE  # (3, 3) has two diagonal neighbours, (3, 8) none
    env.set_state([[1, 1], [1, 9]], [UP, UP], cells)
    step(env, STAY, STAY)
    c = env.cells[0]
    assert c[3, 3] == gw.APPLE and c[3, 8] == gw.FLOOR
    assert c[4, 2] == gw.FLOOR and c[4, 3] == gw.FLOOR and c[4, 4] == gw.FLOOR  # one neighbour each
    # next step (4, 2), (4, 3), (4, 4) have 1, 1, 1 neighbours: nothing more, ever
    for _ in range(20):
        step(env, STAY, STAY)
    assert env.n_apples[0] == 3


def test_harvest_default_regrowth_rates_and_a_bare_patch_never_regrows():
    E = 4000
    env = harvest(REGROW, n=2, E=E, spawn_probs=None)
    env.reset(0)
    cells = empty_cells(env)
    cells[4, 2] = cells[4, 4] = cells[3, 3] = gw.APPLE  # (4, 3): three neighbours -> 0.05
    env.set_state([[1, 1], [1, 9]], [UP, UP], cells)
    step(env, STAY, STAY)
    for (r, c), p in [((4, 3), 0.05), ((2, 2), 0.005), ((2, 4), 0.005), ((3, 8), 0.0)]:
        got = (env.cells[:, r, c] == gw.APPLE).mean()
        assert abs(got - p) <= 4 * np.sqrt(p * (1 - p) / E), ((r, c), got, p)
    # a fully harvested map never regrows
    env = harvest(REGROW, n=2, E=50, spawn_probs=None)
    env.reset(0)
    env.set_state([[1, 1], [1, 9]], [UP, UP], empty_cells(env))
    for _ in range(500):
        step(env, STAY, STAY)
    assert env.n_apples.sum() == 0


def test_the_canonical_maps_and_initial_state():
    env = Cleanup(n_envs=2, n_agents=10)
    env.reset(0)
    assert (env.height, env.width) == (25, 18)
    assert env.n_waste[0] == 56 and env.n_apples.sum() == 0  # density 56/119 > 0.4: nothing spawns
    assert env.max_steps == 1000 and env.n_actions == 9
    h = Harvest(n_envs=2, n_agents=20)
    h.reset(0)
    assert (h.height, h.width) == (16, 38) and h.n_apples[0] == 155 and h.n_actions == 8
    assert "".join(HARVEST_MAPS["canonical"]).count("A") == 155
    a = Cleanup(map="as")
    assert (a.height, a.width) == (11, 18) and a.max_steps == 100
    assert (Harvest(map="as").height, Harvest(map="as").width) == (7, 38)
    f = Cleanup(variant="fpf_lmf")
    assert (f.depletion, f.restoration, f.apple_respawn_prob, f.max_steps) == (0.7, 0.1, 0.3, 100)
    assert f.show_beams and not env.show_beams
    # distinct spawn points, on 'P' cells
    for e in range(2):
        cells = {tuple(p) for p in env.positions[e]}
        assert len(cells) == 10
        assert all(CLEANUP_MAPS["canonical"][r][c] == "P" for r, c in cells)


def test_without_fire_the_actions_are_renumbered():
    env = Cleanup(fire=False, obs="grid", map=CLEAN_MAP, n_agents=1, waste_spawn_prob=0.0,
                  apple_respawn_prob=0.0)
    assert env.n_actions == 8 and env.action_names[7] == "clean"
    env.reset(0)
    env.set_state([[1, 6]], [LEFT])
    _, r, _ = env.step(np.array([[7]]))
    assert r[0, 0] == 0 and env.cleaned[0, 0] == 1
    assert Harvest(fire=False).n_actions == 7


def test_without_rotation_agents_face_up_for_good_and_moves_are_absolute():
    env = Cleanup(n_envs=3, n_agents=3, map="lio_10x10",
                  obs="grid", fire=False, rotation=False, waste_spawn_prob=0.0, apple_respawn_prob=0.0)
    assert env.action_names == ("move_left", "move_right", "move_up", "move_down", "stay", "clean")
    rng = np.random.default_rng(0)
    env.reset(5)
    for _ in range(40):  # random play: nobody ever turns, on reset or by acting
        assert (env.orientations == UP).all()
        env.step(rng.integers(0, env.n_actions, size=(3, 3)))
    assert (env.orientations == UP).all()
    one = Cleanup(n_agents=1, map=CLEAN_MAP, obs="grid", fire=False, rotation=False,
                  waste_spawn_prob=0.0, apple_respawn_prob=0.0)
    one.reset(0)
    one.set_state([[1, 6]], [UP])
    step(one, one.action_names.index("move_down"))  # facing up, "down" is south
    assert one.positions[0, 0].tolist() == [2, 6]
    step(one, one.action_names.index("move_left"))  # and "left" is west
    assert one.positions[0, 0].tolist() == [2, 5]
    assert "rotation" in one.params() and one.params()["rotation"] is False
    with pytest.raises(ValueError, match="rotation"):
        Cleanup(rotation="no")


@pytest.mark.parametrize("map, n, view, respawn, depletion", [("lio_10x10", 3, 7, 0.3, 0.4),
                                                               ("lio_7x7", 2, 4, 0.5, 0.6)])
def test_lio_restricted_cleanup_has_lios_settings(map, n, view, respawn, depletion):
    env = Cleanup.lio(n_envs=2, map=map)
    p = env.params()
    assert (env.n_agents, env.view_radius, env.max_steps) == (n, view, 50)
    assert (p["apple_respawn_prob"], p["depletion"], p["restoration"], p["waste_spawn_prob"]) == \
        (respawn, depletion, 0.0, 0.5)
    assert not env.fire and not env.rotation and env.clean_cost == 0.0 and env.obs == "grid"
    assert env.obs_dim == (2 * view + 1) ** 2 and env.n_actions == 6
    assert (env.height, env.width) == ((10, 10) if map == "lio_10x10" else (7, 7))
    obs = env.reset(1)
    assert obs.shape == (2, n, env.obs_dim)
    total = np.zeros((2, n))
    rng = np.random.default_rng(1)
    for t in range(50):
        obs, r, done = env.step(rng.integers(0, 6, size=(2, n)))
        total += r
    assert done.all()  # 50-step episodes
    assert Cleanup.lio(map=map, max_steps=7).max_steps == 7  # overrides pass through
    with pytest.raises(ValueError, match="map"):
        Cleanup.lio(map="canonical")


# ------------------------------------------------------------------------------------------------
# observations
# ------------------------------------------------------------------------------------------------
def test_grid_view_has_forward_up_for_every_orientation():
    env = harvest(n=2)
    v = env.view_radius
    for o in range(4):
        cells = empty_cells(env)
        p = np.array([2, 4])
        ahead = p + [gw.DR[o], gw.DC[o]]
        right = p + [gw.DR[(o + 1) % 4], gw.DC[(o + 1) % 4]]
        cells[tuple(ahead)] = gw.APPLE
        env.set_state([p, right], [o, UP], cells)
        view = env.views()[0, 0]
        assert view.shape == (15, 15)
        assert view[v, v] == gw.SELF
        assert view[v - 1, v] == gw.APPLE, o
        assert view[v, v + 1] == gw.OTHER, o
        assert view[v + 1, v] == gw.FLOOR or view[v + 1, v] == gw.WALL
        # outside the map reads as wall
        assert view[0, 0] == gw.WALL


def test_rgb_view_colours():
    env = Cleanup(n_envs=1, n_agents=2, map="as", obs="rgb")
    env.reset(0)
    env.set_state([[1, 8], [2, 8]], [DOWN, UP])
    view = env.views()[0]
    assert view.shape == (2, 15, 15, 3)
    np.testing.assert_allclose(view[0, 7, 7] * 255, (0, 0, 255), atol=1e-3)    # itself, agent 0
    np.testing.assert_allclose(view[1, 7, 7] * 255, (2, 81, 154), atol=1e-3)   # itself, agent 1
    np.testing.assert_allclose(view[0, 6, 7] * 255, (2, 81, 154), atol=1e-3)   # agent 1 ahead of 0
    np.testing.assert_allclose(view[1, 6, 7] * 255, (0, 0, 255), atol=1e-3)    # agent 0 ahead of 1
    np.testing.assert_allclose(view[1, 5, 7] * 255, (180, 180, 180), atol=1e-3)  # the wall
    np.testing.assert_allclose(view[1, 4, 7] * 255, (0, 0, 0), atol=1e-3)      # outside: black


@pytest.mark.parametrize("variant,shown", [("canonical", False), ("fpf_lmf", True)])
def test_beams_in_observations_per_variant(variant, shown):
    env = harvest(n=2, variant=variant)
    env.set_state([[2, 2], [1, 7]], [RIGHT, UP])
    o, _, _ = step(env, FIRE, STAY)
    view = env.views(o)[0, 0]
    assert (view[6, 7] == gw.FIRE_BEAM) == shown


# ------------------------------------------------------------------------------------------------
# tagging out (Melting Pot's rule, off in the SSD variants)
# ------------------------------------------------------------------------------------------------
def test_tagging_out_removes_the_hit_agent_for_the_timeout():
    env = harvest(n=2, tag_timeout=3)
    env.set_state([[2, 2], [2, 4]], [RIGHT, UP])
    o, r, _ = step(env, FIRE, STAY)
    assert r[0, 1] == -50 and env.tagged[0, 1] and not env.tagged[0, 0]
    assert np.all(o[0, 1] == 0)  # observes nothing while out
    view = env.views(o)[0, 0]
    assert view[5, 7] == gw.FLOOR  # and is not seen
    _, r, _ = step(env, FIRE, FWD)  # cannot be hit or act while out
    assert r[0, 1] == 0 and env.tagged[0, 1]
    step(env, STAY, STAY)
    assert env.tagged[0, 1]
    step(env, STAY, STAY)
    assert not env.tagged[0, 1]
    assert OPEN_HARVEST[env.positions[0, 1, 0]][env.positions[0, 1, 1]] == "P"


# ------------------------------------------------------------------------------------------------
# bookkeeping and validation
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [Cleanup, Harvest])
@pytest.mark.parametrize("variant", VARIANTS)
def test_random_play_keeps_counts_consistent(cls, variant):
    env = cls(n_envs=8, n_agents=5, variant=variant, obs="grid", max_steps=60)
    env.reset(3)
    rng = np.random.default_rng(1)
    for _ in range(200):
        o, r, d = env.step(rng.integers(0, env.n_actions, (8, 5)))
        assert np.all(env.n_waste == (env.cells == gw.WASTE).sum(axis=(1, 2)))
        assert o.max() <= 9 and o.min() >= 0
    assert np.isfinite(env.last_episode_return).all()


def test_invalid_parameters_name_the_parameter():
    with pytest.raises(ValueError, match="n_agents"):
        Cleanup(n_agents=11)
    with pytest.raises(ValueError, match="n_agents"):
        Harvest(map="as", n_agents=10)
    with pytest.raises(ValueError, match="variant"):
        Cleanup(variant="old")
    with pytest.raises(ValueError, match="map"):
        Cleanup(map="small")
    with pytest.raises(ValueError, match="map"):
        Harvest(map=["@@@", "@P", "@@@"])
    with pytest.raises(ValueError, match="map"):
        Harvest(map=["@@@@", "@PX@", "@@@@"])
    with pytest.raises(ValueError, match="spawn point"):
        Harvest(map=["@@@@", "@AA@", "@@@@"])
    with pytest.raises(ValueError, match="obs"):
        Harvest(obs="pixels")
    with pytest.raises(ValueError, match="depletion"):
        Cleanup(depletion=1.5)
    with pytest.raises(ValueError, match="restoration"):
        Cleanup(depletion=0.2, restoration=0.3)
    with pytest.raises(ValueError, match="spawn_probs"):
        Harvest(spawn_probs=(0, 0.1))
    with pytest.raises(ValueError, match="tag_timeout"):
        Harvest(tag_timeout=-1)


def test_render_shows_the_map():
    env = Cleanup(n_envs=2, map="as")
    env.reset(0)
    img = env.render(1, cell=8)
    assert img.shape == (11 * 8, 18 * 8, 3) and img.dtype == np.uint8
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 5


# ------------------------------------------------------------------------------------------------
# the dilemmas, made visible by scripted agents
# ------------------------------------------------------------------------------------------------
def _scripted_returns(env, roles, steps):
    from sharelib.envs.scripted import ScriptedAgents

    agents = ScriptedAgents(env, roles)
    env.reset(0)
    total = np.zeros((env.n_envs, env.n_agents))
    for _ in range(steps):
        total += env.step(agents(env))[1]
    return total


def test_cleanup_nobody_cleaning_starves_everyone_and_cleaners_feed_the_free_riders():
    none = _scripted_returns(Cleanup(n_envs=4, obs="grid"), ["eat"] * 5, 400)
    some = _scripted_returns(Cleanup(n_envs=4, obs="grid"), ["eat"] * 3 + ["clean"] * 2, 400)
    assert none.sum() == 0
    assert some[:, :3].sum(1).min() > 50        # the eaters profit ...
    assert np.all(some[:, 3:] == 0)             # ... the cleaners earn nothing


def test_harvest_restraint_beats_greed():
    greedy = _scripted_returns(Harvest(n_envs=4, obs="grid"), ["eat"] * 5, 999)
    restrained = _scripted_returns(Harvest(n_envs=4, obs="grid"), ["restrained"] * 5, 999)
    assert restrained.sum(1).min() > 1.5 * greedy.sum(1).max()


def test_scripted_agents_validate_roles():
    from sharelib.envs.scripted import ScriptedAgents

    with pytest.raises(ValueError, match="roles"):
        ScriptedAgents(Harvest(n_agents=2), ["eat"])
    with pytest.raises(ValueError, match="roles\\[1\\]"):
        ScriptedAgents(Harvest(n_agents=2), ["eat", "sleep"])
    with pytest.raises(ValueError, match="clean"):
        ScriptedAgents(Harvest(n_agents=2), ["eat", "clean"])
