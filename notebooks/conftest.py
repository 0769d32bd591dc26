"""pytest setup when the notebooks are run on their own (``pytest notebooks/...``).

The same fresh numba cache and scratch figures folder as ``tests/conftest.py`` (which this runs),
so nbval never writes quick-preset figures into the committed ``figures/``.
"""

import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).resolve().parents[1] / "tests" / "conftest.py"))
