r"""D&F and FPF (Dong et al., AAAI 2025, Eqs. 4-12 and Algorithm 1) on the learning core's params hook.

The egoistic policies ``theta_i`` are the rows of an :class:`~sharelib.learners.ActorCritic`'s
``policy_params`` trained by its own update (Eq. 8: the mini-batch gradient of ``J_i^ego``). The
federation holds two policies of the same architecture, each a shared-parameter actor-critic
trained on every agent's data: the utilitarian ``omega`` on the average reward (Eq. 2) and the
egalitarian ``omega_bar`` on ``-(r_i - r_uti)**2`` (Eq. 3) with entropy bonus ``lambda_h`` (Eq. 7).
Every ``every`` iterations (a federation round), after the ego update ``theta_tilde_i``:

1. broadcast ``omega_i = omega``, ``omega_bar_i = omega_bar`` (Alg. 1 lines 3-5);
2. regularise (the proximal terms of Eq. 9, one explicit step):
   ``theta_i <- theta_tilde_i - alpha lambda_u (theta_tilde_i - omega_i) - alpha lambda_e (theta_tilde_i - omega_bar_i)``
   for every agent (Alg. 1 line 8; ``regularize="participants"``: only ``i in N_p``, the prose's
   reading);
3. participants upload ``omega_i^up = omega_i - alpha lambda_u (omega_i - theta_i)`` (Eq. 10);
4. integrate ``omega <- (1 - eta) omega + eta mean_{i in N_p} omega_i^up`` (Eq. 11);
5. federated training (Alg. 1 lines 15-19): one update of the utilitarian learner, then
   ``omega <- omega - eta alpha lambda_e (omega - omega_bar)`` (line 18), one update of the
   egalitarian learner with entropy coefficient ``lambda_h`` (line 19 writes ``- lambda_h H``; we
   follow Eq. 7's ``+ lambda_h H``, an entropy *bonus*).

``N_p`` (voluntary participation): an explicit list of agents; ``"all"`` (D&F, mandatory);
``"half"`` (the paper's experiments: half of the agents, drawn once by ``seed``); ``"code"`` (the
public code: the fixed subset ``i <= floor(N / 2)``, notes Sec. 1.2); or a float ``p``: each agent
opts in independently with probability ``p`` at every round. The federation's networks see local
observations (the paper's federation uses global information; the code's central critics see the
global state: a deviation, stated). Alg. 1 initialises everything at 0; a network needs random
weights, so ``omega`` and ``omega_bar`` start at the mean of the initial ego policies.
With ``lambda_u = lambda_e = 0`` the ego learners are exactly independent PPO (tested).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...experiments import check_choice, check_float, check_int
from ...learners import ActorCritic, Hooks, Rollout

__all__ = ["FPF", "DandF", "participants_of"]


def participants_of(rule, n, rng):
    """The participating set ``N_p`` (sorted agent indices) for one round (see the module doc)."""
    if isinstance(rule, str):
        rule = check_choice("participants", rule, ("all", "half", "code"))
        if rule == "all":
            return np.arange(n)
        if rule == "code":
            return np.arange(min(n // 2 + 1, n))
        raise AssertionError  # "half" is drawn once in FPF.__init__
    if isinstance(rule, float):
        return np.flatnonzero(rng.random(n) < rule)
    return np.asarray(rule, dtype=np.int64)


class FPF:
    """The FPF federation as a params hook (Algorithm 1); :meth:`install` it on an ego learner.

    Parameters
    ----------
    ego : ActorCritic
        The egoistic learners (one network per agent, ``share_params=False``).
    participants : list of int, "all", "half", "code" or float in [0, 1]
        ``N_p`` (module docstring).
    lambda_u, lambda_e, lambda_h : float >= 0
        Eq. 5/6 constraint coefficients and Eq. 7's entropy coefficient.
    alpha : float > 0
        Proximal step of Eqs. 9-10 (code: 1e-3).
    eta : float > 0
        Federation update rate of Eq. 11 (code: ``beta`` = 1.5, an extrapolation).
    every : int
        Iterations between federation rounds.
    regularize : {"all", "participants"}
        Who takes the proximal step 2.
    train_federation : bool
        Step 5 (off in the by-hand tests of Eqs. 9-11).
    fed_lr : float or None
        Adam step of the federation's learners (``None``: the ego learner's ``lr``).
    """

    def __init__(self, ego: ActorCritic, participants="half", lambda_u=1.0, lambda_e=1.0,
                 lambda_h=0.01, alpha=1e-3, eta=1.0, every=1, regularize="all",
                 train_federation=True, fed_lr=None, seed=0):
        if not isinstance(ego, ActorCritic) or ego.share_params:
            raise ValueError("ego must be an ActorCritic learner with share_params=False")
        n = ego.n_agents
        self.n = n
        self.lambda_u = check_float("lambda_u", lambda_u, min=0)
        self.lambda_e = check_float("lambda_e", lambda_e, min=0)
        self.lambda_h = check_float("lambda_h", lambda_h, min=0)
        self.alpha = check_float("alpha", alpha, min=0, min_inclusive=False)
        self.eta = check_float("eta", eta, min=0, min_inclusive=False)
        self.every = check_int("every", every, min=1)
        self.regularize = check_choice("regularize", regularize, ("all", "participants"))
        self.train_federation = bool(train_federation)
        self.rng = np.random.default_rng(check_int("seed", seed, min=0))
        if isinstance(participants, float):
            participants = check_float("participants", participants, min=0, max=1)
        elif isinstance(participants, str) and participants == "half":
            participants = np.sort(self.rng.choice(n, n // 2, replace=False))
        elif not isinstance(participants, str):
            p = np.asarray(participants)
            if p.ndim != 1 or p.dtype.kind not in "iu" or (p.size and (p.min() < 0 or p.max() >= n)) \
                    or len(set(p.tolist())) != p.size:
                raise ValueError(f"participants must be distinct agent indices in [0, {n - 1}], "
                                 f"'all', 'half', 'code' or a probability; got {participants!r}")
        self.participants = participants
        kw = dict(hidden=ego.hidden, activation=ego.activation, lr=ego.lr if fed_lr is None else fed_lr,
                  vf_lr=ego.vf_lr, gamma=ego.gamma, gae_lambda=ego.gae_lambda, n_steps=ego.n_steps,
                  n_epochs=ego.n_epochs, n_minibatches=ego.n_minibatches, clip=ego.clip,
                  vf_coef=ego.vf_coef, max_grad_norm=ego.max_grad_norm, norm_adv=ego.norm_adv,
                  share_params=True, dtype=str(ego.dtype), seed=ego.seed + 1)
        self.uti = ActorCritic(ego.obs_dim, ego.n_actions, n, ent_coef=ego.ent_coef, **kw)
        self.ega = ActorCritic(ego.obs_dim, ego.n_actions, n, ent_coef=self.lambda_h, **kw)
        mean = ego.policy_params.mean(axis=0)
        self.uti.policy_params[0] = mean
        self.ega.policy_params[0] = mean
        self.ego = ego
        self.rounds = 0
        self.history = []  # per round: the participating set

    def install(self, learner=None):
        """Set this federation as ``learner.hooks.params`` (other hooks kept); returns the learner."""
        learner = self.ego if learner is None else learner
        learner.hooks = dataclasses.replace(learner.hooks, params=self)
        return learner

    @property
    def omega(self):
        return self.uti.policy_params[0]

    @property
    def omega_bar(self):
        return self.ega.policy_params[0]

    def federate(self, theta, n_p):
        """Steps 1-4 on the ego policies ``theta`` ``(n, P)`` in place (Eqs. 9-11)."""
        w = self.omega.copy()
        wb = self.omega_bar.copy()
        reg = np.arange(self.n) if self.regularize == "all" else n_p
        theta[reg] -= self.alpha * (self.lambda_u * (theta[reg] - w) + self.lambda_e * (theta[reg] - wb))
        if len(n_p):
            up = w - self.alpha * self.lambda_u * (w - theta[n_p])  # Eq. 10
            self.uti.policy_params[0] = (1.0 - self.eta) * w + self.eta * up.mean(axis=0)  # Eq. 11

    def _fed_rollout(self, fed, ro, rewards):
        """The ego rollout seen by a federation learner: its own log-probs and values."""
        T, E, n, d = ro.obs.shape
        flat = ro.obs.reshape(T * E, n, d)
        z = fed.policy_net.forward_agents(fed.policy_params, flat, True).astype(np.float64)
        z = z - z.max(-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
        lp = np.take_along_axis(logp, ro.actions.reshape(T * E, n, 1), -1).reshape(T, E, n)
        allobs = np.concatenate([flat, ro.last_obs], axis=0)
        v = fed.value_net.forward_agents(fed.value_params, allobs, True)[..., 0].reshape(T + 1, E, n)
        return Rollout(ro.obs, ro.actions, rewards, ro.dones, v.astype(np.float64), lp, ro.last_obs)

    def __call__(self, nets, ctx):
        if (ctx.iteration + 1) % self.every:
            return
        rule = self.participants
        n_p = participants_of(rule, self.n, self.rng) if isinstance(rule, (str, float)) else np.asarray(rule)
        self.history.append(n_p)
        self.federate(nets["policy"], n_p)
        self.rounds += 1
        if not self.train_federation:
            return
        ro = ctx.rollout
        r = ro.rewards
        r_uti = np.broadcast_to(r.mean(axis=-1, keepdims=True), r.shape).copy()  # Eq. 2
        r_ega = -(r - r_uti) ** 2  # Eq. 3 (each agent's term; the policy is shared)
        self.uti.update(self._fed_rollout(self.uti, ro, r_uti), self.rng)
        self.uti.policy_params[0] -= self.eta * self.alpha * self.lambda_e * (self.omega - self.omega_bar)
        self.ega.update(self._fed_rollout(self.ega, ro, r_ega), self.rng)


def DandF(ego: ActorCritic, **kw) -> FPF:  # noqa: N802 - the paper's name
    """D&F (Eqs. 4-7): FPF with mandatory participation (``N_p = N``)."""
    return FPF(ego, participants="all", **kw)
