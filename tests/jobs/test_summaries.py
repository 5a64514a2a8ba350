"""A big folder store's summaries read on every core (jobs/summaries, issue 14): the rows get
exactly the titles, signers and error texts the one-process path gives them, bodies that are
not JSON objects and bodies only the standard json module reads included; the rows come back
in batches, in order; a worker that dies costs nothing but time; the cache written that way
serves the next open."""

import json
import os
import time
from pathlib import Path

import pytest

from jacs_desktop.jobs import summaries
from jacs_desktop.jobs.browse import SnapshotBuilder, fill_summaries, stream_refs
from jacs_desktop.storage.fs import FsStore
from jacs_desktop.storage.index import IndexCache
from jacs_desktop.storage.store import Store

pytestmark = pytest.mark.skipif(not summaries.parallel_ok(Store(FsStore(os.getcwd()))),
                                reason="no fork on this system, or one core")

AGENT = "a1a1a1a1-0000-4000-8000-000000000001"
ODD = [
    b"{not json",
    b"[1, 2, 3]",
    b'"just a string"',
    b'{"title": NaN, "jacsType": "header"}',  # json reads it, orjson does not
    b'{"title": "big", "n": 123456789012345678901234567890}',  # over 64 bits
    b'{"title": "lone \\ud800 surrogate"}',
    b'{"jacsDocument": {"content": {"amount": 1, "emoji \xf0\x9f\x8e\x89": [1.5, true]}}}',
    b'{"title": "\xc3\x84rger", "jacsSignature": {"agentID": "' + AGENT.encode() + b'"}}',
]


def _store(root, n=90):
    docs = root / "documents"
    docs.mkdir(parents=True)
    for i in range(n):
        jid = f"{i:08d}-0000-4000-8000-000000000000"
        for v in range(1 + i % 3):
            ver = f"{v:08d}-1111-4000-8000-000000000000"
            if i < len(ODD) and v == 0:
                body = ODD[i]
            else:
                body = json.dumps({"jacsId": jid, "jacsVersion": ver, "title": f"doc {i} v{v} 🎉",
                                   "jacsVersionDate": f"2025-01-0{v + 1}T00:00:00Z", "jacsType": "header",
                                   "jacsSignature": {"agentID": AGENT}, "jacsFiles": [{}] * (i % 2)}).encode()
            (docs / f"{jid}:{ver}.json").write_bytes(body)
    (root.parent / "outside.json").write_text('{"title": "outside"}')
    (docs / "99999999-0000-4000-8000-000000000000:v1.json").symlink_to(root.parent / "outside.json")
    os.mkfifo(docs / "99999998-0000-4000-8000-000000000000:v1.json")  # opened, a FIFO would never end
    return Store(FsStore(root))


def _snapshot(store):
    b = SnapshotBuilder(store)
    stream_refs(store, b.add)
    return b.snapshot()


def _shown(snap):
    return {r.id: (r.title, r.type, r.date, r.signer, r.attachments, r.latest_key, r.search_text(),
                   {k: dict(v) for k, v in r.summaries.items()}) for r in snap.documents}


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(summaries, "BATCH", 7)
    monkeypatch.setattr(summaries, "PARALLEL_MIN", 10)


def _fill(store, cache_dir, on_rows=None):
    snap = _snapshot(store)
    if _SPY:  # the workers come from a fork server: they learn what to do from a file
        cache_dir.mkdir(parents=True, exist_ok=True)
        (cache_dir / "spy.json").write_text(json.dumps(_SPY))
    cache = IndexCache(store.url, cache_dir)
    try:
        fill_summaries(snap, cache, on_rows=on_rows)
    finally:
        cache.close()
    return snap


def _one_process(store, tmp_path, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(summaries, "parallel_ok", lambda _store: False)
        return _fill(store, tmp_path / "one")


_SPY = {}


def spy_task(items, cache_file):
    """The pool's task in a worker, recording the process that ran it; told by spy.json beside
    the cache file to end its process or to hang at a key (a real worker that dies or hangs)."""
    spy = json.loads((cache_file.parent / "spy.json").read_text())
    if any(key == spy.get("die_at") for key, _stamp in items):
        os._exit(3)
    if any(key == spy.get("stuck_at") for key, _stamp in items):
        time.sleep(3600)  # as if stuck on a hung disk
    (Path(spy["dir"]) / str(os.getpid())).write_text(str(os.getppid()))
    return summaries._summarize_keys(items, cache_file)  # (the worker's own module: the real task)


def _pids(tmp_path, monkeypatch, die_at=None):
    seen = tmp_path / "pids"
    seen.mkdir()
    monkeypatch.setitem(_SPY, "dir", str(seen))
    monkeypatch.setitem(_SPY, "die_at", die_at)
    monkeypatch.setattr(summaries, "_summarize_keys", spy_task)
    return seen


def test_parallel_summaries_are_the_one_process_ones(tmp_path, monkeypatch, small_batches):
    store = _store(tmp_path / "store")
    want = _shown(_one_process(store, tmp_path, monkeypatch))
    seen = _pids(tmp_path, monkeypatch)
    batches = []
    snap = _fill(store, tmp_path / "par", on_rows=lambda rows: batches.append([r.id for r in rows]))
    assert _shown(snap) == want
    workers = {int(p.name) for p in seen.iterdir()}
    assert workers and os.getpid() not in workers  # read by the pool, not here
    # in batches, in the table's order, every row once
    assert [i for b in batches for i in b] == [r.id for r in snap.documents]
    assert len(batches) == -(-len(snap.documents) // summaries.BATCH)
    odd = {r.id: r for r in snap.documents}
    assert "not valid JSON" in odd["00000000-0000-4000-8000-000000000000"].summaries[
        "00000000-1111-4000-8000-000000000000"]["error"]
    assert odd["00000003-0000-4000-8000-000000000000"].summaries[
        "00000000-1111-4000-8000-000000000000"]["type"] == "header"  # NaN: read by json
    link = odd["99999999-0000-4000-8000-000000000000"].summaries["v1"]
    assert "error" in link and "title" not in link  # a link out of the store is not read
    fifo = odd["99999998-0000-4000-8000-000000000000"].summaries["v1"]
    assert "FIFO" in fifo["error"] and "title" not in fifo  # said, not waited for
    # opened again: every summary from the cache, the same rows
    for p in seen.iterdir():
        p.unlink()
    again = _fill(store, tmp_path / "par")
    assert _shown(again) == want
    assert not list(seen.iterdir())  # nothing to read: no pool


def test_a_worker_that_dies_costs_only_time(tmp_path, monkeypatch, small_batches, caplog):
    store = _store(tmp_path / "store")
    want = _shown(_one_process(store, tmp_path, monkeypatch))
    snap = _snapshot(store)
    victim = snap.documents[30].refs[0].key
    _pids(tmp_path, monkeypatch, die_at=victim)
    assert _shown(_fill(store, tmp_path / "par")) == want
    assert "read in one process from now on" in caplog.text


def test_a_stuck_worker_is_given_up(tmp_path, monkeypatch, small_batches, caplog):
    store = _store(tmp_path / "store")
    want = _shown(_one_process(store, tmp_path, monkeypatch))
    victim = _snapshot(store).documents[40].refs[0].key
    _pids(tmp_path, monkeypatch)
    monkeypatch.setitem(_SPY, "stuck_at", victim)
    monkeypatch.setattr(summaries, "STUCK_S", 1.0)
    t = time.monotonic()
    assert _shown(_fill(store, tmp_path / "par")) == want
    assert time.monotonic() - t < 30 and "from now on" in caplog.text


def test_the_workers_are_not_forked_from_this_process(tmp_path, monkeypatch, small_batches):
    """This process runs other threads (as the window's does): its workers come from the fork
    server, whose parent is not this process."""
    import threading

    store = _store(tmp_path / "store")
    seen = _pids(tmp_path, monkeypatch)
    stop = threading.Event()
    busy = threading.Thread(target=stop.wait)
    busy.start()
    try:
        _fill(store, tmp_path / "par")
    finally:
        stop.set()
        busy.join()
    parents = {int(p.read_text()) for p in seen.iterdir()}
    assert parents and os.getpid() not in parents
    assert summaries.STUCK_S <= 10  # a user waits no longer than that for a stuck worker


def test_few_missing_summaries_are_read_here(tmp_path, monkeypatch):
    store = _store(tmp_path / "store", n=20)
    seen = _pids(tmp_path, monkeypatch)
    snap = _fill(store, tmp_path / "c")  # fewer than PARALLEL_MIN
    assert all(r.title or r.summaries for r in snap.documents)
    assert not list(seen.iterdir())


def test_missing_summaries_are_those_without_a_current_entry(tmp_path):
    """By size and modification time when the listing gives them; a ref listed without them (a
    folder listed without a stat) has no current entry until its file is seen with the entry's
    stamp (``observe``); until then ``pending`` gives the entry's stamp to check it against."""
    from dataclasses import replace

    from jacs_desktop.storage.layout import Ref

    refs = [Ref("document", f"id{i}", "v1", f"documents/id{i}:v1.json", 100 + i, 5.0) for i in range(6)]
    cache = IndexCache("memory://missing", tmp_path)
    for r in refs[:4]:
        cache.put(r, {"title": r.id})
    cache.flush()
    cache.preload()
    changed = replace(refs[1], size=999)
    bare = replace(refs[3], size=0, mtime=None)
    asked = [refs[0], changed, refs[2], refs[4], bare]
    assert cache.missing(asked) == [changed, refs[4], bare]
    assert [r for r in asked if not cache.fresh(r)] == [changed, refs[4], bare]
    assert cache.pending(asked) == [(changed, None), (refs[4], None), (bare, "103|5.0")]
    assert cache.get(bare) is None and cache.unseen(asked) == [bare]
    cache.observe([(bare.key, "103|5.0")])  # seen unchanged
    assert cache.missing(asked) == [changed, refs[4]] and cache.get(bare) == {"title": "id3"}
    cache.observe([(bare.key, "103|6.0")])  # seen changed
    assert cache.pending([bare]) == [(bare, None)] and cache.get(bare) is None
    cache.close()


# -- a file changed in place (same name, new content) -------------------------------------

SIGNER, SIGNER2, SIGNER3 = "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002", \
    "cccccccc-0000-4000-8000-000000000003"
AGENT_ID = "dddddddd-0000-4000-8000-000000000004"


def _doc(i, title, signer):
    return json.dumps({"jacsId": f"{i:08d}-0000-4000-8000-000000000000", "jacsVersion": "v1", "title": title,
                       "jacsType": "header", "jacsSignature": {"agentID": signer}}).encode()


def _agent(name):
    return json.dumps({"jacsId": AGENT_ID, "jacsVersion": "v1", "jacsType": "agent", "name": name}).encode()


def _changing_store(root, n):
    (root / "documents").mkdir(parents=True)
    (root / "agent").mkdir()
    for i in range(n):
        (root / "documents" / f"{i:08d}-0000-4000-8000-000000000000:v1.json").write_bytes(_doc(i, f"title {i:04d}",
                                                                                                 SIGNER))
    (root / "agent" / f"{AGENT_ID}:v1.json").write_bytes(_agent("first name"))
    return Store(FsStore(root))


def _rewrite(path, data):
    """*data* written over *path* in place (the same file), its time moved on by 3 s (a clock
    that ticks coarsely could give the old time again)."""
    old = path.stat().st_mtime_ns
    with open(path, "r+b") as f:
        f.truncate(0)
        f.write(data)
    os.utime(path, ns=(old + 3_000_000_000, old + 3_000_000_000))


def counting_task(items, cache_file):
    """The pool's task in a worker, each body it reads noted in ``reads/<pid>`` beside the cache."""
    objects = summaries._objects
    real = type(objects).get_with_stat
    log = cache_file.parent / "reads" / str(os.getpid())

    def counted(key, limit=None):
        with open(log, "a") as f:
            f.write(key + "\n")
        return real(objects, key, limit)

    objects.get_with_stat = counted
    try:
        return summaries._summarize_keys(items, cache_file)
    finally:
        del objects.get_with_stat

def _fill_counted(store, cache_dir, monkeypatch):
    """``_fill`` with every document body read (here or by a worker) counted: (snapshot, keys read)."""
    here = []
    real = FsStore.get_with_stat

    def counted(self, key, limit=None):
        here.append(key)
        return real(self, key, limit)

    reads = cache_dir / "reads"
    reads.mkdir(parents=True, exist_ok=True)
    for f in reads.iterdir():
        f.unlink()
    with monkeypatch.context() as m:
        m.setattr(FsStore, "get_with_stat", counted)
        m.setattr(summaries, "_summarize_keys", counting_task)
        snap = _fill(store, cache_dir)
    workers = [k for f in reads.iterdir() for k in f.read_text().split()]
    docs = sorted(k for k in here + workers if k.startswith("documents/"))
    return snap, docs, bool(workers)


def _entries(cache_dir, store):
    import sqlite3

    cache = IndexCache(store.url, cache_dir)
    path = cache.path
    cache.close()
    with sqlite3.connect(path) as db:
        return {k: st for k, st in db.execute("SELECT key, stamp FROM entry ORDER BY rowid")}


@pytest.mark.parametrize("mode", ["pool", "few", "one process"])
def test_a_file_changed_in_place_is_read_again(tmp_path, monkeypatch, mode):
    """A folder is listed without a stat per file: an entry is used only once its file is seen
    with the entry's size and modification time (by the workers, or here). A file rewritten in
    place with the same size and a new time, and one with a new size, show their new title and
    signer when the store is opened again; the others come from the cache, unread; the entries
    carry the stamps of the files they were read from."""
    if mode == "pool":  # the first open and the next ones read and check on the pool
        monkeypatch.setattr(summaries, "BATCH", 7)
        monkeypatch.setattr(summaries, "PARALLEL_MIN", 10)
        monkeypatch.setattr(summaries, "CHECK_MIN", 10)
    elif mode == "one process":
        monkeypatch.setattr(summaries, "parallel_ok", lambda _store: False)
    n = 40
    store = _changing_store(tmp_path / "store", n)
    cache_dir = tmp_path / "cache"
    snap, read, pooled = _fill_counted(store, cache_dir, monkeypatch)
    assert len(read) == n and pooled == (mode == "pool")
    assert {r.title for r in snap.documents} == {f"title {i:04d}" for i in range(n)}
    # every entry written with the stamp of the file it was read from
    docs = store.objects.root / "documents"
    entries = _entries(cache_dir, store)
    for key, st in entries.items():
        s = (store.objects.root / key).stat()
        assert st == f"{s.st_size}|{s.st_mtime}|{s.st_ctime_ns}", key

    same = docs / "00000003-0000-4000-8000-000000000000:v1.json"
    grown = docs / "00000007-0000-4000-8000-000000000000:v1.json"
    before = same.stat().st_size
    _rewrite(same, _doc(3, "TITLE 0003", SIGNER2))  # the same size, another title and signer
    assert same.stat().st_size == before
    _rewrite(grown, _doc(7, "a longer title than before", SIGNER3))
    agent = store.objects.root / "agent" / f"{AGENT_ID}:v1.json"
    _rewrite(agent, _agent("other name"))  # (the same size too)
    # the same size, and its modification time put back as it was: only the change time tells
    hidden = docs / "00000011-0000-4000-8000-000000000000:v1.json"
    st0 = hidden.stat()
    time.sleep(0.01)  # (a change time a tick later than the entry's)
    with open(hidden, "r+b") as f:
        f.truncate(0)
        f.write(_doc(11, "SECRT 0011", SIGNER2))
    os.utime(hidden, ns=(st0.st_atime_ns, st0.st_mtime_ns))
    st1 = hidden.stat()
    assert (st1.st_size, st1.st_mtime_ns) == (st0.st_size, st0.st_mtime_ns)
    assert st1.st_ctime_ns != st0.st_ctime_ns  # (what a file system with a coarse clock could not show)

    snap, read, pooled = _fill_counted(store, cache_dir, monkeypatch)
    assert read == sorted(f"documents/{p.name}" for p in (same, grown, hidden))  # the others: from the cache
    assert pooled == (mode == "pool")  # (with a pool: its workers checked the files)
    rows = {r.id: r for r in snap.documents}
    assert (rows["00000003-0000-4000-8000-000000000000"].title,
            rows["00000003-0000-4000-8000-000000000000"].signer) == ("TITLE 0003", SIGNER2)
    assert (rows["00000007-0000-4000-8000-000000000000"].title,
            rows["00000007-0000-4000-8000-000000000000"].signer) == ("a longer title than before", SIGNER3)
    assert (rows["00000011-0000-4000-8000-000000000000"].title,
            rows["00000011-0000-4000-8000-000000000000"].signer) == ("SECRT 0011", SIGNER2)
    assert all(r.title == f"title {int(r.id[:8]):04d}" and r.signer == SIGNER for i, r in rows.items()
               if i[:8] not in ("00000003", "00000007", "00000011"))
    assert [a.name for a in snap.agents] == ["other name"]
    # opened a third time: nothing read (the new entries carry the files' new stamps)
    snap, read, _pooled = _fill_counted(store, cache_dir, monkeypatch)
    assert read == [] and rows.keys() == {r.id for r in snap.documents}
    assert {r.id: (r.title, r.signer) for r in snap.documents} == {i: (r.title, r.signer) for i, r in rows.items()}


def test_an_unreadable_file_is_not_left_to_its_cached_summary(tmp_path, monkeypatch):
    """A file that could be read once and no longer can (now a FIFO under the same name): the
    cached title is not shown; the error is."""
    monkeypatch.setattr(summaries, "BATCH", 7)
    monkeypatch.setattr(summaries, "PARALLEL_MIN", 10)
    monkeypatch.setattr(summaries, "CHECK_MIN", 10)
    store = _changing_store(tmp_path / "store", 20)
    cache_dir = tmp_path / "cache"
    _fill_counted(store, cache_dir, monkeypatch)
    gone = store.objects.root / "documents" / "00000005-0000-4000-8000-000000000000:v1.json"
    gone.unlink()
    os.mkfifo(gone)
    snap, read, pooled = _fill_counted(store, cache_dir, monkeypatch)
    assert pooled and read == [f"documents/{gone.name}"]
    row = next(r for r in snap.documents if r.id.startswith("00000005"))
    assert row.title is None and "FIFO" in row.summaries["v1"]["error"]


def test_no_fork_server_in_a_frozen_bundle(tmp_path, monkeypatch):
    """In a PyInstaller bundle ``sys.executable`` is the app itself: a fork server would start a
    second app (which held the smoke test's pipes open until its timeout). The summaries are
    then read in this process, and prestart starts nothing."""
    import multiprocessing.forkserver as fs
    import sys

    store = Store(FsStore(tmp_path))
    monkeypatch.delattr(sys, "frozen", raising=False)
    assert summaries._fork_server_usable() == (sys.platform.startswith("linux"))
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert not summaries.parallel_ok(store)
    started = []
    monkeypatch.setattr(fs, "ensure_running", lambda: started.append(1))
    summaries.prestart()
    assert started == []


def test_the_pool_reads_while_the_folder_is_listed(tmp_path, monkeypatch, small_batches):
    """The reader the listing feeds (as the window's session does) gives the pool each batch of
    missing names as they are listed: by the end of the listing every one is handed out, and the
    rows get what the one-process path gives them; opened again, nothing is read."""
    store = _store(tmp_path / "store")
    want = _shown(_one_process(store, tmp_path, monkeypatch))
    seen = _pids(tmp_path, monkeypatch)
    cache_dir = tmp_path / "listed"
    cache_dir.mkdir()
    (cache_dir / "spy.json").write_text(json.dumps(_SPY))
    monkeypatch.setenv("JACS_DESKTOP_CACHE_DIR", str(cache_dir))
    reader = summaries.Reader.start(store)
    assert reader is not None and reader.cache.path.parent == cache_dir
    b = SnapshotBuilder(store)
    listed = []

    def batch(refs):
        reader.feed(refs)
        b.add(refs)
        listed.append(len(refs))

    stream_refs(store, batch, first_batch=10, batch=20)
    assert len(listed) > 2  # fed batch by batch
    reader.flush()
    versions = sum(len(r.refs) for r in b.snapshot().documents)
    assert reader.pooled and len(reader._tasks) == -(-versions // summaries.BATCH)
    snap = fill_summaries(b.snapshot(), reader=reader)
    reader.close()
    reader.cache.close()
    assert _shown(snap) == want
    assert {int(p.name) for p in seen.iterdir()}  # read by the pool
    for p in seen.iterdir():
        p.unlink()
    again = summaries.Reader.start(store)
    assert again is not None
    snap = _snapshot(store)
    again.feed([r for row in snap.documents for r in row.refs])
    assert _shown(fill_summaries(snap, reader=again)) == want
    assert not again.pooled and not list(seen.iterdir())  # every summary was in the cache
    again.close()
    again.cache.close()


def test_a_reader_closed_before_the_rows_are_filled_leaves_no_worker(tmp_path, monkeypatch, small_batches):
    """A store closed while it is listed: its reader's pool ends at once (nothing waits for it)."""
    store = _store(tmp_path / "store")
    monkeypatch.setenv("JACS_DESKTOP_CACHE_DIR", str(tmp_path / "c"))
    reader = summaries.Reader.start(store)
    assert reader is not None
    reader.feed(store.iter_refs())
    reader.flush()
    assert reader.pooled
    procs = list(reader._pool._processes.values())
    assert procs
    t = time.monotonic()
    reader.close()
    reader.cache.close()
    assert time.monotonic() - t < 1.0
    for p in procs:
        p.join(10)
    assert not [p for p in procs if p.is_alive()]
