"""The filter's index of one- and two-character texts over ``jd_doc.search`` (summary
schema 3), for the filters shorter than a trigram (``sqlite_search`` has the rest).

- ``jd_gram``: every distinct text of one or two characters found in some row's search
  text, with how many live (``n0``) and archived (``n1``) rows contain it. A filter that
  is not there matches no row, answered at once instead of by a scan of every row.
- ``jd_gram_row``: the rows (``doc``: a ``jd_doc`` rowid) of each *rare* gram (``posted = 1``:
  at most ``jd_gram_upto.posted_max`` rows contain it, ``POSTED_MAX`` unless a test says
  otherwise), so its matches are looked up, not scanned for. A gram found in more rows is
  *common*: its postings are dropped for good (until the index is made again) and the filter
  walks the chosen order with a LIMIT instead, which finds a page soon when one row in fifty
  or more matches.
- The pseudo-gram ``''`` lists the rows whose search text has a NUL character in it (SQLite's
  ``substr`` and ``length`` stop there, ``instr`` does not): every short filter checks them.

Triggers keep both tables in step with the ``jd_doc`` rows up to ``jd_gram_upto.upto`` (plain
SQL: other programs writing the file need none of our functions); ``build`` adds the rest in
batches, grams computed in Python by the same rule. Never trusted over ``jd_doc``: every
match is checked with ``instr``, as the plain filter does.

The *tail*: the rows after ``upto`` (rows are added at the end of ``jd_doc``). A write of one
document (``catch_up(..., defer=True)``) leaves its row there instead of entering its hundred
or so grams, each on a page of its own, until ``TAIL_FOLD`` rows wait: then that write enters
them all at once. A batch (``put_many``) and ``build`` enter the tail too. While the tail has
at most ``TAIL_READ`` rows, ``match`` and ``spans`` read it row by row besides the index, so
their answers stay exact; the counts in ``jd_gram`` are exact for the rows up to ``upto``.
This is the same state a build under way leaves (schema 3 as it was): code that does not know
the tail sees an index not complete, scans, and its ``build`` enters the tail.
"""

from __future__ import annotations

import contextlib
import functools
import operator
import sqlite3
from collections import Counter, defaultdict
from typing import Any, Protocol

from . import sqlite_zones

__all__ = ["POSTED_MAX", "TAIL_FOLD", "TAIL_READ", "DDL", "grams", "ready", "tail", "build", "pause", "hold",
           "catch_up", "fold", "reset", "match", "spans"]

#: a gram in more rows than this keeps no postings (its filter walks the chosen order instead)
POSTED_MAX = 20_000
#: ``jd_gram_upto.upto`` once every row is in the index
_ALL = 2**63 - 1
#: a write of one document enters the tail's rows once there are this many (with its own)
TAIL_FOLD = 256
#: the filter reads a tail of at most this many rows itself; a longer one (a build under way): it scans
TAIL_READ = 4096


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


def grams(text: str) -> set[str]:
    """The grams of a search text, as the triggers find them: every substring of one or two
    characters up to the first NUL, and ``''`` when there is a NUL."""
    first, rest, nul = _parts(text)
    out = first | rest
    if nul:
        out.add("")
    return out


def _parts(text: str) -> tuple[set[str], frozenset[str], bool]:
    """``grams(text)`` in two parts, and whether there is a NUL: the grams up to the first
    space (the document id; with the space after it) and the grams from that space on
    (title, type, signer: often the same in many rows, worked out once)."""
    head, nul, _ = text.partition("\x00")
    first, space, rest = head.partition(" ")
    out = _plain(first)
    if space and first:
        out.add(first[-1] + " ")
    return out, _after_space(rest) if space else frozenset(), bool(nul)


def _plain(text: str) -> set[str]:
    out = set(text)
    out.update(map(operator.add, text, text[1:]))
    return out


@functools.lru_cache(maxsize=4096)
def _after_space(rest: str) -> frozenset[str]:
    return frozenset(_plain(" " + rest))


def _grams_sql(x: str) -> str:
    """The SQL rows ``g`` of ``grams(x)``, with ``f``: 1 for a gram of the part up to the
    first space (and that space), as ``_parts`` has them (a gram may come twice: f 0 and 1)."""
    q = f"coalesce(nullif(instr({x}, ' '), 0), length({x}) + 1)"
    return (f"WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < length({x})) "
            f"SELECT substr({x}, i, 1) AS g, i < {q} AS f FROM k WHERE i <= length({x}) "
            f"UNION SELECT substr({x}, i, 2), i + 1 <= {q} FROM k WHERE i < length({x}) "
            f"UNION SELECT '', 0 WHERE instr({x}, char(0)) > 0")


_UPTO = "(SELECT upto FROM jd_gram_upto)"
_MAX = "(SELECT posted_max FROM jd_gram_upto)"


_SCRATCH = "(SELECT gram FROM jd_gram_scratch)"


def _fill(r: str, cond: str) -> str:
    """Statements putting row *r*'s grams in ``jd_gram_scratch`` (worked out once per row,
    not once per statement), when *cond*."""
    return f"""
    DELETE FROM jd_gram_scratch;
    INSERT INTO jd_gram_scratch(gram, crossing, first) SELECT g, 0, max(f) FROM ({_grams_sql(f'{r}.search')})
        WHERE {cond} GROUP BY g;"""


def _add(r: str, cond: str) -> str:
    """Statements that add row *r* (``new``) to the index, when *cond*."""
    g = _SCRATCH
    crossing = "(SELECT gram FROM jd_gram_scratch WHERE crossing = 1)"
    zones = "".join(f"\n    {sql};" for sql in sqlite_zones.crossed_sql(crossing))
    return f"""{_fill(r, cond)}
    INSERT INTO jd_gram(gram, n0, n1, posted) SELECT gram, {r}.removed = 0, {r}.removed != 0, 1
        FROM jd_gram_scratch WHERE 1
        ON CONFLICT(gram) DO UPDATE SET n0 = n0 + excluded.n0, n1 = n1 + excluded.n1;
    UPDATE jd_gram_scratch SET crossing = 1 WHERE gram IN (SELECT gram FROM jd_gram WHERE posted = 1 AND gram != ''
        AND n0 + n1 > {_MAX} AND gram IN {g});{zones}
    DELETE FROM jd_gram_row WHERE gram IN {crossing};
    UPDATE jd_gram SET posted = 0 WHERE gram IN {crossing};
    INSERT OR IGNORE INTO jd_gram_row(gram, doc) SELECT gram, {r}.rowid FROM jd_gram
        WHERE posted = 1 AND gram IN {g};{sqlite_zones.add_sql(r, cond)}
    DELETE FROM jd_gram_scratch;"""


def _remove(r: str, cond: str) -> str:
    """Statements that take row *r* (``old``) out of the index, when *cond*."""
    g = _SCRATCH
    return f"""{_fill(r, cond)}
    UPDATE jd_gram SET n0 = n0 - ({r}.removed = 0), n1 = n1 - ({r}.removed != 0) WHERE gram IN {g};
    DELETE FROM jd_gram_row WHERE doc = {r}.rowid AND gram IN {g};
    DELETE FROM jd_gram WHERE n0 + n1 <= 0 AND gram IN {g};
    DELETE FROM jd_gram_scratch;"""


#: the tables and the triggers (after ``sqlite_search``'s, in the same migration step to schema 3)
DDL = (
    "CREATE TABLE IF NOT EXISTS jd_gram (gram TEXT PRIMARY KEY, n0 INTEGER NOT NULL, n1 INTEGER NOT NULL, "
    "posted INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS jd_gram_row (gram TEXT NOT NULL, doc INTEGER NOT NULL, "
    "PRIMARY KEY (gram, doc)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS jd_gram_upto (upto INTEGER NOT NULL, posted_max INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS jd_gram_scratch (gram TEXT PRIMARY KEY, crossing INTEGER NOT NULL, "
    "first INTEGER NOT NULL) WITHOUT ROWID",
    f"CREATE TRIGGER IF NOT EXISTS jd_doc_gram_ai AFTER INSERT ON jd_doc WHEN new.rowid <= {_UPTO} BEGIN"
    f"{_add('new', '1')}\nEND",
    f"CREATE TRIGGER IF NOT EXISTS jd_doc_gram_ad AFTER DELETE ON jd_doc WHEN old.rowid <= {_UPTO} BEGIN"
    f"{_remove('old', '1')}\nEND",
    "CREATE TRIGGER IF NOT EXISTS jd_doc_gram_au AFTER UPDATE ON jd_doc "
    "WHEN old.search IS NOT new.search OR old.rowid != new.rowid OR old.removed IS NOT new.removed BEGIN"
    f"{_remove('old', f'old.rowid <= {_UPTO}')}{_add('new', f'new.rowid <= {_UPTO}')}\nEND",
    *sqlite_zones.DDL,
)


def reset(c: sqlite3.Connection, posted_max: int = POSTED_MAX) -> None:
    """Empty the index, its rows left to ``build`` (none for an empty store: complete at
    once), grams in more than *posted_max* rows common; inside the caller's transaction,
    after ``DDL``."""
    c.execute("DELETE FROM jd_gram")
    c.execute("DELETE FROM jd_gram_row")
    c.execute("DELETE FROM jd_gram_upto")
    sqlite_zones.reset(c)
    c.execute("INSERT INTO jd_gram_upto(upto, posted_max) SELECT CASE WHEN EXISTS (SELECT 1 FROM jd_doc) THEN 0 "
              "ELSE ? END, ?", (_ALL, posted_max))


def ready(c: sqlite3.Connection) -> bool:
    """Every ``jd_doc`` row is in the index."""
    try:
        got = c.execute("SELECT upto FROM jd_gram_upto").fetchone()
    except sqlite3.OperationalError:  # a database of summary version 1 or 2
        return False
    return got is not None and got[0] >= _ALL


def tail(c: sqlite3.Connection) -> int | None:
    """``upto`` (every row up to it is in the index) when at most ``TAIL_READ`` rows come
    after it (``_ALL``: none); None when the tail is longer or there is no such index."""
    try:  # the last rowid with it: the rows after upto are counted only when there may be too many
        got = c.execute("SELECT upto, (SELECT max(rowid) FROM jd_doc) FROM jd_gram_upto").fetchone()
    except sqlite3.OperationalError:  # a database of summary version 1 or 2
        return None
    if got is None:
        return None
    upto: int = got[0]
    if upto < _ALL and not _fewer_after(c, upto, TAIL_READ + 1, got[1]):
        return None
    return upto


def _fewer_after(c: sqlite3.Connection, upto: int, n: int, top: int | None = None) -> bool:
    """Fewer than *n* ``jd_doc`` rows come after *upto*. The rowids after it are distinct
    integers up to the last one (*top*, read when not given), so there are at most ``top -
    upto`` of them: only when that is not below *n* are they counted (a range of rowids)."""
    if top is None:
        top = c.execute("SELECT max(rowid) FROM jd_doc").fetchone()[0]
    if top is None or top - upto < n:
        return True
    got: int = c.execute("SELECT count(*) FROM (SELECT 1 FROM jd_doc WHERE rowid > ? LIMIT ?)",
                         (upto, n)).fetchone()[0]
    return got < n


def pause(c: sqlite3.Connection) -> None:
    """Rows added from now on are left to ``build`` (``sqlite_search.pause_search_index``)."""
    with contextlib.suppress(sqlite3.OperationalError):  # no such index (summary version 1 or 2)
        c.execute("UPDATE jd_gram_upto SET upto = (SELECT coalesce(max(rowid), 0) FROM jd_doc) "
                  "WHERE upto > (SELECT coalesce(max(rowid), 0) FROM jd_doc)")


def build(c: sqlite3.Connection, cancel: CancelFlag | None = None, *, batch: int = 5000) -> int:
    """Add the rows not indexed yet, *batch* rows per transaction (by rowid: the triggers
    keep the ones done in step meanwhile). Returns how many it added."""
    if ready(c) or c.execute("SELECT 1 FROM sqlite_master WHERE name = 'jd_gram_upto'").fetchone() is None:
        return 0
    c.execute("CREATE TEMP TABLE IF NOT EXISTS jd_gram_batch (gram TEXT PRIMARY KEY, n0 INTEGER, n1 INTEGER, "
              "early INTEGER)")
    sqlite_zones.make_blocks(c)  # the sort orders cut into blocks, once there are rows enough
    early = _surely_common(c)
    done = 0
    while not (cancel is not None and cancel.is_set()):
        c.execute("BEGIN IMMEDIATE")
        try:
            got = c.execute("SELECT upto FROM jd_gram_upto").fetchone()
            if got is None or got[0] >= _ALL:
                c.execute("COMMIT")
                break
            upto = got[0]
            rows = c.execute(f"SELECT rowid, removed, search, {', '.join(sqlite_zones.COLUMNS)} FROM jd_doc "
                             f"WHERE rowid > ? ORDER BY rowid LIMIT ?", (upto, batch)).fetchall()
            last = _ALL if len(rows) < batch else rows[-1][0]
            _add_rows(c, rows, early)
            done += len(rows)
            c.execute("UPDATE jd_gram_upto SET upto = ?", (last,))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
    return done


def hold(c: sqlite3.Connection) -> int | None:
    """Inside the caller's write transaction (one of ours, many rows or one): the insert
    trigger leaves the rows added from now on to ``catch_up``, which enters them in Python
    before the caller commits (the index and the rows commit together or not at all).
    Returns the mark for ``catch_up`` (``upto``: the tail's rows are entered with them);
    None when the tail is longer than ``TAIL_READ`` (a build is under way) or there is no
    such index (an older summary schema): the triggers and ``build`` go on as before.
    Deletes and updates of the rows up to ``upto`` are still followed by the triggers."""
    upto = tail(c)
    if upto is None or upto < _ALL:
        return upto
    top: int = c.execute("SELECT coalesce(max(rowid), 0) FROM jd_doc").fetchone()[0]
    c.execute("UPDATE jd_gram_upto SET upto = ?", (top,))
    return top


def catch_up(c: sqlite3.Connection, mark: int | None, *, defer: bool = False) -> int:
    """Enter the rows added since ``hold`` returned *mark* (what the insert trigger would
    have done) and the tail's, and let the triggers cover every row again; inside the same
    transaction. *defer* (a write of one document): while fewer than ``TAIL_FOLD`` rows come
    after *mark*, they are left in the tail instead (``upto`` stays *mark*). Returns how many
    rows it entered."""
    if mark is None or (defer and _fewer_after(c, mark, TAIL_FOLD)):
        return 0
    rows = c.execute(f"SELECT rowid, removed, search, {', '.join(sqlite_zones.COLUMNS)} FROM jd_doc "
                     f"WHERE rowid > ? ORDER BY rowid", (mark,)).fetchall()
    if rows:
        c.execute("CREATE TEMP TABLE IF NOT EXISTS jd_gram_batch (gram TEXT PRIMARY KEY, n0 INTEGER, n1 INTEGER, "
                  "early INTEGER)")
        _add_rows(c, rows, set())
    c.execute("UPDATE jd_gram_upto SET upto = ?", (_ALL,))
    return len(rows)


def fold(c: sqlite3.Connection) -> int:
    """Enter the tail's rows now, in a transaction of its own (when it is at most
    ``TAIL_READ`` rows: a longer one is ``build``'s); returns how many."""
    c.execute("BEGIN IMMEDIATE")
    try:
        upto = tail(c)
        n = catch_up(c, upto) if upto is not None and upto < _ALL else 0
        c.execute("COMMIT")
    except BaseException:
        c.execute("ROLLBACK")
        raise
    return n


def _surely_common(c: sqlite3.Connection, size: int = 2000) -> set[str]:
    """The grams a sample of *size* rows spread over the table says are in more than
    ``posted_max`` rows four times over (with a store of many rows to index: empty else)."""
    todo, top = c.execute("SELECT count(*), max(rowid) FROM jd_doc WHERE rowid > "
                          "(SELECT upto FROM jd_gram_upto)").fetchone()
    most: int = c.execute("SELECT posted_max FROM jd_gram_upto").fetchone()[0]
    if todo <= 4 * most:
        return set()
    seen: Counter[str] = Counter()
    n = 0
    for k in range(size):
        got = c.execute("SELECT search FROM jd_doc WHERE rowid >= ? ORDER BY rowid LIMIT 1",
                        (1 + k * top // size,)).fetchone()
        if got is not None:
            seen.update(grams(got[0] or ""))
            n += 1
    return {g for g, m in seen.items() if g and m * todo > 4 * most * n}


def _add_rows(c: sqlite3.Connection, rows: list[tuple[Any, ...]], early: set[str]) -> None:
    """What the insert trigger does for each of *rows* (rowid, removed, search, the sort
    columns), for a batch at once. The grams in *early* (``_surely_common``) are made common
    at once (no postings written only to be dropped): a common gram with fewer rows than
    ``posted_max`` is only walked for, never wrong."""
    most: int = c.execute("SELECT posted_max FROM jd_gram_upto").fetchone()[0]
    live: Counter[str] = Counter()
    archived: Counter[str] = Counter()
    row_grams, row_parts = [], []
    for _rowid, removed, search, *_keys in rows:
        parts = _parts(search or "")
        gs = parts[0] | parts[1]
        if parts[2]:
            gs.add("")
        row_grams.append(gs)
        row_parts.append(parts)
        (live if removed == 0 else archived).update(gs)
    batch = live + archived
    c.execute("DELETE FROM temp.jd_gram_batch")
    c.executemany("INSERT INTO temp.jd_gram_batch(gram, n0, n1, early) VALUES (?, ?, ?, ?)",
                  ((g, live[g], archived[g], g in early) for g in batch))
    # the common grams among the batch's (the others do not matter to it): the same before the upsert as after
    common = {g for (g,) in c.execute(
        "SELECT g.gram FROM temp.jd_gram_batch b CROSS JOIN jd_gram g ON g.gram = b.gram WHERE g.posted = 0")}
    c.execute("INSERT INTO jd_gram(gram, n0, n1, posted) SELECT gram, n0, n1, 1 FROM temp.jd_gram_batch WHERE 1 "
              "ON CONFLICT(gram) DO UPDATE SET n0 = n0 + excluded.n0, n1 = n1 + excluded.n1")
    crossing = {g for (g,) in c.execute(
        f"SELECT g.gram FROM jd_gram g JOIN temp.jd_gram_batch b ON b.gram = g.gram WHERE g.posted = 1 "
        f"AND g.gram != '' AND (g.n0 + g.n1 > {most:d} OR b.early)")}
    if crossing:  # their rows so far: from the postings into the blocks, then the postings dropped
        c.executemany("UPDATE temp.jd_gram_batch SET early = 2 WHERE gram = ?", ((g,) for g in crossing))
        sqlite_zones.add_posted(c, "(SELECT gram FROM temp.jd_gram_batch WHERE early = 2)")
        c.execute("DELETE FROM jd_gram_row WHERE gram IN (SELECT gram FROM temp.jd_gram_batch WHERE early = 2)")
        c.execute("UPDATE jd_gram SET posted = 0 WHERE gram IN (SELECT gram FROM temp.jd_gram_batch WHERE early = 2)")
        common |= crossing
    sqlite_zones.add_rows(c, ((r[1], r[3:], *parts) for r, parts in zip(rows, row_parts, strict=True)), common)
    # in key order (gram, then rowid: *rows* come by rowid), so each page of postings is met once
    posts: defaultdict[str, list[int]] = defaultdict(list)
    for r, gs in zip(rows, row_grams, strict=True):
        rowid = r[0]
        for g in (gs - common if common else gs):
            posts[g].append(rowid)
    _post(c, posts)
    c.execute("DELETE FROM temp.jd_gram_batch")


def _post(c: sqlite3.Connection, posts: dict[str, list[int]]) -> None:
    """Insert the postings *posts* (gram -> its rowids) in key order (gram, then rowid: each
    page of postings met once)."""
    c.executemany("INSERT OR IGNORE INTO jd_gram_row(gram, doc) VALUES (?, ?)",
                  ((g, doc) for g in sorted(posts) for doc in sorted(posts[g])))


def match(c: sqlite3.Connection, archived: bool, text: str, cap: int) -> int | None:
    """Put the rowids of the live (or archived) rows whose search text contains *text* (one
    or two characters) into ``temp.jd_rows``; returns how many, or None when the index cannot
    say (a tail longer than ``TAIL_READ``, a common gram, more than *cap* matches, a NUL in
    *text*): then ``temp.jd_rows`` is left empty and the caller scans. The tail's rows are
    looked at one by one."""
    c.execute("DELETE FROM temp.jd_rows")
    if not 0 < len(text) < 3 or "\x00" in text:
        return None
    upto = tail(c)
    if upto is None:
        return None
    got = c.execute("SELECT n0, n1, posted FROM jd_gram WHERE gram = ?", (text,)).fetchone()
    if got is not None and not got[2]:
        return None
    n = 0
    if upto < _ALL:
        # "+removed": by rowid (the tail), not by an index on removed (every row of the table)
        n = c.execute("INSERT OR IGNORE INTO temp.jd_rows SELECT rowid FROM jd_doc WHERE rowid > ? AND +removed = ? "
                      "AND instr(search, ?) > 0", (upto, int(archived), text)).rowcount
    if (0 if got is None else got[1 if archived else 0]) + n > cap:
        c.execute("DELETE FROM temp.jd_rows")
        return None
    # the gram's rows (none when no row has it) and the rows with a NUL, each checked as the plain filter does
    n += c.execute(
        "INSERT OR IGNORE INTO temp.jd_rows SELECT d.rowid FROM jd_gram_row p CROSS JOIN jd_doc d "
        "ON d.rowid = p.doc WHERE p.gram IN (?, '') AND d.removed = ? AND instr(d.search, ?) > 0",
        (text, int(archived), text)).rowcount
    return n


def spans(c: sqlite3.Connection, text: str, col: str) -> list[tuple[Any, Any]] | None:
    """Where in sort *col* (a ``sqlite_zones.COLUMNS``) the rows containing *text* can be
    (``sqlite_zones.ranges``): through its common grams (its one- or two-character texts),
    and the blocks of the tail's rows containing it; None: anywhere (a tail longer than
    ``TAIL_READ``, no block cut, no common gram in *text*)."""
    if not text or "\x00" in text or col not in sqlite_zones.COLUMNS:
        return None
    upto = tail(c)
    if upto is None:
        return None
    gs = {text} if len(text) < 3 else {text[i:i + 2] for i in range(len(text) - 1)}
    posted = {g for (g,) in c.execute(
        f"SELECT gram FROM jd_gram WHERE posted = 1 AND gram IN ({','.join('?' * len(gs))})", sorted(gs))}
    common = sorted(gs - posted)  # a gram in no row has no block either: only the rows with a NUL are left
    if not common:
        return None
    extra: list[tuple[Any, ...]] = []
    if upto < _ALL:
        extra = c.execute(f"SELECT removed, {col}, jacs_id FROM jd_doc WHERE rowid > ? AND instr(search, ?) > 0",
                          (upto, text)).fetchall()
    return sqlite_zones.ranges(c, col, common, extra)
