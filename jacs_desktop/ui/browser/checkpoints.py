"""The checkpoints window: the store's signed checkpoints, *Checkpoint now* (signed by the loaded
identity) and *Compare with the selected one* (a thin view over :mod:`jacs_desktop.jobs.checkpoints`).

Colours are the theme's (light and dark, checked for WCAG AA in ``tests/ui/test_theme.py``): a
checkpoint that holds or not in the verdict colours, what vanished, changed or appeared in the
checkpoint diff window's colours for the same changes, failures in the error colour.  Signers and
the loaded identity are named as the versions table names signers (checkpoint_diff.signer_label)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from ...jobs.checkpoints import Checkpoint, Comparison
from ..dialogs import IdentityLoading
from ..theme import verdict_color
from ..workers import message_of
from .checkpoint_diff import CHANGE_STATUS, say, show_identity, signer_label, who

__all__ = ["CheckpointsWindow"]


def tr(text: str) -> str:
    return QCoreApplication.translate("CheckpointsWindow", text)


class CheckpointsWindow(IdentityLoading, QWidget):
    def __init__(self, store: Any, workers: Any, config_path: str = "", parent: QWidget | None = None,
                 ask_password: Any = None):
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle(tr("Store checkpoints"))
        self.resize(1000, 600)
        self.store, self.workers = store, workers
        self.identity: Any = None
        #: the loaded identity's name, when the store proves it (checkpoint_diff.show_identity)
        self.identity_name: str | None = None
        #: said before the count once the list is read again ("Checkpoint … signed … and stored")
        self._note = ""
        self._ask_password = ask_password
        self.rows: list[Checkpoint] = []
        self.comparison: Comparison | None = None
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.identity_label = QLabel(tr("No identity loaded"), self)
        self.load_identity_button = QPushButton(tr("Load identity…"), self)
        self.load_identity_button.clicked.connect(self._choose_identity)
        self.create_button = QPushButton(tr("Checkpoint now"), self)
        self.create_button.setEnabled(False)
        self.create_button.clicked.connect(self.create_checkpoint)
        self.compare_button = QPushButton(tr("Compare with the selected one"), self)
        self.compare_button.clicked.connect(self.compare_selected)
        self.diff_button = QPushButton(tr("Diff two checkpoints…"), self)
        self.diff_button.setToolTip(tr("What appeared, vanished or changed between two checkpoints; sign it"))
        self.diff_button.clicked.connect(self.show_diff)
        for w in (self.identity_label, self.load_identity_button):
            top.addWidget(w)
        top.addStretch(1)
        for w in (self.create_button, self.compare_button, self.diff_button):
            top.addWidget(w)
        lay.addLayout(top)
        self.list = QTreeWidget(self)
        self.list.setHeaderLabels([tr("Date"), tr("Checkpoint"), tr("Versions"), tr("Merkle root"), tr("Signed by"),
                                   tr("Holds")])
        self.list.setRootIsDecorated(False)
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a long id:version keeps both ends
        lay.addWidget(self.list, 1)
        self.result = QTreeWidget(self)
        self.result.setHeaderLabels([tr("Since the checkpoint"), tr("Object")])
        lay.addWidget(self.result, 2)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        if config_path:
            self.load_identity(config_path)

    def _identity_loaded(self) -> None:
        show_identity(self, self.identity_label)
        self.create_button.setEnabled(True)

    def load(self) -> None:
        from ...jobs.checkpoints import checkpoints

        store = self.store
        self.workers.run(lambda: checkpoints(store), on_result=self.set_rows,
                         on_failure=lambda exc: say(self.status, message_of(exc), failed=True), name="checkpoints")

    def set_rows(self, rows: list[Checkpoint]) -> None:
        self.rows = rows
        self.list.clear()
        for c in rows:
            item = QTreeWidgetItem([c.date[:19].replace("T", " "), f"{c.id}:{c.version}", str(c.count),
                                    c.root[:16] + "…", signer_label(c), "✓" if not c.problem else f"✗ {c.problem}"])
            item.setToolTip(1, f"{c.id}:{c.version}")
            item.setToolTip(4, c.signer or "")
            item.setToolTip(5, c.problem or tr("Its signature holds and its Merkle root matches its entries"))
            item.setForeground(5, QBrush(QColor(verdict_color("invalid" if c.problem else "valid"))))
            self.list.addTopLevelItem(item)
        last = self.list.topLevelItem(len(rows) - 1) if rows else None
        if last is not None:
            self.list.setCurrentItem(last)
        for col in range(self.list.columnCount()):
            self.list.resizeColumnToContents(col)
        # the checkpoint's id:version (73 characters) leaves room for why a checkpoint does not hold
        self.list.setColumnWidth(1, min(self.list.columnWidth(1), 320))
        count = tr("{0} checkpoints").format(len(rows))
        say(self.status, f"{self._note}. {count}" if self._note else count)
        self._note = ""

    def create_checkpoint(self) -> None:  # (not create(): that is QWidget.create())
        if self.identity is None:
            return
        password = self._password()
        if password is None:
            return
        store, identity = self.store, self.identity

        def work() -> dict[str, Any]:
            from ...jobs.checkpoints import make_checkpoint

            return make_checkpoint(store, identity.unlock(password))

        signer = who(identity.agent_id, self.identity_name)

        def done(doc: dict[str, Any]) -> None:
            self._note = tr("Checkpoint {0} signed by {1} and stored").format(doc["jacsId"], signer)
            say(self.status, self._note)
            self.load()

        self.workers.run(work, on_result=done, on_failure=lambda exc: say(
            self.status, tr("No checkpoint made: {0}").format(message_of(exc)), failed=True), name="checkpoint")

    def show_diff(self) -> None:
        """The checkpoint diff window (ui/browser/checkpoint_diff.py) over the checkpoints listed here."""
        from .checkpoint_diff import CheckpointDiffWindow

        self.diff_window = CheckpointDiffWindow(self.store, self.workers, parent=self, ask_password=self._ask_password,
                                                rows=self.rows, identity=self.identity)
        self.diff_window.signed.connect(lambda _label: self.load())
        self.diff_window.show()

    def compare_selected(self) -> None:
        items = self.list.selectedItems()
        chosen = self.rows[self.list.indexOfTopLevelItem(items[0])] if items else None
        store, cid = self.store, chosen.id if chosen is not None else None

        def work() -> Comparison:
            from ...jobs.checkpoints import compare

            return compare(store, cid)

        self.workers.run(work, on_result=self.show_comparison, on_failure=lambda exc: say(
            self.status, tr("Not compared: {0}").format(message_of(exc)), failed=True), name="compare checkpoint")

    def show_comparison(self, c: Comparison) -> None:
        self.comparison = c
        self.result.clear()
        # the checkpoint diff window's colours for the same changes (a new checkpoint is neutral)
        groups = ((tr("vanished"), c.vanished, CHANGE_STATUS["vanished"]),
                  (tr("changed"), c.changed, CHANGE_STATUS["changed"]),
                  (tr("appeared"), c.appeared, CHANGE_STATUS["appeared"]),
                  (tr("new checkpoints"), c.new_checkpoints, None))
        for label, keys, status in groups:
            head = QTreeWidgetItem([f"{label} ({len(keys)})", ""])
            head.setForeground(0, QBrush(QColor(verdict_color(status))))
            for k in keys:
                head.addChild(QTreeWidgetItem(["", k]))
            self.result.addTopLevelItem(head)
            head.setExpanded(bool(keys))
        for e in c.errors:
            item = QTreeWidgetItem([tr("not read"), e])
            item.setForeground(0, QBrush(QColor(verdict_color("error"))))
            self.result.addTopLevelItem(item)
        self.result.resizeColumnToContents(0)
        say(self.status, tr("Nothing appeared, vanished or changed since {0}").format(c.base["id"])
            if c.unchanged else tr("Compared with checkpoint {0}").format(c.base["id"]))
