"""Filesystem backend: a folder, with atomic writes and immutable versions.

Size: every read of a folder store goes through the one hostile-file rule set here (regular
files only, size caps, links inside the store only, odd names reported); splitting it would
split that rule.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, TypeAlias

from ..core.durable import fsync_dir
from ..paths import private_dir
from .base import AccessDenied, NotFound, ObjectInfo, ObjectStore, Refused, StorageError, human_size, validate_key

__all__ = ["FsStore", "DEFAULT_MAX_READ_BYTES"]

_TMP_SUFFIX = ".jdtmp"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


#: folders a ``pin_folders`` view keeps open at once
_MAX_PINNED = 64
_READ_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
#: what one read may bring into memory unless the caller gives a limit (attachments,
#: backups, copies); documents and keys are read with their own, smaller limits
DEFAULT_MAX_READ_BYTES = 1 << 30
#: JuiceFS gives its special files (.accesslog, .stats, .config, .control, .trash) inodes from here up
_JUICEFS_SPECIAL_INO = 0x7FFFFFFF00000000
#: one directory entry, as FsStore._entry sees it: a folder to go into (its real path and the
#: links followed on the way), a file (or what is listed in its place), or None (left out)
_Entry: TypeAlias = tuple[Literal["dir"], str, tuple[str, ...]] | tuple[Literal["file"], ObjectInfo] | None
_PROC_FD = "/proc/self/fd/"
_HAS_PROC_FD = os.path.isdir(_PROC_FD)
# names a store cannot keep: other stores and archives refuse them, or they display misleadingly
_ODD = re.compile("[\x00-\x1f\x7f\\\\\udc80-\udcff\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def _show(name: str) -> str:
    """A name as it can be printed anywhere (escapes for what is not printable UTF-8)."""
    return ascii(name)[1:-1] if _ODD.search(name) else name


def _odd_name(name: str) -> str | None:
    """Why *name* (a listed file name or key) cannot be kept, or None."""
    m = _ODD.search(name)
    if m is None:
        return None
    ch = m.group()
    o = ord(ch)
    if ch == "\n":
        return "its name contains a newline"
    if o < 0x20 or o == 0x7F:
        return "its name contains a control character"
    if ch == "\\":
        return "its name contains a backslash"
    if 0xDC80 <= o <= 0xDCFF:
        return "its name is not valid UTF-8"
    return f"its name contains the direction control U+{o:04X}, which makes names display misleadingly"


_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


def _not_regular(what: str, mode: int) -> str:
    for test, kind in _KINDS:
        if test(mode):
            return f"{what} is {kind}, not a regular file"
    return f"{what} is not a regular file"


def _special(name: str, ino: int) -> bool:
    """A JuiceFS special file at the mount root (.accesslog never ends when read)."""
    return name[:1] == "." and ino >= _JUICEFS_SPECIAL_INO


def _os_error(exc: OSError, what: str) -> StorageError:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return AccessDenied(f"Permission denied: {what}")
    if exc.errno == errno.ENOSPC:
        return StorageError(f"No space left on the device while writing {what}")
    if exc.errno == errno.EROFS:
        return AccessDenied(f"The folder is read-only: {what}")
    return StorageError(f"{what}: {exc.strerror or exc}")


class FsStore(ObjectStore):
    """Objects are files under *root*; keys are relative paths."""

    def __init__(self, root: str | os.PathLike[str], *, create: bool = False,
                 max_read_bytes: int | None = None, pin_folders: bool = False) -> None:
        self.root = Path(root).expanduser().absolute()
        if create and not self.root.exists():
            try:
                self.root.mkdir(parents=True, mode=0o700)
            except OSError as exc:
                raise _os_error(exc, str(self.root)) from None
        if not self.root.is_dir():
            raise NotFound(f"{self.root} is not a folder")
        self.url = self.root.as_uri()
        self.colon_ok = not sys.platform.startswith("win")
        #: the largest file one read brings into memory unless the caller gives a limit
        self.max_read_bytes = DEFAULT_MAX_READ_BYTES if max_read_bytes is None else max_read_bytes
        #: *pin_folders*: a short-lived view that reads many files of few folders (a verify worker).
        #: Each folder is opened once and where it really is checked once; each file is then opened
        #: relative to that descriptor (``openat``, the last part never followed), which saves the
        #: check of every file's path. Folder -> descriptor, or -1 when the folder is read the usual
        #: way (out of the store, missing: the usual way says why). None: every read checks its path.
        self._pinned: dict[str, int] | None = (
            {} if pin_folders and _HAS_PROC_FD and _NOFOLLOW and os.open in os.supports_dir_fd else None)

    # -- helpers ----------------------------------------------------------------
    @property
    def _root_s(self) -> str:
        r = self.__dict__.get("_root_str")
        if r is None:
            r = self.__dict__["_root_str"] = str(self.root) + os.sep
        return r

    def _path(self, key: str) -> Path:
        validate_key(key)
        if not self.colon_ok and ":" in key:
            raise StorageError(f"{key!r} cannot be stored in a Windows folder (':' is not allowed in file names)")
        return self.root.joinpath(*key.split("/"))

    def _write_tmp(self, path: Path, data: bytes) -> Path:
        try:
            # never write (nor make a folder) through a link on the way that leads out of the store
            if not self._is_inside(os.path.realpath(path.parent)):
                rel = path.parent.relative_to(self.root).as_posix()
                raise Refused(self._refused_link(rel) or f"{_show(rel)} leads out of the store; not written")
            private_dir(path.parent)  # new parents 0700 too, not mkdir -p's 0755
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}{_TMP_SUFFIX}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise _os_error(exc, str(path)) from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except BaseException as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if isinstance(exc, OSError):
                raise _os_error(exc, str(path)) from None
            raise
        return tmp

    def outside_reason(self, key: str) -> str | None:
        """Why writing *key* would leave the store through a symbolic link on its way (None
        when it would not): for writers that place files themselves (restore's hard links)."""
        parent = self.local_path(key).parent
        if self._is_inside(os.path.realpath(parent)):
            return None
        rel = parent.relative_to(self.root).as_posix()
        return self._refused_link(rel) or f"{_show(rel)} leads out of the store; not written"

    # -- reads: regular files only, bounded, never a link out of the store ----------
    @property
    def _real_root(self) -> str:
        r = self.__dict__.get("_real_root_str")
        if r is None:
            r = self.__dict__["_real_root_str"] = os.path.realpath(self.root)
        return r

    def _is_inside(self, real: str) -> bool:
        base = self._real_root
        return real == base or real.startswith(base.rstrip(os.sep) + os.sep)

    def _follow(self, rel: str, path: str) -> tuple[str | None, str | None]:
        """A symbolic link *path* (named *rel*): (the real path it leads to, None) when
        that is inside the store, else (None, why, naming it)."""
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        real = os.path.realpath(path)
        if not self._is_inside(real):
            return None, f"{_show(rel)} is a symbolic link to {_show(target)}, outside the store; not followed"
        return real, None

    def _refused_link(self, key: str) -> str | None:
        """Why *key* is refused: the first link on its way that leads out of the store (None: none does)."""
        parts = key.split("/")
        for i in range(1, len(parts) + 1):
            rel = "/".join(parts[:i])
            p = self._root_s + (rel if os.sep == "/" else rel.replace("/", os.sep))
            if os.path.islink(p):
                _real, why = self._follow(rel, p)
                if why is not None:
                    return why
        return None

    def _start_folder(self, head: str) -> str | None:
        """The real folder that *head* (a key prefix's folder part) names; None when absent;
        :class:`Refused` when a link on its way leads out of the store."""
        path = self._root_s + (head if os.sep == "/" else head.replace("/", os.sep)) if head else str(self.root)
        real = os.path.realpath(path)
        if not self._is_inside(real):
            why = self._refused_link(head) if head else None
            raise Refused(why or f"{_show(head or str(self.root))} leads out of the store; not followed")
        return real if os.path.isdir(real) else None

    def _entry(self, e: os.DirEntry[str], rel: str, details: bool, parent: str, links: tuple[str, ...]) -> _Entry:
        """One directory entry: ('dir', real path, links) | ('file', ObjectInfo) | None (left out: temp files)."""
        name = e.name
        if name[0] == "." and name.endswith(_TMP_SUFFIX):
            return None
        why = _odd_name(name)
        if why is not None:
            return "file", ObjectInfo(rel, 0, None, problem=f"{_show(rel)}: {why}")
        if name[0] == "." and _special(name, e.inode()):
            return "file", ObjectInfo(rel, 0, None, problem=f"{_show(rel)} is a JuiceFS special file, not store data",
                                      no_content=True)
        try:
            if e.is_dir(follow_symlinks=False):
                return "dir", e.path, links
            if e.is_file(follow_symlinks=False):
                if details:
                    st = e.stat(follow_symlinks=False)
                    return "file", ObjectInfo(rel, st.st_size, st.st_mtime)
                return "file", ObjectInfo(rel, 0, None)
            if e.is_symlink():
                real, why = self._follow(rel, e.path)
                if real is None:  # out of the store: why says so
                    return "file", ObjectInfo(rel, 0, None, problem=why)
                try:
                    st = os.stat(real)
                except FileNotFoundError:
                    return "file", ObjectInfo(rel, 0, None, problem=f"{_show(rel)} is a symbolic link to nothing")
                if stat.S_ISDIR(st.st_mode):
                    if real in links or parent == real or parent.startswith(real.rstrip(os.sep) + os.sep) \
                            or len(links) >= 40:
                        return "file", ObjectInfo(rel, 0, None, problem=f"{_show(rel)} is a symbolic link to a "
                                                  "folder it is in (a loop); not followed")
                    return "dir", real, (*links, real)
                if stat.S_ISREG(st.st_mode):
                    return "file", ObjectInfo(rel, st.st_size, st.st_mtime)
                return "file", ObjectInfo(rel, 0, None, problem=_not_regular(_show(rel), st.st_mode)
                                          + " (through a symbolic link)", no_content=True)
            st = e.stat(follow_symlinks=False)
        except FileNotFoundError:
            return None  # gone since the folder was read
        except OSError as exc:
            return "file", ObjectInfo(rel, 0, None, problem=f"{_show(rel)} could not be looked at: "
                                      f"{exc.strerror or exc}")
        return "file", ObjectInfo(rel, 0, st.st_mtime, problem=_not_regular(_show(rel), st.st_mode), no_content=True)

    # -- interface --------------------------------------------------------------
    def list(self, prefix: str = "", *, page_size: int = 1000, details: bool = True,
             ordered: bool = True) -> Iterator[ObjectInfo]:
        """Regular files (and links inside the store, followed), in key order. What cannot
        be read is listed with ``problem`` set (a FIFO, device or socket, a link out of
        the store, a name that cannot be kept, a loop) and never opened; a prefix whose
        folder is a link out of the store raises :class:`Refused`."""
        head, _, _ = prefix.rpartition("/")
        start_rel = head + "/" if head else ""
        start = self._start_folder(head)
        if start is None:
            return
        results: list[ObjectInfo] = []
        append, search = results.append, _ODD.search
        stack: list[tuple[str, str, tuple[str, ...]]] = [(start, start_rel, ())]
        while stack:
            d, rel_dir, links = stack.pop()
            try:
                with os.scandir(d) as it:
                    for e in it:
                        name = e.name
                        rel = rel_dir + name
                        # the usual entry (a plain file with a plain name) without a call
                        if name[0] != "." and e.is_file(follow_symlinks=False) and not search(name):
                            if rel.startswith(prefix):
                                if details:
                                    st = e.stat(follow_symlinks=False)
                                    info = ObjectInfo(rel, st.st_size, st.st_mtime)
                                else:
                                    info = ObjectInfo(rel, 0, None)
                                if ordered:
                                    append(info)
                                else:
                                    yield info
                            continue
                        got = self._entry(e, rel, details, d, links)
                        if got is None:
                            continue
                        if got[0] == "dir":
                            sub = rel + "/"
                            if sub.startswith(prefix) or prefix.startswith(sub):
                                stack.append((got[1], sub, got[2]))
                            continue
                        info = got[1]
                        if not rel.startswith(prefix):
                            continue
                        if ordered:
                            append(info)
                        else:
                            yield info
            except (PermissionError, FileNotFoundError, NotADirectoryError):
                continue
        results.sort(key=lambda o: o.key)
        yield from results

    def any_key(self, prefix: str) -> str | None:
        try:
            return super().any_key(prefix)
        except Refused:
            return None  # a folder that is a link out of the store is not there (listing it says why)

    def list_children(self, prefix: str = "") -> Iterator[ObjectInfo]:
        head = prefix.strip("/")
        try:
            d = self._start_folder(head)
        except Refused:
            return
        if d is None:
            return
        rel_dir = head + "/" if head else ""
        out: list[ObjectInfo] = []
        try:
            with os.scandir(d) as it:
                for e in it:
                    got = self._entry(e, rel_dir + e.name, True, d, ())
                    if got is not None and got[0] == "file":
                        out.append(got[1])
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return
        out.sort(key=lambda o: o.key)
        yield from out

    def get(self, key: str) -> bytes:
        return self.get_with_stat(key)[0]

    def get_limited(self, key: str, limit: int) -> bytes:
        return self.get_with_stat(key, limit)[0]

    def _open(self, key: str, path: str) -> int:
        """A read-only descriptor for *key*: never blocks (O_NONBLOCK: a FIFO opens at
        once), never follows a link out of the store."""
        try:
            # O_NOFOLLOW refuses a symbolic link as the last part in the same call
            fd = os.open(path, _READ_FLAGS)
        except FileNotFoundError:
            raise NotFound(f"{key} not found") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP or (_NOFOLLOW == 0 and os.path.islink(path)):
                real, why = self._follow(key, path)
                if real is None:  # out of the store: why says so
                    raise Refused(why) from None
                try:
                    fd = os.open(real, _READ_FLAGS)
                except FileNotFoundError:
                    raise NotFound(f"{key} is a symbolic link to nothing") from None
                except OSError as exc2:
                    raise self._open_error(key, exc2) from None
            else:
                raise self._open_error(key, exc) from None
        # where the descriptor really is (a folder on the way may be a link)
        if _HAS_PROC_FD:
            try:
                where = os.readlink(f"{_PROC_FD}{fd}")
            except OSError:
                where = os.path.realpath(path)
        else:
            where = os.path.realpath(path)
        if not self._is_inside(where):
            os.close(fd)
            raise Refused(self._refused_link(key) or f"{_show(key)} leads out of the store; not read")
        return fd

    def _open_pinned(self, key: str, path: str, pinned: dict[str, int]) -> int:
        """:meth:`_open` through the pinned descriptor of *key*'s folder (see ``pin_folders``)."""
        folder, _, name = key.rpartition("/")
        dfd = pinned.get(folder)
        if dfd is None:
            dfd = self._pin(folder, pinned)
        if dfd < 0:
            return self._open(key, path)
        try:
            return os.open(name, _READ_FLAGS, dir_fd=dfd)
        except FileNotFoundError:
            raise NotFound(f"{key} not found") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # a symbolic link: the usual way decides where it leads
                return self._open(key, path)
            raise self._open_error(key, exc) from None

    def _pin(self, folder: str, pinned: dict[str, int]) -> int:
        if len(pinned) >= _MAX_PINNED:  # (a view that wanders over many folders: start again)
            self.close()
        fd = -1
        try:
            fd = os.open(self._root_s + folder if folder else str(self.root),
                         os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
            if not self._is_inside(os.readlink(f"{_PROC_FD}{fd}")):
                os.close(fd)
                fd = -1
        except OSError:
            if fd >= 0:
                os.close(fd)
            fd = -1
        pinned[folder] = fd
        return fd

    def close(self) -> None:
        pinned = self._pinned
        if pinned:
            for fd in pinned.values():
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            pinned.clear()

    @staticmethod
    def _open_error(key: str, exc: OSError) -> StorageError:
        if exc.errno == errno.ENXIO:  # a socket (or a device with nothing behind it)
            return Refused(f"{_show(key)} is a socket or device, not a regular file")
        if isinstance(exc, IsADirectoryError):
            return NotFound(f"{key} is a folder")
        return _os_error(exc, key)

    def get_with_mtime(self, key: str, limit: int | None = None) -> tuple[bytes, float]:
        """The bytes and the modification time, from one open (no separate stat).

        Only a regular file is read, and only if it is at most *limit* bytes (by
        default :attr:`max_read_bytes`); anything else is :class:`Refused`, naming it."""
        data, st = self.get_with_stat(key, limit)
        return data, st.st_mtime

    def get_with_stat(self, key: str, limit: int | None = None) -> tuple[bytes, os.stat_result]:
        """The bytes and the file's status as it was opened (its size, modification and change
        times), from one open: as :meth:`get_with_mtime`."""
        validate_key(key)
        if not self.colon_ok and ":" in key:
            raise StorageError(f"{key!r} cannot be stored in a Windows folder (':' is not allowed in file names)")
        why = _odd_name(key)
        if why is not None:
            raise Refused(f"{_show(key)}: {why}")
        path = self._root_s + (key if os.sep == "/" else key.replace("/", os.sep))
        pinned = self._pinned
        fd = self._open(key, path) if pinned is None else self._open_pinned(key, path, pinned)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                if stat.S_ISDIR(st.st_mode):
                    raise NotFound(f"{key} is a folder")
                raise Refused(_not_regular(_show(key), st.st_mode))
            name = key.rpartition("/")[2]
            if name[:1] == "." and _special(name, st.st_ino):
                raise Refused(f"{_show(key)} is a JuiceFS special file, not store data")
            cap = self.max_read_bytes if limit is None else limit
            if st.st_size > cap:
                raise Refused(f"{_show(key)} is {human_size(st.st_size)}, over the {human_size(cap)} limit")
            # never more than the size the file had when opened: a special file that
            # says 0 bytes and never ends (JuiceFS .accesslog, /proc) is not read on
            data = os.read(fd, st.st_size) if st.st_size else b""
            while len(data) < st.st_size:  # a short read
                b = os.read(fd, st.st_size - len(data))
                if not b:
                    break
                data += b
            if st.st_size and len(data) == st.st_size:  # grown since the fstat: the rest, within the limit
                while b := os.read(fd, 1 << 20):
                    data += b
                    if len(data) > cap:
                        raise Refused(f"{_show(key)} grew while being read to over the {human_size(cap)} limit")
            return data, st
        except OSError as exc:
            raise _os_error(exc, key) from None
        finally:
            os.close(fd)

    def put(self, key: str, data: bytes) -> None:
        p = self._path(key)
        tmp = self._write_tmp(p, data)
        try:
            os.replace(tmp, p)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise _os_error(exc, key) from None
        fsync_dir(p.parent)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        p = self._path(key)
        if os.path.lexists(p):
            return False
        tmp = self._write_tmp(p, data)
        try:
            os.link(tmp, p)  # atomic: fails if the name exists
            created = True
        except FileExistsError:
            created = False
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                tmp.unlink(missing_ok=True)
                raise _os_error(exc, key) from None
            # no hard links (FAT, some FUSE mounts): exclusive create, then write in place
            try:
                fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.close(fd)
                os.replace(tmp, p)
                created = True
            except FileExistsError:
                created = False
        finally:
            tmp.unlink(missing_ok=True)
        if created:
            fsync_dir(p.parent)
        return created

    def stat(self, key: str) -> ObjectInfo | None:
        p = self._path(key)
        try:
            st = p.lstat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _os_error(exc, key) from None
        if stat.S_ISLNK(st.st_mode):  # followed when it stays inside the store, as reads do
            real, _why = self._follow(key, str(p))
            try:
                st = os.stat(real) if real is not None else st
            except OSError:
                return None
        if not stat.S_ISREG(st.st_mode):
            return None
        return ObjectInfo(key, st.st_size, st.st_mtime)

    def delete(self, key: str) -> None:
        p = self._path(key)
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _os_error(exc, key) from None

    def move(self, src: str, dst: str) -> None:
        s, d = self._path(src), self._path(dst)
        if not s.is_file():
            raise NotFound(f"{src} not found")
        try:
            private_dir(d.parent)
            os.link(s, d)  # never overwrites
        except FileExistsError:
            if d.read_bytes() != s.read_bytes():
                raise StorageError(f"Cannot move {src}: {dst} already exists with other content") from None
        except OSError:
            return super().move(src, dst)
        s.unlink()
        fsync_dir(d.parent)
        fsync_dir(s.parent)

    def sweep_temp(self, max_age: float = 3600.0) -> int:
        """Remove temporary files left by writers that died (kill -9, power loss).

        A temp file is removed when the process that wrote it is gone, or when it
        is older than *max_age* seconds. Returns how many were removed."""
        import time as _time

        removed = 0
        now = _time.time()
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if not (name.startswith(".") and name.endswith(_TMP_SUFFIX)):
                    continue
                p = Path(dirpath) / name
                parts = name[: -len(_TMP_SUFFIX)].rsplit(".", 2)
                dead = False
                if len(parts) == 3 and parts[1].isdigit():
                    pid = int(parts[1])
                    if pid != os.getpid():
                        try:
                            os.kill(pid, 0)
                        except ProcessLookupError:
                            dead = True
                        except PermissionError:
                            dead = False
                try:
                    if dead or now - p.stat().st_mtime > max_age:
                        p.unlink()
                        removed += 1
                except OSError:
                    continue
        return removed

    def local_path(self, key: str) -> Path:
        return self._path(key)

    def on_local_disk(self) -> bool:
        """Is the store on a local disk file system (ext4, XFS, Btrfs, tmpfs...)? There the
        kernel keeps files' change times by this machine's clock; not so on FUSE and
        network mounts, nor where it cannot be told."""
        r = self.__dict__.get("_local_disk")
        if r is None:
            r = self.__dict__["_local_disk"] = _fs_type(self._real_root) in _LOCAL_DISK_TYPES
        return bool(r)



#: file systems where the kernel keeps a file's status-change time by this machine's clock
#: (not FUSE, not network file systems: another machine's clock may be behind)
_LOCAL_DISK_TYPES = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "f2fs", "jfs", "reiserfs"})


def _fs_type(path: str) -> str | None:
    """The type of the file system *path* (a real path) is on, from /proc/self/mounts; None
    where that cannot be told."""
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as f:
            mounts = [line.split() for line in f]
    except OSError:
        return None
    best, kind = "", None
    for m in mounts:
        if len(m) < 3:
            continue
        point = m[1].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
        if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, kind = point, m[2]
    return kind

