"""FPF / LMF (Dong et al., AAAI 2025): D&F and FPF (:mod:`.fpf`), LMF (:mod:`.lmf`) over the graphs of
:mod:`.graphs`, and the quadratic checks of Theorems 1 and 2 (:mod:`.theory`)."""

from .fpf import FPF, DandF, participants_of
from .graphs import GRAPHS, check_doubly_stochastic, graph_matrix
from .lmf import LMF

__all__ = ["FPF", "DandF", "LMF", "GRAPHS", "graph_matrix", "check_doubly_stochastic", "participants_of"]
