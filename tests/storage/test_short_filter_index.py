"""The index of one- and two-character filters over the SQLite store's document summaries
(storage/sqlite_grams, summary schema 3, issue 14): the triggers' SQL finds the same grams as
the batches' Python; with a small ``posted_max`` (so that grams turn common) it still gives
exactly the plain filter's rows or says it cannot (the caller scans), through our writes,
deletes, archiving, rows another program wrote and a build in batches with writes between;
a schema-2 database is migrated without losing its trigram index; a read-only one is left
as it is."""

import bisect
import json
import random
import sqlite3
import uuid

import pytest

from jacs_desktop.jobs import doc_pages
from jacs_desktop.storage import sqlite_grams, sqlite_zones
from jacs_desktop.storage import sqlite_pages as sp
from jacs_desktop.storage.sqlite import SqliteStore
from jacs_desktop.storage.store import Store

from .test_search_index import PIECES, _check_exact, _Once, _put, check_short, fold_tail


def test_the_triggers_find_the_same_grams_as_the_batches():
    rnd = random.Random(3)
    c = sqlite3.connect(":memory:")
    sql = f"SELECT g, f FROM ({sqlite_grams._grams_sql(':s')})"
    texts = ["", "a", "ab", "a\x00", "\x00", "x\x00yz", "🎉👍🏽", "e\u0301", "Σσς  \t", " a", "a ", "ab cd"]
    texts += ["".join(rnd.choice([*PIECES, "\x00", " "]) for _ in range(rnd.randint(0, 8))) for _ in range(300)]
    for text in texts:
        got = c.execute(sql, {"s": text}).fetchall()
        assert {g for g, _f in got} == sqlite_grams.grams(text), repr(text)
        first, _rest, _nul = sqlite_grams._parts(text)
        assert {g for g, f in got if f} == first, repr(text)  # the id's part: found anywhere


def _small(objects, most):
    """Grams in more than *most* rows turn common (set before any row is indexed)."""
    c = objects._conn()
    c.execute("UPDATE jd_gram_upto SET posted_max = ?", (most,))
    return c


def _nul_row(objects, jid):
    """A document whose title has a NUL in it (SQLite's substr stops there, instr does not)."""
    body = json.dumps({"jacsId": jid, "jacsVersion": "v1", "title": "nul\x00after ÿq"})
    objects.put(f"documents/{jid}:v1.json", body.encode())


def test_common_and_rare_grams_follow_our_writes_and_other_programs(tmp_path):
    objects = SqliteStore(tmp_path / "s.sqlite3")
    try:
        rnd = random.Random(21)
        c = _small(objects, 12)
        ids = [_put(objects, rnd) for _ in range(120)]
        for _ in range(30):
            _put(objects, rnd, archived=True)
        _nul_row(objects, "nul-doc")
        for jid in rnd.sample(ids, 30):  # newer versions: rows made again
            _put(objects, rnd, jid)
        for jid in ids[:10]:  # archived (the removed flag flips) and deleted
            key = next(i.key for i in objects.list(f"documents/{jid}:"))
            objects.move(key, key.replace("documents/", "documents/archive/"))
        for jid in ids[10:20]:
            for info in list(objects.list(f"documents/{jid}:")):
                objects.delete(info.key)
        raw = sqlite3.connect(objects.path, isolation_level=None)  # jacs writing the same file
        for i in range(10):
            body = json.dumps({"jacsId": f"ext-{i}", "title": f"ĳ{i} from jacs"}, ensure_ascii=False)
            raw.execute("INSERT INTO jacs_document(jacs_id, jacs_version, jacs_type, raw_contents, file_contents) "
                        "VALUES (?, 'v1', 'header', ?, '{}')", (f"ext-{i}", body))
        raw.close()
        assert objects.sync_summaries() == 10
        assert sp.match_rows(c, False, "ĳ", cap=100) == 10  # the single writes' rows still in the tail
        fold_tail(c)
        posted = dict(c.execute("SELECT gram, posted FROM jd_gram"))
        assert 0 in posted.values() and 1 in posted.values()  # both kinds
        assert "ÿq" not in posted and posted[""] == 1  # after the NUL: found through the NUL rows
        assert sp.match_rows(c, False, "ÿq", cap=100) == 1
        assert sp.match_rows(c, False, "ĳ", cap=100) == 10
        assert sp.match_rows(c, False, "e", cap=10**6) is None  # common: the caller walks its order
        assert sp.match_rows(c, False, "ĳ", cap=5) is None  # more than the caller's cap: scan
        assert sp.match_rows(c, True, "ĳ", cap=5) == 0  # none archived
        assert sp.match_rows(c, False, "zq", cap=100) == 0  # in no row: answered at once
        check_short(c, rnd, 120)
    finally:
        objects.close()


def _to_schema_2(path):
    """The database as the version before this index left it (summary version 2)."""
    raw = sqlite3.connect(path, isolation_level=None)
    for name in ("jd_doc_gram_ai", "jd_doc_gram_ad", "jd_doc_gram_au"):
        raw.execute(f"DROP TRIGGER {name}")
    for name in ("jd_gram", "jd_gram_row", "jd_gram_upto"):
        raw.execute(f"DROP TABLE {name}")
    raw.execute("UPDATE jd_meta SET value = '2' WHERE name = 'summary_version'")
    raw.close()


def test_a_schema_2_database_is_migrated_and_built_in_batches_while_written(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_zones, "MIN_ROWS", 16)  # the sort orders cut into blocks at the first batch
    monkeypatch.setattr(sqlite_grams, "TAIL_READ", 8)  # the rows not built yet too many to read one by one
    rnd = random.Random(8)
    path = tmp_path / "v2.sqlite3"
    objects = SqliteStore(path)
    ids = [_put(objects, rnd, archived=rnd.random() < 0.1) for _ in range(160)]
    _nul_row(objects, "nul-doc")
    objects.close()
    _to_schema_2(path)
    objects = SqliteStore(path)
    try:
        c = objects._conn()
        assert sp.migrate(c) == sp.SUMMARY_VERSION == 3
        assert sp.search_index_ready(c)  # the trigram index kept: not made again
        assert not sqlite_grams.ready(c)
        assert sp.match_rows(c, False, "a", cap=10**6) is None  # not built yet: the caller scans
        c.execute("UPDATE jd_gram_upto SET posted_max = 10")
        batches = 0
        while not sqlite_grams.ready(c):
            assert sp.build_search_index(c, _Once(), gram_batch=15) <= 15
            batches += 1
            if sqlite_grams.ready(c):  # built (a write now would leave its row in the tail)
                break
            _put(objects, rnd, rnd.choice(ids))  # rows indexed already and not yet, changed and deleted
            _put(objects, rnd)
            victim = rnd.choice(ids)
            for info in list(objects.list(f"documents/{victim}:")):
                objects.delete(info.key)
        assert batches >= 160 // 15
        assert objects.build_search_index() == 0
        _check_exact(c, rnd)
        check_short(c, rnd, 120)
        assert c.execute("SELECT count(*) FROM jd_zone_block").fetchone()[0] > 7 * 5
        assert check_zones(c) > 1000  # grams turned common between batches: their rows found through the postings
    finally:
        objects.close()


def test_a_read_only_schema_2_database_is_left_as_it_is(tmp_path):
    path = tmp_path / "ro.sqlite3"
    objects = SqliteStore(path)
    _put(objects, random.Random(4))
    objects.close()
    _to_schema_2(path)
    ro = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    sp.register_functions(ro)
    assert sp.migrate(ro) == 2
    assert sp.search_index_ready(ro) and not sqlite_grams.ready(ro)
    assert sp.build_search_index(ro) == 0
    assert sp.match_rows(ro, False, "a", cap=10) is None  # scanned, as before
    assert sp.match_rows(ro, False, "hea", cap=10**6) is not None  # the trigram index still answers
    ro.close()


@pytest.mark.parametrize("text", ["", "abc", "a\x00"])
def test_only_short_texts_without_nul(tmp_path, text):
    objects = SqliteStore(tmp_path / "s.sqlite3")
    try:
        c = objects._conn()
        _put(objects, random.Random(1))
        assert sqlite_grams.match(c, False, text, cap=10) is None
    finally:
        objects.close()



def check_zones(c):
    """Every row is entered in its block of every sort order for each of its common grams
    (and ``''`` when its text has a NUL), unless the gram is one never skipped for (found in
    an id): the walk never skips a block holding a match (the tail's rows entered first)."""
    fold_tail(c)
    bounds = sqlite_zones._bounds(c)
    zone = set(c.execute("SELECT sort, gram, block FROM jd_zone"))
    common = {g for (g,) in c.execute("SELECT gram FROM jd_gram WHERE posted = 0")}
    common -= {g for (g,) in c.execute("SELECT gram FROM jd_zone_all")}  # never skipped for
    checked = 0
    for removed, search, *keys in c.execute(f"SELECT removed, search, {', '.join(sqlite_zones.COLUMNS)} FROM jd_doc"):
        row = dict(zip(sqlite_zones.COLUMNS, keys, strict=True))
        gs = sqlite_grams.grams(search)
        want = (gs & common) | (gs & {""})
        for col in sqlite_zones.COLUMNS:
            b = bisect.bisect_right(bounds[col], (removed, row[col], row["jacs_id"])) - 1
            for g in want:
                assert (col, g, b) in zone, (col, g, b, search)
                checked += 1
    return checked


CLUSTERED = ["Alpha memo", "Beta memo", "Gamma report", "Zeta agreement ✓", "Omega agreement ✓"]


def _clustered_store(tmp_path, monkeypatch, n=400):
    """A migrated store of *n* documents whose titles come in runs (the sort orders cut into
    blocks of 16 rows, grams in more than 40 rows common), indexed in batches."""
    monkeypatch.setattr(sqlite_zones, "MIN_ROWS", 16)
    rnd = random.Random(17)
    path = tmp_path / "z.sqlite3"
    objects = SqliteStore(path)
    for i in range(n):
        _put_titled(objects, rnd, CLUSTERED[i * len(CLUSTERED) // n], archived=rnd.random() < 0.1)
    _nul_row(objects, "nul-doc")
    objects.close()
    _to_schema_2(path)
    objects = SqliteStore(path)
    c = objects._conn()
    c.execute("UPDATE jd_gram_upto SET posted_max = 40")
    while objects.build_search_index():
        pass
    assert c.execute("SELECT count(DISTINCT block) FROM jd_zone_block WHERE sort = 'title_key'").fetchone()[0] > 10
    return objects, c, rnd


def _put_titled(objects, rnd, title, jid=None, archived=False):
    jid = jid or str(uuid.UUID(int=rnd.getrandbits(128), version=4))
    ver = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
    doc = {"jacsId": jid, "jacsVersion": ver, "jacsType": rnd.choice(["header", "note"]), "title": title,
           "jacsVersionDate": f"2025-0{rnd.randint(1, 9)}-01T00:00:00Z"}
    objects.put(f"documents/{'archive/' if archived else ''}{jid}:{ver}.json", json.dumps(doc).encode())
    return jid


def _all_ids(pager):
    while pager.more():
        pager.accept(pager.load_more())
    return [pager.row(i).id for i in range(pager.count())]


def test_the_walk_skips_blocks_without_a_match_and_loses_none(tmp_path, monkeypatch):
    objects, c, rnd = _clustered_store(tmp_path, monkeypatch)
    try:
        assert check_zones(c) > 1000
        # "ag" (agreement) is common and sits in the last two fifths of the title order: fewer blocks
        spans = sp.spans(c, "ag", "title_key")
        assert spans is not None and len(spans) < 5
        total = c.execute("SELECT count(*) FROM jd_zone_block WHERE sort = 'title_key'").fetchone()[0]
        walked = {b for (b,) in c.execute("SELECT block FROM jd_zone WHERE sort = 'title_key' AND gram = 'ag'")}
        assert len(walked) < total * 0.7
        # our writes after the cut: new rows placed in their blocks by the triggers
        for _ in range(30):
            _put_titled(objects, rnd, rnd.choice([*CLUSTERED, "Mu agreement"]))
        jid = _put_titled(objects, rnd, "ĳssel")  # a rare gram turning common
        for _ in range(45):
            _put_titled(objects, rnd, f"ĳssel {rnd.randint(0, 9)}")
        _put_titled(objects, rnd, "Beta agreement", jid)  # a new version: its row made again
        fold_tail(c)
        assert c.execute("SELECT posted FROM jd_gram WHERE gram = 'ĳ'").fetchone() == (0,)
        check_zones(c)
        check_short(c, rnd, 80)
        for _ in range(12):  # rows left in the tail: the walk reads them too
            _put_titled(objects, rnd, rnd.choice([*CLUSTERED, "ĳssel 4", "Zeta memo"]), archived=rnd.random() < 0.2)
        assert sqlite_grams.tail(c) < 2**63 - 1
        # the pager walks the spans: the same rows, in the same order, as sorting every match
        monkeypatch.setattr(doc_pages, "PAGE", 7)
        monkeypatch.setattr(doc_pages, "MATCH_CAP", 3)  # every filter found by walking the order
        live, archived = doc_pages.paged_tables(Store(objects))
        for table in (live, archived):
            rows = {r[0]: r[1:] for r in c.execute(
                f"SELECT jacs_id, search, {', '.join(sqlite_zones.COLUMNS)} FROM jd_doc WHERE removed = ?",
                (int(table.archived),))}
            for text in ["ag", "ĳ", "a", "ee", "agreement", "nul", "ÿq", "zq", "✓", "memo", "-4"]:
                for sort, col in sp.SORTS.items():
                    k = sqlite_zones.COLUMNS.index(col) + 1
                    for desc in (False, True):
                        want = sorted((i for i, r in rows.items() if text in r[0]), key=lambda i: (rows[i][k], i),
                                      reverse=desc)
                        pager = doc_pages.SqlPager(table)
                        pager.set_order(sort, desc)
                        pager.set_filter(text)
                        assert _all_ids(pager) == want, (table.archived, text, sort, desc)
    finally:
        objects.close()
