r"""Zeroth-order D3C for learning agents (Gemp et al., D3C, Sec. 2.6, Algorithms 1-3).

What is here
------------
* The D3C update itself (Algorithm 1 with the trial helper of Algorithm 2) is
  :class:`sharelib.sharing.d3c.ZerothOrderD3C`, re-exported here: per agent i a trial perturbs the
  row in logit space, ``A~_i = softmax(log A_i + delta a_i)`` with ``a_i`` uniform on the unit
  sphere of R^n (Alg. 2), lasts ``tau ~ U{tau_min..tau_max}`` learner steps, and at its end the
  one-shot finite difference ``rho_i = ReLU((G_b - G) / tau + eps)`` (the local price-of-anarchy
  surrogate of Eq. 11, ``-(G - G_b)/tau ~ d f^A_i / dt``) gives the entropic-mirror-descent step
  ``A_i <- softmax(clip(log A_i - eta_A (rho_i a_i - nu e_i / A_i), l, h))`` (Alg. 1), with
  ``[l, h] = [-5, 5]``, ``A_ii = 0.99`` and ``A_ij = 0.01 / (n - 1)`` at the start.
* :func:`zeroth_order_game_run`: Algorithm 1 with gradient play on a differentiable game as the
  learner ``L_i`` (one step of ``x_i -= lr_x d f^A~_i / d x_i`` per call, returning
  ``g_i = -f^A~_i``). On the convex prisoner's dilemma this is the zeroth-order counterpart of
  :func:`sharelib.sharing.d3c.run_pd` (first order, Eq. 11), used by the tests to check that
  both move ``A`` the same way.
* :func:`run_d3c_rl`: Algorithm 3 with the learning core's actor-critic learners (REINFORCE /
  A2C / PPO). The learner trains on mixed rewards ``r'_i = sum_j A~_ji r_j`` through the reward
  hook (:func:`sharelib.learners.mix_rewards` with ``A~^T``); after every learning iteration each
  agent reports ``g_i`` = the mean *mixed* reward per environment step of the rollout times the
  episode length (the return rate of the episode, defined also when no episode ended in the
  rollout; Alg. 3 outputs "return over episode"). ``method="selfish"`` (``A = I``) and
  ``"cooperative"`` (``A_ij = 1/n``) are the paper's baselines.

Reading notes (our choices; the appendix with the paper's hyperparameters is not in our copy)
------------------------------------------------------------------------------------------
* One "step" ``t`` of Algorithm 1 is one learning iteration of the learner (a rollout of
  ``n_steps`` steps in ``n_envs`` copies and one update), so ``tau`` counts iterations.
* The ``n / delta`` factor of the one-shot gradient is absorbed in ``eta_A`` (as in Alg. 1).
"""

from __future__ import annotations

import numpy as np

from .. import experiments as _ex
from ..games.prisoners_dilemma import PrisonersDilemma, pd_losses_grads
from .d3c import ZerothOrderD3C, mixed_own_grads, relative_attention

__all__ = ["ZerothOrderD3C", "RL_METHODS", "RL_ENVS", "FIGURES", "d3c_defaults", "zeroth_order_game_run", "run_d3c_rl",
           "figure_experiment"]

RL_METHODS = ("d3c", "selfish", "cooperative")
RL_ENVS = ("trust_your_brother", "coin_game", "cleanup")


def d3c_defaults(env: str) -> dict:
    """Our D3C hyperparameters per domain (chosen by us; the paper's appendix is not in our copy).

    ``nu = 1e-5`` in the Coin game and 0 elsewhere (Sec. 3.4); ``clip = (-5, 5)`` everywhere.
    """
    _ex.check_choice("env", env, RL_ENVS)
    kw = dict(lr=0.5, delta=0.5, eps=0.0, tau_min=5, tau_max=10, clip=(-5.0, 5.0), self_weight=0.99,
              nu=1e-5 if env == "coin_game" else 0.0)
    if env == "trust_your_brother":
        kw.update(lr=1.0, tau_min=10, tau_max=20)
    return kw


# ---------------------------------------------------------------------------------------------
# Algorithm 1 with gradient play on the convex prisoner's dilemma (the matrix-game check)
# ---------------------------------------------------------------------------------------------


def zeroth_order_game_run(pd: PrisonersDilemma, x0, steps: int, *, lr_x: float = 0.05, seed: int = 0,
                          record_every: int = 1, **d3c_kw) -> dict:
    """Algorithm 1 on the convex prisoner's dilemma with gradient play as the learner L_i.

    Each step: ``A~ = propose()``; ``x_j -= lr_x sum_l A~_lj d f_l / d x_j`` (gradient play on the
    mixed losses, Eq. 1); ``report(g)`` with ``g_i = -f^A~_i(x)`` (the mixed loss as a negative
    return). ``d3c_kw`` go to :class:`ZerothOrderD3C` (``lr`` = eta_A, ``delta``, ``nu``, ``eps``,
    ``tau_min``, ``tau_max``, ``clip``, ``self_weight``). Returns ``A`` (records, n, n),
    ``attention`` (records, n) = ``ln(A_ii / mean_j A_ij)``, ``total`` (records,) total loss,
    ``steps`` (records,).
    """
    steps = _ex.check_int("steps", steps, min=1)
    lr_x = _ex.check_float("lr_x", lr_x, min=0.0, min_inclusive=False)
    record_every = _ex.check_int("record_every", record_every, min=1)
    seed = _ex.check_int("seed", seed, min=0)
    x = np.array(x0, dtype=np.float64)
    if x.shape != pd.shape:
        raise ValueError(f"x0 must have shape {pd.shape}; got {x.shape}")
    n = pd.shape[0]
    zo = ZerothOrderD3C(n, rng=seed, **d3c_kw)
    f = np.empty(n)
    G = np.empty((n, n, x.shape[1]))
    rec_A, rec_tot, rec_t = [], [], []
    for t in range(steps + 1):
        pd_losses_grads(x, pd.c, f, G)
        if t % record_every == 0:
            rec_A.append(zo.A.copy())
            rec_tot.append(f.sum())
            rec_t.append(t)
        if t == steps:
            break
        At = zo.propose()
        x -= lr_x * mixed_own_grads(At, G)
        pd_losses_grads(x, pd.c, f, G)
        zo.report(-(At.T @ f))
    A = np.array(rec_A)
    return dict(A=A, attention=relative_attention(A), total=np.array(rec_tot), steps=np.array(rec_t))


# ---------------------------------------------------------------------------------------------
# Algorithm 3: actor-critic learners on mixed rewards
# ---------------------------------------------------------------------------------------------


def _make_env(env: str, n_envs: int, env_kw: dict):
    if env == "trust_your_brother":
        from ..envs.trust_your_brother import TrustYourBrother
        return TrustYourBrother(n_envs, **env_kw)
    if env == "coin_game":
        from ..envs.coin_game import CoinGame
        return CoinGame(n_envs, **env_kw)
    from ..envs.ssd import Cleanup
    kw = dict(env_kw)
    lio_map = kw.pop("lio", None)  # LIO's restricted Cleanup (D3C appendix F.3)
    return Cleanup.lio(n_envs, map=lio_map, **kw) if lio_map else Cleanup(n_envs, **kw)


def _episode_length(E) -> int:
    return int(getattr(E, "max_steps", None) or 1)


def run_d3c_rl(env: str = "trust_your_brother", learner: str = "reinforce", method: str = "d3c",
               total_steps: int = 50_000, n_envs: int = 8, seed: int = 0, n_points: int = 40,
               d3c_kw: dict | None = None, learner_kw: dict | None = None, env_kw: dict | None = None) -> dict:
    """Train ``learner`` on ``env`` with D3C (Algorithms 1-3) or a fixed baseline mixing.

    Parameters
    ----------
    env : ``"trust_your_brother"`` (Sec. 3.3), ``"coin_game"`` (Sec. 3.4) or ``"cleanup"`` (Sec. 3.5;
        ``env_kw=dict(lio="lio_10x10")`` gives LIO's restricted Cleanup, :meth:`Cleanup.lio`).
    learner : ``"reinforce"``, ``"a2c"`` or ``"ppo"`` (hyperparameters of
        :func:`sharelib.learners.mixing.default_learner_kw`, updated by ``learner_kw``).
    method : ``"d3c"`` (learned A), ``"selfish"`` (A = I) or ``"cooperative"`` (A_ij = 1/n).
    total_steps : environment steps summed over copies. n_envs : copies. seed : integer >= 0.
    n_points : bins of the learning curves. d3c_kw : overrides of :func:`d3c_defaults`.

    Returns a dict: ``steps`` (n_points,) bin right edges; ``returns`` (n_points, n) mean
    environment return of the episodes ending in each bin (before mixing); ``final`` (n,) mean
    over the last 20% of iterations; ``rate`` (n_points, n) and ``final_rate`` (n,): the mean
    environment reward per step times the episode length (an episode's return at the current
    reward rate, defined in every bin, also when no episode ended in it); ``A`` (n_points, n, n) mixing matrix (the un-perturbed
    ``A``) at the end of each bin; ``attention`` (n_points, n) ``ln(A_ii / mean_j A_ij)``;
    ``coins`` (Coin game, (n_points, 2 agents, [own, other]) coins picked per bin); ``apples``
    and ``cleaned`` (Cleanup, (n_points, n) apples eaten (+1 rewards) and waste cells cleaned per
    agent and bin).
    """
    from ..learners import A2C, PPO, REINFORCE, Hooks, mix_rewards
    from ..learners.common import EpisodeTracker
    from ..learners.mixing import default_learner_kw, _bin

    _ex.check_choice("env", env, RL_ENVS)
    learners = {"reinforce": REINFORCE, "a2c": A2C, "ppo": PPO}
    _ex.check_choice("learner", learner, learners)
    _ex.check_choice("method", method, RL_METHODS)
    total_steps = _ex.check_int("total_steps", total_steps, min=1)
    n_envs = _ex.check_int("n_envs", n_envs, min=1)
    seed = _ex.check_int("seed", seed, min=0)
    n_points = _ex.check_int("n_points", n_points, min=1)
    env_kw = dict(env_kw or {})
    E = _make_env(env, n_envs, env_kw)
    n = E.n_agents
    dkw = d3c_defaults(env)
    dkw.update(d3c_kw or {})
    ss = np.random.SeedSequence(seed)
    s_init, s_train, s_d3c = (int(s.generate_state(1)[0]) for s in ss.spawn(3))
    zo = ZerothOrderD3C(n, rng=s_d3c, **dkw) if method == "d3c" else None
    if method == "selfish":
        fixed = np.eye(n)
    elif method == "cooperative":
        fixed = np.full((n, n), 1.0 / n)
    else:
        fixed = None
    hook = mix_rewards((lambda ctx: zo.reward_matrix()) if zo is not None else fixed)
    kw = default_learner_kw("coin_game" if env == "cleanup" else env, learner, total_steps)
    kw.update(learner_kw or {})
    L = learners[learner].for_env(E, hooks=Hooks(reward=hook), seed=s_init, **kw)
    L._check_batch(n_envs)
    rng = np.random.default_rng(np.random.SeedSequence(s_train))
    obs = E.reset(int(rng.integers(2**31)))
    tracker = EpisodeTracker(n_envs, n)
    per_iter = L.n_steps * n_envs
    K = -(-total_steps // per_iter)
    ep_len = _episode_length(E)
    steps = np.zeros(K, np.int64)
    rets = np.full((K, n), np.nan)
    eps = np.zeros(K, np.int64)
    A_hist = np.empty((K, n, n))
    rate = np.empty((K, n))
    coins = np.zeros((K, 2, 2)) if env == "coin_game" else None
    apples = np.zeros((K, n)) if env == "cleanup" else None
    cleaned = np.zeros((K, n)) if env == "cleanup" else None
    prev_coins = E.coin_counts.sum(axis=0).astype(float) if coins is not None else None
    counter = _CleaningCounter(E) if cleaned is not None else None
    for k in range(K):
        if cleaned is None:
            ro, obs = L.collect(E, obs, rng, tracker)
        else:
            ro, obs = L.collect(counter, obs, rng, tracker)
            cleaned[k], counter.count = counter.count, np.zeros(n)
            apples[k] = (ro.rewards >= E.apple_reward - 1e-9).sum(axis=(0, 1))
        M = zo.A_trial.copy() if zo is not None else fixed
        rate[k] = ro.rewards.mean(axis=(0, 1)) * ep_len
        L.update(ro, rng)
        if zo is not None:
            mixed = np.tensordot(ro.rewards, M, axes=([2], [0]))  # (T, E, n): sum_j A~_ji r_j
            zo.report(mixed.mean(axis=(0, 1)) * ep_len)
        A_hist[k] = zo.A if zo is not None else fixed
        steps[k] = L.env_steps
        rets[k], eps[k] = tracker.pop()
        if coins is not None:
            c = E.coin_counts.sum(axis=0).astype(float)
            d = c - prev_coins
            coins[k] = np.where(d >= 0, d, c)  # a reset zeroes the counters
            prev_coins = c
    edges = np.linspace(0, steps[-1], n_points + 1)
    idx = np.clip(np.searchsorted(edges, steps, side="left") - 1, 0, n_points - 1)
    last = np.array([np.flatnonzero(idx == b).max() if np.any(idx == b) else -1 for b in range(n_points)])
    A_bins = np.where(last[:, None, None] >= 0, A_hist[np.maximum(last, 0)], np.nan)
    w = eps.astype(float)
    k0 = min(K - 1, int(np.floor(K * 0.8)))
    final = ((w[k0:, None] * np.nan_to_num(rets[k0:])).sum(0) / w[k0:].sum()) if w[k0:].sum() > 0 \
        else np.full(n, np.nan)
    def per_bin(x):
        o = np.zeros((n_points,) + x.shape[1:])
        np.add.at(o, idx, x)
        return o

    with np.errstate(divide="ignore"):  # A = I (selfish): attention +inf
        att = relative_attention(A_bins)
    out = dict(method=method, steps=edges[1:], returns=_bin(steps, rets, eps, edges), final=final,
               rate=per_bin(rate) / np.maximum(per_bin(np.ones(K)), 1)[:, None], final_rate=rate[k0:].mean(0),
               A=A_bins, attention=att, A_final=A_hist[-1].copy(),
               updates=(zo.n_updates.copy() if zo is not None else np.zeros(n, np.int64)))

    if coins is not None:
        out["coins"] = per_bin(coins)
    if apples is not None:
        out["apples"] = per_bin(apples)
        out["cleaned"] = per_bin(cleaned)
    return out


class _CleaningCounter:
    """Cleanup seen through :meth:`ActorCritic.collect`: adds each agent's cleaned cells per step to ``count``."""

    def __init__(self, env):
        self.env = env
        self.n_envs = env.n_envs
        self.prev = env.cleaned.astype(float)
        self.count = np.zeros(env.n_agents)

    def step(self, actions):
        out = self.env.step(actions)
        c = self.env.cleaned.astype(float)
        self.count += np.where(c >= self.prev, c - self.prev, c).sum(axis=0)  # a reset zeroes the counter
        self.prev = c
        return out


# ---------------------------------------------------------------------------------------------
# Figures 7-9: presets and the sweeps behind them
# ---------------------------------------------------------------------------------------------

#: per figure: (environment, learner, methods, environment keywords); "lio" is LIO's restricted
#: Cleanup (10x10 map, 3 agents), which the paper's appendix F.3 also evaluates
FIGURES = {
    "fig7": ("trust_your_brother", "reinforce", ("selfish", "d3c"), {}),
    "fig8": ("coin_game", "a2c", ("selfish", "d3c", "cooperative"), dict(size=5)),
    "fig9": ("cleanup", "a2c", ("selfish", "d3c", "cooperative"), dict(n_agents=5)),
    "lio": ("cleanup", "a2c", ("selfish", "d3c", "cooperative"), dict(lio="lio_10x10")),
}
#: prefix of each figure's ``*_steps`` / ``*_runs`` preset entries
_PRESET_KEY = {"fig7": "tyb", "fig8": "coin", "fig9": "cleanup", "lio": "lio"}

_COMMON = dict(n_envs=8, seed=0, n_points=40, d3c_lr=None, d3c_delta=None, coin_self_weight=0.99)
_ex.register_presets(
    "d3c.rl",
    quick=dict(tyb_steps=20_000, tyb_runs=2, coin_steps=10_000, coin_runs=1, cleanup_steps=3_000, cleanup_runs=1,
               lio_steps=5_000, lio_runs=1, **dict(_COMMON, n_points=10)),
    # about 45 min on one core (2026-12-05): Fig. 7 at the paper's length with 10% of its runs; Figs. 8-9 with
    # 5 and 3 of the paper's 10 runs and 1M steps each (the paper's lengths are not in our copy)
    # LIO's Cleanup: 1M steps (20k 50-step episodes) and 5 runs in reduced; paper: LIO's length is
    # not in our copy of D3C either, 3M steps and 10 runs are ours
    reduced=dict(tyb_steps=500_000, tyb_runs=100, coin_steps=1_000_000, coin_runs=5, cleanup_steps=1_000_000,
                 cleanup_runs=3, lio_steps=1_000_000, lio_runs=5, **_COMMON),
    paper=dict(tyb_steps=500_000, tyb_runs=1000, coin_steps=3_000_000, coin_runs=10, cleanup_steps=10_000_000,
               cleanup_runs=10, lio_steps=3_000_000, lio_runs=10, **_COMMON),
)


def _figure_point(figure: str, method: str, total_steps: int, n_envs: int, n_points: int, d3c_kw: dict,
                  seed: int) -> dict:
    env, learner, _methods, env_kw = FIGURES[figure]
    return run_d3c_rl(env, learner, method, total_steps=total_steps, n_envs=n_envs, seed=seed, n_points=n_points,
                      d3c_kw=d3c_kw, env_kw=env_kw)


def figure_plan(figure: str, P: dict, *, methods=None, runs: int | None = None) -> _ex.SweepPlan:
    """The sweep of Fig. 7, 8, 9 or LIO's Cleanup (appendix F.3) under the resolved ``d3c.rl`` preset ``P`` (see :func:`figure_experiment`)."""
    _ex.check_choice("figure", figure, FIGURES)
    env, _learner, all_methods, _kw = FIGURES[figure]
    key = _PRESET_KEY[figure]
    methods = all_methods if methods is None else tuple(_ex.check_choice("method", m, all_methods) for m in methods)
    d3c_kw = {}
    if P.get("d3c_lr") is not None:
        d3c_kw["lr"] = P["d3c_lr"]
    if P.get("d3c_delta") is not None:
        d3c_kw["delta"] = P["d3c_delta"]
    if env == "coin_game":
        d3c_kw["self_weight"] = P["coin_self_weight"]
    grid = [dict(figure=figure, method=m, total_steps=P[f"{key}_steps"], n_envs=P["n_envs"],
                 n_points=P["n_points"], d3c_kw=d3c_kw) for m in methods]
    return _ex.SweepPlan(_figure_point, grid, P[f"{key}_runs"] if runs is None else runs, P["seed"],
                         "LIO's Cleanup" if figure == "lio" else f"Fig. {figure[3:]}")


def figure_experiment(figure: str, P: dict, *, methods=None, runs: int | None = None, n_jobs: int = 1,
                      progress: bool = False, store=None, stale: str = "reuse") -> dict:
    """Every method of Fig. 7, 8, 9 or LIO's Cleanup over ``P``'s runs: ``{method: [run_d3c_rl result, ...]}``.

    ``P`` is the resolved ``d3c.rl`` preset (``tyb_* / coin_* / cleanup_* / lio_*`` steps and runs,
    ``n_envs``, ``n_points``, ``seed``, optional ``d3c_lr`` / ``d3c_delta`` overrides of
    :func:`d3c_defaults`, ``coin_self_weight``: A_ii at the start in the Coin game, 0.99 in
    Algorithm 1's default, 0.9 in the paper's Fig. 8b-d run). ``store`` and ``stale``: read and
    write the points in a results store (``results/d3c/rl``, where ``python -m sharelib sweep
    d3c.rl`` puts them), see :func:`sharelib.experiments.sweep`.
    """
    plan = figure_plan(figure, P, methods=methods, runs=runs)
    pts = _ex.sweep(plan.fn, plan.grid, runs=plan.runs, seed=plan.seed,
                    backend="serial" if n_jobs == 1 else "processes", n_jobs=n_jobs, progress=progress,
                    store=store, stale=stale)
    methods = [p["method"] for p in plan.grid]
    out = {m: [] for m in methods}
    for p in pts:
        out[p.params["method"]].append(p.value)
    return out


# ``python -m sharelib sweep d3c.rl``: the points of Figs. 7-9, as notebooks/d3c/04_rl.ipynb runs them
_ex.register_sweep("d3c.rl", lambda P: [figure_plan(f, P) for f in FIGURES])
