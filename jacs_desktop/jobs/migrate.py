"""Migrate a store to another store (any backends): a cancellable, resumable job.

* verbatim copy (default): objects copied byte for byte, each one re-read from
  the target and compared with the source before it counts as copied;
* re-sign: signature and hash dropped and the document signed again by a chosen
  identity, with ``jacsMigratedFrom`` linking to the original (this changes the
  signer, and says so);
* dry run, skip existing (compared by ``jacsSha256``, never by size or time),
  verify the source first, agents/documents only, latest versions only;
* a journal in the platformdirs state dir lets an interrupted run continue; re-running
  never duplicates (versions are created with put-if-absent) and never loses.

The source is only read.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..core.sign import AgentSigner, pretty_json
from ..core.verify import VALID, claimed_hash
from ..storage.base import AccessDenied, StorageError, Unreachable
from ..storage.layout import Ref
from ..storage.store import Store

__all__ = ["MigrateOptions", "MigrateReport", "migrate", "journal_dir", "Cancelled"]

ProgressFn = Callable[[int, int, str], None]


class Cancelled(Exception):
    def __init__(self, report: "MigrateReport"):
        super().__init__("cancelled")
        self.report = report


def journal_dir() -> Path:
    env = os.environ.get("JACS_DESKTOP_STATE_DIR")
    if env:
        return Path(env)
    from platformdirs import user_state_path

    return user_state_path("jacs-desktop", appauthor=False)


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

    def summary(self) -> dict:
        return {"copied": len(self.copied), "skipped": len(self.skipped), "failed": len(self.failed),
                "would_copy": len(self.would_copy), "conflicts": len(self.conflicts), "bytes": self.bytes,
                "seconds": round(self.seconds, 3), "resumed_from_journal": self.resumed,
                "not_attempted": self.not_attempted, "stopped": self.stopped}

    def to_dict(self) -> dict:
        return {"source": self.source, "target": self.target, "dry_run": self.dry_run, "summary": self.summary(),
                "copied": self.copied, "skipped": self.skipped,
                "failed": [{"key": k, "reason": r} for k, r in self.failed],
                "would_copy": self.would_copy, "conflicts": self.conflicts, "journal": self.journal}


@dataclass(frozen=True)
class _Item:
    kind: str  # agent | document | archived | key | file | config
    src_key: str
    dst_key: str
    doc_id: str | None = None
    version: str | None = None


class _Journal:
    def __init__(self, path: Path | None):
        self.path = path
        self.done: set[str] = set()
        self._lock = threading.Lock()
        self._f = None
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            for line in path.read_text("utf-8", errors="replace").splitlines():
                if line.startswith("done\t"):
                    self.done.add(line[5:])
        self._f = open(path, "a", encoding="utf-8")
        self._n = 0

    def mark(self, key: str) -> None:
        if self._f is None:
            return
        # The journal is a hint that saves work on a re-run, never the truth: the target
        # is checked object by object. So lines are handed to the OS every 50 (they then
        # survive a kill -9) and fsynced only at the end, not under the lock that every
        # transfer thread needs.
        with self._lock:
            self._f.write(f"done\t{key}\n")
            self._n += 1
            if self._n % 50 == 0:
                self._f.flush()

    def close(self, finished: bool) -> None:
        if self._f is None:
            return
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        if finished and self.path is not None:
            self.path.unlink(missing_ok=True)  # a finished run needs no journal


def _plan(src: Store, dst: Store, opts: MigrateOptions) -> list[_Item]:
    items: list[_Item] = []
    refs = src.refs()
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
            rs = [r for r in rs if r.version == latest.version]
        chosen.extend(rs)
    for r in chosen:
        if r.kind == "agent":
            dst_key = dst.layout.agent_key(r.id, r.version)
        elif r.kind == "archived":
            dst_key = dst.layout.archive_key(r.id, r.version)
        else:
            dst_key = dst.layout.document_key(r.id, r.version)
        items.append(_Item(r.kind, r.key, dst_key, r.id, r.version))
    # public keys always go along: nothing on the target verifies without them
    for h in src.public_key_hashes():
        for s_key, d_key in zip(src.layout.public_key_keys(h), dst.layout.public_key_keys(h)):
            items.append(_Item("key", s_key, d_key))
    if opts.only == "all" and src.layout.name == dst.layout.name == "jacs":
        for info in src.objects.list_children(""):
            if info.key.endswith(".json"):
                items.append(_Item("config", info.key, info.key))
    return items


def migrate(
    src: Store,
    dst: Store,
    options: MigrateOptions | None = None,
    progress: ProgressFn | None = None,
    cancel=None,
) -> MigrateReport:
    opts = options or MigrateOptions()
    start = time.perf_counter()
    report = MigrateReport(src.url, dst.url, opts.dry_run)
    if src.url == dst.url:
        raise StorageError("The source and the target are the same store")
    sweep = getattr(dst.objects, "sweep_temp", None)
    if sweep is not None and not opts.dry_run:
        sweep()  # leftovers of an earlier run that was killed
    items = _plan(src, dst, opts)
    journal = None
    if opts.journal and not opts.dry_run:
        ident = hashlib.sha256(json.dumps([src.url, dst.url, opts.only, opts.latest_only,
                                           bool(opts.resign),
                                           sorted(opts.doc_ids) if opts.doc_ids is not None else None]).encode()).hexdigest()[:24]
        jpath = journal_dir() / f"migrate-{ident}.journal"
        journal = _Journal(jpath)
        report.journal = str(jpath)
    done = journal.done if journal else set()
    lock = threading.Lock()
    counter = {"n": 0}
    total = len(items)
    attachments: set[str] = set()

    def tick(msg: str):
        with lock:
            counter["n"] += 1
            n = counter["n"]
            nbytes = report.bytes
        if progress:  # objects as (done, total); bytes so far in the message
            progress(n, total, f"{n:,} of {total:,} objects, {nbytes / 1e6:,.1f} MB · {msg}")

    stop = threading.Event()  # the target went away: stop cleanly instead of failing item after item

    def copy_one(it: _Item) -> None:
        if (cancel is not None and cancel.is_set()) or stop.is_set():
            with lock:
                report.not_attempted += 1
            return
        try:
            if it.dst_key in done and dst.objects.stat(it.dst_key) is not None:
                with lock:
                    report.skipped.append(it.dst_key)
                    report.resumed += 1
                return
            data = src.objects.get(it.src_key)
            if it.kind in ("document", "archived", "agent"):
                if opts.verify_source:
                    v = src.verify(Ref(it.kind, it.doc_id, it.version, it.src_key))
                    if v.status != VALID:
                        with lock:
                            report.failed.append((it.src_key, f"source does not verify: {v.reason}"))
                        return
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
            if opts.dry_run:
                existing = dst.objects.stat(it.dst_key)
                created = False
            else:
                created = dst.objects.put_if_absent(it.dst_key, data)
                existing = None if created else True
            if existing is not None:
                if not opts.skip_existing:
                    with lock:
                        report.failed.append((it.dst_key, "exists on the target"))
                    return
                theirs = dst.objects.get(it.dst_key)
                same = theirs == data or (
                    it.kind in ("document", "archived", "agent") and claimed_hash(theirs) is not None
                    and claimed_hash(theirs) == claimed_hash(data))
                with lock:
                    if same:
                        report.skipped.append(it.dst_key)
                    else:
                        report.conflicts.append(it.dst_key)
                        report.failed.append((it.dst_key, "conflict: the target holds different content "
                                                          "under this name (not overwritten)"))
                if same and journal:
                    journal.mark(it.dst_key)
                return
            if opts.dry_run:
                with lock:
                    report.would_copy.append(it.dst_key)
                return
            # nothing on the target is trusted until checked: the server's MD5 ETag of
            # what it stored (S3, no extra request) or the bytes read back
            etag_of = getattr(dst.objects, "written_etag", None)
            etag = etag_of(it.dst_key) if etag_of else None
            if etag and len(etag) == 32 and "-" not in etag:
                good = etag == hashlib.md5(data).hexdigest()
            else:
                good = hashlib.sha256(dst.objects.get(it.dst_key)).digest() == hashlib.sha256(data).digest()
            if not good:
                with lock:
                    report.failed.append((it.dst_key, "the copy on the target differs from the source"))
                return
            with lock:
                (report.copied if created else report.skipped).append(it.dst_key)
                report.bytes += len(data)
            if journal:
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
                report.failed.append((it.dst_key, str(exc)))
        finally:
            tick(it.dst_key)

    workers = max(1, int(opts.concurrency))
    finished = False
    try:
        if workers == 1:
            for it in items:
                copy_one(it)
        else:
            with ThreadPoolExecutor(workers) as ex:
                list(ex.map(copy_one, items))
        if not (cancel is not None and cancel.is_set()) and not stop.is_set():
            extra = []
            for path in sorted(attachments):
                try:
                    s_key = src.layout.attachment_key(path)
                    d_key = dst.layout.attachment_key(path)
                except StorageError:
                    continue
                if src.objects.stat(s_key) is not None:
                    extra.append(_Item("file", s_key, d_key))
            total += len(extra)
            for it in extra:
                copy_one(it)
        finished = not (cancel is not None and cancel.is_set())
    finally:
        if journal:
            journal.close(finished and not report.failed)
        report.seconds = time.perf_counter() - start
        dst.invalidate()
    if not finished:
        raise Cancelled(report)
    return report


def _resign(data: bytes, signer: AgentSigner) -> bytes:
    """Sign again as *signer*, keeping a signed link to the original."""
    doc = json.loads(data)
    if not isinstance(doc, dict):
        raise StorageError("not a JSON object; cannot re-sign")
    sig = doc.get("jacsSignature") if isinstance(doc.get("jacsSignature"), dict) else {}
    link = {"jacsId": doc.get("jacsId"), "jacsVersion": doc.get("jacsVersion"), "jacsSha256": doc.get("jacsSha256"),
            "agentID": sig.get("agentID"), "agentVersion": sig.get("agentVersion")}
    body = {k: v for k, v in doc.items() if k not in ("jacsSignature", "jacsSha256", "jacsRegistration",
                                                      "jacsAgreement")}
    body["jacsMigratedFrom"] = link
    return pretty_json(signer.finish(body))
