"""Batched multi-agent environments (one ``@njit`` kernel steps all copies) and a PettingZoo adapter.

See :mod:`sharelib.envs.base` for the interface every environment implements.
"""

from .base import BoxSpec, DiscreteSpec, MultiAgentEnv

__all__ = ["MultiAgentEnv", "DiscreteSpec", "BoxSpec"]
