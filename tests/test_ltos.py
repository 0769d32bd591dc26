"""LToS (sharelib.sharing.ltos): Eq. 2 by hand, its conservation, the high level's gradient against
finite differences, fixed LToS, and training on the prisoner corridor."""

import numpy as np
import pytest

from sharelib.envs import Jungle, PrisonerCorridor
from sharelib.sharing.ltos import LToS, complete_graph, incoming_weights, share_rewards


def random_graph(rng, E, n, k):
    nbr = np.empty((E, n, k), dtype=np.int64)
    for e in range(E):
        for i in range(n):
            others = rng.permutation([j for j in range(n) if j != i])[:k - 1]
            nbr[e, i] = [i, *others]
    w = rng.dirichlet(np.ones(k), size=(E, n))
    return w, nbr


def test_share_rewards_by_hand_on_three_agents():
    # 0 keeps 0.5 and gives 0.5 to 1; 1 keeps 1.0 (gives 0 to 2); 2 gives 0.25 to 0 and keeps 0.75
    nbr = np.array([[[0, 1], [1, 2], [2, 0]]])
    w = np.array([[[0.5, 0.5], [1.0, 0.0], [0.75, 0.25]]])
    r = np.array([[2.0, 4.0, 8.0]])
    np.testing.assert_allclose(share_rewards(r, w, nbr), [[1.0 + 2.0, 1.0 + 4.0, 6.0]])
    # in-weights on each receiver's own slots: 0 receives from itself 0.5 and from 1 (which does
    # not list 0) nothing; 2 receives 0.75 from itself and 0.25 is what 2 gives to 0, not to 2
    np.testing.assert_allclose(incoming_weights(w, nbr), [[[0.5, 0.0], [1.0, 0.0], [0.75, 0.0]]])


def test_sharing_conserves_the_total_reward_on_random_graphs():
    rng = np.random.default_rng(0)
    w, nbr = random_graph(rng, 16, 7, 4)
    r = rng.normal(size=(16, 7))
    np.testing.assert_allclose(share_rewards(r, w, nbr).sum(1), r.sum(1))


def test_identity_weights_change_nothing_and_complete_graph_layout():
    nbr = complete_graph(3, 4)
    assert (nbr[:, :, 0] == np.arange(4)).all() and (np.sort(nbr, axis=2) == np.arange(4)).all()
    w = np.zeros((3, 4, 4))
    w[:, :, 0] = 1.0
    r = np.random.default_rng(1).normal(size=(3, 4))
    np.testing.assert_array_equal(share_rewards(r, w, nbr), r)


def test_bad_graph_shapes_and_indices_are_named():
    with pytest.raises(ValueError, match="neighbours"):
        share_rewards(np.zeros((1, 2)), np.zeros((1, 2, 2)), np.array([[[0, 5], [1, 0]]]))
    with pytest.raises(ValueError, match="rewards"):
        share_rewards(np.zeros((1, 3)), np.zeros((1, 2, 2)), np.zeros((1, 2, 2), int))
    with pytest.raises(ValueError, match="initial_selfishness"):
        LToS(PrisonerCorridor(1), initial_selfishness=1.0)
    with pytest.raises(ValueError, match="n_neighbours"):
        LToS(PrisonerCorridor(1), n_neighbours=3)


def test_initial_weights_keep_the_initial_selfishness():
    env = Jungle(n_envs=2, n_agents=6, n_food=3, n_neighbours=4)
    L = LToS(env, initial_selfishness=0.8, seed=3)
    w = L.weights(env.reset(0))
    np.testing.assert_allclose(w[..., 0], 0.8, atol=0.03)  # small random logits around the bias
    np.testing.assert_allclose(w.sum(-1), 1.0)


def test_high_gradient_matches_finite_differences_of_the_summed_values():
    """d sum_i max_a Q_i(o_i, w_i^in(w^out), a) / d w^out, on a random graph (Eq. 6's first-order term)."""
    env = Jungle(n_envs=1, n_agents=5, n_food=3, n_neighbours=3, size=8, view_radius=1)
    L = LToS(env, seed=0, dqn_kw=dict(hidden=(16,)))
    rng = np.random.default_rng(2)
    w, nbr = random_graph(rng, 4, 5, 3)
    obs = rng.normal(size=(4, 5, env.obs_dim))

    def total_value(w_out):
        x = np.concatenate([obs, incoming_weights(w_out, nbr)], axis=-1)
        return L.low.q_values(x).max(-1).sum()

    L.weights = lambda o, explore=False, nbr=None: w  # evaluate the gradient at the fixed w
    for pad in (False, True):
        if pad:  # padded slots (-1, as at the traffic grid's edges) give and get no gradient
            nbr[:, ::2, -1] = -1
            w[:, ::2, -1] = 0.0
        g = L.high_gradient(obs, nbr)
        h = 1e-6
        fd = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            if nbr[idx] < 0:
                continue
            wp, wm = w.copy(), w.copy()
            wp[idx] += h
            wm[idx] -= h
            fd[idx] = (total_value(wp) - total_value(wm)) / (2 * h)
        np.testing.assert_allclose(g, fd, rtol=1e-4, atol=1e-7)
        assert np.abs(g).max() > 1e-3  # not trivially zero
        assert (g[nbr < 0] == 0).all()


def test_fixed_ltos_keeps_its_weights_and_ltos_moves_them():
    kw = dict(hidden=(32,), learning_starts=200, eps_decay_steps=2000, batch_size=32)
    fixed = LToS(PrisonerCorridor(4), learn_weights=False, dqn_kw=kw, seed=0)
    before = fixed.high.actor_params.copy()
    fixed.train(3000, seed=0)
    np.testing.assert_array_equal(fixed.high.actor_params, before)
    assert np.allclose(fixed.selfishness_log, fixed.selfishness_log[0])
    learned = LToS(PrisonerCorridor(4), dqn_kw=kw, seed=0)
    before = learned.high.actor_params.copy()
    learned.train(3000, seed=0)
    assert not np.array_equal(learned.high.actor_params, before)
    assert np.std(learned.selfishness_log) > 0


def test_training_is_deterministic():
    kw = dict(hidden=(16,), learning_starts=100, eps_decay_steps=1000, batch_size=16)
    runs = []
    for _ in range(2):
        L = LToS(PrisonerCorridor(4), dqn_kw=kw, seed=5)
        res = L.train(1500, seed=5)
        runs.append((res.returns.copy(), L.high.actor_params.copy(), np.array(L.selfishness_log)))
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_fixed_equal_sharing_cooperates_in_the_corridor_and_full_selfishness_defects():
    """LToS Fig. 3a's two ends with the sharing fixed: w_ii = 0.5 (fully mixed) reaches about 1 in
    total per agent, w_ii near 1 (selfish) the defect/defect 0.5 (the learning core's finding)."""
    from sharelib.learners.mixing import default_learner_kw
    kw = default_learner_kw("prisoner_corridor", "dqn", 20_000)
    out = {}
    for s in (0.5, 0.999):
        L = LToS(PrisonerCorridor(8), initial_selfishness=s, learn_weights=False, dqn_kw=kw, seed=1)
        out[s] = L.train(20_000, seed=1).final_return(0.2).mean()
    assert out[0.5] > 0.85 and out[0.999] < 0.6


def test_run_corridor_returns_curves_and_names_bad_methods():
    from sharelib.sharing.ltos_corridor import run_corridor
    r = run_corridor("fixed_ltos", total_steps=2000, n_points=5, initial_selfishness=0.6)
    assert r["returns"].shape == r["selfishness"].shape == (5,)
    np.testing.assert_allclose(r["selfishness"], 0.6)
    assert np.isfinite(r["final"]) and np.isfinite(r["eval"])
    with pytest.raises(ValueError, match="method"):
        run_corridor("lio")


def test_qmix_cooperates_in_the_corridor_where_dqn_defects():
    """The paper's Fig. 3a: QMIX (team reward through the mixer) cooperates eventually, DQN defects."""
    from sharelib.sharing.ltos_corridor import run_corridor
    q = run_corridor("qmix", total_steps=40_000, n_points=5, seed=0)
    d = run_corridor("dqn", total_steps=40_000, n_points=5, seed=0)
    np.testing.assert_array_equal(q["selfishness"], 1.0)
    assert q["eval"] > 0.9 and d["eval"] < 0.6
