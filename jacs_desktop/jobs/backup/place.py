"""Placing the unpacked entries into the target: the whole folder in one rename when the
target is an empty folder, else entry by entry (hard links where they can be made; into a
store that writes many objects in one transaction, SQLite, a batch at a time), with the
conflict policies; made durable in one step first."""

from __future__ import annotations

import os
import stat
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ...core.checks import MAX_DOCUMENT_BYTES
from ...core.durable import fsync_dir, fsync_file
from ...core.verify import claimed_hash
from ...paths import private_dir
from ...storage.base import ObjectStore, Refused, StorageError
from ...storage.store import Store
from ..common import CancelToken, ProgressFn, is_cancelled
from .base import MANIFEST_NAME, ArchiveReport
from .read import _Unpacked

if TYPE_CHECKING:
    from ...storage.fs import FsStore


def _place_new(objects: ObjectStore, fs: FsStore | None, key: str, src: Path, parents: set[Path]) -> bool:
    """Create *key* from the unpacked file (never replacing an existing object)."""
    if fs is not None:
        p = fs.local_path(key)
        if os.path.lexists(p):
            return False
        # never through a link on the way that leads out of the target folder (the same rule as
        # the folder backend's own writes)
        why = fs.outside_reason(key)
        if why is not None:
            raise Refused(why)
        try:
            private_dir(p.parent)  # every new level 0700, whatever the umask
            os.link(src, p)  # atomic, never overwrites; the file is complete and synced
            parents.add(p.parent)
            return True
        except FileExistsError:
            return False
        except OSError:
            pass  # another file system, or no hard links: write it the ordinary way
    try:
        data = src.read_bytes()
    except OSError as exc:
        raise StorageError(f"the unpacked copy cannot be read back: {exc.strerror or exc}") from None
    return objects.put_if_absent(key, data)


#: entries written per transaction into a store that has ``put_many``
BULK_BATCH = 256


def _place_batch(bulk: Callable[..., list[bool]], u: _Unpacked, names: list[str]) -> set[str]:
    """Create the entries *names* in one call of the store's ``put_many`` (never replacing an
    object); the names written. When the batch cannot be written (an unpacked copy unreadable,
    a body the store refuses), nothing of it is, and the one-by-one path says which and why."""
    try:
        items = [(n, Path(u.entries[n][0]).read_bytes()) for n in names]
        done = bulk(items, if_absent=True)
    except (StorageError, OSError):
        return set()
    return {n for n, ok in zip(names, done, strict=True) if ok}


def _same(objects: ObjectStore, fs: FsStore | None, key: str, src: Path, size: int) -> tuple[bool, bytes | None]:
    """Whether the target's object has the same bytes; its bytes when small enough to read."""
    import filecmp

    if fs is not None:

        p = fs.local_path(key)
        try:
            st = p.lstat()
            if not stat.S_ISREG(st.st_mode):
                raise StorageError(f"{key}: the target has something other than a file under this name")
            if st.st_size != size:
                return False, p.read_bytes() if size <= MAX_DOCUMENT_BYTES and st.st_size <= MAX_DOCUMENT_BYTES \
                    else None
            return filecmp.cmp(p, src, shallow=False), None
        except OSError as exc:
            raise StorageError(f"{key}: {exc.strerror or exc}") from None
    have = objects.get(key)
    return have == src.read_bytes(), have



def _place_all(u: _Unpacked, dst: Store, fs: FsStore | None, policy: str, skip_invalid: bool, report: ArchiveReport,
               progress: ProgressFn | None, cancel: CancelToken | None, *, durable: bool = False) -> None:
    objects = dst.objects
    todo: list[str] = []
    for name in sorted(set(u.entries) | (set(report.damaged) - {MANIFEST_NAME})):
        if name in report.damaged or (skip_invalid and name in report.invalid):
            report.left_out.append(name)
        else:
            todo.append(name)
    _say_left_out(report)
    if fs is not None and u.named and _empty_folder(fs.root) is not None:
        _drop(u, report.left_out)
    if durable:
        _make_durable(u)  # before anything is linked or moved into place
    if is_cancelled(cancel):
        report.cancelled = True
        report.problems.append(f"cancelled after 0 of {len(todo)} entries")
        return
    if fs is not None and u.named and _move_whole(u, fs):
        report.restored.extend(todo)
        if progress and todo:
            progress(len(todo), len(todo), todo[-1])
        return
    parents: set[Path] = set()
    # a store that writes many objects in one transaction (SQLite) gets them a batch at a time;
    # what a batch did not write (there already, or a batch it refused) goes the one-by-one way
    bulk = getattr(objects, "put_many", None) if fs is None else None
    placed: set[str] = set()
    try:
        for i, name in enumerate(todo):
            at_batch = bulk is not None and i % BULK_BATCH == 0
            if is_cancelled(cancel) and (bulk is None or at_batch):  # (never inside a written batch)
                report.cancelled = True
                report.problems.append(f"cancelled after {i} of {len(todo)} entries")
                break
            if bulk is not None and at_batch:
                placed = _place_batch(bulk, u, todo[i:i + BULK_BATCH])
            src_s, size, _sha = u.entries[name]
            src = Path(src_s)
            try:
                if name in placed or _place_new(objects, fs, name, src, parents):
                    report.restored.append(name)
                    continue
                same, have = _same(objects, fs, name, src, size)
                if same:
                    report.skipped.append(name)
                elif policy == "overwrite-identical" and have is not None and size <= MAX_DOCUMENT_BYTES \
                        and claimed_hash(have) is not None and claimed_hash(have) == claimed_hash(src.read_bytes()):
                    objects.put(name, src.read_bytes())
                    report.restored.append(name)
                elif policy == "keep-both":
                    _place_new(objects, fs, f"restore-conflicts/{name}", src, parents)
                    report.conflicts.append(name)
                else:
                    report.conflicts.append(name)
            except (StorageError, OSError) as exc:
                msg = f"{name}: not restored: {exc}"
                report.failed.append(msg)
                report.problems.append(msg)
            if progress and (i % 100 == 0 or i == len(todo) - 1):
                progress(i + 1, len(todo), name)
    finally:
        for p in parents:
            fsync_dir(p)


def _say_left_out(report: ArchiveReport) -> None:
    if report.left_out:
        n = len(report.left_out)
        report.problems.insert(0, f"left out {n} entr{'y' if n == 1 else 'ies'}: "
                                  + ", ".join(report.left_out[:10]) + (" …" if n > 10 else ""))


def _empty_folder(folder: Path) -> os.stat_result | None:
    """*folder*'s status when it is a real folder (not a link) with nothing in it, else None."""
    try:
        st = os.lstat(folder)
        if not stat.S_ISDIR(st.st_mode):
            return None
        with os.scandir(folder) as it:
            return st if next(it, None) is None else None
    except OSError:
        return None


def _drop(u: _Unpacked, names: list[str]) -> None:
    """Remove entries that are not restored from the unpacked folder (and folders left empty)."""
    for name in names:
        e = u.entries.get(name)
        if e is None:
            continue
        p = Path(e[0])
        p.unlink(missing_ok=True)
        parent = p.parent
        while parent != u.root:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent


def _move_whole(u: _Unpacked, fs: FsStore) -> bool:
    """Make the unpacked folder the (empty) target folder in one rename: the store appears
    complete or not at all. False (nothing changed) when the target is not an empty folder
    or the rename is refused; the entries are then placed one by one."""
    st = _empty_folder(fs.root)
    if st is None:
        return False
    try:
        os.chmod(u.root, stat.S_IMODE(st.st_mode))  # the target keeps its own permissions
        os.rename(u.root, fs.root)  # POSIX: replaces an empty folder, atomically; else refused
    except OSError:
        return False
    fsync_dir(fs.root.parent)
    return True


def _make_durable(u: _Unpacked) -> None:
    """Everything written into the unpacked folder on disk, in one step: ``syncfs`` of its file
    system (Linux), else an fsync per file and folder."""
    if _syncfs(u.root):
        return
    folders = {str(u.root)}
    for p, _size, _sha in u.entries.values():
        if not fsync_file(p):
            continue  # said when it is placed
        folders.add(os.path.dirname(p))
    for d in folders:
        fsync_dir(Path(d))


def _syncfs(folder: Path) -> bool:
    """``syncfs(2)`` on *folder*'s file system: True when done."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
        fd = os.open(folder, os.O_RDONLY)
    except (OSError, AttributeError):
        return False
    try:
        return bool(fn(fd) == 0)
    finally:
        os.close(fd)


class EarlyWriteback:
    """A head start for the disk: once part of the archive is read (*at*, a fraction of its
    bytes), ``syncfs`` of the temporary folder's file system runs on a thread, again and again
    (at most every *every* seconds) until :meth:`finish`, so the files are written to disk while
    the next ones are still being made. Durability never rests on it: :func:`_make_durable`
    still syncs everything once the archive is read; that sync then has only the last files
    left to write. :meth:`reading` wraps the unpacking's progress; :meth:`join` always, at the end."""

    def __init__(self, root: Path, progress: ProgressFn | None, at: float = 0.3, every: float = 0.02):
        self.root, self.progress, self.at, self.every = root, progress, at, every
        self.thread: threading.Thread | None = None
        self.stop = threading.Event()

    def reading(self, done: int, total: int, name: str) -> None:
        if self.thread is None and total > 0 and done >= total * self.at and sys.platform.startswith("linux"):
            self.thread = threading.Thread(target=self._run, name="restore-writeback", daemon=True)
            self.thread.start()
        if self.progress is not None:
            self.progress(done, total, name)

    def _run(self) -> None:
        while not self.stop.is_set() and _syncfs(self.root):
            self.stop.wait(self.every)

    def finish(self) -> None:
        """No further sync starts; one under way goes on (the caller's own sync need not wait for
        it: ``syncfs`` waits for every write under way, whoever started it)."""
        self.stop.set()

    def join(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
            self.thread = None
