"""The SQLite backend's paged, indexed document queries (jobs/doc_pages, storage/sqlite_pages)
give exactly what the generic in-memory fallback gives over the full listing: the same rows,
summaries, order and filter, on a seeded random store (our writes and rows another program
wrote, archived documents, ties, missing titles, non-ASCII text, verdicts)."""

import json
import random
import sqlite3
import uuid

import pytest

from jacs_desktop.core.verify import Verdict
from jacs_desktop.jobs import doc_pages
from jacs_desktop.jobs.browse import SnapshotBuilder, count_versions, fill_summaries, stream_refs
from jacs_desktop.jobs.doc_pages import SORT_NAMES, ListPager, SqlPager, paged_tables
from jacs_desktop.storage.sqlite import SqliteStore
from jacs_desktop.storage.store import Store

AGENT = "a1a1a1a1-0000-4000-8000-000000000001"
WORDS = ["Invoice", "invoice", "Ärger", "straße", "STRASSE", "report 4242", "Zebra", "émoji 🎉", "ties", "ties",
         "ıstanbul", "İzmir"]
STATUSES = ["valid", "invalid", "error", "legacy", "unverifiable"]


def _uuid(rnd):
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


def _doc(rnd, jid, ver, date):
    doc = {"jacsId": jid, "jacsVersion": ver, "jacsType": rnd.choice(["header", "artifact", "message", None])}
    if rnd.random() < 0.8:
        doc["title"] = rnd.choice(WORDS) + ("" if rnd.random() < 0.5 else f" {rnd.randint(0, 30)}")
    if date:
        doc["jacsVersionDate"] = date
    if rnd.random() < 0.9:
        doc["jacsSignature"] = {"agentID": AGENT if rnd.random() < 0.3 else _uuid(rnd)}
    doc["jacsFiles"] = [{}] * rnd.randint(0, 3)
    return {k: v for k, v in doc.items() if v is not None}


def _build(path, seed=7, n=300):
    """n documents, 1-3 versions each, ~10% archived; half written by us (put), half inserted
    as another program would (raw rows, no summaries)."""
    rnd = random.Random(seed)
    objects = SqliteStore(path)
    agent = {"jacsId": AGENT, "jacsVersion": "v1", "jacsType": "agent", "name": "Mallory Example"}
    objects.put(f"jacs_data/agent/{AGENT}:v1.json", json.dumps(agent).encode())
    raw = sqlite3.connect(path, isolation_level=None)
    for _ in range(n):
        jid = _uuid(rnd)
        archived = rnd.random() < 0.1
        for _v in range(rnd.randint(1, 3)):
            ver = _uuid(rnd)
            date = rnd.choice([None, f"2025-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}T00:00:00Z"])
            body = json.dumps(_doc(rnd, jid, ver, date), ensure_ascii=False)
            key = f"documents/{'archive/' if archived else ''}{jid}:{ver}.json"
            if rnd.random() < 0.5:
                objects.put(key, body.encode())
            else:
                raw.execute("INSERT INTO jacs_document(jacs_id, jacs_version, agent_id, jacs_type, raw_contents, "
                            "file_contents, removed) VALUES (?,?,?,?,?,?,?)",
                            (jid, ver, None, "header", body, body, int(archived)))
    raw.close()
    return objects


def _classic(objects):
    """The generic path: every name listed, every summary read from the bodies."""
    store = Store(objects)
    builder = SnapshotBuilder(store)
    stream_refs(store, builder.add)
    return fill_summaries(builder.snapshot())


def _paged(objects):
    store = Store(objects)
    tables = paged_tables(store)
    assert tables is not None
    objects.sync_summaries()
    for t in tables:
        t.invalidate()
    builder = SnapshotBuilder(store)
    builder.paged = tables
    stream_refs(store, builder.add, documents=False)
    return fill_summaries(builder.snapshot())


def _ids(pager):
    while pager.more():
        pager.accept(pager.load_more())
    return [pager.row(i).id for i in range(pager.count())]


def _give_verdicts(rnd, classic_rows, paged_docs):
    """The same random verdicts (some versions left pending) on both sides."""
    for row in classic_rows:
        twin = paged_docs.row_by_id(row.id)
        for ref in row.refs:
            if rnd.random() < 0.6:
                v = Verdict(rnd.choice(STATUSES), id=row.id, version=ref.version, path=ref.key)
                row.set_verdict(ref.key, v)
                twin.set_verdict(ref.key, v)


@pytest.fixture
def stores(tmp_path):
    objects = _build(tmp_path / "s.sqlite3")
    classic = _classic(objects)
    paged = _paged(objects)
    yield objects, classic, paged
    objects.close()


def test_paged_rows_have_the_summaries_the_full_listing_reads(stores):
    _objects, classic, paged = stores
    assert paged.paged and not classic.paged
    for mine, theirs in ((paged.documents, classic.documents), (paged.archived, classic.archived)):
        assert len(mine) == len(theirs) > 10
        for row in theirs:
            twin = mine.row_by_id(row.id)
            assert twin is not None, row.id
            assert (twin.title, twin.type, twin.date, twin.signer, twin.attachments, twin.latest_key) == \
                (row.title, row.type, row.date, row.signer, row.attachments, row.latest_key)
            assert sorted(r.key for r in twin.refs) == sorted(r.key for r in row.refs)
            assert twin.search_text() == row.search_text()
    assert [r.id for r in paged.documents] == sorted(r.id for r in classic.documents)  # iterated by id
    assert count_versions(paged.documents) == count_versions(classic.documents)


@pytest.mark.parametrize("index", [False, True], ids=["sql-scan", "trigram-index"])
def test_paged_order_and_filter_match_the_generic_fallback(stores, index, monkeypatch):
    _objects, classic, paged = stores
    monkeypatch.setattr(doc_pages, "PAGE", 7)  # many pages, and page edges, on a small store
    assert paged.documents.search_ready() and paged.archived.search_ready()
    if not index:  # every filter matched by scanning
        monkeypatch.setattr(doc_pages, "MATCH_MIN", 10**6)
    rnd = random.Random(11)
    _give_verdicts(rnd, classic.documents, paged.documents)
    _give_verdicts(rnd, classic.archived, paged.archived)
    some = classic.documents[5]
    filters = ["", "invoice", "ties", "straße", "🎉", "4242", some.id[:6], "mallory", "no such text", "i",
               "ß", "zq", "ma", some.id[:2], "🎉"[:1] + " "]  # short ones: sqlite_grams
    for table, rows in ((paged.documents, classic.documents), (paged.archived, classic.archived)):
        for text in filters:
            for sort in SORT_NAMES:
                for desc in (False, True):
                    want = ListPager(rows)
                    want.set_order(sort, desc)
                    want.set_filter(text)
                    got = SqlPager(table)
                    got.set_order(sort, desc)
                    got.set_filter(text)
                    assert _ids(got) == _ids(want), (text, sort, desc)
                    ids = _ids(got)
                    if ids:
                        row = table.row_by_id(ids[len(ids) // 2])
                        assert got.position(row) == len(ids) // 2
    # full-text hits (a set of ids) sort the same way too
    hits = frozenset(r.id for r in classic.documents[::4])
    for sort in SORT_NAMES:
        want, got = ListPager(classic.documents), SqlPager(paged.documents)
        for p in (want, got):
            p.set_order(sort, True)
            p.set_filter("", hits)
        assert _ids(got) == _ids(want)


def test_lazy_filter_counts_by_pages(stores, monkeypatch):
    """A filter matching many rows is not counted up front: pages until the end, then exact."""
    _objects, classic, paged = stores
    monkeypatch.setattr(doc_pages, "PAGE", 10)
    monkeypatch.setattr(doc_pages, "MATCH_CAP", 5)
    want = [r for r in classic.documents if "e" in r.search_text()]
    pager = SqlPager(paged.documents)
    pager.set_filter("e")
    assert pager.more() and pager.count() == 10
    rows = pager.load_more()
    assert pager.count() == 10  # not counted until accepted (the model announces them first)
    pager.accept(rows)
    assert pager.count() == 20
    assert len(_ids(pager)) == len(want) and not pager.more()
    # through the search index too: more matches than the cap, so by pages
    want = [r for r in classic.documents if "ies" in r.search_text()]
    assert len(want) > 10
    pager.set_filter("ies")
    assert pager.more() and pager.count() == 10
    assert _ids(pager) == sorted(r.id for r in want) and not pager.more()


def test_writes_and_other_programs_changes_are_followed(stores, tmp_path):
    objects, _classic_snap, paged = stores
    docs = paged.documents
    pager = SqlPager(docs)
    first = docs.row_by_id(_ids(pager)[0])
    n = pager.count()
    # our write: a new version of a shown document, a new document
    newer = "ffffffff-0000-4000-8000-000000000000"
    objects.put(f"documents/{first.id}:{newer}.json", json.dumps(
        {"jacsId": first.id, "jacsVersion": newer, "jacsVersionDate": "2030-01-01T00:00:00Z",
         "title": "Newest title"}).encode())
    fresh = "00000000-0000-4000-8000-00000000abcd"
    objects.put(f"documents/{fresh}:v1.json", json.dumps({"jacsId": fresh, "title": "fresh"}).encode())
    docs.invalidate()
    pager.refresh()
    assert pager.count() == n + 1
    assert docs.row_by_id(first.id) is first and first.title == "Newest title" and len(first.refs) >= 2
    # another program: a row deleted, one archived, one inserted; sync catches up
    raw = sqlite3.connect(objects.path, isolation_level=None)
    raw.execute("DELETE FROM jacs_document WHERE jacs_id = ?", (fresh,))
    victim = _ids(pager)[3]
    raw.execute("UPDATE jacs_document SET removed = 1 WHERE jacs_id = ?", (victim,))
    raw.execute("INSERT INTO jacs_document(jacs_id, jacs_version, jacs_type, raw_contents, file_contents) "
                "VALUES ('zzzz', 'v1', 'header', '{\"title\": \"from jacs\"}', '{}')")
    raw.close()
    assert objects.sync_summaries() >= 3
    docs.invalidate()
    paged.archived.invalidate()
    assert [r.id for r in _classic(objects).documents if r.id == "zzzz"]
    classic = _classic(objects)
    for mine, theirs in ((docs, classic.documents), (paged.archived, classic.archived)):
        p = SqlPager(mine)
        assert _ids(p) == sorted(r.id for r in theirs)
    assert docs.row_by_id("zzzz").title == "from jacs"


def test_a_damaged_body_is_listed_untitled_not_dropped(tmp_path):
    objects = SqliteStore(tmp_path / "bad.sqlite3")
    raw = sqlite3.connect(objects.path, isolation_level=None)
    raw.execute("INSERT INTO jacs_document(jacs_id, jacs_version, jacs_type, raw_contents, file_contents) "
                "VALUES ('broken', 'v1', 'header', '{not json', '{}')")
    raw.close()
    paged = _paged(objects)
    row = paged.documents.row_by_id("broken")
    assert row is not None and row.title is None and len(paged.documents) == 1
    objects.close()
