"""CoLight-style neighbour attention (sharelib.nn.colight): its gradient against finite
differences, padding, and that the attention weights only see an agent's neighbourhood."""

import numpy as np
import pytest

from sharelib.nn.colight import NeighbourAttention


def _setup(seed=0):
    rng = np.random.default_rng(seed)
    layer = NeighbourAttention(6, dv=5, dout=4)
    p = layer.init(seed) + 0.05 * rng.normal(size=layer.n_params)  # nonzero biases
    H = rng.normal(size=(3, 5, 6))
    nbr = np.array([[0, 1, -1], [1, 0, 2], [2, 1, 3], [3, 2, 4], [4, 3, -1]])  # a path, ends padded
    return layer, p, H, nbr, rng


def test_gradient_matches_finite_differences():
    layer, p, H, nbr, rng = _setup()
    dout = rng.normal(size=(3, 5, 4))

    def f(pp, HH):
        return float((layer.forward(pp, HH, nbr)[0] * dout).sum())

    out, cache = layer.forward(p, H, nbr)
    assert (out > 0).any() and (out == 0).any()  # both sides of the output ReLU
    g, dH = layer.backward(p, cache, dout)
    h = 1e-6
    fd = np.array([(f(p + h * e, H) - f(p - h * e, H)) / (2 * h) for e in np.eye(layer.n_params)])
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)
    fdH = np.zeros_like(H)
    for idx in np.ndindex(H.shape):
        Hp, Hm = H.copy(), H.copy()
        Hp[idx] += h
        Hm[idx] -= h
        fdH[idx] = (f(p, Hp) - f(p, Hm)) / (2 * h)
    np.testing.assert_allclose(dH, fdH, rtol=1e-5, atol=1e-7)
    for name, a in layer.views(g).items():
        assert np.abs(a).max() > 0, name  # every parameter gets a gradient


def test_attention_stays_in_the_neighbourhood():
    layer, p, H, nbr, _ = _setup(1)
    out = layer.forward(p, H, nbr)[0]
    H2 = H.copy()
    H2[:, 4] += 10.0  # agent 4 is not a neighbour of 0, 1 or 2
    out2 = layer.forward(p, H2, nbr)[0]
    np.testing.assert_array_equal(out[:, :3], out2[:, :3])
    assert not np.array_equal(out[:, 3:], out2[:, 3:])
    alpha = layer.forward(p, H, nbr)[1][8]
    np.testing.assert_allclose(alpha.sum(-1), 1.0)
    assert (alpha[:, [0, 4], 2] == 0).all()  # padded slots


def test_bad_shapes_are_named():
    layer, p, H, nbr, _ = _setup()
    with pytest.raises(ValueError, match="H must"):
        layer.forward(p, H[..., :3], nbr)
    with pytest.raises(ValueError, match="nbr must"):
        layer.forward(p, H, nbr[:3])
    with pytest.raises(ValueError, match="nbr must"):
        layer.forward(p, H, np.where(nbr < 0, -2, nbr))
    with pytest.raises(ValueError, match="params"):
        layer.forward(p[:-1], H, nbr)
    with pytest.raises(ValueError, match="dv"):
        NeighbourAttention(3, dv=0)
