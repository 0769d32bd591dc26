"""Benchmark: CE-DOS paper-preset data (Figs. 3-5) and the jitted kernel against plain NumPy.

Run from the repository root::

    python benchmarks/ce_dos.py            # full paper grid + NumPy reference subset
    python benchmarks/ce_dos.py --quick    # a smaller grid, for a smoke test
    python benchmarks/ce_dos.py --skip-grid  # only the per-run comparison

It times, in one run:

1. the whole paper-preset grid of Figs. 3-5: 2 markets x n in {10, 50, 100} x every sharer count
   0..n x 10 runs = 3,260 CE-DOS runs (n_iter = n_sample = 100), through
   ``sharelib.experiments.sweep`` on local processes (``--jobs``, default 2);
2. per run, on a subset (one run per market and size, half the agents sharing), the jitted
   kernel against ``run_ce_dos_numpy``, a straightforward NumPy implementation of the same
   algorithm that draws the same random numbers (the script checks both agree), and prints the
   ratio and the NumPy time extrapolated to the whole grid.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np


def _best_interleaved(fns, repeat):
    """Best wall time of each function, running them in turn ``repeat`` times.

    Interleaving exposes every implementation to the same background load, so their ratio stays
    meaningful on a shared machine even when absolute times drift.
    """
    best = [float("inf")] * len(fns)
    outs = [None] * len(fns)
    for _ in range(repeat):
        for j, fn in enumerate(fns):
            t = time.perf_counter()
            outs[j] = fn()
            best[j] = min(best[j], time.perf_counter() - t)
    return best, outs


def _time_grid(C, sizes, n_runs, P, algo, jobs, n_points):
    """Time the paper-preset data of Figs. 3-5 through the sweep on local processes."""
    t0 = time.perf_counter()
    panels = C.figure_data(("simple", "logistic"), sizes, n_runs, seed=P["seed"], backend="processes",
                           n_jobs=jobs, progress=False, **algo)
    t_grid = time.perf_counter() - t0
    print(f"paper-preset grid: {n_points} runs (2 markets x n in {sizes} x all sharer counts x {n_runs} runs) "
          f"in {t_grid:.1f} s on {jobs} processes")
    assert len(panels) == 2 * len(sizes)
    return t_grid


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="sizes 10 and 50, 2 runs")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes for the grid (default 2)")
    ap.add_argument("--repeat", type=int, default=5, help="repetitions for the per-run timings (best is kept)")
    ap.add_argument("--skip-grid", action="store_true", help="only the per-run comparison")
    args = ap.parse_args(argv)

    from sharelib import experiments
    from sharelib.markets import sample_market
    from sharelib.sharing import ce_dos as C

    P = experiments.get_preset("ce_dos.figures", "paper")
    sizes = [10, 50] if args.quick else P["sizes"]
    n_runs = 2 if args.quick else P["n_runs"]
    algo = {k: P[k] for k in C.PAPER_ALGO}
    print(f"CE-DOS benchmark  ({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"numpy {np.__version__})")

    # warm the numba cache in this process and in the workers' parent (workers fork)
    C.run_ce_dos("logistic", 3, 1, n_iter=2, n_sample=4)

    # ---- 1. the whole grid ------------------------------------------------------------------
    n_points = sum(2 * n_runs * (n + 1) for n in sizes)
    t_grid = float("nan")
    if not args.skip_grid:
        t_grid = _time_grid(C, sizes, n_runs, P, algo, args.jobs, n_points)

    # ---- 2. kernel vs NumPy reference, per run ----------------------------------------------
    print(f"\nper run (n_iter={algo['n_iter']}, n_sample={algo['n_sample']}, half the agents sharing, "
          f"best of {args.repeat}); NumPy-vec = vectorised over agents, NumPy-loop = a Python loop over "
          f"agents for the elite update (Alg. 2 as written, the public code's structure):")
    print(f"{'market':>9} {'n':>4} {'numba [ms]':>11} {'NumPy-vec [ms]':>15} {'ratio':>7} "
          f"{'NumPy-loop [ms]':>16} {'ratio':>7}")
    tot = {"nb": 0.0, "vec": 0.0, "loop": 0.0}
    ratios = {"vec": [], "loop": []}
    for mk in ("simple", "logistic"):
        for n in sizes:
            m = sample_market(mk, n, 0)
            kw = dict(algo)
            (t_nb, t_vec, t_loop), (res, ref, ref2) = _best_interleaved([
                lambda: C.run_ce_dos(m, n_sharers=n // 2, seed=1, **kw),
                lambda: C.run_ce_dos_numpy(m, n // 2, seed=1, **kw),
                lambda: C.run_ce_dos_numpy(m, n // 2, seed=1, per_agent=True, **kw),
            ], args.repeat)
            for r in (ref, ref2):  # same algorithm, same random stream: same numbers
                np.testing.assert_allclose(res.final_utility, r["final_utility"], rtol=1e-8, atol=1e-300)
            ratios["vec"].append(t_vec / t_nb)
            ratios["loop"].append(t_loop / t_nb)
            w = n_runs * (n + 1)  # runs of this panel in the grid
            tot["nb"] += t_nb * w
            tot["vec"] += t_vec * w
            tot["loop"] += t_loop * w
            print(f"{mk:>9} {n:>4} {1e3 * t_nb:>11.2f} {1e3 * t_vec:>15.2f} {t_vec / t_nb:>6.1f}x "
                  f"{1e3 * t_loop:>16.2f} {t_loop / t_nb:>6.1f}x")
    for key, name in (("vec", "NumPy-vec"), ("loop", "NumPy-loop")):
        r = np.array(ratios[key])
        print(f"kernel vs {name} per run: {r.min():.1f}x to {r.max():.1f}x (geometric mean "
              f"{np.exp(np.log(r).mean()):.1f}x)")
    print(f"whole grid, serial estimates from the per-run times: numba {tot['nb']:.0f} s, "
          f"NumPy-vec {tot['vec']:.0f} s, NumPy-loop {tot['loop']:.0f} s; measured grid wall time on "
          f"{args.jobs} processes: {t_grid:.1f} s")


if __name__ == "__main__":
    main()
