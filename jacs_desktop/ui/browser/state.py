"""What the window remembers between runs: its geometry, its splitters, and each table's column
widths and sort order (QSettings, under ``window/``). The first window fits the screen it opens on.

The tables are found by their attribute names on the window (``docs_view``, ``versions_view``, …),
the splitters by their object names, so a panel that adds a table or a splitter only names it.
A saved state from another layout (other columns) is ignored by Qt's ``restoreState``.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QApplication, QMainWindow, QSplitter, QTableView, QWidget

from .columns import KEEP_WIDTHS

__all__ = ["KEEP_WIDTHS", "TABLES", "fit_to_screen", "restore_window_state", "save_window_state"]

#: the tables whose widths and sort order are kept
TABLES = ("agents_view", "docs_view", "archived_view", "versions_view", "attachments_view", "checks_view")
PREFERRED = (1400, 860)


def fit_to_screen(window: QWidget, preferred: tuple[int, int] = PREFERRED) -> None:
    """Size a first window to ``preferred`` or 90 % of the screen's free area, whichever is
    smaller, and centre it there (a 1366×768 laptop gets a window that fits)."""
    screen = window.screen() or QApplication.primaryScreen()
    if screen is None:
        window.resize(*preferred)
        return
    area = screen.availableGeometry()
    w = min(preferred[0], int(area.width() * 0.9))
    h = min(preferred[1], int(area.height() * 0.9))
    window.resize(w, h)
    window.move(area.x() + (area.width() - w) // 2, area.y() + (area.height() - h) // 2)


def _splitters(window: QWidget) -> list[QSplitter]:
    return [s for s in window.findChildren(QSplitter) if s.objectName()]


def _bytes(value: object) -> QByteArray | None:
    if isinstance(value, QByteArray) and not value.isEmpty():
        return value
    if isinstance(value, (bytes, bytearray)) and value:
        return QByteArray(bytes(value))
    return None


def save_window_state(window: QMainWindow, settings: QSettings) -> None:
    settings.setValue("window/geometry", window.saveGeometry())
    settings.setValue("window/state", window.saveState())
    for s in _splitters(window):
        settings.setValue(f"window/splitter/{s.objectName()}", s.saveState())
    for name in TABLES:
        view = getattr(window, name, None)
        if isinstance(view, QTableView):
            settings.setValue(f"window/table/{name}", view.horizontalHeader().saveState())
    settings.sync()


def restore_window_state(window: QMainWindow, settings: QSettings) -> bool:
    """Restore what :func:`save_window_state` saved; False (and the window fitted to the screen)
    when nothing was saved."""
    geometry = _bytes(settings.value("window/geometry"))
    if geometry is None or not window.restoreGeometry(geometry):
        fit_to_screen(window)
        restored = False
    else:
        restored = True
    state = _bytes(settings.value("window/state"))
    if state is not None:
        window.restoreState(state)
    for s in _splitters(window):
        saved = _bytes(settings.value(f"window/splitter/{s.objectName()}"))
        if saved is not None:
            s.restoreState(saved)
    for name in TABLES:
        view = getattr(window, name, None)
        saved = _bytes(settings.value(f"window/table/{name}"))
        if not isinstance(view, QTableView) or saved is None:
            continue
        header = view.horizontalHeader()
        if header.restoreState(saved):
            view.setProperty(KEEP_WIDTHS, True)
            if view.isSortingEnabled() and header.sortIndicatorSection() >= 0:
                view.sortByColumn(header.sortIndicatorSection(), header.sortIndicatorOrder())
    return restored
