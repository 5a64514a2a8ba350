"""The agreement board window: every agreement of the open store, its parties and their states,
a *Waiting for me* filter and *Sign…* (a thin view over :mod:`jacs_desktop.jobs.agreements`)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...jobs.agreements import SIGNING_ROLES, Agreement, Board, pending_roles, waiting_for
from ..dialogs import IdentityLoading
from ..theme import verdict_color
from ..workers import message_of

__all__ = ["AgreementBoardWindow"]

#: a party's state and an agreement's status, drawn in the theme's verdict colours (light and dark)
STATE_VERDICTS = {"signed": "valid", "invalid": "invalid", "pending": "warning"}
STATUS_VERDICTS = {"final": "valid", "complete": "valid", "invalid": "invalid", "expired": "invalid",
                   "disputed": "invalid"}
STATE_MARKS = {"signed": "✓", "invalid": "✗", "pending": "…"}


def tr(text: str) -> str:
    return QCoreApplication.translate("AgreementBoard", text)


class AgreementBoardWindow(IdentityLoading, QWidget):
    """``load()`` reads the board on a worker; *Sign…* signs the selected agreement as the loaded
    identity and stores the new version (checked before it is stored)."""

    signed = Signal(str)  # "id:version" of the stored version

    def __init__(self, store: Any, workers: Any, config_path: str = "", parent: QWidget | None = None,
                 ask_password: Any = None):
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle(tr("Agreements"))
        self.resize(1100, 620)
        self.store, self.workers = store, workers
        self.board: Board | None = None
        self.identity: Any = None
        self._ask_password = ask_password
        self._note = ""
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.identity_label = QLabel(tr("No identity loaded"), self)
        self.load_identity_button = QPushButton(tr("Load identity…"), self)
        self.load_identity_button.clicked.connect(self._choose_identity)
        self.waiting = QCheckBox(tr("Waiting for me"), self)
        self.waiting.setEnabled(False)
        self.waiting.toggled.connect(lambda _on: self._fill())
        self.role = QComboBox(self)
        for r in SIGNING_ROLES:
            self.role.addItem(tr(r), r)
        self.sign_button = QPushButton(tr("Sign…"), self)
        self.sign_button.setEnabled(False)
        self.sign_button.clicked.connect(self.sign_selected)
        self.refresh_button = QPushButton(tr("Refresh"), self)
        self.refresh_button.clicked.connect(self.load)
        for w in (self.identity_label, self.load_identity_button, self.waiting):
            top.addWidget(w)
        top.addStretch(1)
        for control in (self.role, self.sign_button, self.refresh_button):
            top.addWidget(control)
        lay.addLayout(top)
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels([tr("Agreement"), tr("Kind"), tr("Status"), tr("Quorum"), tr("Effective"),
                                   tr("Expires"), tr("Versions")])
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.itemSelectionChanged.connect(self._selected)
        lay.addWidget(self.tree, 1)
        self.detail = QLabel("", self)
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.detail)
        self.status = QLabel("", self)
        lay.addWidget(self.status)
        if config_path:
            self.load_identity(config_path)

    # -- identity -------------------------------------------------------------------------
    def _identity_loaded(self) -> None:
        name = ""
        directory = self.store.agent_directory() if hasattr(self.store, "agent_directory") else None
        rec = directory.agent(self.identity.agent_id) if directory is not None else None
        if rec is not None and rec.name:
            name = rec.name
        self.identity_label.setText(tr("Identity: {0}").format(f"{name} {self.identity.agent_id}".strip()))
        self.waiting.setEnabled(True)
        self._fill()

    # -- board ----------------------------------------------------------------------------
    def load(self) -> None:
        from ...jobs.agreements import agreement_board

        store = self.store
        self.status.setText(tr("Reading the agreements…"))
        self.workers.run(lambda: agreement_board(store), on_result=self.set_board,
                         on_failure=lambda exc: self.status.setText(message_of(exc)), name="agreements")

    def set_board(self, board: Board) -> None:
        self.board = board
        self._fill()

    def shown(self) -> list[Agreement]:
        if self.board is None:
            return []
        if self.waiting.isChecked() and self.identity is not None:
            return waiting_for(self.board.agreements, self.identity.agent_id)
        return list(self.board.agreements)

    def _fill(self) -> None:
        self.tree.clear()
        rows = self.shown()
        for ag in rows:
            forks = f" ⑂{len(ag.forks) + 1}" if ag.forks else ""
            item = QTreeWidgetItem([ag.title, ag.kind if ag.schema_version != "v3" else "v3", tr(ag.status),
                                    ag.quorum + (" ✓" if ag.quorum_met else ""), ag.effective_from or "",
                                    ag.expires_at or "", f"{ag.versions}{forks}"])
            item.setData(0, Qt.ItemDataRole.UserRole, ag.id)
            if ag.status in STATUS_VERDICTS:
                item.setForeground(2, QBrush(QColor(verdict_color(STATUS_VERDICTS[ag.status]))))
            for p in ag.parties:
                who = f"{p.name}  ({p.agent})" if p.name else p.agent
                child = QTreeWidgetItem([f"{STATE_MARKS.get(p.state, '')} {who}", "", tr(p.state), tr(p.role)])
                child.setForeground(2, QBrush(QColor(verdict_color(STATE_VERDICTS.get(p.state)))))
                child.setForeground(0, QBrush(QColor(verdict_color(STATE_VERDICTS.get(p.state)))))
                if p.reason and p.state == "invalid":
                    child.setToolTip(0, p.reason)
                item.addChild(child)
            self.tree.addTopLevelItem(item)
            item.setExpanded(True)
        for col in range(self.tree.columnCount()):
            self.tree.resizeColumnToContents(col)
        self.tree.setColumnWidth(0, max(self.tree.columnWidth(0), 380))
        total = len(self.board.agreements) if self.board else 0
        errors = len(self.board.errors) if self.board else 0
        self.status.setText(tr("{0} of {1} agreements shown").format(len(rows), total)
                            + (tr("; {0} documents could not be read").format(errors) if errors else "")
                            + (f" · {self._note}" if self._note else ""))
        self._selected()

    def selected(self) -> Agreement | None:
        items = self.tree.selectedItems()
        if not items or self.board is None:
            return None
        parent = items[0].parent()
        item = items[0] if parent is None else parent
        doc_id = item.data(0, Qt.ItemDataRole.UserRole)
        return next((a for a in self.board.agreements if a.id == doc_id), None)

    def _selected(self) -> None:
        ag = self.selected()
        if ag is None:
            self.detail.setText("")
            self.sign_button.setEnabled(False)
            return
        lines = [tr("{0} version {1}").format(ag.id, ag.version),
                 tr("terms hash (jacsAgreementHash): {0}").format(ag.terms_hash or tr("none"))]
        lines += [f"⚠ {n}" for n in ag.notes]
        self.detail.setText("\n".join(lines))
        roles = pending_roles(ag, self.identity.agent_id) if self.identity is not None else []
        self.sign_button.setEnabled(bool(roles))
        if roles:
            self.role.setCurrentIndex(max(0, self.role.findData(roles[0])))
        self.role.setEnabled(ag.kind == "v2" and bool(roles))

    # -- signing --------------------------------------------------------------------------
    def sign_selected(self) -> None:
        ag = self.selected()
        if ag is None or self.identity is None:
            return
        password = self._password()
        if password is None:
            return
        role = self.role.currentData() if ag.kind == "v2" else None
        store, identity, doc_id = self.store, self.identity, ag.id

        def work() -> dict[str, Any]:
            from ...jobs.agreements import sign_in_store

            return sign_in_store(store, doc_id, identity.unlock(password), role)

        def done(new: dict[str, Any]) -> None:
            label = f"{new['jacsId']}:{new['jacsVersion']}"
            self._note = tr("Signed and stored as {0}").format(label)
            self.status.setText(self._note)
            self.signed.emit(label)
            self.load()

        self.status.setText(tr("Signing…"))
        self.workers.run(work, on_result=done, on_failure=lambda exc: self.status.setText(
            tr("Not signed: {0}").format(message_of(exc))), name="sign agreement")
