"""Document summaries and paged, indexed queries for the SQLite backend.

The window shows one row per document (the live ones and the archived ones
apart). For a store of a million documents it must not read and sort every
row: it asks for a count and for one page at a time, and the database answers
from indexes.

Two tables of our own, derived from ``jacs_document`` and never trusted over
it (they only say what to show and in which order; every verdict is computed
from ``jacs_document``'s bodies):

- ``jd_version``: one summary per stored version (title, type, date, signer,
  attachments), the same ``summarize`` the index cache uses;
- ``jd_doc``: one row per (archived or not, document id): its latest version's
  summary, its number of versions, the sort keys (with an index each) and the
  text the filter box matches.

Our own writes keep both up to date in the same transaction. Rows another
program wrote (jacs itself) are found by ``sync`` and summarized in batches,
one transaction per batch, so an interrupted sync loses nothing and the next
one carries on.

The filter box's text is found through a trigram index over ``jd_doc.search``
(``sqlite_search``, re-exported here).
"""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from . import sqlite_zones
from .index import summarize
from .sqlite_grams import spans
from .sqlite_search import (
    SUMMARY_VERSION,
    build_search_index,
    fts_phrase,
    match_rows,
    migrate,
    pause_search_index,
    search_index_ready,
)

__all__ = ["SCHEMA", "SORTS", "DocQuery", "DocRecord", "VersionRecord", "register_functions", "summary_row",
           "save_versions", "refresh_docs", "sync", "count", "page", "position", "versions_of", "versions_total",
           "fold", "search_text", "CancelFlag", "migrate", "build_search_index", "search_index_ready",
           "match_rows", "fts_phrase", "SUMMARY_VERSION", "spans"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS jd_version (
    jacs_id TEXT NOT NULL,
    jacs_version TEXT NOT NULL,
    removed INTEGER NOT NULL,
    size INTEGER NOT NULL,
    created_at TEXT,
    title TEXT, type TEXT, date TEXT, signer TEXT,
    attachments INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (jacs_id, jacs_version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS jd_doc (
    removed INTEGER NOT NULL,
    jacs_id TEXT NOT NULL,
    versions INTEGER NOT NULL,
    latest TEXT NOT NULL,
    title TEXT, type TEXT, date TEXT, signer TEXT,
    attachments INTEGER NOT NULL,
    title_key TEXT NOT NULL,
    type_key TEXT NOT NULL,
    date_key TEXT NOT NULL,
    signer_key TEXT NOT NULL,
    search TEXT NOT NULL,
    PRIMARY KEY (removed, jacs_id)
);
CREATE TABLE IF NOT EXISTS jd_count (removed INTEGER PRIMARY KEY, n INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS jd_doc_title ON jd_doc(removed, title_key, jacs_id);
CREATE INDEX IF NOT EXISTS jd_doc_type ON jd_doc(removed, type_key, jacs_id);
CREATE INDEX IF NOT EXISTS jd_doc_date ON jd_doc(removed, date_key, jacs_id);
CREATE INDEX IF NOT EXISTS jd_doc_versions ON jd_doc(removed, versions, jacs_id);
CREATE INDEX IF NOT EXISTS jd_doc_signer ON jd_doc(removed, signer_key, jacs_id);
CREATE INDEX IF NOT EXISTS jd_doc_attachments ON jd_doc(removed, attachments, jacs_id);
"""

#: sort name -> the jd_doc column (each has an index (removed, column, jacs_id)); ties go by id
SORTS = {"id": "jacs_id", "title": "title_key", "type": "type_key", "date": "date_key", "versions": "versions",
         "signer": "signer_key", "attachments": "attachments"}

#: where a missing title or signer sorts: after every text
LAST = "\uffff"


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


def fold(text: str | None) -> str:
    """The sort key of a title or a signer: case-folded, a missing one last."""
    return (text or LAST).casefold()


def search_text(jid: str, title: str | None, jtype: str | None, signer: str | None) -> str:
    """What the filter box matches (the window's ``DocRow.search_text`` without the signer's name)."""
    return " ".join(x for x in (jid, title, jtype, signer) if x).lower()


def register_functions(conn: sqlite3.Connection) -> None:
    """Our SQL functions, on our own connections only (no trigger or index of the
    database uses them, so other programs writing the file never need them)."""
    conn.create_function("jd_fold", 1, fold, deterministic=True)
    conn.create_function("jd_search", 4, search_text, deterministic=True)
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS jd_ids (jacs_id TEXT PRIMARY KEY)")
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS jd_rows (rowid INTEGER PRIMARY KEY)")


VersionTuple = tuple[str, str, int, int, str | None, str | None, str | None, str | None, str | None, int]


def summary_row(jid: str, ver: str, removed: int, size: int, created: str | None, doc: Any) -> VersionTuple:
    """A ``jd_version`` row from a parsed body."""
    s = summarize(doc, size)
    return (jid, ver, removed, size, created, s.get("title"), s.get("type"), s.get("date"), s.get("signer"),
            int(s.get("attachments") or 0))


def save_versions(c: sqlite3.Connection, rows: Iterable[VersionTuple]) -> None:
    c.executemany("INSERT OR REPLACE INTO jd_version(jacs_id, jacs_version, removed, size, created_at, title, type, "
                  "date, signer, attachments) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)


_COUNT_IDS = ("SELECT removed, count(*) FROM jd_doc WHERE removed IN (0, 1) AND jacs_id IN "
              "(SELECT jacs_id FROM temp.jd_ids) GROUP BY removed")


def ensure_counts(c: sqlite3.Connection) -> None:
    """``jd_count`` (documents per table, kept by ``refresh_docs``) filled once when missing."""
    if c.execute("SELECT count(*) FROM jd_count").fetchone()[0] == 2:
        return
    c.execute("BEGIN IMMEDIATE")
    try:
        c.execute("DELETE FROM jd_count")
        c.execute("INSERT INTO jd_count(removed, n) SELECT removed, count(*) FROM jd_doc GROUP BY removed")
        c.execute("INSERT OR IGNORE INTO jd_count(removed, n) VALUES (0, 0), (1, 0)")
        c.execute("COMMIT")
    except BaseException:
        c.execute("ROLLBACK")
        raise


#: the ``jd_doc`` rows of the documents chosen by *where* (on ``jd_version``), from their versions: the
#: latest version is the greatest (date, key) as the window picks it; with one max() the other columns
#: come from that row (SQLite's documented bare-column rule)
_MAKE_DOCS = (
    "INSERT INTO jd_doc(removed, jacs_id, versions, latest, title, type, date, signer, attachments, "
    "title_key, type_key, date_key, signer_key, search) "
    "SELECT removed, jacs_id, n, jacs_version, title, type, date, signer, attachments, jd_fold(title), "
    "coalesce(type, ''), coalesce(date, ''), jd_fold(signer), jd_search(jacs_id, title, type, signer) FROM ("
    " SELECT removed, jacs_id, count(*) AS n, max(coalesce(date, '') || char(31) || jacs_version || '.json'),"
    " jacs_version, title, type, date, signer, attachments FROM jd_version"
    " WHERE {where} GROUP BY removed, jacs_id)")
_MAKE_MANY = _MAKE_DOCS.format(where="jacs_id IN (SELECT jacs_id FROM temp.jd_ids)")
_MAKE_ONE = _MAKE_DOCS.format(where="jacs_id = ?")
_STATES_OF_ONE = "SELECT removed FROM jd_doc WHERE removed IN (0, 1) AND jacs_id = ?"


def refresh_docs(c: sqlite3.Connection, ids: Iterable[str]) -> None:
    """Recompute the ``jd_doc`` rows of *ids* from their versions, and the counts
    (inside the caller's transaction)."""
    ids = ids if isinstance(ids, (list, tuple, set, frozenset)) else list(ids)
    if len(ids) == 1:
        _refresh_one(c, next(iter(ids)))
        return
    c.execute("DELETE FROM temp.jd_ids")
    c.executemany("INSERT OR IGNORE INTO temp.jd_ids VALUES (?)", ((i,) for i in ids))
    before = dict(c.execute(_COUNT_IDS).fetchall())
    c.execute("DELETE FROM jd_doc WHERE removed IN (0, 1) AND jacs_id IN (SELECT jacs_id FROM temp.jd_ids)")
    c.execute(_MAKE_MANY)
    after = dict(c.execute(_COUNT_IDS).fetchall())
    _count(c, before, after)
    c.execute("DELETE FROM temp.jd_ids")


def _refresh_one(c: sqlite3.Connection, jid: str) -> None:
    """``refresh_docs`` of one document (a single write): by its key, without the table of ids."""
    before = {removed: 1 for (removed,) in c.execute(_STATES_OF_ONE, (jid,))}
    if before:  # a new document has no row to take out
        c.execute("DELETE FROM jd_doc WHERE removed IN (0, 1) AND jacs_id = ?", (jid,))
    c.execute(_MAKE_ONE, (jid,))
    _count(c, before, {removed: 1 for (removed,) in c.execute(_STATES_OF_ONE, (jid,))})


def _count(c: sqlite3.Connection, before: dict[int, int], after: dict[int, int]) -> None:
    """``jd_count`` moved by the documents per table *before* and *after* a refresh."""
    for removed in (0, 1):
        delta = after.get(removed, 0) - before.get(removed, 0)
        if delta:
            c.execute("INSERT INTO jd_count(removed, n) VALUES (?, ?) "
                      "ON CONFLICT(removed) DO UPDATE SET n = n + excluded.n", (removed, delta))


_SECONDARY = ("jd_doc_title", "jd_doc_type", "jd_doc_date", "jd_doc_versions", "jd_doc_signer", "jd_doc_attachments")


def _missing(c: sqlite3.Connection) -> list[int]:
    """rowids of ``jacs_document`` rows without a (current) ``jd_version`` row. The
    names are compared through the primary key index (the bodies are not read);
    the archived flags only when the numbers of archived versions differ."""
    query = ("SELECT d.rowid FROM jacs_document d {} WHERE NOT EXISTS "
             "(SELECT 1 FROM jd_version v WHERE v.jacs_id = d.jacs_id AND v.jacs_version = d.jacs_version)")
    try:  # through the primary key's index: the names only, not the pages of the bodies
        todo = [r[0] for r in c.execute(query.format("INDEXED BY sqlite_autoindex_jacs_document_1"))]
    except sqlite3.OperationalError:  # a table made another way: the planner's choice
        todo = [r[0] for r in c.execute(query.format(""))]
    archived = c.execute("SELECT count(*) FROM jacs_document WHERE removed = 1").fetchone()[0]
    summarized = c.execute("SELECT count(*) FROM jd_version WHERE removed = 1").fetchone()[0]
    if archived != summarized or todo:
        flipped = [r[0] for r in c.execute(
            "SELECT d.rowid FROM jacs_document d JOIN jd_version v ON v.jacs_id = d.jacs_id "
            "AND v.jacs_version = d.jacs_version WHERE v.removed != d.removed")]
        todo += flipped
    return todo


def sync(c: sqlite3.Connection, progress: Callable[[int, int], None] | None = None,
         cancel: CancelFlag | None = None, *, batch: int = 5000, slice_s: float = 0.5,
         on_batch: Callable[[int], None] | None = None, bulk: int = 50_000) -> int:
    """Summarize the versions another program wrote (and forget the ones it deleted
    or archived): one transaction per *batch* versions. ``on_batch(done)`` after each
    commit, at most every *slice_s* seconds (and after the last). More than *bulk*
    versions to do: the sort indexes are dropped first and built again at the end
    (much faster than updating them row by row; a crash in between leaves them to
    the next open, which creates them). Returns how many versions were summarized
    or dropped."""
    gone = c.execute(
        "SELECT v.jacs_id, v.jacs_version FROM jd_version v WHERE NOT EXISTS (SELECT 1 FROM jacs_document d "
        "WHERE d.jacs_id = v.jacs_id AND d.jacs_version = v.jacs_version)").fetchall()
    if gone:
        def forget() -> None:
            c.executemany("DELETE FROM jd_version WHERE jacs_id=? AND jacs_version=?", gone)
            refresh_docs(c, {g[0] for g in gone})

        _write(c, forget)
    todo = _missing(c)
    big = len(todo) > bulk
    if big:
        pause_search_index(c)
        for name in _SECONDARY:
            c.execute(f"DROP INDEX IF EXISTS {name}")
    done, last = 0, time.monotonic()
    try:
        for start in range(0, len(todo), batch):
            if cancel is not None and cancel.is_set():
                break
            chunk = todo[start:start + batch]
            marks = ",".join("?" * len(chunk))
            bodies = c.execute(
                f"SELECT jacs_id, jacs_version, removed, raw_contents, created_at FROM jacs_document "
                f"WHERE rowid IN ({marks})", chunk).fetchall()
            rows = []
            for jid, ver, removed, text, created in bodies:
                try:
                    doc = json.loads(text)
                except (ValueError, RecursionError):
                    doc = None  # shown as an untitled row; its verdict says what is wrong
                rows.append(summary_row(jid, ver, removed, len(text.encode("utf-8")), created, doc))
            _write(c, functools.partial(_save, c, rows))
            done += len(chunk)
            if progress is not None:
                progress(done, len(todo))
            now = time.monotonic()
            if on_batch is not None and (now - last >= slice_s or done == len(todo)):
                last = now
                on_batch(done)
    finally:
        if big:
            c.executescript(SCHEMA)  # the sort indexes again
    return done + len(gone)


def _save(c: sqlite3.Connection, rows: list[VersionTuple]) -> None:
    save_versions(c, rows)
    refresh_docs(c, {r[0] for r in rows})


def _write(c: sqlite3.Connection, fn: Callable[[], object]) -> None:
    c.execute("BEGIN IMMEDIATE")
    try:
        fn()
        c.execute("COMMIT")
    except BaseException:
        c.execute("ROLLBACK")
        raise


# -- queries ---------------------------------------------------------------------------

@dataclass(frozen=True)
class DocQuery:
    """Which documents, in which order: live or archived; sorted by one of ``SORTS``
    (ties by id, both reversed when *descending*); *text*: the lower-case text the
    row's search text contains, or a signer in *signers* (agents whose name
    contains it); *ids*: only these documents; *exclude_temp*: not the ids in the
    connection's ``temp.jd_ids`` table; *only_temp_rows*: only the rows whose rowid
    is in ``temp.jd_rows`` (the filter's matches, found beforehand); *spans*: the
    only parts of the order that can hold a match (``sqlite_grams.spans``: pages walk
    those alone)."""

    archived: bool = False
    sort: str = "id"
    descending: bool = False
    text: str = ""
    signers: tuple[str, ...] = ()
    ids: frozenset[str] | None = None
    exclude_temp: bool = False
    only_temp_rows: bool = False
    spans: tuple[tuple[Any, Any], ...] | None = None

    def where(self) -> tuple[str, list[Any]]:
        parts: list[str] = ["removed = ?"]
        params: list[Any] = [int(self.archived)]
        if self.text:
            if self.signers:
                parts.append(f"(instr(search, ?) > 0 OR signer IN ({','.join('?' * len(self.signers))}))")
                params += [self.text, *self.signers]
            else:
                parts.append("instr(search, ?) > 0")
                params.append(self.text)
        if self.ids is not None:
            ids = sorted(self.ids)
            parts.append(f"jacs_id IN ({','.join('?' * len(ids))})" if ids else "0")
            params += ids
        if self.only_temp_rows:
            parts.append("rowid IN (SELECT rowid FROM temp.jd_rows)")
        if self.exclude_temp:
            parts.append("jacs_id NOT IN (SELECT jacs_id FROM temp.jd_ids)")
        return " AND ".join(parts), params

    def table(self) -> str:
        # a handful of rows by rowid: look them up, then sort them (no walk of a sort index)
        return "jd_doc NOT INDEXED" if self.only_temp_rows else "jd_doc"

    def order(self) -> str:
        col = SORTS[self.sort]
        d = " DESC" if self.descending else ""
        return f"jacs_id{d}" if col == "jacs_id" else f"{col}{d}, jacs_id{d}"


@dataclass(frozen=True)
class DocRecord:
    """One ``jd_doc`` row."""

    id: str
    versions: int
    latest: str
    title: str | None
    type: str | None
    date: str | None
    signer: str | None
    attachments: int
    search: str


@dataclass(frozen=True)
class VersionRecord:
    """One ``jd_version`` row."""

    id: str
    version: str
    size: int
    created_at: str | None
    title: str | None
    type: str | None
    date: str | None
    signer: str | None
    attachments: int


_DOC_COLUMNS = "jacs_id, versions, latest, title, type, date, signer, attachments, search"


def count(c: sqlite3.Connection, q: DocQuery) -> int:
    if q.exclude_temp:  # all of them but the excluded ones (found by key, not by a scan of every row)
        plain = replace(q, exclude_temp=False)
        where, params = plain.where()
        left: int = c.execute(f"SELECT count(*) FROM {plain.table()} WHERE {where} AND jacs_id IN "
                              f"(SELECT jacs_id FROM temp.jd_ids)", params).fetchone()[0]
        return count(c, plain) - left
    if not (q.text or q.ids is not None or q.only_temp_rows):
        got = c.execute("SELECT n FROM jd_count WHERE removed = ?", (int(q.archived),)).fetchone()
        if got is not None:
            return int(got[0])
    where, params = q.where()
    n: int = c.execute(f"SELECT count(*) FROM {q.table()} WHERE {where}", params).fetchone()[0]
    return n


def page(c: sqlite3.Connection, q: DocQuery, offset: int, limit: int) -> list[DocRecord]:
    where, params = q.where()
    if q.spans is not None:  # only the parts of the order that can hold a match, in order
        got: list[Any] = []
        for cond, extra in sqlite_zones.walk(SORTS[q.sort], q.descending, int(q.archived), q.spans):
            got += c.execute(f"SELECT {_DOC_COLUMNS} FROM {q.table()} WHERE {where} AND {cond} ORDER BY {q.order()} "
                             f"LIMIT ?", [*params, *extra, offset + limit - len(got)]).fetchall()
            if len(got) >= offset + limit:
                break
        return [DocRecord(*r) for r in got[offset:offset + limit]]
    rows = c.execute(f"SELECT {_DOC_COLUMNS} FROM {q.table()} WHERE {where} ORDER BY {q.order()} LIMIT ? OFFSET ?",
                     [*params, limit, offset]).fetchall()
    return [DocRecord(*r) for r in rows]


def position(c: sqlite3.Connection, q: DocQuery, doc_id: str) -> int:
    """Where document *doc_id* is in *q*'s order (-1: not among its rows)."""
    where, params = q.where()
    col = SORTS[q.sort]
    got = c.execute(f"SELECT {col} FROM {q.table()} WHERE {where} AND jacs_id = ?", [*params, doc_id]).fetchone()
    if got is None:
        return -1
    op = ">" if q.descending else "<"
    if col == "jacs_id":
        before = f"jacs_id {op} ?"
        extra: list[Any] = [doc_id]
    else:
        before = f"({col}, jacs_id) {op} (?, ?)"
        extra = [got[0], doc_id]
    if q.exclude_temp:  # the rows before it, less the excluded ones among them
        plain = replace(q, exclude_temp=False)
        pw, pp = plain.where()
        total: int = c.execute(f"SELECT count(*) FROM {plain.table()} WHERE {pw} AND {before}",
                               [*pp, *extra]).fetchone()[0]
        left: int = c.execute(f"SELECT count(*) FROM {plain.table()} WHERE {pw} AND {before} AND jacs_id IN "
                              f"(SELECT jacs_id FROM temp.jd_ids)", [*pp, *extra]).fetchone()[0]
        return total - left
    n: int = c.execute(f"SELECT count(*) FROM {q.table()} WHERE {where} AND {before}", [*params, *extra]).fetchone()[0]
    return n


def versions_of(c: sqlite3.Connection, archived: bool, ids: Sequence[str]) -> dict[str, list[VersionRecord]]:
    """The versions of documents *ids*, by id, in version order."""
    out: dict[str, list[VersionRecord]] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start:start + 500])
        rows = c.execute(
            f"SELECT jacs_id, jacs_version, size, created_at, title, type, date, signer, attachments FROM jd_version "
            f"WHERE jacs_id IN ({','.join('?' * len(chunk))}) AND removed = ? ORDER BY jacs_id, jacs_version",
            [*chunk, int(archived)]).fetchall()
        for r in rows:
            out.setdefault(r[0], []).append(VersionRecord(*r))
    return out


def versions_total(c: sqlite3.Connection, archived: bool) -> int:
    n = c.execute("SELECT coalesce(sum(versions), 0) FROM jd_doc WHERE removed = ?", (int(archived),)).fetchone()[0]
    return int(n)
