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
    """By size and modification time when the listing gives them (a folder listing without
    them: the entry stands; the verdict is computed from the body either way)."""
    from dataclasses import replace

    from jacs_desktop.storage.layout import Ref

    refs = [Ref("document", f"id{i}", "v1", f"documents/id{i}:v1.json", 100 + i, 5.0) for i in range(6)]
    cache = IndexCache("memory://missing", tmp_path)
    for r in refs[:4]:
        cache.put(r, {"title": r.id})
    cache.flush()
    cache.preload()
    changed = replace(refs[1], size=999)
    asked = [refs[0], changed, refs[2], refs[4], replace(refs[3], size=0, mtime=None)]
    assert cache.missing(asked) == [changed, refs[4]]
    assert [r for r in asked if not cache.fresh(r)] == [changed, refs[4]]
    cache.close()


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
