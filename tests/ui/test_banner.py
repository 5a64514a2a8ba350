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
