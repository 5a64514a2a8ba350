"""Where in each sort order a common gram can be found (summary schema 3, with ``sqlite_grams``).

A filter matching many rows is not looked up but found by walking the chosen order
(its sort index) until a page is full. When its matches sit together late in that
order (every agreement titled alike, sorted by title descending), that walk reads
most of the table. So each sort order is cut into blocks by key at the first build
(``jd_zone_block``: block *i* holds the rows from its (removed, key, id) up to the next
block's; block -1 the ones before block 0), and ``jd_zone`` says which blocks have a
row containing each *common* gram (``jd_gram.posted = 0``), except the grams of
document ids, random and so found in every block: ``jd_zone_all`` lists those (and any
gram found in an id), never skipped for. The walk then skips the blocks that cannot
match (``ranges``, ``walk``).

``jd_zone`` may say more than is true (nothing is taken out when a row goes: a block
is only walked for nothing), never less: the rows of a gram turning common are
entered from its postings before they are dropped, every new row for its common grams,
and a row with a NUL in its text (its grams after the NUL are unknown) marks its
blocks with ``''``: always walked.
"""

from __future__ import annotations

import bisect
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["COLUMNS", "DDL", "reset", "make_blocks", "add_sql", "crossed_sql", "add_rows", "add_posted", "ranges",
           "walk"]

#: the sort columns of ``jd_doc`` (``sqlite_pages.SORTS``), each with an index (removed, column, jacs_id)
COLUMNS = ("jacs_id", "title_key", "type_key", "date_key", "versions", "signer_key", "attachments")
#: blocks per sort order at most (a walk skips a block of about a store's 1/256th)
BLOCKS = 256
#: rows per block at least
MIN_ROWS = 1024

DDL = (
    "CREATE TABLE IF NOT EXISTS jd_zone_block (sort TEXT NOT NULL, block INTEGER NOT NULL, "
    "removed INTEGER NOT NULL, k, id TEXT NOT NULL, PRIMARY KEY (sort, block)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS jd_zone_block_at ON jd_zone_block(sort, removed, k, id)",
    "CREATE TABLE IF NOT EXISTS jd_zone (sort TEXT NOT NULL, gram TEXT NOT NULL, block INTEGER NOT NULL, "
    "PRIMARY KEY (sort, gram, block)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS jd_zone_all (gram TEXT PRIMARY KEY) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS jd_zone_scratch (sort TEXT NOT NULL, block INTEGER NOT NULL)",
)


def reset(c: sqlite3.Connection) -> None:
    c.execute("DELETE FROM jd_zone_all")
    c.execute("DELETE FROM jd_zone")
    c.execute("DELETE FROM jd_zone_block")


def _key(col: str, r: str) -> str:
    """Row *r*'s position in sort *col*, as SQL values (removed, key, id)."""
    return f"{r}.removed, {r}.{col}, {r}.jacs_id"


def _block_sql(col: str, r: str) -> str:
    """The block of row *r* in sort *col* (SQL, a scalar)."""
    return (f"coalesce((SELECT b.block FROM jd_zone_block b WHERE b.sort = '{col}' AND (b.removed, b.k, b.id) <= "
            f"({_key(col, r)}) ORDER BY b.removed DESC, b.k DESC, b.id DESC LIMIT 1), -1)")


def add_sql(r: str, cond: str) -> str:
    """Statements entering row *r*'s blocks for its common grams (in ``jd_gram_scratch``;
    ``''`` for a NUL in its text), when *cond*: the grams of its id (``first``) go in
    ``jd_zone_all`` instead, and the ones there already are not entered again."""
    blocks = " UNION ALL ".join(f"SELECT '{col}', {_block_sql(col, r)}" for col in COLUMNS)
    return f"""
    INSERT OR IGNORE INTO jd_zone_all(gram) SELECT gram FROM jd_gram_scratch WHERE first = 1;
    DELETE FROM jd_zone_scratch;
    INSERT INTO jd_zone_scratch(sort, block) SELECT * FROM ({blocks}) WHERE {cond};
    INSERT OR IGNORE INTO jd_zone(sort, gram, block) SELECT z.sort, g.gram, z.block FROM jd_zone_scratch z,
        (SELECT gram FROM jd_gram WHERE posted = 0 AND gram IN (SELECT gram FROM jd_gram_scratch WHERE first = 0)
         AND gram NOT IN (SELECT gram FROM jd_zone_all)
         UNION SELECT '' WHERE instr({r}.search, char(0)) > 0) g;
    DELETE FROM jd_zone_scratch;"""


def crossed_sql(crossing: str) -> list[str]:
    """Statements entering the blocks of the posted rows of the grams in the SQL list
    *crossing* (turning common: their postings are dropped next)."""
    return [f"INSERT OR IGNORE INTO jd_zone(sort, gram, block) SELECT '{col}', p.gram, {_block_sql(col, 'd')} "
            f"FROM jd_gram_row p JOIN jd_doc d ON d.rowid = p.doc WHERE p.gram IN {crossing}" for col in COLUMNS]


def make_blocks(c: sqlite3.Connection) -> bool:
    """Cut each sort order into blocks by the rows there are now, when it is not cut yet and
    the store is big enough to gain from it (each order's index read first, then written in
    a transaction of its own). The grams already entered (all in block -1 until now) are
    entered in every block: true still, and the rows added from now on are placed exactly."""
    if c.execute("SELECT 1 FROM jd_zone_block LIMIT 1").fetchone() is not None:
        return False
    n = c.execute("SELECT count(*) FROM jd_doc").fetchone()[0]
    if n < 2 * MIN_ROWS:
        return False
    step = max(MIN_ROWS, -(-n // BLOCKS))
    out: list[tuple[str, int, int, Any, str]] = []
    for col in COLUMNS:
        cur = c.execute(f"SELECT removed, {col}, jacs_id FROM jd_doc ORDER BY removed, {col}, jacs_id")
        for i, row in enumerate(cur):
            if i % step == 0:
                out.append((col, i // step, row[0], row[1], row[2]))
    c.execute("BEGIN IMMEDIATE")
    try:
        if c.execute("SELECT 1 FROM jd_zone_block LIMIT 1").fetchone() is None:  # not by another program meanwhile
            c.executemany("INSERT INTO jd_zone_block(sort, block, removed, k, id) VALUES (?, ?, ?, ?, ?)", out)
            c.execute("INSERT OR IGNORE INTO jd_zone(sort, gram, block) SELECT z.sort, z.gram, b.block FROM jd_zone z "
                      "JOIN jd_zone_block b ON b.sort = z.sort WHERE z.block = -1")
        c.execute("COMMIT")
    except BaseException:
        c.execute("ROLLBACK")
        raise
    return True


def _bounds(c: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {col: [] for col in COLUMNS}
    for col, removed, k, jid in c.execute("SELECT sort, removed, k, id FROM jd_zone_block ORDER BY sort, block"):
        out[col].append((removed, k, jid))
    return out


def _blocks(bounds: dict[str, list[tuple[Any, ...]]], removed: int, keys: Sequence[Any]) -> list[tuple[str, int]]:
    """(sort, block) of a row in each sort order (*keys*: its ``COLUMNS``)."""
    jid = keys[0]
    return [(col, bisect.bisect_right(bounds[col], (removed, k, jid)) - 1)
            for col, k in zip(COLUMNS, keys, strict=True)]


def _insert(c: sqlite3.Connection, zones: dict[tuple[str, int], set[str]]) -> None:
    c.executemany("INSERT OR IGNORE INTO jd_zone(sort, gram, block) VALUES (?, ?, ?)",
                  ((col, g, b) for (col, b), gs in sorted(zones.items()) for g in sorted(gs)))


def add_rows(c: sqlite3.Connection, rows: Iterable[tuple[int, Sequence[Any], set[str], frozenset[str], bool]],
             common: set[str]) -> None:
    """What ``add_sql`` does, for a batch: *rows* are (removed, the sort ``COLUMNS``, the
    grams of its id, the grams of the rest of its text, a NUL in it). The grams of ids
    (random: found everywhere) go in ``jd_zone_all`` (any block may hold them) instead of
    every block; the rest, for the *common* ones, in the row's blocks."""
    bounds: dict[str, list[tuple[Any, ...]]] | None = None  # read when a row needs them (few: one-row writes)
    zones: dict[tuple[str, int], set[str]] = {}
    seen: dict[tuple[str, int], set[int]] = {}
    anywhere: set[str] = set()
    kept: dict[frozenset[str], frozenset[str]] = {}  # the common part of each distinct rest (alive: ids stay)
    for removed, keys, first, rest, nul in rows:
        anywhere |= first
        mine = kept.get(rest)
        if mine is None:
            mine = kept[rest] = rest & common
        if not (mine or nul):
            continue
        if bounds is None:
            bounds = _bounds(c)
        for key in _blocks(bounds, removed, keys):
            if nul:
                zones.setdefault(key, set()).update(mine | {""})
                continue
            done = seen.setdefault(key, set())
            if id(mine) not in done:
                done.add(id(mine))
                zones.setdefault(key, set()).update(mine)
    c.executemany("INSERT OR IGNORE INTO jd_zone_all(gram) VALUES (?)", ((g,) for g in sorted(anywhere)))
    if zones:
        _insert(c, zones)


def add_posted(c: sqlite3.Connection, crossing: str) -> None:
    """What ``crossed_sql`` does, for a batch (each posted row's blocks found once)."""
    bounds = _bounds(c)
    zones: dict[tuple[str, int], set[str]] = {}
    found: dict[int, list[tuple[str, int]]] = {}
    for gram, doc, removed, *keys in c.execute(
            f"SELECT p.gram, p.doc, d.removed, {', '.join('d.' + col for col in COLUMNS)} FROM jd_gram_row p "
            f"JOIN jd_doc d ON d.rowid = p.doc WHERE p.gram IN {crossing}"):
        blocks = found.get(doc)
        if blocks is None:
            blocks = found[doc] = _blocks(bounds, removed, keys)
        for key in blocks:
            zones.setdefault(key, set()).add(gram)
    _insert(c, zones)


Bound = tuple[Any, ...] | None


def ranges(c: sqlite3.Connection, col: str, common: Sequence[str],
           extra: Iterable[Sequence[Any]] = ()) -> list[tuple[Bound, Bound]] | None:
    """The (from, before) positions (removed, key, id) of sort *col* a row containing all
    of the grams *common* (common ones, or in no row) can be in, as runs of blocks, with the
    blocks of the rows at the positions *extra* (rows not in ``jd_zone`` yet); None:
    anywhere (no block cut, or no gram given)."""
    bounds = [tuple(r) for r in c.execute(
        "SELECT removed, k, id FROM jd_zone_block WHERE sort = ? ORDER BY block", (col,))]
    anywhere = {g for (g,) in c.execute(
        f"SELECT gram FROM jd_zone_all WHERE gram IN ({','.join('?' * len(common))})", list(common))}
    common = [g for g in common if g not in anywhere]
    if not bounds or not common:
        return None
    blocks: set[int] | None = None
    for g in common:
        got = {b for (b,) in c.execute("SELECT block FROM jd_zone WHERE sort = ? AND gram = ?", (col, g))}
        blocks = got if blocks is None else blocks & got
    assert blocks is not None
    blocks |= {b for (b,) in c.execute("SELECT block FROM jd_zone WHERE sort = ? AND gram = ''", (col,))}
    blocks |= {bisect.bisect_right(bounds, tuple(p)) - 1 for p in extra}
    out: list[tuple[Bound, Bound]] = []
    for b in sorted(blocks):
        lo = bounds[b] if b >= 0 else None
        hi = bounds[b + 1] if b + 1 < len(bounds) else None
        if out and out[-1][1] == lo:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def walk(col: str, descending: bool, removed: int,
         spans: Sequence[tuple[Bound, Bound]]) -> list[tuple[str, list[Any]]]:
    """SQL conditions (with their parameters) on the rows of table *removed*, one per run of
    blocks that reaches into it, in the order a walk of sort *col* (descending or not)
    meets them."""
    pos, marks = ("jacs_id", "?") if col == "jacs_id" else (f"({col}, jacs_id)", "(?, ?)")

    def vals(b: tuple[Any, ...]) -> list[Any]:
        return [b[2]] if col == "jacs_id" else [b[1], b[2]]

    out: list[tuple[str, list[Any]]] = []
    for lo, hi in spans:
        if (lo is not None and lo[0] > removed) or (hi is not None and hi[0] < removed):
            continue  # all of it in the other table
        parts, params = [], []
        if lo is not None and lo[0] == removed:
            parts.append(f"{pos} >= {marks}")
            params += vals(lo)
        if hi is not None and hi[0] == removed:
            parts.append(f"{pos} < {marks}")
            params += vals(hi)
        out.append((" AND ".join(parts) or "1", params))
    return out[::-1] if descending else out
