r"""SOTO (Zimmer, Glanois, Siddique, Weng, ICML 2021, "Learning Fair Policies in Decentralized
Cooperative Multi-Agent Reinforcement Learning"), the ``"soto_ggf"`` and ``"soto_alf"`` baselines of
FPF/LMF's Figs. 1 and 5, built from the learning core's PPO. Written from the paper's description,
not from its code.

SOTO's definitions
------------------
``J = (J_1, ..., J_n)`` are the agents' expected returns and ``F`` a fair social welfare function
(concave, increasing, symmetric). SOTO optimises ``F(J)`` in a decentralised way: its gradient is
``sum_j (dF/dJ_j)(J) grad J_j``, i.e. the policy gradient of the mixed reward
``sum_j (dF/dJ_j)(J) r_j`` with the weights frozen at the current ``J``. Two welfares:

* **GGF**, the generalised Gini social welfare ``F(J) = sum_k w_k J_(k)``, ``J_(1) <= ... <= J_(n)``
  sorted increasingly and weights decreasing, by default ``w_k = 1 / 2^(k-1)`` (SOTO's experiments;
  :func:`ggf_weights`). ``dF/dJ_j`` is the weight of ``j``'s rank (:func:`ggf_grad`). At ties ``F``
  is not differentiable; we take the symmetric supergradient, the mean of the tied ranks' weights
  (between the one-sided derivatives), so equal returns get equal weights;
* **ALF**, alpha-fairness ``F(J) = sum_j J_j^(1-alpha) / (1-alpha)`` (``sum_j log J_j`` at alpha 1),
  ``dF/dJ_j = J_j^(-alpha)`` (:func:`alf_grad`), with ``J`` clipped below at ``floor > 0`` (the weight
  of an agent at or below the floor is ``floor^(-alpha)``: the gradient of ``F`` at ``max(J, floor)``).

Each agent ``i`` has two policies: a **self-oriented** ``pi_i^S`` trained by PPO on its own reward
``r_i``, and a **team-oriented** ``pi_i^T`` trained by PPO on the reward ``sum_j w_j r_j`` with
``w = grad F(J)``. During training agent ``i`` acts with ``pi_i^S`` with probability ``beta_t`` and
with ``pi_i^T`` otherwise; ``beta_t`` is annealed linearly from ``beta_start`` (1) to ``beta_end`` (0)
over the first ``anneal`` fraction (1/2) of the iterations and then stays at ``beta_end``
(:func:`beta_schedule`). The team-oriented policy is the one SOTO deploys (:meth:`SOTO.act`).

Our design (readings of the paper on our PPO, on purpose)
---------------------------------------------------------
* **Two PPO learners on the same data.** :attr:`SOTO.selfish` and :attr:`SOTO.team` are two
  :class:`~sharelib.learners.PPO` populations (one network per agent each, the same keywords). Every
  iteration collects one rollout in which each agent, **at every step independently**, acts with its
  self-oriented policy with probability ``beta_t`` (our reading of the per-agent choice); both
  learners then update on the whole rollout, each with its own critic for GAE and, as PPO's
  ``old_logp``, its own policy's log-probability of the action taken (so each clip is a trust region
  around that learner's pre-update policy).
* **Off-policy correction.** The behaviour at a step is the mixture ``mu = beta pi^S + (1 - beta) pi^T``;
  each learner's advantages are multiplied by the truncated importance weight
  ``min(truncate, pi_own(a) / mu(a))`` (``truncate = 1``, as in V-trace/ACER), through the learner's
  advantage hook, before PPO's per-minibatch normalisation. The critics are not corrected: they
  learn the behaviour's values (exact for the team policy once ``beta`` reaches 0).
  With ``beta`` fixed at 1 the weight of the self-oriented learner is exactly 1 and it is
  independent PPO seed for seed (the team learner and the choices draw from a separate stream).
* **The estimate of J.** An exponential moving average (rate ``j_rate``, 0.1) of the agents'
  environment returns of the episodes that ended in each iteration (the behaviour's returns),
  started at the first iteration's; until an episode has ended all ``J`` are equal, so the weights are.
  The team reward of an iteration uses the estimate including that iteration's episodes.
* **The weights' scale.** With ``normalize=True`` (default) the team reward is
  ``sum_j w_j r_j / sum_j w_j``: the same gradient direction, rewards on the agents' scale, so the
  team critic's target does not change scale with ``J`` (ALF's ``floor^(-alpha)`` would otherwise
  scale it by hundreds); PPO normalises the advantages anyway.
* **Logging.** :meth:`SOTO.train` returns the learning curve of the training rollouts (the
  environment's rewards of the behaviour, as the other discrete baselines log): the mixture while
  ``beta > 0``, the team-oriented policy alone afterwards (the second half of training by default).
"""

from __future__ import annotations

import numpy as np

from ... import experiments as _ex
from ...learners import PPO, Hooks
from ...learners.common import EpisodeTracker, TrainResult, warn_nonfinite_training
from ...learners.hooks import Rollout

__all__ = ["SOTO", "WELFARES", "ggf_weights", "ggf", "ggf_grad", "alf", "alf_grad", "welfare_grad",
           "beta_schedule"]

#: the two social welfare functions of SOTO's experiments
WELFARES = ("ggf", "alf")


# ------------------------------------------------------------------------------------ welfares
def _vector(name, J) -> np.ndarray:
    J = np.asarray(J, dtype=np.float64)
    if J.ndim != 1 or J.size < 1 or not np.all(np.isfinite(J)):
        raise ValueError(f"{name} must be a non-empty 1-D array of finite numbers; got {J!r}")
    return J


def ggf_weights(n: int) -> np.ndarray:
    """SOTO's GGF weights ``w_k = 1 / 2^(k-1)``, ``k = 1..n`` (the worst-off agent's first)."""
    n = _ex.check_int("n", n, min=1)
    return 0.5 ** np.arange(n)


def _ggf_w(weights, n) -> np.ndarray:
    if weights is None:
        return ggf_weights(n)
    w = _vector("weights", weights)
    if w.size != n or np.any(w <= 0) or np.any(np.diff(w) > 0):
        raise ValueError(f"weights must be {n} positive non-increasing numbers (w_1 >= ... >= w_n > 0, one "
                         f"per agent); got {w.tolist()}")
    return w


def ggf(J, weights=None) -> float:
    """Generalised Gini social welfare ``sum_k w_k J_(k)`` (``J`` sorted increasingly)."""
    J = _vector("J", J)
    return float(np.sort(J) @ _ggf_w(weights, J.size))


def ggf_grad(J, weights=None) -> np.ndarray:
    """``dF/dJ_j`` of :func:`ggf`: the weight of ``j``'s rank, the mean of the tied ranks' weights at ties."""
    J = _vector("J", J)
    w = _ggf_w(weights, J.size)
    order = np.argsort(J, kind="stable")
    s = J[order]
    g = np.empty(J.size)
    k = 0
    while k < J.size:  # runs of equal values share the mean of their ranks' weights
        m = k + 1
        while m < J.size and s[m] == s[k]:
            m += 1
        g[order[k:m]] = w[k:m].mean()
        k = m
    return g


def _alf_check(alpha, floor):
    return (_ex.check_float("alpha", alpha, min=0),
            _ex.check_float("floor", floor, min=0, min_inclusive=False))


def alf(J, alpha=0.9, floor=1e-3) -> float:
    """Alpha-fairness ``sum_j x_j^(1-alpha) / (1-alpha)`` (``sum_j log x_j`` at alpha 1), ``x = max(J, floor)``."""
    alpha, floor = _alf_check(alpha, floor)
    x = np.maximum(_vector("J", J), floor)
    return float(np.log(x).sum() if alpha == 1.0 else (x ** (1.0 - alpha)).sum() / (1.0 - alpha))


def alf_grad(J, alpha=0.9, floor=1e-3) -> np.ndarray:
    """``dF/dJ_j = max(J_j, floor)^(-alpha)`` of :func:`alf` (the gradient at the clipped point)."""
    alpha, floor = _alf_check(alpha, floor)
    return np.maximum(_vector("J", J), floor) ** (-alpha)


def welfare_grad(J, welfare="ggf", *, alpha=0.9, floor=1e-3, weights=None) -> np.ndarray:
    """``grad F(J)`` of ``welfare`` (``"ggf"``: :func:`ggf_grad` with ``weights``; ``"alf"``: :func:`alf_grad`)."""
    welfare = _ex.check_choice("welfare", welfare, WELFARES)
    return ggf_grad(J, weights) if welfare == "ggf" else alf_grad(J, alpha, floor)


def beta_schedule(iteration, iterations, start=1.0, end=0.0, anneal=0.5) -> float:
    """Probability of acting with the self-oriented policy at ``iteration`` (0-based) of ``iterations``:
    linear from ``start`` at iteration 0 to ``end`` at iteration ``anneal * iterations``, then ``end``."""
    iterations = _ex.check_int("iterations", iterations, min=1)
    iteration = _ex.check_int("iteration", iteration, min=0, max=iterations - 1)
    start = _ex.check_float("beta_start", start, min=0, max=1)
    end = _ex.check_float("beta_end", end, min=0, max=1)
    anneal = _ex.check_float("anneal", anneal, min=0, max=1, min_inclusive=False)
    frac = min(1.0, iteration / (anneal * iterations))
    return start + (end - start) * frac


# ------------------------------------------------------------------------------------ learner
def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


class SOTO:
    """SOTO's self- and team-oriented PPO policies for every agent of ``env`` (module docstring).

    ``welfare``: ``"ggf"`` or ``"alf"``; ``alpha`` (>= 0) and ``floor`` (> 0): ALF's; ``weights``:
    GGF's (``None``: :func:`ggf_weights`); ``beta_start``, ``beta_end`` in [0, 1] and ``anneal`` in
    (0, 1]: :func:`beta_schedule`; ``j_rate`` in (0, 1]: the rate of the moving average of ``J``;
    ``truncate`` > 0: the importance weights' cap; ``normalize``: divide the team weights by their sum;
    ``seed``: the self-oriented networks' initialisation (the same as ``PPO(seed=seed)``; the team
    networks get a seed derived from it); ``ppo_kw``: keywords of :class:`~sharelib.learners.PPO`
    shared by both learners (not ``hooks``, ``seed``).
    """

    def __init__(self, env, welfare="ggf", *, alpha=0.9, floor=1e-3, weights=None, beta_start=1.0, beta_end=0.0,
                 anneal=0.5, j_rate=0.1, truncate=1.0, normalize=True, seed=0, **ppo_kw):
        for k in ("hooks", "seed"):
            if k in ppo_kw:
                raise ValueError(f"{k} is set by SOTO; remove it from the PPO keywords")
        self.welfare = _ex.check_choice("welfare", welfare, WELFARES)
        self.alpha, self.floor = _alf_check(alpha, floor)
        self.n_agents, self.obs_dim, self.n_actions = env.n_agents, env.obs_dim, env.n_actions
        self.weights = None if weights is None else _ggf_w(weights, self.n_agents)
        self.beta_start = _ex.check_float("beta_start", beta_start, min=0, max=1)
        self.beta_end = _ex.check_float("beta_end", beta_end, min=0, max=1)
        self.anneal = _ex.check_float("anneal", anneal, min=0, max=1, min_inclusive=False)
        self.j_rate = _ex.check_float("j_rate", j_rate, min=0, max=1, min_inclusive=False)
        self.truncate = _ex.check_float("truncate", truncate, min=0, min_inclusive=False)
        self.normalize = bool(normalize)
        self.seed = _ex.check_int("seed", seed, min=0)
        team_seed = int(np.random.SeedSequence([self.seed, 1]).generate_state(1)[0] % (2 ** 31))
        self._rho = {}
        self.selfish = PPO.for_env(env, hooks=Hooks(advantage=self._weighted("self")), seed=self.seed, **ppo_kw)
        self.team = PPO.for_env(env, hooks=Hooks(reward=self._team_reward, advantage=self._weighted("team")),
                                seed=team_seed, **ppo_kw)
        self.J = None  # the moving average of the agents' returns (None until an episode ended)
        self.iteration = 0

    # ------------------------------------------------------------------------------ weights
    def team_weights(self, J=None) -> np.ndarray:
        """The team reward's weights ``grad F(J)`` (divided by their sum with ``normalize``) at ``J``
        (default: the current estimate; all equal before any episode ended)."""
        J = (np.zeros(self.n_agents) if self.J is None else self.J) if J is None else J
        w = welfare_grad(J, self.welfare, alpha=self.alpha, floor=self.floor, weights=self.weights)
        return w / w.sum() if self.normalize else w

    def update_J(self, returns, count) -> None:
        """Fold the mean returns ``(n,)`` of ``count`` episodes that just ended into the estimate of ``J``."""
        if count == 0:
            return
        r = np.asarray(returns, dtype=np.float64)
        self.J = r.copy() if self.J is None else (1.0 - self.j_rate) * self.J + self.j_rate * r

    def _team_reward(self, rewards, ctx):
        w = self.team_weights()
        ctx.info["soto_weights"] = w
        return np.broadcast_to((rewards @ w)[..., None], rewards.shape).copy()

    def _weighted(self, who):
        def hook(adv, ctx):
            return adv * self._rho[who]
        return hook

    # ------------------------------------------------------------------------------ acting
    def act(self, obs, rng=None, greedy=False):
        """The team-oriented policy's ``(actions, logp, values)`` (what SOTO deploys)."""
        return self.team.act(obs, rng, greedy=greedy)

    def evaluate(self, env, n_episodes=10, seed=0, greedy=True):
        """Mean environment return per agent of the team-oriented policy."""
        from ...learners import evaluate
        return evaluate(self, env, n_episodes, seed, greedy)

    def collect(self, env, obs, rng, rng_team, tracker, beta):
        """One rollout of ``n_steps`` steps with each agent's policy drawn per step (self-oriented
        with probability ``beta``); returns ``(self rollout, team rollout, next obs)`` (the same
        steps; each with its own learner's values and log-probabilities) and sets the importance
        weights of both learners. ``rng`` drives the self-oriented policy (as PPO's own collect),
        ``rng_team`` the team-oriented policy and the choices."""
        S, Tm = self.selfish, self.team
        T, E, n = S.n_steps, env.n_envs, self.n_agents
        O = np.empty((T, E, n, self.obs_dim), np.float32)
        A = np.empty((T, E, n), np.int64)
        R = np.empty((T, E, n))
        D = np.empty((T, E), np.bool_)
        VS, VT = np.empty((T + 1, E, n)), np.empty((T + 1, E, n))
        LS, LT = np.empty((T, E, n)), np.empty((T, E, n))
        rho_s, rho_t = np.empty((T, E, n)), np.empty((T, E, n))
        for t in range(T):
            a_s, lp_s, v_s = S.act(obs, rng)
            a_t, lp_t, v_t = Tm.act(obs, rng_team)
            use_self = rng_team.random((E, n)) < beta
            a = np.where(use_self, a_s, a_t)
            if use_self.all():  # each learner's log-probability of the action taken
                ls, lt = lp_s, np.take_along_axis(_log_softmax(Tm.policy_net.forward_agents(
                    Tm.policy_params, obs, Tm.share_params)), a[..., None], axis=2)[..., 0]
            elif not use_self.any():
                ls, lt = np.take_along_axis(_log_softmax(S.policy_net.forward_agents(
                    S.policy_params, obs, S.share_params)), a[..., None], axis=2)[..., 0], lp_t
            else:
                zs = _log_softmax(S.policy_net.forward_agents(S.policy_params, obs, S.share_params))
                zt = _log_softmax(Tm.policy_net.forward_agents(Tm.policy_params, obs, Tm.share_params))
                ls = np.where(use_self, lp_s, np.take_along_axis(zs, a[..., None], axis=2)[..., 0])
                lt = np.where(use_self, np.take_along_axis(zt, a[..., None], axis=2)[..., 0], lp_t)
            ps, pt = np.exp(ls), np.exp(lt)
            mu = beta * ps + (1.0 - beta) * pt  # the behaviour's probability of a (beta 1: exactly ps)
            with np.errstate(invalid="ignore", divide="ignore"):
                rho_s[t] = np.where(mu > 0, np.minimum(self.truncate, ps / mu), self.truncate)
                rho_t[t] = np.where(mu > 0, np.minimum(self.truncate, pt / mu), self.truncate)
            O[t], A[t], LS[t], LT[t], VS[t], VT[t] = obs, a, ls, lt, v_s, v_t
            obs, r, d = env.step(a)
            R[t], D[t] = r, d
            tracker.add(r, d)
        VS[T], VT[T] = S.values(obs), Tm.values(obs)
        S.env_steps += T * E
        Tm.env_steps += T * E
        self._rho = {"self": rho_s, "team": rho_t}
        last = obs.copy()
        return Rollout(O, A, R, D, VS, LS, last), Rollout(O, A, R, D, VT, LT, last), obs

    def train(self, env, total_steps, seed=0, progress=False):
        """Train on ``env`` for at least ``total_steps`` environment steps (summed over copies), as
        :meth:`sharelib.learners.PPO.train`; returns a :class:`~sharelib.learners.common.TrainResult`
        of the behaviour's environment returns, with ``stats`` ``beta``, ``self_*`` and ``team_*``
        (the learners' losses) per iteration. :attr:`J_history` and :attr:`weight_history` ``(K, n)``
        keep the estimate of ``J`` and the team weights of every iteration."""
        seed = _ex.check_int("seed", seed, min=0)
        total_steps = _ex.check_int("total_steps", total_steps, min=1)
        for L in (self.selfish, self.team):
            L._check_env(env)
            L._check_batch(env.n_envs)
        ss = np.random.SeedSequence(seed)
        rng = np.random.default_rng(ss)  # the self-oriented learner's stream: PPO.train's
        rng_team = np.random.default_rng(np.random.SeedSequence([seed, 1]))
        obs = env.reset(int(ss.generate_state(1)[0] % (2 ** 31)))
        tracker = EpisodeTracker(env.n_envs, self.n_agents)
        K = -(-total_steps // (self.selfish.n_steps * env.n_envs))
        steps, rets, eps = np.zeros(K, np.int64), np.full((K, self.n_agents), np.nan), np.zeros(K, np.int64)
        self.J_history = np.full((K, self.n_agents), np.nan)
        self.weight_history = np.full((K, self.n_agents), np.nan)
        st = {"beta": np.zeros(K)}
        it = range(K)
        if progress:
            from tqdm.auto import tqdm
            it = tqdm(it, desc="SOTO", leave=False)
        for k in it:
            beta = beta_schedule(k, K, self.beta_start, self.beta_end, self.anneal)
            ro_s, ro_t, obs = self.collect(env, obs, rng, rng_team, tracker, beta)
            rets[k], eps[k] = tracker.pop()
            self.update_J(rets[k], eps[k])
            for who, L, ro, g in (("self", self.selfish, ro_s, rng), ("team", self.team, ro_t, rng_team)):
                for key, v in L.update(ro, g).items():
                    st.setdefault(f"{who}_{key}", np.zeros(K))[k] = v
            st["beta"][k] = beta
            steps[k] = self.selfish.env_steps
            if self.J is not None:
                self.J_history[k] = self.J
            self.weight_history[k] = self.team_weights()
            self.iteration += 1
        res = TrainResult(steps, rets, eps, st)
        warn_nonfinite_training(self, res, params=(
            ("self-oriented policy parameters", self.selfish.policy_params),
            ("team-oriented policy parameters", self.team.policy_params)))
        return res
