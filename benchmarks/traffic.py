"""Traffic throughput: simulated seconds per wall-clock second of LToS's 6 x 6 grid on SUMO.

Rows, all on the same network and flows (:mod:`sharelib.envs.traffic_scenario`) with the same
fixed-time plan (straight phases for each direction in turn, 30 s each) and SUMO seed:

- ``plain libsumo``: a loop of ``libsumo.simulationStep()`` that only sets the signal states when
  the plan changes: the cost of SUMO itself.
- ``wrapper, 1 copy``: :class:`sharelib.envs.TrafficSignalControl` in this process, which also
  reads the 432 entering lanes every second (reward), the vehicle counts every decision
  (observation), and parses the trip information at the end (metrics).
- ``wrapper, 2 copies``: copy 1 in a worker process, stepped in parallel with copy 0; simulated
  seconds summed over the copies. On a machine with 2 cores shared with other jobs the gain is
  bounded by what the other core has free.

The ratio columns are each row against ``plain libsumo``, in wall-clock time and in this process's
CPU time (less sensitive to other jobs on a shared machine). Best of ``--repeats`` timings.

Run:  python benchmarks/traffic.py [--seconds 3600] [--repeats 1]

Measured (2026-12-06, SUMO 1.28.0, 2 cores shared with other engineers' jobs, load average 4-6,
one 3600-s episode per row and repeat, ``--repeats 2``, best of 2):

                         sim s/wall s  ratio  sim s/CPU s  ratio
    plain libsumo                 662   1.00         1401   1.00
    wrapper, 1 copy               381   0.58          942   0.67
    wrapper, 2 copies             421   0.64          nan    nan

Three earlier runs under the same load gave wall-clock ratios of 1.15, 0.42 and 0.49 for one
copy: on this machine wall-clock time is dominated by the other jobs. The CPU-time column is the
stabler one: plain SUMO needs 2.6 CPU s per 3600-s episode of this plan and the wrapper 3.8 CPU s,
the difference being the 144 road reads per simulated second (the reward), the 432 lane reads per
decision (the observation) and NumPy bookkeeping. Two copies gain little here because the second
core was busy with other jobs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sharelib.envs import TrafficSignalControl  # noqa: E402
from sharelib.envs.traffic_scenario import TrafficScenario  # noqa: E402
from sharelib.envs.traffic_sim import GridSimulation  # noqa: E402


def plan(k):
    """Fixed-time plan: phase 0 (W-E straight) and 1 (N-S straight) for 3 decisions each."""
    return (k // 3) % 2


def bench_plain(seconds, seed=1):
    import libsumo as ls

    sim = GridSimulation(TrafficScenario(), episode_seconds=seconds)
    args = sim.sumo_args(seed)
    for opt in ("--tripinfo-output", "--tripinfo-output.write-unfinished"):  # no outputs
        i = args.index(opt)
        del args[i:i + 2]
    ls.start(args)
    green, yellow = sim._phase_states()
    for j, tls in enumerate(sim.tls_ids):  # phase 0 at t = 0, as the wrapper starts
        ls.trafficlight.setRedYellowGreenState(tls, green[j][0])
    t, c = time.perf_counter(), time.process_time()
    phase = 0
    for s in range(seconds):
        k, within = divmod(s, 10)
        want = plan(k)
        if within == 0 and want != phase:
            for j, tls in enumerate(sim.tls_ids):
                ls.trafficlight.setRedYellowGreenState(tls, yellow[j][phase])
        if within == 5 and want != phase:
            phase = want
            for j, tls in enumerate(sim.tls_ids):
                ls.trafficlight.setRedYellowGreenState(tls, green[j][phase])
        ls.simulationStep()
    dt, dc = time.perf_counter() - t, time.process_time() - c
    ls.close()
    return seconds / dt, seconds / dc


def bench_wrapper(seconds, n_envs, seed=1):
    env = TrafficSignalControl(n_envs=n_envs, episode_seconds=seconds,
                               in_process=True)
    env.reset(seed)
    t, c = time.perf_counter(), time.process_time()
    for k in range(env.max_steps):
        env.step(np.full((n_envs, env.n_agents), plan(k)))
    dt, dc = time.perf_counter() - t, time.process_time() - c
    metrics = env.last_metrics[0]
    env.close()
    # CPU time of this process only: with 2 copies the worker's CPU is not in it (no CPU column)
    return n_envs * seconds / dt, (seconds / dc if n_envs == 1 else float("nan")), metrics


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=3600, help="simulated seconds (default 3600)")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args(argv)
    # interleaved repeats: the machine's load drifts, so each row sees similar conditions
    wall = {"plain": [], 1: [], 2: []}
    cpu = {"plain": [], 1: [], 2: []}
    metrics = None
    for _ in range(args.repeats):
        w, c = bench_plain(args.seconds)
        wall["plain"].append(w)
        cpu["plain"].append(c)
        for n in (1, 2):
            w, c, m = bench_wrapper(args.seconds, n)
            wall[n].append(w)
            cpu[n].append(c)
            metrics = metrics or m
    names = {"plain": "plain libsumo", 1: "wrapper, 1 copy", 2: "wrapper, 2 copies"}
    pw, pc = max(wall["plain"]), max(cpu["plain"])
    print(f"{'':20s}{'sim s/wall s':>13s}{'ratio':>7s}{'sim s/CPU s':>13s}{'ratio':>7s}")
    for k, name in names.items():
        w, c = max(wall[k]), max(cpu[k])
        print(f"{name:20s}{w:13.0f}{w / pw:7.2f}{c:13.0f}{c / pc:7.2f}")
    print("fixed-time plan, copy 0's episode metrics:",
          ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()))

if __name__ == "__main__":
    main()
