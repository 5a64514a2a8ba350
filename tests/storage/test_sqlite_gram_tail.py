"""The tail of the short-text index (storage/sqlite_grams, issue 14): a write of one document
leaves its row after ``jd_gram_upto.upto`` instead of entering its grams (one page of postings
each), until ``TAIL_FOLD`` rows wait; meanwhile the filter (``match``, ``spans``) reads the
tail row by row, so it gives exactly the plain filter's rows and never skips a block holding
one. Rows another program writes into the tail are found too; a process killed while it
enters the tail leaves rows and index as they were; the code before the tail (the same
schema 3) reads such a store by scanning and its build enters the tail."""

import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from jacs_desktop.storage import sqlite_grams, sqlite_zones
from jacs_desktop.storage import sqlite_pages as sp
from jacs_desktop.storage.sqlite import SqliteStore

from .test_search_index import _put, _texts, check_gram_tables, check_short, short_needles
from .test_short_filter_index import _small, check_zones
from .test_sqlite_bulk_writes import _body, _state

ALL = 2**63 - 1
#: the last commit before the tail: a schema-3 store as that code writes and reads it
BEFORE_TAIL = "1aabf59"


def _upto(c):
    return c.execute("SELECT upto FROM jd_gram_upto").fetchone()[0]


def _tail_rows(c):
    return c.execute("SELECT count(*) FROM jd_doc WHERE rowid > ?", (_upto(c),)).fetchone()[0]


def _check_filters(c, rnd, n=40):
    """``match`` as the plain filter, tail and all (without entering it), and ``spans`` of
    every sort order covering every row that holds the text."""
    texts = _texts(c)
    checked = 0
    for low in short_needles(rnd, texts, n):
        for archived in (0, 1):
            want = {rowid for rowid, (a, t) in texts.items() if a == archived and low in t}
            got = sp.match_rows(c, bool(archived), low, cap=10**6)
            if got is not None:
                assert (got, {r[0] for r in c.execute("SELECT rowid FROM temp.jd_rows")}) == (len(want), want), low
                checked += 1
        for col in sqlite_zones.COLUMNS:
            spans = sp.spans(c, low, col)
            if spans is None:
                continue
            for removed, key, jid in c.execute(f"SELECT removed, {col}, jacs_id FROM jd_doc WHERE instr(search, ?) > 0",
                                               (low,)):
                pos = (removed, key, jid)
                assert any((lo is None or tuple(lo) <= pos) and (hi is None or pos < tuple(hi))
                           for lo, hi in spans), (low, col, pos)
                checked += 1
    return checked


def test_single_writes_wait_in_the_tail_the_filter_reads_it_and_the_tail_is_entered_at_tail_fold(
        tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_zones, "MIN_ROWS", 16)
    monkeypatch.setattr(sqlite_grams, "TAIL_FOLD", 12)
    rnd = random.Random(61)
    objects = SqliteStore(tmp_path / "s.sqlite3")
    try:
        c = _small(objects, 15)
        objects.put_many([_body(rnd, title=rnd.choice(["agreement ✓", "memo", "plan ĳ"])) for _ in range(80)])
        sqlite_zones.make_blocks(c)  # the sort orders cut into blocks of 16 rows
        assert sqlite_grams.ready(c) and c.execute("SELECT count(*) FROM jd_zone_block").fetchone()[0] > 7 * 3
        assert c.execute("SELECT count(*) FROM jd_gram WHERE posted = 0").fetchone()[0] > 10
        before = _state(c)
        ids = [_put(objects, rnd) for _ in range(5)]
        objects.put(*_body(rnd, title="zz agreement ꙭ"))  # a common gram ("ag") in a row of the tail
        assert _upto(c) < ALL and _tail_rows(c) == 6
        # the index's tables untouched by the tail's rows (only upto moved)
        assert [t for i, t in enumerate(_state(c)) if i not in (4, 5, 6, 7, 8)] == \
               [t for i, t in enumerate(before) if i not in (4, 5, 6, 7, 8)]
        assert sp.match_rows(c, False, "ꙭ", cap=100) == 1  # in the tail alone
        assert sp.match_rows(c, False, "ꙭ", cap=0) is None  # the tail counts against the cap too
        assert _check_filters(c, rnd) > 100
        # a new version of a row in the tail, one of a row in the index, a delete and an archive
        _put(objects, rnd, ids[0])
        indexed = c.execute("SELECT jacs_id FROM jd_doc WHERE rowid <= ? LIMIT 1", (_upto(c),)).fetchone()[0]
        _put(objects, rnd, indexed)
        key = next(i.key for i in objects.list(f"documents/{ids[1]}:"))
        objects.move(key, key.replace("documents/", "documents/archive/"))
        for info in list(objects.list(f"documents/{ids[2]}:")):
            objects.delete(info.key)
        assert _upto(c) < ALL
        assert _check_filters(c, rnd) > 100
        while _upto(c) < ALL:  # the write that makes TAIL_FOLD rows enters them all
            assert _tail_rows(c) < 12
            _put(objects, rnd)
        check_gram_tables(c, _texts(c), 15)
        check_zones(c)
        check_short(c, rnd, 40)
    finally:
        objects.close()


def test_rows_another_program_writes_into_the_tail_are_found(tmp_path):
    rnd = random.Random(62)
    objects = SqliteStore(tmp_path / "s.sqlite3")
    try:
        c = _small(objects, 10)
        objects.put_many([_body(rnd) for _ in range(30)])
        _put(objects, rnd)
        assert _tail_rows(c) == 1
        victim = c.execute("SELECT rowid FROM jd_doc WHERE rowid <= ? LIMIT 1", (_upto(c),)).fetchone()[0]
        raw = sqlite3.connect(objects.path, isolation_level=None)  # plain SQL: none of our functions
        raw.execute("INSERT INTO jd_doc(removed, jacs_id, versions, latest, title_key, type_key, date_key, "
                    "signer_key, attachments, search) VALUES (0, 'raw', 1, 'v', '', '', '', '', 0, 'raw ĳq')")
        raw.execute("DELETE FROM jd_doc WHERE rowid = ?", (victim,))  # in the index: the trigger takes it out
        raw.close()
        assert sp.match_rows(c, False, "ĳq", cap=100) == 1
        assert _check_filters(c, rnd) > 50
        objects.put_many([_body(rnd)])  # a batch enters the tail with its own rows
        assert _upto(c) == ALL
        check_short(c, rnd, 40)
    finally:
        objects.close()


_KILLED = """
import json, os, sys
from jacs_desktop.storage import sqlite_grams
from jacs_desktop.storage.sqlite import SqliteStore
sqlite_grams.TAIL_FOLD = 4
real = sqlite_grams._add_rows
def killed(c, rows, early):
    real(c, rows, early)
    os._exit(9)  # the process dies with the tail entered, not committed
sqlite_grams._add_rows = killed
s = SqliteStore(sys.argv[1])
for i in range(4):
    s.put(f"documents/k{i}:v1.json", json.dumps({"jacsId": f"k{i}", "title": f"killed {i} é"}).encode())
"""


def test_a_process_killed_while_it_enters_the_tail_leaves_rows_and_index_as_they_were(tmp_path):
    rnd = random.Random(63)
    path = tmp_path / "s.sqlite3"
    objects = SqliteStore(path)
    try:
        c = _small(objects, 10)
        objects.put_many([_body(rnd) for _ in range(20)])
        got = subprocess.run([sys.executable, "-c", _KILLED, str(path)], capture_output=True, timeout=120)
        assert got.returncode == 9, got.stderr
        # three writes committed into the tail, the fourth (entering all four) lost whole
        assert c.execute("SELECT count(*) FROM jacs_document WHERE jacs_id LIKE 'k%'").fetchone() == (3,)
        assert _tail_rows(c) == 3
        assert _check_filters(c, rnd) > 30
        check_short(c, rnd, 40)
    finally:
        objects.close()


def _code_before_tail(tmp_path):
    """The package as it was before the tail (``git archive``); skipped where the history is not there."""
    root = Path(__file__).resolve().parents[2]
    git = shutil.which("git")
    if git is None or not (root / ".git").exists():
        pytest.skip("no git history here")
    tar = tmp_path / "before.tar"
    got = subprocess.run([git, "-C", str(root), "archive", "-o", str(tar), BEFORE_TAIL, "jacs_desktop"],
                         capture_output=True, timeout=60)
    if got.returncode != 0:
        pytest.skip(f"commit {BEFORE_TAIL} not in this clone")
    out = tmp_path / "before"
    with tarfile.open(tar) as t:
        t.extractall(out, filter="data")
    return out


_OLD = """
import json, sys
from jacs_desktop.storage import sqlite_grams, sqlite_pages as sp
from jacs_desktop.storage.sqlite import SqliteStore
assert not hasattr(sqlite_grams, "tail")  # the code before the tail
s = SqliteStore(sys.argv[1])
c = s._conn()
assert not sqlite_grams.ready(c)  # a tail: not complete to this code
assert sp.match_rows(c, False, "q", cap=100) is None  # so its filter scans
s.put("documents/old:v1.json", json.dumps({"jacsId": "old", "title": "from the old code ꙮ"}).encode())
assert sp.match_rows(c, False, "ꙮ", cap=100) is None
s.build_search_index()  # what its window does at open: the tail entered
assert sqlite_grams.ready(c)
assert sp.match_rows(c, False, "ꙮ", cap=100) == 1
s.put("documents/old2:v1.json", json.dumps({"jacsId": "old2", "title": "again ꙮ"}).encode())
assert sp.match_rows(c, False, "ꙮ", cap=100) == 2
s.close()
"""


def test_the_code_before_the_tail_reads_a_store_with_one_and_enters_it(tmp_path):
    before = _code_before_tail(tmp_path)
    rnd = random.Random(64)
    path = tmp_path / "s.sqlite3"
    objects = SqliteStore(path)
    c = _small(objects, 10)
    objects.put_many([_body(rnd) for _ in range(25)])
    for _ in range(4):
        _put(objects, rnd)
    assert _tail_rows(c) == 4
    objects.close()
    env = {**os.environ, "PYTHONPATH": str(before)}
    got = subprocess.run([sys.executable, "-c", _OLD, str(path)], capture_output=True, timeout=120, env=env,
                         cwd=tmp_path)
    assert got.returncode == 0, got.stderr.decode()
    objects = SqliteStore(path)
    try:
        c = objects._conn()
        assert sqlite_grams.ready(c)
        check_short(c, rnd, 40)
        _put(objects, rnd)  # and on from here with the tail again
        assert _tail_rows(c) == 1
        check_short(c, rnd, 40)
    finally:
        objects.close()


def test_the_filter_reads_the_tail_by_rowid_not_every_row(tmp_path):
    """Each query over the tail (``rowid > upto``) is planned as a range of rowids: with
    ``removed = ?`` SQLite would rather take an index on ``removed`` and read every row (on a
    million-row store, 100-900 ms a filter instead of under 1 ms)."""
    rnd = random.Random(65)
    objects = SqliteStore(tmp_path / "s.sqlite3")
    try:
        c = objects._conn()
        objects.put_many([_body(rnd) for _ in range(10)])
        _put(objects, rnd)
        assert _tail_rows(c) == 1
        seen = []
        c.set_trace_callback(seen.append)
        for text in ("a", "zq", "4242", "hea"):
            for archived in (False, True):
                sp.match_rows(c, archived, text, cap=100)
            for col in sqlite_zones.COLUMNS:
                sp.spans(c, text, col)
        c.set_trace_callback(None)
        tail = [q for q in seen if "rowid >" in q and "FROM jd_doc" in q]
        assert len(tail) > 8
        for q in set(tail):
            plan = " ".join(r[3] for r in c.execute("EXPLAIN QUERY PLAN " + q))
            assert "INTEGER PRIMARY KEY (rowid>?)" in plan, (q, plan)
    finally:
        objects.close()
