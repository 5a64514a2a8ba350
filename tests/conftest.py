import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Google's credential lookup must never probe the cloud metadata server (an address off this machine):
# no test may send traffic anywhere but loopback
os.environ["NO_GCE_CHECK"] = "True"
os.environ["GCE_METADATA_HOST"] = "127.0.0.1:9"
os.environ["GCE_METADATA_IP"] = "127.0.0.1:9"
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"  # the same for boto3's instance-role lookup

import pytest

REPO = Path(__file__).resolve().parents[1]


def _format_dir() -> Path:
    env = os.environ.get("JACS_FORMAT_DIR")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "jacs-format", REPO / "shared" / "jacs-format"]
    for c in candidates:
        if (c / "fixture" / "manifest.json").is_file():
            return c
    raise RuntimeError(
        "The JACS format fixture (shared/jacs-format) was not found beside the repository; "
        "set JACS_FORMAT_DIR to its folder"
    )


FORMAT_DIR = _format_dir()
FIXTURE = FORMAT_DIR / "fixture"
EXAMPLES = FORMAT_DIR / "examples"
MANIFEST = json.loads((FIXTURE / "manifest.json").read_text())


@pytest.fixture(scope="session")
def fixture_dir() -> Path:
    return FIXTURE


@pytest.fixture(scope="session")
def manifest() -> dict:
    return MANIFEST


def _copy_writable(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    for p in [dst, *dst.rglob("*")]:
        p.chmod(0o700 if p.is_dir() else 0o600)
    return dst


@pytest.fixture
def fixture_copy(tmp_path) -> Path:
    """A writable copy of the fixture store (the original is read-only)."""
    return _copy_writable(FIXTURE, tmp_path / "fixture")


@pytest.fixture(scope="session")
def fixture_ring():
    from jacs_desktop.core.verify import KeyRing
    from jacs_desktop.storage.fs import FsStore
    from jacs_desktop.storage.store import public_key_files

    ring = KeyRing()
    for h, key, alg, name in public_key_files(FsStore(FIXTURE / "jacs_data"), "public_keys/"):
        ring.add(key, alg, name, key_hash=h)
    return ring


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path, monkeypatch):
    """No test reads or writes the user's real settings, journals, caches, jacs trust store or XDG data
    folder (where the desktop entry is installed)."""
    for var, sub in (("JACS_DESKTOP_CONFIG_DIR", "cfg"), ("JACS_DESKTOP_STATE_DIR", "state"),
                     ("JACS_DESKTOP_CACHE_DIR", "cache"), ("JACS_DESKTOP_LOG_DIR", "log"),
                     ("JACS_TRUST_STORE_DIR", "jacs-trust"), ("XDG_DATA_HOME", "xdg-data")):
        if var not in os.environ or not os.environ[var].startswith(str(tmp_path)):
            monkeypatch.setenv(var, str(tmp_path / "_dirs" / sub))
    from jacs_desktop.storage.secrets import SESSION

    SESSION.clear()  # session secrets and the master password: each test starts a new "run"


AGENT_PASSWORD = "Agent!Test#2026xy"


@pytest.fixture(scope="session")
def agent_dir(tmp_path_factory):
    """A folder with a signing agent made by our create_agent (password AGENT_PASSWORD)."""
    from jacs_desktop.core.identity import create_agent

    d = tmp_path_factory.mktemp("agent")
    create_agent(d, "test-agent", AGENT_PASSWORD)
    return d
