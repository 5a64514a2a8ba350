"""Migration to real S3 servers with faults: injected 503/500 are retried; a
server stopped mid-run makes the run stop cleanly with a journal, and the same
migration after a restart completes with nothing duplicated and nothing lost."""

import os
import uuid

import pytest
from conftest import FIXTURE
from s3servers import S3_KEY, S3_SECRET, moto_server, seaweedfs

from jacs_desktop.core.identity import create_agent
from jacs_desktop.core.sign import pretty_json
from jacs_desktop.jobs.migrate import MigrateOptions, migrate
from jacs_desktop.storage.memory import MemoryStore
from jacs_desktop.storage.s3 import S3Store
from jacs_desktop.storage.store import Store
from jacs_desktop.storage.urls import open_store


def _s3(endpoint, bucket, **kw):
    return Store(S3Store(bucket, "jacs", endpoint_url=endpoint, access_key=S3_KEY, secret_key=S3_SECRET,
                         create_bucket=True, **kw))


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "botocore"])
def test_injected_503_and_500_are_retried(tmp_path, fast_path):
    """503 SlowDown and 500 InternalError answered to document PUTs in the middle of
    a migration (by a proxy in front of a real moto server): retried, counted, and
    the target ends up complete and valid."""
    from s3servers import fault_proxy

    src = open_store(str(FIXTURE))
    with moto_server() as upstream, fault_proxy(upstream, [(503, "SlowDown"), (500, "InternalError")] * 3) as (
            endpoint, left):
        dst = _s3(endpoint, f"jd-{uuid.uuid4().hex[:10]}", max_attempts=8, fast_path=fast_path)
        report = migrate(src, dst, MigrateOptions(concurrency=2))
        assert report.ok, report.failed
        assert left == []  # every injected fault was served to a document upload
        assert dst.objects.retries >= 6
        docs = [r for r in dst.refs() if r.kind in ("document", "archived")]
        assert len(docs) == sum(1 for r in src.refs() if r.kind in ("document", "archived"))
        assert all(dst.verify(r).status == "valid" for r in docs if r.kind == "document")


def _many_docs(n: int, tmp_path) -> Store:
    ident = create_agent(tmp_path / "agent", "bulk", "Bulk!Agent#2026xy")
    store = Store(MemoryStore(uuid.uuid4().hex))
    store.put_public_key(ident.public_key, ident.algorithm)
    for i in range(n):
        doc = ident.signer.new_document({"i": i, "text": "y" * 300})
        store.put_document(doc, pretty_json(doc))
    return store


def test_server_stopped_mid_run_then_resumed(tmp_path):
    src = _many_docs(400, tmp_path)
    data = tmp_path / "weed"
    bucket = f"jd-{uuid.uuid4().hex[:10]}"
    with seaweedfs(data) as endpoint:
        ports = dict(seaweedfs.last_ports)
        proc = seaweedfs.last_process
        dst = _s3(endpoint, bucket, max_attempts=2, connect_timeout=1, read_timeout=5)
        stopped = {"done": False}

        def progress(done, total, _msg):
            if done >= 120 and not stopped["done"]:
                stopped["done"] = True
                os.killpg(proc.pid, 9)  # the server dies under the migration
                proc.wait(10)

        first = migrate(src, dst, MigrateOptions(concurrency=2), progress=progress)
    assert stopped["done"]
    assert not first.ok and first.stopped and "again" in first.stopped
    assert 100 <= len(first.copied) < 401 and first.not_attempted > 0
    journal = first.journal
    assert journal and os.path.exists(journal)
    # restart the server on the same data and ports; run the same migration again
    with seaweedfs(data, ports=ports) as endpoint:
        dst = _s3(endpoint, bucket)
        second = migrate(src, dst, MigrateOptions(concurrency=2))
        assert second.ok, second.failed[:3]
        assert not set(second.copied) & set(first.copied)  # nothing copied twice
        assert second.resumed >= len(first.copied) - 2
        docs = [r for r in dst.refs() if r.kind == "document"]
        assert sorted(r.version for r in docs) == sorted(r.version for r in src.refs() if r.kind == "document")
        assert all(dst.verify(r).status == "valid" for r in docs[:50])
        assert not os.path.exists(journal)  # a completed run clears its journal


def test_listing_pages_answered_with_503_are_retried(tmp_path):
    """The second and third listing pages fail with 503: the listing still returns
    every object once (botocore takes over from the same page) and counts retries."""
    from s3servers import fault_proxy

    with moto_server() as upstream:
        bucket = f"jd-{uuid.uuid4().hex[:10]}"
        direct = S3Store(bucket, endpoint_url=upstream, access_key=S3_KEY, secret_key=S3_SECRET, create_bucket=True)
        keys = [f"documents/{i:05d}:v.json" for i in range(2500)]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(8) as ex:
            list(ex.map(lambda k: direct.put_if_absent(k, b"{}"), keys))
        with fault_proxy(upstream, [(503, "SlowDown")] * 2, match="continuation-token", method="GET") as (ep, left):
            s = S3Store(bucket, endpoint_url=ep, access_key=S3_KEY, secret_key=S3_SECRET, max_attempts=5)
            listed = [i.key for i in s.list("documents/")]
            assert left == [] and s.retries >= 2
        assert listed == sorted(keys)


def test_backup_from_s3_and_restore(tmp_path):
    """An S3 store backed up (objects read ahead by several threads, in order) and
    restored into a folder: every signature holds."""
    from jacs_desktop.jobs.backup import backup, restore, verify_archive

    src = open_store(str(FIXTURE))
    with moto_server() as endpoint:
        s3 = _s3(endpoint, f"jd-{uuid.uuid4().hex[:10]}")
        assert migrate(src, s3, MigrateOptions()).ok
        arc = tmp_path / "from-s3.tar.gz"
        r = backup(s3, arc)
        names = [i.key for i in s3.objects.list("")]
        assert "manifest.json" in names  # the fixture's own manifest: left out, the name is the backup's
        assert r.ok and r.entries == len(names) - 1
    v = verify_archive(arc)
    assert v.ok and v.verdicts == {"valid": 15}
    out = open_store(str(tmp_path / "restored"), create=True)
    assert restore(arc, out).ok
    assert sorted(x.version for x in out.refs()) == sorted(x.version for x in src.refs())
