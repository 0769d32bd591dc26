"""CoLight's Q-network (sharelib.nn.CoLightNet) and learner (sharelib.learners.CoLight): the
network's gradient against finite differences with padded neighbourhoods, DQN's training rules
(epsilon in rounds, hard target copies, Huber loss), determinism, and that it learns."""

import numpy as np
import pytest

from sharelib.learners import CoLight, WithNeighbours
from sharelib.nn import CoLightNet


def test_network_gradient_matches_finite_differences():
    net = CoLightNet(6, 4, hidden=(8, 8), dv=5, dout=4)
    rng = np.random.default_rng(0)
    p = net.init(0) + 0.05 * rng.normal(size=net.n_params)  # nonzero biases
    x = rng.normal(size=(2, 4, 6))
    nbr = np.array([[0, 1, -1], [1, 0, 2], [2, 1, 3], [3, 2, -1]])
    dq = rng.normal(size=(2, 4, 4))
    q, cache = net.forward_cache(p, x, nbr)
    g, dx = net.backward(p, cache, dq, need_dx=True)
    f = lambda pp, xx: float((net.forward(pp, xx, nbr) * dq).sum())  # noqa: E731
    h = 1e-6
    fd = np.array([(f(p + h * e, x) - f(p - h * e, x)) / (2 * h) for e in np.eye(net.n_params)])
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)
    fdx = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        fdx[idx] = (f(p, xp) - f(p, xm)) / (2 * h)
    np.testing.assert_allclose(dx, fdx, rtol=1e-5, atol=1e-7)
    acc = np.ones(net.n_params)
    net.backward(p, cache, dq, grad=acc)
    np.testing.assert_allclose(acc, 1.0 + g)  # accumulates into a given array
    # agent 3 is not in agent 0's neighbourhood: its input cannot move agent 0's Q
    x2 = x.copy()
    x2[:, 3] += 5.0
    np.testing.assert_array_equal(net.forward(p, x2, nbr)[:, 0], q[:, 0])


def test_bad_network_arguments_are_named():
    with pytest.raises(ValueError, match="hidden"):
        CoLightNet(4, 2, hidden=())
    with pytest.raises(ValueError, match="dv"):
        CoLightNet(4, 2, dv=0)
    net = CoLightNet(4, 2, hidden=(3,), dv=2, dout=2)
    with pytest.raises(ValueError, match="x must"):
        net.forward(net.init(0), np.ones((1, 3, 5)), np.array([[0], [1], [2]]))
    with pytest.raises(ValueError, match="share_params"):
        CoLight(10, 2, 3, 2, share_params=False)


class _Chain:
    """Three agents on a path 0 - 1 - 2 (agent 0's and 2's last slot padded); every step each agent
    sees a random bit and earns 1 for choosing the largest bit of its neighbourhood (itself
    included): 1.0 per step needs the neighbours' bits, an agent's own bit alone gives at most 0.79
    on average (0.75, 0.875, 0.75)."""

    n_agents, n_actions, obs_dim, max_steps, n_neighbours = 3, 2, 1, 10, 3

    def __init__(self, n_envs=4):
        self.n_envs = n_envs
        self.neighbours = np.broadcast_to(np.array([[0, 1, -1], [1, 0, 2], [2, 1, -1]]), (n_envs, 3, 3)).copy()

    def _obs(self):
        self._bits = self._rng.integers(0, 2, (self.n_envs, 3))
        return self._bits[..., None].astype(np.float32)

    def reset(self, seed=0):
        self._rng, self._t = np.random.default_rng(seed), 0
        return self._obs()

    def step(self, actions):
        b = self._bits
        target = np.stack([b[:, :2].max(1), b.max(1), b[:, 1:].max(1)], axis=1)
        r = (actions == target).astype(np.float64)
        self._t += 1
        done = np.full(self.n_envs, self._t % self.max_steps == 0)
        return self._obs(), r, done


def test_learns_through_the_attention_and_is_deterministic():
    env = WithNeighbours(_Chain())
    kw = dict(hidden=(16, 16), dv=8, dout=8, lr=3e-3, gamma=0.0, batch_size=16, learning_starts=40,
              target_update=50, eps_start=1.0, eps_end=0.05, eps_decay_steps=2000, eps_decay_rate=None)
    runs = []
    for _ in range(2):
        q = CoLight.for_env(env, seed=3, **kw)
        res = q.train(env, 4000, seed=3)
        runs.append((res.returns, q.q_params.copy()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    # greedy play beats what an agent's own bit allows (0.79), so the attention carries information
    obs = env.reset(99)
    hits = []
    for _ in range(200):
        obs, r, _ = env.step(q.act(obs, greedy=True)[0])
        hits.append(r)
    assert np.mean(hits) > 0.95
    assert q.epsilon(0) == 1.0 and q.epsilon(10_000) == pytest.approx(0.05)
    # hard target copies every target_update gradient steps (DQN's rule, not DGN's soft update)
    rng = np.random.default_rng(0)
    while q.grad_steps % 50:
        q._learn(rng)
    np.testing.assert_array_equal(q.target_params, q.q_params)
    frozen = q.target_params.copy()
    for _ in range(49):
        q._learn(rng)
    np.testing.assert_array_equal(q.target_params, frozen)
    assert not np.array_equal(q.q_params, frozen)
    q._learn(rng)
    np.testing.assert_array_equal(q.target_params, q.q_params)


def test_round_epsilon_as_the_traffic_code():
    q = CoLight(30, 4, 36, 5, eps_decay_steps=1440, eps_decay_rate=0.9)
    assert q.epsilon(1439) == pytest.approx(0.4) and q.epsilon(3 * 1440) == pytest.approx(0.4 * 0.9 ** 3)
    assert q.epsilon(10 ** 6) == pytest.approx(0.05)
