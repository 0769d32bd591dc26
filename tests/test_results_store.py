"""The version-controlled results store: lossless JSON, stale points across code edits, crash
safety, parallel writers, and ``python -m sharelib sweep``."""

import doctest
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sharelib import experiments as ex
from sharelib import results

REPO = Path(__file__).resolve().parents[1]


def assert_identical(a, b, where="value"):
    """Equal values *and* types, dtypes and bytes (so -0.0 vs 0.0, float32 vs float64 differ)."""
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape} != {b.dtype}{b.shape}"
        assert a.tobytes() == b.tobytes(), f"{where}: {a!r} != {b!r}"
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), f"{where}: {a!r} != {b!r}"
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_identical(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, float):
        assert np.float64(a).tobytes() == np.float64(b).tobytes(), f"{where}: {a!r} != {b!r}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


EVERYTHING = {
    "curve": np.array([0.1, -0.0, np.nan, np.inf, -np.inf, 5e-324, 1.7976931348623157e308]),
    "f32": np.array([[0.1, 1e-40], [3.4e38, -2.5]], dtype=np.float32),
    "f16": np.array([0.1, 65504], dtype=np.float16),
    "ints": np.arange(-3, 3, dtype=np.int8).reshape(2, 3),
    "big": np.array([2**64 - 1, 0], dtype=np.uint64),
    "mask": np.array([True, False]),
    "complex": np.array([1 + 2j, np.nan - 1j]),
    "long": np.array([1 / 3], dtype=np.longdouble),
    "text": np.array(["a", "äb"]),
    "empty": np.zeros((0, 3)),
    "zero_d": np.array(2.5),
    "scalars": [np.float32(0.1), np.int64(-7), np.bool_(True), np.float64(0.3)],
    "floats": [0.1, float("nan"), float("-nan"), float("-inf"), -0.0, 1e300,
               np.frombuffer(bytes.fromhex("010000000000f87f"), np.float64)[0].item()],  # a NaN payload
    "neg_nan": -np.array([np.nan]),  # what x86 computes for inf - inf: a NaN with the sign bit set
    "payload": np.frombuffer(bytes.fromhex("0100c07f"), np.float32),
    "plain": [None, True, 3, 10**30, "x"],
    "tuple": (1, (2.5, "b")),
    "int_keys": {1: "one", (2, 3): "pair"},
    "tagged": {"__sharelib__": "not a tag"},
    "nested": {"a": {"b": [np.ones(2), {"c": ()}]}},
}


def test_round_trip_is_exact_in_memory_and_through_a_file(tmp_path):
    assert_identical(results.decode(json.loads(json.dumps(results.encode(EVERYTHING)))), EVERYTHING)
    store = results.ResultStore(tmp_path)
    ident = store.identity(test_round_trip_is_exact_in_memory_and_through_a_file, {"a": 1}, 0, 3)
    path = store.store(store.key(ident), EVERYTHING, {**ident, "code": {"fingerprint": "f"}})
    assert_identical(store.lookup(ident, "f").value, EVERYTHING)
    text = path.read_text()
    json.loads(text)  # strict JSON: NaN and Infinity are never written as bare tokens
    assert "NaN" not in text and "Infinity" not in text
    assert '"data": [0.1, -0.0, "nan", "inf", "-inf", 5e-324, 1.7976931348623157e+308]' in text, "one line per array"


def test_the_comparison_above_can_fail():
    with pytest.raises(AssertionError):
        assert_identical({"x": np.float32(1.0)}, {"x": np.float64(1.0)})
    with pytest.raises(AssertionError):
        assert_identical([0.0], [-0.0])


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(st.sampled_from([np.float64, np.float32, np.float16, np.int64, np.int8, np.uint8, np.bool_]),
                  hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)))
def test_any_array_survives_the_round_trip(a):
    assert_identical(results.decode(json.loads(json.dumps(results.encode({"a": a})))), {"a": a})


def test_unsupported_values_are_refused_with_their_place():
    with pytest.raises(TypeError, match=r"value\['run'\]\[1\] is a builtins.object"):
        results.encode({"run": [1, object()]})
    with pytest.raises(TypeError, match="dtype object"):
        results.encode(np.array([{}, 1], dtype=object))


def test_doc_examples_run():
    for target in (results, ex.sweep):
        finder = doctest.DocTestFinder()
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        tests = finder.find(target)
        assert tests and any(t.examples for t in tests)
        for t in tests:
            runner.run(t)
        assert runner.failures == 0, f"doctest of {target.__name__} failed"


# --- sweeps with a store -----------------------------------------------------------------------

CALLS = []


def counted_point(x, seed):
    CALLS.append(x)
    rng = np.random.default_rng(seed)
    return {"x": x, "r": float(rng.random()), "curve": rng.normal(size=3)}


def _sweep(folder, xs=(1, 2, 3), runs=2, **kw):
    kw = {"backend": "serial", "progress": False, **kw}
    return ex.sweep(counted_point, ex.grid(x=list(xs)), runs=runs, store=folder, **kw)


def _files(folder):
    return {p.name: p.read_bytes() for p in Path(folder).glob("*.json")}


def test_store_resumes_and_equals_a_sweep_without_store(tmp_path):
    CALLS.clear()
    first = _sweep(tmp_path, xs=(1, 2))
    assert len(CALLS) == 4 and len(_files(tmp_path)) == 4
    CALLS.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # fresh points: no stale warning
        second = _sweep(tmp_path)
    assert sorted(CALLS) == [3, 3], "only the new grid point is computed"
    plain = ex.sweep(counted_point, ex.grid(x=[1, 2, 3]), runs=2, backend="serial", progress=False)
    for a, b, c in zip(second, plain, first + second[4:]):
        assert (a.params, a.run, a.seed) == (b.params, b.run, b.seed)
        assert_identical(a.value, b.value)
        assert_identical(a.value, c.value)
    record = json.loads((tmp_path / f"{results.ResultStore.key(results.ResultStore.identity(counted_point, {'x': 1}, 0, first[0].seed))}.json").read_text())
    assert record["params"] == {"x": 1} and record["run"] == 0 and record["seed"] == first[0].seed
    assert record["function"].endswith("test_results_store.counted_point")
    assert record["code"]["fingerprint"] == ex.code_fingerprint(counted_point)
    commit, dirty = results.git_state()
    assert record["code"]["git_commit"] == commit and record["code"]["dirty"] == dirty
    assert set(record["libraries"]) == {"sharelib", "numpy", "numba", "python"}


def test_other_code_keeps_points_reports_them_stale_and_can_recompute(tmp_path, monkeypatch):
    CALLS.clear()
    clean = _sweep(tmp_path)
    before = _files(tmp_path)
    monkeypatch.setattr(results, "code_fingerprint", lambda fn: "another-version")  # the code changed
    CALLS.clear()
    with pytest.warns(results.StaleResultWarning, match=r"6 of 6 points .* other code .* stale='recompute'"):
        reused = _sweep(tmp_path)
    assert CALLS == [] and _files(tmp_path) == before, "stale points are reused, not deleted or rewritten"
    assert [p.value["r"] for p in reused] == [p.value["r"] for p in clean]
    with pytest.raises(results.StaleResultError, match="6 of 6 points"):
        _sweep(tmp_path, stale="error")
    assert CALLS == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _sweep(tmp_path, stale="recompute")
    assert sorted(CALLS) == [1, 1, 2, 2, 3, 3], "every stale point is recomputed"
    fingerprints = {json.loads(b)["code"]["fingerprint"] for b in _files(tmp_path).values()}
    assert fingerprints == {"another-version"}
    CALLS.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _sweep(tmp_path, stale="error")  # all fresh now: nothing to refuse
    assert CALLS == []


def test_bad_arguments_are_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match=r"stale must be one of 'reuse', 'recompute', 'error'; got 'keep'"):
        _sweep(tmp_path, stale="keep")
    with pytest.raises(ValueError, match="either cache= .* or store="):
        _sweep(tmp_path, cache=tmp_path / "c")
    with pytest.raises(ValueError, match="needs a named function"):
        ex.sweep(lambda x, seed: x, [{"x": 1}], backend="serial", store=tmp_path, progress=False)


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[: len(b) // 2], "does not parse"),  # a truncated file
    (lambda b: b.replace(b'"x": 1,', b'"x": 7,', 1), "fails its checksum"),  # an edited number
    (lambda b: b"", "does not parse"),
    (lambda b: b.replace(b"sharelib-result-1", b"sharelib-result-0"), "is not a sharelib-result-1 file"),
])
def test_damaged_file_is_reported_and_recomputed(tmp_path, damage, message):
    CALLS.clear()
    clean = _sweep(tmp_path, xs=(1,), runs=1)
    (path,) = tmp_path.glob("*.json")
    good = path.read_bytes()
    path.write_bytes(damage(good))
    CALLS.clear()
    with pytest.warns(results.CorruptResultWarning, match=message):
        again = _sweep(tmp_path, xs=(1,), runs=1)
    assert CALLS == [1]
    assert_identical(again[0].value, clean[0].value)
    assert path.read_bytes() == good, "the rewritten file is the original one"


def test_file_of_another_point_is_not_read(tmp_path):
    CALLS.clear()
    _sweep(tmp_path, xs=(1, 2), runs=1)
    store = results.ResultStore(tmp_path)
    one, two = (p for p in ex.sweep(counted_point, ex.grid(x=[1, 2]), backend="serial", progress=False))
    path_two = store.path(store.key(store.identity(counted_point, {"x": 2}, 0, two.seed)))
    path_one = store.path(store.key(store.identity(counted_point, {"x": 1}, 0, one.seed)))
    shutil.copy(path_one, path_two)  # a valid file, but of x = 1
    CALLS.clear()
    with pytest.warns(results.CorruptResultWarning, match="holds another point"):
        again = _sweep(tmp_path, xs=(1, 2), runs=1)
    assert CALLS == [2] and again[1].value["x"] == 2


def test_write_interrupted_before_the_rename_leaves_no_result(tmp_path, monkeypatch):
    store = results.ResultStore(tmp_path)
    seen = {}

    def killed(src, dst):  # the process dies between fsync and rename
        seen["files"] = sorted(p.name for p in tmp_path.iterdir())
        raise KeyboardInterrupt

    monkeypatch.setattr(results.os, "replace", killed)
    CALLS.clear()
    with pytest.raises(KeyboardInterrupt):
        _sweep(tmp_path, xs=(1,), runs=1)
    assert len(seen["files"]) == 1 and seen["files"][0].startswith(".tmp-") and seen["files"][0].endswith(".part")
    assert store.files() == [], "nothing under a result name"
    monkeypatch.undo()
    (tmp_path / ".tmp-leftover.part").write_text('{"format": "sharelib-result-1", "val')  # a killed writer's
    CALLS.clear()
    _sweep(tmp_path, xs=(1,), runs=1)
    assert CALLS == [1], "recomputed, and the leftover temporary is never read"
    old = time.time() - 2 * results.ResultStore.STALE_AFTER
    os.utime(tmp_path / ".tmp-leftover.part", (old, old))
    results.ResultStore(tmp_path)
    assert not (tmp_path / ".tmp-leftover.part").exists(), "an old leftover is cleaned up"


def test_two_jobs_write_the_same_files_as_one(tmp_path):
    serial = _sweep(tmp_path / "one")
    procs = _sweep(tmp_path / "two", backend="processes", n_jobs=2)
    assert _files(tmp_path / "one") == _files(tmp_path / "two"), "byte-identical result files"
    assert len(_files(tmp_path / "one")) == 6
    for a, b in zip(serial, procs):
        assert_identical(a.value, b.value)


KILL_SCRIPT = textwrap.dedent('''
    import json, sys, time
    from pathlib import Path
    import numpy as np
    from sharelib import experiments as ex

    marks = Path(sys.argv[2])

    def slow_point(x, seed):
        (marks / f"computed-{x}-{time.time_ns()}").touch()
        time.sleep(0.15)
        return {"v": np.random.default_rng(seed).random(50) + x}

    if __name__ == "__main__":
        points = ex.sweep(slow_point, ex.grid(x=list(range(20))), backend=sys.argv[3], n_jobs=2,
                          store=sys.argv[1], progress=False)
        print(json.dumps([p.value["v"].tolist() for p in points]))
''')


def test_killed_sweep_leaves_only_complete_files_and_resumes(tmp_path):
    script, store, marks = tmp_path / "kill_me.py", tmp_path / "store", tmp_path / "marks"
    script.write_text(KILL_SCRIPT)
    marks.mkdir()
    cmd = [sys.executable, str(script), str(store), str(marks), "processes"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 120
    while (not store.exists() or len(list(store.glob("*.json"))) < 5) and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole group: workers too, whatever they were writing
    proc.wait()
    done = list(store.glob("*.json"))
    assert 5 <= len(done) < 20, "the sweep was killed midway"
    for path in done:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert results.ResultStore(store).read(path) is not None, f"{path.name} is complete"
    for m in marks.iterdir():
        m.unlink()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=300)
    assert len(list(marks.iterdir())) == 20 - len(done), "finished points are not recomputed"
    fresh = subprocess.run([sys.executable, str(script), str(tmp_path / "fresh"), str(marks), "serial"],
                           capture_output=True, text=True, check=True, timeout=300)
    assert json.loads(out.stdout) == json.loads(fresh.stdout), "resumed results equal an uninterrupted run"
    assert _files(store) == _files(tmp_path / "fresh"), "and so do the files"


EDIT_SCRIPT = textwrap.dedent('''
    import sys, warnings
    from sharelib import experiments as ex
    from sharelib._probe_swept import swept

    warnings.simplefilter("always")
    points = ex.sweep(swept, ex.grid(x=[1, 2]), backend="serial", store=sys.argv[1], stale=sys.argv[2],
                      progress=False)
    print([p.value for p in points])
''')


def test_editing_code_below_a_swept_function_keeps_the_points_as_stale(tmp_path, probe_package):
    """A real edit of a helper below a thin swept wrapper, in a copy of the package."""
    pkg, env = probe_package
    script, store = tmp_path / "run.py", tmp_path / "store"
    script.write_text(EDIT_SCRIPT)

    def run(stale="reuse"):
        out = subprocess.run([sys.executable, str(script), str(store), stale], env=env, capture_output=True,
                             text=True, cwd=tmp_path, timeout=300)
        return out.returncode, out.stdout.strip(), out.stderr

    assert run()[:2] == (0, "[2, 4]")
    code, stdout, stderr = run()
    assert (code, stdout) == (0, "[2, 4]") and "StaleResultWarning" not in stderr, "unchanged code: fresh"
    (pkg / "_probe_helper.py").write_text("def helper(x):\n    return 3 * x\n")
    code, stdout, stderr = run()
    assert (code, stdout) == (0, "[2, 4]"), "after the edit the stored points are kept..."
    assert "StaleResultWarning: 2 of 2 points" in stderr, "...and reported as computed by other code"
    code, _, stderr = run("error")
    assert code != 0 and "StaleResultError: 2 of 2 points" in stderr
    assert run("recompute")[:2] == (0, "[3, 6]")
    code, stdout, stderr = run()
    assert (code, stdout) == (0, "[3, 6]") and "StaleResultWarning" not in stderr
    assert len(list(store.glob("*.json"))) == 2, "one file per point, overwritten in place"


# --- the command line --------------------------------------------------------------------------

TINY = textwrap.dedent('''
    import numpy as np
    from sharelib import experiments as ex

    def tiny_point(x, seed):
        return {"x": x, "r": np.random.default_rng(seed).random(2)}

    ex.register_presets("tiny.demo", quick=dict(xs=[1, 2], runs=2, seed=0), paper=dict(xs=[1, 2, 3], runs=2, seed=0))
    ex.register_sweep("tiny.demo", lambda P: [ex.SweepPlan(tiny_point, ex.grid(x=P["xs"]), P["runs"], P["seed"],
                                                           "demo")])
''')


def cli(tmp_path, *args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO), os.environ.get("PYTHONPATH", "")]),
           "SHARELIB_RESULTS_DIR": str(tmp_path / "results")}
    return subprocess.run([sys.executable, "-m", "sharelib", "sweep", *args], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300)


def test_cli_status_run_resume_and_stale(tmp_path):
    (tmp_path / "tiny_exp.py").write_text(TINY)
    store = tmp_path / "results" / "tiny" / "demo"  # the default store of "tiny.demo"
    out = cli(tmp_path, "tiny.demo", "--import", "tiny_exp", "--status")
    assert out.returncode == 0, out.stderr
    assert "done 0, stale 0 (computed by other code), missing 4" in out.stdout
    assert "x=1" in out.stdout and "2 missing" in out.stdout
    assert not store.exists(), "looking creates nothing"

    out = cli(tmp_path, "tiny.demo", "--import", "tiny_exp", "--quiet")
    assert out.returncode == 0, out.stderr
    assert "after the run:" in out.stdout and "done 4, stale 0 (computed by other code), missing 0" in out.stdout
    assert len(list(store.glob("*.json"))) == 4

    out = cli(tmp_path, "tiny.demo", "--import", "tiny_exp", "--preset", "paper", "--status")
    assert "done 4, stale 0 (computed by other code), missing 2" in out.stdout, "the paper preset adds x=3"
    out = cli(tmp_path, "tiny.demo", "--import", "tiny_exp", "--preset", "paper", "--jobs", "2", "--quiet")
    assert out.returncode == 0, out.stderr
    assert "done 6, stale 0 (computed by other code), missing 0" in out.stdout
    out = cli(tmp_path, "tiny.demo", "--import", "tiny_exp", "--status")
    assert "done 4" in out.stdout and "2 other file(s)" in out.stdout, "x=3 belongs to another preset"

    # the stored values are the sweep's own
    sys.path.insert(0, str(tmp_path))
    try:
        import tiny_exp
        direct = ex.sweep(tiny_exp.tiny_point, ex.grid(x=[1, 2, 3]), runs=2, backend="serial", progress=False)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("tiny_exp", None)
    rs = results.ResultStore(store)
    for p in direct:
        ident = rs.identity("tiny_exp.tiny_point", p.params, p.run, p.seed)
        assert_identical(rs.lookup(ident, None).value, p.value)

    # an edit of the experiment's code: kept and reported stale, then refused or recomputed on request
    (tmp_path / "tiny_exp.py").write_text(TINY + "\n# an edit\n")
    out = cli(tmp_path, "tiny.demo", "--import", "tiny_exp", "--status")
    assert "done 0, stale 4 (computed by other code), missing 0" in out.stdout
    commit, dirty = results.git_state()
    assert f"stale points were computed under {commit[:10]}{'-dirty' if dirty else ''} (4)" in out.stdout
    assert "2 stale" in out.stdout
    out = cli(tmp_path, "tiny.demo", "--import", "tiny_exp", "--stale", "error", "--quiet")
    assert out.returncode == 1 and "error: 4 of 4 points" in out.stderr
    out = cli(tmp_path, "tiny.demo", "--import", "tiny_exp", "--quiet")
    assert out.returncode == 0 and "warning: 4 of 4 points" in out.stderr and "and reused" in out.stderr
    assert "done 0, stale 4" in out.stdout.split("after the run:")[1]
    out = cli(tmp_path, "tiny.demo", "--import", "tiny_exp", "--stale", "recompute", "--quiet")
    assert out.returncode == 0 and "warning" not in out.stderr
    assert "done 4, stale 0" in out.stdout.split("after the run:")[1]


def test_cli_list_and_clear_errors(tmp_path):
    (tmp_path / "tiny_exp.py").write_text(TINY)
    out = cli(tmp_path, "--list", "--import", "tiny_exp")
    assert out.returncode == 0, out.stderr
    for name in ("as.main", "d3c.rl", "fpf_lmf.discrete", "fpf_lmf.ssd", "fpf_lmf.mpe", "compare", "tiny.demo"):
        assert name in out.stdout
    assert "presets: quick, paper, reduced" in out.stdout  # d3c.rl has a reduced preset
    out = cli(tmp_path, "d3c.rl", "--preset", "reduced", "--status")
    assert out.returncode == 0, out.stderr
    # Fig. 7: 2 methods x 100 runs, Fig. 8: 3 x 5, Fig. 9: 3 x 3, LIO's Cleanup: 3 x 5 (the reduced preset)
    assert "d3c.rl (preset reduced): 239 points" in out.stdout and "missing 239" in out.stdout
    for args, message in [
        (("nosuch.exp",), "experiment must be one of"),
        (("tiny.demo", "--import", "tiny_exp", "--preset", "huge"), "preset must be one of 'quick', 'paper'; got 'huge'"),
        (("tiny.demo", "--import", "tiny_exp", "--stale", "keep"), "stale must be one of 'reuse', 'recompute', 'error'"),
        (("tiny.demo", "--import", "tiny_exp", "--jobs", "0"), "jobs must be an integer >= 1"),
        (("tiny.demo", "--import", "no_such_module"), "--import: No module named 'no_such_module'"),
    ]:
        out = cli(tmp_path, *args)
        assert out.returncode == 2 and message in out.stderr, (args, out.stderr)
    assert not (tmp_path / "results").exists(), "nothing was written by the refused commands"


def test_cli_help_explains_the_store():
    out = subprocess.run([sys.executable, "-m", "sharelib", "sweep", "--help"], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert out.returncode == 0
    for words in ("results/<paper>/<experiment>", "--stale", "--status", "--jobs", "stale"):
        assert words in out.stdout


def test_registered_d3c_sweep_is_the_notebooks_sweep(monkeypatch):
    """``figure_experiment`` (what notebooks/d3c/04_rl.ipynb calls) sweeps exactly the registered points."""
    from sharelib.sharing import d3c_rl

    seen = []
    monkeypatch.setattr(d3c_rl._ex, "sweep", lambda fn, grid, runs, seed, **kw: seen.append((fn, grid, runs, seed)) or [])
    P = ex.resolve("d3c.rl", "reduced")
    for fig in d3c_rl.FIGURES:
        d3c_rl.figure_experiment(fig, P)
    plans = ex.sweep_plans("d3c.rl", "reduced")
    assert seen == [(p.fn, p.grid, p.runs, p.seed) for p in plans]


@pytest.mark.parametrize("name", ["discrete", "ssd", "mpe"])
@pytest.mark.parametrize("preset", ["quick", "reduced", "paper"])
def test_registered_fpf_lmf_sweeps_are_the_notebooks_sweeps(monkeypatch, name, preset):
    """``<name>_experiment`` (what notebooks/fpf_lmf/0*_<name>.ipynb calls) sweeps exactly the registered points,
    and hands the store on."""
    import importlib

    module = importlib.import_module(f"sharelib.sharing.federation.{name}")
    seen = []
    monkeypatch.setattr(module._ex, "sweep",
                        lambda fn, grid, runs, seed, **kw: seen.append((fn, grid, runs, seed, kw["store"])) or [])
    P = ex.resolve(f"fpf_lmf.{name}", preset)
    getattr(module, f"{name}_experiment")(P, store="somewhere")
    (plan,) = ex.sweep_plans(f"fpf_lmf.{name}", preset)
    assert plan.grid and seen == [(plan.fn, plan.grid, plan.runs, plan.seed, "somewhere")]


def test_notebook_store_parameter_names_the_folder(tmp_path):
    from sharelib import notebook

    rule = notebook.Store("as.main")
    assert rule.check("store", "", {}) == "" and notebook.store_directory("", "as.main") is None
    assert notebook.store_directory("default", "as.main").parts[-3:] == ("results", "as", "main")
    assert notebook.store_directory(str(tmp_path), "d3c.rl") == tmp_path
    a_file = tmp_path / "points.json"
    a_file.write_text("{}")
    with pytest.raises(ValueError, match="store must name a folder"):
        rule.check("store", str(a_file), {})
    with pytest.raises(ValueError, match="store must be a string"):
        rule.check("store", 3, {})


def test_as_main_reduced_preset_shrinks_only_the_ssd_networks():
    from sharelib.sharing.anticipation import experiments as asx

    (plan,) = asx.main_plans(ex.resolve("as.main", "reduced"))
    hidden = {p["env"]: p["hidden"] for p in plan.grid}
    assert hidden["cleanup"] == hidden["harvest"] == [128, 64]
    assert hidden["cooperative_predation"] is None  # Table 2's (128, 64) through ENV_SETTINGS
    (paper,) = asx.main_plans(ex.resolve("as.main", "paper"))
    assert all(p["hidden"] is None for p in paper.grid) and len(paper.grid) == len(plan.grid) == 20
