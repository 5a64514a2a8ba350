"""The stores sidebar: saved connections and recent stores, with their state, and
the buttons that open or make one."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QPushButton, QStyle, QVBoxLayout, QWidget

from ..theme import error_color
from .columns import tr

__all__ = ["SourcesPanel"]

_STATE_MARKS = {"connected": "  ●", "error": "  ⚠", "working": "  …"}


class SourcesPanel(QWidget):
    #: a store was picked (clicked or activated): its url
    open_requested = Signal(str)
    #: the buttons
    folder_requested = Signal()
    s3_requested = Signal()
    sqlite_requested = Signal()
    new_store_requested = Signal()

    def __init__(self, settings: QSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings
        self._status: dict[str, tuple[str, str]] = {}
        sl = QVBoxLayout(self)
        sl.setContentsMargins(6, 6, 6, 6)
        sl.addWidget(QLabel(tr("<b>Stores</b>"), self))
        self.list = QListWidget(self)
        self.list.itemActivated.connect(self._picked)
        self.list.itemClicked.connect(self._picked)
        sl.addWidget(self.list, 1)
        for text, signal in ((tr("Open folder…"), self.folder_requested), (tr("Connect…"), self.s3_requested),
                             (tr("Open SQLite…"), self.sqlite_requested),
                             (tr("New store…"), self.new_store_requested)):
            b = QPushButton(text, self)
            b.clicked.connect(signal)
            sl.addWidget(b)

    def _picked(self, item: QListWidgetItem) -> None:
        self.open_requested.emit(item.data(Qt.ItemDataRole.UserRole))

    # ------------------------------------------------------------------ recent stores
    def recent(self) -> list[str]:
        v: object = self.settings.value("recent", [])
        if isinstance(v, str):
            v = [v]
        return [x for x in (v if isinstance(v, list) else []) if isinstance(x, str)][:10]

    def remember(self, url: str) -> None:
        rec = [url] + [u for u in self.recent() if u != url]
        self.settings.setValue("recent", rec[:10])
        self.settings.setValue("last", url)
        self.reload()

    # ------------------------------------------------------------------ list
    def set_status(self, url: str, state: str, reason: str = "") -> None:
        """*state*: connected, error or working (shown as a mark, *reason* in the tooltip)."""
        self._status = {**self._status, url: (state, reason)}
        self.reload()

    def reload(self) -> None:
        status = self._status
        self.list.clear()
        entries: list[tuple[str, str]] = []
        try:
            from ...storage.connections import Connections

            entries += [(c.name, f"profile:{c.name}") for c in Connections().list()]
        except Exception as exc:
            entries.append((tr("(connections unreadable: {0})").format(exc), ""))
        recent = self.recent()
        urls = recent + [u for u in status if u not in recent and not u.startswith("profile:")]
        entries += [((Path(u).name or u) if "://" not in u else u, u) for u in urls]
        for text, url in entries:
            st = status.get(url)
            it = QListWidgetItem(text + _STATE_MARKS.get(st[0] if st else "", ""))
            icon = (QStyle.StandardPixmap.SP_DirIcon if "://" not in url and not url.startswith("profile:")
                    else QStyle.StandardPixmap.SP_DriveNetIcon)
            it.setIcon(self.style().standardIcon(icon))
            it.setData(Qt.ItemDataRole.UserRole, url)
            it.setToolTip(url + (f"\n{st[1]}" if st and st[1] else ""))
            if st and st[0] == "error":
                it.setForeground(QColor(error_color()))
            self.list.addItem(it)
