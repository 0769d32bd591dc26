"""Every numba kernel in the library is compiled with ``cache=True`` (DESIGN.md: fast reruns)."""

from pathlib import Path
import ast

REPO = Path(__file__).resolve().parents[1]


JIT_NAMES = {"njit", "jit", "vectorize", "guvectorize"}


def _decorator_name(dec):
    node = dec.func if isinstance(dec, ast.Call) else dec
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)


def test_every_jitted_function_uses_the_disk_cache():
    missing = []
    for path in sorted((REPO / "sharelib").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for dec in node.decorator_list:
                if _decorator_name(dec) not in JIT_NAMES:
                    continue
                cached = isinstance(dec, ast.Call) and any(
                    k.arg == "cache" and isinstance(k.value, ast.Constant) and k.value.value is True
                    for k in dec.keywords)
                if not cached:
                    missing.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}")
    assert not missing, "kernels without cache=True:\n" + "\n".join(missing)


def test_the_test_session_uses_a_fresh_numba_cache():
    import os

    cache = os.environ["NUMBA_CACHE_DIR"]
    assert "sharelib-tests-" in cache, "conftest points numba at a new folder for every test session"
