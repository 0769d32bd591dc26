"""Output heads and losses: values together with their derivatives.

Every function works on a batch and returns the derivative of its result with
respect to the network output, so a learner composes a loss by the chain rule
and hands ``d loss / d output`` to :meth:`sharelib.nn.MLP.backward`.

Categorical (softmax) policy over ``A`` actions with logits ``z``:
``log pi(a) = z_a - logsumexp(z)``, ``d log pi(a) / dz = onehot(a) - pi``;
entropy ``H = -sum_k pi_k log pi_k``, ``dH/dz_k = -pi_k (log pi_k + H)``.

Gaussian policy with mean ``m`` (network output) and a state-independent
log standard deviation ``s`` (a parameter vector):
``log pi(a) = sum_d [-(a_d - m_d)^2 / (2 e^{2 s_d}) - s_d - log(2 pi)/2]``,
``d/dm_d = (a_d - m_d) e^{-2 s_d}``, ``d/ds_d = (a_d - m_d)^2 e^{-2 s_d} - 1``;
entropy ``sum_d (s_d + log(2 pi e)/2)``.

Surrogates (losses to *minimise*, averaged over the batch of size ``B``):
``pg_surrogate``: ``-mean(A * log pi)`` (REINFORCE / A2C, Williams 1992);
``ppo_surrogate``: ``-mean(min(r A, clip(r, 1-eps, 1+eps) A))`` with
``r = exp(log pi - log pi_old)`` (Schulman et al. 2017, Eq. 7).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "softmax",
    "categorical_logp",
    "categorical_entropy",
    "gaussian_logp",
    "gaussian_entropy",
    "value_loss",
    "pg_surrogate",
    "ppo_surrogate",
    "huber_loss",
    "sample_categorical",
]


@numba.njit(cache=True)
def _log_softmax_row(z, out):
    m = z[0]
    for k in range(1, z.shape[0]):
        if z[k] > m:
            m = z[k]
    s = 0.0
    for k in range(z.shape[0]):
        s += np.exp(z[k] - m)
    lse = m + np.log(s)
    for k in range(z.shape[0]):
        out[k] = z[k] - lse


@numba.njit(cache=True)
def softmax(logits):
    """Row-wise softmax of a (B, A) array."""
    B, A = logits.shape
    out = np.empty((B, A))
    for b in range(B):
        _log_softmax_row(logits[b], out[b])
        for k in range(A):
            out[b, k] = np.exp(out[b, k])
    return out


@numba.njit(cache=True)
def categorical_logp(logits, actions):
    """``(logp (B,), dlogp/dlogits (B, A))`` of the taken actions."""
    B, A = logits.shape
    logp = np.empty(B)
    d = np.empty((B, A))
    row = np.empty(A)
    for b in range(B):
        _log_softmax_row(logits[b], row)
        a = actions[b]
        logp[b] = row[a]
        for k in range(A):
            d[b, k] = -np.exp(row[k])
        d[b, a] += 1.0
    return logp, d


@numba.njit(cache=True)
def categorical_entropy(logits):
    """``(H (B,), dH/dlogits (B, A))`` of the softmax distributions."""
    B, A = logits.shape
    H = np.empty(B)
    d = np.empty((B, A))
    row = np.empty(A)
    for b in range(B):
        _log_softmax_row(logits[b], row)
        h = 0.0
        for k in range(A):
            h -= np.exp(row[k]) * row[k]
        H[b] = h
        for k in range(A):
            d[b, k] = -np.exp(row[k]) * (row[k] + h)
    return H, d


@numba.njit(cache=True)
def gaussian_logp(mean, log_std, actions):
    """``(logp (B,), dlogp/dmean (B, D), dlogp/dlog_std (B, D))``."""
    B, D = mean.shape
    logp = np.empty(B)
    dm = np.empty((B, D))
    ds = np.empty((B, D))
    c = 0.5 * np.log(2.0 * np.pi)
    for b in range(B):
        s = 0.0
        for k in range(D):
            iv = np.exp(-2.0 * log_std[k])
            u = actions[b, k] - mean[b, k]
            s += -0.5 * u * u * iv - log_std[k] - c
            dm[b, k] = u * iv
            ds[b, k] = u * u * iv - 1.0
        logp[b] = s
    return logp, dm, ds


@numba.njit(cache=True)
def gaussian_entropy(log_std):
    """``(H, dH/dlog_std)`` of a diagonal Gaussian (independent of the mean)."""
    c = 0.5 * np.log(2.0 * np.pi * np.e)
    H = 0.0
    for k in range(log_std.shape[0]):
        H += log_std[k] + c
    return H, np.ones(log_std.shape[0])


@numba.njit(cache=True)
def value_loss(v, returns):
    """``(0.5 mean (v - R)^2, dloss/dv)``."""
    B = v.shape[0]
    d = np.empty(B)
    loss = 0.0
    for b in range(B):
        u = v[b] - returns[b]
        loss += 0.5 * u * u
        d[b] = u / B
    return loss / B, d


@numba.njit(cache=True)
def huber_loss(pred, target, delta):
    """``(mean Huber_delta(pred - target), dloss/dpred)`` (DQN's TD loss)."""
    B = pred.shape[0]
    d = np.empty(B)
    loss = 0.0
    for b in range(B):
        u = pred[b] - target[b]
        if abs(u) <= delta:
            loss += 0.5 * u * u
            d[b] = u / B
        else:
            loss += delta * (abs(u) - 0.5 * delta)
            d[b] = delta * np.sign(u) / B
    return loss / B, d


@numba.njit(cache=True)
def pg_surrogate(logp, adv):
    """``(-mean(adv * logp), dloss/dlogp)``."""
    B = logp.shape[0]
    d = np.empty(B)
    loss = 0.0
    for b in range(B):
        loss -= adv[b] * logp[b]
        d[b] = -adv[b] / B
    return loss / B, d


@numba.njit(cache=True)
def _ppo_term(lr, adv, clip, B):
    """One sample's term of the PPO clipped surrogate (Schulman et al. 2017, Eq. 7).

    ``lr`` is log(pi / pi_old) and ``B`` the batch size the loss is averaged over. Returns
    ``(term, d loss / d logp, ratio)``; the sample contributes ``-term / B`` to the loss.
    """
    r = np.exp(lr)
    rc = min(max(r, 1.0 - clip), 1.0 + clip)
    u = r * adv
    c = rc * adv
    if u <= c:
        return u, -adv * r / B, r
    return c, 0.0, r


@numba.njit(cache=True)
def ppo_surrogate(logp, old_logp, adv, clip):
    """PPO clipped surrogate (Schulman et al. 2017, Eq. 7).

    Returns ``(loss, dloss/dlogp, approx_kl, clip_fraction)`` where
    ``approx_kl = mean((r - 1) - log r)`` (always >= 0).
    """
    B = logp.shape[0]
    d = np.empty(B)
    loss = 0.0
    kl = 0.0
    nclip = 0
    for b in range(B):
        lr = logp[b] - old_logp[b]
        term, d[b], r = _ppo_term(lr, adv[b], clip, B)
        loss -= term
        if abs(r - 1.0) > clip:
            nclip += 1
        kl += (r - 1.0) - lr
    return loss / B, d, kl / B, nclip / B


@numba.njit(cache=True)
def sample_categorical(logits, u):
    """Inverse-CDF sampling of softmax(logits) with uniforms ``u``.

    logits: (E, n, A); u: (E, n) in [0, 1).  Returns ``(actions int64 (E, n),
    logp (E, n))``.
    """
    E, n, A = logits.shape
    acts = np.empty((E, n), np.int64)
    logp = np.empty((E, n))
    row = np.empty(A)
    for e in range(E):
        for i in range(n):
            _log_softmax_row(logits[e, i], row)
            a = _inverse_cdf(row, u[e, i])
            acts[e, i] = a
            logp[e, i] = row[a]
    return acts, logp


@numba.njit(cache=True)
def _inverse_cdf(log_probs, u):
    """The action whose cumulative probability first exceeds ``u`` (the last one if rounding leaves
    the total below ``u``), from a row of log-probabilities."""
    c = 0.0
    for k in range(log_probs.shape[0]):
        c += np.exp(log_probs[k])
        if u < c:
            return k
    return log_probs.shape[0] - 1
