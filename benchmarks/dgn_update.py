"""One DGN update: sharelib's numba network (:class:`sharelib.learners.DGN`) against PyTorch (CPU).

The update is what DGN's training loop does per gradient step (LToS's low level on the jungle):
draw ``B`` joint transitions of 20 agents from the replay buffer, the target network's forward on
``s'`` (max over actions), the online network's forward and backward on ``s`` (squared TD error on
the taken actions), an Adam step and the soft target update. The network is DGN's (encoder 123 ->
512 -> 128, two relation layers of 8 heads x 16 over self + 3 neighbours, Q head on the
concatenated 3 x 128 features, 9 actions), float32 in both. The PyTorch version is written here
from the same equations (module doc of :mod:`sharelib.nn.attention`), with
``torch.set_num_threads(1)`` like our one-thread BLAS. Skipped with a note when torch is missing
(``pip install torch``). Best of ``--repeats`` timings of ``--updates`` updates each.

Run:  python benchmarks/dgn_update.py [--batch 10 64] [--updates 50] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sharelib.learners import DGN  # noqa: E402

N_AGENTS, K, D_OBS, N_ACT = 20, 4, 123, 9


def random_buffer(C, rng):
    obs = rng.standard_normal((C, N_AGENTS, D_OBS)).astype(np.float32)
    nbr = np.stack([np.stack([np.r_[i, rng.choice([j for j in range(N_AGENTS) if j != i], K - 1, replace=False)]
                              for i in range(N_AGENTS)]) for _ in range(C)])
    return obs, nbr


def ours(batch, n_updates, C=1000):
    rng = np.random.default_rng(0)
    L = DGN(D_OBS + K, N_ACT, N_AGENTS, K, batch_size=batch, buffer_size=C, seed=0)
    obs, nbr = random_buffer(C, rng)
    L._alloc_buffer(L.obs_dim, N_AGENTS)
    x = np.concatenate([obs, nbr.astype(np.float32)], axis=-1)
    L._store(x, rng.integers(0, N_ACT, (C, N_AGENTS)), rng.standard_normal((C, N_AGENTS)),
             np.roll(x, 1, axis=0), np.zeros(C, bool))
    L._learn(rng)  # compile outside the timing
    t = time.perf_counter()
    for _ in range(n_updates):
        L._learn(rng)
    return (time.perf_counter() - t) / n_updates


def torch_version(batch, n_updates, C=1000):
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    nn = torch.nn
    HD, D = 8 * 16, 128

    class Relation(nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.k, self.v = nn.Linear(D, HD), nn.Linear(D, HD), nn.Linear(D, HD)
            self.o = nn.Linear(HD, D)

        def forward(self, h, nbr):  # h (B, n, D), nbr (B, n, k)
            B, n, _ = h.shape
            idx = nbr.reshape(B, n * K, 1).expand(-1, -1, HD)
            q = self.q(h).view(B, n, 8, 16)
            k = torch.gather(self.k(h), 1, idx).view(B, n, K, 8, 16)
            v = torch.gather(self.v(h), 1, idx).view(B, n, K, 8, 16)
            a = torch.softmax(torch.einsum("bnhd,bnjhd->bnhj", q, k) / 4.0, dim=-1)
            o = torch.einsum("bnhj,bnjhd->bnhd", a, v).reshape(B, n, HD)
            return torch.relu(self.o(o))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Sequential(nn.Linear(D_OBS, 512), nn.ReLU(), nn.Linear(512, D), nn.ReLU())
            self.r1, self.r2 = Relation(), Relation()
            self.head = nn.Linear(3 * D, N_ACT)

        def forward(self, x, nbr):
            h0 = self.enc(x)
            h1 = self.r1(h0, nbr)
            h2 = self.r2(h1, nbr)
            return self.head(torch.cat([h0, h1, h2], dim=-1))

    net, tgt = Net(), Net()
    tgt.load_state_dict(net.state_dict())
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    rng = np.random.default_rng(0)
    obs, nbr = random_buffer(C, rng)
    O, NB = torch.from_numpy(obs), torch.from_numpy(nbr)
    A = torch.from_numpy(rng.integers(0, N_ACT, (C, N_AGENTS)))
    R = torch.from_numpy(rng.standard_normal((C, N_AGENTS)).astype(np.float32))
    O2, NB2 = torch.roll(O, 1, 0), torch.roll(NB, 1, 0)

    def update():
        i = torch.from_numpy(rng.integers(0, C, batch))
        with torch.no_grad():
            y = R[i] + 0.96 * tgt(O2[i], NB2[i]).max(-1).values
        q = net(O[i], NB[i]).gather(-1, A[i].unsqueeze(-1)).squeeze(-1)
        loss = 0.5 * ((q - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        opt.step()
        with torch.no_grad():
            for p, pt in zip(net.parameters(), tgt.parameters()):
                pt.mul_(0.99).add_(p, alpha=0.01)

    update()
    t = time.perf_counter()
    for _ in range(n_updates):
        update()
    return (time.perf_counter() - t) / n_updates


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[10, 64], help="joint transitions per update (DGN: 10)")
    ap.add_argument("--updates", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
        print("torch not installed (pip install torch): the PyTorch column is skipped")
    print(f"| joint transitions (x {N_AGENTS} agents) | sharelib ms/update | PyTorch ms/update | PyTorch / sharelib |")
    print("|---:|---:|---:|---:|")
    for b in args.batch:
        t_ours, t_torch = np.inf, np.inf
        for _ in range(args.repeats):  # alternate, so a burst of load hits both alike
            t_ours = min(t_ours, ours(b, args.updates))
            if have_torch:
                t_torch = min(t_torch, torch_version(b, args.updates))
        tt = f"{1e3 * t_torch:.2f}" if have_torch else "n/a"
        ratio = f"{t_torch / t_ours:.2f}" if have_torch else "n/a"
        print(f"| {b} | {1e3 * t_ours:.2f} | {tt} | {ratio} |")


if __name__ == "__main__":
    main()
