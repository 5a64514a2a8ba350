"""Build the PyInstaller bundle and start it (slow: about a minute; CI runs it as
its own step with ``pytest -m slow``)."""

import os
import subprocess
import sys

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
    assert (bundle / "_internal" / "jacs_desktop" / "data" / "icons" / "jacs-desktop-256.png").is_file()
    # the bundle installs its own menu entry, pointing at itself
    p = subprocess.run([str(exe), "--install-desktop-entry"], env=_env(tmp_path), capture_output=True, text=True,
                       timeout=120, cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    entry = (tmp_path / "xdgdata" / "applications" / "org.jacsdesktop.JacsDesktop.desktop").read_text()
    assert f"Exec={exe} %F" in entry or f'Exec="{exe}" %F' in entry, entry


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


def test_bundled_cli_has_the_exact_gzip_and_the_schemas(bundle, tmp_path):
    """An external attachment big enough that only the library's own compressor (cramjam) gives its
    sha256 verifies in the bundle, and a schema rule is enforced (the schema files are bundled)."""
    import json
    import random

    from jacs_desktop.core.identity import create_agent
    from jacs_desktop.core.sign import make_attachment

    store = tmp_path / "store"
    ident = create_agent(store, "bundle", "Bundle!Test#2026xy", algorithm="ring-Ed25519")
    rng = random.Random(5)
    data = " ".join(rng.choice(["alpha", "beta", "naïve", "42", "\n"]) for _ in range(60_000)).encode()
    att = make_attachment(data, "files/big.txt", embed=False)
    assert att.embed is False
    (ident.config.data_dir / "files").mkdir(parents=True, exist_ok=True)
    (ident.config.data_dir / "files" / "big.txt").write_bytes(data)
    good = ident.signer.new_document({"jacsDocument": {"type": "file", "filename": "big.txt"}}, attachments=[att])
    bad = ident.signer.new_document({"jacsDocument": {"type": "message", "content": 1}}, jacs_level="bogus-level")
    docs = store / "documents"
    docs.mkdir(exist_ok=True)
    for d in (good, bad):
        (docs / f"{d['jacsId']}:{d['jacsVersion']}.json").write_text(json.dumps(d))
    cli = bundle / ("jacs-desktop-cli.exe" if os.name == "nt" else "jacs-desktop-cli")
    p = subprocess.run([str(cli), "verify", str(store), "--json"], env=_env(tmp_path), capture_output=True,
                       text=True, timeout=300, cwd=tmp_path)
    report = json.loads(p.stdout)
    status = {r["id"]: r for r in report["results"]}
    assert status[good["jacsId"]]["status"] == "valid", status[good["jacsId"]]
    assert status[bad["jacsId"]]["status"] == "invalid"
    assert any(c["name"] == "schema" and "jacsLevel" in c["reason"] for c in status[bad["jacsId"]]["checks"])
    assert p.returncode == 2
