"""Migration speed paths, and that they keep every promise of the slow ones:

* a folder target's files are written without an fsync each and made durable a batch at a
  time, journalled only after; a run killed in the middle of a batch resumes with nothing
  lost, nothing copied twice and no partial file;
* a batch that cannot be made durable is not counted as copied nor journalled;
* a target that ignores If-None-Match (``rclone serve s3``) is listed once up front and then
  costs one request per object, and what it already holds is never written over.
"""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import FIXTURE, REPO
from s3servers import S3_KEY, S3_SECRET, rclone_serve_s3

from jacs_desktop.core.canonical import jacs_sha256
from jacs_desktop.core.sign import pretty_json
from jacs_desktop.jobs.migrate import MigrateOptions, _creates_honoured, migrate
from jacs_desktop.storage.base import StorageError
from jacs_desktop.storage.fs import FsStore
from jacs_desktop.storage.fs_deferred import DeferredWrites
from jacs_desktop.storage.s3 import S3Store
from jacs_desktop.storage.store import Store
from jacs_desktop.storage.urls import open_store


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("JACS_DESKTOP_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    from jacs_desktop.core.identity import create_agent

    root = tmp_path_factory.mktemp("src")
    ident = create_agent(root, "bulk", "Str0ng!Passw0rd#x")
    st = Store(FsStore(root))
    for i in range(240):
        st.put_document(ident.signer.new_document({"jacsDocument": {"type": "message", "content": {
            "i": i, "pad": "x" * 500}}}))
    return root


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _journal_keys(state: Path) -> list[str]:
    return [line[5:] for j in state.glob("migrate-*.journal")
            for line in j.read_text().splitlines() if line.startswith("done\t")]


_KILLER = """
import os, signal, sys, threading, time
import jacs_desktop.jobs.migrate as m
from jacs_desktop.storage.fs_deferred import DeferredWrites
from jacs_desktop.storage.urls import open_store
m._BATCH, m._BATCH_AGE = 40, 1e9  # batches by count only
real_sync, syncs, stuck = DeferredWrites.sync, [], threading.Event()

def sync(self, workers=4):  # the second batch's fsyncs never end: the kill falls inside it
    syncs.append(1)
    if len(syncs) == 2:
        stuck.set()
        time.sleep(1e9)
    return real_sync(self, workers)

DeferredWrites.sync = sync

def progress(done, total, msg):
    if done == 200:
        stuck.wait(30)
        os.kill(os.getpid(), signal.SIGKILL)

m.migrate(open_store(sys.argv[1]), open_store(sys.argv[2], create=True), m.MigrateOptions(concurrency=1),
          progress=progress)
"""


def test_killed_in_the_middle_of_a_batch_resumes_with_nothing_lost_or_doubled(tmp_path, source):
    dst = tmp_path / "dst"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    p = subprocess.run([sys.executable, "-c", _KILLER, str(source), str(dst)], env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == -9, p.stderr
    journalled = _journal_keys(tmp_path / "state")
    on_target = _files(dst)
    # killed inside a batch: the first batch journalled, the files of the next ones written
    # (whole) but not journalled yet
    assert 40 <= len(journalled) < len(on_target)
    src_files = _files(source)
    assert not [k for k in on_target if k.rpartition("/")[2].startswith(".")]  # no temp file left
    assert all(on_target[k] == src_files[k] for k in on_target)  # no partial file
    assert set(journalled) <= set(on_target)

    report = migrate(open_store(str(source)), open_store(str(dst)), MigrateOptions(concurrency=2))
    assert report.ok, report.failed
    assert report.resumed == len(journalled)
    # the written-but-unjournalled ones are found the same and skipped, never written again
    assert not set(report.copied) & set(on_target)
    after = _files(dst)
    assert sorted(report.copied + report.skipped) == sorted(after) and not report.repaired
    # nothing lost: the same as a migration that was never interrupted
    assert migrate(open_store(str(source)), open_store(str(tmp_path / "ref"), create=True)).ok
    assert after == _files(tmp_path / "ref")
    assert sum(1 for k in after if k.startswith("documents/")) == 240
    assert not list((tmp_path / "state").glob("migrate-*.journal"))  # done: no journal left


def test_a_batch_that_cannot_be_made_durable_is_not_counted(tmp_path, source, monkeypatch):
    import jacs_desktop.jobs.migrate as m

    monkeypatch.setattr(m, "_BATCH", 50)
    monkeypatch.setattr(m, "_BATCH_AGE", 1e9)
    real_sync, calls = DeferredWrites.sync, []

    def failing_sync(self, workers=4):
        calls.append(1)
        if len(calls) == 2:
            raise StorageError("making the written files durable: Input/output error")
        return real_sync(self, workers)

    monkeypatch.setattr(DeferredWrites, "sync", failing_sync)
    dst = tmp_path / "dst"
    report = migrate(open_store(str(source)), open_store(str(dst), create=True), MigrateOptions(concurrency=1))
    assert not report.ok and report.stopped and "durable" in report.stopped
    failed = [k for k, why in report.failed if "could not be made durable" in why]
    assert len(failed) >= 50 and not set(failed) & set(report.copied)
    journalled = _journal_keys(tmp_path / "state")
    assert len(journalled) == 50 and not set(journalled) & set(failed)
    monkeypatch.setattr(DeferredWrites, "sync", real_sync)
    again = migrate(open_store(str(source)), open_store(str(dst)), MigrateOptions(concurrency=2))
    assert again.ok, again.failed
    assert migrate(open_store(str(source)), open_store(str(tmp_path / "ref"), create=True)).ok
    assert _files(dst) == _files(tmp_path / "ref")


def test_target_ignoring_if_none_match_is_listed_once_and_never_overwritten(tmp_path):
    """``rclone serve s3`` drops If-None-Match: the run lists the target once, then writes
    each absent object with one PUT (no HEAD first), and leaves what is there as it is: a
    copy with the same bytes is skipped, a different valid version under the same name is
    a conflict, untouched."""
    src = open_store(str(FIXTURE))
    bucket = f"jd-{uuid.uuid4().hex[:10]}"
    data = tmp_path / "data"
    docs = sorted((r for r in src.refs() if r.kind == "document"), key=lambda r: r.key)
    same, other = docs[0].key, docs[1].key
    theirs = json.loads(src.objects.get(other))
    theirs["jacsDocument"] = {"planted": "by another writer"}  # a different version, hashing right
    theirs["jacsSha256"] = jacs_sha256(theirs)
    planted = pretty_json(theirs)
    with rclone_serve_s3(data, buckets=[bucket]) as endpoint:
        s3 = S3Store(bucket, "jacs", endpoint_url=endpoint, access_key=S3_KEY, secret_key=S3_SECRET)
        assert _creates_honoured(s3) is False  # the server really ignores the header
        s3.put(same, src.objects.get(same))
        s3.put(other, planted)
        calls: dict[str, int] = {}
        prefixes: list[str] = []
        for name in ("list", "list_children", "stat", "put", "put_if_absent", "get", "replace_if_match"):
            real = getattr(s3, name)

            def counted(*a, _real=real, _name=name, **kw):
                calls[_name] = calls.get(_name, 0) + 1
                if _name == "list":
                    prefixes.append(a[0] if a else kw.get("prefix", ""))
                return _real(*a, **kw)

            setattr(s3, name, counted)
        dst = Store(s3, src.layout)
        report = migrate(src, dst, MigrateOptions(concurrency=2))
        assert report.conflicts == [other] and same in report.skipped
        assert [k for k, _why in report.failed] == [other]
        calls.pop("list")
        calls.pop("list_children", None)
        assert len(prefixes) == len(set(prefixes)) <= 8  # each folder listed once, not once per object
        assert calls.get("stat", 0) == 0 and calls.get("replace_if_match", 0) == 0
        written = calls.get("put", 0) + calls.get("put_if_absent", 0)
        assert written == len(report.copied)  # one write per object copied, none for what was there
        assert calls.get("get", 0) == 2  # only the two objects that were there, to judge them
        assert s3.get(other) == planted and s3.get(same) == src.objects.get(same)
        for key in report.copied:
            assert s3.get(key) == src.objects.get(key)


def test_a_folder_file_is_taken_at_once_only_when_its_change_time_shows_no_recent_write(tmp_path, monkeypatch):
    import time

    import jacs_desktop.jobs.migrate as m

    monkeypatch.setattr(m, "_QUIET_SECONDS", 0.3)
    store = open_store(str(tmp_path / "s"), create=True)
    assert store.objects.on_local_disk()  # the test folders are on a local disk
    store.objects.put("documents/a:b.json", b'{"x": 1}')
    item = m._Item("document", "documents/a:b.json", "documents/a:b.json", "a", "b")
    assert m._read_quiet(store, item) is None  # just written: not provably quiet
    time.sleep(0.4)
    assert m._read_quiet(store, item) == b'{"x": 1}'
    store.objects.put("documents/a:b.json", b'{"x": 2}')  # rewritten: its change time is new again
    assert m._read_quiet(store, item) is None
