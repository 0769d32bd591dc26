r"""All sharing mechanisms on one backbone, side by side, and the Sharer's Dilemma for each
(the ``notebooks/compare/`` notebooks; no paper has this comparison).

The backbone
------------
Every mechanism trains the same learner: the learning core's PPO with the AS paper's settings
(Table 1: ReLU, critic lr 1e-4, gamma 0.99, GAE lambda 0.98, clip 0.2, K = 3 full-batch epochs,
no advantage normalisation, no entropy bonus; AS needs the last two) and, ours, two hidden layers
of 64 units and an actor lr of 3e-4; a rollout is one episode per copy. The same environment
steps and seeds for everyone; the seed fixes the networks' initialisation, identical across
mechanisms.

The mechanisms (:data:`MECHANISMS`), each through a hook of the learning core
-----------------------------------------------------------------------------
``independent``
    Plain PPO on the agent's own reward.
``team``
    Every agent learns from the mean reward (full cooperation; D3C's ``A_ij = 1/n``).
``fixed_mixing``
    Each agent keeps ``1 - share`` of its reward and gives ``share`` equally to the others
    (CE-DOS's sharing of a fixed fraction; default ``share = 0.5``), a reward hook.
``d3c``
    D3C's learned mixing (Algorithms 1-3 of Gemp et al.; :class:`~sharelib.sharing.d3c.ZerothOrderD3C`
    with :func:`~sharelib.sharing.d3c_rl.d3c_defaults` for Cleanup), a reward hook; one step of
    Algorithm 1 is one learning iteration. Adapted: on PPO, where the paper used A2C.
``inequity_aversion``
    Hughes et al. (2018), :mod:`sharelib.sharing.inequity_aversion`, a reward hook.
``vs``, ``vps``, ``ps``
    Value sharing, value-function parameter consensus, policy parameter consensus, as the AS
    paper's baselines (:mod:`sharelib.sharing.anticipation.baselines`), everyone a neighbour.
``as``
    Anticipation sharing (AS Eq. 16, Algorithm 1) with Cleanup's penalty weight ``rho = 1e3`` of
    Table 2 for every environment unless ``options`` say otherwise; its own learner on the same
    settings (its critic regresses on Monte-Carlo returns, Eq. 18, where PPO's uses GAE targets, so
    "AS without neighbours" is not bit-for-bit PPO). With fewer than two sharers nobody has a
    neighbour and the mechanism is the backbone's PPO (as for LMF and LToS); in a group with both,
    a defector stays in AS's learner with no neighbours (no anticipation terms, Monte-Carlo critic,
    Algorithm 1's refreshed old policy), so its "plain PPO" is AS's own PPO variant.
``fpf``, ``lmf``
    The federations of Dong et al.: FPF with everyone participating (that is D&F's Algorithm 1
    run as FPF; lambda_u = lambda_e = 1, lambda_h = 0.01, alpha = 1e-3, eta = 1.5, the code's
    values), and LMF with Eq. 14 (gradient exchange) over the full graph. The federation learns
    with global information (the paper's Eqs. 4-7), so it sees a defector's experience too; a
    defector does not take the federation's policy.

``ltos``
    LToS's learned reward sharing (Yi et al.; Eq. 2 on the complete graph), adapted to the PPO
    backbone (:class:`~sharelib.sharing.ltos_ppo.LToSPPO`, where the paper's low level is a DQN):
    the low level sees its incoming weights, the high level ascends the receivers' PPO values
    (Eq. 6, first order), one step per learning iteration, initial selfishness 0.8.

Defectors: the Sharer's Dilemma of CE-DOS, asked of every mechanism
-------------------------------------------------------------------
``defectors=k`` makes agents ``0 .. k-1`` *opt out*: a defector learns plain PPO on its own
reward, sends nothing the mechanism asks for (its reward, values, parameters, action
distributions) and uses nothing it could receive; the other agents run the mechanism among
themselves (mixing rows renormalised over the sharers, graphs without the defectors, the
federation over the sharers). With ``k = n`` every mechanism is independent PPO, seed for seed
(tested). Earnings are the environment's rewards. Our reading, stated in the notebook: CE-DOS's
own default lets defectors receive shares; here nobody receives from a mechanism it left, which
is FPF's notion of opting out.
"""

from __future__ import annotations

import hashlib
import time

import numpy as np

from . import experiments as _ex
from . import metrics
from .envs import CoinGame, Cleanup, Exchange, Harvest, PrisonerCorridor
from .learners import PPO, Hooks, mix_rewards
from .learners.common import EpisodeTracker

__all__ = ["MECHANISMS", "ENVIRONMENTS", "BACKBONE", "run_mechanism", "mixing_matrix", "opt_out",
           "communication", "n_agents", "defector_counts", "plans", "experiment", "outcome", "dilemma", "verdict"]

MECHANISMS = ("independent", "team", "fixed_mixing", "d3c", "inequity_aversion", "vs", "vps", "ps", "as", "fpf",
              "lmf", "ltos")

#: name -> (environment class, keywords): the dilemmas of the comparison
ENVIRONMENTS = {
    "prisoner_corridor": (PrisonerCorridor, dict()),
    "coin_game": (CoinGame, dict(size=5)),
    "cleanup": (Cleanup, dict(map="as", obs="grid", fire=False, n_agents=5)),
    "harvest": (Harvest, dict(map="as", obs="grid", fire=False, n_agents=5)),
    "cleanup_canonical": (Cleanup, dict(obs="grid", fire=False, n_agents=5, max_steps=1000)),
    "harvest_canonical": (Harvest, dict(obs="grid", fire=False, n_agents=5, max_steps=1000)),
    "exchange": (Exchange, dict()),
}

#: The PPO every mechanism shares (module docstring); ``n_steps`` is the episode length.
BACKBONE = dict(activation="relu", hidden=(64, 64), lr=3e-4, vf_lr=1e-4, gamma=0.99, gae_lambda=0.98, clip=0.2,
                n_epochs=3, n_minibatches=1, norm_adv=False, ent_coef=0.0, vf_coef=1.0, max_grad_norm=0.5)


def make_env(env: str, n_envs: int):
    """One of :data:`ENVIRONMENTS` with ``n_envs`` copies."""
    _ex.check_choice("env", env, ENVIRONMENTS)
    cls, kw = ENVIRONMENTS[env]
    return cls(n_envs, **kw)


# ------------------------------------------------------------------------------------------------
# matrices of the reward-mixing mechanisms, and opting out
# ------------------------------------------------------------------------------------------------
def mixing_matrix(kind: str, n: int, share: float = 0.5) -> np.ndarray:
    """``M`` with ``r'_i = sum_j M_ij r_j``: ``"team"`` (all 1/n) or ``"fixed_mixing"``
    (``1 - share`` on the diagonal, ``share / (n - 1)`` elsewhere)."""
    if kind == "team":
        return np.full((n, n), 1.0 / n)
    share = _ex.check_float("share", share, min=0.0, max=1.0)
    M = np.full((n, n), share / max(n - 1, 1))
    np.fill_diagonal(M, 1.0 - share)
    return M


def opt_out(M: np.ndarray, sharers: np.ndarray) -> np.ndarray:
    """``M`` with the defectors (``~sharers``) out: their rows are ``e_i`` (own reward only) and
    the sharers' rows put no weight on them (renormalised over the sharers)."""
    M = np.array(M, dtype=float)
    d = ~np.asarray(sharers, bool)
    if not d.any():
        return M  # bit for bit: no renormalisation round-off without defectors
    M[:, d] = 0.0
    M[d] = 0.0
    idx = np.flatnonzero(d)
    M[idx, idx] = 1.0
    return M / M.sum(axis=1, keepdims=True)


def _sharer_graph(sharers: np.ndarray) -> np.ndarray:
    s = np.asarray(sharers, bool)
    return np.outer(s, s) & ~np.eye(len(s), dtype=bool)


# ------------------------------------------------------------------------------------------------
# building a mechanism on the backbone
# ------------------------------------------------------------------------------------------------
class _Mechanism:
    """A learner with the mechanism installed, and what runs after each update (D3C's report)."""

    def __init__(self, learner, after=None, state=None, wrap=None):
        self.learner, self.after, self.state = learner, after, state
        self.wrap = wrap or (lambda env, record=True: env)  # the environment as the learner sees it


def _build(mechanism: str, E, sharers: np.ndarray, seed_init: int, seed_mech: int, options: dict) -> _Mechanism:
    n, T = E.n_agents, E.max_steps
    kw = dict(BACKBONE, n_steps=T, seed=seed_init)
    o = dict(options)
    if mechanism == "independent" or (mechanism in ("fpf", "lmf", "ltos", "as")
                                      and sharers.sum() < 1 + (mechanism != "fpf")):
        # nobody to federate or share with (LMF, LToS, AS: no graph with a single participant)
        return _Mechanism(PPO.for_env(E, **kw))
    if mechanism in ("team", "fixed_mixing"):
        M = opt_out(mixing_matrix(mechanism, n, o.pop("share", 0.5)), sharers)
        return _Mechanism(PPO.for_env(E, hooks=Hooks(reward=mix_rewards(M)), **kw))
    if mechanism == "d3c":
        from .sharing.d3c import ZerothOrderD3C
        from .sharing.d3c_rl import d3c_defaults

        zo = ZerothOrderD3C(n, rng=seed_mech, **dict(d3c_defaults("cleanup"), **o))
        used = {}

        def matrix(ctx):
            used["M"] = opt_out(zo.reward_matrix(), sharers)
            return used["M"]

        L = PPO.for_env(E, hooks=Hooks(reward=mix_rewards(matrix)), **kw)

        def after(ro):
            mixed = np.einsum("ij,tej->tei", used["M"], ro.rewards)
            zo.report(mixed.mean(axis=(0, 1)) * T)

        return _Mechanism(L, after, zo)
    if mechanism == "inequity_aversion":
        from .sharing.inequity_aversion import inequity_aversion

        vis = _sharer_graph(sharers)
        hook = inequity_aversion(n, visible=vis, **o)
        return _Mechanism(PPO.for_env(E, hooks=Hooks(reward=_only(hook, sharers)), **kw))
    if mechanism in ("vs", "vps", "ps"):
        from .sharing.anticipation.baselines import make_baseline

        k = {key: kw[key] for key in kw if key not in ("hidden", "lr", "n_steps", "seed")}
        return _Mechanism(make_baseline(mechanism, E, graph=_sharer_graph(sharers), hidden=kw["hidden"], lr=kw["lr"],
                                        n_steps=T, seed=seed_init, **k))
    if mechanism == "as":
        from .sharing.anticipation import AnticipationSharing

        k = {key: v for key, v in kw.items() if key not in ("n_minibatches", "vf_coef")}  # AS fixes both
        k.update(o)
        k.setdefault("rho", 1e3)
        return _Mechanism(AnticipationSharing.for_env(E, graph=_sharer_graph(sharers), **k))
    if mechanism == "fpf":
        from .sharing.federation import FPF

        L = PPO.for_env(E, **kw)
        fed = FPF(L, participants=np.flatnonzero(sharers).tolist(), regularize="participants", seed=seed_mech,
                  **dict(dict(lambda_u=1.0, lambda_e=1.0, lambda_h=0.01, alpha=1e-3, eta=1.5), **o))
        fed.install()
        return _Mechanism(L, state=fed)
    if mechanism == "lmf":
        from .sharing.federation import LMF

        L = PPO.for_env(E, **kw)
        LMF(L, graph=o.pop("graph", "full"), exchange="gradients", participants=np.flatnonzero(sharers),
            seed=seed_mech, **o).install()
        return _Mechanism(L)
    if mechanism == "ltos":
        from .sharing.ltos_ppo import LToSPPO

        sh = LToSPPO(E, sharers=sharers, ppo_kw=kw, seed=seed_mech, **o)
        return _Mechanism(sh.low, lambda ro: sh.high_step(), sh, wrap=sh.env)
    raise AssertionError(mechanism)


def _only(hook, sharers):
    """A reward hook applied to the sharers only (defectors keep their own rewards)."""
    s = np.asarray(sharers, bool)

    def h(rewards, ctx):
        out = hook(rewards, ctx)
        return np.where(s, out, rewards)

    return h


def communication(mechanism: str, E, learner, sharers, high_batch: int = 0) -> dict:
    """What a sharer reveals and how many numbers it sends per environment step (to all recipients).

    Per-iteration exchanges (parameters) are spread over the iteration's ``n_steps`` steps of one
    copy (each copy's step is one step of the same agents). ``high_batch``: LToS's states per
    high-level step.
    """
    k = int(np.sum(sharers)) - 1  # recipients of a sharer
    if mechanism == "independent" or k < 1:
        return dict(reveals="nothing", numbers=0.0)
    A = E.n_actions
    n_pi = learner.policy_params.shape[1]
    n_v = learner.value_params.shape[1]
    per_iter = 1.0 / learner.n_steps
    table = {
        "team": ("reward", k),
        "fixed_mixing": ("reward", k),
        "d3c": ("reward (and its mixing row, once per trial)", k),
        "inequity_aversion": ("reward", k),
        "vs": ("advantage (from its value)", k),
        "vps": ("value-network parameters", k * n_v * per_iter),
        "ps": ("policy parameters", k * n_pi * per_iter),
        "as": ("action distribution and anticipations", k * 2 * A),
        "fpf": ("policy parameters (to the federation and back)", 2 * n_pi * per_iter),
        "lmf": ("policy updates", k * n_pi * per_iter),
        # a share of its reward and the weight to each recipient per step; the high level's value
        # gradients d V_i / d w_i^in[j] back to each giver, per sampled state
        "ltos": ("reward shares, sharing weights and value gradients",
                 2 * k + k * high_batch * per_iter),
    }
    what, numbers = table[mechanism]
    return dict(reveals=what, numbers=float(numbers))


# ------------------------------------------------------------------------------------------------
# one run
# ------------------------------------------------------------------------------------------------
def run_mechanism(env: str = "coin_game", mechanism: str = "independent", total_steps: int = 20_000,
                  n_envs: int = 8, defectors: int = 0, seed: int = 0, n_points: int = 20,
                  eval_episodes: int = 16, options: dict | None = None) -> dict:
    """Train ``mechanism`` on ``env`` (module docstring) and measure its outcome.

    Returns a dict: ``steps`` (n_points,) and ``returns`` (n_points, n) learning curves of the
    environment's returns per agent (NaN where no episode ended in a bin); ``final`` (n,) mean
    return per agent over the last 20% of training; ``defector`` (n,) bool; ``social``: the
    social outcome metrics (:func:`sharelib.metrics.social_metrics`: efficiency, equality,
    sustainability, ...) of ``eval_episodes`` episodes of the trained (stochastic) policies, and
    ``eval_returns`` (n,) their mean return per agent; ``seconds_per_step`` (wall time of training
    per environment step of one copy); ``reveals`` and ``numbers`` (:func:`communication`).
    """
    _ex.check_choice("mechanism", mechanism, MECHANISMS)
    total_steps = _ex.check_int("total_steps", total_steps, min=1)
    n_envs = _ex.check_int("n_envs", n_envs, min=1)
    seed = _ex.check_int("seed", seed, min=0)
    n_points = _ex.check_int("n_points", n_points, min=1)
    eval_episodes = _ex.check_int("eval_episodes", eval_episodes, min=1)
    E = make_env(env, n_envs)
    n = E.n_agents
    defectors = _ex.check_int("defectors", defectors, min=0, max=n)
    sharers = np.arange(n) >= defectors
    s_init, s_train, s_mech, s_eval = (int(s.generate_state(1)[0] % 2**31)
                                       for s in np.random.SeedSequence(seed).spawn(4))
    mech = _build(mechanism, E, sharers, s_init, s_mech, dict(options or {}))
    L = mech.learner
    rng = np.random.default_rng(s_train)
    E = mech.wrap(E)
    obs = E.reset(int(rng.integers(2**31)))
    tracker = EpisodeTracker(n_envs, n)
    K = -(-total_steps // (L.n_steps * n_envs))
    steps, rets, eps = np.zeros(K, np.int64), np.full((K, n), np.nan), np.zeros(K, np.int64)
    t0 = time.perf_counter()
    for k in range(K):
        ro, obs = L.collect(E, obs, rng, tracker)
        L.update(ro, rng)
        if mech.after is not None:
            mech.after(ro)
        steps[k] = L.env_steps
        rets[k], eps[k] = tracker.pop()
    seconds = time.perf_counter() - t0
    from .learners.mixing import _bin

    edges = np.linspace(0, steps[-1], n_points + 1)
    k0 = min(K - 1, int(K * 0.8))
    w = eps[k0:].astype(float)
    final = (w[:, None] * np.nan_to_num(rets[k0:])).sum(0) / w.sum() if w.sum() > 0 else np.full(n, np.nan)
    R = _evaluate(L, mech.wrap(make_env(env, eval_episodes), record=False), s_eval)
    social = {key: float(np.nanmean(v)) if np.ndim(v) else float(v)
              for key, v in metrics.social_metrics(R).items()}
    if (R.sum(axis=1) < 0).any():  # 1 - Gini needs non-negative returns (Coins has penalties)
        social["equality"] = float("nan")
    out = dict(env=env, mechanism=mechanism, n_agents=n, steps=edges[1:], returns=_bin(steps, rets, eps, edges),
               final=final, defector=~sharers, social=social, eval_returns=R.sum(axis=1).mean(axis=0),
               seconds_per_step=seconds / (K * L.n_steps), **communication(mechanism, E, L, sharers, getattr(mech.state, "high_batch", 0)),
               policy_digest=hashlib.sha256(np.ascontiguousarray(L.policy_params).tobytes()).hexdigest()[:16])
    if mechanism == "ltos" and mech.state is not None:
        out["selfishness"] = np.asarray(mech.state.selfishness)  # per iteration, mean w_ii of the sharers
    if mechanism == "d3c" and mech.state is not None:
        out["A_final"] = opt_out(mech.state.A.T, sharers).T  # A (column j: how j's reward is spread)
    return out


def _evaluate(learner, E, seed: int) -> np.ndarray:
    """Per-step rewards ``(episodes, T, n)`` of the stochastic policies, one episode in each copy of ``E``."""
    T, episodes = E.max_steps, E.n_envs
    rng = np.random.default_rng(seed)
    obs = E.reset(int(rng.integers(2**31)))
    R = np.empty((T, episodes, E.n_agents))
    running = np.ones(episodes)  # copies whose first episode has not ended (the corridor ends early)
    for t in range(T):
        a, _, _ = learner.act(obs, rng)
        obs, r, done = E.step(a)
        R[t] = r * running[:, None]
        running[done] = 0.0
    return R.transpose(1, 0, 2)


# ------------------------------------------------------------------------------------------------
# the sweep behind the notebook, and the Sharer's Dilemma per mechanism
# ------------------------------------------------------------------------------------------------
_ex.register_presets(
    "compare",
    quick=dict(envs=["coin_game", "cleanup"], mechanisms=list(MECHANISMS), steps=2400, runs=1, defectors=[0, 1, 2],
               n_envs=4, eval_episodes=4, n_points=6, seed=0),
    # 100k steps, 3 seeds: Coins and Cleanup alone took 11 min on 2 cores (126 runs); 2 defectors only where
    # a sharer is left (the 5-agent maps, see plans())
    reduced=dict(envs=["coin_game", "cleanup", "harvest", "prisoner_corridor", "exchange", "cleanup_canonical",
                       "harvest_canonical"], mechanisms=list(MECHANISMS),
                 steps=100_000, runs=3,
                 defectors=[0, 1, 2], n_envs=8, eval_episodes=32, n_points=20, seed=0),
    # the largest per-environment budget of our papers' presets (D3C's Cleanup: 10M steps), 5 seeds
    paper=dict(envs=["prisoner_corridor", "coin_game", "cleanup", "harvest", "cleanup_canonical", "harvest_canonical",
                     "exchange"], mechanisms=list(MECHANISMS),
               steps=10_000_000, runs=5, defectors=[0, 1, 2], n_envs=8, eval_episodes=64, n_points=40, seed=0),
)


def n_agents(env: str) -> int:
    """The number of agents of one of :data:`ENVIRONMENTS`."""
    return make_env(env, 1).n_agents


def defector_counts(env: str, defectors) -> list:
    """The numbers of defectors among ``defectors`` that leave ``env`` at least one sharer (with
    none left every mechanism is independent learning, which its run already measures)."""
    n = n_agents(env)
    return [k for k in defectors if k < n]


def plans(P: dict) -> list:
    """The sweep behind the notebook under the resolved ``compare`` preset ``P``: every
    (environment, mechanism, defectors) over its runs, for the numbers of defectors that leave a
    sharer (:func:`defector_counts`); ``independent`` once per environment (defectors change
    nothing there). ``python -m sharelib sweep compare`` runs the same grid."""
    grid = [dict(env=e, mechanism=m, defectors=k, total_steps=P["steps"], n_envs=P["n_envs"],
                 eval_episodes=P["eval_episodes"], n_points=P["n_points"])
            for e in P["envs"] for m in P["mechanisms"] for k in defector_counts(e, P["defectors"])
            if not (m == "independent" and k != P["defectors"][0])]
    return [_ex.SweepPlan(run_mechanism, grid, P["runs"], P["seed"], "mechanisms")]


_ex.register_sweep("compare", plans)


def experiment(P: dict, *, backend: str = "processes", n_jobs: int | None = None, cache=None, store=None,
               stale: str = "reuse", progress: bool = True) -> dict:
    """The runs of :func:`plans` as ``{(env, mechanism, k): [run_mechanism result, ...]}``;
    ``store`` / ``stale``: read and write them in a results store (``results/compare``), see
    :func:`sharelib.experiments.sweep`."""
    (plan,) = plans(P)
    pts = _ex.sweep(plan.fn, plan.grid, runs=plan.runs, seed=plan.seed, backend=backend, n_jobs=n_jobs,
                    cache=cache, store=store, stale=stale, progress=progress, desc=plan.desc)
    out = {}
    for p in pts:
        out.setdefault((p.params["env"], p.params["mechanism"], p.params["defectors"]), []).append(p.value)
    return out


def outcome(runs: list) -> dict:
    """Across the runs of one cell: collective return per episode, equality, sustainability
    (each ``(mean, 95% CI half-width)`` over runs)."""
    coll = [float(np.sum(r["eval_returns"])) for r in runs]
    eq = [r["social"]["equality"] for r in runs]
    sus = [r["social"]["sustainability"] for r in runs]
    return {name: tuple(float(x) for x in metrics.mean_ci(np.asarray(v, float)))
            for name, v in (("collective", coll), ("equality", eq), ("sustainability", sus))}


def dilemma(results: dict, env: str, mechanism: str, k: int = 1) -> dict:
    """The Sharer's Dilemma of ``mechanism`` on ``env`` with ``k`` defectors, per run then over runs
    (``(mean, 95% CI half-width)``):

    ``out_earns``: a defector's return minus a sharer's in the same group (needs a sharer: n > k);
    ``pays``: a defector's return minus what it earned sharing in the group without defectors
    (a unilateral deviation pays when > 0); ``group_loss``: collective return without defectors
    minus with ``k`` (what free riding costs the group). Runs pair up by seed index.
    """
    full, mixed = results[(env, mechanism, 0)], results[(env, mechanism, k)]
    out_earns, pays, loss = [], [], []
    for a, b in zip(full, mixed):
        d = b["defector"]
        ra, rb = np.asarray(a["eval_returns"]), np.asarray(b["eval_returns"])
        if (~d).any():
            out_earns.append(rb[d].mean() - rb[~d].mean())
        pays.append(rb[d].mean() - ra[d].mean())
        loss.append(ra.sum() - rb.sum())
    ci = lambda v: tuple(float(x) for x in metrics.mean_ci(np.asarray(v, float))) if v else (np.nan, np.nan)  # noqa: E731
    return dict(out_earns=ci(out_earns), pays=ci(pays), group_loss=ci(loss), n_runs=len(pays))


def verdict(mean_ci: tuple) -> str:
    """``"yes"`` if the CI lies above 0, ``"no"`` below, else ``"unclear"`` (a single run: by sign,
    marked ``"(1 run)"``)."""
    m, h = mean_ci
    if not np.isfinite(m):
        return "n/a"
    if not np.isfinite(h):
        return ("yes" if m > 0 else "no" if m < 0 else "unclear") + " (1 run)"
    return "yes" if m - h > 0 else "no" if m + h < 0 else "unclear"
