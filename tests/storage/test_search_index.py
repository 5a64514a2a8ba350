"""The filter's trigram search index over the SQLite store's document summaries
(storage/sqlite_pages, issue 14): it finds exactly the rows the plain filter finds (the
row's lower-case search text contains the lower-case filter), on seeded random texts with
non-ASCII letters, emoji, ``%``, ``_``, quotes and FTS5 syntax in them; it stays in step with
our writes and with rows another program wrote; a database made before it existed is
migrated (summary version 1 → 2) and indexed in batches while writes go on."""

import json
import random
import sqlite3
import uuid

import pytest

from jacs_desktop.storage import sqlite_grams
from jacs_desktop.storage import sqlite_pages as sp
from jacs_desktop.storage.sqlite import SqliteStore

#: pieces of titles: what a substring filter could trip over (LIKE wildcards, FTS5 query syntax,
#: quotes, case rules that differ between Python and SQLite, characters outside the BMP)
PIECES = ["%", "_", '"', "'", "''", '""', "*", "^", "-", ":", "(", ")", "+", "NEAR", "AND", "OR", "NOT", "\\",
          "Straße", "STRASSE", "İzmir", "ıi", "Ärger", "e\u0301", "é", "Σσς", "日本語", "🎉", "👍🏽", "\t", "  ",
          "50%_off", "a_b", "x%y", "Invoice", "inv", "42", "4242", "[ab]", "?", "{}", ".", "ǅ", "ﬃ", "K"]


def _uuid(rnd):
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


def _title(rnd):
    return "".join(rnd.choice(PIECES) + rnd.choice(["", " ", ""]) for _ in range(rnd.randint(1, 6)))


def _put(objects, rnd, jid=None, archived=False):
    jid = jid or _uuid(rnd)
    ver = _uuid(rnd)
    doc = {"jacsId": jid, "jacsVersion": ver, "jacsType": rnd.choice(["header", "Artifact", "message"]),
           "title": _title(rnd), "jacsSignature": {"agentID": _uuid(rnd)}}
    objects.put(f"documents/{'archive/' if archived else ''}{jid}:{ver}.json",
                json.dumps(doc, ensure_ascii=False).encode())
    return jid


def _texts(c):
    return {rowid: (removed, text) for rowid, removed, text in c.execute("SELECT rowid, removed, search FROM jd_doc")}


def _needles(rnd, texts, n=60):
    """Substrings of the rows' texts (of 3-8 characters, the index's part), the same upper-cased,
    and random strings of the pieces (mostly no match)."""
    pool = [t for _r, t in texts.values()]
    out = []
    for _ in range(n):
        t = rnd.choice(pool)
        k = rnd.randint(3, 8)
        i = rnd.randint(0, max(0, len(t) - k))
        out.append(t[i:i + k])
    out += [x.upper() for x in out[:10]]
    out += ["".join(rnd.choice(PIECES) for _ in range(rnd.randint(1, 3))) for _ in range(20)]
    return [x for x in out if len(x.lower()) >= 3]


def _index_only(c, text):
    """rowids the index alone gives for *text* (no re-check against the rows)."""
    return {r[0] for r in c.execute("SELECT rowid FROM jd_doc_fts WHERE jd_doc_fts MATCH ?", (sp.fts_phrase(text),))}


def _nul_rows(c):
    return {r[0] for r in c.execute("SELECT rowid FROM jd_doc WHERE instr(search, char(0)) > 0")}


def short_needles(rnd, texts, n=60):
    """Substrings of one or two characters of the rows' texts, the same upper-cased, pieces cut
    short and texts no row has."""
    pool = [t for _r, t in texts.values()]
    out = []
    for _ in range(n):
        t = rnd.choice(pool)
        k = rnd.randint(1, 2)
        i = rnd.randint(0, max(0, len(t) - k))
        out.append(t[i:i + k])
    out += [x.upper() for x in out[:10]]
    out += [rnd.choice(PIECES)[:rnd.randint(1, 2)] for _ in range(20)]
    out += ["zq", "\u02ac", "🎈", "\t\t", "ﬃ"]
    return [x.lower() for x in out if 0 < len(x.lower()) < 3]


def check_short(c, rnd, n=60):
    """Filters of one or two characters: exactly the plain filter's rows, or None (a gram in
    more rows than ``posted_max``: the caller scans); and the index's tables are exactly what
    the rows say (after the tail's rows are entered: until then the filter reads them one by one)."""
    texts = _texts(c)
    assert sqlite_grams.tail(c) is not None
    most = c.execute("SELECT posted_max FROM jd_gram_upto").fetchone()[0]
    for low in short_needles(rnd, texts, n):
        for archived in (0, 1):
            want = {rowid for rowid, (a, t) in texts.items() if a == archived and low in t}
            got = sp.match_rows(c, bool(archived), low, cap=10**6)
            rows = {r[0] for r in c.execute("SELECT rowid FROM temp.jd_rows")}
            if got is None:  # a common gram: in more rows than posted_max once
                assert sum(low in t for _a, t in texts.values()) > 0 and not rows, low
                assert c.execute("SELECT posted FROM jd_gram WHERE gram = ?", (low,)).fetchone() == (0,)
            else:
                assert (got, rows) == (len(want), want), low
    fold_tail(c)
    check_gram_tables(c, texts, most)


def fold_tail(c):
    """Enter the tail's rows (single writes leave theirs there), unless the connection cannot write."""
    if sqlite_grams.tail(c) != 2**63 - 1 and not c.execute("PRAGMA query_only").fetchone()[0]:
        sqlite_grams.fold(c)
        assert sqlite_grams.ready(c)


def check_gram_tables(c, texts, most):
    want = {}
    for rowid, (removed, t) in texts.items():
        for g in sqlite_grams.grams(t):
            w = want.setdefault(g, [0, 0, set()])
            w[0 if removed == 0 else 1] += 1
            w[2].add(rowid)
    got = {g: (n0, n1, posted) for g, n0, n1, posted in c.execute("SELECT gram, n0, n1, posted FROM jd_gram")}
    assert {g: (n0, n1) for g, (n0, n1, _p) in got.items()} == {g: (w[0], w[1]) for g, w in want.items()}
    posts = {}
    for g, doc in c.execute("SELECT gram, doc FROM jd_gram_row"):
        posts.setdefault(g, set()).add(doc)
    assert set(posts) <= {g for g, (_a, _b, posted) in got.items() if posted}  # none for a common gram
    for g, (n0, n1, posted) in got.items():
        if posted:
            assert posts.get(g, set()) == want[g][2], g  # every row that has it, no other
            assert g == "" or n0 + n1 <= most


def _check_exact(c, rnd, n=60):
    texts = _texts(c)
    assert sp.search_index_ready(c)
    check_short(c, rnd, n)
    for needle in _needles(rnd, texts, n):
        low = needle.lower()  # what the window's filter box hands over
        # the trigram index reads a text up to a NUL (match_rows adds the rows with one from sqlite_grams)
        want_any = {rowid for rowid, (_a, t) in texts.items() if low in t.partition("\x00")[0]}
        assert _index_only(c, low) - _nul_rows(c) == want_any - _nul_rows(c), needle  # none missing or left over
        for archived in (0, 1):
            want = {rowid for rowid, (a, t) in texts.items() if a == archived and low in t}
            plain = {r[0] for r in c.execute("SELECT rowid FROM jd_doc WHERE removed = ? AND instr(search, ?) > 0",
                                             (archived, low))}
            assert plain == want  # the plain path, as the filter scanned before
            assert sp.match_rows(c, bool(archived), low, cap=10**6) == len(want)
            assert {r[0] for r in c.execute("SELECT rowid FROM temp.jd_rows")} == want, needle
    integrity(c)


def integrity(c):
    c.execute("INSERT INTO jd_doc_fts(jd_doc_fts) VALUES ('integrity-check')")


@pytest.fixture
def store(tmp_path):
    objects = SqliteStore(tmp_path / "s.sqlite3")
    yield objects
    objects.close()


def test_the_index_finds_exactly_what_the_plain_filter_finds(store):
    rnd = random.Random(1414)
    ids = [_put(store, rnd, archived=rnd.random() < 0.2) for _ in range(250)]
    for jid in rnd.sample(ids, 40):  # newer versions: their jd_doc rows are made again
        _put(store, rnd, jid)
    c = store._conn()
    assert sp.search_index_ready(c)  # a new store: every row indexed as it is written
    _check_exact(c, rnd)
    # more than the cap: nothing left in temp.jd_rows, the caller scans instead
    assert sp.match_rows(c, False, "hea", cap=5) is None  # "header"
    assert c.execute("SELECT count(*) FROM temp.jd_rows").fetchone()[0] == 0


def test_the_index_follows_deletes_archiving_and_other_programs(store):
    rnd = random.Random(7)
    ids = [_put(store, rnd) for _ in range(120)]
    c = store._conn()
    for jid in ids[:15]:  # archived and restored: the removed flag flips
        key = next(i.key for i in store.list(f"documents/{jid}:"))
        store.move(key, key.replace("documents/", "documents/archive/"))
    for jid in ids[15:30]:
        key = next(i.key for i in store.list(f"documents/{jid}:"))
        store.delete(key)
    raw = sqlite3.connect(store.path, isolation_level=None)  # jacs writing the same file
    for i in range(30):
        body = json.dumps({"jacsId": f"ext-{i}", "title": f"From jacs {_title(rnd)}"}, ensure_ascii=False)
        raw.execute("INSERT INTO jacs_document(jacs_id, jacs_version, jacs_type, raw_contents, file_contents) "
                    "VALUES (?, 'v1', 'header', ?, '{}')", (f"ext-{i}", body))
    raw.execute("DELETE FROM jacs_document WHERE jacs_id = ?", (ids[40],))
    raw.close()
    assert store.sync_summaries() >= 31
    _check_exact(c, rnd)


def _downgrade(path):
    """The database as the version before the search index left it (summary version 1)."""
    raw = sqlite3.connect(path, isolation_level=None)
    for name in ("jd_doc_fts_ai", "jd_doc_fts_ad", "jd_doc_fts_au", "jd_doc_gram_ai", "jd_doc_gram_ad",
                 "jd_doc_gram_au"):
        raw.execute(f"DROP TRIGGER {name}")
    for name in ("jd_gram", "jd_gram_row", "jd_gram_upto"):
        raw.execute(f"DROP TABLE {name}")
    raw.execute("DROP TABLE jd_doc_fts")
    raw.execute("DROP TABLE jd_fts_upto")
    raw.execute("DELETE FROM jd_meta WHERE name = 'summary_version'")
    raw.close()


class _Once:
    """A cancel flag that lets one batch through per call."""

    def __init__(self):
        self.asked = 0

    def is_set(self):
        self.asked += 1
        return self.asked > 1


def test_an_older_database_is_migrated_and_indexed_in_batches_while_written(tmp_path):
    rnd = random.Random(99)
    path = tmp_path / "old.sqlite3"
    objects = SqliteStore(path)
    ids = [_put(objects, rnd, archived=rnd.random() < 0.1) for _ in range(150)]
    objects.close()
    _downgrade(path)
    objects = SqliteStore(path)  # opened by this version: migrated, the index empty
    try:
        c = objects._conn()
        assert c.execute("SELECT value FROM jd_meta WHERE name = 'summary_version'").fetchone()[0] == str(sp.SUMMARY_VERSION)
        assert not sp.search_index_ready(c)
        assert sp.migrate(c) == sp.SUMMARY_VERSION  # twice: nothing more
        batches = 0
        while not (sp.search_index_ready(c) and sqlite_grams.ready(c)):
            sp.build_search_index(c, _Once(), batch=16, gram_batch=16)
            batches += 1
            if sp.search_index_ready(c) and sqlite_grams.ready(c):  # built (a write now: its row in the tail)
                break
            # writes between batches: rows already indexed and rows not yet, changed and deleted
            _put(objects, rnd, rnd.choice(ids))  # a new version: its row made again (a new rowid)
            _put(objects, rnd)
            victim = rnd.choice(ids)
            for info in list(objects.list(f"documents/{victim}:")):
                objects.delete(info.key)
        assert batches >= 2 * 150 // 16  # the trigrams, then the short texts
        _check_exact(c, rnd)
        assert objects.build_search_index() == 0  # done: nothing to add
    finally:
        objects.close()


def test_a_big_sync_leaves_its_rows_to_the_batches(store):
    """Rows another program wrote, summarized in bulk: not indexed one by one by the triggers
    (paused), then added by batches; exact again afterwards."""
    rnd = random.Random(5)
    for _ in range(20):
        _put(store, rnd)
    fold_tail(store._conn())  # the single writes' rows entered: the build below has the 60 alone
    raw = sqlite3.connect(store.path, isolation_level=None)
    for i in range(60):
        body = json.dumps({"jacsId": f"bulk-{i}", "title": _title(rnd)}, ensure_ascii=False)
        raw.execute("INSERT INTO jacs_document(jacs_id, jacs_version, jacs_type, raw_contents, file_contents) "
                    "VALUES (?, 'v1', 'header', ?, '{}')", (f"bulk-{i}", body))
    raw.close()
    c = store._conn()
    assert sp.sync(c, bulk=10, batch=25) == 60
    assert not sp.search_index_ready(c)
    assert store.build_search_index() == 2 * 60  # to each index
    _check_exact(c, rnd, n=30)


def test_a_new_empty_store_is_indexed_at_once(store):
    assert sp.search_index_ready(store._conn())


def test_a_read_only_older_database_is_left_as_it_is(tmp_path):
    """Opened where it cannot be written: not migrated, no error; nothing to build either."""
    path = tmp_path / "ro.sqlite3"
    objects = SqliteStore(path)
    _put(objects, random.Random(3))
    objects.close()
    _downgrade(path)
    ro = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    assert sp.migrate(ro) == 1
    assert not sp.search_index_ready(ro)
    assert sp.build_search_index(ro) == 0
    ro.close()
