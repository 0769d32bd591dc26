"""The companion as a website: ``python -m sharelib site`` assembles and builds it.

The pages are the notebooks already executed by ``python -m sharelib reproduce`` (under
``build/notebooks/<preset>/``), so a reader sees every figure, claims table and verdict without
installing anything. :func:`build_site`

1. stages a Jupyter Book 2 (MyST) project in a folder beside the output: the executed notebooks
   (machine paths in their outputs replaced by repository-relative ones, a note on running the
   widgets live on top), a landing page with the README's status table, one chapter page per
   paper, a figures page with each committed figure's provenance (from the manifests under
   ``figures/``) and the command that regenerates it, a "How to cite" page from ``CITATION.cff``,
   and ``myst.yml`` with the table of contents;
2. runs ``jupyter book build --html`` there with notebook execution off (the default: the
   notebooks are executed already) and with :mod:`sharelib.site_theme` as the site theme, so the
   build needs no network (mystmd's own themes are downloaded at build time);
3. copies the static HTML to the output folder.

The helpers (:func:`status_table`, :func:`parse_citation`, :func:`strip_machine_paths`,
:func:`committed_figures`, ...) are pure functions of their inputs and are tested on their own.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from . import pipeline
from .experiments import PRESET_NAMES, check_choice

__all__ = [
    "SITE_PRESETS", "SiteBuildError", "FigureEntry", "status_table", "parse_citation", "citation_markdown",
    "strip_machine_paths", "machine_paths", "strip_notebook", "committed_figures", "regenerate_commands",
    "staged_name", "stage", "build_site",
]

#: Presets a site can be built from: the notebooks' own presets plus ``reduced`` (run per notebook).
SITE_PRESETS = tuple(dict.fromkeys((*PRESET_NAMES, "reduced")))

#: Chapter titles and order: the README's order of the papers (names not listed come last).
CHAPTERS = {
    "overview": "Overview",
    "ce_dos": "CE-DOS: the Sharer's Dilemma",
    "d3c": "D3C: reducing the price of anarchy",
    "learning_core": "The learning core",
    "ssd": "Sequential social dilemmas",
    "ltos": "LToS: learning to share",
    "as": "AS: anticipation sharing",
    "fpf_lmf": "FPF / LMF: beyond mandatory federations",
    "compare": "All mechanisms compared",
}

# A file this module writes into every site it builds: only such a folder is ever replaced.
_MARKER = ".sharelib-site"
# mystmd appends this redirect to every index.html for its Remix themes; our pages are plain
# HTML, and read from the disk (file://) it would send the reader to a folder listing.
_REDIRECT_SCRIPT = re.compile(r"<script>\(function\(\)\{var p=window\.location\.pathname;if\(p\.endsWith\('/index\.html'\)\).*?</script>", re.S)


class SiteBuildError(RuntimeError):
    """The Jupyter Book build itself failed (its log is in the message)."""


# ---------------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------------

def status_table(readme: str, heading: str = "Status") -> str:
    """The first Markdown table under ``## <heading>`` in ``readme``, as its exact lines.

    Raises ``ValueError`` when the section or its table is missing, so a renamed README section
    fails the build instead of silently dropping the table from the landing page.
    """
    lines = readme.splitlines()
    try:
        start = next(k for k, line in enumerate(lines) if re.fullmatch(rf"##\s+{re.escape(heading)}\s*", line))
    except StopIteration:
        raise ValueError(f"README has no '## {heading}' section") from None
    table = []
    for line in lines[start + 1:]:
        if line.startswith("#"):  # the next section: the table must come before it
            break
        if line.lstrip().startswith("|"):
            table.append(line.rstrip())
        elif table:
            break
    if len(table) < 2 or not re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", table[1].replace(" ", "")):
        raise ValueError(f"README's '## {heading}' section has no Markdown table")
    return "\n".join(table)


def parse_citation(text: str) -> dict:
    """``CITATION.cff`` as a dict (PyYAML, which papermill installs); a clear error when malformed."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"CITATION.cff is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or "title" not in data or "authors" not in data:
        raise ValueError("CITATION.cff must be a mapping with at least 'title' and 'authors'")
    return data


def _person(author: dict) -> str:
    if author.get("name"):
        return str(author["name"])
    return " ".join(str(author[k]) for k in ("given-names", "family-names") if author.get(k))


def _bibtex_person(author: dict) -> str:
    if author.get("name"):
        return "{" + str(author["name"]) + "}"
    if author.get("family-names"):
        return f"{author['family-names']}, {author.get('given-names', '')}".strip(", ")
    return _person(author)


def citation_markdown(cff: dict, repository_url: str | None = None) -> str:
    """The "How to cite" page: the companion's citation (text and BibTeX) and the papers it reproduces."""
    authors = ", ".join(_person(a) for a in cff.get("authors") or [])
    version = cff.get("version")
    date = str(cff.get("date-released") or "")
    year = date[:4] if date else ""
    out = ["---", "title: How to cite", "---", ""]
    if cff.get("message"):
        out += [str(cff["message"]), ""]
    line = f"{authors}. *{cff['title']}*."
    line += f" Version {version}." if version else ""
    line += f" Released {date}." if date else ""
    line += f" License {cff['license']}." if cff.get("license") else ""
    out += ["## This companion", "", line, ""]
    url = repository_url or cff.get("repository-code") or cff.get("url")
    fields = [("title", cff["title"]), ("author", " and ".join(_bibtex_person(a) for a in cff.get("authors") or [])),
              ("version", version), ("year", year), ("url", url)]
    bib = ["@software{sharelib" + (year or "") + ","]
    bib += [f"  {k} = {{{v}}}," for k, v in fields if v]
    bib.append("}")
    out += ["```bibtex", *bib, "```", "",
            "The same metadata is in `CITATION.cff` at the root of the repository (GitHub's \"Cite this repository\").",
            ""]
    refs = cff.get("references") or []
    if refs:
        out += ["## The papers reproduced", "", "Cite the paper whose results you use:", ""]
        for ref in refs:
            who = ", ".join(_person(a) for a in ref.get("authors") or [])
            venue = ref.get("collection-title") or ref.get("journal") or ""
            ids = ", ".join(str(i.get("value")) for i in ref.get("identifiers") or [] if i.get("value"))
            parts = [p for p in (who, f"*{ref.get('title', '')}*", venue, str(ref.get("year") or ""), ids) if p]
            out.append(f"1. {'. '.join(parts)}.")
        out.append("")
    return "\n".join(out)


def machine_paths(repo_root: Path, executed_dir: Path | None = None) -> list[tuple[str, str]]:
    """``(absolute prefix, replacement)`` pairs for :func:`strip_machine_paths`, most specific first.

    The repository's absolute path becomes relative (``/work/x/notebooks/a.ipynb`` ->
    ``notebooks/a.ipynb``); a virtual environment, the Python installation, the temporary folder
    and the home folder, which say nothing to a reader on another machine, become placeholders.
    """
    home = Path.home()
    pairs = []
    if executed_dir is not None:
        executed_dir = Path(executed_dir).resolve()
        try:
            rel = executed_dir.relative_to(repo_root.resolve()).as_posix()
        except ValueError:  # executed outside the clone (tests): show where the pipeline puts them
            rel = "build/notebooks/" + executed_dir.name
        pairs.append((str(executed_dir), rel))
    pairs += [(sys.prefix, ".venv" if Path(sys.prefix).name == ".venv" else "<venv>"),
              (str(Path(repo_root).resolve()), "."),
              (str(Path(repo_root)), "."),
              (sys.base_prefix, "<python>"),
              (os.path.realpath(tempfile.gettempdir()), "<tmp>"),
              (tempfile.gettempdir(), "<tmp>"),
              ("/tmp", "<tmp>"),
              (str(home), "~")]
    seen, unique = set(), []
    for prefix, repl in pairs:
        prefix = prefix.rstrip("/")
        if prefix and prefix not in seen and prefix != "/":
            seen.add(prefix)
            unique.append((prefix, repl))
    # A longer prefix first: the venv inside the repository must not become "./.venv".
    return sorted(unique, key=lambda p: -len(p[0]))


def strip_machine_paths(text: str, pairs: list[tuple[str, str]]) -> str:
    """Replace each absolute ``prefix`` in ``text`` (as a whole path component) by its replacement.

    ``<prefix>/rest`` becomes ``rest`` when the replacement is ``"."`` (a repository-relative path)
    and ``<replacement>/rest`` otherwise; ``/work/xy`` is left alone for the prefix ``/work/x``.
    """
    for prefix, repl in pairs:
        pattern = re.compile(re.escape(prefix) + r"(?![\w.-])(/)?")

        def sub(m, repl=repl):
            if repl == ".":
                return "" if m.group(1) else "."
            return repl + (m.group(1) or "")

        text = pattern.sub(sub, text)
    return text


def strip_notebook(nb, pairs: list[tuple[str, str]]):
    """A copy of the notebook JSON with machine paths stripped from every string but binary data
    (base64 images may contain ``/tmp/`` by chance)."""
    if isinstance(nb, dict):
        return {k: (v if k.startswith("image/") or k == "application/pdf" else strip_notebook(v, pairs))
                for k, v in nb.items()}
    if isinstance(nb, list):
        return [strip_notebook(v, pairs) for v in nb]
    if isinstance(nb, str):
        return strip_machine_paths(nb, pairs)
    return nb


@dataclass(frozen=True)
class FigureEntry:
    """One committed figure and its provenance, as its manifest records it."""

    key: str  # e.g. "d3c/reduced/fig9_cleanup", relative to figures/
    manifest: str  # the manifest it came from, relative to the repository
    record: dict

    @property
    def paper(self) -> str:
        return self.record.get("paper") or self.key.split("/")[0]

    @property
    def png(self) -> str:
        return self.record.get("png") or f"{self.key}.png"


def committed_figures(figures_dir: Path) -> list[FigureEntry]:
    """The figures the repository commits: ``figures/MANIFEST.json`` (paper preset) and
    ``figures/<paper>/<preset>/MANIFEST.json`` for every other preset but ``quick`` (git-ignored).
    Entries whose PNG is missing are left out (a manifest may outlive a deleted figure)."""
    figures_dir = Path(figures_dir)
    manifests = [figures_dir / "MANIFEST.json"] if (figures_dir / "MANIFEST.json").exists() else []
    manifests += sorted(p for p in figures_dir.glob("*/*/MANIFEST.json") if p.parent.name != "quick")
    entries = []
    for manifest in manifests:
        try:
            records = json.loads(manifest.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{manifest} is not valid JSON: {exc}") from None
        rel = f"figures/{manifest.relative_to(figures_dir).as_posix()}"
        for key, record in sorted(records.items()):
            entry = FigureEntry(key, rel, record)
            if (figures_dir / entry.png).exists():
                entries.append(entry)
    return entries


def regenerate_commands(entry: FigureEntry) -> list[str]:
    """The commands that regenerate a figure: the whole paper through the pipeline (``quick`` and
    ``paper`` presets) and the figure's own notebook through papermill (any preset)."""
    preset = entry.record.get("preset", "paper")
    notebook = entry.record.get("notebook", "")
    commands = []
    if preset in PRESET_NAMES:
        commands.append(f"python -m sharelib reproduce --paper {entry.paper} --preset {preset}")
    if notebook:
        folder = PurePosixPath("notebooks", notebook).parent.as_posix()
        out = f"build/notebooks/{preset}/{notebook}"
        commands.append(f"papermill notebooks/{notebook} {out} -p preset {preset} --cwd {folder}")
    return commands


def staged_name(relpath: str) -> str:
    """Where a notebook goes in the staged project: paper folders' notebooks get the paper's name
    in front (``ce_dos/01_method.ipynb`` -> ``ce_dos/ce_dos_01_method.ipynb``), because mystmd
    names pages after file names and five papers have a ``01_method``."""
    path = PurePosixPath(relpath)
    if len(path.parts) == 1:
        return relpath
    return (path.parent / f"{path.parent.name}_{path.name}").as_posix()


def _rewrite_notebook_links(text: str, relpath: str, names: dict[str, str]) -> str:
    """Point Markdown links between notebooks at their staged names."""
    here = PurePosixPath(relpath).parent

    def sub(m):
        target, anchor = m.group(2), m.group(3) or ""
        resolved = os.path.normpath((here / target).as_posix()).replace(os.sep, "/")
        if resolved not in names:
            return m.group(0)
        new = os.path.relpath(names[resolved], here.as_posix() or ".").replace(os.sep, "/")
        return f"{m.group(1)}{new}{anchor})"

    return re.sub(r"(\]\()([^)#\s]+\.ipynb)(#[^)\s]*)?\)", sub, text)


def _has_widgets(nb: dict) -> bool:
    return any("application/vnd.jupyter.widget-view+json" in (o.get("data") or {})
               for c in nb.get("cells", []) for o in c.get("outputs", []) or [])


def _error_cells(nb: dict) -> list[int]:
    """Code cells with an error output that is not expected (tag ``raises-exception``)."""
    return [k + 1 for k, c in enumerate(nb.get("cells", []))
            if any(o.get("output_type") == "error" for o in c.get("outputs", []) or [])
            and "raises-exception" not in (c.get("metadata", {}).get("tags") or [])]


def _live_note(relpath: str, preset: str, widgets: bool) -> str:
    folder = PurePosixPath("notebooks", relpath).parent.as_posix()
    lines = [":::{note} Static snapshot",
             f"This page is the notebook `notebooks/{relpath}` as executed with the `{preset}` preset.",
             ]
    if widgets:
        lines.append("Its widgets are shown as they were left (disabled controls and their output). To move them, "
                     f"run it live: `.venv/bin/jupyter lab {folder}/`, open `{PurePosixPath(relpath).name}` and run "
                     "all cells.")
    else:
        lines.append(f"To run it yourself: `.venv/bin/jupyter lab {folder}/` and open `{PurePosixPath(relpath).name}`.")
    lines.append(":::")
    return "\n".join(lines)


def _md_cell(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _git_commit(repo_root: Path) -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo_root, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _figures_page(entries: list[FigureEntry], order: list[str]) -> str:
    out = ["---", "title: Figures and their provenance", "---", "",
           "Every figure committed to the repository, with the provenance its manifest records and the "
           "commands that regenerate it (from a clone, in the environment of the README). `paper`-preset "
           "figures are recorded in `figures/MANIFEST.json`, the others in `figures/<paper>/<preset>/MANIFEST.json`.",
           ""]
    by_paper: dict[str, list[FigureEntry]] = {}
    for e in entries:
        by_paper.setdefault(e.paper, []).append(e)
    for paper in sorted(by_paper, key=lambda p: (order.index(p) if p in order else len(order), p)):
        out += [f"## {CHAPTERS.get(paper, paper)}", ""]
        for e in by_paper[paper]:
            r = e.record
            out += [f"### `{e.key}`", "", f"![{e.key}](figures/{e.png})", ""]
            rows = [("preset", r.get("preset")), ("notebook", f"`notebooks/{r['notebook']}`" if r.get("notebook") else None),
                    ("parameters", "`" + ", ".join(f"{k}={json.dumps(v)}" for k, v in r["parameters"].items()).replace("`", "'")
                     + "`" if isinstance(r.get("parameters"), dict) and r["parameters"] else None),
                    ("seeds", r.get("seeds")), ("sharelib", r.get("sharelib_version")),
                    ("git commit", f"`{r['git_commit']}`" if r.get("git_commit") else None),
                    ("created", r.get("created")),
                    ("wall time", f"{r['wall_time_s']} s" if r.get("wall_time_s") is not None else None),
                    ("files", " ".join(f"`figures/{r[k]}`" for k in ("png", "pdf") if r.get(k))),
                    ("manifest", f"`{e.manifest}`")]
            out += ["| provenance | |", "|---|---|"]
            out += [f"| {k} | {str(v).replace('|', '/')} |" for k, v in rows if v not in (None, "", [])]
            out += ["", "Regenerate:", "", "```bash", *regenerate_commands(e), "```", ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# Staging and building
# ---------------------------------------------------------------------------------------------

def stage(
    staging: Path,
    preset: str = "paper",
    papers: list[str] | None = None,
    repo_root: Path | None = None,
    executed_dir: Path | None = None,
    stream=sys.stderr,
) -> dict:
    """Write the MyST project of the site into ``staging`` (emptied first); return what it holds:
    ``{"notebooks": {relpath: staged path}, "figures": [FigureEntry], "papers": [...]}``.

    Raises ``FileNotFoundError`` naming the command to run when the executed notebooks are missing,
    and ``ValueError`` for an unknown preset or paper, or an executed notebook holding an error.
    """
    check_choice("preset", preset, SITE_PRESETS)
    repo_root = Path(repo_root) if repo_root is not None else pipeline.notebooks_dir().parent
    executed_dir = Path(executed_dir) if executed_dir is not None else repo_root / "build" / "notebooks" / preset
    run_first = f"python -m sharelib reproduce --preset {preset}"
    if preset not in PRESET_NAMES:  # the pipeline runs quick and paper only; others go notebook by notebook
        run_first = (f"papermill notebooks/<paper>/<notebook>.ipynb build/notebooks/{preset}/<paper>/<notebook>.ipynb "
                     f"-p preset {preset} --cwd notebooks/<paper>")
    if not executed_dir.is_dir():
        raise FileNotFoundError(f"no executed notebooks in {executed_dir} for preset {preset!r}; run first: {run_first}")
    selected = pipeline.select(pipeline.find_notebooks(repo_root / "notebooks"), papers)
    present = [nb for nb in selected if (executed_dir / nb.relpath).exists()]
    missing = [nb.relpath for nb in selected if nb not in present]
    if papers and missing:
        raise FileNotFoundError(f"not executed with preset {preset!r}: {', '.join(missing)}; run first: "
                                + (f"python -m sharelib reproduce --paper {' '.join(papers)} --preset {preset}"
                                   if preset in PRESET_NAMES else run_first))
    if not present:
        raise FileNotFoundError(f"none of the notebooks is in {executed_dir}; run first: {run_first}")
    if missing:
        print(f"site: {len(missing)} notebook(s) not executed with preset {preset!r} are left out: "
              f"{', '.join(missing)}", file=stream)

    staging = Path(staging)
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    pairs = machine_paths(repo_root, executed_dir)
    names = {nb.relpath: staged_name(nb.relpath) for nb in present}

    # Notebooks: paths stripped, links renamed, the snapshot note on top.
    for nb in present:
        data = json.loads((executed_dir / nb.relpath).read_text())
        errors = _error_cells(data)
        if errors:
            raise ValueError(f"{executed_dir / nb.relpath} has error outputs in cell(s) {errors}: the run failed; "
                             f"rerun it ({run_first}) before building the site")
        data = strip_notebook(data, pairs)
        for cell in data.get("cells", []):
            if cell.get("cell_type") == "markdown":
                src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                cell["source"] = _rewrite_notebook_links(src, nb.relpath, names)
            for out in cell.get("outputs", []) or []:
                md = (out.get("data") or {}).get("text/markdown")
                if md is not None:
                    md = "".join(md) if isinstance(md, list) else md
                    out["data"]["text/markdown"] = _rewrite_notebook_links(md, nb.relpath, names)
        cells = data.setdefault("cells", [])
        # Right under the notebook's "# Title" line: mystmd takes a page's title from its first
        # heading, so the title stays first and the note comes before anything else.
        at = 0
        if cells and cells[0].get("cell_type") == "markdown":
            first = "".join(cells[0]["source"]) if isinstance(cells[0]["source"], list) else cells[0]["source"]
            title, _, rest = first.lstrip().partition("\n")
            if title.startswith("# "):
                cells[0]["source"] = title
                if rest.strip():
                    cells.insert(1, _md_cell(rest))
                at = 1
        cells.insert(at, _md_cell(_live_note(nb.relpath, preset, _has_widgets(data))))
        dst = staging / names[nb.relpath]
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(json.dumps(data, indent=1, ensure_ascii=False))

    # Figures: the committed PNGs, copied so the figures page can show them.
    figures_dir = repo_root / "figures"
    entries = committed_figures(figures_dir)
    for e in entries:
        dst = staging / "figures" / e.png
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(figures_dir / e.png, dst)

    paper_order = [p for p in CHAPTERS if p in {nb.paper for nb in present}]
    paper_order += [p for p in pipeline.papers(present) if p not in paper_order]
    commit = _git_commit(repo_root)
    readme = (repo_root / "README.md").read_text()
    cff = parse_citation((repo_root / "CITATION.cff").read_text())

    # Landing page: an intro, the README's status table, where to go next.
    index = ["---", f"title: {json.dumps(cff['title'])}", "---", "",
             "An executable companion to five papers on how self-interested agents can **share** (utilities, "
             "losses, rewards, anticipations, parameters) to escape social dilemmas. Every page below is a "
             f"notebook of the repository as executed with the `{preset}` preset (commit `{commit}`): its "
             "figures, claims tables and verdicts, readable without installing anything.", "",
             ":::{tip} Run it yourself",
             "Clone the repository, then `python3 -m venv .venv && .venv/bin/pip install -e . && "
             f".venv/bin/python -m sharelib reproduce --preset {preset if preset in PRESET_NAMES else 'quick'}`; "
             "`.venv/bin/jupyter lab notebooks/` to move the widgets.",
             ":::", "", "## Status", "",
             "From the README: every number was printed by a notebook run with the `paper` preset (or the "
             "`reduced` preset where the row says so).", "", status_table(readme), "",
             "## Contents", ""]
    index += [f"- [{CHAPTERS.get(p, p)}](chapter-{p}.md)" for p in paper_order]
    index += ["- [Figures and their provenance](figures.md)", "- [How to cite](cite.md)", ""]
    (staging / "index.md").write_text("\n".join(index))

    # One chapter page per paper, its notebooks as the chapter's pages.
    toc = ["    - file: index.md"]
    for paper in paper_order:
        nbs = [nb for nb in present if nb.paper == paper]
        title = CHAPTERS.get(paper, paper)
        page = ["---", f"title: {json.dumps(title)}", "---", "",
                f"The notebooks of this part, executed with the `{preset}` preset:", ""]
        page += [f"- [`notebooks/{nb.relpath}`]({names[nb.relpath]})" for nb in nbs]
        page += ["", ":::{note} Widgets",
                 "The widgets under the figures appear as static snapshots (disabled controls with the output they "
                 "showed). To move them, open the notebook in JupyterLab from a clone: "
                 f"`.venv/bin/jupyter lab notebooks/`, then run all cells.", ":::", ""]
        n_fig = sum(e.paper == paper for e in entries)
        if n_fig:
            page += [f"Its {n_fig} committed figure(s), with provenance: [Figures](figures.md).", ""]
        (staging / f"chapter-{paper}.md").write_text("\n".join(page))
        toc += [f"    - file: chapter-{paper}.md", "      children:"]
        toc += [f"        - file: {names[nb.relpath]}" for nb in nbs]
    (staging / "figures.md").write_text(_figures_page(entries, paper_order))
    (staging / "cite.md").write_text(citation_markdown(cff))
    toc += ["    - file: figures.md", "    - file: cite.md"]

    # The offline theme (sharelib.site_theme), started by mystmd with this interpreter.
    theme = staging / "_theme"
    (theme / "public").mkdir(parents=True)
    (theme / "public" / ".nojekyll").write_text("")  # GitHub Pages: serve folders starting with "_" too
    start = f"{shlex.quote(sys.executable)} -m sharelib.site_theme"
    (theme / "template.yml").write_text(
        "myst: v1\nkind: site\ntitle: sharelib offline theme\n"
        "description: Static pages rendered by sharelib.site_theme; no download needed\n"
        # nothing to install: the theme is Python from this environment
        f"build:\n  install: {json.dumps(shlex.quote(sys.executable) + ' -c pass')}\n  start: {json.dumps(start)}\n")
    (staging / "myst.yml").write_text(
        "# Written by python -m sharelib site; edit sharelib/site.py instead.\n"
        "version: 1\nproject:\n"
        f"  title: {json.dumps(cff['title'])}\n"
        "  authors:\n" + "".join(f"    - name: {json.dumps(_person(a))}\n" for a in cff.get("authors") or [])
        + (f"  license: {json.dumps(cff['license'])}\n" if cff.get("license") else "")
        + "  settings:\n    output_matplotlib_strings: remove\n"
        "  toc:\n" + "\n".join(toc) + "\n"
        "site:\n  template: ./_theme\n")
    return {"notebooks": names, "figures": entries, "papers": paper_order}


def _jupyter_book_command() -> list[str]:
    if importlib.util.find_spec("jupyter_book") is None:
        raise FileNotFoundError("Jupyter Book 2 is not installed: pip install -e '.[site]' (or pip install 'jupyter-book>=2')")
    return [sys.executable, "-m", "jupyter_book"]


def build_site(
    preset: str = "paper",
    out: Path | str = "build/site",
    papers: list[str] | None = None,
    repo_root: Path | None = None,
    executed_dir: Path | None = None,
    staging: Path | None = None,
    stream=sys.stderr,
) -> Path:
    """Build the static website of the notebooks executed with ``preset`` into ``out``; return it.

    Parameters
    ----------
    preset : {"quick", "paper", "reduced"}
        Which executed notebooks to publish (``build/notebooks/<preset>/``).
    out : path
        The output folder (static HTML; open ``index.html`` or serve it). It is replaced when it
        holds a site built earlier by this function, and refused when it holds anything else.
    papers : list of str, optional
        Only these papers' chapters (default: every executed notebook).
    repo_root, executed_dir : path, optional
        The repository (default: the one holding ``notebooks/``) and the executed notebooks
        (default: ``<repo_root>/build/notebooks/<preset>``).
    staging : path, optional
        Where to write the MyST project (default: ``<out>-staging`` beside the output).
    """
    check_choice("preset", preset, SITE_PRESETS)
    command = _jupyter_book_command()
    out = Path(out).resolve()
    if out.exists() and any(out.iterdir()) and not (out / _MARKER).exists():
        raise ValueError(f"out: {out} exists and is not a site built by python -m sharelib site; "
                         "choose an empty or new folder")
    staging = Path(staging) if staging is not None else out.with_name(out.name + "-staging")
    start = time.time()
    staged = stage(staging, preset, papers, repo_root, executed_dir, stream)
    env = {k: v for k, v in os.environ.items() if k not in ("BASE_URL", "READTHEDOCS")}  # a root-mounted site
    package_parent = str(Path(__file__).resolve().parents[1])  # the theme must import this sharelib
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    env.setdefault("HOST", "localhost")
    proc = subprocess.run([*command, "build", "--html", "--ci"], cwd=staging, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    html = staging / "_build" / "html"
    log = (proc.stdout + proc.stderr).strip()
    if proc.returncode or not (html / "index.html").exists():
        raise SiteBuildError(f"jupyter book build --html failed (exit {proc.returncode}) in {staging}:\n{log[-4000:]}")
    problems = [line for line in log.splitlines() if re.search(r"error|⛔", line, re.I) and "0 errors" not in line]
    if problems:
        print("site: the build reported:\n  " + "\n  ".join(problems[:20]), file=stream)
    for page in html.rglob("index.html"):
        text = page.read_text()
        page.write_text(_REDIRECT_SCRIPT.sub("", text))
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(html, out)
    (out / _MARKER).write_text(f"built by python -m sharelib site --preset {preset}\n")
    print(f"site: {len(staged['notebooks'])} notebook pages, {len(staged['figures'])} figures, "
          f"{time.time() - start:.0f} s; open {out / 'index.html'} (or serve it: "
          f"python -m http.server -d {out})", file=stream)
    return out
