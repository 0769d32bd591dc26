"""Environment throughput: env-steps per second with uniformly random actions, observations included.

Measures, in one run and on one core's worth of work each:

- sharelib's three environments (coin game, prisoner corridor, Trust-Your-Brother), one copy and a
  batch of 1024 copies (``env.step`` called from Python every step, random actions drawn with NumPy
  256 steps at a time, returned arrays freshly allocated); for the coin game also the step kernel
  called from a jitted loop (no Python per step, the analogue of JaxMARL's ``scan``);
- the reference: a pure-Python/NumPy Coin game written in the PettingZoo style
  (``benchmarks/reference_coin_game.py``), one copy, same action drawing;
- optional peers when installed (skipped with a note otherwise):
  JaxMARL's ``coin_game`` on CPU, one copy under ``jax.lax.scan`` and 1024 copies under
  ``jax.vmap`` inside ``scan`` (compilation excluded, random actions drawn inside the scan,
  observations kept in the carry so they are computed); PettingZoo MPE ``simple_spread``
  (``mpe2`` package, or ``pettingzoo.mpe`` in older PettingZoo), one copy, parallel API.

Each figure is the best of ``--repeats`` timings, taken in round-robin rounds over all rows (the
machine may be shared, so a burst of load hits every row alike). Ratios are against
the reference and against JaxMARL's vmap-1024 figure measured in the same run. Note that
JaxMARL's coin game is the 3x3 LOLA variant with 5 actions while ours is D3C's 5x5 game: the same
dilemma, not the same arithmetic.

Cleanup and Harvest (``--only ssd``): sharelib's kernel at 1, 64 and 1024 copies, 5 and 7 agents,
both observation forms, against the straightforward per-step NumPy version of the same rules
(``benchmarks/reference_ssd.py``, one copy), and against Melting Pot's ``clean_up`` and
``commons_harvest__open`` substrates (7 agents, one copy) when ``meltingpot`` is installed.

Run:  python benchmarks/envs.py [--quick] [--repeats 3] [--no-peers] [--only {all,basic,ssd}]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reference_coin_game import ReferenceCoinGame  # noqa: E402

import numba  # noqa: E402

from sharelib.envs import CoinGame, PrisonerCorridor, TrustYourBrother, coin_game  # noqa: E402

BATCH = 1024


BLOCK = 256  # random actions are drawn for BLOCK steps at a time (one NumPy call), inside the timing


def bench_ours(cls, n_envs, n_steps):
    env = cls(n_envs=n_envs)
    env.reset(0)
    rng = np.random.default_rng(0)
    shape = (BLOCK, n_envs, env.n_agents)
    env.step(rng.integers(0, env.n_actions, size=shape)[0])  # compile / warm up

    def run():
        t0 = time.perf_counter()
        for k in range(n_steps):
            if k % BLOCK == 0:
                acts = rng.integers(0, env.n_actions, size=shape)
            env.step(acts[k % BLOCK])
        return n_envs * n_steps, time.perf_counter() - t0

    return run


@numba.njit(cache=True)
def _coin_loop(n_steps, seed, actions, rng, I, coins, F, B, obs, final_obs, P):
    np.random.seed(seed)
    E = actions.shape[0]
    for _ in range(n_steps):
        for e in range(E):
            actions[e, 0] = np.random.randint(0, 4)
            actions[e, 1] = np.random.randint(0, 4)
        coin_game._step_kernel(actions, rng, I, coins, F, B, obs, final_obs, P)


def bench_ours_jitted_loop(n_envs, n_steps):
    """The coin game's step kernel called from a jitted loop (no Python per step): the analogue of
    JaxMARL's ``scan``; observations are written every step but not copied out."""
    env = CoinGame(n_envs=n_envs)
    env.reset(0)
    actions = np.zeros((n_envs, 2), dtype=np.int64)
    args = (actions, env._rng, env._I, env._coins, env._F, env._B, env._obs, env.final_obs, env._P)
    _coin_loop(1, 0, *args)

    def run():
        t0 = time.perf_counter()
        _coin_loop(n_steps, 1, *args)
        return n_envs * n_steps, time.perf_counter() - t0

    return run


def bench_reference(n_steps):
    env = ReferenceCoinGame()
    env.reset(seed=0)
    rng = np.random.default_rng(0)

    def run():
        t0 = time.perf_counter()
        for k in range(n_steps):
            if k % BLOCK == 0:
                acts = rng.integers(0, 4, size=(BLOCK, 2))
            if not env.agents:
                env.reset()
            a = acts[k % BLOCK]
            env.step({"agent_0": a[0], "agent_1": a[1]})
        return n_steps, time.perf_counter() - t0

    return run


def bench_jaxmarl(n_envs, n_steps):
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax
    import jaxmarl

    env = jaxmarl.make("coin_game")
    agents = list(env.agents)
    n_act = env.num_actions

    def one_step(key, state):
        k_act, k_step = jax.random.split(key)
        acts = jax.random.randint(k_act, (len(agents),), 0, n_act)
        obs, state, rew, dones, info = env.step(k_step, state, {a: acts[i] for i, a in enumerate(agents)})
        return obs, state

    if n_envs == 1:
        reset, step = env.reset, one_step
    else:
        reset, step = jax.vmap(env.reset), jax.vmap(one_step)

    @jax.jit
    def rollout(key):
        k0, key = jax.random.split(key)
        keys0 = k0 if n_envs == 1 else jax.random.split(k0, n_envs)
        obs, state = reset(keys0)

        def body(carry, _):
            key, state, obs = carry
            key, k = jax.random.split(key)
            ks = k if n_envs == 1 else jax.random.split(k, n_envs)
            obs, state = step(ks, state)
            return (key, state, obs), None

        (key, state, obs), _ = jax.lax.scan(body, (key, state, obs), None, length=n_steps)
        return obs

    jax.block_until_ready(rollout(jax.random.PRNGKey(0)))  # compile
    seed = [0]

    def run():
        seed[0] += 1
        t0 = time.perf_counter()
        jax.block_until_ready(rollout(jax.random.PRNGKey(seed[0])))
        return n_envs * n_steps, time.perf_counter() - t0

    return run


def bench_mpe(n_steps):
    try:
        from mpe2 import simple_spread_v3
    except ImportError:
        from pettingzoo.mpe import simple_spread_v3  # PettingZoo < 1.25
    env = simple_spread_v3.parallel_env()
    env.reset(seed=0)
    for a in env.possible_agents:
        env.action_space(a).seed(0)

    def run():
        t0 = time.perf_counter()
        for _ in range(n_steps):
            if not env.agents:
                env.reset()
            env.step({a: env.action_space(a).sample() for a in env.agents})
        return n_steps, time.perf_counter() - t0

    return run


def bench_ssd_ours(game, n_agents, obs, n_envs, n_steps):
    from sharelib.envs import ENVIRONMENTS

    env = ENVIRONMENTS[game](n_envs=n_envs, n_agents=n_agents, obs=obs)
    env.reset(0)
    rng = np.random.default_rng(0)
    acts = rng.integers(0, env.n_actions, size=(min(n_steps, BLOCK), n_envs, n_agents))
    env.step(acts[0])

    def run():
        t0 = time.perf_counter()
        for k in range(n_steps):
            env.step(acts[k % len(acts)])
        return n_envs * n_steps, time.perf_counter() - t0

    return run


def bench_ssd_reference(game, n_agents, obs, n_steps):
    from reference_ssd import NumpyStream, ReferenceSSD

    from sharelib.envs.ssd import CLEANUP_MAPS, HARVEST_MAPS

    rows = (CLEANUP_MAPS if game == "cleanup" else HARVEST_MAPS)["canonical"]
    env = ReferenceSSD(game, rows, n_agents, obs=obs, rng=NumpyStream(0))
    env.reset()
    n_actions = 9 if game == "cleanup" else 8
    acts = np.random.default_rng(0).integers(0, n_actions, size=(n_steps, n_agents))

    def run():
        t0 = time.perf_counter()
        for a in acts:
            env.step(a)
        return n_steps, time.perf_counter() - t0

    return run


def bench_meltingpot(substrate, n_steps):
    from meltingpot import substrate as mp_substrate

    roles = mp_substrate.get_config(substrate).default_player_roles
    env = mp_substrate.build(substrate, roles=roles)
    env.reset()
    n_act = env.action_spec()[0].num_values
    rng = np.random.default_rng(0)

    def run():
        t0 = time.perf_counter()
        for _ in range(n_steps):
            ts = env.step(rng.integers(0, n_act, size=len(roles)).tolist())
            if ts.last():
                env.reset()
        return n_steps, time.perf_counter() - t0

    return run


def ssd_main(args, n):
    """The Cleanup/Harvest table (see the module docstring)."""
    runners, notes = [], []
    print("building and compiling (Cleanup, Harvest) ...", flush=True)
    for game in ("cleanup", "harvest"):
        for obs in ("grid", "rgb"):
            for agents in (5, 7):
                runners.append((game, obs, agents, "reference: per-step NumPy", 1,
                                bench_ssd_reference(game, agents, obs, n(30))))
                for copies, steps in ((1, n(3000)), (64, n(100)), (BATCH, n(10))):
                    runners.append((game, obs, agents, "sharelib (numba)", copies,
                                    bench_ssd_ours(game, agents, obs, copies, steps)))
        if not args.no_peers:
            sub = "clean_up" if game == "cleanup" else "commons_harvest__open"
            try:
                runners.append((game, "rgb", 7, f"Melting Pot {sub}", 1, bench_meltingpot(sub, n(300))))
            except ImportError as exc:
                notes.append(f"Melting Pot {sub}: skipped (not installed: {exc.name or exc})")
            except Exception as exc:  # installed but broken: report, do not stop the table
                notes.append(f"Melting Pot {sub}: skipped ({type(exc).__name__}: {exc})")
    best = [0.0] * len(runners)
    for r in range(args.repeats):
        print(f"round {r + 1}/{args.repeats}", flush=True)
        for k, row in enumerate(runners):
            steps, dt = row[-1]()
            best[k] = max(best[k], steps / dt)
    print()
    hdr = (f"| {'game':<8} | {'obs':<4} | {'agents':>6} | {'implementation':<30} | {'copies':>6} | "
           f"{'env-steps/s':>12} | {'agent-steps/s':>13} | {'x reference':>11} | {'x Melting Pot':>13} |")
    print(hdr)
    print("|" + "|".join("-" * len(c) for c in hdr.split("|")[1:-1]) + "|")
    for k, (game, obs, agents, impl, copies, _) in enumerate(runners):
        ref = next(best[j] for j, r in enumerate(runners) if r[:3] == (game, obs, agents)
                   and r[3].startswith("reference")) if not impl.startswith("Melting") else None
        mp = next((best[j] for j, r in enumerate(runners) if r[0] == game and r[3].startswith("Melting")),
                  None)
        x_ref = f"{best[k] / ref:,.0f}" if ref else "n/a"
        x_mp = f"{best[k] / mp:,.0f}" if mp else "n/a"
        print(f"| {game:<8} | {obs:<4} | {agents:>6} | {impl:<30} | {copies:>6} | {best[k]:>12,.0f} | "
              f"{best[k] * agents:>13,.0f} | {x_ref:>11} | {x_mp:>13} |")
    for note in notes:
        print(f"note: {note}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="about 5x fewer steps (a smoke run)")
    ap.add_argument("--repeats", type=int, default=3, help="timings per row; the best is kept")
    ap.add_argument("--no-peers", action="store_true", help="skip JaxMARL, MPE and Melting Pot")
    ap.add_argument("--only", choices=("all", "basic", "ssd"), default="all",
                    help="basic: the coin game, corridor and Trust-Your-Brother table; ssd: Cleanup/Harvest")
    args = ap.parse_args(argv)
    k = 0.2 if args.quick else 1.0
    n = lambda x: max(10, int(x * k))  # noqa: E731
    if args.only in ("all", "ssd"):
        ssd_main(args, n)
        if args.only == "ssd":
            return None

    runners = []  # (environment, implementation, copies, run) in table order
    notes = []

    def add(env, impl, copies, make):
        try:
            runners.append((env, impl, copies, make()))  # builds, compiles and warms up
        except ImportError as exc:
            notes.append(f"{impl}: skipped (not installed: {exc.name or exc})")
        except Exception as exc:  # a peer that is installed but broken must not stop the table
            notes.append(f"{impl}: skipped ({type(exc).__name__}: {exc})")

    print("building and compiling ...", flush=True)
    add("coin game", "reference: pure Python/NumPy (PZ style)", 1, lambda: bench_reference(n(3000)))
    for cls, label in [(CoinGame, "coin game"), (PrisonerCorridor, "prisoner corridor"),
                       (TrustYourBrother, "trust-your-brother")]:
        add(label, "sharelib (numba)", 1, lambda cls=cls: bench_ours(cls, 1, n(30000)))
        add(label, "sharelib (numba)", BATCH, lambda cls=cls: bench_ours(cls, BATCH, n(400)))
        if cls is CoinGame:
            add(label, "sharelib kernel in a jitted loop", 1, lambda: bench_ours_jitted_loop(1, n(300000)))
            add(label, "sharelib kernel in a jitted loop", BATCH,
                lambda: bench_ours_jitted_loop(BATCH, n(400)))
    if not args.no_peers:
        add("coin game (3x3)", "JaxMARL coin_game, scan", 1, lambda: bench_jaxmarl(1, n(20000)))
        add("coin game (3x3)", "JaxMARL coin_game, vmap in scan", BATCH,
            lambda: bench_jaxmarl(BATCH, n(400)))
        add("MPE simple_spread", "PettingZoo MPE (parallel API)", 1, lambda: bench_mpe(n(3000)))

    # round-robin repeats: every row is timed once per round, so a burst of load on a shared
    # machine hits all rows alike; the best round of each row is kept
    best = [0.0] * len(runners)
    for r in range(args.repeats):
        print(f"round {r + 1}/{args.repeats}", flush=True)
        for k, (_, _, _, run) in enumerate(runners):
            steps, dt = run()
            best[k] = max(best[k], steps / dt)
    rows = [(env, impl, copies, best[k]) for k, (env, impl, copies, _) in enumerate(runners)]

    ref = next((r[3] for r in rows if r[1].startswith("reference")), None)
    jax_v = next((r[3] for r in rows if "vmap" in r[1]), None)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        load = " / load average %.1f" % os.getloadavg()[0]
    except OSError:
        load = ""
    print()
    print(f"Environment throughput, {now}; {platform.machine()} {os.cpu_count()} cores{load}; "
          f"Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}")
    print("env-steps/s with random actions, observations included; best of "
          f"{args.repeats} round-robin rounds; ratios measured in this run")
    print()
    hdr = f"| {'environment':<20} | {'implementation':<40} | {'copies':>6} | {'env-steps/s':>13} | " \
          f"{'x reference':>11} | {'x JaxMARL vmap':>14} |"
    print(hdr)
    print("|" + "|".join("-" * (len(c)) for c in hdr.split("|")[1:-1]) + "|")
    for env, impl, copies, rate in rows:
        r1 = f"{rate / ref:,.1f}" if ref else "n/a"
        r2 = f"{rate / jax_v:,.2f}" if jax_v else "n/a"
        print(f"| {env:<20} | {impl:<40} | {copies:>6} | {rate:>13,.0f} | {r1:>11} | {r2:>14} |")
    for note in notes:
        print(f"note: {note}")
    ours_batch = next((r[3] for r in rows if r[0] == "coin game" and r[1] == "sharelib (numba)"
                       and r[2] == BATCH), None)
    ours_one = next((r[3] for r in rows if r[0] == "coin game" and r[1].startswith("sharelib") and r[2] == 1), None)
    print()
    if ref and ours_batch:
        print(f"coin game: sharelib x{BATCH} / reference = {ours_batch / ref:,.0f}x (target >= 100x); "
              f"sharelib x1 / reference = {ours_one / ref:,.1f}x")
    if jax_v and ours_batch:
        print(f"coin game: sharelib x{BATCH} / JaxMARL vmap-{BATCH} = {ours_batch / jax_v:,.2f}x (target >= 5x)")
    return rows


if __name__ == "__main__":
    main()
