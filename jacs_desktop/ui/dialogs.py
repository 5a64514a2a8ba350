"""Dialogs: ask for a password (with "remember in the keyring"); the connect dialog is in
:mod:`.connect` (``S3Dialog`` is its old name here)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from ..core.identity import Identity

__all__ = ["IdentityLoading", "PasswordDialog", "choose_identity_file", "load_identity_or_say"]
# and, loaded on first use, ConnectDialog (S3Dialog: its old name)


def tr(text: str) -> str:
    return QCoreApplication.translate("Dialogs", text)


def choose_identity_file(parent: QWidget) -> str:
    """Ask for an agent's jacs.config.json; "" when none was chosen."""
    from PySide6.QtWidgets import QFileDialog

    path, _f = QFileDialog.getOpenFileName(parent, tr("Agent config (jacs.config.json)"), "",
                                           tr("JACS config (*.json)"))
    return path


def load_identity_or_say(config_path: str, status: QLabel) -> Identity | None:
    """The identity of *config_path*, or None with the reason written in *status*."""
    from ..core.errors import JacsError
    from ..core.identity import Identity

    try:
        return Identity.load(config_path)
    except JacsError as exc:
        status.setText(tr("Could not load the identity: {0}").format(exc))
        return None


class IdentityLoading:
    """Mixin for a window that acts as one agent: choose and load its jacs.config.json, ask for its key's
    password. The window (a QWidget) has ``status`` (a QLabel), ``identity`` and ``_ask_password`` (a
    callable for tests, or None to ask with :class:`PasswordDialog`), and implements ``_identity_loaded``."""

    status: QLabel
    identity: Any
    _ask_password: Any

    def _choose_identity(self) -> None:
        path = choose_identity_file(cast("QWidget", self))
        if path:
            self.load_identity(path)

    def load_identity(self, config_path: str) -> bool:
        """Load the identity of *config_path*; on failure say why in ``status`` (error style) and keep the
        current identity."""
        from .theme import error_style

        ident = load_identity_or_say(config_path, self.status)
        if ident is None:
            self.status.setStyleSheet(error_style())
            return False
        self.identity = ident
        self._identity_loaded()
        return True

    def _identity_loaded(self) -> None:
        """Show the newly loaded ``self.identity`` (each window its own way)."""
        raise NotImplementedError

    def _password(self) -> str | None:
        if self._ask_password is not None:
            pw: str | None = self._ask_password(self.identity)
            return pw
        dlg = PasswordDialog(cast("QWidget", self),
                             tr("Password of the private key of {0}").format(self.identity.agent_id),
                             f"agent:{self.identity.agent_id}:password")
        return dlg.password if dlg.exec() else None


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


def __getattr__(name: str):
    """``ConnectDialog`` and its old name ``S3Dialog`` (the window's import), loaded when first asked for."""
    if name in ("ConnectDialog", "S3Dialog"):
        from .connect import ConnectDialog

        return ConnectDialog
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
