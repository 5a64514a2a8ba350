"""What a single document put costs the SQLite store (storage/sqlite, sqlite_grams, sqlite_pages;
issue 14): the statements it runs. A put into a store whose short-text index has a tail does
not count the tail's rows (the last rowid bounds how many there can be: they are counted only
when there may be enough to enter or too many to read), and a put's document summary is
remade by the document's key, not through the table of ids a batch uses. The decisions stay
exact where the tail has gaps (rows taken out of it), and the summary of one document is what
the batch's refresh makes."""

import random
import re

from jacs_desktop.storage import sqlite_grams
from jacs_desktop.storage import sqlite_pages as sp
from jacs_desktop.storage.sqlite import SqliteStore

from .test_search_index import _put, check_gram_tables, check_short
from .test_short_filter_index import _small
from .test_sqlite_bulk_writes import _body
from .test_sqlite_gram_tail import _check_filters, _tail_rows, _texts, _upto

ALL = 2**63 - 1
COUNT_TAIL = re.compile(r"SELECT count\(\*\) FROM \(SELECT 1 FROM jd_doc WHERE rowid >")


def _traced(c, fn):
    seen: list[str] = []
    c.set_trace_callback(seen.append)
    try:
        fn()
    finally:
        c.set_trace_callback(None)
    return seen


def test_a_single_put_counts_no_tail_and_uses_no_table_of_ids(tmp_path):
    rnd = random.Random(141)
    objects = SqliteStore(tmp_path / "s.sqlite3")
    try:
        c = objects._conn()
        objects.put_many([_body(rnd) for _ in range(30)])
        for _ in range(5):
            _put(objects, rnd)
        assert 0 < _tail_rows(c) < sqlite_grams.TAIL_FOLD
        jid = _put(objects, rnd)
        for step in (lambda: _put(objects, rnd), lambda: _put(objects, rnd, jid)):  # a new document, a new version
            seen = _traced(c, step)
            assert not [q for q in seen if COUNT_TAIL.search(q)], seen
            assert not [q for q in seen if "jd_ids" in q], seen
        assert _upto(c) < ALL and _tail_rows(c) == 7  # the new version's row made again: still in the tail
        assert _check_filters(c, rnd) > 20
    finally:
        objects.close()


def test_the_tail_is_entered_and_read_by_its_rows_not_by_its_rowids(tmp_path, monkeypatch):
    """New versions of the tail's documents take their rows out of it (gaps in the rowids):
    the tail is entered when TAIL_FOLD rows wait, not when the rowids span that many; and it
    is read row by row while it has at most TAIL_READ rows, whatever its rowids span."""
    monkeypatch.setattr(sqlite_grams, "TAIL_FOLD", 8)
    monkeypatch.setattr(sqlite_grams, "TAIL_READ", 10)
    rnd = random.Random(142)
    objects = SqliteStore(tmp_path / "s.sqlite3")
    try:
        c = _small(objects, 12)
        objects.put_many([_body(rnd, title=rnd.choice(["memo ✓", "plan ĳ", "agreement"])) for _ in range(40)])
        assert sqlite_grams.ready(c)
        pair = [_put(objects, rnd), _put(objects, rnd)]
        for i in range(12):  # new versions of the two in turn: each takes the other's row out of the middle
            _put(objects, rnd, pair[i % 2])
        top = c.execute("SELECT max(rowid) FROM jd_doc").fetchone()[0]
        assert _tail_rows(c) == 2 and top - _upto(c) >= 14
        ids = [_put(objects, rnd) for _ in range(5)]
        assert _upto(c) < ALL and _tail_rows(c) == 7  # not entered: 7 rows wait
        assert c.execute("SELECT max(rowid) FROM jd_doc").fetchone()[0] - _upto(c) > 10
        assert sqlite_grams.tail(c) == _upto(c)  # read row by row: 7 rows, whatever the span
        assert _check_filters(c, rnd) > 20
        _put(objects, rnd, ids[0])  # a new version: still 7 rows
        assert _upto(c) < ALL and _tail_rows(c) == 7
        _put(objects, rnd)  # the eighth row: all of them entered
        assert _upto(c) == ALL
        check_gram_tables(c, _texts(c), 12)
        check_short(c, rnd, 30)
        # a tail longer than TAIL_READ (another program, or a build under way): not read, the filter scans
        monkeypatch.setattr(sqlite_grams, "TAIL_FOLD", 10**6)
        for _ in range(11):
            _put(objects, rnd)
        assert _tail_rows(c) == 11 and sqlite_grams.tail(c) is None
        assert sp.match_rows(c, False, "m", cap=10**6) is None
    finally:
        objects.close()


def _docs(c):
    return (sorted(c.execute("SELECT * FROM jd_doc")), sorted(c.execute("SELECT * FROM jd_count")))


def test_one_document_summary_is_what_the_batch_refresh_makes(tmp_path):
    rnd = random.Random(143)
    objects = SqliteStore(tmp_path / "s.sqlite3")
    try:
        c = objects._conn()
        ids = [_put(objects, rnd, archived=rnd.random() < 0.2) for _ in range(30)]
        for _ in range(60):  # new versions, archived and restored ones, deletes: each a one-document refresh
            jid = rnd.choice(ids)
            op = rnd.random()
            keys = [i.key for i in objects.list("documents/") if f"/{jid}:" in i.key]
            if op < 0.4 or not keys:
                _put(objects, rnd, jid, archived=rnd.random() < 0.3)
            elif op < 0.7:
                key = rnd.choice(keys)
                dst = key.replace("archive/", "") if "/archive/" in key else key.replace("documents/", "documents/archive/")
                objects.move(key, dst)
            else:
                objects.delete(rnd.choice(keys))
        single = _docs(c)
        counted = dict(c.execute("SELECT removed, count(*) FROM jd_doc GROUP BY removed"))
        assert dict(single[1]) == {0: counted.get(0, 0), 1: counted.get(1, 0)}
        c.execute("BEGIN IMMEDIATE")
        sp.refresh_docs(c, [r[0] for r in c.execute("SELECT DISTINCT jacs_id FROM jd_version")])  # the batch's way
        batch = _docs(c)
        c.execute("ROLLBACK")
        assert single == batch
        assert len(single[0]) >= 20
    finally:
        objects.close()
