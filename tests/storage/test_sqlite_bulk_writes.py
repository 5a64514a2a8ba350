"""Many documents written into a SQLite store in one transaction (``SqliteStore.put_many``,
``sqlite_batch.DeferredWrites``: a migration's path), the index of short texts brought up
to date for the batch in Python (``sqlite_grams.hold``/``catch_up``) instead of by the
triggers row by row: afterwards the index is exactly what the rows say, through batches
mixed with single writes, deletes, archiving and rows another program wrote; a batch that
fails or a process killed in the middle of one leaves the rows and the index as they were."""

import json
import random
import sqlite3
import subprocess
import sys

import pytest

from jacs_desktop.jobs.migrate import MigrateOptions, migrate
from jacs_desktop.storage import sqlite_grams, sqlite_zones
from jacs_desktop.storage import sqlite_pages as sp
from jacs_desktop.storage.base import StorageError
from jacs_desktop.storage.fs import FsStore
from jacs_desktop.storage.sqlite import SqliteStore
from jacs_desktop.storage.sqlite_batch import DeferredWrites
from jacs_desktop.storage.store import Store

from .test_search_index import _check_exact, _put, _title, _uuid, check_short
from .test_short_filter_index import _small, _to_schema_2, check_zones


def _body(rnd, jid=None, ver=None, title=None):
    jid, ver = jid or _uuid(rnd), ver or _uuid(rnd)
    doc = {"jacsId": jid, "jacsVersion": ver, "jacsType": rnd.choice(["header", "Artifact", "message"]),
           "title": _title(rnd) if title is None else title, "jacsSignature": {"agentID": _uuid(rnd)},
           "jacsVersionDate": f"2025-0{rnd.randint(1, 9)}-01T00:00:00Z"}
    return f"documents/{jid}:{ver}.json", json.dumps(doc, ensure_ascii=False).encode()


def _archived(item):
    return item[0].replace("documents/", "documents/archive/"), item[1]


def _state(c):
    """Everything the index and the summaries hold, to compare before and after."""
    return [sorted(map(repr, c.execute(f"SELECT {t[1]} FROM {t[0]}")))
            for t in (("jd_gram", "*"), ("jd_gram_row", "*"), ("jd_zone", "*"), ("jd_zone_all", "*"),
                      ("jd_gram_upto", "*"), ("jd_doc", "rowid, *"), ("jd_version", "*"), ("jd_count", "*"),
                      ("jacs_document", "rowid, jacs_id, jacs_version, removed"), ("jd_object", "key"))]


def test_batches_keep_the_index_exact_among_single_writes_and_other_programs(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_zones, "MIN_ROWS", 16)
    rnd = random.Random(41)
    objects = SqliteStore(tmp_path / "s.sqlite3")
    try:
        c = _small(objects, 15)
        ids = [_put(objects, rnd) for _ in range(60)]
        while objects.build_search_index():  # the blocks cut (a store of 60 rows, 16 a block)
            pass
        for round_ in range(3):
            batch = [_body(rnd) for _ in range(40)]
            batch += [_archived(_body(rnd)) for _ in range(5)]
            batch += [_body(rnd, jid) for jid in rnd.sample(ids, 8)]  # newer versions: rows made again
            nul = _body(rnd, title=f"nul\x00after ÿq{round_}")
            batch += [nul, nul]  # twice in one batch: written once
            batch += [(f"agent/{_uuid(rnd)}.json", b"{}")]  # not a document: a plain object
            got = objects.put_many(batch)
            assert got == [True] * len(batch)
            assert sqlite_grams.ready(c)
            ids += [json.loads(v)["jacsId"] for _k, v in batch[:40]]
            again = objects.put_many([*batch[:3], _body(rnd)], if_absent=True)
            assert again == [False, False, False, True]
            gone = rnd.sample(ids, 7)
            ids = [i for i in ids if i not in gone]
            for jid in gone[:4]:  # single writes between: archived, deleted
                for info in list(objects.list(f"documents/{jid}:")):
                    objects.move(info.key, info.key.replace("documents/", "documents/archive/"))
            for jid in gone[4:]:
                for info in list(objects.list(f"documents/{jid}:")):
                    objects.delete(info.key)
            raw = sqlite3.connect(objects.path, isolation_level=None)  # jacs writing the same file
            for i in range(4):
                body = json.dumps({"jacsId": f"ext-{round_}-{i}", "title": f"ĳ{i} from jacs"}, ensure_ascii=False)
                raw.execute("INSERT INTO jacs_document(jacs_id, jacs_version, jacs_type, raw_contents, "
                            "file_contents) VALUES (?, 'v1', 'header', ?, '{}')", (f"ext-{round_}-{i}", body))
            raw.close()
            assert objects.sync_summaries() == 4
            _check_exact(c, rnd, 30)
            check_short(c, rnd, 60)
            assert check_zones(c) > 100
        posted = dict(c.execute("SELECT gram, posted FROM jd_gram"))
        assert 0 in posted.values() and 1 in posted.values()  # grams turned common in the batches too
        assert sp.match_rows(c, False, "ÿq", cap=100) == 3
    finally:
        objects.close()


def test_a_batch_that_fails_leaves_rows_and_index_as_they_were(tmp_path, monkeypatch):
    rnd = random.Random(42)
    objects = SqliteStore(tmp_path / "s.sqlite3")
    try:
        c = _small(objects, 10)
        first = [_body(rnd) for _ in range(30)]
        objects.put_many(first)
        before = _state(c)
        with pytest.raises(StorageError, match="another program"):  # one of them there already
            objects.put_many([_body(rnd) for _ in range(10)] + [first[3]] + [_body(rnd)], if_absent=True,
                             all_or_none=True)
        assert _state(c) == before
        with pytest.raises(StorageError, match="not a JSON"):  # refused before anything is written
            objects.put_many([_body(rnd), ("documents/x:y.json", b"{oops")])
        assert _state(c) == before

        def broken(c, rows, early):
            real(c, rows, early)  # the index entered for the batch, then a failure before the commit
            raise OSError("disk gone")

        real = sqlite_grams._add_rows
        monkeypatch.setattr(sqlite_grams, "_add_rows", broken)
        with pytest.raises(OSError):
            objects.put_many([_body(rnd) for _ in range(10)])
        monkeypatch.setattr(sqlite_grams, "_add_rows", real)
        assert _state(c) == before and sqlite_grams.ready(c)
        objects.put_many([_body(rnd) for _ in range(10)])
        check_short(c, rnd, 60)
    finally:
        objects.close()


_KILLED = """
import json, os, sys
from jacs_desktop.storage import sqlite_grams
from jacs_desktop.storage.sqlite import SqliteStore
real = sqlite_grams._add_rows
def killed(c, rows, early):
    real(c, rows, early)
    os._exit(9)  # the process dies with the batch's rows and index written, not committed
sqlite_grams._add_rows = killed
s = SqliteStore(sys.argv[1])
s.put_many([(f"documents/k{i}:v1.json", json.dumps({"jacsId": f"k{i}", "title": f"killed {i} é"}).encode())
            for i in range(50)])
"""


def test_a_process_killed_in_the_middle_of_a_batch_leaves_a_consistent_index(tmp_path):
    rnd = random.Random(43)
    path = tmp_path / "s.sqlite3"
    objects = SqliteStore(path)
    try:
        c = _small(objects, 10)
        objects.put_many([_body(rnd) for _ in range(30)])
        before = _state(c)
        got = subprocess.run([sys.executable, "-c", _KILLED, str(path)], capture_output=True, timeout=120)
        assert got.returncode == 9, got.stderr
        assert _state(c) == before and sqlite_grams.ready(c)
        assert c.execute("SELECT count(*) FROM jacs_document WHERE jacs_id LIKE 'k%'").fetchone() == (0,)
        objects.put_many([_body(rnd) for _ in range(10)])
        check_short(c, rnd, 40)
    finally:
        objects.close()


def test_a_migration_into_sqlite_is_written_in_batches_and_indexed_exactly(tmp_path):
    rnd = random.Random(44)
    src = FsStore(tmp_path / "src", create=True)
    for _ in range(120):
        src.put(*_body(rnd))
    objects = SqliteStore(tmp_path / "t.sqlite3")
    c = _small(objects, 25)
    commits = []
    real = SqliteStore.put_many

    def counted(self, items, **kw):
        commits.append(len(items))
        return real(self, items, **kw)

    try:
        SqliteStore.put_many = counted  # type: ignore[method-assign]
        r = migrate(Store(src), Store(objects), MigrateOptions(journal=False))
    finally:
        SqliteStore.put_many = real  # type: ignore[method-assign]
    try:
        assert r.ok and len(r.copied) == 120
        assert sum(commits) == 120 and max(commits) > 1  # in batches, not one by one
        assert c.execute("SELECT count(*) FROM jd_doc").fetchone() == (120,)
        check_short(c, rnd, 60)
    finally:
        objects.close()


def test_deferred_writes_say_created_once_and_refuse_a_name_taken_meanwhile(tmp_path):
    rnd = random.Random(45)
    objects = SqliteStore(tmp_path / "s.sqlite3")
    try:
        c = _small(objects, 10)
        w = DeferredWrites(objects)
        a, b = _body(rnd), _body(rnd)
        assert w.put_if_absent(*a) and w.read_back(a[0], len(a[1])) == a[1]
        with pytest.raises(StorageError, match="not a JSON"):
            w.put_if_absent("documents/x:y.json", b"[")
        assert not objects.stat(a[0])  # not written before the sync
        assert not w.put_if_absent(*a)  # the same name again: the batch written first, then "there"
        assert objects.get(a[0]) == a[1]
        assert w.put_if_absent(*b)
        objects.put(b[0], b[1])  # meanwhile (another writer)
        with pytest.raises(StorageError, match="another program"):
            w.sync()
        with pytest.raises(StorageError):  # and every later sync says so: nothing more counted as kept
            w.close()
        assert c.execute("SELECT count(*) FROM jd_doc").fetchone() == (2,)
        check_short(c, rnd, 30)
    finally:
        objects.close()


def test_single_writes_leave_the_triggers_covering_every_row(tmp_path):
    """Our own single writes leave their rows in the index's tail (``sqlite_grams.TAIL_FOLD``),
    read by the filter row by row; once it is entered every row is handed back to the
    triggers (the index complete), so a plain-SQL write of another program right after is
    indexed."""
    rnd = random.Random(46)
    objects = SqliteStore(tmp_path / "s.sqlite3")
    try:
        c = _small(objects, 10)
        for _ in range(5):
            last = _put(objects, rnd)
        _put(objects, rnd, last)  # its row (the last one) made again: SQLite gives the new row the same rowid
        assert c.execute("SELECT upto FROM jd_gram_upto").fetchone()[0] == 0  # all five in the tail
        check_short(c, rnd, 30)  # exact with the tail, then the tail entered
        assert c.execute("SELECT upto FROM jd_gram_upto").fetchone()[0] == 2**63 - 1
        raw = sqlite3.connect(objects.path, isolation_level=None)
        raw.execute("INSERT INTO jd_doc(removed, jacs_id, versions, latest, title_key, type_key, date_key, "
                    "signer_key, attachments, search) VALUES (0, 'raw', 1, 'v', '', '', '', '', 0, 'raw ĳq')")
        raw.close()
        assert sp.match_rows(c, False, "ĳq", cap=100) == 1
        check_short(c, rnd, 30)
    finally:
        objects.close()


def test_a_filter_of_three_characters_or_more_finds_text_after_a_nul(tmp_path):
    """The trigram index reads a text up to a NUL: the rows with one are found through the
    index of short texts (its ``''``), or looked at one by one where it does not cover them."""
    path = tmp_path / "s.sqlite3"
    objects = SqliteStore(path)
    body = json.dumps({"jacsId": "n", "jacsVersion": "v", "title": "x\x00 hidden words", "jacsType": "message"})
    objects.put("documents/n:v.json", body.encode())
    objects.put(*_body(random.Random(47), title="plain hidden"))
    c = objects._conn()
    assert sp.match_rows(c, False, "hidden", cap=100) == 2 and sp.match_rows(c, True, "hidden", cap=100) == 0
    objects.close()
    _to_schema_2(path)
    ro = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        sp.register_functions(ro)
        assert not sqlite_grams.ready(ro)
        assert sp.match_rows(ro, False, "hidden", cap=100) == 2
        assert sp.match_rows(ro, False, "message", cap=100) == 2
    finally:
        ro.close()
