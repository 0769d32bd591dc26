r"""LToS on traffic signal control (Sec. 5.3, Fig. 3c, Table 3, Fig. 7): DQN, fixed LToS, LToS,
and the two non-learning references, on the 6 x 6 SUMO grid (:class:`sharelib.envs.TrafficSignalControl`).

:func:`run_traffic` runs one method once: the learners train for ``episodes`` episodes in one copy
of the grid, then play one greedy test episode; the references (a fixed-time plan, uniformly random
phases) play the test episode only. It returns the training curve (average episode return per
agent, the sum of Eq. 2's shaped rewards being the environment's), the trip metrics of every
training episode and of the test episode (Table 3: ``red_lights`` per vehicle per intersection,
``travel_time``), the selfishness ``w_ii`` of the test episode over time (Fig. 7a) and per
intersection (Fig. 7b), the total queue over time and a snapshot of the queues.

Constants (:data:`CONSTANTS` marks each one "code" for the authors' traffic code,
``../shared/specs/ltos_d3c_as_cedos_reference_notes.md`` 1.3, "paper", or "ours"):

- Low level: one Q-network shared by the 36 intersections (code: CoLight's single model),
  :class:`sharelib.learners.CoLight`: the ``[32, 32]`` ReLU trunk on ``[o_i, w_i^in]``, one-head
  attention over the 5 neighbour slots (self and the road-connected N, E, S, W; padded at the
  grid's edge), a linear Q head (code); ``low="mlp"`` keeps only an MLP ``[32, 32]`` on
  ``[o_i, w_i^in]`` (our first reading, kept for the side-by-side); no activity regulariser on
  positive Q-values (the code's ``L2ReLURegularizer(0.1)``: ours), gamma 0.8 and rewards divided by 20 in the
  TD target (code's ``NORMAL_FACTOR``), target ``r + gamma max_a Q_bar`` (no double Q: code),
  replay of 10,000 decisions (code's ``MAX_MEMORY_LEN``), minibatch 20 (code), learning rate
  1e-3 (code's initial rate; constant here, ours), epsilon ``0.4 * 0.9^round`` with floor 0.05 and
  a round of 4 episodes (code: ``NUM_GENERATORS = 4`` episodes per round; ours: played one after
  the other in one copy). Ours: one Adam step per decision on a Huber loss (the code refits
  RMSprop with MSE for up to 100 epochs once per round), a hard target copy every episode of
  gradient steps (the code: soft update tau 0.1 per round), learning from the second episode.
- High level: :class:`sharelib.sharing.ltos.LToS`, ``initial_selfishness`` 0.8 (code), one step
  per ``high_every = 5`` low-level gradient steps (code's ``UPDATE_W_FREQ`` ratio), Adam 1e-3
  (code's ``W_LR``), minibatch 20 (code), an MLP ``[32, 32]`` per intersection (ours), Gaussian
  logit noise 0.3 (ours; the code's Ornstein-Uhlenbeck noise scaled by epsilon).
- 400 training episodes of 3600 s in the paper preset (code: 100 rounds x 4).
- DQN is :class:`sharelib.learners.DQN` (an MLP ``[32, 32]`` per intersection's input, shared)
  given the constant ``w^in`` of no sharing (1 for itself, 0 for the neighbours) as extra inputs,
  so it is exactly MLP-LToS with identity weights (tested); the constant inputs only add a bias.
- CoLight is :class:`LToS` with ``low="colight", sharing=False``: the low level alone, without
  ``w^in`` inputs or a high level (Table 3's "DGN").
- QMIX is :class:`sharelib.learners.QMIX` with the DQN settings above (its agent network the
  ``[32, 32]`` MLP on ``[o_i, one-hot i]``, a minibatch 20 joint decisions, the team reward the sum
  of the 36 normalised rewards), the global state the concatenation of the 36 observations (720
  numbers; the paper does not say what its QMIX's state is: ours).
"""

from __future__ import annotations

import numpy as np

from .. import experiments
from ..envs import TrafficSignalControl
from ..envs.traffic import fixed_time_actions
from ..learners import DQN, QMIX
from ..learners.hooks import Hooks
from .ltos import LToS

__all__ = ["METHODS", "LEARNERS", "LOWS", "CONSTANTS", "run_traffic", "dqn_kwargs", "traffic_grid", "traffic_plans"]

LEARNERS = ("dqn", "colight", "fixed_ltos", "ltos", "qmix")
#: the low levels of fixed LToS and LToS: CoLight's attention network (the code's) or an MLP
LOWS = ("colight", "mlp")
METHODS = LEARNERS + ("fixed_time", "random")

#: Every constant of the experiment with its source: "code" (the authors' traffic code), "paper"
#: or "ours" (see the module docstring).
CONSTANTS = {
    "episode_seconds": (3600, "code (360 decisions, no early end)"),
    "episodes": (400, "code (NUM_ROUNDS 100 x NUM_GENERATORS 4)"),
    "gamma": (0.8, "code"),
    "reward_normaliser": (20.0, "code (NORMAL_FACTOR)"),
    "hidden": ((32, 32), "code (trunk, then CoLight's attention: 1 head, dv 32, dout 32)"),
    "q_regulariser": (0.0, "ours (code: L2ReLURegularizer(0.1) on positive Q-values)"),
    "share_params": (True, "code (one model for all intersections)"),
    "buffer_size": (10_000, "code (MAX_MEMORY_LEN)"),
    "batch_size": (20, "code"),
    "lr": (1e-3, "code (initial; constant here: ours)"),
    "eps_start": (0.4, "code"),
    "eps_decay_rate": (0.9, "code (per round)"),
    "eps_end": (0.05, "code"),
    "episodes_per_round": (4, "code (NUM_GENERATORS; sequential here: ours)"),
    "double": (False, "code (max target)"),
    "gradient_steps_per_decision": (1, "ours"),
    "target_update": ("one episode of gradient steps", "ours (code: soft tau 0.1 per round)"),
    "learning_starts": ("after the first episode", "ours (code: after the first round)"),
    "initial_selfishness": (0.8, "code (INITIAL_OWN_W_OUT_RATIO)"),
    "high_every": (5, "code (UPDATE_W_FREQ, here in gradient steps)"),
    "high_lr": (1e-3, "code (W_LR)"),
    "high_batch": (20, "code"),
    "high_hidden": ((32, 32), "ours (code: the Q trunk with attention)"),
    "w_noise": (0.3, "ours (code: OU noise x epsilon)"),
}


def dqn_kwargs(max_steps: int, episodes_per_round: int = 4, n_envs: int = 1) -> dict:
    """The low level's :class:`DQN` keywords (module docstring) for episodes of ``max_steps``
    decisions in ``n_envs`` copies."""
    max_steps = experiments.check_int("max_steps", max_steps, min=1)
    rnd = experiments.check_int("episodes_per_round", episodes_per_round, min=1)
    return dict(hidden=(32, 32), gamma=0.8, buffer_size=10_000, batch_size=20, lr=1e-3,
                learning_starts=max_steps * n_envs, train_freq=1, gradient_steps=1,
                target_update=max_steps, eps_start=0.4, eps_end=0.05, eps_decay_rate=0.9,
                eps_decay_steps=rnd * max_steps * n_envs, double=False, share_params=True,
                hooks=Hooks(reward=_normalise))


def _normalise(r, ctx):
    return r / 20.0  # the code's NORMAL_FACTOR


class _NoSharing:
    """The environment with the no-sharing ``w^in`` (1 on the self slot, 0 elsewhere) appended
    to the observations, for the DQN baseline (module docstring)."""

    def __init__(self, env, k):
        self.env, self.k = env, k
        self.n_envs, self.n_agents, self.n_actions = env.n_envs, env.n_agents, env.n_actions
        self.obs_dim, self.max_steps = env.obs_dim + k, env.max_steps
        self._w = np.zeros((env.n_envs, env.n_agents, k), np.float32)
        self._w[..., 0] = 1.0

    def reset(self, seed=0):
        return np.concatenate([self.env.reset(seed), self._w], axis=-1)

    def step(self, actions):
        obs, r, d = self.env.step(actions)
        self.raw_rewards = r
        return np.concatenate([obs, self._w], axis=-1), r, d


class _Raw:
    """The environment as it is, keeping its last rewards in :attr:`raw_rewards` like the wrappers
    of the other learners (QMIX sees plain observations and learns from the team sum)."""

    def __init__(self, env):
        self.env = env
        self.n_envs, self.n_agents, self.n_actions = env.n_envs, env.n_agents, env.n_actions
        self.obs_dim, self.max_steps = env.obs_dim, env.max_steps

    def reset(self, seed=0):
        return self.env.reset(seed)

    def step(self, actions):
        obs, r, d = self.env.step(actions)
        self.raw_rewards = r
        return obs, r, d


def _metrics_row(m):
    keys = ("red_lights", "travel_time", "waiting_time", "queue_length", "arrived", "departed", "backlog")
    return {k: float(m[k]) if m is not None else np.nan for k in keys}


def run_traffic(method: str = "ltos", episodes: int = 4, episode_seconds: int = 3600,
                seed: int = 0, initial_selfishness: float = 0.8, w_noise: float = 0.3,
                sigma: float = 0.5, snapshot_seconds: int = 2400, high_every: int = 5,
                low: str = "colight") -> dict:
    """Run ``method`` (one of :data:`METHODS`) once on the 6 x 6 grid (module docstring).

    Returns a dict with ``method``; for the learners the training curves per episode
    (``returns``: average episode return per agent; ``selfishness``: mean ``w_ii`` in force;
    ``train_metrics``: dict of arrays of the trip metrics), empty arrays for the references; and
    for the greedy test episode ``test_return`` (per agent), ``test_metrics`` (dict),
    ``test_selfishness`` (mean ``w_ii`` per decision, ``(T,)``; per intersection in
    ``test_selfishness_agents``, ``(T, 36)``), ``selfishness_grid`` (mean over
    the episode per intersection, ``(rows, cols)``), ``test_queue`` (vehicles halting on all
    entering lanes, mean over each decision's 10 s, ``(T,)``) and ``queues`` (halting per entering
    lane ``(36, 12)`` at ``snapshot_t`` = ``min(snapshot_seconds, episode_seconds)``; default
    2400 s, the end of the second, heavier peak). ``high_every``: low-level gradient steps per
    high-level step (LToS only; 5, the code's ratio). ``low``: the low level of fixed LToS and
    LToS, ``"colight"`` (the code's network) or ``"mlp"`` (the MLP trunk alone, our first reading).
    ``"colight"`` as a method is CoLight itself, LToS's low level without sharing (Table 3's
    "DGN" column: the paper calls its traffic low level DGN, the code's is CoLight).
    """
    method = experiments.check_choice("method", method, METHODS)
    low = experiments.check_choice("low", low, LOWS)
    episodes = experiments.check_int("episodes", episodes, min=1)
    seed = experiments.check_int("seed", seed, min=0)
    snapshot_seconds = experiments.check_int("snapshot_seconds", snapshot_seconds, min=1)
    ss = np.random.SeedSequence(seed)
    init_seed, train_seed, test_seed = (int(s.generate_state(1)[0] % 2**31) for s in ss.spawn(3))
    env = TrafficSignalControl(1, episode_seconds=episode_seconds, sigma=sigma)
    try:
        T, k = env.max_steps, env.n_neighbours
        kw = dqn_kwargs(T)
        train = {}
        ltos = None
        if method in LEARNERS:
            metrics = []
            cb = lambda learner, j, res: metrics.append(_metrics_row(env.last_metrics[0]))  # noqa: E731
            if method == "dqn":
                learner = DQN(env.obs_dim + k, env.n_actions, env.n_agents,
                              seed=LToS.seeds(init_seed)[0], **kw)
                wrapped = _NoSharing(env, k)
                res = learner.train(wrapped, episodes * T, seed=train_seed, log_every=T, callback=cb)
                selfish = np.ones(episodes)
            elif method == "qmix":
                qkw = {key: v for key, v in kw.items() if key != "share_params"}  # QMIX: one agent network
                learner = QMIX.for_env(env, seed=LToS.seeds(init_seed)[0], **qkw)
                wrapped = _Raw(env)
                res = learner.train(wrapped, episodes * T, seed=train_seed, log_every=T, callback=cb)
                selfish = np.ones(episodes)
            else:
                ltos = LToS(env, initial_selfishness=initial_selfishness, sharing=method != "colight",
                            learn_weights=(method == "ltos"), w_noise=w_noise, high_batch=20,
                            high_hidden=(32, 32), high_every=high_every, high_lr=1e-3, dqn_kw=kw,
                            low="colight" if method == "colight" else low, seed=init_seed)
                learner, wrapped = ltos.low, ltos.wrapped
                res = ltos.train(episodes * T, seed=train_seed, log_every=T, callback=cb)
                selfish = np.asarray(ltos.selfishness_log).reshape(episodes, T).mean(axis=1)
            train = dict(returns=res.returns.mean(axis=1), selfishness=selfish,
                         train_metrics={key: np.array([m[key] for m in metrics]) for key in metrics[0]},
                         epsilon=res.stats["epsilon"], td_loss=res.stats["td_loss"])
        else:
            train = dict(returns=np.zeros(0), selfishness=np.zeros(0),
                         train_metrics={key: np.zeros(0) for key in _metrics_row(None)},
                         epsilon=np.zeros(0), td_loss=np.zeros(0))
        # -- the greedy test episode ------------------------------------------------------------
        rng = np.random.default_rng(test_seed)
        if method in LEARNERS:
            obs = wrapped.reset(test_seed)
        else:
            env.reset(test_seed)
        identity = np.zeros((1, env.n_agents, k))
        identity[..., 0] = 1.0  # DQN shares nothing
        total = np.zeros(env.n_agents)
        self_ti, queue_t = np.zeros((T, env.n_agents)), np.zeros(T)
        snap_step = min(snapshot_seconds, episode_seconds) // env.decision_seconds - 1
        snapshot = None
        for t in range(T):
            if method in LEARNERS:
                a = learner.act(obs, greedy=True)[0]
                w = ltos.wrapped.w_out if ltos is not None else identity
                obs, r, _ = wrapped.step(a)
            elif method == "fixed_time":
                a = fixed_time_actions(t, 1, env.n_agents)
                w = None
                _, r, _ = env.step(a)
            else:
                a = rng.integers(0, env.n_actions, (1, env.n_agents))
                w = None
                _, r, _ = env.step(a)
            raw = wrapped.raw_rewards if method in LEARNERS else r
            total += raw[0]
            queue_t[t] = -raw[0].sum() / env.reward_scale
            if w is not None:
                self_ti[t] = w[0, :, 0]
            if t == snap_step:
                snapshot = env.halting(0)
        if method not in LEARNERS:
            self_ti[:] = np.nan
        out = dict(method=method, episodes=np.arange(1, len(train["returns"]) + 1), **train,
                   test_return=float(total.mean()), test_metrics=_metrics_row(env.last_metrics[0]),
                   test_selfishness=self_ti.mean(axis=1), test_selfishness_agents=self_ti,
                   selfishness_grid=self_ti.mean(axis=0).reshape(env.rows, env.cols),
                   test_queue=queue_t, queues=snapshot,
                   snapshot_t=(snap_step + 1) * env.decision_seconds)
        return out
    finally:
        env.close()


experiments.register_presets(
    "ltos.traffic",
    quick=dict(episodes=3, episode_seconds=600, runs=1, seed=0, mlp_readings=True),
    reduced=dict(episodes=12, episode_seconds=3600, runs=2, seed=0, mlp_readings=True),
    paper=dict(episodes=400, episode_seconds=3600, runs=5, seed=0, mlp_readings=True),
)


def traffic_grid(P: dict) -> list:
    """The points of Fig. 3c / Table 3 / Fig. 7: every method of :data:`METHODS` (fixed LToS and
    LToS on CoLight's low level), and with ``mlp_readings`` fixed LToS and LToS on the MLP low
    level too (our first reading, side by side)."""
    base = dict(episodes=P["episodes"], episode_seconds=P["episode_seconds"])
    grid = [dict(method=m, **base) for m in METHODS]
    if P.get("mlp_readings", True):
        grid += [dict(method=m, low="mlp", **base) for m in ("fixed_ltos", "ltos")]
    return grid


def traffic_plans(P: dict) -> list:
    """The sweep of ``notebooks/ltos/03_traffic.ipynb``, for ``python -m sharelib sweep ltos.traffic``
    (store ``results/ltos/traffic``)."""
    return [experiments.SweepPlan(run_traffic, traffic_grid(P), P["runs"], P["seed"], "traffic")]


experiments.register_sweep("ltos.traffic", traffic_plans)
