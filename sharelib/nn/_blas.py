"""Pin the BLAS used inside numba kernels to one thread (best effort).

numba's ``np.dot`` calls the BLAS bundled with SciPy.  Our matrices are small (batches of a few
hundred rows, 64 units), and a multi-threaded OpenBLAS on a busy machine spends more time
synchronising threads than multiplying: we measured a 5x slowdown of A2C training on the Coin game
with 2 OpenBLAS threads on a 2-core machine.  On import, :mod:`sharelib.nn` therefore sets SciPy's
OpenBLAS to ``SHARELIB_BLAS_THREADS`` threads (default 1).  NumPy's own BLAS is not touched.  If
SciPy uses another BLAS (e.g. MKL from conda) nothing is changed; set ``MKL_NUM_THREADS=1``.
"""

from __future__ import annotations

import ctypes
import glob
import os

__all__ = ["set_blas_threads"]


def set_blas_threads(n: int) -> bool:
    """Set the number of threads of SciPy's bundled OpenBLAS; return whether it was found."""
    try:
        import scipy
    except ImportError:  # pragma: no cover - numba needs SciPy for np.dot anyway
        return False
    root = os.path.dirname(os.path.dirname(scipy.__file__))
    found = False
    for path in glob.glob(os.path.join(root, "scipy.libs", "libscipy_openblas*.so*")):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas_set_num_threads", "openblas_set_num_threads"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn(int(n))
                found = True
                break
    return found


_threads = int(os.environ.get("SHARELIB_BLAS_THREADS", "1"))
BLAS_PINNED = set_blas_threads(_threads)
