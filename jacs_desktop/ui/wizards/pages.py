"""The pages and widgets the migrate, backup and restore wizards share: a store picker, a
store-URL page, a file-and-secret page, radio-button groups and the review page."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QWidget,
    QWizard,
)

from ..theme import error_style
from .base import FlowPage, PathField, tr

__all__ = ["StorePicker", "UrlPage", "ReviewPage", "FileAndSecretPage", "radios", "checked"]


class StorePicker(QWidget):
    """An editable list of saved connections and recent stores, plus Folder…/SQLite… buttons."""

    def __init__(self, parent, recent=()):
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.combo = QComboBox(self)
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        edit = self.combo.lineEdit()
        assert edit is not None  # an editable combo box has its line edit
        edit.setPlaceholderText(tr("a folder, s3://bucket/prefix, sqlite:///file, profile:NAME"))
        items: list[str] = []
        try:
            from ...storage.connections import Connections

            items += [f"profile:{c.name}" for c in Connections().list()]
        except Exception:
            pass
        for u in recent:
            if u and u not in items:
                items.append(u)
        self.combo.addItems(items)
        self.combo.setCurrentText("")
        folder = QPushButton(tr("Folder…"), self)
        folder.clicked.connect(self._folder)
        sqlite = QPushButton(tr("SQLite…"), self)
        sqlite.clicked.connect(self._sqlite)
        lay.addWidget(self.combo, 1)
        lay.addWidget(folder)
        lay.addWidget(sqlite)

    def _folder(self) -> None:
        d = QFileDialog.getExistingDirectory(self, tr("Choose a folder store"))
        if d:
            self.setText(d)

    def _sqlite(self) -> None:
        f, _ = QFileDialog.getSaveFileName(self, tr("SQLite store"), "", tr("SQLite (*.sqlite3 *.sqlite *.db)"),
                                           options=QFileDialog.Option.DontConfirmOverwrite)
        if f:
            self.setText("sqlite://" + Path(f).as_posix())

    def text(self) -> str:
        return self.combo.currentText().strip()

    def setText(self, t: str) -> None:
        self.combo.setCurrentText(t)


class UrlPage(FlowPage):
    """A page that names a store; the page's name is the state key it fills."""

    def __init__(self, wiz, name, subtitle, recent=(), create_box=False, check_store=False):
        super().__init__(wiz, name, subtitle=subtitle)
        #: check the store (write a scratch record, read it, remove it) before the page is left, so
        #: an unreachable or read-only target is found here and not when the job fails
        self.check_store = check_store
        self._checked = ""  # the URL that passed the check
        self._checking = False
        self.picker = StorePicker(self, recent)
        form = QFormLayout()
        form.addRow(tr("Store:"), self.picker)
        self.body.addLayout(form)
        # (not `self.create`: that is QWidget.create())
        self.create_box = (QCheckBox(tr("Create it if it does not exist (a new empty store)"), self) if create_box
                           else None)
        if self.create_box:
            self.body.addWidget(self.create_box)
        self.finish_layout()

    def load(self) -> None:
        self.picker.setText(self.state[self.name])
        if self.create_box:
            self.create_box.setChecked(bool(self.state.get("create_target", True)))

    def store(self) -> None:
        self.state[self.name] = self.picker.text()
        if self.create_box:
            self.state["create_target"] = self.create_box.isChecked()

    def validatePage(self) -> bool:
        if not super().validatePage():
            return False
        if not self.check_store:
            return True
        url = str(self.state[self.name]).strip()
        if url == self._checked:
            return True
        if self._checking:
            return False
        if self._will_be_created(url):
            return True  # a new local store: nothing to check yet, the job makes it
        from ...jobs.connection_probe import probe_connection

        self._checking = True
        self.error_label.setStyleSheet("")
        self.error_label.setText(tr("Checking {0}: writing, reading and removing a test record…").format(url))
        self.wiz.workers.run(probe_connection, url, on_result=lambda res: self._check_done(url, res),
                             on_error=lambda msg: self._check_done(url, None, msg), name="check target")
        return False

    def _will_be_created(self, url: str) -> bool:
        from pathlib import Path

        if "://" in url and not url.startswith(("file://", "sqlite://", "jsonl://")):
            return False
        path = Path(url.split("://", 1)[1] if "://" in url else url).expanduser()
        return not path.exists() and bool(self.create_box is None or self.create_box.isChecked())

    def _check_done(self, url: str, result, error: str = "") -> None:
        self._checking = False
        self.error_label.setStyleSheet(error_style())
        if result is not None and result.ok:
            self._checked = url
            self.error_label.setText("")
            if self.wiz.currentPage() is self and str(self.state[self.name]).strip() == url:
                self.wiz.next()
            return
        self.error_label.setText(tr("This store cannot be used as the target: {0}").format(
            result.message if result is not None else error))


def radios(page: FlowPage, options: list[tuple[str, str]]) -> dict[str, QRadioButton]:
    group = QButtonGroup(page)
    out = {}
    for value, text in options:
        r = QRadioButton(text, page)
        group.addButton(r)
        page.body.addWidget(r)
        out[value] = r
    return out


def checked(radios: dict[str, QRadioButton], default: str) -> str:
    return next((v for v, r in radios.items() if r.isChecked()), default)


class ReviewPage(FlowPage):
    name = "review"

    def __init__(self, wiz, lines, button: str, subtitle: str):
        super().__init__(wiz, "review", subtitle=subtitle)
        self.lines = lines
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, button)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.body.addWidget(self.text, 1)
        self.finish_layout()

    def load(self) -> None:
        self.text.setPlainText("\n".join(self.lines()))


class FileAndSecretPage(FlowPage):
    """A file (an identity's config, an archive) and the secret that opens it."""

    def __init__(self, wiz, name: str, subtitle: str, file_key: str, secret_key: str, file_label: str,
                 caption: str, file_filter: str, secret_label: str, secret_hint: str = ""):
        super().__init__(wiz, name, subtitle=subtitle)
        self.file_key, self.secret_key = file_key, secret_key
        form = QFormLayout()
        self.file = PathField(self, "file", caption, file_filter)
        self.secret = QLineEdit(self)
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        if secret_hint:
            self.secret.setPlaceholderText(secret_hint)
        form.addRow(file_label, self.file)
        form.addRow(secret_label, self.secret)
        self.body.addLayout(form)
        self.finish_layout()

    def load(self) -> None:
        self.file.setText(self.state[self.file_key])
        self.secret.setText(self.state[self.secret_key])

    def store(self) -> None:
        self.state[self.file_key] = self.file.text()
        self.state[self.secret_key] = self.secret.text()
