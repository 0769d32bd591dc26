r"""One copy of the traffic scenario running in SUMO through libsumo, and the worker process that
hosts a copy (libsumo holds one simulation per process).

:class:`GridSimulation` is what :class:`sharelib.envs.traffic.TrafficSignalControl` drives, one
per copy. It follows the LToS/CoLight code (``../shared/specs/ltos_d3c_as_cedos_reference_notes.md``
1.3):

- Actions: phase index 0-3 = WSES, NSSS, WLEL, NLSL (W and E straight, N and S straight, W and E
  left, N and S left); right turns are always allowed (SUMO ``g``: they yield to conflicting
  green traffic). :data:`PHASES` lists the movements.
- A decision lasts ``decision_seconds`` (10). If the chosen phase differs from the current one,
  the movements that were green turn yellow (``y``; the others red, rights ``g``) for
  ``yellow_seconds`` (5) and the new phase is green for the rest; otherwise it stays green. No
  all-red time. At the start of an episode every signal shows phase 0 (WSES), as if chosen before
  t = 0.
- Reward of intersection i: ``-reward_scale`` (0.25) x the number of vehicles halting (speed <
  0.1 m/s, SUMO's ``getLastStepHaltingNumber``, read per entering road, all of whose lanes
  enter the intersection; the same threshold as CityFlow's
  ``get_lane_waiting_vehicle_count``) on its 12 entering lanes, measured after every simulated
  second and averaged over the decision's seconds (the code's ``MEASURE_TIME = 10`` average).
- Observation of intersection i (20 numbers): the current phase as CoLight's 8 movement flags
  (``ANON_PHASE_REPRE``; order WL, WS, EL, ES, NL, NS, SL, SS, see :data:`MOVEMENTS`), or a
  4-dim one-hot with ``phase_obs="one_hot"``, then the number of vehicles on each entering lane,
  approaches N, E, S, W, lanes left, straight, right (:data:`LANE_ORDER`).
- Episode metrics from SUMO's trip information (``--tripinfo-output`` with unfinished trips):
  ``travel_time`` (mean over vehicles that entered; vehicles still driving at the end count up to
  the end, CoLight's convention), ``red_lights`` (Table 3's "average number of red lights one
  vehicle waits for at per intersection": SUMO's per-vehicle ``waitingCount``, the number of times
  it came to a halt, divided by the intersections on its route, averaged over the vehicles that
  completed their trip), ``waiting_time`` (seconds halted per vehicle), ``queue_length`` (halting
  vehicles on an intersection's entering lanes, averaged over seconds and intersections),
  ``departed``, ``arrived``, ``backlog`` (vehicles still waiting to enter at the end).
"""

from __future__ import annotations

import tempfile
import traceback
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from .traffic_scenario import (TURNS, TrafficScenario, _neighbours_by_direction,
                               departure_times, node_id, scenario_files, sumo_binary)

__all__ = ["GridSimulation", "PHASES", "PHASE_NAMES", "MOVEMENTS", "LANE_ORDER", "worker_main", "worker_cli"]

PHASE_NAMES = ("WSES", "NSSS", "WLEL", "NLSL")
#: Green movements (approach side, turn) of each phase; the vehicles come *from* that side.
PHASES = ((("W", "s"), ("E", "s")), (("N", "s"), ("S", "s")),
          (("W", "l"), ("E", "l")), (("N", "l"), ("S", "l")))
#: CoLight's movement order of the 8-flag phase representation.
MOVEMENTS = (("W", "l"), ("W", "s"), ("E", "l"), ("E", "s"),
             ("N", "l"), ("N", "s"), ("S", "l"), ("S", "s"))
#: Order of the 12 entering lanes in the observation: (approach side, turn).
LANE_ORDER = tuple((side, turn) for side in "NESW" for turn in "lsr")
_OWNER = [None]  # id of the GridSimulation holding this process's libsumo simulation


class GridSimulation:
    """One SUMO simulation of ``scenario`` (see the module doc for the rules).

    Only one can be running per process (libsumo); :meth:`reset` takes over the process's
    simulation, so the batched environment gives every further copy its own worker process.
    """

    def __init__(self, scenario: TrafficScenario, episode_seconds=3600, decision_seconds=10,
                 yellow_seconds=5, reward_scale=0.25, time_to_teleport=-1,
                 phase_obs="movements", workdir=None):
        import libsumo  # noqa: F401 - fail early, in the process that will run it
        self.sc = scenario
        self.episode_seconds = int(episode_seconds)
        self.decision_seconds = int(decision_seconds)
        self.yellow_seconds = int(yellow_seconds)
        self.reward_scale = float(reward_scale)
        self.time_to_teleport = int(time_to_teleport)
        self.phase_obs = phase_obs
        self.net_file, self.route_file = scenario_files(scenario)
        self._tmp = tempfile.TemporaryDirectory(prefix="sharelib-sumo-", dir=workdir)
        self.tripinfo_file = Path(self._tmp.name, "tripinfo.xml")
        n = scenario.n_intersections
        # intersection i = row * cols + col with row 0 the northernmost (so reshape(rows, cols)
        # draws the grid as a map); SUMO's y index counts from the south
        self.tls_ids = [node_id(i % scenario.cols, scenario.rows - 1 - i // scenario.cols)
                        for i in range(n)]
        self.lanes = self._entering_lanes()  # (n, 12) lane ids in LANE_ORDER
        self._flat_lanes = [lane for row in self.lanes for lane in row]
        # all lanes of an entering road enter the intersection: one read per road, not per lane
        self._flat_edges = [row[k].rsplit("_", 1)[0] for row in self.lanes for k in (0, 3, 6, 9)]
        self.phase = np.zeros(n, dtype=np.int64)
        self._running = False
        self._states = None

    # -- network bookkeeping ------------------------------------------------------------------
    def _xy(self, i):
        return i % self.sc.cols, self.sc.rows - 1 - i // self.sc.cols

    def _entering_lanes(self):
        out = []
        for i in range(self.sc.n_intersections):
            col, y = self._xy(i)
            me, nb = node_id(col, y), _neighbours_by_direction(col, y, self.sc.rows, self.sc.cols)
            lane_index = {"r": 0, "s": 1, "l": 2}
            out.append([f"{nb[side]}{me}_{lane_index[turn]}" for side, turn in LANE_ORDER])
        return out

    def _phase_states(self):
        """Per intersection: green and yellow signal strings of the 4 phases, from SUMO's own
        link indices (``getControlledLinks``)."""
        import libsumo as ls
        green, yellow = [], []
        for i, tls in enumerate(self.tls_ids):
            col, y = self._xy(i)
            nb = _neighbours_by_direction(col, y, self.sc.rows, self.sc.cols)
            side_of = {f"{nb[s]}{tls}": s for s in nb}
            out_side = {f"{tls}{nb[s]}": s for s in nb}
            moves = []
            for links in ls.trafficlight.getControlledLinks(tls):
                (in_lane, out_lane, _), = links  # one connection per link: dedicated lanes
                side = side_of[in_lane.rsplit("_", 1)[0]]
                to = out_side[out_lane.rsplit("_", 1)[0]]
                turn = next(t for t, s in TURNS[side].items() if s == to)
                moves.append((side, turn))
            g_row, y_row = [], []
            for p in PHASES:
                g = "".join("g" if t == "r" else ("G" if (s, t) in p else "r") for s, t in moves)
                g_row.append(g)
                y_row.append(g.replace("G", "y"))
            green.append(g_row)
            yellow.append(y_row)
        return green, yellow

    # -- simulation ------------------------------------------------------------------------------
    def sumo_args(self, seed: int) -> list[str]:
        """The ``sumo`` command line of an episode with SUMO's ``--seed``."""
        return [sumo_binary("sumo"), "--net-file", str(self.net_file),
                "--route-files", str(self.route_file), "--seed", str(int(seed)),
                "--step-length", "1", "--end", str(self.episode_seconds),
                "--time-to-teleport", str(self.time_to_teleport),
                "--tripinfo-output", str(self.tripinfo_file),
                "--tripinfo-output.write-unfinished", "true",
                "--no-step-log", "true", "--no-warnings", "true", "--duration-log.disable", "true"]

    def reset(self, seed: int) -> np.ndarray:
        """Start an episode with SUMO seed ``seed``; return the first observation ``(n, obs_dim)``."""
        import libsumo as ls
        self.close()
        ls.start(self.sumo_args(seed))
        _OWNER[0] = id(self)
        self._running = True
        if self._states is None:
            self._states = self._phase_states()
        self.phase[:] = 0
        for i, tls in enumerate(self.tls_ids):
            ls.trafficlight.setRedYellowGreenState(tls, self._states[0][i][0])
        self.time = 0
        self.decisions = 0
        self._queue_sum = 0.0
        return self.observe()

    def lane_halting(self) -> np.ndarray:
        """Vehicles halting on each entering lane now, float ``(n, 12)`` (zeros when stopped)."""
        import libsumo as ls
        n = len(self.tls_ids)
        if not self._running or _OWNER[0] != id(self):
            return np.zeros((n, 12))
        halt = ls.lane.getLastStepHaltingNumber
        return np.array([halt(lane) for lane in self._flat_lanes], dtype=np.float64).reshape(n, 12)

    def _check_owner(self):
        if not self._running or _OWNER[0] != id(self):
            raise RuntimeError("this simulation is not running in this process (libsumo holds one "
                               "simulation per process and another one was started): reset it")

    def observe(self) -> np.ndarray:
        import libsumo as ls
        n = len(self.tls_ids)
        count = ls.lane.getLastStepVehicleNumber
        veh = np.array([count(lane) for lane in self._flat_lanes], dtype=np.float32).reshape(n, 12)
        if self.phase_obs == "one_hot":
            ph = np.zeros((n, 4), dtype=np.float32)
            ph[np.arange(n), self.phase] = 1.0
        else:
            flags = np.array([[float(m in p) for m in MOVEMENTS] for p in PHASES], dtype=np.float32)
            ph = flags[self.phase]
        return np.concatenate([ph, veh], axis=1)

    def step(self, actions, next_seed=None):
        """One decision: apply ``actions`` (int ``(n,)``), simulate ``decision_seconds``.

        Returns ``(obs, rewards, done, final_obs, metrics)``; when the episode ends, ``final_obs``
        and ``metrics`` are set and, if ``next_seed`` is given, the next episode has started and
        ``obs`` is its first observation.
        """
        import libsumo as ls
        self._check_owner()
        actions = np.asarray(actions, dtype=np.int64)
        changed = np.flatnonzero(actions != self.phase)
        green, yellow = self._states
        set_state = ls.trafficlight.setRedYellowGreenState
        halt = ls.edge.getLastStepHaltingNumber
        edges = self._flat_edges
        n = len(self.tls_ids)
        if self.yellow_seconds > 0:
            for i in changed:
                set_state(self.tls_ids[i], yellow[i][self.phase[i]])
        self.phase[:] = actions
        total = np.zeros(n, dtype=np.float64)
        for s in range(self.decision_seconds):
            if s == self.yellow_seconds or (self.yellow_seconds == 0 and s == 0):
                for i in changed:
                    set_state(self.tls_ids[i], green[i][actions[i]])
            ls.simulationStep()
            total += np.array([halt(e) for e in edges], dtype=np.float64).reshape(n, 4).sum(axis=1)
        self.time += self.decision_seconds
        self.decisions += 1
        self._queue_sum += total.sum()
        rewards = -self.reward_scale * total / self.decision_seconds
        obs = self.observe()
        done = self.time >= self.episode_seconds
        final_obs = metrics = None
        if done:
            final_obs = obs
            metrics = self.finish()
            if next_seed is not None:
                obs = self.reset(next_seed)
        return obs, rewards, done, final_obs, metrics

    def finish(self) -> dict:
        """End the episode (closing SUMO) and return its metrics (module doc)."""
        seconds = max(self.time, 1)
        queue = self._queue_sum / (seconds * len(self.tls_ids))
        self.close()
        scheduled = int(np.sum(departure_times(self.sc.periods) < self.time))
        return dict(trip_metrics(self.tripinfo_file, self.sc.rows, self.sc.cols, scheduled),
                    queue_length=float(queue), seconds=int(self.time))

    def close(self):
        import libsumo as ls
        if self._running:
            if _OWNER[0] == id(self):
                ls.close()
                _OWNER[0] = None
            self._running = False


def trip_metrics(tripinfo_file, rows, cols, scheduled) -> dict:
    """Travel time, red lights per intersection and waiting time from a tripinfo file;
    ``scheduled`` vehicles were due to depart in the episode (the rest of them, never inserted,
    are the ``backlog``: SUMO writes no trip information for them)."""
    n_arrived = n_entered = 0
    travel = wait = red = 0.0
    for _, el in ET.iterparse(tripinfo_file):
        if el.tag != "tripinfo":
            continue
        a = el.attrib
        el.clear()
        if float(a["depart"]) < 0:  # never entered the network
            continue
        n_entered += 1
        travel += float(a["duration"])
        wait += float(a["waitingTime"])
        if float(a["arrival"]) >= 0:
            n_arrived += 1
            # straight routes cross a whole row (cols junctions) or column (rows junctions)
            k = cols if a["departLane"].startswith(("left", "right")) else rows
            red += float(a["waitingCount"]) / k
    nan = float("nan")
    return dict(travel_time=travel / n_entered if n_entered else nan,
                waiting_time=wait / n_entered if n_entered else nan,
                red_lights=red / n_arrived if n_arrived else nan,
                departed=n_entered, arrived=n_arrived, backlog=int(scheduled) - n_entered)


# ----------------------------------------------------------------------------------------------
# worker process
# ----------------------------------------------------------------------------------------------
def worker_main(recv, send):
    """Host one :class:`GridSimulation` built from the keyword arguments first received on
    ``recv``, then serve ``(command, args)`` requests: ``("reset", seed)``, ``("step", (actions,
    next_seed))``, ``("halting", None)``, ``("close", None)``. Replies on ``send`` with ``("ok",
    result)`` or ``("error", traceback text)``."""
    try:
        sim = GridSimulation(**recv.recv())
        send.send(("ok", None))
    except BaseException:  # noqa: BLE001 - reported to the parent
        send.send(("error", traceback.format_exc()))
        return
    while True:
        try:
            cmd, arg = recv.recv()
        except EOFError:  # the parent went away
            break
        try:
            if cmd == "reset":
                out = sim.reset(arg)
            elif cmd == "step":
                out = sim.step(*arg)
            elif cmd == "halting":
                out = sim.lane_halting()
            elif cmd == "close":
                sim.close()
                send.send(("ok", None))
                break
            else:
                raise ValueError(f"unknown command {cmd!r}")
            send.send(("ok", out))
        except BaseException:  # noqa: BLE001
            send.send(("error", traceback.format_exc()))
    sim.close()


def worker_cli(recv_fd: int, send_fd: int):
    """Entry point of a worker interpreter started by :class:`sharelib.envs.traffic`."""
    from multiprocessing.connection import Connection
    worker_main(Connection(recv_fd, writable=False), Connection(send_fd, readable=False))
