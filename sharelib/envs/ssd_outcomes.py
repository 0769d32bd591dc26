"""Episodes of Cleanup and Harvest played by scripted populations, recorded for the SSD notebook
(``notebooks/ssd/01_environments.ipynb``): apples and waste over time, returns, cleaning effort and
the social outcome metrics of Perolat et al. (2017), plus a throughput measurement.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from sharelib import experiments

from .scripted import ScriptedAgents
from .ssd import Cleanup, Harvest

__all__ = ["Episode", "play", "throughput", "POPULATIONS"]

GAMES = {"cleanup": Cleanup, "harvest": Harvest}

# the populations the notebook compares, by game (5 agents; for other n the pattern is scaled)
POPULATIONS = {
    "cleanup": {"nobody cleans": ("eat", 0), "one cleaner": ("eat", 1), "two cleaners": ("eat", 2)},
    "harvest": {"greedy": ("eat", 0), "restrained": ("restrained", 0)},
}


def roles_for(game: str, population: str, n_agents: int) -> list[str]:
    """Roles of a named population: eaters (or restrained eaters) and the last ``k`` cleaners."""
    experiments.check_choice("population", population, tuple(POPULATIONS[game]))
    role, cleaners = POPULATIONS[game][population]
    cleaners = min(cleaners, n_agents)
    return [role] * (n_agents - cleaners) + ["clean"] * cleaners


@dataclass
class Episode:
    """What one scripted run of ``n_envs`` copies recorded (one episode of ``steps`` steps)."""

    game: str
    population: str
    roles: list
    rewards: np.ndarray   # (E, T, n)
    apples: np.ndarray    # (E, T) apples on the map after each step
    waste: np.ndarray     # (E, T) waste cells after each step
    hits: np.ndarray      # (E, T, n) fire hits taken
    cleaned: np.ndarray   # (E, n) waste cells cleaned in the episode
    frames: list          # RGB frames of copy 0 (when asked for)

    @property
    def returns(self) -> np.ndarray:
        return self.rewards.sum(axis=1)


def play(game: str, population: str, *, n_agents: int = 5, n_envs: int = 4, map="canonical",
         variant: str = "canonical", steps: int | None = None, seed: int = 0,
         frames: int = 0, frame_every: int = 1, **env_params) -> Episode:
    """Play one episode (``steps``, default the environment's episode length) of ``n_envs`` copies
    with a scripted population; keep ``frames`` RGB frames of copy 0, one every ``frame_every``
    steps. ``seed`` (any integer >= 0) seeds both the environment and the scripted agents."""
    game = experiments.check_choice("game", game, tuple(GAMES))
    seed = experiments.check_int("seed", seed, min=0)
    n_agents = experiments.check_int("n_agents", n_agents, min=1)
    frames = experiments.check_int("frames", frames, min=0)
    frame_every = experiments.check_int("frame_every", frame_every, min=1)
    roles = roles_for(game, population, n_agents)
    default_T = GAMES[game](n_agents=n_agents, map=map, variant=variant, **env_params).max_steps
    T = default_T if steps is None else experiments.check_int("steps", steps, min=1)
    # one step more than recorded, so that no copy resets inside the record (the rules do not
    # depend on the time limit)
    env = GAMES[game](n_envs=n_envs, n_agents=n_agents, map=map, variant=variant, obs="grid",
                      **{**env_params, "max_steps": T + 1})
    agents = ScriptedAgents(env, roles, seed=seed)
    env.reset(seed)
    E, n = env.n_envs, env.n_agents
    rewards = np.zeros((E, T, n))
    hits = np.zeros((E, T, n), dtype=np.int64)
    apples = np.zeros((E, T), dtype=np.int64)
    waste = np.zeros((E, T), dtype=np.int64)
    pictures = [env.render(0, cell=12)] if frames else []
    for t in range(T):
        _, r, _ = env.step(agents(env))
        rewards[:, t] = r
        hits[:, t] = env.hits
        apples[:, t] = env.n_apples
        waste[:, t] = env.n_waste
        if len(pictures) < frames and (t + 1) % frame_every == 0:
            pictures.append(env.render(0, cell=12))
    return Episode(game, population, roles, rewards, apples, waste, hits, env.cleaned, pictures)


def throughput(game: str, n_agents: int, n_envs: int, obs: str, steps: int = 50, repeats: int = 3,
               map="canonical") -> float:
    """Env-steps per second of ``env.step`` with uniformly random actions (best of ``repeats``)."""
    env = GAMES[game](n_envs=n_envs, n_agents=n_agents, obs=obs, map=map)
    env.reset(0)
    acts = np.random.default_rng(0).integers(0, env.n_actions, (steps, n_envs, n_agents))
    env.step(acts[0])
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for a in acts:
            env.step(a)
        best = min(best, time.perf_counter() - t0)
    return steps * n_envs / best


experiments.register_presets(
    "ssd.environments",
    quick=dict(n_agents=5, n_envs=4, map="canonical", variant="canonical", steps=None, seed=0,
               frames=60, throughput_envs=(1, 64), throughput_steps=20),
    paper=dict(n_agents=5, n_envs=64, map="canonical", variant="canonical", steps=None, seed=0,
               frames=150, throughput_envs=(1, 64, 1024), throughput_steps=100),
)
