r"""Anticipation Sharing (AS): the dual-clipped objective of Eq. 16 and its gradients.

Paper: "Learning to Cooperate under Private Rewards" (anonymous ICLR submission; the method is
called Anticipation Sharing, AS). Each agent :math:`i` keeps its own policy :math:`\pi^{ii}` and an
*anticipation* :math:`\pi^{ij}(a_j|s)` of each neighbour's policy. Neighbours exchange action
distributions (:math:`\pi^{jj}(\cdot|s)`) and anticipations (:math:`\pi^{ji}(\cdot|s)`), never
rewards, values or parameters. Agent :math:`i` maximises, over :math:`\theta^{ii}` and all
:math:`\theta^{ij}`, on samples collected under :math:`\pi_{old}` (Eq. 16):

.. math::

    \mathbb{E}\Big[\min\big(\xi_i \xi_{N_i} \hat A_i,\ \mathrm{clip}(\xi_i, 1-\epsilon, 1+\epsilon)\,
    \xi_{N_i} \hat A_i\big)
    - \kappa_i \sum_{j \in N_i} \rho\, \mathbb{I}_{X^{ij}} \|\pi^{ij}(\cdot|s) - \pi^{jj}(\cdot|s)\|_2^2
    + \rho'\, \mathbb{I}_{X^{ii}} \|\pi^{ii}(\cdot|s) - \pi^{ji}(\cdot|s)\|_2^2\Big]

with the ratios of Eq. 13, :math:`\xi_i = \pi^{ii}(a_i|s)/\pi^{ii}_{old}(a_i|s)` and
:math:`\xi_{N_i} = \prod_{j \in N_i} \pi^{ij}(a_j|s)/\pi^{ij}_{old}(a_j|s)`, the activation sets of
Eq. 14, :math:`X^{ij} = \{(s, a): \frac{\pi^{ij}(a_j|s)}{\pi^{jj}(a_j|s)} \hat A_i \ge \hat A_i\}` and
:math:`X^{ii} = \{(s, a): \frac{\pi^{ii}(a_i|s)}{\pi^{ji}(a_i|s)} \hat A_i \ge \hat A_i\}` (their
indicators, Eq. 15, are piecewise constant and carry no gradient), and
:math:`\kappa_i = \mathrm{mean}_{s,a} |\hat A_i|` (the paper's implementation detail after Eq. 16).

Readings (the text is ambiguous in three places; each choice is a parameter):

* **Where** :math:`\kappa_i` **applies.** As typeset, Eq. 16's :math:`\kappa_i \cdot \sum_j` may cover
  only the first penalty; Eq. 12 puts :math:`\kappa_i` on both constraints (b) and (c), so we apply
  it to both (``kappa="both"``; ``kappa="first"`` is the literal typesetting).
* **The** :math:`s'` **in** :math:`\xi_i` (Eq. 13) is read as :math:`s`, the sample's state.
* **The denominator of** :math:`\xi_{N_i}`: Eq. 13 writes the old *anticipation*
  :math:`\pi^{ij}_{old}` (``neighbour_ratio="anticipation"``, default, as written: it equals 1 at the
  start of every update, like :math:`\xi_i`); an importance weight for the neighbours' sampled
  actions would divide by their true old policy :math:`\pi^{jj}_{old}` (``"policy"``).

:func:`objective` computes the objective, its terms and its gradients with respect to the logits
of :math:`\pi^{ii}` and of every :math:`\pi^{ij}`; the learner that uses it (Algorithm 1) is
:class:`sharelib.sharing.anticipation.AnticipationSharing`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import experiments as _ex

__all__ = ["objective", "ASTerms", "KAPPA_READINGS", "NEIGHBOUR_RATIOS", "softmax"]

KAPPA_READINGS = ("both", "first")
NEIGHBOUR_RATIOS = ("anticipation", "policy")


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis (rows of logits to probabilities)."""
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)


def _sq_dist_grad(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``||p - q||^2`` per row and its gradient with respect to the logits of ``p = softmax(z)``:
    ``2 p_k (d_k - sum_l p_l d_l)`` with ``d = p - q`` (the softmax Jacobian applied to ``2 d``)."""
    d = p - q
    value = (d * d).sum(axis=-1)
    grad = 2.0 * p * (d - (p * d).sum(axis=-1, keepdims=True))
    return value, grad


@dataclass
class ASTerms:
    """What :func:`objective` computed, averaged over the batch (for logs and the notebook)."""

    objective: float  #: Eq. 16, to maximise
    surrogate: float  #: the dual-clipped surrogate term
    penalty_anticipation: float  #: kappa * sum_j rho I_{X^ij} ||pi^ij - pi^jj||^2
    penalty_own: float  #: kappa * sum_j rho' I_{X^ii} ||pi^ii - pi^ji||^2 (kappa per the reading)
    kappa: float  #: mean |A_i| over the batch
    clip_fraction: float  #: share of samples where the clip of xi_i binds
    active_anticipation: float  #: share of (sample, neighbour) pairs in X^ij
    active_own: float  #: share of (sample, neighbour) pairs in X^ii
    xi_neighbours: float  #: mean xi_{N_i}


def objective(z_own, z_antic, actions_own, actions_nb, old_logp_own, old_logp_nb, pi_nb, antic_of_me, adv,
              mask=None, *, rho: float, rho_prime: float | None = None, clip: float = 0.2,
              kappa: str = "both", penalties: bool = True, neighbour_ratio_on: bool = True):
    """Eq. 16 for one agent ``i`` on a batch, with the gradients of the loss ``-objective``.

    Parameters
    ----------
    z_own : (B, A) logits of :math:`\\pi^{ii}` at the samples.
    z_antic : (K, B, A) logits of the anticipations :math:`\\pi^{ij}` of the ``K`` other agents.
    actions_own : (B,) int, :math:`a_i`; actions_nb : (K, B) int, the others' :math:`a_j`.
    old_logp_own : (B,) :math:`\\log \\pi^{ii}_{old}(a_i|s)`.
    old_logp_nb : (K, B) the log-probability in the denominator of :math:`\\xi_{N_i}` (Eq. 13:
        :math:`\\log \\pi^{ij}_{old}(a_j|s)`, or :math:`\\log \\pi^{jj}_{old}(a_j|s)`: see the readings).
    pi_nb : (K, B, A) the neighbours' shared action distributions :math:`\\pi^{jj}(\\cdot|s)`.
    antic_of_me : (K, B, A) the neighbours' shared anticipations of ``i``, :math:`\\pi^{ji}(\\cdot|s)`.
    adv : (B,) :math:`\\hat A_i` (GAE on ``i``'s own reward, Eq. 17).
    mask : (K, B) bool, optional. ``mask[j, b]``: ``j`` is a neighbour of ``i`` at sample ``b``
        (graphs may change with the state); default all True.
    rho, rho_prime : penalty weights :math:`\\rho_j`, :math:`\\rho'_j` (the paper uses one value,
        ``rho_prime=None`` means ``rho``).
    clip : :math:`\\epsilon`.
    kappa : ``"both"`` or ``"first"`` (see the module docstring).
    penalties : False drops both penalty terms; neighbour_ratio_on : False drops :math:`\\xi_{N_i}`
        (the communication gaps of the scalability study: "we remove the last two terms in Eq. 16
        and the policy ratio :math:`\\xi_{N_i}`").

    Returns
    -------
    terms : ASTerms
    grad_own : (B, A) d(-objective)/d z_own;  grad_antic : (K, B, A) d(-objective)/d z_antic.
    """
    z_own = np.asarray(z_own, dtype=np.float64)
    z_antic = np.asarray(z_antic, dtype=np.float64)
    B, A = z_own.shape
    K = z_antic.shape[0]
    if z_antic.shape != (K, B, A):
        raise ValueError(f"z_antic must have shape (K, {B}, {A}); got {z_antic.shape}")
    rho = _ex.check_float("rho", rho, min=0.0)
    rho_p = rho if rho_prime is None else _ex.check_float("rho_prime", rho_prime, min=0.0)
    clip = _ex.check_float("clip", clip, min=0.0, max=1.0, min_inclusive=False)
    _ex.check_choice("kappa", kappa, KAPPA_READINGS)
    adv = np.asarray(adv, dtype=np.float64)
    mask = np.ones((K, B), bool) if mask is None else np.asarray(mask, bool)
    rows = np.arange(B)

    p_own = softmax(z_own)
    p_antic = softmax(z_antic)
    # Eq. 13: xi_i and the product of the neighbours' ratios (non-neighbours contribute 1)
    xi = p_own[rows, actions_own] / np.exp(old_logp_own)
    p_a_nb = np.take_along_axis(p_antic, actions_nb[..., None], axis=2)[..., 0]  # pi^ij(a_j|s), (K, B)
    if neighbour_ratio_on and K:
        ratios = np.where(mask, p_a_nb / np.exp(old_logp_nb), 1.0)
        xi_nb = ratios.prod(axis=0)
    else:
        xi_nb = np.ones(B)
    # the dual-clipped surrogate (only xi_i is clipped) and its derivatives in the log-probabilities
    unclipped = xi * xi_nb * adv
    clipped = np.clip(xi, 1.0 - clip, 1.0 + clip) * xi_nb * adv
    use_unclipped = unclipped <= clipped
    surrogate = np.where(use_unclipped, unclipped, clipped)
    d_log_own = np.where(use_unclipped, unclipped, 0.0)  # dS / d log pi^ii(a_i|s)
    d_log_nb = surrogate if neighbour_ratio_on else np.zeros(B)  # dS / d log pi^ij(a_j|s), each j

    onehot_own = np.zeros((B, A))
    onehot_own[rows, actions_own] = 1.0
    grad_own = -(d_log_own[:, None] * (onehot_own - p_own)) / B
    grad_antic = np.zeros((K, B, A))
    if neighbour_ratio_on and K:
        onehot_nb = np.zeros((K, B, A))
        np.put_along_axis(onehot_nb, actions_nb[..., None], 1.0, axis=2)
        grad_antic -= (mask * d_log_nb)[..., None] * (onehot_nb - p_antic) / B

    kap = float(np.mean(np.abs(adv)))
    pen_a = pen_o = 0.0
    act_a = act_o = 0.0
    if penalties and K:
        # Eq. 14: the sets where the advantage-driven update widens the gap (indicators, no gradient)
        pi_nb_a = np.take_along_axis(np.asarray(pi_nb, float), actions_nb[..., None], axis=2)[..., 0]
        in_xij = mask & (p_a_nb / pi_nb_a * adv >= adv)
        antic_me_a = np.asarray(antic_of_me, float)[:, rows, actions_own]  # pi^ji(a_i|s), (K, B)
        in_xii = mask & (p_own[rows, actions_own] / antic_me_a * adv >= adv)
        dist_a, g_a = _sq_dist_grad(p_antic, np.asarray(pi_nb, float))  # (K, B), (K, B, A)
        dist_o, g_o = _sq_dist_grad(np.broadcast_to(p_own, (K, B, A)), np.asarray(antic_of_me, float))
        k_own = kap if kappa == "both" else 1.0
        pen_a = kap * rho * float((in_xij * dist_a).sum(axis=0).mean())
        pen_o = k_own * rho_p * float((in_xii * dist_o).sum(axis=0).mean())
        grad_antic += kap * rho * in_xij[..., None] * g_a / B
        grad_own += k_own * rho_p * (in_xii[..., None] * g_o).sum(axis=0) / B
        n_pairs = max(int(mask.sum()), 1)
        act_a, act_o = float(in_xij.sum()) / n_pairs, float(in_xii.sum()) / n_pairs

    surr = float(surrogate.mean())
    terms = ASTerms(objective=surr - pen_a - pen_o, surrogate=surr, penalty_anticipation=pen_a,
                    penalty_own=pen_o, kappa=kap, clip_fraction=float(np.mean(np.abs(xi - 1.0) > clip)),
                    active_anticipation=act_a, active_own=act_o, xi_neighbours=float(xi_nb.mean()))
    return terms, grad_own, grad_antic
