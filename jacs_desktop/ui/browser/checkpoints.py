"""The checkpoints window: the store's signed checkpoints, *Checkpoint now* (signed by the loaded
identity) and *Compare with the selected one* (a thin view over :mod:`jacs_desktop.jobs.checkpoints`)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from ...jobs.checkpoints import Checkpoint, Comparison
from ..dialogs import choose_identity_file, load_identity_or_say
from ..workers import message_of

__all__ = ["CheckpointsWindow"]


def tr(text: str) -> str:
    return QCoreApplication.translate("CheckpointsWindow", text)


class CheckpointsWindow(QWidget):
    def __init__(self, store: Any, workers: Any, config_path: str = "", parent: QWidget | None = None,
                 ask_password: Any = None):
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle(tr("Store checkpoints"))
        self.resize(1000, 600)
        self.store, self.workers = store, workers
        self.identity: Any = None
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
        lay.addWidget(self.list, 1)
        self.result = QTreeWidget(self)
        self.result.setHeaderLabels([tr("Since the checkpoint"), tr("Object")])
        lay.addWidget(self.result, 2)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        if config_path:
            self.load_identity(config_path)

    def _choose_identity(self) -> None:
        path = choose_identity_file(self)
        if path:
            self.load_identity(path)

    def load_identity(self, config_path: str) -> bool:
        ident = load_identity_or_say(config_path, self.status)
        if ident is None:
            return False
        self.identity = ident
        self.identity_label.setText(tr("Identity: {0}").format(self.identity.agent_id))
        self.create_button.setEnabled(True)
        return True

    def load(self) -> None:
        from ...jobs.checkpoints import checkpoints

        store = self.store
        self.workers.run(lambda: checkpoints(store), on_result=self.set_rows,
                         on_failure=lambda exc: self.status.setText(message_of(exc)), name="checkpoints")

    def set_rows(self, rows: list[Checkpoint]) -> None:
        self.rows = rows
        self.list.clear()
        for c in rows:
            item = QTreeWidgetItem([c.date[:19].replace("T", " "), f"{c.id}:{c.version}", str(c.count),
                                    c.root[:16] + "…", c.signer or "?", "✓" if not c.problem else f"✗ {c.problem}"])
            if c.problem:
                item.setForeground(5, QBrush(QColor("#b3261e")))
            self.list.addTopLevelItem(item)
        last = self.list.topLevelItem(len(rows) - 1) if rows else None
        if last is not None:
            self.list.setCurrentItem(last)
        for col in range(self.list.columnCount()):
            self.list.resizeColumnToContents(col)
        self.status.setText(tr("{0} checkpoints").format(len(rows)))

    def _password(self) -> str | None:
        if self._ask_password is not None:
            pw: str | None = self._ask_password(self.identity)
            return pw
        from ..dialogs import PasswordDialog

        dlg = PasswordDialog(self, tr("Password of the private key of {0}").format(self.identity.agent_id),
                             f"agent:{self.identity.agent_id}:password")
        return dlg.password if dlg.exec() else None

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

        def done(doc: dict[str, Any]) -> None:
            self.status.setText(tr("Checkpoint {0} signed and stored").format(doc["jacsId"]))
            self.load()

        self.workers.run(work, on_result=done, on_failure=lambda exc: self.status.setText(
            tr("No checkpoint made: {0}").format(message_of(exc))), name="checkpoint")

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

        self.workers.run(work, on_result=self.show_comparison, on_failure=lambda exc: self.status.setText(
            tr("Not compared: {0}").format(message_of(exc))), name="compare checkpoint")

    def show_comparison(self, c: Comparison) -> None:
        self.comparison = c
        self.result.clear()
        groups = ((tr("vanished"), c.vanished, "#b3261e"), (tr("changed"), c.changed, "#b3261e"),
                  (tr("appeared"), c.appeared, "#1b5fa0"), (tr("new checkpoints"), c.new_checkpoints, "#666666"))
        for label, keys, color in groups:
            head = QTreeWidgetItem([f"{label} ({len(keys)})", ""])
            head.setForeground(0, QBrush(QColor(color)))
            for k in keys:
                head.addChild(QTreeWidgetItem(["", k]))
            self.result.addTopLevelItem(head)
            head.setExpanded(bool(keys))
        for e in c.errors:
            self.result.addTopLevelItem(QTreeWidgetItem([tr("not read"), e]))
        self.result.resizeColumnToContents(0)
        self.status.setText(tr("Nothing appeared, vanished or changed since {0}").format(c.base["id"])
                            if c.unchanged else tr("Compared with checkpoint {0}").format(c.base["id"]))
