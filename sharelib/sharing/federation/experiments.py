"""FPF/LMF experiments: presets and seeded runs behind ``notebooks/fpf_lmf/``.

:func:`discrete_run` trains one method on one of FEN's scenarios with the learning core's PPO
(one network per agent) and the federation as its params hook. Methods: ``ippo``; ``ippo_avg``
(every agent learns from the mean reward); ``mappo`` (MAPPO, Yu et al. 2022: the core's PPO with a
centralised critic ``V_i(s)`` on the concatenated observations, :class:`~sharelib.learners.MAPPO`,
one actor and one critic per agent); ``fen`` (the code's flat PPO-FEN: independent PPO on FEN's
fair-efficient reward, :class:`.discrete.FENReward`); ``fen_hier`` (FEN's meta-controller and 4
sub-policies, :class:`.fen_hier.FENHierarchy`); ``dandf`` (D&F, all participate); ``fpf`` (half
participate, the paper's setting); ``fpf_code`` (the code's ``i <= floor(N/2)``); ``lmf`` (Eq. 14
gradients, one full federation); ``lmf_fix``, ``lmf_dynamic`` (paper readings, Eq. 14);
``lmf_ring`` (the code's fixed ring, Eq. 14); ``soto_ggf``, ``soto_alf`` (SOTO, Zimmer et al. 2021,
with the generalised Gini or the alpha-fair welfare: :class:`.soto.SOTO`). The constants are the code's
where the text is silent (alpha 1e-3, eta = beta 1.5, lambda_u = lambda_e = 1; notes Sec. 1.2) except where a preset says.
"""

from __future__ import annotations

import numpy as np

from ... import experiments as _ex
from ...envs import JobScheduling, ManufacturingPlant, MatthewEffect
from ...learners import MAPPO, PPO, Hooks, mix_rewards
from .fpf import FPF
from .lmf import LMF

__all__ = ["discrete_run", "build_method", "min_reward", "METHODS", "SCENARIOS"]

SCENARIOS = {"job": JobScheduling, "matthew": MatthewEffect, "plant": ManufacturingPlant}
METHODS = ("ippo", "ippo_avg", "mappo", "fen", "fen_hier", "dandf", "fpf", "fpf_code", "lmf", "lmf_fix", "lmf_dynamic",
           "lmf_ring", "soto_ggf", "soto_alf")


def discrete_run(scenario="job", method="fpf", iterations=50, n_envs=4, hidden=(32,), lr=1e-3,
                 lambda_u=1.0, lambda_e=1.0, lambda_h=0.01, alpha=1e-3, eta=1.5, every=1, vf_lr=None,
                 fen_max_u=None, fen_T=None, soto_alpha=0.9, soto_anneal=0.5, seed=0):
    """Train ``method`` on ``scenario`` for ``iterations`` PPO iterations of one 200-step episode
    per copy; returns per-iteration mean episode return per agent and the participating set.

    ``fen``: independent PPO on FEN's fair-efficient reward (the code's flat ``PPO-FEN``) with
    ``fen_max_u`` (:data:`.discrete.FEN_MAX_U` when ``None``). ``fen_hier``: FEN's hierarchy
    (:class:`.fen_hier.FENHierarchy`) with the same PPO settings, ``fen_max_u`` and segment length
    ``fen_T`` (:data:`.fen_hier.FEN_T` when ``None``). ``mappo``: the core's PPO with a centralised
    critic. ``soto_ggf``, ``soto_alf``: :class:`.soto.SOTO` with ALF's ``soto_alpha`` and ``beta`` annealed
    from 1 to 0 over the first ``soto_anneal`` fraction of the iterations (the returns are the
    training rollouts', as every method's). ``vf_lr``: the critic's Adam step (``None``: ``lr``)."""
    scenario = _ex.check_choice("scenario", scenario, SCENARIOS)
    method = _ex.check_choice("method", method, METHODS)
    iterations = _ex.check_int("iterations", iterations, min=1)
    env = SCENARIOS[scenario](n_envs=n_envs)
    if method in ("fen", "fen_hier") and fen_max_u is None:
        from .discrete import FEN_MAX_U
        fen_max_u = FEN_MAX_U[scenario]
    ppo_kw = dict(hidden=tuple(hidden), lr=lr, vf_lr=vf_lr, n_steps=env.max_steps, n_epochs=2, n_minibatches=4,
                  gamma=0.98, gae_lambda=0.97)
    if method == "fen_hier":
        from .fen_hier import FEN_T, FENHierarchy
        ppo_kw.pop("n_steps")
        h = FENHierarchy(env, FEN_T[scenario] if fen_T is None else fen_T, fen_max_u, seed=seed, **ppo_kw)
        res = h.train(env, iterations, seed=seed)
        return dict(returns=res.returns, participants=np.arange(env.n_agents), n_agents=env.n_agents)
    learner, participants = build_method(
        env, method, ppo_kw,
        lambda_u=lambda_u, lambda_e=lambda_e, lambda_h=lambda_h, alpha=alpha, eta=eta, every=every,
        fen_max_u=fen_max_u, soto_alpha=soto_alpha, soto_anneal=soto_anneal, seed=seed)
    res = learner.train(env, iterations * env.max_steps * n_envs, seed=seed)
    return dict(returns=res.returns, participants=np.asarray(participants), n_agents=env.n_agents)


def build_method(env, method, ppo_kw, *, lambda_u=1.0, lambda_e=1.0, lambda_h=0.01, alpha=1e-3, eta=1.5, every=1,
                 fen_max_u=None, ia_alpha=5.0, ia_beta=0.05, social_alpha=1.0, social_beta=0.1, participants=None,
                 regularize="all", soto_alpha=0.9, soto_anneal=0.5, seed=0):
    """The learning core's PPO on ``env`` (keywords ``ppo_kw``) with ``method`` installed; returns
    ``(learner, participants)``, the second the agents that federate (everybody for the methods
    without a federation).

    Methods: those of :data:`METHODS` plus ``ippo_min`` (every agent learns from the minimum reward,
    the paper's MIN) and ``ia`` (inequity aversion, :func:`sharelib.sharing.inequity_aversion.inequity_aversion`
    with ``ia_alpha``, ``ia_beta``) and ``social`` (social influence with a model of the other agents,
    :class:`sharelib.sharing.social_influence.SocialInfluence`: ``social_alpha`` times the reward plus
    ``social_beta`` times the influence; the MOAs seeded by ``seed``). ``participants`` (FPF only): an explicit ``N_p`` overriding the
    method's rule; ``regularize``: :class:`.FPF`'s (``"all"``, the code; ``"participants"``, the prose).
    ``soto_ggf``, ``soto_alf``: the learner is a :class:`.soto.SOTO` (two PPO populations; ``soto_alpha``:
    ALF's alpha, ``soto_anneal``: the fraction of training over which ``beta`` goes from 1 to 0).
    """
    method = _ex.check_choice("method", method, tuple(m for m in METHODS if m != "fen_hier") + ("ippo_min", "ia", "social"))
    n, n_envs = env.n_agents, env.n_envs
    if method in ("soto_ggf", "soto_alf"):
        from .soto import SOTO
        soto_alpha = _ex.check_float("soto_alpha", soto_alpha, min=0)
        soto_anneal = _ex.check_float("soto_anneal", soto_anneal, min=0, max=1, min_inclusive=False)
        return SOTO(env, method[5:], alpha=soto_alpha, anneal=soto_anneal, seed=seed, **ppo_kw), np.arange(n)
    hooks = None
    if method == "ippo_avg":
        hooks = Hooks(reward=mix_rewards(np.full((n, n), 1.0 / n)))
    elif method == "ippo_min":
        hooks = Hooks(reward=min_reward)
    elif method == "ia":
        from ..inequity_aversion import inequity_aversion
        hooks = Hooks(reward=inequity_aversion(n, alpha=ia_alpha, beta=ia_beta))
    elif method == "social":
        from ..social_influence import SocialInfluence
        hooks = Hooks(reward=SocialInfluence(n, env.obs_dim, env.n_actions, alpha=social_alpha, beta=social_beta,
                                             seed=seed))
    elif method == "fen":
        from .discrete import FENReward
        if fen_max_u is None:
            raise ValueError("fen_max_u must be a positive float for method='fen'; got None")
        hooks = Hooks(reward=FENReward(n_envs, n, fen_max_u))
    # MAPPO: the same PPO with every agent's critic on the global state (no reward or params hook)
    learner = (MAPPO if method == "mappo" else PPO).for_env(env, hooks=hooks, seed=seed, **ppo_kw)
    out = np.arange(n)
    if method in ("dandf", "fpf", "fpf_code"):
        rule = {"dandf": "all", "fpf": "half", "fpf_code": "code"}[method]
        if participants is not None:
            rule = np.asarray(participants, dtype=np.int64).ravel()
        fed = FPF(learner, participants=rule, lambda_u=lambda_u, lambda_e=lambda_e, lambda_h=lambda_h,
                  alpha=alpha, eta=eta, every=every, regularize=regularize, seed=seed)
        fed.install()
        out = fed.participants if not isinstance(fed.participants, str) else \
            np.arange(n) if fed.participants == "all" else np.arange(n // 2 + 1)
    elif method.startswith("lmf"):
        graph = {"lmf": "full", "lmf_fix": "fix", "lmf_dynamic": "dynamic", "lmf_ring": "ring"}[method]
        LMF(learner, graph=graph, exchange="gradients", every=every, group_size=max(2, n // 2),
            n_groups=2, seed=seed).install()
    return learner, np.asarray(out)


def min_reward(rewards, ctx):
    """Reward hook of MIN: every agent learns from the minimum of the agents' rewards at each step."""
    r = np.asarray(rewards, dtype=np.float64)
    return np.broadcast_to(r.min(axis=-1, keepdims=True), r.shape).copy()


#: the methods of 01_method's small game (MAPPO, the two FENs and the two SOTOs, added for 02_discrete, are
#: not in its presets)
_METHOD_NB = tuple(m for m in METHODS if m not in ("mappo", "fen", "fen_hier", "soto_ggf", "soto_alf"))

_ex.register_presets(
    "fpf_lmf.method",
    quick=dict(T1=400, T2=600, scenario="job", methods=["ippo", "dandf", "fpf", "lmf_fix"], iterations=15,
               runs=1, n_envs=2, seed=0),
    paper=dict(T1=5000, T2=20000, scenario="job", methods=list(_METHOD_NB), iterations=2500, runs=5, n_envs=4,
               seed=0),
    reduced=dict(T1=5000, T2=20000, scenario="job", methods=list(_METHOD_NB), iterations=100, runs=3, n_envs=4,
                 seed=0),
)
