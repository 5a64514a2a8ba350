"""*Connect…*: one dialog for every kind of store, each with its own fields and *Test connection*.

The rules (what a field may hold, the URL the fields make, saving) are Qt-free in
:mod:`jacs_desktop.storage.connect_form`; the test itself is
:func:`jacs_desktop.jobs.connection_probe.probe_connection`, run on the worker pool.
This module only lays the fields out, shows each problem under its field (from the first
*Connect* or *Test connection* on, re-checked as the user types, so a message goes as soon
as the problem does), and never loses what was typed: every kind keeps its own page.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ..jobs.connection_probe import SCRATCH_PREFIX, ProbeResult, probe_connection
from ..storage import connect_form as cf
from ..storage.base import StorageError
from .connect_widgets import Choice, PathEdit, Row, breakable, browse_field, set_message, tr, wrapping_label
from .theme import caution_style, error_style, ok_style
from .workers import Task, WorkerPool

__all__ = ["ConnectDialog"]


class ConnectDialog(QDialog):
    """Choose a kind of store, fill in its fields, test, connect (and save under a name).

    After ``exec()`` returns true: :attr:`url` is the store to open (``profile:NAME`` when it
    was saved) and :attr:`secrets` what to open it with. *url*/*access_key* fill the fields
    from a saved connection (its secret is asked for again), *name* the Save-as name."""

    def __init__(self, parent: QWidget | None = None, *, kind: str = "s3", url: str | None = None,
                 access_key: str | None = None, name: str = "", workers=None):
        super().__init__(parent)
        self.setWindowTitle(tr("Connect to a store"))
        self.setMinimumWidth(560)
        self.url = ""
        self.secrets: dict[str, str] = {}
        self.spec: cf.ConnectSpec | None = None
        self.test_result: ProbeResult | None = None
        # the window's pool when there is one: a test still running when the dialog goes
        # finishes there, and closing the dialog never waits for it
        self._workers = workers if workers is not None else getattr(parent, "workers", None)
        self._tested_spec: cf.ConnectSpec | None = None
        self._task: Task | None = None
        self._checking = False  # from the first Connect / Test on, problems show as the user types
        self._widgets: dict[str, dict[str, QWidget]] = {k: {} for k in cf.KINDS}
        self._rows: dict[str, dict[str, Row]] = {k: {} for k in cf.KINDS}
        self._path_style_touched = False

        outer = QVBoxLayout(self)
        top = QFormLayout()
        self.kind_box = QComboBox(self)
        for k in cf.KINDS:
            self.kind_box.addItem(tr(cf.KIND_LABELS[k]), k)
        self.kind_row = Row(self.kind_box, self)
        top.addRow(tr("Kind of store"), self.kind_row)
        outer.addLayout(top)
        # one page per kind, only the chosen one shown (a hidden page takes no room, and keeps
        # what was typed in it)
        self.pages: dict[str, QWidget] = {}
        for k in cf.KINDS:
            self.pages[k] = self._page(k)
            self.pages[k].setVisible(k == "s3")
            outer.addWidget(self.pages[k])

        bottom = QFormLayout()
        self.url_view = QLineEdit(self)
        self.url_view.setReadOnly(True)
        self.url_view.setPlaceholderText(tr("appears when the fields are complete"))
        bottom.addRow(tr("Store URL"), self.url_view)
        self.save_as = QLineEdit(self)
        self.save_as.setPlaceholderText(tr("a name to save this connection (optional)"))
        self.save_row = Row(self.save_as, self)
        bottom.addRow(tr("Save as"), self.save_row)
        self.remember = QCheckBox(tr("Remember the secret in the system keyring"), self)
        self.remember_row = Row(self.remember, self)
        bottom.addRow("", self.remember_row)
        outer.addLayout(bottom)
        self.result_label = wrapping_label(self)
        outer.addSpacing(4)
        outer.addWidget(self.result_label)
        outer.addSpacing(4)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        bb.button(QDialogButtonBox.StandardButton.Ok).setText(tr("Connect"))
        self.connect_button = bb.button(QDialogButtonBox.StandardButton.Ok)
        self.test_button = bb.addButton(tr("Test connection"), QDialogButtonBox.ButtonRole.ActionRole)
        self.test_button.setToolTip(tr("Writes one test record under {0}, reads it back and removes it")
                                    .format(SCRATCH_PREFIX))
        self.test_button.clicked.connect(self.test_connection)
        bb.accepted.connect(self._accept)
        bb.rejected.connect(self.reject)
        outer.addWidget(bb)
        self._setup_remember()
        self._align_labels([top, bottom, *(p.layout() for p in self.pages.values())])

        self.kind_box.currentIndexChanged.connect(self._kind_changed)
        self.save_as.textChanged.connect(self._save_name_changed)
        if url:
            try:
                kind, values = cf.fields_from_url(url, access_key)
            except StorageError as exc:
                self._show_result(str(exc), error_style())
            else:
                self.set_values(kind, values)
        self.kind = kind if kind in cf.KINDS else "s3"
        if name:
            self.save_as.setText(name)
            if url:
                self._fill_saved_secret(name)
        self._refresh()

    def _fill_saved_secret(self, name: str) -> None:
        """Editing a saved connection: its secret, when this run can read it, goes into the secret
        field (shown as dots), so it need not be typed again; otherwise the field asks for it."""
        from ..storage.connections import Connections

        try:
            secret = Connections().get(name).resolve_secrets().get("secret_key")
        except StorageError:
            return
        field = {"s3": "secret_key", "azure": "account_key"}.get(self.kind)
        w = self._widgets[self.kind].get(field or "")
        if secret and isinstance(w, QLineEdit) and not w.text():
            w.setText(secret)

    # ------------------------------------------------------------------ building the pages
    def _page(self, kind: str) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        form.setContentsMargins(0, 0, 0, 0)

        def add(name: str, label: str, w: QWidget, placeholder: str = "") -> QWidget:
            if placeholder and isinstance(w, QLineEdit):
                w.setPlaceholderText(placeholder)
            row = Row(w.box if isinstance(w, PathEdit) else w, page)
            self._widgets[kind][name] = w
            self._rows[kind][name] = row
            form.addRow(label, row)
            if isinstance(w, QLineEdit):
                w.textChanged.connect(self._edited)
            elif isinstance(w, QComboBox):
                w.currentTextChanged.connect(self._edited)
            elif isinstance(w, QCheckBox):
                w.toggled.connect(self._edited)
            elif isinstance(w, Choice):
                w.group.buttonToggled.connect(lambda *_: self._edited())
            return w

        def secret() -> QLineEdit:
            e = QLineEdit(page)
            e.setEchoMode(QLineEdit.EchoMode.Password)
            return e

        if kind == "s3":
            endpoint = QLineEdit(page)
            add("endpoint", tr("Endpoint"), endpoint,
                tr("empty for AWS; e.g. http://127.0.0.1:9000 for MinIO or SeaweedFS"))
            endpoint.textChanged.connect(self._endpoint_changed)
            add("bucket", tr("Bucket"), QLineEdit(page), "my-bucket")
            add("prefix", tr("Prefix"), QLineEdit(page), tr("optional, e.g. jacs/prod"))
            add("region", tr("Region"), QLineEdit(page), tr("optional, e.g. eu-west-1 (auto for R2)"))
            profile = QComboBox(page)
            profile.setEditable(True)
            profile.addItem("")
            profile.addItems(cf.aws_profiles())
            profile_edit = profile.lineEdit()
            if profile_edit is not None:
                profile_edit.setPlaceholderText(tr("optional: a profile from ~/.aws (SSO, roles)"))
            add("profile", tr("AWS profile"), profile)
            add("access_key", tr("Access key"), QLineEdit(page), tr("optional"))
            add("secret_key", tr("Secret key"), secret())
            sse = QComboBox(page)
            for value, text in (("", tr("None")), ("AES256", "AES256"), ("aws:kms", "aws:kms")):
                sse.addItem(text, value)
            add("sse", tr("Server-side encryption"), sse)
            ps = QCheckBox(tr("Path-style addressing (most S3-compatible servers need it)"), page)
            ps.clicked.connect(self._path_style_clicked)
            add("path_style", "", ps)
        elif kind == "gs":
            add("bucket", tr("Bucket"), QLineEdit(page), "my-bucket")
            add("prefix", tr("Prefix"), QLineEdit(page), tr("optional, e.g. jacs/prod"))
            add("project", tr("Project"), QLineEdit(page), tr("optional, e.g. my-project-123"))
            add("endpoint", tr("Endpoint"), QLineEdit(page), tr("empty for Google; e.g. http://127.0.0.1:4443"))
            add("credentials", tr("Credentials"), Choice([
                ("adc", tr("Application Default Credentials")),
                ("key_file", tr("Service account key file")),
                ("anonymous", tr("Anonymous (public buckets, emulators)"))], page))
            add("key_file", tr("Key file"), browse_field(
                page, lambda: QFileDialog.getOpenFileName(self, tr("Service account key file"), "",
                                                          tr("JSON key (*.json);;All files (*)"))[0]))
        elif kind == "azure":
            add("container", tr("Container"), QLineEdit(page), "jacs")
            add("prefix", tr("Prefix"), QLineEdit(page), tr("optional, e.g. stores/prod"))
            add("auth", tr("Sign in with"), Choice([
                ("key", tr("Account name and key")), ("connection_string", tr("Connection string")),
                ("environment", tr("AZURE_STORAGE_CONNECTION_STRING (as set)"))], page))
            add("account", tr("Account name"), QLineEdit(page), "mystorageaccount")
            add("account_key", tr("Account key"), secret())
            add("connection_string", tr("Connection string"), secret())
            add("endpoint", tr("Endpoint"), QLineEdit(page), tr("optional, for Azurite or another cloud"))
        else:
            pick: Callable[[], str]
            if kind == "folder":
                def pick() -> str:
                    return QFileDialog.getExistingDirectory(self, tr("JACS folder"))
                label = tr("Folder")
            else:
                pattern = (tr("JSON Lines (*.jsonl *.ndjson);;All files (*)") if kind == "jsonl"
                           else tr("SQLite (*.sqlite3 *.sqlite *.db);;All files (*)"))

                def pick() -> str:
                    return QFileDialog.getOpenFileName(self, tr(cf.KIND_LABELS[kind]), "", pattern)[0]
                label = tr("File")
            add("path", label, browse_field(page, pick))
        return page

    @staticmethod
    def _align_labels(forms: list) -> None:
        """One label column for the chooser, every kind's page and the bottom rows alike."""
        labels = []
        for form in forms:
            for row in range(form.rowCount()):
                item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
                if item is not None and item.widget() is not None:
                    labels.append(item.widget())
        width = max((lab.sizeHint().width() for lab in labels), default=0)
        for lab in labels:
            lab.setMinimumWidth(width)

    # ------------------------------------------------------------------ values
    @property
    def kind(self) -> str:
        return str(self.kind_box.currentData())

    @kind.setter
    def kind(self, kind: str) -> None:
        self.kind_box.setCurrentIndex(cf.KINDS.index(kind))
        self._show_page()

    def _show_page(self) -> None:
        for k, page in self.pages.items():
            page.setVisible(k == self.kind)
        has_secret = self.kind in ("s3", "azure")
        self.remember_row.setVisible(has_secret)

    def widget(self, kind: str, name: str) -> QWidget:
        return self._widgets[kind][name]

    def error_text(self, kind: str, name: str) -> str:
        """The problem shown under a field ("" when none); ``name="kind"`` for the chooser."""
        label = self.kind_row.error if name == "kind" else self._rows[kind][name].error
        return label.toolTip()

    def values(self, kind: str | None = None) -> dict[str, object]:
        out: dict[str, object] = {}
        for name, w in self._widgets[kind or self.kind].items():
            if isinstance(w, QLineEdit):
                out[name] = w.text()
            elif isinstance(w, QComboBox):
                out[name] = w.currentText() if w.isEditable() else str(w.currentData() or "")
            elif isinstance(w, QCheckBox):
                out[name] = w.isChecked()
            elif isinstance(w, Choice):
                out[name] = w.value()
        return out

    def set_values(self, kind: str, values: dict[str, object]) -> None:
        """Fill *kind*'s fields and show its page."""
        self.kind = kind
        for name, value in values.items():
            w = self._widgets[kind].get(name)
            if isinstance(w, QLineEdit):
                w.setText(str(value or ""))
            elif isinstance(w, QComboBox):
                if w.isEditable():
                    w.setCurrentText(str(value or ""))
                else:
                    w.setCurrentIndex(max(0, w.findData(str(value or ""))))
            elif isinstance(w, QCheckBox):
                w.setChecked(bool(value))
                if name == "path_style":
                    self._path_style_touched = True
            elif isinstance(w, Choice):
                w.set_value(str(value or ""))

    # ------------------------------------------------------------------ reacting to edits
    def _kind_changed(self, _index: int) -> None:
        self._show_page()
        self.test_result = None
        self.result_label.hide()
        self._refresh()

    def _endpoint_changed(self, text: str) -> None:
        if not self._path_style_touched:  # follows the endpoint until the user sets it
            box = self._widgets["s3"]["path_style"]
            assert isinstance(box, QCheckBox)
            box.setChecked(bool(text.strip()))

    def _path_style_clicked(self) -> None:
        self._path_style_touched = True

    def _edited(self, *_args: object) -> None:
        self._refresh()

    def _save_name_changed(self, text: str) -> None:
        self._refresh()

    def _refresh(self) -> dict[str, str]:
        """Re-check the form: the URL preview, the notes, and (once checking) the problems."""
        kind = self.kind
        values = self.values(kind)
        errors = cf.validate(kind, values)
        notes = cf.notes(kind, values)
        extra = cf.missing_extra(kind)
        set_message(self.kind_row.error, extra or "")
        for name, row in self._rows[kind].items():
            set_message(row.error, errors.get(name, "") if self._checking else "")
            set_message(row.note, notes.get(name, ""))
        if kind == "gs":
            key_file = self._widgets[kind]["key_file"]
            if isinstance(key_file, PathEdit):
                key_file.box.setEnabled(values.get("credentials") == "key_file")
        if kind == "azure":
            auth = values.get("auth")
            for name in ("account", "account_key"):
                self._widgets[kind][name].setEnabled(auth == "key")
            self._widgets[kind]["connection_string"].setEnabled(auth == "connection_string")
        try:
            self.spec = None if errors else cf.build(kind, values)
        except StorageError:
            self.spec = None
        self.url_view.setText(self.spec.url if self.spec else "")
        self.url_view.setCursorPosition(0)
        name = self.save_as.text().strip()
        save_note, save_error = "", ""
        if name:
            if self.spec is not None and self.spec.not_savable:
                save_error = self.spec.not_savable
            elif self._exists(name):
                save_note = tr("Saving replaces the saved connection {0!r}.").replace("{0!r}", repr(name))
        set_message(self.save_row.error, save_error if self._checking else "")
        set_message(self.save_row.note, save_note)
        if save_error:
            errors["save_as"] = save_error
        self._drop_stale_result(errors)
        self._fit()
        QTimer.singleShot(0, self._fit)  # once more when Qt has laid out what just appeared
        return errors

    def _fit(self) -> None:
        """Height to the content (a message appeared or went, another kind was chosen); the width
        stays what it is."""
        lay = self.layout()
        if lay is None:
            return
        lay.activate()
        want = lay.totalHeightForWidth(self.width()) if lay.hasHeightForWidth() else lay.totalSizeHint().height()
        if want > 0 and want != self.height():
            self.resize(self.width(), want)

    @staticmethod
    def _exists(name: str) -> bool:
        from ..storage.connections import Connections

        try:
            return any(c.name == name for c in Connections().list())
        except StorageError:
            return False

    def _setup_remember(self) -> None:
        from ..storage.secrets import Secrets, SecretsUnavailable, default_secrets, keyring_status

        store: Secrets | None = None
        try:
            store = default_secrets()
        except SecretsUnavailable as exc:
            why = str(exc)
        else:
            why = (keyring_status().reason if store.requested == "auto"
                   else tr("Settings say secrets are not remembered"))
        self._remember_store = store if store is not None and store.persistent else None
        if self._remember_store is None:
            self.remember.setChecked(False)
            self.remember.setEnabled(False)
            set_message(self.remember_row.note, tr("Cannot remember the secret: {0}. It is kept until JACS Desktop "
                                                 "closes.").format(why.rstrip(".")))
        else:
            if self._remember_store.backend == "file":
                self.remember.setText(tr("Remember the secret in the encrypted secrets file"))
            self.remember.setChecked(True)

    # ------------------------------------------------------------------ test, connect
    def _checked_spec(self) -> cf.ConnectSpec | None:
        self._checking = True
        errors = self._refresh()
        errors.pop("save_as", None)
        if errors or self.spec is None:
            self._show_result(tr("Fix the fields marked in red."), error_style(), "fix")
            first = next(iter(errors), "")
            w = self._widgets[self.kind].get(first)
            if w is not None:
                w.setFocus()
            return None
        return self.spec

    def _drop_stale_result(self, errors: dict[str, str]) -> None:
        """A test result is about the fields as they were tested, "fix the fields" about problems
        that were there: either goes once it no longer holds."""
        what = self.result_label.property("about")
        if what == "fix" and not errors:
            self.result_label.hide()
        elif what == "test" and (self.spec is None or self._tested_spec is None
                                 or (self.spec.url, self.spec.secrets) != (self._tested_spec.url,
                                                                           self._tested_spec.secrets)):
            self.result_label.hide()
            self.test_result = None

    def _show_result(self, text: str, style: str = "", about: str = "") -> None:
        self.result_label.setProperty("about", about)
        self.result_label.setStyleSheet(style)
        self.result_label.setText(breakable(text))
        self.result_label.setToolTip(text)
        self.result_label.show()

    def test_connection(self) -> None:
        """The probe on a worker: one scratch record written, read back, listed and removed."""
        spec = self._checked_spec()
        if spec is None:
            return
        if self._workers is None:
            self._workers = WorkerPool(self)
        self.test_result = None
        self.test_button.setEnabled(False)
        self._show_result(tr("Testing {0}… (a test record is written under {1} and removed)")
                          .format(spec.where, SCRATCH_PREFIX))
        url, secrets = spec.url, dict(spec.secrets)

        def work(progress, cancel):
            return probe_connection(url, secrets, progress=progress, cancel=cancel)

        self._tested_spec = spec
        self._task = self._workers.run(work, on_result=self._tested, on_failure=self._test_crashed,
                                       on_progress=self._progress, name="connection test")

    def _progress(self, _done: int, _total: int, message: str) -> None:
        if self._task is not None and not self._task.cancelled and self._tested_spec is not None:
            self._show_result(tr("Testing {0}… {1}").format(self._tested_spec.where, message))

    def _tested(self, result: ProbeResult) -> None:
        self.test_result = result
        self.test_button.setEnabled(True)
        style = ok_style() if result.ok else (caution_style() if result.problem == "refused" else error_style())
        self._show_result(("✓ " if result.ok else "✗ ") + result.message, style, "test")

    def _test_crashed(self, exc: BaseException) -> None:
        self.test_button.setEnabled(True)
        self._show_result(tr("✗ The test failed: {0}").format(str(exc) or type(exc).__name__), error_style(), "test")

    def _accept(self) -> None:
        spec = self._checked_spec()
        if spec is None:
            return
        name = self.save_as.text().strip()
        url, secrets = spec.url, dict(spec.secrets)
        if name:
            if spec.not_savable:
                self._refresh()
                return
            try:
                cf.save_connection(spec, name, remember=self.remember.isChecked(), secrets=self._secret_store())
            except StorageError as exc:
                set_message(self.save_row.error, str(exc))
                return
            url = f"profile:{name}"
        self.url, self.secrets = url, secrets
        self.accept()

    def _secret_store(self):
        """Where a saved secret goes: the persistent store when asked to remember it, else this session."""
        from ..storage.secrets import Secrets

        if self.remember.isChecked() and self._remember_store is not None:
            return self._remember_store
        return Secrets("session")

    def done(self, r: int) -> None:  # accept, reject, Escape, close: a running test is let go
        if self._task is not None:
            self._task.cancel()
        super().done(r)
