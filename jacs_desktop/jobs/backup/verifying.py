"""The signatures of an archive's versions checked on a pool of worker processes while the
archive is still being read and written into the temporary folder.

The archive is read once, by this process. Each version's bytes, as they arrive, go in
batches to the workers (forked before any thread of the restore starts), which check them
with the public key material the archive held before its first version (a backup puts it
there). What is checked that early can differ from the check of the finished archive (a key
that comes later, an entry the manifest then calls damaged), so each worker says what it
looked up (every public key, every attachment, with what it found) and the verdict is used
only when the finished archive gives the same answer to each of those lookups and the same
name to the version; every other version (and all of them when the archive does not start
with its keys) is checked once the archive is read, again on the pool. The verdicts are the
ones a check in this process gives: ``_check_version`` on the same bytes with the same keys.

A worker that dies (killed, out of memory) ends the restore with a clear error and nothing
written into the target; Cancel stops the workers.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import threading
from typing import Any

from ...core.checks import ERROR, MAX_DOCUMENT_BYTES
from ...core.verify import FileResolver, KeyResolver, PublicKey
from ...storage.layout import Layout, Ref, detect_layout
from ...storage.store import Store, ref_of
from ..common import Cancelled, CancelToken
from ..workers import ForkPool, WorkerFailed
from .base import _Refused
from .integrity import _check_version, _TempObjects

__all__ = ["VersionPool", "pool_for"]

#: archives smaller than this are checked in this process (starting workers costs more)
POOL_MIN_BYTES = 1 << 20
#: versions per task sent to a worker
BATCH = 64
#: tasks waiting per worker; the reader waits beyond that (memory stays bounded)
AHEAD = 3
#: key material larger than this, or in more entries, is not sent with the early checks (they
#: wait for the end)
MAX_CONTEXT_BYTES = 8 << 20
MAX_CONTEXT_ENTRIES = 512

#: what a lookup found, comparable across processes: ("key", bytes, algorithm, source),
#: ("file", SHA-256 or None), ("none",), ("raised", type name, message)
Found = tuple[Any, ...]


class PoolError(_Refused):
    """The workers cannot go on (one died): the archive is not judged, nothing is restored."""


def _broken(exc: WorkerFailed) -> PoolError:
    return PoolError(f"The signatures could not all be checked: {exc}; the archive was not judged")


#: a version as it travels to a worker and back: (kind, id, version, key). A plain tuple: pickling
#: a Ref (a dataclass) both ways cost more than a tenth of a signature check
Named = tuple[str, str, str, str]


def _named(ref: Ref) -> Named:
    return (ref.kind, ref.id, ref.version, ref.key)


# -- in the workers ------------------------------------------------------------------------------

class _RecordingKeys:
    """A key resolver that notes every lookup and what it found."""

    def __init__(self, inner: KeyResolver):
        self.inner, self.seen = inner, []  # type: tuple[KeyResolver, list[tuple[str, Found]]]

    def resolve(self, key_hash: str) -> PublicKey | None:
        try:
            pk = self.inner.resolve(key_hash)
        except Exception as exc:
            self.seen.append((key_hash, ("raised", type(exc).__name__, str(exc))))
            raise
        self.seen.append((key_hash, _key_found(pk)))
        return pk


class _RecordingFiles:
    """An attachment resolver that notes every lookup and the SHA-256 of what it found."""

    def __init__(self, inner: FileResolver):
        self.inner, self.seen = inner, []  # type: tuple[FileResolver, list[tuple[str, Found]]]

    def __call__(self, path: str) -> bytes | None:
        try:
            data = self.inner(path)
        except Exception as exc:
            self.seen.append((path, ("raised", type(exc).__name__, str(exc))))
            raise
        self.seen.append((path, _file_found(data)))
        return data


def _key_found(pk: PublicKey | None) -> Found:
    return ("none",) if pk is None else ("key", bytes(pk.key), pk.algorithm, pk.source)


def _file_found(data: bytes | None) -> Found:
    return ("file", None if data is None else hashlib.sha256(data).hexdigest())


_CONTEXT: tuple[int, Store] | None = None


def _context_store(ctx_id: int, blob: bytes) -> Store:
    global _CONTEXT
    if _CONTEXT is None or _CONTEXT[0] != ctx_id:
        layout, files, cache = pickle.loads(blob)
        _CONTEXT = (ctx_id, Store(_TempObjects(files, cache), layout=layout))
    return _CONTEXT[1]


def _check_batch(ctx_id: int, blob: bytes, items: list[tuple[Named, bytes | str]]) -> list[tuple[Any, ...]]:
    """Each (version, bytes or the temporary file holding them): (version, status, reason, keys
    looked up, attachments looked up)."""
    store = _context_store(ctx_id, blob)
    keys, files = store.keys(), store.read_attachment
    out: list[tuple[Any, ...]] = []
    for named, data in items:
        if isinstance(data, str):
            try:
                with open(data, "rb") as f:
                    data = f.read()
            except OSError as exc:
                out.append((named, ERROR, f"the unpacked copy cannot be read back: {exc.strerror or exc}", [], []))
                continue
        rk, rf = _RecordingKeys(keys), _RecordingFiles(files)
        v = _check_version(data, Ref(*named), rk, rf)
        out.append((named, v.status, v.reason, rk.seen, rf.seen))
    return out


def _init_worker() -> None:
    import gc

    # what the fork copied is never freed here: keep the collector off it (no copy-on-write of
    # the whole heap); parsed documents hold no reference cycles, so collect rarely
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


# -- in this process ---------------------------------------------------------------------------

def pool_for(archive_size: int, workers: int | None) -> VersionPool | None:
    """A pool for an archive of *archive_size* bytes, or None (check in this process): small
    archives, one core, or a process that runs other threads (forking it is not safe) when
    *workers* is not given."""
    if workers is None:
        if archive_size < POOL_MIN_BYTES or not sys.platform.startswith("linux"):
            return None
        if threading.active_count() > 1:  # a GUI, a server: forking would copy their locks
            return None
        try:
            workers = min(len(os.sched_getaffinity(0)), 8)
        except (AttributeError, OSError):
            workers = min(os.cpu_count() or 1, 8)
    if workers <= 1:
        return None
    try:
        return VersionPool(workers)
    except OSError:  # no process could be started (limits, memory): checked here instead
        return None


class VersionPool:
    """Worker processes (a :class:`~jacs_desktop.jobs.workers.ForkPool`) that check versions:
    :meth:`entry` while the archive is read, :meth:`verdicts` once it is judged, :meth:`close`
    always."""

    def __init__(self, workers: int):
        # forked now, before the restore starts its reading and writing threads: the workers start
        # at once with everything imported (OSError when no process can be started)
        self.pool = ForkPool(workers, _init_worker, (), _check_batch)
        self.workers = workers
        self.sent = self.done = 0  # tasks given to the pool, answers read back (in that order)
        self.batch: list[tuple[Named, bytes | str]] = []
        self.early: dict[str, tuple[Any, ...]] = {}  # key -> what the early check found
        self.ctx_id = 0
        self.blob = b""
        # the head of the archive: the entries before its first version (the key material)
        self.layout: Layout | None = None
        self.head: dict[str, bytes | None] = {}
        self.head_bytes = 0
        self.early_ok = False
        self.gave_up = False

    # while the archive is read
    def entry(self, name: str, data: bytes | None, size: int, cancel: CancelToken | None) -> None:
        """An entry as it is read (its bytes when small): versions go to the workers once the
        key material before them is known."""
        if self.layout is None:
            if self.gave_up:
                return
            if name not in self.head:
                self.head[name] = data
                self.head_bytes += size
            if len(self.head) > MAX_CONTEXT_ENTRIES or self.head_bytes > MAX_CONTEXT_BYTES:
                self.gave_up, self.head = True, {}  # not a backup's head: every version is checked at the end
                return
            objects = _TempObjects({k: ("", len(v or b""), "") for k, v in self.head.items()},
                                   {k: v for k, v in self.head.items() if v is not None})
            layout = detect_layout(objects)
            if ref_of(layout, name) is None:
                return
            del self.head[name]
            self._start(layout)
        if not self.early_ok or data is None or size > MAX_DOCUMENT_BYTES:
            return
        ref = ref_of(self.layout, name)  # type: ignore[arg-type]  # (set just above)
        if ref is None:
            return
        self.batch.append((_named(ref), data))
        if len(self.batch) >= BATCH:
            self._send(cancel)

    def _start(self, layout: Layout) -> None:
        """The first version: the entries before it are the context of the early checks."""
        self.layout = layout
        pem = any(k.endswith(".pem") for k in self.head)
        if not pem or any(v is None for v in self.head.values()):
            return  # the keys come later (an older backup): every version is checked at the end
        files = {k: ("", len(v or b""), "") for k, v in self.head.items()}
        self._context(layout, files, {k: v for k, v in self.head.items() if v is not None})
        self.early_ok = True

    def _context(self, layout: Layout, files: dict[str, tuple[str, int, str]], cache: dict[str, bytes]) -> None:
        self.ctx_id += 1
        self.blob = pickle.dumps((layout, files, cache), protocol=pickle.HIGHEST_PROTOCOL)

    def _send(self, cancel: CancelToken | None) -> None:
        batch, self.batch = self.batch, []
        while self.sent - self.done >= self.workers * AHEAD:
            self._collect_first(cancel)
        self.pool.submit(self.sent, (self.ctx_id, self.blob, batch))
        self.sent += 1

    def _collect_first(self, cancel: CancelToken | None) -> list[tuple[Any, ...]]:
        """The answer to the oldest task still out (Cancel is seen while it is checked)."""
        try:
            got: list[tuple[Any, ...]] = self.pool.result(self.done, cancel)
        except Cancelled:
            raise _Refused("cancelled") from None
        except WorkerFailed as exc:
            raise _broken(exc) from None
        self.done += 1
        for r in got:
            self.early[r[0][3]] = r
        return got

    def flush(self, cancel: CancelToken | None) -> None:
        """The archive is read: the last early batch goes, every early check is waited for."""
        if self.batch:
            self._send(cancel)
        while self.done < self.sent:
            self._collect_first(cancel)

    # once the archive is judged
    def verdicts(self, refs: list[Ref], intact: dict[str, tuple[str, int, str]], cache: dict[str, bytes],
                 layout: Layout, keys: KeyResolver, files: FileResolver,
                 cancel: CancelToken | None) -> dict[str, tuple[str, str]]:
        """(status, reason) of the intact versions in *refs* up to the size limit: early verdicts
        where every lookup they made gives the same answer now, the others checked on the workers
        with the finished archive's key material (and kept on the same condition). A version not
        in the answer is for the caller to check."""
        self.flush(cancel)
        out: dict[str, tuple[str, str]] = {}
        found_keys: dict[str, Found] = {}
        found_files: dict[str, Found] = {}

        def accept(got: tuple[Any, ...] | None, ref: Ref) -> bool:
            if got is None or got[0] != _named(ref) or got[1] == ERROR:
                return False
            if not all(_lookup_key(keys, h, found_keys) == f for h, f in got[3]):
                return False
            if not all(_lookup_file(files, p, found_files) == f for p, f in got[4]):
                return False
            out[ref.key] = (got[1], got[2])
            return True

        todo: list[tuple[Named, bytes | str]] = []
        for ref in refs:
            e = intact.get(ref.key)
            if e is None or e[1] > MAX_DOCUMENT_BYTES:
                continue
            if not accept(self.early.pop(ref.key, None), ref):
                todo.append((_named(ref), cache.get(ref.key) or e[0]))
        self.early.clear()
        if not todo:
            return out
        versions = {r.key for r in refs}
        head = {k: v for k, v in intact.items() if k not in versions and ref_of(layout, k) is None}
        self._context(layout, head, {k: cache[k] for k in head if k in cache})
        wanted = {r.key: r for r in refs}
        for i in range(0, len(todo), BATCH):
            self.batch = todo[i:i + BATCH]
            self._send(cancel)
        while self.done < self.sent:
            for r in self._collect_first(cancel):
                accept(r, wanted[r[0][3]])
        self.early.clear()
        return out

    def close(self) -> None:
        """Stop the workers (also in the middle of a batch)."""
        self.pool.close()


def _lookup_key(keys: KeyResolver, key_hash: str, memo: dict[str, Found]) -> Found:
    got = memo.get(key_hash)
    if got is None:
        try:
            got = _key_found(keys.resolve(key_hash))
        except Exception as exc:
            got = ("raised", type(exc).__name__, str(exc))
        memo[key_hash] = got
    return got


def _lookup_file(files: FileResolver, what: str, memo: dict[str, Found]) -> Found:
    got = memo.get(what)
    if got is None:
        try:
            got = _file_found(files(what))
        except Exception as exc:
            got = ("raised", type(exc).__name__, str(exc))
        memo[what] = got
    return got
