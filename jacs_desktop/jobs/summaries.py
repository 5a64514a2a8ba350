"""The summaries of many versions of a local folder store, read on every core.

The first open of a big folder store reads every version's body for its title and
signer. ``batches`` hands the rows to ``fill_summaries`` a batch at a time; when many
summaries are missing from the index cache and the store is a folder on this machine,
a pool of processes reads, parses and summarizes the files, and each batch comes back,
in order, with its summaries in the cache, so the window fills as they land.

A :class:`Reader` starts that work while the folder is still being listed: the listing
hands it each batch of names (``feed``), a thread of its own finds which have no summary
in the cache and gives them to the pool, so the bodies are read on the other core while
the names are still coming, not only once the listing is done. ``batches`` then waits
only for the work of the rows it hands back (``Reader.wait_for``).

A folder is listed without a stat per file (a stat of 100,000 files costs the listing about
0.3 s more), so its refs say nothing of the files' sizes and times, and a cached summary is
used only once its file is seen unchanged (``IndexCache.observe``). With a pool, the workers
do that too: an entry in the cache comes with the stamp it was written with, the worker stats
the file (on the other core, while the folder is still being listed) and reads the body again
only when the size or modification time differ; a file changed in place (same name, new
content: hand-edited, tampered) shows its new title and signer. Without a pool the stats are
done here, batch by batch (``stamp_here``). A stamp seen by a stat holds the change time too,
which the system sets at every change and no program can set back: a file edited to the same
size with its modification time put back is read again too. A body is read with its status
(one open, ``FsStore.get_with_stat``), and its entry written with that stamp.

The workers are forked from a *fork server* (``multiprocessing``'s ``forkserver``): a fresh
process, started once, that has imported this module and runs no other thread. They are never
forked from the window's process itself, whose other threads (Qt's, the job pool's) may hold a
lock (malloc, logging, imports, sqlite) at the moment of a fork, which the child would then
wait for forever. Measured on two busy cores: the server starts in about 0.6 s (once; see
``prestart``), a pool of two workers from it in 0.07 s, like a fork; a pool of new interpreters
(``spawn``) costs 1 s on every open. Each worker writes its batch to the cache file in one
transaction, one worker at a time (a lock shared by the pool: without it a worker waiting for
SQLite's write lock slept in steps of up to 100 ms, half of a worker's time on two cores).

A summary is what the window shows, never a verdict: every verdict is computed from
the body by the verifier. Whatever goes wrong with the pool (no fork server on this system,
a worker killed or stuck), the summaries left are read here, one by one, as before.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import stat
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from ..core.checks import MAX_DOCUMENT_BYTES
from ..storage.base import StorageError
from ..storage.fs import FsStore
from ..storage.index import UNKNOWN_STAMP, IndexCache, parse_summaries, stamp_text, summary_json, summary_of_bytes
from ..storage.layout import Ref
from ..storage.store import Store
from .common import CancelToken

__all__ = ["batches", "BATCH", "PARALLEL_MIN", "CHECK_MIN", "parallel_ok", "prestart", "Reader", "stamp_here"]

#: rows per batch handed back, and names per task of the pool
BATCH = 1000
#: fewer missing summaries than this: read here (starting processes would cost more)
PARALLEL_MIN = 2000
#: fewer entries to check (a stat each, about 4 us) and to read than this, and fewer to read
#: than ``PARALLEL_MIN``: all done here
CHECK_MIN = 20_000
#: seconds the batch handed back next may keep the window waiting for a worker before the pool
#: is given up (a worker stuck: a hung disk or network mount); the rest are read here. A batch
#: takes a worker well under a second on a local disk.
STUCK_S = 8.0

_log = logging.getLogger(__name__)


class _HasRefs(Protocol):
    refs: list[Ref]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def _fork_server_usable() -> bool:
    """Linux with multiprocessing's fork server, and not a frozen bundle: there the fork server
    would start the bundle's own program (``sys.executable``), which is the app, not Python."""
    return (sys.platform.startswith("linux") and not getattr(sys, "frozen", False)
            and "forkserver" in multiprocessing.get_all_start_methods())


def parallel_ok(store: Store) -> bool:
    """A folder on this machine, on a system with a usable fork server, with more than one core."""
    return isinstance(store.objects, FsStore) and _fork_server_usable() and _cores() > 1


def _context() -> Any:
    ctx = multiprocessing.get_context("forkserver")
    # the server imports the main module once (else each worker would run it again: the
    # window's imports Qt) and this module (each worker then starts with it imported)
    ctx.set_forkserver_preload(["__main__", __name__])
    return ctx


def prestart() -> None:
    """Start the fork server now, so the first big folder opened does not wait for it (it is
    ready half a second later; this returns at once). Safe from any thread: the server is a
    new interpreter that runs nothing else. An error only means the pool is not used."""
    if not _fork_server_usable():
        return
    from multiprocessing import forkserver

    _context()
    try:
        forkserver.ensure_running()
    except (OSError, ValueError) as exc:
        _log.warning("no fork server for the summaries: %s", exc)


_objects: FsStore | None = None
_write_lock: Any = None


def _init(objects: FsStore, lock: Any = None) -> None:
    global _objects, _write_lock
    _objects = objects
    _write_lock = lock


def _prefix(objects: FsStore) -> str:
    return str(objects.root) + os.sep


def _stat(prefix: str, key: str) -> os.stat_result | None:
    """*key*'s file as it is now (a stat; a link is followed, as a read follows it inside the
    store), or None: not a regular file, or it cannot be looked at (then it is read, and the
    read says why). Only compared with a cached entry's stamp: nothing is opened."""
    try:
        st = os.stat(prefix + (key if os.sep == "/" else key.replace("/", os.sep)))
    except (OSError, ValueError):
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def _stamp_now(prefix: str, key: str) -> str | None:
    st = _stat(prefix, key)
    return None if st is None else stamp_text(st.st_size, st.st_mtime, st.st_ctime_ns)


def _unchanged(prefix: str, key: str, have: str) -> bool:
    """*key*'s file has the stamp *have* (``stamp_text``: size, modification time and change time)
    now (compared as numbers: formatting the stat's times would cost more than the stat). A stamp
    without a change time (a listing's, or an entry of an older version) is never current here."""
    parts = have.split("|")
    if len(parts) != 3:
        return False
    st = _stat(prefix, key)
    if st is None:
        return False
    try:
        return st.st_size == int(parts[0]) and st.st_ctime_ns == int(parts[2]) and st.st_mtime == float(parts[1])
    except ValueError:  # (an entry without a time: not one a stat gives)
        return False


#: a task's answer: None when every entry stands (each file has its entry's stamp), else per
#: item None (it stands) or (stamp, summary JSON) of the body read now; and whether those are
#: written to the cache file
Answer = tuple[list[tuple[str, str] | None] | None, bool]


def _summarize_keys(items: list[tuple[str, str | None]], cache_file: Path) -> Answer:
    """In a worker: for each (key, stamp of its cached entry or None) of *items*, None when the
    file has that stamp now (a stat), else its summary read now with the body's stamp (an error
    summary, with an unknown stamp, for a body that cannot be read); and whether the ones read
    are written to the cache file (one transaction, one worker at a time; the main process is
    spared the writing)."""
    assert _objects is not None
    out: list[tuple[str, str] | None] = []
    rows: list[tuple[str, str, str]] = []
    get, prefix = _objects.get_with_stat, _prefix(_objects)
    for key, have in items:
        if have and _unchanged(prefix, key, have):
            out.append(None)
            continue
        try:
            data, fst = get(key, MAX_DOCUMENT_BYTES)
            st = stamp_text(len(data), fst.st_mtime, fst.st_ctime_ns)  # (taken with the read: one open)
            s = summary_of_bytes(key, data)
        except StorageError as exc:
            st, s = UNKNOWN_STAMP, {"error": str(exc)}
        text = summary_json(s)
        out.append((st, text))
        rows.append((key, st, text))
    if not rows:
        return None, True  # (the usual when opened again: nothing to send back but that)
    lock = _write_lock
    # (a worker killed while it held the lock: the others wait STUCK_S, then SQLite's own wait)
    held = lock is not None and lock.acquire(timeout=STUCK_S)
    try:
        written = IndexCache.write_entries(cache_file, rows)
    finally:
        if held:
            lock.release()
    return out, written


def stamp_here(store: Store, cache: IndexCache, refs: Iterable[Ref]) -> None:
    """The files of *refs* listed without a stamp and not seen yet stat'ed here, their stamps
    given to *cache* (``observe``): their entries are then used only if the files match. Only
    for a folder store (other stores' listings give a stamp)."""
    objects = store.objects
    if not isinstance(objects, FsStore):
        return
    todo = cache.unseen(refs)
    if not todo:
        return
    prefix = _prefix(objects)
    seen = [(r.key, st) for r in todo if (st := _stamp_now(prefix, r.key)) is not None]
    cache.observe(seen)


_DONE = object()


class Reader:
    """The pool's work on a folder store's missing summaries, started as the names are listed.

    ``feed(refs)`` (from the listing, any thread: it only queues them) hands over names; a
    thread of the reader reads the cache (once), keeps the names without a current entry (with
    an entry to check against its file: a folder's names come without a stat) and, once there
    are ``PARALLEL_MIN`` to read or ``CHECK_MIN`` in all, starts the pool and gives it every
    ``BATCH`` of them. ``flush()`` (the listing is done) gives it the rest. ``wait_for(refs)`` waits for the
    tasks that read *refs* and puts their summaries in the cache; it returns False once the pool
    is given up (a worker died, or kept the window waiting ``STUCK_S``): the caller reads what
    is missing itself. ``close()`` ends the pool without waiting for it."""

    def __init__(self, store: Store, cache: IndexCache) -> None:
        self.store, self.cache = store, cache
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        #: names not given to the pool yet, each with the stamp of its entry to check (None: to read)
        self._wanted: list[tuple[Ref, str | None]] = []
        #: how many of them are to be read (no entry to check)
        self._reads = 0
        #: the cache's entries' stamps, read before it is preloaded (``IndexCache.stamps``)
        self._stamps: dict[str, str] | None = None
        #: the thread that preloads the cache while the names are checked
        self._preloader: threading.Thread | None = None
        #: each task's names, its items (key, stamp of the entry to check or None) and future (None:
        #: it could not be submitted)
        self._tasks: list[tuple[list[Ref], list[tuple[str, str | None]], Future[Answer] | None]] = []
        self._task_of: dict[str, int] = {}
        self._applied: set[int] = set()
        self._pool: ProcessPoolExecutor | None = None
        self._task = _summarize_keys  # (looked up here: a test puts a slow or dying task in its place)
        #: the pool was given up, or the reader closed: nothing more is submitted
        self.broken = False
        self.closed = False

    @classmethod
    def start(cls, store: Store) -> Reader | None:
        """A reader for *store* with a cache of its own, or None (not a local folder, no fork
        server, one core, or no cache): then ``fill_summaries`` reads as before."""
        if not parallel_ok(store):
            return None
        prestart()
        try:
            cache = IndexCache(store.url)
        except Exception as exc:  # a cache that cannot be opened: read without one, as before
            _log.warning("no index cache: %s", exc)
            return None
        return cls(store, cache)

    # -- the listing's side ------------------------------------------------------------
    def feed(self, refs: Iterable[Ref]) -> None:
        """Names just listed (any thread; returns at once)."""
        if self.closed:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="summaries-reader", daemon=True)
                self._thread.start()
        self._queue.put(list(refs))

    def flush(self, timeout: float = STUCK_S) -> None:
        """Every name fed is looked at and the missing ones given to the pool (when it runs),
        and the cache's entries are preloaded."""
        with self._lock:
            thread = self._thread
        if thread is None:
            self._preload()
            return
        self._queue.put(_DONE)
        thread.join(timeout)
        if thread.is_alive():  # (the fork server does not answer: its thread is left to it)
            self._give_up(TimeoutError("the summaries' pool did not start"))
        preloader = self._preloader
        if preloader is not None:
            preloader.join()

    def _preload(self) -> None:
        if not self.cache.preloaded:
            self.cache.preload()

    def _preload_quietly(self) -> None:
        with contextlib.suppress(Exception):  # (the fill preloads again, and says why it cannot)
            self._preload()

    def _run(self) -> None:
        try:
            # the entries' stamps first (a fraction of the preload): the names are checked against
            # them and given to the pool as they come, while another thread preloads the entries
            # (a preload first kept the workers waiting for it, about a second on a big folder)
            self._stamps = None if self.cache.preloaded else self.cache.stamps()
            self._preloader = threading.Thread(target=self._preload_quietly, name="summaries-preload", daemon=True)
            self._preloader.start()
            while True:
                item = self._queue.get()
                if item is _DONE or self.closed:
                    break
                self._take(item)
            self._submit(final=True)
            self._stamps = None
        except Exception as exc:  # (the cache could not be read: the caller reads everything)
            self._give_up(exc)

    def _take(self, refs: list[Ref]) -> None:
        pending = self.cache.pending(refs, self._stamps)
        if not pending:
            return
        self._wanted += pending
        self._reads += sum(1 for _r, have in pending if have is None)
        self._submit(final=False)

    def _submit(self, final: bool) -> None:
        """(On the reader's thread only. Nothing that may block, such as starting the workers,
        is done holding the lock: ``close`` and ``flush`` never wait for it.)"""
        if self.broken or self.closed:
            return
        pool = self._pool
        if pool is None:
            if self._reads < PARALLEL_MIN and len(self._wanted) < CHECK_MIN:
                return  # few: read (and checked) by the caller, here
            objects = self.store.objects
            assert isinstance(objects, FsStore)  # (parallel_ok)
            # few to read (a folder opened again: its files checked against the cache, a stat
            # each): one worker, which keeps up with the listing, and one process less on the cores
            workers = _cores() if self._reads >= PARALLEL_MIN else 1
            try:
                ctx = _context()
                pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init,
                                           initargs=(objects, ctx.Lock()))
            except (OSError, ValueError) as exc:
                self._give_up(exc)
                return
            with self._lock:
                if self.broken or self.closed:
                    pool.shutdown(wait=False, cancel_futures=True)
                    return
                self._pool = pool
        while len(self._wanted) >= BATCH or (final and self._wanted):
            todo, self._wanted = self._wanted[:BATCH], self._wanted[BATCH:]
            refs = [r for r, _have in todo]
            items = [(r.key, have) for r, have in todo]
            fut = None
            try:
                fut = pool.submit(self._task, items, self.cache.path)
            except Exception as exc:  # the pool broke (a worker died), or was ended (closed)
                self._give_up(exc)
            with self._lock:
                i = len(self._tasks)
                self._tasks.append((refs, items, fut))
                self._task_of.update(dict.fromkeys([k for k, _have in items], i))
            if fut is None or self.broken or self.closed:
                return

    # -- the reading side ----------------------------------------------------------------
    def wait_for(self, refs: Sequence[Ref]) -> bool:
        """The tasks that read or checked *refs* waited for: the summaries read put in the cache,
        the files found unchanged given to it as seen (``IndexCache.observe``). False: the pool
        is given up (the refs still missing or not seen are the caller's to read or check)."""
        tasks = set(map(self._task_of.get, [r.key for r in refs]))  # (in C: a lookup per version)
        wanted = sorted(i for i in tasks if i is not None and i not in self._applied)
        for i in wanted:
            if self.broken:
                return False
            task_refs, items, fut = self._tasks[i]
            if fut is None:
                return False
            try:
                answers, written = fut.result(timeout=STUCK_S)
            except Exception as exc:  # a worker died (killed, out of memory) or is stuck: the rest read here
                if not self.closed:
                    self._give_up(exc)
                return False
            self._applied.add(i)
            if answers is None:  # every file has its entry's stamp (every item had one: else it is read)
                self.cache.observe(items)  # type: ignore[arg-type]
                continue
            stood: list[tuple[str, str]] = []  # (key, stamp): the file has its entry's stamp
            read: list[Ref] = []
            stamps: list[str] = []
            texts: list[str] = []
            for r, (key, have), got in zip(task_refs, items, answers, strict=True):
                if got is None:
                    if have is not None:  # (a worker answers None only for an entry it checked)
                        stood.append((key, have))
                    continue
                read.append(r)
                stamps.append(got[0])
                texts.append(got[1])
                self.store.invalidate(r.key)  # a body read before may have changed
            if stood:
                self.cache.observe(stood)
            if read:
                entries = [(r, s if isinstance(s, dict) else {"error": "unreadable summary"}, t)
                           for r, s, t in zip(read, parse_summaries(texts), texts, strict=True)]
                (self.cache.remember if written else self.cache.put_many)(entries, stamps)
        return not self.broken

    @property
    def pooled(self) -> bool:
        """A pool was started (and not given up)."""
        return self._pool is not None and not self.broken

    def _give_up(self, exc: BaseException) -> None:
        if not self.broken and not self.closed:
            _log.warning("summaries read in one process from now on: %s", exc or type(exc).__name__)
        self.broken = True
        self._end_pool(kill=True)  # a stuck worker is not waited for; the others' work is not needed any more

    def _end_pool(self, kill: bool, wait: bool = False) -> None:
        with self._lock:
            pool = self._pool
        if pool is None:
            return
        for _refs, _items, fut in list(self._tasks):
            if fut is not None:
                fut.cancel()
        if kill:
            _kill(pool)
        pool.shutdown(wait=wait and not kill, cancel_futures=True)

    def close(self, wait: bool = False) -> None:
        """The pool ended; *wait*: for the tasks running (a summary a worker writes is valid
        either way: each batch is one transaction). The cache stays open (its owner closes it)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
        self._end_pool(kill=self.broken, wait=wait)
        self._queue.put(_DONE)


def batches(store: Store, cache: IndexCache | None, rows: Sequence[Any],
            cancel: CancelToken | None = None, reader: Reader | None = None) -> Iterator[Sequence[Any]]:
    """*rows* (with ``refs``) in batches of ``BATCH``; each batch's missing summaries are in
    *cache* once it is handed back when a pool could read them (else the caller reads them),
    and a folder's files are seen (checked against their entries) by then: by the pool, else
    here (``stamp_here``). *reader*: the one the listing fed (its cache is *cache*), else one
    is made here."""
    chunks = [rows[i:i + BATCH] for i in range(0, len(rows), BATCH)]
    if cache is None:
        yield from chunks
        return
    if not parallel_ok(store):
        for chunk in chunks:
            stamp_here(store, cache, [r for row in chunk for r in row.refs])
            yield chunk
        return
    if reader is None:
        reader = Reader(store, cache)
        reader.feed([r for row in rows for r in row.refs])
    try:
        reader.flush()
        for chunk in chunks:
            if cancel is not None and cancel.is_set():
                return
            refs = [r for row in chunk for r in row.refs]
            if not (reader.pooled and reader.wait_for(refs)):
                stamp_here(store, cache, refs)  # what no worker saw: every file without a pool, else what it gave up
            yield chunk
    finally:
        reader.close(wait=True)  # every task's result was taken: the workers end at once


def _kill(pool: ProcessPoolExecutor) -> None:
    """End the pool's workers now (``shutdown`` would wait for a stuck one)."""
    procs: dict[int, Any] = getattr(pool, "_processes", None) or {}
    for proc in list(procs.values()):
        with contextlib.suppress(Exception):
            proc.kill()
