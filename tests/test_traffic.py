"""LToS's traffic scenario on SUMO (sharelib.envs.traffic): the network, the signal rules, the
reward counted independently through libsumo, seeding, and the PettingZoo adapter.

Skips when SUMO (``eclipse-sumo``, ``libsumo``; the ``traffic`` and ``test`` extras) is missing.
Episodes are short (``episode_seconds``) to keep the file fast.
"""

import gzip

import numpy as np
import pytest

libsumo = pytest.importorskip("libsumo")
pytest.importorskip("sumo")
sumolib = pytest.importorskip("sumolib")

from sharelib.envs import TrafficSignalControl  # noqa: E402
from sharelib.envs import traffic_scenario as ts  # noqa: E402
from sharelib.envs.traffic import fixed_time_actions  # noqa: E402
from sharelib.envs.traffic_sim import PHASES  # noqa: E402

SHORT = dict(episode_seconds=120)  # 12 decisions


@pytest.fixture
def env():
    e = TrafficSignalControl(n_envs=1, in_process=True, **SHORT)
    yield e
    e.close()


def _net():
    net_file, _ = ts.scenario_files()
    return sumolib.net.readNet(str(net_file))


def _tls_of_agent(i, rows=6, cols=6):
    """Our agent order, derived here on its own: row-major, row 0 the northernmost."""
    r, c = divmod(i, cols)
    return f"{chr(ord('A') + c)}{rows - 1 - r}"


def test_network_has_36_signalised_intersections_with_3_lane_100m_roads():
    net = _net()
    tls_nodes = [n for n in net.getNodes() if n.getType() == "traffic_light"]
    assert len(tls_nodes) == 36
    for edge in net.getEdges():
        assert edge.getLaneNumber() == 3
        a, b = edge.getFromNode().getCoord(), edge.getToNode().getCoord()
        assert np.hypot(a[0] - b[0], a[1] - b[1]) == pytest.approx(100.0)
    for node in tls_nodes:
        assert len(node.getIncoming()) == 4 and len(node.getOutgoing()) == 4
        # dedicated lanes: one connection per entering lane (right, straight, left)
        for edge in node.getIncoming():
            dirs = sorted(c.getDirection() for cs in edge.getOutgoing().values() for c in cs)
            assert dirs == ["l", "r", "s"]
            for c in (c for cs in edge.getOutgoing().values() for c in cs):
                assert c.getFromLane().getIndex() == {"r": 0, "s": 1, "l": 2}[c.getDirection()]


def test_routes_follow_table_2():
    _, rou = ts.scenario_files()
    text = gzip.open(rou).read().decode()
    departs = np.array([float(x.split('"')[0]) for x in text.split('depart="')[1:]])
    assert len(departs) == 2570
    counts = np.histogram(departs, bins=np.arange(0, 3601, 600))[0]
    np.testing.assert_array_equal(counts, [600, 150, 200, 1200, 120, 300])
    assert text.count("<route ") == 24


def test_shipped_files_are_what_the_generator_writes(tmp_path):
    net_file, rou_file = ts.scenario_files()
    assert net_file.parent == ts.DATA_DIR
    ts.build_network(ts.TrafficScenario(), tmp_path / "n.net.xml")
    ts.write_routes(ts.TrafficScenario(), tmp_path / "r.rou.xml.gz")

    def body(text):  # drop SUMO's "generated on ..." comment with its paths
        return text[text.index("-->"):] if text.lstrip().startswith("<?xml") and "-->" in text else text

    assert body((tmp_path / "n.net.xml").read_text()) == body(gzip.open(net_file).read().decode())
    assert gzip.open(tmp_path / "r.rou.xml.gz").read() == gzip.open(rou_file).read()


def test_four_phases_and_yellow_on_change(env, monkeypatch):
    env.reset(0)
    tls = _tls_of_agent(14)
    seen = []
    step = libsumo.simulationStep

    def recording_step(*a):
        step(*a)
        seen.append(libsumo.trafficlight.getRedYellowGreenState(tls))

    monkeypatch.setattr(libsumo, "simulationStep", recording_step)
    links = [lk[0] for lk in libsumo.trafficlight.getControlledLinks(tls)]
    greens = []
    for phase in (0, 0, 1, 2, 3):
        seen.clear()
        env.step(np.full((1, 36), phase))
        assert len(seen) == 10
        green = {k for k, ch in enumerate(seen[-1]) if ch == "G"}
        greens.append(green)
        if phase == 0:  # no change: green all along, no yellow
            assert all("y" not in s for s in seen)
        else:  # 5 s yellow on the movements that were green, then the new phase
            assert all(set(k for k, ch in enumerate(s) if ch == "y") == greens[-2] for s in seen[:5])
            assert all(s == seen[-1] for s in seen[5:])
        # right turns are always allowed, nothing else is green outside the phase
        for k, (inl, outl, _) in enumerate(links):
            if seen[-1][k] == "g":
                assert inl.endswith("_0")  # lane 0 is the right-turn lane
    assert len({frozenset(g) for g in greens[1:]}) == 4  # four distinct phases
    assert all(len(g) == 2 for g in greens)  # two movements each (PHASES)
    assert len(PHASES) == env.n_actions == 4


def test_reward_is_minus_quarter_of_waiting_vehicles_counted_through_libsumo(env, monkeypatch):
    """Count halting vehicles (speed < 0.1 m/s) on every intersection's entering lanes from
    libsumo's vehicle list after each simulated second, independently of the environment."""
    net = _net()
    lane_to_tls = {}
    for node in net.getNodes():
        if node.getType() == "traffic_light":
            for edge in node.getIncoming():
                for lane in edge.getLanes():
                    lane_to_tls[lane.getID()] = node.getID()
    agent_of = {_tls_of_agent(i): i for i in range(36)}
    counts = []
    step = libsumo.simulationStep

    def counting_step(*a):
        step(*a)
        c = np.zeros(36)
        for v in libsumo.vehicle.getIDList():
            lane = libsumo.vehicle.getLaneID(v)
            if lane in lane_to_tls and libsumo.vehicle.getSpeed(v) < 0.1:
                c[agent_of[lane_to_tls[lane]]] += 1
        counts.append(c)

    monkeypatch.setattr(libsumo, "simulationStep", counting_step)
    env.reset(1)
    rng = np.random.default_rng(0)
    total_waiting = 0.0
    for _ in range(env.max_steps - 1):
        counts.clear()
        _, r, _ = env.step(rng.integers(0, 4, size=(1, 36)))
        expected = -0.25 * np.mean(counts, axis=0)
        np.testing.assert_allclose(r[0], expected)
        total_waiting += np.sum(counts)
    assert total_waiting > 0  # random signals do make vehicles wait


def test_fixed_time_episode_vehicles_arrive_and_metrics():
    env = TrafficSignalControl(episode_seconds=300, in_process=True)
    env.reset(0)
    for k in range(env.max_steps):
        a = fixed_time_actions(k)  # 30 s per direction, straights
        assert a.shape == (1, 36) and (a == (k // 3) % 2).all()
        _, _, d = env.step(a)
    assert d[0] and env.truncated[0]
    m = env.last_metrics[0]
    assert m["departed"] == 300 and m["arrived"] > 50 and m["backlog"] == 0
    assert m["travel_time"] > 700 / 11.111  # slower than driving 7 empty roads at the limit
    assert 0 < m["red_lights"] < 5 and m["queue_length"] > 0
    # queue length is the mean of -reward / 0.25 per intersection and second
    assert m["queue_length"] == pytest.approx(-env.last_episode_return[0].sum() / 0.25
                                              / env.max_steps / 36)
    img = env.render(0)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    # auto-reset: the returned observation is the next episode's first (no vehicles yet), the
    # final one had vehicles on the lanes, and the next episode runs
    assert env.final_obs[0, :, 8:].sum() > 0
    o, _, d = env.step(fixed_time_actions(0))
    assert not d[0] and env._t[0] == 1
    env.close()


def test_other_grids_are_generated_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SHARELIB_CACHE_DIR", str(tmp_path))
    env = TrafficSignalControl(rows=2, cols=3, episode_seconds=60, in_process=True)
    o = env.reset(0)
    assert o.shape == (1, 6, 20) and env.n_agents == 6
    net_file, rou_file = ts.scenario_files(env.scenario)
    assert tmp_path in net_file.parents
    net = sumolib.net.readNet(str(net_file))
    assert sum(n.getType() == "traffic_light" for n in net.getNodes()) == 6
    assert "<route " in gzip.open(rou_file).read().decode()
    assert gzip.open(rou_file).read().decode().count("<route ") == 2 * (2 + 3)
    for k in range(env.max_steps):
        env.step(fixed_time_actions(k, n_agents=6))
    assert env.last_metrics[0]["departed"] == 60
    np.testing.assert_array_equal(env.neighbours[0, 0], [0, -1, 1, 3, -1])
    env.close()


def test_seeding_is_deterministic_and_copies_are_independent_of_n_envs():
    def run(env, seed, n=6):
        obs = [env.reset(seed)]
        rews = []
        for k in range(n):
            o, r, _ = env.step(np.full((env.n_envs, 36), k % 4))
            obs.append(o)
            rews.append(r)
        return np.array(obs), np.array(rews)

    one = TrafficSignalControl(in_process=True, **SHORT)
    a_obs, a_rew = run(one, 5)
    b_obs, b_rew = run(one, 5)
    np.testing.assert_array_equal(a_obs, b_obs)
    np.testing.assert_array_equal(a_rew, b_rew)
    c_obs, c_rew = run(one, 6)
    assert not np.array_equal(a_rew, c_rew)  # SUMO's --seed changes the drivers' dawdling
    one.close()
    two = TrafficSignalControl(n_envs=2, **SHORT)  # copy 1 in a worker process
    t_obs, t_rew = run(two, 5)
    np.testing.assert_array_equal(t_obs[:, 0], a_obs[:, 0])
    np.testing.assert_array_equal(t_rew[:, 0], a_rew[:, 0])
    assert not np.array_equal(t_rew[:, 0], t_rew[:, 1])
    two.close()


def test_neighbours_are_the_adjacent_intersections(env):
    nb = env.neighbours
    assert nb.shape == (1, 36, 5)
    np.testing.assert_array_equal(nb[0, :, 0], np.arange(36))
    for i in range(36):
        for j in nb[0, i, 1:]:
            if j >= 0:
                assert i in nb[0, j, 1:]  # symmetric
                ri, ci = divmod(i, 6)
                rj, cj = divmod(int(j), 6)
                assert abs(ri - rj) + abs(ci - cj) == 1
    assert (nb[0, :, 1:] >= 0).sum() == 2 * 2 * 6 * 5  # 120 directed road links
    assert env.obs_dim == 20 and env.max_steps == 12


def test_one_hot_phase_observation():
    env = TrafficSignalControl(in_process=True, phase_obs="one_hot", **SHORT)
    o = env.reset(0)
    assert o.shape == (1, 36, 16)
    np.testing.assert_array_equal(o[0, :, :4], np.tile([1, 0, 0, 0], (36, 1)))
    o, _, _ = env.step(np.full((1, 36), 2))
    np.testing.assert_array_equal(o[0, :, :4], np.tile([0, 0, 1, 0], (36, 1)))
    env.close()


@pytest.mark.parametrize("kw,match", [
    (dict(episode_seconds=125), "episode_seconds"),
    (dict(decision_seconds=0), "decision_seconds"),
    (dict(yellow_seconds=10), "yellow_seconds"),
    (dict(sigma=1.5), "sigma"),
    (dict(phase_obs="binary"), "phase_obs"),
    (dict(rows=0), "rows"),
    (dict(time_to_teleport=-2), "time_to_teleport"),
    (dict(n_envs=0), "n_envs"),
])
def test_parameters_are_validated(kw, match):
    with pytest.raises(ValueError, match=match):
        TrafficSignalControl(**kw)


def test_a_second_in_process_env_is_refused_and_auto_uses_a_worker():
    a = TrafficSignalControl(in_process=True, **SHORT)
    a.reset(0)
    b = TrafficSignalControl(in_process=True, **SHORT)
    with pytest.raises(RuntimeError, match="in_process"):
        b.reset(0)
    c = TrafficSignalControl(**SHORT)  # auto: copy 0 goes to a worker
    oc = c.reset(3)
    oa = a.reset(3)
    np.testing.assert_array_equal(oa, oc)
    _, ra, _ = a.step(np.ones((1, 36), dtype=np.int64))
    _, rc, _ = c.step(np.ones((1, 36), dtype=np.int64))
    np.testing.assert_array_equal(ra, rc)
    for e in (a, b, c):
        e.close()
    # an environment dropped without close() releases libsumo when it is collected
    d = TrafficSignalControl(in_process=True, **SHORT)
    d.reset(0)
    del d
    import gc
    gc.collect()
    e = TrafficSignalControl(in_process=True, **SHORT)
    e.reset(0)
    e.close()


def test_pettingzoo_api():
    pytest.importorskip("pettingzoo")
    from pettingzoo.test import parallel_api_test, parallel_seed_test

    from sharelib.envs.pettingzoo import to_parallel_env

    pz = to_parallel_env(TrafficSignalControl, episode_seconds=60)
    parallel_api_test(pz, num_cycles=20)
    pz.close()  # releases the SUMO simulation (and this process's libsumo)
    assert pz.env._handles == []
    parallel_seed_test(lambda: to_parallel_env(TrafficSignalControl, episode_seconds=60),
                       num_cycles=20)
    free = TrafficSignalControl(in_process=True, **SHORT)  # the seed test closed its envs
    free.reset(0)
    free.close()
