"""Environment interface and game invariants for sharelib.envs (coin game, prisoner corridor,
Trust-Your-Brother; the interface part also for Cleanup and Harvest, whose rules are in test_ssd.py,
and for the AS paper's Exchange, cooperative navigation and cooperative predation, whose rules are in test_as_envs.py): shapes, seeding, auto-reset, reward conservation, observation encodings, spawn
statistics, and the game-theoretic structure of the prisoner corridor."""

import itertools

import numpy as np
import pytest

from sharelib.envs import (Cleanup, CoinGame, CooperativeNavigation, CooperativePredation, Exchange,
                           Harvest, MultiAgentEnv, PrisonerCorridor, TrustYourBrother)
from sharelib.envs.base import seed_states
from sharelib.envs.prisoner_corridor import strategy_payoffs

ENVS = [CoinGame, PrisonerCorridor, TrustYourBrother, Cleanup, Harvest, Exchange,
        CooperativeNavigation, CooperativePredation]
SMALL = {CoinGame: dict(max_steps=30), PrisonerCorridor: {}, TrustYourBrother: {},
         Cleanup: dict(max_steps=40, map="as"), Harvest: dict(max_steps=40, map="as", obs="grid"),
         Exchange: dict(max_steps=30), CooperativeNavigation: dict(max_steps=30),
         CooperativePredation: {}}


def random_actions(env, rng):
    return rng.integers(0, env.n_actions, size=(env.n_envs, env.n_agents))


def rollout(env, seed, n_steps, action_seed=1):
    rng = np.random.default_rng(action_seed)
    out = [env.reset(seed)]
    rews, dones = [], []
    for _ in range(n_steps):
        o, r, d = env.step(random_actions(env, rng))
        out.append(o)
        rews.append(r)
        dones.append(d)
    return np.array(out), np.array(rews), np.array(dones)


# ------------------------------------------------------------------------------------------------
# the interface, for every environment
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", ENVS)
def test_shapes_dtypes_and_specs(cls):
    env = cls(n_envs=3, **SMALL[cls])
    assert isinstance(env, MultiAgentEnv)
    E, n, d = 3, env.n_agents, env.obs_dim
    assert env.agents == [f"agent_{i}" for i in range(n)]
    assert env.observation_shape == (d,)
    assert set(env.action_specs) == set(env.agents) == set(env.observation_specs)
    assert all(s.n == env.n_actions for s in env.action_specs.values())
    obs = env.reset(0)
    assert obs.shape == (E, n, d) and obs.dtype == np.float32
    spec = env.observation_specs["agent_0"]
    rng = np.random.default_rng(0)
    for _ in range(60):
        o, r, dn = env.step(random_actions(env, rng))
        assert o.shape == (E, n, d) and o.dtype == np.float32
        assert r.shape == (E, n) and r.dtype == np.float64
        assert dn.shape == (E,) and dn.dtype == np.bool_
        assert o.min() >= spec.low and o.max() <= spec.high
    img = env.render(2)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and img.std() > 0


@pytest.mark.parametrize("cls", ENVS)
def test_returned_arrays_are_not_overwritten(cls):
    env = cls(n_envs=2, **SMALL[cls])
    o0 = env.reset(0)
    keep = o0.copy()
    o1, r1, d1 = env.step(np.zeros((2, env.n_agents), dtype=np.int64))
    keep_r = r1.copy()
    env.step(np.ones((2, env.n_agents), dtype=np.int64))
    np.testing.assert_array_equal(o0, keep)
    np.testing.assert_array_equal(r1, keep_r)


@pytest.mark.parametrize("cls", ENVS)
def test_seeded_determinism_and_copy_independence(cls):
    a = rollout(cls(n_envs=4, **SMALL[cls]), seed=7, n_steps=80)
    b = rollout(cls(n_envs=4, **SMALL[cls]), seed=7, n_steps=80)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    # copy e's trajectory does not depend on n_envs, given the same actions for copy e
    env1, env4 = cls(n_envs=1, **SMALL[cls]), cls(n_envs=4, **SMALL[cls])
    o1, o4 = env1.reset(3), env4.reset(3)
    np.testing.assert_array_equal(o1[0], o4[0])
    rng = np.random.default_rng(5)
    for _ in range(80):
        act = random_actions(env4, rng)
        s1 = env1.step(act[:1])
        s4 = env4.step(act)
        for x, y in zip(s1, s4):
            np.testing.assert_array_equal(x[0], y[0])
    # interleaving another instance does not change the numbers (no shared RNG state)
    env_a, env_b = cls(n_envs=2, **SMALL[cls]), cls(n_envs=2, **SMALL[cls])
    env_a.reset(7)
    env_b.reset(99)
    rng = np.random.default_rng(1)
    got = []
    for _ in range(80):
        got.append(env_a.step(random_actions(env_a, rng))[1])
        env_b.step(np.zeros((2, env_b.n_agents), dtype=np.int64))
    np.testing.assert_array_equal(np.array(got), rollout(cls(n_envs=2, **SMALL[cls]), 7, 80)[1])
    # a different seed gives different randomness (all three games draw random numbers)
    c = rollout(cls(n_envs=4, **SMALL[cls]), seed=8, n_steps=80)
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_seed_states_depend_only_on_seed_and_copy():
    np.testing.assert_array_equal(seed_states(5, 3), seed_states(5, 8)[:3])
    assert len(set(seed_states(5, 100).tolist())) == 100


@pytest.mark.parametrize("cls", ENVS)
def test_episode_returns_and_auto_reset(cls):
    env = cls(n_envs=5, **SMALL[cls])
    env.reset(0)
    rng = np.random.default_rng(2)
    running = np.zeros((5, env.n_agents))
    n_done = 0
    for _ in range(300):
        o, r, d = env.step(random_actions(env, rng))
        running += r
        for e in np.flatnonzero(d):
            np.testing.assert_allclose(env.last_episode_return[e], running[e], atol=1e-9)
            running[e] = 0
            n_done += 1
            assert env._t[e] == 0  # the copy was reset inside the step
        np.testing.assert_allclose(env.episode_return, running, atol=1e-9)
    assert n_done > 0


@pytest.mark.parametrize("cls", ENVS)
def test_bad_arguments_raise_valueerror(cls):
    env = cls(n_envs=2, **SMALL[cls])
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros((2, env.n_agents), dtype=np.int64))
    env.reset(0)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((3, env.n_agents), dtype=np.int64))
    with pytest.raises(ValueError, match=r"actions must be in \[0, "):
        env.step(np.full((2, env.n_agents), env.n_actions))
    with pytest.raises(ValueError, match="integers"):
        env.step(np.zeros((2, env.n_agents)))
    with pytest.raises(ValueError, match="n_envs"):
        cls(n_envs=0)
    with pytest.raises(ValueError, match="seed"):
        env.reset(-1)
    with pytest.raises(ValueError, match="env_index"):
        env.render(2)
    with pytest.raises(ValueError, match="max_steps"):
        cls(max_steps=0)


# ------------------------------------------------------------------------------------------------
# prisoner corridor (LToS Sec. 5.1)
# ------------------------------------------------------------------------------------------------
def play_strategies(env, sa, sb, seed=0):
    """Return the episode returns (E, 2) when A plays sa and B plays sb ("C" or "D")."""
    move = {("A", "C"): 0, ("A", "D"): 1, ("B", "C"): 1, ("B", "D"): 0}
    act = np.tile([move["A", sa], move["B", sb]], (env.n_envs, 1))
    env.reset(seed)
    for _ in range(env.max_steps):
        _, _, d = env.step(act)
        if d.all():
            return env.last_episode_return.copy()
    raise AssertionError("episodes did not end")


@pytest.mark.parametrize("d_middle,d_end", [(1, 2), (1, 3), (2, 4)])
def test_corridor_strategy_payoffs_match_closed_form(d_middle, d_end):
    env = PrisonerCorridor(n_envs=4000, d_middle=d_middle, d_end=d_end)
    closed = strategy_payoffs(d_middle, d_end)
    for sa, sb in [("C", "C"), ("C", "D"), ("D", "C")]:
        ret = play_strategies(env, sa, sb)
        np.testing.assert_allclose(ret, np.broadcast_to(closed[sa, sb], ret.shape), atol=1e-12)
    ret = play_strategies(env, "D", "D", seed=3)
    # collision: exactly one of the two wins the middle goal, each with probability 1/2
    np.testing.assert_allclose(ret.sum(1), 1 - 2 * 0.01 * d_middle, atol=1e-12)
    wins_a = np.mean(ret[:, 0] > ret[:, 1])
    assert abs(wins_a - 0.5) < 4 * np.sqrt(0.25 / 4000)
    np.testing.assert_allclose(ret.mean(0), closed["D", "D"], atol=4 * 0.5 / np.sqrt(4000))


def pure_nash(payoff):
    """Pure Nash equilibria of a symmetric 2x2 game given as {(sa, sb): (ua, ub)}."""
    S = ("C", "D")
    eq = []
    for sa, sb in itertools.product(S, S):
        ua, ub = payoff[sa, sb]
        if all(payoff[x, sb][0] <= ua for x in S) and all(payoff[sa, y][1] <= ub for y in S):
            eq.append((sa, sb))
    return eq


def test_corridor_is_a_prisoners_dilemma_and_mixing_makes_cooperation_the_equilibrium():
    p = strategy_payoffs()  # the default layout
    R, S, T, P = p["C", "C"][0], p["C", "D"][0], p["D", "C"][0], p["D", "D"][0]
    assert (R, S, T, P) == pytest.approx((0.98, -0.01, 0.99, 0.49))
    assert T > R > P > S and 2 * R > T + S
    # selfish: defection strictly dominant, the unique pure equilibrium is D/D (0.49 each, "~0.5")
    assert pure_nash(p) == [("D", "D")]
    # fully mixed rewards (A_ij = 1/2): each agent is paid the mean of both rewards
    mixed = {k: ((a + b) / 2, (a + b) / 2) for k, (a, b) in p.items()}
    # C weakly dominates D, C/C is an equilibrium and pays every agent the most (0.98, "~1")
    assert all(mixed["C", y][0] >= mixed["D", y][0] for y in "CD")
    assert mixed["C", "C"][0] > mixed["D", "C"][0]
    assert ("C", "C") in pure_nash(mixed)
    assert mixed["C", "C"][0] == pytest.approx(max(v[0] for v in mixed.values()))
    # the closed form needs 0 < c (d_end - d_middle) < g / 2; a longer detour breaks R > P
    q = strategy_payoffs(1, 60)
    assert q["C", "C"][0] < q["D", "D"][0]


def q_learning(mix, n_envs=64, n_steps=3000, seed=0):
    """Independent tabular Q-learning in the corridor (epsilon-greedy, vectorised over copies).

    ``mix`` in [0, 1/2]: each agent learns from (1 - mix) r_i + mix r_j. Returns the greedy
    policies' average (unmixed) return, evaluated on the environment.
    """
    env = PrisonerCorridor(n_envs=n_envs)
    L = env.length
    rng = np.random.default_rng(seed)
    Q = np.zeros((2, L * L, 2))
    obs = env.reset(seed)

    def state(o):
        return o[:, 0, :L].argmax(1) * L + o[:, 0, L:].argmax(1)

    s = state(obs)
    for k in range(n_steps):
        eps = max(0.05, 1.0 - k / (0.6 * n_steps))
        act = np.empty((n_envs, 2), dtype=np.int64)
        for i in range(2):
            greedy = Q[i, s].argmax(1)
            act[:, i] = np.where(rng.random(n_envs) < eps, rng.integers(0, 2, n_envs), greedy)
        obs, r, d = env.step(act)
        s2 = state(obs)
        r_mix = (1 - mix) * r + mix * r[:, ::-1]
        for i in range(2):
            target = r_mix[:, i] + 0.99 * np.where(d, 0.0, Q[i, s2].max(1))
            # average the TD errors of copies that visited the same (state, action)
            err, cnt = np.zeros((L * L, 2)), np.zeros((L * L, 2))
            np.add.at(err, (s, act[:, i]), target - Q[i, s, act[:, i]])
            np.add.at(cnt, (s, act[:, i]), 1.0)
            Q[i] += 0.1 * err / np.maximum(cnt, 1.0)
        s = s2
    # greedy evaluation
    ev = PrisonerCorridor(n_envs=256)
    obs = ev.reset(seed + 1)
    for _ in range(ev.max_steps):
        st = state(obs)
        act = np.stack([Q[0, st].argmax(1), Q[1, st].argmax(1)], 1)
        obs, _, d = ev.step(act)
        if d.all():
            break
    assert d.all()
    return float(ev.last_episode_return.mean())


def test_corridor_tabular_q_learning_defects_selfish_and_cooperates_mixed():
    """The chosen layout gives the paper's qualitative result with independent Q-learners:
    defection (~0.49) with own rewards, cooperation (0.98) with fully mixed rewards."""
    selfish = q_learning(mix=0.0)
    mixed = q_learning(mix=0.5)
    assert selfish == pytest.approx(0.49, abs=0.06)
    assert mixed == pytest.approx(0.98, abs=1e-9)


def test_corridor_observation_and_render():
    env = PrisonerCorridor()
    obs = env.reset(0)
    L = env.length
    assert obs.shape == (1, 2, 2 * L)
    assert obs[0, 0, :L].argmax() == 2 and obs[0, 0, L:].argmax() == 4
    assert obs[0, 1, :L].argmax() == 4 and obs[0, 1, L:].argmax() == 2
    assert np.all(obs.sum(-1) == 2)
    # time limit: walking back and forth never reaches a goal; the episode is truncated
    for k in range(env.max_steps):
        o, r, d = env.step(np.array([[k % 2, 1 - k % 2]]))
    assert d[0] and env.truncated[0]
    np.testing.assert_allclose(env.last_episode_return, -0.01 * env.max_steps)
    # final_obs of a terminal step is the state at the goal, obs the new start
    env.reset(0)
    o, r, d = env.step(np.array([[1, 1]]))  # A defects (to the middle), B walks right
    assert d[0] and not env.truncated[0]
    assert env.final_obs[0, 0, :L].argmax() == env.middle and o[0, 0, :L].argmax() == 2


# ------------------------------------------------------------------------------------------------
# coin game (D3C Sec. 3.4)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("spawn,p", [("d3c", 0.005), ("d3c", 0.3), ("single", 0.005)])
def test_coin_game_conservation_and_incremental_obs(spawn, p):
    env = CoinGame(n_envs=16, spawn=spawn, spawn_prob=p, max_steps=50)
    env.reset(1)
    rng = np.random.default_rng(0)
    spawned = free = 0
    total_picks = 0
    for _ in range(400):
        coins_before = env.coins.reshape(16, -1)
        counts_before = env.coin_counts.copy()
        o, r, d = env.step(random_actions(env, rng))
        np.testing.assert_array_equal(o, env.encode_obs())  # incremental obs == full encoding
        dc = env.coin_counts - counts_before
        picks, wrong = dc.sum((1, 2)), dc[:, :, 1].sum(1)
        total_picks += picks.sum()
        # reward conservation: +1 per coin taken, -2 to the owner per coin of the other type
        np.testing.assert_allclose(r.sum(1), picks - 2.0 * wrong, atol=1e-12)
        # each agent: +1 per coin it took, -2 per own coin taken by the other
        np.testing.assert_allclose(r, dc.sum(2) - 2.0 * dc[:, ::-1, 1], atol=1e-12)
        coins_after = env.coins.reshape(16, -1)
        live = ~d
        n_after = (coins_after >= 0).sum(1)
        np.testing.assert_array_equal(n_after, env.n_coins)
        if spawn == "single":
            assert np.all(n_after == 1)
        else:
            pos = env.cells
            new = (coins_after >= 0) & (coins_before < 0)
            occupied = np.zeros_like(new)
            occupied[np.arange(16), pos[:, 0]] = True
            occupied[np.arange(16), pos[:, 1]] = True
            assert not np.any(new & occupied)
            # coins: before - picked + spawned = after (copies that did not reset)
            n_before = (coins_before >= 0).sum(1)
            n_picked = np.array([len({c for c in pos[e] if coins_before[e, c] >= 0}) for e in range(16)])
            np.testing.assert_array_equal((n_before - n_picked + new.sum(1))[live], n_after[live])
            spawned += new[live].sum()
            free += ((coins_before < 0) & ~occupied)[live].sum()
    assert total_picks > 0
    if spawn == "d3c":
        # per-cell spawn frequency = spawn_prob (binomial, 4 standard errors)
        assert abs(spawned / free - p) < 4 * np.sqrt(p * (1 - p) / free)


def test_coin_game_rules_by_hand():
    env = CoinGame(n_envs=1)
    S = 5
    coins = -np.ones((S, S), dtype=int)
    coins[1, 2] = 1  # an agent-1 coin to the right of agent 0
    coins[4, 4] = 0  # an agent-0 coin above agent 1 via wrap-around (row 0 -> up -> row 4)
    env.set_state([[1, 1], [0, 4]], coins)
    o, r, d = env.step(np.array([[3, 0]]))  # agent 0 right, agent 1 up (wraps)
    np.testing.assert_allclose(r[0], [1 - 2, 1 - 2])  # both take the other's coin: +1 - 2 each
    assert env.positions[0].tolist() == [[1, 2], [4, 4]]
    np.testing.assert_array_equal(env.coin_counts[0], [[0, 1], [0, 1]])  # [agent, own/other]
    # both step on one agent-0 coin: both get +1, agent 0 also pays 2
    coins = -np.ones((S, S), dtype=int)
    coins[2, 2] = 0
    env.set_state([[2, 1], [2, 3]], coins)
    o, r, d = env.step(np.array([[3, 2]]))
    np.testing.assert_allclose(r[0], [1 - 2, 1])
    assert env.coins[0, 2, 2] == -1
    np.testing.assert_array_equal(o, env.encode_obs())
    # channel order is egocentric: own position, other's, own coins, other's coins
    coins = -np.ones((S, S), dtype=int)
    coins[0, 0] = 0
    coins[0, 1] = 1
    o = env.set_state([[3, 3], [4, 4]], coins)[0]
    C = S * S
    assert o[0, 18] == 1 and o[0, C + 24] == 1 and o[0, 2 * C + 0] == 1 and o[0, 3 * C + 1] == 1
    assert o[1, 24] == 1 and o[1, C + 18] == 1 and o[1, 2 * C + 1] == 1 and o[1, 3 * C + 0] == 1
    assert o.sum() == 8


def test_coin_game_episode_length_and_starts():
    env = CoinGame(n_envs=200, max_steps=500)
    env.reset(4)
    pos = env.cells
    assert np.all(pos[:, 0] != pos[:, 1])  # distinct start cells
    assert len(np.unique(pos[:, 0])) > 20  # spread over the grid
    a = np.zeros((200, 2), dtype=np.int64)
    for k in range(1, 501):
        _, _, d = env.step(a)
        assert d.all() == (k == 500) and d.any() == (k == 500)
    assert env.truncated.all()
    assert np.all(env.coins.reshape(200, -1).max(1) == -1)  # a new episode starts with no coins


# ------------------------------------------------------------------------------------------------
# Trust-Your-Brother (D3C Sec. 3.3)
# ------------------------------------------------------------------------------------------------
def test_tyb_the_dilemma_by_hand():
    env = TrustYourBrother(n_envs=4)
    # predator on seat 0, blue prey next to it (seat 1), green prey just ahead (seat 2)
    env.set_state([1, 2], 0)
    CW, STAY, CCW = TrustYourBrother.CW, TrustYourBrother.STAY, TrustYourBrother.CCW
    act = np.array([[CW, STAY], [CW, CW], [STAY, STAY], [STAY, CW]])
    _, r, _ = env.step(act)
    prey, pred = env.positions
    np.testing.assert_allclose(r, [[-1.01, 0.0], [-0.01, -0.01], [-1.0, 0.0], [-1.0, -0.01]])
    # blocked by the staying brother / both escape / nobody moves / brother leaves alone
    assert prey.tolist() == [[1, 2], [2, 3], [1, 2], [1, 3]]
    # the predator stays next to a prey, otherwise it closes in one seat
    assert pred.tolist() == [0, 1, 0, 0]
    # swap, same target and moving into the predator are blocked
    env.set_state([[2, 3], [2, 4], [1, 4], [5, 6]], [6, 0, 0, 0])
    _, r, _ = env.step(np.array([[CW, CCW], [CW, CCW], [CCW, STAY], [STAY, STAY]]))
    prey, _ = env.positions
    assert prey.tolist() == [[2, 3], [2, 4], [1, 4], [5, 6]]


def test_tyb_invariants_over_all_states_and_actions():
    L = 6
    states = [(a, b, q) for a, b, q in itertools.product(range(L), repeat=3) if len({a, b, q}) == 3]
    joint = list(itertools.product(range(3), range(3)))
    n = len(states) * len(joint)
    env = TrustYourBrother(n_envs=n, table_size=L)
    prey0 = np.array([[s[0], s[1]] for s in states for _ in joint])
    pred0 = np.array([s[2] for s in states for _ in joint])
    act = np.array([j for _ in states for j in joint])
    env.set_state(prey0, pred0)
    obs, r, d = env.step(act)
    prey, pred = env.positions
    ring = lambda x, y: np.minimum(np.abs(x - y), L - np.abs(x - y))  # noqa: E731
    # seats stay distinct, everyone moves at most one seat, staying prey do not move
    assert np.all((prey[:, 0] != prey[:, 1]) & (prey[:, 0] != pred) & (prey[:, 1] != pred))
    assert np.all(ring(prey, prey0) <= 1) and np.all(ring(pred, pred0) <= 1)
    assert np.all(prey[act == 0] == prey0[act == 0])
    # rewards: -0.01 per attempted move, -1 when the predator (before its move) is adjacent
    adj = ring(prey, pred0[:, None]) == 1
    np.testing.assert_allclose(r, -0.01 * (act != 0) - 1.0 * adj)
    # the predator stays iff a prey is adjacent after the prey moved, else gets closer
    stays = pred == pred0
    np.testing.assert_array_equal(stays, adj.any(1))
    dmin0 = ring(prey, pred0[:, None]).min(1)
    dmin1 = ring(prey, pred[:, None]).min(1)
    assert np.all(dmin1[~stays] == dmin0[~stays] - 1)
    # observation: (ccw - cw distance to the predator) / L for each prey, same for both agents
    ccw = (prey - pred[:, None]) % L
    cw = (pred[:, None] - prey) % L
    np.testing.assert_allclose(obs[:, 0], (ccw - cw) / L, atol=1e-7)
    np.testing.assert_array_equal(obs[:, 0], obs[:, 1])


def test_tyb_predator_breaks_ties_at_random():
    env = TrustYourBrother(n_envs=2000, table_size=8)
    env.reset(0)
    env.set_state([2, 6], 4)  # both prey two seats away from the predator
    env.step(np.zeros((2000, 2), dtype=np.int64))
    _, pred = env.positions
    frac = np.mean(pred == 3)
    assert set(np.unique(pred)) == {3, 5} and abs(frac - 0.5) < 4 * np.sqrt(0.25 / 2000)
    env.set_state([0, 1], 4)  # prey 0 exactly opposite (4 seats both ways), prey 1 at 3 seats
    env.step(np.zeros((2000, 2), dtype=np.int64))
    _, pred = env.positions
    assert np.all(pred == 3)  # towards prey 1 along the shorter arc


def _tyb_returns(policy_a, policy_b, seed=0, n_envs=4000):
    env = TrustYourBrother(n_envs=n_envs)
    env.reset(seed)
    L = env.table_size
    for _ in range(env.max_steps):
        prey, pred = env.positions
        ccw = (prey - pred[:, None]) % L  # seats counter-clockwise from each prey to the predator
        dist = np.minimum(ccw, L - ccw)
        away = np.where(ccw <= L // 2, TrustYourBrother.CW, TrustYourBrother.CCW)
        act = np.stack([policy_a(dist[:, 0], away[:, 0]), policy_b(dist[:, 1], away[:, 1])], 1)
        env.step(act)
    return env.last_episode_return.mean(0)


def make_room(dist, away):
    """Move away from the predator when it is within 2 seats (so a chased brother can pass)."""
    return np.where(dist <= 2, away, TrustYourBrother.STAY)


def selfish(dist, away):
    """Move away only when the predator is adjacent (a prey two seats away is never caught while
    the predator sits next to its brother: the predator stays put)."""
    return np.where(dist == 1, away, TrustYourBrother.STAY)


def test_tyb_is_a_social_dilemma():
    """Two hand-coded strategies over whole episodes: making room for the brother is the best joint
    behaviour, but each prey gains by deviating to the selfish strategy (the D3C Fig. 4b story)."""
    R = _tyb_returns(make_room, make_room)
    T_S = _tyb_returns(selfish, make_room)  # agent 0 deviates
    P = _tyb_returns(selfish, selfish)
    never = _tyb_returns(lambda d, a: 0 * d, lambda d, a: 0 * d)
    assert R.sum() > -0.5  # almost only move costs (about -0.19 each)
    assert P.sum() < R.sum() - 15 and never.sum() < P.sum()  # both selfish: caught most steps
    assert T_S[0] > R[0] + 0.03  # the deviator saves move costs ...
    assert T_S[1] < R[1] - 5  # ... and its brother gets caught
    assert T_S.sum() < R.sum() - 5


# ------------------------------------------------------------------------------------------------
# property test: arbitrary coin-game states
# ------------------------------------------------------------------------------------------------
hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

_COIN_ENV = {}


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(
    pos=st.lists(st.integers(0, 4), min_size=4, max_size=4),
    board=st.lists(st.integers(-1, 1), min_size=25, max_size=25),
    act=st.lists(st.integers(0, 3), min_size=2, max_size=2),
)
def test_coin_game_step_properties(pos, board, act):
    env = _COIN_ENV.setdefault("env", CoinGame(n_envs=1, spawn_prob=0.0))
    coins = np.array(board).reshape(5, 5)
    env.set_state(np.array(pos).reshape(2, 2), coins)
    counts0 = env.coin_counts.copy()
    obs, r, _ = env.step(np.array([act]))
    moves = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]])
    new = (np.array(pos).reshape(2, 2) + moves[act]) % 5
    assert env.positions[0].tolist() == new.tolist()  # torus moves
    picked = {tuple(p) for p in new if coins[tuple(p)] >= 0}
    expect = np.zeros(2)
    for i, p in enumerate(map(tuple, new)):
        owner = coins[p]
        if owner >= 0:
            expect[i] += 1
            if owner != i:
                expect[owner] -= 2
    np.testing.assert_allclose(r[0], expect)
    after = env.coins[0]
    for p in picked:
        assert after[p] == -1
    assert (after >= 0).sum() == (coins >= 0).sum() - len(picked)  # no spawns with p = 0
    assert env.n_coins[0] == (after >= 0).sum()
    assert (env.coin_counts - counts0).sum() == sum(coins[tuple(p)] >= 0 for p in new)
    np.testing.assert_array_equal(obs, env.encode_obs())


@pytest.mark.parametrize("cls", ENVS)
def test_any_integer_action_array_is_accepted(cls):
    """int32, non-contiguous and list actions give the same step as a C-contiguous int64 array."""
    rng = np.random.default_rng(3)
    acts = [random_actions(cls(n_envs=4, **SMALL[cls]), rng) for _ in range(20)]
    a, b = cls(n_envs=4, **SMALL[cls]), cls(n_envs=4, **SMALL[cls])
    a.reset(2)
    b.reset(2)
    for k, act in enumerate(acts):
        other = [np.asfortranarray(act.astype(np.int32)), act.tolist(), act.astype(np.uint8)][k % 3]
        for x, y in zip(a.step(act), b.step(other)):
            np.testing.assert_array_equal(x, y)
