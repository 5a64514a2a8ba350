"""The attachments of the shown version: their table (Save As…, Open, drag out) and
the preview page. External files are read through the open session, off the GUI
thread; one that failed its check (or whose version is invalid) is opened,
saved or previewed only after a warning, and never dragged out."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QMimeData, QObject, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...jobs.browse import attachment_warning
from ..models import RowTableModel
from ..theme import warning_style
from ..workers import message_of
from .columns import attachment_columns, make_table, tr

if TYPE_CHECKING:
    from .session import StoreSession

__all__ = ["AttachmentsPanel"]


def _name(a: dict) -> str:
    return Path(str(a.get("path") or "attachment")).name


def _embedded(a: dict) -> bytes:
    return gzip.decompress(base64.b64decode(a["contents"]))


class AttachmentsPanel(QObject):
    """Two pages for the documents panel: ``list_page`` (the table and its buttons)
    and ``preview_page``. ``session`` (set by the window) reads external files."""

    #: something to say in the window's banner
    error = Signal(str)

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self._parent = parent
        self.session: StoreSession | None = None
        self.model = RowTableModel(attachment_columns(), self)
        self.list_page = QWidget(parent)
        al = QVBoxLayout(self.list_page)
        al.setContentsMargins(0, 0, 0, 0)
        self.view = make_table(self.model, self.list_page, sortable=False)
        self.view.doubleClicked.connect(lambda _i: self.open_attachment())
        al.addWidget(self.view)
        row = QHBoxLayout()
        for text, slot in ((tr("Save As…"), self.save_attachment), (tr("Open"), self.open_attachment)):
            b = QPushButton(text, self.list_page)
            b.clicked.connect(slot)
            row.addWidget(b)
        row.addStretch(1)
        al.addLayout(row)
        pv = self.preview_page = QWidget(parent)
        self.preview_text = QPlainTextEdit(pv)
        self.preview_text.setReadOnly(True)
        self.preview_image = QLabel(pv)
        self.preview_image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        pl = QVBoxLayout(pv)
        pl.setContentsMargins(0, 0, 0, 0)
        warn_row = QHBoxLayout()
        self.preview_warning = QLabel("", pv)
        self.preview_warning.setWordWrap(True)
        self.preview_warning.setStyleSheet(warning_style())
        warn_row.addWidget(self.preview_warning, 1)
        self.preview_anyway = QPushButton(tr("Preview anyway…"), pv)
        self.preview_anyway.clicked.connect(lambda: self.preview(confirm=True))
        warn_row.addWidget(self.preview_anyway)
        pl.addLayout(warn_row)
        self.preview_warning.hide()
        self.preview_anyway.hide()
        pl.addWidget(self.preview_text)
        pl.addWidget(self.preview_image)
        self.preview_image.hide()
        self.view.selectionModel().currentRowChanged.connect(lambda *_: self.preview())
        self.view.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.model.mime_provider = self._mime
        self.model.drag_enabled = lambda a: a.get("_risk") is None

    # ------------------------------------------------------------------ contents
    def fill(self, doc: dict | None, verdict) -> None:
        """The ``jacsFiles`` of *doc*, with their sizes and the checks of *verdict*."""
        items = []
        files = doc.get("jacsFiles") if isinstance(doc, dict) else None
        for f in files if isinstance(files, list) else []:
            if not isinstance(f, dict):
                continue
            a = dict(f)
            if a.get("embed") and isinstance(a.get("contents"), str):
                try:
                    a["_size"] = f"{len(_embedded(a)):,} B"
                except Exception:
                    a["_size"] = tr("unreadable")
            else:
                a["_size"] = ""
            if verdict is not None:
                c = next((c for c in verdict.checks if c.name == f"attachment {a.get('path')}"), None)
                if c:
                    a["_status"], a["_reason"] = c.status, c.reason
            a["_risk"] = attachment_warning(a, verdict)
            items.append(a)
        self.model.set_rows(items)
        self.preview()

    def clear(self) -> None:
        self.model.clear()
        self.preview_text.clear()
        self.preview_image.clear()
        self.preview_image.hide()
        self.preview_text.show()
        self.preview_warning.hide()
        self.preview_anyway.hide()

    def current(self) -> dict | None:
        idx = self.view.currentIndex()
        if not idx.isValid() or self.session is None or self.session.store is None:
            return None
        return self.model.row_object(idx.row())

    # ------------------------------------------------------------------ bytes
    def bytes_now(self, a: dict | None = None) -> tuple[str, bytes] | None:
        """(name, bytes) of *a* (default: the current one) if they are in memory:
        embedded, or an external file read already (None otherwise)."""
        a = a if a is not None else self.current()
        if a is None:
            return None
        if a.get("embed"):
            try:
                return _name(a), _embedded(a)
            except Exception:
                return None
        data = a.get("_data")
        return (_name(a), data) if data is not None else None

    def _with_bytes(self, a: dict, then) -> None:
        """``then(name, data)`` once *a*'s bytes are at hand (an external file is read
        by a worker); a failure is said in the banner."""
        if a.get("embed"):
            try:
                data = _embedded(a)
            except Exception as exc:
                self.error.emit(tr("The embedded attachment cannot be decoded: {0}").format(exc))
                return
            then(_name(a), data)
            return
        if "_data" in a:
            if a["_data"] is None:
                self.error.emit(tr("The external file {0} is not in this store").format(a.get("path")))
            else:
                then(_name(a), a["_data"])
            return
        if self.session is None:
            return

        def read(data):
            a["_data"] = data
            self._with_bytes(a, then)

        self.session.read_attachment(str(a.get("path")), read, on_failure=lambda exc: self.error.emit(
            tr("The external file {0} cannot be read: {1}").format(a.get("path"), message_of(exc))))

    def _confirm(self, a: dict, action: str) -> bool:
        """A risky attachment: say why, let the user cancel. True to go on."""
        risk = a.get("_risk")
        if not risk:
            return True
        answer = QMessageBox.warning(
            self._parent, tr("This attachment failed verification"),
            tr("{0} “{1}” anyway?\n\n{2}\n\nIts contents may not be what the signer signed.").format(
                action, _name(a), risk),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    # ------------------------------------------------------------------ Save As, Open, drag
    def save_attachment(self) -> None:
        a = self.current()
        if a is None or not self._confirm(a, tr("Save")):
            return

        def save(name: str, data: bytes) -> None:
            dest, _ = QFileDialog.getSaveFileName(self._parent, tr("Save attachment"), name)
            if dest:
                from ...core.identity import write_file_atomic

                try:
                    write_file_atomic(Path(dest), data, 0o644)
                except OSError as exc:
                    self.error.emit(str(exc))

        self._with_bytes(a, save)

    def open_attachment(self) -> None:
        a = self.current()
        if a is None or not self._confirm(a, tr("Open")):
            return

        def open_(name: str, data: bytes) -> None:
            p = Path(tempfile.mkdtemp(prefix="jacs-desktop-")) / name
            p.write_bytes(data)
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(p)))

        self._with_bytes(a, open_)

    def _mime(self, rows):
        """Dragging attachments out: write them to a temporary folder, offer the files.
        One that failed its check (or whose version is invalid) is not dragged out;
        an external file not read yet is read now, to be dragged once it is."""
        refused = [a for a in rows if a.get("_risk")]
        if refused:
            self.error.emit(tr("Not dragged out: {0} — {1} Use Save As… to save it anyway.").format(
                ", ".join(str(a.get("path")) for a in refused), refused[0].get("_risk")))
        mime = QMimeData()
        rows = [a for a in rows if not a.get("_risk")]
        unread = [a for a in rows if not a.get("embed") and "_data" not in a]
        if unread:
            self.error.emit(tr("Still reading {0}: drag it again in a moment.").format(
                ", ".join(str(a.get("path")) for a in unread)))
            for a in unread:
                self._with_bytes(a, lambda _n, _d: None)
        got = [b for b in (self.bytes_now(a) for a in rows if a not in unread) if b is not None]
        if not got:
            return mime
        d = Path(tempfile.mkdtemp(prefix="jacs-desktop-drag-"))
        urls = []
        for name, data in got:
            p = d / name
            p.write_bytes(data)
            urls.append(QUrl.fromLocalFile(str(p)))
        mime.setUrls(urls)
        return mime

    # ------------------------------------------------------------------ preview
    def preview(self, confirm: bool = False) -> None:
        """Text and JSON as text, images as a picture, anything else described. One
        that failed its check is previewed only after a warning (*confirm*: ask now)."""
        self.preview_image.hide()
        self.preview_text.show()
        self.preview_warning.hide()
        self.preview_anyway.hide()
        a = self.current()
        if a is None:
            self.preview_text.clear()
            return
        risk = a.get("_risk")
        if risk:
            if not a.get("_preview_ok"):
                if not confirm or not self._confirm(a, tr("Preview")):
                    self.preview_warning.setText(tr("⚠ Not previewed: {0}").format(risk))
                    self.preview_warning.show()
                    self.preview_anyway.show()
                    self.preview_text.clear()
                    return
                a["_preview_ok"] = True
            self.preview_warning.setText(tr("⚠ {0}").format(risk))
            self.preview_warning.show()
        if not a.get("embed") and "_data" not in a:
            if self.session is None:
                return

            def fetched(data, a=a):  # an external file may be a network read: not on the GUI thread
                a["_data"] = data
                if self.current() is a:
                    self.preview()

            self.session.read_attachment(str(a.get("path")), fetched)
            self.preview_text.setPlainText(tr("Reading…"))
            return
        got = self.bytes_now(a)
        data = got[1] if got else None
        mt = str(a.get("mimetype") or "")
        if data is None:
            self.preview_text.setPlainText(tr("The attachment is not available in this store."))
            return
        if mt.startswith("image/"):
            pm = QPixmap()
            if pm.loadFromData(data):
                self.preview_text.hide()
                self.preview_image.show()
                self.preview_image.setPixmap(pm.scaled(480, 320, Qt.AspectRatioMode.KeepAspectRatio,
                                                       Qt.TransformationMode.SmoothTransformation))
                return
        if mt.startswith("text/") or mt in ("application/json", "application/xml") or mt.endswith("+json"):
            text = data[:1_000_000].decode("utf-8", errors="replace")
            if mt.endswith("json"):
                with contextlib.suppress(ValueError):
                    text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
            self.preview_text.setPlainText(text)
            return
        self.preview_text.setPlainText(tr("{0}: {1:,} bytes — no preview for this type").format(mt or "?", len(data)))
