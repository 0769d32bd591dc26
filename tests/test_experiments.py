"""Presets, validation, seeded sweeps on every backend, and the crash-safe result cache."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from sharelib import experiments as ex


# --- validation --------------------------------------------------------------------------------

def test_check_int_names_parameter_and_range():
    assert ex.check_int("n", 3, min=2) == 3
    assert ex.check_int("n", np.int64(4), min=2) == 4
    with pytest.raises(ValueError, match=r"n must be an integer >= 2; got 4.0 \(float\)"):
        ex.check_int("n", 4.0, min=2)  # a float is refused, not silently truncated or kept
    with pytest.raises(ValueError, match=r"n_agents must be an integer >= 2; got 1"):
        ex.check_int("n_agents", 1, min=2)
    with pytest.raises(ValueError, match=r"runs must be an integer in \[1, 10\]; got 11"):
        ex.check_int("runs", 11, min=1, max=10)
    with pytest.raises(ValueError, match="n must be an integer"):
        ex.check_int("n", 2.5)
    with pytest.raises(ValueError):
        ex.check_int("n", True)


def test_check_float_open_and_closed_bounds():
    assert ex.check_float("psi", 1.0, min=0, max=1, min_inclusive=False) == 1.0
    with pytest.raises(ValueError, match=r"psi must be a number in \(0, 1\]; got 0.0"):
        ex.check_float("psi", 0.0, min=0, max=1, min_inclusive=False)
    with pytest.raises(ValueError, match="alpha"):
        ex.check_float("alpha", float("nan"))
    with pytest.raises(ValueError, match="alpha"):
        ex.check_float("alpha", "0.5")


def test_check_choice_and_bool():
    assert ex.check_choice("market", "simple", ["simple", "logistic"]) == "simple"
    with pytest.raises(ValueError, match=r"market must be one of 'simple', 'logistic'; got 'linear'"):
        ex.check_choice("market", "linear", ["simple", "logistic"])
    assert ex.check_bool("clip", np.bool_(True)) is True
    with pytest.raises(ValueError, match="clip must be True or False"):
        ex.check_bool("clip", 1)


# --- presets -----------------------------------------------------------------------------------

def test_presets_resolve_overrides_and_errors():
    ex.register_presets("test.demo", quick={"n": 2, "runs": 1}, paper={"n": 100, "runs": 10})
    assert ex.resolve("test.demo", "paper") == {"n": 100, "runs": 10, "preset": "paper"}
    assert ex.resolve("test.demo", "quick", runs=5, n=None) == {"n": 2, "runs": 5, "preset": "quick"}
    with pytest.raises(ValueError, match=r"preset must be one of 'quick', 'paper'; got 'fast'"):
        ex.resolve("test.demo", "fast")
    with pytest.raises(ValueError, match="unknown parameter"):
        ex.resolve("test.demo", "quick", m=3)
    with pytest.raises(ValueError, match="experiment must be one of"):
        ex.get_preset("test.nope", "quick")
    with pytest.raises(ValueError, match="different keys"):
        ex.register_presets("test.bad", quick={"n": 1}, paper={"m": 1})


# --- sweeps ------------------------------------------------------------------------------------

def noisy_point(scale, shift, seed):
    """A sweep point whose value depends on every input bit of its seed."""
    rng = np.random.default_rng(seed)
    return scale * rng.normal(size=4) + shift


GRID = ex.grid(scale=[1.0, 2.0, 3.0], shift=[0.0, 10.0])


def _values(points):
    return np.stack([p.value for p in points])


def test_seeds_depend_on_point_not_position():
    a = ex.sweep(noisy_point, GRID, runs=2, backend="serial", progress=False)
    b = ex.sweep(noisy_point, GRID[::-1], runs=2, backend="serial", progress=False)
    by_key = {(tuple(p.params.items()), p.run): p.value for p in b}
    for p in a:
        np.testing.assert_array_equal(p.value, by_key[(tuple(p.params.items()), p.run)])
    seeds = [p.seed for p in a]
    assert len(set(seeds)) == len(seeds), "every point and run gets its own seed"
    assert [p.run for p in a[:2]] == [0, 1] and a[0].params == GRID[0]


def test_sweep_identical_serial_processes_and_dask():
    cloudpickle = pytest.importorskip("cloudpickle")
    distributed = pytest.importorskip("distributed")
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/
    serial = _values(ex.sweep(noisy_point, GRID, runs=3, seed=7, backend="serial", progress=False))
    procs = _values(ex.sweep(noisy_point, GRID, runs=3, seed=7, backend="processes", n_jobs=2, progress=False))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        dask = _values(ex.sweep(noisy_point, GRID, runs=3, seed=7, backend="dask", address=cluster.scheduler_address,
                                progress=False))
    assert serial.tobytes() == procs.tobytes() == dask.tobytes()
    other = _values(ex.sweep(noisy_point, GRID, runs=3, seed=8, backend="serial", progress=False))
    assert not np.array_equal(serial, other), "the root seed must matter"


def test_sweep_rejects_bad_arguments():
    with pytest.raises(ValueError, match="backend must be one of"):
        ex.sweep(noisy_point, GRID, backend="mpi")
    with pytest.raises(ValueError, match="runs must be an integer >= 1"):
        ex.sweep(noisy_point, GRID, runs=0)
    with pytest.raises(ValueError, match="empty grid"):
        ex.sweep(noisy_point, [])


# --- cache -------------------------------------------------------------------------------------

CALLS = []


def counted_point(x, seed):
    CALLS.append(x)
    return {"x": x, "r": float(np.random.default_rng(seed).random())}


def test_cache_resumes_without_recomputing(tmp_path):
    CALLS.clear()
    grid = ex.grid(x=[1, 2, 3])
    first = ex.sweep(counted_point, grid[:2], runs=2, backend="serial", cache=tmp_path, progress=False)
    assert len(CALLS) == 4
    CALLS.clear()
    second = ex.sweep(counted_point, grid, runs=2, backend="serial", cache=tmp_path, progress=False)
    assert sorted(CALLS) == [3, 3], "only the new grid point is computed"
    assert [p.value for p in second[:4]] == [p.value for p in first]


def test_cache_detects_corruption_and_recomputes(tmp_path):
    CALLS.clear()
    grid = ex.grid(x=[1, 2])
    clean = ex.sweep(counted_point, grid, backend="serial", cache=tmp_path, progress=False)
    files = sorted(tmp_path.glob("*.pkl"))
    assert len(files) == 2
    files[0].write_bytes(files[0].read_bytes()[:-3])  # truncated
    data = bytearray(files[1].read_bytes())
    data[-1] ^= 0xFF  # one flipped bit in the payload
    files[1].write_bytes(bytes(data))
    CALLS.clear()
    with pytest.warns(ex.CacheCorruptionWarning, match="corrupted or truncated"):
        again = ex.sweep(counted_point, grid, backend="serial", cache=tmp_path, progress=False)
    assert sorted(CALLS) == [1, 2], "both damaged points are recomputed"
    assert [p.value for p in again] == [p.value for p in clean]
    CALLS.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and the rewritten files are clean
        ex.sweep(counted_point, grid, backend="serial", cache=tmp_path, progress=False)
    assert CALLS == []


def test_half_written_entry_is_never_listed_as_finished(tmp_path, monkeypatch):
    cache = ex.ResultCache(tmp_path)
    seen = {}

    def fsync_then_look(fd):  # the moment a killed writer could leave its file behind
        seen["entries"] = cache.entries()
        seen["files"] = sorted(p.name for p in tmp_path.iterdir())

    monkeypatch.setattr(ex.os, "fsync", fsync_then_look)
    cache.store("abc", 1)
    assert seen["entries"] == [] and len(seen["files"]) == 1, "the temporary file exists but is not an entry"
    assert not seen["files"][0].endswith(".pkl")
    assert cache.entries() == ["abc"] and cache.load("abc") == (True, 1)


def test_stale_temporaries_are_removed_and_fresh_ones_kept(tmp_path):
    stale, fresh = tmp_path / ".tmp-old.part", tmp_path / ".tmp-new.part"
    old_style = tmp_path / ".tmp-older-version.pkl"
    for f in (stale, fresh, old_style):
        f.write_bytes(b"half")
    hour_ago = time.time() - 2 * ex.ResultCache.STALE_AFTER
    os.utime(stale, (hour_ago, hour_ago))
    os.utime(old_style, (hour_ago, hour_ago))
    cache = ex.ResultCache(tmp_path)  # opening the cache cleans up
    assert not stale.exists() and not old_style.exists(), "a killed writer's leftover is removed"
    assert fresh.exists(), "a write that may still be in progress is left alone"
    assert cache.entries() == []


def test_cache_key_changes_with_parameters_seed_and_function(tmp_path):
    cache = ex.ResultCache(tmp_path)
    k = cache.key(counted_point, {"x": 1}, 0, 5)
    assert k != cache.key(counted_point, {"x": 2}, 0, 5)
    assert k != cache.key(counted_point, {"x": 1}, 0, 6)
    assert k != cache.key(noisy_point, {"x": 1}, 0, 5)
    assert k == cache.key(counted_point, {"x": 1}, 0, 5)


def test_copied_entry_is_not_read_under_another_key(tmp_path):
    CALLS.clear()
    grid = ex.grid(x=[1, 2])
    clean = ex.sweep(counted_point, grid, backend="serial", cache=tmp_path, progress=False)
    cache = ex.ResultCache(tmp_path)
    code = ex.code_fingerprint(counted_point)
    k1, k2 = (cache.key(counted_point, {"x": x}, 0, p.seed, code) for x, p in zip((1, 2), clean))
    cache.path(k2).write_bytes(cache.path(k1).read_bytes())  # a valid entry, but of point x=1
    CALLS.clear()
    with pytest.warns(ex.CacheCorruptionWarning, match="holds the result of another point"):
        again = ex.sweep(counted_point, grid, backend="serial", cache=tmp_path, progress=False)
    assert CALLS == [2] and [p.value for p in again] == [p.value for p in clean]


def test_entry_with_other_parameters_than_its_point_is_refused(tmp_path):
    cache = ex.ResultCache(tmp_path)
    point = cache.point(counted_point, {"x": 1}, 0, 5)
    key = cache.key(counted_point, {"x": 1}, 0, 5)
    cache.store(key, "value", {**point, "params": {"x": 2}})
    with pytest.warns(ex.CacheCorruptionWarning, match="other parameters"):
        assert cache.load(key, point) == (False, None)
    cache.store(key, "value", point)
    assert cache.load(key, point) == (True, "value")


def test_old_format_entry_is_recomputed_with_a_warning(tmp_path):
    cache = ex.ResultCache(tmp_path)
    cache.path("abc").write_bytes(b"SHARELIB-RESULT-1\n" + b"0" * 64 + b"\n" + b"payload")
    with pytest.warns(ex.CacheCorruptionWarning, match="older version"):
        assert cache.load("abc") == (False, None)


STALE_SCRIPT = textwrap.dedent('''
    import sys
    from sharelib import experiments as ex
    from sharelib._probe_swept import swept

    points = ex.sweep(swept, ex.grid(x=[1, 2]), backend="serial", cache=sys.argv[1], progress=False)
    print([p.value for p in points])
''')


def test_editing_code_below_a_swept_function_invalidates_the_cache(tmp_path, probe_package):
    """The issue's stale-cache case: a thin swept wrapper whose helper, in another module, changes."""
    pkg, env = probe_package
    script, cache = tmp_path / "run.py", tmp_path / "cache"
    script.write_text(STALE_SCRIPT)

    def run():
        out = subprocess.run([sys.executable, str(script), str(cache)], env=env, capture_output=True, text=True,
                             check=True, cwd=tmp_path)
        return out.stdout.strip(), len(ex.ResultCache(cache).entries())

    assert run() == ("[2, 4]", 2)
    assert run() == ("[2, 4]", 2), "unchanged code reads the cache"
    (pkg / "_probe_helper.py").write_text("def helper(x):\n    return 3 * x\n")
    assert run() == ("[3, 6]", 4), "an edited helper below the swept function recomputes"


def test_cache_key_changes_with_library_versions(monkeypatch):
    before = ex.code_fingerprint(counted_point)
    monkeypatch.setattr(ex, "_library_versions", lambda: "numpy 0.0, numba 0.0, python 3.11")
    assert ex.code_fingerprint(counted_point) != before


UNGUARDED_SCRIPT = textwrap.dedent('''
    from sharelib import experiments as ex
    ex.sweep(ex.point_seed, [{"params": {"a": 1}, "run": 0}], runs=2, progress=False, n_jobs=2)
''')


def test_unguarded_sweep_in_a_script_says_how_to_fix_it(tmp_path):
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED_SCRIPT)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert 'if __name__ == "__main__":' in out.stderr  # the last line may be a resource_tracker warning


KILL_SCRIPT = textwrap.dedent('''
    import json, sys, time
    from pathlib import Path
    import numpy as np
    from sharelib import experiments as ex

    marks = Path(sys.argv[2])

    def slow_point(x, seed):
        (marks / f"computed-{x}-{time.time_ns()}").touch()
        time.sleep(0.15)
        return float(np.random.default_rng(seed).random()) + x

    points = ex.sweep(slow_point, ex.grid(x=list(range(24))), backend=sys.argv[3], n_jobs=2,
                      cache=sys.argv[1], progress=False)
    print(json.dumps([p.value for p in points]))
''')


@pytest.mark.parametrize("backend", ["serial", "processes"])
def test_killed_sweep_resumes_where_it_stopped(tmp_path, backend):
    script = tmp_path / "kill_me.py"
    script.write_text(KILL_SCRIPT)
    cache, marks = tmp_path / "cache", tmp_path / "marks"
    marks.mkdir()
    cmd = [sys.executable, str(script), str(cache), str(marks), backend]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 120
    while (not cache.exists() or len(ex.ResultCache(cache).entries()) < 6) and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole group: workers too
    proc.wait()
    done_before = set(ex.ResultCache(cache).entries())
    for key in done_before:  # what a killed writer left under a result name is complete
        assert ex.ResultCache(cache).load(key)[0], key
    assert 6 <= len(done_before) < 24, "the sweep was killed midway"
    for stale in marks.iterdir():
        stale.unlink()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    recomputed = len(list(marks.iterdir()))
    assert recomputed == 24 - len(done_before), "finished points are not recomputed"
    values = json.loads(out.stdout)
    fresh = tmp_path / "fresh"
    out2 = subprocess.run([sys.executable, str(script), str(fresh), str(marks), "serial"],
                          capture_output=True, text=True, check=True)
    assert values == json.loads(out2.stdout), "resumed results equal an uninterrupted run"
    assert not [p for p in cache.glob("*.pkl") if p.name.startswith(".")], "temporaries never look finished"


def test_sweep_on_ray_matches_serial_when_ray_is_installed():
    ray = pytest.importorskip("ray")
    serial = _values(ex.sweep(noisy_point, GRID, runs=2, seed=3, backend="serial", progress=False))
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
    try:
        on_ray = _values(ex.sweep(noisy_point, GRID, runs=2, seed=3, backend="ray", progress=False))
    finally:
        ray.shutdown()
    assert serial.tobytes() == on_ray.tobytes()
