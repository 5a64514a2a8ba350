"""The window fits the screen the first time, and remembers geometry, splitters, column widths
and sort order across runs."""

from __future__ import annotations

import pytest
from conftest import FIXTURE
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QSplitter

from jacs_desktop.ui.browser import BrowserWindow


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("JACS_DESKTOP_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("JACS_DESKTOP_CACHE_DIR", str(tmp_path / "cache"))
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def _open(qtbot, settings: QSettings) -> BrowserWindow:
    w = BrowserWindow(None, settings=settings, watch=False)
    qtbot.addWidget(w)
    w.show()
    w.open_url(str(FIXTURE))
    qtbot.waitUntil(lambda: w.snapshot is not None and w.snapshot.documents and w.workers.active == 0,
                    timeout=60000)
    return w


def test_first_window_fits_the_screen(qtbot, env) -> None:
    w = BrowserWindow(None, settings=env, watch=False)
    qtbot.addWidget(w)
    w.show()
    area = w.screen().availableGeometry()
    assert w.width() <= area.width() and w.height() <= area.height()
    assert area.contains(w.geometry().center())
    w.close()


def test_geometry_splitters_widths_and_sort_order_are_restored(qtbot, env) -> None:
    w = _open(qtbot, env)
    w.resize(640, 520)
    size = (w.width(), w.height())  # what the window took (its minimum size may be wider)
    main = w.findChild(QSplitter, "main")
    main.setSizes([150, 300, 250])
    sizes = main.sizes()
    header = w.docs_view.horizontalHeader()
    header.resizeSection(1, 211)
    w.docs_view.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    w.close()

    again = _open(qtbot, env)
    assert (again.width(), again.height()) == size
    assert again.findChild(QSplitter, "main").sizes() == sizes
    h2 = again.docs_view.horizontalHeader()
    assert h2.sectionSize(1) == 211  # not re-fitted to the contents after the load
    assert (h2.sortIndicatorSection(), h2.sortIndicatorOrder()) == (1, Qt.SortOrder.DescendingOrder)
    # the rows really are in that order
    m = again.docs_view.model()
    texts = [m.index(r, 1).data() or "" for r in range(m.rowCount())]
    assert texts == sorted(texts, key=str.lower, reverse=True) or texts == sorted(texts, reverse=True)
    again.close()


def test_a_saved_state_from_another_layout_is_ignored(qtbot, env) -> None:
    env.setValue("window/geometry", b"not a geometry")
    env.setValue("window/table/docs_view", b"garbage")
    env.setValue("window/splitter/main", b"\x00\x01")
    w = BrowserWindow(None, settings=env, watch=False)
    qtbot.addWidget(w)
    w.show()
    assert w.width() > 100 and w.findChild(QSplitter, "main").sizes()
    w.close()


def test_long_status_text_and_urls_never_widen_the_window(qtbot, env, tmp_path) -> None:
    w = BrowserWindow(None, settings=env, watch=False)
    qtbot.addWidget(w)
    w.show()
    w.resize(640, 500)
    width = w.width()
    long_text = "7 documents, 13 versions: 13 valid · " * 20
    w.status.set_text(long_text)
    w.status.set_watch_hint("⚠ The list may be out of date: " + "x" * 400)
    deep = tmp_path.joinpath(*["a-rather-long-folder-name"] * 12)
    deep.mkdir(parents=True)
    w.open_url(str(deep))
    qtbot.wait(300)
    assert w.width() == width
    assert w.count_label.text() == w.status.text()  # the whole text is kept for copy and tests
    w.status.set_text(long_text)
    assert w.count_label.shown_text().endswith("…") and w.count_label.toolTip() == long_text
    w.close()


def test_actions_have_icons_and_dialog_items_end_in_an_ellipsis(qtbot, env) -> None:
    from jacs_desktop.ui.browser.actions import ICONS

    w = BrowserWindow(None, settings=env, watch=False)
    qtbot.addWidget(w)
    for name in ICONS:
        assert not getattr(w, name).icon().isNull(), name
    # the items that open a dialog or a wizard say so
    for name in ("act_open", "act_connect_s3", "act_open_sqlite", "act_new_store", "act_migrate", "act_backup",
                 "act_restore", "act_settings", "act_about", "act_shortcuts", "act_new_doc", "act_new_version"):
        assert getattr(w, name).text().endswith("…"), name
    assert not w.act_refresh.text().endswith("…") and not w.act_quit.text().endswith("…")
    w.close()


def test_refresh_keeps_selection_tab_and_scroll_position(qtbot, env) -> None:
    w = _open(qtbot, env)
    w.resize(640, 420)
    w.findChild(QSplitter, "documents").setSizes([60, 300])  # a short documents table: it scrolls
    w.tabs.setCurrentIndex(1)
    qtbot.wait(50)
    bar = w.docs_view.verticalScrollBar()
    assert bar.maximum() > 0
    w.docs_view.selectRow(0)  # selected at the top, scrolled to the bottom: both come back
    doc_id = w.docs_model.row_object(0).id
    bar.setValue(bar.maximum())
    where = bar.value()
    # a slow listing loses the position (here the rows come back fast enough to keep it): lose it on purpose
    # just before the window puts things back
    read = w.documents.summaries_read

    def lose_position() -> None:
        read()
        w.docs_view.verticalScrollBar().setValue(0)

    w.documents.summaries_read = lose_position
    w.refresh()
    qtbot.waitUntil(lambda: w.workers.active == 0 and w.snapshot is not None and w.docs_model.rowCount() == 7
                    and w._view_after_load is None, timeout=60000)
    assert w.tabs.currentIndex() == 1 and w.docs_view.verticalScrollBar().value() == where
    rows = w.docs_view.selectionModel().selectedRows()
    assert rows and w.docs_model.row_object(rows[0].row()).id == doc_id
    w.close()
