r"""LMF's communication graphs: the weight matrices ``C_t = [c_t(i, j)]`` of Eqs. 13-14.

Every matrix here is doubly stochastic (Assumption 5a: ``1^T C = 1^T``, ``C 1 = 1``) with a positive
diagonal, so Eq. 13 keeps the agents' mean and Theorem 2 applies when the union of ``B``
consecutive graphs is connected (Assumption 4).

- ``"full"``: one federation of everybody, ``c(i, j) = 1 / N_p``.
- ``"fix"`` (LMF-Fix, paper and code): two disjoint federations fixed at the outset, the first
  ``floor(N_p / 2)`` agents and the rest, ``c(i, j) = 1 / |group|`` inside a group.
- ``"dynamic"`` (LMF-Dynamic, our reading of "multiple joint federations"): at every federation
  round ``n_groups`` random federations of ``group_size`` agents are drawn (they may overlap);
  ``C_t`` is the mean of the groups' averaging matrices (identity outside a group).
- ``"ring"`` (the public code's "Dynamic", notes Sec. 1.3: a *fixed* ring): ``c(i, j) = 1 / |S_i|``
  for ``j`` in ``S_i = {i - 2, ..., i + 2} mod N_p``.
- ``"identity"``: no exchange (Eqs. 13 and 14 are then both independent learning).
"""

from __future__ import annotations

import numpy as np

from ...experiments import check_choice, check_int

__all__ = ["GRAPHS", "graph_matrix", "check_doubly_stochastic"]

GRAPHS = ("full", "fix", "dynamic", "ring", "identity")


def _avg(n, members):
    P = np.eye(n)
    m = np.asarray(sorted(set(members)))
    P[np.ix_(m, m)] = 1.0 / len(m)
    return P


def graph_matrix(kind: str, n: int, rng=None, group_size: int = 2, n_groups: int = 2) -> np.ndarray:
    """``C_t`` ``(n, n)`` of graph ``kind`` (see the module docstring); ``rng`` draws "dynamic" groups."""
    kind = check_choice("graph", kind, GRAPHS)
    n = check_int("n", n, min=1)
    if kind == "full":
        return np.full((n, n), 1.0 / n)
    if kind == "identity" or n == 1:
        return np.eye(n)
    if kind == "fix":
        h = n // 2
        return _avg(n, range(h)) @ _avg(n, range(h, n))
    if kind == "ring":
        C = np.zeros((n, n))
        for i in range(n):
            S = {(i + k) % n for k in (-2, -1, 0, 1, 2)}
            for j in S:
                C[i, j] = 1.0 / len(S)
        return C
    group_size = check_int("group_size", group_size, min=2, max=n)
    n_groups = check_int("n_groups", n_groups, min=1)
    rng = np.random.default_rng(rng)
    return np.mean([_avg(n, rng.choice(n, group_size, replace=False)) for _ in range(n_groups)], axis=0)


def check_doubly_stochastic(C, name="C", atol=1e-9) -> np.ndarray:
    """Assumption 5a: non-negative, rows and columns summing to 1; raises ``ValueError`` otherwise."""
    C = np.asarray(C, dtype=np.float64)
    if C.ndim != 2 or C.shape[0] != C.shape[1]:
        raise ValueError(f"{name} must be a square matrix; got shape {C.shape}")
    if (C < -atol).any() or not np.allclose(C.sum(1), 1, atol=atol) or not np.allclose(C.sum(0), 1, atol=atol):
        raise ValueError(f"{name} must be doubly stochastic (Assumption 5a: non-negative, rows and "
                         "columns summing to 1)")
    return C
