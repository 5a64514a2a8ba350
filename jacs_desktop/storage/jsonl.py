"""``jsonl:///path/file.jsonl``: the whole store in one JSON Lines file.

One object per line, so ``jq``, ``grep`` and data tools read the file directly.

Line format (each line ends with LF; the file is UTF-8):

1. **A JACS document or agent is its own JSON on a line** — the signed object itself,
   byte for byte, except that every LF byte of the stored bytes is written as a TAB.
   In JSON a raw LF or TAB can only be white space between tokens (inside strings they
   are escaped), so the line parses to exactly the signed object, and reading it back
   (TAB → LF) gives the very bytes that were stored (pretty-printed documents included).
   Its object key is not written: it is derived from the object —
   ``jacs_data/agent/{jacsId}:{jacsVersion}.json`` when ``jacsType`` is ``"agent"``,
   else ``documents/{jacsId}:{jacsVersion}.json``.
2. **Any other JSON** (a JACS object stored under another key — archived, in another
   data directory, a config — or JSON that is not a JACS object) is wrapped, the stored
   bytes written as the value of ``json`` (same TAB rule)::

       {"$jacsDesktopObject":"documents/archive/ID:V.json","json":{…the signed object…}}

   so ``jq '.json // .'`` gives every JSON object.
3. **Everything else** (public keys, attachments, empty objects, bytes that are not
   UTF-8 JSON, or JSON holding a raw TAB or CR, a BOM, NaN/Infinity) as base64::

       {"$jacsDesktopObject":"jacs_data/public_keys/HASH.pem","base64":"LS0tLS1CRUdJTi…"}

A line is never both: an object with a ``$jacsDesktopObject`` member is a wrapper.
Wrapper lines written by other tools with other white space are read too (their
``json`` value then comes back compact).  Lines that are not JSON, or JSON objects that
are neither a JACS object nor a wrapper, are skipped with a warning and kept as they
are by rewrites.  If a key appears twice (hand-appended lines), the first line wins.

Writes:

* :meth:`JsonlStore.put_if_absent` appends one line (versions are immutable: an existing
  key is left alone and ``False`` returned). Appends hold an exclusive ``fcntl.flock`` on
  the file, so two processes never interleave lines, and are fsynced.
* :meth:`~JsonlStore.put` of an existing key with other bytes, :meth:`~JsonlStore.delete`
  and :meth:`~JsonlStore.move` (archive/restore) rewrite the file to a temporary file
  beside it and rename it over the original (readers see the old or the new file);
  they cost a pass over the file.
* A crash mid-append leaves a partial last line (no LF). It is ignored when reading
  (with a warning) and repaired by the next write, under the lock: cut off, or given
  its LF when it is a whole line that only lost its line end.

Reads: an index (key → offset, length) is built when the file is opened by scanning it
once, line by line; a read seeks to the line and reads only it, so memory stays bounded
by the largest object.  Appends and rewrites by other processes are picked up on the
next call (the file's size and inode are checked).

Windows: there is no ``flock``; writes are serialised within the process only, so two
processes must not write one file at the same time there (not tested on Windows).

Size: a whole storage engine in one file (line format, offset index, locking, torn-line repair,
atomic rewrites) so its invariants sit together.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import contextlib
import json
import logging
import os
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn, TypeAlias

from .base import (
    AccessDenied,
    NotFound,
    ObjectInfo,
    ObjectStore,
    Refused,
    StorageError,
    UnsafeName,
    human_size,
    validate_id,
    validate_key,
)

if sys.platform == "win32":  # pragma: no cover - no inter-process lock (see the module docstring)
    fcntl = None
else:
    import fcntl

__all__ = ["JsonlStore", "WRAPPER_MEMBER", "derived_key"]

log = logging.getLogger(__name__)

WRAPPER_MEMBER = "$jacsDesktopObject"
_PREFIX = b'{"' + WRAPPER_MEMBER.encode() + b'":'
_JSON_SEP = b',"json":'
_B64_SEP = b',"base64":"'
_CHUNK = 1 << 20

# index entry kinds
_BARE, _JSON, _B64, _OTHER = 0, 1, 2, 3
#: an index entry: (offset, line length, payload start, payload length, kind, size)
_Entry: TypeAlias = tuple[int, int, int, int, int, int]


def derived_key(obj: object) -> str | None:
    """The key a JACS object's own line stands for (None: not a JACS object)."""
    if not isinstance(obj, dict) or WRAPPER_MEMBER in obj:
        return None
    jid, ver = obj.get("jacsId"), obj.get("jacsVersion")
    try:
        validate_id(jid, "jacsId")
        validate_id(ver, "jacsVersion")
    except UnsafeName:
        return None
    if obj.get("jacsType") == "agent":
        return f"jacs_data/agent/{jid}:{ver}.json"
    return f"documents/{jid}:{ver}.json"


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


_NOT_JSON = object()


def _as_json(data: bytes) -> object:
    """The JSON value of *data* if it can be written on a line (TAB rule), else _NOT_JSON."""
    if not data or b"\t" in data or b"\r" in data:
        return _NOT_JSON
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _NOT_JSON


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


if hasattr(os, "pread"):
    def _pread(fd: int, n: int, offset: int) -> bytes:
        out = []
        while n > 0:
            chunk = os.pread(fd, n, offset)
            if not chunk:
                break
            out.append(chunk)
            n -= len(chunk)
            offset += len(chunk)
        return b"".join(out)
else:  # pragma: no cover - Windows (callers hold the store's lock)
    def _pread(fd: int, n: int, offset: int) -> bytes:
        os.lseek(fd, offset, os.SEEK_SET)
        out = []
        while n > 0:
            chunk = os.read(fd, n)
            if not chunk:
                break
            out.append(chunk)
            n -= len(chunk)
        return b"".join(out)


def _parse_line(line: bytes) -> tuple[str, int, int, int, int] | None:
    """(key, kind, payload start, payload length, size) for a complete line (no LF), or None."""
    if line.startswith(_PREFIX):
        head = line[len(_PREFIX):len(_PREFIX) + 8192].decode("utf-8", "ignore")
        try:
            key, end = json.JSONDecoder().raw_decode(head)
        except ValueError:
            key = None
        if isinstance(key, str):
            start = len(_PREFIX) + len(head[:end].encode("utf-8"))
            if line.startswith(_JSON_SEP, start) and line.endswith(b"}"):
                start += len(_JSON_SEP)
                plen = len(line) - start - 1
                if _as_json(line[start:-1].replace(b"\t", b"\n")) is not _NOT_JSON:  # nothing else in the line
                    return key, _JSON, start, plen, plen
            elif line.startswith(_B64_SEP, start) and line.find(b'"', start + len(_B64_SEP)) == len(line) - 2:
                start += len(_B64_SEP)
                plen = len(line) - start - 2
                pad = line[start:start + plen][-2:].count(b"=")
                return key, _B64, start, plen, plen // 4 * 3 - pad
    try:
        obj = json.loads(line.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    if WRAPPER_MEMBER in obj:  # written by another tool, with other white space
        key = obj[WRAPPER_MEMBER]
        if not isinstance(key, str):
            return None
        if isinstance(obj.get("base64"), str) or "json" in obj:
            size = len(_decode_other(line))
        else:
            return None
        return key, _OTHER, 0, len(line), size
    key = derived_key(obj)
    return None if key is None else (key, _BARE, 0, len(line), len(line))


def _decode_other(line: bytes) -> bytes:
    obj = json.loads(line.decode("utf-8"))
    if isinstance(obj.get("base64"), str):
        return base64.b64decode(obj["base64"], validate=True)
    return json.dumps(obj["json"], ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encode_line(key: str, data: bytes) -> bytes:
    """The line (without LF) that stores *data* under *key*."""
    value = _as_json(data)
    if value is _NOT_JSON:
        return (_PREFIX + json.dumps(key, ensure_ascii=False).encode("utf-8") + _B64_SEP
                + base64.b64encode(data) + b'"}')
    body = data.replace(b"\n", b"\t")
    if derived_key(value) == key:
        return body
    return _PREFIX + json.dumps(key, ensure_ascii=False).encode("utf-8") + _JSON_SEP + body + b"}"


def _payload(kind: int, raw: bytes) -> bytes:
    if kind in (_BARE, _JSON):
        return raw.replace(b"\t", b"\n")
    if kind == _B64:
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise StorageError(f"a base64 line is damaged: {exc}") from None
    try:
        return _decode_other(raw)
    except (UnicodeDecodeError, ValueError, binascii.Error) as exc:
        raise StorageError(f"a line is damaged: {exc}") from None


class JsonlStore(ObjectStore):
    colon_ok = True

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True, durable: bool = True) -> None:
        """*create*: make the file (and its folder) when missing; *durable*: fsync every write."""
        self.path = Path(path).expanduser().absolute()
        posix = self.path.as_posix()
        self.url = f"jsonl://{posix}" if posix.startswith("/") else f"jsonl:///{posix}"
        self.durable = durable
        self._lock = threading.RLock()
        self._fd: int | None = None
        self._writable = True
        if self.path.is_dir():
            raise StorageError(f"{self.path} is a folder, not a JSON Lines file")
        if not self.path.exists():
            if not create:
                raise NotFound(f"{self.path} does not exist")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600))
            except PermissionError as exc:
                raise AccessDenied(f"Cannot create {self.path}: {exc.strerror}") from None
            except OSError as exc:
                raise StorageError(f"Cannot create {self.path}: {exc.strerror or exc}") from None
        with self._lock:
            self._open()
            self._reindex(warn_torn=True)

    # -- file and index ---------------------------------------------------------------
    def _open(self) -> None:
        flags = getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | flags)
            self._writable = True
        except PermissionError:
            try:
                fd = os.open(self.path, os.O_RDONLY | flags)
            except PermissionError as exc:
                raise AccessDenied(f"Cannot read {self.path}: {exc.strerror}") from None
            self._writable = False
        except FileNotFoundError:
            raise NotFound(f"{self.path} is gone") from None
        except OSError as exc:
            raise StorageError(f"Cannot open {self.path}: {exc.strerror or exc}") from None
        if self._fd is not None:
            os.close(self._fd)
        self._fd = fd
        st = os.fstat(fd)
        self._ident = (st.st_dev, st.st_ino)

    def _fileno(self) -> int:
        """The open file's descriptor (a closed store says so)."""
        fd = self._fd
        if fd is None:
            raise StorageError(f"{self.path}: the store is closed")
        return fd

    def _scan(self, start: int, end: int) -> Iterator[tuple[int, bytes]]:
        """(offset, line) for the complete lines in [start, end); sets self._scan_end to where
        the last complete line ends (anything after it is a partial line)."""
        buf = bytearray()
        base = start  # file offset of buf[0]
        pos = start
        i = search = 0
        self._scan_end = start
        while True:
            nl = buf.find(b"\n", search)
            if nl >= 0:
                yield base + i, bytes(buf[i:nl])
                i = search = nl + 1
                self._scan_end = base + i
                continue
            if i:
                del buf[:i]
                base, search, i = base + i, search - i, 0
            if pos >= end:
                return
            chunk = _pread(self._fileno(), min(_CHUNK, end - pos), pos)
            if not chunk:
                return
            search = len(buf)
            pos += len(chunk)
            buf += chunk

    def _reindex(self, *, warn_torn: bool = False, quiet: bool = False) -> None:
        self._index: dict[str, _Entry] = {}
        self._keys: list[str] = []
        self._end = 0
        self._skipped = 0
        self._seen: tuple[int, int] | None = None  # (size, mtime) of the file when last looked at
        self._catch_up(os.fstat(self._fileno()).st_size, sort=True, warn_torn=warn_torn, quiet=quiet)

    def _catch_up(self, size: int, *, sort: bool = False, warn_torn: bool = False, quiet: bool = False) -> None:
        """Index the complete lines between the indexed end and *size*."""
        new: list[str] = []
        for off, line in self._scan(self._end, size):
            parsed = _parse_line(line)
            if parsed is None:
                if line.strip():
                    self._skipped += 1
                    if not quiet:
                        log.warning("%s: the line at byte %d is not a JACS object or a stored object; skipped",
                                    self.path, off)
                continue
            key, kind, start, plen, osize = parsed
            try:
                validate_key(key)
            except UnsafeName as exc:
                self._skipped += 1
                if not quiet:
                    log.warning("%s: the line at byte %d is skipped: %s", self.path, off, exc)
                continue
            if key in self._index:
                if not quiet:
                    log.warning("%s: %s appears again at byte %d; the first line is kept", self.path, key, off)
                continue
            self._index[key] = (off, len(line), start, plen, kind, osize)
            new.append(key)
        self._end = self._scan_end
        if sort or len(new) > 64:
            self._keys.extend(new)
            self._keys.sort()
        else:
            for k in new:
                bisect.insort(self._keys, k)
        if warn_torn and size > self._end:
            log.warning("%s: the last %d bytes are a partial line (a write cut short); ignored, and "
                        "repaired by the next write", self.path, size - self._end)

    def _refresh(self) -> None:
        """Pick up what other processes wrote since (caller holds self._lock)."""
        if self._fd is None:
            raise StorageError(f"{self.path}: the store is closed")
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise NotFound(f"{self.path} is gone") from None
        except OSError as exc:
            raise StorageError(f"Cannot read {self.path}: {exc.strerror or exc}") from None
        if (st.st_dev, st.st_ino) != self._ident:
            self._open()
            self._reindex()
        elif st.st_size < self._end:
            self._reindex()
        elif (st.st_size, st.st_mtime_ns) != self._seen:
            with self._flocked(fcntl.LOCK_SH if fcntl else 0):
                self._catch_up(os.fstat(self._fileno()).st_size)
        self._seen = (st.st_size, st.st_mtime_ns)

    @contextlib.contextmanager
    def _flocked(self, mode: int) -> Iterator[None]:
        if fcntl is None or not mode:
            yield
            return
        fcntl.flock(self._fileno(), mode)
        try:
            yield
        finally:
            fcntl.flock(self._fileno(), fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the thread lock and the exclusive file lock, with the index up to date and a
        partial last line repaired."""
        if self._fd is None:
            raise StorageError(f"{self.path}: the store is closed")
        if not self._writable:
            raise AccessDenied(f"{self.path} is read-only")
        with self._lock:
            for _ in range(100):
                if fcntl is not None:
                    fcntl.flock(self._fileno(), fcntl.LOCK_EX)
                try:
                    st = os.stat(self.path)
                except OSError:
                    st = None
                if st is not None and (st.st_dev, st.st_ino) == self._ident:
                    break
                if fcntl is not None:
                    fcntl.flock(self._fileno(), fcntl.LOCK_UN)
                self._open()  # replaced by another process's rewrite: follow it
                self._reindex()
            else:  # pragma: no cover
                raise StorageError(f"{self.path} keeps being replaced")
            try:
                size = os.fstat(self._fileno()).st_size
                if size < self._end:
                    self._reindex()
                elif size > self._end:
                    self._catch_up(size)
                self._repair_tail()
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(self._fileno(), fcntl.LOCK_UN)

    def _repair_tail(self) -> None:
        size = os.fstat(self._fileno()).st_size
        if size <= self._end:
            return
        tail = _pread(self._fileno(), size - self._end, self._end)
        if _parse_line(tail) is not None:
            log.warning("%s: the last line had lost its line end; repaired", self.path)
            _write_all(self._fileno(), b"\n")
            self._sync()
            self._catch_up(size + 1)
            return
        log.warning("%s: removing a partial last line of %d bytes (a write cut short)", self.path, len(tail))
        os.ftruncate(self._fileno(), self._end)
        self._sync()

    def _sync(self) -> None:
        if self.durable:
            os.fsync(self._fileno())

    def _append(self, key: str, line: bytes) -> None:
        off = self._end
        try:
            _write_all(self._fileno(), line + b"\n")
            self._sync()
        except OSError as exc:
            with contextlib.suppress(OSError):  # else the next write removes the partial line
                os.ftruncate(self._fileno(), off)
            raise StorageError(f"Cannot write {key} to {self.path}: {exc.strerror or exc}") from None
        self._catch_up(off + len(line) + 1)
        if key not in self._index:  # pragma: no cover - encode_line and _parse_line disagree
            raise StorageError(f"{key} was written but does not read back")

    def _rewrite(self, changes: dict[str, bytes | None], appended: Sequence[tuple[str, bytes]] = ()) -> None:
        """Rewrite the file: each key in *changes* has its line replaced (None: removed), then
        *appended* lines are added; to a temporary file, renamed over the original."""
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:12]}.tmp")
        by_off = {e[0]: k for k, e in self._index.items()}
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        except OSError as exc:
            raise StorageError(f"Cannot write beside {self.path}: {exc.strerror or exc}") from None
        try:
            try:
                os.chmod(tmp, os.fstat(self._fileno()).st_mode & 0o777)
                out: list[bytes] = []
                pending = 0
                for off, line in self._scan(0, self._end):
                    key = by_off.get(off)
                    if key is None and changes:
                        parsed = _parse_line(line)  # a duplicate of a removed key goes too
                        if parsed is not None and parsed[0] in changes:
                            continue
                    elif key in changes:
                        new_line = changes[key]
                        if new_line is None:
                            continue
                        line = new_line
                    out.append(line + b"\n")
                    pending += len(line) + 1
                    if pending >= _CHUNK:
                        _write_all(fd, b"".join(out))
                        out, pending = [], 0
                for _key, line in appended:
                    out.append(line + b"\n")
                _write_all(fd, b"".join(out))
                os.fsync(fd)
            finally:
                os.close(fd)
            if os.name == "nt":  # pragma: no cover - an open file cannot be replaced there
                os.close(self._fileno())
                self._fd = None
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if self._fd is None:  # pragma: no cover
                self._open()
            raise StorageError(f"Cannot rewrite {self.path}: {exc.strerror or exc}") from None
        if os.name != "nt" and self.durable:
            with contextlib.suppress(OSError):
                dfd = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
        old = self._fd
        if old is not None and fcntl is not None:
            fcntl.flock(old, fcntl.LOCK_UN)  # others waiting on the old file move to the new one
        self._open()
        if fcntl is not None:
            fcntl.flock(self._fileno(), fcntl.LOCK_EX)  # released by _writing
        self._reindex(quiet=True)  # what it skips was said when it was first read

    # -- interface ----------------------------------------------------------------------
    def list(self, prefix: str = "", *, page_size: int = 1000, details: bool = True,
             ordered: bool = True) -> Iterator[ObjectInfo]:
        with self._lock:
            self._refresh()
            i = bisect.bisect_left(self._keys, prefix)
            out: list[ObjectInfo] = []
            while i < len(self._keys) and self._keys[i].startswith(prefix):
                k = self._keys[i]
                out.append(self._info(k, self._index[k]))
                i += 1
        yield from out

    def _info(self, key: str, e: _Entry) -> ObjectInfo:
        return ObjectInfo(key, e[5], None, f"{self._ident[1]:x}-{e[0]:x}-{e[1]:x}")

    def _read(self, key: str, e: _Entry) -> bytes:
        off, _llen, start, plen, kind, _size = e
        raw = _pread(self._fileno(), plen, off + start)
        if len(raw) != plen:
            raise StorageError(f"{key}: {self.path} is shorter than its index (changed while read)")
        return _payload(kind, raw)

    def get(self, key: str) -> bytes:
        validate_key(key)
        with self._lock:
            self._refresh()
            e = self._index.get(key)
            if e is None:
                raise NotFound(f"{key} not found")
            return self._read(key, e)

    def get_limited(self, key: str, limit: int) -> bytes:
        validate_key(key)
        with self._lock:
            self._refresh()
            e = self._index.get(key)
            if e is None:
                raise NotFound(f"{key} not found")
            if e[5] > limit:
                raise Refused(f"{key} is {human_size(e[5])}, over the {human_size(limit)} limit")
            return self._read(key, e)

    def stat(self, key: str) -> ObjectInfo | None:
        validate_key(key)
        with self._lock:
            self._refresh()
            e = self._index.get(key)
            return None if e is None else self._info(key, e)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        validate_key(key)
        line = encode_line(key, bytes(data))
        with self._writing():
            if key in self._index:
                return False
            self._append(key, line)
            return True

    def put(self, key: str, data: bytes) -> None:
        validate_key(key)
        data = bytes(data)
        line = encode_line(key, data)
        with self._writing():
            e = self._index.get(key)
            if e is None:
                self._append(key, line)
            elif self._read(key, e) != data:
                self._rewrite({key: None}, [(key, line)])

    def replace_if_match(self, key: str, data: bytes, etag: str | None) -> bool:
        """Replace *key* only if it is still the object :meth:`stat` gave *etag* for."""
        validate_key(key)
        line = encode_line(key, bytes(data))
        with self._writing():
            e = self._index.get(key)
            if e is None or self._info(key, e).etag != etag:
                return False
            self._rewrite({key: None}, [(key, line)])
            return True

    def delete(self, key: str) -> None:
        validate_key(key)
        with self._writing():
            if key in self._index:
                self._rewrite({key: None})

    def move(self, src: str, dst: str) -> None:
        """One rewrite: the line of *src* becomes the line of *dst*, in place."""
        validate_key(src)
        validate_key(dst)
        with self._writing():
            e = self._index.get(src)
            if e is None:
                raise NotFound(f"{src} not found")
            data = self._read(src, e)
            d = self._index.get(dst)
            if d is not None:
                if self._read(dst, d) != data:
                    raise StorageError(f"Cannot move {src}: {dst} already exists with other content")
                self._rewrite({src: None})
                return
            self._rewrite({src: encode_line(dst, data)})

    def sweep_temp(self) -> None:
        """Remove temporary files left by a rewrite that was killed (under the write lock, so
        never the one a live rewrite is writing)."""
        if not self._writable:
            return
        with self._writing():
            for p in self.path.parent.glob(f".{self.path.name}.*.tmp"):
                with contextlib.suppress(OSError):
                    p.unlink()

    @property
    def skipped_lines(self) -> int:
        """How many lines could not be read as objects (each logged as a warning)."""
        return self._skipped

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
