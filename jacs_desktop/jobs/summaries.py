"""The summaries of many versions of a local folder store, read on every core.

The first open of a big folder store reads every version's body for its title and
signer. ``batches`` hands the rows to ``fill_summaries`` a batch at a time; when many
summaries are missing from the index cache and the store is a folder on this machine,
a pool of processes reads, parses and summarizes the files of the batches ahead, and each
batch comes back, in order, with its summaries in the cache, so the window fills as they land.

The workers are forked from a *fork server* (``multiprocessing``'s ``forkserver``): a fresh
process, started once, that has imported this module and runs no other thread. They are never
forked from the window's process itself, whose other threads (Qt's, the job pool's) may hold a
lock (malloc, logging, imports, sqlite) at the moment of a fork, which the child would then
wait for forever. Measured on two busy cores: the server starts in about 0.6 s (once; see
``prestart``), a pool of two workers from it in 0.07 s, like a fork; a pool of new interpreters
(``spawn``) costs 1 s on every open.

A summary is what the window shows, never a verdict: every verdict is computed from
the body by the verifier. Whatever goes wrong with the pool (no fork server on this system,
a worker killed or stuck), the batches left are summarized here, one by one, as before.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from ..core.checks import MAX_DOCUMENT_BYTES
from ..storage.base import StorageError
from ..storage.fs import FsStore
from ..storage.index import IndexCache, parse_summaries, summary_json, summary_of_bytes
from ..storage.layout import Ref
from ..storage.store import Store
from .common import CancelToken

__all__ = ["batches", "BATCH", "PARALLEL_MIN", "parallel_ok", "prestart"]

#: rows per batch handed back (and per task of the pool)
BATCH = 1000
#: fewer missing summaries than this: read here (starting processes would cost more)
PARALLEL_MIN = 2000
#: tasks given to the pool ahead of the batch handed back, per process
AHEAD = 3
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


def _init(objects: FsStore) -> None:
    global _objects
    _objects = objects


def _summarize_keys(items: list[tuple[str, str]], cache_file: Path) -> tuple[list[str], bool]:
    """In a worker: the JSON of the summary of each (key, stamp) of *items* (an error summary
    for a body that cannot be read), and whether they are written to the cache file (one
    transaction; the main process is spared the writing)."""
    assert _objects is not None
    out = []
    for key, _stamp in items:
        try:
            s = summary_of_bytes(key, _objects.get_limited(key, MAX_DOCUMENT_BYTES))
        except StorageError as exc:
            s = {"error": str(exc)}
        out.append(summary_json(s))
    written = IndexCache.write_entries(cache_file, [(k, st, t) for (k, st), t in zip(items, out, strict=True)])
    return out, written


def batches(store: Store, cache: IndexCache | None, rows: Sequence[Any],
            cancel: CancelToken | None = None) -> Iterator[Sequence[Any]]:
    """*rows* (with ``refs``) in batches of ``BATCH``; each batch's missing summaries are in
    *cache* once it is handed back when a pool could read them (else the caller reads them)."""
    chunks = [rows[i:i + BATCH] for i in range(0, len(rows), BATCH)]
    if cache is None or not parallel_ok(store):
        yield from chunks
        return
    missing = [cache.missing([r for row in chunk for r in row.refs]) for chunk in chunks]
    if sum(len(m) for m in missing) < PARALLEL_MIN:
        yield from chunks
        return
    n = _cores()
    objects = store.objects
    assert isinstance(objects, FsStore)  # (parallel_ok)
    try:
        pool = ProcessPoolExecutor(n, mp_context=_context(), initializer=_init, initargs=(objects,))
    except (OSError, ValueError) as exc:
        _log.warning("summaries read in one process: %s", exc)
        yield from chunks
        return
    task = _summarize_keys  # (looked up here: a test puts a slow or dying task in its place)
    pending: deque[Future[tuple[list[str], bool]] | None] = deque()
    broken = False

    def give_up(exc: BaseException) -> None:
        nonlocal broken
        _log.warning("summaries read in one process from now on: %s", exc or type(exc).__name__)
        broken = True
        _kill(pool)  # a stuck worker is not waited for; the others' work is not needed any more

    try:
        ahead = 0

        def submit() -> None:
            nonlocal ahead
            while ahead < len(chunks) and len(pending) < n * AHEAD:
                refs = missing[ahead]
                fut = None
                if refs and not broken:
                    try:
                        fut = pool.submit(task, [(r.key, IndexCache.stamp_of(r)) for r in refs],
                                          cache.path)
                    except Exception as exc:  # the pool broke (a worker died) before its result was asked for
                        give_up(exc)
                pending.append(fut)
                ahead += 1

        submit()
        for i, chunk in enumerate(chunks):
            if cancel is not None and cancel.is_set():
                return
            fut = pending.popleft()
            if fut is not None and not broken:
                try:
                    texts, written = fut.result(timeout=STUCK_S)
                except Exception as exc:  # a worker died (killed, out of memory) or is stuck: the rest read here
                    give_up(exc)
                else:
                    refs = missing[i]
                    for r in refs:
                        store.invalidate(r.key)  # a body read before may have changed
                    items = [(r, s if isinstance(s, dict) else {"error": "unreadable summary"}, t)
                             for r, s, t in zip(refs, parse_summaries(texts), texts, strict=True)]
                    (cache.remember if written else cache.put_many)(items)
            submit()
            yield chunk
    finally:
        for fut in pending:
            if fut is not None:
                fut.cancel()
        pool.shutdown(wait=not broken, cancel_futures=True)


def _kill(pool: ProcessPoolExecutor) -> None:
    """End the pool's workers now (``shutdown`` would wait for a stuck one)."""
    procs: dict[int, Any] = getattr(pool, "_processes", None) or {}
    for proc in list(procs.values()):
        with contextlib.suppress(Exception):
            proc.kill()
