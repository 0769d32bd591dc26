"""sharelib.nn: gradients against central finite differences, Adam/SGD against hand-computed
references, initialisation schemes, parameter views and validation."""

import numpy as np
import pytest

from sharelib.nn import (
    MLP,
    SGD,
    Adam,
    categorical_entropy,
    categorical_logp,
    clip_grad_norm,
    gaussian_entropy,
    gaussian_logp,
    huber_loss,
    pg_surrogate,
    ppo_surrogate,
    sample_categorical,
    softmax,
    value_loss,
)


def fd_grad(f, x, eps=1e-6):
    """Central finite differences of a scalar function of an array."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        fp = f(x)
        x[i] = old - eps
        fm = f(x)
        x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


@pytest.mark.parametrize("activation", ["tanh", "relu", "linear"])
@pytest.mark.parametrize("sizes", [(3, 2), (4, 7, 3), (2, 5, 6, 4)])
def test_mlp_backward_matches_finite_differences(activation, sizes):
    rng = np.random.default_rng(1)
    net = MLP(sizes, activation)
    p = net.init(rng, out_gain=1.0) + 0.05 * rng.standard_normal(net.n_params)  # nonzero biases
    x = rng.standard_normal((6, sizes[0]))
    c = rng.standard_normal((6, sizes[-1]))  # loss = sum(c * out) + 0.5 sum(out^2)

    def loss_p(pp):
        y = net.forward(pp, x)
        return np.sum(c * y) + 0.5 * np.sum(y * y)

    def loss_x(xx):
        y = net.forward(p, xx)
        return np.sum(c * y) + 0.5 * np.sum(y * y)

    y, cache = net.forward_cache(p, x)
    g, dx = net.backward(p, cache, c + y, need_dx=True)
    np.testing.assert_allclose(g, fd_grad(loss_p, p), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dx, fd_grad(loss_x, x), rtol=1e-5, atol=1e-7)


def test_backward_accumulates_into_given_grad():
    net = MLP((3, 4, 2))
    p = net.init(0)
    x = np.ones((2, 3))
    _, cache = net.forward_cache(p, x)
    g1 = net.backward(p, cache, np.ones((2, 2)))
    g2 = net.backward(p, cache, np.ones((2, 2)), grad=g1.copy())
    np.testing.assert_allclose(g2, 2 * g1)


def test_forward_matches_numpy_reference_and_views():
    rng = np.random.default_rng(2)
    net = MLP((3, 5, 2), "tanh")
    p = net.init(rng) + 0.1
    x = rng.standard_normal((4, 3))
    (W0, b0), (W1, b1) = net.views(p)
    ref = np.tanh(x @ W0 + b0) @ W1 + b1
    np.testing.assert_allclose(net.forward(p, x), ref, rtol=1e-12)
    assert net.n_params == 3 * 5 + 5 + 5 * 2 + 2 == p.size
    W0[0, 0] = 123.0  # views write through to the flat vector
    assert p[0] == 123.0


def test_population_forward_agents_matches_per_agent_forward():
    rng = np.random.default_rng(3)
    net = MLP((4, 8, 3), "relu")
    pop = net.init(rng, n=3)
    assert pop.shape == (3, net.n_params)
    obs = rng.standard_normal((5, 3, 4)).astype(np.float32)
    out = net.forward_agents(pop, obs)
    for i in range(3):
        np.testing.assert_allclose(out[:, i], net.forward(pop[i], obs[:, i]), rtol=1e-12)
    shared = net.forward_agents(pop[:1], obs, shared=True)
    for i in range(3):
        np.testing.assert_allclose(shared[:, i], net.forward(pop[0], obs[:, i]), rtol=1e-12)


def test_orthogonal_init_is_orthogonal_scaled_and_seeded():
    net = MLP((6, 4, 8, 2), "relu")
    p = net.init(seed=7, out_gain=0.01)
    np.testing.assert_array_equal(p, net.init(seed=7, out_gain=0.01))
    assert not np.array_equal(p, net.init(seed=8, out_gain=0.01))
    (W0, b0), (W1, b1), (W2, b2) = net.views(p)
    np.testing.assert_allclose(W0.T @ W0, 2.0 * np.eye(4), atol=1e-12)  # 6x4: orthonormal columns, gain sqrt2
    np.testing.assert_allclose(W1 @ W1.T, 2.0 * np.eye(4), atol=1e-12)  # 4x8: orthonormal rows
    np.testing.assert_allclose(W2.T @ W2, 1e-4 * np.eye(2), atol=1e-14)
    assert not b0.any() and not b1.any() and not b2.any()


def test_glorot_init_bounds():
    net = MLP((50, 30), "tanh")
    W, b = net.views(net.init(seed=0, scheme="glorot"))[0]
    a = np.sqrt(6.0 / 80)
    assert np.abs(W).max() <= a and np.abs(W).max() > 0.9 * a
    assert abs(W.std() - a / np.sqrt(3)) < 0.05 * a


def test_categorical_head_gradients():
    rng = np.random.default_rng(4)
    z = rng.standard_normal((5, 4))
    a = rng.integers(0, 4, 5)
    logp, d = categorical_logp(z, a)
    np.testing.assert_allclose(np.exp(logp), softmax(z)[np.arange(5), a], rtol=1e-12)
    np.testing.assert_allclose(d, fd_grad(lambda zz: categorical_logp(zz, a)[0].sum(), z), atol=1e-8)
    H, dH = categorical_entropy(z)
    p = softmax(z)
    np.testing.assert_allclose(H, -(p * np.log(p)).sum(1), rtol=1e-12)
    np.testing.assert_allclose(dH, fd_grad(lambda zz: categorical_entropy(zz)[0].sum(), z), atol=1e-8)
    # uniform logits: maximal entropy log A
    assert categorical_entropy(np.zeros((1, 4)))[0][0] == pytest.approx(np.log(4))


def test_gaussian_head_gradients():
    rng = np.random.default_rng(5)
    m = rng.standard_normal((4, 3))
    s = 0.3 * rng.standard_normal(3)
    a = rng.standard_normal((4, 3))
    logp, dm, ds = gaussian_logp(m, s, a)
    ref = (-0.5 * ((a - m) / np.exp(s)) ** 2 - s - 0.5 * np.log(2 * np.pi)).sum(1)
    np.testing.assert_allclose(logp, ref, rtol=1e-12)
    np.testing.assert_allclose(dm, fd_grad(lambda mm: gaussian_logp(mm, s, a)[0].sum(), m), atol=1e-8)
    # d logp_b / d s: per-sample rows; summing over b gives the FD of the summed logp
    np.testing.assert_allclose(ds.sum(0), fd_grad(lambda ss: gaussian_logp(m, ss, a)[0].sum(), s), atol=1e-8)
    H, dHs = gaussian_entropy(s)
    assert H == pytest.approx(np.sum(s + 0.5 * np.log(2 * np.pi * np.e)))
    np.testing.assert_allclose(dHs, fd_grad(lambda ss: gaussian_entropy(ss)[0], s), atol=1e-8)


def test_value_huber_pg_and_ppo_surrogate_gradients():
    rng = np.random.default_rng(6)
    v, R = rng.standard_normal(7), rng.standard_normal(7)
    np.testing.assert_allclose(value_loss(v, R)[1], fd_grad(lambda vv: value_loss(vv, R)[0], v), atol=1e-8)
    big = 3 * rng.standard_normal(7)
    np.testing.assert_allclose(huber_loss(big, R, 1.0)[1], fd_grad(lambda x: huber_loss(x, R, 1.0)[0], big), atol=1e-7)
    adv = rng.standard_normal(7)
    lp = rng.standard_normal(7)
    np.testing.assert_allclose(pg_surrogate(lp, adv)[1], fd_grad(lambda x: pg_surrogate(x, adv)[0], lp), atol=1e-8)
    old = lp + np.array([0.05, -0.05, 0.5, -0.5, 0.01, 0.3, -0.3])  # some ratios clipped, none on the kink
    loss, d, kl, cf = ppo_surrogate(lp, old, adv, 0.2)
    np.testing.assert_allclose(d, fd_grad(lambda x: ppo_surrogate(x, old, adv, 0.2)[0], lp), atol=1e-7)
    r = np.exp(lp - old)
    assert loss == pytest.approx(-np.mean(np.minimum(r * adv, np.clip(r, 0.8, 1.2) * adv)))
    assert cf == pytest.approx(np.mean(np.abs(r - 1) > 0.2))
    assert kl >= 0


def test_mlp_with_categorical_policy_loss_end_to_end():
    """The chain rule through head and network, against finite differences of the full loss."""
    rng = np.random.default_rng(7)
    net = MLP((3, 6, 4), "tanh")
    p = net.init(rng, out_gain=1.0)
    x = rng.standard_normal((8, 3))
    a = rng.integers(0, 4, 8)
    adv = rng.standard_normal(8)

    def loss(pp):
        z = net.forward(pp, x)
        logp, _ = categorical_logp(z, a)
        H, _ = categorical_entropy(z)
        return -np.mean(adv * logp) - 0.1 * np.mean(H)

    z, cache = net.forward_cache(p, x)
    logp, dlogp = categorical_logp(z, a)
    H, dH = categorical_entropy(z)
    dz = -(adv / 8)[:, None] * dlogp - 0.1 / 8 * dH
    np.testing.assert_allclose(net.backward(p, cache, dz), fd_grad(loss, p), atol=1e-8)


def test_adam_matches_hand_computed_reference():
    """Two Adam steps on f(p) = 0.5 * (p - c)^2 written out from Kingma & Ba, Algorithm 1."""
    c = np.array([1.0, -2.0])
    p = np.array([0.5, 0.5])
    opt = Adam(p.shape, lr=0.1, betas=(0.9, 0.999), eps=1e-8)
    # step 1: g = p - c = (-0.5, 2.5); m = 0.1 g; v = 0.001 g^2; mhat = g; vhat = g^2
    # p1 = p - 0.1 * g / (|g| + 1e-8)
    g1 = p - c
    p1 = p - 0.1 * g1 / (np.abs(g1) + 1e-8)
    opt.step(p, g1.copy())
    np.testing.assert_allclose(p, p1, rtol=1e-14)
    np.testing.assert_allclose(p, [0.6, 0.4], rtol=1e-7)
    # step 2 by hand
    g2 = p - c
    m = 0.9 * 0.1 * g1 + 0.1 * g2
    v = 0.999 * 0.001 * g1**2 + 0.001 * g2**2
    mhat, vhat = m / (1 - 0.9**2), v / (1 - 0.999**2)
    p2 = p1 - 0.1 * mhat / (np.sqrt(vhat) + 1e-8)
    opt.step(p, g2.copy())
    np.testing.assert_allclose(p, p2, rtol=1e-13)


def test_adam_population_rows_are_independent_and_converge():
    opt = Adam((2, 1), lr=0.05)
    P = np.array([[3.0], [-3.0]])
    for _ in range(500):
        opt.step(P, 2 * (P - np.array([[1.0], [-1.0]])))
    np.testing.assert_allclose(P, [[1.0], [-1.0]], atol=1e-2)


def test_sgd_momentum_reference():
    p = np.array([1.0])
    opt = SGD(p.shape, lr=0.1, momentum=0.9)
    opt.step(p, np.array([1.0]))  # u = 1, p = 0.9
    opt.step(p, np.array([1.0]))  # u = 1.9, p = 0.71
    assert p[0] == pytest.approx(0.71)


def test_clip_grad_norm_per_row():
    g = np.array([[3.0, 4.0], [0.3, 0.4]])
    norms = clip_grad_norm(g, 1.0)
    np.testing.assert_allclose(norms, [5.0, 0.5])
    np.testing.assert_allclose(g, [[0.6, 0.8], [0.3, 0.4]], rtol=1e-10)
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm(g, 0.0)


def test_sample_categorical_frequencies():
    logits = np.log(np.array([[[0.2, 0.5, 0.3]]]))
    rng = np.random.default_rng(0)
    u = rng.random((20000, 1))
    acts, lp = sample_categorical(np.repeat(logits, 20000, axis=0), u)
    freq = np.bincount(acts[:, 0], minlength=3) / 20000
    np.testing.assert_allclose(freq, [0.2, 0.5, 0.3], atol=0.015)
    np.testing.assert_allclose(np.exp(lp[:, 0]), np.array([0.2, 0.5, 0.3])[acts[:, 0]])


def test_validation_messages():
    with pytest.raises(ValueError, match="sizes"):
        MLP((3,))
    with pytest.raises(ValueError, match="activation"):
        MLP((3, 2), "sigmoid")
    net = MLP((3, 2))
    with pytest.raises(ValueError, match="x must have shape"):
        net.forward(net.init(0), np.ones((2, 4)))
    with pytest.raises(ValueError, match="params"):
        net.forward(np.ones(3), np.ones((2, 3)))
    with pytest.raises(ValueError, match="scheme"):
        net.init(0, scheme="he")
    with pytest.raises(ValueError, match="lr"):
        Adam((2,), lr=0)


def test_bias_mask_marks_biases():
    net = MLP((3, 4, 2))
    p = np.arange(net.n_params, dtype=float)
    mask = net.bias_mask()
    (W0, b0), (W1, b1) = net.views(p)
    np.testing.assert_array_equal(np.sort(p[mask]), np.sort(np.concatenate([b0, b1])))
    assert mask.sum() == 6


def test_kernel_tanh_matches_numpy():
    net = MLP((1, 1, 1), "tanh")
    (W0, b0), (W1, b1) = net.views(p := np.zeros(net.n_params))
    W0[0, 0], W1[0, 0] = 1.0, 1.0  # output = tanh(x)
    x = np.concatenate([np.linspace(-25, 25, 20001), [0.0, 1e-300, -1e-8, 1e-3]])[:, None]
    np.testing.assert_allclose(net.forward(p, x)[:, 0], np.tanh(x[:, 0]), rtol=0, atol=5e-15)


# ------------------------------------------------------------------------------ float32 mode
# Finite-difference checks above stay in float64; float32 is checked against float64 with
# tolerances a few hundred float32 ulp wide, far below what any wrong formula would produce.
def test_kernel_tanh_float32_matches_numpy():
    net = MLP((1, 1, 1), "tanh", dtype="float32")
    p = np.zeros(net.n_params, np.float32)
    (W0, _), (W1, _) = net.views(p)
    W0[0, 0], W1[0, 0] = 1.0, 1.0  # output = tanh(x)
    x = np.concatenate([np.linspace(-25, 25, 200001), [0.0, 1e-30, -1e-8, 1e-3, 8.9, 9.1]])
    y = net.forward(p, x[:, None].astype(np.float32))[:, 0]
    assert y.dtype == np.float32
    ref = np.tanh(x.astype(np.float32).astype(np.float64))
    np.testing.assert_allclose(y, ref, rtol=0, atol=4e-7)  # float32 spacing near 1 is 6e-8
    np.testing.assert_allclose(y, ref, rtol=4e-7, atol=1e-37)  # relative, also for tiny x
    assert np.abs(y).max() <= 1.0
    z = net.forward(p, np.array([[np.nan], [np.inf], [-np.inf]], np.float32))[:, 0]
    assert np.isnan(z[0]) and z[1] == 1.0 and z[2] == -1.0


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_float32_forward_backward_agree_with_float64(activation):
    rng = np.random.default_rng(5)
    sizes = (30, 64, 64, 4)
    n64, n32 = MLP(sizes, activation), MLP(sizes, activation, dtype="float32")
    p64 = n64.init(rng, out_gain=1.0) + 0.05 * rng.standard_normal(n64.n_params)
    p32 = p64.astype(np.float32)
    x = rng.standard_normal((256, sizes[0]))
    y64, c64 = n64.forward_cache(p64, x)
    y32, c32 = n32.forward_cache(p32, x)
    assert y32.dtype == np.float32 and c32.dtype == np.float32
    np.testing.assert_allclose(y32, y64, rtol=0, atol=2e-5 * np.abs(y64).max())
    dout = rng.standard_normal(y64.shape)
    g64, dx64 = n64.backward(p64, c64, dout, need_dx=True)
    g32, dx32 = n32.backward(p32, c32, dout, need_dx=True)
    assert g32.dtype == np.float32 and dx32.dtype == np.float32
    np.testing.assert_allclose(g32, g64, rtol=0, atol=2e-5 * np.abs(g64).max())
    np.testing.assert_allclose(dx32, dx64, rtol=0, atol=2e-5 * np.abs(dx64).max())
    # the check can fail: a 1% error in one output gradient is far outside the tolerance
    bad = dout.copy()
    bad[0] *= 1.01
    g_bad = n32.backward(p32, c32, bad)
    assert np.abs(g_bad - g64).max() > 2e-5 * np.abs(g64).max()


def test_float32_init_adam_and_validation():
    n64, n32 = MLP((5, 8, 3)), MLP((5, 8, 3), dtype=np.float32)
    assert n32.dtype == "float32" and n64.dtype == "float64"
    p32, p64 = n32.init(3, n=2), n64.init(3, n=2)
    assert p32.dtype == np.float32
    np.testing.assert_array_equal(p32, p64.astype(np.float32))  # same draws, rounded
    with pytest.raises(ValueError, match="dtype must be one of"):
        MLP((2, 2), dtype="float16")
    with pytest.raises(ValueError, match="dtype must be one of"):
        MLP((2, 2), dtype="bogus")
    with pytest.raises(ValueError, match="grad must be a C-contiguous float32"):
        _, cache = n32.forward_cache(p32[0], np.ones((2, 5)))
        n32.backward(p32[0], cache, np.ones((2, 3)), grad=np.zeros(n32.n_params))
    rng = np.random.default_rng(0)
    a64, a32 = Adam(p64.shape, lr=1e-2), Adam(p32.shape, lr=1e-2, dtype="float32")
    assert a32.m.dtype == np.float32
    for _ in range(20):
        g = rng.standard_normal(p64.shape)
        a64.step(p64, g)
        a32.step(p32, g.astype(np.float32))
    assert p32.dtype == np.float32
    np.testing.assert_allclose(p32, p64, rtol=0, atol=1e-5)
