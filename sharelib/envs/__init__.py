"""Batched multi-agent environments (one ``@njit`` kernel steps all copies) and a PettingZoo adapter.

See :mod:`sharelib.envs.base` for the interface every environment implements.

- :class:`PrisonerCorridor`: LToS's prisoner corridor (Sec. 5.1).
- :class:`CoinGame`: the Coin game of D3C Sec. 3.4.
- :class:`TrustYourBrother`: D3C's Trust-Your-Brother predator-prey ring (Sec. 3.3).
- :class:`Exchange`, :class:`CooperativeNavigation`, :class:`CooperativePredation`: the AS paper's
  Exchange, C. Navigation and C. Predation (Sec. 5.1; our readings of the sketched rules).
- :class:`Jungle`: DGN's jungle, LToS's moral dilemma on a dynamic graph (Sec. 5.2).
- :class:`Cleanup`, :class:`Harvest`: the sequential social dilemmas (:mod:`sharelib.envs.ssd`), on
  the grid engine of :mod:`sharelib.envs.gridworld`.
- :class:`JobScheduling`, :class:`MatthewEffect`, :class:`ManufacturingPlant`: FEN's classic
  discrete scenarios (:mod:`sharelib.envs.fen`) as FPF/LMF trains on them.
- :class:`TrafficSignalControl`: LToS's traffic signal control on the 6 x 6 grid (Sec. 5.3), run
  by SUMO (optional: ``pip install 'sharelib[traffic]'``; not in :data:`ENVIRONMENTS`, whose
  members need nothing beyond the core dependencies).
- :class:`PhysicalDeception`, :class:`CovertCommunication`, :class:`PredatorPrey`, :class:`KeepAway`:
  FPF/LMF's MPE scenarios (Fig. 7), mpe2's own environments behind our interface with a random
  opponent (:mod:`sharelib.envs.mpe`; optional: ``pip install 'sharelib[mpe]'``; not in
  :data:`ENVIRONMENTS`).
- :func:`sharelib.envs.pettingzoo.to_parallel_env`: PettingZoo ``ParallelEnv`` adapter (needs
  ``pettingzoo``, a test dependency; imported lazily).
"""

from .base import BoxSpec, DiscreteSpec, MultiAgentEnv
from .coin_game import CoinGame
from .exchange import Exchange
from .fen import JobScheduling, ManufacturingPlant, MatthewEffect
from .jungle import Jungle
from .mpe import CovertCommunication, KeepAway, PhysicalDeception, PredatorPrey
from .navigation import CooperativeNavigation
from .predation import CooperativePredation
from .prisoner_corridor import PrisonerCorridor
from .ssd import Cleanup, Harvest
from .traffic import TrafficSignalControl
from .trust_your_brother import TrustYourBrother

ENVIRONMENTS = {
    "coin_game": CoinGame,
    "prisoner_corridor": PrisonerCorridor,
    "trust_your_brother": TrustYourBrother,
    "cleanup": Cleanup,
    "harvest": Harvest,
    "exchange": Exchange,
    "cooperative_navigation": CooperativeNavigation,
    "cooperative_predation": CooperativePredation,
    "jungle": Jungle,
    "job_scheduling": JobScheduling,
    "matthew_effect": MatthewEffect,
    "manufacturing_plant": ManufacturingPlant,
}

__all__ = ["MultiAgentEnv", "DiscreteSpec", "BoxSpec", "CoinGame", "PrisonerCorridor",
           "TrustYourBrother", "Cleanup", "Harvest", "Exchange", "CooperativeNavigation",
           "CooperativePredation", "Jungle", "JobScheduling", "MatthewEffect",
           "ManufacturingPlant", "TrafficSignalControl", "PhysicalDeception", "CovertCommunication",
           "PredatorPrey", "KeepAway", "ENVIRONMENTS"]
