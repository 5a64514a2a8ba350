"""Backup to an archive file, verify it, restore it — cancellable jobs.

Archive: ``.tar.gz`` (or ``.tar.zst``, zstandard) holding the store's objects in their layout plus
``manifest.json`` (format version, source, date, tool version, every entry
with size and SHA-256, counts). Optionally encrypted with a passphrase
(AES-256-GCM in 1 MiB chunks, key from Argon2id). Private keys are left out
unless asked for.

Restore reads the archive into a temporary place first and accepts only
regular files with safe relative names: ``..``, absolute paths, links, device
files, duplicate names and decompression bombs are refused and nothing is
written to the target.
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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .. import __version__
from ..core.errors import JacsError
from ..core.verify import claimed_hash
from ..storage.base import StorageError, UnsafeName, validate_key
from ..storage.memory import MemoryStore
from ..storage.store import Store

__all__ = ["BackupError", "backup", "verify_archive", "restore", "ArchiveReport", "MANIFEST_NAME",
           "MAGIC", "MAX_TOTAL_BYTES"]

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1
MAGIC = b"JACSDESKTOP-BACKUP-ENC1\n"
CHUNK = 1 << 20
#: refuse archives that unpack to more than this (decompression bombs)
MAX_TOTAL_BYTES = 8 << 30
MAX_RATIO = 200  # uncompressed / compressed
ProgressFn = Callable[[int, int, str], None]


class BackupError(JacsError):
    pass


def _is_private_key(key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    return ".private." in name or name.endswith((".pem.enc", ".key", ".key.enc")) or name == ".jacs_password"


# -- encryption ---------------------------------------------------------------------

def _kdf(passphrase: str, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    return Argon2id(salt=salt, length=32, iterations=2, lanes=1, memory_cost=19456).derive(passphrase.encode())


def _decrypt(data: bytes, passphrase: str | None) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not passphrase:
        raise BackupError("This backup is encrypted: a passphrase is needed")
    end = data.find(b"\n", len(MAGIC))
    try:
        header = json.loads(data[len(MAGIC):end])
        salt = base64.b64decode(header["salt"])
        prefix = base64.b64decode(header["nonce_prefix"])
    except (ValueError, KeyError, TypeError):
        raise BackupError("The encrypted backup's header is damaged") from None
    aes = AESGCM(_kdf(passphrase, salt))
    pos, i, out = end + 1, 0, io.BytesIO()
    while True:
        if pos + 4 > len(data):
            raise BackupError("The encrypted backup is truncated")
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        ct = data[pos + 4:pos + 4 + n]
        if len(ct) != n:
            raise BackupError("The encrypted backup is truncated")
        pos += 4 + n
        last = pos >= len(data)
        try:
            out.write(aes.decrypt(prefix + struct.pack(">I", i), ct, b"last" if last else b"more"))
        except InvalidTag:
            if i == 0:
                raise BackupError("Wrong passphrase (or the backup is damaged)") from None
            raise BackupError(f"The encrypted backup is damaged (chunk {i})") from None
        i += 1
        if last:
            return out.getvalue()


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

    def __init__(self, codec: str = "gzip", sink=None):
        import queue
        import threading
        import zlib

        if codec == "zstd":
            import zstandard

            self._z = zstandard.ZstdCompressor(level=3).compressobj()
        else:
            self._z = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: gzip wrapper
        self._q: "queue.Queue[bytes | None]" = queue.Queue(maxsize=8)
        self._out: list[bytes] = []
        # compressed bytes go straight to the sink (the archive's temp file) when there
        # is one, so memory stays bounded whatever the store's size
        self._emit = sink.write if sink is not None else self._out.append
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

    def write(self, data) -> int:
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

    def __init__(self, f, passphrase: str):
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


def _tar_add(tar: tarfile.TarFile, out, name: str, data: bytes, mtime: int) -> None:
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
    problems: list[str] = field(default_factory=list)
    verdicts: dict[str, int] = field(default_factory=dict)
    restored: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"path": self.path, "ok": self.ok, "entries": self.entries, "bytes": self.bytes,
                "problems": self.problems, "verdicts": self.verdicts, "restored": len(self.restored),
                "skipped": len(self.skipped), "conflicts": self.conflicts, "seconds": round(self.seconds, 3)}


def backup(src: Store, dest: str | os.PathLike, *, passphrase: str | None = None, include_private_keys: bool = False,
           progress: ProgressFn | None = None, cancel=None) -> ArchiveReport:
    """Write the store into a new ``.tar.gz`` or ``.tar.zst`` (atomically: a temp
    file, then rename)."""
    start = time.perf_counter()
    dest = Path(dest)
    report = ArchiveReport(str(dest))
    if dest.exists():
        raise BackupError(f"{dest} already exists; choose a new file name")
    # folders give the modification time with the read (one fstat), so the listing
    # needs no stat per file; other stores have it in the listing anyway
    get_mt = getattr(src.objects, "get_with_mtime", None)
    infos = [i for i in src.objects.list("", details=get_mt is None)
             if include_private_keys or not _is_private_key(i.key)]
    from ..core.identity import sweep_dead_temp_files

    # what an earlier, killed backup left half-written in this folder goes first
    sweep_dead_temp_files(dest.parent, (".tar.gz", ".tgz", ".tar.zst", ".jdbackup"))
    # the archive is written to a temp file beside it as it is made, then linked into
    # place only when complete (never a half-written archive under the real name)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    except OSError as exc:
        raise BackupError(f"Cannot write in {dest.parent}: {exc.strerror or exc}") from None
    f = os.fdopen(fd, "wb")
    buf = None
    try:
        sink = _EncryptingSink(f, passphrase) if passphrase else f
        buf = _GzipPipe("zstd" if dest.name.lower().endswith(".tar.zst") else "gzip", sink)
        entries = _write_tar(src, buf, infos, get_mt, report, include_private_keys, progress, cancel)
        buf.finish()
        buf = None
        if passphrase:
            sink.close()
        f.flush()
        os.fsync(f.fileno())
        f.close()
        _link_into_place(tmp, dest)
    except BaseException:
        if buf is not None:
            buf.abort()
        f.close()
        tmp.unlink(missing_ok=True)
        raise
    report.entries = len(entries)
    report.seconds = time.perf_counter() - start
    return report


def _read_ahead(get, infos, workers: int = 8, window: int = 64):
    """(info, bytes) in the order of *infos*, read by *workers* threads at most
    *window* objects ahead (memory stays bounded)."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    it = iter(infos)
    with ThreadPoolExecutor(workers) as ex:
        q: deque = deque()
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


def _write_tar(src: Store, buf, infos, get_mt, report: ArchiveReport, include_private_keys: bool,
               progress, cancel) -> list[dict]:
    """The tar stream: every object, then the manifest; returns the manifest entries."""
    entries: list[dict] = []
    reserved = []
    get, sha256, now = src.objects.get, hashlib.sha256, time.time()
    # the tar stream is compressed on another thread while files are still being read
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        # folders are read in order (fast, and one fstat gives the time); other stores
        # (S3) are read ahead by a few threads, in a bounded window, in the same order
        reads = (((i, get_mt(i.key)) for i in infos) if get_mt is not None
                 else ((i, (d, i.mtime)) for i, d in _read_ahead(get, infos)))
        for n, (info, (data, mtime)) in enumerate(reads):
            if cancel is not None and cancel.is_set():
                raise BackupError("cancelled; no archive was written")
            if info.key == MANIFEST_NAME:  # the name is the backup's own
                reserved.append(info.key)
                continue
            _tar_add(tar, buf, info.key, data, int(mtime or now))
            entries.append({"name": info.key, "size": len(data), "sha256": sha256(data).hexdigest()})
            report.bytes += len(data)
            if progress and (n % 100 == 0 or n == len(infos) - 1):
                progress(n + 1, len(infos), info.key)
        counts = _count_refs(src, infos)  # from the same listing
        manifest = {
            "format": "jacs-desktop-backup", "format_version": FORMAT_VERSION, "source": src.url,
            "layout": src.layout_name, "created": datetime.now(timezone.utc).isoformat(),
            "tool": f"jacs-desktop {__version__}", "private_keys_included": include_private_keys,
            "counts": {"entries": len(entries), **counts},
            "entries": entries,
            "left_out": reserved + ([] if include_private_keys else ["private keys"]),
        }
        mdata = json.dumps(manifest, separators=(",", ":")).encode()
        _tar_add(tar, buf, MANIFEST_NAME, mdata, int(time.time()))
    return entries


def _count_refs(src: Store, infos) -> dict[str, int]:
    """Agents, documents and archived versions among the listed names, deduplicated
    as :meth:`Store.refs` does, without building the refs."""
    counts = {"agents": 0, "documents": 0, "archived": 0}
    names = {"agent": "agents", "document": "documents", "archived": "archived"}
    for r in src.iter_refs(infos=infos):  # iter_refs already deduplicates
        counts[names[r.kind]] += 1
    return counts


# -- reading archives safely ----------------------------------------------------------------

def _read_archive(path: Path, passphrase: str | None, max_total: int = MAX_TOTAL_BYTES) -> tuple[dict, dict[str, bytes]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BackupError(f"Cannot read {path}: {exc.strerror or exc}") from None
    if raw.startswith(MAGIC):
        raw = _decrypt(raw, passphrase)
    limit = min(max_total, max(len(raw) * MAX_RATIO, 64 << 20))
    if raw.startswith(ZSTD_MAGIC):
        import zstandard

        try:
            with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw), read_across_frames=True) as r:
                out = io.BytesIO()
                while True:
                    piece = r.read(1 << 20)
                    if not piece:
                        break
                    out.write(piece)
                    if out.tell() > limit + (1 << 20):  # tar headers and padding come on top
                        raise BackupError("Refused: the archive unpacks to far more than its size "
                                          "(a decompression bomb?)")
        except zstandard.ZstdError as exc:
            raise BackupError(f"The archive is damaged: {exc}") from None
        raw = out.getvalue()
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:*") as tar:
            for m in tar:
                name = m.name
                if m.issym() or m.islnk():
                    raise BackupError(f"Refused: the archive holds a link ({name!r} -> {m.linkname!r})")
                if m.ischr() or m.isblk() or m.isfifo() or m.isdev():
                    raise BackupError(f"Refused: the archive holds a device or pipe ({name!r})")
                if m.isdir():
                    continue
                if not m.isreg():
                    raise BackupError(f"Refused: {name!r} is not a regular file")
                clean = name[2:] if name.startswith("./") else name
                try:
                    validate_key(clean)
                except UnsafeName as exc:
                    raise BackupError(f"Refused: unsafe name in the archive: {exc}") from None
                if clean in files:
                    raise BackupError(f"Refused: the name {clean!r} appears twice in the archive")
                total += m.size
                if total > limit:
                    raise BackupError("Refused: the archive unpacks to far more than its size "
                                      "(a decompression bomb?)")
                f = tar.extractfile(m)
                data = f.read(m.size + 1) if f else b""
                if len(data) != m.size:
                    raise BackupError(f"The archive entry {clean!r} is truncated")
                files[clean] = data
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:  # zlib/gzip errors are OSError/EOFError
        raise BackupError(f"The archive is damaged: {exc}") from None
    mdata = files.pop(MANIFEST_NAME, None)
    if mdata is None:
        raise BackupError("The archive has no manifest.json: not a JACS Desktop backup")
    try:
        manifest = json.loads(mdata)
        if manifest.get("format") != "jacs-desktop-backup":
            raise ValueError("unknown format")
        if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
            raise BackupError("The backup was made by a newer JACS Desktop")
    except (ValueError, TypeError, AttributeError) as exc:
        raise BackupError(f"The archive's manifest is damaged: {exc}") from None
    return manifest, files


def verify_archive(path: str | os.PathLike, *, passphrase: str | None = None,
                   progress: ProgressFn | None = None) -> ArchiveReport:
    """Every entry against the manifest, then every JACS signature."""
    start = time.perf_counter()
    path = Path(path)
    report = ArchiveReport(str(path))
    try:
        manifest, files = _read_archive(path, passphrase)
    except BackupError as exc:
        report.problems.append(str(exc))
        return report
    listed = {e.get("name"): e for e in manifest.get("entries", []) if isinstance(e, dict)}
    for name, e in listed.items():
        data = files.get(name)
        if data is None:
            report.problems.append(f"{name}: listed in the manifest but missing from the archive")
        elif len(data) != e.get("size") or hashlib.sha256(data).hexdigest() != e.get("sha256"):
            report.problems.append(f"{name}: content differs from the manifest (size or SHA-256)")
    for name in files:
        if name not in listed:
            report.problems.append(f"{name}: in the archive but not in the manifest")
    report.entries = len(files)
    report.bytes = sum(len(d) for d in files.values())
    mem = MemoryStore(f"verify-{uuid.uuid4().hex}")
    for name, data in files.items():
        mem.put(name, data)
    store = Store(mem)
    refs = store.refs()
    for i, ref in enumerate(refs):
        v = store.verify(ref)
        report.verdicts[v.status] = report.verdicts.get(v.status, 0) + 1
        if v.status == "invalid":
            report.problems.append(f"{ref.key}: signature check failed: {v.reason}")
        if progress and (i % 100 == 0 or i == len(refs) - 1):
            progress(i + 1, len(refs), ref.key)
    report.seconds = time.perf_counter() - start
    return report


def restore(path: str | os.PathLike, dst: Store, *, passphrase: str | None = None, policy: str = "skip",
            progress: ProgressFn | None = None, cancel=None) -> ArchiveReport:
    """Verify first, then write into *dst*. Policies: ``skip`` (keep what the target
    has), ``keep-both`` (a different existing object stays, the archived one goes to
    ``restore-conflicts/``), ``overwrite-identical`` (replace only when ``jacsSha256``
    is the same, e.g. formatting differs)."""
    if policy not in ("skip", "keep-both", "overwrite-identical"):
        raise BackupError(f"Unknown conflict policy {policy!r}")
    start = time.perf_counter()
    report = verify_archive(path, passphrase=passphrase)
    if not report.ok:
        report.problems.insert(0, "The archive did not verify; nothing was restored")
        return report
    _manifest, files = _read_archive(Path(path), passphrase)
    for i, (name, data) in enumerate(sorted(files.items())):
        if cancel is not None and cancel.is_set():
            report.problems.append("cancelled")
            break
        try:
            if dst.objects.put_if_absent(name, data):
                report.restored.append(name)
            else:
                have = dst.objects.get(name)
                if have == data:
                    report.skipped.append(name)
                elif policy == "overwrite-identical" and claimed_hash(have) is not None and claimed_hash(have) == claimed_hash(data):
                    dst.objects.put(name, data)
                    report.restored.append(name)
                elif policy == "keep-both":
                    alt = f"restore-conflicts/{name}"
                    dst.objects.put_if_absent(alt, data)
                    report.conflicts.append(name)
                else:
                    report.conflicts.append(name)
        except StorageError as exc:
            report.problems.append(f"{name}: {exc}")
        if progress and (i % 100 == 0 or i == len(files) - 1):
            progress(i + 1, len(files), name)
    dst.invalidate()
    report.seconds = time.perf_counter() - start
    return report
