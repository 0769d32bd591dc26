"""Batched multi-agent environments (one ``@njit`` kernel steps all copies) and a PettingZoo adapter.

See :mod:`sharelib.envs.base` for the interface every environment implements.

- :class:`PrisonerCorridor`: LToS's prisoner corridor (Sec. 5.1).
"""

from .base import BoxSpec, DiscreteSpec, MultiAgentEnv
from .prisoner_corridor import PrisonerCorridor

__all__ = ["MultiAgentEnv", "DiscreteSpec", "BoxSpec", "PrisonerCorridor"]
