"""Benchmark: the D3C figures (Figs. 2b, 3a, 3b, 5, 6) at paper scale.

For each figure it prints the wall time of the batched numba kernel on the paper preset (1000 runs;
GD and D3C), then two speed ratios measured in the same process on a workload truncated to
``--ref-steps`` steps:

* "batched NumPy": a Python loop over training steps, vectorised over the 1000 runs with einsum
  (the strongest plain-NumPy version; it produces the same numbers, checked here to 1e-9);
* "per-run NumPy": the same NumPy code run one run at a time (what a straightforward loop over
  runs and steps does), timed on ``--per-run`` runs and scaled per run-step.

    python benchmarks/d3c.py [--ref-steps 200]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from sharelib import experiments
from sharelib.games import ROUTES, PrisonersDilemma, paper_network, random_braess_networks
from sharelib.games.prisoners_dilemma import target_index
from sharelib.sharing import d3c


# --- straightforward NumPy reference (loop over steps, vectorised over runs) --------------------------


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def braess_numpy(x, slope, icpt, inc):
    """Losses (R, n) and Jacobians (R, n, n, Rt) of the expected commute times."""
    p = _softmax(x)
    q = p @ inc  # (R, n, E)
    others = q.sum(1, keepdims=True) - q
    c = (slope[:, None, :] * (1 + others) + icpt[:, None, :]) @ inc.T  # route costs (R, n, Rt)
    f = (p * c).sum(-1)
    W = (q * slope[:, None, :]) @ inc.T  # d f_k / d p_j (j != k), (R, k, Rt)
    G = p[:, None, :, :] * (W[:, :, None, :] - np.einsum("rjs,rks->rkj", p, W)[..., None])
    n = x.shape[1]
    own = p * (c - (p * c).sum(-1, keepdims=True))
    G[:, np.arange(n), np.arange(n)] = own
    return f, G


def pd_numpy(x, C):
    diff = x[:, None, :, :] - C[None]  # (R, k, j, m)
    return (diff**2).sum((2, 3)), 2 * diff


def d3c_numpy(losses, x, A, steps, lr_x, lr_A, eps, learn_A):
    n = x.shape[1]
    idx = np.arange(n)
    totals = []
    for _ in range(steps):
        f, G = losses(x)
        totals.append(f.sum(1))
        M = np.einsum("rlj,rljd->rjd", A, G)
        if learn_A:
            H = np.einsum("rki,rkjd->rijd", A, G)
            s = np.einsum("rijd,rjd->ri", G, M)
            D = -np.einsum("rijd,rjd->ri", H, M)
            dD = -np.einsum("rimd,rimd->rim", H, G)
            dD[:, idx, idx] -= s
            grad = (D + eps > 0)[..., None] * dD
            A = _softmax(np.log(A) - lr_A * grad)
        x = x - lr_x * M
    return x, A, np.array(totals).T


def _rows(r):
    return slice(r, r + 1) if isinstance(r, int) else r


# --- timing ---------------------------------------------------------------------------------------------


def _time(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref-steps", type=int, default=200, help="steps of the truncated NumPy comparison")
    ap.add_argument("--per-run", type=int, default=20, help="runs timed one at a time for the per-run NumPy ratio")
    args = ap.parse_args(argv)
    PB = experiments.get_preset("d3c.braess", "paper")
    PP = experiments.get_preset("d3c.pd", "paper")
    print(f"D3C benchmark: paper presets, {os.cpu_count()} CPU(s), numba threads {d3c.numba.get_num_threads()}")

    # warm-up (compilation is cached on disk; excluded from the timings)
    d3c.run_braess(paper_network(True), n_runs=2, steps=2)
    d3c.run_pd(PrisonersDilemma(3, 1.0), n_runs=2, steps=2)

    kw_b = dict(steps=PB["steps"], lr_x=PB["lr_x"], lr_A=PB["lr_A"], eps=PB["eps"], nu=PB["nu"],
                target=PB["target"], record_every=PB["record_every"])
    kw_p = dict(steps=PP["steps"], lr_x=PP["lr_x"], lr_A=PP["lr_A"], eps=PP["eps"], nu=PP["nu"],
                target=PP["target"], record_every=PP["record_every"])
    rows = []

    def figure(name, run_kernel, ref_setup, full_steps, n_runs):
        t_full, _ = _time(run_kernel)
        # same truncated workload for both implementations
        x0, A_init, losses, lr_x, lr_A, eps, kernel_trunc = ref_setup
        ratios, per_run = [], []
        for learn in (False, True):
            A0 = A_init(learn)
            t_np, (x_np, A_np, _) = _time(lambda: d3c_numpy(losses, x0.copy(), A0.copy(), args.ref_steps, lr_x, lr_A,
                                                            eps, learn))
            t_nb, res = _time(lambda: kernel_trunc(learn))
            assert np.allclose(res.x, x_np, rtol=1e-9, atol=1e-9), name
            ratios.append(t_np / t_nb)
            k = min(args.per_run, x0.shape[0])
            t_one, _ = _time(lambda: [d3c_numpy(lambda x, r=r: losses(x, r), x0[r:r + 1].copy(), A0[r:r + 1].copy(),
                                                args.ref_steps, lr_x, lr_A, eps, learn) for r in range(k)])
            per_run.append((t_one / k) / (t_nb / x0.shape[0]))
        rows.append((name, n_runs, full_steps, t_full, ratios, per_run))
        print(f"{name:<26} {n_runs:>5} runs x {full_steps:>5} steps: {t_full:5.1f} s (GD + D3C) | numba speed-up on "
              f"{args.ref_steps} steps vs batched NumPy: GD {ratios[0]:4.1f}x, D3C {ratios[1]:4.1f}x; vs per-run NumPy: "
              f"GD {per_run[0]:5.0f}x, D3C {per_run[1]:5.0f}x", flush=True)

    R = PB["n_runs"]
    for shortcut, name in ((False, "Fig. 3a (Braess, no AB)"), (True, "Fig. 3b (Braess, AB)")):
        net = paper_network(shortcut)
        nr = net.n_routes
        inc = ROUTES[:nr].copy()
        x0 = np.random.default_rng(PB["seed"]).standard_normal((R, 4, nr))
        slope = np.tile(net.slope, (R, 1))
        icpt = np.tile(net.intercept, (R, 1))
        setup = (x0, lambda learn: np.tile(d3c.init_mixing(4) if learn else np.eye(4), (R, 1, 1)),
                 lambda x, r=slice(None), s=slope, i=icpt, c=inc: braess_numpy(x, s[_rows(r)], i[_rows(r)], c), PB["lr_x"], PB["lr_A"], PB["eps"],
                 lambda learn, net=net: d3c.run_braess(net, method="d3c" if learn else "gd", n_runs=R, seed=PB["seed"],
                                                       **dict(kw_b, steps=args.ref_steps)))
        figure(name, lambda net=net: [d3c.run_braess(net, method=m, n_runs=R, seed=PB["seed"], **kw_b)
                                      for m in ("gd", "d3c")], setup, PB["steps"], R)

    nets, _ = random_braess_networks(PB["n_networks"], np.random.default_rng([PB["seed"], 2]))
    x0 = np.random.default_rng(PB["seed"]).standard_normal((len(nets), 4, 3))
    slope = np.stack([n.slope for n in nets])
    icpt = np.stack([n.intercept for n in nets])
    setup = (x0, lambda learn: np.tile(d3c.init_mixing(4) if learn else np.eye(4), (len(nets), 1, 1)),
             lambda x, r=slice(None): braess_numpy(x, slope[_rows(r)], icpt[_rows(r)], ROUTES), PB["lr_x"], PB["lr_A"], PB["eps"],
             lambda learn: d3c.run_braess(nets, method="d3c" if learn else "gd", seed=PB["seed"],
                                          **dict(kw_b, steps=args.ref_steps)))
    figure("Fig. 2b (random networks)", lambda: [d3c.run_braess(nets, method=m, seed=PB["seed"], **kw_b)
                                                 for m in ("gd", "d3c")], setup, PB["steps"], len(nets))

    pd = PrisonersDilemma(PP["n_players"], PP["c"])
    n = pd.n_players
    C = np.zeros((n, n, n - 1))
    for k in range(n):
        for j in range(n):
            for m in range(n - 1):
                C[k, j, m] = pd.c if target_index(j, m) == k else 0.0
    R = PP["n_runs"]
    x0 = np.random.default_rng(PP["seed"]).standard_normal((R,) + pd.shape)
    setup = (x0, lambda learn: np.tile(d3c.init_mixing(n) if learn else np.eye(n), (R, 1, 1)),
             lambda x, r=slice(None): pd_numpy(x, C), PP["lr_x"], PP["lr_A"], PP["eps"],
             lambda learn: d3c.run_pd(pd, method="d3c" if learn else "gd", n_runs=R, seed=PP["seed"],
                                      **dict(kw_p, steps=args.ref_steps)))
    figure("Fig. 5 (PD, n=10)", lambda: [d3c.run_pd(pd, method=m, n_runs=R, seed=PP["seed"], **kw_p)
                                         for m in ("gd", "d3c")], setup, PP["steps"], R)

    t6, _ = _time(lambda: d3c.pd_single_run(dict(PP, preset="paper")))
    print(f"{'Fig. 6 (PD, one run)':<26} {1:>5} run  x {PP['single_steps']:>5} steps: {t6:6.2f} s")
    t_sw, _ = _time(lambda: d3c.pd_sweep(dict(PP, preset="paper")))
    print(f"{'PD sweep (12 points)':<26} {PP['sweep_runs']:>5} runs each:          {t_sw:6.1f} s")
    return rows


if __name__ == "__main__":
    main()
