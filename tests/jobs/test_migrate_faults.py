"""Crash and fault consistency of migrations to real S3 servers.

* A PUT whose connection drops after its headers (a client killed mid-upload)
  leaves a zero-byte object on SeaweedFS; that is damage, repaired by the same run
  or the next, never a "conflict" that no re-run can get past.
* A damaged copy that claims the right jacsSha256 is repaired, not skipped.
* Two migrations creating the same bucket at once both go ahead.
"""

import json
import os
import subprocess
import sys
import threading
import uuid

import pytest
from conftest import FIXTURE, MANIFEST, REPO
from s3servers import S3_KEY, S3_SECRET, fault_proxy, moto_server, seaweedfs

from jacs_desktop.jobs.migrate import MigrateOptions, migrate
from jacs_desktop.storage.s3 import S3Store
from jacs_desktop.storage.store import Store
from jacs_desktop.storage.urls import open_store


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("JACS_DESKTOP_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture(scope="module")
def weed(tmp_path_factory):
    with seaweedfs(tmp_path_factory.mktemp("weed")) as endpoint:
        yield endpoint


def _s3(endpoint, bucket, **kw):
    return Store(S3Store(bucket, "jacs", endpoint_url=endpoint, access_key=S3_KEY, secret_key=S3_SECRET,
                         create_bucket=True, **kw))


def _doc_keys():
    return [d["path"] for d in MANIFEST["documents"]]


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "botocore"])
def test_connection_dropped_after_headers_is_repaired(weed, fast_path):
    """The proxy hands SeaweedFS the headers of two document PUTs and then drops the
    connection: SeaweedFS keeps zero-byte objects and the client's retry meets them.
    They are repaired in the same run, which ends ok with every document valid."""
    src = open_store(str(FIXTURE))
    bucket = f"jd-{uuid.uuid4().hex[:10]}"
    with fault_proxy(weed, [("drop-after-headers", 0)] * 2) as (endpoint, left):
        dropped = fault_proxy.dropped
        dst = _s3(endpoint, bucket, max_attempts=4, fast_path=fast_path)
        report = migrate(src, dst, MigrateOptions(concurrency=2))
    assert left == [] and len(dropped) == 2
    assert report.ok, report.failed
    from urllib.parse import unquote

    hit = {unquote(p).split(f"/{bucket}/jacs/", 1)[1] for p in dropped}  # the retry may meet the second drop
    assert sorted(report.repaired) == sorted(hit) and not report.conflicts
    direct = _s3(weed, bucket)
    for key in hit:
        assert direct.objects.get(key) == (FIXTURE / key).read_bytes()
    docs = [r for r in direct.refs() if r.kind == "document"]
    assert len(docs) == 13 and all(direct.verify(r).status == "valid" for r in docs)


def _cli(src, url, env):
    p = subprocess.run([sys.executable, "-m", "jacs_desktop.cli", "migrate", str(src), url, "--json",
                        "--concurrency", "2"], env=env, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in p.stderr, p.stderr
    return p.returncode, (json.loads(p.stdout) if p.stdout.strip().startswith("{") else p.stdout + p.stderr)


def test_planted_zero_byte_and_truncated_versions_rerun_repairs_and_exits_0(weed, tmp_path):
    """What a kill -9 in the middle of uploads leaves (a zero-byte object, a cut-short
    one) is repaired by re-running the same command line: exit 0, every version valid;
    a third run copies nothing."""
    bucket = f"jd-{uuid.uuid4().hex[:10]}"
    url = f"s3://{bucket}/jacs?endpoint_url={weed}"
    env = dict(os.environ, PYTHONPATH=str(REPO), JACS_DESKTOP_STATE_DIR=str(tmp_path / "state"),
               AWS_ACCESS_KEY_ID=S3_KEY, AWS_SECRET_ACCESS_KEY=S3_SECRET)
    direct = _s3(weed, bucket)
    k0, k1 = _doc_keys()[:2]
    good1 = (FIXTURE / k1).read_bytes()
    direct.objects.put(k0, b"")
    direct.objects.put(k1, good1[:700])
    code, rep = _cli(FIXTURE, url, env)
    assert code == 0, rep
    assert sorted(rep["repaired"]) == sorted([k0, k1]) and rep["conflicts"] == []
    assert direct.objects.get(k0) == (FIXTURE / k0).read_bytes() and direct.objects.get(k1) == good1
    code, rep = _cli(FIXTURE, url, env)
    assert code == 0 and rep["summary"]["copied"] == 0 and rep["repaired"] == []


@pytest.mark.parametrize("server", ["moto", "seaweedfs"])
def test_damaged_copy_claiming_the_right_hash_is_repaired(weed, server):
    """One byte changed in a copy on the target (its jacsSha256 field untouched):
    never skipped as "already there"; overwritten under If-Match and checked."""
    src = open_store(str(FIXTURE))
    key = _doc_keys()[0]
    good = (FIXTURE / key).read_bytes()
    i = good.index(b"jacsType")
    bad = good[:i] + b"J" + good[i + 1:]
    with moto_server() if server == "moto" else _nothing(weed) as endpoint:
        bucket = f"jd-{uuid.uuid4().hex[:10]}"
        dst = _s3(endpoint, bucket)
        dst.objects.put(key, bad)
        report = migrate(src, dst, MigrateOptions(concurrency=2))
        assert report.ok, report.failed
        assert report.repaired == [key] and key not in report.skipped
        assert dst.objects.get(key) == good
        again = migrate(src, _s3(endpoint, bucket), MigrateOptions())
        assert again.ok and again.copied == [] and key in again.skipped


class _nothing:
    def __init__(self, value):
        self.value = value

    def __enter__(self):
        return self.value

    def __exit__(self, *exc):
        return False


def test_different_valid_version_stays_a_conflict(weed):
    src = open_store(str(FIXTURE))
    k0, k1 = _doc_keys()[:2]
    other = (FIXTURE / k1).read_bytes()
    dst = _s3(weed, f"jd-{uuid.uuid4().hex[:10]}")
    dst.objects.put(k0, other)
    report = migrate(src, dst, MigrateOptions())
    assert k0 in report.conflicts and not report.ok and report.repaired == []
    assert dst.objects.get(k0) == other


@pytest.mark.parametrize("server", ["moto", "seaweedfs"])
def test_two_migrations_creating_the_same_bucket_at_once(weed, server):
    """Both runs see no bucket (their HEADs are held until both have answered 404),
    then both create it: the one that loses the race goes ahead when the bucket
    exists and is its own."""
    with moto_server() if server == "moto" else _nothing(weed) as endpoint:
        bucket = f"jd-{uuid.uuid4().hex[:10]}"
        barrier = threading.Barrier(2, timeout=30)
        results: dict = {}

        def run(name):
            try:
                s = S3Store(bucket, "jacs", endpoint_url=endpoint, access_key=S3_KEY, secret_key=S3_SECRET)
                s.client.meta.events.register("after-call.s3.HeadBucket", lambda **kw: barrier.wait())
                s.ensure_bucket()
                src = open_store(str(FIXTURE))
                results[name] = migrate(src, Store(s), MigrateOptions(concurrency=2, journal=False))
            except Exception as exc:
                results[name] = exc

        threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for name in ("a", "b"):
            r = results[name]
            assert not isinstance(r, Exception), f"{name}: {r!r}"
            assert r.ok, r.failed
        docs = [r for r in _s3(endpoint, bucket).refs() if r.kind == "document"]
        assert len(docs) == 13
