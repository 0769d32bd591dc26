"""AS's Eq. 16: gradients against finite differences, and plain PPO when there is nothing to share."""

import numpy as np
import pytest

from sharelib.nn.heads import ppo_surrogate
from sharelib.sharing.anticipation import loss as asg


def _batch(seed=0, B=7, K=2, A=3, spread=1.5):
    rng = np.random.default_rng(seed)
    z_own = rng.normal(size=(B, A))
    z_antic = rng.normal(size=(K, B, A))
    a_own = rng.integers(0, A, B)
    a_nb = rng.integers(0, A, (K, B))
    # old log-probs near the current ones, so some ratios are clipped and some are not
    old_own = np.log(asg.softmax(z_own + spread * rng.normal(size=(B, A)) * 0.3))[np.arange(B), a_own]
    old_nb = np.log(np.take_along_axis(asg.softmax(z_antic + 0.3 * rng.normal(size=(K, B, A))),
                                       a_nb[..., None], axis=2)[..., 0])
    pi_nb = asg.softmax(rng.normal(size=(K, B, A)))
    antic_me = asg.softmax(rng.normal(size=(K, B, A)))
    adv = rng.normal(size=B) * 2
    mask = rng.random((K, B)) < 0.7
    return z_own, z_antic, a_own, a_nb, old_own, old_nb, pi_nb, antic_me, adv, mask


def _loss(z_own, z_antic, args, **kw):
    terms, _, _ = asg.objective(z_own, z_antic, *args, **kw)
    return -terms.objective


@pytest.mark.parametrize("kw", [dict(rho=0.0), dict(rho=2.0), dict(rho=1.0, rho_prime=3.0, kappa="first"),
                                dict(rho=1.0, penalties=False, neighbour_ratio_on=False)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradients_match_finite_differences(kw, seed):
    z_own, z_antic, *rest = _batch(seed)
    terms, g_own, g_antic = asg.objective(z_own, z_antic, *rest, **kw)
    h = 1e-6
    for arr, grad in ((z_own, g_own), (z_antic, g_antic)):
        num = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            up, dn = arr.copy(), arr.copy()
            up[idx] += h
            dn[idx] -= h
            zo_u, za_u = (up, z_antic) if arr is z_own else (z_own, up)
            zo_d, za_d = (dn, z_antic) if arr is z_own else (z_own, dn)
            num[idx] = (_loss(zo_u, za_u, rest, **kw) - _loss(zo_d, za_d, rest, **kw)) / (2 * h)
        np.testing.assert_allclose(grad, num, atol=1e-7, rtol=1e-5)


def test_without_neighbours_and_penalty_it_is_ppo():
    z_own, z_antic, a_own, a_nb, old_own, old_nb, pi_nb, antic_me, adv, _ = _batch(3, B=50)
    no_nb = np.zeros(a_nb.shape, bool)
    for kw in (dict(mask=no_nb, rho=5.0), dict(mask=None, rho=0.0, neighbour_ratio_on=False)):
        mask = kw.pop("mask")
        terms, g_own, g_antic = asg.objective(z_own, z_antic, a_own, a_nb, old_own, old_nb, pi_nb, antic_me,
                                              adv, mask, clip=0.2, **kw)
        p = asg.softmax(z_own)
        logp = np.log(p[np.arange(50), a_own])
        loss, dlogp, _kl, clipfrac = ppo_surrogate(logp, old_own, adv, 0.2)
        onehot = np.eye(3)[a_own]
        assert terms.objective == pytest.approx(-loss, rel=1e-12)
        np.testing.assert_allclose(g_own, dlogp[:, None] * (onehot - p), atol=1e-14)
        assert not g_antic.any() and terms.clip_fraction == clipfrac


def test_penalties_are_active_only_where_the_advantage_widens_the_gap():
    # one sample, one neighbour, A > 0: X^ij holds iff pi^ij(a_j) >= pi^jj(a_j)
    z = np.log(np.array([[0.5, 0.5]]))
    for p_antic, active in ((0.7, True), (0.3, False)):
        z_antic = np.log(np.array([[[p_antic, 1 - p_antic]]]))
        terms, _, _ = asg.objective(z, z_antic, np.array([0]), np.array([[0]]), np.log([0.5]), np.log([[p_antic]]),
                                    np.array([[[0.5, 0.5]]]), np.array([[[0.5, 0.5]]]), np.array([1.0]), rho=1.0)
        assert (terms.active_anticipation == 1.0) is active
        expected = 2 * (p_antic - 0.5) ** 2 if active else 0.0
        assert terms.penalty_anticipation == pytest.approx(expected)  # kappa = |A| = 1
        assert terms.active_own == 1.0 and terms.penalty_own == 0.0  # pi^ii equals pi^ji: no gap


def test_bad_weights_are_refused():
    args = _batch(0)
    with pytest.raises(ValueError, match="rho must be"):
        asg.objective(*args, rho=-1.0)
    with pytest.raises(ValueError, match="kappa must be one of"):
        asg.objective(*args, rho=1.0, kappa="neither")
