r"""Inequity aversion (Hughes et al. 2018), as a reward hook of the learning core.

Agent ``i`` learns from

.. math::

    u_i = r_i - \frac{\alpha}{n_i - 1} \sum_{j \ne i} \max(e_j - e_i, 0)
              - \frac{\beta}{n_i - 1} \sum_{j \ne i} \max(e_i - e_j, 0),
    \qquad e_i^t = \gamma\lambda\, e_i^{t-1} + r_i^t,

with ``e`` the temporally smoothed rewards of the agents ``i`` can see (``n_i`` of them, ``i``
included), reset at every episode start. Both terms are subtracted, as in Hughes et al.; the SSD
code's version adds the advantageous term (its sign error, ``shared/specs`` notes section 3) and
uses the instantaneous rewards, neither of which we copy. The FPF/LMF paper uses this as its "IA"
baseline; the comparison notebook uses it as one of the mechanisms.

Defaults (ours; the papers tune them per game): ``alpha = 5`` (disadvantageous), ``beta = 0.05``
(advantageous), ``smoothing`` :math:`\gamma\lambda` ``= 0.99 * 0.95``.
"""

from __future__ import annotations

import numpy as np

from ..experiments import check_float

__all__ = ["inequity_aversion"]


def inequity_aversion(n_agents: int, alpha: float = 5.0, beta: float = 0.05, smoothing: float = 0.99 * 0.95,
                      visible=None):
    """Reward hook ``r -> u`` (module docstring); keeps the smoothed rewards across rollouts.

    ``visible`` ``(n, n)`` bool: ``visible[i, j]`` if ``i`` sees ``j``'s rewards (default: all);
    an agent that sees nobody else learns from its own reward unchanged.
    """
    alpha = check_float("alpha", alpha, min=0.0)
    beta = check_float("beta", beta, min=0.0)
    smoothing = check_float("smoothing", smoothing, min=0.0, max=1.0)
    n = int(n_agents)
    V = np.ones((n, n), bool) if visible is None else np.asarray(visible, bool).copy()
    if V.shape != (n, n):
        raise ValueError(f"visible must be an (n_agents, n_agents) = ({n}, {n}) bool matrix; got shape {V.shape}")
    np.fill_diagonal(V, False)
    others = np.maximum(V.sum(1), 1).astype(float)  # n_i - 1
    state = {"e": None}

    def hook(rewards, ctx):
        T, E, _ = rewards.shape
        e = np.zeros((E, n)) if state["e"] is None or state["e"].shape[0] != E else state["e"]
        dones = ctx.rollout.dones
        out = np.empty_like(rewards)
        for t in range(T):
            e = smoothing * e + rewards[t]
            gap = e[:, None, :] - e[:, :, None]  # gap[e, i, j] = e_j - e_i
            envy = (np.maximum(gap, 0.0) * V).sum(-1)
            guilt = (np.maximum(-gap, 0.0) * V).sum(-1)
            out[t] = rewards[t] - (alpha * envy + beta * guilt) / others
            e = np.where(dones[t][:, None], 0.0, e)  # a new episode starts after a done
        state["e"] = e
        return out

    return hook
