"""The azure backend for the shared conformance suite (see conftest.py).

``FACTORIES`` maps a backend name to ``factory(request, tmp_path) -> ObjectStore``; a factory may
call ``pytest.skip(reason)`` when its real server cannot run here (say why).  Session-scoped
server fixtures defined here are picked up by conftest.py's star import.

"azure" runs against a real Azurite (Microsoft's Blob Storage emulator, from npm, pinned in
tests/azurite/package.json and installed by packaging/install-system-deps.sh), started on a free
loopback port with its data in a temporary folder, reached through azure-storage-blob with a
connection string, as a user's ``AZURE_STORAGE_CONNECTION_STRING`` would be.
"""

import contextlib
import shutil
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from s3servers import free_port, running

AZURITE_DIR = Path(__file__).resolve().parent.parent / "azurite"
#: Azurite's well-known development account (public, the same in every Azurite)
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
INSTALL_HINT = ("run packaging/install-system-deps.sh (it installs Node.js and Azurite from "
                "tests/azurite/package.json)")


def azurite_command() -> list[str]:
    """``node …/azurite-blob`` from tests/azurite/node_modules, or a failure saying how to install it."""
    node = shutil.which("node") or shutil.which("nodejs")
    script = AZURITE_DIR / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
    if node is None:
        pytest.fail(f"Node.js is not installed, so Azurite cannot run: {INSTALL_HINT}")
    if not script.exists():
        pytest.fail(f"Azurite is not installed in tests/azurite/node_modules: {INSTALL_HINT}")
    return [node, str(script)]


def connection_string(endpoint: str) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={endpoint};")


@contextlib.contextmanager
def azurite(location: Path, ready_timeout: float = 60):
    """Azurite's blob service on a free loopback port, its data in *location*; yields the blob
    endpoint (``http://127.0.0.1:PORT/devstoreaccount1``) once it answers; stopped at the end."""
    cmd = azurite_command()
    port = free_port()
    location.mkdir(parents=True, exist_ok=True)
    endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"

    def ready() -> bool:
        # any HTTP answer (an unsigned listing is refused with 403) means it serves requests
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(f"{endpoint}?comp=list", timeout=2).close()
        return True

    # --disableTelemetry always: without it Azurite tries to reach the internet
    with running([*cmd, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(location),
                  "--disableTelemetry", "--skipApiVersionCheck"], location / "azurite.log", ready, "Azurite",
                 ready_timeout, start_new_session=True):
        yield endpoint


@pytest.fixture(scope="session")
def azurite_endpoint(tmp_path_factory):
    """A running Azurite's blob endpoint; FAILS (does not skip) when Node or Azurite is missing."""
    pytest.importorskip("azure.storage.blob", reason="the azure extra (azure-storage-blob) is not installed")
    try:
        with azurite(tmp_path_factory.mktemp("azurite")) as endpoint:
            yield endpoint
    except RuntimeError as exc:
        pytest.fail(str(exc))


def _azure(request, tmp_path):
    from jacs_desktop.storage.azure import AzureStore

    endpoint = request.getfixturevalue("azurite_endpoint")
    return AzureStore(f"jd-{uuid.uuid4().hex[:12]}", "pre/fix", connection_string=connection_string(endpoint),
                      create_container=True)


FACTORIES: dict = {"azure": _azure}
