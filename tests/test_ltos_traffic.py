"""LToS on traffic (Sec. 5.3): padded neighbourhoods in Eq. 2 and the high level, the experiment's
shapes, determinism, DQN = LToS with identity sharing, validation. Short episodes (SUMO)."""

import numpy as np
import pytest

pytest.importorskip("libsumo")

from sharelib import experiments  # noqa: E402
from sharelib.learners import DQN, SimplexDPG  # noqa: E402
from sharelib.sharing.ltos import LToS, incoming_weights, share_rewards  # noqa: E402
from sharelib.sharing.ltos_traffic import LEARNERS, METHODS, dqn_kwargs, run_traffic  # noqa: E402

SHORT = dict(episodes=2, episode_seconds=100)  # 10 decisions per episode


def test_padded_slots_give_and_receive_nothing():
    # a path 0 - 1 - 2: the ends have one neighbour and a padded slot (-1)
    nbr = np.array([[[0, 1, -1], [1, 0, 2], [2, 1, -1]]])
    w = np.array([[[0.5, 0.5, 0.0], [0.4, 0.3, 0.3], [0.9, 0.1, 0.0]]])
    r = np.array([[1.0, 10.0, 100.0]])
    shaped = share_rewards(r, w, nbr)
    np.testing.assert_allclose(shaped, [[0.5 + 3.0, 0.5 + 4.0 + 10.0, 3.0 + 90.0]])
    assert shaped.sum() == pytest.approx(r.sum())
    np.testing.assert_allclose(incoming_weights(w, nbr), [[[0.5, 0.3, 0.0], [0.4, 0.5, 0.1], [0.9, 0.3, 0.0]]])
    with pytest.raises(ValueError, match="neighbours"):
        share_rewards(r, w, nbr - 1)  # -2 is not padding


def test_masked_softmax_and_its_gradient():
    dpg = SimplexDPG(3, 4, 2, hidden=(8,), seed=0)
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(5, 2, 3))
    mask = np.ones((5, 2, 4), bool)
    mask[:, 1, 2:] = False
    w = dpg.act(obs, explore=False, mask=mask)
    np.testing.assert_allclose(w.sum(-1), 1.0)
    assert (w[:, 1, 2:] == 0).all() and (w[:, 1, :2] > 0).all()
    with pytest.raises(ValueError, match="mask"):
        dpg.act(obs, explore=False, mask=np.zeros((5, 2, 4), bool))
    # the masked update moves only through the real slots: a gradient on padded slots changes nothing
    g = np.zeros((5, 2, 4))
    g[:, 1, 3] = 1.0
    before = dpg.actor_params.copy()
    dpg.update_actor_with_grad(obs, g, mask=mask)
    np.testing.assert_array_equal(dpg.actor_params[1], before[1])


def test_traffic_ltos_starts_at_the_code_selfishness_at_every_intersection():
    from sharelib.envs import TrafficSignalControl
    env = TrafficSignalControl(episode_seconds=20)
    try:
        L = LToS(env, seed=0)
        obs = L.wrapped.reset(0)
        w = L.wrapped.w_out
        nbr = env.neighbours
        np.testing.assert_allclose(w[..., 0], 0.8, atol=0.03)  # corners (2 neighbours) too
        assert (w[nbr < 0] == 0).all()
        np.testing.assert_allclose(w.sum(-1), 1.0)
        assert obs.shape == (1, 36, env.obs_dim + 5)
        np.testing.assert_allclose(obs[..., env.obs_dim:], incoming_weights(w, nbr), rtol=1e-6)
        fixed = LToS(env, learn_weights=False, initial_selfishness=0.6, seed=0)
        wf = fixed.weights(obs[..., :env.obs_dim], nbr=nbr)
        np.testing.assert_allclose(wf[0, 0], [0.6, 0.0, 0.2, 0.2, 0.0])  # corner: N, W padded
        np.testing.assert_allclose(wf[0, 7], [0.6, 0.1, 0.1, 0.1, 0.1])
        with pytest.raises(ValueError, match="initial_selfishness"):
            LToS(env, initial_selfishness=1.0)  # a learned softmax cannot start at the identity
    finally:
        env.close()


def test_run_traffic_shapes_for_every_method():
    for m in METHODS:
        r = run_traffic(m, seed=1, **SHORT)
        learner = m in LEARNERS
        K = SHORT["episodes"] if learner else 0
        assert r["returns"].shape == r["selfishness"].shape == (K,)
        assert all(v.shape == (K,) for v in r["train_metrics"].values())
        assert r["test_selfishness"].shape == r["test_queue"].shape == (10,)
        assert r["selfishness_grid"].shape == (6, 6) and r["queues"].shape == (36, 12)
        assert r["test_selfishness_agents"].shape == (10, 36) and r["snapshot_t"] == 100
        assert np.isfinite(r["test_return"]) and r["test_return"] < 0 or r["test_return"] == 0
        np.testing.assert_allclose(r["test_queue"].sum() * -0.25 / 36, r["test_return"])
        if learner:
            assert np.isfinite(r["returns"]).all() and (r["returns"] <= 0).all()
            assert np.isfinite(r["test_selfishness"]).all()
        if m in ("dqn", "colight", "qmix"):
            np.testing.assert_array_equal(r["test_selfishness"], 1.0)
        if m == "fixed_ltos":
            np.testing.assert_allclose(r["selfishness"], 0.8)


def test_same_seed_same_run_and_other_seed_differs():
    a, b = (run_traffic("ltos", seed=3, **SHORT) for _ in range(2))
    for key in ("returns", "selfishness", "test_selfishness", "test_queue", "queues"):
        np.testing.assert_array_equal(a[key], b[key])
    c = run_traffic("ltos", seed=4, **SHORT)
    assert not np.array_equal(a["test_queue"], c["test_queue"])


def test_ltos_with_identity_sharing_is_dqn_seed_for_seed():
    for seed in (0, 5):
        d = run_traffic("dqn", seed=seed, **SHORT)
        f = run_traffic("fixed_ltos", initial_selfishness=1.0, low="mlp", seed=seed, **SHORT)
        for key in ("returns", "test_queue", "queues"):
            np.testing.assert_array_equal(d[key], f[key])
        np.testing.assert_equal(d["test_metrics"], f["test_metrics"])
    # and sharing does change the run (the comparison can fail)
    s = run_traffic("fixed_ltos", initial_selfishness=0.5, low="mlp", seed=5, **SHORT)
    assert not np.array_equal(s["test_queue"], d["test_queue"])


def test_colight_low_level_sees_the_neighbourhood_and_differs_from_the_mlp():
    from sharelib.envs import TrafficSignalControl
    from sharelib.learners import CoLight
    env = TrafficSignalControl(episode_seconds=20)
    try:
        L = LToS(env, low="colight", dqn_kw=dqn_kwargs(env.max_steps), seed=0)
        assert isinstance(L.low, CoLight)
        obs = L.wrapped.reset(0)  # [o, w_in, neighbour indices]
        assert obs.shape == (1, 36, env.obs_dim + 10)
        np.testing.assert_array_equal(obs[..., -5:], env.neighbours)
    finally:
        env.close()
    a = run_traffic("ltos", seed=2, **SHORT)
    b = run_traffic("ltos", low="mlp", seed=2, **SHORT)
    assert not np.array_equal(a["returns"], b["returns"])


def test_code_epsilon_schedule():
    kw = dqn_kwargs(360)
    q = DQN(25, 4, 36, **{k: v for k, v in kw.items() if k != "hooks"})
    rnd = 4 * 360
    assert q.epsilon(0) == pytest.approx(0.4)
    assert q.epsilon(rnd - 1) == pytest.approx(0.4)
    assert q.epsilon(3 * rnd) == pytest.approx(0.4 * 0.9 ** 3)
    assert q.epsilon(100 * rnd) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="eps_decay_rate"):
        DQN(3, 2, eps_decay_rate=0.0)


@pytest.mark.parametrize("kw, name", [
    (dict(method="vdn"), "method"),
    (dict(low="dgn"), "low"),
    (dict(episodes=0), "episodes"),
    (dict(seed=-1), "seed"),
    (dict(snapshot_seconds=0), "snapshot_seconds"),
    (dict(episode_seconds=105), "episode_seconds"),
    (dict(method="ltos", high_every=0), "high_every"),
])
def test_bad_parameters_are_named(kw, name):
    with pytest.raises(ValueError, match=name):
        run_traffic(**{**SHORT, **kw})


def test_presets_registered():
    for p in ("quick", "reduced", "paper"):
        assert set(experiments.get_preset("ltos.traffic", p)) >= {"episodes", "episode_seconds", "runs"}
    assert experiments.get_preset("ltos.traffic", "paper")["episodes"] == 400
