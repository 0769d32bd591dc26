"""Benchmark: FEN's three discrete scenarios, and the price of federation (FPF / LMF against IPPO).

1. Agent-steps per second of Job Scheduling, Matthew Effect and Manufacturing Plant (the FPF-LMF
   code's rules, ``sharelib.envs.fen``) at 1 and 256 copies, uniformly random actions, observations
   included, ``env.step`` called from Python every step; against a straightforward vectorised NumPy
   version of the same rules written below (vectorised over copies, a loop over agents where the
   rules are sequential: the index-order move claims and resource captures), measured in the same run.
   The NumPy version is checked to reproduce our kernel's rewards and observations step for step from
   the same state and actions before anything is timed (``--no-check`` skips that).
2. One learning iteration (one 200-step episode in each of ``fed_epi`` copies plus the update) of
   FPF, D&F and LMF against IPPO on the same PPO core (``discrete_run``'s settings, the reduced
   preset's (32,) MLP unless ``--hidden``): the ratio is the price of federation.

Each figure is the best of ``--repeats`` timings taken in round-robin order (the machine may be shared).

Run:  python benchmarks/fen.py [--steps 2000] [--repeats 3] [--hidden 32] [--iterations 5]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sharelib.envs import JobScheduling, ManufacturingPlant, MatthewEffect  # noqa: E402
from sharelib.envs.fen import PLANT_REQUIREMENTS  # noqa: E402

DX = np.array([0, -1, 1, 0, 0])
DY = np.array([0, 0, 0, -1, 1])


# ------------------------------------------------------------------------------ NumPy references
class NumpyGrid:
    """Shared by Job and Plant: sequential claims in agent index order, vectorised over copies."""

    def claim(self, actions):
        E, n = actions.shape
        occ = self.occ  # (E, W, W): start cells marked, claimed cells added as agents move
        e = np.arange(E)
        for i in range(n):
            a = actions[:, i]
            x = self.pos[:, i, 0] + DX[a]
            y = self.pos[:, i, 1] + DY[a]
            ok = (a != 0) & (x >= self.lo) & (x <= self.hi) & (y >= self.lo) & (y <= self.hi)
            xs, ys = np.where(ok, x, 0), np.where(ok, y, 0)
            ok &= occ[e, xs, ys] != 1
            occ[e[ok], xs[ok], ys[ok]] = 1
            self.pos[ok, i, 0] = x[ok]
            self.pos[ok, i, 1] = y[ok]
        self.remark()

    def remark(self):
        E, n = self.pos.shape[:2]
        self.occ[:] = 0
        self.occ[np.repeat(np.arange(E), n), self.pos[..., 0].ravel(), self.pos[..., 1].ravel()] = 1

    def place(self, rng, mask, lo, hi):
        """Distinct agent cells per copy (redraw until distinct), copies in ``mask``."""
        idx = np.flatnonzero(mask)
        n = self.pos.shape[1]
        for e in idx:
            while True:
                p = rng.integers(lo, hi + 1, size=(n, 2))
                if len({tuple(c) for c in p}) == n:
                    break
            self.pos[e] = p


class NumpyJob(NumpyGrid):
    n_agents, lo, hi = 4, 1, 5

    def __init__(self, n_envs, max_steps=200, seed=0):
        self.E, self.max_steps = n_envs, max_steps
        self.rng = np.random.default_rng(seed)
        self.pos = np.zeros((n_envs, 4, 2), np.int64)
        self.tgt = np.zeros((n_envs, 2), np.int64)
        self.occ = np.zeros((n_envs, 8, 8), np.int64)
        self.t = np.zeros(n_envs, np.int64)
        self.reset(np.ones(n_envs, bool))

    def reset(self, mask):
        self.tgt[mask] = self.rng.integers(2, 5, size=(mask.sum(), 2))
        self.place(self.rng, mask, 1, 5)
        self.t[mask] = 0
        self.remark()

    def obs(self):
        E = self.E
        x, y = self.pos[..., 0], self.pos[..., 1]
        o = np.empty((E, 4, 13))
        o[..., 0], o[..., 1] = x, y
        o[..., 2] = self.tgt[:, None, 0] - x
        o[..., 3] = self.tgt[:, None, 1] - y
        e = np.arange(E)[:, None]
        k = 4
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                o[..., k] = self.occ[e, x + dx, y + dy]
                k += 1
        return o

    def step(self, actions):
        self.claim(actions)
        r = ((self.pos[..., 0] == self.tgt[:, None, 0]) & (self.pos[..., 1] == self.tgt[:, None, 1])).astype(float)
        self.t += 1
        done = self.t >= self.max_steps
        if done.any():
            self.reset(done)
        return self.obs(), r, done


class NumpyMatthew:
    n_agents = 10

    def __init__(self, n_envs, max_steps=200, seed=0, n_res=3):
        self.E, self.max_steps, self.n = n_envs, max_steps, 10
        self.rng = np.random.default_rng(seed)
        self.pos = np.zeros((n_envs, 10, 2))
        self.size = np.zeros((n_envs, 10))
        self.res = np.zeros((n_envs, n_res, 2))
        self.t = np.zeros(n_envs, np.int64)
        self.reset(np.ones(n_envs, bool))

    def reset(self, mask):
        m = int(mask.sum())
        self.res[mask] = self.rng.random((m, self.res.shape[1], 2))
        self.pos[mask] = self.rng.random((m, 10, 2))
        self.size[mask] = 0.01 + 0.04 * self.rng.random((m, 10))
        self.t[mask] = 0

    def obs(self):
        d = ((self.res[:, None, :, :] - self.pos[:, :, None, :]) ** 2).sum(-1)  # (E, n, K)
        best = d.argmin(-1)
        near = np.take_along_axis(self.res, best[..., None].repeat(2, -1), 1)  # (E, n, 2)
        return np.concatenate([self.pos, self.size[..., None], 0.01 + self.size[..., None], near], -1)

    def step(self, actions):
        E = self.E
        e = np.arange(E)
        ax = np.where(actions <= 2, 0, 1)
        delta = (0.01 + self.size) * (DX[actions] + DY[actions])
        cur = np.take_along_axis(self.pos, ax[..., None], 2)[..., 0]
        new = np.where(actions == 0, cur, np.clip(cur + delta, 0.0, 1.0))
        np.put_along_axis(self.pos, ax[..., None], new[..., None], 2)
        r = np.zeros((E, self.n))
        for k in range(self.res.shape[1]):
            d = ((self.res[:, None, k, :] - self.pos) ** 2).sum(-1)  # (E, n)
            hit = d < self.size ** 2
            any_hit = hit.any(1)
            j = hit.argmax(1)  # lowest index wins
            eh, jh = e[any_hit], j[any_hit]
            r[eh, jh] = 1.0
            self.res[eh, k] = self.rng.random((len(eh), 2))
            self.size[eh, jh] = np.minimum(self.size[eh, jh] + 0.005, 0.15)
        self.t += 1
        done = self.t >= self.max_steps
        if done.any():
            self.reset(done)
        return self.obs(), r, done


class NumpyPlant(NumpyGrid):
    n_agents, lo, hi = 5, 2, 9

    def __init__(self, n_envs, max_steps=200, seed=0, n_gems=8):
        self.E, self.max_steps = n_envs, max_steps
        self.rng = np.random.default_rng(seed)
        self.pos = np.zeros((n_envs, 5, 2), np.int64)
        self.poss = np.zeros((n_envs, 5, 3), np.int64)
        self.gems = np.zeros((n_envs, n_gems, 3), np.int64)
        self.occ = np.zeros((n_envs, 12, 12), np.int64)
        self.t = np.zeros(n_envs, np.int64)
        self.req = PLANT_REQUIREMENTS
        self.reset(np.ones(n_envs, bool))

    def reset(self, mask):
        self.place(self.rng, mask, 2, 9)
        self.poss[mask] = 0
        G = self.gems.shape[1]
        for e in np.flatnonzero(mask):
            while True:
                g = self.rng.integers(3, 9, size=(G, 2))
                if len({tuple(c) for c in g}) == G:
                    break
            self.gems[e, :, :2] = g
            self.gems[e, :, 2] = self.rng.integers(0, 3, size=G)
        self.t[mask] = 0
        self.remark()

    def gem_map(self):
        E, G = self.gems.shape[:2]
        gm = np.zeros((E, 12, 12), np.int64)
        gm[np.repeat(np.arange(E), G), self.gems[..., 0].ravel(), self.gems[..., 1].ravel()] = \
            self.gems[..., 2].ravel() + 1  # later gems overwrite earlier ones on a shared cell
        return gm

    def obs(self):
        E = self.E
        gm = self.gem_map()
        x, y = self.pos[..., 0], self.pos[..., 1]
        e = np.arange(E)[:, None]
        win = np.stack([gm[e, x + dx, y + dy] for dx in range(-2, 3) for dy in range(-2, 3)], -1)  # (E, n, 25)
        hot = (win[..., None] == np.arange(1, 4)).reshape(E, 5, 75).astype(float)
        return np.concatenate([self.pos, self.poss, hot], -1).astype(float)

    def step(self, actions):
        self.claim(actions)
        E, G = self.E, self.gems.shape[1]
        e = np.arange(E)
        r = np.zeros((E, 5))
        for j in range(G):
            on = (self.pos[..., 0] == self.gems[:, None, j, 0]) & (self.pos[..., 1] == self.gems[:, None, j, 1])
            got = on.any(1)
            i = on.argmax(1)
            eg, ig = e[got], i[got]
            self.poss[eg, ig, self.gems[eg, j, 2]] += 1
            r[eg, ig] += 0.01
            self.gems[eg, j, :2] = self.rng.integers(3, 9, size=(len(eg), 2))
            self.gems[eg, j, 2] = self.rng.integers(0, 3, size=len(eg))
        with np.errstate(divide="ignore"):
            ratio = np.where(self.req > 0, self.poss // np.maximum(self.req, 1), np.iinfo(np.int64).max)
        k = ratio.min(-1)
        self.poss -= k[..., None] * self.req
        r += k
        self.t += 1
        done = self.t >= self.max_steps
        if done.any():
            self.reset(done)
        return self.obs(), r, done


# ------------------------------------------------------------------------------ correctness
def check_against_kernel(steps=300):
    """From our kernel's state, the NumPy rules give the same rewards and observations for the
    same actions (the random respawns are copied over from the kernel after each step)."""
    rng = np.random.default_rng(1)
    for ours_cls, ref_cls in ((JobScheduling, NumpyJob), (MatthewEffect, NumpyMatthew),
                              (ManufacturingPlant, NumpyPlant)):
        env = ours_cls(n_envs=8, max_steps=10_000)
        obs = env.reset(3)
        ref = ref_cls(8, max_steps=10_000)

        def sync():
            if ours_cls is JobScheduling:
                ref.pos[:] = env.positions
                ref.tgt[:] = env.target
                ref.remark()
            elif ours_cls is MatthewEffect:
                ref.pos[:], ref.size[:], ref.res[:] = env.positions, env.sizes, env.resources
            else:
                ref.pos[:], ref.poss[:], ref.gems[:] = env.positions, env.possession, env.gems
                ref.remark()

        sync()
        np.testing.assert_allclose(ref.obs(), obs, atol=1e-6, err_msg=ours_cls.__name__)
        for _ in range(steps):
            a = rng.integers(0, 5, size=(8, env.n_agents))
            o_ref, r_ref, _ = ref.step(a)
            obs, r, *_ = env.step(a)
            r = np.asarray(r)
            r = r if r.shape == r_ref.shape else r.reshape(r_ref.shape)
            np.testing.assert_allclose(r_ref, r, atol=1e-9, err_msg=ours_cls.__name__)
            if ours_cls is JobScheduling:  # no respawns: the observations agree without a sync
                np.testing.assert_allclose(o_ref, obs, atol=1e-6, err_msg=ours_cls.__name__)
            sync()  # respawns are drawn by different generators: take the kernel's, then compare observations
            np.testing.assert_allclose(ref.obs(), obs, atol=1e-6, err_msg=ours_cls.__name__)
        print(f"check: NumPy {ref_cls.__name__} reproduces {ours_cls.__name__}'s rewards and observations "
              f"for {steps} steps")


# ------------------------------------------------------------------------------ timing
def timer_ours(cls, E, steps):
    env = cls(n_envs=E)
    env.reset(0)
    rng = np.random.default_rng(0)
    env.step(rng.integers(0, 5, size=(E, env.n_agents)))  # compile
    return lambda: _agent_steps_per_second(env, rng, steps, E)


def timer_numpy(cls, E, steps):
    env = cls(E)
    rng = np.random.default_rng(0)
    return lambda: _agent_steps_per_second(env, rng, steps, E)


def _agent_steps_per_second(env, rng, steps, E):
    acts = rng.integers(0, 5, size=(steps, E, env.n_agents))
    t = time.perf_counter()
    for k in range(steps):
        env.step(acts[k])
    return steps * E * env.n_agents / (time.perf_counter() - t)


def timer_method(scenario, method, hidden, iterations):
    from sharelib.sharing.federation.discrete import FED_EPI, run_point

    kw = dict(scenario=scenario, n_envs=FED_EPI[scenario], hidden=hidden, lr=1e-3, vf_lr=1e-3, lambda_u=1.0,
              lambda_e=1.0, lambda_h=0.01, alpha=1e-3, eta=1.5)
    run_point(method=method, iterations=1, seed=0, **kw)  # compile

    def run():
        t = time.perf_counter()
        run_point(method=method, iterations=iterations, seed=1, **kw)
        return (time.perf_counter() - t) / iterations

    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000, help="environment steps per timing (per copy)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--hidden", type=int, nargs="*", default=[32])
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--no-check", action="store_true")
    args = ap.parse_args()
    print(f"# {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, NumPy {np.__version__}")
    if not args.no_check:
        check_against_kernel()

    rows = {}
    for name, ours, ref in (("job", JobScheduling, NumpyJob), ("matthew", MatthewEffect, NumpyMatthew),
                            ("plant", ManufacturingPlant, NumpyPlant)):
        for E in (1, 256):
            steps = args.steps if E == 1 else max(20, args.steps // 32)
            rows[(name, E, "sharelib")] = timer_ours(ours, E, steps)
            rows[(name, E, "numpy")] = timer_numpy(ref, E, steps)
    best = {k: 0.0 for k in rows}
    for _ in range(args.repeats):
        for k, fn in rows.items():
            best[k] = max(best[k], fn())
    print(f"\n{'scenario':<9} {'copies':>6} {'sharelib agent-steps/s':>23} {'NumPy agent-steps/s':>20} {'ratio':>7}")
    for name in ("job", "matthew", "plant"):
        for E in (1, 256):
            o, r = best[(name, E, "sharelib")], best[(name, E, "numpy")]
            print(f"{name:<9} {E:>6} {o:>23,.0f} {r:>20,.0f} {o / r:>6.1f}x")

    methods = ("ippo", "fpf", "dandf", "lmf")
    timers = {(s, m): timer_method(s, m, args.hidden, args.iterations) for s in ("job", "matthew", "plant")
              for m in methods}
    tbest = {k: np.inf for k in timers}
    for _ in range(args.repeats):
        for k, fn in timers.items():
            tbest[k] = min(tbest[k], fn())
    print(f"\nOne learning iteration (one 200-step episode in each of fed_epi copies + the update), hidden {args.hidden}:")
    print(f"{'scenario':<9} " + " ".join(f"{m + ' s/iter':>13}" for m in methods) + "   FPF/IPPO  D&F/IPPO  LMF/IPPO")
    for s in ("job", "matthew", "plant"):
        t = [tbest[(s, m)] for m in methods]
        print(f"{s:<9} " + " ".join(f"{x:>13.3f}" for x in t) +
              f"   {t[1] / t[0]:>7.2f}x {t[2] / t[0]:>8.2f}x {t[3] / t[0]:>8.2f}x")


if __name__ == "__main__":
    main()
