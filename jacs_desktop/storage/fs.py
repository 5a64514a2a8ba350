"""Filesystem backend: a folder, with atomic writes and immutable versions."""

from __future__ import annotations

import errno
import os
import stat
import sys
import uuid
from pathlib import Path
from typing import Iterator

from ..paths import private_dir
from .base import AccessDenied, NotFound, ObjectInfo, ObjectStore, StorageError, validate_key

__all__ = ["FsStore"]

_TMP_SUFFIX = ".jdtmp"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _read_rest(fd: int) -> bytes:
    parts = []
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            return b"".join(parts)
        parts.append(b)
_READ_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_BINARY", 0)


def _fsync_dir(path: Path) -> None:
    from ..core.identity import fsync_dir

    fsync_dir(path)


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

    def __init__(self, root: str | os.PathLike, *, create: bool = False):
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
            try:
                tmp.unlink()
            except OSError:
                pass
            if isinstance(exc, OSError):
                raise _os_error(exc, str(path)) from None
            raise
        return tmp

    # -- interface --------------------------------------------------------------
    def list(self, prefix: str = "", *, page_size: int = 1000, details: bool = True,
             ordered: bool = True) -> Iterator[ObjectInfo]:
        head, _, _ = prefix.rpartition("/")
        start_rel = head + "/" if head else ""
        start = self.root.joinpath(*head.split("/")) if head else self.root
        if not start.is_dir():
            return
        results: list[ObjectInfo] = []
        append = results.append
        stack = [(str(start), start_rel)]
        while stack:
            d, rel_dir = stack.pop()
            try:
                with os.scandir(d) as it:
                    for e in it:
                        name = e.name
                        if name[0] == "." and name.endswith(_TMP_SUFFIX):
                            continue
                        rel = rel_dir + name
                        if e.is_dir(follow_symlinks=False):
                            sub = rel + "/"
                            if sub.startswith(prefix) or prefix.startswith(sub):
                                stack.append((e.path, sub))
                        elif rel.startswith(prefix) and e.is_file(follow_symlinks=False):
                            if details:
                                st = e.stat(follow_symlinks=False)
                                info = ObjectInfo(rel, st.st_size, st.st_mtime)
                            else:
                                info = ObjectInfo(rel, 0, None)
                            if ordered:
                                append(info)
                            else:
                                yield info
            except (PermissionError, FileNotFoundError, NotADirectoryError):
                continue
        results.sort(key=lambda o: o.key)
        yield from results

    def list_children(self, prefix: str = "") -> Iterator[ObjectInfo]:
        d = self.root.joinpath(*prefix.strip("/").split("/")) if prefix.strip("/") else self.root
        out = []
        try:
            with os.scandir(d) as it:
                for e in it:
                    if e.name.startswith(".") and e.name.endswith(_TMP_SUFFIX):
                        continue
                    if e.is_file(follow_symlinks=False):
                        st = e.stat(follow_symlinks=False)
                        out.append(ObjectInfo(prefix + e.name, st.st_size, st.st_mtime))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return
        out.sort(key=lambda o: o.key)
        yield from out

    def get(self, key: str) -> bytes:
        return self.get_with_mtime(key)[0]

    def get_with_mtime(self, key: str) -> tuple[bytes, float]:
        """The bytes and the modification time, from one open (no separate stat)."""
        validate_key(key)
        if not self.colon_ok and ":" in key:
            raise StorageError(f"{key!r} cannot be stored in a Windows folder (':' is not allowed in file names)")
        path = self._root_s + (key if os.sep == "/" else key.replace("/", os.sep))
        try:
            # O_NOFOLLOW refuses a symbolic link in the same call (no check-then-open race)
            fd = os.open(path, _READ_FLAGS)
        except FileNotFoundError:
            raise NotFound(f"{key} not found") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP or (_NOFOLLOW == 0 and os.path.islink(path)):
                raise NotFound(f"{key} is a symbolic link; not followed") from None
            if isinstance(exc, IsADirectoryError):
                raise NotFound(f"{key} is a folder") from None
            raise _os_error(exc, key) from None
        try:
            if _NOFOLLOW == 0 and os.path.islink(path):
                raise NotFound(f"{key} is a symbolic link; not followed")
            st = os.fstat(fd)
            if st.st_size and stat.S_ISREG(st.st_mode):
                data = os.read(fd, st.st_size + 1)  # the usual case: all of it in one read
                if len(data) != st.st_size:  # a short read, or the file grew meanwhile
                    data += _read_rest(fd)
                return data, st.st_mtime
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, "is a folder")
            with open(fd, "rb", buffering=0, closefd=False) as f:
                return f.readall(), st.st_mtime
        except IsADirectoryError:
            raise NotFound(f"{key} is a folder") from None
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
        _fsync_dir(p.parent)

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
            _fsync_dir(p.parent)
        return created

    def stat(self, key: str) -> ObjectInfo | None:
        p = self._path(key)
        try:
            st = p.lstat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _os_error(exc, key) from None
        import stat as _stat

        if not _stat.S_ISREG(st.st_mode):
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
        _fsync_dir(d.parent)
        _fsync_dir(s.parent)

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
