"""The jungle configured in MAgent2 (the engine DGN and LToS ran it on), for comparisons only.

:func:`make_magent_jungle` builds a ``magent2.gridworld.GridWorld`` with DGN's settings
(``../shared/specs/ltos_d3c_as_cedos_reference_notes.md`` 1.4: agent type "small" with hp 400, speed
1, view CircleRange(5), attack CircleRange(1), damage 1, attack penalty -0.01; food type "big",
hp 500, speed 0; rules agent-attacks-food +1 to the attacker, agent-attacks-agent +2 / -4), border
walls, agents and foods placed at random. :func:`magent_random_play` plays it with uniform random
actions and returns the rewards per agent and step, which the tests compare with
:class:`sharelib.envs.Jungle` under the same policy. ``magent2`` is optional (``pip install
magent2``); importing this module without it raises ImportError with that hint.
"""

from __future__ import annotations

import numpy as np

try:
    import magent2
    from magent2 import gridworld as gw
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError("the MAgent2 comparison needs magent2: pip install magent2") from exc

__all__ = ["make_magent_jungle", "magent_random_play"]


def make_magent_jungle(size=30, n_agents=20, n_food=12, seed=0):
    """A MAgent2 GridWorld of the jungle; returns ``(env, agent_handle, food_handle)`` after a reset."""
    cfg = gw.Config()
    cfg.set({"map_width": size, "map_height": size, "minimap_mode": True, "seed": int(seed)})
    small = cfg.register_agent_type("small", {
        "width": 1, "length": 1, "hp": 400, "speed": 1, "view_range": gw.CircleRange(5),
        "attack_range": gw.CircleRange(1), "damage": 1, "step_recover": 0, "attack_in_group": 1,
        "step_reward": 0, "kill_reward": 0, "dead_penalty": 0, "attack_penalty": -0.01})
    big = cfg.register_agent_type("big", {
        "width": 1, "length": 1, "hp": 500, "speed": 0, "view_range": gw.CircleRange(6),
        "attack_range": gw.CircleRange(0), "damage": 0, "step_recover": 0, "kill_reward": 0})
    g_food = cfg.add_group(big)
    g_small = cfg.add_group(small)
    a = gw.AgentSymbol(g_small, index="any")
    b = gw.AgentSymbol(g_small, index="any")
    f = gw.AgentSymbol(g_food, index="any")
    cfg.add_reward_rule(gw.Event(a, "attack", f), receiver=a, value=1)
    cfg.add_reward_rule(gw.Event(a, "attack", b), receiver=[a, b], value=[2, -4])
    env = magent2.gridworld.GridWorld(cfg)
    food, agents = env.get_handles()
    _populate(env, agents, food, size, n_agents, n_food)
    return env, agents, food


def _populate(env, agents, food, size, n_agents, n_food):
    env.reset()
    border = [(i, 0) for i in range(size)] + [(i, size - 1) for i in range(size)]
    border += [(0, j) for j in range(1, size - 1)] + [(size - 1, j) for j in range(1, size - 1)]
    env.add_walls(method="custom", pos=border)
    env.add_agents(agents, method="random", n=n_agents)
    env.add_agents(food, method="random", n=n_food)


def magent_random_play(episodes=20, max_steps=120, size=30, n_agents=20, n_food=12, seed=0):
    """Uniform random actions for ``episodes`` episodes; rewards float ``(episodes * max_steps, n_agents)``."""
    env, agents, food = make_magent_jungle(size, n_agents, n_food, seed)
    n_act = env.get_action_space(agents)[0]
    rng = np.random.default_rng(seed)
    out = []
    for ep in range(episodes):
        if ep:
            _populate(env, agents, food, size, n_agents, n_food)
        for _ in range(max_steps):
            env.set_action(agents, rng.integers(0, n_act, env.get_num(agents)).astype(np.int32))
            env.step()
            r = env.get_reward(agents)
            env.clear_dead()
            out.append(np.pad(r, (0, n_agents - len(r))))
    return np.array(out, dtype=np.float64), n_act
