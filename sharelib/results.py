"""The results store: one small JSON file per sweep point, kept under version control.

:class:`sharelib.experiments.ResultCache` is a scratch cache: its keys hash every source file of
sharelib, so any edit invalidates it, which is right for a folder nobody looks at. Long sweeps (the
``reduced`` and ``paper`` presets) run across several sessions and their per-point results are
committed to git, so that a later session resumes instead of recomputing and a reader regenerates
a figure in seconds. A :class:`ResultStore` serves that purpose:

* **Keyed by the point, not by the code.** A file's name is a hash of the swept function's
  qualified name, the point's parameters, its run index and its seed. Results survive code changes.
* **The code version is recorded, and the reader chooses.** Each file carries the git commit (and
  whether the checkout had uncommitted changes), :func:`~sharelib.experiments.code_fingerprint`
  and the library versions. A point whose fingerprint differs from the current code is *stale*;
  ``sweep(..., store=..., stale=...)`` reuses it (``"reuse"``, the default, with a
  :class:`StaleResultWarning` counting them), recomputes it (``"recompute"``) or stops
  (``"error"``, :class:`StaleResultError`).
* **Human-readable and lossless.** JSON, one line per field; numpy arrays are written as their
  dtype, shape and flat list of values (floats with Python's shortest round-trip repr, non-finite
  values as the strings ``"nan"``, ``"-nan"``, ``"inf"``, ``"-inf"``), or as base64 bytes where a
  list cannot hold the values exactly (complex, ``longdouble``, strings, NaNs with a payload).
  Tuples, numpy scalars and dicts with non-string keys are tagged, so :func:`decode` gives back,
  bit for bit, what :func:`encode` was given. The same code and point always give the same bytes, so recomputing a point
  under unchanged code leaves ``git diff`` empty, and one worker or many write identical files.
* **Crash-safe.** A file is written to a ``.tmp-*.part`` file, fsynced and renamed over its final
  name, so an interrupted sweep never leaves a half-written result under a result name. Every file
  carries a SHA-256 checksum of its content and the identity it was written for; a truncated,
  edited or misplaced file is reported with a :class:`CorruptResultWarning` and recomputed.

Examples
--------
In a script or notebook (``results/<paper>/<experiment>`` is the convention)::

    from sharelib import experiments
    points = experiments.sweep(env_run, grid, runs=5, store="results/as/main")      # resume, reuse stale
    points = experiments.sweep(env_run, grid, runs=5, store="results/as/main", stale="recompute")

From the shell, for an experiment registered with :func:`sharelib.experiments.register_sweep`::

    python -m sharelib sweep --list
    python -m sharelib sweep as.main --preset quick --status
    python -m sharelib sweep d3c.rl --preset reduced --jobs 2

The encoding on its own:

>>> import numpy as np
>>> doc = encode({"curve": np.array([0.5, np.nan]), "n": 3, "pair": (1, 2)})
>>> doc["curve"]
{'__sharelib__': 'ndarray', 'dtype': 'float64', 'shape': [2], 'data': [0.5, 'nan']}
>>> back = decode(doc)
>>> back["pair"], back["curve"].dtype
((1, 2), dtype('float64'))
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from . import __version__
from .experiments import CacheCorruptionWarning, _canonical, check_choice, code_fingerprint, remove_old_files

__all__ = [
    "ResultStore",
    "Lookup",
    "StaleResultWarning",
    "StaleResultError",
    "CorruptResultWarning",
    "STALE_POLICIES",
    "encode",
    "decode",
    "code_version",
    "git_state",
    "default_store",
    "results_dir",
]

FORMAT = "sharelib-result-1"
STALE_POLICIES = ("reuse", "recompute", "error")
_TAG = "__sharelib__"


class StaleResultWarning(UserWarning):
    """Stored points computed under other code (another fingerprint) were reused."""


class StaleResultError(RuntimeError):
    """``stale="error"`` and the store holds points computed under other code."""


class CorruptResultWarning(CacheCorruptionWarning):
    """A stored result failed its checksum or parse (truncated, edited by hand) or was written for
    another point (a file copied or renamed); it is ignored and recomputed."""


# ---------------------------------------------------------------------------------------------
# Lossless JSON encoding
# ---------------------------------------------------------------------------------------------

# dtypes whose values ``tolist`` gives as Python bool/int/float exactly; others go through base64
_LIST_KINDS = "biuf"


def _nan_text(x: float) -> str:
    # x86 computes inf - inf as a NaN with the sign bit set: keep the sign ("-nan")
    return "-nan" if math.copysign(1.0, x) < 0 else "nan"


def _plain_nans(a: np.ndarray) -> bool:
    """Whether every NaN of the float array ``a`` is the default one or its negative (no payload)."""
    nans = a[np.isnan(a)]
    if nans.size == 0:
        return True
    default = np.array([np.nan, -np.nan], dtype=a.dtype).view(f"u{a.dtype.itemsize}")
    return bool(np.isin(nans.view(f"u{a.dtype.itemsize}"), default).all())


def _encode_array(a: np.ndarray, tag: str, where: str) -> dict:
    if a.dtype.kind == "O" or a.dtype.fields is not None:
        raise TypeError(f"{where} is an array of dtype {a.dtype}, which the results store cannot write; "
                        "use numeric, bool or string arrays")
    if a.dtype.kind in _LIST_KINDS and a.dtype.itemsize <= 8 and (a.dtype.kind != "f" or _plain_nans(a)):
        data = a.ravel().tolist()
        if a.dtype.kind == "f":
            data = [x if math.isfinite(x) else (_nan_text(x) if x != x else repr(x)) for x in data]
        return {_TAG: tag, "dtype": str(a.dtype), "shape": list(a.shape), "data": data}
    # complex, longdouble, strings, NaNs carrying a payload: the raw bytes, exactly
    raw = np.ascontiguousarray(a).tobytes()
    return {_TAG: tag, "dtype": a.dtype.str, "shape": list(a.shape), "base64": base64.b64encode(raw).decode("ascii")}


def encode(value: Any, where: str = "value") -> Any:
    """A JSON-able form of ``value`` that :func:`decode` turns back into an equal object.

    Handles None, bool, int, float (non-finite too), str, lists, tuples, dicts, numpy arrays and
    numpy scalars, nested in any way. Anything else raises ``TypeError`` naming where it sits.
    """
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:  # exact type: np.float64 subclasses float and must keep its type
        if math.isfinite(value):
            return value
        if value != value and not _plain_nans(np.array([value])):
            return {_TAG: "float", "hex": struct.pack("<d", value).hex()}
        return {_TAG: "float", "value": _nan_text(value) if value != value else repr(value)}
    if isinstance(value, np.ndarray):
        return _encode_array(value, "ndarray", where)
    if isinstance(value, np.generic):
        return _encode_array(np.asarray(value), "scalar", where)
    if kind is list:
        return [encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if kind is tuple:
        return {_TAG: "tuple", "items": [encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if kind is dict:
        if all(type(k) is str for k in value) and _TAG not in value:
            return {k: encode(v, f"{where}[{k!r}]") for k, v in value.items()}
        return {_TAG: "dict", "items": [[encode(k, f"{where} key"), encode(v, f"{where}[{k!r}]")]
                                        for k, v in value.items()]}
    raise TypeError(f"{where} is a {kind.__module__}.{kind.__qualname__}, which the results store cannot "
                    "write as JSON; return dicts, lists, tuples, numbers, strings, None and numpy arrays "
                    "(or use cache=, which pickles)")


def _decode_array(doc: dict) -> np.ndarray:
    dtype, shape = np.dtype(doc["dtype"]), tuple(doc["shape"])
    if "base64" in doc:
        return np.frombuffer(base64.b64decode(doc["base64"]), dtype=dtype).reshape(shape).copy()
    data = doc["data"]
    if dtype.kind == "f":
        data = [float(x) for x in data]  # "nan", "inf", "-inf" are written as strings
    return np.array(data, dtype=dtype).reshape(shape)


def decode(doc: Any) -> Any:
    """The inverse of :func:`encode`."""
    if isinstance(doc, list):
        return [decode(v) for v in doc]
    if not isinstance(doc, dict):
        return doc
    tag = doc.get(_TAG)
    if tag is None:
        return {k: decode(v) for k, v in doc.items()}
    if tag == "float":
        return struct.unpack("<d", bytes.fromhex(doc["hex"]))[0] if "hex" in doc else float(doc["value"])
    if tag == "ndarray":
        return _decode_array(doc)
    if tag == "scalar":
        return _decode_array(doc)[()]
    if tag == "tuple":
        return tuple(decode(v) for v in doc["items"])
    if tag == "dict":
        return {decode(k): decode(v) for k, v in doc["items"]}
    raise ValueError(f"unknown {_TAG} tag {tag!r}")


def _dumps(obj: Any, level: int = 0) -> str:
    """Indented JSON with every list of plain values (an array's data) on one line: readable, and
    a changed number shows as a changed line in ``git diff`` without one line per value."""
    plain = (lambda v: not isinstance(v, (dict, list)))
    if isinstance(obj, dict) and obj and not (obj.get(_TAG) in ("ndarray", "scalar", "float")):
        pad = "  " * (level + 1)
        body = ",\n".join(f"{pad}{json.dumps(k)}: {_dumps(v, level + 1)}" for k, v in obj.items())
        return "{\n" + body + "\n" + "  " * level + "}"
    if isinstance(obj, list) and obj and not all(plain(v) for v in obj):
        pad = "  " * (level + 1)
        return "[\n" + ",\n".join(pad + _dumps(v, level + 1) for v in obj) + "\n" + "  " * level + "]"
    return json.dumps(obj, allow_nan=False)


def _checksum(record: Mapping[str, Any]) -> str:
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Code version
# ---------------------------------------------------------------------------------------------


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def git_state(root: Path | None = None) -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the checkout holding sharelib, or ``(None, None)`` outside git.

    ``dirty`` counts changes to tracked files outside ``figures/`` and ``results/``: saving a
    figure or a result rewrites tracked files there, which must not mark their own provenance dirty.
    """
    root = _repo_root() if root is None else Path(root)
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)figures", ":(exclude)results"], cwd=root, capture_output=True,
                               text=True, timeout=10, check=True).stdout.strip()
        return commit, bool(dirty)
    except Exception:  # noqa: BLE001 - not a git checkout, or git missing
        return None, None


def _library_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {"sharelib": __version__}
    for dist in ("numpy", "numba"):
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:  # pragma: no cover - both are hard dependencies
            found[dist] = None
    found["python"] = ".".join(map(str, sys.version_info[:3]))
    return found


def code_version(fn: Callable) -> dict:
    """What a stored result of ``fn`` records about the code: git commit, dirty flag, fingerprint.

    Read from disk when a sweep starts (once per sweep, then handed to its workers): code edited or
    checked out under a running sweep is not what its later points record.
    """
    commit, dirty = git_state()
    return {"git_commit": commit, "dirty": dirty, "fingerprint": code_fingerprint(fn)}


def _describe_version(code: Mapping[str, Any]) -> str:
    commit = code.get("git_commit")
    if not commit:
        return "outside git"
    return commit[:10] + ("-dirty" if code.get("dirty") else "")


# ---------------------------------------------------------------------------------------------
# Where stores live
# ---------------------------------------------------------------------------------------------


def results_dir() -> Path:
    """The repository's ``results/`` (``$SHARELIB_RESULTS_DIR`` overrides it)."""
    env = os.environ.get("SHARELIB_RESULTS_DIR")
    return Path(env).resolve() if env else _repo_root() / "results"


def default_store(experiment: str) -> Path:
    """``results/<paper>/<rest>`` for an experiment named ``<paper>.<rest>`` (``as.main``: ``results/as/main``)."""
    return results_dir().joinpath(*experiment.split("."))


# ---------------------------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lookup:
    """What the store holds for one point: ``status`` is ``"missing"``, ``"corrupt"``, ``"fresh"``
    (computed by the current code) or ``"stale"`` (by other code); ``record`` is the parsed file
    (its ``value`` still encoded) for the last two."""

    status: str
    record: dict | None = None

    @property
    def value(self) -> Any:
        return decode(self.record["value"])


def _function_name(fn: Callable) -> str:
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    if not module or not qualname or "<lambda>" in qualname:
        raise ValueError(f"store= needs a named function (its module and qualified name identify the results); "
                         f"got {fn!r}")
    return f"{module}.{qualname}"


class ResultStore:
    """A directory of JSON result files, one per sweep point, keyed by the point's identity.

    >>> import tempfile
    >>> store = ResultStore(tempfile.mkdtemp())
    >>> ident = ResultStore.identity(round, {"number": 2.5}, run=0, seed=7)
    >>> path = store.store(store.key(ident), {"y": 2.0}, {**ident, "code": {"fingerprint": "f1"}})
    >>> store.lookup(ident, fingerprint="f1").status, store.lookup(ident, fingerprint="f2").status
    ('fresh', 'stale')
    >>> store.lookup(ident, fingerprint="f1").value
    {'y': 2.0}
    """

    #: temporaries of killed writers older than this (seconds) are removed; a live write takes ms
    STALE_AFTER = 3600.0

    def __init__(self, directory: str | os.PathLike, create: bool = True):
        self.directory = Path(directory)
        if create:
            self.directory.mkdir(parents=True, exist_ok=True)
        self.remove_stale_temporaries()

    def remove_stale_temporaries(self, older_than: float | None = None) -> int:
        """Delete temporary files of interrupted writers older than ``older_than`` seconds."""
        return remove_old_files(self.directory, (".tmp-*.part",),
                                self.STALE_AFTER if older_than is None else older_than)

    # -- identity -------------------------------------------------------------------------------

    @staticmethod
    def identity(fn: Callable | str, params: Mapping[str, Any], run: int, seed: int) -> dict:
        """What a point is: function (qualified name), parameters, run index and seed; never the code."""
        name = fn if isinstance(fn, str) else _function_name(fn)
        return {"function": name, "params": _canonical(params), "run": int(run), "seed": int(seed)}

    @staticmethod
    def key(identity: Mapping[str, Any]) -> str:
        """The file stem of a point: the function's short name and a hash of its identity."""
        text = json.dumps({k: identity[k] for k in ("function", "params", "run", "seed")}, sort_keys=True)
        short = re.sub(r"[^A-Za-z0-9_]+", "_", identity["function"].rsplit(".", 1)[-1])
        return f"{short}-{hashlib.sha256(text.encode()).hexdigest()[:20]}"

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def files(self) -> list[Path]:
        """The finished result files (never a writer's ``.tmp-*.part`` temporary)."""
        return sorted(p for p in self.directory.glob("*.json") if not p.name.startswith("."))

    # -- reading --------------------------------------------------------------------------------

    def read(self, path: str | os.PathLike, warn: bool = True) -> dict | None:
        """The parsed record of one file, or ``None`` (with a :class:`CorruptResultWarning`) when it
        does not parse, fails its checksum or was not written by this store."""
        path = Path(path)
        problem = None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(record, dict) or record.get("format") != FORMAT:
                problem = f"is not a {FORMAT} file"
            else:
                stated = record.pop("checksum", None)
                if stated != _checksum(record):
                    problem = "fails its checksum (edited or damaged)"
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            problem = f"does not parse ({type(exc).__name__}: truncated or damaged)"
        if problem is None:
            return record
        if warn:
            warnings.warn(f"result file {path} {problem}; recomputing it", CorruptResultWarning, stacklevel=3)
        return None

    def lookup(self, identity: Mapping[str, Any], fingerprint: str | None, warn: bool = True) -> Lookup:
        """What the store holds for ``identity``, judged against the current code ``fingerprint``."""
        path = self.path(self.key(identity))
        if not path.exists():
            return Lookup("missing")
        record = self.read(path, warn=warn)
        if record is None:
            return Lookup("corrupt")
        if any(record.get(k) != identity[k] for k in ("function", "params", "run", "seed")):
            if warn:
                warnings.warn(f"result file {path} holds another point ({record.get('function')}, "
                              f"params {record.get('params')}, run {record.get('run')}); recomputing it",
                              CorruptResultWarning, stacklevel=2)
            return Lookup("corrupt")
        fresh = fingerprint is not None and record.get("code", {}).get("fingerprint") == fingerprint
        return Lookup("fresh" if fresh else "stale", record)

    # -- writing --------------------------------------------------------------------------------

    def store(self, key: str, value: Any, point: Mapping[str, Any]) -> Path:
        """Write ``value`` for the point described by ``point`` (its :meth:`identity` plus ``code``)
        atomically under ``key``; the signature of :meth:`ResultCache.store`, so sweep workers can
        write to either."""
        record = {"format": FORMAT, **{k: point[k] for k in ("function", "params", "run", "seed")},
                  "code": dict(point.get("code", {})), "libraries": _library_versions(),
                  "value": encode(value)}
        record["checksum"] = _checksum(record)
        text = _dumps(record) + "\n"
        # the temporary name never ends in ".json": nothing that lists results sees a half-written file
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)  # mkstemp makes it private; committed files are ordinary files
            final = self.path(key)
            os.replace(tmp, final)  # atomic on POSIX: readers see the old or the new file
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return final

    # -- summaries ------------------------------------------------------------------------------

    def status(self, fn: Callable | str, tasks, fingerprint: str | None) -> dict:
        """Counts for the points ``tasks`` (``(params, run, seed)`` triples): ``fresh``, ``stale``,
        ``missing``, ``corrupt``, ``other`` (files of no task: other presets, grids or functions),
        and per task its :class:`Lookup` status, without warnings."""
        statuses, keys, versions = [], set(), {}
        for params, run, seed in tasks:
            ident = self.identity(fn, params, run, seed)
            keys.add(self.key(ident))
            found = self.lookup(ident, fingerprint, warn=False)
            statuses.append(found.status)
            if found.status == "stale":
                version = _describe_version(found.record.get("code", {}))
                versions[version] = versions.get(version, 0) + 1
        counts = {s: statuses.count(s) for s in ("fresh", "stale", "missing", "corrupt")}
        counts["other"] = sum(1 for p in self.files() if p.stem not in keys)
        counts["statuses"] = statuses
        counts["stale_versions"] = versions  # code version of the stale points -> how many
        return counts


def stale_summary(directory: Path, stale: list[dict], total: int, reused: bool = True) -> str:
    """The message for ``stale`` records (computed under other code) among ``total`` points."""
    versions = sorted({_describe_version(r.get("code", {})) for r in stale})
    return (f"{len(stale)} of {total} points in {directory} were computed under other code (stored under "
            f"{', '.join(versions)}){' and reused' if reused else ''}; pass stale='recompute' "
            "(CLI: --stale recompute) to recompute them" + (", or stale='error' to refuse them" if reused else ""))


def check_stale(stale: str) -> str:
    return check_choice("stale", stale, STALE_POLICIES)


# ---------------------------------------------------------------------------------------------
# Registered experiments against their store (``python -m sharelib sweep``)
# ---------------------------------------------------------------------------------------------

#: The module that registers each paper's sweepable experiments (imported on demand: numba
#: compiles or loads its kernels on import, which the other papers need not pay for).
SWEEP_MODULES = {"as": "sharelib.sharing.anticipation.experiments", "d3c": "sharelib.sharing.d3c_rl",
                 "compare": "sharelib.comparison",
                 "ltos": ("sharelib.sharing.ltos_traffic", "sharelib.sharing.ltos_jungle"),
                 "fpf_lmf": ("sharelib.sharing.federation.discrete", "sharelib.sharing.federation.ssd",
                             "sharelib.sharing.federation.mpe")}


def load_sweeps(experiment: str | None = None, modules=()) -> None:
    """Import ``modules`` (experiments registered outside sharelib), then the module registering
    ``experiment``'s paper (all papers' when ``experiment`` is None)."""
    import importlib

    for module in modules:
        importlib.import_module(module)
    paper = experiment.split(".")[0] if experiment else None
    for name, names in SWEEP_MODULES.items():
        if paper is None or paper == name:
            for module in (names,) if isinstance(names, str) else names:
                importlib.import_module(module)


def _varying(grid: list[dict]) -> list[str]:
    """The parameters whose values differ across ``grid`` (what names a setting in a listing)."""
    names = list(dict.fromkeys(k for p in grid for k in p))
    return [k for k in names if len({json.dumps(_canonical(p.get(k)), sort_keys=True) for p in grid}) > 1]


def experiment_status(experiment: str, preset: str, store: str | os.PathLike | None = None) -> dict:
    """Done / stale / missing / corrupt counts of a registered experiment's points in its store.

    Returns ``{"store": Path, "plans": [(plan, counts), ...], "total": {...}}``; ``counts`` as
    :meth:`ResultStore.status` gives them.
    """
    from .experiments import sweep_plans

    plans = sweep_plans(experiment, preset)
    folder = Path(store) if store is not None else default_store(experiment)
    out = {"store": folder, "plans": [], "total": dict.fromkeys(("fresh", "stale", "missing", "corrupt"), 0)}
    rs = ResultStore(folder, create=False)  # looking must not create the folder
    mine, versions = set(), {}
    for plan in plans:
        counts = rs.status(plan.fn, plan.tasks(), code_fingerprint(plan.fn))
        out["plans"].append((plan, counts))
        mine |= {rs.key(rs.identity(plan.fn, *task)) for task in plan.tasks()}
        for k in out["total"]:
            out["total"][k] += counts[k]
        for version, n in counts["stale_versions"].items():
            versions[version] = versions.get(version, 0) + n
    out["total"]["other"] = sum(1 for p in rs.files() if p.stem not in mine)
    out["stale_versions"] = versions
    return out


_WORDS = {"fresh": "done", "stale": "stale", "missing": "missing", "corrupt": "corrupt"}


def format_status(experiment: str, preset: str, status: dict, verbose: bool = True) -> str:
    """The text ``python -m sharelib sweep --status`` prints."""
    t = status["total"]
    n = t["fresh"] + t["stale"] + t["missing"] + t["corrupt"]
    lines = [f"{experiment} (preset {preset}): {n} points in {status['store']}",
             f"  done {t['fresh']}, stale {t['stale']} (computed by other code), missing {t['missing']}, "
             f"corrupt {t['corrupt']}; {t['other']} other file(s) (other presets, grids or functions)"]
    if status.get("stale_versions"):
        listed = ", ".join(f"{v} ({n})" for v, n in sorted(status["stale_versions"].items()))
        lines.append(f"  stale points were computed under {listed}; --stale recompute recomputes them")
    if not verbose:
        return "\n".join(lines)
    for plan, counts in status["plans"]:
        name = getattr(plan.fn, "__qualname__", str(plan.fn))
        lines.append(f"  {plan.desc or name}: {name}, {len(plan.grid)} setting(s) x {plan.runs} run(s), seed {plan.seed}")
        shown = _varying(plan.grid)
        for i, params in enumerate(plan.grid):
            runs = counts["statuses"][i * plan.runs:(i + 1) * plan.runs]
            label = " ".join(f"{k}={params.get(k)}" for k in shown) or "(single setting)"
            parts = [f"{runs.count(s)} {word}" for s, word in _WORDS.items() if runs.count(s)]
            lines.append(f"    {label:<48} {', '.join(parts)}")
    return "\n".join(lines)


def run_experiment(experiment: str, preset: str, store: str | os.PathLike | None = None, *,
                   backend: str = "serial", n_jobs: int | None = None, stale: str = "reuse",
                   progress: bool = True) -> list:
    """Run the missing points of every sweep of a registered experiment into its store (and the
    stale ones with ``stale="recompute"``); return each plan's :class:`~sharelib.experiments.SweepPoint` list."""
    from .experiments import sweep, sweep_plans

    folder = Path(store) if store is not None else default_store(experiment)
    return [sweep(plan.fn, plan.grid, plan.runs, seed=plan.seed, backend=backend, n_jobs=n_jobs, store=folder,
                  stale=stale, progress=progress, desc=plan.desc or None)
            for plan in sweep_plans(experiment, preset)]
