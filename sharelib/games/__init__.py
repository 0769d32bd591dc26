"""Differentiable games used by the D3C paper (Gemp et al.): Braess traffic networks and the
convex n-player prisoner's dilemma, with equilibrium and price-of-anarchy helpers."""

from .braess import (  # noqa: F401
    EDGE_NAMES,
    ROUTE_NAMES,
    ROUTES,
    BraessNetwork,
    braess_losses_grads,
    paper_network,
    random_braess_networks,
)
from .prisoners_dilemma import (  # noqa: F401
    PrisonersDilemma,
    pd_losses_grads,
)
from .equilibria import (  # noqa: F401
    gradient_play,
    price_of_anarchy,
    ratio_to_optimal,
    social_optimum,
)
