"""The notebooks' interactive callbacks draw each figure once, and draw sparse curves visibly.

``ipywidgets.interact`` displays whatever its callback returns, so a callback returning a matplotlib
Figure shows it twice (once by the inline backend, once as the return value). And a learning curve
with a NaN between every two finite points (no episode ended in that interval) draws nothing when
plotted as one line.
"""

import ast
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (REPO / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _code(path):
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def _returns_value(fn: ast.FunctionDef) -> bool:
    return any(isinstance(n, ast.Return) and n.value is not None for n in ast.walk(fn))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO / "notebooks")))
def test_interact_callbacks_return_nothing(path):
    defs, calls = {}, []
    for src in _code(path):
        tree = ast.parse(src)
        defs.update({n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)})
        calls += [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", getattr(
            n.func, "id", "")) in ("interact", "interact_manual")]
    for call in calls:
        callback = call.args[0]
        assert not isinstance(callback, ast.Lambda), "a lambda returns its value: interact would display it again"
        if isinstance(callback, ast.Name) and callback.id in defs:
            assert not _returns_value(defs[callback.id]), f"{callback.id} returns a value that interact displays"


def test_learning_core_run_curve_draws_a_sparse_coin_game_run():
    from sharelib.learners import mixing

    src = next(s for s in _code(REPO / "notebooks" / "learning_core.ipynb") if s.startswith("def plot_run"))
    ns = {"np": np, "plt": plt, "mixing": mixing, "P": {"n_envs": 2}}
    exec(src.split("\n\n\n_ = plot_run()")[0], ns)  # noqa: S102 - the notebook's own function
    fig = ns["plot_run"]("coin_game", "ppo", 0.0, steps=4_000, seed=0)
    lines = fig.axes[0].get_lines()
    assert lines and all(np.isfinite(line.get_ydata()).sum() >= 2 for line in lines), "every agent's curve is drawn"
    plt.close(fig)
