"""Every notebook follows the conventions: one literal-only parameters cell with a preset, clean outputs."""

from pathlib import Path
import ast
import json
import re

import pytest

REPO = Path(__file__).resolve().parents[1]


NOTEBOOKS = sorted((REPO / "notebooks").rglob("*.ipynb"))
NOTEBOOKS = [p for p in NOTEBOOKS if ".ipynb_checkpoints" not in p.parts]
ABSOLUTE = re.compile(r"(?<![\w.])/(home|root|tmp|work|Users|private|var/folders)/")


def _literal(node) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return _literal(node.operand)
    if isinstance(node, (ast.List, ast.Tuple)):
        return all(_literal(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _literal(k) and _literal(v) for k, v in zip(node.keys, node.values))
    return False


def test_there_are_notebooks():
    assert (REPO / "notebooks" / "00_overview.ipynb") in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO / "notebooks")))
def test_notebook_conventions(path):
    text = path.read_text()
    nb = json.loads(text)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert tagged[0] is code[0], "the parameters cell is the first code cell"
    tree = ast.parse("".join(tagged[0]["source"]))
    names = []
    for stmt in tree.body:
        assert isinstance(stmt, (ast.Assign, ast.AnnAssign)), f"only assignments in the parameters cell: {ast.dump(stmt)}"
        assert stmt.value is not None and _literal(stmt.value), f"only literals in the parameters cell (line {stmt.lineno})"
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        names += [t.id for t in targets]
    assert "preset" in names, "a 'preset' parameter"
    for cell in code:
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"error output in cell: {''.join(cell['source'])[:80]}"
    match = ABSOLUTE.search(text)
    assert match is None, f"absolute path in the notebook: ...{text[max(0, match.start() - 40):match.end() + 40]}..."
    assert not any("injected-parameters" in c.get("metadata", {}).get("tags", []) for c in nb["cells"]), \
        "commit the notebook itself, not a papermill output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO / "notebooks")))
def test_papermill_sees_every_parameter(path):
    """papermill's parser silently drops a line it cannot read (e.g. a comment containing '=')."""
    import papermill

    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    declared = []
    for stmt in ast.parse("".join(cell["source"])).body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        declared += [t.id for t in targets]
    seen = papermill.inspect_notebook(str(path))
    assert sorted(seen) == sorted(declared), f"papermill does not see: {sorted(set(declared) - set(seen))}"
