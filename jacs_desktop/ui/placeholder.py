"""A first window: verification results of one store.

The full browser (agents / documents / versions / attachments) replaces this.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QLabel, QMainWindow, QTableView, QVBoxLayout, QWidget

from ..core.errors import JacsError
from ..jobs.verify_all import verify_store
from ..storage.folder import FolderStore
from .models import Column, RowTableModel


def tr(text: str) -> str:
    return QCoreApplication.translate("PlaceholderWindow", text)


class PlaceholderWindow(QMainWindow):
    def __init__(self, store_path: str | None = None):
        super().__init__()
        self.setWindowTitle(tr("JACS Desktop"))
        self.resize(1000, 600)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        self.status_label = QLabel(central)
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        self.model = RowTableModel(
            [
                Column(tr("Verdict"), lambda v: v.status),
                Column(tr("Kind"), lambda v: v.kind),
                Column(tr("Id"), lambda v: v.id),
                Column(tr("Version"), lambda v: v.version),
                Column(tr("Signer"), lambda v: v.signer),
                Column(tr("Algorithm"), lambda v: v.algorithm),
                Column(tr("Reason"), lambda v: v.reason),
            ],
            self,
        )
        self.table = QTableView(central)
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table)
        self.setCentralWidget(central)
        if store_path:
            self.open_store(store_path)
        else:
            self.status_label.setText(
                tr("Open a JACS folder: jacs-desktop PATH. The full browser is on its way.")
            )

    def open_store(self, path: str) -> None:
        try:
            store = FolderStore(Path(path))
            report = verify_store(store)
        except (JacsError, OSError) as exc:
            self.status_label.setText(tr("Cannot open {0}: {1}").format(path, exc))
            return
        self.model.clear()
        self.model.append_rows(report.results)
        s = report.summary
        self.status_label.setText(
            tr("{0}: {1} items, {2} valid, {3} invalid, {4} unverifiable").format(
                path, s["total"], s["valid"], s["invalid"], s["unverifiable"]
            )
        )
        self.table.resizeColumnsToContents()
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
