"""sharelib.nn.attention (DGN's Q-network): gradients of one relation layer and of the whole
network against central finite differences, attention properties, float32 agreement, validation."""

import numpy as np
import pytest

from sharelib.nn.attention import DGNNet, relation_backward, relation_forward
from test_nn import fd_grad  # central finite differences, shared with the MLP's tests


def random_graph(rng, B, n, k):
    """Neighbourhoods with the agent itself in slot 0 and k - 1 distinct others."""
    out = np.empty((B, n, k), np.int64)
    for b in range(B):
        for i in range(n):
            others = [j for j in range(n) if j != i]
            out[b, i] = [i, *rng.choice(others, k - 1, replace=False)]
    return out


def rel_params(rng, D, HD, scale=0.5):
    shapes = [(D, HD), (HD,), (D, HD), (HD,), (D, HD), (HD,), (HD, D), (D,)]
    return [scale * rng.standard_normal(s) for s in shapes]


def test_relation_layer_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    B, n, k, D, nh, dh = 2, 5, 3, 6, 2, 3
    H = rng.standard_normal((B, n, D))
    nbr = random_graph(rng, B, n, k)
    ps = rel_params(rng, D, nh * dh)
    W = rng.standard_normal((B, n, D))
    out, cache = relation_forward(ps, H, nbr, nh, dh)
    grads, dH = relation_backward(cache, W, nh, dh)
    for m in range(len(ps)):
        def f(a, m=m):
            q = list(ps)
            q[m] = a
            return float((relation_forward(q, H, nbr, nh, dh)[0] * W).sum())
        np.testing.assert_allclose(grads[m], fd_grad(f, ps[m]), atol=1e-7, rtol=1e-5)
    np.testing.assert_allclose(dH, fd_grad(lambda h: float((relation_forward(ps, h, nbr, nh, dh)[0] * W).sum()), H),
                               atol=1e-7, rtol=1e-5)
    # a wrong gradient would be caught: the check is not vacuous
    assert np.abs(grads[0]).max() > 1e-3 and np.abs(dH).max() > 1e-3


def test_relation_layer_attention_is_a_convex_combination_of_neighbour_values():
    """With W_o = I (HD = D) and positive values, the layer output is the attention-weighted mean of
    the neighbours' values: it lies between their min and max, and with k = 1 it is the own value."""
    rng = np.random.default_rng(1)
    B, n, D = 1, 4, 4
    H = rng.random((B, n, D))
    ps = rel_params(rng, D, D)
    ps[4], ps[5], ps[6], ps[7] = np.eye(D), np.zeros(D), np.eye(D), np.zeros(D)  # V = H, out = O
    nbr = random_graph(rng, B, n, 3)
    out, _ = relation_forward(ps, H, nbr, 2, 2)
    for i in range(n):
        vals = H[0, nbr[0, i]]
        assert np.all(out[0, i] >= vals.min(axis=0) - 1e-12) and np.all(out[0, i] <= vals.max(axis=0) + 1e-12)
    out1, _ = relation_forward(ps, H, nbr[:, :, :1], 2, 2)
    np.testing.assert_allclose(out1, H)


@pytest.mark.parametrize("R", [0, 1, 2])
def test_dgn_network_gradients_match_finite_differences(R):
    rng = np.random.default_rng(2 + R)
    net = DGNNet(7, 4, encoder=(10, 6), n_heads=2, d_head=3, n_relations=R)
    p = net.init(seed=1) + 0.05 * rng.standard_normal(net.n_params)
    B, n, k = 3, 5, 3
    x = rng.standard_normal((B, n, 7))
    nbr = random_graph(rng, B, n, k)
    W = rng.standard_normal((B, n, 4))
    _, cache = net.forward_cache(p, x, nbr)
    g, dx = net.backward(p, cache, W, need_dx=True)
    np.testing.assert_allclose(g, fd_grad(lambda a: float((net.forward(a, x, nbr) * W).sum()), p),
                               atol=1e-6, rtol=1e-5)
    np.testing.assert_allclose(dx, fd_grad(lambda a: float((net.forward(p, a, nbr) * W).sum()), x),
                               atol=1e-6, rtol=1e-5)
    if R:  # agent i's Q depends on its neighbours' inputs through the attention
        assert np.abs(dx).max() > 1e-3


def test_dgn_is_equivariant_and_local():
    """Renumbering the agents (and the graph with them) permutes the outputs; an agent outside
    every 2-hop neighbourhood of agent 0 does not change agent 0's Q (two relation layers)."""
    rng = np.random.default_rng(5)
    net = DGNNet(5, 3, encoder=(8,), n_heads=2, d_head=4)
    p = net.init(seed=0)
    n = 6
    x = rng.standard_normal((1, n, 5))
    nbr = random_graph(rng, 1, n, 2)
    perm = rng.permutation(n)
    inv = np.argsort(perm)
    q = net.forward(p, x, nbr)
    q_perm = net.forward(p, x[:, perm], inv[nbr[:, perm]])
    np.testing.assert_allclose(q_perm, q[:, perm], atol=1e-12)
    reach = {0} | set(nbr[0, 0])
    reach |= {int(j) for i in list(reach) for j in nbr[0, i]}
    outside = [j for j in range(n) if j not in reach]
    if outside:
        x2 = x.copy()
        x2[0, outside] += 10.0
        np.testing.assert_allclose(net.forward(p, x2, nbr)[0, 0], q[0, 0], atol=1e-12)


def test_dgn_float32_agrees_with_float64_and_paper_shape():
    rng = np.random.default_rng(6)
    net = DGNNet(123, 9)  # DGN's jungle network: 512 -> 128, 2 x (8 heads x 16), Q head on 3 x 128
    assert net.n_params == (123 * 512 + 512 + 512 * 128 + 128 + 2 * (3 * (128 * 128 + 128) + 128 * 128 + 128)
                            + 384 * 9 + 9)
    net32 = DGNNet(123, 9, dtype="float32")
    p = net.init(seed=0)
    x = rng.standard_normal((2, 20, 123))
    nbr = random_graph(rng, 2, 20, 4)
    np.testing.assert_allclose(net32.forward(p.astype(np.float32), x, nbr), net.forward(p, x, nbr),
                               rtol=1e-3, atol=1e-3)


def test_dgn_validation():
    with pytest.raises(ValueError, match="encoder"):
        DGNNet(3, 2, encoder=())
    with pytest.raises(ValueError, match="n_heads"):
        DGNNet(3, 2, n_heads=0)
    net = DGNNet(3, 2, encoder=(4,), n_heads=1, d_head=2)
    p = net.init(0)
    with pytest.raises(ValueError, match="neighbours"):
        net.forward(p, np.zeros((1, 2, 3)), np.array([[[0], [2]]]))
    with pytest.raises(ValueError, match="x must have shape"):
        net.forward(p, np.zeros((1, 2, 4)), np.array([[[0], [1]]]))
