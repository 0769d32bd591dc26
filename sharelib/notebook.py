"""Notebook parameters: every parameter of a notebook checked at once, before anything runs.

Each notebook declares its papermill parameters in a cell tagged ``parameters`` and, in the first
code cell after it, hands them all to :func:`parameters` together with the rule each must obey::

    P = notebook.parameters(
        globals(), "ce_dos.method",
        market=notebook.Choice(markets.MARKETS),
        n_agents=notebook.Int(min=2),
        n_sharers=notebook.Int(min=0, max="n_agents"),  # a bound may name another parameter
        psi=notebook.Float(min=0, max=1, min_inclusive=False),
    )

:func:`parameters` raises a ``ValueError`` naming the parameter and its allowed values when

* papermill passed a parameter the notebook does not declare (papermill itself only prints
  "Passed unknown parameter" and runs the defaults, which would then be recorded as the
  provenance of the figures);
* the preset is not one of the experiment's presets;
* any value is outside its range, of the wrong type, or not finite.

It returns the experiment's preset merged with the parameters that are not ``None``
(:func:`sharelib.experiments.resolve`), every checked value converted (an ``int`` stays an
``int``), plus ``preset``: the dict the notebook passes on as the provenance of its figures.

:func:`finite` is the matching guard for a notebook's claims: a headline number that is NaN or
infinite (a diverged run, an empty average) raises instead of being printed as a result.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence, Union

import numpy as np

from . import experiments as _ex

__all__ = ["parameters", "finite", "injected_names", "Int", "Float", "Choice", "Bool", "Text", "Ints", "Floats", "ListOf",
           "Store", "store_directory"]

#: A bound: a number, the name of a parameter checked earlier, or a function of the resolved values.
Bound = Union[float, int, str, Callable[[dict], float], None]


def _bound(value, resolved: Mapping[str, Any]):
    """A bound given as a number, the name of another (already checked) parameter, or ``f(P)``."""
    if isinstance(value, str):
        return resolved[value]
    if callable(value):
        return value(resolved)
    return value


@dataclass(frozen=True)
class Int:
    """An integer in ``[min, max]``; ``optional`` also allows ``None`` (after the preset is applied)."""

    min: Bound = None
    max: Bound = None
    optional: bool = False

    def check(self, name: str, value: Any, resolved: Mapping[str, Any]) -> Any:
        if value is None and self.optional:
            return None
        return _ex.check_int(name, value, min=_bound(self.min, resolved), max=_bound(self.max, resolved))


@dataclass(frozen=True)
class Float:
    """A finite number in the range the bounds and their inclusiveness give (an int is accepted)."""

    min: Bound = None
    max: Bound = None
    min_inclusive: bool = True
    max_inclusive: bool = True
    optional: bool = False

    def check(self, name: str, value: Any, resolved: Mapping[str, Any]) -> Any:
        if value is None and self.optional:
            return None
        return _ex.check_float(name, value, min=_bound(self.min, resolved), max=_bound(self.max, resolved),
                               min_inclusive=self.min_inclusive, max_inclusive=self.max_inclusive)


@dataclass(frozen=True)
class Choice:
    """One of ``options``."""

    options: Sequence[Any]
    optional: bool = False

    def check(self, name: str, value: Any, resolved: Mapping[str, Any]) -> Any:
        if value is None and self.optional:
            return None
        return _ex.check_choice(name, value, self.options)


@dataclass(frozen=True)
class Bool:
    """``True`` or ``False``."""

    def check(self, name: str, value: Any, resolved: Mapping[str, Any]) -> Any:
        return _ex.check_bool(name, value)


@dataclass(frozen=True)
class Text:
    """A string (a folder, a label); ``""`` is allowed and usually means "none"."""

    def check(self, name: str, value: Any, resolved: Mapping[str, Any]) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string; got {value!r}")
        return value


@dataclass(frozen=True)
class Store:
    """A results store for ``experiment``: ``""`` (none: compute everything), ``"default"``
    (``results/<paper>/<experiment>``, where ``python -m sharelib sweep <experiment>`` writes) or a
    folder. The value stays as given (it goes into the figures' provenance); the notebook hands it
    to :func:`store_directory`."""

    experiment: str

    def check(self, name: str, value: Any, resolved: Mapping[str, Any]) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string ('' for no store, 'default' or a folder); got {value!r}")
        folder = store_directory(value, self.experiment)
        if folder is not None and folder.exists() and not folder.is_dir():
            raise ValueError(f"{name} must name a folder (or be '' or 'default'); {str(folder)!r} is a file")
        return value


def store_directory(value: str, experiment: str):
    """The folder a :class:`Store` parameter names, or None for ``""``."""
    from pathlib import Path

    from .results import default_store

    if value == "":
        return None
    return default_store(experiment) if value == "default" else Path(value)


@dataclass(frozen=True)
class ListOf:
    """A non-empty list whose every item obeys ``rule`` (e.g. ``ListOf(Choice(names))``)."""

    rule: Any

    def check(self, name: str, value: Any, resolved: Mapping[str, Any]) -> Any:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, np.ndarray)) or len(value) == 0:
            raise ValueError(f"{name} must be a non-empty list; got {value!r}")
        return [self.rule.check(f"{name}[{i}]", v, resolved) for i, v in enumerate(value)]


def Ints(min: Bound = None, max: Bound = None) -> ListOf:  # noqa: N802 - reads as a rule, like Int
    """A non-empty list of integers, each in ``[min, max]``."""
    return ListOf(Int(min, max))


def Floats(min: Bound = None, max: Bound = None) -> ListOf:  # noqa: N802
    """A non-empty list of finite numbers, each in ``[min, max]``."""
    return ListOf(Float(min, max))


def injected_names(namespace: Mapping[str, Any]) -> set[str]:
    """Names papermill assigned in this kernel: the targets of its injected ``# Parameters`` cells.

    IPython keeps the source of every executed cell in ``In``; papermill's injected cell starts
    with the comment ``# Parameters`` and holds one assignment per ``-p`` option.
    """
    names: set[str] = set()
    for source in namespace.get("In", ()) or ():
        if not isinstance(source, str) or not source.lstrip().startswith("# Parameters"):
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:  # not papermill's cell after all
            continue
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def parameters(namespace: Mapping[str, Any], experiment: str | None = None, **spec) -> dict[str, Any]:
    """Check every parameter of a notebook and return them resolved against the preset.

    Parameters
    ----------
    namespace : mapping
        The notebook's ``globals()``: it holds the parameters cell's values, papermill's
        overrides and IPython's ``In`` history (from which the overridden names are read).
    experiment : str, optional
        The registered experiment whose presets fill the parameters left at ``None``; without
        one, ``preset`` must be one of :data:`sharelib.experiments.PRESET_NAMES` and the values
        are taken as they are.
    **spec
        One rule (:class:`Int`, :class:`Float`, :class:`Choice`, :class:`Bool`, :class:`Text`,
        :class:`Ints`, :class:`Floats`, :class:`ListOf`) per parameter of the parameters cell except ``preset``, in the order they
        are checked (a bound naming another parameter must come after it).

    Raises
    ------
    ValueError
        An unknown parameter (with the valid names), an unknown preset, or a bad value.
    """
    declared = ["preset", *spec]
    unknown = sorted(injected_names(namespace) - set(declared))
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)} for this notebook; "
                         f"valid: {', '.join(declared)}")
    missing = [name for name in declared if name not in namespace]
    if missing:  # a notebook's own mistake: its rules and its parameters cell disagree
        raise NameError(f"parameters {missing} have rules but are not defined in the parameters cell")
    preset = namespace["preset"]
    given = {name: namespace[name] for name in spec}
    if experiment is None:
        _ex.check_choice("preset", preset, _ex.PRESET_NAMES)
        resolved = {"preset": preset, **given}
    else:
        presets = _ex._PRESETS.get(experiment)  # noqa: SLF001 - the registry of this same package
        if presets is None:
            raise ValueError(f"experiment must be one of {_ex.experiments()}; got {experiment!r}")
        _ex.check_choice("preset", preset, presets)
        from_preset = {k: v for k, v in given.items() if k in presets[preset]}
        resolved = _ex.resolve(experiment, preset, **from_preset)
        resolved.update({k: v for k, v in given.items() if k not in presets[preset]})
    for name, rule in spec.items():
        resolved[name] = rule.check(name, resolved[name], resolved)
    return resolved


def finite(**claims: Any) -> dict[str, Any]:
    """Return ``claims`` if every value (a number or an array) is finite, else raise.

    A notebook's headline numbers pass through this before they are printed, so a diverged run
    (a learning rate too large for the game) stops the notebook with the quantity's name instead
    of reporting ``nan`` or ``1e96`` as a result.

    >>> finite(ratio=1.02)
    {'ratio': 1.02}
    """
    for name, value in claims.items():
        arr = np.asarray(value, dtype=float)
        if arr.size == 0 or not np.all(np.isfinite(arr)):
            shown = value if arr.size <= 4 else f"an array with {int(np.sum(~np.isfinite(arr)))} non-finite values"
            raise FloatingPointError(
                f"{name} is {shown}, not a finite number: the computation diverged or averaged nothing. "
                "Check the parameters (a smaller learning rate or step, more runs or steps).")
    return claims

