"""Warnings for computations whose numbers go non-finite (NaN or infinite).

A diverging run (a learning rate far too large, an exploding reward) must not end in a NaN that
nobody was told about. The kernels themselves are not slowed by checks: each public entry point
checks its recorded trajectory *once*, after the kernel returned, and emits at most one
:class:`NonFiniteWarning` naming the quantity and the first step at which it was non-finite
(the first index along the trajectory's time axis that holds a NaN or an infinity).

>>> import warnings, numpy as np
>>> with warnings.catch_warnings(record=True) as w:
...     warnings.simplefilter("always")
...     warn_if_nonfinite("loss", np.array([1.0, 2.0, np.nan, np.inf]))
True
>>> str(w[0].message)
'loss became non-finite (nan) at step 2'

Turn the warnings into errors with ``warnings.simplefilter("error", NonFiniteWarning)`` (or
``python -W error::sharelib.diagnostics.NonFiniteWarning``).
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Sequence

import numpy as np

__all__ = ["NonFiniteWarning", "first_nonfinite", "warn_if_nonfinite"]


class NonFiniteWarning(RuntimeWarning):
    """A result (a loss, a trajectory, parameters) became NaN or infinite."""


def first_nonfinite(values: Any, axis: int = 0) -> int | None:
    """Index along ``axis`` of the first slice holding a non-finite number, or ``None``.

    ``values`` is a scalar (index 0 when non-finite) or an array; NaN and +-inf count.
    """
    if isinstance(values, numbers.Real) and not isinstance(values, np.ndarray):
        return None if math.isfinite(values) else 0
    a = np.asarray(values)
    if a.dtype.kind not in "fc":  # integers and bools are always finite
        return None
    if a.ndim == 0:
        return None if np.isfinite(a) else 0
    bad = ~np.isfinite(a)
    if not bad.any():
        return None
    if a.ndim > 1:
        bad = np.moveaxis(bad, axis, 0).reshape(a.shape[axis], -1).any(axis=1)
    return int(np.argmax(bad))


def _first_bad_value(values: Any, index: int, axis: int) -> str:
    a = np.asarray(values, dtype=np.complex128 if np.iscomplexobj(values) else np.float64)
    if a.ndim:
        a = np.take(a, index, axis=axis)
    a = np.ravel(a)
    v = a[~np.isfinite(a)][0]
    return str(float(v) if not np.iscomplexobj(v) else complex(v))


def warn_if_nonfinite(name: str, values: Any, step: int | Sequence[int] | None = None, *, axis: int = 0,
                      unit: str = "step", hint: str | None = None, stacklevel: int = 2) -> bool:
    """Emit one :class:`NonFiniteWarning` if ``values`` holds a NaN or an infinity; return whether it did.

    Parameters
    ----------
    name : str
        The quantity, as the message should name it (e.g. ``"run_pd: total loss"``).
    values : scalar or array
        The value, or a trajectory whose ``axis`` is time (checked once, vectorised).
    step : int, sequence of int or None
        An int: the step to report (for a scalar). A sequence: the step of each index along
        ``axis`` (e.g. the recorded training steps of a trajectory); the step of the first
        non-finite index is reported. ``None``: report that index itself (for an array) or no
        step (for a scalar).
    axis : int
        The time axis of ``values``.
    unit : str
        The word before the step in the message (``"step"``, ``"iteration"``, ``"update"``).
    hint : str, optional
        Appended to the message after ``"; "`` (e.g. which parameter to lower).
    stacklevel : int
        As if the calling function called :func:`warnings.warn` itself (2, the default: the
        warning points at that function's caller, the user's line).
    """
    index = first_nonfinite(values, axis)
    if index is None:
        return False
    msg = f"{name} became non-finite ({_first_bad_value(values, index, axis)})"
    is_array = np.ndim(values) > 0
    if step is not None and np.ndim(step) > 0:
        msg += f" at {unit} {int(np.asarray(step)[index])}"
    elif step is not None:
        msg += f" at {unit} {int(step)}"
    elif is_array:
        msg += f" at {unit} {index}"
    if hint:
        msg += f"; {hint}"
    warnings.warn(msg, NonFiniteWarning, stacklevel=stacklevel + 1)
    return True
