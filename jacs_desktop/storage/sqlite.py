"""``sqlite:///path/file.sqlite3``: documents in jacs's own ``jacs_document`` table.

Documents (``documents/{id}:{version}.json``) live in ``jacs_document`` with the
``documents_fts`` FTS5 index exactly as SPEC 1.6 describes, so jacs's SQLite
tooling can read them; archived documents are rows with ``removed = 1``.
Everything else (agents, public keys, attachments, configs) is in our own
``jd_object`` table. WAL mode; one connection per thread.

For the window, ``jd_version`` and ``jd_doc`` (``sqlite_pages``) keep a summary of each
version and document, kept up to date by our writes and by ``sync_summaries`` for
rows other programs wrote, so a page of a million documents is read by index.
"""

from __future__ import annotations

import builtins
import contextlib
import heapq
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import sqlite_grams as grams
from . import sqlite_pages as pages
from .base import NotFound, ObjectInfo, ObjectStore, StorageError, UnsafeName, validate_id, validate_key

__all__ = ["SqliteStore", "DOC_PREFIX", "ARCHIVE_PREFIX"]

DOC_PREFIX = "documents/"
ARCHIVE_PREFIX = "documents/archive/"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jacs_document (
    jacs_id TEXT NOT NULL,
    jacs_version TEXT NOT NULL,
    agent_id TEXT,
    jacs_type TEXT NOT NULL,
    raw_contents TEXT NOT NULL,
    file_contents TEXT NOT NULL,
    visibility TEXT NOT NULL DEFAULT 'private',
    removed INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now')),
    PRIMARY KEY (jacs_id, jacs_version)
);
CREATE INDEX IF NOT EXISTS idx_jacs_document_type ON jacs_document(jacs_type);
CREATE INDEX IF NOT EXISTS idx_jacs_document_agent ON jacs_document(agent_id);
CREATE INDEX IF NOT EXISTS idx_jacs_document_created ON jacs_document(created_at DESC);
CREATE INDEX IF NOT EXISTS idx_jacs_document_removed ON jacs_document(removed);
CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5(
    raw_contents, jacs_type, agent_id, content='jacs_document', content_rowid='rowid'
);
CREATE TRIGGER IF NOT EXISTS jacs_document_ai AFTER INSERT ON jacs_document BEGIN
    INSERT INTO documents_fts(rowid, raw_contents, jacs_type, agent_id)
    VALUES (new.rowid, new.raw_contents, new.jacs_type, new.agent_id);
END;
CREATE TRIGGER IF NOT EXISTS jacs_document_ad AFTER DELETE ON jacs_document BEGIN
    INSERT INTO documents_fts(documents_fts, rowid, raw_contents, jacs_type, agent_id)
    VALUES ('delete', old.rowid, old.raw_contents, old.jacs_type, old.agent_id);
END;
CREATE TRIGGER IF NOT EXISTS jacs_document_au AFTER UPDATE OF raw_contents, jacs_type, agent_id ON jacs_document BEGIN
    INSERT INTO documents_fts(documents_fts, rowid, raw_contents, jacs_type, agent_id)
    VALUES ('delete', old.rowid, old.raw_contents, old.jacs_type, old.agent_id);
    INSERT INTO documents_fts(rowid, raw_contents, jacs_type, agent_id)
    VALUES (new.rowid, new.raw_contents, new.jacs_type, new.agent_id);
END;
CREATE TABLE IF NOT EXISTS jd_object (
    key TEXT PRIMARY KEY,
    data BLOB NOT NULL,
    mtime REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS jd_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO jd_meta(name, value) VALUES ('schema_version', '1');
"""


def _split_doc_key(key: str) -> tuple[str, str, bool] | None:
    """``documents/{id}:{v}.json`` → (id, version, archived); None for other keys."""
    if key.startswith(ARCHIVE_PREFIX):
        name, archived = key[len(ARCHIVE_PREFIX):], True
    elif key.startswith(DOC_PREFIX):
        name, archived = key[len(DOC_PREFIX):], False
    else:
        return None
    if "/" in name or not name.endswith(".json") or name.count(":") != 1:
        return None
    jid, ver = name[:-5].split(":")
    try:
        validate_id(jid, "document id")
        validate_id(ver, "version")
    except UnsafeName:
        return None  # not a document version name: kept as a plain object
    return jid, ver, archived


def _doc_key(jid: str, ver: str, removed: int) -> str:
    return f"{ARCHIVE_PREFIX if removed else DOC_PREFIX}{jid}:{ver}.json"


class SqliteStore(ObjectStore):
    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        self.path = Path(path).expanduser().absolute()
        if not self.path.exists():
            if not create:
                raise NotFound(f"{self.path} does not exist")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
        posix = self.path.as_posix()
        self.url = f"sqlite://{posix}" if posix.startswith("/") else f"sqlite:///{posix}"
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        try:
            conn = self._conn()
            conn.executescript(_SCHEMA + pages.SCHEMA)
            pages.ensure_counts(conn)
            pages.migrate(conn)
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"{self.path} is not a usable SQLite database: {exc}") from None

    def _conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=NORMAL")
            c.execute("PRAGMA busy_timeout=30000")
            pages.register_functions(c)
            self._local.conn = c
            with self._conns_lock:
                self._conns.append(c)
        return c

    def reader(self) -> sqlite3.Connection:
        """A connection of its own (for the window's paged queries: its temp tables are
        its own); any thread may use it, one at a time. Closed with the store."""
        c = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        c.execute("PRAGMA busy_timeout=30000")
        pages.register_functions(c)
        with self._conns_lock:
            self._conns.append(c)
        return c

    def sync_summaries(self, progress: Any = None, cancel: Any = None, *, on_batch: Any = None,
                       batch: int = 5000) -> int:
        """Summarize the document versions another program wrote (``sqlite_pages.sync``)."""
        try:
            return pages.sync(self._conn(), progress, cancel, on_batch=on_batch, batch=batch)
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"{self.path}: the document summaries could not be updated: {exc}") from None

    def build_search_index(self, cancel: Any = None) -> int:
        """Index the rows the filter's search index lacks (``sqlite_pages.build_search_index``)."""
        try:
            return pages.build_search_index(self._conn(), cancel)
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"{self.path}: the search index could not be updated: {exc}") from None

    def close(self) -> None:
        with self._conns_lock:
            for c in self._conns:
                with contextlib.suppress(sqlite3.Error):
                    c.close()
            self._conns.clear()
        self._local = threading.local()

    # -- interface --------------------------------------------------------------
    def list(self, prefix: str = "", *, page_size: int = 1000, details: bool = True,
             ordered: bool = True) -> Iterator[ObjectInfo]:
        """Streamed (a million documents are not read before the first is handed over);
        ``ordered=False``: in the database's order, no sort; ``details=False``: no sizes
        (counting a body's bytes reads it)."""
        c = self._conn()
        docs: Iterator[ObjectInfo] = iter(())
        if DOC_PREFIX.startswith(prefix) or prefix.startswith(DOC_PREFIX):
            docs = self._list_docs(c, prefix, page_size, details, ordered)
        hi = prefix + "\U0010ffff"
        cur = c.execute("SELECT key, length(data), mtime FROM jd_object WHERE key >= ? AND key < ? ORDER BY key",
                        (prefix, hi))
        objs = (ObjectInfo(key, size, mtime) for batch in iter(lambda: cur.fetchmany(page_size), [])
                for key, size, mtime in batch)
        if ordered:
            yield from heapq.merge(docs, objs, key=lambda o: o.key)
        else:
            yield from docs
            yield from objs

    @staticmethod
    def _list_docs(c: sqlite3.Connection, prefix: str, page_size: int, details: bool,
                   ordered: bool) -> Iterator[ObjectInfo]:
        where = ""
        if prefix.startswith(ARCHIVE_PREFIX):
            where = " WHERE removed = 1"
        size = "length(CAST(raw_contents AS BLOB))" if details else "0"
        # the key in SQL, so the database gives them in key order (binary order: Python's order)
        key = ("'documents/' || CASE WHEN removed THEN 'archive/' ELSE '' END || jacs_id || ':' || jacs_version "
               "|| '.json'")
        cur = c.execute(f"SELECT jacs_id, jacs_version, removed, {size}, created_at FROM jacs_document{where}"
                        + (f" ORDER BY {key}" if ordered else ""))
        for batch in iter(lambda: cur.fetchmany(page_size), []):
            for jid, ver, removed, n, created in batch:
                k = _doc_key(jid, ver, removed)
                if k.startswith(prefix):
                    yield ObjectInfo(k, n, _parse_time(created) if details else None)

    def list_children(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Only ``documents/`` and ``documents/archive/`` have documents directly under
        them: other folders (the root: its configs) are listed from ``jd_object`` alone."""
        if prefix in (DOC_PREFIX, ARCHIVE_PREFIX):
            yield from super().list_children(prefix)
            return
        hi = prefix + "\U0010ffff"
        for key, size, mtime in self._conn().execute(
                "SELECT key, length(data), mtime FROM jd_object WHERE key >= ? AND key < ? ORDER BY key",
                (prefix, hi)).fetchall():
            if "/" not in key[len(prefix):]:
                yield ObjectInfo(key, size, mtime)

    def get(self, key: str) -> bytes:
        validate_key(key)
        c = self._conn()
        d = _split_doc_key(key)
        if d:
            row = c.execute(
                "SELECT raw_contents FROM jacs_document WHERE jacs_id=? AND jacs_version=? AND removed=?",
                (d[0], d[1], int(d[2])),
            ).fetchone()
            if row is None:
                raise NotFound(f"{key} not found")
            text: str = row[0]  # raw_contents is TEXT NOT NULL
            return text.encode("utf-8")
        row = c.execute("SELECT data FROM jd_object WHERE key=?", (key,)).fetchone()
        if row is None:
            raise NotFound(f"{key} not found")
        return bytes(row[0])

    def _doc_row(self, jid: str, ver: str, data: bytes) -> tuple[tuple[str, str, str | None, str, str, str, str],
                                                                 dict[str, Any]]:
        try:
            text = data.decode("utf-8")
            doc = json.loads(text)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise StorageError(f"documents/{jid}:{ver}.json is not a JSON document: {exc}") from None
        if not isinstance(doc, dict):
            raise StorageError(f"documents/{jid}:{ver}.json is not a JSON object")
        raw_sig = doc.get("jacsSignature")
        sig: dict[str, Any] = raw_sig if isinstance(raw_sig, dict) else {}
        raw_agent, raw_type, raw_vis = sig.get("agentID"), doc.get("jacsType"), doc.get("jacsVisibility")
        agent = raw_agent if isinstance(raw_agent, str) else None
        jtype = raw_type if isinstance(raw_type, str) else "unknown"
        vis = raw_vis if isinstance(raw_vis, str) else "private"
        compact = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
        return (jid, ver, agent, jtype, text, compact, vis), doc

    @staticmethod
    def _summarize(c: sqlite3.Connection, jid: str, ver: str, removed: int, size: int, doc: Any) -> None:
        """Keep ``jd_version``/``jd_doc`` up to date (inside the caller's transaction)."""
        got = c.execute("SELECT created_at FROM jacs_document WHERE jacs_id=? AND jacs_version=?",
                        (jid, ver)).fetchone()
        pages.save_versions(c, [pages.summary_row(jid, ver, removed, size, got[0] if got else None, doc)])
        pages.refresh_docs(c, [jid])

    def put(self, key: str, data: bytes) -> None:
        validate_key(key)
        c = self._conn()
        d = _split_doc_key(key)
        if d:
            row, doc = self._doc_row(d[0], d[1], data)
            c.execute("BEGIN IMMEDIATE")
            try:
                mark = grams.hold(c)
                c.execute("DELETE FROM jacs_document WHERE jacs_id=? AND jacs_version=?", (d[0], d[1]))
                c.execute(
                    "INSERT INTO jacs_document(jacs_id, jacs_version, agent_id, jacs_type, raw_contents, "
                    "file_contents, visibility, removed) VALUES (?,?,?,?,?,?,?,?)",
                    (*row, int(d[2])),
                )
                self._summarize(c, d[0], d[1], int(d[2]), len(data), doc)
                grams.catch_up(c, mark, defer=True)
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
            return
        c.execute(
            "INSERT INTO jd_object(key, data, mtime) VALUES (?,?,?) "
            "ON CONFLICT(key) DO UPDATE SET data=excluded.data, mtime=excluded.mtime",
            (key, sqlite3.Binary(data), time.time()),
        )

    def put_many(self, items: builtins.list[tuple[str, bytes]], *, if_absent: bool = False,
                 all_or_none: bool = False) -> builtins.list[bool]:
        """Write many objects in one transaction: ``put`` (or ``put_if_absent``) of each, in
        order; returns whether each was written. The filter's index of short texts is
        brought up to date for the batch at once (``sqlite_grams.hold``/``catch_up``), in the
        same transaction: the rows and the index commit together or not at all.
        *all_or_none*: when one of them is there already, nothing is written (StorageError).
        A body that is not a JSON document raises before anything is written."""
        prepared = []
        for key, data in items:
            validate_key(key)
            d = _split_doc_key(key)
            prepared.append((key, data, d, self._doc_row(d[0], d[1], data) if d else None))
        c = self._conn()
        out: builtins.list[bool] = []
        c.execute("BEGIN IMMEDIATE")
        try:
            mark = grams.hold(c)
            written: dict[tuple[str, str], tuple[int, int, Any]] = {}
            for key, data, d, parsed in prepared:
                if d is None or parsed is None:
                    cur = c.execute(
                        "INSERT OR IGNORE INTO jd_object(key, data, mtime) VALUES (?,?,?)" if if_absent else
                        "INSERT INTO jd_object(key, data, mtime) VALUES (?,?,?) "
                        "ON CONFLICT(key) DO UPDATE SET data=excluded.data, mtime=excluded.mtime",
                        (key, sqlite3.Binary(data), time.time()))
                    out.append(cur.rowcount == 1)
                else:
                    if not if_absent:
                        c.execute("DELETE FROM jacs_document WHERE jacs_id=? AND jacs_version=?", (d[0], d[1]))
                    cur = c.execute(
                        "INSERT OR IGNORE INTO jacs_document(jacs_id, jacs_version, agent_id, jacs_type, raw_contents, "
                        "file_contents, visibility, removed) VALUES (?,?,?,?,?,?,?,?)", (*parsed[0], int(d[2])))
                    out.append(cur.rowcount == 1)
                    if cur.rowcount == 1:
                        written[d[0], d[1]] = (int(d[2]), len(data), parsed[1])
                if all_or_none and not out[-1]:
                    raise StorageError(f"{key} was written by another program meanwhile: none of this batch "
                                       f"of {len(prepared)} was written")
            if written:
                rows = []
                for (jid, ver), (removed, size, doc) in written.items():
                    got = c.execute("SELECT created_at FROM jacs_document WHERE jacs_id=? AND jacs_version=?",
                                    (jid, ver)).fetchone()
                    rows.append(pages.summary_row(jid, ver, removed, size, got[0] if got else None, doc))
                pages.save_versions(c, rows)
                pages.refresh_docs(c, {jid for jid, _ver in written})
            grams.catch_up(c, mark)
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return out

    def _doc_absent(self, key: str, data: bytes) -> bool | None:
        """For ``sqlite_batch``: None when *key* names no document version; else whether
        no version of that (id, version) is in the store (archived or not). A body the
        store would refuse raises StorageError."""
        d = _split_doc_key(key)
        if d is None:
            return None
        self._doc_row(d[0], d[1], data)
        try:
            there = self._conn().execute("SELECT 1 FROM jacs_document WHERE jacs_id=? AND jacs_version=?",
                                         (d[0], d[1])).fetchone()
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"{self.path}: {exc}") from None
        return there is None

    def deferred_writes(self) -> Any:
        """Create-if-absent writes kept until a batch is written in one transaction
        (``sqlite_batch.DeferredWrites``: what a migration uses)."""
        from .sqlite_batch import DeferredWrites

        return DeferredWrites(self)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        validate_key(key)
        c = self._conn()
        d = _split_doc_key(key)
        if d:
            row, doc = self._doc_row(d[0], d[1], data)
            c.execute("BEGIN IMMEDIATE")
            try:
                mark = grams.hold(c)
                cur = c.execute(
                    "INSERT OR IGNORE INTO jacs_document(jacs_id, jacs_version, agent_id, jacs_type, raw_contents, "
                    "file_contents, visibility, removed) VALUES (?,?,?,?,?,?,?,?)",
                    (*row, int(d[2])),
                )
                # not inserted: the (id, version) exists; in the other state (archived/live) it still
                # counts as present
                added = cur.rowcount == 1
                if added:
                    self._summarize(c, d[0], d[1], int(d[2]), len(data), doc)
                grams.catch_up(c, mark, defer=True)
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
            return added
        cur = c.execute(
            "INSERT OR IGNORE INTO jd_object(key, data, mtime) VALUES (?,?,?)",
            (key, sqlite3.Binary(data), time.time()),
        )
        return cur.rowcount == 1

    def stat(self, key: str) -> ObjectInfo | None:
        validate_key(key)
        c = self._conn()
        d = _split_doc_key(key)
        if d:
            row = c.execute(
                "SELECT length(CAST(raw_contents AS BLOB)), created_at FROM jacs_document "
                "WHERE jacs_id=? AND jacs_version=? AND removed=?",
                (d[0], d[1], int(d[2])),
            ).fetchone()
            return None if row is None else ObjectInfo(key, row[0], _parse_time(row[1]))
        row = c.execute("SELECT length(data), mtime FROM jd_object WHERE key=?", (key,)).fetchone()
        return None if row is None else ObjectInfo(key, row[0], row[1])

    def delete(self, key: str) -> None:
        validate_key(key)
        c = self._conn()
        d = _split_doc_key(key)
        if d:
            c.execute("BEGIN IMMEDIATE")
            try:
                mark = grams.hold(c)
                cur = c.execute("DELETE FROM jacs_document WHERE jacs_id=? AND jacs_version=? AND removed=?",
                                (d[0], d[1], int(d[2])))
                if cur.rowcount:
                    c.execute("DELETE FROM jd_version WHERE jacs_id=? AND jacs_version=?", (d[0], d[1]))
                    pages.refresh_docs(c, [d[0]])
                grams.catch_up(c, mark, defer=True)
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        else:
            c.execute("DELETE FROM jd_object WHERE key=?", (key,))

    def move(self, src: str, dst: str) -> None:
        s, d = _split_doc_key(src), _split_doc_key(dst)
        if s and d and s[:2] == d[:2]:  # archive / restore: flip the removed flag
            c = self._conn()
            c.execute("BEGIN IMMEDIATE")
            try:
                mark = grams.hold(c)
                cur = c.execute(
                    "UPDATE jacs_document SET removed=? WHERE jacs_id=? AND jacs_version=? AND removed=?",
                    (int(d[2]), s[0], s[1], int(s[2])),
                )
                if cur.rowcount == 1:
                    c.execute("UPDATE jd_version SET removed=? WHERE jacs_id=? AND jacs_version=?",
                              (int(d[2]), s[0], s[1]))
                    pages.refresh_docs(c, [s[0]])
                grams.catch_up(c, mark, defer=True)
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
            if cur.rowcount != 1:
                raise NotFound(f"{src} not found")
            return
        super().move(src, dst)

    # -- search -------------------------------------------------------------------
    # builtins.list: inside the class, `list` is the listing method
    def search(self, text: str, limit: int = 500) -> builtins.list[tuple[str, str]]:
        """FTS5 search over live documents: [(id, version)]."""
        terms = [t for t in text.replace('"', " ").split() if t]
        if not terms:
            return []
        query = " ".join(f'"{t}"' for t in terms)
        try:
            rows = self._conn().execute(
                "SELECT d.jacs_id, d.jacs_version FROM documents_fts f JOIN jacs_document d ON d.rowid = f.rowid "
                "WHERE documents_fts MATCH ? AND d.removed = 0 ORDER BY rank LIMIT ?",
                (query, limit),
            ).fetchall()
        except sqlite3.OperationalError as exc:
            raise StorageError(f"Search failed: {exc}") from None
        return [(a, b) for a, b in rows]


def _parse_time(text: str | None) -> float | None:
    if not text:
        return None
    from datetime import UTC, datetime

    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None
