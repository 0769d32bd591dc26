"""D3C: decentralised, differentiable, dynamic compromise (Gemp et al., "D3C: Reducing the
price of anarchy in multi-agent learning").

What is here
------------
* Loss mixing (Sec. 2.1): a right-stochastic mixing matrix ``A`` (agent i owns row ``A_i`` on
  the simplex), mixed losses ``f^A = A^T f`` (Eq. 1). Budget balance: ``sum(A^T f) = sum(f)``
  because every row sums to one. :func:`init_mixing` gives the paper's start
  ``A_ii = 0.99, A_ij = 0.01 / (n - 1)``.
* The local price-of-anarchy upper bound (Thm. 1, Eq. 7) and the egalitarian bound (Thm. 2,
  Eq. 8) as estimators (:func:`local_poa_bound`, :func:`egalitarian_poa_bound`).
* The first-order update (Eq. 11 with the KL penalty of Eq. 9) by entropic mirror descent on
  each row, every agent updating ``x_i`` and ``A_i`` simultaneously with exact derivatives
  (:func:`d3c_gradient`, :func:`mirror_step`, and the batched kernels behind
  :func:`run_braess` and :func:`run_pd`).
* The zeroth-order variant (Algorithms 1-2) as a learner-agnostic component on plain numpy
  arrays (:class:`ZerothOrderD3C`: ``propose()``, ``mix(rewards)``, ``report(returns)``).
* Baselines: gradient descent without mixing (``A = I``) and fully cooperative agents
  (``A_ij = 1/n``), selected with ``method="gd" | "cooperative" | "d3c"``.

The time derivative in Eq. 11
-----------------------------
Under simultaneous gradient play ``dx_j/dt = -M_j`` with ``M_j = d f^A_j / d x_j =
sum_l A_lj G_lj`` (``G_kj = d f_k / d x_j``), the loss that agent i watches changes as::

    target="mixed"    (Eq. 11 as written):   D_i = d f^A_i/dt = -sum_j H_ij . M_j,  H_ij = sum_k A_ki G_kj
    target="original" (the WSLS prose):       D_i = d f_i/dt   = -sum_j G_ij . M_j

and the exact derivatives with respect to agent i's own row ``A_i = (A_i1, ..., A_in)`` are::

    mixed:    dD_i/dA_im = -( [m == i] sum_j G_ij . M_j + H_im . G_im )
    original: dD_i/dA_im = -|G_im|^2

(``A_im`` enters ``f^A_m`` with coefficient ``f_i``, hence agent m's dynamics; ``A_ii`` also
enters ``f^A_i`` itself.) The surrogate gradient of Eq. 11 is
``[D_i + eps > 0] * dD_i/dA_i`` (the ReLU's subgradient), plus ``nu * dKL(e_i || A_i)/dA_i =
-nu e_i / A_ii``. The paper's ``Delta t`` factor of Eq. 9-10 is absorbed in the learning rate.
Eq. 11 says ``f^A_i``; Sec. 2.7 ("they only shift A_i if their loss increases ... df_i/dt <= 0")
reads like the original loss. ``target="mixed"`` is the default; the notebooks show both.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numba
import numpy as np

from .. import experiments as _ex
from ..diagnostics import warn_if_nonfinite
from ..games.braess import ROUTES, BraessNetwork, braess_losses_grads, paper_network, random_braess_networks
from ..games.prisoners_dilemma import PrisonersDilemma, pd_losses_grads

__all__ = [
    "init_mixing",
    "mixed_losses",
    "mixed_own_grads",
    "loss_time_derivative",
    "d3c_gradient",
    "mirror_step",
    "local_poa_bound",
    "egalitarian_poa_bound",
    "relative_attention",
    "symmetric_mixing",
    "self_weight_from_attention",
    "mixed_braess_equilibria",
    "ZerothOrderD3C",
    "RunResult",
    "run_game",
    "run_braess",
    "run_pd",
    "METHODS",
    "TARGETS",
]

METHODS = ("gd", "d3c", "cooperative")
TARGETS = ("mixed", "original")


# ---------------------------------------------------------------------------------------------
# Mixing matrix and its derivatives (numba kernels + thin numpy wrappers)
# ---------------------------------------------------------------------------------------------


def _check_clip(clip) -> tuple[float, float]:
    """``clip`` as ``(low, high)`` floats with ``low < high`` (infinite bounds allowed, NaN not)."""
    msg = f"clip must be (low, high) with low < high (infinite bounds allowed, e.g. (-5, 5)); got {clip!r}"
    try:
        lo, hi = (float(v) for v in clip)
    except (TypeError, ValueError):
        raise ValueError(msg) from None
    if not lo < hi:  # also refuses NaN
        raise ValueError(msg)
    return lo, hi


def _check_rng(rng):
    """``rng`` for ``numpy.random.default_rng``: a seed (an integer >= 0) is checked by name."""
    if rng is None or isinstance(rng, (np.random.Generator, np.random.BitGenerator, np.random.SeedSequence,
                                       list, tuple, np.ndarray)):
        return rng
    return _ex.check_int("rng", rng, min=0)


def init_mixing(n: int, self_weight: float = 0.99) -> np.ndarray:
    """The paper's initial mixing matrix (Sec. 3): ``A_ii = self_weight``, the rest spread evenly.

    ``self_weight = 0.99`` gives ``A_ij = 0.01 / (n - 1)``. Rows are in the interior of the
    simplex, as entropic mirror descent requires.
    """
    n = _ex.check_int("n", n, min=2)
    self_weight = _ex.check_float("self_weight", self_weight, min=0.0, max=1.0, min_inclusive=False,
                                  max_inclusive=False)
    A = np.full((n, n), (1.0 - self_weight) / (n - 1))
    np.fill_diagonal(A, self_weight)
    return A


def mixed_losses(A, f) -> np.ndarray:
    """``f^A = A^T f`` (Sec. 2.1, Eq. 1): agent i's loss mixes column i of A."""
    return np.asarray(A).T @ np.asarray(f)


@numba.njit(cache=True)
def _own_grads(A, G, M):
    n = A.shape[0]
    d = G.shape[2]
    for j in range(n):
        for q in range(d):
            s = 0.0
            for l in range(n):
                s += A[l, j] * G[l, j, q]
            M[j, q] = s


@numba.njit(cache=True, error_model="numpy")
def _d3c_grad(A, G, eps, nu, target, grad, M, D, H):
    """Kernel of :func:`d3c_gradient`. target: 0 = mixed, 1 = original.

    Writes grad (n, n), M (n, d), D (n,); H (n, n, d) is a workspace (``H_ij = d f^A_i / d x_j``).
    """
    n = A.shape[0]
    d = G.shape[2]
    _own_grads(A, G, M)
    if target == 0:
        # H_i = sum_k A_ki G_k, one small matrix product (A^T G over the flattened (j, q) axis)
        H2 = H.reshape(n, n * d)
        G2 = G.reshape(n, n * d)
        for i in range(n):
            for jq in range(n * d):
                H2[i, jq] = 0.0
        for k in range(n):
            for i in range(n):
                a = A[k, i]
                if a != 0.0:
                    for jq in range(n * d):
                        H2[i, jq] += a * G2[k, jq]
    for i in range(n):
        # s_i = sum_j G_ij . M_j  (the original loss's time derivative is -s_i)
        s = 0.0
        for j in range(n):
            for q in range(d):
                s += G[i, j, q] * M[j, q]
        if target == 0:
            Di = 0.0
            for j in range(n):
                for q in range(d):
                    Di -= H[i, j, q] * M[j, q]
            D[i] = Di
        else:
            D[i] = -s
        active = 1.0 if D[i] + eps > 0.0 else 0.0
        for m in range(n):
            if target == 0:
                hg = 0.0
                for q in range(d):
                    hg += H[i, m, q] * G[i, m, q]
                dD = -hg
                if m == i:
                    dD -= s
            else:
                gg = 0.0
                for q in range(d):
                    gg += G[i, m, q] * G[i, m, q]
                dD = -gg
            grad[i, m] = active * dD
        grad[i, i] -= nu / A[i, i]


@numba.njit(cache=True)
def _mirror_step(A, grad, lr, lo, hi):
    """Entropic mirror descent on each row: ``A_i <- softmax(clip(log A_i - lr grad_i, lo, hi))``."""
    rows, n = A.shape
    z = np.empty(n)
    for i in range(rows):
        mx = -np.inf
        for m in range(n):
            v = np.log(A[i, m]) - lr * grad[i, m]
            if v < lo:
                v = lo
            if v > hi:
                v = hi
            z[m] = v
            if v > mx:
                mx = v
        s = 0.0
        for m in range(n):
            # keep every entry > 0 (log A stays finite): at most e^-700 below the largest
            if z[m] < mx - 700.0:
                z[m] = mx - 700.0
        for m in range(n):
            z[m] = np.exp(z[m] - mx)
            s += z[m]
        for m in range(n):
            A[i, m] = z[m] / s


def mixed_own_grads(A, G) -> np.ndarray:
    """``M_j = d f^A_j / d x_j = sum_l A_lj G_lj`` for every agent j (the x-update direction)."""
    A = np.asarray(A, dtype=np.float64)
    G = np.asarray(G, dtype=np.float64)
    M = np.empty((A.shape[0], G.shape[2]))
    _own_grads(A, G, M)
    return M


def _target_code(target):
    return TARGETS.index(_ex.check_choice("target", target, TARGETS))


def d3c_gradient(A, G, *, eps: float = 0.0, nu: float = 0.0, target: str = "mixed"):
    """Surrogate gradient of Eq. 11 (+ the KL term of Eq. 9) for every row of ``A``.

    Parameters
    ----------
    A : (n, n) mixing matrix (rows on the simplex).
    G : (n, n, d) loss Jacobian, ``G[k, j] = d f_k / d x_j``.
    eps : the epsilon of Eq. 11 (a positive value keeps agents exploring mixtures while the
        watched loss decreases slower than ``eps``).
    nu : weight of ``KL(e_i || A_i)`` (Eq. 9).
    target : ``"mixed"`` (``f^A_i``, Eq. 11) or ``"original"`` (``f_i``); see the module docstring.

    Returns
    -------
    grad : (n, n), row i = ``[D_i + eps > 0] dD_i/dA_i - nu e_i / A_ii``.
    D : (n,) time derivative of the watched loss under gradient play.
    """
    A = np.ascontiguousarray(A, dtype=np.float64)
    G = np.ascontiguousarray(G, dtype=np.float64)
    n = A.shape[0]
    grad = np.empty((n, n))
    M = np.empty((n, G.shape[2]))
    D = np.empty(n)
    H = np.empty((n, n, G.shape[2]))
    _d3c_grad(A, G, float(eps), float(nu), _target_code(target), grad, M, D, H)
    return grad, D


def loss_time_derivative(A, G, target: str = "mixed") -> np.ndarray:
    """``d f^A_i / dt`` (or ``d f_i / dt``) under simultaneous gradient play ``dx/dt = -F(x)``."""
    return d3c_gradient(A, G, target=target)[1]


def mirror_step(A, grad, lr: float, clip=(-np.inf, np.inf)) -> np.ndarray:
    """One entropic-mirror-descent step on every row (returns a new matrix; rows stay on the simplex).

    ``clip = (l, h)`` clips the logits as in Algorithm 1 (``l = -5, h = 5`` in the RL domains).
    """
    lo, hi = _check_clip(clip)
    A = np.array(A, dtype=np.float64)
    _mirror_step(A, np.asarray(grad, dtype=np.float64), float(lr), lo, hi)
    return A


def _bound_terms(caller, A, f, G, mu):
    """What Eqs. 7 and 8 are made of: mixed losses f^A (checked positive), their time derivative
    under gradient play, each agent's gradient of its mixed loss, and ``mu`` (checked > 0)."""
    fA = mixed_losses(A, f)
    if np.any(fA <= 0):
        raise ValueError(f"{caller} requires positive mixed losses f^A")
    mu = _ex.check_float("mu", mu, min=0.0, min_inclusive=False)
    return fA, loss_time_derivative(A, G, "mixed"), mixed_own_grads(A, G), mu


def local_poa_bound(A, f, G, *, dt: float, mu: float) -> float:
    """Upper bound on the local utilitarian price of anarchy (Thm. 1, Eq. 7).

    ``max_i { 1 + dt * ReLU( d/dt log f^A_i + |d f^A_i / d x_i|^2 / (mu f^A_i) ) }``, with the
    time derivative taken under gradient play. Requires positive mixed losses.
    """
    fA, D, M, mu = _bound_terms("local_poa_bound", A, f, G, mu)
    z = D / fA + (M**2).sum(axis=1) / (mu * fA)
    return float(np.max(1.0 + dt * np.maximum(z, 0.0)))


def egalitarian_poa_bound(A, f, G, *, dt: float, mu: float) -> float:
    """Upper bound on the local egalitarian price of anarchy (Thm. 2, Eq. 8).

    ``1 + dt * ReLU( d/dt log max_i f^A_i + sum_i |d f^A_i / d x_i|^2 / (mu max_i f^A_i) )``;
    the derivative of the max is that of the (first) argmax agent.
    """
    fA, D, M, mu = _bound_terms("egalitarian_poa_bound", A, f, G, mu)
    k = int(np.argmax(fA))
    z = D[k] / fA[k] + (M**2).sum() / (mu * fA[k])
    return float(1.0 + dt * max(z, 0.0))


def relative_attention(A) -> np.ndarray:
    """``ln(A_ii / mean_{j != i} A_ij)`` per agent (Figs. 6-8; > 0 selfish, < 0 other-regarding)."""
    A = np.asarray(A)
    n = A.shape[-1]
    diag = np.diagonal(A, axis1=-2, axis2=-1)
    off = (A.sum(axis=-1) - diag) / (n - 1)
    return np.log(diag / off)


# ---------------------------------------------------------------------------------------------
# Zeroth-order D3C (Algorithms 1-2): a learner-agnostic component
# ---------------------------------------------------------------------------------------------


class ZerothOrderD3C:
    """Zeroth-order D3C (Algorithm 1 with the trial helper of Algorithm 2) for n agents.

    It works on plain numpy arrays and knows nothing about the learners. Per training step::

        A_tilde = d3c.propose()          # (n, n) mixture to use now (perturbed rows)
        r_mixed = d3c.mix(r)             # r_mixed[i] = sum_j A_tilde[j, i] r[j]  (Algorithm 3)
        ... each learner i trains on r_mixed[i] and returns a scalar return g_i ...
        d3c.report(g)                    # (n,) returns of this step; updates finished trials

    ``reward_matrix()`` gives ``A~^T`` for reward hooks written as ``r'_i = sum_j M_ij r_j``
    (``sharelib.learners.mix_rewards``).

    Each agent runs its own trials, asynchronously: a trial draws a direction ``a_i`` uniformly
    on the unit sphere of R^n, perturbs the row in logit space
    ``A~_i = softmax(log A_i + delta a_i)`` and lasts ``tau ~ U{tau_min..tau_max}`` reports.
    At the end of a trial with mean return ``G`` (previous trial's mean ``G_b``), the one-shot
    estimate ``rho_i = ReLU((G_b - G) / tau + eps)`` gives the step
    ``A_i = softmax(clip(log A_i - lr (rho_i a_i - nu e_i / A_i), l, h))``.

    Reading notes: the first trial is compared against ``G_b = 0`` as in Algorithm 1; the
    ``n / delta`` factor of the one-shot gradient is absorbed in ``lr`` as in Algorithm 1;
    which return the learner reports (mixed or original) is the caller's choice (Algorithm 3
    outputs "return over episode"; we pass the return of the mixed reward in our examples).
    The logit clip acts on ``log A_i`` itself, so with ``l = -5`` and ``n >= 3`` the initial
    off-diagonal logits ``log(0.01 / (n - 1)) < -5`` are raised to -5 at the first update even
    when the gradient is zero (a literal reading of Algorithm 1).

    Parameters
    ----------
    n_agents : number of agents (>= 2).
    lr : eta_A. delta : perturbation size. nu : KL weight. eps : epsilon of Eq. 11.
    tau_min, tau_max : trial length range (reports), inclusive.
    clip : (l, h) logit clipping, (-5, 5) in the paper's RL domains.
    self_weight : initial A_ii (0.99 in the paper).
    rng : seed or numpy Generator.
    """

    def __init__(self, n_agents: int, *, lr: float = 0.1, delta: float = 0.5, nu: float = 0.0,
                 eps: float = 0.0, tau_min: int = 10, tau_max: int = 20, clip=(-5.0, 5.0),
                 self_weight: float = 0.99, rng=None):
        self.n = _ex.check_int("n_agents", n_agents, min=2)
        self.lr = _ex.check_float("lr", lr, min=0.0)
        self.delta = _ex.check_float("delta", delta, min=0.0, min_inclusive=False)
        self.nu = _ex.check_float("nu", nu, min=0.0)
        self.eps = _ex.check_float("eps", eps)
        self.tau_min = _ex.check_int("tau_min", tau_min, min=1)
        self.tau_max = _ex.check_int("tau_max", tau_max, min=self.tau_min)
        self.clip = _check_clip(clip)
        self.rng = np.random.default_rng(_check_rng(rng))
        self.A = init_mixing(self.n, self_weight)
        self.A_trial = self.A.copy()
        self.direction = np.zeros((self.n, self.n))
        self.tau = np.zeros(self.n, dtype=np.int64)
        self.t_begin = np.zeros(self.n, dtype=np.int64)
        self.G = np.zeros(self.n)
        self.G_begin = np.zeros(self.n)
        self.t = 0
        self.n_updates = np.zeros(self.n, dtype=np.int64)
        for i in range(self.n):
            self._new_trial(i)

    def _new_trial(self, i: int) -> None:
        """Algorithm 2 for agent i."""
        a = self.rng.standard_normal(self.n)
        a /= np.linalg.norm(a)
        self.direction[i] = a
        z = np.log(self.A[i]) + self.delta * a
        z = np.exp(z - z.max())
        self.A_trial[i] = z / z.sum()
        self.tau[i] = self.rng.integers(self.tau_min, self.tau_max + 1)
        self.t_begin[i] = self.t
        self.G_begin[i] = self.G[i]

    def propose(self) -> np.ndarray:
        """The mixture every agent uses now (a copy of the perturbed rows ``A~``)."""
        return self.A_trial.copy()

    def reward_matrix(self) -> np.ndarray:
        """``A~^T``: the matrix ``M`` with ``r'_i = sum_j M_ij r_j`` (row convention).

        :func:`sharelib.learners.mix_rewards` uses that row convention, so a learner mixes its
        rewards for D3C with ``mix_rewards(lambda ctx: d3c.reward_matrix())``.
        """
        return self.A_trial.T.copy()

    def mix(self, rewards) -> np.ndarray:
        """Mixed rewards ``A~^T r`` (Algorithm 3: agent i trains on ``sum_j A~_ji r_j``)."""
        r = np.asarray(rewards, dtype=np.float64)
        if r.shape[0] != self.n:
            raise ValueError(f"rewards must have {self.n} entries on axis 0; got shape {r.shape}")
        return np.tensordot(self.A_trial, r, axes=(0, 0))

    def report(self, returns) -> np.ndarray:
        """Record one step's returns ``g`` (n,); update agents whose trial ends. Returns their mask."""
        g = np.asarray(returns, dtype=np.float64)
        if g.shape != (self.n,):
            raise ValueError(f"returns must have shape ({self.n},); got {g.shape}")
        self.t += 1
        elapsed = self.t - self.t_begin
        self.G = (self.G * (elapsed - 1) + g) / elapsed
        done = elapsed == self.tau
        for i in np.flatnonzero(done):
            rho = max((self.G_begin[i] - self.G[i]) / self.tau[i] + self.eps, 0.0)
            grad = rho * self.direction[i]
            grad[i] -= self.nu / self.A[i, i]
            z = np.clip(np.log(self.A[i]) - self.lr * grad, *self.clip)
            z = np.exp(z - z.max())
            self.A[i] = z / z.sum()
            self.n_updates[i] += 1
            self._new_trial(i)
        return done


# ---------------------------------------------------------------------------------------------
# Batched first-order runs (all runs of a figure advance together)
# ---------------------------------------------------------------------------------------------

_GAME_BRAESS = 0
_GAME_PD = 1


@numba.njit(cache=True)
def _losses_grads(game, gp, inc, x, f, G):
    if game == _GAME_BRAESS:
        E = inc.shape[1]
        braess_losses_grads(x, gp[:E], gp[E:2 * E], inc, f, G)
    else:
        pd_losses_grads(x, gp[0], f, G)


@numba.njit(cache=True, parallel=True)
def _run_batch(game, gparams, inc, x0, A0, steps, lr_x, lr_A, eps, nu, target, learn_A,
               clip_lo, clip_hi, record_every, xstar,
               tot, fmax, f_rec, att_rec, dist_rec, x_out, A_out):
    R, n, d = x0.shape
    for r in numba.prange(R):
        x = x0[r].copy()
        A = A0[r].copy()
        gp = gparams[r]
        f = np.empty(n)
        G = np.empty((n, n, d))
        M = np.empty((n, d))
        D = np.empty(n)
        grad = np.empty((n, n))
        H = np.empty((n, n, d))
        k = 0
        for t in range(steps + 1):
            _losses_grads(game, gp, inc, x, f, G)
            if t % record_every == 0:
                s = 0.0
                mx = -np.inf
                for i in range(n):
                    s += f[i]
                    if f[i] > mx:
                        mx = f[i]
                    f_rec[r, k, i] = f[i]
                    off = 0.0
                    for j in range(n):
                        if j != i:
                            off += A[i, j]
                    att_rec[r, k, i] = np.log(A[i, i] / (off / (n - 1))) if off > 0.0 else np.inf
                tot[r, k] = s
                fmax[r, k] = mx
                if xstar.shape[0] == n:
                    dd = 0.0
                    for i in range(n):
                        for q in range(d):
                            dd += (x[i, q] - xstar[i, q]) ** 2
                    dist_rec[r, k] = np.sqrt(dd)
                k += 1
            if t == steps:
                break
            if learn_A:
                _d3c_grad(A, G, eps, nu, target, grad, M, D, H)
            else:
                _own_grads(A, G, M)
            for i in range(n):
                for q in range(d):
                    x[i, q] -= lr_x * M[i, q]
            if learn_A:
                _mirror_step(A, grad, lr_A, clip_lo, clip_hi)
        x_out[r] = x
        A_out[r] = A


@dataclass
class RunResult:
    """Recorded statistics of a batch of runs (``K`` records, every ``record_every`` steps).

    total, longest : (runs, K) total loss and largest single loss.
    losses, attention : (runs, K, n) per-agent losses and ``ln(A_ii / mean_j A_ij)``.
    distance : (runs, K) distance of x to ``xstar`` (NaN when no target was given).
    x, A : final strategies (runs, n, d) and mixing matrices (runs, n, n).
    steps : (K,) training step of each record. optimal_total : (runs,) optimal total loss.
    """

    total: np.ndarray
    longest: np.ndarray
    losses: np.ndarray
    attention: np.ndarray
    distance: np.ndarray
    x: np.ndarray
    A: np.ndarray
    steps: np.ndarray
    optimal_total: np.ndarray
    params: dict = field(default_factory=dict)

    @property
    def ratio(self) -> np.ndarray:
        """Ratio to optimal (price of anarchy along training): total / optimal total."""
        return self.total / self.optimal_total[:, None]


def _run_game(game: str, gparams, x0, *, method: str = "d3c", steps: int = 1000, lr_x: float = 0.01,
              lr_A: float = 0.01, eps: float = 0.0, nu: float = 0.0, target: str = "mixed",
              self_weight: float = 0.99, clip=(-np.inf, np.inf), record_every: int = 10,
              xstar=None, n_routes: int = 3, optimal_total=None) -> RunResult:
    """Run a batch of first-order learners on one of the games (low-level; see run_braess / run_pd).

    ``method``: ``"gd"`` (A = I, plain gradient descent), ``"cooperative"`` (A_ij = 1/n fixed)
    or ``"d3c"`` (A from :func:`init_mixing`, updated by Eq. 11 with entropic mirror descent).
    ``clip = (low, high)`` clips the logits of ``A`` (infinite bounds: no clipping).

    A run whose losses or strategies become non-finite (e.g. ``lr_x`` far too large) emits a
    :class:`sharelib.diagnostics.NonFiniteWarning` naming the first recorded step where it happened.
    """
    game_id = {"braess": _GAME_BRAESS, "pd": _GAME_PD}[_ex.check_choice("game", game, ("braess", "pd"))]
    method = _ex.check_choice("method", method, METHODS)
    steps = _ex.check_int("steps", steps, min=0)
    record_every = _ex.check_int("record_every", record_every, min=1)
    lr_x = _ex.check_float("lr_x", lr_x, min=0.0)
    lr_A = _ex.check_float("lr_A", lr_A, min=0.0)
    nu = _ex.check_float("nu", nu, min=0.0)
    eps = _ex.check_float("eps", eps)
    clip_lo, clip_hi = _check_clip(clip)
    x0 = np.array(x0, dtype=np.float64, order="C")
    R, n, d = x0.shape
    gparams = np.array(np.broadcast_to(np.asarray(gparams, dtype=np.float64),
                                       (R, np.asarray(gparams).shape[-1])), dtype=np.float64, order="C")
    if method == "gd":
        A0 = np.eye(n)
    elif method == "cooperative":
        A0 = np.full((n, n), 1.0 / n)
    else:
        A0 = init_mixing(n, self_weight)
    A0 = np.array(np.broadcast_to(A0, (R, n, n)), dtype=np.float64, order="C")
    inc = ROUTES[:n_routes].copy() if game == "braess" else np.zeros((1, 1))
    xs = np.zeros((0, 0)) if xstar is None else np.array(xstar, dtype=np.float64, order="C")
    K = steps // record_every + 1
    tot = np.empty((R, K))
    fmax = np.empty((R, K))
    f_rec = np.empty((R, K, n))
    att = np.empty((R, K, n))
    dist = np.full((R, K), np.nan)
    x_out = np.empty_like(x0)
    A_out = np.empty((R, n, n))
    _run_batch(game_id, gparams, inc, x0, A0, steps, lr_x, lr_A, eps, nu, _target_code(target),
               method == "d3c", clip_lo, clip_hi, record_every, xs,
               tot, fmax, f_rec, att, dist, x_out, A_out)
    opt = np.full(R, np.nan) if optimal_total is None else np.broadcast_to(
        np.asarray(optimal_total, dtype=np.float64), (R,)).copy()
    return RunResult(tot, fmax, f_rec, att, dist, x_out, A_out,
                     np.arange(K) * record_every, opt,
                     dict(game=game, method=method, steps=steps, lr_x=lr_x, lr_A=lr_A, eps=eps, nu=nu,
                          target=target))


@functools.wraps(_run_game)
def run_game(*args, **kw) -> RunResult:
    res = _run_game(*args, **kw)
    _warn_nonfinite_run("run_game", res)
    return res


def _warn_nonfinite_run(caller, res):
    """One warning if a batch of runs diverged (checked once, after the kernel returned)."""
    p = res.params
    hint = f"lr_x={p['lr_x']}, lr_A={p['lr_A']} (a learning rate too large for the game diverges)"
    if not warn_if_nonfinite(f"{caller}: total loss", res.total, res.steps, axis=1, hint=hint, stacklevel=3):
        for what, arr in (("strategies x", res.x), ("mixing matrix A", res.A)):
            if warn_if_nonfinite(f"{caller}: {what}", arr.reshape(1, -1), [int(res.steps[-1])], axis=0, hint=hint,
                                 stacklevel=3):
                break


def run_braess(networks, *, method: str = "d3c", n_runs: int | None = None, seed: int = 0,
               init_scale: float = 1.0, **kw) -> RunResult:
    """Batched runs on Braess networks: one network (repeated ``n_runs`` times) or a list (one run each).

    Initial logits are i.i.d. ``N(0, init_scale^2)`` ("random strategies", Fig. 3), drawn from
    ``numpy.random.default_rng(seed)`` (``seed``: any integer >= 0; ``init_scale >= 0``, 0 starts
    every run from uniform strategies). Other keywords as for :func:`run_game`; a diverging run
    emits a :class:`sharelib.diagnostics.NonFiniteWarning`.
    """
    seed = _ex.check_int("seed", seed, min=0)
    init_scale = _ex.check_float("init_scale", init_scale, min=0.0)
    if isinstance(networks, BraessNetwork):
        n_runs = _ex.check_int("n_runs", 1 if n_runs is None else n_runs, min=1)
        networks = [networks] * n_runs
    networks = list(networks)
    shortcut = {net.shortcut for net in networks}
    if len(shortcut) != 1:
        raise ValueError("networks must all have, or all lack, the shortcut")
    n_routes = networks[0].n_routes
    n = networks[0].n_drivers
    rng = np.random.default_rng(seed)
    x0 = init_scale * rng.standard_normal((len(networks), n, n_routes))
    gparams = np.stack([net.params for net in networks])
    cache = {}
    opt = []
    for net in networks:
        key = id(net)
        if key not in cache:
            cache[key] = float(net.summary()[0])  # jitted enumeration
        opt.append(cache[key])
    res = _run_game("braess", gparams, x0, method=method, n_routes=n_routes, optimal_total=np.array(opt), **kw)
    _warn_nonfinite_run("run_braess", res)
    return res


def run_pd(pd: PrisonersDilemma, *, method: str = "d3c", n_runs: int = 1, seed: int = 0,
           init_scale: float = 1.0, **kw) -> RunResult:
    """Batched runs on the convex prisoner's dilemma; initial x i.i.d. ``N(0, init_scale^2)``.

    Records the distance to the unique social optimum ``x_jm = c / n`` (Fig. 5, right).
    ``seed``: any integer >= 0; ``init_scale >= 0`` (0: every run starts at the Nash equilibrium,
    the origin). Other keywords as for :func:`run_game`; a diverging run (e.g. ``lr_x`` far too
    large) emits a :class:`sharelib.diagnostics.NonFiniteWarning` with the first step where the
    total loss was non-finite.
    """
    seed = _ex.check_int("seed", seed, min=0)
    init_scale = _ex.check_float("init_scale", init_scale, min=0.0)
    n_runs = _ex.check_int("n_runs", n_runs, min=1)
    rng = np.random.default_rng(seed)
    x0 = init_scale * rng.standard_normal((n_runs,) + pd.shape)
    res = _run_game("pd", np.array([pd.c]), x0, method=method, xstar=pd.optimum(),
                    optimal_total=pd.optimal_total(), **kw)
    _warn_nonfinite_run("run_pd", res)
    return res


# ---------------------------------------------------------------------------------------------
# The true local price of anarchy on a small game (Definition 1, Eq. 4) for checking Eq. 7
# ---------------------------------------------------------------------------------------------


def local_price_of_anarchy(game, x, A, *, dt: float, n_grid: int = 21) -> float:
    """Local price of anarchy of Definition 1 (Eq. 4) by enumeration on a grid (NaN at a diverged
    state, where the losses overflow and no equilibrium can be enumerated).

    Our reading of "the game constrained to the line": player i chooses ``tau_i`` in
    ``[0, dt]`` and plays ``x_i - tau_i F_i(x)`` with ``F_i = d f^A_i / d x_i``. The numerator
    is the worst total mixed loss over the pure Nash equilibria of that restricted game on a
    grid of ``n_grid`` values per player; the denominator is the minimal total mixed loss over
    the same grid of joint profiles (so the ratio is >= 1). Cost: ``n_grid ** n`` loss
    evaluations, so use small games (n <= 3).
    """
    x = np.asarray(x, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    n = x.shape[0]
    n_grid = _ex.check_int("n_grid", n_grid, min=2)
    if n_grid**n > 200_000:
        raise ValueError(f"n_grid ** n must be <= 200000 (n={n}); got n_grid={n_grid}")
    _, G = game.losses_and_grads(x)
    F = mixed_own_grads(A, G)
    taus = np.linspace(0.0, dt, n_grid)
    shape = (n_grid,) * n
    fA = np.empty(shape + (n,))
    for idx in np.ndindex(*shape):
        y = x - taus[list(idx)][:, None] * F
        fA[idx] = mixed_losses(A, game.losses(y))
    total = fA.sum(axis=-1)
    nash = np.ones(shape, dtype=bool)
    for i in range(n):
        best = fA[..., i].min(axis=i, keepdims=True)
        nash &= fA[..., i] <= best + 1e-12 * np.abs(best).max()
    if not nash.any() or not np.isfinite(total).all():  # a diverged state (losses overflowed)
        return float("nan")
    return float(total[nash].max() / total.min())


# ---------------------------------------------------------------------------------------------
# Figure-level experiments (what the notebooks call) and their presets
# ---------------------------------------------------------------------------------------------

_BRAESS_COMMON = dict(steps=3000, lr_x=0.01, lr_A=0.03, eps=0.0, nu=0.0, target="mixed",
                      record_every=25, init_scale=1.0, seed=0)
_ex.register_presets(
    "d3c.braess",
    quick=dict(n_runs=40, n_networks=40, sens_runs=20, **_BRAESS_COMMON),
    paper=dict(n_runs=1000, n_networks=1000, sens_runs=200, **_BRAESS_COMMON),
)
_PD_COMMON = dict(n_players=10, c=1.0, steps=500, lr_x=0.05, lr_A=0.1, eps=1.0, nu=0.0, target="mixed",
                  record_every=5, init_scale=1.0, seed=0, single_n=2, single_steps=400,
                  sweep_n=[2, 3, 5, 10], sweep_c=[0.5, 1.0, 2.0])
_ex.register_presets(
    "d3c.pd",
    quick=dict(n_runs=40, sweep_runs=10, **_PD_COMMON),
    paper=dict(n_runs=1000, sweep_runs=100, **_PD_COMMON),
)
_METHOD_COMMON = dict(n_players=2, c=1.0, steps=300, lr_x=0.05, lr_A=0.1, eps=1.0, nu=0.0, mu=1.0, dt=0.05,
                      n_grid=41, seed=0, zo_steps=6000, zo_lr=2.0, zo_delta=1.0, zo_tau_min=5, zo_tau_max=10)
_ex.register_presets("d3c.method", quick=dict(_METHOD_COMMON), paper=dict(_METHOD_COMMON))


def _learner_kw(P):
    return dict(steps=P["steps"], lr_x=P["lr_x"], lr_A=P["lr_A"], eps=P["eps"], nu=P["nu"], target=P["target"],
                record_every=P["record_every"])


def braess_experiment(shortcut: bool, P: dict, methods=("gd", "d3c")) -> dict:
    """Fig. 3a (``shortcut=False``) or 3b (``True``): GD and D3C (and optionally the fully
    cooperative baseline), ``P["n_runs"]`` runs each, all from the same random logits (same seed).
    """
    net = paper_network(shortcut)
    return {m: run_braess(net, method=m, n_runs=P["n_runs"], seed=P["seed"], init_scale=P["init_scale"],
                          **_learner_kw(P)) for m in methods}


def braess_sensitivity(P: dict, lr_As=(0.01, 0.03, 0.1, 0.3), epss=(0.0, 10.0), targets=TARGETS) -> list[dict]:
    """D3C on the paper's network with AB over a grid of ``lr_A`` x ``eps`` x ``target``
    (``P["sens_runs"]`` runs each, the other settings from ``P``): final ratio to optimal."""
    net = paper_network(True)
    rows = []
    for target in targets:
        for eps in epss:
            for lr_A in lr_As:
                kw = _learner_kw(P)
                kw.update(lr_A=lr_A, eps=eps, target=target)
                r = run_braess(net, method="d3c", n_runs=P["sens_runs"], seed=P["seed"], init_scale=P["init_scale"], **kw)
                ratio = r.ratio[:, -1]
                rows.append(dict(target=target, eps=eps, lr_A=lr_A, mean=float(ratio.mean()), std=float(ratio.std()),
                                 longest=float(np.median(r.longest[:, -1]))))
    return rows


def symmetric_mixing(n: int, self_weight: float) -> np.ndarray:
    """``A_ii = self_weight``, ``A_ij = (1 - self_weight) / (n - 1)``; 1/n is full cooperation, 1 is ``A = I``."""
    n = _ex.check_int("n", n, min=2)
    self_weight = _ex.check_float("self_weight", self_weight, min=0.0, max=1.0)
    A = np.full((n, n), (1.0 - self_weight) / (n - 1))
    np.fill_diagonal(A, self_weight)
    return A


def self_weight_from_attention(attention, n: int) -> np.ndarray:
    """The self-weight ``A_ii`` of a row whose off-diagonal entries are equal, from its relative
    attention ``a = ln(A_ii / mean_{j != i} A_ij)``: ``A_ii = e^a / (e^a + n - 1)`` (exact for equal
    off-diagonals, the mean-weight reading otherwise)."""
    n = _ex.check_int("n", n, min=2)
    e = np.exp(np.asarray(attention, dtype=np.float64))
    return e / (e + n - 1)


def mixed_braess_equilibria(net: BraessNetwork, self_weights) -> dict:
    """Pure Nash equilibria of the mixed Braess game under :func:`symmetric_mixing` (why Fig. 3b's
    D3C stops above 1).

    For each self-weight ``s`` the drivers minimise ``f^A_i = sum_j A_ji f_j`` (Eq. 1) with
    ``A = symmetric_mixing(n, s)``; the pure equilibria come from enumerating the ``R^n``
    profiles (:meth:`BraessNetwork.pure_nash` with ``mixing``). Returns ``self_weight`` (S,),
    ``best`` and ``worst`` (S,): the smallest and largest total commute of an equilibrium over the
    optimal total (NaN where none exists), and ``classes``: per ``s`` the sorted route counts
    ``(drivers on route 0, 1, ...)`` of its equilibria.
    """
    s = np.asarray(self_weights, dtype=np.float64).ravel()
    if s.size == 0 or not np.all((s >= 0) & (s <= 1)):
        raise ValueError("self_weights must be a non-empty sequence of numbers in [0, 1]")
    opt = net.optimum()[0]
    best, worst, classes = np.full(s.size, np.nan), np.full(s.size, np.nan), []
    for k, w in enumerate(s):
        eq = net.pure_nash(symmetric_mixing(net.n_drivers, w))
        if eq:
            totals = [t for t, _ in eq]
            best[k], worst[k] = min(totals) / opt, max(totals) / opt
        classes.append(sorted({tuple(int(c) for c in np.bincount(p, minlength=net.n_routes)) for _, p in eq}))
    return dict(self_weight=s, best=best, worst=worst, classes=classes)


def random_braess_experiment(P: dict) -> dict:
    """Fig. 2b: GD and D3C on ``P["n_networks"]`` random Braess networks (one run each)."""
    nets, acceptance = random_braess_networks(P["n_networks"], np.random.default_rng([P["seed"], 2]))
    out = {m: run_braess(nets, method=m, seed=P["seed"], init_scale=P["init_scale"], **_learner_kw(P))
           for m in ("gd", "d3c")}
    out["networks"] = nets
    out["acceptance"] = acceptance
    return out


def pd_experiment(P: dict, n_players=None, c=None, n_runs=None, methods=("gd", "d3c"), **over) -> dict:
    """Fig. 5: GD and D3C on the convex PD with ``n_players`` and ``c`` (defaults from ``P``)."""
    pd = PrisonersDilemma(P["n_players"] if n_players is None else n_players, P["c"] if c is None else c)
    kw = _learner_kw(P)
    kw.update(over)
    res = {m: run_pd(pd, method=m, n_runs=P["n_runs"] if n_runs is None else n_runs, seed=P["seed"],
                     init_scale=P["init_scale"], **kw) for m in methods}
    res["game"] = pd
    return res


def pd_single_run(P: dict) -> RunResult:
    """Fig. 6: one D3C run on the PD with ``P["single_n"]`` players, recorded every step."""
    pd = PrisonersDilemma(P["single_n"], P["c"])
    kw = _learner_kw(P)
    kw.update(steps=P["single_steps"], record_every=1)
    return run_pd(pd, method="d3c", n_runs=1, seed=P["seed"], init_scale=P["init_scale"], **kw)


def pd_sweep(P: dict, progress: bool = False) -> list[dict]:
    """Appendix-F.1-style sweep: final ratio to optimal of GD and D3C over ``n`` and ``c``."""
    rows = []
    grid = [(n, c) for n in P["sweep_n"] for c in P["sweep_c"]]
    it = grid
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(grid, desc="PD sweep")
    for n, c in it:
        res = pd_experiment(P, n_players=n, c=c, n_runs=P["sweep_runs"])
        pd = res["game"]
        rows.append(dict(n=n, c=c, ours=pd.price_of_anarchy(), paper=pd.paper_price_of_anarchy(),
                         gd_mean=float(res["gd"].ratio[:, -1].mean()), gd_std=float(res["gd"].ratio[:, -1].std()),
                         d3c_mean=float(res["d3c"].ratio[:, -1].mean()),
                         d3c_std=float(res["d3c"].ratio[:, -1].std())))
    return rows


# ---------------------------------------------------------------------------------------------
# Single-trajectory helpers for the method notebook (small games, plain numpy)
# ---------------------------------------------------------------------------------------------


def first_order_trajectory(game, x0, *, method: str = "d3c", steps: int = 300, lr_x: float = 0.05,
                           lr_A: float = 0.1, eps: float = 0.0, nu: float = 0.0, target: str = "mixed",
                           mu: float = 1.0, dt: float = 0.05, n_grid: int = 21, ratio_every: int = 10,
                           self_weight: float = 0.99) -> dict:
    """One first-order run recorded step by step, with the Eq. 7 / Eq. 8 bounds at every step
    and the true local price of anarchy (:func:`local_price_of_anarchy`) every ``ratio_every``
    steps. For small games (the grid costs ``n_grid ** n`` loss evaluations).

    Returns a dict of arrays: ``f`` (T+1, n), ``A`` (T+1, n, n), ``D`` (T+1, n) (time derivative
    of the watched loss), ``active`` (T+1, n) (ReLU gate of Eq. 11), ``bound``, ``egal_bound``
    (T+1,), ``local_ratio`` (T+1,, NaN between evaluations).
    """
    method = _ex.check_choice("method", method, METHODS)
    steps = _ex.check_int("steps", steps, min=0)
    ratio_every = _ex.check_int("ratio_every", ratio_every, min=1)
    x = np.array(x0, dtype=np.float64)
    n = x.shape[0]
    A = {"gd": np.eye(n), "cooperative": np.full((n, n), 1.0 / n)}.get(method)
    A = init_mixing(n, self_weight) if A is None else A
    out = {k: [] for k in ("f", "A", "D", "active", "bound", "egal_bound", "local_ratio", "x")}
    for t in range(steps + 1):
        f, G = game.losses_and_grads(x)
        grad, D = d3c_gradient(A, G, eps=eps, nu=nu, target=target)
        out["f"].append(f)
        out["A"].append(A.copy())
        out["x"].append(x.copy())
        out["D"].append(D)
        out["active"].append(D + eps > 0)
        out["bound"].append(local_poa_bound(A, f, G, dt=dt, mu=mu))
        out["egal_bound"].append(egalitarian_poa_bound(A, f, G, dt=dt, mu=mu))
        out["local_ratio"].append(local_price_of_anarchy(game, x, A, dt=dt, n_grid=n_grid)
                                  if t % ratio_every == 0 else np.nan)
        if t == steps:
            break
        x = x - lr_x * mixed_own_grads(A, G)
        if method == "d3c":
            A = mirror_step(A, grad, lr_A)
    out = {k: np.array(v) for k, v in out.items()}
    warn_if_nonfinite("first_order_trajectory: losses", out["f"], hint=f"lr_x={lr_x}, lr_A={lr_A}")
    return out


def zeroth_order_demo(game, x0, *, steps: int = 6000, lr_x: float = 0.05, returns: str = "mixed", rng=None,
                      **zo_kw) -> dict:
    """Zeroth-order D3C (Algorithm 1) driving gradient learners on a differentiable game.

    Each step every agent takes one gradient step on its mixed loss under the proposed mixture
    ``A~`` (the "learner" L_i of Algorithm 3, here exact gradient play) and reports the return
    ``g_i = -f^{A~}_i`` (minus its mixed loss, ``returns="mixed"``) or ``g_i = -f_i``
    (``returns="original"``). Only the scalar returns reach
    :class:`ZerothOrderD3C`; it never sees gradients. Returns per-step losses ``f`` (T+1, n) and
    mixing matrices ``A`` (T+1, n, n).
    """
    steps = _ex.check_int("steps", steps, min=1)
    returns = _ex.check_choice("returns", returns, ("mixed", "original"))
    x = np.array(x0, dtype=np.float64)
    n = x.shape[0]
    zo = ZerothOrderD3C(n, rng=rng, **zo_kw)
    fs, As = [], []
    for t in range(steps + 1):
        At = zo.propose()
        f, G = game.losses_and_grads(x)
        fs.append(f)
        As.append(zo.A.copy())
        if t == steps:
            break
        x = x - lr_x * mixed_own_grads(At, G)
        f_new = game.losses(x)
        zo.report(-mixed_losses(At, f_new) if returns == "mixed" else -f_new)
    fs = np.array(fs)
    warn_if_nonfinite("zeroth_order_demo: losses", fs, hint=f"lr_x={lr_x}")
    return {"f": fs, "A": np.array(As), "x": x, "n_updates": zo.n_updates.copy()}
