"""Errors and information look different, can be dismissed, and clear when the problem is gone."""

from __future__ import annotations

from conftest import FIXTURE
from PySide6.QtCore import QSettings

from jacs_desktop.ui import theme
from jacs_desktop.ui.browser import BrowserWindow


def test_error_and_info_banners_differ_and_dismiss(qtbot, tmp_path) -> None:
    w = BrowserWindow(None, settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), watch=False)
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.load_failed, timeout=10000):
        w.open_url(str(tmp_path / "missing"))
    b = w.banner
    assert b.isVisible() and b.kind == "error" and "not a folder" in b.text()
    error_style = b.label.styleSheet()
    assert theme.current().error_banner[0] in error_style
    b.close_button.click()
    assert not b.isVisible()
    w.documents.show_banner("A notice", "info")
    assert b.isVisible() and b.kind == "info" and theme.current().info_banner[0] in b.label.styleSheet()
    assert b.label.styleSheet() != error_style and b.icon.toolTip() == "Information"
    # an error, then a store that opens: the error is gone
    with qtbot.waitSignal(w.load_failed, timeout=10000):
        w.open_url(str(tmp_path / "missing-too"))
    assert b.isVisible() and b.kind == "error"
    w.open_url(str(FIXTURE))
    qtbot.waitUntil(lambda: w.snapshot is not None and w.workers.active == 0, timeout=60000)
    assert not b.isVisible()
    w.close()


def test_no_matches_says_what_next_and_escape_clears_the_filter(qtbot, tmp_path) -> None:
    from PySide6.QtCore import Qt

    w = BrowserWindow(None, settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), watch=False)
    qtbot.addWidget(w)
    w.show()
    w.open_url(str(FIXTURE))
    qtbot.waitUntil(lambda: w.snapshot is not None and w.workers.active == 0, timeout=60000)
    w.tabs.setCurrentIndex(1)
    d = w.documents
    qtbot.keyClicks(d.search, "zzz-no-such-thing")
    assert d.docs_model.rowCount() == 0 and d.no_match_label.isVisible()
    assert "Press Enter to search the full text" in d.no_match_label.text()
    d.search.setFocus()
    qtbot.keyClick(d.search, Qt.Key.Key_Escape)
    assert d.search.text() == "" and not d.no_match_label.isVisible() and d.docs_model.rowCount() == 7
    qtbot.keyClicks(d.search, "report")
    assert d.docs_model.rowCount() == 1 and not d.no_match_label.isVisible()
    w.close()


def test_a_cancelled_listing_says_the_store_is_shown_in_part(qtbot, tmp_path) -> None:
    w = BrowserWindow(None, settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), watch=False)
    qtbot.addWidget(w)
    w.show()
    w.open_url(str(FIXTURE))
    qtbot.waitUntil(lambda: w.snapshot is not None and w.workers.active == 0, timeout=60000)
    w.session.stop_listing = lambda: True  # as if Cancel came while it was still listing
    w.cancel_clicked()
    assert w.banner.isVisible() and w.banner.kind == "info"
    assert "shown only in part (7 documents listed so far)" in w.banner.text()
    assert "listing cancelled" in w.count_label.text()
    w.close()


def test_a_failed_connect_comes_back_to_the_store_that_was_open(qtbot, tmp_path) -> None:
    w = BrowserWindow(None, settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), watch=False)
    qtbot.addWidget(w)
    w.show()
    w.open_url(str(FIXTURE))
    qtbot.waitUntil(lambda: w.snapshot is not None and w.workers.active == 0, timeout=60000)
    with qtbot.waitSignal(w.load_failed, timeout=30000):
        w.open_url("s3://bucket?endpoint_url=http://127.0.0.1:9&max_attempts=1&connect_timeout=1",
                   secrets={"access_key": "a", "secret_key": "b"})
    qtbot.waitUntil(lambda: w.url == str(FIXTURE) and w.snapshot is not None and w.docs_model.rowCount() == 7,
                    timeout=60000)
    assert w.banner.isVisible() and w.banner.kind == "error"
    assert "Cannot open s3://bucket" in w.banner.text() and f"{FIXTURE} is shown again" in w.banner.text()
    w.close()


def test_a_failed_refresh_keeps_the_last_listing_marked_stale(qtbot, tmp_path) -> None:
    import shutil

    store = tmp_path / "store"
    shutil.copytree(FIXTURE, store)
    w = BrowserWindow(None, settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), watch=False)
    qtbot.addWidget(w)
    w.show()
    w.open_url(str(store))
    qtbot.waitUntil(lambda: w.snapshot is not None and w.workers.active == 0, timeout=60000)
    store.rename(tmp_path / "gone-for-now")  # the store cannot be read for a while
    with qtbot.waitSignal(w.load_failed, timeout=30000):
        w.refresh()
    assert w.docs_model.rowCount() == 7 and w.banner.kind == "error"
    assert "Cannot refresh" in w.banner.text() and "may be out of date" in w.banner.text()
    assert w.count_label.text().startswith("Stale: listed at")
    # a stale row is shown, not read: selecting it reads nothing and raises nothing
    w.tabs.setCurrentIndex(1)
    w.docs_view.selectRow(0)
    qtbot.wait(100)
    assert w.versions_model.rowCount() == 0
    # the store is back: a refresh lists it, the banner goes
    (tmp_path / "gone-for-now").rename(store)
    w.refresh()
    qtbot.waitUntil(lambda: w.snapshot is not None and w.workers.active == 0, timeout=60000)
    assert not w.banner.isVisible() and not w.count_label.text().startswith("Stale")
    w.close()
