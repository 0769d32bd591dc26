"""Benchmark: the price of D3C for learning agents, on Coins (2 agents, 5x5) and Cleanup (5 agents).

D3C (Algorithms 1-3) trains the same A2C learner as the selfish baseline; what it adds is the
reward mixing with a perturbed ``A~`` and, at the end of every trial, the one-shot finite
difference and the mirror-descent step on ``A``. This script times, in one process and on the
same seeds:

* one plain A2C learning iteration (a rollout of ``n_steps`` x ``n_envs`` steps and one update, on
  the agents' own rewards: ``method="selfish"``);
* one A2C iteration under D3C (``method="d3c"``), and their ratio (the overhead of D3C);
* one D3C *trial pair*: the two consecutive trials whose returns give one finite difference
  (``2 E[tau]`` iterations at our ``tau ~ U{5..10}``), against as many plain A2C iterations.

    python benchmarks/d3c_rl.py [--steps 40000] [--n-envs 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from sharelib.learners.mixing import default_learner_kw
from sharelib.sharing import d3c_rl

DOMAINS = {"Coins 5x5, 2 agents": ("coin_game", dict(size=5)),
           "Cleanup 25x18, 5 agents": ("cleanup", dict(n_agents=5)),
           "LIO's Cleanup 10x10, 3 agents": ("cleanup", dict(lio="lio_10x10"))}


def per_iteration(env, env_kw, method, steps, n_envs, repeats):
    """Best-of-``repeats`` seconds per learning iteration (after a compile run)."""
    kw = dict(total_steps=steps, n_envs=n_envs, n_points=2, env_kw=env_kw)
    d3c_rl.run_d3c_rl(env, "a2c", method, **dict(kw, total_steps=2 * n_envs * 20))  # compile
    best = np.inf
    for r in range(repeats):
        t = time.perf_counter()
        d3c_rl.run_d3c_rl(env, "a2c", method, seed=r, **kw)
        best = min(best, time.perf_counter() - t)
    return best / _iters(env, steps, n_envs)


def _iters(env, steps, n_envs):
    n_steps = default_learner_kw("coin_game" if env == "cleanup" else env, "a2c", steps)["n_steps"]
    return -(-steps // (n_steps * n_envs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40_000, help="environment steps per timed run")
    ap.add_argument("--n-envs", type=int, default=8, help="environment copies per learner")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per method (best is kept)")
    a = ap.parse_args()
    dk = d3c_rl.d3c_defaults("cleanup")
    trial_iters = dk["tau_min"] + dk["tau_max"]  # two trials of mean length (tau_min + tau_max) / 2
    print(f"A2C, {a.n_envs} copies, {a.steps} steps per run, best of {a.repeats}; "
          f"a trial pair = {trial_iters} iterations (tau ~ U{{{dk['tau_min']}..{dk['tau_max']}}})")
    print(f"{'domain':32s} {'A2C ms/iter':>12s} {'D3C ms/iter':>12s} {'D3C/A2C':>8s} {'trial pair ms':>14s}")
    for name, (env, env_kw) in DOMAINS.items():
        t_a2c = per_iteration(env, env_kw, "selfish", a.steps, a.n_envs, a.repeats)
        t_d3c = per_iteration(env, env_kw, "d3c", a.steps, a.n_envs, a.repeats)
        print(f"{name:32s} {1e3 * t_a2c:12.2f} {1e3 * t_d3c:12.2f} {t_d3c / t_a2c:8.2f} "
              f"{1e3 * trial_iters * t_d3c:14.1f}")


if __name__ == "__main__":
    main()
