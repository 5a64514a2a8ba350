"""Verifying an archive and restoring it into a store: unpacked into a temporary folder
beside the target, judged, then moved into place."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from ...storage.store import Store
from ..common import CancelToken, ProgressFn, gc_paused
from .base import ArchiveReport, BackupError
from .integrity import _judge, _manifest_check
from .place import EarlyWriteback, _place_all
from .read import _unpack, _Unpacked
from .verifying import pool_for
from .writeproc import writer_process_ok

if TYPE_CHECKING:
    from ...storage.fs import FsStore



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


def _assess(path: Path, passphrase: str | None, root: Path, report: ArchiveReport, *, named: bool = False,
            progress: ProgressFn | None = None, cancel: CancelToken | None = None,
            case_insensitive: bool = False, verify_versions: bool = True,
            workers: int | None = None, writeback: EarlyWriteback | None = None) -> _Unpacked | None:
    """Unpack and judge: the one check ``verify_archive`` and ``restore`` both run. The
    signatures are checked on a pool of *workers* processes (None: one per core for a large
    archive, when this process may fork) while the archive is read."""
    pool = None
    try:
        try:
            size = os.stat(path).st_size
        except OSError:
            size = 0  # _unpack says why it cannot be read
        # both decided before any thread of the restore starts (their processes are forked); a
        # process writes the files only when no pool checks signatures (the pool has the cores)
        writer_process = writer_process_ok(size)
        if verify_versions:
            pool = pool_for(size, workers)
        writer_process = writer_process and pool is None
        # the collector paused while the entries are read: tens of thousands of objects that all stay
        # and form no cycle (a full collection in the middle walked them all: up to 23 ms)
        with gc_paused(True):
            u = _unpack(path, passphrase, root, named=named, cancel=cancel,
                        progress=writeback.reading if writeback is not None else progress,
                        case_insensitive=case_insensitive, keep=verify_versions,
                        on_entry=pool.entry if pool is not None else None, on_manifest=_manifest_check,
                        writer_process=writer_process)
        _judge(u, report, progress, cancel, verify_versions=verify_versions, pool=pool)
    except BackupError as exc:
        report.cancelled = str(exc) == "cancelled"
        report.errors.append(str(exc))
        report.problems.insert(0, str(exc))
        return None
    finally:
        if pool is not None:
            pool.close()
    return u


def verify_archive(path: str | os.PathLike[str], *, passphrase: str | None = None,
                   progress: ProgressFn | None = None, cancel: CancelToken | None = None,
                   workers: int | None = None) -> ArchiveReport:
    """Every entry against the manifest, then every JACS signature. The verdict is
    ``report.exit_code``: 0 all intact and valid, 2 documents that do not verify,
    1 the archive or some entries are damaged or unreadable."""
    start = time.perf_counter()
    path = Path(path)
    report = ArchiveReport(str(path))
    root = _temp_root(None)
    try:
        u = _assess(path, passphrase, root, report, progress=progress, cancel=cancel, workers=workers)
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
    from ...storage.fs import FsStore

    return dst.objects if isinstance(dst.objects, FsStore) else None


def _near_target(dst: Store) -> Path | None:
    fs = _fs_objects(dst)
    return fs.root if fs is not None else None


def restore(path: str | os.PathLike[str], dst: Store, *, passphrase: str | None = None, policy: str = "skip",
            partial: bool = False, skip_invalid: bool = False, verify_versions: bool = True,
            progress: ProgressFn | None = None, cancel: CancelToken | None = None,
            workers: int | None = None) -> ArchiveReport:
    """Stream the archive into a temporary folder beside the target (each entry's size
    and SHA-256 checked against the manifest as it arrives), verify every signature,
    then move the entries into *dst*, byte for byte.

    Documents that do not verify are restored and reported (exit code 2), or left
    out with *skip_invalid*. Damaged entries refuse the whole restore (nothing is
    written) unless *partial*, which restores every intact entry. Policies for a name
    the target already has with other bytes: ``skip`` (keep what the target has),
    ``keep-both`` (the archived one goes to ``restore-conflicts/``),
    ``overwrite-identical`` (replace only when ``jacsSha256`` is the same).

    One read of the archive: entries are written into the temporary folder under their own
    names as they arrive (size and SHA-256 taken on the way), made durable in one step
    (``syncfs``, or an fsync per file where there is none), and when the target folder is
    empty the finished folder *becomes* the target in one rename: the store appears whole
    or not at all. Otherwise each entry is linked into place.

    *verify_versions* False skips the JACS signature checks (the archive's integrity is
    still checked entry by entry against the manifest): for a restore of an archive already
    checked, as ``backup(verify_versions=False)``.

    The signatures are checked on *workers* processes while the archive is read (None: one
    per core for an archive over a megabyte, when this process runs no other thread; 0 or 1:
    in this process); the verdicts are the same."""
    if policy not in ("skip", "keep-both", "overwrite-identical"):
        raise BackupError(f"Unknown conflict policy {policy!r}")
    start = time.perf_counter()
    report = ArchiveReport(str(path))
    fs = _fs_objects(dst)
    root = _temp_root(_near_target(dst))
    beside = fs is not None and root.parent == fs.root.parent  # the same file system, almost always
    writeback = EarlyWriteback(root, progress) if fs is not None else None
    try:
        u = _assess(Path(path), passphrase, root, report, named=beside and os.name != "nt", progress=progress,
                    cancel=cancel, verify_versions=verify_versions, workers=workers, writeback=writeback,
                    case_insensitive=fs is not None and _case_insensitive(root if beside else fs.root))
        if writeback is not None:
            writeback.finish()  # (the one sync that counts comes when the entries are placed)
        if u is None or report.errors:
            report.problems.insert(0, "The archive cannot be restored; nothing was restored")
        elif report.is_damaged and not partial:
            n = len(report.damaged)
            report.problems.insert(0, (f"{n} damaged entr{'y' if n == 1 else 'ies'} in the archive" if n else
                                       "The archive is damaged") + "; nothing was restored "
                                   "(a partial restore restores every intact entry)")
        else:
            _place_all(u, dst, fs, policy, skip_invalid, report, progress, cancel, durable=fs is not None)
    finally:
        if writeback is not None:
            writeback.join()
        _remove_tree(root)
        dst.invalidate()
    report.seconds = time.perf_counter() - start
    return report
