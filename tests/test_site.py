"""python -m sharelib site: the pure helpers, and a real Jupyter Book build from the quick preset."""

from __future__ import annotations

import hashlib
import html
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from sharelib import pipeline, site

REPO = Path(__file__).resolve().parents[1]


# -- pure helpers ----------------------------------------------------------------------------------

def test_status_table_is_the_readme_table_verbatim():
    readme = "# x\n\n## Status\n\nintro\n\n| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n\nafter\n\n## Next\n| z |\n|---|\n"
    assert site.status_table(readme) == "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |"


def test_status_table_of_the_real_readme_has_every_paper():
    table = site.status_table((REPO / "README.md").read_text())
    first_cells = [row.split("|")[1].strip() for row in table.splitlines()[2:]]
    assert "CE-DOS" in first_cells and "LToS" in first_cells and "FPF / LMF" in first_cells


def test_status_table_missing_section_or_table_raises():
    with pytest.raises(ValueError, match="no '## Status' section"):
        site.status_table("# x\n## Other\n| a |\n|---|\n")
    with pytest.raises(ValueError, match="no Markdown table"):
        site.status_table("## Status\n\njust text\n## Next\n| a |\n|---|\n")


def test_parse_citation_and_page():
    cff = site.parse_citation((REPO / "CITATION.cff").read_text())
    page = site.citation_markdown(cff)
    assert cff["title"] in page and "@software{sharelib" in page
    assert "Belzner" in page and "arXiv:1804.10781" in page and "AAAI 2025" in page
    assert page.count("\n1. ") == len(cff["references"])
    with pytest.raises(ValueError, match="title"):
        site.parse_citation("cff-version: 1.2.0\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        site.parse_citation("title: [unclosed\n")


def test_strip_machine_paths():
    pairs = [("/work/repo/.venv", ".venv"), ("/work/repo", "."), ("/tmp", "<tmp>"), ("/root", "~")]
    text = ("/work/repo/notebooks/a.ipynb /work/repo /work/repo2/x /work/repo/.venv/lib/site.py "
            "/tmp/abc /root/.cache/x /tmpfoo")
    assert site.strip_machine_paths(text, pairs) == (
        "notebooks/a.ipynb . /work/repo2/x .venv/lib/site.py <tmp>/abc ~/.cache/x /tmpfoo")


def test_strip_notebook_keeps_images():
    pairs = [("/tmp", "<tmp>")]
    nb = {"cells": [{"outputs": [{"data": {"image/png": "ab/tmp/cd", "text/plain": "saved /tmp/f.png"}}]}]}
    out = site.strip_notebook(nb, pairs)
    assert out["cells"][0]["outputs"][0]["data"] == {"image/png": "ab/tmp/cd", "text/plain": "saved <tmp>/f.png"}


def test_machine_paths_order_and_relative_repo(tmp_path):
    pairs = site.machine_paths(tmp_path / "repo", tmp_path / "repo" / "build" / "notebooks" / "quick")
    text = site.strip_machine_paths(f"{tmp_path}/repo/build/notebooks/quick/a.ipynb {tmp_path}/repo/x", pairs)
    assert text == "build/notebooks/quick/a.ipynb x"


def test_committed_figures_and_commands(tmp_path):
    (tmp_path / "d3c" / "reduced").mkdir(parents=True)
    (tmp_path / "d3c" / "quick").mkdir(parents=True)
    paper = {"ov/f": {"paper": "ov", "notebook": "00_ov.ipynb", "preset": "paper", "png": "ov/f.png"},
             "ov/gone": {"paper": "ov", "notebook": "00_ov.ipynb", "preset": "paper", "png": "ov/gone.png"}}
    reduced = {"d3c/reduced/g": {"paper": "d3c", "notebook": "d3c/04_rl.ipynb", "preset": "reduced",
                                 "png": "d3c/reduced/g.png"}}
    (tmp_path / "MANIFEST.json").write_text(json.dumps(paper))
    (tmp_path / "d3c" / "reduced" / "MANIFEST.json").write_text(json.dumps(reduced))
    (tmp_path / "d3c" / "quick" / "MANIFEST.json").write_text(json.dumps({"d3c/quick/h": {"png": "d3c/quick/h.png"}}))
    for png in ("ov/f.png", "d3c/reduced/g.png", "d3c/quick/h.png"):
        (tmp_path / png).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / png).write_bytes(b"png")
    entries = site.committed_figures(tmp_path)
    assert [e.key for e in entries] == ["ov/f", "d3c/reduced/g"]  # no missing PNG, no quick
    assert site.regenerate_commands(entries[0]) == [
        "python -m sharelib reproduce --paper ov --preset paper",
        "papermill notebooks/00_ov.ipynb build/notebooks/paper/00_ov.ipynb -p preset paper --cwd notebooks"]
    assert site.regenerate_commands(entries[1]) == [
        "papermill notebooks/d3c/04_rl.ipynb build/notebooks/reduced/d3c/04_rl.ipynb -p preset reduced --cwd notebooks/d3c"]


def test_staged_names_and_links():
    assert site.staged_name("00_overview.ipynb") == "00_overview.ipynb"
    assert site.staged_name("ce_dos/01_method.ipynb") == "ce_dos/ce_dos_01_method.ipynb"
    names = {"ce_dos/01_method.ipynb": "ce_dos/ce_dos_01_method.ipynb", "00_overview.ipynb": "00_overview.ipynb"}
    text = "[m](ce_dos/01_method.ipynb#x) [o](../00_overview.ipynb) [u](other.ipynb)"
    assert site._rewrite_notebook_links(text, "00_overview.ipynb", names).startswith("[m](ce_dos/ce_dos_01_method.ipynb#x)")
    assert "[o](../00_overview.ipynb)" in site._rewrite_notebook_links(text, "ce_dos/02_figures.ipynb", names)


def test_unknown_preset_and_missing_notebooks(tmp_path):
    with pytest.raises(ValueError, match="preset must be one of 'quick', 'paper', 'reduced'"):
        site.stage(tmp_path / "s", preset="full")
    with pytest.raises(FileNotFoundError, match="python -m sharelib reproduce --preset paper"):
        site.stage(tmp_path / "s", preset="paper", executed_dir=tmp_path / "nothing")


# -- the real build --------------------------------------------------------------------------------

needs_jb = pytest.mark.skipif(importlib.util.find_spec("jupyter_book") is None,
                              reason="Jupyter Book 2 is not installed: pip install -e '.[site]'")
PAPERS = ["overview", "ltos"]  # a few seconds of quick-preset notebooks


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("site")
    mp = pytest.MonkeyPatch()
    mp.setenv("SHARELIB_FIGURES_DIR", str(tmp / "figures"))  # quick figures stay out of the clone
    try:
        failures = pipeline.reproduce(PAPERS, preset="quick", out_dir=tmp / "executed")
        assert not failures, failures
        out = site.build_site("quick", tmp / "site", papers=PAPERS, executed_dir=tmp / "executed")
    finally:
        mp.undo()
    return out


@needs_jb
def test_every_notebook_page_exists(built):
    notebooks = pipeline.select(pipeline.find_notebooks(), PAPERS)
    for nb in notebooks:
        slug = re.sub(r"^\d+-", "", Path(site.staged_name(nb.relpath)).stem.replace("_", "-"))
        page = built / slug / "index.html"
        assert page.exists(), f"no page for {nb.relpath} (looked for {page})"
        assert "Static snapshot" in page.read_text()
    for extra in ("index.html", "figures/index.html", "cite/index.html"):
        assert (built / extra).exists()
    index = (built / "index.html").read_text()
    assert "Sharer’s Dilemma in 3140/3140" in index or "3140/3140" in index  # the README's status table


@needs_jb
def test_every_committed_figure_is_in_the_site(built):
    shipped = {hashlib.sha256(p.read_bytes()).hexdigest() for p in built.rglob("*.png")}
    entries = site.committed_figures(REPO / "figures")
    assert entries
    for e in entries:
        digest = hashlib.sha256((REPO / "figures" / e.png).read_bytes()).hexdigest()
        assert digest in shipped, f"figure {e.png} missing from the site"
    # the page's text, without the tags of code highlighting
    figures_page = html.unescape(re.sub(r"<[^>]+>", "", (built / "figures" / "index.html").read_text()))
    for e in entries:
        assert e.key in figures_page and site.regenerate_commands(e)[-1] in figures_page


@needs_jb
def test_no_page_shows_an_error_or_a_machine_path(built):
    machine = [str(REPO), "/tmp/", "/root/", "/home/", sys.prefix]
    for page in built.rglob("*.html"):
        text = page.read_text()
        assert "Traceback" not in text, page
        assert 'class="output error"' not in text, page
        outputs = " ".join(re.findall(r'<(?:pre|div) class="output[^"]*">(.*?)</(?:pre|div)>', text, re.S))
        assert not re.search(r"\b\w*Error\b", outputs), (page, re.search(r".{0,80}\b\w*Error\b.{0,80}", outputs))
        for path in machine:
            assert path not in text, (page, path)
