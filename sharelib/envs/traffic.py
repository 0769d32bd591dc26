r"""LToS's *traffic*: signal control on the 6 x 6 grid (Yi et al. 2022, Sec. 5.3, Table 2,
Table 3, Fig. 7), simulated by SUMO, batched over copies in our :class:`MultiAgentEnv` interface.

The scenario
------------
"In a road network, each agent serves as traffic signal control at an intersection. The
observation of an agent consists of a one-hot representation of its current phase [...] and the
number of vehicles on each incoming lane of the intersection. At each timestep, an agent chooses a
phase from the pre-defined phase set for the next time interval, i.e., 10 seconds. The reward is
set to be the negative of the sum of the queue lengths of all approaching lanes" (Sec. 5.3). The
constants are those of the authors' code and data files
(``../shared/specs/ltos_d3c_as_cedos_reference_notes.md`` 1.3):

- 36 agents, one per intersection of a 6 x 6 grid of 100-m roads with three lanes (left,
  straight, right) per direction; flows of Table 2 (2570 vehicles in 3600 s on 24 straight
  routes, peaks at 0-600 s and 1800-2400 s). Files: :mod:`sharelib.envs.traffic_scenario`.
- 4 actions = phases WSES, NSSS, WLEL, NLSL; one decision every 10 s, 5 s of yellow when the
  phase changes; reward -0.25 x halting vehicles on the entering lanes, averaged over the 10 s;
  observation: 8 movement flags of the phase (CoLight's code; ``phase_obs="one_hot"`` gives the
  paper's 4-dim one-hot) and vehicles on each of the 12 entering lanes (``obs_dim`` 20 or 16).
  3600-s episodes (360 decisions), no terminal state. Rules and metrics:
  :mod:`sharelib.envs.traffic_sim`.
- :attr:`TrafficSignalControl.neighbours`: int ``(E, n, 5)``, each intersection itself and its
  road-connected neighbours to the N, E, S, W, ``-1`` where the grid ends (CoLight's
  ``TOP_K_ADJACENCY = 5`` padded with -1); the same graph for reward sharing and attention.
- Metrics of each copy's last finished episode in :attr:`TrafficSignalControl.last_metrics`:
  ``red_lights`` (Table 3's metric, our reading: halts per vehicle per intersection),
  ``travel_time``, ``waiting_time``, ``queue_length``, ``departed``, ``arrived``, ``backlog``.
- :meth:`TrafficSignalControl.plot_queues` draws the network coloured by queue length;
  :meth:`render` returns that picture as an RGB array.

Copies and processes
--------------------
Each copy is one SUMO simulation run in-process by libsumo (direct reads of the entering roads
every second; TraCI over a socket was measured 5-30x slower in issue 19, not used here). libsumo
holds one simulation per process, so copy 0 runs in this process (when no other environment here holds libsumo; ``in_process``) and every further copy in
its own worker process (a fresh interpreter on two pipes); a step sends the actions to all workers
first, then steps copy 0 here, then collects, so copies run in parallel. ``close()`` (or the
garbage collector) stops the workers.

Seeding: ``reset(seed)`` gives copy ``e`` the per-copy stream of the base class; every episode of
a copy (including auto-resets) draws SUMO's ``--seed`` from that stream, so a copy's trajectory
depends on ``(seed, e)`` and the actions only. The flows themselves are one fixed file
(``flow_seed``), as the paper's data file is; SUMO's randomness is the drivers' imperfection
(``sigma``) and the order of insertions.

Reference numbers (measured with this code, SUMO 1.28.0, full 3600-s episodes, seeds 0 and 1)
-----------------------------------------------------------------------------------------------
- Fixed-time plan (:func:`fixed_time_actions`: W-E then N-S straight, 30 s each): ``red_lights``
  0.41, ``travel_time`` 151 s, ``queue_length`` 1.1, 2502 of 2570 vehicles arrived, return per
  agent -99.5.
- Uniform random phases: ``red_lights`` 1.88 / 1.92, ``travel_time`` 590 / 610 s,
  ``queue_length`` 7.7 / 8.0, about 1930 arrived, return per agent -691 / -723.
- Without dawdling (``sigma=0``, closer to CityFlow): fixed-time ``red_lights`` 0.37,
  ``travel_time`` 138 s, identical for both seeds (nothing random is left); random phases
  ``red_lights`` 1.61 / 1.65, ``travel_time`` 533 s, about 2140 arrived. Dawdling alone thus
  adds 9-13 % to travel times and 10-17 % to red lights under these two policies.

The fixed-time plan's 0.41 is below the paper's "loose lower bound 0.50" of Table 3, so either the
paper's metric is not our reading (halts per vehicle and intersection) or CityFlow's dynamics
(below) make more vehicles stop; Table 3's absolute values are not comparable with ours.

SUMO versus CityFlow (what the paper used)
------------------------------------------
The authors ran CityFlow (Zhang et al. 2019). The two simulators differ where it matters for
queue-based rewards, so absolute numbers (Table 3's 0.58 for LToS, the 0.50 "lower bound") are not
expected to carry over; orderings of methods may, and are what we compare.

- Car following. SUMO's default is Krauss's model: the safe speed from the leader's gap and the
  driver's reaction time ``tau`` (here 2 s, the data file's ``headwayTime``), plus a random
  slowdown ("dawdling") of up to ``sigma x accel`` each second (``sigma`` 0.5 by default).
  CityFlow's car following (``Vehicle::getCarFollowSpeed``) is, as we read its paper, also a
  safe-speed model driven by the same per-vehicle parameters (usual/maximum acceleration and
  deceleration, headway time, minimum gap), but deterministic: no dawdling (not checked line by
  line here). Dawdling lowers the saturation flow
  a green light discharges and makes queues stochastic, so SUMO's queues are longer and noisier for
  the same signal plan, and a policy's return varies across seeds. ``sigma=0`` removes dawdling
  and brings SUMO closer to CityFlow.
- Lane changing. SUMO's LC2013 changes lanes for strategic reasons (to reach a lane that continues
  the route), to cooperate, to gain speed and to keep right. CityFlow, as the CoLight/LToS configs
  run it, does not change lanes: a vehicle enters each road on a lane that leads where it goes.
  We give the vehicles ``lcSpeedGain = lcKeepRight = 0`` (only strategic and cooperative changes
  remain) and dedicated turn lanes; with the straight routes of Table 2 vehicles enter on the
  straight lane and hardly ever change. With LC2013's speed-gain changes on, vehicles would use
  the turn lanes to overtake, and queues at the stop line would form differently.
- Yellow. CityFlow's "yellow" is its phase 0, right turns only: through and left traffic stop at
  once. SUMO's ``y`` lets a vehicle that cannot stop comfortably pass, so a phase change wastes
  slightly less of the 5 s.
- Geometry. SUMO's junctions take room: with six 4-m lanes per road a junction is 24 m wide, so a
  lane between two junctions is 68 m long (about 9 queued vehicles), where CityFlow's roads run
  nearly centre to centre; queues spill back to the upstream junction earlier. Right turns on red
  yield to conflicting traffic in SUMO (``g``); CityFlow's right-turn links are never blocked by
  the signal either.
- Gridlock. SUMO would teleport a vehicle stuck for 300 s; we turn that off
  (``time_to_teleport=-1``), as CityFlow never teleports, so jammed policies stay jammed (the QMIX
  pattern of Sec. 5.3) rather than having their jams removed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import weakref
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from ..experiments import check_bool, check_choice, check_float, check_int
from .base import MultiAgentEnv, end_step, rng_integer
from .traffic_scenario import TrafficScenario, sumo_home
from .traffic_sim import LANE_ORDER, PHASE_NAMES, GridSimulation, worker_main

__all__ = ["TrafficSignalControl", "fixed_time_actions"]

_IN_PROCESS = [None]  # weak reference to the environment whose copy 0 uses this process's libsumo


def fixed_time_actions(decision: int, n_envs: int = 1, n_agents: int = 36,
                       green_decisions: int = 3, phases=(0, 1)) -> np.ndarray:
    """A fixed-time plan, the classic baseline of signal control: every intersection shows
    ``phases`` in turn, each for ``green_decisions`` decisions (default: W-E straight, then N-S
    straight, 30 s each). Returns the int actions ``(n_envs, n_agents)`` of decision ``decision``
    (0, 1, ... within the episode)."""
    decision = check_int("decision", decision, min=0)
    green_decisions = check_int("green_decisions", green_decisions, min=1)
    phases = tuple(check_int("phases[]", p, min=0, max=3) for p in phases)
    if not phases:
        raise ValueError("phases must list at least one phase in [0, 3]; got ()")
    p = phases[(decision // green_decisions) % len(phases)]
    return np.full((check_int("n_envs", n_envs, min=1), check_int("n_agents", n_agents, min=1)),
                   p, dtype=np.int64)


class _Local:
    """Copy run in this process; ``submit`` only records the call so that workers go first."""

    def __init__(self, kwargs):
        self.sim = GridSimulation(**kwargs)
        self._call = None

    def submit(self, cmd, arg):
        self._call = (cmd, arg)

    def result(self):
        cmd, arg = self._call
        self._call = None
        if cmd == "reset":
            return self.sim.reset(arg)
        if cmd == "step":
            return self.sim.step(*arg)
        if cmd == "halting":
            return self.sim.lane_halting()
        raise ValueError(cmd)

    def close(self):
        self.sim.close()


class _Remote:
    """Copy run by :func:`sharelib.envs.traffic_sim.worker_main` in a worker process.

    The worker is a fresh interpreter (``python -c``) talking over two pipes, not a
    ``multiprocessing`` child: a fork would copy this process's libsumo state, and "spawn" would
    re-run the user's ``__main__`` script (which then needs an ``if __name__ == "__main__"``
    guard)."""

    def __init__(self, kwargs):
        down_r, down_w = os.pipe()  # parent -> worker
        up_r, up_w = os.pipe()  # worker -> parent
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # import this very sharelib
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.setdefault("NUMBA_NUM_THREADS", "1")
        code = ("import sys; from sharelib.envs.traffic_sim import worker_cli; "
                "worker_cli(int(sys.argv[1]), int(sys.argv[2]))")
        self.proc = subprocess.Popen([sys.executable, "-c", code, str(down_r), str(up_w)],
                                     pass_fds=(down_r, up_w), env=env)
        os.close(down_r)
        os.close(up_w)
        self.send = Connection(down_w, readable=False)
        self.recv = Connection(up_r, writable=False)
        self.send.send(kwargs)
        self.result()  # the worker built its simulation (or reports why not)

    def submit(self, cmd, arg):
        self.send.send((cmd, arg))

    def result(self):
        try:
            status, out = self.recv.recv()
        except EOFError:
            raise RuntimeError(f"SUMO worker exited (code {self.proc.poll()})") from None
        if status != "ok":
            raise RuntimeError(f"SUMO worker failed:\n{out}")
        return out

    def close(self):
        try:
            self.send.send(("close", None))
            self.recv.recv()
        except (OSError, EOFError):
            pass
        for c in (self.send, self.recv):
            c.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class TrafficSignalControl(MultiAgentEnv):
    """LToS's traffic signal control on SUMO (Sec. 5.3), ``n_envs`` copies; see the module doc.

    Parameters
    ----------
    n_envs : int
        Copies (SUMO simulations); copies after the first run in worker processes.
    rows, cols : int
        Grid size (6 x 6: 36 agents).
    episode_seconds : int
        Simulated seconds per episode (3600); a multiple of ``decision_seconds``. Shorter
        episodes (tests) use the first seconds of the same flows.
    decision_seconds, yellow_seconds : int
        Seconds per decision (10) and of yellow on a phase change (5), ``0 <= yellow <
        decision``.
    reward_scale : float
        Reward per halting vehicle on an entering lane (0.25, as ``-0.25 x`` count).
    sigma : float
        Krauss driver imperfection in [0, 1] (SUMO's 0.5).
    flow_seed : int
        Seed of the fixed flow file (routes and vehicle parameters).
    phase_obs : {"movements", "one_hot"}
        The phase as CoLight's 8 movement flags (the authors' code) or a 4-dim one-hot.
    time_to_teleport : int
        SUMO's ``--time-to-teleport`` in seconds; -1 (default) never teleports, as CityFlow.
    in_process : bool or None
        Run copy 0 in this process (libsumo); None: if no other environment here does.
    """

    name = "traffic"
    n_actions = 4
    n_neighbours = 5  # slots of :attr:`neighbours` (self + N, E, S, W)
    action_names = PHASE_NAMES
    obs_low = 0.0
    obs_high = float("inf")

    def __init__(self, n_envs: int = 1, rows: int = 6, cols: int = 6, episode_seconds: int = 3600,
                 decision_seconds: int = 10, yellow_seconds: int = 5, reward_scale: float = 0.25,
                 sigma: float = 0.5, flow_seed: int = 0, phase_obs: str = "movements",
                 time_to_teleport: int = -1, in_process: bool | None = None):
        sumo_home()  # ImportError with the install hint if SUMO is missing
        try:
            import libsumo  # noqa: F401
        except ImportError as exc:
            raise ImportError("the traffic environment needs libsumo: pip install "
                              "'sharelib[traffic]' (eclipse-sumo and libsumo from PyPI)") from exc
        self.scenario = TrafficScenario(rows=check_int("rows", rows, min=1, max=26),
                                        cols=check_int("cols", cols, min=1, max=26),
                                        flow_seed=check_int("flow_seed", flow_seed, min=0),
                                        sigma=check_float("sigma", sigma, min=0.0, max=1.0))
        self.rows, self.cols = self.scenario.rows, self.scenario.cols
        self.n_agents = self.rows * self.cols
        self.decision_seconds = check_int("decision_seconds", decision_seconds, min=1)
        self.yellow_seconds = check_int("yellow_seconds", yellow_seconds, min=0,
                                        max=self.decision_seconds - 1)
        self.episode_seconds = check_int("episode_seconds", episode_seconds,
                                         min=self.decision_seconds)
        if self.episode_seconds % self.decision_seconds:
            raise ValueError(f"episode_seconds must be a multiple of decision_seconds = "
                             f"{self.decision_seconds}; got {self.episode_seconds}")
        self.reward_scale = check_float("reward_scale", reward_scale, min=0.0)
        self.sigma = self.scenario.sigma
        self.flow_seed = self.scenario.flow_seed
        self.phase_obs = check_choice("phase_obs", phase_obs, ("movements", "one_hot"))
        self.time_to_teleport = check_int("time_to_teleport", time_to_teleport, min=-1)
        if in_process is not None:
            check_bool("in_process", in_process)
        self.max_steps = self.episode_seconds // self.decision_seconds
        self.obs_dim = (8 if self.phase_obs == "movements" else 4) + len(LANE_ORDER)
        self._in_process_request = in_process
        self._handles = []
        super().__init__(n_envs)

    def params(self) -> dict:
        return dict(rows=self.rows, cols=self.cols, episode_seconds=self.episode_seconds,
                    decision_seconds=self.decision_seconds, yellow_seconds=self.yellow_seconds,
                    reward_scale=self.reward_scale, sigma=self.sigma, flow_seed=self.flow_seed,
                    phase_obs=self.phase_obs, time_to_teleport=self.time_to_teleport)

    def _sim_kwargs(self) -> dict:
        return dict(scenario=self.scenario, episode_seconds=self.episode_seconds,
                    decision_seconds=self.decision_seconds, yellow_seconds=self.yellow_seconds,
                    reward_scale=self.reward_scale, time_to_teleport=self.time_to_teleport,
                    phase_obs=self.phase_obs)

    # -- graph -------------------------------------------------------------------------------------
    def _allocate(self):
        n, c = self.n_agents, self.cols
        nbr = np.full((n, 5), -1, dtype=np.int64)
        for i in range(n):
            r, k = divmod(i, c)
            nbr[i, 0] = i
            if r > 0:
                nbr[i, 1] = i - c  # north (row 0 is the northernmost)
            if k + 1 < c:
                nbr[i, 2] = i + 1  # east
            if r + 1 < self.rows:
                nbr[i, 3] = i + c  # south
            if k > 0:
                nbr[i, 4] = i - 1  # west
        self._nbr = np.broadcast_to(nbr, (self.n_envs, n, 5))
        self.last_metrics = [None] * self.n_envs

    @property
    def neighbours(self) -> np.ndarray:
        """Self, then the N, E, S, W neighbours of each intersection, ``-1`` where missing; int
        ``(E, n, 5)`` (the same in every copy and state). Intersection ``i = row * cols + col``,
        row 0 the northernmost."""
        return self._nbr.copy()

    # -- processes ---------------------------------------------------------------------------------
    def _start(self):
        if self._handles:
            return
        holder = _IN_PROCESS[0]() if _IN_PROCESS[0] is not None else None
        free = holder is None or holder is self
        if self._in_process_request and not free:
            raise RuntimeError("in_process=True, but another TrafficSignalControl in this process "
                               "holds libsumo's simulation: close() it or pass in_process=False")
        local = free if self._in_process_request is None else self._in_process_request
        kw = self._sim_kwargs()
        handles = []
        try:
            for e in range(self.n_envs):
                if e == 0 and local:
                    handles.append(_Local(kw))
                    _IN_PROCESS[0] = weakref.ref(self)
                else:
                    handles.append(_Remote(kw))
        except BaseException:
            for h in handles:
                h.close()
            raise
        self._handles = handles
        self._finalizer = weakref.finalize(self, TrafficSignalControl._close_handles, handles)

    @staticmethod
    def _close_handles(handles):
        for h in handles:
            h.close()
        holder = _IN_PROCESS[0]
        if holder is not None and (holder() is None or any(isinstance(h, _Local) for h in handles)):
            _IN_PROCESS[0] = None

    def close(self) -> None:
        """Stop the SUMO simulations and worker processes (a later ``reset`` starts them again)."""
        if self._handles:
            self._finalizer()
            self._handles = []
            self._has_reset = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- kernels (Python here: the work is SUMO's) -------------------------------------------------
    def _reset_kernel(self, mask):
        self._start()
        E = self.n_envs
        seeds = [int(rng_integer(self._rng, e, 2**31 - 1)) for e in range(E)]
        for e in range(E):
            self._handles[e].submit("reset", seeds[e])
        for e in range(E):
            self._obs[e] = self._handles[e].result()
        self._done[:] = False

    def _step_kernel(self, actions):
        E = self.n_envs
        for e in range(E):
            last = self._t[e] + 1 >= self.max_steps
            seed = int(rng_integer(self._rng, e, 2**31 - 1)) if last else None
            self._handles[e].submit("step", (actions[e], seed))
        for e in range(E):
            obs, rew, done, final_obs, metrics = self._handles[e].result()
            self._rew[e] = rew
            if end_step(e, self._I, self._F, self._B, self.max_steps, False):
                self.final_obs[e] = final_obs
                self.last_metrics[e] = metrics
                self._I[e, 0] = 0
            self._obs[e] = obs

    # -- rendering ---------------------------------------------------------------------------------
    def halting(self, env_index: int = 0) -> np.ndarray:
        """Vehicles halting on each entering lane after the last simulated second, float
        ``(n, 12)`` in :data:`~sharelib.envs.traffic_sim.LANE_ORDER`."""
        e = self._check_env_index(env_index)
        if not self._has_reset:
            raise RuntimeError("call reset(seed) before halting()")
        self._handles[e].submit("halting", None)
        return self._handles[e].result()

    def plot_queues(self, env_index: int = 0, ax=None, vmax: float = 9.0, queues=None,
                    t: int | None = None):
        """The grid with each approach coloured by its queue (halting vehicles on its 3 entering
        lanes) and each intersection by its total queue; returns the Figure. ``queues``: a
        recorded :meth:`halting` array ``(n, 12)`` to draw instead of copy ``env_index``'s
        current state (``t``: its time in seconds, for the title)."""
        import matplotlib
        import matplotlib.pyplot as plt
        from matplotlib.collections import LineCollection

        if queues is None:
            q = self.halting(env_index)
            t = self._t[env_index] * self.decision_seconds
        else:
            q = np.asarray(queues, dtype=np.float64)
            if q.shape != (self.n_agents, len(LANE_ORDER)):
                raise ValueError(f"queues must have shape ({self.n_agents}, {len(LANE_ORDER)}); got {q.shape}")
        if ax is None:
            fig, ax = plt.subplots(figsize=(4.2, 4.0))
        else:
            fig = ax.figure
        cmap = matplotlib.colormaps["RdYlGn_r"]
        norm = matplotlib.colors.Normalize(0.0, vmax)
        # approach from side s ends at the intersection; drawn on the right-hand side of travel
        away = {"N": (0.0, 1.0), "E": (1.0, 0.0), "S": (0.0, -1.0), "W": (-1.0, 0.0)}
        segs, vals = [], []
        for i in range(self.n_agents):
            r, c = divmod(i, self.cols)
            x, y = float(c), float(-r)
            for k, side in enumerate("NESW"):
                dx, dy = away[side]
                ox, oy = dy * 0.08, -dx * 0.08  # right-hand offset of traffic heading (-dx, -dy)
                segs.append([(x + 0.85 * dx - ox, y + 0.85 * dy - oy), (x + 0.15 * dx - ox,
                                                                        y + 0.15 * dy - oy)])
                vals.append(q[i, 3 * k:3 * k + 3].sum())
        lc = LineCollection(segs, cmap=cmap, norm=norm, linewidths=3)
        lc.set_array(np.asarray(vals))
        ax.add_collection(lc)
        xs, ys = np.arange(self.n_agents) % self.cols, -(np.arange(self.n_agents) // self.cols)
        ax.scatter(xs, ys, c=q.sum(axis=1), cmap=cmap, norm=matplotlib.colors.Normalize(0.0, 4 * vmax),
                   marker="s", s=60, edgecolors="k", linewidths=0.5, zorder=3)
        fig.colorbar(lc, ax=ax, fraction=0.046, label="halting vehicles per approach")
        ax.set_xlim(-1, self.cols)
        ax.set_ylim(-self.rows, 1)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title("queues" if t is None else f"queues at t = {t} s")
        return fig

    def render(self, env_index: int = 0) -> np.ndarray:
        """:meth:`plot_queues` as an RGB uint8 image."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(4.2, 4.0), dpi=80)
        FigureCanvasAgg(fig)
        self.plot_queues(env_index, ax=fig.add_subplot())
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
