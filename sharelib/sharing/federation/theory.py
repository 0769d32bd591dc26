r"""Theorems 1 and 2 made visible on quadratics with known constants (Dong et al., AAAI 2025).

Theorem 1 (FPF): ``J_i^ego(theta) = -|theta - a_i|^2 / 2`` (L = 1; gradient diversity
``sigma^2 = mean_i |a_i - a_bar|^2``, Assumption 3), ``J^uti(omega) = -|omega - a_bar|^2 / 2``,
``J^ega(omega_bar) = -|omega_bar - b|^2 / 2``. One round of Algorithm 1: each agent maximises
Eq. 5 (closed form, plus a perturbation of squared norm ``nu``: the "till |grad|^2 <= nu" stop,
Assumption 2's noise), participants upload (Eq. 10), Eq. 11, then lines 18-19. Measured: the
running mean ``(1/T) sum_t |grad F(omega_t)|^2`` of Eq. 6's gradient. Bound: Theorem 1 (a) with
its constants written out (the O() taken with constant 1), ``Delta_F := max_t F_t - F_0`` (the
theorem's ``F(omega_0) - F(omega_T)`` with the sign of a maximisation) and, as Lemma 1 is not in
our copy of the paper, ``delta^2 := nu / lambda_u^2`` (our reading).

Theorem 2 (LMF, Eq. 13): ``J_i^ego`` quadratic with gradients clipped to norm ``C_L``
(Assumption 6 holds exactly), ``alpha_t = alpha_0 / (t + 1)^beta`` and a time-varying graph
alternating two perfect matchings of weight 1/2 (doubly stochastic, ``epsilon = 1/2``, the union
of ``B = 2`` consecutive graphs is a ring: Assumptions 4-5). Measured: ``max_i |theta_bar_T -
theta_i,T|^2``. Bound: the theorem's ingredients with explicit constants, from the transition-matrix
bound of Nedic & Ozdaglar (2009) that defines the same ``eps_bar = (1 - eps^{(N_p - 1) B})^{1 /
((N_p - 1) B)}``: ``|Phi(k, s)_ij - 1/N_p| <= Gamma eps_bar^{k - s}``, ``Gamma = 2 (1 + eps^{-B0}) /
(1 - eps^{B0})``, ``B0 = (N_p - 1) B``, giving ``|theta_i,T - theta_bar_T| <= Gamma eps_bar^{T-1}
sum_j |theta_j,0| + N_p Gamma C_L sum_{s <= T-2} alpha_s eps_bar^{T-2-s} + 2 alpha_{T-1} C_L``.
"""

from __future__ import annotations

import numpy as np

from ...experiments import check_float, check_int

__all__ = ["theorem1_run", "theorem1_constants", "theorem2_run"]


def theorem1_constants(n, n_p, lambda_u, lambda_e, alpha, eta, L=1.0):
    """Theorem 1's conditions and coefficients: returns dict(kappa, c1, ok)."""
    g = 8 * (lambda_e + L) ** 2
    if lambda_u <= 2 * np.sqrt(2) * (lambda_e + L):
        raise ValueError(f"Theorem 1 needs lambda_u > 2 sqrt(2) (lambda_e + L) = {2 * np.sqrt(2) * (lambda_e + L):.3g}")
    kappa = alpha * eta * (lambda_u + lambda_e + L)
    ratio = (n / n_p - 1) / (n - 1) if n > 1 else 0.0
    c1 = ratio * g / (lambda_u ** 2 - g) + 1
    if kappa * c1 >= 1 / 3:
        raise ValueError(f"Theorem 1 needs kappa * c1 < 1/3; got {kappa * c1:.3g}: lower alpha or eta")
    return dict(kappa=kappa, c1=c1, ratio=ratio, g=g)


def theorem1_run(T=2000, n=10, n_p=5, d=5, lambda_u=5.0, lambda_e=0.1, alpha=0.05, eta=0.5,
                 nu=1e-4, spread=1.0, seed=0):
    """FPF on quadratics (module docstring); returns measured running mean of |grad F|^2, the bound."""
    T, n, n_p, d = (check_int(k, v, min=1) for k, v in (("T", T), ("n", n), ("n_p", n_p), ("d", d)))
    if n_p > n:
        raise ValueError(f"n_p must be an integer in [1, {n}]; got {n_p}")
    nu = check_float("nu", nu, min=0, min_inclusive=False)
    c = theorem1_constants(n, n_p, lambda_u, lambda_e, alpha, eta)
    rng = np.random.default_rng(seed)
    a = rng.normal(scale=spread, size=(n, d))
    a_bar = a.mean(0)
    b = rng.normal(size=d)
    sigma2 = float(((a - a_bar) ** 2).sum(1).mean())
    w = np.zeros(d)
    wb = np.zeros(d)
    theta = np.zeros((n, d))
    part = np.arange(n_p)
    gn, F = np.empty(T), np.empty(T)
    for t in range(T):
        # local maximisation of Eq. 5, stopped nu-accurately
        star = (a + lambda_u * w + lambda_e * wb) / (1 + lambda_u + lambda_e)
        noise = rng.normal(size=(n, d))
        noise *= np.sqrt(nu) / (1 + lambda_u + lambda_e) / np.linalg.norm(noise, axis=1, keepdims=True)
        theta = star + noise
        grad = -(w - a_bar) - lambda_u * (w - theta.mean(0)) - lambda_e * (w - wb)
        gn[t] = grad @ grad
        F[t] = -0.5 * ((w - a_bar) ** 2).sum() - lambda_u / (2 * n) * ((w - theta) ** 2).sum() \
            - lambda_e / 2 * ((w - wb) ** 2).sum()
        up = w - alpha * lambda_u * (w - theta[part])  # Eq. 10
        w = (1 - eta) * w + eta * up.mean(0)  # Eq. 11
        w = w + eta * alpha * (-(w - a_bar)) - eta * alpha * lambda_e * (w - wb)  # Alg. 1 line 18
        wb = wb + alpha * (-(wb - b))  # line 19 (a quadratic has no entropy term)
    measured = np.cumsum(gn) / np.arange(1, T + 1)
    k, c1, ratio, g = c["kappa"], c["c1"], c["ratio"], c["g"]
    delta2 = nu / lambda_u ** 2
    Delta = max(float(np.max(F) - F[0]), 0.0)
    ts = np.arange(1, T + 1)
    first = Delta / (alpha * eta / 2 * (1 - 3 * k * c1)) / ts
    second = (lambda_u ** 2 * delta2 * (1 + 3 * k) + 3 * k * ratio * 2 * lambda_u ** 2 * sigma2 / (lambda_u ** 2 - g)) \
        / (1 - 3 * k * c1)
    gap_b = ((theta - w) ** 2).sum(1).mean()
    return dict(measured=measured, grad_sq=gn, bound=first + second, floor=second, sigma2=sigma2,
                Delta_F=Delta, kappa=k, c1=c1, consensus_gap=gap_b,
                gap_bound=measured[-1] + 2 * delta2 + 4 * sigma2 / (lambda_u ** 2 - g))


def _matching(n, phase):
    C = np.eye(n)
    for i in range(phase, n + phase - 1, 2):
        j, k = i % n, (i + 1) % n
        C[j, j] = C[k, k] = C[j, k] = C[k, j] = 0.5
    return C


def theorem2_run(T=3000, n_p=4, d=3, alpha0=None, beta=0.75, C_L=1.0, seed=0):
    """LMF (Eq. 13) on clipped quadratics over alternating matchings; measured gap and bound per T."""
    T, n_p, d = (check_int(k, v, min=1) for k, v in (("T", T), ("n_p", n_p), ("d", d)))
    if n_p < 2 or n_p % 2:
        raise ValueError(f"n_p must be an even integer >= 2 (perfect matchings); got {n_p}")
    beta = check_float("beta", beta, min=0.5, max=1, min_inclusive=False, max_inclusive=False)
    C_L = check_float("C_L", C_L, min=0, min_inclusive=False)
    a_max = 1.0 / (n_p * (2 * C_L + 1))
    alpha0 = 0.99 * a_max if alpha0 is None else check_float("alpha0", alpha0, min=0, max=a_max,
                                                               min_inclusive=False, max_inclusive=False)
    rng = np.random.default_rng(seed)
    a = rng.normal(scale=3.0, size=(n_p, d))
    theta = rng.normal(size=(n_p, d))
    eps, B = 0.5, 2
    B0 = (n_p - 1) * B
    eps_bar = (1 - eps ** B0) ** (1 / B0)
    Gamma = 2 * (1 + eps ** -B0) / (1 - eps ** B0)
    s0 = np.linalg.norm(theta, axis=1).sum()
    gap = np.empty(T)
    bound = np.empty(T)
    alphas = alpha0 / np.arange(1, T + 1) ** beta
    conv = 0.0  # sum_{s <= t-2} alpha_s eps_bar^{t-2-s}, updated recursively
    for t in range(T):
        g = a - theta
        nrm = np.linalg.norm(g, axis=1, keepdims=True)
        g = g * np.minimum(1.0, C_L / np.maximum(nrm, 1e-300))
        theta = _matching(n_p, t % 2) @ theta + alphas[t] * g  # Eq. 13
        Tn = t + 1
        gap[t] = ((theta - theta.mean(0)) ** 2).sum(1).max()
        if Tn >= 2:
            conv = conv * eps_bar + alphas[Tn - 2]
        b = Gamma * eps_bar ** (Tn - 1) * s0 + n_p * Gamma * C_L * (conv if Tn >= 2 else 0) + 2 * alphas[Tn - 1] * C_L
        bound[t] = b ** 2
    ts = np.arange(1, T + 1)
    return dict(gap=gap, bound=bound, rate=ts ** -beta + eps_bar ** ts, eps_bar=eps_bar, Gamma=Gamma,
                alpha0=alpha0, alphas=alphas)
