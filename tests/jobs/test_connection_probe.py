"""*Test connection* without Qt (jobs/connection_probe.py): one scratch record under
.jacs-desktop-connection-test/, removed, said so; failures sorted into words."""

import threading
import time
import uuid

import pytest
from s3servers import S3_KEY, S3_SECRET, free_port, moto_server

from jacs_desktop.jobs.connection_probe import SCRATCH_PREFIX, probe_connection, with_probe_timeouts
from jacs_desktop.storage import connect_form as cf
from jacs_desktop.storage.fs import FsStore
from jacs_desktop.storage.jsonl import JsonlStore
from jacs_desktop.storage.s3 import S3Store
from jacs_desktop.storage.sqlite import SqliteStore


def _tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_folder_store_gets_a_record_and_keeps_nothing(tmp_path):
    store = tmp_path / "store"
    FsStore(store, create=True).put("documents/a:1.json", b"{}")
    before = _tree(store)
    steps = []
    r = probe_connection(cf.build("folder", {"path": str(store)}).url, progress=lambda d, t, m: steps.append(m))
    assert r.ok and r.problem == "" and r.scratch_key.startswith(SCRATCH_PREFIX)
    assert f"a test record was written under {SCRATCH_PREFIX}" in r.message and "Nothing was left behind" in r.message
    assert _tree(store) == before  # the scratch folder went too
    assert steps[0] == "Opening the store" and steps[-1] == "Done"


def test_sqlite_store(tmp_path):
    db = tmp_path / "s.sqlite3"
    SqliteStore(db, create=True).close()
    r = probe_connection(cf.build("sqlite", {"path": str(db)}).url)
    assert r.ok, r.message
    s = SqliteStore(db)
    assert list(s.list(SCRATCH_PREFIX)) == []
    s.close()


def test_jsonl_file_is_only_read(tmp_path):
    f = tmp_path / "s.jsonl"
    JsonlStore(f, create=True).put_if_absent("documents/x:1.json", b'{"a": 1}')
    before = (f.read_bytes(), f.stat().st_ino)
    r = probe_connection(cf.build("jsonl", {"path": str(f)}).url)
    assert r.ok and r.scratch_key == ""
    assert "(1 object," in r.message and "No test record was written" in r.message
    assert (f.read_bytes(), f.stat().st_ino) == before


def test_missing_folder_in_words(tmp_path):
    r = probe_connection(str(tmp_path / "gone"))
    assert not r.ok and r.problem == "missing" and r.message.startswith("The file or folder is not there.")


def test_probe_timeouts_are_added_not_overridden():
    assert with_probe_timeouts("s3://b") == "s3://b?connect_timeout=3&read_timeout=10&max_attempts=2"
    assert with_probe_timeouts("s3://b?read_timeout=60") == "s3://b?read_timeout=60&connect_timeout=3&max_attempts=2"
    assert "retry_timeout=4" in with_probe_timeouts("gs://b")
    assert with_probe_timeouts("/some/folder") == "/some/folder"


@pytest.fixture(scope="module")
def moto():
    with moto_server() as endpoint:
        yield endpoint


def _s3(endpoint, bucket, **kw):
    return cf.build("s3", {"endpoint": endpoint, "bucket": bucket, "prefix": "p/q", "access_key": S3_KEY,
                           "secret_key": S3_SECRET, "path_style": True, **kw})


def test_s3_success_missing_bucket_unreachable(moto):
    bucket = f"jd-{uuid.uuid4().hex[:10]}"
    S3Store(bucket, endpoint_url=moto, access_key=S3_KEY, secret_key=S3_SECRET, create_bucket=True)
    spec = _s3(moto, bucket)
    r = probe_connection(spec.url, spec.secrets)
    assert r.ok, r.message
    s3 = S3Store(bucket, endpoint_url=moto, access_key=S3_KEY, secret_key=S3_SECRET)
    assert [o.key for o in s3.list("")] == []  # nothing under the prefix, nor anywhere
    missing = _s3(moto, "no-such-bucket-here")
    r = probe_connection(missing.url, missing.secrets)
    assert not r.ok and r.problem == "missing" and r.message.startswith("The bucket was not found.")
    t = time.monotonic()
    closed = _s3(f"http://127.0.0.1:{free_port()}", bucket)
    r = probe_connection(closed.url, closed.secrets)
    assert time.monotonic() - t < 10
    assert not r.ok and r.problem == "unreachable" and r.message.startswith("The server cannot be reached.")


def test_cancel_before_writing_writes_nothing(tmp_path):
    cancel = threading.Event()
    cancel.set()
    r = probe_connection(str(tmp_path))
    assert r.ok
    r = probe_connection(str(tmp_path), cancel=cancel)
    assert not r.ok and r.problem == "cancelled" and _tree(tmp_path) == []


def test_a_failure_after_writing_still_removes_the_record(tmp_path):
    """A store that loses what it was given (reads back other bytes): told, and cleaned up."""
    class Lossy(FsStore):
        def get(self, key):
            return b"something else" if key.startswith(SCRATCH_PREFIX) else super().get(key)

    r = probe_connection(str(tmp_path), open_fn=lambda url, secrets: Lossy(url))
    assert not r.ok and r.problem == "refused" and "differs from what was written" in r.message
    assert f"The test record it wrote under {SCRATCH_PREFIX} was removed." in r.message
    assert _tree(tmp_path) == []


def test_a_missing_extra_is_a_sentence_naming_it():
    """In a fresh interpreter where the Google and Azure clients cannot be imported (as without
    the gcs and azure extras)."""
    import json
    import subprocess
    import sys

    code = (
        "import sys, json\n"
        "for m in ('google.cloud.storage', 'azure.storage', 'azure.storage.blob'): sys.modules[m] = None\n"
        "from jacs_desktop.jobs.connection_probe import probe_connection\n"
        "rs = [probe_connection(u) for u in ('gs://jacs?endpoint_url=http://127.0.0.1:9', 'azure://jacs?account=acct1')]\n"
        "print(json.dumps([[r.problem, r.message] for r in rs]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    (gs_problem, gs_text), (az_problem, az_text) = json.loads(out.stdout)
    assert gs_problem == "extra" and "pip install 'jacs-desktop[gcs]'" in gs_text
    assert az_problem == "extra" and "pip install 'jacs-desktop[azure]'" in az_text
