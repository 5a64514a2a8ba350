"""ruff and mypy over the targets configured in pyproject.toml ([tool.ruff] include, [tool.mypy] files).

Run as part of ``python -m pytest``, so CI enforces both. The targets are configured, not listed
here: extend the checked packages in pyproject.toml.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{args[0]} took longer than {exc.timeout} s")


def _require(module: str) -> None:
    probe = _run(module, "--version")
    if probe.returncode != 0:
        pytest.fail(f"{module} is not installed (it is in the 'test' extra): {probe.stderr.strip()}")


def test_ruff() -> None:
    _require("ruff")
    result = _run("ruff", "check", "--no-fix", "--output-format", "concise")
    assert result.returncode == 0, f"ruff check found problems:\n{result.stdout}{result.stderr}"


def test_the_targets_cover_the_package_and_the_tests() -> None:
    """Every Python file of the package and the tests is linted, and every module of the package is
    type-checked: a new module or top-level package cannot slip past both checkers."""
    _require("ruff")
    listed = _run("ruff", "check", "--show-files")
    assert listed.returncode == 0, listed.stderr
    linted = {Path(line).resolve() for line in listed.stdout.splitlines() if line.strip()}
    ours = {p.resolve() for top in ("jacs_desktop", "tests") for p in (ROOT / top).rglob("*.py")
            if "node_modules" not in p.parts}
    assert ours and not ours - linted, f"not linted by ruff: {sorted(str(p) for p in ours - linted)}"
    files = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]["files"]
    package = ROOT / "jacs_desktop"
    tops = [p for p in sorted(package.iterdir()) if p.suffix == ".py" or (p / "__init__.py").is_file()]
    unchecked = [p.relative_to(ROOT).as_posix() for p in tops if p.relative_to(ROOT).as_posix() not in files]
    assert len(tops) > 5 and unchecked == [], f"not in [tool.mypy] files: {unchecked}"


def test_mypy() -> None:
    _require("mypy")
    # the default cache (.mypy_cache at the top of the tree) keeps later runs incremental
    result = _run("mypy", "--no-color-output", "--no-pretty")
    assert result.returncode == 0, f"mypy found problems:\n{result.stdout}{result.stderr}"
