"""The small entries of an archive written into the temporary folder by a process of its own.

A writer thread shares the interpreter lock with the thread that reads the archive: every
``open``/``write``/``close`` gives the lock up and must win it back, so the two take turns
instead of running side by side. A forked process (a one-worker
:class:`~jacs_desktop.jobs.workers.ForkPool`) creates the files while this process
decompresses, parses and hashes the next members: batches of (folder, name, bytes) go to it
in order, a few at most waiting (memory stays bounded), and each batch's answer says whether
its files were written. Only where forking is safe (Linux, a process that runs no other
thread when the restore starts); elsewhere ``tempfiles._FileWriter`` (a thread) does the same.

A write that fails (a full disk) is said with its reason; a writer that dies is said too,
never a hang; either way the caller removes the whole temporary folder, so nothing is left
half-written. :meth:`ProcessWriter.close` returns only when the process has ended.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading

from ..workers import ForkPool, WorkerFailed

__all__ = ["ProcessWriter", "writer_process_ok", "WRITER_MIN_BYTES"]

#: archives smaller than this are written by a thread (starting a process costs more)
WRITER_MIN_BYTES = 1 << 20
#: batches sent and not yet answered; the reader waits beyond that
AHEAD = 8
#: files and bytes per batch
BATCH, BATCH_BYTES = 256, 4 << 20
#: files in the first batch; each batch after holds twice as many, up to BATCH (the process starts
#: writing after a few files instead of after a whole batch)
FIRST_BATCH = 16

#: the task pipe's capacity (Linux): a batch goes over in a few writes instead of one per 64 KiB
#: (each a wake-up of the other process)
PIPE_BYTES = 1 << 20


# -- in the writer process (set there only: the parent never writes these) ----------------------
_folders: dict[str, int] = {}
_failed: list[str] = []


def _init() -> None:
    import gc

    gc.freeze()  # what the fork copied stays shared (no copy-on-write of the heap by the collector)


def _write_batch(batch: list[tuple[str, str, bytes]]) -> tuple[str | None, list[str]]:
    """Each (folder, name, bytes) as a new file, relative to its folder's descriptor (no walk
    down the whole path per file), and the SHA-256 of the bytes written (hashed here, off the
    reading process): (None, the digests in order), or the first failure, said again for every
    later batch, and no digests."""
    from . import tempfiles  # (its _write_file: one open, one write, one close)

    if _failed:
        return _failed[0], []
    digests = []
    sha256 = hashlib.sha256
    for where, name, data in batch:
        try:
            fd = _folders.get(where)
            if fd is None:
                fd = _folders[where] = os.open(where, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            tempfiles._write_file(name, data, fd)
        except OSError as exc:
            _failed.append(f"Cannot write the temporary copy in {where}: {exc.strerror or exc}")
            return _failed[0], []
        digests.append(sha256(data).hexdigest())
    return None, digests


# -- in this process -------------------------------------------------------------------------------

def writer_process_ok(archive_size: int) -> bool:
    """Whether the files of an archive of *archive_size* bytes may be written by a forked
    process: Linux, large enough, and no other thread in this process (asked before the
    restore starts any)."""
    return (sys.platform.startswith("linux") and archive_size >= WRITER_MIN_BYTES
            and threading.active_count() == 1 and hasattr(os, "fork"))


class ProcessWriter:
    """``add(folder, name, bytes)`` for each small entry, ``close()`` once (always): the first
    failure, or None when every file is written; then ``digests`` holds the SHA-256 of each
    entry's bytes, in the order they were added (the process hashes them: ``hashes``)."""

    hashes = True

    def __init__(self) -> None:
        self.digests: list[str] = []
        # (OSError when no process can be started)
        self.pool = ForkPool(1, _init, (), _write_batch, pipe_bytes=PIPE_BYTES)
        self.batch: list[tuple[str, str, bytes]] = []
        self.batch_bytes = 0
        self.limit = FIRST_BATCH  # files in the next batch
        self.sent = self.done = 0
        self.error: str | None = None

    def add(self, folder: str, name: str, data: bytes) -> None:
        batch = self.batch
        batch.append((folder, name, data))
        self.batch_bytes += len(data)
        if len(batch) >= self.limit or self.batch_bytes >= BATCH_BYTES:
            self.limit = min(BATCH, self.limit * 2)
            self._send()

    def _send(self) -> None:
        from .tempfiles import _LocalError

        batch, self.batch, self.batch_bytes = self.batch, [], 0
        while self.sent - self.done >= AHEAD and self.error is None:
            self._collect()
        if self.error is not None:
            raise _LocalError(self.error)
        self.pool.submit(self.sent, (batch,))
        self.sent += 1

    def _collect(self) -> None:
        try:
            got, digests = self.pool.result(self.done)
        except WorkerFailed:
            got, digests = ("Cannot write the temporary copy: the process writing it stopped unexpectedly "
                            "(killed, or out of memory?)"), []
            self.sent = self.done + 1  # nothing more will be answered
        self.done += 1
        self.digests.extend(digests)
        if got is not None and self.error is None:
            self.error = str(got)

    def close(self) -> str | None:
        """Wait until every batch handed over is written (or failed), then end the process."""
        try:
            if self.batch and self.error is None:
                batch, self.batch = self.batch, []
                self.pool.submit(self.sent, (batch,))
                self.sent += 1
            while self.done < self.sent:
                self._collect()
        finally:
            self.pool.close()
        return self.error
