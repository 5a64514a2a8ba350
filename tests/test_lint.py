"""ruff and mypy over the targets configured in pyproject.toml ([tool.ruff] include, [tool.mypy] files).

Run as part of ``python -m pytest``, so CI enforces both. The targets are configured, not listed
here: extend the checked packages in pyproject.toml.
"""

from __future__ import annotations

import subprocess
import sys
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


def test_mypy() -> None:
    _require("mypy")
    # the default cache (.mypy_cache at the top of the tree) keeps later runs incremental
    result = _run("mypy", "--no-color-output", "--no-pretty")
    assert result.returncode == 0, f"mypy found problems:\n{result.stdout}{result.stderr}"
