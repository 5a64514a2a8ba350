"""A disposable index cache: per-version summaries (title, type, signer, dates,
parent, attachments) kept in a SQLite file in the platformdirs cache dir.

It is never trusted over the store: an entry is used only while the object's
size/mtime/etag still match what the listing reports, and the whole file can
be deleted at any time (it is rebuilt, with progress).

Entries are written in batches: one transaction per ``BATCH`` entries or
``BATCH_S`` seconds (and at ``flush``/``close``), not one commit per document.
A crash loses at most the open batch, which is read again next time; SQLite's
transaction keeps the file whole either way.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ..paths import cache_dir, private_dir, private_file
from .base import StorageError
from .layout import Ref

__all__ = ["IndexCache", "summarize", "cache_dir", "JsonReader", "CancelFlag"]

INDEX_VERSION = 1


class JsonReader(Protocol):
    """What summaries are read from: a :class:`~.store.Store` (its ``invalidate``, when
    it has one, is called first)."""

    def read_json(self, key: str) -> Any: ...


class CancelFlag(Protocol):
    """A cancel request (a ``threading.Event``, a jobs ``CancelToken``)."""

    def is_set(self) -> bool: ...


_TITLE_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


def _title(doc: dict[str, Any]) -> str | None:
    for path in (("title",), ("name",), ("jacsDocument", "content", "title"), ("content", "title"),
                 ("jacsDocument", "filename"), ("jacsDocument", "content", "name"), ("content", "content", "title")):
        v: Any = doc
        for p in path:
            v = v.get(p) if isinstance(v, dict) else None
        if isinstance(v, str) and v.strip():
            return v.strip()[:200]
    agreement = doc.get("jacsAgreement")
    question = agreement.get("question") if isinstance(agreement, dict) else None
    if isinstance(question, str):
        return "Agreement: " + question[:180]
    content = doc.get("jacsDocument", {}).get("content") if isinstance(doc.get("jacsDocument"), dict) else None
    if content is None and isinstance(doc.get("content"), dict):
        content = doc["content"].get("content", doc["content"])
    if isinstance(content, str) and content.strip():
        return content.strip().splitlines()[0][:200]
    if isinstance(content, (dict, list)) and content:
        # only the first 81 characters are needed: encoded lazily, stopped there (a large
        # content is not encoded whole for its title); the same text json.dumps gives
        parts: list[str] = []
        n = 0
        for chunk in _TITLE_ENCODER.iterencode(content):
            parts.append(chunk)
            n += len(chunk)
            if n > 80:
                break
        text = "".join(parts)
        return text if len(text) <= 80 else text[:79] + "…"
    return None


def summarize(doc: Any) -> dict[str, Any]:
    """What the browser shows for one version, from its body."""
    if not isinstance(doc, dict):
        return {"error": "not a JSON object"}
    raw_sig = doc.get("jacsSignature")
    sig: dict[str, Any] = raw_sig if isinstance(raw_sig, dict) else {}
    raw_files = doc.get("jacsFiles")
    files: list[Any] = raw_files if isinstance(raw_files, list) else []

    def s(v: object) -> str | None:
        return v if isinstance(v, str) else None

    return {
        "title": _title(doc),
        "type": s(doc.get("jacsType")),
        "level": s(doc.get("jacsLevel")),
        "date": s(doc.get("jacsVersionDate")),
        "previous": s(doc.get("jacsPreviousVersion")),
        "original": s(doc.get("jacsOriginalVersion")),
        "signer": s(sig.get("agentID")),
        "signer_version": s(sig.get("agentVersion")),
        "algorithm": s(sig.get("signingAlgorithm")),
        "attachments": len(files),
        "agreement": isinstance(doc.get("jacsAgreement"), dict),
        "agent_name": s(doc.get("name")) if doc.get("jacsType") == "agent" else None,
    }


class IndexCache:
    #: entries per transaction at most
    BATCH = 2000
    #: seconds a transaction stays open at most
    BATCH_S = 0.5

    def __init__(self, store_url: str, directory: Path | None = None) -> None:
        #: the batch not written yet: key -> (stamp, summary JSON)
        self._buf: dict[str, tuple[str, str]] = {}
        self._since = 0.0
        #: every entry, once ``preload`` read them
        self._mem: dict[str, tuple[str, str]] | None = None
        d = private_dir(Path(directory) if directory else cache_dir())
        self.path = d / (hashlib.sha256(store_url.encode("utf-8")).hexdigest()[:32] + ".index.sqlite3")
        self._lock = threading.Lock()
        try:
            self._db = self._open()
        except sqlite3.DatabaseError:
            # disposable: a damaged cache is simply rebuilt
            self.path.unlink(missing_ok=True)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        # It names every document: 0600 whatever the umask (SQLite gives its -wal and
        # -shm files the database file's mode); one an older version left 0644 is tightened.
        private_file(self.path)
        for extra in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + extra)
            if side.exists():
                private_file(side)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # a disposable cache: no fsync at each commit
        db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
        row = db.execute("SELECT value FROM meta WHERE name='version'").fetchone()
        if row is None or row[0] != str(INDEX_VERSION):
            db.execute("DROP TABLE IF EXISTS entry")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (str(INDEX_VERSION),))
        db.execute("CREATE TABLE IF NOT EXISTS entry "
                   "(key TEXT PRIMARY KEY, stamp TEXT NOT NULL, summary TEXT NOT NULL)")
        return db

    @staticmethod
    def _stamp(ref: Ref) -> str:
        return f"{ref.size}|{ref.mtime or ''}"

    def preload(self) -> None:
        """Read every entry into memory at once (one query instead of one per document,
        for filling a whole table of summaries)."""
        with self._lock:
            self._commit()
            self._mem = {k: (st, sm) for k, st, sm in self._db.execute("SELECT key, stamp, summary FROM entry")}

    def get(self, ref: Ref) -> dict[str, Any] | None:
        with self._lock:
            row = self._buf.get(ref.key)
            if row is None:
                if self._mem is not None:
                    row = self._mem.get(ref.key)
                else:
                    row = self._db.execute("SELECT stamp, summary FROM entry WHERE key=?", (ref.key,)).fetchone()
        if row is None or (ref.size and row[0] != self._stamp(ref)):
            return None
        try:
            summary: dict[str, Any] = json.loads(row[1])  # written by put()
        except ValueError:
            return None
        return summary

    def put(self, ref: Ref, summary: dict[str, Any]) -> None:
        with self._lock:
            if not self._buf:
                self._since = time.monotonic()
            entry = (self._stamp(ref), json.dumps(summary))
            self._buf[ref.key] = entry
            if self._mem is not None:
                self._mem[ref.key] = entry
            if len(self._buf) >= self.BATCH or time.monotonic() - self._since >= self.BATCH_S:
                self._commit()

    def _commit(self) -> None:
        """The batch in one transaction (all of it or, after a crash, none of it)."""
        if not self._buf:
            return
        rows = [(k, st, sm) for k, (st, sm) in self._buf.items()]
        self._db.execute("BEGIN")
        try:
            self._db.executemany("INSERT OR REPLACE INTO entry VALUES (?,?,?)", rows)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._buf.clear()

    def flush(self) -> None:
        """Write the open batch now."""
        with self._lock:
            self._commit()

    def summary(self, store: JsonReader, ref: Ref) -> dict[str, Any]:
        """Cached summary, or read the body and cache it."""
        got = self.get(ref)
        if got is not None:
            return got
        invalidate = getattr(store, "invalidate", None)
        if invalidate is not None:
            invalidate(ref.key)  # the body may have changed since it was cached
        try:
            doc = store.read_json(ref.key)
            s = summarize(doc)
        except StorageError as exc:
            s = {"error": str(exc)}
        self.put(ref, s)
        return s

    def rebuild(self, store: JsonReader, refs: list[Ref], progress: Callable[[int, int, str], None] | None = None,
                cancel: CancelFlag | None = None) -> int:
        """Drop everything and summarize *refs* again; returns how many were indexed."""
        with self._lock:
            self._buf.clear()
            self._db.execute("DELETE FROM entry")
            if self._mem is not None:
                self._mem = {}
        n = 0
        for i, ref in enumerate(refs):
            if cancel is not None and cancel.is_set():
                break
            self.summary(store, ref)
            n += 1
            if progress and (i % 50 == 0 or i == len(refs) - 1):
                progress(i + 1, len(refs), ref.key)
        self.flush()
        return n

    def prune(self, live_keys: set[str]) -> None:
        with self._lock:
            self._commit()
            keys = [r[0] for r in self._db.execute("SELECT key FROM entry")]
            gone = [k for k in keys if k not in live_keys]
            self._db.executemany("DELETE FROM entry WHERE key=?", [(k,) for k in gone])
            if self._mem is not None:
                for k in gone:
                    self._mem.pop(k, None)

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlite3.Error):  # disposable: what is not written is read again next time
                self._commit()
            self._db.close()
