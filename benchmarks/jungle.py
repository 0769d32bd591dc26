"""Jungle throughput: env-steps per second of random play, observations and neighbours included.

Rows: sharelib's :class:`~sharelib.envs.Jungle` at 1, 64 and 256 copies (``env.step`` from Python
every step; each step writes the 20 agents' 123-dimensional observations and their neighbour
lists), against MAgent2, the engine DGN and LToS ran the jungle on, configured by
:func:`sharelib.envs.jungle_magent.make_magent_jungle` (one instance; each step sets the actions,
steps, reads the observations and rewards and clears the dead, what a DGN training loop does).
MAgent2 is skipped with a note when not installed. Best of ``--repeats`` timings.

Run:  python benchmarks/jungle.py [--steps 2400] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sharelib.envs import Jungle  # noqa: E402


def bench_ours(n_envs, n_steps):
    env = Jungle(n_envs=n_envs)
    env.reset(0)
    acts = np.random.default_rng(0).integers(0, env.n_actions, (n_steps, n_envs, env.n_agents))
    env.step(acts[0])  # compile outside the timing
    t = time.perf_counter()
    for a in acts:
        env.step(a)
        env.neighbours  # noqa: B018 - read as a learner would
    return n_envs * n_steps / (time.perf_counter() - t)


def bench_magent(n_steps):
    from sharelib.envs.jungle_magent import make_magent_jungle

    env, agents, _food = make_magent_jungle()
    rng = np.random.default_rng(0)
    n = env.get_num(agents)
    acts = rng.integers(0, env.get_action_space(agents)[0], (n_steps, n)).astype(np.int32)
    t = time.perf_counter()
    for a in acts:
        env.set_action(agents, a)
        env.step()
        env.get_observation(agents)
        env.get_reward(agents)
        env.clear_dead()
    return n_steps / (time.perf_counter() - t)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=2400, help="steps per timing (default: 2400, 20 episodes)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    rows = [(f"sharelib, {e} cop{'y' if e == 1 else 'ies'}", lambda e=e: bench_ours(e, max(args.steps // e, 20)))
            for e in (1, 64, 256)]
    try:
        import magent2  # noqa: F401

        rows.append(("MAgent2, 1 instance", lambda: bench_magent(args.steps)))
    except ImportError:
        print("MAgent2 not installed (pip install magent2): its row is skipped")
    best = {name: 0.0 for name, _ in rows}
    for _ in range(args.repeats):  # round-robin, so a burst of load hits every row alike
        for name, fn in rows:
            best[name] = max(best[name], fn())
    ref = best.get("MAgent2, 1 instance")
    print(f"| implementation | env-steps/s | x MAgent2 |\n|---|---:|---:|")
    for name, v in best.items():
        print(f"| {name} | {v:,.0f} | {v / ref:.1f} |" if ref else f"| {name} | {v:,.0f} | n/a |")


if __name__ == "__main__":
    main()
