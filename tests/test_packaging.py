"""pyproject.toml and environment.yml list the same runtime dependencies; .ci/run is the README's test command."""

from pathlib import Path
import re
import tomllib

REPO = Path(__file__).resolve().parents[1]



def _pyproject_deps():
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    return {re.split(r"[<>=!~ \[]", d, maxsplit=1)[0].lower(): d.replace(" ", "") for d in data["project"]["dependencies"]}


def _conda_deps():
    deps, in_deps = {}, False
    for line in (REPO / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        m = re.match(r"^  - ([A-Za-z0-9_.\-]+)(.*)$", line)
        if in_deps and m:
            name = m.group(1).lower()
            if name not in ("python", "pip"):
                deps[name] = (m.group(1) + m.group(2)).replace(" ", "")
    return deps


def test_environment_yml_matches_pyproject():
    py, conda = _pyproject_deps(), _conda_deps()
    assert set(py) == set(conda), f"only in pyproject: {set(py) - set(conda)}; only in environment.yml: {set(conda) - set(py)}"
    for name in py:
        assert py[name] == conda[name], f"version constraints differ for {name}: {py[name]} vs {conda[name]}"


def _readme_commands():
    text = (REPO / "README.md").read_text()
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", text, re.S)
    assert block, "the README opens with a code block of commands"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_readme_opens_with_two_commands_and_ci_runs_the_second():
    commands = _readme_commands()
    assert len(commands) == 2, commands
    assert "reproduce" in commands[0] and "pytest" in commands[1]
    ci = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line.strip() and not line.startswith(("#", "set ", "cd "))]
    assert ci[-1] == commands[1], ".ci/run ends with the README's test command"
    # The only other step CI may take: install a Chromium for the browser test, guarded so
    # that it runs only as root with apt-get, and never fails the run.
    setup = ci[:-1]
    if setup:
        assert setup[0].startswith("if ") and setup[-1] == "fi", setup
        body = setup[1:-1]
        assert body and all("apt-get" in line and "chromium" in line and line.rstrip().endswith("|| true") for line in body), body
