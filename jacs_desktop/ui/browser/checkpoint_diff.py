"""The checkpoint diff window: pick two of the store's checkpoints, see what appeared, vanished
and changed between them (counts, filter, copy), whether each checkpoint holds (its signature,
by whom, its Merkle root), and *Sign this diff…* as the loaded identity, stored as
``jacs-desktop-cli checkpoint diff`` stores it (a thin view over :mod:`jacs_desktop.jobs.checkpoints`).

Agents are named as the versions table names signers: the name beside the id only when the
store's agent documents prove the key is that agent's (:func:`signer_label`, :func:`show_identity`),
never a name a document merely claims."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...jobs.checkpoints import Checkpoint, DiffRow, diff_rows
from ..dialogs import IdentityLoading
from ..models import Column, RowTableModel
from ..theme import error_style, verdict_color
from ..workers import message_of
from .columns import make_table

__all__ = ["CheckpointDiffWindow", "checkpoint_label", "verification_text", "signer_label", "identity_name",
           "show_identity", "who", "say"]

CHANGES = ("appeared", "vanished", "changed")
#: each change in the theme's verdict colours (appeared is neutral: new is not wrong in itself)
CHANGE_STATUS = {"vanished": "invalid", "changed": "warning", "appeared": None}
CHANGE_MARK = {"appeared": "+", "vanished": "−", "changed": "±"}
#: the table's order: what vanished first, then what changed, then what appeared
SORT_ORDER = ("vanished", "changed", "appeared")


def tr(text: str) -> str:
    return QCoreApplication.translate("CheckpointDiffWindow", text)


def _when(ts: str) -> str:
    return ts[:19].replace("T", " ")


def say(label: QLabel, text: str, failed: bool = False) -> None:
    """A window's status line: *text*, in the theme's error colour when something *failed*."""
    label.setText(text)
    label.setStyleSheet(error_style() if failed else "")


def who(agent_id: str, name: str | None) -> str:
    """An agent in words: 'keeper (1f2e…-…)' when its name is known, else its id."""
    return f"{name} ({agent_id})" if name else agent_id


def signer_label(c: Checkpoint) -> str:
    """Who signed checkpoint *c*, for a table cell: 'keeper (1f2e3d4c…)' once its verdict proves the
    key is that agent's; 'unknown key claiming 1f2e3d4c…' for a key that is none of the agent's;
    else the claimed id (the versions table's rules)."""
    from ...jobs.browse import unknown_signing_key

    v = c.verdict
    sid = (v.signer if v is not None else None) or c.signer or "?"
    short = f"{sid[:8]}…" if len(sid) > 12 else sid
    if v is not None and v.signer_name:
        return f"{v.signer_name} ({short})"
    if v is not None and v.signer and unknown_signing_key(v):
        return tr("unknown key claiming {0}").format(short)
    return short


def identity_name(store: Any, identity: Any) -> str | None:
    """The loaded identity's name as the store proves it (its key is one of the agent's keys in the
    store's agent documents); None when the store does not hold the agent, or cannot tell."""
    directory = store.agent_directory()
    rec = directory.agent(identity.agent_id) if directory is not None else None
    if rec is None or rec.contested or identity.public_key_hash not in rec.keys:
        return None
    name: str | None = rec.name
    return name


def show_identity(window: Any, label: QLabel) -> None:
    """'Identity: <id>' on *label* at once, then 'Identity: <name> (<id>)' once the store's agent
    documents (read on a worker: a remote store may take a while) prove the name. Sets
    ``window.identity_name``."""
    ident = window.identity
    window.identity_name = None
    label.setText(tr("Identity: {0}").format(ident.agent_id))
    store = window.store

    def named(name: str | None) -> None:
        if window.identity is ident and name:
            window.identity_name = name
            label.setText(tr("Identity: {0}").format(who(ident.agent_id, name)))

    window.workers.run(lambda: identity_name(store, ident), on_result=named, on_failure=lambda _exc: None,
                       name="identity name")


def checkpoint_label(c: Checkpoint) -> str:
    """A choice in From / To: '2026-12-01 10:22:01 · 2da6f1c4 · 12 versions · ✓'."""
    return " · ".join([_when(c.date), c.id[:8], tr("{0} versions").format(c.count), "✗" if c.problem else "✓"])


def verification_text(side: str, c: Checkpoint) -> str:
    """Whether checkpoint *c* holds, who signed it, and what it covers (rich text)."""
    from ...jobs.browse import signer_text

    who = signer_text(c.verdict) if c.verdict is not None else (c.signer or "?")
    name = f"{c.id}:{c.version}"
    if c.problem:
        return (f"<span style='color:{verdict_color('invalid')}'><b>✗ {html.escape(side)}</b></span> "
                + tr("checkpoint {0} ({1}) cannot be relied on: {2}").format(
                    html.escape(name), _when(c.date), html.escape(c.problem)))
    return (f"<span style='color:{verdict_color('valid')}'><b>✓ {html.escape(side)}</b></span> "
            + tr("checkpoint {0} ({1}): signature holds, signed by {2}; {3} versions, Merkle root {4}… "
                 "matches its entries").format(html.escape(name), _when(c.date), html.escape(who), c.count,
                                               c.root[:16]))


class CheckpointDiffWindow(IdentityLoading, QWidget):
    #: a diff was signed and stored: "id:version"
    signed = Signal(str)

    def __init__(self, store: Any, workers: Any, config_path: str = "", parent: QWidget | None = None,
                 ask_password: Any = None, rows: list[Checkpoint] | None = None, identity: Any = None):
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle(tr("Checkpoint diff"))
        self.resize(1100, 680)
        self.store, self.workers = store, workers
        self.identity: Any = identity
        #: the loaded identity's name, when the store proves it (show_identity)
        self.identity_name: str | None = None
        self._ask_password = ask_password
        self.rows: list[Checkpoint] = []
        self.diff: list[DiffRow] = []
        #: the last diff document signed here
        self.last_signed: dict[str, Any] | None = None
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.identity_label = QLabel(tr("No identity loaded"), self)
        self.load_identity_button = QPushButton(tr("Load identity…"), self)
        self.load_identity_button.clicked.connect(self._choose_identity)
        self.sign_button = QPushButton(tr("Sign this diff…"), self)
        self.sign_button.setToolTip(tr("Sign the list below as the loaded identity and store it in the store"))
        self.sign_button.clicked.connect(self.sign_diff)
        top.addWidget(self.identity_label)
        top.addWidget(self.load_identity_button)
        top.addStretch(1)
        top.addWidget(self.sign_button)
        lay.addLayout(top)
        pick = QFormLayout()
        pick.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.from_combo, self.to_combo = QComboBox(self), QComboBox(self)
        self.from_check, self.to_check = QLabel("", self), QLabel("", self)
        for combo, side in ((self.from_combo, tr("From")), (self.to_combo, tr("To"))):
            combo.currentIndexChanged.connect(lambda _i: self._update())
            pick.addRow(side, combo)
        lay.addLayout(pick)
        for check in (self.from_check, self.to_check):  # whether each checkpoint holds, and who signed it
            check.setWordWrap(True)
            check.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            lay.addWidget(check)
        bar = QHBoxLayout()
        self.toggles: dict[str, QPushButton] = {}
        for change in CHANGES:
            b = QPushButton(self)
            b.setCheckable(True)
            b.setChecked(True)
            b.toggled.connect(lambda _on: self._apply_filter())
            self.toggles[change] = b
            bar.addWidget(b)
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText(tr("Filter by object or hash"))
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(lambda _t: self._apply_filter())
        bar.addWidget(self.filter_edit, 1)
        self.copy_button = QPushButton(tr("Copy"), self)
        self.copy_button.setToolTip(tr("Copy the selected rows (or all rows shown) as tab-separated text"))
        self.copy_button.clicked.connect(self.copy_rows)
        bar.addWidget(self.copy_button)
        lay.addLayout(bar)
        self.model = RowTableModel([
            Column(tr("Change"), lambda r: f"{CHANGE_MARK[r.change]} {tr(r.change)}",
                   status=lambda r: CHANGE_STATUS[r.change],
                   sort_key=lambda r: (SORT_ORDER.index(r.change), r.key)),
            Column(tr("Object"), self._object_text, tooltip=lambda r: r.key, sort_key=lambda r: r.key),
            Column(tr("jacsSha256 before"), lambda r: r.before[:16] + "…" if r.before else "",
                   tooltip=lambda r: r.before),
            Column(tr("jacsSha256 after"), lambda r: r.after[:16] + "…" if r.after else "", tooltip=lambda r: r.after),
        ], self)
        self.table = make_table(self.model, self)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        QShortcut(QKeySequence.StandardKey.Copy, self.table, self.copy_rows)
        lay.addWidget(self.table, 1)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        self._checkpoint_names: set[str] = set()
        self._count_toggles()
        if identity is not None:
            self._identity_loaded()
        elif config_path:
            self.load_identity(config_path)
        if rows is not None:
            self.set_checkpoints(rows)

    # -- identity -------------------------------------------------------------------------
    def _identity_loaded(self) -> None:
        show_identity(self, self.identity_label)

    # -- checkpoints ----------------------------------------------------------------------
    def load(self) -> None:
        from ...jobs.checkpoints import checkpoints

        store = self.store
        say(self.status, tr("Reading the store's checkpoints…"))
        self.workers.run(lambda: checkpoints(store), on_result=self.set_checkpoints,
                         on_failure=lambda exc: say(self.status, message_of(exc), failed=True), name="checkpoints")

    def set_checkpoints(self, rows: list[Checkpoint]) -> None:
        """The store's checkpoints, oldest first: From the one before the latest, To the latest."""
        self.rows = list(rows)
        self._checkpoint_names = {f"{c.id}:{c.version}" for c in rows}
        for combo in (self.from_combo, self.to_combo):
            combo.blockSignals(True)
            combo.clear()
            for c in rows:
                combo.addItem(checkpoint_label(c))
            combo.blockSignals(False)
        if len(rows) >= 2:
            self.from_combo.setCurrentIndex(len(rows) - 2)
        if rows:
            self.to_combo.setCurrentIndex(len(rows) - 1)
        self._update()

    def select(self, from_index: int, to_index: int) -> None:
        self.from_combo.setCurrentIndex(from_index)
        self.to_combo.setCurrentIndex(to_index)

    def pair(self) -> tuple[Checkpoint, Checkpoint] | None:
        i, j = self.from_combo.currentIndex(), self.to_combo.currentIndex()
        if not (0 <= i < len(self.rows) and 0 <= j < len(self.rows)):
            return None
        return self.rows[i], self.rows[j]

    def _object_text(self, r: DiffRow) -> str:
        name = r.key.rsplit("/", 1)[-1].removesuffix(".json")
        return f"{r.key}  {tr('(a checkpoint)')}" if name in self._checkpoint_names else r.key

    def _update(self) -> None:
        p = self.pair()
        self.from_check.setText(verification_text(tr("From"), p[0]) if p else "")
        self.to_check.setText(verification_text(tr("To"), p[1]) if p else "")
        if p is None:
            self.diff = []
            say(self.status, tr("The store has no checkpoint yet: make one in the checkpoints window")
                if not self.rows else "")
        elif p[0] is p[1]:
            self.diff = []
            say(self.status, tr("Pick two different checkpoints"))
        else:
            self.diff = diff_rows(*p)
            later = p[0].date > p[1].date
            say(self.status, tr("{0} objects differ").format(len(self.diff))
                + (tr(" (From is the newer one: the diff reads backwards)") if later else ""))
        self.model.set_rows(self.diff)
        self._count_toggles()
        self._apply_filter()
        self.table.resizeColumnsToContents()
        self.sign_button.setEnabled(p is not None and p[0] is not p[1])

    def _count_toggles(self) -> None:
        for change, b in self.toggles.items():
            b.setText(f"{CHANGE_MARK[change]} {tr(change).capitalize()} ({sum(r.change == change for r in self.diff)})")

    def _apply_filter(self) -> None:
        wanted = {c for c, b in self.toggles.items() if b.isChecked()}
        text = self.filter_edit.text().strip().lower()

        def keep(r: DiffRow) -> bool:
            return r.change in wanted and (not text or text in r.key.lower() or text in r.before or text in r.after)

        self.model.set_filter(keep if len(wanted) < len(CHANGES) or text else None)

    def shown_rows(self) -> list[DiffRow]:
        return list(self.model.rows)

    def copy_rows(self) -> str:
        """The selected rows (or every row shown) to the clipboard, tab-separated, with a header line."""
        picked = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        rows = [self.model.row_object(i) for i in picked] if picked else self.shown_rows()
        text = "\n".join(["change\tobject\tjacsSha256 before\tjacsSha256 after",
                          *(f"{r.change}\t{r.key}\t{r.before}\t{r.after}" for r in rows)]) + "\n"
        QGuiApplication.clipboard().setText(text)
        say(self.status, tr("Copied {0} row(s)").format(len(rows)))
        return text

    # -- signing --------------------------------------------------------------------------
    def sign_diff(self) -> None:
        p = self.pair()
        if p is None or p[0] is p[1]:
            say(self.status, tr("Not signed: pick two different checkpoints"), failed=True)
            return
        bad = [c for c in p if c.problem]
        if bad:
            say(self.status, tr("Not signed: checkpoint {0} cannot be relied on: {1}").format(
                f"{bad[0].id}:{bad[0].version}", bad[0].problem), failed=True)
            return
        if self.identity is None:
            self._choose_identity()
            if self.identity is None:
                say(self.status, tr("Not signed: load the identity that signs the diff first"), failed=True)
                return
        password = self._password()
        if password is None:
            return
        store, identity, signer = self.store, self.identity, who(self.identity.agent_id, self.identity_name)
        a, b = (f"{c.id}:{c.version}" for c in p)

        def work() -> dict[str, Any]:
            from ...jobs.checkpoints import signed_diff

            return signed_diff(store, a, b, identity.unlock(password))

        def done(doc: dict[str, Any]) -> None:
            from ...jobs.checkpoints import DIFF_FIELD

            self.last_signed = doc
            d, label = doc[DIFF_FIELD], f"{doc['jacsId']}:{doc['jacsVersion']}"
            say(self.status, tr("Diff {0} signed by {1} and stored: {2} appeared, {3} vanished, {4} changed")
                .format(label, signer, len(d["appeared"]), len(d["vanished"]), len(d["changed"])))
            self.signed.emit(label)

        say(self.status, tr("Signing the diff…"))
        self.workers.run(work, on_result=done, on_failure=lambda exc: say(
            self.status, tr("Not signed: {0}").format(message_of(exc)), failed=True), name="sign checkpoint diff")
