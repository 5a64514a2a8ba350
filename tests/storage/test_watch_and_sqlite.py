"""Live changes in folder stores; the SQLite store is readable by plain SQL like jacs's tooling."""

import os
import sqlite3
import threading
import time

import pytest
from conftest import FIXTURE

from jacs_desktop.storage.fs import FsStore
from jacs_desktop.storage.sqlite import SqliteStore
from jacs_desktop.storage.store import Store
from jacs_desktop.storage.watch import StoreWatcher, needs_polling, wait_for


@pytest.mark.parametrize("poll", [False, True], ids=["watchdog-events", "polling"])
def test_watcher_reports_new_changed_and_archived(tmp_path, poll):
    fs = FsStore(tmp_path / "s", create=True)
    seen, lock = [], threading.Lock()

    def cb(batch):
        with lock:
            seen.extend(batch)

    def keys(kind=None):
        with lock:
            return {c.key for c in seen if kind is None or c.kind == kind}

    with StoreWatcher(fs.root, cb, poll=poll, interval=0.3, debounce=0.1) as w:
        assert w.mode == ("polling" if poll else "events")
        fs.put_if_absent("documents/a:1.json", b"{}")
        assert wait_for(lambda: "documents/a:1.json" in keys(), 10)
        fs.move("documents/a:1.json", "documents/archive/a:1.json")
        assert wait_for(lambda: "documents/archive/a:1.json" in keys() and "documents/a:1.json" in keys("deleted"), 10)
    # temp files of atomic writes never show up
    assert not any(".jdtmp" in k for k in keys())


def test_needs_polling_on_normal_disk(tmp_path):
    assert needs_polling(tmp_path) is False


def test_sqlite_is_readable_like_jacs_tooling(tmp_path):
    db = tmp_path / "jacs_documents.sqlite3"
    s = SqliteStore(db)
    for p in sorted(FIXTURE.rglob("*")):
        if p.is_file() and "tampered" not in p.parts:
            s.put(p.relative_to(FIXTURE).as_posix(), p.read_bytes())
    store = Store(s)
    ref = next(iter(store.documents().values()))[0]
    store.archive(ref.id, ref.version)
    s.close()
    con = sqlite3.connect(db)
    rows = con.execute("SELECT count(*), sum(removed) FROM jacs_document").fetchone()
    assert rows == (13, 1)
    # file_contents is compact JSON that json_extract can query
    amount = con.execute(
        "SELECT json_extract(file_contents, '$.jacsDocument.content.amount') FROM jacs_document "
        "WHERE jacs_id='52e07b44-6d02-4085-8401-6c5efce90602' AND jacs_version='15bf7646-e871-403b-b734-6481368462e5'"
    ).fetchone()
    assert amount[0] is not None
    hits = con.execute(
        "SELECT DISTINCT d.jacs_id FROM documents_fts JOIN jacs_document d ON d.rowid = documents_fts.rowid "
        "WHERE documents_fts MATCH 'approve'").fetchall()
    assert hits == [("fbf12295-f05e-4bac-b165-1064712de0f8",)]
    types = {r[0] for r in con.execute("SELECT DISTINCT jacs_type FROM jacs_document")}
    assert types == {"header", "artifact"}
    agent_ids = {r[0] for r in con.execute("SELECT DISTINCT agent_id FROM jacs_document")}
    assert len(agent_ids) == 2
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    # and it reopens with everything in place
    again = Store(SqliteStore(db, create=False))
    assert len(again.archived()) == 1 and all(again.verify(r).status == "valid" for r in again.refs())


def test_sqlite_damaged_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"this is not a database" * 100)
    from jacs_desktop.storage.base import StorageError

    with pytest.raises(StorageError, match="not a usable SQLite database"):
        SqliteStore(bad)


_FLOOD = r'''
import os, sys
folder, n = sys.argv[1], int(sys.argv[2])
print("ready", flush=True)
for i in range(n):
    with open(os.path.join(folder, "documents", f"doc{i}:v1.json"), "wb") as f:
        f.write(b"{}")
'''


def flood_while_starved(folder, n=8000, hold=4.0):
    """Overflow the kernel's inotify queue for real: another process creates *n* files
    (create, open, modify, close: four events each, over the default 16384 queue)
    while this process holds the GIL in one C call, so no watchdog thread reads."""
    import collections
    import itertools
    import subprocess
    import sys
    import time

    t = time.perf_counter()
    collections.deque(itertools.repeat(None, 10_000_000), maxlen=0)
    rate = 10_000_000 / max(time.perf_counter() - t, 1e-3)
    p = subprocess.Popen([sys.executable, "-c", _FLOOD, str(folder), str(n)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    collections.deque(itertools.repeat(None, int(rate * hold)), maxlen=0)  # the GIL is not released
    assert p.wait(60) == 0
    p.stdout.close()


def test_watcher_reports_a_queue_overflow_to_its_own_subscriber(tmp_path):
    busy, quiet = tmp_path / "busy", tmp_path / "quiet"
    for d in (busy, quiet):
        (d / "documents").mkdir(parents=True)
    problems = {"busy": [], "quiet": []}
    with StoreWatcher(busy, lambda b: None, poll=False, on_problem=problems["busy"].append) as w, \
            StoreWatcher(quiet, lambda b: None, poll=False, on_problem=problems["quiet"].append) as q:
        assert w.healthy() and q.healthy()
        flood_while_starved(busy)
        assert wait_for(lambda: "overflow" in problems["busy"], 15), problems
        assert w.problems and w.healthy()
    assert problems["quiet"] == []  # the other store's watcher lost nothing
    assert not w.healthy()  # stopped


def test_watcher_not_healthy_once_its_observer_died(tmp_path):
    (tmp_path / "documents").mkdir()
    with StoreWatcher(tmp_path, lambda b: None, poll=False) as w:
        assert w.healthy()
        w._observer.stop()  # what an observer thread that died looks like from outside
        w._observer.join(5)
        assert not w.healthy()


@pytest.mark.parametrize("poll", [False, True], ids=["watchdog-events", "polling"])
def test_a_folder_of_documents_moved_in_is_a_change(tmp_path, poll):
    """A folder moved in from elsewhere (documents/archive made in one rename) gives the kernel
    one event for the folder and none for the files in it: it must still be reported."""
    root = tmp_path / "s"
    (root / "documents").mkdir(parents=True)
    outside = tmp_path / "prepared"
    outside.mkdir()
    for i in range(3):
        (outside / f"d{i}:v1.json").write_bytes(b"{}")
    seen, lock = [], threading.Lock()

    def cb(batch):
        with lock:
            seen.extend(batch)

    with StoreWatcher(root, cb, poll=poll, interval=0.3, debounce=0.1):
        time.sleep(0.5 if poll else 0.1)
        os.rename(outside, root / "documents" / "archive")
        assert wait_for(lambda: any(c.key.startswith("documents/archive") for c in list(seen)), 10), seen
