"""Anticipation Sharing (AS, "Learning to Cooperate under Private Rewards"): agents exchange action
distributions and anticipations of each other's policies, never rewards, values or parameters.

- :mod:`.loss`: Eq. 13-16, the dual-clipped objective with its penalties, and its gradients;
- :mod:`.learner`: Algorithm 1 on the learning core's PPO, with the communication protocols;
- :mod:`.experiments`: presets and the seeded runs behind ``notebooks/as/``.
"""

from .learner import AnticipationSharing
from .loss import ASTerms, objective, softmax

__all__ = ["AnticipationSharing", "ASTerms", "objective", "softmax"]
