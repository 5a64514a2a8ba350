"""Dialogs: connect to S3, ask for a password (with "remember in the keyring")."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout

from .theme import error_style, ok_style

__all__ = ["S3Dialog", "PasswordDialog"]


def tr(text: str) -> str:
    return QCoreApplication.translate("Dialogs", text)


class PasswordDialog(QDialog):
    """Asks for a secret; offers to remember it in the secure keyring (never in plain text)."""

    def __init__(self, parent, prompt: str, secret_name: str | None = None):
        super().__init__(parent)
        self.setWindowTitle(tr("Password"))
        self.secret_name = secret_name
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel(prompt, self))
        self.edit = QLineEdit(self)
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        lay.addWidget(self.edit)
        self.remember = QCheckBox(tr("Remember in the system keyring"), self)
        self.note = QLabel("", self)
        self.note.setWordWrap(True)
        from ..storage.secrets import keyring_status

        st = keyring_status()
        if not st.secure:
            self.remember.setEnabled(False)
            self.note.setText(tr("Cannot remember it: {0}.").format(st.reason))
        lay.addWidget(self.remember)
        lay.addWidget(self.note)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        bb.accepted.connect(self._accept)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)

    def _accept(self) -> None:
        if self.remember.isChecked() and self.secret_name:
            from ..storage.base import StorageError
            from ..storage.secrets import Secrets

            try:
                Secrets("keyring").set(self.secret_name, self.edit.text())
            except StorageError as exc:
                self.note.setText(str(exc))
                return
        self.accept()

    @property
    def password(self) -> str:
        return self.edit.text()


class S3Dialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle(tr("Connect to S3"))
        form = QFormLayout(self)
        self.bucket = QLineEdit(self)
        self.bucket.setPlaceholderText("bucket/prefix")
        self.endpoint = QLineEdit(self)
        self.endpoint.setPlaceholderText(tr("empty for AWS; e.g. http://127.0.0.1:9000 for MinIO/SeaweedFS"))
        self.region = QLineEdit(self)
        self.access = QLineEdit(self)
        self.secret = QLineEdit(self)
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.save_as = QLineEdit(self)
        self.save_as.setPlaceholderText(tr("name to save this connection (optional)"))
        self.remember = QCheckBox(tr("Remember the secret key in the system keyring"), self)
        form.addRow(tr("Bucket"), self.bucket)
        form.addRow(tr("Endpoint"), self.endpoint)
        form.addRow(tr("Region"), self.region)
        form.addRow(tr("Access key"), self.access)
        form.addRow(tr("Secret key"), self.secret)
        form.addRow(tr("Save as"), self.save_as)
        form.addRow("", self.remember)
        self.error = QLabel("", self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet(error_style())
        form.addRow(self.error)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.test_button = bb.addButton(tr("Test connection"), QDialogButtonBox.ButtonRole.ActionRole)
        self.test_button.clicked.connect(self.test_connection)
        bb.accepted.connect(self._accept)
        bb.rejected.connect(self.reject)
        form.addRow(bb)
        self.url = ""
        self.secrets: dict = {}
        self.test_result = None
        self._workers = None

    def _url_and_secrets(self) -> tuple[str, dict] | None:
        from ..storage.base import StorageError
        from ..storage.urls import parse_url

        self.error.setStyleSheet(error_style())
        bucket = self.bucket.text().strip().strip("/")
        if not bucket:
            self.error.setText(tr("A bucket is needed"))
            return None
        q = []
        if self.endpoint.text().strip():
            q.append("endpoint_url=" + self.endpoint.text().strip())
        if self.region.text().strip():
            q.append("region=" + self.region.text().strip())
        url = f"s3://{bucket}" + ("?" + "&".join(q) if q else "")
        try:
            parse_url(url)
        except StorageError as exc:
            self.error.setText(str(exc))
            return None
        secrets = {"access_key": self.access.text().strip(), "secret_key": self.secret.text()} \
            if self.access.text().strip() else {}
        return url, secrets

    def test_connection(self) -> None:
        """The doctor (write, read back, list, clean up) on a worker; the verdict shown here."""
        got = self._url_and_secrets()
        if got is None:
            return
        url, secrets = got
        from ..jobs.doctor import doctor
        from ..storage.urls import open_objects
        from .workers import WorkerPool

        if self._workers is None:
            self._workers = WorkerPool(self)
        self.test_button.setEnabled(False)
        self.error.setStyleSheet("")
        self.error.setText(tr("Testing {0}…").format(url))

        def work(progress, cancel):
            return doctor(lambda: open_objects(url, secrets=secrets), url, progress=progress, cancel=cancel)

        self._workers.run(work, on_result=self._tested, on_error=self._test_failed, name="doctor")

    def _tested(self, report) -> None:
        self.test_result = report
        self.test_button.setEnabled(True)
        ok = report.code == 0
        self.error.setStyleSheet(ok_style() if ok else error_style())
        lines = [tr("✓ The store works ({0:.1f} s).").format(report.seconds) if ok
                 else tr("✗ {0}").format(report.status)]
        lines += report.failures[:5]
        self.error.setText("\n".join(lines))

    def _test_failed(self, msg: str) -> None:
        self.test_button.setEnabled(True)
        self.error.setStyleSheet(error_style())
        self.error.setText(msg)

    def _accept(self) -> None:
        from ..storage.base import StorageError

        got = self._url_and_secrets()
        if got is None:
            return
        url, self.secrets = got
        name = self.save_as.text().strip()
        if name:
            from ..storage.connections import Connections
            from ..storage.secrets import Secrets

            try:
                secrets = Secrets("keyring") if self.remember.isChecked() else Secrets("session")
                Connections(secrets=secrets).add(name, url, access_key=self.secrets.get("access_key"),
                                                 secret_key=self.secrets.get("secret_key"), replace=True)
            except StorageError as exc:
                self.error.setText(str(exc))
                return
        self.url = url
        self.accept()
