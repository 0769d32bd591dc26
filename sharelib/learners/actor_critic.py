r"""On-policy actor-critic learners: REINFORCE with baseline, A2C and PPO (one implementation).

All three share :class:`ActorCritic`: per network (one per agent, or one shared), a categorical
policy MLP ``pi_theta(a | o)`` and a separate value MLP ``V_phi(o)``, each with its own Adam.
One *iteration* collects ``n_steps`` steps from all ``E`` copies of the environment, then

1. ``r <- hooks.reward(r)``                              (reward transformation)
2. ``adv, R = GAE(r, V, dones; gamma, lambda)``            (Schulman et al. 2016, Eq. 16)
3. ``adv <- hooks.advantage(adv)``                         (advantage transformation)
4. ``n_epochs`` passes over ``n_minibatches`` shuffled minibatches; per minibatch the policy
   loss ``L_pi + ent_coef * (-H) + hooks.loss`` and value loss ``vf_coef * 0.5 (V - R)^2`` are
   minimised with one Adam step each (gradients clipped to ``max_grad_norm`` per network);
5. ``hooks.params({"policy": ..., "value": ...})``         (parameter exchange)

The three algorithms are presets of these knobs:

=============  ===========================  =======  ======  ==========  ======
learner        policy loss ``L_pi``         lambda   epochs  minibatch   norm
=============  ===========================  =======  ======  ==========  ======
REINFORCE      ``-A log pi`` (Williams 92)  1.0      1       1           no
A2C            ``-A log pi`` (Mnih 2016)    1.0      1       1           no
PPO            clipped ratio (Eq. 7 of      0.95     4       4           yes
               Schulman et al. 2017)
=============  ===========================  =======  ======  ==========  ======

With ``lambda = 1`` the advantage is the Monte-Carlo return minus the learned baseline ``V``
(REINFORCE with baseline) or the ``n_steps``-step bootstrapped return minus ``V`` (A2C); when a
rollout ends inside an episode both bootstrap from ``V`` of the last observation (choose
``n_steps`` a multiple of the episode length for a pure Monte-Carlo REINFORCE).  Episode ends
(terminal or time limit) are never bootstrapped, as the environment interface prescribes.
Differences from some public implementations, on purpose: policy and value have separate
networks and optimisers (so ``vf_coef`` only matters through gradient clipping), gradients are
clipped per network, there is no value-function clipping, and the learning rate is constant.

Implementation: without a loss hook, step 4 runs as one numba kernel per epoch
(``_epoch_kernel``); a loss hook is Python, so with one the minibatch loop runs in Python.  Both
give bit-identical parameters (tests/test_learners.py).  ``dtype="float32"`` trains the networks
in float32 (about twice as fast on large minibatches); returns and advantages stay float64.
"""

from __future__ import annotations

import numba
import numpy as np

from ..experiments import check_choice, check_float, check_int
from ..nn.heads import _inverse_cdf, _log_softmax_row, _ppo_term, value_loss
from ..nn.mlp import MLP, _backward, _forward, _forward_agents
from ..nn.optim import Adam, _adam_step, _clip_rows
from .common import EpisodeTracker, TrainResult, check_network, gae, warn_nonfinite_training
from .hooks import HookContext, Hooks, LossBatch, Rollout

__all__ = ["ActorCritic", "REINFORCE", "A2C", "PPO", "MAPPO"]


# ----------------------------------------------------------------------------------- kernels
@numba.njit(cache=True)
def _act_kernel(pi_pop, v_pop, pi_sizes, v_sizes, act, obs, gobs, central, u, shared, greedy):
    """Sample actions for all copies and agents; also return log-probs and values.

    ``central``: every agent's critic reads the global input ``gobs`` (E, n * d) instead of its
    own observation (MAPPO's centralised critic)."""
    E, n, d = obs.shape
    A = pi_sizes[pi_sizes.shape[0] - 1]
    x = np.empty((E, d), pi_pop.dtype)
    pc = np.empty(E * np.sum(pi_sizes), pi_pop.dtype)
    vc = np.empty(E * np.sum(v_sizes), v_pop.dtype)
    acts = np.empty((E, n), np.int64)
    logp = np.empty((E, n))
    vals = np.empty((E, n))
    row = np.empty(A)
    for i in range(n):
        k = 0 if shared else i
        for e in range(E):
            for j in range(d):
                x[e, j] = obs[e, i, j]
        z = _forward(pi_pop[k], pi_sizes, act, x, pc)
        v = _forward(v_pop[k], v_sizes, act, gobs if central else x, vc)
        for e in range(E):
            _log_softmax_row(z[e], row)
            a = np.argmax(row) if greedy else _inverse_cdf(row, u[e, i])
            acts[e, i] = a
            logp[e, i] = row[a]
            vals[e, i] = v[e, 0]
    return acts, logp, vals


@numba.njit(cache=True)
def _policy_step_grad(p, sizes, act, X, A, old_logp, adv, clip, ent_coef, extra, grad, cache):
    """Policy-loss gradient on a minibatch (into ``grad``, zeroed here).

    clip > 0: PPO clipped surrogate; clip <= 0: plain policy gradient.  ``extra`` (B, A) is
    added to d loss / d logits when it has B rows.  ``cache``: a work array of at least
    ``B * sum(sizes)`` floats.  Returns (loss, entropy, approx_kl, clipfrac).

    The head is fused into one pass over the rows: it computes exactly what
    :func:`~sharelib.nn.categorical_logp`, :func:`~sharelib.nn.categorical_entropy` and
    :func:`~sharelib.nn.ppo_surrogate` / :func:`~sharelib.nn.pg_surrogate` compute (same
    operations in the same order, in float64 whatever the network's dtype; tested against
    them in tests/test_learners.py) without their temporary arrays.
    """
    B = X.shape[0]
    cache = cache[: B * np.sum(sizes)]
    z = _forward(p, sizes, act, X, cache)
    nA = z.shape[1]
    dz = np.empty((B, nA), p.dtype)
    row = np.empty(nA)
    ex = np.empty(nA)
    use_extra = extra.shape[0] == B
    ppo = clip > 0
    ec = ent_coef / B
    loss = 0.0
    kl = 0.0
    nclip = 0
    Hm = 0.0
    for b in range(B):
        # log-softmax of the row (as _log_softmax_row), probabilities, entropy
        m = np.float64(z[b, 0])
        for k in range(1, nA):
            if z[b, k] > m:
                m = np.float64(z[b, k])
        ssum = 0.0
        for k in range(nA):
            ssum += np.exp(np.float64(z[b, k]) - m)
        lse = m + np.log(ssum)
        h = 0.0
        for k in range(nA):
            row[k] = np.float64(z[b, k]) - lse
            ex[k] = np.exp(row[k])
            h -= ex[k] * row[k]
        a = A[b]
        logp = row[a]
        Hm += h
        # surrogate: loss and d loss / d logp
        lr = logp - old_logp[b]
        if ppo:
            term, dl, r = _ppo_term(lr, adv[b], clip, B)
            loss -= term
            if abs(r - 1.0) > clip:
                nclip += 1
            kl += (r - 1.0) - lr
        else:
            loss -= adv[b] * logp
            dl = -adv[b] / B
            kl += (np.exp(lr) - 1.0) - lr
        # d loss / d logits = dl * (onehot(a) - pi) - ent_coef / B * dH / dlogits
        for k in range(nA):
            dlogp = -ex[k]
            if k == a:
                dlogp += 1.0
            dz[b, k] = dl * dlogp - ec * (-ex[k] * (row[k] + h))
            if use_extra:
                dz[b, k] += extra[b, k]
    loss /= B
    kl /= B
    cf = nclip / B if ppo else 0.0
    Hm /= B
    grad[:] = 0.0
    _backward(p, sizes, act, cache, dz, grad, np.empty((0, sizes[0]), p.dtype))
    return loss - ent_coef * Hm, Hm, kl, cf


@numba.njit(cache=True)
def _value_step_grad(p, sizes, act, X, R, vf_coef, grad, cache):
    B = X.shape[0]
    cache = cache[: B * np.sum(sizes)]
    v = _forward(p, sizes, act, X, cache)
    loss, dv = value_loss(v[:, 0], R)
    dout = np.empty((B, 1), p.dtype)
    for b in range(B):
        dout[b, 0] = vf_coef * dv[b]
    grad[:] = 0.0
    _backward(p, sizes, act, cache, dout, grad, np.empty((0, sizes[0]), p.dtype))
    return loss


@numba.njit(cache=True)
def _epoch_kernel(pi_pop, v_pop, pi_sizes, v_sizes, act, Xs, Xg, central, As, OLs, ADn, RTs, perms,
                  clip, ent_coef, vf_coef, pi_mask, max_norm, pi_m, pi_v, v_m, v_v, pi_lr, v_lr, b1,
                  b2, eps, pi_t0, v_t0, pi_cache, v_cache, stats):
    """One epoch of minibatch updates without Python in between (used when there is no loss hook).

    Exactly the loop of :meth:`ActorCritic.update`: for each minibatch ``j`` and network ``k``,
    gather rows ``perms[k, j*mb:(j+1)*mb]``, take the policy and value gradients with the
    (already normalised) advantages ``ADn[k, j]``; then mask, clip per network and take one
    Adam step (step numbers ``t0 + j + 1``).  ``stats`` (6,) accumulates policy loss, value
    loss, entropy, approx KL, clip fraction and the number of gradient evaluations.
    ``central``: the critic's rows come from the global inputs ``Xg`` (NG, n * d), row
    ``r % NG`` for sample ``r`` (agent-major stacking repeats the NG time-copy rows per agent).
    """
    n_data, Nk, d = Xs.shape
    NG, dg = Xg.shape
    n_mb = ADn.shape[1]
    mb = ADn.shape[2]
    Xvb = np.empty((mb if central else 0, dg), pi_pop.dtype)
    Xb = np.empty((mb, d), pi_pop.dtype)
    Ab = np.empty(mb, np.int64)
    OLb = np.empty(mb)
    RTb = np.empty(mb)
    pi_grad = np.zeros_like(pi_pop)
    v_grad = np.zeros_like(v_pop)
    no_extra = np.empty((0, pi_sizes[pi_sizes.shape[0] - 1]), pi_pop.dtype)
    use_mask = pi_mask.shape[0] == pi_pop.shape[1]
    for j in range(n_mb):
        for k in range(n_data):
            for q in range(mb):
                r = perms[k, j * mb + q]
                for c in range(d):
                    Xb[q, c] = Xs[k, r, c]
                Ab[q] = As[k, r]
                OLb[q] = OLs[k, r]
                RTb[q] = RTs[k, r]
                if central:
                    for c in range(dg):
                        Xvb[q, c] = Xg[r % NG, c]
            pl, H, kl, cf = _policy_step_grad(pi_pop[k], pi_sizes, act, Xb, Ab, OLb, ADn[k, j], clip,
                                              ent_coef, no_extra, pi_grad[k], pi_cache)
            vl = _value_step_grad(v_pop[k], v_sizes, act, Xvb if central else Xb, RTb, vf_coef,
                                  v_grad[k], v_cache)
            stats[0] += pl
            stats[1] += vl
            stats[2] += H
            stats[3] += kl
            stats[4] += cf
            stats[5] += 1.0
        if use_mask:
            for i in range(pi_grad.shape[0]):
                for q in range(pi_grad.shape[1]):
                    pi_grad[i, q] *= pi_mask[q]
        _clip_rows(pi_grad, max_norm)
        _clip_rows(v_grad, max_norm)
        _adam_step(pi_pop.reshape(-1), pi_grad.reshape(-1), pi_m.reshape(-1), pi_v.reshape(-1), pi_lr,
                   b1, b2, eps, float(pi_t0 + j + 1))
        _adam_step(v_pop.reshape(-1), v_grad.reshape(-1), v_m.reshape(-1), v_v.reshape(-1), v_lr,
                   b1, b2, eps, float(v_t0 + j + 1))


# ----------------------------------------------------------------------------------- learner
class ActorCritic:
    """Multi-agent on-policy actor-critic (REINFORCE / A2C / PPO; see the module docstring).

    Parameters
    ----------
    obs_dim, n_actions, n_agents : int
        Sizes (take them from an environment with :meth:`for_env`).
    hidden : sequence of int
        Hidden layer widths of both policy and value MLPs (``()`` = linear / tabular). A bare
        int is refused (``hidden=64`` could mean one layer or the default depth at width 64):
        write ``(64,)`` or ``(64, 64)``.
    activation : {"tanh", "relu"}
    lr, vf_lr : float
        Adam step sizes of the policy and of the value network (``vf_lr=None``: same as ``lr``).
    gamma, gae_lambda : float
        Discount and GAE lambda.
    n_steps : int
        Rollout length per iteration (per copy).
    n_epochs, n_minibatches : int
        Passes over the rollout and minibatches per pass. Each network's rollout holds
        ``n_steps * n_envs`` samples (``* n_agents`` with ``share_params``); :meth:`train` refuses
        an ``n_minibatches`` larger than that (the minibatches would be empty).
    clip : float or None
        PPO ratio clip epsilon (``None``: plain policy gradient).
    ent_coef, vf_coef, max_grad_norm : float
    norm_adv : bool
        Normalise advantages per minibatch (PPO).
    share_params : bool
        One policy and one value network for all agents (trained on all agents' data).
    critic : {"local", "global"}
        The value network's input: ``"local"`` the agent's own observation ``V_i(o_i)``;
        ``"global"`` the concatenation of all agents' observations, ``V_i(s)`` with
        ``s = (o_1, ..., o_n)`` (a centralised critic, as MAPPO's, Yu et al. 2022 Sec. 3; the
        actors stay decentralised). With one agent the two are the same learner.
    policy_bias : bool
        ``False`` keeps the policy's biases at zero (their gradient is masked), e.g. D3C's
        "linear softmax policies (no bias term)" with ``hidden=()``.
    hooks : Hooks or None
        Sharing hooks (see :mod:`sharelib.learners`).
    dtype : {"float64", "float32"}
        Floating-point type of the networks' parameters, activations, gradients and Adam state
        (default float64).  ``"float32"`` is about twice as fast on large minibatches (the
        precision PyTorch uses by default); returns, advantages and losses stay float64.
    seed : int
        Seeds initialisation (any integer >= 0); :meth:`train` takes its own seed for sampling.
    """

    algo = "actor-critic"

    def __init__(self, obs_dim, n_actions, n_agents=1, *, hidden=(64, 64), activation="tanh",
                 lr=3e-4, vf_lr=None, gamma=0.99, gae_lambda=0.95, n_steps=128, n_epochs=4,
                 n_minibatches=4, clip=0.2, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5,
                 norm_adv=True, share_params=False, policy_bias=True, hooks=None, dtype="float64",
                 critic="local", seed=0):
        self.obs_dim, self.n_actions, self.n_agents, self.hidden, self.activation = check_network(
            obs_dim, n_actions, n_agents, hidden, activation)
        self.lr = check_float("lr", lr, min=0, min_inclusive=False)
        self.vf_lr = self.lr if vf_lr is None else check_float("vf_lr", vf_lr, min=0, min_inclusive=False)
        self.gamma = check_float("gamma", gamma, min=0, max=1)
        self.gae_lambda = check_float("gae_lambda", gae_lambda, min=0, max=1)
        self.n_steps = check_int("n_steps", n_steps, min=1)
        self.n_epochs = check_int("n_epochs", n_epochs, min=1)
        self.n_minibatches = check_int("n_minibatches", n_minibatches, min=1)
        self.clip = None if clip is None else check_float("clip", clip, min=0, max=1, min_inclusive=False)
        self.ent_coef = check_float("ent_coef", ent_coef, min=0)
        self.vf_coef = check_float("vf_coef", vf_coef, min=0, min_inclusive=False)
        self.max_grad_norm = check_float("max_grad_norm", max_grad_norm, min=0, min_inclusive=False)
        self.norm_adv = bool(norm_adv)
        self.share_params = bool(share_params)
        self.hooks = Hooks() if hooks is None else hooks
        if not isinstance(self.hooks, Hooks):
            raise ValueError(f"hooks must be a sharelib.learners.Hooks; got {type(hooks).__name__}")
        self.seed = check_int("seed", seed, min=0)
        self.critic = check_choice("critic", critic, ("local", "global"))
        self.central = self.critic == "global"

        self.policy_net = MLP((self.obs_dim, *self.hidden, self.n_actions), activation, dtype)
        v_in = self.obs_dim * self.n_agents if self.central else self.obs_dim
        self.value_net = MLP((v_in, *self.hidden, 1), activation, dtype)
        self.dtype = self.policy_net.dtype
        m = 1 if self.share_params else self.n_agents
        rng = np.random.default_rng(self.seed)
        self.policy_params = self.policy_net.init(rng, n=m, out_gain=0.01)
        self.value_params = self.value_net.init(rng, n=m, out_gain=1.0)
        self.policy_bias = bool(policy_bias)
        self._pi_grad_mask = None if self.policy_bias else (~self.policy_net.bias_mask()).astype(self.dtype)
        self.policy_opt = Adam(self.policy_params.shape, lr=self.lr, eps=1e-5, dtype=self.dtype)
        self.value_opt = Adam(self.value_params.shape, lr=self.vf_lr, eps=1e-5, dtype=self.dtype)
        self.iteration = 0
        self.env_steps = 0

    @classmethod
    def for_env(cls, env, **kw):
        """Build a learner sized for ``env`` (uses ``obs_dim``, ``n_actions``, ``n_agents``)."""
        return cls(env.obs_dim, env.n_actions, env.n_agents, **kw)

    @property
    def n_networks(self):
        return self.policy_params.shape[0]

    # ------------------------------------------------------------------------------ acting
    def act(self, obs, rng=None, greedy=False):
        """Actions for observations ``(E, n, obs_dim)``: ``(actions (E, n), logp (E, n), values (E, n))``."""
        obs = np.asarray(obs)
        if obs.ndim != 3 or obs.shape[1:] != (self.n_agents, self.obs_dim):
            raise ValueError(f"obs must have shape (E, {self.n_agents}, {self.obs_dim}); got {obs.shape}")
        rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
        u = rng.random(obs.shape[:2])
        return _act_kernel(self.policy_params, self.value_params, self.policy_net._sizes,
                           self.value_net._sizes, self.policy_net._act, obs, self._global_input(obs),
                           self.central, u, self.share_params, bool(greedy))

    def _global_input(self, obs):
        """The critic's global input ``(E, n * d)`` (row-major concatenation of the agents'
        observations), or an empty array for a local critic."""
        if not self.central:
            return np.empty((0, 0), self.dtype)
        return np.ascontiguousarray(np.asarray(obs).reshape(obs.shape[0], -1), dtype=self.dtype)

    def values(self, obs):
        """State values ``(E, n)`` of every agent's critic at observations ``(E, n, obs_dim)``."""
        obs = np.asarray(obs)
        if self.central:  # every agent's critic reads the same global input
            g = self._global_input(obs)
            obs = np.ascontiguousarray(np.repeat(g[:, None, :], self.n_agents, axis=1))
        return _forward_agents(self.value_params, self.value_net._sizes, self.value_net._act,
                               obs, self.share_params)[:, :, 0]

    def probs(self, obs):
        """Action probabilities ``(E, n, n_actions)`` of every agent's policy."""
        z = self.policy_net.forward_agents(self.policy_params, obs, self.share_params)
        z = z - z.max(axis=-1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=-1, keepdims=True)

    # ------------------------------------------------------------------------------ training
    def collect(self, env, obs, rng, tracker):
        """Run ``n_steps`` steps of ``env`` from ``obs``; returns ``(Rollout, next obs)``."""
        T, E, n = self.n_steps, env.n_envs, self.n_agents
        O = np.empty((T, E, n, self.obs_dim), np.float32)
        Acts = np.empty((T, E, n), np.int64)
        R = np.empty((T, E, n))
        D = np.empty((T, E), np.bool_)
        V = np.empty((T + 1, E, n))
        LP = np.empty((T, E, n))
        for t in range(T):
            a, lp, v = self.act(obs, rng)
            O[t] = obs
            Acts[t], LP[t], V[t] = a, lp, v
            obs, r, d = env.step(a)
            R[t], D[t] = r, d
            tracker.add(r, d)
        V[T] = self.values(obs)
        self.env_steps += T * E
        return Rollout(O, Acts, R, D, V, LP, obs.copy()), obs

    def update(self, rollout, rng):
        """One learning iteration from a rollout (steps 1-5 of the module docstring); returns stats."""
        ctx = HookContext(self, self.iteration, self.env_steps, rollout)
        rewards = rollout.rewards
        if self.hooks.reward is not None:
            rewards = np.asarray(self.hooks.reward(rewards, ctx), dtype=np.float64)
            if rewards.shape != rollout.rewards.shape:
                raise ValueError(f"reward hook must return shape {rollout.rewards.shape}; got {rewards.shape}")
        adv, ret = gae(np.ascontiguousarray(rewards), rollout.values, rollout.dones,
                       self.gamma, self.gae_lambda)
        ctx.returns = ret
        if self.hooks.advantage is not None:
            adv2 = np.asarray(self.hooks.advantage(adv, ctx), dtype=np.float64)
            if adv2.shape != adv.shape:
                raise ValueError(f"advantage hook must return shape {adv.shape}; got {adv2.shape}")
            adv = adv2
        ctx.advantages = adv
        if self.hooks.loss is None:
            stats = self._update_fused(rollout, adv, ret, rng)
        else:
            stats = self._update_python(rollout, adv, ret, rng, ctx)
        if self.hooks.params is not None:
            self.hooks.params({"policy": self.policy_params, "value": self.value_params}, ctx)
        self.iteration += 1
        return stats

    def _stacked(self, rollout, adv, ret):
        """Training data per network, agent-major when parameters are shared: ``(m, Nk, ...)``,
        and the critic's global inputs ``(T * E, n * d)`` (empty for a local critic)."""
        T, E, n, d = rollout.obs.shape
        m = self.n_networks
        X = np.ascontiguousarray(rollout.obs.reshape(T * E, n, d).transpose(1, 0, 2), dtype=self.dtype)
        cols = [np.ascontiguousarray(a.reshape(T * E, n).T).reshape(m, -1)
                for a in (rollout.actions, rollout.logp, adv, ret)]
        Xg = self._global_input(rollout.obs.reshape(T * E, n, d))
        return (X.reshape(m, -1, d), Xg, *cols)

    def _update_fused(self, rollout, adv, ret, rng):
        """Steps 4 of the module docstring in one numba kernel per epoch (no loss hook)."""
        Xs, Xg, As, OLs, ADs, RTs = self._stacked(rollout, adv, ret)
        m, Nk = As.shape
        mb = max(1, Nk // self.n_minibatches)
        n_mb = Nk // mb
        clip = -1.0 if self.clip is None else self.clip
        pi_mask = np.empty(0, self.dtype) if self._pi_grad_mask is None else self._pi_grad_mask
        pi_cache = np.empty(mb * self.policy_net.cache_width, self.dtype)
        v_cache = np.empty(mb * self.value_net.cache_width, self.dtype)
        po, vo = self.policy_opt, self.value_opt
        acc = np.zeros(6)
        for _ in range(self.n_epochs):
            perms = np.stack([rng.permutation(Nk) for _k in range(m)])
            ADp = np.take_along_axis(ADs, perms[:, : n_mb * mb], axis=1).reshape(m, n_mb, mb)
            if self.norm_adv and mb > 1:  # per minibatch, as (a - a.mean()) / (a.std() + 1e-8)
                ADp = (ADp - ADp.mean(axis=2, keepdims=True)) / (ADp.std(axis=2, keepdims=True) + 1e-8)
            _epoch_kernel(self.policy_params, self.value_params, self.policy_net._sizes,
                          self.value_net._sizes, self.policy_net._act, Xs, Xg, self.central, As, OLs,
                          np.ascontiguousarray(ADp), RTs, perms, clip, self.ent_coef, self.vf_coef,
                          pi_mask, self.max_grad_norm, po.m, po.v, vo.m, vo.v, po.lr, vo.lr, po.b1,
                          po.b2, po.eps, po.t, vo.t, pi_cache, v_cache, acc)
            po.t += n_mb
            vo.t += n_mb
        n_upd = max(acc[5], 1.0)
        keys = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_frac")
        return {k: acc[i] / n_upd for i, k in enumerate(keys)}

    def _update_python(self, rollout, adv, ret, rng, ctx):
        """Step 4 with a Python loop over minibatches (needed to call the loss hook)."""
        T, E, n, d = rollout.obs.shape
        N = T * E
        obs = rollout.obs.reshape(N, n, d)
        acts = rollout.actions.reshape(N, n)
        oldlp = rollout.logp.reshape(N, n)
        advf = adv.reshape(N, n)
        retf = ret.reshape(N, n)
        Xg = self._global_input(obs)  # the critic's global rows (N, n * d), if centralised
        if self.share_params:
            # network 0 sees every agent's samples: stack agent-major
            data = [(np.ascontiguousarray(obs.transpose(1, 0, 2).reshape(n * N, d), dtype=self.dtype),
                     acts.T.reshape(-1).copy(), oldlp.T.reshape(-1).copy(), advf.T.reshape(-1).copy(),
                     retf.T.reshape(-1).copy(), np.repeat(np.arange(n), N), np.tile(np.arange(N), n))]
        else:
            data = [(np.ascontiguousarray(obs[:, i, :], dtype=self.dtype), acts[:, i].copy(),
                     oldlp[:, i].copy(), advf[:, i].copy(), retf[:, i].copy(),
                     np.full(N, i), np.arange(N)) for i in range(n)]
        clip = -1.0 if self.clip is None else self.clip
        pi_grad = np.zeros_like(self.policy_params)
        v_grad = np.zeros_like(self.value_params)
        stats = dict(policy_loss=0.0, value_loss=0.0, entropy=0.0, approx_kl=0.0, clip_frac=0.0)
        n_upd = 0
        no_extra = np.empty((0, self.n_actions), self.dtype)
        mb_max = max(1, len(data[0][1]) // self.n_minibatches)
        pi_cache = np.empty(mb_max * self.policy_net.cache_width, self.dtype)
        v_cache = np.empty(mb_max * self.value_net.cache_width, self.dtype)
        for _ in range(self.n_epochs):
            perms = [rng.permutation(len(dat[1])) for dat in data]
            Nk = len(data[0][1])
            mb = max(1, Nk // self.n_minibatches)
            for s in range(0, Nk - mb + 1, mb):
                for k, (X, A, OL, AD, RT, AG, IX) in enumerate(data):
                    idx = perms[k][s:s + mb]
                    Xb, Ab, OLb, ADb, RTb = X[idx], A[idx], OL[idx], AD[idx], RT[idx]
                    if self.norm_adv and len(idx) > 1:
                        ADb = (ADb - ADb.mean()) / (ADb.std() + 1e-8)
                    extra = no_extra
                    if self.hooks.loss is not None:
                        logits = self.policy_net.forward(self.policy_params[k], Xb)
                        lb = LossBatch(k, AG[idx], Xb, Ab, logits, ADb, OLb, IX[idx], ctx)
                        _val, extra = self.hooks.loss(lb)
                        extra = np.ascontiguousarray(extra, dtype=self.dtype)
                        if extra.shape != logits.shape:
                            raise ValueError(f"loss hook must return dlogits of shape {logits.shape}; got {extra.shape}")
                    pl, H, kl, cf = _policy_step_grad(
                        self.policy_params[k], self.policy_net._sizes, self.policy_net._act, Xb, Ab,
                        OLb, ADb, clip, self.ent_coef, extra, pi_grad[k], pi_cache)
                    Xvb = Xg[IX[idx]] if self.central else Xb  # IX: the sample's row in Xg
                    vl = _value_step_grad(self.value_params[k], self.value_net._sizes,
                                          self.value_net._act, Xvb, RTb, self.vf_coef, v_grad[k], v_cache)
                    stats["policy_loss"] += pl
                    stats["value_loss"] += vl
                    stats["entropy"] += H
                    stats["approx_kl"] += kl
                    stats["clip_frac"] += cf
                    n_upd += 1
                if self._pi_grad_mask is not None:
                    pi_grad *= self._pi_grad_mask
                _clip_rows(pi_grad, self.max_grad_norm)
                _clip_rows(v_grad, self.max_grad_norm)
                self.policy_opt.step(self.policy_params, pi_grad)
                self.value_opt.step(self.value_params, v_grad)
        return {k: v / max(n_upd, 1) for k, v in stats.items()}

    def train(self, env, total_steps, seed=0, progress=False, callback=None):
        """Train on ``env`` for at least ``total_steps`` environment steps (summed over copies).

        ``callback(learner, iteration, result_so_far)`` is called after every iteration (for
        notebooks' live plots).  Returns a :class:`TrainResult` (returns are the environment's
        rewards, before hooks).  ``seed``: any integer >= 0.  If the losses, returns or
        parameters become non-finite, a :class:`sharelib.diagnostics.NonFiniteWarning` names the
        first environment step where they did.
        """
        seed = check_int("seed", seed, min=0)
        self._check_env(env)
        total_steps = check_int("total_steps", total_steps, min=1)
        self._check_batch(env.n_envs)
        ss = np.random.SeedSequence(seed)
        rng = np.random.default_rng(ss)
        obs = env.reset(int(ss.generate_state(1)[0] % (2**31)))
        tracker = EpisodeTracker(env.n_envs, self.n_agents)
        per_iter = self.n_steps * env.n_envs
        K = -(-total_steps // per_iter)
        steps, rets, eps = np.zeros(K, np.int64), np.full((K, self.n_agents), np.nan), np.zeros(K, np.int64)
        st = {}
        it = range(K)
        if progress:
            from tqdm.auto import tqdm
            it = tqdm(it, desc=f"{type(self).__name__}", leave=False)
        for k in it:
            ro, obs = self.collect(env, obs, rng, tracker)
            s = self.update(ro, rng)
            for key, v in s.items():
                st.setdefault(key, np.zeros(K))[k] = v
            steps[k] = self.env_steps
            rets[k], eps[k] = tracker.pop()
            if callback is not None:
                callback(self, k, TrainResult(steps[:k + 1], rets[:k + 1], eps[:k + 1]))
        res = TrainResult(steps, rets, eps, st)
        warn_nonfinite_training(self, res, params=(("policy parameters", self.policy_params),
                                                   ("value parameters", self.value_params)))
        return res

    def _check_batch(self, n_envs):
        """``n_minibatches`` must not exceed the samples one network sees in a rollout."""
        per_net = self.n_steps * n_envs * (self.n_agents if self.share_params else 1)
        if self.n_minibatches > per_net:
            formula = ("n_steps * n_envs * n_agents = "
                       f"{self.n_steps} * {n_envs} * {self.n_agents}" if self.share_params
                       else f"n_steps * n_envs = {self.n_steps} * {n_envs}")
            raise ValueError(
                f"n_minibatches={self.n_minibatches} must be <= the samples per network of a rollout, "
                f"{formula} = {per_net}; lower n_minibatches or raise n_steps (or n_envs)")

    def evaluate(self, env, n_episodes=10, seed=0, greedy=True):
        """Mean environment return per agent over ``n_episodes`` episodes (summed over copies)."""
        return evaluate(self, env, n_episodes, seed, greedy)

    def _check_env(self, env):
        if (env.obs_dim, env.n_actions, env.n_agents) != (self.obs_dim, self.n_actions, self.n_agents):
            raise ValueError(
                f"env has (obs_dim, n_actions, n_agents) = {(env.obs_dim, env.n_actions, env.n_agents)}"
                f" but the learner was built for {(self.obs_dim, self.n_actions, self.n_agents)}")


def evaluate(learner, env, n_episodes=10, seed=0, greedy=True, max_steps=None):
    """Run ``learner.act`` until ``n_episodes`` episodes (over all copies) end; mean return per agent."""
    seed = check_int("seed", seed, min=0)
    rng = np.random.default_rng(seed)
    obs = env.reset(seed)
    tr = EpisodeTracker(env.n_envs, env.n_agents)
    total = np.zeros(env.n_agents)
    count = 0
    limit = max_steps or 100 * max(env.max_steps, 1) * n_episodes
    for _ in range(limit):
        a = learner.act(obs, rng, greedy=greedy)[0]
        obs, r, d = env.step(a)
        tr.add(r, d)
        m, c = tr.pop()
        if c:
            total += m * c
            count += c
            if count >= n_episodes:
                break
    return total / max(count, 1)


class REINFORCE(ActorCritic):
    """REINFORCE with a learned baseline (Williams 1992): Monte-Carlo advantages, one step per rollout."""

    algo = "reinforce"

    def __init__(self, obs_dim, n_actions, n_agents=1, **kw):
        d = dict(gae_lambda=1.0, n_epochs=1, n_minibatches=1, clip=None, norm_adv=False,
                 lr=1e-2, ent_coef=0.0, n_steps=16, max_grad_norm=10.0)
        d.update(kw)
        super().__init__(obs_dim, n_actions, n_agents, **d)


class A2C(ActorCritic):
    """Advantage actor-critic (synchronous A3C, Mnih et al. 2016): n-step returns, one step per rollout."""

    algo = "a2c"

    def __init__(self, obs_dim, n_actions, n_agents=1, **kw):
        d = dict(gae_lambda=1.0, n_epochs=1, n_minibatches=1, clip=None, norm_adv=False,
                 lr=7e-4, n_steps=5, ent_coef=0.01, max_grad_norm=0.5)
        d.update(kw)
        super().__init__(obs_dim, n_actions, n_agents, **d)


class PPO(ActorCritic):
    """Proximal policy optimisation with clipped ratio and GAE (Schulman et al. 2017)."""

    algo = "ppo"

    def __init__(self, obs_dim, n_actions, n_agents=1, **kw):
        d = dict(gae_lambda=0.95, n_epochs=4, n_minibatches=4, clip=0.2, norm_adv=True,
                 lr=3e-4, n_steps=128, ent_coef=0.01, max_grad_norm=0.5)
        d.update(kw)
        super().__init__(obs_dim, n_actions, n_agents, **d)


class MAPPO(PPO):
    """Multi-agent PPO (Yu et al. 2022): PPO with decentralised actors ``pi_i(a | o_i)`` and a
    centralised critic ``V_i(s)`` on the global state ``s = (o_1, ..., o_n)`` (the concatenation
    of the agents' observations, the "CL" input of the paper's study of value-function inputs),
    i.e. ``PPO(critic="global")``. No agent id is appended: with per-agent critics it is implicit.

    The MAPPO paper shares one actor and one critic among homogeneous agents (its objective in
    Sec. 3 is written for one shared parameter set; its appendix reports the benefit of sharing);
    ``share_params=False`` (the default here, as the learning core's other learners) gives every
    agent its own actor and its own critic, each critic trained on that agent's returns (needed
    when rewards are individual, as in mixed-motive games; a shared ``V(s)`` would regress the
    agents' different returns on the same input). Not included: the paper's value
    normalisation (PopArt), value clipping and death masking; the rest is the core's PPO.
    """

    algo = "mappo"

    def __init__(self, obs_dim, n_actions, n_agents=1, **kw):
        if kw.get("critic", "global") != "global":
            raise ValueError(f"critic must be 'global' for MAPPO (its centralised critic); got {kw['critic']!r}")
        kw["critic"] = "global"
        super().__init__(obs_dim, n_actions, n_agents, **kw)
