"""PPO training throughput: agent-steps per second, rollouts and updates included.

Runs the same PPO iteration (independent agents, each with a 2x64 tanh policy MLP and a 2x64 tanh
value MLP, Adam, clipped ratio, GAE, ``n_epochs`` x ``n_minibatches``, gradient clipping) on the
2-agent Coin game (obs_dim 100, 4 actions; the environment is the same numba kernel for every
column) with three implementations, measured in the same run:

- ``sharelib``: :class:`sharelib.learners.PPO` (numba kernels), in float64 (the default) and with
  ``dtype="float32"`` (parameters, activations, gradients and Adam state in float32, as PyTorch);
- ``numpy``: a straightforward NumPy implementation of the same forward/backward/Adam (float64),
  the reference every sharelib benchmark reports against;
- ``torch``: a PyTorch CPU implementation (float32, autograd, ``torch.optim.Adam``) in the CleanRL
  style, when torch is installed (``pip install torch``); the column is skipped otherwise.  It is
  given the fast options a performance-minded PyTorch user would pick: fused Adam
  (``fused=True``, torch >= 2.4; the per-tensor loop otherwise) and ``Categorical`` without
  argument validation (together about 20% faster than the defaults at 32 copies).

Usage::

    python benchmarks/ppo_throughput.py [--iters 3] [--repeats 3] [--threads 1] [--quick]

BLAS/torch threads are pinned to ``--threads`` (default 1: the comparison is per core).  Each
implementation is timed ``--repeats`` times over ``--iters`` iterations (after one warm-up
iteration) and the fastest repeat is reported, for every implementation alike: on a shared machine
the minimum is the least noisy estimate of what the code costs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iters", type=int, default=3, help="timed PPO iterations per configuration")
    ap.add_argument("--repeats", type=int, default=3, help="timings per configuration (best is kept)")
    ap.add_argument("--threads", type=int, default=1, help="BLAS / torch threads")
    ap.add_argument("--quick", action="store_true", help="one small configuration, one iteration")
    ap.add_argument("--activation", choices=("tanh", "relu"), default="tanh",
                    help="hidden activation of the sharelib networks only (the references stay tanh)")
    return ap.parse_args()


ARGS = _parse() if __name__ == "__main__" else argparse.Namespace(iters=1, repeats=1, threads=1, quick=True,
                                                                     activation="tanh")
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, str(ARGS.threads))

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sharelib.envs.coin_game import CoinGame  # noqa: E402
from sharelib.learners import PPO  # noqa: E402
from sharelib.learners.common import EpisodeTracker, gae  # noqa: E402

HIDDEN = (64, 64)
HP = dict(gamma=0.99, lam=0.95, clip=0.2, ent=0.01, vf=0.5, lr=3e-4, max_norm=0.5)


# -------------------------------------------------------------------------------- numpy PPO
class NumpyMLP:
    def __init__(self, sizes, rng, out_gain):
        self.W, self.b = [], []
        for i, (a, c) in enumerate(zip(sizes[:-1], sizes[1:])):
            g = out_gain if i == len(sizes) - 2 else np.sqrt(2)
            self.W.append(g * rng.standard_normal((a, c)) / np.sqrt(a))
            self.b.append(np.zeros(c))
        self.params = self.W + self.b
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def forward(self, x):
        hs = [x]
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            z = hs[-1] @ W + b
            hs.append(np.tanh(z) if i < len(self.W) - 1 else z)
        return hs[-1], hs

    def backward(self, hs, dout):
        gW, gb = [None] * len(self.W), [None] * len(self.W)
        dz = dout
        for i in range(len(self.W) - 1, -1, -1):
            gW[i] = hs[i].T @ dz
            gb[i] = dz.sum(0)
            if i > 0:
                dz = (dz @ self.W[i].T) * (1 - hs[i] ** 2)
        return gW + gb

    def adam(self, grads, lr, max_norm, b1=0.9, b2=0.999, eps=1e-5):
        norm = np.sqrt(sum((g * g).sum() for g in grads))
        if norm > max_norm:
            grads = [g * (max_norm / norm) for g in grads]
        self.t += 1
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p -= lr * (m / (1 - b1**self.t)) / (np.sqrt(v / (1 - b2**self.t)) + eps)


class NumpyPPO:
    def __init__(self, obs_dim, n_actions, n_agents, n_steps, n_epochs, n_minibatches, seed=0):
        rng = np.random.default_rng(seed)
        self.pi = [NumpyMLP((obs_dim, *HIDDEN, n_actions), rng, 0.01) for _ in range(n_agents)]
        self.vf = [NumpyMLP((obs_dim, *HIDDEN, 1), rng, 1.0) for _ in range(n_agents)]
        self.n, self.T, self.ne, self.nm = n_agents, n_steps, n_epochs, n_minibatches

    @staticmethod
    def _logsoftmax(z):
        z = z - z.max(1, keepdims=True)
        return z - np.log(np.exp(z).sum(1, keepdims=True))

    def act(self, obs, rng):
        E = obs.shape[0]
        a = np.empty((E, self.n), np.int64)
        lp = np.empty((E, self.n))
        v = np.empty((E, self.n))
        for i in range(self.n):
            ls = self._logsoftmax(self.pi[i].forward(obs[:, i])[0])
            c = np.exp(ls).cumsum(1)
            a[:, i] = np.minimum((rng.random((E, 1)) > c).sum(1), ls.shape[1] - 1)
            lp[:, i] = ls[np.arange(E), a[:, i]]
            v[:, i] = self.vf[i].forward(obs[:, i])[0][:, 0]
        return a, lp, v

    def iteration(self, env, obs, rng):
        T, E, n = self.T, env.n_envs, self.n
        O = np.empty((T, E, n, env.obs_dim))
        A = np.empty((T, E, n), np.int64)
        LP, V, R = np.empty((T, E, n)), np.empty((T + 1, E, n)), np.empty((T, E, n))
        D = np.empty((T, E), bool)
        for t in range(T):
            a, lp, v = self.act(obs, rng)
            O[t], A[t], LP[t], V[t] = obs, a, lp, v
            obs, R[t], D[t] = env.step(a)
        V[T] = self.act(obs, rng)[2]
        adv, ret = np.empty((T, E, n)), np.empty((T, E, n))
        last = np.zeros((E, n))
        for t in range(T - 1, -1, -1):  # GAE in NumPy, vectorised over copies and agents
            nt = (~D[t]).astype(float)[:, None]
            delta = R[t] + HP["gamma"] * V[t + 1] * nt - V[t]
            last = delta + HP["gamma"] * HP["lam"] * nt * last
            adv[t] = last
        ret = adv + V[:T]
        N = T * E
        mb = N // self.nm
        for i in range(n):
            X, Ai, OL = O[:, :, i].reshape(N, -1), A[:, :, i].reshape(N), LP[:, :, i].reshape(N)
            AD, RT = adv[:, :, i].reshape(N), ret[:, :, i].reshape(N)
            for _ in range(self.ne):
                perm = rng.permutation(N)
                for s in range(0, N - mb + 1, mb):
                    idx = perm[s:s + mb]
                    x, a, ol, ad, rt = X[idx], Ai[idx], OL[idx], AD[idx], RT[idx]
                    ad = (ad - ad.mean()) / (ad.std() + 1e-8)
                    z, hs = self.pi[i].forward(x)
                    ls = self._logsoftmax(z)
                    p = np.exp(ls)
                    lp = ls[np.arange(mb), a]
                    r = np.exp(lp - ol)
                    unclipped = r * ad <= np.clip(r, 1 - HP["clip"], 1 + HP["clip"]) * ad
                    dlp = np.where(unclipped, -ad * r, 0.0) / mb
                    onehot = np.zeros_like(p)
                    onehot[np.arange(mb), a] = 1
                    H = -(p * ls).sum(1)
                    dz = dlp[:, None] * (onehot - p) + HP["ent"] / mb * p * (ls + H[:, None])
                    self.pi[i].adam(self.pi[i].backward(hs, dz), HP["lr"], HP["max_norm"])
                    v, hv = self.vf[i].forward(x)
                    self.vf[i].adam(self.vf[i].backward(hv, HP["vf"] * (v - rt[:, None]) / mb),
                                    HP["lr"], HP["max_norm"])
        return obs


# -------------------------------------------------------------------------------- torch PPO
def make_torch_ppo(obs_dim, n_actions, n_agents, n_steps, n_epochs, n_minibatches, threads, seed=0):
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(seed)

    def mlp(out, gain):
        net = nn.Sequential(nn.Linear(obs_dim, HIDDEN[0]), nn.Tanh(), nn.Linear(HIDDEN[0], HIDDEN[1]),
                            nn.Tanh(), nn.Linear(HIDDEN[1], out))
        for m in net:
            if isinstance(m, nn.Linear):
                nn.init.orthogonal_(m.weight, np.sqrt(2))
                nn.init.zeros_(m.bias)
        nn.init.orthogonal_(net[-1].weight, gain)
        return net

    def adam(params):
        params = list(params)
        try:
            return torch.optim.Adam(params, lr=HP["lr"], eps=1e-5, fused=True)
        except (TypeError, RuntimeError):  # torch without fused CPU Adam
            return torch.optim.Adam(params, lr=HP["lr"], eps=1e-5)

    def categorical(logits):
        return torch.distributions.Categorical(logits=logits, validate_args=False)

    class TorchPPO:
        def __init__(self):
            self.pi = [mlp(n_actions, 0.01) for _ in range(n_agents)]
            self.vf = [mlp(1, 1.0) for _ in range(n_agents)]
            self.opt_pi = [adam(p.parameters()) for p in self.pi]
            self.opt_vf = [adam(v.parameters()) for v in self.vf]

        def iteration(self, env, obs, rng):
            T, E, n = n_steps, env.n_envs, n_agents
            O = torch.zeros((T, E, n, obs_dim))
            A = torch.zeros((T, E, n), dtype=torch.long)
            LP, V, R = torch.zeros((T, E, n)), torch.zeros((T + 1, E, n)), torch.zeros((T, E, n))
            D = torch.zeros((T, E))
            with torch.no_grad():
                for t in range(T):
                    o = torch.from_numpy(obs)
                    O[t] = o
                    for i in range(n):
                        dist = categorical(self.pi[i](o[:, i]))
                        a = dist.sample()
                        A[t, :, i] = a
                        LP[t, :, i] = dist.log_prob(a)
                        V[t, :, i] = self.vf[i](o[:, i])[:, 0]
                    obs, r, d = env.step(A[t].numpy())
                    R[t] = torch.from_numpy(r).float()
                    D[t] = torch.from_numpy(d).float()
                o = torch.from_numpy(obs)
                for i in range(n):
                    V[T, :, i] = self.vf[i](o[:, i])[:, 0]
                adv = torch.zeros((T, E, n))
                last = torch.zeros((E, n))
                for t in reversed(range(T)):
                    nt = (1.0 - D[t])[:, None]
                    delta = R[t] + HP["gamma"] * V[t + 1] * nt - V[t]
                    last = delta + HP["gamma"] * HP["lam"] * nt * last
                    adv[t] = last
                ret = adv + V[:T]
            N = T * E
            mb = N // n_minibatches
            for i in range(n):
                X, Ai, OL = O[:, :, i].reshape(N, -1), A[:, :, i].reshape(N), LP[:, :, i].reshape(N)
                AD, RT = adv[:, :, i].reshape(N), ret[:, :, i].reshape(N)
                for _ in range(n_epochs):
                    perm = torch.from_numpy(rng.permutation(N))
                    for s in range(0, N - mb + 1, mb):
                        idx = perm[s:s + mb]
                        ad = AD[idx]
                        ad = (ad - ad.mean()) / (ad.std() + 1e-8)
                        dist = categorical(self.pi[i](X[idx]))
                        ratio = (dist.log_prob(Ai[idx]) - OL[idx]).exp()
                        pg = -torch.min(ratio * ad, ratio.clamp(1 - HP["clip"], 1 + HP["clip"]) * ad).mean()
                        loss = pg - HP["ent"] * dist.entropy().mean()
                        self.opt_pi[i].zero_grad()
                        loss.backward()
                        nn.utils.clip_grad_norm_(self.pi[i].parameters(), HP["max_norm"])
                        self.opt_pi[i].step()
                        vloss = HP["vf"] * 0.5 * ((self.vf[i](X[idx])[:, 0] - RT[idx]) ** 2).mean()
                        self.opt_vf[i].zero_grad()
                        vloss.backward()
                        nn.utils.clip_grad_norm_(self.vf[i].parameters(), HP["max_norm"])
                        self.opt_vf[i].step()
            return obs

    return TorchPPO(), torch.__version__


# -------------------------------------------------------------------------------- timing
def time_impl(step, env, iters, warmup=1, repeats=None):
    """Fastest of ``repeats`` timings of ``iters`` consecutive iterations (after ``warmup``)."""
    repeats = ARGS.repeats if repeats is None else repeats
    rng = np.random.default_rng(0)
    obs = env.reset(0)
    for _ in range(warmup):
        obs = step(env, obs, rng)
    best = np.inf
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        for _ in range(iters):
            obs = step(env, obs, rng)
        best = min(best, time.perf_counter() - t0)
    return best


def run(configs, iters, threads):
    rows = []
    for E, T, ne, nm in configs:
        env = CoinGame(E)
        n = env.n_agents
        agent_steps = iters * T * E * n
        t_ours = {}
        for dtype in ("float64", "float32"):
            ppo = PPO.for_env(env, hidden=HIDDEN, activation=ARGS.activation, n_steps=T, n_epochs=ne,
                              n_minibatches=nm, lr=HP["lr"],
                              gamma=HP["gamma"], gae_lambda=HP["lam"], clip=HP["clip"],
                              ent_coef=HP["ent"], vf_coef=HP["vf"], max_grad_norm=HP["max_norm"],
                              dtype=dtype, seed=0)
            tracker = EpisodeTracker(E, n)

            def ours(env, obs, rng, ppo=ppo, tracker=tracker):
                ro, obs = ppo.collect(env, obs, rng, tracker)
                ppo.update(ro, rng)
                return obs

            t_ours[dtype] = time_impl(ours, env, iters)
        npp = NumpyPPO(env.obs_dim, env.n_actions, n, T, ne, nm)
        t_np = time_impl(npp.iteration, env, iters)
        try:
            tp, tv = make_torch_ppo(env.obs_dim, env.n_actions, n, T, ne, nm, threads)
            t_torch = time_impl(tp.iteration, env, iters)
        except ImportError:
            t_torch, tv = None, None
        rows.append(dict(E=E, T=T, epochs=ne, minibatch=T * E // nm, ours=agent_steps / t_ours["float64"],
                         ours32=agent_steps / t_ours["float32"],
                         numpy=agent_steps / t_np,
                         torch=None if t_torch is None else agent_steps / t_torch, torch_version=tv))
    return rows


def _cpu_name():
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def tanh_cost(shape=(1024, 64), repeats=200):
    """ns per element of tanh: numba's ``np.tanh`` inside a kernel against NumPy's on an array."""
    import numba

    @numba.njit
    def in_kernel(x):
        np.tanh(x, x)

    out = {}
    for dtype in (np.float64, np.float32):
        x = np.random.default_rng(0).normal(size=shape).astype(dtype)
        for name, f in (("numba", in_kernel), ("numpy", lambda y: np.tanh(y, y))):
            y = x.copy()
            f(y)
            best = float("inf")
            for _ in range(repeats):
                y[:] = x
                t = time.perf_counter()
                f(y)
                best = min(best, time.perf_counter() - t)
            out[(np.dtype(dtype).name, name)] = 1e9 * best / x.size
    return out


def main():

    configs = [(8, 128, 4, 4)] if ARGS.quick else [(1, 128, 4, 4), (8, 128, 4, 4), (32, 128, 4, 4)]
    iters = 1 if ARGS.quick else ARGS.iters
    rows = run(configs, iters, ARGS.threads)
    print(f"PPO training throughput, Coin game (2 agents, obs 100, 4 actions), policy+value 2x64 MLPs "
          f"({ARGS.activation} in sharelib, tanh in the references)")
    print(f"machine: {_cpu_name()}, {os.cpu_count()} cores, threads={ARGS.threads}, "
          f"{time.strftime('%Y-%m-%d')}; torch {rows[0]['torch_version'] or 'not installed'}; "
          f"best of {max(1, ARGS.repeats)} x {iters} iterations; load average {os.getloadavg()[0]:.1f}")
    print("agent-steps/s incl. updates; sharelib f64/f32 = dtype float64 (default) / float32; numpy is "
          "float64, torch float32;\nratios: f64 vs numpy (same precision), f64 and f32 vs torch")
    print(f"{'copies':>6} {'T':>4} {'minibatch':>9} | {'shl f64':>9} {'shl f32':>9} {'numpy':>9} {'torch':>9} | "
          f"{'f64/numpy':>9} {'f64/torch':>9} {'f32/torch':>9}")
    for r in rows:
        tt = f"{r['torch']:9.0f}" if r["torch"] else f"{'-':>9}"
        vt = f"{r['ours'] / r['torch']:8.1f}x" if r["torch"] else f"{'-':>9}"
        vt32 = f"{r['ours32'] / r['torch']:8.1f}x" if r["torch"] else f"{'-':>9}"
        print(f"{r['E']:>6} {r['T']:>4} {r['minibatch']:>9} | {r['ours']:9.0f} {r['ours32']:9.0f} "
              f"{r['numpy']:9.0f} {tt} | {r['ours'] / r['numpy']:8.1f}x {vt} {vt32}")
    cost = tanh_cost()
    print("tanh, ns per element on a (1024, 64) array (best of 200): "
          + ", ".join(f"{dt} {name} {v:.2f}" for (dt, name), v in cost.items()))
    return rows


if __name__ == "__main__":
    main()
