"""Adapter from :class:`sharelib.envs.base.MultiAgentEnv` to the PettingZoo ``ParallelEnv`` API.

PettingZoo (and gymnasium, which it depends on) is a test dependency of sharelib, not a run-time
one: this module imports it when :func:`to_parallel_env` is called.

>>> from sharelib.envs import PrisonerCorridor
>>> from sharelib.envs.pettingzoo import to_parallel_env
>>> env = to_parallel_env(PrisonerCorridor)            # doctest: +SKIP
>>> obs, infos = env.reset(seed=0)                     # doctest: +SKIP
>>> obs, rew, term, trunc, infos = env.step({"agent_0": 0, "agent_1": 1})  # doctest: +SKIP

Semantics: one copy (``n_envs=1``) of the wrapped environment. ``reset(seed=s)`` calls
``env.reset(s)``; ``reset()`` without a seed continues with a seed drawn from a generator seeded by
the last explicit seed (or by OS entropy if there was none), so seeded sequences of resets are
reproducible. At the end of an episode the adapter returns the final observation (``final_obs``)
rather than the auto-reset one, reports ``terminated`` or ``truncated`` for every agent (from the
wrapped env's ``truncated`` flag), and empties ``agents`` until the next ``reset``. ``infos`` are
empty dicts. ``render()`` returns the RGB array when ``render_mode="rgb_array"``.
"""

from __future__ import annotations

import functools

import numpy as np

from ..experiments import check_int

__all__ = ["to_parallel_env"]


def to_parallel_env(env_cls, render_mode: str | None = None, **params):
    """Wrap ``env_cls(n_envs=1, **params)`` (a :class:`MultiAgentEnv` subclass) as a PettingZoo
    ``ParallelEnv``.

    Parameters
    ----------
    env_cls : type
        A :class:`~sharelib.envs.base.MultiAgentEnv` subclass, e.g. ``CoinGame``.
    render_mode : {None, "rgb_array"}
        PettingZoo render mode.
    **params
        Game parameters passed to ``env_cls``.
    """
    from gymnasium import spaces
    from pettingzoo import ParallelEnv

    if render_mode not in (None, "rgb_array"):
        raise ValueError(f"render_mode must be one of [None, 'rgb_array']; got {render_mode!r}")

    class SharelibParallelEnv(ParallelEnv):
        metadata = {"name": f"sharelib_{env_cls.name}", "render_modes": ["rgb_array"],
                    "is_parallelizable": True}

        def __init__(self):
            self.env = env_cls(n_envs=1, **params)
            self.render_mode = render_mode
            self.possible_agents = list(self.env.agents)
            self.agents = []
            self._seed_rng = None
            self._obs_spaces = {}
            self._act_spaces = {}
            for a in self.possible_agents:
                o = self.env.observation_specs[a]
                self._obs_spaces[a] = spaces.Box(low=o.low, high=o.high, shape=o.shape, dtype=np.float32)
                self._act_spaces[a] = spaces.Discrete(self.env.action_specs[a].n)

        @functools.lru_cache(maxsize=None)
        def observation_space(self, agent):
            return self._obs_spaces[agent]

        @functools.lru_cache(maxsize=None)
        def action_space(self, agent):
            return self._act_spaces[agent]

        def _obs_dict(self, obs):
            return {a: obs[0, i] for i, a in enumerate(self.possible_agents)}

        def reset(self, seed=None, options=None):
            if seed is not None:
                s = check_int("seed", seed, min=0)
                self._seed_rng = np.random.default_rng(s)
            else:
                if self._seed_rng is None:
                    self._seed_rng = np.random.default_rng()
                s = int(self._seed_rng.integers(2**32))
            obs = self.env.reset(s)
            self.agents = list(self.possible_agents)
            return self._obs_dict(obs), {a: {} for a in self.agents}

        def step(self, actions):
            if not self.agents:
                raise RuntimeError("the episode has ended: call reset() first")
            a = np.array([[int(actions[ag]) for ag in self.possible_agents]], dtype=np.int64)
            obs, rew, done = self.env.step(a)
            if done[0]:
                obs = self.env.final_obs.copy()
            trunc = bool(done[0] and self.env.truncated[0])
            term = bool(done[0]) and not trunc
            agents = self.agents
            out = (
                self._obs_dict(obs),
                {ag: float(rew[0, i]) for i, ag in enumerate(agents)},
                {ag: term for ag in agents},
                {ag: trunc for ag in agents},
                {ag: {} for ag in agents},
            )
            if done[0]:
                self.agents = []
            return out

        def render(self):
            if self.render_mode is None:
                return None
            return self.env.render(0)

        def close(self):
            # environments holding outside resources (SUMO's simulations) release them here
            close = getattr(self.env, "close", None)
            if close is not None:
                close()

    return SharelibParallelEnv()
