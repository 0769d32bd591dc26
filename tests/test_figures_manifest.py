"""Every committed paper-preset figure has its provenance in figures/MANIFEST.json, and vice versa."""

from pathlib import Path
import json

REPO = Path(__file__).resolve().parents[1]


FIGURES = REPO / "figures"


def test_manifest_and_figures_agree():
    manifest = json.loads((FIGURES / "MANIFEST.json").read_text())
    paper_entries = {k: v for k, v in manifest.items() if v.get("preset") == "paper"}
    # figures/readme/ holds the README's screenshots, not results: they have no provenance to record
    on_disk = {str(p.relative_to(FIGURES).with_suffix("")) for p in FIGURES.glob("*/*.png") if p.parent.name != "readme"}
    assert on_disk <= set(paper_entries), f"figures without provenance: {sorted(on_disk - set(paper_entries))}"
    for key, entry in paper_entries.items():
        for ext in ("png", "pdf"):
            assert (FIGURES / entry[ext]).exists(), f"{key}: missing {entry[ext]}"
        assert entry["notebook"].endswith(".ipynb") and (REPO / "notebooks" / entry["notebook"]).exists(), key
        assert entry["git_commit"] and entry["sharelib_version"] and "preset" in entry["parameters"], key
