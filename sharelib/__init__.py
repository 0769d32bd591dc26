"""sharelib: an executable companion to five papers on sharing in social dilemmas."""

import os as _os
import sys as _sys

__version__ = "0.1.0"

# Sweeps fork worker processes (sharelib.experiments.sweep). GNU OpenMP, numba's default threading
# layer for parallel=True kernels on Linux, is not fork-safe: a child forked after a parallel
# kernel ran would hang. "forksafe" makes numba pick a layer that is (TBB, Intel OpenMP or its
# own workqueue). A user's own NUMBA_THREADING_LAYER always wins.
if "NUMBA_THREADING_LAYER" not in _os.environ:
    _os.environ["NUMBA_THREADING_LAYER"] = "forksafe"
    if "numba" in _sys.modules:
        _sys.modules["numba"].config.THREADING_LAYER = "forksafe"
