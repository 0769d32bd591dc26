"""Presets, parameter validation, reproducible sweeps and an on-disk result cache.

Three things every experiment in the companion needs:

* **Presets.** Each experiment registers a ``quick`` preset (seconds to a few minutes, used by the
  tests and CI) and a ``paper`` preset (the paper's own settings). :func:`resolve` merges a preset
  with the overrides a notebook received from papermill.
* **Validation.** :func:`check_int`, :func:`check_float`, :func:`check_choice` and
  :func:`check_bool` raise a :class:`ValueError` that names the parameter and the allowed values,
  so a typo in ``papermill -p`` is caught at the Python boundary, not deep inside a numba kernel.
* **Sweeps.** :func:`sweep` runs ``fn(**params, seed=...)`` over a grid of settings and runs,
  serially, on local processes, or on a Dask or Ray cluster. Each point's seed is derived from
  ``numpy.random.SeedSequence(seed, spawn_key=(hash(params), run))``: it depends only on the
  point, never on the backend, the number of workers or the order in which points finish, so the
  results are bit-identical everywhere. Finished points can be cached on disk
  (:class:`ResultCache`): files are written atomically (write, fsync, rename) with a SHA-256
  checksum, so an interrupted sweep resumes without recomputing finished points and a corrupted
  file is detected, reported and recomputed, never read as a result. The cache is keyed by the
  code, so any edit invalidates it; results kept under version control across code changes go to
  a results store instead (``sweep(..., store="results/<paper>/<experiment>")``, see
  :mod:`sharelib.results`).
* **Sweepable experiments.** :func:`register_sweep` names the sweeps behind an experiment's
  figures, so ``python -m sharelib sweep <experiment>`` can show and run them into their store.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import hashlib
import inspect
import itertools
import json
import math
import multiprocessing
import numbers
import os
import pickle
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "check_int",
    "check_float",
    "check_choice",
    "check_bool",
    "register_presets",
    "get_preset",
    "resolve",
    "experiments",
    "grid",
    "point_seed",
    "sweep",
    "SweepPoint",
    "SweepPlan",
    "register_sweep",
    "sweepable",
    "sweep_plans",
    "ResultCache",
    "CacheCorruptionWarning",
    "code_fingerprint",
    "BACKENDS",
    "PRESET_NAMES",
]

# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def _range_text(min, max, min_inclusive=True, max_inclusive=True) -> str:
    if min is not None and max is not None:
        lo = "[" if min_inclusive else "("
        hi = "]" if max_inclusive else ")"
        return f"in {lo}{min}, {max}{hi}"
    if min is not None:
        return f"{'>=' if min_inclusive else '>'} {min}"
    if max is not None:
        return f"{'<=' if max_inclusive else '<'} {max}"
    return ""


def check_int(name: str, value: Any, *, min: int | None = None, max: int | None = None) -> int:
    """Return ``value`` as an ``int`` or raise ``ValueError`` naming ``name`` and the allowed range.

    >>> check_int("n_agents", 10, min=2)
    10
    >>> check_int("n_agents", 1, min=2)
    Traceback (most recent call last):
    ...
    ValueError: n_agents must be an integer >= 2; got 1
    >>> check_int("n_agents", 3.0)
    Traceback (most recent call last):
    ...
    ValueError: n_agents must be an integer; got 3.0 (float)
    """
    rng = _range_text(min, max)
    what = f"an integer {rng}".rstrip()
    # Floats are refused even when integral (3.0, 1e6): accepting them invited callers to keep the
    # float and fail later, deep inside a kernel, with an error that no longer names the parameter.
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be {what}; got {value!r} ({type(value).__name__})")
    value = int(value)
    if (min is not None and value < min) or (max is not None and value > max):
        raise ValueError(f"{name} must be {what}; got {value}")
    return value


def check_float(
    name: str,
    value: Any,
    *,
    min: float | None = None,
    max: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
) -> float:
    """Return ``value`` as a finite ``float`` or raise ``ValueError`` naming the allowed range.

    >>> check_float("psi", 0.25, min=0, max=1, min_inclusive=False)
    0.25
    >>> check_float("psi", 0.0, min=0, max=1, min_inclusive=False)
    Traceback (most recent call last):
    ...
    ValueError: psi must be a number in (0, 1]; got 0.0
    """
    what = f"a number {_range_text(min, max, min_inclusive, max_inclusive)}".rstrip()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be {what}; got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be {what}; got {value}")
    low_bad = min is not None and (value < min if min_inclusive else value <= min)
    high_bad = max is not None and (value > max if max_inclusive else value >= max)
    if low_bad or high_bad:
        raise ValueError(f"{name} must be {what}; got {value}")
    return value


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError`` listing them.

    >>> check_choice("market", "simple", ("simple", "logistic"))
    'simple'
    """
    choices = tuple(choices)
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {listed}; got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool (or numpy bool), else raise ``ValueError``."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ValueError(f"{name} must be True or False; got {value!r}")


# ---------------------------------------------------------------------------------------------
# Presets
# ---------------------------------------------------------------------------------------------

PRESET_NAMES = ("quick", "paper")
_PRESETS: dict[str, dict[str, dict[str, Any]]] = {}


def register_presets(experiment: str, quick: Mapping[str, Any], paper: Mapping[str, Any], **others) -> None:
    """Register the named presets of ``experiment`` (``quick`` and ``paper``, plus any others).

    Every preset of one experiment must define the same keys, so that switching presets never
    leaves a parameter undefined. Registering again replaces the previous entry (modules may be
    reloaded in a notebook).
    """
    presets = {"quick": dict(quick), "paper": dict(paper)}
    presets.update({k: dict(v) for k, v in others.items()})
    keys = set(presets["quick"])
    for name, values in presets.items():
        if set(values) != keys:
            diff = sorted(keys.symmetric_difference(values))
            raise ValueError(f"preset {name!r} of {experiment!r} defines different keys from 'quick': {diff}")
    _PRESETS[experiment] = presets


def experiments() -> list[str]:
    """Names of all registered experiments (after their modules were imported)."""
    return sorted(_PRESETS)


def get_preset(experiment: str, preset: str) -> dict[str, Any]:
    """A copy of the values of ``preset`` for ``experiment``."""
    if experiment not in _PRESETS:
        known = ", ".join(repr(e) for e in experiments()) or "none registered yet"
        raise ValueError(f"experiment must be one of {known}; got {experiment!r}")
    presets = _PRESETS[experiment]
    check_choice("preset", preset, presets)
    return copy.deepcopy(presets[preset])


def resolve(experiment: str, preset: str, **overrides) -> dict[str, Any]:
    """The preset's values, with every override that is not ``None`` taking precedence.

    Notebooks declare their tunable parameters with ``None`` meaning "take it from the preset",
    then call ``resolve("ce_dos.figures", preset, n_runs=n_runs, ...)``. The returned dict also
    holds ``preset`` itself, so it can be handed to :func:`sharelib.plotting.savefig` as the
    provenance record.
    """
    values = get_preset(experiment, preset)
    unknown = sorted(set(overrides) - set(values))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown} for experiment {experiment!r}; valid: {sorted(values)}"
        )
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["preset"] = preset
    return values


# ---------------------------------------------------------------------------------------------
# Sweepable experiments (the ``python -m sharelib sweep`` command)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepPlan:
    """One sweep of a registered experiment: ``sweep(fn, grid, runs, seed=seed)``, named ``desc``."""

    fn: Callable[..., Any]
    grid: list
    runs: int
    seed: int = 0
    desc: str = ""

    def tasks(self) -> list[tuple[dict, int, int]]:
        """``(params, run, seed)`` of every point, in the order :func:`sweep` runs them."""
        return [(dict(p), r, point_seed(self.seed, p, r)) for p in self.grid for r in range(self.runs)]


_SWEEPS: dict[str, Callable[[dict], Sequence[SweepPlan]]] = {}


def register_sweep(experiment: str, plans: Callable[[dict], Sequence[SweepPlan]]) -> None:
    """Make the registered ``experiment`` runnable by ``python -m sharelib sweep``.

    ``plans(P)`` receives the resolved preset (:func:`resolve`) and returns the :class:`SweepPlan`
    list a notebook of the experiment sweeps, with the *same* function, grid, runs and seed, so the
    points the command line stores are the points the notebook reads.
    """
    if experiment not in _PRESETS:
        raise ValueError(f"register the presets of {experiment!r} (register_presets) before its sweep")
    _SWEEPS[experiment] = plans


def sweepable() -> list[str]:
    """Names of the experiments registered with :func:`register_sweep` (after their modules were imported)."""
    return sorted(_SWEEPS)


def sweep_plans(experiment: str, preset: str) -> list[SweepPlan]:
    """The sweeps of ``experiment`` under ``preset``."""
    known = sweepable()
    if experiment not in known:
        listed = ", ".join(repr(e) for e in known) or "none registered"
        raise ValueError(f"experiment must be one of {listed}; got {experiment!r}")
    plans = list(_SWEEPS[experiment](resolve(experiment, preset)))
    if not plans or not all(isinstance(p, SweepPlan) for p in plans):
        raise TypeError(f"the sweep of {experiment!r} must return a non-empty list of SweepPlan; got {plans!r}")
    return plans


# ---------------------------------------------------------------------------------------------
# Grids and seeds
# ---------------------------------------------------------------------------------------------


def grid(**axes: Sequence[Any]) -> list[dict[str, Any]]:
    """Cartesian product of the axes, as a list of parameter dicts (last axis varies fastest).

    >>> grid(n=[10, 50], market=["simple", "logistic"])[:2]
    [{'n': 10, 'market': 'simple'}, {'n': 10, 'market': 'logistic'}]
    """
    names = list(axes)
    return [dict(zip(names, combo)) for combo in itertools.product(*(axes[k] for k in names))]


_grid_product = grid  # ``sweep`` has a parameter named ``grid``


def _canonical(obj: Any) -> Any:
    """A JSON-able canonical form of parameter values (numpy scalars and arrays included)."""
    if isinstance(obj, Mapping):
        return {str(k): _canonical(obj[k]) for k in sorted(obj, key=str)}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": str(obj.dtype)}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return repr(obj)


def params_hash(params: Mapping[str, Any]) -> int:
    """A stable 32-bit hash of a parameter dict (independent of key order and of the process)."""
    text = json.dumps(_canonical(params), sort_keys=True)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def point_seed(seed: int, params: Mapping[str, Any], run: int) -> int:
    """The integer seed of one sweep point: ``SeedSequence(seed, spawn_key=(hash(params), run))``.

    Using ``spawn_key`` is exactly what ``SeedSequence.spawn`` does, but keyed by the point itself
    rather than by its position, so adding grid points never changes the seeds of the others.
    The result lies in ``[0, 2**32)``, which numba's ``np.random.seed`` accepts.
    """
    ss = np.random.SeedSequence(check_int("seed", seed, min=0), spawn_key=(params_hash(params), int(run)))
    return int(ss.generate_state(1, dtype=np.uint32)[0])


# ---------------------------------------------------------------------------------------------
# On-disk cache
# ---------------------------------------------------------------------------------------------

_MAGIC = b"SHARELIB-RESULT-2\n"  # 2: the payload holds the key and the point


def remove_old_files(directory: Path, patterns, older_than: float) -> int:
    """Delete the files of ``directory`` matching ``patterns`` (globs) last written more than
    ``older_than`` seconds ago (interrupted writers' temporaries); returns how many went."""
    limit = time.time() - older_than
    removed = 0
    for tmp in [f for pattern in patterns for f in Path(directory).glob(pattern)]:
        try:
            if tmp.stat().st_mtime < limit:
                tmp.unlink()
                removed += 1
        except FileNotFoundError:  # its writer finished or another process removed it
            pass
    return removed


class CacheCorruptionWarning(UserWarning):
    """A cached result failed its checksum (truncated or corrupted), belongs to another key (a file
    copied or renamed by hand), or was written by an older format; it is recomputed."""


def _module_file_hash(fn: Callable) -> str:
    """SHA-256 of the whole source file defining ``fn`` (a user's script or module), or of its
    source text or bytecode when there is no file (a function typed into an interactive session)."""
    try:
        path = inspect.getsourcefile(fn)
        if path and os.path.isfile(path):
            return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except TypeError:  # a builtin, a functools.partial...
        pass
    try:
        text = inspect.getsource(fn)
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        text = code.co_code.hex() if code is not None else repr(fn)
    return hashlib.sha256(text.encode()).hexdigest()


def _package_hash() -> str:
    """SHA-256 over every ``.py`` file of the installed ``sharelib`` package (names and contents).

    Hashing the sources themselves, not a version number or a git commit, makes the key change
    with any edit, committed or not, to any code a result can depend on (a kernel below a thin
    swept wrapper, a ``git pull``), and keep it stable across clones and machines.
    """
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _library_versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for dist in ("numpy", "numba"):
        try:
            found.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:  # pragma: no cover - numba is a hard dependency
            found.append(f"{dist} missing")
    return f"{', '.join(found)}, python {sys.version_info[0]}.{sys.version_info[1]}"


def code_fingerprint(fn: Callable) -> str:
    """What a cached result of ``fn`` depends on besides its parameters and seed.

    The function's module and qualified name, the source file defining it, every source file of
    the installed ``sharelib`` package, and the numpy, numba and Python versions. Any change to
    any of them changes the cache key, so a reused cache folder can never serve results of other
    code. (Code outside sharelib that ``fn`` calls from *other* modules of your own is not
    covered: keep swept functions and their helpers in one file, or clear the cache.)
    """
    name = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
    text = "\n".join([name, _module_file_hash(fn), _package_hash(), _library_versions()])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class ResultCache:
    """A directory of pickled results, one file per sweep point, written atomically.

    File layout: a magic line, the hex SHA-256 of the payload, a newline, the pickled payload
    ``{"key": key, "point": point, "value": value}``, where ``point`` records what the key was made
    of (parameters, run, seed, code fingerprint). An entry is read only if its checksum holds
    *and* it names the key it is read under (and, when the reader passes one, the same point), so
    a file copied over another key's file is caught. A file that fails any check is reported with
    a :class:`CacheCorruptionWarning`, deleted and treated as missing. Writers use temporary
    ``.tmp-*.part`` files; those left behind by a killed writer are removed once they are older
    than ``STALE_AFTER`` seconds (a live write takes milliseconds, so another process's write in
    progress is never touched).
    """

    STALE_AFTER = 3600.0

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.remove_stale_temporaries()

    def remove_stale_temporaries(self, older_than: float | None = None) -> int:
        """Delete temporary files of interrupted writers older than ``older_than`` seconds."""
        # ".tmp-*.pkl": the temporary name used before sharelib named them ".part"
        return remove_old_files(self.directory, (".tmp-*.part", ".tmp-*.pkl"),
                                self.STALE_AFTER if older_than is None else older_than)

    @staticmethod
    def point(fn: Callable, params: Mapping[str, Any], run: int, seed: int, code: str | None = None) -> dict:
        """The JSON-able record a key is the hash of; ``code`` defaults to :func:`code_fingerprint`."""
        return {"fn": code if code is not None else code_fingerprint(fn), "params": _canonical(params),
                "run": int(run), "seed": int(seed)}

    @staticmethod
    def key(fn: Callable, params: Mapping[str, Any], run: int, seed: int, code: str | None = None) -> str:
        """The file name of one point: a hash of :meth:`point` (parameters, run, seed and the code
        fingerprint of ``fn``; pass ``code`` to reuse one fingerprint across a sweep)."""
        text = json.dumps(ResultCache.point(fn, params, run, seed, code), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.pkl"

    def entries(self) -> list[str]:
        """Keys of the finished entries: ``<key>.pkl`` files, never a writer's temporary file
        (``.tmp-*.part``, or ``.tmp-*.pkl`` as older versions of sharelib named them)."""
        return sorted(p.stem for p in self.directory.glob("*.pkl") if not p.name.startswith("."))

    def load(self, key: str, point: Mapping[str, Any] | None = None) -> tuple[bool, Any]:
        """``(True, value)`` for a valid entry of ``key`` (and of ``point``, if given), ``(False, None)``
        for a missing, corrupted, foreign or old-format one."""
        path = self.path(key)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return False, None
        problem = "is corrupted or truncated"
        header_len = len(_MAGIC) + 65
        if blob.startswith(b"SHARELIB-RESULT-") and not blob.startswith(_MAGIC):
            problem = "was written by an older version of sharelib's cache"
        elif blob.startswith(_MAGIC) and len(blob) > header_len:
            digest = blob[len(_MAGIC):len(_MAGIC) + 64].decode("ascii", "replace")
            payload = blob[header_len:]
            if hashlib.sha256(payload).hexdigest() == digest:
                try:
                    entry = pickle.loads(payload)
                    if not (isinstance(entry, dict) and {"key", "point", "value"} <= set(entry)):
                        raise ValueError("not a cache entry")
                except Exception:  # noqa: BLE001 - any unpickling failure means a bad file
                    entry = None
                if entry is not None:
                    if entry["key"] != key:
                        problem = f"holds the result of another point (key {entry['key']})"
                    elif point is not None and entry["point"] != json.loads(json.dumps(point, sort_keys=True)):
                        problem = "records other parameters than its key stands for"
                    else:
                        return True, entry["value"]
        warnings.warn(f"cache file {path} {problem}; recomputing it", CacheCorruptionWarning, stacklevel=2)
        path.unlink(missing_ok=True)
        return False, None

    def store(self, key: str, value: Any, point: Mapping[str, Any] | None = None) -> None:
        """Write ``value`` under ``key`` atomically, together with the key and its ``point`` record."""
        entry = {"key": key, "point": json.loads(json.dumps(point, sort_keys=True)) if point is not None else None,
                 "value": value}
        payload = pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL)
        blob = _MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload
        # The temporary name never ends in ".pkl", so nothing that lists finished entries can see a
        # half-written file (a writer killed mid-store leaves only a ".part" file behind).
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path(key))  # atomic on POSIX: readers see the old or the new file
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


# ---------------------------------------------------------------------------------------------
# Sweeps
# ---------------------------------------------------------------------------------------------

BACKENDS = ("serial", "processes", "dask", "ray")


@dataclass(frozen=True)
class SweepPoint:
    """One finished point of a sweep: its parameters, run index, derived seed and result."""

    params: dict
    run: int
    seed: int
    value: Any


def _call_and_cache(fn: Callable, params: Mapping[str, Any], seed: int, sink: tuple | None) -> Any:
    # Workers write their own results, so a sweep killed midway keeps every finished point. ``sink``
    # is (ResultCache or ResultStore, key, point record): both have the same ``store`` method.
    value = fn(**params, seed=seed)
    if sink is not None:
        target, key, point = sink
        target.store(key, value, point)
    return value


def _progress(total: int, desc: str | None, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc or "sweep", disable=not enabled, leave=True)


def sweep(
    fn: Callable[..., Any],
    grid: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]],
    runs: int = 1,
    *,
    seed: int = 0,
    backend: str = "processes",
    n_jobs: int | None = None,
    cache: str | os.PathLike | None = None,
    store: str | os.PathLike | None = None,
    stale: str = "reuse",
    address: str | None = None,
    progress: bool = True,
    desc: str | None = None,
) -> list[SweepPoint]:
    """Run ``fn(**params, seed=s)`` for every grid point and run, and return the results in order.

    Parameters
    ----------
    fn : callable
        A module-level (picklable) function. It receives the point's parameters as keyword
        arguments and ``seed``, an integer in ``[0, 2**32)`` (see :func:`point_seed`).
    grid : list of dict, or dict of lists
        The settings; a dict of lists is expanded with :func:`grid`.
    runs : int
        Independent runs (seeds) per grid point.
    seed : int
        Root seed of the whole sweep.
    backend : {"processes", "serial", "dask", "ray"}
        Local worker processes (default), the calling process, a Dask distributed cluster (address
        from ``address`` or the ``SHARELIB_DASK_ADDRESS`` environment variable; a local cluster is
        started when neither is set), or Ray (``ray.init(address)``, ``RAY_ADDRESS`` honoured).
    n_jobs : int, optional
        Local worker processes (default: the number of CPUs).
    cache : path, optional
        Directory of a :class:`ResultCache`. Finished points are read from it and new ones written
        to it, so an interrupted sweep resumes where it stopped. Entries are keyed by the point,
        its seed and :func:`code_fingerprint` (sharelib's sources, ``fn``'s file, numpy and
        numba versions), so changed code never reads old results.
    store : path, optional
        Directory of a :class:`sharelib.results.ResultStore`, for results kept under version
        control (``results/<paper>/<experiment>``): one JSON file per point, keyed by ``fn``'s
        qualified name, the parameters, run and seed, *not* by the code, so results survive code
        changes. Each file records the code version (git commit, dirty flag, fingerprint) and the
        library versions. Exclusive with ``cache``. As with ``cache``, workers write their own
        points, so on a cluster the folder must be on a file system the workers share.
    stale : {"reuse", "recompute", "error"}
        What to do with stored points computed under other code (another
        :func:`code_fingerprint`): reuse them and warn with their count
        (:class:`sharelib.results.StaleResultWarning`), recompute them, or raise
        :class:`sharelib.results.StaleResultError`. Only used with ``store``.
    progress : bool
        Show a tqdm progress bar.

    Notes
    -----
    In a script, call ``sweep`` under ``if __name__ == "__main__":``. Worker processes import the
    script again; an unguarded call at module level would start workers from inside a worker, and
    multiprocessing refuses that (sweep then raises a ``RuntimeError`` saying so). Notebooks and
    interactive sessions need no guard.

    Returns
    -------
    list of SweepPoint
        In grid order, then run order, whatever the backend and completion order.

    Examples
    --------
    A sweep that a later session resumes, and that reports (but reuses) points of older code:

    >>> import tempfile, warnings
    >>> def square(x, seed):
    ...     return {"x2": x * x}
    >>> folder = tempfile.mkdtemp()
    >>> [p.value["x2"] for p in sweep(square, {"x": [1, 2]}, backend="serial", store=folder, progress=False)]
    [1, 4]
    >>> [p.value["x2"] for p in sweep(square, {"x": [1, 2, 3]}, backend="serial", store=folder, progress=False)]
    [1, 4, 9]
    """
    points = [dict(p) for p in (_grid_product(**grid) if isinstance(grid, Mapping) else grid)]
    if not points:
        raise ValueError("grid must contain at least one point; got an empty grid")
    runs = check_int("runs", runs, min=1)
    check_choice("backend", backend, BACKENDS)
    if n_jobs is not None:
        n_jobs = check_int("n_jobs", n_jobs, min=1)
    tasks = [(i, p, r, point_seed(seed, p, r)) for i, p in enumerate(points) for r in range(runs)]

    if cache is not None and store is not None:
        raise ValueError("pass either cache= (a scratch cache, keyed by the code) or store= (a results store "
                         "kept across code changes), not both")
    from .results import check_stale

    stale = check_stale(stale)
    values: dict[int, Any] = {}
    sinks: dict[int, tuple] = {}  # task -> (cache or store, key, point record) that its worker writes
    if cache is not None:
        todo = _read_cache(ResultCache(cache), fn, tasks, values, sinks)
    elif store is not None:
        todo = _read_store(store, fn, tasks, values, sinks, stale)
    else:
        todo = list(range(len(tasks)))

    with _progress(len(tasks), desc, progress) as bar:
        bar.update(len(tasks) - len(todo))
        runner = {"serial": _run_serial, "processes": _run_processes, "dask": _run_dask, "ray": _run_ray}[backend]
        for t, value in runner(fn, tasks, todo, sinks, n_jobs=n_jobs, address=address):
            values[t] = value
            bar.update(1)

    return [SweepPoint(params=p, run=r, seed=s, value=values[t]) for t, (_, p, r, s) in enumerate(tasks)]


def _read_cache(cache: ResultCache, fn, tasks, values, sinks) -> list[int]:
    """Fill ``values`` with the cached points and ``sinks`` with where the others go; return those."""
    todo = []
    code = code_fingerprint(fn)
    for t, (_, p, r, s) in enumerate(tasks):
        point, key = cache.point(fn, p, r, s, code), cache.key(fn, p, r, s, code)
        hit, value = cache.load(key, point)
        if hit:
            values[t] = value
        else:
            sinks[t] = (cache, key, point)
            todo.append(t)
    return todo


def _read_store(directory, fn, tasks, values, sinks, stale: str) -> list[int]:
    """As :func:`_read_cache`, for a results store and its ``stale`` policy."""
    from .results import ResultStore, StaleResultError, StaleResultWarning, code_version, stale_summary

    store = ResultStore(directory)
    code = code_version(fn)
    todo, old = [], []
    for t, (_, p, r, s) in enumerate(tasks):
        ident = store.identity(fn, p, r, s)
        found = store.lookup(ident, code["fingerprint"])
        if found.status == "stale" and stale != "recompute":
            old.append(found.record)
        if found.status == "fresh" or (found.status == "stale" and stale == "reuse"):
            values[t] = found.value
        elif found.status != "stale" or stale == "recompute":
            sinks[t] = (store, store.key(ident), {**ident, "code": code})
            todo.append(t)
    if old and stale == "error":
        raise StaleResultError(stale_summary(store.directory, old, len(tasks), reused=False))
    if old:
        warnings.warn(stale_summary(store.directory, old, len(tasks)), StaleResultWarning, stacklevel=3)
    return todo


def _run_serial(fn, tasks, todo, sinks, **_):
    for t in todo:
        _, p, _r, s = tasks[t]
        yield t, _call_and_cache(fn, p, s, sinks.get(t))


def _start_method(fn: Callable) -> str | None:
    """How to start local workers for ``fn``.

    Forking a multi-threaded process (a Jupyter kernel always has threads) can deadlock a child
    that inherits a held lock, so an importable ``fn`` runs in workers forked from a clean
    ``forkserver``. A function defined in ``__main__`` (a notebook cell, a script) cannot be
    imported by such workers; it needs ``fork``, which copies the parent's ``__main__``.
    """
    methods = multiprocessing.get_all_start_methods()
    if getattr(fn, "__module__", "__main__") == "__main__":
        return "fork" if "fork" in methods else None
    return "forkserver" if "forkserver" in methods else None


def _run_processes(fn, tasks, todo, sinks, n_jobs=None, **_):
    if not todo:
        return
    n_jobs = min(n_jobs or os.cpu_count() or 1, len(todo))
    ctx = multiprocessing.get_context(_start_method(fn))
    with cf.ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx) as pool:
        futures = {}
        for t in todo:
            _, p, _r, s = tasks[t]
            futures[pool.submit(_call_and_cache, fn, p, s, sinks.get(t))] = t
        for fut in cf.as_completed(futures):
            try:
                value = fut.result()
            except cf.process.BrokenProcessPool as exc:
                raise RuntimeError(_BROKEN_POOL_HELP) from exc
            yield futures[fut], value


_BROKEN_POOL_HELP = (
    "sweep's worker processes died. If this is a script that calls sweep() at module level, put the "
    "call under `if __name__ == \"__main__\":` (each worker imports the script again, and the call would "
    "start workers from a worker); otherwise a worker ran out of memory or crashed in native code. "
    "backend=\"serial\" runs without workers."
)


def _run_dask(fn, tasks, todo, sinks, address=None, n_jobs=None, **_):
    if not todo:
        return
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError("backend='dask' needs dask[distributed]: pip install 'sharelib[cluster]'") from exc
    address = address or os.environ.get("SHARELIB_DASK_ADDRESS")
    cluster = None
    if address is None:
        cluster = LocalCluster(n_workers=n_jobs or os.cpu_count() or 1, threads_per_worker=1, processes=True)
        address = cluster
    client = Client(address)
    try:
        futures = {}
        for t in todo:
            _, p, _r, s = tasks[t]
            fut = client.submit(_call_and_cache, fn, p, s, sinks.get(t), pure=False)
            futures[fut] = t
        for fut in as_completed(list(futures)):
            yield futures[fut], fut.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _run_ray(fn, tasks, todo, sinks, address=None, **_):
    if not todo:
        return
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError("backend='ray' needs ray: pip install 'sharelib[cluster]'") from exc
    if not ray.is_initialized():
        ray.init(address=address or os.environ.get("RAY_ADDRESS"), ignore_reinit_error=True)
    remote = ray.remote(_call_and_cache)
    refs = {}
    for t in todo:
        _, p, _r, s = tasks[t]
        refs[remote.remote(fn, p, s, sinks.get(t))] = t
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        yield refs[done[0]], ray.get(done[0])
