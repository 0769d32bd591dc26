r"""Deterministic policy gradient for outputs on the probability simplex (DDPG-style).

Used by LToS's high-level policy, whose action is a vector of sharing weights on the simplex.
Per agent (or one shared network):

- actor ``w = mu_theta(o) = softmax(f_theta(o))`` with ``f_theta`` an MLP, so ``w`` lies in the
  open simplex ``{w_k > 0, sum_k w_k = 1}``; exploration adds Gaussian noise of scale
  ``noise_std`` to the *logits* (``softmax(f_theta(o) + sigma xi)``), which keeps ``w`` on the
  simplex;
- critic ``Q_phi(o, w)``, an MLP on the concatenation ``[o, w]``, regressed on given targets
  (``0.5 (Q - y)^2``, Adam);
- the actor follows the deterministic policy gradient (Silver et al. 2014, Eq. 7 / Lillicrap et
  al. 2016): ``grad_theta J = E[ d f_theta / d theta^T  J_softmax(w)^T  dQ/dw ]`` with the
  softmax Jacobian ``J = diag(w) - w w^T``.  :meth:`SimplexDPG.update_actor` takes ``dQ/dw``
  from the critic, :meth:`SimplexDPG.update_actor_with_grad` from any caller (e.g. a
  differentiable objective or another learner's critic);
- target networks (``tau`` soft updates) for the caller's TD targets.

Shapes: observations ``(B, n, obs_dim)``; weights ``(B, n, k)``; targets ``(B, n)``.

The caller drives the updates, so the learner watches its own numbers: the first critic loss
or actor gradient that is NaN or infinite emits one :class:`sharelib.diagnostics.NonFiniteWarning`
per learner, naming the update (counted from 1) where it happened.
"""

from __future__ import annotations

import numpy as np

from ..diagnostics import warn_if_nonfinite
from ..experiments import check_choice, check_float, check_int
from ..nn.mlp import MLP
from ..nn.optim import Adam, clip_grad_norm
from .common import check_hidden

__all__ = ["SimplexDPG"]


def _softmax(z, mask=None):
    if mask is not None:  # False slots are left out (weight 0)
        z = np.where(mask, z, -np.inf)
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)


class SimplexDPG:
    """Deterministic policy gradient learner with simplex-valued actions (module docstring).

    ``hidden`` and ``critic_hidden`` are sequences of layer widths (a bare int is refused: write
    ``(64,)`` or ``(64, 64)``); ``activation`` is ``"relu"`` or ``"tanh"``; ``seed`` an integer >= 0.
    """

    def __init__(self, obs_dim, k, n_agents=1, *, hidden=(64, 64), critic_hidden=(64, 64),
                 activation="relu", actor_lr=1e-3, critic_lr=1e-3, tau=0.01, noise_std=0.3,
                 max_grad_norm=10.0, share_params=False, seed=0):
        self.obs_dim = check_int("obs_dim", obs_dim, min=1)
        self.k = check_int("k", k, min=2)
        self.n_agents = check_int("n_agents", n_agents, min=1)
        self.tau = check_float("tau", tau, min=0, max=1, min_inclusive=False)
        self.noise_std = check_float("noise_std", noise_std, min=0)
        self.max_grad_norm = check_float("max_grad_norm", max_grad_norm, min=0, min_inclusive=False)
        self.share_params = bool(share_params)
        hidden = check_hidden("hidden", hidden)
        critic_hidden = check_hidden("critic_hidden", critic_hidden)
        activation = check_choice("activation", activation, ("tanh", "relu"))
        seed = check_int("seed", seed, min=0)
        m = 1 if self.share_params else self.n_agents
        self.actor = MLP((self.obs_dim, *hidden, self.k), activation)
        self.critic = MLP((self.obs_dim + self.k, *critic_hidden, 1), activation)
        rng = np.random.default_rng(seed)
        self.actor_params = self.actor.init(rng, n=m, out_gain=0.01)
        self.critic_params = self.critic.init(rng, n=m, out_gain=1.0)
        self.actor_target = self.actor_params.copy()
        self.critic_target = self.critic_params.copy()
        self.actor_opt = Adam(self.actor_params.shape, lr=check_float("actor_lr", actor_lr, min=0, min_inclusive=False))
        self.critic_opt = Adam(self.critic_params.shape, lr=check_float("critic_lr", critic_lr, min=0, min_inclusive=False))
        self.critic_updates = 0
        self.actor_updates = 0
        self._warned_nonfinite = False

    def _watch(self, what, value, update):
        """Warn once per learner when ``value`` (a loss or gradient norms) is not finite."""
        if not self._warned_nonfinite:
            self._warned_nonfinite = warn_if_nonfinite(
                f"SimplexDPG: {what}", value, update, unit="update",
                hint="a smaller learning rate (or bounded targets) keeps training finite", stacklevel=3)

    def _net(self, i):
        return 0 if self.share_params else i

    def _check_obs(self, obs):
        obs = np.asarray(obs, dtype=np.float64)
        if obs.ndim != 3 or obs.shape[1:] != (self.n_agents, self.obs_dim):
            raise ValueError(f"obs must have shape (B, {self.n_agents}, {self.obs_dim}); got {obs.shape}")
        return obs

    def act(self, obs, rng=None, explore=True, target=False, mask=None):
        """Simplex weights ``(B, n, k)``; Gaussian logit noise when ``explore``; ``mask`` (bool
        ``(B, n, k)``, optional): only the True slots get weight (each row needs one)."""
        obs = self._check_obs(obs)
        mask = self._check_mask(mask, obs)
        P = self.actor_target if target else self.actor_params
        z = self.actor.forward_agents(P, obs, self.share_params)
        if explore and self.noise_std > 0:
            rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
            z = z + self.noise_std * rng.standard_normal(z.shape)
        return _softmax(z, mask)

    def _check_mask(self, mask, obs):
        if mask is None:
            return None
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (obs.shape[0], self.n_agents, self.k) or not mask.any(axis=-1).all():
            raise ValueError(f"mask must be bool ({obs.shape[0]}, {self.n_agents}, {self.k}) with a True "
                             f"slot in every row; got shape {mask.shape}")
        return mask

    def q(self, obs, w, target=False):
        """Critic values ``(B, n)`` of weights ``w`` ``(B, n, k)``."""
        obs = self._check_obs(obs)
        x = np.concatenate([obs, np.asarray(w, dtype=np.float64)], axis=-1)
        P = self.critic_target if target else self.critic_params
        return self.critic.forward_agents(P, x, self.share_params)[..., 0]

    def update_critic(self, obs, w, targets):
        """One Adam step on ``0.5 mean (Q(o, w) - y)^2`` per network; returns the mean loss."""
        obs = self._check_obs(obs)
        x = np.concatenate([obs, np.asarray(w, dtype=np.float64)], axis=-1)
        y = np.asarray(targets, dtype=np.float64)
        grad = np.zeros_like(self.critic_params)
        loss = 0.0
        for i in range(self.n_agents):
            k = self._net(i)
            q, cache = self.critic.forward_cache(self.critic_params[k], x[:, i])
            u = q[:, 0] - y[:, i]
            loss += 0.5 * np.mean(u * u) / self.n_agents
            scale = self.n_agents if self.share_params else 1
            self.critic.backward(self.critic_params[k], cache, (u / (len(u) * scale))[:, None], grad=grad[k])
        clip_grad_norm(grad, self.max_grad_norm)
        self.critic_opt.step(self.critic_params, grad)
        self.critic_updates += 1
        self._watch("critic loss", loss, self.critic_updates)
        return loss

    def update_actor_with_grad(self, obs, dJ_dw, mask=None):
        """One Adam *ascent* step on ``J`` given ``dJ/dw`` ``(B, n, k)`` at ``w = mu(o)`` (the
        softmax over the ``mask``'s True slots if given, as in :meth:`act`)."""
        obs = self._check_obs(obs)
        mask = self._check_mask(mask, obs)
        g = np.asarray(dJ_dw, dtype=np.float64)
        grad = np.zeros_like(self.actor_params)
        B = obs.shape[0]
        scale = self.n_agents if self.share_params else 1
        for i in range(self.n_agents):
            k = self._net(i)
            z, cache = self.actor.forward_cache(self.actor_params[k], obs[:, i])
            w = _softmax(z, None if mask is None else mask[:, i])
            dz = w * (g[:, i] - (w * g[:, i]).sum(axis=1, keepdims=True))  # J_softmax^T dJ/dw
            self.actor.backward(self.actor_params[k], cache, -dz / (B * scale), grad=grad[k])
        norms = clip_grad_norm(grad, self.max_grad_norm)
        self.actor_opt.step(self.actor_params, grad)
        self.actor_updates += 1
        self._watch("actor gradient norm", norms, self.actor_updates)

    def update_actor(self, obs):
        """One DPG step using the critic's ``dQ/dw`` at ``w = mu(o)``."""
        obs = self._check_obs(obs)
        w = self.act(obs, explore=False)
        x = np.concatenate([obs, w], axis=-1)
        g = np.zeros_like(w)
        for i in range(self.n_agents):
            k = self._net(i)
            _, cache = self.critic.forward_cache(self.critic_params[k], x[:, i])
            _, dx = self.critic.backward(self.critic_params[k], cache, np.ones((obs.shape[0], 1)), need_dx=True)
            g[:, i] = dx[:, self.obs_dim:]
        self.update_actor_with_grad(obs, g)

    def soft_update_targets(self):
        """``target <- (1 - tau) target + tau online`` for actor and critic."""
        self.actor_target += self.tau * (self.actor_params - self.actor_target)
        self.critic_target += self.tau * (self.critic_params - self.critic_target)
