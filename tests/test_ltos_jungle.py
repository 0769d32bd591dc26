"""LToS with DGN's low level on the jungle (sharelib.learners.DGN, sharelib.sharing.ltos with
low="dgn"): the high-level gradient through the attention network against finite differences,
LToS without sharing = DGN seed for seed, the DGN learner's schedules and determinism, and the
jungle experiment runner."""

import numpy as np
import pytest

from sharelib.envs import Jungle
from sharelib.learners import DGN, WithNeighbours
from sharelib.sharing.ltos import LToS, SharingEnv, incoming_weights

SMALL = dict(encoder=(16, 8), n_heads=2, d_head=4, batch_size=4, learning_starts=0, train_freq=1,
             buffer_size=500, episode_steps=20)


def small_jungle(E=2, n=5, k=3):
    return Jungle(n_envs=E, n_agents=n, n_food=3, n_neighbours=k, size=10, view_radius=2, max_steps=20)


def test_with_neighbours_appends_the_graph_and_dgn_reads_it():
    env = WithNeighbours(small_jungle())
    obs = env.reset(0)
    assert obs.shape[-1] == env.env.obs_dim + 3 == env.obs_dim
    np.testing.assert_array_equal(obs[..., -3:], env.env.neighbours)
    L = DGN.for_env(env, dtype="float64", **SMALL)
    q = L.q_values(obs)
    other = obs.copy()
    other[..., -3:] = other[..., [-3, -3, -3]]  # everyone attends only to itself
    assert q.shape == (2, 5, 9) and not np.allclose(L.q_values(other), q)


def test_dgn_epsilon_schedule_is_dgns():
    L = DGN(10, 9, 5, 3, episode_steps=120)
    assert L.epsilon(0) == pytest.approx(0.6)
    assert L.epsilon(120 * 10) == pytest.approx(0.6 * 0.996 ** 10)
    assert L.epsilon(120 * 5000) == pytest.approx(0.01)


def test_dgn_training_is_deterministic_and_reduces_the_td_error_on_a_fixed_batch():
    env = WithNeighbours(small_jungle())
    runs = []
    for _ in range(2):
        L = DGN.for_env(env, seed=3, **SMALL)
        res = L.train(env, 2 * 60, seed=4)
        runs.append((res.returns, L.q_params.copy()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    # many steps on one small buffer with a nearly frozen target: the TD loss on it must fall
    L = DGN.for_env(env, seed=0, **dict(SMALL, buffer_size=8, batch_size=8, lr=1e-2, target_tau=1e-9,
                                         dtype="float64"))
    L.train(env, 16, seed=0)
    rng = np.random.default_rng(0)
    first = L.td_loss(np.arange(8))
    for _ in range(300):
        L._learn(rng)
    assert L.td_loss(np.arange(8)) < 0.1 * first


@pytest.mark.parametrize("low, pad", [("dgn", False), ("colight", True)])
def test_high_gradient_through_a_graph_low_level_matches_finite_differences(low, pad):
    """d sum_i max_a Q_i / d w^out when Q is DGN's or CoLight's (the traffic code's) network: v_i
    depends on its neighbours' w_in too; with CoLight also through padded slots (-1, as at the
    traffic grid's edges), which give and get no gradient."""
    env = small_jungle(E=1, n=5, k=3)
    kw = dict(SMALL, dtype="float64") if low == "dgn" else dict(hidden=(16, 16), dv=8, dout=8, batch_size=4)
    L = LToS(env, low=low, dqn_kw=kw, seed=0)
    rng = np.random.default_rng(2)
    obs = rng.normal(size=(3, 5, env.obs_dim))
    nbr = np.stack([env.reset(s) is not None and env.neighbours[0] for s in range(3)])
    w = rng.dirichlet(np.ones(3), size=(3, 5))
    if pad:
        nbr[:, 1::2, -1] = -1
        w[:, 1::2, -1] = 0.0
        w /= w.sum(-1, keepdims=True)
    L.low.q_params += 0.3 * rng.standard_normal(L.low.q_params.shape)

    def total_value(w_out):
        x = np.concatenate([obs, incoming_weights(w_out, nbr), nbr.astype(float)], axis=-1)
        return L.low.q_values(x).max(-1).sum()

    L.weights = lambda o, explore=False, nbr=None: w
    g = L.high_gradient(obs, nbr)
    h = 1e-6
    fd = np.zeros_like(w)
    for idx in np.ndindex(w.shape):
        if nbr[idx] >= 0:
            wp, wm = w.copy(), w.copy()
            wp[idx] += h
            wm[idx] -= h
            fd[idx] = (total_value(wp) - total_value(wm)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-4, atol=1e-7)
    assert np.abs(g).max() > 1e-3 and (g[nbr < 0] == 0).all()
    # an agent's value moves with a neighbour's incoming weights (the attention), not only its own
    x = np.concatenate([obs, incoming_weights(w, nbr), nbr.astype(float)], axis=-1)
    i, j = 0, int(nbr[0, 0, 1])
    x2 = x.copy()
    x2[0, j, env.obs_dim] += 0.5
    assert L.low.q_values(x2)[0, i].max() != L.low.q_values(x)[0, i].max()


def test_ltos_without_sharing_is_dgn_seed_for_seed():
    """sharing=False: identity weights, shaped rewards = the environment's, no w_in input, no high
    level: the same numbers as DGN on the same environment."""
    L = LToS(small_jungle(), low="dgn", sharing=False, dqn_kw=SMALL, seed=7)
    res_l = L.train(2 * 60, seed=11)
    env = WithNeighbours(small_jungle())
    D = DGN.for_env(env, seed=L.low.seed, **SMALL)
    res_d = D.train(env, 2 * 60, seed=11)
    assert L.low.grad_steps == D.grad_steps > 0
    np.testing.assert_array_equal(res_l.returns, res_d.returns)
    np.testing.assert_array_equal(L.low.q_params, D.q_params)
    assert np.all(np.asarray(L.selfishness_log) == 1.0)


def test_ltos_dgn_moves_its_weights_and_conserves_the_reward():
    L = LToS(small_jungle(), low="dgn", high_every=2, high_batch=8, dqn_kw=SMALL, seed=1)
    before = L.high.actor_params.copy()
    L.train(2 * 60, seed=0)
    assert not np.array_equal(L.high.actor_params, before)
    fixed = LToS(small_jungle(), low="dgn", learn_weights=False, dqn_kw=SMALL, seed=1)
    before = fixed.high.actor_params.copy()
    fixed.train(2 * 40, seed=0)
    np.testing.assert_array_equal(fixed.high.actor_params, before)
    # budget balance of the shaped rewards on the jungle (Eq. 2)
    env = SharingEnv(small_jungle(), L)
    env.reset(3)
    for t in range(10):
        _, shaped, _ = env.step(np.random.default_rng(t).integers(0, 9, (2, 5)))
        np.testing.assert_allclose(shaped.sum(1), env.raw_rewards.sum(1), atol=1e-12)


def test_ltos_dgn_needs_a_graph():
    from sharelib.envs import PrisonerCorridor
    with pytest.raises(ValueError, match="low"):
        LToS(PrisonerCorridor(2), low="gnn")
    with pytest.raises(ValueError, match="neighbours"):
        LToS(PrisonerCorridor(2), low="dgn")


def test_run_jungle_returns_curves_behaviours_and_names_bad_methods():
    from sharelib.sharing.ltos_jungle import run_jungle
    kw = dict(n_agents=6, episodes=2, n_envs=2, encoder=(8,), n_heads=1, d_head=4, start_episodes=0,
              buffer_size=500, n_points=4, snapshot_step=5)
    r = run_jungle("ltos", **kw)
    assert r["reward"].shape == r["selfishness"].shape == (4,)
    assert r["attacks"].shape == (4,) and np.all(r["attacks"] >= 0) and r["attacks"].sum() <= 1 + 1e-12
    assert r["snapshot"]["agents"].shape == (6, 2) and r["snapshot"]["neighbours"].shape == (6, 4)
    assert -4.1 <= r["eval"] <= 2.0 and np.isfinite(r["final"])
    d = run_jungle("dgn", **kw)
    np.testing.assert_array_equal(d["selfishness"], 1.0)  # DGN shares nothing
    q = run_jungle("qmix", **kw)
    np.testing.assert_array_equal(q["selfishness"], 1.0)  # QMIX shares nothing
    assert q["reward"].shape == (4,) and q["attacks"].shape == (4,) and q["snapshot"]["agents"].shape == (6, 2)
    assert -4.1 <= q["eval"] <= 2.0 and np.isfinite(q["final"])
    with pytest.raises(ValueError, match="method"):
        run_jungle("neurcomm", **kw)
    with pytest.raises(ValueError, match="n_neighbours"):
        run_jungle("ltos", **dict(kw, n_neighbours=1))


def test_upper_bound_is_the_papers_estimate():
    """Sec. 5.2's loose bound from the distance to the closest food at the start: about 0.95 for 20
    agents and rising with the agent count (more foods at 5 : 3, so closer ones)."""
    from sharelib.sharing.ltos_jungle import upper_bound
    b10, b20, b50 = upper_bound(10), upper_bound(20), upper_bound(50)
    assert abs(b20 - 0.95) < 0.02
    assert b10 < b20 < b50 < 0.99
