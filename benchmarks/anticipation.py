"""Benchmark: the price of anticipation sharing, one AS learning iteration against IPPO's, and one AS
update against PyTorch.

AS keeps, for every agent, an anticipation network of every other agent (the paper's "N^2 policy
networks") and updates agents one after another, sharing after each; IPPO is the same PPO core
with no sharing (``sharelib.sharing.anticipation.baselines``).

Table ``iteration``: for each environment and size, the wall time of one learning iteration
(collect one episode in every copy, then Algorithm 1's K = 3 update iterations), agent-steps per
second, and the ratio AS / IPPO, with Table 2's networks unless ``--hidden`` is given.

Table ``update``: the update alone (:meth:`AnticipationSharing.update` on one fixed rollout, one
episode per copy: K = 3 iterations of every agent's Eq. 16 step on its policy and its n - 1
anticipation networks, sequential sharing, the critics on Monte-Carlo returns, Adam, gradient
clipping) against :func:`torch_as`, the same update written here in PyTorch (CPU, one thread,
autograd, ``torch.optim.Adam``; each agent's anticipations and all critics are stacked weights
evaluated with ``torch.baddbmm``), in float64 and float32, best of ``--repeats`` after a warm-up.
Before timing, one update from identical parameters must agree with ours to 1e-6 relative in
float64 (every clipped gradient, every parameter change and the objective; ``--check`` prints the
comparison, float32 included, and stops). The PyTorch column is skipped with a note when torch is
missing (``pip install torch==2.13.0``: the CPU build).

    python benchmarks/anticipation.py [--iterations 5] [--n-envs 8] [--hidden 128 64] [--repeats 5]
                                      [--tables iteration update] [--check]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from sharelib.envs import ENVIRONMENTS
from sharelib.learners.common import EpisodeTracker
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


# ----------------------------------------------------------------------------- one AS update, ours vs PyTorch
def rollout_for(learner, env, seed=0):
    """One rollout of ``learner.n_steps`` steps in every copy of ``env`` (the batch both updates get)."""
    rng = np.random.default_rng(seed)
    obs = env.reset(seed)
    rollout, _ = learner.collect(env, obs, rng, EpisodeTracker(env.n_envs, env.n_agents))
    return rollout


def torch_as(learner, dtype="float64"):
    """PyTorch version of :meth:`AnticipationSharing.update` (Algorithm 1 as run by ``learner``'s
    defaults: sequential order, old policy refreshed per update iteration, xi_N over the old
    anticipations, kappa on both penalties, communication at every iteration), starting from a
    copy of ``learner``'s current parameters. Returns ``(update, export)``: ``update(rollout, rng,
    record=None)`` runs one learning iteration (``record``: a dict that receives every clipped
    gradient, keyed ``(epoch, "pi" | "antic" | "v", agent)``, and the objectives); ``export()``
    gives ``(policy (n, P), anticipation (n, n, P), value (n, Pv))`` in our flat layout.

    Written from Eq. 13-18 and Algorithm 1: each agent's n - 1 anticipation networks are one stack
    of weights evaluated with ``torch.baddbmm``; the critics of all agents are one stack too, and
    are updated together once per update iteration, which is exact because the advantages of an
    update iteration use the critics as they were at its start (and the critics' targets are fixed
    Monte-Carlo returns). Autograd gives every gradient; each network's gradient is clipped to
    ``max_grad_norm`` separately (as ours), then ``torch.optim.Adam`` steps (one optimiser per agent
    for its policy and anticipations, one for the stacked critics)."""
    import torch

    L = learner
    if (L.order, L.old_policy, L.neighbour_ratio, L.kappa, L.partners, L.communicate_every) != (
            "sequential", "iteration", "anticipation", "both", None, 1):
        raise ValueError("torch_as implements the default readings of Algorithm 1 only")
    torch.set_num_threads(1)
    td = getattr(torch, dtype)
    n, gamma, lam, clip, mx = L.n_agents, L.gamma, L.gae_lambda, L.clip, L.max_grad_norm
    rho = L.rho
    rho_p = rho if L.rho_prime is None else L.rho_prime
    act = torch.relu_ if L.activation == "relu" else torch.tanh_  # in place: baddbmm's backward needs no output
    others = [[j for j in range(n) if j != i] for i in range(n)]
    # where agent i sits among agent j's others (to read j's anticipation of i)
    pos_of_me = [[i if i < j else i - 1 for j in others[i]] for i in range(n)]

    def leaves(flat, sizes):
        out, o = [], 0
        for din, dout in zip(sizes[:-1], sizes[1:]):
            W = flat[..., o:o + din * dout].reshape(flat.shape[:-1] + (din, dout))
            o += din * dout
            b = flat[..., o:o + dout]
            o += dout
            out += [torch.tensor(W, dtype=td).requires_grad_(), torch.tensor(b, dtype=td).requires_grad_()]
        return out

    def flat(ps):
        return np.concatenate([p.detach().double().numpy().reshape(p.shape[:-2] + (-1,)) if k % 2 == 0
                               else p.detach().double().numpy() for k, p in enumerate(ps)], axis=-1)

    pi = [leaves(L.policy_params[i], L.policy_net.sizes) for i in range(n)]
    an = [leaves(L.anticipation_params[i, others[i]], L.policy_net.sizes) for i in range(n)]
    vf = leaves(L.value_params, L.value_net.sizes)
    opts = [torch.optim.Adam(pi[i] + an[i], lr=L.lr, eps=1e-5) for i in range(n)]
    vopt = torch.optim.Adam(vf, lr=L.vf_lr, eps=1e-5)

    def mlp(ps, x):  # ps: [W1, b1, ...], one network (x (B, d)) or a stack (W (m, din, dout), x (m, B, d))
        h = x
        for k in range(0, len(ps), 2):
            W, b = ps[k], ps[k + 1]
            h = torch.addmm(b, h, W) if W.dim() == 2 else torch.baddbmm(b.unsqueeze(1), h, W)
            if k + 2 < len(ps):
                h = act(h)
        return h

    def clip_(ps):  # each network's (each row of a stack's) gradient norm clipped to max_grad_norm
        with torch.no_grad():
            stacked = ps[0].dim() == 3
            sq = sum((p.grad.pow(2).flatten(1).sum(1) if stacked else p.grad.pow(2).sum()) for p in ps)
            norm = sq.sqrt()
            f = torch.where(norm > mx, mx / (norm + 1e-12), torch.ones_like(norm))
            for p in ps:
                p.grad.mul_(f.view(-1, *([1] * (p.dim() - 1))) if stacked else f)

    def gae_(rew, values, nonterm, lam_):  # (T, E, n), (T + 1, E, n), (T, E, 1) -> advantages (T, E, n)
        delta = rew + gamma * values[1:] * nonterm - values[:-1]
        coef = gamma * lam_ * nonterm
        adv = torch.empty_like(rew)
        last = torch.zeros_like(rew[0])
        for t in range(rew.shape[0] - 1, -1, -1):
            last = delta[t] + coef[t] * last
            adv[t] = last
        return adv

    def update(rollout, rng, record=None):
        T, E, _, d = rollout.obs.shape
        N = T * E
        Xnp = np.ascontiguousarray(rollout.obs.reshape(N, n, d), dtype=L.dtype)
        mask = torch.from_numpy(L._neighbours(Xnp, rng)).permute(1, 2, 0)  # (i, j, N), the same graph as ours
        Xt = torch.from_numpy(Xnp).to(td).transpose(0, 1).contiguous()  # (n, N, d)
        Xo = torch.stack([Xt[o] for o in others])  # (n, n - 1, N, d): agent i's anticipations read o_j
        last_obs = torch.from_numpy(rollout.last_obs).to(td).transpose(0, 1)  # (n, E, d)
        acts = torch.from_numpy(np.ascontiguousarray(rollout.actions.reshape(N, n).T))  # (n, N)
        acts_o = torch.stack([acts[o] for o in others])  # (n, n - 1, N)
        masks = [mask[i, others[i]] for i in range(n)]  # (n - 1, N)
        rew = torch.from_numpy(rollout.rewards).to(td)
        nonterm = torch.from_numpy(~rollout.dones).to(td).unsqueeze(-1)
        v_roll = torch.from_numpy(rollout.values).to(td)
        targets = (gae_(rew, v_roll, nonterm, 1.0) + v_roll[:T]).reshape(N, n).T  # Eq. 18: MC returns
        with torch.no_grad():  # what everyone shares: pi^jj(.|s) (n, N, A) and pi^ij(.|s) (n, n - 1, N, A)
            own = torch.softmax(mlp([torch.stack(ps) for ps in zip(*pi)], Xt), -1)
            antic = torch.softmax(mlp([torch.stack(ps).flatten(0, 1) for ps in zip(*an)], Xo.flatten(0, 1)),
                                  -1).unflatten(0, (n, n - 1))
        for epoch in range(L.n_epochs):
            old_own = own.gather(-1, acts.unsqueeze(-1)).squeeze(-1).log()  # (n, N)
            old_antic = antic.gather(-1, acts_o.unsqueeze(-1)).squeeze(-1).log()  # (n, n - 1, N)
            v_now = mlp(vf, Xt)[..., 0]  # (n, N), kept for the critics' step at the end of the iteration
            with torch.no_grad():
                v_last = mlp(vf, last_obs)[..., 0]
                values = torch.cat([v_now.T.reshape(T, E, n), v_last.T.unsqueeze(0)])
                adv_all = gae_(rew, values, nonterm, lam).reshape(N, n).T  # (n, N), Eq. 17
            for i in range(n):
                adv, m_i, a_i, a_o = adv_all[i], masks[i], acts[i], acts_o[i]
                z_own = mlp(pi[i], Xt[i])  # (N, A)
                z_an = mlp(an[i], Xo[i])  # (n - 1, N, A)
                p_own, p_an = torch.softmax(z_own, -1), torch.softmax(z_an, -1)
                p_own_a = p_own.gather(-1, a_i.unsqueeze(-1)).squeeze(-1)  # pi^ii(a_i|s)
                p_an_a = p_an.gather(-1, a_o.unsqueeze(-1)).squeeze(-1)  # pi^ij(a_j|s), (n - 1, N)
                xi = torch.exp(torch.log(p_own_a) - old_own[i])
                xi_nb = torch.exp(torch.where(m_i, torch.log(p_an_a) - old_antic[i], 0.0).sum(0))
                unclipped = xi * xi_nb * adv
                clipped = torch.clamp(xi, 1.0 - clip, 1.0 + clip) * xi_nb * adv
                surrogate = torch.where(unclipped <= clipped, unclipped, clipped).mean()
                kap = adv.abs().mean()
                pi_nb = own[others[i]]  # (n - 1, N, A)
                antic_me = antic[others[i], pos_of_me[i]]  # pi^ji(.|s), (n - 1, N, A)
                with torch.no_grad():  # Eq. 14-15: the activation sets (indicators, no gradient)
                    in_xij = m_i & (p_an_a / pi_nb.gather(-1, a_o.unsqueeze(-1)).squeeze(-1) * adv >= adv)
                    in_xii = m_i & (p_own_a / antic_me.gather(-1, a_i.expand(n - 1, N).unsqueeze(-1)).squeeze(-1)
                                    * adv >= adv)
                pen_a = kap * rho * torch.where(in_xij, ((p_an - pi_nb) ** 2).sum(-1), 0.0).sum(0).mean()
                pen_o = kap * rho_p * torch.where(in_xii, ((p_own - antic_me) ** 2).sum(-1), 0.0).sum(0).mean()
                objective = surrogate - pen_a - pen_o  # Eq. 16
                opts[i].zero_grad()
                (-objective).backward()
                clip_(pi[i])
                clip_(an[i])
                if record is not None:
                    record[(epoch, "pi", i)] = flat([p.grad for p in pi[i]])
                    record[(epoch, "antic", i)] = flat([p.grad for p in an[i]])
                    record.setdefault("objective", []).append(objective.item())
                opts[i].step()
                with torch.no_grad():  # i shares its new distributions at once (Alg. 1)
                    own[i] = torch.softmax(mlp(pi[i], Xt[i]), -1)
                    antic[i] = torch.softmax(mlp(an[i], Xo[i]), -1)
            v_loss = 0.5 * ((v_now - targets) ** 2).mean(1).sum()  # Eq. 18, every agent's critic at once
            vopt.zero_grad()
            v_loss.backward()
            clip_(vf)
            if record is not None:
                g = flat([p.grad for p in vf])
                for i in range(n):
                    record[(epoch, "v", i)] = g[i]
            vopt.step()

    def export():
        P = L.policy_net.n_params
        antic_flat = np.zeros((n, n, P))
        for i in range(n):
            antic_flat[i, others[i]] = flat(an[i])
        return np.stack([flat(p) for p in pi]), antic_flat, flat(vf)

    return update, export


def _record_ours(learner):
    """Wrap ``learner``'s optimisers so that each step's (clipped) gradient lands in the returned dict."""
    rec = {}
    n = learner.n_agents
    for kind, opts in (("pi", learner._pi_opt), ("antic", learner._antic_opt), ("v", learner._v_opt)):
        for i, opt in enumerate(opts):
            def step(params, grad, _opt=opt, _kind=kind, _i=i, _step=opt.step):
                g = np.array(grad, dtype=np.float64)
                rec[(_opt.t, _kind, _i)] = g[[j for j in range(n) if j != _i]] if _kind == "antic" else g
                return _step(params, grad)
            opt.step = step
    return rec


def check(cases=(("cooperative_navigation", None), ("cooperative_predation", 8)), n_envs=2, dtype="float64",
          verbose=True):
    """One AS update (K = 3 iterations, every agent) from identical parameters, ours vs PyTorch:
    returns the largest relative difference over every clipped gradient (max |ours - torch| /
    max |ours| per gradient), every parameter change and the mean objective."""
    worst = 0.0
    for name, n in cases:
        cfg = ENV_SETTINGS[name]
        env = ENVIRONMENTS[name](n_envs=n_envs, **({} if n is None else {"n_agents": n}))
        ours = AnticipationSharing.for_env(env, rho=cfg["rho"], graph=_graph(env), hidden=cfg["hidden"], lr=cfg["lr"],
                                           n_steps=env.max_steps, dtype=dtype)
        rollout = rollout_for(ours, env)
        update, export = torch_as(ours, dtype)
        before = (ours.policy_params.copy(), ours.anticipation_params.copy(), ours.value_params.copy())
        rec_ours, rec_torch = _record_ours(ours), {}
        stats = ours.update(rollout, np.random.default_rng(5))
        update(rollout, np.random.default_rng(5), record=rec_torch)
        rel = {}
        for (t, kind, i), g in rec_ours.items():
            h = rec_torch[(t, kind, i)]  # ours: t = steps before this one
            rel[kind] = max(rel.get(kind, 0.0), float(np.abs(g - h).max() / max(np.abs(g).max(), 1e-300)))
        after_t = export()
        for kind, b, a_o, a_t in zip(("policy", "anticipation", "value"), before,
                                     (ours.policy_params, ours.anticipation_params, ours.value_params), after_t):
            d_o, d_t = a_o - b, a_t - b
            if kind == "anticipation":  # the diagonal (i's "anticipation" of itself) is unused
                off = ~np.eye(env.n_agents, dtype=bool)
                d_o, d_t = d_o[off], d_t[off]
            rel["step " + kind] = float(np.abs(d_o - d_t).max() / np.abs(d_o).max())
        obj_t = float(np.mean(rec_torch["objective"]))
        rel["objective"] = abs(stats["objective"] - obj_t) / abs(stats["objective"])
        worst = max(worst, *rel.values())
        if verbose:
            print(f"check {dtype} {name} n={env.n_agents} N={env.max_steps * n_envs}: objective ours "
                  f"{stats['objective']:.10g} torch {obj_t:.10g}; max relative differences "
                  + ", ".join(f"{k} {v:.1e}" for k, v in rel.items()))
    return worst


def time_update(update, rollout, repeats, seed=0):
    rng = np.random.default_rng(seed)
    update(rollout, rng)  # compile / warm up
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        update(rollout, rng)
        best = min(best, time.perf_counter() - t)
    return best


def update_table(n_envs, hidden, repeats, have_torch):
    """Seconds per AS update (one learning iteration's K = 3 update iterations on one fixed rollout)."""
    print(f"\nOne AS update (best of {repeats}, after a warm-up), ms; PyTorch / sharelib ratios")
    print("| environment | agents | agent-steps | sharelib f64 | PyTorch f64 | ratio | sharelib f32 | PyTorch f32 "
          "| ratio | sharelib f64 agent-steps/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, n in CASES:
        cfg = ENV_SETTINGS[name]
        env = ENVIRONMENTS[name](n_envs=n_envs, **({} if n is None else {"n_agents": n}))
        h = tuple(hidden) if hidden is not None else cfg["hidden"]
        row = {}
        for dtype in ("float64", "float32"):
            make = lambda: AnticipationSharing.for_env(env, rho=cfg["rho"], graph=_graph(env), hidden=h,  # noqa: E731
                                                       lr=cfg["lr"], n_steps=env.max_steps, dtype=dtype)
            ours = make()
            rollout = rollout_for(ours, env)
            row["ours", dtype] = time_update(ours.update, rollout, repeats)
            if have_torch:
                row["torch", dtype] = time_update(torch_as(make(), dtype)[0], rollout, repeats)
        steps = env.max_steps * env.n_envs * env.n_agents
        cells = []
        for dtype in ("float64", "float32"):
            o = row["ours", dtype]
            t = row.get(("torch", dtype))
            cells += [f"{1e3 * o:.1f}"] + (["n/a", "n/a"] if t is None else [f"{1e3 * t:.1f}", f"{t / o:.2f}"])
        label = name.replace("_", " ").title()
        rate = steps / row["ours", "float64"]
        print(f"| {label} | {env.n_agents} | {steps:,} | " + " | ".join(cells) + f" | {rate:,.0f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--n-envs", type=int, default=8)
    ap.add_argument("--hidden", type=int, nargs="*", default=None)
    ap.add_argument("--repeats", type=int, default=5, help="timed AS updates per variant (best is kept)")
    ap.add_argument("--tables", nargs="+", choices=("iteration", "update"), default=["iteration", "update"])
    ap.add_argument("--check", action="store_true", help="only check the PyTorch update against ours and print")
    args = ap.parse_args()
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
        print("torch not installed (pip install torch==2.13.0): the PyTorch comparison is skipped")
    if args.check:
        if have_torch:
            for dtype in ("float64", "float32"):
                print(f"{dtype}: largest relative difference {check(dtype=dtype):.1e}")
        return
    if "iteration" in args.tables:
        iteration_table(args.iterations, args.n_envs, args.hidden)
    if "update" in args.tables:
        if have_torch:  # the PyTorch update must be the same computation before it is timed
            worst = check(dtype="float64", verbose=False)
            assert worst < 1e-6, f"PyTorch AS update differs from ours by {worst:.1e} (relative) in float64"
            print(f"\nchecked: PyTorch's float64 update agrees with ours to {worst:.1e} (largest relative difference)")
        update_table(args.n_envs, args.hidden, args.repeats, have_torch)


def iteration_table(iterations, n_envs, hidden_arg):
    print(f"{'environment':<24} {'n':>3} {'AS s/iter':>10} {'IPPO s/iter':>12} {'AS agent-steps/s':>17} {'AS / IPPO':>9}")
    for name, n in CASES:
        cfg = ENV_SETTINGS[name]
        env = ENVIRONMENTS[name](n_envs=n_envs, **({} if n is None else {"n_agents": n}))
        hidden = tuple(hidden_arg) if hidden_arg is not None else cfg["hidden"]
        T = env.max_steps
        t_as = time_learner(lambda: AnticipationSharing.for_env(env, rho=cfg["rho"], graph=_graph(env), hidden=hidden,
                                                                lr=cfg["lr"], n_steps=T), env, iterations)
        t_ip = time_learner(lambda: make_baseline("ippo", env, hidden=hidden, lr=cfg["lr"], n_steps=T), env,
                            iterations)
        steps = T * env.n_envs * env.n_agents
        print(f"{name:<24} {env.n_agents:>3} {t_as:>10.3f} {t_ip:>12.3f} {steps / t_as:>17,.0f} {t_as / t_ip:>8.1f}x")


if __name__ == "__main__":
    main()
