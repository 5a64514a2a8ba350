"""Verify everything in a store (any backend): a cancellable job with progress.

The same tree gives the same verdicts whether it is a folder, a ``file://``
URL, S3, SQLite or memory: configs, agents, documents (every stored copy),
archived documents; keys and attachments are looked up through the
:class:`~jacs_desktop.storage.store.Store`. Something that cannot be read is
``error`` ("not checked"), never ``invalid``.

A folder store is verified by a pool of processes (one per core): each reads
and verifies a slice of the versions with its own view of the same folder,
and the verdicts come back in the listing's order, a few slices ahead at
most, so memory stays flat in the store's size when the caller does not keep
them (``keep=False`` with ``on_result``: the CLI writes each one as it comes).
Other backends, small stores and callers on a thread of a larger program are
verified in this process (a client connection or a Qt thread must not be
copied into another process).
"""

from __future__ import annotations

import collections
import itertools
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..core.verify import ERROR, INVALID, LEGACY, UNVERIFIABLE, VALID, Verdict
from ..storage.base import StorageError
from ..storage.fs import FsStore
from ..storage.layout import Ref
from ..storage.store import Store
from .common import Cancelled, CancelToken, ProgressFn

__all__ = ["VerifyReport", "verify_store", "stream_store", "worker_count", "Cancelled", "ProgressFn", "CancelToken"]

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
    results = _in_pool(store, iter(refs), n, None, cancel) if n > 1 else ((None, store.verify(r)) for r in refs)
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
) -> VerifyReport:
    """Verify like :func:`verify_store`, in the listing's order, while the store is being listed:
    ``write(render(verdict))`` for each (*render* runs where the verdict is made, in a worker
    process for a folder store: a module-level function). The report holds the counts only,
    so memory stays flat in the store's size. Raises :class:`Cancelled` like verify_store."""
    start = time.perf_counter()
    report = VerifyReport()
    refs = _listing(store, report, ordered=False)
    head = list(itertools.islice(refs, MIN_PARALLEL))
    n = _pool_size(store, len(head), workers)  # (a pool once the listing has MIN_PARALLEL versions)
    everything = itertools.chain(head, refs)
    results = (_in_pool(store, everything, n, render, cancel) if n > 1
               else ((v.status, render(v)) for v in map(store.verify, everything)))
    counts = report.streamed
    try:
        for status, text in results:
            counts[status] = counts.get(status, 0) + 1
            write(text)
            if cancel is not None and cancel.is_set():
                raise Cancelled(report)
    except Cancelled:
        report.seconds = time.perf_counter() - start
        raise Cancelled(report) from None
    finally:
        results.close()
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


# ------------------------------------------------------------------ the process pool

def _pool_size(store: Store, total: int, workers: int | None) -> int:
    if workers is not None:
        return min(workers, max(1, total)) if type(store.objects) is FsStore else 1
    if total < MIN_PARALLEL or type(store.objects) is not FsStore:
        return 1
    if threading.active_count() > 1 and _start_method() == "fork":
        return 1  # forking a process that runs other threads (a GUI, a server) is not safe
    return min(worker_count(), 8)


def _start_method() -> str:
    # fork: the workers start at once (nothing to import again); where fork is not the safe
    # default (macOS, Windows) they start a new interpreter
    return "fork" if sys.platform.startswith("linux") else "spawn"


_WORKER_STORE: Store | None = None
#: each worker reads every version once: a small read cache (earlier versions for agreements), not 64 MiB
WORKER_CACHE_BYTES = 4 * 1024 * 1024


def _init_worker(recipe: tuple[str, Any, int]) -> None:
    global _WORKER_STORE
    import gc

    root, layout, max_read = recipe
    _WORKER_STORE = Store(FsStore(root, max_read_bytes=max_read), layout, cache_bytes=WORKER_CACHE_BYTES)
    # parsed documents hold no reference cycles: collect rarely (the pool's work is short-lived objects)
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _verify_chunk(refs: list[Ref], render: Callable[[Verdict], str] | None) -> list[tuple[str, Any]]:
    store = _WORKER_STORE
    assert store is not None
    out: list[tuple[str, Any]] = []
    for r in refs:
        v = store.verify(r)
        out.append((v.status, render(v) if render is not None else v))
    return out


def _in_pool(store: Store, refs: Iterator[Ref], n: int, render: Callable[[Verdict], str] | None,
             cancel: CancelToken | None) -> Generator[tuple[str, Any], None, None]:
    """(status, verdict or its rendering) of *refs* in order, verified by *n* processes, at most
    ``n * AHEAD`` slices ahead of the caller."""
    method = _start_method()
    objects = store.objects
    assert isinstance(objects, FsStore)
    # the same folder and layout, opened again in each worker (nothing of this process is shared)
    recipe = (str(objects.root), store.layout, objects.max_read_bytes)
    ctx = multiprocessing.get_context(method)
    pool = ctx.Pool(n, initializer=_init_worker, initargs=(recipe,))
    try:
        pending: collections.deque[Any] = collections.deque()

        def submit() -> bool:
            chunk = list(itertools.islice(refs, CHUNK))
            if chunk:
                pending.append(pool.apply_async(_verify_chunk, (chunk, render)))
            return bool(chunk)

        while len(pending) < n * AHEAD and submit():
            pass
        while pending:
            first = pending.popleft()
            while True:  # wait in short steps, so a cancel is seen while a slice is verified
                try:
                    results = first.get(timeout=0.2)
                    break
                except multiprocessing.TimeoutError:
                    if cancel is not None and cancel.is_set():
                        raise Cancelled(None) from None
            submit()
            yield from results
    finally:
        pool.terminate()
        pool.join()
