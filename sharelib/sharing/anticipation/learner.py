r"""Algorithm 1 of AS: decentralised PPO where agents exchange action distributions and anticipations.

Built on the learning core's PPO (:class:`sharelib.learners.ActorCritic`: acting, rollouts, GAE,
the value networks and their optimisers), with one extra population of networks: agent ``i``'s
anticipations :math:`\pi^{ij}` of every other agent ``j`` (``anticipation_params``, shape
``(n, n, P)``; the diagonal is unused). One learning iteration (one batch of episodes, Alg. 1)
runs ``n_epochs`` (the paper's ``K = 3``) update iterations; in each, for every agent ``i``:

1. advantages :math:`\hat A_i` by GAE on ``i``'s own reward with its current critic (Eq. 17);
2. one full-batch Adam step on ``-Eq. 16`` (:func:`sharelib.sharing.anticipation.objective`) for
   :math:`\theta^{ii}` and all :math:`\theta^{ij}`, using what the neighbours shared: their action
   distributions :math:`\pi^{jj}(\cdot|s_t)` and their anticipations of ``i``, :math:`\pi^{ji}(\cdot|s_t)`;
3. one Adam step of the critic on Eq. 18 (Monte-Carlo returns of ``i``'s own reward);
4. :math:`\tilde\pi^i_{old} \leftarrow \tilde\pi^i`, and ``i`` shares its new distributions.

Readings of Algorithm 1 (parameters, defaults as written in the paper):

* ``order="sequential"``: agents update one after another and each shares right after its update,
  so agent ``i + 1`` sees agent ``i``'s new distributions (Alg. 1's inner loop);
  ``"simultaneous"`` shares once per update iteration.
* ``old_policy="iteration"``: the ratios' denominators are refreshed after every update iteration
  (Alg. 1's :math:`\tilde\pi^i_{old} \leftarrow \tilde\pi^i`), so each iteration's step starts at
  :math:`\xi = 1`; ``"rollout"`` keeps the behaviour policy as PPO does over its epochs.
* Anticipations read the *other* agent's observation: :math:`\pi^{ij}(a_j|s)` is evaluated on
  :math:`o_j`, a function of the state :math:`s` (identical to :math:`o_i` in the environments where
  every agent sees the whole state). This makes :math:`\pi^{ij}` and :math:`\pi^{jj}` functions of the
  same input, which the penalties compare.
* Advantages are not normalised (``norm_adv=False``), so :math:`\kappa_i = \mathrm{mean}|\hat A_i|`
  keeps its meaning; each agent's samples are one full batch (the paper gives no minibatches).

Communication (the scalability study of Sec. 5.3): ``graph`` fixes who talks to whom (an ``(n, n)``
boolean matrix, or a function of the observations giving ``(N, n, n)`` per sample);
``partners=1`` lets each agent pick one random neighbour per learning iteration;
``communicate_every=2`` communicates every second learning iteration, and in the gaps an agent
updates alone (no penalties, no :math:`\xi_{N_i}`, as the paper says).
"""

from __future__ import annotations


import numpy as np

from ...experiments import check_choice, check_float, check_int
from ...learners import ActorCritic
from ...learners.actor_critic import _value_step_grad
from ...learners.common import gae
from ...nn.mlp import _forward_agents
from ...nn.optim import Adam, _clip_rows
from .loss import KAPPA_READINGS, NEIGHBOUR_RATIOS, objective, softmax

__all__ = ["AnticipationSharing", "ORDERS", "OLD_POLICIES", "one_random_partner"]

ORDERS = ("sequential", "simultaneous")
OLD_POLICIES = ("iteration", "rollout")


def one_random_partner(mask: np.ndarray, rng) -> np.ndarray:
    """``(n, n)`` bool: for each agent one partner drawn uniformly among the agents it can reach at
    some sample of ``mask`` ``(N, n, n)`` (none if it reaches nobody): the sparse protocol of Sec. 5.3."""
    n = mask.shape[-1]
    reach = mask.reshape(-1, n, n).any(axis=0)
    pick = np.zeros((n, n), bool)
    for i in range(n):
        if reach[i].any():
            pick[i, rng.choice(np.flatnonzero(reach[i]))] = True
    return pick


class AnticipationSharing(ActorCritic):
    """AS (Algorithm 1) on the PPO core. See the module docstring for the update and its readings.

    Parameters (besides :class:`~sharelib.learners.ActorCritic`'s, whose defaults here follow the
    paper's Table 1: ReLU, critic lr 1e-4, gamma 0.99, GAE lambda 0.98, clip 0.2, K = 3)
    ----------
    rho, rho_prime : float
        Penalty weights of Eq. 16 (Table 2: 1e3 Cleanup, 0.1 Harvest and Predation, 1e4 Navigation
        and Exchange); ``rho_prime=None`` uses ``rho`` (the paper's choice).
    graph : None, (n, n) bool array, or callable
        Communication graph (``None``: everyone talks to everyone). A callable receives the
        observations ``(N, n, obs_dim)`` and returns ``(N, n, n)`` bool: ``[b, i, j]`` means ``j`` is
        ``i``'s neighbour at sample ``b``.
    kappa, neighbour_ratio : readings of Eq. 16 and Eq. 13 (see :mod:`sharelib.sharing.anticipation`).
    order, old_policy : readings of Algorithm 1 (module docstring).
    partners : None or 1
        ``1``: each agent exchanges with one random neighbour per learning iteration.
    communicate_every : int
        Communicate every ``k``-th learning iteration only (``2``: the half-rate protocol).
    """

    algo = "as"

    def __init__(self, obs_dim, n_actions, n_agents, *, rho, rho_prime=None, graph=None, kappa="both",
                 neighbour_ratio="anticipation", order="sequential", old_policy="iteration", partners=None,
                 communicate_every=1, hidden=(128, 64), activation="relu", lr=5e-5, vf_lr=1e-4, gamma=0.99,
                 gae_lambda=0.98, clip=0.2, n_epochs=3, n_steps=100, ent_coef=0.0, max_grad_norm=0.5,
                 norm_adv=False, dtype="float64", seed=0):
        super().__init__(obs_dim, n_actions, n_agents, hidden=hidden, activation=activation, lr=lr, vf_lr=vf_lr,
                         gamma=gamma, gae_lambda=gae_lambda, n_steps=n_steps, n_epochs=n_epochs, n_minibatches=1,
                         clip=clip, ent_coef=ent_coef, vf_coef=1.0, max_grad_norm=max_grad_norm,
                         norm_adv=norm_adv, dtype=dtype, seed=seed)
        if self.clip is None:
            raise ValueError("clip must be a number in (0, 1] for AS (Eq. 16 clips xi_i); got None")
        if self.ent_coef:
            raise ValueError("ent_coef must be 0 for AS (Eq. 16 has no entropy term)")
        self.rho = check_float("rho", rho, min=0.0)
        self.rho_prime = None if rho_prime is None else check_float("rho_prime", rho_prime, min=0.0)
        self.kappa = check_choice("kappa", kappa, KAPPA_READINGS)
        self.neighbour_ratio = check_choice("neighbour_ratio", neighbour_ratio, NEIGHBOUR_RATIOS)
        self.order = check_choice("order", order, ORDERS)
        self.old_policy = check_choice("old_policy", old_policy, OLD_POLICIES)
        self.partners = None if partners is None else check_int("partners", partners, min=1, max=1)
        self.communicate_every = check_int("communicate_every", communicate_every, min=1)
        n = self.n_agents
        if graph is None:
            graph = ~np.eye(n, dtype=bool)
        if not callable(graph):
            graph = np.asarray(graph, dtype=bool)
            if graph.shape != (n, n):
                raise ValueError(f"graph must be an ({n}, {n}) boolean matrix or a callable; got shape {graph.shape}")
            graph = graph & ~np.eye(n, dtype=bool)
        self.graph = graph
        rng = np.random.default_rng([self.seed, 1])
        P = self.policy_net.n_params
        self.anticipation_params = self.policy_net.init(rng, n=n * n, out_gain=0.01).reshape(n, n, P)
        # one optimiser per agent, so that an agent's update never moves another agent's step count
        self._pi_opt = [Adam((P,), lr=self.lr, eps=1e-5, dtype=self.dtype) for _ in range(n)]
        self._antic_opt = [Adam((n, P), lr=self.lr, eps=1e-5, dtype=self.dtype) for _ in range(n)]
        self._v_opt = [Adam((self.value_net.n_params,), lr=self.vf_lr, eps=1e-5, dtype=self.dtype) for _ in range(n)]

    # ----------------------------------------------------------------------------- helpers
    def _neighbours(self, X: np.ndarray, rng) -> np.ndarray:
        """``(N, n, n)`` bool neighbour masks for this learning iteration (partners applied)."""
        N, n, _ = X.shape
        if callable(self.graph):
            mask = np.asarray(self.graph(X), dtype=bool) & ~np.eye(n, dtype=bool)
            if mask.shape != (N, n, n):
                raise ValueError(f"graph(obs) must return shape {(N, n, n)}; got {mask.shape}")
        else:
            mask = np.broadcast_to(self.graph, (N, n, n)).copy()
        if self.partners == 1:
            mask &= one_random_partner(mask, rng)
        return mask

    def _own_logits(self, i, X):
        return self.policy_net.forward(self.policy_params[i], X[:, i])

    def _antic_logits(self, i, X):
        """``(n, N, A)``: agent ``i``'s anticipation of each agent on that agent's observation (row i: 0)."""
        N = X.shape[0]
        out = np.zeros((self.n_agents, N, self.n_actions))
        for j in range(self.n_agents):
            if j != i:
                out[j] = self.policy_net.forward(self.anticipation_params[i, j], X[:, j])
        return out

    def shared_distributions(self, obs):
        """What the agents would share at ``obs (N, n, d)``: ``(own (n, N, A), anticipations (n, n, N, A))``.

        ``own[j]`` is :math:`\\pi^{jj}(\\cdot|s)`; ``anticipations[i, j]`` is :math:`\\pi^{ij}(\\cdot|s)`
        (the diagonal is uniform filler).
        """
        X = np.ascontiguousarray(obs, dtype=self.dtype)
        n = self.n_agents
        own = np.stack([softmax(self._own_logits(i, X)) for i in range(n)])
        antic = np.stack([softmax(self._antic_logits(i, X)) for i in range(n)])
        return own, antic

    # ----------------------------------------------------------------------------- the update
    def update(self, rollout, rng):
        """One learning iteration of Algorithm 1 on a rollout; returns averaged diagnostics."""
        T, E, n, d = rollout.obs.shape
        N = T * E
        X = np.ascontiguousarray(rollout.obs.reshape(N, n, d), dtype=self.dtype)
        acts = rollout.actions.reshape(N, n)
        rows = np.arange(N)
        # Eq. 18's targets: Monte-Carlo returns of each agent's own reward (lambda = 1)
        _, mc_returns = gae(np.ascontiguousarray(rollout.rewards), rollout.values, rollout.dones, self.gamma, 1.0)
        targets = mc_returns.reshape(N, n)
        communicate = self.iteration % self.communicate_every == 0
        mask = self._neighbours(X, rng) if communicate else np.zeros((N, n, n), bool)
        own, antic = self.shared_distributions(X)
        old_own_behaviour = rollout.logp.reshape(N, n)
        sums: dict[str, float] = {}
        count = 0
        for epoch in range(self.n_epochs):
            if self.old_policy == "iteration" or epoch == 0:
                old_own = np.log(np.stack([own[i, rows, acts[:, i]] for i in range(n)]))  # (n, N)
                old_antic = np.log(np.stack([np.stack([antic[i, j, rows, acts[:, j]] for j in range(n)])
                                             for i in range(n)]))
                if self.old_policy == "rollout":
                    old_own = old_own_behaviour.T.copy()
            values = np.empty((T + 1, E, n))
            values[:T] = _forward_agents(self.value_params, self.value_net._sizes, self.value_net._act,
                                         rollout.obs.astype(self.dtype).reshape(T * E, n, d), False
                                         )[:, :, 0].reshape(T, E, n)
            values[T] = _forward_agents(self.value_params, self.value_net._sizes, self.value_net._act,
                                        rollout.last_obs.astype(self.dtype), False)[:, :, 0]
            adv, _ = gae(np.ascontiguousarray(rollout.rewards), values, rollout.dones, self.gamma, self.gae_lambda)
            adv = adv.reshape(N, n)
            for i in range(n):
                stats = self._update_agent(i, X, acts, adv[:, i], targets[:, i], old_own, old_antic, own, antic,
                                           mask, communicate)
                for k, v in stats.items():
                    sums[k] = sums.get(k, 0.0) + v
                count += 1
                if self.order == "sequential":  # i shares its new distributions at once (Alg. 1)
                    own[i] = softmax(self._own_logits(i, X))
                    antic[i] = softmax(self._antic_logits(i, X))
            if self.order == "simultaneous":
                own, antic = self.shared_distributions(X)
        off = ~np.eye(n, dtype=bool)
        sums = {k: v / max(count, 1) for k, v in sums.items()}
        # Fig. 7's discrepancy: squared gap between anticipations and the policies they anticipate
        gap = (antic - own[None]) ** 2  # (i, j, N, A)
        sums["anticipation_mse"] = float(gap[off].mean())
        sums["anticipation_p0"] = float(antic[off][..., 0].mean())
        sums["policy_p0"] = float(own[..., 0].mean())
        self.iteration += 1
        return sums

    def _update_agent(self, i, X, acts, adv, target, old_own, old_antic, own, antic, mask, communicate):
        n = self.n_agents
        others = np.array([j for j in range(n) if j != i], dtype=np.int64)
        Xi = X[:, i]
        z_own, cache_own = self.policy_net.forward_cache(self.policy_params[i], Xi)
        z_own = z_own.copy()
        z_antic, caches = [], []
        for j in others:
            z, c = self.policy_net.forward_cache(self.anticipation_params[i, j], X[:, j])
            z_antic.append(z.copy())
            caches.append(c)
        z_antic = np.stack(z_antic) if len(others) else np.zeros((0, *z_own.shape))
        old_nb = old_antic[i, others] if self.neighbour_ratio == "anticipation" else old_own[others]
        terms, g_own, g_antic = objective(
            z_own, z_antic, acts[:, i], acts[:, others].T, old_own[i], old_nb, own[others], antic[others, i], adv,
            mask[:, i, others].T, rho=self.rho, rho_prime=self.rho_prime, clip=self.clip, kappa=self.kappa,
            penalties=communicate, neighbour_ratio_on=communicate)
        pi_grad = self.policy_net.backward(self.policy_params[i], cache_own, g_own)[None]
        antic_grad = np.zeros_like(self.anticipation_params[i])
        for k, j in enumerate(others):
            self.policy_net.backward(self.anticipation_params[i, j], caches[k], g_antic[k], grad=antic_grad[j])
        _clip_rows(pi_grad, self.max_grad_norm)
        _clip_rows(antic_grad, self.max_grad_norm)
        self._pi_opt[i].step(self.policy_params[i], pi_grad[0])
        if communicate:  # in a communication gap anticipations are not updated (Adam's momentum would move them)
            self._antic_opt[i].step(self.anticipation_params[i], antic_grad)
        v_grad = np.zeros((1, self.value_net.n_params), self.dtype)
        v_cache = np.empty(Xi.shape[0] * self.value_net.cache_width, self.dtype)
        v_loss = _value_step_grad(self.value_params[i], self.value_net._sizes, self.value_net._act,
                                  np.ascontiguousarray(Xi), target, 1.0, v_grad[0], v_cache)
        _clip_rows(v_grad, self.max_grad_norm)
        self._v_opt[i].step(self.value_params[i], v_grad[0])
        return dict(objective=terms.objective, surrogate=terms.surrogate,
                    penalty_anticipation=terms.penalty_anticipation, penalty_own=terms.penalty_own,
                    kappa=terms.kappa, clip_frac=terms.clip_fraction, value_loss=float(v_loss),
                    xi_neighbours=terms.xi_neighbours)
