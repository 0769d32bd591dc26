"""One house style for every figure, and ``savefig`` with a provenance record.

Importing this module applies the style (``sharelib.mplstyle``, Okabe-Ito colours) and, outside an
interactive session with a display, selects the headless Agg backend.

:func:`savefig` writes ``<fig_id>.png`` and ``<fig_id>.pdf`` into ``figures/<paper>/`` for the
``paper`` preset and into ``figures/<paper>/<preset>/`` for any other preset (so a quick run never
overwrites the committed paper-scale figures), and records the figure id, the notebook, its
parameters, seeds, the sharelib version, the git commit and the wall time in a manifest: the
tracked ``figures/MANIFEST.json`` for paper-preset figures, and ``figures/<paper>/<preset>/
MANIFEST.json`` beside the figures of any other preset (git-ignored for ``quick``, so a quick run
leaves a clone unmodified). A manifest is updated under an exclusive file lock and replaced
atomically, so notebooks running at the same time never lose or half-write an entry.

The figures folder is the repository's ``figures/`` unless ``SHARELIB_FIGURES_DIR`` is set (the
tests point it at a temporary folder); a relative value is taken relative to the working
directory of the process that reads it (``python -m sharelib reproduce`` resolves it once, against
the caller's directory, before the notebooks start in their own folders).
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

import matplotlib

from . import __version__

_STYLE = Path(__file__).with_name("sharelib.mplstyle")
_IMPORTED_AT = time.time()
_UMASK = os.umask(0)
os.umask(_UMASK)

#: House colours, one per recurring role (Okabe-Ito palette, colour-blind safe).
COLORS = {
    "sharer": "#0072B2",
    "defector": "#D55E00",
    "selfish": "#D55E00",
    "gd": "#D55E00",
    "d3c": "#0072B2",
    "cooperative": "#009E73",
    "simple": "#0072B2",
    "logistic": "#CC79A7",
    "dqn": "#D55E00",
    "ltos": "#0072B2",
    "optimum": "#000000",
    "neutral": "#777777",
}


def _interactive() -> bool:
    """True inside a Jupyter kernel or an interactive shell with a display."""
    if "ipykernel" in sys.modules:
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) and hasattr(sys, "ps1")


def use_style() -> None:
    """Apply the house style (called on import; call again after ``plt.rcdefaults()``)."""
    import matplotlib.pyplot as plt

    plt.style.use(str(_STYLE))


if not _interactive() and "MPLBACKEND" not in os.environ:
    matplotlib.use("Agg")
use_style()


def repo_root() -> Path:
    """The repository root (the folder holding ``pyproject.toml`` above this package)."""
    return Path(__file__).resolve().parents[1]


def figures_dir() -> Path:
    """Where figures go: ``$SHARELIB_FIGURES_DIR`` or the repository's ``figures/``."""
    env = os.environ.get("SHARELIB_FIGURES_DIR")
    return Path(env).resolve() if env else repo_root() / "figures"


def git_commit(root: Path | None = None) -> str:
    """The current commit hash, with ``-dirty`` when tracked files outside ``figures/`` have changes
    (saving a figure rewrites the tracked manifest, which must not mark its own provenance dirty),
    or ``unknown`` outside a git checkout."""
    try:
        root = repo_root() if root is None else Path(root)
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)figures"], cwd=root, capture_output=True, text=True,
                               timeout=10).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except Exception:  # noqa: BLE001 - not a git checkout, or git missing
        return "unknown"


def _jsonable(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return repr(obj)


def update_manifest(key: str, entry: Mapping[str, Any], directory: Path | None = None) -> None:
    """Set ``MANIFEST.json[key] = entry`` under an exclusive lock, replacing the file atomically."""
    directory = Path(directory) if directory is not None else figures_dir()
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / "MANIFEST.json"
    with open(directory / ".MANIFEST.lock", "a+") as lock:  # git-ignored
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            data = json.loads(manifest.read_text()) if manifest.exists() else {}
        except json.JSONDecodeError:
            data = {}  # never happens with atomic writes; a hand-edited broken file is rebuilt
        data[key] = _jsonable(entry)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".MANIFEST-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(dict(sorted(data.items())), f, indent=1, sort_keys=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, manifest)


def portable_parameters(params: Mapping[str, Any]) -> dict:
    """``params`` with every absolute path made machine-independent: relative to the repository
    when it lies inside it, ``<outside the project>/<name>`` otherwise. Such parameters (a cache
    or store folder) never change a result, and a committed manifest must not leak the machine's
    folders into the published pages."""
    root = repo_root().resolve()

    def portable(value):
        if isinstance(value, str) and os.path.isabs(value):
            path = Path(value).resolve()
            try:
                return str(path.relative_to(root))
            except ValueError:
                return f"<outside the project>/{path.name}"
        if isinstance(value, (list, tuple)):
            return [portable(v) for v in value]
        return value

    return {name: portable(value) for name, value in params.items()}


def savefig(fig, fig_id: str, *, paper: str, notebook: str, params: Mapping[str, Any], seeds=None) -> dict:
    """Save ``fig`` as PNG and PDF and record its provenance in a manifest.

    Paper-preset figures are recorded in ``figures/MANIFEST.json``, the others in the
    ``MANIFEST.json`` of their own folder ``figures/<paper>/<preset>/``; the key and the paths of
    an entry are relative to ``figures/`` in both cases.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    fig_id : str
        Named after the paper's figure, e.g. ``"fig3_global_utility"``.
    paper : str
        The paper's short name (``"ce_dos"``, ``"d3c"``, ...): the sub-folder of ``figures/``.
    notebook : str
        The notebook's path relative to ``notebooks/``, e.g. ``"ce_dos/02_figures.ipynb"``.
    params : mapping
        The notebook's parameters; ``params["preset"]`` picks the folder (``paper`` figures go to
        ``figures/<paper>/``, others to ``figures/<paper>/<preset>/``).
    seeds : optional
        The seed(s) behind the figure.

    Returns
    -------
    dict
        The manifest entry, including the ``png`` and ``pdf`` paths relative to the figures folder.
    """
    for name, value in (("fig_id", fig_id), ("paper", paper)):
        if not value or not isinstance(value, str) or "/" in value or value.startswith("."):
            raise ValueError(f"{name} must be a non-empty name without '/'; got {value!r}")
    preset = str(params.get("preset", "quick"))
    root = figures_dir()
    folder = root / paper if preset == "paper" else root / paper / preset
    folder.mkdir(parents=True, exist_ok=True)
    start = time.time()
    paths = {}
    for ext in ("png", "pdf"):
        target = folder / f"{fig_id}.{ext}"
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{fig_id}-", suffix=f".{ext}")
        os.close(fd)
        fig.savefig(tmp, format=ext, metadata={"Creator": f"sharelib {__version__}"} if ext == "png" else
                    {"Creator": f"sharelib {__version__}", "CreationDate": None})
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600 files; figures are for everyone
        os.replace(tmp, target)
        paths[ext] = str(target.relative_to(root))
    key = str((folder / fig_id).relative_to(root))
    entry = {
        "figure": fig_id,
        "paper": paper,
        "notebook": notebook,
        "preset": preset,
        "parameters": portable_parameters(params),
        "seeds": seeds,
        "sharelib_version": __version__,
        "git_commit": git_commit(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": round(start - _IMPORTED_AT, 2),
        **paths,
    }
    update_manifest(key, entry, root if preset == "paper" else folder)
    return entry


def live(fn, **controls):
    """Show ``controls`` (ipywidgets) that redraw ``fn(**values)`` whenever one of them changes.

    Like ``ipywidgets.interact``, except that nothing runs when the cell is executed: the
    notebook's static figure (drawn by the cell above, at the notebook's parameters) is the
    starting point, and a redraw happens only when a reader moves a control. ``interact`` runs
    ``fn`` at display time inside an Output widget, and headless executors (papermill, nbclient)
    can then wait forever for that output (papermill issue 723, nbclient issue 312); this layer
    never gives them anything to wait for.

    >>> import ipywidgets as w  # doctest: +SKIP
    >>> live(explore, n=w.IntSlider(value=10, min=2, max=20))  # doctest: +SKIP
    """
    import ipywidgets as widgets
    from IPython.display import clear_output, display

    if not controls:
        raise ValueError("live needs at least one control widget")
    out = widgets.Output()

    def redraw(_change=None):
        with out:
            clear_output(wait=True)
            fn(**{name: control.value for name, control in controls.items()})
            import matplotlib.pyplot as plt

            plt.show()

    for name, control in controls.items():
        if hasattr(control, "continuous_update"):
            control.continuous_update = False  # redraw on release, not on every pixel
        if hasattr(control, "description") and not control.description:
            control.description = name
        control.observe(redraw, names="value")
    display(widgets.VBox([widgets.VBox(list(controls.values())), out]))
