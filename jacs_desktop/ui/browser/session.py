"""One ``StoreSession`` per opened store: the store, its snapshot and the work done on it.

Opening a store (or reading it again) makes a new session and closes the last
one. A session runs every read of its store on the worker pool (``run``), so
nothing of a store is read on the GUI thread but what is already in memory
(``with_bodies`` hands over once the bodies are cached). A result, partial or
failure that arrives for a closed session is dropped by the session itself:
nothing of the last store lands in the panes of the next.

``TaskRunner`` is the window's view of the worker pool: every task it starts
is counted for the status bar (progress, Cancel) and can be cancelled.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from ...jobs import summaries
from ...jobs.browse import Snapshot, SnapshotBuilder, fill_summaries, reconcile, stream_refs, verify_ref, verify_rows
from ...jobs.doc_pages import paged_tables, sync_paged
from ..workers import Task, WorkerPool

__all__ = ["TaskRunner", "StoreSession"]

log = logging.getLogger(__name__)


def _close_reader(reader: summaries.Reader) -> None:
    reader.close()
    with contextlib.suppress(Exception):
        reader.cache.close()


class TaskRunner(QObject):
    """Starts tasks on a WorkerPool and reports them: ``busy(label)`` when a visible
    task starts, ``step(label, done, total)``, ``idle()`` once none is left;
    ``failed(exception)`` for a task without its own failure handler."""

    busy = Signal(str)
    step = Signal(str, int, int)
    idle = Signal()
    failed = Signal(object)

    def __init__(self, workers: WorkerPool, parent: QObject | None = None):
        super().__init__(parent)
        self.workers = workers
        self.tasks: list[Task] = []

    def start(self, fn: Callable[..., Any], label: str, on_result=None, on_failure=None, quiet: bool = False,
              on_partial=None) -> Task:
        box: list = [None]

        def finished():
            if box[0] in self.tasks:
                self.tasks.remove(box[0])
            if not self.tasks:
                self.idle.emit()

        task = self.workers.run(fn, on_result=on_result, on_failure=on_failure or self.failed.emit,
                                on_progress=None if quiet else (lambda d, t, _m: self.step.emit(label, d, t)),
                                on_finished=finished, on_partial=on_partial, name=label)
        box[0] = task
        self.tasks.append(task)
        if not quiet:
            self.busy.emit(label)
        return task

    def running(self, task: Task | None) -> bool:
        return task is not None and task in self.tasks

    def cancel_all(self) -> None:
        for t in list(self.tasks):
            t.cancel()
        self.tasks.clear()
        self.idle.emit()


class StoreSession(QObject):
    """The store opened from *url*: listed by ``list``, read and verified through ``run``."""

    #: verify_all hands over the rows verified so far this often
    BATCH_MS = 150

    def __init__(self, runner: TaskRunner, url: str, *, secrets: dict | None = None, cache_bytes: int = 0,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.runner = runner
        self.url = url
        self.secrets = secrets
        self.cache_bytes = cache_bytes
        self.builder: SnapshotBuilder | None = None
        self.snapshot: Snapshot | None = None
        self.closed = False
        self.listing = False
        self._tasks: list[Task] = []
        #: a folder's summaries read by the pool while it is listed (``summaries.Reader``), until
        #: ``read_summaries`` takes it
        self._reader: summaries.Reader | None = None

    # ------------------------------------------------------------------ life
    @property
    def store(self):
        """The snapshot's store, or while the listing runs, the one being listed."""
        if self.snapshot is not None:
            return self.snapshot.store
        return self.builder.store if self.builder is not None else None

    def close(self) -> None:
        """Stop its work, close its store; whatever still arrives for it is dropped."""
        if self.closed:
            return
        self.closed = True
        self.listing = False
        for t in self._tasks:
            t.cancel()
        self._tasks.clear()
        self._drop_reader()
        stores = [x.store for x in (self.snapshot, self.builder) if x is not None]
        self.snapshot = self.builder = None
        for store in {id(st): st for st in stores}.values():
            with contextlib.suppress(Exception):
                store.close()

    def _drop_reader(self) -> None:
        """The listing's reader, not taken by ``read_summaries``: its pool and cache closed."""
        reader, self._reader = self._reader, None
        if reader is not None:  # (on a thread of its own: ending a pool never keeps the window waiting)
            threading.Thread(target=_close_reader, args=(reader,), name="summaries-close", daemon=True).start()

    def _guard(self, fn):
        return None if fn is None else (lambda value: None if self.closed else fn(value))

    def run(self, fn: Callable[..., Any], label: str, on_result=None, on_failure=None, quiet: bool = False,
            on_partial=None) -> Task | None:
        """Run *fn* for this session; its result, partials and failure reach the
        callbacks (on the GUI thread) only while the session is open."""
        if self.closed:
            return None
        task = self.runner.start(fn, label, on_result=self._guard(on_result),
                                 on_failure=self._guard(on_failure or self.runner.failed.emit),
                                 quiet=quiet, on_partial=self._guard(on_partial))
        self._tasks = [t for t in self._tasks if t in self.runner.tasks] + [task]
        return task

    # ------------------------------------------------------------------ listing
    def list(self, on_store, on_rows, on_listed, on_failure) -> None:
        """Open the store and list it: ``on_store(store)`` once it is open,
        ``on_rows(new, grown)`` for each batch, ``on_listed(snapshot)`` at the end."""
        url, secrets, cache_bytes = self.url, self.secrets, self.cache_bytes
        self.listing = True

        def work(partial, cancel):
            from ...storage.urls import open_store

            store = open_store(url, secrets=secrets, cache_bytes=cache_bytes)
            try:
                check = getattr(store.objects, "check", None)
                if check:
                    check()
                partial(("store", store))
                tables = paged_tables(store)
                if tables is None:
                    # a folder's bodies are read by the pool while it is listed (its fork server starts now)
                    reader = self._reader = summaries.Reader.start(store)
                    if self.closed:
                        self._drop_reader()
                        reader = None

                    def batch_listed(batch) -> None:
                        if reader is not None:
                            reader.feed(batch)
                        partial(("refs", batch))

                    stream_refs(store, batch_listed, cancel)
                else:  # SQLite: the documents are read a page at a time, by index
                    partial(("paged", tables))
                    stream_refs(store, lambda batch: partial(("refs", batch)), cancel, documents=False)
                    sync_paged(store, tables, lambda: partial(("synced", None)), cancel)
            except BaseException:
                self._drop_reader()
                store.close()
                raise
            if self.closed:  # closed while listing: the store it opened is closed here
                self._drop_reader()
                store.close()
            return store

        def arrived(item):
            kind, value = item
            if kind == "store":
                self.builder = SnapshotBuilder(value)  # rows selected while the listing runs are read from it
                on_store(value)
            elif kind in ("paged", "synced") and self.builder is not None:
                if kind == "paged":
                    self.builder.paged = value
                on_rows({"agent": [], "document": [], "archived": [], kind: self.builder.paged}, [])
            elif self.builder is not None:
                on_rows(*self.builder.add(value))

        def done(store):
            self.listing = False
            builder = self.builder or SnapshotBuilder(store)
            self.snapshot = builder.snapshot()
            on_listed(self.snapshot)

        def failed(exc):
            self.listing = False
            on_failure(exc)

        self.run(work, _tr("Listing"), on_result=done, on_failure=failed, on_partial=arrived)

    def stop_listing(self) -> bool:
        """Cancel pressed during the listing: what it found so far becomes the snapshot. True if so."""
        self.listing = False
        if self.snapshot is None and self.builder is not None:
            self.snapshot = self.builder.snapshot()
            return True
        return False

    # ------------------------------------------------------------------ reads
    def with_bodies(self, keys: Sequence[str], then) -> None:
        """Run *then* on the GUI thread once the bodies of *keys* are in memory: at
        once when they are cached, else after a worker has read them (a cold S3
        store must not freeze the window)."""
        store = self.store
        if store is None or all(store.is_cached(k) for k in keys):
            if not self.closed:
                then()
            return

        def read():
            for k in keys:
                with contextlib.suppress(Exception):
                    store.read(k)

        self.run(read, _tr("Reading"), on_result=lambda _r: then(), quiet=True)

    def read_json(self, key: str) -> dict:
        """A body already in memory (after ``with_bodies``)."""
        return self.store.read_json(key)

    def history(self, refs):
        """The version tree of *refs* (their bodies in memory, after ``with_bodies``)."""
        return self.store.history(refs)

    def read_attachment(self, path: str, then, on_failure=None) -> None:
        """An external attachment's bytes (None: not in the store), read by a worker."""
        store = self.store
        if store is None:
            return
        self.run(lambda: store.read_attachment(path), _tr("Reading"), on_result=then, on_failure=on_failure,
                 quiet=True)

    def read_summaries(self, then, on_rows=None) -> None:
        """Titles, types, signers of every row; ``on_rows(rows)`` as each batch of rows is filled."""
        snap = self.snapshot
        if snap is None:  # nothing listed: nothing to summarise
            return

        reader, self._reader = self._reader, None  # (its pool read the bodies while the folder was listed)
        if reader is not None and reader.store is not snap.store:
            self._reader = reader
            self._drop_reader()
            reader = None

        def summaries(progress, cancel, partial):
            from ...storage.index import IndexCache

            cache = reader.cache if reader is not None else None
            try:
                if cache is None:
                    cache = IndexCache(snap.store.url)
            except Exception:
                cache = None
            try:
                return fill_summaries(snap, cache, progress=progress, cancel=cancel, on_rows=partial, reader=reader)
            finally:
                if reader is not None:
                    reader.close()
                if cache is not None:
                    cache.close()

        self.run(summaries, _tr("Reading"), on_result=then, on_partial=on_rows)

    def search(self, text: str, then) -> None:
        store = self.store
        self.run(lambda: store.search(text), _tr("Searching"), on_result=then)

    # ------------------------------------------------------------------ verification
    def verify_refs(self, refs, then, *, retry: bool = False) -> None:
        """``then([(ref, verdict), …])`` for *refs*; *retry*: read them again first."""
        store = self.store
        if store is None:
            return

        def work():
            if retry:
                for r in refs:
                    store.invalidate(r.key)
            return [(r, verify_ref(store, r)) for r in refs]

        self.run(work, _tr("Verifying versions"), on_result=then, quiet=True)

    def verify_rows(self, rows, landed, then, on_failure) -> Task | None:
        """Every version of *rows*; ``landed(row)`` is called on the worker thread."""
        store = self.store
        return self.run(lambda progress, cancel: verify_rows(store, rows, progress, cancel, landed),
                        _tr("Verifying every version"), on_result=then, on_failure=on_failure)

    def verify_all(self, rows, on_batch, on_done, on_failure) -> None:
        """Every version of *rows*. Verdicts land on the worker; ``on_batch(rows, final)``
        gets the rows that got verdicts since the last call, every 150 ms and once at
        the end (``final``), then ``on_done(number verified)``. Nothing arrives once
        the session is closed."""
        pending: list = []
        timer = QTimer(self)
        timer.setInterval(self.BATCH_MS)

        def flush(final: bool = False) -> None:
            if self.closed:
                timer.stop()
                return
            batch = []
            while pending:
                batch.append(pending.pop())
            on_batch(batch, final)

        def done(n) -> None:
            timer.stop()
            flush(final=True)
            timer.deleteLater()
            on_done(n)

        def failed(exc) -> None:
            timer.stop()
            timer.deleteLater()
            on_failure(exc)

        timer.timeout.connect(flush)
        timer.start()
        self.verify_rows(rows, pending.append, done, failed)  # landed rows are collected on the worker

    def reconcile(self, shown, then) -> Task | None:
        """Compare a listing of names with *shown* (``jobs.browse.reconcile``) on a worker."""
        store = self.store
        return self.run(lambda cancel: reconcile(store, shown, cancel), _tr("Checking"), on_result=then,
                        on_failure=lambda exc: log.info("reconcile: %s", exc), quiet=True)


def _tr(text: str) -> str:
    from .columns import tr

    return tr(text)
