"""Benchmark: the price of anticipation sharing, one AS learning iteration against IPPO's.

AS keeps, for every agent, an anticipation network of every other agent (the paper's "N^2 policy
networks") and updates agents one after another, sharing after each; IPPO is the same PPO core
with no sharing (``sharelib.sharing.anticipation.baselines``). For each environment and size this
prints the wall time of one learning iteration (collect one episode in every copy, then Algorithm
1's K = 3 update iterations), agent-steps per second, and the ratio AS / IPPO, with Table 2's
networks unless ``--hidden`` is given. (No PyTorch comparison: torch is not installed here; it
would need ``pip install torch==2.13.0``.)

    python benchmarks/anticipation.py [--iterations 5] [--n-envs 8] [--hidden 128 64]
"""

from __future__ import annotations

import argparse
import time

from sharelib.envs import ENVIRONMENTS
from sharelib.sharing.anticipation import AnticipationSharing
from sharelib.sharing.anticipation.baselines import make_baseline
from sharelib.sharing.anticipation.experiments import ENV_SETTINGS, _graph

CASES = [("cooperative_predation", 2), ("cooperative_predation", 8), ("cooperative_predation", 20),
         ("exchange", None), ("cooperative_navigation", None)]


def time_learner(make, env, iterations):
    learner = make()
    learner.train(env, env.max_steps * env.n_envs, seed=0)  # compile and warm up
    t = time.perf_counter()
    learner.train(env, iterations * env.max_steps * env.n_envs, seed=1)
    return (time.perf_counter() - t) / iterations


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--n-envs", type=int, default=8)
    ap.add_argument("--hidden", type=int, nargs="*", default=None)
    args = ap.parse_args()
    print(f"{'environment':<24} {'n':>3} {'AS s/iter':>10} {'IPPO s/iter':>12} {'AS agent-steps/s':>17} {'AS / IPPO':>9}")
    for name, n in CASES:
        cfg = ENV_SETTINGS[name]
        env = ENVIRONMENTS[name](n_envs=args.n_envs, **({} if n is None else {"n_agents": n}))
        hidden = tuple(args.hidden) if args.hidden is not None else cfg["hidden"]
        T = env.max_steps
        t_as = time_learner(lambda: AnticipationSharing.for_env(env, rho=cfg["rho"], graph=_graph(env), hidden=hidden,
                                                                lr=cfg["lr"], n_steps=T), env, args.iterations)
        t_ip = time_learner(lambda: make_baseline("ippo", env, hidden=hidden, lr=cfg["lr"], n_steps=T), env,
                            args.iterations)
        steps = T * env.n_envs * env.n_agents
        print(f"{name:<24} {env.n_agents:>3} {t_as:>10.3f} {t_ip:>12.3f} {steps / t_as:>17,.0f} {t_as / t_ip:>8.1f}x")


if __name__ == "__main__":
    main()
