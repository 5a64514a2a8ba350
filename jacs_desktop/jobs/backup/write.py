"""Backup: the store's objects into a new archive file (atomically), every version
verified from the bytes being archived."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar, cast

from ... import __version__
from ...core.checks import ERROR, INVALID
from ...core.durable import fsync_dir
from ...storage.base import ObjectInfo, StorageError
from ...storage.layout import Ref
from ...storage.store import Store
from ...storage.watch import needs_polling
from ..common import CancelToken, ProgressFn, is_cancelled
from .base import FORMAT_VERSION, MANIFEST_NAME, ArchiveReport, BackupError
from .crypto import _EncryptingSink
from .integrity import _check_version
from .tarwrite import _GzipPipe, _tar_add

if TYPE_CHECKING:
    pass



T = TypeVar("T")


def _is_private_key(key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    return ".private." in name or name.endswith((".pem.enc", ".key", ".key.enc")) or name == ".jacs_password"


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
    from ...core.identity import sweep_dead_temp_files

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
        # ".tar.zst" anywhere in the name: also "x.tar.zst.jdbackup" (encrypted)
        buf = _GzipPipe("zstd" if ".tar.zst" in dest.name.lower() else "gzip", sink)
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
    fsync_dir(dest.parent)


#: names of the key material a restore needs first (configs, public keys, their algorithms)
_KEY_MATERIAL = (".json", ".pem", ".enc_type")


def _write_tar(src: Store, buf: _GzipPipe, infos: list[ObjectInfo], get_mt: Callable[[str], tuple[bytes, float]] | None,
               report: ArchiveReport, include_private_keys: bool, progress: ProgressFn | None,
               cancel: CancelToken | None, verify_versions: bool = True) -> list[dict[str, Any]]:
    """The tar stream: every object, then the manifest; returns the manifest entries."""
    entries: list[dict[str, Any]] = []
    reserved: list[str] = []
    # every version is verified from the bytes being archived (no second read), so the
    # backup says up front what a restore will report
    refs = {r.key: r for r in src.iter_refs(infos=infos)}
    # the key material (configs, public keys and their algorithm files) goes first: a restore
    # checks the versions' signatures with it while the rest of the archive is still being read
    head = tuple(src.layout.public_keys_prefixes())
    first = [i.key not in refs and (i.key.endswith(_KEY_MATERIAL) or i.key.startswith(head)) for i in infos]
    infos = [i for i, f in zip(infos, first, strict=True) if f] + [i for i, f in zip(infos, first, strict=True)
                                                                   if not f]
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


