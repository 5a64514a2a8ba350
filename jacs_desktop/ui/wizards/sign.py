"""New signed document / new version: content -> attachments -> signer -> review -> run."""

from __future__ import annotations

import html
import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QTableView,
    QWizard,
)

from ...core.sign import guess_mimetype
from ...jobs.flows.sign import MAX_EMBED_BYTES, SignFlow
from .base import FlowPage, FlowWizard, PathField, RunPage, tr

__all__ = ["SignWizard"]


class ContentPage(FlowPage):
    name = "content"

    def __init__(self, wiz):
        super().__init__(wiz, subtitle=tr("A title and the JSON body to sign. Switch to the form for simple "
                                          "key/value content."))
        form = QFormLayout()
        self.title_edit = QLineEdit(self)
        self.title_edit.setPlaceholderText(tr("optional"))
        form.addRow(tr("Title:"), self.title_edit)
        self.body.addLayout(form)
        self.form_mode = QCheckBox(tr("Form mode (key / value)"), self)
        self.body.addWidget(self.form_mode)
        self.editor = QPlainTextEdit(self)
        self.editor.setPlaceholderText('{\n  "jacsDocument": {"type": "message", "content": "…"}\n}')
        self.editor.setFont(self.editor.font())
        self.body.addWidget(self.editor, 1)
        self.form_model = QStandardItemModel(0, 2, self)
        self.form_model.setHorizontalHeaderLabels([tr("Key"), tr("Value")])
        self.form_view = QTableView(self)
        self.form_view.setModel(self.form_model)
        self.form_view.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.body.addWidget(self.form_view, 1)
        row = QHBoxLayout()
        self.add_row = QPushButton(tr("Add field"), self)
        self.add_row.clicked.connect(lambda: self.form_model.appendRow([QStandardItem(""), QStandardItem("")]))
        self.del_row = QPushButton(tr("Remove field"), self)
        self.del_row.clicked.connect(self._remove_row)
        row.addWidget(self.add_row)
        row.addWidget(self.del_row)
        row.addStretch(1)
        self.body.addLayout(row)
        self.live = QLabel("", self)
        self.body.addWidget(self.live)
        self.form_mode.toggled.connect(self._mode_changed)
        self.editor.textChanged.connect(self._check_live)
        self.finish_layout()
        self._mode_changed(False)

    def _remove_row(self) -> None:
        r = self.form_view.currentIndex().row()
        if r >= 0:
            self.form_model.removeRow(r)

    def _mode_changed(self, on: bool) -> None:
        if on:  # carry simple JSON over into the form
            try:
                obj = json.loads(self.editor.toPlainText() or "{}")
            except ValueError:
                obj = None
            if isinstance(obj, dict) and self.form_model.rowCount() == 0:
                for k, v in obj.items():
                    self.form_model.appendRow([QStandardItem(k), QStandardItem(
                        v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))])
            if self.form_model.rowCount() == 0:
                self.form_model.appendRow([QStandardItem(""), QStandardItem("")])
        for w in (self.form_view, self.add_row, self.del_row):
            w.setVisible(on)
        self.editor.setVisible(not on)

    def _check_live(self) -> None:
        text = self.editor.toPlainText()
        if not text.strip():
            self.live.setText("")
            return
        try:
            ok = isinstance(json.loads(text), dict)
            self.live.setText(tr("✓ valid JSON object") if ok else tr("✗ the content must be a JSON object"))
        except json.JSONDecodeError as exc:
            self.live.setText(tr("✗ line {0}, column {1}: {2}").format(exc.lineno, exc.colno, exc.msg))
        except (ValueError, RecursionError) as exc:  # e.g. a number with too many digits, deep nesting
            self.live.setText(tr("✗ {0}").format(exc))

    def load(self) -> None:
        self.title_edit.setText(self.state["title"])
        if self.editor.toPlainText() != self.state["content_text"]:
            self.editor.setPlainText(self.state["content_text"])
        self.form_mode.setChecked(bool(self.state["form_mode"]))

    def store(self) -> None:
        self.state["title"] = self.title_edit.text()
        self.state["content_text"] = self.editor.toPlainText()
        self.state["form_mode"] = self.form_mode.isChecked()
        self.state["form"] = [(self.form_model.item(r, 0).text() if self.form_model.item(r, 0) else "",
                               self.form_model.item(r, 1).text() if self.form_model.item(r, 1) else "")
                              for r in range(self.form_model.rowCount())]


class AttachmentsPage(FlowPage):
    name = "attachments"
    COLS = ("File", "Size", "Type", "Embed")

    def __init__(self, wiz):
        super().__init__(wiz, subtitle=tr("Drop files here or add them. Embedded files travel inside the signed "
                                          "document; external ones are stored beside it and referenced by hash."))
        self.setAcceptDrops(True)
        self.model = QStandardItemModel(0, len(self.COLS), self)
        self.model.setHorizontalHeaderLabels([tr(c) for c in self.COLS])
        self.view = QTableView(self)
        self.view.setModel(self.model)
        self.view.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        #: a new version keeps the previous version's attachments: named here
        self.inherited = QLabel("", self)
        self.inherited.setWordWrap(True)
        self.inherited.hide()
        self.body.addWidget(self.inherited)
        self.body.addWidget(self.view, 1)
        row = QHBoxLayout()
        add = QPushButton(tr("Add files…"), self)
        add.clicked.connect(self._choose)
        rm = QPushButton(tr("Remove"), self)
        rm.clicked.connect(self._remove)
        row.addWidget(add)
        row.addWidget(rm)
        row.addStretch(1)
        self.body.addLayout(row)
        self.finish_layout()

    def _choose(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        paths, _ = QFileDialog.getOpenFileNames(self, tr("Attach files"))
        self.add_paths([Path(p) for p in paths])

    def _remove(self) -> None:
        rows = sorted({i.row() for i in self.view.selectionModel().selectedIndexes()}, reverse=True)
        for r in rows:
            self.model.removeRow(r)

    def add_paths(self, paths) -> None:
        have = {self.model.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in range(self.model.rowCount())}
        for p in paths:
            p = Path(p)
            if str(p) in have:
                continue
            try:
                size = p.stat().st_size
            except OSError:
                size = -1
            name = QStandardItem(p.name)
            name.setData(str(p), Qt.ItemDataRole.UserRole)
            name.setToolTip(str(p))
            name.setEditable(False)
            sz = QStandardItem(f"{size:,} B" if size >= 0 else tr("unreadable"))
            sz.setEditable(False)
            mt = QStandardItem(guess_mimetype(p.name))
            mt.setEditable(False)
            embed = QStandardItem()
            embed.setCheckable(True)
            embed.setEditable(False)
            embed.setCheckState(Qt.CheckState.Checked if 0 <= size <= MAX_EMBED_BYTES else Qt.CheckState.Unchecked)
            self.model.appendRow([name, sz, mt, embed])

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        self.add_paths([u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()])
        event.acceptProposedAction()

    def load(self) -> None:
        kept = self.flow.inherited_attachments()
        if kept:
            lines = [f"{f.get('path')} ({f.get('mimetype') or '?'}, "
                     f"{tr('embedded') if f.get('embed') else tr('external')})" for f in kept]
            self.inherited.setText(tr("Kept from the previous version ({0}):").format(len(kept)) + "\n  "
                                   + "\n  ".join(lines))
        self.inherited.setVisible(bool(kept))
        if self.model.rowCount() == 0 and self.state["attachments"]:
            self.add_paths([a["path"] for a in self.state["attachments"]])
            for r, a in enumerate(self.state["attachments"]):
                if "embed" in a:
                    state = Qt.CheckState.Checked if a["embed"] else Qt.CheckState.Unchecked
                    self.model.item(r, 3).setCheckState(state)

    def store(self) -> None:
        self.state["attachments"] = [
            {"path": self.model.item(r, 0).data(Qt.ItemDataRole.UserRole),
             "embed": self.model.item(r, 3).checkState() == Qt.CheckState.Checked}
            for r in range(self.model.rowCount())]


class SignerPage(FlowPage):
    name = "signer"

    def __init__(self, wiz):
        super().__init__(wiz, subtitle=tr("Sign as an agent you have (its jacs.config.json and key folder), or "
                                          "create a new agent. The password is asked once."))
        self.open_radio = QRadioButton(tr("Use an existing agent"), self)
        self.create_radio = QRadioButton(tr("Create a new agent"), self)
        group = QButtonGroup(self)
        group.addButton(self.open_radio)
        group.addButton(self.create_radio)
        self.body.addWidget(self.open_radio)
        f1 = QFormLayout()
        self.config = PathField(self, "file", tr("The agent's jacs.config.json"), tr("JACS config (*.json)"))
        self.config.edit.editingFinished.connect(self._fill_remembered)
        f1.addRow(tr("Configuration:"), self.config)
        self.agent_info = QLabel("", self)
        f1.addRow("", self.agent_info)
        self.body.addLayout(f1)
        self.body.addWidget(self.create_radio)
        f2 = QFormLayout()
        self.agent_name = QLineEdit(self)
        self.agent_dir = PathField(self, "dir", tr("Folder for the new agent"))
        self.algorithm = QComboBox(self)
        self.algorithm.addItem(tr("Ed25519 (fast, small)"), "ring-Ed25519")
        self.algorithm.addItem(tr("pq2025 — ML-DSA-87 (post-quantum)"), "pq2025")
        f2.addRow(tr("Name:"), self.agent_name)
        f2.addRow(tr("Folder:"), self.agent_dir)
        f2.addRow(tr("Algorithm:"), self.algorithm)
        self.body.addLayout(f2)
        f3 = QFormLayout()
        self.password = QLineEdit(self)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password2 = QLineEdit(self)
        self.password2.setEchoMode(QLineEdit.EchoMode.Password)
        self.password2.setPlaceholderText(tr("again (new agent only)"))
        self.remember = QCheckBox(tr("Remember the password in the system keyring"), self)
        f3.addRow(tr("Password:"), self.password)
        f3.addRow("", self.password2)
        f3.addRow("", self.remember)
        self.body.addLayout(f3)
        self.keyring_note = QLabel("", self)
        self.keyring_note.setWordWrap(True)
        self.body.addWidget(self.keyring_note)
        self.open_radio.toggled.connect(self._mode)
        self.finish_layout()

    def _mode(self) -> None:
        create = self.create_radio.isChecked()
        self.config.setEnabled(not create)
        for w in (self.agent_name, self.agent_dir, self.algorithm, self.password2):
            w.setEnabled(create)

    def _fill_remembered(self) -> None:
        self.store()
        if self.state["signer_mode"] != "open" or not self.state["config_path"]:
            return
        try:
            ident = self.flow.identity()
        except Exception as exc:
            self.agent_info.setText(str(exc))
            return
        self.agent_info.setText(tr("Agent {0} · {1}").format(ident.agent_id, ident.algorithm))
        pw = self.flow.remembered_password()
        if pw and not self.password.text():
            self.password.setText(pw)
            self.agent_info.setText(self.agent_info.text() + tr(" · password from the keyring"))

    def load(self) -> None:
        s = self.state
        (self.create_radio if s["signer_mode"] == "create" else self.open_radio).setChecked(True)
        self.create_radio.setEnabled(s.get("previous") is None)
        self.config.setText(s["config_path"])
        self.agent_name.setText(s["agent_name"])
        self.agent_dir.setText(s["agent_dir"])
        self.algorithm.setCurrentIndex(max(0, self.algorithm.findData(s["algorithm"])))
        self.password.setText(s["password"])
        self.remember.setChecked(bool(s["remember"]))
        from ...storage.secrets import remember_status

        where, why = remember_status()
        if not where:
            self.remember.setChecked(False)
            self.remember.setEnabled(False)
            self.keyring_note.setText(tr("The password cannot be remembered: {0}.").format(why))
        elif where == "file":
            self.remember.setText(tr("Remember the password in the encrypted secrets file"))
        self._mode()
        if s["config_path"]:
            self._fill_remembered()

    def store(self) -> None:
        s = self.state
        s["signer_mode"] = "create" if self.create_radio.isChecked() else "open"
        s["config_path"] = self.config.text()
        s["agent_name"] = self.agent_name.text()
        s["agent_dir"] = self.agent_dir.text()
        s["algorithm"] = self.algorithm.currentData()
        s["password"] = self.password.text()
        s["password2"] = self.password2.text()
        s["remember"] = self.remember.isChecked() and self.remember.isEnabled()
        s["prepared"] = None  # anything changed before review means signing again


class ReviewPage(FlowPage):
    name = "review"

    def __init__(self, wiz):
        super().__init__(wiz, subtitle=tr("Exactly what will be signed. Nothing is stored until you press "
                                          "Sign and store."))
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, tr("Sign and store"))
        self.info = QLabel(tr("Signing…"), self)
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview = QPlainTextEdit(self)
        self.preview.setReadOnly(True)
        self.body.addWidget(self.info)
        self.body.addWidget(self.preview, 1)
        self.finish_layout()
        self.busy = False

    def initializePage(self) -> None:
        super().initializePage()
        self.state["prepared"] = None
        self.info.setText(tr("Unlocking the key and signing…"))
        self.preview.clear()
        self.busy = True
        self.wiz.workers.run(self.flow.prepare, on_result=self._prepared, on_error=self._failed, name="sign")

    def _prepared(self, doc: dict) -> None:
        self.busy = False
        fields = self.flow.signed_fields()
        sig = doc.get("jacsSignature") or {}
        store = self.state.get("store")
        where = getattr(getattr(store, "objects", None), "url", "") or tr("the open store")
        self.info.setText(tr("<b>Stored in</b> {5}<br><b>Signer</b> {0} ({1})<br><b>jacsSha256</b> {2}<br>"
                             "<b>Signed fields</b> ({3}): {4}")
                          .format(sig.get("agentID"), sig.get("signingAlgorithm"), doc.get("jacsSha256"),
                                  len(fields), ", ".join(fields), html.escape(str(where))))
        notes = self.state.get("attachment_notes") or []
        if notes:  # an external attachment the library would reject, embedded instead
            self.info.setText(self.info.text() + "<br><b>" + tr("Attachments") + "</b> "
                              + "<br>".join(html.escape(n) for n in notes))
        self.preview.setPlainText(json.dumps(doc, indent=2, ensure_ascii=False)[:200_000])
        self.completeChanged.emit()

    def _failed(self, msg: str) -> None:
        self.busy = False
        self.info.setText(tr("Could not sign."))
        self.error_label.setText(msg + "\n" + tr("Go back to fix it."))
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return not self.busy and self.state.get("prepared") is not None


def _describe(result) -> str:
    if not isinstance(result, dict):
        return str(result)
    return "\n".join(f"{k}: {v}" for k, v in result.items())


class SignWizard(FlowWizard):
    """``document_signed(key, jacsId, jacsVersion)`` is emitted when the document is stored."""

    def __init__(self, store, parent=None, *, previous: dict | None = None, files=(), workers=None,
                 config_path: str = ""):
        flow = SignFlow(store=store, previous=previous, config_path=config_path,
                        attachments=[{"path": str(p)} for p in files])
        super().__init__(flow, parent, workers)
        self.add(ContentPage(self))
        self.attachments_page = self.add(AttachmentsPage(self))
        self.add(SignerPage(self))
        self.add(ReviewPage(self))
        self.run_page = self.add(RunPage(self, flow.commit, _describe, tr("Stored")))
        if files:  # files dropped on the window: the content page still comes first
            self.attachments_page.add_paths(files)
            self.attachments_page.store()
