"""Clear errors instead of confusing ones at the public API (issue 12, "Should fix" items).

Each test calls a public entry point the way a user would get it wrong and checks that the error
is a ``ValueError`` naming the parameter (not numpy's or numba's message from deep inside), or that
a computation whose numbers go non-finite says so with a :class:`sharelib.diagnostics.NonFiniteWarning`.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import sharelib
from sharelib import markets as M
from sharelib.envs import CoinGame, Harvest, PrisonerCorridor
from sharelib.envs.scripted import ScriptedAgents
from sharelib.envs.toy import Bandit
from sharelib.games import equilibria
from sharelib.games.braess import BraessNetwork, paper_network, random_braess_networks
from sharelib.games.prisoners_dilemma import PrisonersDilemma
from sharelib.learners import A2C, DQN, MADDPG, PPO, REINFORCE, Hooks, SimplexDPG
from sharelib.learners.actor_critic import evaluate
from sharelib.sharing import ce_dos as C
from sharelib.sharing import d3c

BAD_SEEDS = [-1, "abc", 3.0, None, True]


def _diagnostics():
    # imported lazily so that the other tests of this file still run (and fail) without the module
    from sharelib import diagnostics

    return diagnostics


# ------------------------------------------------------------------------------ 1. seeds
def _seed_calls():
    pd = PrisonersDilemma(3)
    net = paper_network(True)
    bandit = Bandit(1)
    return {
        "run_ce_dos(kind)": lambda s: C.run_ce_dos("simple", 3, 1, n_iter=1, n_sample=4, n_eval=1, seed=s),
        "run_ce_dos(market)": lambda s: C.run_ce_dos(M.simple_market(3, 2.0), n_sharers=1, n_iter=1,
                                                     n_sample=4, n_eval=1, seed=s),
        "run_ce_dos_numpy": lambda s: C.run_ce_dos_numpy(M.simple_market(3, 2.0), 1, n_iter=1, n_sample=4,
                                                         n_eval=1, seed=s),
        "figure_point": lambda s: C.figure_point("simple", 3, 1, 0, s, n_iter=1, n_sample=4, n_eval=1),
        "figure_point(market_seed)": lambda s: C.figure_point("simple", 3, 1, s, 0, n_iter=1, n_sample=4),
        "figure_grid": lambda s: C.figure_grid(["simple"], [3], 1, seed=s),
        "simulate_coin_game": lambda s: C.simulate_coin_game((1, 1), 0.0, 10, seed=s),
        "run_pd": lambda s: d3c.run_pd(pd, steps=2, seed=s),
        "run_braess": lambda s: d3c.run_braess(net, steps=2, seed=s),
        "ZerothOrderD3C(rng)": lambda s: d3c.ZerothOrderD3C(2, rng=s),
        "random_braess_networks(rng)": lambda s: random_braess_networks(1, s),
        "sample_market(rng)": lambda s: M.sample_market("simple", 3, s),
        "PPO()": lambda s: PPO.for_env(bandit, hidden=(4,), seed=s),
        "PPO.train": lambda s: PPO.for_env(bandit, hidden=(4,), n_steps=4, n_minibatches=1).train(bandit, 4, seed=s),
        "PPO.evaluate": lambda s: PPO.for_env(bandit, hidden=(4,)).evaluate(bandit, 1, seed=s),
        "evaluate": lambda s: evaluate(PPO.for_env(bandit, hidden=(4,)), bandit, 1, seed=s),
        "DQN()": lambda s: DQN.for_env(bandit, hidden=(4,), seed=s),
        "DQN.train": lambda s: DQN.for_env(bandit, hidden=(4,), batch_size=2, buffer_size=8).train(bandit, 4, seed=s),
        "DQN.evaluate": lambda s: DQN.for_env(bandit, hidden=(4,)).evaluate(bandit, 1, seed=s),
        "SimplexDPG()": lambda s: SimplexDPG(2, 3, hidden=(4,), critic_hidden=(4,), seed=s),
        "MADDPG()": lambda s: MADDPG.for_env(bandit, hidden=(4,), seed=s),
        "MADDPG.train": lambda s: MADDPG.for_env(bandit, hidden=(4,), batch_size=2, buffer_size=8).train(bandit, 4,
                                                                                                       seed=s),
        "MADDPG.evaluate": lambda s: MADDPG.for_env(bandit, hidden=(4,)).evaluate(bandit, 1, seed=s),
        "env.reset": lambda s: PrisonerCorridor(1).reset(s),
        "CoinGame.reset": lambda s: CoinGame(1).reset(s),
        "Harvest.reset": lambda s: Harvest(1).reset(s),
        "ScriptedAgents": lambda s: ScriptedAgents(Harvest(1), ["eat"] * 5, seed=s),
        "ssd_outcomes.play": lambda s: _play(seed=s),
        "MLP.init": lambda s: PPO(1, 2, hidden=(4,)).policy_net.init(s),
    }


def _play(**kw):
    from sharelib.envs import ssd_outcomes

    return ssd_outcomes.play("harvest", "greedy", n_envs=1, steps=2, **kw)


@pytest.mark.parametrize("where", sorted(_seed_calls()))
@pytest.mark.parametrize("seed", BAD_SEEDS, ids=repr)
def test_bad_seed_is_refused_by_name(where, seed):
    call = _seed_calls()[where]
    name = "rng" if "(rng)" in where else ("market_seed" if "market_seed" in where else "seed")
    if seed is None and name == "rng":
        call(seed)  # rng=None means fresh entropy, as in numpy
        return
    with pytest.raises(ValueError, match=rf"^{name} must be an integer >= 0"):
        call(seed)


def test_large_seeds_are_accepted():
    # numpy's SeedSequence takes any non-negative integer: no artificial upper bound
    big = 2**64 + 5
    a = C.run_ce_dos("simple", 3, 1, n_iter=2, n_sample=4, n_eval=1, seed=big)
    b = C.run_ce_dos("simple", 3, 1, n_iter=2, n_sample=4, n_eval=1, seed=big)
    np.testing.assert_array_equal(a.global_reward, b.global_reward)
    PrisonerCorridor(1).reset(big)
    d3c.run_pd(PrisonersDilemma(3), steps=2, seed=big)
    PPO.for_env(Bandit(1), hidden=(4,), n_steps=4, n_minibatches=1, seed=big).train(Bandit(1), 4, seed=big)


def test_numpy_integer_seeds_still_work():
    a = d3c.run_pd(PrisonersDilemma(3), steps=5, seed=np.int64(7))
    b = d3c.run_pd(PrisonersDilemma(3), steps=5, seed=7)
    np.testing.assert_array_equal(a.total, b.total)


def test_pettingzoo_reset_seed_is_checked():
    pytest.importorskip("pettingzoo")
    from sharelib.envs.pettingzoo import to_parallel_env

    env = to_parallel_env(PrisonerCorridor)
    with pytest.raises(ValueError, match="^seed must be an integer >= 0"):
        env.reset(seed=-1)
    env.reset(seed=3)
    env.reset()


# ------------------------------------------------------------------------------ 2. converted values are kept
def test_constructors_keep_the_converted_integers():
    pd = PrisonersDilemma(np.int64(3), 1)
    assert type(pd.n_players) is int and type(pd.c) is float
    net = BraessNetwork(paper_network().slope, paper_network().intercept, True, np.int64(4))
    assert type(net.n_drivers) is int
    m = M.Market("simple", np.int64(3), xi=2)
    assert type(m.n_agents) is int and type(m.xi) is float


@pytest.mark.parametrize("make, name", [
    (lambda: PrisonersDilemma(3.0), "n_players"),
    (lambda: PrisonersDilemma(3, "1"), "c"),
    (lambda: BraessNetwork(np.ones(5), np.ones(5), True, 4.0), "n_drivers"),
    (lambda: M.Market("simple", 3.0, xi=2.0), "n_agents"),
    (lambda: _play(frames=2.0), "frames"),
    (lambda: _play(n_agents=5.0), "n_agents"),
])
def test_float_for_an_integer_raises_at_construction(make, name):
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        make()


# ------------------------------------------------------------------------------ 3. markets
def test_market_kind_and_fields_are_validated():
    with pytest.raises(ValueError, match=r"^kind must be one of 'simple', 'logistic'; got 'foo'"):
        M.Market("foo", 3)
    with pytest.raises(ValueError, match="^n_agents must be an integer >= 1"):
        M.Market("simple", 0, xi=2.0)
    with pytest.raises(ValueError, match="^xi must be a number > 0"):
        M.Market("simple", 3)  # xi missing (nan)
    with pytest.raises(ValueError, match="^xi must be a number > 0"):
        M.Market("simple", 3, xi=-1.0)
    with pytest.raises(ValueError, match="c and o .* length n_agents=3"):
        M.Market("logistic", 3, c=[1.0, 2.0], o=[1.0, 2.0], c_price=1.0, o_price=1.0)
    with pytest.raises(ValueError, match="^c_price must be a number"):
        M.Market("logistic", 2, c=[1.0, 2.0], o=[1.0, 2.0], o_price=1.0)
    with pytest.raises(ValueError, match="logistic market only"):
        M.Market("simple", 2, xi=2.0, c=[1.0, 2.0], o=[1.0, 2.0])
    with pytest.raises(ValueError, match="simple market only"):
        M.Market("logistic", 2, xi=2.0, c=[1.0, 2.0], o=[1.0, 2.0], c_price=1.0, o_price=1.0)
    # the factories still build the same markets
    m = M.logistic_market([1.0, 2.0], [1.5, 2.5], 2.0, 1.0)
    direct = M.Market("logistic", 2, c=[1.0, 2.0], o=[1.5, 2.5], c_price=2.0, o_price=1.0)
    a = np.array([[0.5, 1.0], [2.0, 3.0]])
    np.testing.assert_array_equal(m.rewards(a), direct.rewards(a))
    assert not direct.c.flags.writeable


def test_simple_market_zero_total_production_is_a_clear_error():
    m = M.simple_market(3, 2.0)
    np.testing.assert_array_equal(m.rewards([0.0, 1.0, 1.0]), [0.0, 0.25, 0.25])  # a zero share is fine
    with pytest.raises(ValueError, match=r"^actions .*sum_j a_j = 0.*row 1"):
        m.rewards([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match=r"^actions"):
        M.rewards(m, [0.0, 0.0, 0.0])
    # the logistic market is defined everywhere
    assert np.isfinite(M.logistic_market([1.0, 1.0], [1.0, 1.0], 1.0, 1.0).rewards([0.0, 0.0])).all()


# ------------------------------------------------------------------------------ 4. hidden
@pytest.mark.parametrize("make", [
    lambda h: PPO(2, 2, hidden=h), lambda h: A2C(2, 2, hidden=h), lambda h: REINFORCE(2, 2, hidden=h),
    lambda h: DQN(2, 2, hidden=h), lambda h: SimplexDPG(2, 3, hidden=h), lambda h: MADDPG(2, 3, 2, hidden=h),
    lambda h: SimplexDPG(2, 3, critic_hidden=h),
])
@pytest.mark.parametrize("hidden", [64, 64.0, "64", None])
def test_hidden_must_be_a_sequence(make, hidden):
    with pytest.raises(ValueError, match=r"hidden must be a sequence of layer widths, e.g. \(64, 64\)"):
        make(hidden)


def test_hidden_sequences_still_work():
    assert PPO(2, 2, hidden=[8]).hidden == (8,)
    assert PPO(2, 2, hidden=()).hidden == ()
    assert DQN(2, 2, hidden=np.array([4, 4])).hidden == (4, 4)
    with pytest.raises(ValueError, match="^hidden width must be an integer >= 1"):
        PPO(2, 2, hidden=(8, 0))
    with pytest.raises(ValueError, match="^activation must be one of"):
        SimplexDPG(2, 3, activation="sigmoid")


# ------------------------------------------------------------------------------ 5. cross-parameter constraints
def test_ppo_minibatches_must_fit_the_rollout():
    env = Bandit(1)
    L = PPO.for_env(env, hidden=(4,), n_steps=8, n_minibatches=64)
    with pytest.raises(ValueError, match=r"n_minibatches=64 .* n_steps \* n_envs = 8 \* 1 = 8"):
        L.train(env, 100)
    # the same learner fits a rollout of 8 steps x 8 copies
    r = PPO.for_env(Bandit(8), hidden=(4,), n_steps=8, n_minibatches=64).train(Bandit(8), 128)
    assert np.isfinite(r.stats["policy_loss"]).all()
    # shared parameters: one network sees n_steps * n_envs * n_agents samples
    env2 = PrisonerCorridor(2)
    PPO.for_env(env2, hidden=(4,), n_steps=8, n_minibatches=32, share_params=True).train(env2, 16)
    with pytest.raises(ValueError, match=r"n_steps \* n_envs \* n_agents = 8 \* 2 \* 2 = 32"):
        PPO.for_env(env2, hidden=(4,), n_steps=8, n_minibatches=33, share_params=True).train(env2, 16)


def test_dqn_batch_must_fit_the_buffer():
    with pytest.raises(ValueError, match=r"batch_size=64 must be <= buffer_size=8"):
        DQN(2, 2, batch_size=64, buffer_size=8)
    DQN(2, 2, batch_size=8, buffer_size=8)
    with pytest.raises(ValueError, match="^log_every must be an integer >= 1"):
        DQN.for_env(Bandit(1), hidden=(4,), batch_size=2, buffer_size=8).train(Bandit(1), 4, log_every=-1)


# ------------------------------------------------------------------------------ 6. d3c clip and init_scale
@pytest.mark.parametrize("clip", [(1, -1), (1.0, 1.0), (np.nan, 1.0), (0.0, np.nan), (1,), 5, ("a", "b")])
def test_d3c_clip_is_validated(clip):
    pd = PrisonersDilemma(3)
    with pytest.raises(ValueError, match=r"^clip must be \(low, high\) with low < high"):
        d3c.run_pd(pd, steps=2, clip=clip)
    with pytest.raises(ValueError, match=r"^clip must be \(low, high\)"):
        d3c.mirror_step(d3c.init_mixing(2), np.zeros((2, 2)), 0.1, clip=clip)
    with pytest.raises(ValueError, match=r"^clip must be \(low, high\)"):
        d3c.ZerothOrderD3C(2, clip=clip)


def test_d3c_init_scale_is_validated():
    pd = PrisonersDilemma(3)
    for bad in (-1, np.nan, "1"):
        with pytest.raises(ValueError, match="^init_scale must be a number >= 0"):
            d3c.run_pd(pd, steps=2, init_scale=bad)
        with pytest.raises(ValueError, match="^init_scale must be a number >= 0"):
            d3c.run_braess(paper_network(), steps=2, init_scale=bad)
    # zero is a valid (deterministic) start; infinite clips are the default
    r = d3c.run_pd(pd, steps=2, init_scale=0.0, clip=(-np.inf, 5.0))
    assert np.all(np.isfinite(r.total))


# ------------------------------------------------------------------------------ 7. uint64 actions
def test_env_step_reports_uint64_actions_as_given():
    env = PrisonerCorridor(1)
    env.reset(0)
    a = np.zeros((1, env.n_agents), dtype=np.uint64)
    a[0, 1] = 2**63
    with pytest.raises(ValueError, match=r"got 9223372036854775808 at \(0, 1\)") as e:
        env.step(a)
    assert "-9223372036854775808" not in str(e.value)
    a[0, 1] = 2**64 - 1
    with pytest.raises(ValueError, match=r"got 18446744073709551615 at"):
        env.step(a)
    a[0, 1] = 1
    env.step(a)  # valid uint64 actions still work
    with pytest.raises(ValueError, match=r"got -3 at \(0, 0\)"):
        env.step(np.array([[-3, 0]], dtype=np.int8))


# ------------------------------------------------------------------------------ 8. non-finite warnings
def _only_nonfinite(record):
    D = _diagnostics()
    return [w for w in record if issubclass(w.category, D.NonFiniteWarning)]


def test_warn_if_nonfinite_helper():
    D = _diagnostics()
    assert issubclass(D.NonFiniteWarning, RuntimeWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert D.warn_if_nonfinite("loss", np.arange(5.0)) is False
        assert D.warn_if_nonfinite("loss", 3.0) is False
    with pytest.warns(D.NonFiniteWarning, match=r"^loss became non-finite \(nan\) at step 3") as rec:
        assert D.warn_if_nonfinite("loss", np.array([0.0, 1.0, 2.0, np.nan, np.inf])) is True
    assert len(_only_nonfinite(rec)) == 1
    with pytest.warns(D.NonFiniteWarning, match=r"^total became non-finite \(inf\) at step 40"):
        D.warn_if_nonfinite("total", np.array([[1.0, 2.0, np.inf], [1.0, 1.0, 1.0]]), step=[0, 20, 40], axis=1)
    with pytest.warns(D.NonFiniteWarning, match=r"^x became non-finite \(-inf\) at step 7"):
        D.warn_if_nonfinite("x", -np.inf, step=7)
    with pytest.warns(D.NonFiniteWarning, match=r"^x became non-finite \(nan\)$"):
        D.warn_if_nonfinite("x", float("nan"))


def test_d3c_divergence_warns_once_with_the_step():
    D = _diagnostics()
    pd = PrisonersDilemma(3)
    with pytest.warns(D.NonFiniteWarning, match=r"run_pd: total loss became non-finite .* at step (\d+)") as rec:
        r = d3c.run_pd(pd, n_runs=3, steps=200, lr_x=1e6, record_every=10)
    ws = _only_nonfinite(rec)
    assert len(ws) == 1
    bad = ~np.isfinite(r.total)
    first = int(r.steps[np.flatnonzero(bad.any(axis=0))[0]])
    assert re.search(rf"at step {first}\b", str(ws[0].message)) and "lr_x" in str(ws[0].message)
    huge = BraessNetwork(np.full(5, 1e308), np.zeros(5))  # costs overflow: the losses are inf from step 0
    with pytest.warns(D.NonFiniteWarning, match=r"run_braess: total loss became non-finite \(inf\) at step 0"):
        d3c.run_braess(huge, steps=10, n_runs=2)
    with pytest.warns(D.NonFiniteWarning, match=r"^run_game: "):
        d3c.run_game("pd", [1.0], np.ones((1, 3, 2)), steps=100, lr_x=1e6)


def test_valid_runs_do_not_warn():
    D = _diagnostics()
    with warnings.catch_warnings():
        warnings.simplefilter("error", D.NonFiniteWarning)
        d3c.run_pd(PrisonersDilemma(3), steps=50)
        d3c.run_braess(paper_network(), steps=50, n_runs=2)
        equilibria.gradient_play(PrisonersDilemma(3), np.zeros((3, 2)), steps=20)
        C.run_ce_dos("logistic", 4, 2, n_iter=3, n_sample=10, n_eval=1)
        PPO.for_env(Bandit(2), hidden=(4,), n_steps=8, n_minibatches=2).train(Bandit(2), 32)
        coin = CoinGame(1)  # no episode ends in 16 steps: NaN returns by design, not a warning
        res = PPO.for_env(coin, hidden=(4,), n_steps=8, n_minibatches=2).train(coin, 16)
        assert np.isnan(res.returns).all()
        DQN.for_env(Bandit(2), hidden=(4,), batch_size=4, buffer_size=16, learning_starts=8).train(Bandit(2), 40)


def test_gradient_play_and_social_optimum_warn():
    D = _diagnostics()
    pd = PrisonersDilemma(3)
    with pytest.warns(D.NonFiniteWarning, match=r"gradient_play: loss became non-finite .* at step \d+") as rec, \
            np.errstate(over="ignore", invalid="ignore"):
        x, hist = equilibria.gradient_play(pd, np.ones((3, 2)), lr=1e6, steps=300)
    assert len(_only_nonfinite(rec)) == 1
    first = int(np.flatnonzero(~np.isfinite(hist).all(axis=1))[0])
    assert f"at step {first}" in str(_only_nonfinite(rec)[0].message)
    with pytest.warns(D.NonFiniteWarning, match="social_optimum"), np.errstate(over="ignore", invalid="ignore"):
        equilibria.social_optimum(pd, np.ones((3, 2)), lr=1e6, steps=300)


def _inf_rewards(r, ctx):
    return np.where(np.ones_like(r, dtype=bool), np.inf, r)


@pytest.mark.parametrize("make", [
    lambda env: PPO.for_env(env, hidden=(4,), n_steps=4, n_minibatches=1, hooks=Hooks(reward=_inf_rewards)),
    lambda env: A2C.for_env(env, hidden=(4,), hooks=Hooks(reward=_inf_rewards)),
    lambda env: DQN.for_env(env, hidden=(4,), batch_size=4, buffer_size=16, learning_starts=4,
                            hooks=Hooks(reward=_inf_rewards)),
], ids=["PPO", "A2C", "DQN"])
def test_learners_warn_when_training_goes_nonfinite(make):
    D = _diagnostics()
    env = Bandit(2)
    L = make(env)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        L.train(env, 64)
    ws = _only_nonfinite(rec)
    assert len(ws) == 1, [str(w.message) for w in ws]
    assert "became non-finite" in str(ws[0].message) and "at step" in str(ws[0].message)
    assert type(L).__name__ in str(ws[0].message)


def test_dpg_warns_once():
    D = _diagnostics()
    L = SimplexDPG(2, 3, hidden=(4,), critic_hidden=(4,))
    obs = np.zeros((5, 1, 2))
    w = L.act(obs, rng=0)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        for _ in range(3):
            L.update_critic(obs, w, np.full((5, 1), np.inf))
            L.update_actor(obs)
    ws = _only_nonfinite(rec)
    assert len(ws) == 1 and "SimplexDPG" in str(ws[0].message) and "at update 1" in str(ws[0].message)


def test_ce_dos_result_checked_after_the_kernel(monkeypatch):
    D = _diagnostics()
    kernel = C.algorithm._ce_dos_kernel

    def poisoned(*args):
        kernel(*args)
        glob = args[-9]  # the global-reward trace (n_iter,)
        glob[2:] = np.nan

    monkeypatch.setattr(C.algorithm, "_ce_dos_kernel", poisoned)
    with pytest.warns(D.NonFiniteWarning, match=r"run_ce_dos: global reward became non-finite \(nan\) at iteration 2"):
        C.run_ce_dos("simple", 3, 1, n_iter=4, n_sample=4, n_eval=1)


# ------------------------------------------------------------------------------ 9. read-only install
def _unprivileged_prefix():
    """A command prefix that runs a child without root's power to write anywhere, or None."""
    python_dir = Path(sys.executable).resolve().parent
    if os.geteuid() != 0:
        return []
    unshare = shutil.which("unshare")
    if unshare:
        # a user namespace where we are uid 1000: files stay readable (they look like ours), but
        # the capability to write into read-only folders is gone
        probe = subprocess.run([unshare, "--user", "--map-user=1000", "--map-group=1000", sys.executable, "-c", "0"],
                               capture_output=True)
        if probe.returncode == 0:
            return [unshare, "--user", "--map-user=1000", "--map-group=1000"]
    for tool in (["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"], ["runuser", "-u", "nobody", "--"]):
        if shutil.which(tool[0]):
            probe = subprocess.run(tool + [sys.executable, "-c", "0"], capture_output=True)
            if probe.returncode == 0:
                return tool
    pytest.skip(f"no way to run {python_dir}/python unprivileged (unshare --user, setpriv, runuser)")


def _chmod_tree(root, writable):
    for dirpath, dirnames, filenames in os.walk(root):
        for p in [dirpath] + [os.path.join(dirpath, f) for f in filenames]:
            mode = os.stat(p).st_mode
            os.chmod(p, (mode | stat.S_IWUSR) if writable else (mode & ~0o222))


def test_import_with_no_writable_cache_falls_back_to_a_temporary_dir(tmp_path):
    prefix = _unprivileged_prefix()
    src = Path(sharelib.__file__).parent
    pkg_root = tmp_path / "site"
    shutil.copytree(src, pkg_root / "sharelib", ignore=shutil.ignore_patterns("__pycache__"))
    home = tmp_path / "home"
    home.mkdir()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    scratch.chmod(0o777)
    tmp_path.chmod(0o755)
    _chmod_tree(pkg_root, writable=False)
    _chmod_tree(home, writable=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "XDG_", "PYTHON"))}
    env.update(HOME=str(home), PYTHONPATH=str(pkg_root), TMPDIR=str(scratch), PYTHONDONTWRITEBYTECODE="1")
    code = textwrap.dedent("""
        import os, sharelib
        from sharelib.sharing import d3c
        from sharelib.games.prisoners_dilemma import PrisonersDilemma
        assert sharelib.__file__.startswith(os.environ["PYTHONPATH"]), sharelib.__file__
        r = d3c.run_pd(PrisonersDilemma(3), steps=3)
        print("CACHE_DIR", os.environ["NUMBA_CACHE_DIR"])
        print("TOTAL", r.total[0, -1])
    """)
    try:
        p = subprocess.run(prefix + [sys.executable, "-c", code], env=env, capture_output=True, text=True,
                           timeout=600, cwd=str(scratch))
    finally:
        _chmod_tree(pkg_root, writable=True)
        _chmod_tree(home, writable=True)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "CACHE_DIR" in p.stdout and str(scratch) in p.stdout.split("CACHE_DIR", 1)[1].split()[0]
    lines = [ln for ln in p.stderr.splitlines() if "NUMBA_CACHE_DIR" in ln]
    assert len(lines) == 1, p.stderr
    assert "sharelib-numba-" in lines[0] and "persistent" in lines[0]
    expected = d3c.run_pd(PrisonersDilemma(3), steps=3).total[0, -1]
    assert float(p.stdout.split("TOTAL", 1)[1].split()[0]) == pytest.approx(expected, rel=0, abs=0)


def test_import_keeps_a_user_numba_cache_dir(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "mine")
    p = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c",
                        "import os, sharelib; print(os.environ['NUMBA_CACHE_DIR'])"],
                       env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == str(tmp_path / "mine")


def test_init_docstring_documents_numba_cache_dir():
    assert "NUMBA_CACHE_DIR" in sharelib.__doc__
