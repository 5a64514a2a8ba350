"""The documents table of a SQLite store, read a page at a time (issue 14): rows appear,
sort and filter in the database, verdicts repaint their row as they land (pending until
then), the selection follows its row through a sort, a filter not counted up front grows
by pages; and in the window a forged older version is shown, as for every other store."""

import json
import sqlite3
import uuid
from dataclasses import replace

import pytest
from conftest import MANIFEST
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QAbstractItemModelTester
from PySide6.QtWidgets import QTableView

from jacs_desktop.core.verify import Verdict
from jacs_desktop.jobs import doc_pages
from jacs_desktop.jobs.doc_pages import SORT_NAMES, SqlPager, paged_tables
from jacs_desktop.storage.fs import FsStore
from jacs_desktop.storage.sqlite import SqliteStore
from jacs_desktop.storage.store import Store
from jacs_desktop.ui.browser import BrowserWindow
from jacs_desktop.ui.browser.columns import document_columns
from jacs_desktop.ui.models import RowTableModel

N = 600
CHAIN = "52e07b44-6d02-4085-8401-6c5efce90602"
FIRST = MANIFEST["version_chains"][CHAIN][0]


@pytest.fixture
def big(tmp_path, monkeypatch):
    """N documents inserted as another program would, then summarized (sync); pages of 40
    rows (the item model tester reads every row after each change: a small table keeps it quick)."""
    monkeypatch.setattr(doc_pages, "PAGE", 40)
    objects = SqliteStore(tmp_path / "big.sqlite3")
    raw = sqlite3.connect(objects.path, isolation_level=None)
    raw.execute("BEGIN")
    for i in range(N):
        jid = str(uuid.UUID(int=i + 1))
        body = json.dumps({"jacsId": jid, "jacsVersion": "v1", "jacsType": "header", "title": f"document {i:04d}"})
        raw.execute("INSERT INTO jacs_document(jacs_id, jacs_version, jacs_type, raw_contents, file_contents) "
                    "VALUES (?, 'v1', 'header', ?, ?)", (jid, body, body))
    raw.execute("COMMIT")
    raw.close()
    objects.sync_summaries()
    store = Store(objects)
    live, _archived = paged_tables(store)
    yield live
    store.close()


def _model(qtbot, docs):
    model = RowTableModel(document_columns())
    model.set_pager(SqlPager(docs), SORT_NAMES)
    # before the view: its checks of a reset run before the view fetches more rows in answer
    tester = QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal, model)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setSortingEnabled(True)
    view.sortByColumn(3, Qt.SortOrder.AscendingOrder)  # by id
    view.resize(600, 400)
    view.show()
    return model, view, tester


def test_paged_model_rows_sort_filter_and_selection(qtbot, qtmodeltester, big):
    pager = SqlPager(big)
    assert pager.count() == N and pager.row(0).id and len(big.made) == doc_pages.PAGE  # made as asked for
    model, view, _tester = _model(qtbot, big)
    qtmodeltester.check(model)
    assert model.rowCount() == N
    title = 1
    view.sortByColumn(title, Qt.SortOrder.DescendingOrder)
    assert model.data(model.index(0, title)) == f"document {N - 1:04d}"
    view.selectRow(5)
    chosen = model.row_object(5)
    view.sortByColumn(title, Qt.SortOrder.AscendingOrder)  # the selection follows its row
    assert view.currentIndex().row() == N - 6 and model.row_object(view.currentIndex().row()) is chosen
    assert view.selectionModel().isRowSelected(N - 6)
    assert model.data(model.index(0, title)) == "document 0000"
    model.set_filter(lambda r: "document 001" in r.search_text(), text="document 001")
    assert model.rowCount() == 10  # 0010-0019
    assert [model.data(model.index(r, title)) for r in range(3)] == ["document 0010", "document 0011",
                                                                     "document 0012"]
    model.set_filter(None, text=None)
    assert model.rowCount() == N
    qtmodeltester.check(model)


def test_verdicts_repaint_their_row_and_sort_by_verdict(qtbot, big):
    model, view, _tester = _model(qtbot, big)
    row = model.row_object(2)
    assert model.data(model.index(2, 0)) == "… pending"  # never valid before it is checked
    changed = []
    model.dataChanged.connect(lambda a, b: changed.append((a.row(), b.row())))
    ref = row.refs[0]
    row.set_verdict(ref.key, Verdict("invalid", id=row.id, version=ref.version, path=ref.key))
    model.row_changed(row)
    assert changed == [(2, 2)]
    assert model.data(model.index(2, 0)) == "✗ invalid"
    # sorted by verdict, worst first: the invalid one leads, the pending ones follow by id
    view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert model.row_object(0) is row and model.rowCount() == N
    assert model.row_object(1).id > model.row_object(2).id
    other = model.row_object(10)
    other.set_verdict(other.refs[0].key, Verdict("valid", id=other.id, version="v1", path=other.refs[0].key))
    model.resort()
    assert model.row_object(N - 1) is other  # valid last, below every pending row
    assert model.row_of(other) == N - 1


def test_a_filter_matching_many_rows_grows_by_pages(qtbot, big, monkeypatch):
    monkeypatch.setattr(doc_pages, "MATCH_CAP", 100)
    assert big.search_ready()
    model, _view, _tester = _model(qtbot, big)
    model.set_filter(lambda r: "document" in r.search_text(), text="document")
    assert model.rowCount() == doc_pages.PAGE and model.canFetchMore()
    inserted = []
    model.rowsInserted.connect(lambda _p, a, b: inserted.append((a, b)))
    while model.canFetchMore():
        model.fetchMore()
    assert model.rowCount() == N
    assert len(inserted) == -(-N // doc_pages.PAGE) - 1  # one insert per page, not one per row
    model.set_filter(lambda r: "document 0042" in r.search_text(), text="document 0042")  # few: counted
    assert model.rowCount() == 1 and not model.canFetchMore()


# -- the window on a SQLite store ---------------------------------------------------------------

def _sqlite_copy(src, path, forge=None):
    """Every object of the folder store *src* put into a new SQLite store (documents into
    jacs's table), *forge*(doc) applied to the chain's first version."""
    fs = FsStore(src)
    objects = SqliteStore(path)
    for info in fs.list(""):
        data = fs.get(info.key)
        if forge is not None and info.key == f"documents/{CHAIN}:{FIRST}.json":
            doc = json.loads(data)
            forge(doc)
            data = json.dumps(doc, indent=2).encode()
        objects.put(info.key, data)
    objects.close()
    return f"sqlite://{path}"


def _window(qtbot, tmp_path, verify_on_open):
    from jacs_desktop.storage.settings import Settings

    w = BrowserWindow(None, settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), watch=False,
                      prefs=replace(Settings(), verify_on_open=verify_on_open, welcome_done=True))
    qtbot.addWidget(w)
    w._testers = [QAbstractItemModelTester(m, QAbstractItemModelTester.FailureReportingMode.Fatal, w)
                  for m in (w.agents_model, w.docs_model, w.archived_model, w.versions_model)]
    w.show()
    return w


def _verified(w):
    snap = w.snapshot
    return bool(snap is not None and snap.documents and w.workers.active == 0
                and all(r.key in row.verdicts for row in [*snap.documents, *snap.agents] for r in row.refs))


def _amount(doc):
    doc["jacsDocument"]["content"]["amount"] = 1_000_000


def test_window_shows_a_forged_older_version_of_a_sqlite_store(qtbot, tmp_path, fixture_copy):
    url = _sqlite_copy(fixture_copy, tmp_path / "store.sqlite3", forge=_amount)
    w = _window(qtbot, tmp_path, verify_on_open=True)
    w.open_url(url)
    qtbot.waitUntil(lambda: _verified(w), timeout=60000)
    assert w.docs_model.pager is not None  # read a page at a time
    row = w.documents.docs_model.pager.docs.row_by_id(CHAIN)
    assert row.verdict.status == "valid" and row.status == "invalid"  # the latest is fine, the row is not
    r = w.docs_model.row_of(row)
    assert w.docs_model.data(w.docs_model.index(r, 0)) == "✗ 1 of 3 versions invalid"
    assert "7 documents, 13 versions: 12 valid, 1 invalid" in w.count_label.text()
    # selected: its versions, each with its verdict
    w.tabs.setCurrentIndex(1)
    w.docs_view.selectRow(r)
    qtbot.waitUntil(lambda: w._versions_of is row and w.workers.active == 0
                    and all(v.verdict for v in w.versions_model.all_rows), timeout=20000)
    assert {v.node.version: v.status for v in w.versions_model.all_rows}[FIRST] == "invalid"
    # sorted by verdict, worst first; the filter finds it by title words and by id
    w.docs_view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert w.docs_model.row_object(0) is row
    w.search.setText(CHAIN[:8])
    assert w.docs_model.rowCount() == 1 and w.docs_model.row_object(0) is row
    w.close()


def test_window_sorted_by_verdict_follows_verdicts_as_they_arrive(qtbot, tmp_path, fixture_copy):
    url = _sqlite_copy(fixture_copy, tmp_path / "store.sqlite3", forge=_amount)
    w = _window(qtbot, tmp_path, verify_on_open=False)
    w.open_url(url)
    qtbot.waitUntil(lambda: w.snapshot is not None and w.workers.active == 0 and w.docs_model.rowCount() == 7,
                    timeout=60000)
    rows = [w.docs_model.row_object(i) for i in range(7)]
    assert all(r.status == "pending" for r in rows)
    w.docs_view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    w.verify_all()
    qtbot.waitUntil(lambda: _verified(w), timeout=60000)
    assert w.docs_model.row_object(0).id == CHAIN
    assert [w.docs_model.row_object(i).status for i in range(7)] == ["invalid"] + ["valid"] * 6
    w.close()
