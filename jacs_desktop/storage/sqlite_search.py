"""The filter's search index over the SQLite backend's document summaries (``jd_doc``).

``jd_doc_fts`` is an FTS5 index of trigrams over ``jd_doc.search`` (SQLite 3.34 or
later), external content (the text is not stored twice): a filter of three characters
or more is an index lookup, not a scan of every row. A filter of one or two characters
goes to ``sqlite_grams`` (summary schema 3): the distinct one- and two-character texts
with their row counts, and the rows of the rare ones.

The index covers the ``jd_doc`` rows up to the rowid in ``jd_fts_upto`` (``jd_gram_upto``
for the short texts): triggers keep those in step with every write, and
``build_search_index`` adds the rest in batches (an existing database, or the rows a big
``sync`` added), so it can be built while the window is open and an interrupted build
carries on next time. It is never trusted over ``jd_doc``: a match is checked with
``instr`` as the plain filter does. The summary schema's version is ``jd_meta``'s
``summary_version`` (``migrate``).
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Protocol

from . import sqlite_grams

__all__ = ["SUMMARY_VERSION", "INDEXED_ALL", "migrate", "search_index_ready", "build_search_index", "fts_phrase",
           "pause_search_index", "match_rows"]


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


#: the summary tables' schema (``jd_meta`` ``summary_version``): 1 without the search index, 2 with the
#: trigram index, 3 with the index of one- and two-character texts too (``sqlite_grams``)
SUMMARY_VERSION = 3
#: ``jd_fts_upto.upto`` once every row is in the search index (rows added later are indexed by the triggers)
INDEXED_ALL = 2**63 - 1

#: the search index and what keeps it in step: the triggers index the rows up to ``jd_fts_upto.upto``
#: (``case_sensitive 1``: ``search`` is lower-case already, so the index matches exactly what ``instr`` does)
_FTS_DDL = (
    "CREATE TABLE IF NOT EXISTS jd_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS jd_fts_upto (upto INTEGER NOT NULL)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS jd_doc_fts USING fts5(search, content='jd_doc', content_rowid='rowid', "
    "tokenize='trigram case_sensitive 1')",
    """CREATE TRIGGER IF NOT EXISTS jd_doc_fts_ai AFTER INSERT ON jd_doc
WHEN new.rowid <= (SELECT upto FROM jd_fts_upto) BEGIN
    INSERT INTO jd_doc_fts(rowid, search) VALUES (new.rowid, new.search);
END""",
    """CREATE TRIGGER IF NOT EXISTS jd_doc_fts_ad AFTER DELETE ON jd_doc
WHEN old.rowid <= (SELECT upto FROM jd_fts_upto) BEGIN
    INSERT INTO jd_doc_fts(jd_doc_fts, rowid, search) VALUES ('delete', old.rowid, old.search);
END""",
    """CREATE TRIGGER IF NOT EXISTS jd_doc_fts_au AFTER UPDATE ON jd_doc
WHEN old.search IS NOT new.search OR old.rowid != new.rowid BEGIN
    INSERT INTO jd_doc_fts(jd_doc_fts, rowid, search) SELECT 'delete', old.rowid, old.search
        WHERE old.rowid <= (SELECT upto FROM jd_fts_upto);
    INSERT INTO jd_doc_fts(rowid, search) SELECT new.rowid, new.search
        WHERE new.rowid <= (SELECT upto FROM jd_fts_upto);
END""",
)

def migrate(c: sqlite3.Connection) -> int:
    """Bring the summary schema of an existing database to ``SUMMARY_VERSION`` (outside a
    transaction), one step per transaction; returns the version it has now. 1 → 2: the
    trigram index; 2 → 3: the index of short texts (``sqlite_grams``); each empty, its rows
    left to ``build_search_index`` (none for an empty store: complete at once). An SQLite
    that cannot make a step stays where it is (without FTS5's trigram tokenizer at 1: the
    filter scans, as before)."""
    def version() -> int:
        got = c.execute("SELECT value FROM jd_meta WHERE name = 'summary_version'").fetchone()
        return int(got[0]) if got is not None and str(got[0]).isdigit() else 1

    c.execute(_FTS_DDL[0])
    for step in (2, 3):
        if version() >= step:
            continue
        try:
            c.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # read-only, or busy: left as it is (the filter scans)
            break
        try:
            if version() < step:  # not done by another program in between
                if step == 2:
                    for ddl in _FTS_DDL[1:]:
                        c.execute(ddl)
                    c.execute("INSERT INTO jd_doc_fts(jd_doc_fts) VALUES ('delete-all')")
                    c.execute("DELETE FROM jd_fts_upto")
                    c.execute("INSERT INTO jd_fts_upto(upto) SELECT CASE WHEN EXISTS (SELECT 1 FROM jd_doc) THEN 0 "
                              "ELSE ? END", (INDEXED_ALL,))
                else:
                    for ddl in sqlite_grams.DDL:
                        c.execute(ddl)
                    sqlite_grams.reset(c)
                c.execute("INSERT OR REPLACE INTO jd_meta(name, value) VALUES ('summary_version', ?)", (str(step),))
            c.execute("COMMIT")
        except sqlite3.OperationalError:  # no FTS5, no trigram tokenizer (SQLite < 3.34), ...
            c.execute("ROLLBACK")
            break
    return version()


def search_index_ready(c: sqlite3.Connection) -> bool:
    """Every ``jd_doc`` row is in the trigram index (``sqlite_grams.ready``: in the index of
    short texts)."""
    try:
        got = c.execute("SELECT upto FROM jd_fts_upto").fetchone()
    except sqlite3.OperationalError:  # a database of summary version 1
        return False
    return got is not None and got[0] >= INDEXED_ALL


def build_search_index(c: sqlite3.Connection, cancel: CancelFlag | None = None, *, batch: int = 20_000,
                       gram_batch: int = 5000) -> int:
    """Add the rows not indexed yet to the search index, *batch* rows per transaction (by
    rowid: the triggers keep the ones done in step meanwhile), then to the index of short
    texts (*gram_batch* rows per transaction). Returns how many rows it added to either."""
    if search_index_ready(c) or c.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'jd_fts_upto'").fetchone() is None:
        # complete (nothing written), or no index (summary version 1)
        return sqlite_grams.build(c, cancel, batch=gram_batch)
    done = 0
    while not (cancel is not None and cancel.is_set()):
        c.execute("BEGIN IMMEDIATE")
        try:
            got = c.execute("SELECT upto FROM jd_fts_upto").fetchone()
            if got is None or got[0] >= INDEXED_ALL:
                c.execute("COMMIT")
                break
            upto = got[0]
            end = c.execute("SELECT rowid FROM jd_doc WHERE rowid > ? ORDER BY rowid LIMIT 1 OFFSET ?",
                            (upto, batch - 1)).fetchone()
            last = INDEXED_ALL if end is None else end[0]
            done += c.execute("INSERT INTO jd_doc_fts(rowid, search) SELECT rowid, search FROM jd_doc "
                              "WHERE rowid > ? AND rowid <= ?", (upto, last)).rowcount
            c.execute("UPDATE jd_fts_upto SET upto = ?", (last,))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
    return done + sqlite_grams.build(c, cancel, batch=gram_batch)


def pause_search_index(c: sqlite3.Connection) -> None:
    """Rows added from now on are left to ``build_search_index`` (batches, after a big sync),
    not indexed one by one by the triggers."""
    with contextlib.suppress(sqlite3.OperationalError):  # no search index (summary version 1)
        c.execute("UPDATE jd_fts_upto SET upto = (SELECT coalesce(max(rowid), 0) FROM jd_doc) "
                  "WHERE upto > (SELECT coalesce(max(rowid), 0) FROM jd_doc)")
    sqlite_grams.pause(c)


def fts_phrase(text: str) -> str:
    """*text* as one FTS5 phrase (every character literal)."""
    return '"' + text.replace('"', '""') + '"'


def match_rows(c: sqlite3.Connection, archived: bool, text: str, cap: int) -> int | None:
    """Put the rowids of the live (or archived) ``jd_doc`` rows whose search text contains
    *text* into ``temp.jd_rows``, through the search index (one or two characters:
    ``sqlite_grams.match``); returns how many, or None when the index holds more than *cap*
    matches (live and archived) or cannot say (then ``temp.jd_rows`` is left empty: scan).
    The index finds them; ``instr`` says yes, as the plain filter does."""
    if len(text) < 3:
        return sqlite_grams.match(c, archived, text, cap)
    c.execute("DELETE FROM temp.jd_rows")
    phrase = fts_phrase(text)
    # counted in the index alone first (live and archived): a common text is not looked up row by row
    hits: int = c.execute("SELECT count(*) FROM (SELECT rowid FROM jd_doc_fts WHERE jd_doc_fts MATCH ? LIMIT ?)",
                          (phrase, cap + 1)).fetchone()[0]
    if hits > cap:
        return None
    # CROSS JOIN: the index first, then each match's row by rowid (the planner would rather
    # walk jd_doc by an index of its own and probe the search index for every row)
    n: int = c.execute(
        "INSERT INTO temp.jd_rows SELECT d.rowid FROM jd_doc_fts f CROSS JOIN jd_doc d ON d.rowid = f.rowid "
        "WHERE jd_doc_fts MATCH ? AND d.removed = ? AND instr(d.search, ?) > 0", (phrase, int(archived), text)).rowcount
    return n + _nul_rows(c, archived, text)


def _nul_rows(c: sqlite3.Connection, archived: bool, text: str) -> int:
    """Add the rows whose search text has a NUL in it and contains *text* to ``temp.jd_rows``
    (FTS5 reads a text up to a NUL): the ones ``sqlite_grams`` lists (``''``), and the rows
    it does not cover yet looked at one by one (all of them without that index: summary
    schema 2). Returns how many it added."""
    try:
        upto: int = c.execute("SELECT upto FROM jd_gram_upto").fetchone()[0]
    except (sqlite3.OperationalError, TypeError):  # no index of short texts (summary version 2)
        upto = 0
    n = 0
    if upto > 0:
        n += c.execute(
            "INSERT OR IGNORE INTO temp.jd_rows SELECT d.rowid FROM jd_gram_row p CROSS JOIN jd_doc d "
            "ON d.rowid = p.doc WHERE p.gram = '' AND d.removed = ? AND instr(d.search, ?) > 0",
            (int(archived), text)).rowcount
    if upto < INDEXED_ALL:  # "+removed": by rowid, not by an index on removed
        n += c.execute(
            "INSERT OR IGNORE INTO temp.jd_rows SELECT rowid FROM jd_doc WHERE rowid > ? AND +removed = ? "
            "AND instr(search, char(0)) > 0 AND instr(search, ?) > 0", (upto, int(archived), text)).rowcount
    return n
