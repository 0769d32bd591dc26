"""sharelib: an executable companion to five papers on sharing in social dilemmas.

Numba's cache (``NUMBA_CACHE_DIR``)
-----------------------------------
The kernels are compiled by numba with ``cache=True``: the first import compiles them (a minute
or so) and stores the machine code, so later imports load it in well under a second. Numba keeps
that cache in a ``__pycache__`` folder next to the sources, or, when that folder is not
writable, in a per-user folder (``~/.cache/numba``, or ``$XDG_CACHE_HOME/numba``). When neither
is writable (a read-only install on a JupyterHub image, a container user without a home
directory), ``import sharelib`` falls back to a fresh temporary folder, warns once, and
compiles again in every new process. Set ``NUMBA_CACHE_DIR`` to a persistent writable folder
before importing sharelib (``export NUMBA_CACHE_DIR=$HOME/numba-cache``, or
``os.environ["NUMBA_CACHE_DIR"] = ...`` in a notebook's first cell) to keep the compiled kernels
across sessions; a ``NUMBA_CACHE_DIR`` you set is always used as it is.
"""

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


def _writable_dir(path: str) -> bool:
    """Whether numba could use ``path`` as a cache folder (its own test: create it, write a file)."""
    import tempfile

    try:
        _os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return False
    return True


def _ensure_numba_cache_dir() -> None:
    """Give numba a writable cache folder before any ``cache=True`` kernel is decorated.

    Numba looks for one when a module defines a cached kernel and raises "cannot cache function
    ... no locator available" if it finds none, which would make ``import sharelib`` fail.
    """
    if _os.environ.get("NUMBA_CACHE_DIR"):
        return
    here = _os.path.dirname(_os.path.abspath(__file__))
    packages = [root for root, dirs, files in _os.walk(here)
                if "__init__.py" in files and "__pycache__" not in root.split(_os.sep)]
    if all(_writable_dir(_os.path.join(p, "__pycache__")) for p in packages):
        return
    from numba.misc.appdirs import AppDirs  # numba's own choice of the user-wide folder

    if _writable_dir(AppDirs(appname="numba", appauthor=False).user_cache_dir):
        return
    import tempfile
    import warnings

    path = tempfile.mkdtemp(prefix="sharelib-numba-")
    _os.environ["NUMBA_CACHE_DIR"] = path
    if "numba" in _sys.modules:
        _sys.modules["numba"].config.CACHE_DIR = path
    warnings.warn(
        f"sharelib: neither {here}/__pycache__ nor numba's user cache folder is writable; numba caches "
        f"compiled kernels in the temporary folder NUMBA_CACHE_DIR={path} for this process (set "
        "NUMBA_CACHE_DIR to a persistent writable folder to avoid recompiling in every session)",
        RuntimeWarning, stacklevel=3)


_ensure_numba_cache_dir()
