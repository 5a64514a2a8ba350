"""Build the PyInstaller bundle and start it (slow: about a minute; CI runs it as
its own step with ``pytest -m slow``)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURE, REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    pytest.importorskip("PyInstaller", reason="the bundle extra is not installed: pip install -e '.[bundle]'")
    dist = tmp_path_factory.mktemp("dist")
    work = tmp_path_factory.mktemp("work")
    p = subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
                        "--distpath", str(dist), "--workpath", str(work),
                        str(REPO / "packaging" / "jacs-desktop.spec")],
                       cwd=REPO, capture_output=True, text=True, timeout=1500)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return dist / "jacs-desktop"


def _env(tmp_path):
    return dict(os.environ, QT_QPA_PLATFORM="offscreen", JACS_DESKTOP_CONFIG_DIR=str(tmp_path / "cfg"),
                JACS_DESKTOP_LOG_DIR=str(tmp_path / "log"), XDG_CONFIG_HOME=str(tmp_path / "xdg"),
                XDG_DATA_HOME=str(tmp_path / "xdgdata"), PYTHONPATH="")


def test_bundle_opens_the_fixture_store(bundle, tmp_path):
    exe = bundle / ("jacs-desktop.exe" if os.name == "nt" else "jacs-desktop")
    p = subprocess.run([str(exe), "--smoke-test", str(FIXTURE)], env=_env(tmp_path), capture_output=True,
                       text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "2 agents, 7 documents, verdicts {'valid': 7}" in p.stdout
    assert (bundle / "_internal" / "resources" / "icons" / "jacs-desktop-256.png").is_file()


def test_bundled_cli_verifies_and_knows_s3(bundle, tmp_path):
    cli = bundle / ("jacs-desktop-cli.exe" if os.name == "nt" else "jacs-desktop-cli")
    p = subprocess.run([str(cli), "verify", str(FIXTURE), "--json"], env=_env(tmp_path), capture_output=True,
                       text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    # botocore's data files are in the bundle: an unreachable endpoint is a network error, not a missing model
    p = subprocess.run([str(cli), "doctor", "s3://b?endpoint_url=http://127.0.0.1:1&max_attempts=1&connect_timeout=1"],
                       env=dict(_env(tmp_path), AWS_ACCESS_KEY_ID="a", AWS_SECRET_ACCESS_KEY="b"),
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 2 and "reach" in (p.stdout + p.stderr), p.stdout + p.stderr
    # keyring backends were found (the fail backend at least, reported plainly)
    p = subprocess.run([str(cli), "connections", "list"], env=_env(tmp_path), capture_output=True, text=True,
                       timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
