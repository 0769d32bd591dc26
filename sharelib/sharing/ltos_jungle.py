r"""LToS on the jungle (Sec. 5.2; Fig. 3b, Table 1, Figs. 4-6): DQN, DGN, fixed LToS, LToS and QMIX.

:func:`run_jungle` trains one method once on :class:`sharelib.envs.Jungle` and returns its
learning curve of the *average reward per agent-step* (the paper's metric in Table 1; reward
sharing preserves the sum, so the average of the shaped rewards equals the environment's), the
selfishness ``w_ii`` over training, the greedy reward per agent-step after training and what the
greedy agents attack (Fig. 4's behaviours). The first four methods are one class,
:class:`sharelib.sharing.ltos.LToS`:

- ``dqn``: ``low="mlp", sharing=False``, one MLP shared by the agents on their own observations;
- ``dgn``: ``low="dgn", sharing=False``, DGN (the paper: "LToS without reward sharing");
- ``fixed_ltos``: DGN on ``[o, w^in]`` with the weights frozen at ``w_ii = 0.8``;
- ``ltos``: the same with the high level learning the weights;

and the paper's centralised baseline is :class:`sharelib.learners.QMIX`:

- ``qmix``: QMIX (Rashid et al. 2018) on the team reward (the sum of the 20 agents' rewards, so it
  maximises the average reward per agent-step directly), its agent MLP of the encoder's widths
  with the one-hot agent index appended, DQN's schedule (hard target copy every 100 gradient steps,
  linear epsilon from 0.6), mixer embedding 32, single-layer hypernetworks. Its global state is
  :func:`jungle_state`, the normalised cells of the agents and the foods (``2 (N + L)`` = 64
  numbers at 20 agents) rather than the concatenated observations (20 x 123 = 2,460): the positions
  are the whole state of the game but for the step count (foods never run out, nothing dies), and at 2,460 inputs the
  first hypernetwork alone would have 1.6 million weights (2,460 x 20 x 32) for Adam to update at
  every gradient step. Measured at the ``reduced`` preset (one run, seed 0, 160 episodes): with the
  cells, 9-12 s wall clock, greedy reward per agent-step 0.245 (last 20 % of training 0.228); with
  the concatenated observations (``qmix_state="observations"``), 64 s and 0.008 (0.014). No
  sharing: selfishness 1.

The low level's settings are DGN's (``../shared/specs/ltos_d3c_as_cedos_reference_notes.md`` 1.4:
Adam 1e-4, ``gamma`` 0.96, soft targets 0.01, minibatches of 10 joint transitions, epsilon from
0.6) where the budget allows; the network width, the number of episodes and the epsilon decay are
the presets' (epsilon decays to ``eps_final`` at two thirds of training). The high level's are the
traffic code's (module :mod:`sharelib.sharing.ltos`); the paper's jungle appendix is not in our copy.
"""

from __future__ import annotations

import gc

import numpy as np

from .. import experiments
from ..envs import Jungle
from ..learners.actor_critic import evaluate
from ..learners.qmix import QMIX
from ..learners.mixing import _bin
from .ltos import LToS, SharingEnv

__all__ = ["jungle_plans", "NET_KEYS", "METHODS", "run_jungle", "upper_bound", "jungle_state"]

METHODS = ("dqn", "dgn", "fixed_ltos", "ltos", "qmix")


def jungle_state(env) -> np.ndarray:
    """QMIX's global state of a :class:`sharelib.envs.Jungle`: every agent's cell, then every
    food's, as ``(row, col) / size`` (``(E, 2 (n_agents + n_food))``, agents in index order, so
    the mixer's hypernetworks know which agent is where)."""
    E = env.n_envs
    return np.concatenate([env.positions.reshape(E, -1), env.food_positions.reshape(E, -1)], axis=1) / env.size


def upper_bound(n_agents: int = 20, n_food: int | None = None, episodes: int = 200, seed: int = 0,
                max_steps: int = 120) -> float:
    """The paper's loose upper bound on the average reward per agent-step (Sec. 5.2: "by
    estimating the average distance between each agent and the food that is the closest to it at
    the beginning of one episode"): an agent walks to a cell next to its closest food (``d - 1``
    moves for a Manhattan distance ``d``) and then eats (+1 - 0.01) every remaining step; averaged
    over agents and ``episodes`` random starts. Ignores that agents block each other."""
    n_agents = experiments.check_int("n_agents", n_agents, min=1)
    n_food = Jungle.food_for(n_agents) if n_food is None else experiments.check_int("n_food", n_food, min=1)
    env = Jungle(n_envs=experiments.check_int("episodes", episodes, min=1), n_agents=n_agents,
                 n_food=n_food, max_steps=max_steps)
    env.reset(experiments.check_int("seed", seed, min=0))
    a, f = env.positions, env.food_positions  # (E, N, 2), (E, L, 2)
    d = np.abs(a[:, :, None, :] - f[:, None, :, :]).sum(-1).min(-1)  # Manhattan distance to the closest food
    eat_steps = np.clip(max_steps - (d - 1), 0, max_steps)
    return float(np.mean(eat_steps * (env.food_reward + env.attack_cost)) / max_steps)


def _eps_decay(eps_start, eps_final, n_episodes):
    """Per-episode factor that takes epsilon from ``eps_start`` to ``eps_final`` at two thirds of
    ``n_episodes`` (DGN: 0.996 per episode over thousands of episodes)."""
    return float((eps_final / eps_start) ** (1.0 / max(1.0, 2.0 * n_episodes / 3.0)))


def run_jungle(method: str = "ltos", n_agents: int = 20, n_neighbours: int = 4, episodes: int = 10,
               n_envs: int = 4, seed: int = 0, encoder=(64, 32), n_heads: int = 4, d_head: int = 8,
               lr: float = 1e-4, batch_size: int = 10, train_freq: int = 1, gradient_steps: int = 1, buffer_size: int = 20_000,
               start_episodes: int = 1, eps_final: float = 0.05, high_every: int = 5, w_noise: float = 0.3,
               initial_selfishness: float = 0.8, n_points: int = 20, eval_episodes: int | None = None,
               snapshot_step: int = 60, qmix_state: str = "cells") -> dict:
    """Train ``method`` (one of :data:`METHODS`) for ``episodes`` episodes of each of ``n_envs``
    copies (120 steps each) and evaluate it greedily.

    ``n_neighbours`` counts the agent itself (Fig. 6's "number of neighbours" is ``n_neighbours -
    1``); the jungle has ``Jungle.food_for(n_agents)`` foods (5 : 3, Fig. 5). ``encoder``,
    ``n_heads``, ``d_head``: DGN's network (the MLP of DQN has the encoder's widths); ``lr``,
    ``batch_size`` (joint transitions), ``train_freq`` and ``gradient_steps`` (gradient steps per
    ``train_freq`` vector steps of the copies),
    ``buffer_size`` (joint transitions), ``start_episodes`` (episodes of every copy before learning),
    ``eps_final`` (epsilon at two thirds of training): the low level; ``high_every``, ``w_noise``,
    ``initial_selfishness``: the high level (:class:`LToS`). ``qmix`` uses the encoder's widths,
    ``lr``, ``batch_size``, ``train_freq``, ``gradient_steps``, ``buffer_size``, ``start_episodes``
    and ``eps_final`` as DQN does (module docstring); ``qmix_state``: its global state,
    ``"cells"`` (:func:`jungle_state`) or ``"observations"`` (all agents' observations concatenated).

    Returns ``episodes`` (bin right edges, in episodes per copy), ``reward`` (average reward per
    agent-step of the episodes ending in each bin), ``selfishness`` (mean ``w_ii`` in force per
    bin; 1 without sharing), ``final`` (the last 20% of training), ``eval`` (greedy, after
    training), ``attacks`` (greedy attacks on food, agents, empty cells and walls per agent-step)
    and ``snapshot`` (a greedy episode's agents, foods and neighbourhoods at ``snapshot_step``).
    """
    method = experiments.check_choice("method", method, METHODS)
    n_agents = experiments.check_int("n_agents", n_agents, min=2)
    n_neighbours = experiments.check_int("n_neighbours", n_neighbours, min=2, max=n_agents)
    episodes = experiments.check_int("episodes", episodes, min=1)
    n_envs = experiments.check_int("n_envs", n_envs, min=1)
    seed = experiments.check_int("seed", seed, min=0)
    n_points = experiments.check_int("n_points", n_points, min=1)
    start_episodes = experiments.check_int("start_episodes", start_episodes, min=0)
    eps_final = experiments.check_float("eps_final", eps_final, min=0, max=0.6)
    eval_episodes = n_envs if eval_episodes is None else experiments.check_int("eval_episodes", eval_episodes, min=1)
    snapshot_step = experiments.check_int("snapshot_step", snapshot_step, min=0, max=119)
    qmix_state = experiments.check_choice("qmix_state", qmix_state, ("cells", "observations"))
    ss = np.random.SeedSequence(seed)
    init_seed, train_seed, eval_seed = (int(s.generate_state(1)[0] % 2**31) for s in ss.spawn(3))
    n_food = Jungle.food_for(n_agents)
    make = lambda E: Jungle(n_envs=E, n_agents=n_agents, n_food=n_food, n_neighbours=n_neighbours)  # noqa: E731
    env = make(n_envs)
    T = env.max_steps
    total = episodes * n_envs * T
    common = dict(lr=lr, gamma=0.96, batch_size=batch_size, train_freq=train_freq, gradient_steps=gradient_steps,
                  buffer_size=buffer_size, learning_starts=start_episodes * n_envs * T)
    if method in ("dqn", "qmix"):
        low = dict(common, hidden=tuple(encoder), double=False, target_update=100, eps_start=0.6,
                   eps_end=eps_final, eps_decay_steps=max(1, int(2 * total / 3)))
        if method == "dqn":
            low.update(share_params=True, huber_delta=1e6)
    else:
        low = dict(common, encoder=tuple(encoder), n_heads=n_heads, d_head=d_head, target_tau=0.01,
                   eps_start=0.6, eps_decay=_eps_decay(0.6, eps_final, episodes * n_envs), eps_end=0.01,
                   episode_steps=T)
    E_ev = min(n_envs, eval_episodes)
    ev_env = make(E_ev)
    if method == "qmix":
        state = dict(state_fn=jungle_state, state_dim=2 * (n_agents + n_food)) if qmix_state == "cells" else {}
        L = QMIX.for_env(env, **low, **state, seed=init_seed)
        res = L.train(env, total, seed=train_seed)
        edges = np.linspace(0, res.steps[-1], n_points + 1)
        selfish = np.ones(n_points)  # QMIX shares no reward (it learns from the team sum instead)
        actor, wrapped = L, ev_env
    else:
        L = LToS(env, low="mlp" if method == "dqn" else "dgn", sharing=method in ("fixed_ltos", "ltos"),
                 learn_weights=method == "ltos", initial_selfishness=initial_selfishness,
                 high_every=high_every, w_noise=w_noise, dqn_kw=low, seed=init_seed)
        res = L.train(total, seed=train_seed)
        log = np.asarray(L.selfishness_log)  # one entry per training vector step
        edges = np.linspace(0, res.steps[-1], n_points + 1)
        vec = np.arange(1, len(log) + 1) * n_envs
        idx = np.clip(np.searchsorted(edges, vec, side="left") - 1, 0, n_points - 1)
        selfish = np.bincount(idx, log, n_points) / np.maximum(np.bincount(idx, None, n_points), 1)
        actor, wrapped = L.low, SharingEnv(ev_env, L)
    curve = _bin(res.steps, res.returns, res.episodes, edges).mean(axis=1) / T
    # greedy evaluation, with the attack counts behind Fig. 4 and a snapshot of one episode
    ev = evaluate(actor, wrapped, n_episodes=eval_episodes, seed=eval_seed, greedy=True)
    n_ev = -(-eval_episodes // E_ev) * E_ev
    attacks = ev_env.attacks.sum(axis=0) / (n_ev * T * n_agents)
    obs = wrapped.reset(eval_seed)
    for _ in range(snapshot_step):
        obs, _, _ = wrapped.step(actor.act(obs, None, greedy=True)[0])
    w_keep = np.ones(n_agents) if method == "qmix" else wrapped.w_out[0, :, 0].copy()
    snap = dict(agents=ev_env.positions[0], foods=ev_env.food_positions[0], neighbours=ev_env.neighbours[0],
                selfishness=w_keep, step=snapshot_step)
    del L, wrapped, actor
    gc.collect()  # LToS and its SharingEnv refer to each other: free the replay buffers now, not later
    return dict(method=method, episodes=edges[1:] / (n_envs * T), reward=curve, selfishness=selfish,
                final=float(np.mean(res.final_return(0.2)) / T), eval=float(np.mean(ev) / T),
                attacks=attacks, snapshot=snap)


experiments.register_presets(
    "ltos.jungle",
    quick=dict(episodes=3, runs=1, n_envs=4, seed=0, encoder=[32, 16], n_heads=2, d_head=8, lr=1e-3,
               start_episodes=1, train_freq=1, gradient_steps=1, buffer_size=5_000, agents=[10, 30, 50], neighbours=[1, 3, 5],
               scan_episodes=2, scan_runs=1),
    reduced=dict(episodes=40, runs=2, n_envs=4, seed=0, encoder=[128, 64], n_heads=4, d_head=16, lr=3e-4,
                 start_episodes=5, train_freq=1, gradient_steps=1, buffer_size=50_000, agents=[10, 20, 30, 40, 50],
                 neighbours=[1, 2, 3, 4, 5], scan_episodes=30, scan_runs=1),
    paper=dict(episodes=2_000, runs=5, n_envs=1, seed=0, encoder=[512, 128], n_heads=8, d_head=16, lr=1e-4,
               start_episodes=200, train_freq=3, gradient_steps=1, buffer_size=200_000, agents=[10, 20, 30, 40, 50],
               neighbours=[1, 2, 3, 4, 5], scan_episodes=2_000, scan_runs=5),
)


#: the keywords of :func:`run_jungle` a preset sets for every point (the network and the schedule)
NET_KEYS = ("encoder", "n_heads", "d_head", "lr", "start_episodes", "train_freq", "gradient_steps",
            "buffer_size", "n_envs")


def jungle_plans(P: dict) -> list:
    """The three sweeps of ``notebooks/ltos/02_jungle.ipynb`` (Fig. 3b and Table 1, Fig. 5's agent
    counts, Fig. 6's neighbour counts), for ``python -m sharelib sweep ltos.jungle`` (store
    ``results/ltos/jungle``)."""
    net = {k: (list(P[k]) if k == "encoder" else P[k]) for k in NET_KEYS}
    scan = dict(net, episodes=P["scan_episodes"])
    main = [dict(method=m, episodes=P["episodes"], **net) for m in METHODS]
    g5 = [dict(method=m, n_agents=n, **scan) for m in ("dgn", "fixed_ltos", "ltos") for n in P["agents"]]
    g6 = [dict(method="ltos", n_neighbours=k + 1, **scan) for k in P["neighbours"]]
    return [experiments.SweepPlan(run_jungle, main, P["runs"], P["seed"], "jungle"),
            experiments.SweepPlan(run_jungle, g5, P["scan_runs"], P["seed"], "Fig. 5"),
            experiments.SweepPlan(run_jungle, g6, P["scan_runs"], P["seed"], "Fig. 6")]


experiments.register_sweep("ltos.jungle", jungle_plans)
