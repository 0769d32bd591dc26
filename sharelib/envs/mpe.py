r"""The Multi-Agent Particle Environments of FPF/LMF's Fig. 7, from ``mpe2`` (PettingZoo's maintained
MPE), behind our batched :class:`~sharelib.envs.base.MultiAgentEnv` interface.

Nothing of MPE's physics or rewards is re-implemented here: every copy is one ``mpe2`` PettingZoo
``parallel_env`` (discrete actions), stepped in turn. ``mpe2`` is optional
(``pip install 'sharelib[mpe]'``); the classes import it when constructed.

The scenarios (Dong et al., AAAI 2025, Sec. "Multi-Agent Particle Environments", Fig. 7; team sizes from
the FPF-LMF code's ``Exp3_MPE/README.md``, notes Sec. 1.6):

- :class:`PhysicalDeception` (mpe2 ``simple_adversary``): the team is ``agent_0..N-1`` (N = 3), the
  opponent ``adversary_0``;
- :class:`CovertCommunication` (``simple_crypto``): the team is ``bob_0`` and ``alice_0``, the opponent
  ``eve_0``;
- :class:`PredatorPrey` (``simple_tag``): the team is the predators ``adversary_0..2``, the opponent the
  prey ``agent_0``;
- :class:`KeepAway` (``simple_push``): the team is ``agent_0..N-1`` (N = 3), the opponent
  ``adversary_0``.

The paper trains the cooperating side "with the adversary agent's policy fixed as a random policy"; here
the opponents play uniformly random discrete actions, drawn from the copy's own random stream. (The
FPF-LMF code's MPE is continuous-action and its random opponent draws a uniform acceleration; ours
draws one of the 5 discrete moves, or for Eve one of the 4 symbols.)

Deviations from ``mpe2``'s defaults, each from the FPF-LMF code (notes Sec. 1.6): episodes of 100 steps
(``max_cycles``; mpe2: 25); Physical deception with 3 cooperating agents (mpe2's ``N = 2``; mpe2 ties the
landmarks to ``N``, so there are 3 landmarks where the code's README says 2); Keep-away with 3
cooperating agents (mpe2's ``simple_push`` has 1 and no parameter for it: with ``n_good > 1`` we build
mpe2's own push world and add good agents made exactly as mpe2 makes its one, so the physics, the
observations and the rewards stay mpe2's; ``n_good=1`` is mpe2's stock scenario).

Interface
---------
Agent ``i`` of ours is ``mpe_agents[i]`` of mpe2 (the team, in mpe2's order). Observations are the
team's mpe2 observations, zero-padded at the end to the largest of the team (``obs_dims`` gives each
agent's own size; the four scenarios' teams all have equal sizes). Actions are mpe2's discrete
actions; every team member must have the same number (true of the four). Rewards are mpe2's, for the
team only. Episodes end by the time limit (``truncated``; these scenarios have no terminal state).

Seeding: ``reset(seed)`` gives copy ``e`` the base class's per-copy stream; every episode of a copy
(including auto-resets) draws mpe2's ``reset(seed=...)`` from it (:attr:`episode_seeds` holds the
running episode's), and the opponents' actions of each step come from the same stream
(:attr:`opponent_actions` holds the last step's). So copy ``e``'s trajectory depends on ``(seed, e)``
and the team's actions only, and ``mpe2`` given the same episode seed and joint actions reproduces it
exactly (tested).
"""

from __future__ import annotations

import numpy as np

from ..experiments import check_int
from .base import MultiAgentEnv, end_step, rng_integer

__all__ = ["MPEEnv", "PhysicalDeception", "CovertCommunication", "PredatorPrey", "KeepAway",
           "MPE_SCENARIOS", "require_mpe2"]

_SEED_MAX = 2**31 - 1


def require_mpe2():
    """Import and return ``mpe2`` (``ImportError`` with the install hint if it is missing)."""
    try:
        import mpe2
    except ImportError as exc:  # pragma: no cover - exercised only without mpe2
        raise ImportError("the MPE environments need mpe2: pip install 'sharelib[mpe]' "
                          "(mpe2 from PyPI)") from exc
    return mpe2


class MPEEnv(MultiAgentEnv):
    """``n_envs`` copies of one mpe2 scenario, the team learning, the opponents random (module doc).

    Subclasses set ``name`` and implement ``_make()`` (one mpe2 ``parallel_env``) and
    ``_in_team(mpe_name)``.
    """

    name = "mpe"
    obs_low = float("-inf")
    obs_high = float("inf")
    mpe_scenario = ""

    def __init__(self, n_envs: int = 1, max_steps: int = 100):
        require_mpe2()
        self.max_steps = check_int("max_steps", max_steps, min=1)
        check_int("n_envs", n_envs, min=1)
        self._envs = [self._make() for _ in range(int(n_envs))]
        probe = self._envs[0]
        names = list(probe.possible_agents)
        self.mpe_agents = [a for a in names if self._in_team(a)]
        self.opponents = [a for a in names if not self._in_team(a)]
        self.obs_dims = tuple(int(probe.observation_space(a).shape[0]) for a in self.mpe_agents)
        n_act = {int(probe.action_space(a).n) for a in self.mpe_agents}
        if len(n_act) != 1:  # pragma: no cover - not the case in the four scenarios
            raise ValueError(f"the team's agents have different action counts {sorted(n_act)}")
        self.n_actions = n_act.pop()
        self.opponent_n_actions = np.array([int(probe.action_space(a).n) for a in self.opponents], np.int64)
        self.n_agents = len(self.mpe_agents)
        self.obs_dim = max(self.obs_dims)
        self.action_names = tuple(str(k) for k in range(self.n_actions))
        super().__init__(n_envs)

    # -- for subclasses ------------------------------------------------------------------------------
    def _make(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _in_team(self, mpe_name: str) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def params(self) -> dict:
        return dict(max_steps=self.max_steps)

    # -- state ---------------------------------------------------------------------------------------
    def _allocate(self):
        self.episode_seeds = np.zeros(self.n_envs, dtype=np.int64)
        self.opponent_actions = np.zeros((self.n_envs, len(self.opponents)), dtype=np.int64)

    def _write_obs(self, out, e, obs):
        out[e] = 0.0
        for i, a in enumerate(self.mpe_agents):
            out[e, i, :self.obs_dims[i]] = obs[a]

    def _reset_copy(self, e):
        s = int(rng_integer(self._rng, e, _SEED_MAX))
        self.episode_seeds[e] = s
        obs, _ = self._envs[e].reset(seed=s)
        self._write_obs(self._obs, e, obs)

    def _reset_kernel(self, mask):
        for e in np.flatnonzero(mask):
            self._reset_copy(e)
        self._done[:] = False

    def _step_kernel(self, actions):
        for e in range(self.n_envs):
            joint = {a: int(actions[e, i]) for i, a in enumerate(self.mpe_agents)}
            for k, a in enumerate(self.opponents):
                u = int(rng_integer(self._rng, e, int(self.opponent_n_actions[k])))
                self.opponent_actions[e, k] = u
                joint[a] = u
            obs, rew, term, trunc, _ = self._envs[e].step(joint)
            for i, a in enumerate(self.mpe_agents):
                self._rew[e, i] = rew[a]
            terminal = any(term.values())
            if end_step(e, self._I, self._F, self._B, self.max_steps, terminal):
                self._write_obs(self.final_obs, e, obs)
                self._I[e, 0] = 0
                self._reset_copy(e)
            else:
                self._write_obs(self._obs, e, obs)

    def joint_actions(self, env_index: int, actions) -> dict:
        """The mpe2 joint action dict of copy ``env_index``'s last step, given the team's ``actions`` ``(n,)``
        (the opponents' from :attr:`opponent_actions`)."""
        e = self._check_env_index(env_index)
        d = {a: int(actions[i]) for i, a in enumerate(self.mpe_agents)}
        d.update({a: int(self.opponent_actions[e, k]) for k, a in enumerate(self.opponents)})
        return d

    def render(self, env_index: int = 0) -> np.ndarray:
        """mpe2's own ``rgb_array`` picture of copy ``env_index`` (uint8 ``(700, 700, 3)``)."""
        e = self._check_env_index(env_index)
        return np.ascontiguousarray(self._envs[e].render(), dtype=np.uint8)

    def close(self) -> None:
        for env in self._envs:
            env.close()


class PhysicalDeception(MPEEnv):
    """Physical deception (mpe2 ``simple_adversary``): ``n_good`` cooperating agents (3, the FPF-LMF code)
    share a reward for being near the target landmark and keeping the adversary from it; the adversary
    (random) does not know which landmark is the target."""

    name = "mpe_physical_deception"
    mpe_scenario = "simple_adversary_v3"

    def __init__(self, n_envs: int = 1, n_good: int = 3, max_steps: int = 100):
        self.n_good = check_int("n_good", n_good, min=1)
        super().__init__(n_envs, max_steps)

    def _make(self):
        from mpe2 import simple_adversary_v3
        return simple_adversary_v3.parallel_env(N=self.n_good, max_cycles=self.max_steps, continuous_actions=False,
                                                render_mode="rgb_array")

    def _in_team(self, mpe_name):
        return not mpe_name.startswith("adversary")

    def params(self):
        return dict(n_good=self.n_good, max_steps=self.max_steps)


class CovertCommunication(MPEEnv):
    """Covert communication (mpe2 ``simple_crypto``): Alice and Bob (the team) share a reward for Bob
    reconstructing Alice's message and Eve (random) failing to; neither moves, every action is a symbol."""

    name = "mpe_covert_communication"
    mpe_scenario = "simple_crypto_v3"

    def _make(self):
        from mpe2 import simple_crypto_v3
        return simple_crypto_v3.parallel_env(max_cycles=self.max_steps, continuous_actions=False,
                                             render_mode="rgb_array")

    def _in_team(self, mpe_name):
        return not mpe_name.startswith("eve")


class PredatorPrey(MPEEnv):
    """Predator-prey (mpe2 ``simple_tag``): ``n_predators`` slower predators (mpe2's "adversaries", the
    team: they share +10 per collision with the prey) chase ``n_prey`` faster prey (random) among
    ``n_obstacles`` obstacles."""

    name = "mpe_predator_prey"
    mpe_scenario = "simple_tag_v3"

    def __init__(self, n_envs: int = 1, n_predators: int = 3, n_prey: int = 1, n_obstacles: int = 2,
                 max_steps: int = 100):
        self.n_predators = check_int("n_predators", n_predators, min=1)
        self.n_prey = check_int("n_prey", n_prey, min=1)
        self.n_obstacles = check_int("n_obstacles", n_obstacles, min=0)
        super().__init__(n_envs, max_steps)

    def _make(self):
        from mpe2 import simple_tag_v3
        return simple_tag_v3.parallel_env(num_good=self.n_prey, num_adversaries=self.n_predators,
                                          num_obstacles=self.n_obstacles, max_cycles=self.max_steps,
                                          continuous_actions=False, render_mode="rgb_array")

    def _in_team(self, mpe_name):
        return mpe_name.startswith("adversary")

    def params(self):
        return dict(n_predators=self.n_predators, n_prey=self.n_prey, n_obstacles=self.n_obstacles,
                    max_steps=self.max_steps)


def _keep_away_parallel_env(n_good, max_cycles, render_mode):
    """mpe2's ``simple_push`` as a parallel env with ``n_good`` good agents (module doc)."""
    from mpe2 import simple_push_v3
    if n_good == 1:
        return simple_push_v3.parallel_env(max_cycles=max_cycles, continuous_actions=False,
                                           render_mode=render_mode)
    from mpe2._mpe_utils.simple_env import SimpleEnv, make_env
    from mpe2.simple_push import simple_push as sp
    from pettingzoo.utils.conversions import parallel_wrapper_fn

    class Scenario(sp.Scenario):
        def make_world(self):
            world = super().make_world()  # mpe2's: adversary_0, agent_0, 2 landmarks
            model = world.agents[-1]
            for k in range(1, n_good):
                a = sp.ExtendedAgent()
                a.name, a.adversary, a.collide, a.silent = f"agent_{k}", False, model.collide, model.silent
                world.agents.append(a)
            return world

    class RawEnv(sp.raw_env):
        def __init__(self, max_cycles=25, continuous_actions=False, render_mode=None):
            scenario = Scenario()
            SimpleEnv.__init__(self, scenario=scenario, world=scenario.make_world(), render_mode=render_mode,
                               max_cycles=max_cycles, continuous_actions=continuous_actions)
            self.metadata = dict(self.metadata, name=f"simple_push_{n_good}_good")

    return parallel_wrapper_fn(make_env(RawEnv))(max_cycles=max_cycles, continuous_actions=False,
                                                 render_mode=render_mode)


class KeepAway(MPEEnv):
    """Keep-away (mpe2 ``simple_push``): ``n_good`` cooperating agents (3, the FPF-LMF code; mpe2: 1) are
    rewarded by minus their distance to the goal landmark; the adversary (random) can push them away."""

    name = "mpe_keep_away"
    mpe_scenario = "simple_push_v3"

    def __init__(self, n_envs: int = 1, n_good: int = 3, max_steps: int = 100):
        self.n_good = check_int("n_good", n_good, min=1)
        super().__init__(n_envs, max_steps)

    def _make(self):
        return _keep_away_parallel_env(self.n_good, self.max_steps, "rgb_array")

    def _in_team(self, mpe_name):
        return not mpe_name.startswith("adversary")

    def params(self):
        return dict(n_good=self.n_good, max_steps=self.max_steps)


#: Fig. 7's panels (a)-(d), in order
MPE_SCENARIOS = {"deception": PhysicalDeception, "crypto": CovertCommunication, "tag": PredatorPrey,
                 "push": KeepAway}
