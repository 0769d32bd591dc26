"""Bad input never turns into numbers: every notebook refuses unknown parameters, unknown presets and
out-of-range values before computing anything, and the validators and the cache key hold for any input.

The bad values are generated from each notebook's parameters cell (papermill's own reading of it),
not listed by hand, so a parameter added later is covered without touching this file:

* every parameter: ``nan`` (a float no parameter accepts: not finite, not an int, not a string);
* integer parameters: ``-1`` and ``2.5``;
* float parameters: ``inf`` and ``-inf``;
* string parameters (choices and folders): the integer ``7``.

Most cases run the notebook's parameters cell, papermill's injected cell and the validation cell
in-process (milliseconds each, the same code path: ``sharelib.notebook.parameters`` reads the
injected names from IPython's ``In`` history, which the test provides). One unknown parameter, one
unknown preset and one out-of-range value per notebook go through papermill itself, with a real
kernel, to show the whole chain exits non-zero and writes no figure and no manifest entry.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharelib import experiments as ex
from sharelib import notebook

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (REPO / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
IDS = [str(p.relative_to(REPO / "notebooks")) for p in NOTEBOOKS]


def _cells(path: Path) -> tuple[str, str]:
    """Sources of the parameters cell and of the first code cell after it (the validation cell)."""
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", []), "the first code cell is the parameters cell"
    return "".join(code[0]["source"]), "".join(code[1]["source"])


def _declared(path: Path) -> dict:
    import papermill

    return papermill.inspect_notebook(str(path))


def _injected(params: dict) -> str:
    from papermill.translators import translate_parameters

    return translate_parameters("python3", "python", params, "Parameters")


def run_validation(path: Path, params: dict) -> dict:
    """The notebook's first two code cells with ``params`` injected as papermill would; returns ``P``."""
    params_src, check_src = _cells(path)
    injected = _injected(params) if params else ""
    ns: dict = {"__name__": "__main__", "In": ["", params_src, *([injected] if injected else []), check_src]}
    exec(compile(params_src, "parameters", "exec"), ns)  # noqa: S102 - the notebook's own cells
    if injected:
        exec(compile(injected, "injected-parameters", "exec"), ns)  # noqa: S102
    cwd = os.getcwd()
    os.chdir(path.parent)  # papermill runs a notebook in its own folder
    try:
        exec(compile(check_src, "validation", "exec"), ns)  # noqa: S102
    finally:
        os.chdir(cwd)
    return ns.get("P", ns.get("params"))


def bad_values(kind: str) -> list:
    values = [float("nan")]
    if kind == "int":
        values += [-1, 2.5]
    elif kind == "float":
        values += [float("inf"), float("-inf")]
    elif kind == "str":
        values += [7]
    return values


CASES = [(path, name, value)
         for path in NOTEBOOKS
         for name, p in _declared(path).items() if name != "preset"
         for value in bad_values(p["inferred_type_name"])]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_defaults_pass_and_every_parameter_is_checked(path):
    """The defaults validate, and the validation cell has a rule for every declared parameter."""
    P = run_validation(path, {})
    declared = set(_declared(path))
    assert declared <= set(P), f"parameters without a rule: {sorted(declared - set(P))}"
    assert run_validation(path, {"preset": "paper"})["preset"] == "paper"


@pytest.mark.parametrize("path,name,value", CASES,
                         ids=[f"{p.relative_to(REPO / 'notebooks')}-{n}={v!r}" for p, n, v in CASES])
def test_out_of_range_value_is_refused_by_name(path, name, value):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        run_validation(path, {name: value})


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_unknown_parameter_and_preset_are_refused(path):
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) no_such_param .*valid: preset"):
        run_validation(path, {"no_such_param": 3})
    with pytest.raises(ValueError, match=r"preset must be one of 'quick', 'paper'.*got 'fast'"):
        run_validation(path, {"preset": "fast"})


def _first_numeric(path: Path) -> tuple[str, object]:
    for name, p in _declared(path).items():
        if p["inferred_type_name"] in ("int", "float"):
            return name, bad_values(p["inferred_type_name"])[-1]
    raise AssertionError("a notebook without a numeric parameter")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_papermill_exits_non_zero_and_writes_nothing(path, tmp_path, monkeypatch):
    """Through papermill and a real kernel: the error names the parameter; no figure, no manifest."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    figures = tmp_path / "figures"
    monkeypatch.setenv("SHARELIB_FIGURES_DIR", str(figures))
    numeric, bad = _first_numeric(path)
    check_src = _cells(path)[1]
    for params, expected in (({"no_such_param": 3}, "no_such_param"), ({"preset": "fast"}, "preset"),
                             ({numeric: bad}, numeric)):
        with pytest.raises(PapermillExecutionError) as err:
            papermill.execute_notebook(str(path), str(tmp_path / "out.ipynb"), parameters=params,
                                       cwd=str(path.parent), progress_bar=False, log_output=False,
                                       execution_timeout=600)
        assert err.value.ename == "ValueError" and expected in err.value.evalue, (params, err.value.evalue)
        assert err.value.source == check_src, "stopped in the validation cell, before any computation"
        written = [p for p in figures.rglob("*") if p.is_file()] if figures.exists() else []
        assert written == [], f"{params} wrote {written}"


# --- validators and the cache key, for any input ------------------------------------------------

bounds = st.one_of(st.none(), st.integers(-10**6, 10**6))


@given(value=st.integers(-10**9, 10**9), lo=bounds, hi=bounds)
def test_check_int_accepts_exactly_the_integers_in_range(value, lo, hi):
    inside = (lo is None or value >= lo) and (hi is None or value <= hi)
    if inside:
        assert ex.check_int("n", value, min=lo, max=hi) == value
        assert type(ex.check_int("n", np.int32(value) if abs(value) < 2**31 else value, min=lo, max=hi)) is int
    else:
        with pytest.raises(ValueError, match=r"^n must be an integer"):
            ex.check_int("n", value, min=lo, max=hi)


@given(value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3), st.booleans(),
                       st.none(), st.lists(st.integers(), max_size=2)))
def test_check_int_refuses_everything_that_is_not_an_integer(value):
    with pytest.raises(ValueError, match=r"^count must be an integer"):
        ex.check_int("count", value)


@given(value=st.floats(allow_nan=True, allow_infinity=True), lo=st.one_of(st.none(), st.floats(-1e6, 1e6)),
       hi=st.one_of(st.none(), st.floats(-1e6, 1e6)), lo_in=st.booleans(), hi_in=st.booleans())
def test_check_float_accepts_exactly_the_finite_numbers_in_range(value, lo, hi, lo_in, hi_in):
    ok = math.isfinite(value)
    ok = ok and (lo is None or (value >= lo if lo_in else value > lo))
    ok = ok and (hi is None or (value <= hi if hi_in else value < hi))
    if ok:
        assert ex.check_float("x", value, min=lo, max=hi, min_inclusive=lo_in, max_inclusive=hi_in) == value
    else:
        with pytest.raises(ValueError, match=r"^x must be a number"):
            ex.check_float("x", value, min=lo, max=hi, min_inclusive=lo_in, max_inclusive=hi_in)


@given(values=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=6))
def test_finite_claims_raise_on_any_non_finite_value(values):
    if all(math.isfinite(v) for v in values):
        assert notebook.finite(ratio=values)["ratio"] == values
    else:
        with pytest.raises(FloatingPointError, match="ratio is"):
            notebook.finite(ratio=values)


def _swept(x, seed):  # a module-level function to key
    return x


params_values = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False),
                          st.text(max_size=4), st.booleans(), st.lists(st.integers(0, 9), max_size=3))


@settings(max_examples=150)
@given(params=st.dictionaries(st.sampled_from(["a", "b", "c", "n_agents"]), params_values, min_size=1),
       run=st.integers(0, 99), seed=st.integers(0, 2**32 - 1))
def test_cache_key_is_a_function_of_the_point_only(params, run, seed):
    key, code = ex.ResultCache.key, ex.code_fingerprint(_swept)
    k = key(_swept, params, run, seed, code)
    assert k == key(_swept, dict(reversed(list(params.items()))), run, seed, code), "key order is irrelevant"
    assert k != key(_swept, params, run + 1, seed, code)
    assert k != key(_swept, params, run, seed + 1, code)
    changed = dict(params)
    name = next(iter(changed))
    changed[name] = [changed[name], "changed"]
    assert k != key(_swept, changed, run, seed, code)
    assert k != key(_swept, params, run, seed, code + "0"), "another code fingerprint, another key"



def test_diverged_run_stops_at_its_claim_instead_of_printing_nan(tmp_path, monkeypatch):
    """``lr_x = 1e6`` is a valid learning rate that makes gradient play diverge: the claims cell
    must raise, naming the quantity, instead of printing "final total / optimal 1e96 ... nan"."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    monkeypatch.setenv("SHARELIB_FIGURES_DIR", str(tmp_path / "figures"))
    path = REPO / "notebooks" / "d3c" / "01_method.ipynb"
    with pytest.raises(PapermillExecutionError) as err:
        papermill.execute_notebook(str(path), str(tmp_path / "out.ipynb"), parameters={"lr_x": 1e6},
                                   cwd=str(path.parent), progress_bar=False, log_output=False,
                                   execution_timeout=600)
    assert err.value.ename == "FloatingPointError" and "final total (gd)" in err.value.evalue
