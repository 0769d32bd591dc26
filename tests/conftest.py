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


import pytest  # noqa: E402  (after the environment set-up above, on purpose)


@pytest.fixture
def probe_package(tmp_path):
    """A copy of the installed sharelib with a thin swept wrapper ``_probe_swept.swept(x, seed)``
    over a helper in another module (``_probe_helper.helper(x) = 2 x``): ``(package dir, env)``,
    ``env`` putting the copy first on ``PYTHONPATH``. Tests edit the helper to change the code."""
    import shutil

    import sharelib

    pkg = tmp_path / "site" / "sharelib"
    shutil.copytree(Path(sharelib.__file__).parent, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (pkg / "_probe_swept.py").write_text(
        "from ._probe_helper import helper\n\ndef swept(x, seed):\n    return helper(x)\n")
    (pkg / "_probe_helper.py").write_text("def helper(x):\n    return 2 * x\n")
    return pkg, {**os.environ, "PYTHONPATH": str(pkg.parent)}
