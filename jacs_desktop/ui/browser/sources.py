"""The stores sidebar: saved connections and recent stores, the buttons that open or make one,
and a context menu on each store.

- The store that is open is shown in bold and selected; a store's mark is true: ● for the open
  one, … while it opens, ⚠ when opening it failed (the reason in the tooltip). A store opened
  earlier in this run and closed since has no mark.
- Each store is listed once: a saved connection hides the recent entries that are the same store
  (``profile:NAME`` or its URL); URLs that differ only by a trailing ``/`` are one store.
- The order does not change under the pointer: opening a store moves it to the top of the
  recent list that is saved, but the list shown keeps its order until the next start.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, QSettings, Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QFont, QGuiApplication
from PySide6.QtWidgets import (
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from ..theme import error_color
from .columns import tr

__all__ = ["SourcesPanel", "same_store"]

_STATE_MARKS = {"open": "  ●", "error": "  ⚠", "working": "  …"}


def _norm(url: str) -> str:
    u = url.strip()
    return u.rstrip("/") if len(u) > 1 else u


def same_store(a: str, b: str) -> bool:
    return _norm(a) == _norm(b)


def _local_path(url: str) -> Path | None:
    """The file or folder of a local store (folder, sqlite://, jsonl://), else None."""
    if url.startswith("profile:"):
        return None
    for scheme in ("sqlite://", "jsonl://", "file://"):
        if url.startswith(scheme):
            return Path(url[len(scheme):])
    return None if "://" in url else Path(url)


class SourcesPanel(QWidget):
    #: a store was picked (clicked or activated): its url
    open_requested = Signal(str)
    #: "Verify this" in the context menu: open the store (if it is not open) and verify all
    verify_requested = Signal(str)
    #: "Edit…" on a saved connection: its name
    edit_requested = Signal(str)
    #: the buttons
    folder_requested = Signal()
    s3_requested = Signal()
    sqlite_requested = Signal()
    new_store_requested = Signal()

    def __init__(self, settings: QSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings
        self._status: dict[str, tuple[str, str]] = {}
        self.current = ""
        #: the recent stores in the order shown this run (see the module note)
        self._order: list[str] = []
        sl = QVBoxLayout(self)
        sl.setContentsMargins(6, 6, 6, 6)
        sl.addWidget(QLabel(tr("<b>Stores</b>"), self))
        self.list = QListWidget(self)
        self.list.itemActivated.connect(self._picked)
        self.list.itemClicked.connect(self._picked)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu_at)
        sl.addWidget(self.list, 1)
        for text, signal in ((tr("Open folder…"), self.folder_requested), (tr("Connect…"), self.s3_requested),
                             (tr("Open SQLite…"), self.sqlite_requested),
                             (tr("New store…"), self.new_store_requested)):
            b = QPushButton(text, self)
            b.clicked.connect(signal)
            sl.addWidget(b)
        self.menu: QMenu | None = None  # the last context menu (tests look at it)

    def _picked(self, item: QListWidgetItem) -> None:
        url = item.data(Qt.ItemDataRole.UserRole)
        if url:
            self.open_requested.emit(url)

    # ------------------------------------------------------------------ recent stores
    def recent(self) -> list[str]:
        v: object = self.settings.value("recent", [])
        if isinstance(v, str):
            v = [v]
        out: list[str] = []
        for x in v if isinstance(v, list) else []:
            if isinstance(x, str) and x and not any(same_store(x, y) for y in out):
                out.append(x)
        return out[:10]

    def remember(self, url: str) -> None:
        rec = [url] + [u for u in self.recent() if not same_store(u, url)]
        self.settings.setValue("recent", rec[:10])
        self.settings.setValue("last", url)
        self.reload()

    def forget(self, url: str) -> None:
        """Take *url* off the recent stores (the store itself is not touched)."""
        self.settings.setValue("recent", [u for u in self.recent() if not same_store(u, url)])
        if same_store(str(self.settings.value("last", "") or ""), url):
            self.settings.remove("last")
        self._order = [u for u in self._order if not same_store(u, url)]
        self._status.pop(url, None)
        self.reload()

    # ------------------------------------------------------------------ saved connections
    def _connections(self):  # -> storage.connections.Connections
        from ...storage.connections import Connections

        return Connections()

    def rename_connection(self, old: str, new: str) -> str:
        """Rename a saved connection (its secret key moves with it); returns the new name."""
        c = self._connections().rename(old, new)
        was, now = f"profile:{old}", f"profile:{c.name}"
        if self.current == was:
            self.current = now
        self.settings.setValue("recent", [now if u == was else u for u in self.recent()])
        self._order = [now if u == was else u for u in self._order]
        self.reload()
        return c.name

    def remove_connection(self, name: str) -> None:
        self._connections().remove(name)
        self.forget(f"profile:{name}")

    # ------------------------------------------------------------------ list
    def set_status(self, url: str, state: str, reason: str = "") -> None:
        """*state*: connected (the open store), error or working (shown as a mark, *reason* in
        the tooltip)."""
        if state == "connected":
            self.current = url
            # the store that was open before is no longer "connected": only failures stay marked
            self._status = {u: s for u, s in self._status.items() if s[0] == "error" and not same_store(u, url)}
        else:
            self._status = {**self._status, url: (state, reason)}
        self.reload()

    def entries(self) -> list[tuple[str, str]]:
        """(text, url) of each listed store, without marks: connections first, then recent stores."""
        out: list[tuple[str, str]] = []
        conn_urls: list[str] = []
        try:
            for c in self._connections().list():
                out.append((c.name, f"profile:{c.name}"))
                conn_urls.append(c.url)
        except Exception as exc:  # a damaged connections file must not hide the recent stores
            out.append((tr("(connections unreadable: {0})").format(exc), ""))
        recent = self.recent()
        for u in recent:  # new ones go on top; the ones already shown keep their place
            if not any(same_store(u, o) for o in self._order):
                self._order.insert(0, u)
        extra = [u for u in self._status if not u.startswith("profile:")]
        shown: list[str] = []
        for u in self._order + extra:
            if any(same_store(u, s) for s in shown) or any(same_store(u, c) for c in conn_urls):
                continue
            if u.startswith("profile:") and any(url == u for _t, url in out):
                continue
            if u not in recent and u not in extra and u != self.current:
                continue  # forgotten
            shown.append(u)
        out += [((Path(u).name or u) if "://" not in u and not u.startswith("profile:") else u, u) for u in shown]
        return out

    def reload(self) -> None:
        status = self._status
        self.list.clear()
        for text, url in self.entries():
            st = status.get(url)
            state = "open" if url and same_store(url, self.current) and not st else (st[0] if st else "")
            it = QListWidgetItem(text + _STATE_MARKS.get(state, ""))
            icon = (QStyle.StandardPixmap.SP_DirIcon if _local_path(url) is not None
                    else QStyle.StandardPixmap.SP_DriveNetIcon)
            it.setIcon(self.style().standardIcon(icon))
            it.setData(Qt.ItemDataRole.UserRole, url)
            tip = url
            if state == "open":
                tip += "\n" + tr("open now")
            elif st and st[1]:
                tip += f"\n{st[1]}"
            it.setToolTip(tip)
            if st and st[0] == "error":
                it.setForeground(QColor(error_color()))
            self.list.addItem(it)
            if state == "open":
                f = QFont(it.font())
                f.setBold(True)
                it.setFont(f)
                it.setSelected(True)

    def item_for(self, url: str) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            it = self.list.item(i)
            if it is not None and it.data(Qt.ItemDataRole.UserRole) == url:
                return it
        return None

    # ------------------------------------------------------------------ context menu
    def _menu_at(self, pos: QPoint) -> None:
        it = self.list.itemAt(pos)
        if it is None or not it.data(Qt.ItemDataRole.UserRole):
            return
        self.menu = self.menu_for(it.data(Qt.ItemDataRole.UserRole))
        self.menu.popup(self.list.viewport().mapToGlobal(pos))

    def menu_for(self, url: str) -> QMenu:
        m = QMenu(self)
        m.addAction(tr("Open"), lambda: self.open_requested.emit(url))
        m.addAction(tr("Verify This Store"), lambda: self.verify_requested.emit(url))
        m.addSeparator()
        m.addAction(tr("Copy Location"), lambda: QGuiApplication.clipboard().setText(url))
        local = _local_path(url)
        if local is not None:
            m.addAction(tr("Reveal in File Manager"), lambda: self._reveal(local))
        if url.startswith("profile:"):
            name = url[len("profile:"):]
            m.addSeparator()
            m.addAction(tr("Edit Connection…"), lambda: self.edit_requested.emit(name))
            m.addAction(tr("Rename Connection…"), lambda: self._ask_rename(name))
            m.addAction(tr("Remove Connection…"), lambda: self._ask_remove(name))
        else:
            m.addSeparator()
            m.addAction(tr("Forget This Store"), lambda: self.forget(url))
        return m

    @staticmethod
    def _reveal(path: Path) -> None:
        folder = path if path.is_dir() else path.parent
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def _ask_rename(self, name: str) -> None:
        new, ok = QInputDialog.getText(self, tr("Rename connection"), tr("New name:"), text=name)
        if not ok or not new.strip() or new.strip() == name:
            return
        try:
            self.rename_connection(name, new.strip())
        except Exception as exc:
            QMessageBox.warning(self, tr("Rename connection"), str(exc))

    def _ask_remove(self, name: str) -> None:
        answer = QMessageBox.question(
            self, tr("Remove connection"),
            tr("Remove the saved connection “{0}” and its secret key from the keyring? The store itself is "
               "not touched.").format(name))
        if answer == QMessageBox.StandardButton.Yes:
            try:
                self.remove_connection(name)
            except Exception as exc:
                QMessageBox.warning(self, tr("Remove connection"), str(exc))
