"""The notebook pipeline: find the companion's notebooks, describe their parameters, run them.

Notebooks live in ``notebooks/``: one folder per paper (``notebooks/ce_dos/01_method.ipynb``, ...)
plus top-level notebooks, whose "paper" name is their file name without a leading number
(``00_overview.ipynb`` is ``overview``). :func:`reproduce` executes notebooks through papermill's
Python API with the preset injected, writes the executed copies under ``build/notebooks/<preset>/``
(git-ignored) and lets the notebooks leave their figures in ``figures/<paper>/``.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .experiments import PRESET_NAMES, check_choice, check_int

__all__ = ["Notebook", "NotebookFailure", "find_notebooks", "select", "describe", "reproduce", "notebooks_dir"]


#: A cell running longer than this fails its notebook instead of hanging the pipeline forever.
CELL_TIMEOUT_S = int(os.environ.get("SHARELIB_CELL_TIMEOUT", "3600"))


def notebooks_dir() -> Path:
    """The repository's ``notebooks/`` (``$SHARELIB_NOTEBOOKS_DIR`` overrides it)."""
    env = os.environ.get("SHARELIB_NOTEBOOKS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "notebooks"


@dataclass(frozen=True)
class Notebook:
    """One notebook of the companion: its paper name and its path relative to ``notebooks/``."""

    paper: str
    relpath: str


@dataclass
class NotebookFailure:
    """What went wrong in one notebook: the failing cell and the exception it raised."""

    notebook: Notebook
    cell: str
    error: str
    seconds: float = 0.0
    traceback: list = field(default_factory=list)
    executed: str = ""  # the executed copy, with the traceback in the failing cell's output

    def __str__(self) -> str:
        where = f" (executed copy with the traceback: {self.executed})" if self.executed else ""
        return f"{self.notebook.relpath}: failed at {self.cell}: {self.error}{where}"


def find_notebooks(root: Path | None = None) -> list[Notebook]:
    """All notebooks under ``root``: top-level ones first (overview first), then paper folders."""
    root = Path(root) if root is not None else notebooks_dir()
    if not root.is_dir():
        raise FileNotFoundError(f"no notebooks folder at {root}; run from a clone of the repository")
    found = []
    for path in sorted(root.glob("*.ipynb")):
        found.append(Notebook(re.sub(r"^\d+_", "", path.stem), path.name))
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        for path in sorted(folder.glob("*.ipynb")):
            found.append(Notebook(folder.name, f"{folder.name}/{path.name}"))
    return found


def papers(notebooks: list[Notebook]) -> list[str]:
    """Paper names in the order their notebooks appear."""
    return list(dict.fromkeys(nb.paper for nb in notebooks))


def select(notebooks: list[Notebook], names: list[str] | None) -> list[Notebook]:
    """The notebooks of the given papers (all when ``names`` is empty); unknown names raise."""
    if not names:
        return list(notebooks)
    valid = papers(notebooks)
    for name in names:
        check_choice("paper", name, valid)
    return [nb for nb in notebooks if nb.paper in names]


def describe(notebook: Notebook, root: Path | None = None) -> dict:
    """The notebook's parameters as papermill infers them: ``{name: {type, default, help}}``."""
    import papermill

    root = Path(root) if root is not None else notebooks_dir()
    params = papermill.inspect_notebook(str(root / notebook.relpath))
    return {
        name: {"type": p.get("inferred_type_name", "None"), "default": p.get("default"), "help": p.get("help", "")}
        for name, p in params.items()
    }


def _source_cell(source_nb: Path, index: int, source: str) -> str:
    """Name the failing cell as the reader sees it in the source notebook: papermill inserts its
    injected-parameters cell right after the ``parameters`` cell, shifting later cells by one."""
    try:
        import nbformat

        cells = nbformat.read(str(source_nb), as_version=4).cells
        tagged = [k for k, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])]
        shift = 1 if tagged and index > tagged[0] else 0
    except Exception:  # noqa: BLE001 - unreadable source: report the executed numbering
        shift = 0
    first_line = next((line for line in source.splitlines() if line.strip()), "").strip()
    return f"cell {index - shift + 1} ({first_line[:60]!r})"


def _kernel_manager_class():
    """The kernel manager papermill starts kernels with: IPC transport on POSIX systems.

    Over the default TCP transport, ipykernel warns "Kernel is running over TCP without
    encryption" for every notebook, which a user reads as a security problem. Kernels started
    here only talk to this process, so Unix-domain sockets (in Jupyter's private runtime
    directory) are both the quieter and the tighter choice; Windows has no IPC transport and
    keeps TCP.
    """
    from jupyter_client.manager import AsyncKernelManager

    if os.name != "posix":
        return AsyncKernelManager

    from jupyter_core.paths import jupyter_runtime_dir

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            kwargs.setdefault("transport", "ipc")
            # jupyter_client's default socket prefix is "kernel-ipc" in the working directory and
            # it picks free names by testing for existence, so kernels started at the same time
            # by parallel workers (--jobs) took the same sockets and hung. A unique absolute
            # prefix per kernel removes the race.
            runtime = Path(jupyter_runtime_dir())
            runtime.mkdir(parents=True, exist_ok=True)
            kwargs.setdefault("ip", str(runtime / f"sharelib-{uuid.uuid4().hex}-ipc"))
            super().__init__(**kwargs)

    return IPCKernelManager


def _execute(notebook: Notebook, root: str, out_dir: str, preset: str, progress: bool):
    """Run one notebook with papermill (in a worker process); return None or a NotebookFailure."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    src = Path(root) / notebook.relpath
    dst = Path(out_dir) / notebook.relpath
    dst.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    try:
        papermill.execute_notebook(
            str(src), str(dst), parameters={"preset": preset}, cwd=str(src.parent),
            progress_bar=progress, log_output=False, request_save_on_cell_execute=False,
            execution_timeout=CELL_TIMEOUT_S, kernel_manager_class=_kernel_manager_class(),
        )
    except PapermillExecutionError as exc:
        return NotebookFailure(notebook, _source_cell(src, exc.cell_index, exc.source),
                               f"{exc.ename}: {exc.evalue}", time.time() - start, list(exc.traceback),
                               str(dst) if dst.exists() else "")
    except Exception as exc:  # noqa: BLE001 - kernel death, missing kernel, bad JSON...
        return NotebookFailure(notebook, "before the first cell", f"{type(exc).__name__}: {exc}", time.time() - start,
                               executed=str(dst) if dst.exists() else "")
    return time.time() - start


def reproduce(
    paper_names: list[str] | None = None,
    preset: str = "quick",
    jobs: int = 1,
    root: Path | None = None,
    out_dir: Path | None = None,
    stream=sys.stderr,
) -> list[NotebookFailure]:
    """Execute the selected notebooks with ``preset`` injected; return the failures (empty = success).

    A failing notebook is reported with its failing cell and the others still run.
    """
    from tqdm.auto import tqdm

    root = Path(root) if root is not None else notebooks_dir()
    check_choice("preset", preset, PRESET_NAMES)
    jobs = check_int("jobs", jobs, min=1)
    selected = select(find_notebooks(root), paper_names)
    if not selected:
        print("no notebooks to run", file=stream)
        return []
    out_dir = Path(out_dir) if out_dir is not None else root.parent / "build" / "notebooks" / preset
    figures = os.environ.get("SHARELIB_FIGURES_DIR")
    if figures:  # each notebook runs in its own folder: resolve a relative value once, against ours
        os.environ["SHARELIB_FIGURES_DIR"] = str(Path(figures).resolve())
    failures: list[NotebookFailure] = []
    per_cell_progress = jobs == 1 and stream.isatty() if hasattr(stream, "isatty") else False
    bar = tqdm(total=len(selected), desc=f"reproduce ({preset})", unit="notebook", file=stream)
    with cf.ProcessPoolExecutor(max_workers=min(jobs, len(selected))) as pool:
        futures = {pool.submit(_execute, nb, str(root), str(out_dir), preset, per_cell_progress): nb
                   for nb in selected}
        pending = list(selected)  # the pool takes them in order: the first `jobs` pending are running

        def show_running():
            bar.set_postfix_str("running " + ", ".join(nb.relpath for nb in pending[:jobs]) if pending else "")

        show_running()
        for fut in cf.as_completed(futures):
            nb = futures[fut]
            outcome = fut.result()
            pending.remove(nb)
            show_running()
            if isinstance(outcome, NotebookFailure):
                failures.append(outcome)
                bar.write(f"FAILED {outcome} ({outcome.seconds:.0f} s)", file=stream)
            else:
                bar.write(f"ok     {nb.relpath} ({outcome:.0f} s)", file=stream)
            bar.update(1)
    bar.close()
    print(f"{len(selected) - len(failures)} of {len(selected)} notebooks ran; executed copies in {out_dir}",
          file=stream)
    return failures
