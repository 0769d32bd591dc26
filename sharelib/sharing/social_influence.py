r"""Social influence as intrinsic motivation (Jaques et al., ICML 2019), decentralised with models of other agents.

Each agent ``k`` learns from

.. math::

    r'_{k,t} = \alpha\, e_{k,t} + \beta\, c_{k,t}

(the paper's Eq. 1; ``e`` the environment reward) with the causal influence reward of ``k`` on the
other agents' next actions, the paper's model-of-other-agents (MOA) form (Sec. 2.3 of the paper,
"Modeling other agents"; the basic form is its Eq. 2):

.. math::

    c_{k,t} = \sum_{j \ne k} D_{KL}\Big[\, p(a_{j,t+1} \mid o_{k,t}, a_{k,t}) \;\Big\|\;
              \sum_{a'} \pi_k(a' \mid o_{k,t})\, p(a_{j,t+1} \mid o_{k,t}, a') \Big],

the divergence between what ``j`` is predicted to do next given the action ``k`` took and the
counterfactual marginal over ``k``'s own actions, weighted by ``k``'s policy. Its expectation over
``a_{k,t} \sim \pi_k`` is the mutual information between ``k``'s action and ``j``'s next action
given ``o_{k,t}`` under the model (the paper's Eq. 3 relation, for the MOA's predictions). The
equation and section numbers are our reading of the ICML version.

Each agent's MOA (:class:`SocialInfluence`, one per agent, nobody else's parameters) is an MLP on
``[o_{k,t}, onehot(a_{k,t})]`` with one softmax head per other agent ``j`` predicting
``a_{j,t+1}``, trained by cross-entropy (summed over heads, averaged over samples) with Adam once
per learning iteration on the rollout (``epochs`` passes of ``minibatches`` minibatches). ``pi_k``
is the PPO learner's current policy (:meth:`sharelib.learners.ActorCritic.probs`, the policy that
collected the rollout). In each iteration the influence is computed with the MOA *before* its
update on that rollout.

Ours, not the paper's: an MLP on the current observation (the paper's agents use a conv + LSTM
network and the MOA also sees the other agents' previous actions); the influence is summed over
all other agents (as we read the paper, it counts only the agents in ``k``'s view); no curriculum
on ``beta``. Where no next action exists (the last step of an episode, ``dones[t]``, and the last
step of a rollout, whose next action is in the next rollout), ``c = 0`` and the step is left out of
the MOA's training. Defaults (ours; the paper tunes ``alpha``, ``beta`` per game and we did not
take its values): ``alpha = 1``, ``beta = 0.1``, MOA hidden ``(32,)`` tanh, Adam lr ``1e-3``, 1
epoch of 4 minibatches. With ``beta = 0`` (and ``alpha = 1``) the agents learn from the
environment reward unchanged: the learner is its independent PPO seed for seed (tested). The MOA
draws its initialisation and minibatches from its own generator (``seed``), never from the
learner's.
"""

from __future__ import annotations

import numba
import numpy as np

from ..experiments import check_float, check_int
from ..nn import MLP
from ..nn.optim import Adam

__all__ = ["SocialInfluence", "influence_from_probs"]


def _log_softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


@numba.njit(cache=True)
def _influence_kernel(z, pi, actions):
    """``sum_j KL[p_j(. | a) || sum_a' pi(a') p_j(. | a')]`` per sample from logits ``z (B, A, m, A_j)``."""
    B, A, m, Aj = z.shape
    out = np.zeros(B)
    p = np.empty((A, Aj))
    marg = np.empty(Aj)
    for b in range(B):
        a = actions[b]
        for j in range(m):
            lsa = 0.0
            for u in range(A):  # softmax of each counterfactual head
                mx = z[b, u, j, 0]
                for x in range(1, Aj):
                    mx = max(mx, z[b, u, j, x])
                s = 0.0
                for x in range(Aj):
                    p[u, x] = np.exp(z[b, u, j, x] - mx)
                    s += p[u, x]
                for x in range(Aj):
                    p[u, x] /= s
                if u == a:
                    lsa = mx + np.log(s)
            for x in range(Aj):  # the policy-weighted marginal
                marg[x] = 0.0
            for u in range(A):
                w = pi[b, u]
                for x in range(Aj):
                    marg[x] += w * p[u, x]
            kl = 0.0
            for x in range(Aj):
                if p[a, x] > 0.0:
                    kl += p[a, x] * (z[b, a, j, x] - lsa - np.log(max(marg[x], 1e-300)))
            out[b] += max(kl, 0.0)  # >= 0 up to rounding
    return out


@numba.njit(cache=True)
def _ce_kernel(y, Y, m, Aj):
    """Cross-entropy of ``m`` softmax heads ``y (B, m * A_j)`` on labels ``Y (B, m)`` (summed over
    heads, averaged over samples) and its gradient w.r.t. ``y``."""
    B = y.shape[0]
    d = np.empty_like(y)
    loss = 0.0
    for b in range(B):
        for j in range(m):
            o = j * Aj
            mx = y[b, o]
            for x in range(1, Aj):
                mx = max(mx, y[b, o + x])
            s = 0.0
            for x in range(Aj):
                d[b, o + x] = np.exp(y[b, o + x] - mx)
                s += d[b, o + x]
            loss -= y[b, o + Y[b, j]] - mx - np.log(s)
            for x in range(Aj):
                d[b, o + x] /= s * B
            d[b, o + Y[b, j]] -= 1.0 / B
    return loss / B, d


def influence_from_probs(cf_logp, pi, actions):
    r"""Influence of ``k`` from counterfactual predictions, per sample, summed over the other agents.

    ``cf_logp`` ``(B, A, m, A_j)``: ``log p(a_j | o, a')`` (or unnormalised logits) for each of
    ``k``'s actions ``a'`` and the ``m`` other agents; ``pi`` ``(B, A)``: ``pi_k(a' | o)``;
    ``actions`` ``(B,)``: the action ``k`` took. Returns ``(B,)``:
    ``sum_j KL[p(. | o, a) || sum_a' pi(a') p(. | o, a')]``.
    """
    return _influence_kernel(np.ascontiguousarray(cf_logp, dtype=np.float64),
                             np.ascontiguousarray(pi, dtype=np.float64), np.asarray(actions, dtype=np.int64))


class SocialInfluence:
    """Reward hook ``r -> alpha r + beta c`` with one MOA per agent (module docstring); keeps the MOAs across rollouts.

    Parameters: ``n_agents`` (>= 2), ``obs_dim``, ``n_actions`` (>= 1, of every agent), ``alpha``,
    ``beta`` (>= 0), ``hidden`` (the MOA's hidden widths, ``()`` = linear), ``lr`` (> 0, Adam),
    ``epochs`` and ``minibatches`` (>= 1) of the MOA's training per rollout, ``seed`` (>= 0).
    After every call ``last_influence`` holds ``c`` ``(T, E, n)`` and ``last_loss`` the MOAs'
    cross-entropy ``(n,)`` over their minibatch steps on the rollout.
    """

    def __init__(self, n_agents, obs_dim, n_actions, alpha=1.0, beta=0.1, hidden=(32,), lr=1e-3, epochs=1,
                 minibatches=4, seed=0):
        self.n = check_int("n_agents", n_agents, min=2)
        self.obs_dim = check_int("obs_dim", obs_dim, min=1)
        self.n_actions = check_int("n_actions", n_actions, min=1)
        self.alpha = check_float("alpha", alpha, min=0.0)
        self.beta = check_float("beta", beta, min=0.0)
        self.lr = check_float("lr", lr, min=0.0, min_inclusive=False)
        self.epochs = check_int("epochs", epochs, min=1)
        self.minibatches = check_int("minibatches", minibatches, min=1)
        self.seed = check_int("seed", seed, min=0)
        if isinstance(hidden, (int, np.integer)) or not all(isinstance(h, (int, np.integer)) and h >= 1 for h in hidden):
            raise ValueError(f"hidden must be a sequence of integers >= 1 (e.g. (32,)); got {hidden!r}")
        self.hidden = tuple(int(h) for h in hidden)
        n, d, A = self.n, self.obs_dim, self.n_actions
        self.net = MLP((d + A, *self.hidden, (n - 1) * A), "tanh")
        # the first layer's observation part and the layers after it, to evaluate all counterfactual
        # actions from one first-layer product (in numba, whose BLAS is pinned to one thread)
        self._first = MLP((d, (self.hidden + ((n - 1) * A,))[0]), "linear")
        self._tail = MLP((self.hidden[0], *self.hidden[1:], (n - 1) * A), "tanh") if self.hidden else None
        self.rng = np.random.default_rng(self.seed)
        self.params = self.net.init(self.rng, n=n, out_gain=1.0)  # (n, P)
        self.opt = Adam(self.params.shape, lr=self.lr)
        self.others = [np.array([j for j in range(n) if j != k], dtype=np.int64) for k in range(n)]
        self.last_influence = None
        self.last_loss = None

    # ------------------------------------------------------------------------ the MOA
    def inputs(self, obs, actions):
        """MOA inputs ``[o, onehot(a)]`` ``(B, d + A)`` from ``obs (B, d)`` and ``actions (B,)``."""
        obs = np.asarray(obs, dtype=np.float64)
        X = np.zeros((obs.shape[0], self.obs_dim + self.n_actions))
        X[:, :self.obs_dim] = obs
        X[np.arange(obs.shape[0]), self.obs_dim + np.asarray(actions, dtype=np.int64)] = 1.0
        return X

    def log_probs(self, k, obs, actions, params=None):
        """``log p(a_j | o_k, a_k)`` ``(B, n - 1, A)`` of agent ``k``'s MOA (heads: the other agents in order)."""
        p = self.params[k] if params is None else params
        z = self.net.forward(p, self.inputs(obs, actions)).reshape(-1, self.n - 1, self.n_actions)
        return _log_softmax(z)

    def counterfactual_log_probs(self, k, obs, params=None):
        """``log p(a_j | o_k, a')`` for every action ``a'`` of ``k``: ``(B, A, n - 1, A)``
        (:meth:`counterfactual_logits` normalised)."""
        return _log_softmax(self.counterfactual_logits(k, obs, params))

    def counterfactual_logits(self, k, obs, params=None):
        """The MOA's logits for every action ``a'`` of ``k``: ``(B, A, n - 1, A)``.

        The first layer is linear in the one-hot action, so its product with the observation is
        computed once and the action's row added per ``a'`` (the same numbers as feeding each
        ``[o, onehot(a')]`` through the MLP, tested).
        """
        p = self.params[k] if params is None else params
        obs = np.asarray(obs, dtype=np.float64)
        B, d, A, m = obs.shape[0], self.obs_dim, self.n_actions, self.n - 1
        (W, b) = self.net.views(p)[0]
        z1 = self._first.forward(np.concatenate([W[:d].ravel(), b]), obs)  # (B, h1): o W_o + b
        z = z1[:, None, :] + W[d:][None, :, :]  # (B, A, h1): one row per counterfactual action
        if self._tail is not None:
            P1 = W.size + b.size
            z = self._tail.forward(p[P1:], np.tanh(z).reshape(B * A, -1))
        return np.ascontiguousarray(z.reshape(B, A, m, A))

    def loss_grad(self, k, X, Y, params=None):
        """Cross-entropy of ``k``'s MOA on inputs ``X (B, d + A)`` and next actions ``Y (B, n - 1)``
        (summed over heads, averaged over samples) and its gradient w.r.t. the parameters."""
        p = self.params[k] if params is None else params
        B, m, A = X.shape[0], self.n - 1, self.n_actions
        y, cache = self.net.forward_cache(p, X)
        loss, d = _ce_kernel(y, np.ascontiguousarray(Y, dtype=np.int64), m, A)
        return float(loss), self.net.backward(p, cache, d)

    def fit(self, obs, actions, next_actions):
        """One training pass of every agent's MOA: ``obs (N, n, d)``, ``actions (N, n)`` at ``t`` and the
        observed ``next_actions (N, n)`` at ``t + 1`` (valid samples only); returns the mean
        cross-entropy ``(n,)`` of the minibatches (each before its step)."""
        N = obs.shape[0]
        Xs = [self.inputs(obs[:, k], actions[:, k]) for k in range(self.n)]
        Ys = [next_actions[:, self.others[k]] for k in range(self.n)]
        losses, steps = np.zeros(self.n), 0
        mb = max(1, N // self.minibatches)
        G = np.zeros_like(self.params)
        for _ in range(self.epochs):
            perm = self.rng.permutation(N)
            for s in range(0, N - mb + 1, mb):
                idx = perm[s:s + mb]
                for k in range(self.n):
                    lk, G[k] = self.loss_grad(k, Xs[k][idx], Ys[k][idx])
                    losses[k] += lk
                self.opt.step(self.params, G)
                steps += 1
        return losses / max(steps, 1)

    # ------------------------------------------------------------------------ the hook
    def influence(self, obs, actions, pi, valid):
        """``c`` ``(T, E, n)`` from a rollout's ``obs (T, E, n, d)``, ``actions (T, E, n)``, the
        policies ``pi (T, E, n, A)`` and the ``valid (T, E)`` steps (0 elsewhere)."""
        T, E, n, d = obs.shape
        c = np.zeros((T, E, n))
        sel = valid.reshape(-1)
        if not sel.any():
            return c
        O, Acts, PI = obs.reshape(T * E, n, d)[sel], actions.reshape(T * E, n)[sel], pi.reshape(T * E, n, -1)[sel]
        for k in range(n):
            ck = influence_from_probs(self.counterfactual_logits(k, O[:, k]), PI[:, k], Acts[:, k])
            c.reshape(T * E, n)[sel, k] = ck
        return c

    def __call__(self, rewards, ctx):
        ro = ctx.rollout
        T, E, n, d = ro.obs.shape
        if n != self.n or d != self.obs_dim:
            raise ValueError(f"the rollout has {n} agents with obs_dim {d}; the hook was built for "
                             f"n_agents={self.n}, obs_dim={self.obs_dim}")
        valid = ~np.asarray(ro.dones, bool)
        valid[-1] = False  # the next action of the rollout's last step is in the next rollout
        pi = ctx.learner.probs(ro.obs.reshape(T * E, n, d)).reshape(T, E, n, -1)
        c = self.influence(ro.obs, ro.actions, pi, valid)
        sel = valid[:-1].reshape(-1)
        if sel.any():
            self.last_loss = self.fit(ro.obs[:-1].reshape(-1, n, d)[sel], ro.actions[:-1].reshape(-1, n)[sel],
                                      ro.actions[1:].reshape(-1, n)[sel])
        self.last_influence = c
        return self.alpha * np.asarray(rewards, dtype=np.float64) + self.beta * c
