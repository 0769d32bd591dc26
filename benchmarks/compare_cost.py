"""The price of each sharing mechanism: CPU seconds per environment step of training, relative to
independent PPO, on the comparison's environments (``sharelib.comparison``, ``notebooks/compare``).

The comparison notebook's "cost x independent" column is wall-clock time of sweeps that shared the
machine with other jobs; this script measures the same training loops one at a time in one process
with BLAS pinned to one thread, in CPU time (``time.process_time``), so the ratios hold on a busy
machine too. Each (environment, mechanism) first runs a few iterations (numba compiles or loads its
cache), then ``--steps`` environment steps are timed (the whole ``run_mechanism`` call, whose one
evaluation episode per copy is included: a few percent of the time).

    python benchmarks/compare_cost.py                       # every environment, 32,000 steps each
    python benchmarks/compare_cost.py --envs cleanup harvest --steps 64000
"""

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import time  # noqa: E402

from sharelib import comparison as C  # noqa: E402


def cpu_seconds(env: str, mechanism: str, steps: int, n_envs: int) -> float:
    t0 = time.process_time()
    C.run_mechanism(env, mechanism, total_steps=steps, n_envs=n_envs, eval_episodes=n_envs, n_points=2, seed=0)
    return time.process_time() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--envs", nargs="+", default=list(C.ENVIRONMENTS), choices=list(C.ENVIRONMENTS))
    ap.add_argument("--mechanisms", nargs="+", default=list(C.MECHANISMS), choices=list(C.MECHANISMS))
    ap.add_argument("--steps", type=int, default=32_000, help="environment steps timed per run (all copies)")
    ap.add_argument("--n-envs", type=int, default=8, help="environment copies (the comparison's presets: 8)")
    a = ap.parse_args()
    if "independent" not in a.mechanisms:
        a.mechanisms = ["independent"] + a.mechanisms
    print(f"CPU seconds per 1,000 environment steps ({a.steps:,} steps, {a.n_envs} copies, one BLAS thread) "
          "and the ratio to independent PPO")
    print("| env | " + " | ".join(a.mechanisms) + " |")
    print("|---|" + "---|" * len(a.mechanisms))
    for env in a.envs:
        cells = {}
        for m in a.mechanisms:
            cpu_seconds(env, m, 2 * C.make_env(env, 1).max_steps * a.n_envs, a.n_envs)  # compile / load the cache
            cells[m] = cpu_seconds(env, m, a.steps, a.n_envs) * 1000 / a.steps
        base = cells["independent"]
        print(f"| {env} | " + " | ".join(f"{cells[m]:.3f} ({cells[m] / base:.2f}x)" for m in a.mechanisms) + " |",
              flush=True)


if __name__ == "__main__":
    main()
