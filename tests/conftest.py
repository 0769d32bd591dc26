"""Test-session setup: a fresh numba cache and scratch folders, before anything imports numba.

* ``NUMBA_CACHE_DIR`` points at a new empty folder, so a stale on-disk cache can never hide a
  change to a kernel; notebook kernels started by nbval and papermill inherit it.
* ``SHARELIB_FIGURES_DIR`` keeps test figures (quick preset) out of the committed ``figures/``.
* ``MPLBACKEND=Agg`` keeps matplotlib headless.

``notebooks/conftest.py`` runs this file too, so ``pytest notebooks/X.ipynb`` alone gets the same
setup; the ``SHARELIB_TEST_SCRATCH`` guard makes one session share one scratch folder.
"""

import os
import tempfile
from pathlib import Path

if "SHARELIB_TEST_SCRATCH" not in os.environ:
    _scratch = Path(tempfile.mkdtemp(prefix="sharelib-tests-"))
    os.environ["SHARELIB_TEST_SCRATCH"] = str(_scratch)
    os.environ["NUMBA_CACHE_DIR"] = str(_scratch / "numba-cache")
    os.environ["SHARELIB_FIGURES_DIR"] = str(_scratch / "figures")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

REPO = Path(__file__).resolve().parents[1]
