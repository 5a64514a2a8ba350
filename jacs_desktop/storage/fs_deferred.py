"""Batched durability for folder stores: create-if-absent writes whose fsyncs come a batch
at a time (``DeferredWrites(fs_store)``), for long copies such as a migration."""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import uuid
from pathlib import Path

from ..core.durable import fsync_dir
from ..paths import private_dir
from .base import Refused, StorageError, validate_key
from .fs import _HAS_PROC_FD, _NOFOLLOW, _PROC_FD, _TMP_SUFFIX, FsStore, _os_error, _show

__all__ = ["DeferredWrites"]


class DeferredWrites:
    """Create-if-absent writes into one :class:`FsStore` whose durability is batched
    (``DeferredWrites(fs_store)``): many writes, then one :meth:`sync`.

    Each file still appears whole or not at all: it is written under a temp name and only
    then given its name, by a hard link that fails if the name exists (as
    ``put_if_absent`` does; not O_TMPFILE: ext4 serializes those on one list, and JuiceFS
    deletes a linked one when it is closed); a process killed at any point
    leaves no partial file under a real name. What is deferred is the fsync: until
    :meth:`sync` returns, a crash of the machine (not of the process) may lose or empty
    files written since the last sync, so a caller counts them as kept (journals them)
    only after it.

    Folders are opened once and written through their descriptor: a link swapped in on
    the way after the check does not redirect a write out of the store. Where the OS
    has no ``dir_fd`` calls or no ``/proc/self/fd``, every write is a plain durable
    ``put_if_absent``. Safe to use from several threads."""

    def __init__(self, store: FsStore) -> None:
        self.store = store
        self.enabled = _HAS_PROC_FD and os.open in os.supports_dir_fd and os.link in os.supports_dir_fd
        self._lock = threading.Lock()
        self._dirs: dict[str, int] = {}
        self._dirty_dirs: set[int] = set()
        #: files created since the last sync: key -> descriptor (kept open for the fsync)
        self._files: dict[str, int] = {}
        #: folders holding folders this made (their new entries are made durable too)
        self._new_dir_parents: set[str] = set()
        self._tag = f"{os.getpid()}.{uuid.uuid4().hex[:16]}"
        self._n = 0

    def _dir_fd(self, head: str) -> int:
        fd = self._dirs.get(head)
        if fd is not None:
            return fd
        store = self.store
        parent = store.root.joinpath(*head.split("/")) if head else store.root
        try:
            if not store._is_inside(os.path.realpath(parent)):
                raise Refused(store._refused_link(head) or f"{_show(head)} leads out of the store; not written")
            if not parent.is_dir():
                private_dir(parent)
                with self._lock:
                    self._new_dir_parents.update(str(q) for q in parent.parents
                                                 if q == store.root or store.root in q.parents)
            fd = os.open(parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError as exc:
            raise _os_error(exc, str(parent)) from None
        try:
            where = os.readlink(f"{_PROC_FD}{fd}")
        except OSError:
            where = os.path.realpath(parent)
        if not store._is_inside(where):
            os.close(fd)
            raise Refused(store._refused_link(head) or f"{_show(head)} leads out of the store; not written")
        with self._lock:
            old = self._dirs.get(head)
            if old is not None:  # another thread opened it meanwhile
                os.close(fd)
                return old
            self._dirs[head] = fd
        return fd

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Like ``FsStore.put_if_absent`` (False when the name exists), without fsyncs."""
        if not self.enabled:
            return self.store.put_if_absent(key, data)
        validate_key(key)
        if not self.store.colon_ok and ":" in key:
            raise StorageError(f"{key!r} cannot be stored in a Windows folder (':' is not allowed in file names)")
        head, _, name = key.rpartition("/")
        dfd = self._dir_fd(head)
        try:
            os.stat(name, dir_fd=dfd, follow_symlinks=False)
            return False
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _os_error(exc, key) from None
        with self._lock:
            self._n += 1
            tmp = f".{name}.{self._tag}{self._n}{_TMP_SUFFIX}"
        tmp_left = True
        try:
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600, dir_fd=dfd)
        except OSError as exc:
            raise _os_error(exc, key) from None
        created = False
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            try:
                os.link(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd, follow_symlinks=False)  # fails if it exists
                created = True
            except FileExistsError:
                created = False
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV,
                                                    errno.EMLINK):
                    raise
                try:  # no hard links (FAT, some FUSE mounts): exclusive create, then rename over it
                    os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600, dir_fd=dfd))
                    os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
                    tmp_left = False
                    created = True
                except FileExistsError:
                    created = False
        except OSError as exc:
            raise _os_error(exc, key) from None
        finally:
            if tmp_left:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=dfd)
            if created:
                with self._lock:
                    old = self._files.pop(key, None)
                    self._files[key] = fd
                    self._dirty_dirs.add(dfd)
                if old is not None:  # the same key written, deleted and written again
                    os.fsync(old)
                    os.close(old)
            else:
                os.close(fd)
        return created

    def read_back(self, key: str, size: int) -> bytes | None:
        """Up to *size* + 1 bytes of what this wrote under *key* since the last sync, read
        back from the written file; None when it has no such file open."""
        with self._lock:
            fd = self._files.get(key)
            if fd is None:
                return None
            try:
                return os.pread(fd, size + 1, 0)
            except OSError:
                return None

    def sync(self, workers: int = 4) -> None:
        """Make every file created since the last sync durable: the files (fsynced by
        *workers* threads at once, which the file system can commit together), then
        each folder they were linked into, once. An OSError is raised as StorageError
        (and then the files of this batch must not be counted as kept)."""
        with self._lock:
            files, self._files = list(self._files.values()), {}
            dirs, self._dirty_dirs = sorted(self._dirty_dirs), set()
            made, self._new_dir_parents = sorted(self._new_dir_parents, key=len, reverse=True), set()
        if not files:
            return
        try:
            if workers > 1 and len(files) > 8:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(min(workers, len(files))) as ex:
                    list(ex.map(os.fsync, files))
            else:
                for fd in files:
                    os.fsync(fd)
            for dfd in dirs:
                with contextlib.suppress(OSError):  # some file systems cannot fsync a folder
                    os.fsync(dfd)
            for folder in made:
                fsync_dir(Path(folder))
        except OSError as exc:
            raise _os_error(exc, "making the written files durable") from None
        finally:
            for fd in files:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def close(self) -> None:
        """Sync what is left and close the folders' descriptors."""
        try:
            self.sync()
        finally:
            with self._lock:
                dirs, self._dirs = list(self._dirs.values()), {}
                files, self._files = list(self._files.values()), {}
            for fd in (*files, *dirs):
                with contextlib.suppress(OSError):
                    os.close(fd)
