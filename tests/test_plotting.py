"""savefig writes PNG and PDF where the preset says, with a provenance entry; the manifest survives races."""

import json
import multiprocessing
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from sharelib import __version__, plotting  # noqa: E402


@pytest.fixture
def figdir(tmp_path, monkeypatch):
    monkeypatch.setenv("SHARELIB_FIGURES_DIR", str(tmp_path))
    return tmp_path


def _fig():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    return fig


def test_savefig_writes_both_formats_and_provenance(figdir):
    entry = plotting.savefig(_fig(), "fig3_global_utility", paper="demo", notebook="demo/01.ipynb",
                             params={"preset": "paper", "n": 10}, seeds=[0, 1])
    assert (figdir / "demo" / "fig3_global_utility.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (figdir / "demo" / "fig3_global_utility.pdf").read_bytes()[:5] == b"%PDF-"
    manifest = json.loads((figdir / "MANIFEST.json").read_text())
    record = manifest["demo/fig3_global_utility"]
    assert record == entry
    assert record["notebook"] == "demo/01.ipynb" and record["parameters"] == {"preset": "paper", "n": 10}
    assert record["seeds"] == [0, 1] and record["sharelib_version"] == __version__
    assert record["git_commit"] and record["wall_time_s"] >= 0 and record["preset"] == "paper"


def test_manifest_records_no_machine_paths(figdir):
    inside = str(plotting.repo_root() / "build" / "cache")
    entry = plotting.savefig(_fig(), "fig2", paper="demo", notebook="d.ipynb",
                             params={"preset": "paper", "cache": "/tmp/run_cache", "store": inside,
                                     "dirs": ["/var/x/y", "rel/z"], "n": 3})
    assert entry["parameters"] == {"preset": "paper", "cache": "<outside the project>/run_cache",
                                   "store": "build/cache", "dirs": ["<outside the project>/y", "rel/z"],
                                   "n": 3}


def test_quick_figures_do_not_overwrite_paper_figures(figdir):
    plotting.savefig(_fig(), "fig1", paper="demo", notebook="d.ipynb", params={"preset": "quick"})
    assert (figdir / "demo" / "quick" / "fig1.png").exists()
    assert not (figdir / "demo" / "fig1.png").exists()
    assert not (figdir / "MANIFEST.json").exists(), "the tracked manifest holds paper-preset entries only"
    local = json.loads((figdir / "demo" / "quick" / "MANIFEST.json").read_text())
    assert local["demo/quick/fig1"]["png"] == "demo/quick/fig1.png"


def test_relative_figures_dir_is_taken_from_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("SHARELIB_FIGURES_DIR", "rel")
    monkeypatch.chdir(tmp_path)
    assert plotting.figures_dir() == tmp_path / "rel" and plotting.figures_dir().is_absolute()


def test_savefig_rejects_bad_names(figdir):
    with pytest.raises(ValueError, match="fig_id"):
        plotting.savefig(_fig(), "../evil", paper="demo", notebook="d.ipynb", params={})
    with pytest.raises(ValueError, match="paper"):
        plotting.savefig(_fig(), "fig1", paper="", notebook="d.ipynb", params={})


def _hammer(directory, worker):
    for i in range(25):
        plotting.update_manifest(f"w{worker}/fig{i}", {"worker": worker, "i": i}, directory)


def test_manifest_updates_are_atomic_under_concurrency(figdir):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_hammer, args=(str(figdir), w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    manifest = json.loads((figdir / "MANIFEST.json").read_text())
    assert len(manifest) == 100, "no update is lost when four writers race"
    assert not [f for f in os.listdir(figdir) if f.startswith(".MANIFEST-")], "no temporary file left behind"


def test_saved_files_are_readable_by_everyone(figdir):
    plotting.savefig(_fig(), "fig1", paper="demo", notebook="d.ipynb", params={"preset": "paper"})
    umask = os.umask(0)
    os.umask(umask)
    for name in ("demo/fig1.png", "demo/fig1.pdf", "MANIFEST.json"):
        assert (figdir / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


def test_live_widgets_run_nothing_until_a_control_moves():
    widgets = pytest.importorskip("ipywidgets")
    calls = []
    slider = widgets.IntSlider(value=3, min=0, max=10)
    plotting.live(lambda n: calls.append(n), n=slider)
    assert calls == [], "nothing runs at display time (papermill would wait on it)"
    assert slider.description == "n" and slider.continuous_update is False
    slider.value = 7
    assert calls == [7]
    with pytest.raises(ValueError, match="at least one control"):
        plotting.live(lambda: None)


def test_git_commit_is_dirty_for_code_changes_but_not_for_figures(tmp_path):
    import subprocess

    from sharelib.plotting import git_commit

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "MANIFEST.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    clean = git_commit(tmp_path)
    assert len(clean) == 40 and not clean.endswith("-dirty")
    (tmp_path / "figures" / "MANIFEST.json").write_text('{"a": 1}')  # a figure was saved
    assert git_commit(tmp_path) == clean
    (tmp_path / "code.py").write_text("x = 2\n")  # the code changed
    assert git_commit(tmp_path) == clean + "-dirty"
