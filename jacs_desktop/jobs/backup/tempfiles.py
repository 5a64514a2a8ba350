"""Writing the unpacked entries into the temporary folder: one file in one open, one write
and one close; small entries on a thread of their own (``_FileWriter``) or a process
(``writeproc.ProcessWriter``), large ones as they stream (``_write_entry``); folders made
once each, private."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Protocol

__all__: list[str] = []


class _Writer(Protocol):
    """Writes small entries while the archive is read: ``_FileWriter`` or ``writeproc.ProcessWriter``.
    One that ``hashes`` has, once closed without a failure, the SHA-256 of every entry's bytes in
    ``digests``, in the order they were added."""

    hashes: bool
    digests: list[str]

    def add(self, folder: str, name: str, data: bytes) -> None: ...

    def close(self) -> str | None: ...


def _new_writer(process: bool) -> _Writer:
    if process:
        from .writeproc import ProcessWriter

        try:
            return ProcessWriter()
        except OSError:  # no process could be started (limits, memory): a thread writes them
            pass
    return _FileWriter()


class _FileWriter:
    """Writes small entries on a thread of its own, in batches: the file system calls release
    the GIL, so creating the files overlaps reading the next members. Memory stays bounded
    (a few batches of at most ``BATCH_BYTES`` wait)."""

    BATCH, BATCH_BYTES = 256, 4 << 20
    hashes = False  # (the reader hashes: this thread shares its interpreter lock)

    def __init__(self) -> None:
        import queue
        import threading

        self.digests: list[str] = []

        self.q: queue.Queue[list[tuple[str, str, bytes]] | None] = queue.Queue(maxsize=4)
        self.batch: list[tuple[str, str, bytes]] = []
        self.batch_bytes = 0
        self.error: str | None = None
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self) -> None:
        # files are made relative to their folder's descriptor, as tar does: no walk down the
        # whole path (through a busy /tmp, say) for every file
        folders: dict[str, int] = {}
        relative = os.open in os.supports_dir_fd
        try:
            while (batch := self.q.get()) is not None:
                if self.error is not None:
                    continue  # (the reader stops at its next add)
                folder = ""
                fd = -1
                for where, name, data in batch:
                    try:
                        if not relative:
                            _write_file(f"{where}/{name}", data)
                            continue
                        if where != folder:
                            folder = where
                            got = folders.get(where)
                            if got is None:
                                got = folders[where] = os.open(where, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
                            fd = got
                        _write_file(name, data, fd)
                    except OSError as exc:
                        self.error = f"Cannot write the temporary copy in {where}: {exc.strerror or exc}"
                        break
        finally:
            for d in folders.values():
                os.close(d)

    def add(self, folder: str, name: str, data: bytes) -> None:
        batch = self.batch
        batch.append((folder, name, data))
        self.batch_bytes += len(data)
        if len(batch) >= self.BATCH or self.batch_bytes >= self.BATCH_BYTES:
            if self.error is not None:
                raise _LocalError(self.error)
            self.q.put(batch)
            self.batch, self.batch_bytes = [], 0

    def close(self) -> str | None:
        """Wait until everything handed over is written; the first write failure, if any."""
        if self.batch:
            self.q.put(self.batch)
            self.batch = []
        self.q.put(None)
        self.t.join()
        return self.error


_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def _write_file(dest: str, data: bytes, dir_fd: int | None = None) -> None:
    """A new file *dest* (in the folder *dir_fd*, when given) holding *data* (removed again
    when it cannot be written whole): one open, one write, one close."""
    fd = os.open(dest, _NEW_FILE, 0o600, dir_fd=dir_fd)
    try:
        done = os.write(fd, data) if data else 0
        if done < len(data):  # a short write (a full disk says so on the next one)
            view = memoryview(data)[done:]
            while view:
                view = view[os.write(fd, view):]
    except OSError:
        os.close(fd)
        os.unlink(dest, dir_fd=dir_fd)
        raise
    os.close(fd)


def _make_folders(root: str, folder: str, made: set[str]) -> None:
    """Make *folder* (a checked relative name) and its parents under *root*, each private."""
    if folder in made:
        return
    slash = folder.rfind("/")
    if slash > 0:
        _make_folders(root, folder[:slash], made)
    p = f"{root}/{folder}"
    try:
        os.mkdir(p, 0o700)
    except FileExistsError:
        if not os.path.isdir(p):  # never: names are checked, the folder is ours
            raise _LocalError(f"Cannot write the temporary copy: {p} is in the way") from None
    except OSError as exc:
        raise _LocalError(f"Cannot write the temporary copy in {root}: {exc.strerror or exc}") from None
    made.add(folder)


class _LocalError(Exception):
    """Writing the temporary copy failed (this machine's problem, not the archive's)."""


def _write_entry(dest: str, pieces: Iterator[bytes], keep: bool) -> tuple[tuple[str, int, str], bytes | None]:
    """Write one entry's bytes into a new file *dest*, hashing as they stream: (path, size,
    SHA-256), and the bytes when *keep* and they came in one piece. Errors reading the
    archive pass through; errors writing are :class:`_LocalError`."""
    h = hashlib.sha256()
    n = 0
    kept: bytes | None = None
    try:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    except OSError as exc:
        raise _LocalError(f"Cannot write the temporary copy in {os.path.dirname(dest)}: {exc.strerror or exc}") \
            from None
    done = False
    try:
        for piece in pieces:
            h.update(piece)
            kept = piece if keep and n == 0 else None
            n += len(piece)
            try:
                view = memoryview(piece)
                while view:
                    view = view[os.write(fd, view):]
            except OSError as exc:
                raise _LocalError(f"Cannot write the temporary copy in {os.path.dirname(dest)}: "
                                  f"{exc.strerror or exc}") from None
        done = True
    finally:
        os.close(fd)
        if not done:  # never a half-written file under an entry's name
            os.unlink(dest)
    return (dest, n, h.hexdigest()), kept
