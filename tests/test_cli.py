"""``python -m sharelib list`` / ``reproduce``, and papermill's own command line, as a user runs them."""

from pathlib import Path
import json
import os
import subprocess
import sys

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]



def run(*args, env=None, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "sharelib", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=600)


def test_list_shows_parameters_with_types_defaults_and_help():
    out = run("list")
    assert out.returncode == 0, out.stderr
    assert "notebooks/00_overview.ipynb" in out.stdout
    assert "preset: str = \"quick\"" in out.stdout or "preset: str = 'quick'" in out.stdout
    assert "share: float = 0.3  # fraction w of its reward" in out.stdout


@pytest.mark.parametrize("args, message", [
    (("reproduce", "--paper", "nosuchpaper"), "paper must be one of 'overview'"),
    (("reproduce", "--preset", "huge"), "preset must be one of 'quick', 'paper'; got 'huge'"),
    (("list", "--paper", "nosuchpaper"), "paper must be one of"),
])
def test_unknown_names_get_a_clear_error(args, message):
    out = run(*args)
    assert out.returncode == 2
    assert message in out.stderr


def _notebook(path, source):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('preset: str = "quick"  # preset', metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(source)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def test_failing_notebook_is_reported_and_the_others_still_run(tmp_path):
    root = tmp_path / "notebooks"
    _notebook(root / "demo" / "01_good.ipynb", "open('ran-' + preset, 'w').write('ok')")
    _notebook(root / "demo" / "02_bad.ipynb", "x = 1\nraise RuntimeError('boom in cell two')")
    _notebook(root / "demo" / "03_good.ipynb", "open('ran3-' + preset, 'w').write('ok')")
    out = run("reproduce", "--paper", "demo", "--preset", "paper", "--jobs", "2",
              env={"SHARELIB_NOTEBOOKS_DIR": str(root)})
    assert out.returncode == 1
    assert "demo/02_bad.ipynb: failed at cell 2 ('x = 1')" in out.stderr
    assert "RuntimeError: boom in cell two" in out.stderr
    assert "2 of 3 notebooks ran" in out.stderr
    assert (root / "demo" / "ran-paper").exists() and (root / "demo" / "ran3-paper").exists(), "preset injected"
    executed = tmp_path / "build" / "notebooks" / "paper" / "demo" / "01_good.ipynb"
    assert executed.exists()
    failed_copy = tmp_path / "build" / "notebooks" / "paper" / "demo" / "02_bad.ipynb"
    assert f"executed copy with the traceback: {failed_copy}" in out.stderr
    assert "boom in cell two" in failed_copy.read_text()


def test_reproduce_output_has_no_kernel_transport_warning(tmp_path):
    """ipykernel warns "Kernel is running over TCP without encryption" on every TCP kernel; the
    pipeline starts its kernels over IPC, so a user never sees it (issue: clean output)."""
    root = tmp_path / "notebooks"
    _notebook(root / "demo" / "01_good.ipynb", "print('hello from the kernel')")
    out = run("reproduce", "--paper", "demo", env={"SHARELIB_NOTEBOOKS_DIR": str(root)})
    assert out.returncode == 0, out.stderr
    assert "1 of 1 notebooks ran" in out.stderr
    assert "TCP" not in out.stderr + out.stdout
    assert "WARNING" not in out.stderr + out.stdout


def test_reproduce_overview_writes_figures_and_manifest(tmp_path):
    """A relative SHARELIB_FIGURES_DIR means the caller's folder, not each notebook's; quick-preset
    provenance goes beside the quick figures, never into the tracked top-level manifest."""
    figs = tmp_path / "figs"
    out = run("reproduce", "--paper", "overview", env={"SHARELIB_FIGURES_DIR": "figs"}, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (figs / "overview" / "quick" / "overview_pd_sharing.png").exists()
    assert (figs / "overview" / "quick" / "overview_pd_sharing.pdf").exists()
    assert not (REPO / "notebooks" / "figs").exists()
    assert not (figs / "MANIFEST.json").exists()
    manifest = json.loads((figs / "overview" / "quick" / "MANIFEST.json").read_text())
    assert manifest["overview/quick/overview_pd_sharing"]["notebook"] == "00_overview.ipynb"


def test_papermill_command_line_override_takes_effect(tmp_path):
    out_nb = tmp_path / "out.ipynb"
    papermill = [sys.executable, "-m", "papermill"]
    res = subprocess.run([*papermill, str(REPO / "notebooks" / "00_overview.ipynb"), str(out_nb),
                          "-p", "share", "0.45", "--cwd", str(REPO / "notebooks")],
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "SHARELIB_FIGURES_DIR": str(tmp_path / "figs")})
    assert res.returncode == 0, res.stderr
    nb = json.loads(out_nb.read_text())
    printed = "".join("".join(o.get("text", "")) for c in nb["cells"] if c["cell_type"] == "code"
                      for o in c.get("outputs", []))
    assert "w = 0.45: pure Nash [(0, 0)]" in printed, "the override reached the computation"
    manifest = json.loads((tmp_path / "figs" / "overview" / "quick" / "MANIFEST.json").read_text())
    assert manifest["overview/quick/overview_pd_sharing"]["parameters"]["share"] == 0.45
