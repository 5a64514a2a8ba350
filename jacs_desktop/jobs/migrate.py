"""Migrate a store to another store (any backends): a cancellable, resumable job.

* verbatim copy (default): objects copied byte for byte, each one re-read from
  the target and compared with the source before it counts as copied;
* re-sign: signature and hash dropped and the document signed again by a chosen
  identity, with ``jacsMigratedFrom`` linking to the original (this changes the
  signer, and says so);
* dry run, skip existing (compared by the bytes, never by size, time or the
  ``jacsSha256`` a copy claims), verify the source first, agents/documents only,
  latest versions only;
* a journal in the platformdirs state dir lets an interrupted run continue; re-running
  never duplicates (versions are created with put-if-absent) and never loses.

Speed without giving up crash safety:

* a folder target's files are written whole-or-not-at-all (temp name, then a hard link)
  but not fsynced one by one: a background thread makes each batch durable (the files'
  fsyncs at once, then each folder once) and only then journals it. A kill -9 leaves no
  partial file; a machine crash can only cost files of batches not yet journalled, which
  the next run finds and checks by their bytes (damage is repaired, as below);
* other targets are listed once up front: what is there is judged without a request per
  object, and on servers that ignore If-None-Match (``rclone serve s3``, the JuiceFS
  gateway) a key the listing shows absent is written with one PUT instead of a HEAD and
  a PUT. (A key another writer creates between the listing and that PUT is the one case
  such a server cannot guard; the HEAD-first way only narrowed that window.)

What is already on the target is classified, never trusted:

* the same bytes, or the same version written differently (it hashes to the same
  ``jacsSha256`` it claims): skipped;
* damage — bytes that cannot be a valid version (empty, cut short, not parseable,
  not hashing to the ``jacsSha256`` they claim; for other objects empty or a cut-off
  prefix of the source): overwritten (conditionally, where the backend can), read
  back and checked, and listed as *repaired*. A writer killed between a PUT's
  headers and its body leaves such objects (SeaweedFS keeps a zero-byte one);
* a *different valid* version under the same name: a conflict, never overwritten
  (versions are immutable).

A folder source can be rewritten while it is read: a copy only counts when the file
provably did not change around the read (on a local disk: its change time, set by the
kernel on every write, at least 2 s old and the same after the read), the bytes prove
themselves whole (a document hashing to its ``jacsSha256``, a key to its name), or
reads some milliseconds apart agree; a source that keeps changing is reported and skipped.
Names that cannot be carried over (not UTF-8, control characters, a
backslash, direction controls) are reported and skipped; the rest goes on.

The source is only read.

Size: one resumable job and the rules it needs to never lose or tear data (journal, damage
repair under If-Match, torn-read detection, odd names); they share the per-object state machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..core.canonical import jacs_sha256
from ..core.pubkey import public_key_hash
from ..core.sign import AgentSigner, pretty_json
from ..core.verify import VALID, parse_document
from ..paths import private_dir, private_file, state_dir
from ..storage.base import AccessDenied, ObjectInfo, StorageError, Unreachable
from ..storage.fs import FsStore
from ..storage.fs_deferred import DeferredWrites
from ..storage.layout import Ref
from ..storage.store import Store
from .common import Cancelled, CancelToken, ProgressFn, is_cancelled

__all__ = ["MigrateOptions", "MigrateReport", "migrate", "journal_dir", "Cancelled", "ProgressFn"]

def journal_dir() -> Path:
    """Where migration journals are kept (the app's state folder, see jacs_desktop.paths)."""
    return state_dir()


@dataclass
class MigrateOptions:
    only: str = "all"  # all | agents | documents
    latest_only: bool = False
    dry_run: bool = False
    skip_existing: bool = True
    verify_source: bool = False
    resign: AgentSigner | None = None
    concurrency: int = 4
    include_archived: bool = True
    journal: bool = True
    #: only these document ids (agents and keys still go along); None = every document
    doc_ids: frozenset[str] | None = None


@dataclass
class MigrateReport:
    source: str
    target: str
    dry_run: bool = False
    copied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    would_copy: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    #: damaged objects on the target (empty, cut short, not a valid version) that this
    #: run overwrote and checked; they are in ``copied`` too
    repaired: list[str] = field(default_factory=list)
    bytes: int = 0
    seconds: float = 0.0
    resumed: int = 0
    journal: str | None = None
    #: why the run stopped early (target unreachable, access denied); None when it ran through
    stopped: str | None = None
    not_attempted: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and self.stopped is None

    def summary(self) -> dict[str, Any]:
        return {"copied": len(self.copied), "skipped": len(self.skipped), "failed": len(self.failed),
                "would_copy": len(self.would_copy), "conflicts": len(self.conflicts),
                "repaired": len(self.repaired), "bytes": self.bytes,
                "seconds": round(self.seconds, 3), "resumed_from_journal": self.resumed,
                "not_attempted": self.not_attempted, "stopped": self.stopped}

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "dry_run": self.dry_run, "summary": self.summary(),
                "copied": self.copied, "skipped": self.skipped,
                "failed": [{"key": k, "reason": r} for k, r in self.failed],
                "would_copy": self.would_copy, "conflicts": self.conflicts, "repaired": self.repaired,
                "journal": self.journal}


@dataclass(frozen=True)
class _Item:
    kind: str  # agent | document | archived | key | file | config
    src_key: str
    dst_key: str
    doc_id: str | None = None
    version: str | None = None
    #: for a public key file: the hash its name gives (the .pem's bytes must hash to it)
    key_hash: str | None = None


_VERSION_KINDS = ("document", "archived", "agent")

# names no store should be handed: not UTF-8 (surrogate escapes), control characters,
# a backslash, line separators, and direction controls (they make names display misleadingly)
_ODD = re.compile("[\x00-\x1f\x7f\x85\\\\\ud800-\udfff\u061c\u200e\u200f\u2028\u2029"
                  "\u202a-\u202e\u2066-\u2069]")


def _shown(key: str) -> str:
    """*key* as it can be printed anywhere (escapes for what is not printable UTF-8)."""
    if not _ODD.search(key):
        return key
    out = []
    for ch in key:
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:  # a byte that is not UTF-8, as the file system gave it
            out.append(f"\\x{o - 0xDC00:02x}")
        elif _ODD.match(ch) or not ch.isprintable():
            out.append(ascii(ch)[1:-1])
        else:
            out.append(ch)
    return "".join(out)


def _odd_name(key: str) -> str | None:
    """Why *key* cannot be carried over, or None."""
    m = _ODD.search(key)
    if m is None:
        return None
    o = ord(m.group())
    if o == 0x0A:
        return "its name contains a newline"
    if o < 0x20 or o in (0x7F, 0x85):
        return "its name contains a control character"
    if o == 0x5C:
        return "its name contains a backslash"
    if 0xD800 <= o <= 0xDFFF:
        return "its name is not valid UTF-8"
    if o in (0x2028, 0x2029):
        return "its name contains a line separator"
    return f"its name contains the direction control U+{o:04X}, which makes names display misleadingly"


def _whole_doc(data: bytes) -> dict[str, Any] | None:
    """Cheap: the parsed document when these bytes parse and hash to the jacsSha256 they
    claim (a torn read cannot), else None. A None only costs a re-read; the strict check
    is :func:`_valid_hash`."""
    if not data:
        return None
    try:
        doc = json.loads(data)
        claimed = doc.get("jacsSha256") if isinstance(doc, dict) else None
        return doc if isinstance(claimed, str) and jacs_sha256(doc) == claimed else None
    except Exception:  # anything odd: not provably whole
        return None


def _valid_hash(data: bytes) -> str | None:
    """The jacsSha256 of *data* when it parses as the library parses and hashes to the
    jacsSha256 it claims; None when it cannot be a valid version."""
    if not data:
        return None
    try:
        doc, err = parse_document(data)
        if err is not None or not isinstance(doc, dict):
            return None
        claimed = doc.get("jacsSha256")
        if not isinstance(claimed, str) or jacs_sha256(doc) != claimed:
            return None
        return claimed
    except Exception:
        return None


def _proves_whole(it: _Item, data: bytes) -> bool:
    if it.kind in _VERSION_KINDS:
        return _whole_doc(data) is not None
    if it.kind == "key" and it.key_hash and it.src_key.endswith(".pem"):
        try:
            return bool(data) and public_key_hash(data) == it.key_hash
        except Exception:
            return False
    return False


class _Unsteady(Exception):
    """The source object changed on every read."""


#: pauses between reads of a source object that does not prove itself whole
_REREAD_PAUSES = (0.01, 0.03, 0.06, 0.1, 0.2, 0.3, 0.4)


def _agreement_needed(it: _Item, data: bytes) -> float:
    """How long reads must agree before bytes that do not prove themselves whole are
    taken: longer for a version that is not even JSON (a file caught truncated by its
    writer, which the file system then held up, reads the same for a while)."""
    if it.kind not in _VERSION_KINDS:
        return 0.04
    try:
        json.loads(data)
        return 0.04
    except Exception:
        return 0.5


#: a folder file on a local disk whose change time is this many seconds old, and unchanged
#: across the read, was not being written while it was read
_QUIET_SECONDS = 2.0


def _read_quiet(src: Store, it: _Item) -> bytes | None:
    """The bytes of a file (a folder store on a local disk) that no program changed in the
    last seconds before the read nor during it: its change time (ctime, which the kernel
    sets on every write and which no program can set back) is old enough and the same
    before and after the read. None when that is not so (then the bytes must prove
    themselves another way)."""
    try:
        path = src.objects.local_path(it.src_key)  # type: ignore[attr-defined]
        before = os.stat(path)
        if time.time() - before.st_ctime < _QUIET_SECONDS:
            return None
        data = src.objects.get(it.src_key)
        after = os.stat(path)
    except (OSError, StorageError):
        return None  # the usual read says what is wrong
    same = (before.st_ino, before.st_dev, before.st_size, before.st_ctime_ns, before.st_mtime_ns) == (
        after.st_ino, after.st_dev, after.st_size, after.st_ctime_ns, after.st_mtime_ns)
    if not same or len(data) != after.st_size or (not data and it.kind in _VERSION_KINDS):
        return None
    return data


def _read_steady(src: Store, it: _Item, quiet_ok: bool = False) -> tuple[bytes, dict[str, Any] | None]:
    """The object's bytes, read so that a file rewritten meanwhile is not taken torn, and
    the parsed document when the bytes proved themselves whole by their hash (else None).

    Only folders can be caught mid-rewrite (S3 objects and SQLite rows change whole).
    Bytes that prove themselves whole (a document hashing to its jacsSha256, a key to
    its name) are taken at once; others only once three reads or more, spread over
    some tens of milliseconds (half a second for what is not even JSON), agree. An
    empty version file is never taken: it is a file being written, or nothing.

    With *quiet_ok* (a folder on a local disk), a file that no program changed in the
    seconds before the read nor during it is taken at once (:func:`_read_quiet`)."""
    if quiet_ok:
        quiet = _read_quiet(src, it)
        if quiet is not None:
            return quiet, None
    data = src.objects.get(it.src_key)
    if getattr(src.objects, "local_path", None) is None:
        return data, None
    if it.kind in _VERSION_KINDS:
        doc = _whole_doc(data)
        if doc is not None:
            return data, doc
    elif _proves_whole(it, data):
        return data, None
    agree, since, need = 1, time.monotonic(), _agreement_needed(it, data)
    for pause in _REREAD_PAUSES:
        time.sleep(pause)
        again = src.objects.get(it.src_key)
        now = time.monotonic()
        if again == data:
            agree += 1
            if agree >= 3 and now - since >= need:
                break
            continue
        data, agree, since = again, 1, now
        if _proves_whole(it, data):
            return data, None
        need = _agreement_needed(it, data)
    else:
        raise _Unsteady(f"the source changed while it was read ({len(_REREAD_PAUSES) + 1} reads in "
                        f"{sum(_REREAD_PAUSES):.1f} s did not agree: a program is rewriting it); not copied, so "
                        "that no torn copy is made — run the migration again when it is quiet")
    if not data and it.kind in _VERSION_KINDS:
        raise _Unsteady("the source file is empty (being written, or nothing to copy); not copied")
    return data, None


def _damaged(it: _Item, theirs: bytes, ours: bytes) -> bool:
    """Can what the target holds not be a valid copy of anything? (Then it is damage
    to repair, not a conflict.)"""
    if not theirs:
        return True
    if it.kind in _VERSION_KINDS:
        return _valid_hash(theirs) is None
    if it.kind == "key" and it.key_hash and it.dst_key.endswith(".pem"):
        try:
            return public_key_hash(theirs) != it.key_hash
        except Exception:
            return True
    return len(theirs) < len(ours) and ours.startswith(theirs)  # cut off


class _Journal:
    def __init__(self, path: Path | None):
        self.path = path
        self.done: set[str] = set()
        self._lock = threading.Lock()
        self._f: TextIO | None = None
        if path is None:
            return
        private_dir(path.parent)  # journals name every object of a store: 0700/0600 whatever the umask
        if path.exists():
            for line in path.read_text("utf-8", errors="replace").splitlines():
                if line.startswith("done\t"):
                    self.done.add(line[5:])
        private_file(path)
        # open for the whole run (marks come from every transfer thread); close() closes it
        self._f = open(path, "a", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
        self._n = 0

    def mark(self, key: str) -> None:
        if self._f is None:
            return
        # The journal is a hint that saves work on a re-run, never the truth: the target
        # is checked object by object. So each line is handed to the OS at once (it then
        # survives a kill -9; one small write per object, which a batch of 50 made flaky:
        # a kill before the first batch lost every line) and fsynced only at the end, not
        # under the lock that every transfer thread needs.
        with self._lock:
            self._f.write(f"done\t{key}\n")
            self._n += 1
            self._f.flush()

    def mark_many(self, keys: list[str]) -> None:
        """Journal a batch whose files were made durable together (one write)."""
        if self._f is None or not keys:
            return
        with self._lock:
            self._f.write("".join(f"done\t{k}\n" for k in keys))
            self._n += len(keys)
            self._f.flush()

    def close(self, finished: bool) -> None:
        if self._f is None:
            return
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        if finished and self.path is not None:
            self.path.unlink(missing_ok=True)  # a finished run needs no journal


def _plan(src: Store, dst: Store, opts: MigrateOptions) -> tuple[list[_Item], list[tuple[str, str]]]:
    """What to copy, and what cannot be (a name that cannot be carried over, an entry
    the source lists but cannot read): (items, [(shown name, why)])."""
    items: list[_Item] = []
    problems: list[tuple[str, str]] = []
    infos = []
    seen_keys: set[str] = set()
    for prefix, _kind in src.layout.list_prefixes():
        for info in src.objects.list(prefix, details=False, ordered=False):
            if info.key in seen_keys:
                continue
            seen_keys.add(info.key)
            problem = getattr(info, "problem", None)
            why = _odd_name(info.key) or problem
            if why is None:
                infos.append(info)
            elif info.key.endswith(".json"):  # what would be a version but for this
                problems.append((_shown(info.key), f"not copied: {why}"))
    refs = sorted(src.iter_refs(infos=infos), key=lambda r: (r.kind, r.id, r.version, r.key))
    by_id: dict[tuple[str, str], list[Ref]] = {}
    for r in refs:
        by_id.setdefault((r.kind, r.id), []).append(r)
    chosen: list[Ref] = []
    for (kind, _id), rs in by_id.items():
        if kind == "agent" and opts.only == "documents":
            continue
        if kind in ("document", "archived") and opts.only == "agents":
            continue
        if kind == "archived" and not opts.include_archived:
            continue
        if kind in ("document", "archived") and opts.doc_ids is not None and _id not in opts.doc_ids:
            continue
        if opts.latest_only and len(rs) > 1:
            latest = src.latest(src.history(rs))
            if latest is not None:  # None: no version could be read (all are copied, as they are)
                rs = [r for r in rs if r.version == latest.version]
        chosen.extend(rs)
    for r in chosen:
        try:
            if r.kind == "agent":
                dst_key = dst.layout.agent_key(r.id, r.version)
            elif r.kind == "archived":
                dst_key = dst.layout.archive_key(r.id, r.version)
            else:
                dst_key = dst.layout.document_key(r.id, r.version)
        except StorageError as exc:
            problems.append((_shown(r.key), f"not copied: {exc}"))
            continue
        items.append(_Item(r.kind, r.key, dst_key, r.id, r.version))
    # public keys always go along: nothing on the target verifies without them
    for h in src.public_key_hashes():
        try:
            pairs = list(zip(src.layout.public_key_keys(h), dst.layout.public_key_keys(h), strict=True))
        except StorageError as exc:
            problems.append((_shown(h), f"public key not copied: {exc}"))
            continue
        for s_key, d_key in pairs:
            items.append(_Item("key", s_key, d_key, key_hash=h))
    if opts.only == "all" and src.layout.name == dst.layout.name == "jacs":
        for info in src.objects.list_children(""):
            if info.key.endswith(".json"):
                why = _odd_name(info.key) or getattr(info, "problem", None)
                if why is None:
                    items.append(_Item("config", info.key, info.key))
                else:
                    problems.append((_shown(info.key), f"not copied: {why}"))
    return items, problems


#: a folder target's written files are made durable (and journalled) in batches of this many,
#: or when the oldest unsettled one is this many seconds old
_BATCH = 256
_BATCH_AGE = 0.1


class _Listing:
    """What the target holds under some prefixes (and at its top level), listed once."""

    def __init__(self) -> None:
        self.prefixes: tuple[str, ...] = ()
        self.found: dict[str, ObjectInfo] = {}

    def add(self, dst: Store, prefixes: list[str]) -> bool:
        """List these prefixes too (one listing each; those already listed are not again);
        False when the target cannot be listed (then their keys are looked at one by one)."""
        new: list[str] = []
        for p in sorted(set(prefixes), key=len):
            if p and not p.startswith(self.prefixes) and not any(p.startswith(q) for q in new):
                new.append(p)
        try:
            found = {info.key: info for p in new for info in dst.objects.list(p, details=True, ordered=False)}
        except StorageError:
            return False
        self.found.update(found)
        self.prefixes += tuple(new)
        return True

    def covers(self, key: str) -> bool:
        return "/" not in key or key.startswith(self.prefixes)


def _listing(dst: Store) -> _Listing | None:
    """One listing of the target's layout prefixes and of its top level, up front; None when
    the target cannot be listed (then every object is looked at on its own)."""
    listing = _Listing()
    try:
        wanted = [p for p, _kind in dst.layout.list_prefixes()] + [dst.layout.public_keys_prefix()]
        listing.found.update((info.key, info) for info in dst.objects.list_children(""))  # config files
    except StorageError:
        return None
    return listing if listing.add(dst, wanted) else None


def _creates_honoured(objects: object) -> bool:
    """Does the target refuse a second create of the same key (If-None-Match: *)? True
    when it cannot say (then every create is a conditional one)."""
    probe = getattr(objects, "conditional_create_honoured", None)
    if probe is None:
        return True
    try:
        return bool(probe())
    except Exception:
        return True


def migrate(
    src: Store,
    dst: Store,
    options: MigrateOptions | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> MigrateReport:
    opts = options or MigrateOptions()
    start = time.perf_counter()
    report = MigrateReport(src.url, dst.url, opts.dry_run)
    if src.url == dst.url:
        raise StorageError("The source and the target are the same store")
    sweep = getattr(dst.objects, "sweep_temp", None)
    if sweep is not None and not opts.dry_run:
        sweep()  # leftovers of an earlier run that was killed
    items, problems = _plan(src, dst, opts)
    report.failed.extend(problems)
    journal = None
    if opts.journal and not opts.dry_run:
        doc_ids = sorted(opts.doc_ids) if opts.doc_ids is not None else None
        ident = hashlib.sha256(json.dumps([src.url, dst.url, opts.only, opts.latest_only, bool(opts.resign),
                                           doc_ids]).encode()).hexdigest()[:24]
        jpath = journal_dir() / f"migrate-{ident}.journal"
        journal = _Journal(jpath)
        report.journal = str(jpath)
    done = journal.done if journal else set()
    lock = threading.Lock()
    # what the target holds, from one listing up front (not for folders, where a look is a
    # stat): None for keys outside the listed prefixes and when the listing failed
    listing = _listing(dst) if getattr(dst.objects, "local_path", None) is None else None
    # servers that ignore If-None-Match (rclone serve s3, the JuiceFS gateway): the listing
    # tells which keys exist, so a key it shows absent is written with one PUT (no HEAD first)
    one_put = listing is not None and not opts.dry_run and not _creates_honoured(dst.objects)
    claimed: set[str] = set()  # keys this run wrote with a plain PUT (never twice)
    on_local_disk = getattr(src.objects, "on_local_disk", None)
    quiet_ok = bool(on_local_disk()) if on_local_disk is not None else False
    # folder targets: files written without an fsync each, made durable batch by batch,
    # and journalled only after their batch is
    deferred = None if opts.dry_run else DeferredWrites(dst.objects) if isinstance(dst.objects, FsStore) else \
        getattr(dst.objects, "deferred_writes", lambda: None)()  # SQLite: a batch per transaction
    pending: list[tuple[str, int]] = []  # (key, bytes): written and checked, not yet durable
    pending_since = [0.0]
    settle_lock = threading.Lock()
    settle_failed: list[str] = []
    scheduled = [False]  # a batch is handed to the settler and not taken yet
    settler = ThreadPoolExecutor(1, thread_name_prefix="migrate-settle") if deferred is not None else None
    counter = {"n": 0}
    total = len(items)
    attachments: set[str] = set()

    def tick(msg: str) -> None:
        with lock:
            counter["n"] += 1
            n = counter["n"]
            nbytes = report.bytes
        if progress:  # objects as (done, total); bytes so far in the message
            progress(n, total, f"{n:,} of {total:,} objects, {nbytes / 1e6:,.1f} MB · {msg}")

    stop = threading.Event()  # the target went away: stop cleanly instead of failing item after item

    def settle() -> None:
        """When a batch is due (full, or its oldest file old enough), have it settled by the
        settler thread, so that copying goes on while the batch's fsyncs run."""
        if settler is None:
            return
        with lock:
            due = pending and (len(pending) >= _BATCH or time.monotonic() - pending_since[0] > _BATCH_AGE)
            if not due or scheduled[0]:
                return
            scheduled[0] = True
        settler.submit(settle_now)

    def settle_now() -> None:
        """Make the written batch durable (fsync its files, then their folders once), then
        journal it; one batch at a time, in order."""
        if deferred is None:
            return
        with settle_lock:
            with lock:
                scheduled[0] = False
                batch = pending[:]
                pending.clear()
            if not batch:
                return
            try:
                if not settle_failed:
                    deferred.sync()
            except StorageError as exc:
                settle_failed.append(str(exc))
            if settle_failed:  # nothing more is counted as kept or journalled
                with lock:
                    for key, n in batch:
                        if key in report.copied:
                            report.copied.remove(key)
                            report.bytes -= n
                        report.failed.append((key, f"written, but could not be made durable: {settle_failed[0]}"))
                    if report.stopped is None:
                        report.stopped = (f"Stopped: the written files could not be made durable "
                                          f"({settle_failed[0]}). Run the same migration again to continue.")
                stop.set()
                return
            if journal:
                journal.mark_many([key for key, _n in batch])

    def done_already(it: _Item) -> bool:
        """Journalled as done by an earlier run, and still there (an empty object is never
        a finished copy)."""
        if listing is not None and listing.covers(it.dst_key):
            info = listing.found.get(it.dst_key)
        else:
            info = dst.objects.stat(it.dst_key)
        return info is not None and info.size > 0

    def exists_on_target(it: _Item) -> bool | None:
        """From the listing: does the target hold this key? None: the listing does not say."""
        if listing is None or not listing.covers(it.dst_key):
            return None
        return it.dst_key in listing.found

    def copy_one(it: _Item) -> None:
        if is_cancelled(cancel) or stop.is_set():
            with lock:
                report.not_attempted += 1
            return
        try:
            for name in (it.src_key,) if it.src_key == it.dst_key else (it.src_key, it.dst_key):
                why = _odd_name(name)
                if why is not None:
                    with lock:
                        report.failed.append((_shown(name), f"not copied: {why}"))
                    return
            if it.dst_key in done and done_already(it):
                with lock:
                    report.skipped.append(it.dst_key)
                    report.resumed += 1
                return
            try:
                data, doc = _read_steady(src, it, quiet_ok)
            except _Unsteady as exc:
                with lock:
                    report.failed.append((it.src_key, str(exc)))
                return
            if it.kind in _VERSION_KINDS:
                if opts.verify_source:
                    v = src.verify(Ref(it.kind, it.doc_id or "", it.version or "", it.src_key))
                    if v.status != VALID:
                        with lock:
                            report.failed.append((it.src_key, f"source does not verify: {v.reason}"))
                        return
                # external attachments: only a document that names jacsFiles (or may, escaped) has any
                if doc is None and (b"jacsFiles" in data or b"\\u" in data):
                    try:
                        doc = json.loads(data)
                    except (ValueError, RecursionError):
                        doc = None
                files = doc.get("jacsFiles") if isinstance(doc, dict) else None
                for f in files if isinstance(files, list) else []:
                    if isinstance(f, dict) and f.get("embed") is False and isinstance(f.get("path"), str):
                        with lock:
                            attachments.add(f["path"])
                if opts.resign is not None and it.kind != "agent":
                    data = _resign(data, opts.resign)
            there = exists_on_target(it)
            if opts.dry_run:
                created = False
                if not there if there is not None else dst.objects.stat(it.dst_key) is None:
                    with lock:
                        report.would_copy.append(it.dst_key)
                    return
            elif there:
                created = False  # the listing shows it: judged below, never written over blindly
            elif one_put and there is not None and _claim(it.dst_key):
                dst.objects.put(it.dst_key, data)  # shown absent by the listing: one request
                created = True
            elif deferred is not None:
                created = deferred.put_if_absent(it.dst_key, data)
            else:
                created = dst.objects.put_if_absent(it.dst_key, data)
            if not created:
                _existing(it, data)
                return
            # nothing on the target is trusted until checked: the server's MD5 ETag of
            # what it stored (S3, no extra request) or the bytes read back
            if not _written_right(it.dst_key, data):
                with lock:
                    report.failed.append((it.dst_key, "the copy on the target differs from the source"))
                return
            with lock:
                report.copied.append(it.dst_key)
                report.bytes += len(data)
                if deferred is not None:
                    if not pending:
                        pending_since[0] = time.monotonic()
                    pending.append((it.dst_key, len(data)))
            if deferred is not None:
                settle()
            elif journal:
                journal.mark(it.dst_key)
        except (Unreachable, AccessDenied) as exc:
            with lock:
                report.failed.append((it.dst_key, str(exc)))
                if report.stopped is None:
                    report.stopped = (f"Stopped: {exc}. Everything copied so far is in the journal; run the "
                                      "same migration again to continue.")
            stop.set()
        except StorageError as exc:
            with lock:
                report.failed.append((_shown(it.dst_key), str(exc)))
        except Exception as exc:  # one object's surprise never ends the run with a traceback
            with lock:
                report.failed.append((_shown(it.dst_key), f"not copied: {type(exc).__name__}: {exc}"))
        finally:
            tick(_shown(it.dst_key))

    def _claim(key: str) -> bool:
        with lock:
            if key in claimed:
                return False
            claimed.add(key)
            return True

    def _written_right(key: str, data: bytes) -> bool:
        if deferred is not None:
            back = deferred.read_back(key, len(data))  # from the file just written, not yet closed
            if back is not None:
                return bool(back == data)
        etag_of = getattr(dst.objects, "written_etag", None)
        etag: str | None = etag_of(key) if etag_of else None
        if etag and len(etag) == 32 and "-" not in etag:
            return etag == hashlib.md5(data).hexdigest()
        return dst.objects.get(key) == data

    def _existing(it: _Item, data: bytes) -> None:
        """The target already holds an object under this name: the same (skipped),
        damage (overwritten and checked), or a different valid version (a conflict)."""
        replace_if = getattr(dst.objects, "replace_if_match", None)
        for _attempt in range(3):
            theirs = dst.objects.get(it.dst_key)
            same = theirs == data
            if not same and it.kind in _VERSION_KINDS:
                h = _valid_hash(theirs)
                # the same version written differently (other white space): hashes alike
                same = h is not None and h == _valid_hash(data)
            if same:
                with lock:
                    if opts.skip_existing:
                        report.skipped.append(it.dst_key)
                    else:
                        report.failed.append((it.dst_key, "exists on the target"))
                if journal and opts.skip_existing:
                    journal.mark(it.dst_key)
                return
            if not _damaged(it, theirs, data):
                with lock:
                    report.conflicts.append(it.dst_key)
                    report.failed.append((it.dst_key, "conflict: the target holds a different valid version "
                                                      "under this name (not overwritten)"))
                return
            if opts.dry_run:
                with lock:
                    report.would_copy.append(it.dst_key)
                return
            if replace_if is not None:
                # overwrite only what was judged: a writer that got there in between wins
                info = dst.objects.stat(it.dst_key)
                if info is None:
                    if dst.objects.put_if_absent(it.dst_key, data):
                        break
                    continue
                etag = info.etag or ""
                plain_md5 = len(etag) == 32 and "-" not in etag
                if (plain_md5 and etag != hashlib.md5(theirs).hexdigest()) or (
                        not plain_md5 and dst.objects.get(it.dst_key) != theirs):
                    continue  # it changed since it was read: judge it again
                if not replace_if(it.dst_key, data, info.etag):
                    continue
            else:
                dst.objects.put(it.dst_key, data)
            break
        else:
            with lock:
                report.failed.append((it.dst_key, "the target object kept changing while it was being repaired; "
                                                  "left as it is"))
            return
        if dst.objects.get(it.dst_key) != data:
            with lock:
                report.failed.append((it.dst_key, "damaged on the target (empty, cut short or not a valid "
                                                  "version); overwriting it did not hold"))
            return
        with lock:
            report.repaired.append(it.dst_key)
            report.copied.append(it.dst_key)
            report.bytes += len(data)
        if journal:
            journal.mark(it.dst_key)

    workers = max(1, int(opts.concurrency))
    finished = False
    try:
        if workers == 1:
            for it in items:
                copy_one(it)
        else:
            _run_threads(copy_one, items, workers)
        if not is_cancelled(cancel) and not stop.is_set():
            extra = []
            for path in sorted(attachments):
                try:
                    s_key = src.layout.attachment_key(path)
                    d_key = dst.layout.attachment_key(path)
                    if _odd_name(s_key) is not None:
                        report.failed.append((_shown(s_key), f"attachment not copied: {_odd_name(s_key)}"))
                        continue
                    if src.objects.stat(s_key) is not None:
                        extra.append(_Item("file", s_key, d_key))
                except StorageError:
                    continue
            total += len(extra)
            if listing is not None and extra:  # the attachments' folders, listed once too
                listing.add(dst, [it.dst_key.rpartition("/")[0] + "/" for it in extra if "/" in it.dst_key])
            for it in extra:
                copy_one(it)
        finished = not is_cancelled(cancel)
    finally:
        if settler is not None:
            settler.shutdown(wait=True)
        if deferred is not None:
            settle_now()
            with contextlib.suppress(StorageError):
                deferred.close()
        if journal:
            journal.close(finished and not report.failed)
        report.seconds = time.perf_counter() - start
        dst.invalidate()
    if not finished:
        raise Cancelled(report)
    return report


def _run_threads(fn: Any, items: list[_Item], workers: int) -> None:
    """*fn* on every item, *workers* threads at once, each taking the next item when done:
    one shared iterator, so no future, queue entry and wake-up per item (on a busy machine
    they cost as much CPU as the rest of a small object's copy). The first exception *fn*
    lets out stops the handing out and is raised here once the threads are done, as
    ``ThreadPoolExecutor.map`` would; so is an interrupt of the waiting thread."""
    feed = iter(items)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        while True:
            with lock:
                it = None if errors else next(feed, None)
            if it is None:
                return
            try:
                fn(it)
            except BaseException as exc:
                with lock:
                    errors.append(exc)
                return

    threads = [threading.Thread(target=worker, name=f"migrate-{i}") for i in range(workers)]
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join()
    except BaseException as exc:  # interrupted: hand out nothing more, let the started copies end
        with lock:
            errors.append(exc)
        for t in threads:
            t.join()
    if errors:
        raise errors[0]


def _resign(data: bytes, signer: AgentSigner) -> bytes:
    """Sign again as *signer*, keeping a signed link to the original."""
    doc = json.loads(data)
    if not isinstance(doc, dict):
        raise StorageError("not a JSON object; cannot re-sign")
    raw_sig = doc.get("jacsSignature")
    sig: dict[str, Any] = raw_sig if isinstance(raw_sig, dict) else {}
    link = {"jacsId": doc.get("jacsId"), "jacsVersion": doc.get("jacsVersion"), "jacsSha256": doc.get("jacsSha256"),
            "agentID": sig.get("agentID"), "agentVersion": sig.get("agentVersion")}
    body = {k: v for k, v in doc.items() if k not in ("jacsSignature", "jacsSha256", "jacsRegistration",
                                                      "jacsAgreement")}
    body["jacsMigratedFrom"] = link
    return pretty_json(signer.finish(body))
