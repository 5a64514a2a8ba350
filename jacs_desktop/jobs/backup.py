"""Backup to an archive file, verify it, restore it — cancellable jobs.

Archive: ``.tar.gz`` (or ``.tar.zst``, zstandard) holding the store's objects in their layout plus
``manifest.json`` (format version, source, date, tool version, every entry
with size and SHA-256, counts). Optionally encrypted with a passphrase
(AES-256-GCM in 1 MiB chunks, key from Argon2id). Private keys are left out
unless asked for.

Archive integrity (each entry's size and SHA-256 against the manifest) is kept
apart from JACS signatures. ``verify_archive`` and ``restore`` run the same check
and reach the same verdict (``ArchiveReport.exit_code``): 0 every entry intact and
every version valid, 2 versions that do not verify (restored byte for byte and
reported, or left out on request), 1 damaged or unreadable entries (nothing is
restored unless a partial restore is asked for) or other errors.

Restore streams the archive (decrypted chunk by chunk, decompressed in bounded
pieces) into a temporary folder beside the target, checking every entry as it
arrives, then verifies and moves the entries into place: memory stays bounded
whatever the archive's size. Only regular files with safe relative names are
accepted: ``..``, absolute paths, links, device files, duplicate names, a name that
is both a file and a folder, names differing only in case (on a case-insensitive
target), tar headers larger than ``MAX_TAR_HEADER`` (refused from their 512-byte
header, before tarfile would read them into memory), sparse files and
decompression bombs refuse the whole archive and nothing is written to the target.
A manifest is checked field by field: anything unexpected is a sentence, never a
traceback.

Size: archive writing, streaming verification and restore share the archive format, the bounded
tar reader and the integrity checks. TODO(issue 12): split into archive writing, reading and
restore modules.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import struct
import tarfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, NoReturn, Protocol, TypeVar, cast

from .. import __version__
from ..core.checks import ERROR, FAILED, INVALID, MAX_DOCUMENT_BYTES, Check
from ..core.errors import JacsError
from ..core.verify import FileResolver, KeyResolver, Verdict, claimed_hash, verify_bytes
from ..paths import private_dir
from ..storage.base import NotFound, ObjectInfo, ObjectStore, Refused, StorageError, UnsafeName, validate_key
from ..storage.layout import Ref
from ..storage.store import Store
from ..storage.watch import needs_polling
from .common import CancelToken, ProgressFn, is_cancelled

if TYPE_CHECKING:
    from ..storage.fs import FsStore

__all__ = ["BackupError", "backup", "verify_archive", "restore", "ArchiveReport", "MANIFEST_NAME",
           "MAGIC", "is_encrypted"]

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1
MAGIC = b"JACSDESKTOP-BACKUP-ENC1\n"
CHUNK = 1 << 20
MAX_RATIO = 200  # uncompressed / compressed

T = TypeVar("T")


class _Sink(Protocol):
    """Where bytes are written (a file, or the encrypting layer in front of one)."""

    def write(self, data: bytes, /) -> object: ...


class _Readable(Protocol):
    """What the archive is read through, layer by layer (file, decryption, decompression)."""

    def read(self, n: int | None = ..., /) -> bytes: ...


class _Compressor(Protocol):
    """zlib's and zstandard's compression objects."""

    def compress(self, data: bytes, /) -> bytes: ...

    def flush(self) -> bytes: ...


class BackupError(JacsError):
    pass


def _is_private_key(key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    return ".private." in name or name.endswith((".pem.enc", ".key", ".key.enc")) or name == ".jacs_password"


# -- encryption ---------------------------------------------------------------------

def _kdf(passphrase: str, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    return Argon2id(salt=salt, length=32, iterations=2, lanes=1, memory_cost=19456).derive(passphrase.encode())


# -- backup --------------------------------------------------------------------------

_USTAR = bytearray(512)
_USTAR[100:108] = b"0000600\0"
_USTAR[108:116] = b"0000000\0"
_USTAR[116:124] = b"0000000\0"
_USTAR[148:156] = b" " * 8
_USTAR[156:157] = b"0"
_USTAR[257:265] = b"ustar\x0000"
_USTAR_SUM = sum(_USTAR)
_USTAR_TAIL = bytes(_USTAR[156:])


def _ustar_header(name: bytes, size: int, mtime: int) -> bytes | None:
    """A POSIX ustar header for a regular file, or None when the name needs tarfile.
    Built from a template; the checksum is the template's plus the changed fields'."""
    if len(name) > 100 or size >= 8 ** 11:
        return None
    size_f = b"%011o\0" % size
    time_f = b"%011o\0" % max(0, min(mtime, 8 ** 11 - 1))
    check = _USTAR_SUM + sum(name) + sum(size_f) + sum(time_f)
    return b"".join((name, b"\0" * (100 - len(name)), _USTAR_MODES, size_f, time_f, b"%06o\0 " % check,
                     _USTAR_TAIL))


_USTAR_MODES = bytes(_USTAR[100:124])
_ZEROS = bytes(512)


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class _GzipPipe:
    """A write-only file object: bytes written are compressed (gzip level 6, or
    zstandard level 3) on a worker thread in 1 MiB pieces; zlib and zstandard
    release the GIL, so reading the next files overlaps with compressing the last
    ones."""

    PIECE = 1 << 20

    def __init__(self, codec: str = "gzip", sink: _Sink | None = None):
        import queue
        import threading
        import zlib

        if codec == "zstd":
            import zstandard

            self._z: _Compressor = zstandard.ZstdCompressor(level=3).compressobj()
        else:
            self._z = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: gzip wrapper
        self._q: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self._out: list[bytes] = []
        # compressed bytes go straight to the sink (the archive's temp file) when there
        # is one, so memory stays bounded whatever the store's size
        self._emit: Callable[[bytes], object] = sink.write if sink is not None else self._out.append
        self._pending = bytearray()
        self._error: BaseException | None = None
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        try:
            while True:
                piece = self._q.get()
                if piece is None:
                    self._emit(self._z.flush())
                    return
                self._emit(self._z.compress(piece))
        except BaseException as exc:  # surfaced by finish()
            self._error = exc

    def write(self, data: bytes) -> int:
        self._pending += data
        if len(self._pending) >= self.PIECE:
            self._q.put(bytes(self._pending))
            self._pending = bytearray()
        return len(data)

    def tell(self) -> int:  # tarfile asks; the offset it keeps itself is what counts
        return 0

    def flush(self) -> None:
        pass

    def finish(self) -> bytes:
        if self._pending:
            self._q.put(bytes(self._pending))
            self._pending = bytearray()
        self._q.put(None)
        self._t.join()
        if self._error is not None:
            raise BackupError(f"compression failed: {self._error}")
        return b"".join(self._out)

    def abort(self) -> None:
        """Stop the worker thread after a failure or Cancel (what it wrote is dropped)."""
        import queue

        try:
            while True:
                self._q.get_nowait()
        except queue.Empty:
            pass
        self._q.put(None)
        self._t.join(10)


class _EncryptingSink:
    """Writes the encrypted format of :func:`_encrypt` as the bytes arrive: 1 MiB
    chunks, each sealed on its own; the last one (kept back until close) is marked
    as last, so a truncated file is detected."""

    def __init__(self, f: _Sink, passphrase: str):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        salt, self.prefix = os.urandom(16), os.urandom(8)
        header = {"cipher": "AES-256-GCM", "kdf": "Argon2id", "m_cost_kib": 19456, "t_cost": 2, "p_cost": 1,
                  "salt": base64.b64encode(salt).decode(), "nonce_prefix": base64.b64encode(self.prefix).decode(),
                  "chunk": CHUNK}
        self.aes = AESGCM(_kdf(passphrase, salt))
        self.f = f
        self.i = 0
        self.pending = bytearray()
        f.write(MAGIC + json.dumps(header).encode() + b"\n")

    def _seal(self, chunk: bytes, last: bool) -> None:
        ct = self.aes.encrypt(self.prefix + struct.pack(">I", self.i), chunk, b"last" if last else b"more")
        self.f.write(struct.pack(">I", len(ct)) + ct)
        self.i += 1

    def write(self, data: bytes) -> int:
        self.pending += data
        while len(self.pending) > CHUNK:  # strictly more: the final chunk waits for close()
            self._seal(bytes(self.pending[:CHUNK]), False)
            del self.pending[:CHUNK]
        return len(data)

    def close(self) -> None:
        self._seal(bytes(self.pending), True)
        self.pending = bytearray()


def _tar_add(tar: tarfile.TarFile, out: _Sink, name: str, data: bytes, mtime: int) -> None:
    """Append one regular file; a hand-made ustar header for the usual short names
    (tarfile's own header code dominated backup time), tarfile for the rest."""
    header = _ustar_header(name.encode("utf-8"), len(data), mtime)
    if header is None:
        ti = tarfile.TarInfo(name)
        ti.size, ti.mtime, ti.mode = len(data), mtime, 0o600
        tar.addfile(ti, io.BytesIO(data))
        return
    pad = -len(data) % 512
    out.write(b"".join((header, data, _ZEROS[:pad])))
    tar.offset += 512 + len(data) + pad


@dataclass
class ArchiveReport:
    path: str
    entries: int = 0
    bytes: int = 0
    #: every finding, in words, for display (the fields below sort them)
    problems: list[str] = field(default_factory=list)
    verdicts: dict[str, int] = field(default_factory=dict)
    restored: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: the archive as a whole cannot be used (unreadable, wrong passphrase, hostile, no manifest)
    errors: list[str] = field(default_factory=list)
    #: entries whose bytes are not what the manifest says, or that cannot be read: name -> why
    damaged: dict[str, str] = field(default_factory=dict)
    #: the archive breaks off (truncated, damaged stream) after the entries that were read
    stream_error: str | None = None
    #: versions whose signature or hash does not verify: key -> the verifier's reason
    invalid: dict[str, str] = field(default_factory=dict)
    #: intact versions that could not be checked (a key or attachment read failed): key -> why
    not_checked: dict[str, str] = field(default_factory=dict)
    #: entries a restore did not write (damaged ones in a partial restore, invalid ones on request)
    left_out: list[str] = field(default_factory=list)
    #: objects the target refused (write failures)
    failed: list[str] = field(default_factory=list)
    #: for a backup: what the archive holds that a restore will report
    warnings: list[str] = field(default_factory=list)
    #: for a backup: what the store holds that is not in the archive (a link out of the
    #: store, a name that cannot be kept, too large, unreadable): name -> why
    not_archived: dict[str, str] = field(default_factory=dict)
    cancelled: bool = False

    @property
    def is_damaged(self) -> bool:
        return bool(self.damaged or self.stream_error)

    @property
    def exit_code(self) -> int:
        """0 intact and valid, 1 errors or damaged entries, 2 versions that do not verify."""
        if self.errors or self.is_damaged or self.failed or self.cancelled or self.not_checked \
                or self.not_archived:
            return 1
        return 2 if self.invalid else 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "ok": self.ok, "exit_code": self.exit_code, "entries": self.entries,
                "bytes": self.bytes, "problems": self.problems, "errors": self.errors, "damaged": self.damaged,
                "stream_error": self.stream_error, "invalid": self.invalid, "not_checked": self.not_checked,
                "warnings": self.warnings, "not_archived": self.not_archived,
                "verdicts": self.verdicts, "restored": len(self.restored), "skipped": len(self.skipped),
                "left_out": self.left_out, "failed": self.failed, "conflicts": self.conflicts,
                "cancelled": self.cancelled, "seconds": round(self.seconds, 3)}


def backup(src: Store, dest: str | os.PathLike[str], *, passphrase: str | None = None,
           include_private_keys: bool = False, progress: ProgressFn | None = None, cancel: CancelToken | None = None,
           verify_versions: bool = True) -> ArchiveReport:
    """Write the store into a new ``.tar.gz`` or ``.tar.zst`` (atomically: a temp
    file, then rename). Every version is verified as it is archived (*verify_versions*):
    the archive holds them all byte for byte, and those that do not verify are named in
    ``report.invalid`` and ``report.warnings`` (exit code 2)."""
    start = time.perf_counter()
    dest = Path(dest)
    report = ArchiveReport(str(dest))
    if dest.exists():
        raise BackupError(f"{dest} already exists; choose a new file name")
    # folders give the modification time with the read (one fstat), so the listing
    # needs no stat per file; other stores have it in the listing anyway
    get_mt: Callable[[str], tuple[bytes, float]] | None = getattr(src.objects, "get_with_mtime", None)
    infos = [i for i in src.objects.list("", details=get_mt is None)
             if include_private_keys or not _is_private_key(i.key)]
    if any(i.problem is not None for i in infos):  # FIFOs, devices, links out, odd names: never read
        _left_out(report, [i for i in infos if i.problem is not None])
        infos = [i for i in infos if i.problem is None]
    from ..core.identity import sweep_dead_temp_files

    # what an earlier, killed backup left half-written in this folder goes first
    sweep_dead_temp_files(dest.parent, (".tar.gz", ".tgz", ".tar.zst", ".jdbackup"))
    # the archive is written to a temp file beside it as it is made, then linked into
    # place only when complete (never a half-written archive under the real name)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    # where the file system allows it the temp file has no name at all (O_TMPFILE): a
    # backup that is killed (kill -9, a hang ended by force) leaves nothing behind
    fd = anonymous = _anonymous_file(dest.parent)
    try:
        if fd is None:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    except OSError as exc:
        raise BackupError(f"Cannot write in {dest.parent}: {exc.strerror or exc}") from None
    f = os.fdopen(fd, "wb")
    buf: _GzipPipe | None = None
    try:
        sink: _EncryptingSink | IO[bytes] = _EncryptingSink(f, passphrase) if passphrase else f
        buf = _GzipPipe("zstd" if dest.name.lower().endswith(".tar.zst") else "gzip", sink)
        entries = _write_tar(src, buf, infos, get_mt, report, include_private_keys, progress, cancel,
                             verify_versions)
        buf.finish()
        buf = None
        if passphrase:
            sink.close()
        f.flush()
        os.fsync(f.fileno())
        if anonymous is not None:
            _link_anonymous(anonymous, dest)
        f.close()
        if anonymous is None:
            _link_into_place(tmp, dest)
    except BaseException:
        if buf is not None:
            buf.abort()
        f.close()
        tmp.unlink(missing_ok=True)
        raise
    report.entries = len(entries)
    if report.not_archived:
        n = len(report.not_archived)
        report.warnings.append(f"{n} file{'' if n == 1 else 's'} in the store {'is' if n == 1 else 'are'} not in the "
                               "archive: " + "; ".join(list(report.not_archived.values())[:20])
                               + (f"; and {n - 20} more" if n > 20 else ""))
        report.problems.extend(f"not in the archive: {why}" for why in report.not_archived.values())
    if report.invalid:
        n = len(report.invalid)
        report.warnings.append(
            ("The store holds 1 version that does not verify; it is in the archive byte for byte and a "
             "restore will report it: " if n == 1 else
             f"The store holds {n} versions that do not verify; they are in the archive byte for byte and a "
             "restore will report them: ")
            + "; ".join(f"{k} ({why})" for k, why in list(report.invalid.items())[:20])
            + (f"; and {n - 20} more" if n > 20 else ""))
        report.problems.extend(f"{k}: does not verify: {why}" for k, why in report.invalid.items())
    if report.not_checked:
        n = len(report.not_checked)
        report.warnings.append(f"{n} version{'' if n == 1 else 's'} could not be checked (a read failed; they are "
                               "in the archive): " + "; ".join(f"{k} ({why})" for k, why in
                                                                list(report.not_checked.items())[:20]))
        report.problems.extend(f"{k}: not checked: {why}" for k, why in report.not_checked.items())
    report.seconds = time.perf_counter() - start
    return report


def _shown(key: str) -> str:
    """A name as it can be printed anywhere (odd names escaped)."""
    return key if key.isprintable() else ascii(key)[1:-1]


def _left_out(report: ArchiveReport, infos: Iterable[ObjectInfo]) -> None:
    """Entries the listing found but that are not read: special files hold nothing to keep
    (a warning); links out of the store and odd names are store content left out (exit 1)."""
    special: list[str] = []
    for i in infos:
        why = i.problem or ""  # the infos here all have a problem
        if i.no_content:
            special.append(why)
        else:
            report.not_archived[_shown(i.key)] = why
    if special:
        report.warnings.append(f"left out {len(special)} special file{'' if len(special) == 1 else 's'} (no data to "
                               "back up): " + "; ".join(special[:20])
                               + (f"; and {len(special) - 20} more" if len(special) > 20 else ""))


def _reader(read: Callable[[str], T], report: ArchiveReport) -> Callable[[str], T | None]:
    """*read*, with a storage error (refused, too large, vanished, unreadable) reported
    for that one object and None returned: the backup carries on with the rest."""
    def safe(key: str) -> T | None:
        try:
            return read(key)
        except StorageError as exc:
            report.not_archived[_shown(key)] = str(exc)
            return None
    return safe


def _read_ahead(get: Callable[[str], T], infos: Iterable[ObjectInfo], workers: int = 8,
                window: int = 64) -> Iterator[tuple[ObjectInfo, T]]:
    """(info, bytes) in the order of *infos*, read by *workers* threads at most
    *window* objects ahead (memory stays bounded)."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    it = iter(infos)
    with ThreadPoolExecutor(workers) as ex:
        q: deque[tuple[ObjectInfo, Future[T]]] = deque()
        for info in it:
            q.append((info, ex.submit(get, info.key)))
            if len(q) >= window:
                break
        while q:
            info, fut = q.popleft()
            nxt = next(it, None)
            if nxt is not None:
                q.append((nxt, ex.submit(get, nxt.key)))
            yield info, fut.result()


def _anonymous_file(folder: Path) -> int | None:
    """A descriptor of a new file in *folder* that has no name yet (Linux O_TMPFILE), or
    None where that is not available (then a named temp file is used)."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):
        return None
    if needs_polling(folder):
        # FUSE and network file systems may fake O_TMPFILE: JuiceFS deletes such a file when
        # its descriptor closes, name and all, so a "finished" backup would vanish
        return None
    try:
        return os.open(folder, flag | os.O_WRONLY, 0o600)
    except OSError:  # not supported by this file system (or the folder is not there: said by the fallback)
        return None


def _link_anonymous(fd: int, dest: Path) -> None:
    """Give the finished anonymous file its name, refusing to replace an existing file."""
    proc = os.open("/proc/self/fd", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:  # linkat(AT_SYMLINK_FOLLOW) through /proc: os.link's plain link() would not follow it
        os.link(str(fd), dest, src_dir_fd=proc, follow_symlinks=True)
    except FileExistsError:
        raise BackupError(f"{dest} already exists; choose a new file name") from None
    except OSError as exc:
        raise BackupError(f"Cannot write {dest}: {exc.strerror or exc}") from None
    finally:
        os.close(proc)
    from ..core.identity import fsync_dir

    fsync_dir(dest.parent)


def _link_into_place(tmp: Path, dest: Path) -> None:
    """Create *dest* from the finished temp file, refusing to replace an existing file."""
    try:
        try:
            os.link(tmp, dest)
        except FileExistsError:
            raise BackupError(f"{dest} already exists; choose a new file name") from None
        except OSError:  # no hard links here (some network and FAT file systems)
            if dest.exists():
                raise BackupError(f"{dest} already exists; choose a new file name") from None
            os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    from ..core.identity import fsync_dir

    fsync_dir(dest.parent)


def _write_tar(src: Store, buf: _GzipPipe, infos: list[ObjectInfo], get_mt: Callable[[str], tuple[bytes, float]] | None,
               report: ArchiveReport, include_private_keys: bool, progress: ProgressFn | None,
               cancel: CancelToken | None, verify_versions: bool = True) -> list[dict[str, Any]]:
    """The tar stream: every object, then the manifest; returns the manifest entries."""
    entries: list[dict[str, Any]] = []
    reserved: list[str] = []
    # every version is verified from the bytes being archived (no second read), so the
    # backup says up front what a restore will report
    refs = {r.key: r for r in src.iter_refs(infos=infos)}
    checker = _VersionChecker(src, report) if verify_versions else None
    try:
        return _write_tar_entries(src, buf, infos, get_mt, report, include_private_keys, progress, cancel, refs,
                                  checker, entries, reserved)
    except BaseException:
        if checker is not None:
            checker.abort()
        raise


def _write_tar_entries(src: Store, buf: _GzipPipe, infos: list[ObjectInfo],
                       get_mt: Callable[[str], tuple[bytes, float]] | None, report: ArchiveReport,
                       include_private_keys: bool, progress: ProgressFn | None, cancel: CancelToken | None,
                       refs: dict[str, Ref], checker: _VersionChecker | None, entries: list[dict[str, Any]],
                       reserved: list[str]) -> list[dict[str, Any]]:
    get, sha256, now = _reader(src.objects.get, report), hashlib.sha256, time.time()
    safe_get_mt = _reader(get_mt, report) if get_mt is not None else None
    # the tar stream is compressed on another thread while files are still being read
    # tarfile only calls write() and tell() on it in mode "w" (typeshed's file type asks for more)
    with tarfile.open(fileobj=cast(IO[bytes], buf), mode="w", format=tarfile.GNU_FORMAT) as tar:
        # folders are read in order (fast, and one fstat gives the time); other stores
        # (S3) are read ahead by a few threads, in a bounded window, in the same order
        reads: Iterator[tuple[ObjectInfo, tuple[bytes | None, float | None] | None]] = (
            ((i, safe_get_mt(i.key)) for i in infos) if safe_get_mt is not None
            else ((i, (d, i.mtime)) for i, d in _read_ahead(get, infos)))
        for n, (info, got) in enumerate(reads):
            if is_cancelled(cancel):
                raise BackupError("cancelled; no archive was written")
            data, mtime = got if got is not None else (None, None)
            if data is None:  # could not be read: in report.not_archived
                continue
            if info.key == MANIFEST_NAME:  # the name is the backup's own
                reserved.append(info.key)
                continue
            _tar_add(tar, buf, info.key, data, int(mtime or now))
            entries.append({"name": info.key, "size": len(data), "sha256": sha256(data).hexdigest()})
            ref = refs.get(info.key)
            if ref is not None and checker is not None:
                checker.submit(ref, data)
            report.bytes += len(data)
            if progress and (n % 100 == 0 or n == len(infos) - 1):
                progress(n + 1, len(infos), info.key)
        if checker is not None:
            checker.finish()
        counts = _count_refs(refs.values())  # from the same listing
        manifest = {
            "format": "jacs-desktop-backup", "format_version": FORMAT_VERSION, "source": src.url,
            "layout": src.layout_name, "created": datetime.now(UTC).isoformat(),
            "tool": f"jacs-desktop {__version__}", "private_keys_included": include_private_keys,
            "counts": {"entries": len(entries), **counts},
            "entries": entries,
            "left_out": reserved + ([] if include_private_keys else ["private keys"]),
        }
        mdata = json.dumps(manifest, separators=(",", ":")).encode()
        _tar_add(tar, buf, MANIFEST_NAME, mdata, int(time.time()))
    return entries


class _VersionChecker:
    """Verifies the versions being archived on a thread of its own, from the bytes the
    backup read (no second read): the signature checks (libsodium, OpenSSL) run while
    the next files are read and compressed. Memory stays bounded: at most
    ``BUDGET`` bytes wait (or one larger document)."""

    BUDGET = 64 << 20

    def __init__(self, src: Store, report: ArchiveReport):
        import queue
        import threading

        self.keys, self.files, self.report = src.keys(), src.read_attachment, report
        self.q: queue.Queue[tuple[Ref, bytes] | None] = queue.Queue()
        self.pending = 0
        self.cond = threading.Condition()
        self.error: BaseException | None = None
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self) -> None:
        report = self.report
        while (item := self.q.get()) is not None:
            ref, data = item
            try:
                if self.error is None:
                    v = _check_version(data, ref, self.keys, self.files)
                    report.verdicts[v.status] = report.verdicts.get(v.status, 0) + 1
                    if v.status == INVALID:
                        report.invalid[ref.key] = v.reason
                    elif v.status == ERROR:
                        report.not_checked[ref.key] = v.reason
            except BaseException as exc:  # surfaced by finish()
                self.error = exc
            finally:
                with self.cond:
                    self.pending -= len(data)
                    self.cond.notify_all()

    def submit(self, ref: Ref, data: bytes) -> None:
        with self.cond:
            while self.pending and self.pending + len(data) > self.BUDGET:
                self.cond.wait()
            self.pending += len(data)
        self.q.put((ref, data))

    def finish(self) -> None:
        self.q.put(None)
        self.t.join()
        if self.error is not None:
            raise BackupError(f"verifying the versions failed: {self.error}")

    def abort(self) -> None:
        import queue

        try:
            while True:
                self.q.get_nowait()
        except queue.Empty:
            pass
        self.q.put(None)
        self.t.join(10)


def _count_refs(refs: Iterable[Ref]) -> dict[str, int]:
    """Agents, documents and archived versions among the listed names, deduplicated
    as :meth:`Store.refs` does."""
    counts = {"agents": 0, "documents": 0, "archived": 0}
    names = {"agent": "agents", "document": "documents", "archived": "archived"}
    for r in refs:  # iter_refs already deduplicates
        counts[names[r.kind]] += 1
    return counts


# -- reading archives as streams ----------------------------------------------------------------
#
# Nothing is read whole into memory: the file is decrypted chunk by chunk, decompressed
# in bounded pieces and unpacked entry by entry into a temporary folder, each entry's
# size and SHA-256 taken as it streams. ``verify_archive`` and ``restore`` share all of
# it: :func:`_unpack` (the archive's structure), :func:`_judge` (integrity against the
# manifest, then every JACS signature), so they always agree.

#: the archive may not unpack to more than this many times its size (decompression bombs),
#: with a floor for small archives; there is no absolute ceiling (entries go to disk)
BOMB_FLOOR = 64 << 20
#: the manifest is parsed in memory: one larger than this is refused
MAX_MANIFEST_BYTES = 1 << 30
#: tarfile reads a GNU long name / long link or a pax header whole into memory: one
#: declaring more than this is refused from its 512-byte header, before it is read
MAX_TAR_HEADER = 64 << 10
#: extended headers (long name, long link, pax) in a row before one entry
MAX_HEADER_CHAIN = 8
_EXT_HEADERS = {tarfile.GNUTYPE_LONGNAME: "GNU long name", tarfile.GNUTYPE_LONGLINK: "GNU long link name",
                tarfile.XHDTYPE: "pax extended header", tarfile.XGLTYPE: "pax global header",
                tarfile.SOLARIS_XHDTYPE: "Solaris extended header"}


@dataclass
class _HeaderCounts:
    """Kept on the TarFile being read: extended headers in a row, pax global header bytes."""

    chain: int = 0
    global_bytes: int = 0


def _header_counts(tar: tarfile.TarFile) -> _HeaderCounts:
    counts: _HeaderCounts = vars(tar).setdefault("_jd_counts", _HeaderCounts())
    return counts


class _BoundedTarInfo(tarfile.TarInfo):
    """tarfile's header processing, with every header's declared size checked before
    tarfile reads the payload: extended headers over ``MAX_TAR_HEADER`` (all of it
    would be read into memory), long chains of them, negative sizes and sparse files
    (never in a backup) refuse the archive."""

    def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        if self.size < 0:
            raise _Refused(f"Refused: the archive has a header with a negative size ({self.name!r})")
        what = _EXT_HEADERS.get(self.type)
        counts = _header_counts(tar)
        if what is None:
            counts.chain = 0
            if self.type == tarfile.GNUTYPE_SPARSE:
                raise _Refused(f"Refused: the archive holds a sparse file ({self.name!r}); a backup never does")
            # tarfile's own header hook; typeshed leaves tarfile's private methods out
            member: tarfile.TarInfo = super()._proc_member(tar)  # type: ignore[misc]
            return member
        if self.size > MAX_TAR_HEADER:
            raise _Refused(f"Refused: the archive has a {what} of {self.size:,} bytes (at most {MAX_TAR_HEADER:,} "
                           "are accepted); it is not a JACS Desktop backup")
        counts.chain += 1
        if counts.chain > MAX_HEADER_CHAIN:
            raise _Refused(f"Refused: the archive has more than {MAX_HEADER_CHAIN} extended headers in a row")
        if self.type == tarfile.XGLTYPE:  # global headers accumulate for the whole archive
            counts.global_bytes += self.size
            if counts.global_bytes > MAX_TAR_HEADER:
                raise _Refused(f"Refused: the archive's pax global headers add up to more than "
                               f"{MAX_TAR_HEADER:,} bytes")
        member = super()._proc_member(tar)  # type: ignore[misc]  # as above: not in typeshed
        if member.size < 0:
            raise _Refused(f"Refused: the archive gives {member.name!r} a negative size")
        return member

    def _no_sparse(self, *args: object) -> NoReturn:
        raise _Refused("Refused: the archive holds a sparse file (pax GNU.sparse headers); a backup never does")

    _proc_gnusparse_00 = _proc_gnusparse_01 = _proc_gnusparse_10 = _no_sparse


def is_encrypted(path: str | os.PathLike[str]) -> bool:
    """Whether the file starts like an encrypted backup (reads a few bytes only)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


class _DecryptReader:
    """The plaintext of an encrypted backup (after ``MAGIC``), one 1 MiB chunk at a time."""

    def __init__(self, f: BinaryIO, passphrase: str | None):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if not passphrase:
            raise BackupError("This backup is encrypted: a passphrase is needed")
        line = f.readline(1 << 16)
        try:
            if not line.endswith(b"\n"):
                raise ValueError("no end of line")
            header = json.loads(line)
            salt = base64.b64decode(header["salt"])
            self.prefix = base64.b64decode(header["nonce_prefix"])
            chunk = header.get("chunk", CHUNK)
            if type(chunk) is not int or not 0 < chunk <= 64 << 20 or len(self.prefix) != 8 \
                    or not 8 <= len(salt) <= 1024:
                raise ValueError("bad chunk size, nonce or salt")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise BackupError("The encrypted backup's header is damaged") from None
        self.f = f
        self.max_ct = max(chunk, CHUNK) + 16
        self.aes = AESGCM(_kdf(passphrase, salt))
        self.i = 0
        self.buf, self.off = b"", 0
        self.done = False
        self.next_len = self._read_len()

    def _read_len(self) -> int | None:
        b = self.f.read(4)
        if not b:
            return None
        if len(b) < 4:
            raise BackupError("The encrypted backup is truncated")
        n: int = struct.unpack(">I", b)[0]
        if not 16 <= n <= self.max_ct:
            raise BackupError(f"The encrypted backup is damaged (chunk {self.i})")
        return n

    def _next_chunk(self) -> bytes:
        from cryptography.exceptions import InvalidTag

        n = self.next_len
        if n is None:  # the file ended without the chunk marked as last
            raise BackupError("The encrypted backup is truncated")
        ct = self.f.read(n)
        if len(ct) != n:
            raise BackupError("The encrypted backup is truncated")
        self.next_len = self._read_len()
        last = self.next_len is None
        nonce = self.prefix + struct.pack(">I", self.i)
        try:
            plain = self.aes.decrypt(nonce, ct, b"last" if last else b"more")
        except InvalidTag:
            if last:  # sealed as "more" but nothing follows: the file was cut after a whole chunk
                try:
                    self.aes.decrypt(nonce, ct, b"more")
                except InvalidTag:
                    pass
                else:
                    raise BackupError("The encrypted backup is truncated") from None
            if self.i == 0:
                raise BackupError("Wrong passphrase (or the backup is damaged)") from None
            raise BackupError(f"The encrypted backup is damaged (chunk {self.i})") from None
        self.i += 1
        self.done = last
        return plain

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            n = 1 << 62
        parts: list[bytes] = []
        want = n
        while want > 0:
            if self.off >= len(self.buf):
                if self.done:
                    break
                self.buf, self.off = self._next_chunk(), 0
                continue
            piece = self.buf[self.off:self.off + want]
            self.off += len(piece)
            want -= len(piece)
            parts.append(piece)
        return b"".join(parts)


def _decrypt(data: bytes, passphrase: str | None) -> bytes:
    """The plaintext of a whole encrypted backup held in memory (small ones, tests)."""
    if not data.startswith(MAGIC):
        raise BackupError("This is not an encrypted backup")
    return _DecryptReader(io.BytesIO(data[len(MAGIC):]), passphrase).read()


class _Gunzip:
    """gzip members (one or more, back to back) decompressed in bounded pieces."""

    def __init__(self, src: _Readable):
        import zlib

        self.zlib = zlib
        self.src = src
        self.z = zlib.decompressobj(31)
        self.finished = False

    def read(self, n: int | None = -1) -> bytes:
        zlib = self.zlib
        n = CHUNK if n is None or n <= 0 else n
        try:
            while not self.finished:
                if self.z.eof:  # a member ended: another may follow
                    rest = self.z.unused_data or self.src.read(CHUNK)
                    if not rest:
                        self.finished = True
                        break
                    self.z = zlib.decompressobj(31)
                    data = rest
                else:
                    data = self.z.unconsumed_tail or self.src.read(CHUNK)
                if not data:
                    out = self.z.flush()
                    if out:
                        return out
                    raise BackupError("The archive is truncated (the compressed stream ends early)")
                out = self.z.decompress(data, n)
                if out:
                    return out
        except zlib.error as exc:
            raise BackupError(f"The archive is damaged: {exc}") from None
        return b""


class _Zstd:
    def __init__(self, src: _Readable):
        import zstandard

        self.zstd = zstandard
        # the reader only calls src.read() (its stub asks for a whole file object)
        self.r = zstandard.ZstdDecompressor().stream_reader(cast(IO[bytes], src), read_across_frames=True)

    def read(self, n: int | None = -1) -> bytes:
        try:
            return self.r.read(CHUNK if n is None or n <= 0 else n)
        except self.zstd.ZstdError as exc:
            raise BackupError(f"The archive is damaged: {exc}") from None


class _Peeked:
    """A reader with a few bytes already taken from its front put back."""

    def __init__(self, head: bytes, src: _Readable):
        self.head, self.src = head, src

    def read(self, n: int | None = -1) -> bytes:
        if self.head:
            if n is None or n < 0:
                out, self.head = self.head + self.src.read(), b""
                return out
            out, self.head = self.head[:n], self.head[n:]
            if len(out) < n:
                out += self.src.read(n - len(out))
            return out
        return self.src.read(n)


class _Refused(BackupError):
    """The archive as a whole is refused (hostile content, a bomb, Cancel): nothing is used."""


class _Counted:
    """Counts what is read through it; refuses more than *limit* (decompression bombs)."""

    def __init__(self, src: _Readable, limit: int):
        self.src, self.limit, self.total = src, limit, 0

    def read(self, n: int | None = -1) -> bytes:
        data = self.src.read(n)
        self.total += len(data)
        if self.total > self.limit:
            raise _Refused("Refused: the archive unpacks to far more than its size (a decompression bomb?)")
        return data


def _bomb_limit(file_size: int) -> int:
    return max(file_size * MAX_RATIO, BOMB_FLOOR)


def _tar_stream(f: io.BufferedReader, file_size: int, passphrase: str | None) -> _Counted:
    """The uncompressed tar bytes of the archive open as *f* (encrypted or not)."""
    src: _Readable = f
    if f.read(len(MAGIC)) == MAGIC:
        src = _DecryptReader(f, passphrase)
    else:
        f.seek(0)
    head = src.read(4)
    peeked = _Peeked(head, src)
    plain: _Readable
    if head[:2] == b"\x1f\x8b":
        plain = _Gunzip(peeked)
    elif head == ZSTD_MAGIC:
        plain = _Zstd(peeked)
    else:
        plain = peeked  # an uncompressed tar
    limit = _bomb_limit(file_size)
    return _Counted(plain, limit + limit // 8 + (1 << 20))  # tar headers and padding on top


@dataclass
class _Unpacked:
    """What :func:`_unpack` found: entries (name -> temp file, size, SHA-256) in archive order."""

    root: Path
    entries: dict[str, tuple[Path, int, str]] = field(default_factory=dict)
    manifest_data: bytes | None = None
    #: why the archive could not be read to its end (after the entries above)
    stream_error: str | None = None
    #: the entry that was being read when it broke off
    broken_entry: str | None = None
    #: names that are one on a case-insensitive file system (Windows, macOS): (earlier, later)
    case_clashes: list[tuple[str, str]] = field(default_factory=list)


def _unpack(path: Path, passphrase: str | None, root: Path, *, durable: bool = False,
            progress: ProgressFn | None = None, cancel: CancelToken | None = None,
            case_insensitive: bool = False) -> _Unpacked:
    """Stream the archive's entries into files under *root* (which must exist and be
    empty). Raises :class:`BackupError` when the archive cannot be used at all:
    unreadable, wrong passphrase, links, devices, unsafe or duplicate names, bombs.
    A stream that breaks off after some entries is not raised: it is recorded."""
    try:
        # opened apart from the with below (which closes it) so that a failure is worded as reading it
        f = open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise BackupError(f"Cannot read {path}: {exc.strerror or exc}") from None
    out = _Unpacked(root)
    with f:
        try:
            size = os.fstat(f.fileno()).st_size
            stream = _tar_stream(f, size, passphrase)
            limit = _bomb_limit(size)
        except OSError as exc:
            raise BackupError(f"Cannot read {path}: {exc.strerror or exc}") from None
        total = 0
        current: str | None = None
        folders: set[str] = set()  # every folder the entries' names imply
        folded: dict[str, str] = {}  # files and folders by their case-folded name
        try:
            # a stream: nothing to close but the file (the with above); tarfile only calls read() on the
            # stream in mode "r|" (typeshed's file type asks for more)
            tar = tarfile.open(fileobj=cast(IO[bytes], stream), mode="r|", tarinfo=_BoundedTarInfo)  # noqa: SIM115
            for m in tar:
                current = None
                if is_cancelled(cancel):
                    raise _Refused("cancelled")
                name = m.name
                if m.issym() or m.islnk():
                    raise _Refused(f"Refused: the archive holds a link ({name!r} -> {m.linkname!r})")
                if m.ischr() or m.isblk() or m.isfifo() or m.isdev():
                    raise _Refused(f"Refused: the archive holds a device or pipe ({name!r})")
                if m.isdir():
                    continue
                if not m.isreg():
                    raise _Refused(f"Refused: {name!r} is not a regular file")
                clean = name[2:] if name.startswith("./") else name
                try:
                    validate_key(clean)
                except UnsafeName as exc:
                    raise _Refused(f"Refused: unsafe name in the archive: {exc}") from None
                if clean in out.entries or (clean == MANIFEST_NAME and out.manifest_data is not None):
                    raise _Refused(f"Refused: the name {clean!r} appears twice in the archive")
                _check_file_folder(clean, out, folders)
                _check_case(clean, out, folded, case_insensitive)
                total += m.size
                if total > limit:
                    raise _Refused("Refused: the archive unpacks to far more than its size "
                                   "(a decompression bomb?)")
                current = clean
                src = tar.extractfile(m)
                if clean == MANIFEST_NAME:
                    if m.size > MAX_MANIFEST_BYTES:
                        raise _Refused(f"Refused: the manifest is {m.size:,} bytes, more than any backup needs")
                    data = src.read(m.size + 1) if src else b""
                    if len(data) != m.size:
                        raise tarfile.ReadError("unexpected end of data")
                    out.manifest_data = data
                else:
                    out.entries[clean] = _write_entry(root / f"{len(out.entries):08d}", src, m.size, durable)
                current = None
                if progress and (len(out.entries) % 100 == 0 or m.size >= CHUNK):
                    progress(min(f.tell(), size), size, clean)
            # read to the very end: the gzip CRC, the encrypted "last" chunk, bombs of zeros
            trailing = 0
            rest = tar.fileobj  # tarfile's buffer first, then the stream (never None here)
            while rest is not None and (piece := rest.read(CHUNK)):
                trailing += len(piece)
            if trailing == 0:
                raise tarfile.ReadError("the archive ends early (no end-of-archive marker)")
        except _Refused:
            raise
        except _LocalError as exc:
            raise BackupError(str(exc)) from None
        except (BackupError, tarfile.TarError, EOFError, OSError, ValueError) as exc:
            # the stream broke off: what was read before it is kept (and judged)
            msg = str(exc) if isinstance(exc, BackupError) else f"The archive is damaged: {exc}"
            if not out.entries and out.manifest_data is None:
                raise BackupError(msg) from None
            out.stream_error, out.broken_entry = msg, current
    return out


def _check_file_folder(name: str, out: _Unpacked, folders: set[str]) -> None:
    """Refuse a name that is both a file and a folder in the archive (``jacs_data`` and
    ``jacs_data/x``), whichever comes first: no file system can hold both."""
    if name in folders:
        raise _Refused(f"Refused: {name!r} is both a file and a folder in the archive (an entry's name is "
                       "inside it)")
    parts = name.split("/")
    for i in range(len(parts) - 1, 0, -1):
        folder = "/".join(parts[:i])
        if folder in folders:
            break  # and so are its own parents
        if folder in out.entries or (folder == MANIFEST_NAME and out.manifest_data is not None):
            raise _Refused(f"Refused: {folder!r} is both a file and a folder in the archive ({name!r} is inside "
                           "it)")
        folders.add(folder)


def _fold(name: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFC", name).casefold()


def _check_case(name: str, out: _Unpacked, folded: dict[str, str], refuse: bool) -> None:
    """Names that are one file on a case-insensitive file system (``Doc.json`` and
    ``doc.json``, or a file ``A`` and a folder ``a/``): refused when the target is one
    (*refuse*), else recorded in ``out.case_clashes``. Folders that differ only in case
    merge there, which loses nothing. *folded* maps case-folded names to the names
    seen: a file as itself, a folder with a ``/`` after it."""
    clash = None
    key = _fold(name)
    if key in folded:
        clash = folded[key].rstrip("/")
    else:
        folded[key] = name
    parts = name.split("/")
    for i in range(len(parts) - 1, 0, -1):
        folder = "/".join(parts[:i])
        fk = _fold(folder)
        have = folded.get(fk)
        if have is None:
            folded[fk] = folder + "/"
        elif have.endswith("/"):
            break  # a folder already: so are its parents
        elif clash is None:
            clash = have
            break
    if clash is None:
        return
    if refuse:
        raise _Refused(f"Refused: {clash!r} and {name!r} differ only in case; the target's file system does not "
                       "tell them apart, so one would overwrite or block the other")
    out.case_clashes.append((clash, name))


class _LocalError(Exception):
    """Writing the temporary copy failed (this machine's problem, not the archive's)."""


def _write_entry(dest: Path, src: IO[bytes] | None, size: int, durable: bool) -> tuple[Path, int, str]:
    """Copy one entry into *dest*, hashing as it streams; raises tarfile.ReadError when short."""
    h = hashlib.sha256()
    n = 0
    try:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    except OSError as exc:
        raise _LocalError(f"Cannot write the temporary copy in {dest.parent}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "wb") as w:
        while n < size:
            piece = src.read(min(CHUNK, size - n)) if src else b""
            if not piece:
                raise tarfile.ReadError("unexpected end of data")
            h.update(piece)
            try:
                w.write(piece)
            except OSError as exc:
                raise _LocalError(f"Cannot write the temporary copy in {dest.parent}: {exc.strerror or exc}") \
                    from None
            n += len(piece)
        try:
            w.flush()
            if durable:
                os.fsync(w.fileno())
        except OSError as exc:
            raise _LocalError(f"Cannot write the temporary copy in {dest.parent}: {exc.strerror or exc}") from None
    return dest, n, h.hexdigest()


class _TempObjects(ObjectStore):
    """The unpacked entries as a read-only object store (for the verifier)."""

    def __init__(self, files: dict[str, tuple[Path, int, str]]):
        self.files = files
        self.url = f"archive-temp://{uuid.uuid4().hex}"

    def list(self, prefix: str = "", *, page_size: int = 1000, details: bool = True,
             ordered: bool = True) -> Iterator[ObjectInfo]:
        for k in sorted(self.files):
            if k.startswith(prefix):
                yield ObjectInfo(k, self.files[k][1], None)

    def get(self, key: str) -> bytes:
        e = self.files.get(key)
        if e is None:
            raise NotFound(f"{key} not found")
        try:
            return e[0].read_bytes()
        except OSError as exc:
            raise StorageError(f"{key}: {exc.strerror or exc}") from None

    def put(self, key: str, data: bytes) -> None:
        raise StorageError("the archive's temporary copy is read-only")

    # read-only: creating raises like put (the signature differs: put returns nothing, put_if_absent a bool)
    put_if_absent = put  # type: ignore[assignment]

    def stat(self, key: str) -> ObjectInfo | None:
        e = self.files.get(key)
        return None if e is None else ObjectInfo(key, e[1], None)

    def delete(self, key: str) -> None:
        raise StorageError("the archive's temporary copy is read-only")


def _check_version(data: bytes, ref: Ref, keys: KeyResolver | None, files: FileResolver | None) -> Verdict:
    """One stored version: the verifier's verdict, plus the rule that the name it is
    stored under is the id and version it carries."""
    v = verify_bytes(data, keys, files, path=ref.key)
    if v.id is not None and (v.id != ref.id or v.version != ref.version):
        v.checks.append(Check("name", FAILED, f"stored as {ref.id}:{ref.version} but the document is "
                                              f"{v.id}:{v.version}"))
        v.status = INVALID
    return v


def _read_error(ref: Ref, reason: str) -> Verdict:
    return Verdict(ERROR, ref.kind, ref.id, ref.version, checks=[Check("read", FAILED, reason)], path=ref.key)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise ValueError(f"the key {_short(k)} appears twice in one object")
            seen.add(k)
    return d


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _manifest_entries(data: bytes) -> dict[str, dict[str, Any]]:
    """The manifest's entries by name, every field checked (types, safe unique names,
    sizes, SHA-256 digests); anything else is a sentence in a :class:`BackupError`."""
    damaged = "The archive's manifest is damaged: "
    try:
        manifest = json.loads(data, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except RecursionError:
        raise BackupError(damaged + "it is nested too deeply") from None
    except (ValueError, TypeError) as exc:  # not UTF-8, not JSON, duplicate keys, NaN, huge numbers
        raise BackupError(damaged + str(exc)) from None
    if not isinstance(manifest, dict) or manifest.get("format") != "jacs-desktop-backup":
        raise BackupError("The archive's manifest is not a JACS Desktop backup manifest")
    version = manifest.get("format_version")
    if type(version) is not int or version < 1:
        raise BackupError(damaged + f"format_version is {_short(version)}, not a version number")
    if version > FORMAT_VERSION:
        raise BackupError("The backup was made by a newer JACS Desktop")
    entries = manifest.get("entries")
    if not isinstance(entries, list):
        raise BackupError(damaged + f"entries is {_short(entries)}, not a list")
    listed: dict[str, dict[str, Any]] = {}
    for i, e in enumerate(entries, 1):
        if not isinstance(e, dict):
            raise BackupError(damaged + f"entry {i} is {_short(e)}, not an object")
        name, size, sha = e.get("name"), e.get("size"), e.get("sha256")
        if not isinstance(name, str):
            raise BackupError(damaged + f"entry {i} has the name {_short(name)}, not a text")
        try:
            validate_key(name)
        except UnsafeName as exc:
            raise BackupError(damaged + f"entry {i}: {exc}") from None
        if name == MANIFEST_NAME or name in listed:
            raise BackupError(damaged + f"the name {_short(name)} is listed twice")
        if type(size) is not int or not 0 <= size < 1 << 63:
            raise BackupError(damaged + f"entry {_short(name)} has the size {_short(size)}, not a byte count")
        if not isinstance(sha, str) or len(sha) != 64 or not all(c in "0123456789abcdef" for c in sha):
            raise BackupError(damaged + f"entry {_short(name)} has the SHA-256 {_short(sha)}, not a digest")
        listed[name] = e
    return listed


def _judge(u: _Unpacked, report: ArchiveReport, progress: ProgressFn | None = None,
           cancel: CancelToken | None = None) -> None:
    """Archive integrity (every entry against the manifest), then every JACS signature
    of what is intact. Fills *report*; the verdict is ``report.exit_code``."""
    report.entries = len(u.entries)
    report.bytes = sum(e[1] for e in u.entries.values())
    if u.stream_error:
        report.stream_error = u.stream_error
        report.problems.append(u.stream_error + (f" (while reading {u.broken_entry})" if u.broken_entry else ""))
        if u.broken_entry:
            report.damaged[u.broken_entry] = "cannot be read: " + u.stream_error
    if u.manifest_data is None:
        if not u.stream_error:
            report.errors.append("The archive has no manifest.json: not a JACS Desktop backup")
            report.problems.insert(0, report.errors[-1])
            return
        report.problems.append("The archive's manifest.json could not be read (it comes last): "
                               "no entry could be checked against it")
    else:
        try:
            listed = _manifest_entries(u.manifest_data)
        except BackupError as exc:
            report.errors.append(str(exc))
        if report.errors:
            report.problems.insert(0, report.errors[-1])
            return
        for name, e in listed.items():
            got = u.entries.get(name)
            if got is None:
                if name != u.broken_entry:
                    report.damaged[name] = ("listed in the manifest but missing from the archive" if not u.stream_error
                                            else "not read: the archive broke off before it")
                    report.problems.append(f"{name}: {report.damaged[name]}")
            elif got[1] != e.get("size") or got[2] != e.get("sha256"):
                report.damaged[name] = "content differs from the manifest (size or SHA-256)"
                report.problems.append(f"{name}: {report.damaged[name]}")
        for name in u.entries:
            if name not in listed:
                report.damaged[name] = "in the archive but not in the manifest"
                report.problems.append(f"{name}: {report.damaged[name]}")
    intact = {k: v for k, v in u.entries.items() if k not in report.damaged}
    every = Store(_TempObjects({**{k: (Path(), 0, "") for k in report.damaged}, **u.entries}))
    store = Store(_TempObjects(intact), layout=every.layout)
    refs = every.refs()
    keys, files = store.keys(), store.read_attachment
    for i, ref in enumerate(refs):
        if is_cancelled(cancel):
            report.cancelled = True
            report.errors.append("cancelled")
            report.problems.insert(0, "cancelled")
            return
        if ref.key in report.damaged:
            v = _read_error(ref, f"the archive entry is damaged: {report.damaged[ref.key]}")
        else:
            v = _verify_entry(store, ref, intact[ref.key][1], keys, files)
            if v.status == ERROR:  # a read failed: nothing is known (never "invalid"), the entry is kept
                report.not_checked[ref.key] = v.reason
                report.problems.append(f"{ref.key}: not checked: {v.reason}")
        report.verdicts[v.status] = report.verdicts.get(v.status, 0) + 1
        if v.status == INVALID:
            report.invalid[ref.key] = v.reason
            report.problems.append(f"{ref.key}: does not verify: {v.reason}")
        if progress and (i % 100 == 0 or i == len(refs) - 1):
            progress(i + 1, len(refs), ref.key)


def _verify_entry(store: Store, ref: Ref, size: int, keys: KeyResolver | None, files: FileResolver | None) -> Verdict:
    if size > MAX_DOCUMENT_BYTES:
        return Verdict(INVALID, "unknown", checks=[Check("parse", FAILED, (
            f"document is {size / 1048576:.1f} MiB, larger than the {MAX_DOCUMENT_BYTES / 1048576:.0f} MiB "
            "limit; it was not parsed"))], path=ref.key)
    try:
        data = store.objects.get(ref.key)
    except StorageError as exc:
        return _read_error(ref, f"the unpacked copy cannot be read back: {exc}")
    return _check_version(data, ref, keys, files)


def _temp_root(near: Path | None) -> Path:
    """A new private folder for unpacking: beside *near* when it can be made there
    (same file system as the target, so entries are linked into place), else in the
    system's temp folder."""
    import tempfile

    if near is not None:
        _sweep_dead_restore_dirs(near.parent)
        p = near.parent / f".{near.name}-restore.{os.getpid()}.{uuid.uuid4().hex}.tmp"
        try:
            p.mkdir(mode=0o700)
            return p
        except OSError:
            pass
    try:
        return Path(tempfile.mkdtemp(prefix="jacs-desktop-restore-"))
    except OSError as exc:
        raise BackupError(f"Cannot make a temporary folder: {exc.strerror or exc}") from None


def _sweep_dead_restore_dirs(folder: Path) -> None:
    """Temporary restore folders of processes that died (kill -9) go first."""
    import shutil

    if os.name == "nt":  # os.kill(pid, 0) is not a liveness test there
        return
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for p in entries:
        n = p.name
        if not (n.startswith(".") and n.endswith(".tmp") and "-restore." in n):
            continue
        parts = n[1:-4].rsplit(".", 2)
        if len(parts) != 3 or not parts[1].isdigit() or int(parts[1]) == os.getpid():
            continue
        try:
            os.kill(int(parts[1]), 0)
            continue
        except ProcessLookupError:
            shutil.rmtree(p, ignore_errors=True)
        except OSError:
            continue


def _remove_tree(root: Path) -> None:
    import shutil

    shutil.rmtree(root, ignore_errors=True)


def _assess(path: Path, passphrase: str | None, root: Path, report: ArchiveReport, *, durable: bool = False,
            progress: ProgressFn | None = None, cancel: CancelToken | None = None,
            case_insensitive: bool = False) -> _Unpacked | None:
    """Unpack and judge: the one check ``verify_archive`` and ``restore`` both run."""
    try:
        u = _unpack(path, passphrase, root, durable=durable, progress=progress, cancel=cancel,
                    case_insensitive=case_insensitive)
    except BackupError as exc:
        report.cancelled = str(exc) == "cancelled"
        report.errors.append(str(exc))
        report.problems.insert(0, str(exc))
        return None
    _judge(u, report, progress, cancel)
    return u


def verify_archive(path: str | os.PathLike[str], *, passphrase: str | None = None,
                   progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> ArchiveReport:
    """Every entry against the manifest, then every JACS signature. The verdict is
    ``report.exit_code``: 0 all intact and valid, 2 documents that do not verify,
    1 the archive or some entries are damaged or unreadable."""
    start = time.perf_counter()
    path = Path(path)
    report = ArchiveReport(str(path))
    root = _temp_root(None)
    try:
        u = _assess(path, passphrase, root, report, progress=progress, cancel=cancel)
    finally:
        _remove_tree(root)
    if u is not None and u.case_clashes:
        n = len(u.case_clashes)
        report.warnings.append(
            f"{n} name{'' if n == 1 else 's'} differ{'s' if n == 1 else ''} only in case from another: a restore "
            "onto a case-insensitive file system (Windows, macOS) refuses the archive; elsewhere it restores: "
            + "; ".join(f"{a!r} and {b!r}" for a, b in u.case_clashes[:10]) + (" …" if n > 10 else ""))
    report.seconds = time.perf_counter() - start
    return report


def _case_insensitive(folder: Path) -> bool:
    """Whether *folder*'s file system treats names that differ only in case as one
    (asked of the file system itself: a probe file, then its upper-case name)."""
    probe = folder / f".case-probe-{uuid.uuid4().hex}"
    try:
        probe.touch(exist_ok=False)
    except OSError:
        return False
    try:
        return os.path.exists(folder / probe.name.upper())
    finally:
        probe.unlink(missing_ok=True)


def _fs_objects(dst: Store) -> FsStore | None:
    from ..storage.fs import FsStore

    return dst.objects if isinstance(dst.objects, FsStore) else None


def _near_target(dst: Store) -> Path | None:
    fs = _fs_objects(dst)
    return fs.root if fs is not None else None


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


def _same(objects: ObjectStore, fs: FsStore | None, key: str, src: Path, size: int) -> tuple[bool, bytes | None]:
    """Whether the target's object has the same bytes; its bytes when small enough to read."""
    import filecmp

    if fs is not None:
        import stat as _stat

        p = fs.local_path(key)
        try:
            st = p.lstat()
            if not _stat.S_ISREG(st.st_mode):
                raise StorageError(f"{key}: the target has something other than a file under this name")
            if st.st_size != size:
                return False, p.read_bytes() if size <= MAX_DOCUMENT_BYTES and st.st_size <= MAX_DOCUMENT_BYTES \
                    else None
            return filecmp.cmp(p, src, shallow=False), None
        except OSError as exc:
            raise StorageError(f"{key}: {exc.strerror or exc}") from None
    have = objects.get(key)
    return have == src.read_bytes(), have


def restore(path: str | os.PathLike[str], dst: Store, *, passphrase: str | None = None, policy: str = "skip",
            partial: bool = False, skip_invalid: bool = False,
            progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> ArchiveReport:
    """Stream the archive into a temporary folder beside the target (each entry's size
    and SHA-256 checked against the manifest as it arrives), verify every signature,
    then move the entries into *dst*, byte for byte.

    Documents that do not verify are restored and reported (exit code 2), or left
    out with *skip_invalid*. Damaged entries refuse the whole restore (nothing is
    written) unless *partial*, which restores every intact entry. Policies for a name
    the target already has with other bytes: ``skip`` (keep what the target has),
    ``keep-both`` (the archived one goes to ``restore-conflicts/``),
    ``overwrite-identical`` (replace only when ``jacsSha256`` is the same)."""
    if policy not in ("skip", "keep-both", "overwrite-identical"):
        raise BackupError(f"Unknown conflict policy {policy!r}")
    start = time.perf_counter()
    report = ArchiveReport(str(path))
    fs = _fs_objects(dst)
    root = _temp_root(_near_target(dst))
    try:
        u = _assess(Path(path), passphrase, root, report, durable=fs is not None, progress=progress, cancel=cancel,
                    case_insensitive=fs is not None and _case_insensitive(
                        root if root.parent == fs.root.parent else fs.root))
        if u is None or report.errors:
            report.problems.insert(0, "The archive cannot be restored; nothing was restored")
        elif report.is_damaged and not partial:
            n = len(report.damaged)
            report.problems.insert(0, (f"{n} damaged entr{'y' if n == 1 else 'ies'} in the archive" if n else
                                       "The archive is damaged") + "; nothing was restored "
                                   "(a partial restore restores every intact entry)")
        else:
            _place_all(u, dst, fs, policy, skip_invalid, report, progress, cancel)
    finally:
        _remove_tree(root)
        dst.invalidate()
    report.seconds = time.perf_counter() - start
    return report


def _place_all(u: _Unpacked, dst: Store, fs: FsStore | None, policy: str, skip_invalid: bool, report: ArchiveReport,
               progress: ProgressFn | None, cancel: CancelToken | None) -> None:
    from ..core.identity import fsync_dir

    objects = dst.objects
    todo: list[str] = []
    for name in sorted(set(u.entries) | (set(report.damaged) - {MANIFEST_NAME})):
        if name in report.damaged or (skip_invalid and name in report.invalid):
            report.left_out.append(name)
        else:
            todo.append(name)
    parents: set[Path] = set()
    try:
        for i, name in enumerate(todo):
            if is_cancelled(cancel):
                report.cancelled = True
                report.problems.append(f"cancelled after {i} of {len(todo)} entries")
                break
            src, size, _sha = u.entries[name]
            try:
                if _place_new(objects, fs, name, src, parents):
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
    if report.left_out:
        n = len(report.left_out)
        report.problems.insert(0, f"left out {n} entr{'y' if n == 1 else 'ies'}: "
                                  + ", ".join(report.left_out[:10]) + (" …" if n > 10 else ""))
