"""Verify everything in a store (any backend): a cancellable job with progress.

The same tree gives the same verdicts whether it is a folder, a ``file://``
URL, S3, SQLite or memory: configs, agents, documents (every stored copy),
archived documents; keys and attachments are looked up through the
:class:`~jacs_desktop.storage.store.Store`. Something that cannot be read is
``error`` ("not checked"), never ``invalid``.

Both cores: a store on a folder, SQLite, JSON Lines or memory is verified by a
pool of processes (one per core; :mod:`.workers`). A folder's workers read their slices of the
versions themselves, each with its own view of the same folder; for the other
backends this process reads the bytes and hands them to the workers (each has
its own read-only view of the store for keys, agents and attachments: a new
SQLite connection, the inherited JSON Lines file, a copy of the memory). The
verdicts come back in the listing's order, a few slices ahead at most, so
memory stays flat in the store's size when the caller does not keep them
(``keep=False`` with ``on_result``; :func:`stream_store`: the CLI writes each
one as it comes). Network stores, small stores and callers on a thread of a
larger program are verified in this process (a client connection or a Qt
thread must not be copied into another process).

:func:`verify_items` verifies (name, bytes) items that are not in the store
yet (a restore reading an archive) on the same pool, results in order.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..core.checks import FAILED, MAX_DOCUMENT_BYTES, Check
from ..core.verify import ERROR, INVALID, LEGACY, UNVERIFIABLE, VALID, Verdict
from ..storage.base import ObjectStore, StorageError
from ..storage.fs import FsStore
from ..storage.layout import Ref
from ..storage.memory import MemoryStore
from ..storage.store import Store, read_error_verdict
from .common import Cancelled, CancelToken, ProgressFn
from .workers import ForkPool, SpawnPool, WorkerFailed

__all__ = ["VerifyReport", "verify_store", "stream_store", "verify_items", "worker_count", "Cancelled", "ProgressFn",
           "CancelToken", "WorkerFailed"]

#: versions per task sent to a worker process, and how many tasks may be out at once per worker
CHUNK = 48
AHEAD = 4
#: below this many versions the pool costs more than it saves
MIN_PARALLEL = 400


@dataclass
class VerifyReport:
    results: list[Verdict] = field(default_factory=list)
    #: problems not tied to one checked item (a listing that failed, an unusable config)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: counts by status of verdicts not kept in :attr:`results` (``verify_store(keep=False)``)
    streamed: dict[str, int] = field(default_factory=dict)

    def add(self, verdict: Verdict, keep: bool = True) -> None:
        if keep:
            self.results.append(verdict)
        else:
            self.streamed[verdict.status] = self.streamed.get(verdict.status, 0) + 1

    def counts(self) -> dict[str, int]:
        counts = {VALID: 0, INVALID: 0, UNVERIFIABLE: 0, LEGACY: 0, ERROR: 0}
        for r in self.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        for status, n in self.streamed.items():
            counts[status] = counts.get(status, 0) + n
        return counts

    @property
    def total(self) -> int:
        return len(self.results) + sum(self.streamed.values())

    @property
    def summary(self) -> dict[str, int | float]:
        """Counts by status; ``error``: items not checked (read failures); ``errors``:
        the problems in :attr:`errors`."""
        return {"total": self.total, **self.counts(), "errors": len(self.errors), "seconds": round(self.seconds, 3)}

    @property
    def exit_code(self) -> int:
        """2 when anything is invalid, else 1 when something was not checked, else 0."""
        counts = self.counts()
        if counts[INVALID]:
            return 2
        if self.errors or counts[ERROR]:
            return 1
        return 0

    def to_dict(self) -> dict[str, Any]:
        return {"results": [r.to_dict() for r in self.results], "summary": self.summary, "errors": self.errors}


def worker_count() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def verify_store(
    store: Store,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    *,
    on_result: Callable[[Verdict], None] | None = None,
    keep: bool = True,
    workers: int | None = None,
) -> VerifyReport:
    """Verify every config and every stored copy of every version, in sorted order.

    *on_result* gets each verdict as it comes; with ``keep=False`` the report
    keeps only the counts. *workers*: processes to verify in (None: one per
    core when the store is a folder with enough versions; 0 or 1: this one).
    Raises :class:`Cancelled` with the report so far once *cancel* is set.
    """
    start = time.perf_counter()
    report = VerifyReport()
    refs = list(_listing(store, report, ordered=True))
    total = len(refs)
    n = _pool_size(store, total, workers)
    results = _verified(store, _jobs(iter(refs)), n, None, cancel)
    try:
        for i, ref in enumerate(refs):
            if cancel is not None and cancel.is_set():
                raise Cancelled(report)
            if progress:
                progress(i, total, ref.key.rsplit("/", 1)[-1])
            v = next(results)[1]
            report.add(v, keep)
            if on_result is not None:
                on_result(v)
    except Cancelled:
        report.seconds = time.perf_counter() - start
        raise Cancelled(report) from None
    finally:
        results.close()  # stops the pool
    if progress:
        progress(total, total, "done")
    report.seconds = time.perf_counter() - start
    return report


def stream_store(
    store: Store,
    render: Callable[[Verdict], str],
    write: Callable[[str], None],
    cancel: CancelToken | None = None,
    *,
    workers: int | None = None,
    write_many: Callable[[list[str]], None] | None = None,
) -> VerifyReport:
    """Verify like :func:`verify_store`, in the listing's order, while the store is being listed:
    ``write(render(verdict))`` for each (*render* runs where the verdict is made, in a worker
    process for a folder store: a module-level function), or ``write_many`` of a slice's
    renderings at once when given (a cancel is then seen between slices). The report holds the
    counts only, so memory stays flat in the store's size. Raises :class:`Cancelled` like
    verify_store."""
    start = time.perf_counter()
    report = VerifyReport()
    refs = _listing(store, report, ordered=False)
    head = list(itertools.islice(refs, MIN_PARALLEL))
    n = _pool_size(store, len(head), workers)  # (a pool once the listing has MIN_PARALLEL versions)
    jobs = _jobs(itertools.chain(head, refs))
    slices = (_in_pool_slices(store, jobs, n, render, cancel) if n > 1
              else (([s], [t]) for s, t in _verified(store, jobs, 1, render, cancel)))
    counts = report.streamed
    try:
        for statuses, texts in slices:
            for status in statuses:
                counts[status] = counts.get(status, 0) + 1
            if write_many is not None:
                write_many(texts)
            else:
                for text in texts:
                    write(text)
                    if cancel is not None and cancel.is_set():
                        raise Cancelled(report)
            if cancel is not None and cancel.is_set():
                raise Cancelled(report)
    except Cancelled:
        report.seconds = time.perf_counter() - start
        raise Cancelled(report) from None
    finally:
        slices.close()
    report.seconds = time.perf_counter() - start
    return report


def _listing(store: Store, report: VerifyReport, ordered: bool) -> Iterator[Ref]:
    """The configs, then every stored copy of every version (sorted, or as listed); a listing
    that fails is an error of the report."""
    try:
        yield from store.config_refs()
        for key, why in store.config_problems():
            report.errors.append(f"{key}: {why}")
    except StorageError as exc:
        report.errors.append(f"the configs could not be read: {exc}")
    try:
        if ordered:
            yield from store.refs(unique=False)  # every stored copy is checked
        else:
            yield from store.iter_refs(unique=False)
    except StorageError as exc:
        report.errors.append(f"the store could not be listed: {exc}")


def verify_items(
    store: Store,
    items: Iterable[tuple[str, bytes]],
    *,
    kind: str = "document",
    render: Callable[[Verdict], Any] | None = None,
    workers: int | None = None,
    cancel: CancelToken | None = None,
) -> Generator[tuple[str, Any], None, None]:
    """Verify documents given as (name, bytes) with *store*'s keys, agents and attachments, on the
    pool: yields ``(status, verdict)`` (or ``(status, render(verdict))``) for each item, in the
    order of *items*, while they are read (at most ``workers * AHEAD`` slices ahead).

    Each item is checked as ``store.verify_data(data, path=name, kind=kind)`` would check it
    (*name* becomes the verdict's ``path``); *render* must be a module-level function when a
    pool is used. *workers*: None picks one process per core when fork is safe (Linux, no
    other thread running) and there are enough items; 0 or 1: this process. For a restore:
    hand it the documents read from the archive, before they are stored. Raises
    :class:`Cancelled` (with no report) once *cancel* is set. Close the generator (or run it
    to the end) to stop the workers.
    """
    it = iter(items)
    head = list(itertools.islice(it, MIN_PARALLEL))
    n = _pool_size(store, len(head), workers, fork_only=True)
    jobs = ((kind, None, None, name, data) for name, data in itertools.chain(head, it))
    yield from _verified(store, jobs, n, render, cancel)


# ------------------------------------------------------------------ the process pool

#: a version to verify, as sent to a worker: (kind, id, version, key, data); id and version are
#: None for :func:`verify_items` (no file-name check); data is None when the worker reads the key
#: itself (a folder), bytes, or the message of a read that failed here
_Job = tuple[str, "str | None", "str | None", str, "bytes | str | None"]


def _jobs(refs: Iterator[Ref]) -> Iterator[_Job]:
    return ((r.kind, r.id, r.version, r.key, None) for r in refs)


def _pool_size(store: Store, total: int, workers: int | None, fork_only: bool = False) -> int:
    how = _worker_view(store.objects, "fork" if fork_only else _start_method())
    if workers is not None:
        return min(workers, max(1, total)) if how is not None else 1
    if total < MIN_PARALLEL or how is None:
        return 1
    if threading.active_count() > 1 and _start_method() == "fork":
        return 1  # forking a process that runs other threads (a GUI, a server) is not safe
    return min(worker_count(), 8)


def _start_method() -> str:
    # fork: the workers start at once (nothing to import again); where fork is not the safe
    # default (macOS, Windows) they start a new interpreter
    return "fork" if sys.platform.startswith("linux") else "spawn"


def _worker_view(objects: ObjectStore, method: str) -> tuple[Any, ...] | None:
    """How a worker sees the store: ("fs", root, max read) opens the folder again (any start
    method); with fork, ("sqlite", path) a new connection to the same file, ("inherit",) the
    objects copied by the fork (memory, a JSON Lines file read with pread); None: not in a pool
    (network clients must not be copied into another process)."""
    if type(objects) is FsStore:
        return ("fs", str(objects.root), objects.max_read_bytes)
    if method != "fork":
        return None
    if type(objects) is MemoryStore:
        return ("inherit",)
    # (compared by class only when the module is loaded: a folder store does not import them)
    sqlite = sys.modules.get("jacs_desktop.storage.sqlite")
    if sqlite is not None and type(objects) is sqlite.SqliteStore:
        return ("sqlite", str(objects.path))  # type: ignore[attr-defined]
    jsonl = sys.modules.get("jacs_desktop.storage.jsonl")
    if jsonl is not None and type(objects) is jsonl.JsonlStore:
        return ("inherit",)
    return None


_WORKER_STORE: Store | None = None
#: the store of the process that forks the pool (the workers' "inherit" view starts from it)
_PARENT_STORE: Store | None = None
#: each worker reads every version once: a small read cache (earlier versions for agreements), not 64 MiB
WORKER_CACHE_BYTES = 4 * 1024 * 1024


def _init_worker(view: tuple[Any, ...], layout: Any) -> None:
    global _WORKER_STORE
    import gc

    objects: ObjectStore
    if view[0] == "fs":
        objects = FsStore(view[1], max_read_bytes=view[2], pin_folders=True)  # (a short-lived view)
    elif view[0] == "sqlite":
        from ..storage.sqlite import SqliteStore

        objects = SqliteStore(view[1], create=False)
    else:
        assert _PARENT_STORE is not None
        objects = _PARENT_STORE.objects
    _WORKER_STORE = Store(objects, layout, cache_bytes=WORKER_CACHE_BYTES)
    # parsed documents hold no reference cycles: collect rarely (the pool's work is short-lived objects)
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _verify_job(store: Store, job: _Job) -> Verdict:
    kind, jid, version, key, data = job
    if data is None:
        return store.verify(Ref(kind, jid or "", version or "", key))
    if isinstance(data, str):  # the read failed in the process that lists the store
        return read_error_verdict(kind, jid, version, key, StorageError(data))
    v = store.verify_data(data, path=key, kind=kind)
    if jid is not None and kind != "config" and v.id is not None and (v.id != jid or v.version != version):
        # (as Store.verify: the name the store lists it under must be the document's)
        v.checks.append(Check("file name", FAILED,
                              f"file name says {jid}:{version} but the document is {v.id}:{v.version}"))
        v.status = INVALID
    return v


def _verify_chunk(jobs: list[_Job], render: Callable[[Verdict], Any] | None) -> tuple[list[str], list[Any]]:
    """A worker's task: the statuses and the verdicts (or their renderings) of a slice, in order."""
    store = _WORKER_STORE
    assert store is not None
    statuses: list[str] = []
    out: list[Any] = []
    for job in jobs:
        v = _verify_job(store, job)
        statuses.append(v.status)
        out.append(render(v) if render is not None else v)
    return statuses, out


def _verified(store: Store, jobs: Iterator[_Job], n: int, render: Callable[[Verdict], Any] | None,
              cancel: CancelToken | None) -> Generator[tuple[str, Any], None, None]:
    """(status, verdict or its rendering) of *jobs* in order: in this process when *n* is 1,
    else by *n* worker processes."""
    if n <= 1:
        for job in jobs:
            v = _verify_job(store, job)
            yield v.status, (render(v) if render is not None else v)
        return
    yield from _in_pool(store, jobs, n, render, cancel)


def _warm(store: Store) -> None:
    """What every worker needs, made once before the fork: the schema validators (module caches
    the workers inherit; each worker builds its store's agent directory and key cache itself)."""
    from ..core.schema import validate_document

    validate_document({})


def _in_pool(store: Store, jobs: Iterator[_Job], n: int, render: Callable[[Verdict], Any] | None,
             cancel: CancelToken | None) -> Generator[tuple[str, Any], None, None]:
    """(status, verdict or its rendering) of *jobs* in order, verified by *n* processes, at most
    ``n * AHEAD`` slices ahead of the caller."""
    slices = _in_pool_slices(store, jobs, n, render, cancel)
    try:
        for statuses, outs in slices:
            yield from zip(statuses, outs, strict=True)
    finally:
        slices.close()


def _in_pool_slices(store: Store, jobs: Iterator[_Job], n: int, render: Callable[[Verdict], Any] | None,
                    cancel: CancelToken | None) -> Generator[tuple[list[str], list[Any]], None, None]:
    """(statuses, verdicts or their renderings) of each slice of *jobs*, in order (see
    :func:`_in_pool`)."""
    global _PARENT_STORE
    method = _start_method()
    view = _worker_view(store.objects, method)
    if view is None:  # (verify_items on a platform without fork)
        method = "fork"
        view = _worker_view(store.objects, method)
    assert view is not None
    read_here = view[0] != "fs"  # (a folder's workers read the files themselves)
    objects = store.objects

    def read(job: _Job) -> _Job:
        kind, jid, version, key, data = job
        if data is not None:
            return job
        try:
            return kind, jid, version, key, objects.get_limited(key, MAX_DOCUMENT_BYTES)
        except StorageError as exc:
            return kind, jid, version, key, str(exc)

    def chunks() -> Iterator[list[_Job]]:
        while True:
            chunk = list(itertools.islice(jobs, CHUNK))
            if not chunk:
                return
            yield [read(j) for j in chunk] if read_here else chunk

    _warm(store)
    pool: ForkPool | SpawnPool
    _PARENT_STORE = store
    try:
        initargs = (view, store.layout)
        pool = (ForkPool(n, _init_worker, initargs, _verify_chunk) if method == "fork"
                else SpawnPool(n, _init_worker, initargs, _verify_chunk, method))
    finally:
        _PARENT_STORE = None  # (the workers have their copy; nothing here keeps the store alive)
    try:
        todo = chunks()
        sent = 0
        for chunk in itertools.islice(todo, n * AHEAD):
            pool.submit(sent, (chunk, render))
            sent += 1
        done = 0
        while done < sent:
            statuses, outs = pool.result(done, cancel)
            done += 1
            nxt = next(todo, None)
            if nxt is not None:
                pool.submit(sent, (nxt, render))
                sent += 1
            yield statuses, outs
    finally:
        pool.close()
