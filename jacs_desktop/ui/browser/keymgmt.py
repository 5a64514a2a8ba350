"""The key management window (Tools → Key management…): the loaded identity's key, *Change password*
(as jacs's ``reencrypt_key``) and *Rotate keys* (as jacs's ``rotate_keys``), a thin view over
:mod:`jacs_desktop.jobs.keymgmt`.  A rotation that stopped before the config was re-signed (ours, or
one made by jacs's Python ``rotate_keys``) is offered as *Finish the interrupted rotation*."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..dialogs import IdentityLoading
from ..workers import message_of

__all__ = ["KeyManagementWindow"]


def tr(text: str) -> str:
    return QCoreApplication.translate("KeyManagementWindow", text)


def _needs_finishing(identity: Any) -> bool:
    """A rotation journal is left, or the config's agent version is not signed by the current key."""
    import json

    from ...core.errors import JacsError
    from ...jobs.keymgmt import pending_rotation

    try:
        if pending_rotation(identity.config) is not None:
            return True
        doc = json.loads(identity.config.agent_file.read_bytes())
    except (JacsError, OSError, ValueError, RecursionError):
        return False
    sig = doc.get("jacsSignature") if isinstance(doc, dict) else None
    return isinstance(sig, dict) and sig.get("publicKeyHash") != identity.public_key_hash


class KeyManagementWindow(IdentityLoading, QWidget):
    #: the agent's new version (``id:version``) after a rotation: the store listing changed
    rotated = Signal(str)

    def __init__(self, workers: Any, config_path: str = "", parent: QWidget | None = None,
                 ask_password: Callable[[Any], str | None] | None = None,
                 confirm: Callable[[str], bool] | None = None):
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle(tr("Key management"))
        self.resize(720, 560)
        self.workers = workers
        self.identity: Any = None
        self._ask_password, self._confirm = ask_password, confirm
        self.busy = False
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.identity_label = QLabel(tr("No identity loaded"), self)
        self.load_identity_button = QPushButton(tr("Load identity…"), self)
        self.load_identity_button.clicked.connect(self._choose_identity)
        top.addWidget(self.identity_label, 1)
        top.addWidget(self.load_identity_button)
        lay.addLayout(top)

        key_box = QGroupBox(tr("Signing key"), self)
        form = QFormLayout(key_box)
        self.fields: dict[str, QLabel] = {}
        for name, label in (("agent", tr("Agent")), ("version", tr("Agent version")),
                            ("algorithm", tr("Algorithm")), ("key", tr("Public key hash")),
                            ("folder", tr("Key folder"))):
            value = QLabel("—", key_box)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            form.addRow(label, value)
            self.fields[name] = value
        lay.addWidget(key_box)

        pw_box = QGroupBox(tr("Change password"), self)
        pw_form = QFormLayout(pw_box)
        self.old_password, self.new_password, self.new_again = (QLineEdit(pw_box) for _ in range(3))
        for edit, label in ((self.old_password, tr("Current password")), (self.new_password, tr("New password")),
                            (self.new_again, tr("New password again"))):
            edit.setEchoMode(QLineEdit.EchoMode.Password)
            pw_form.addRow(label, edit)
        self.change_button = QPushButton(tr("Change password"), pw_box)
        self.change_button.clicked.connect(self.change_password)
        pw_form.addRow("", self.change_button)
        lay.addWidget(pw_box)

        rot_box = QGroupBox(tr("Rotate keys"), self)
        rot_lay = QVBoxLayout(rot_box)
        explain = QLabel(tr("Makes a new key pair and a new version of the agent signed by the new key; the old "
                            "key signs the change. Documents signed before stay valid, and the old key is kept "
                            "(marked obsolete). The new key gets the same password."), rot_box)
        explain.setWordWrap(True)
        rot_lay.addWidget(explain)
        row = QHBoxLayout()
        row.addWidget(QLabel(tr("New key algorithm"), rot_box))
        self.algorithm = QComboBox(rot_box)
        row.addWidget(self.algorithm, 1)
        self.rotate_button = QPushButton(tr("Rotate keys"), rot_box)
        self.rotate_button.clicked.connect(self.rotate)
        row.addWidget(self.rotate_button)
        rot_lay.addLayout(row)
        lay.addWidget(rot_box)
        lay.addStretch(1)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.status)
        self._enable()
        if config_path:
            self.load_identity(config_path)

    # ------------------------------------------------------------------ identity
    def _identity_loaded(self) -> None:
        ident = self.identity
        self.identity_label.setText(tr("Identity: {0}").format(ident.agent_id))
        self.fields["agent"].setText(ident.agent_id)
        self.fields["version"].setText(ident.agent_version)
        self.fields["algorithm"].setText(ident.algorithm)
        self.fields["key"].setText(ident.public_key_hash)
        self.fields["folder"].setText(str(ident.config.key_dir))
        self.algorithm.clear()
        self.finishing = _needs_finishing(ident)
        if self.finishing:
            self.rotate_button.setText(tr("Finish the interrupted rotation"))
            self.status.setText(tr("A key rotation of this agent stopped before its config was signed again: "
                                   "finish it to sign with the new key."))
        else:
            self.rotate_button.setText(tr("Rotate keys"))
            current = "pq2025" if ident.algorithm == "pq2025" else "ring-Ed25519"
            self.algorithm.addItem(tr("Keep {0}").format(current), None)
            if current != "pq2025":
                self.algorithm.addItem(tr("pq2025 (post-quantum ML-DSA-87)"), "pq2025")
        self._enable()

    def _enable(self) -> None:
        loaded = self.identity is not None and not self.busy
        for w in (self.change_button, self.rotate_button, self.old_password, self.new_password, self.new_again):
            w.setEnabled(loaded)
        self.algorithm.setEnabled(loaded and not getattr(self, "finishing", False))

    # ------------------------------------------------------------------ actions
    def change_password(self) -> None:
        if self.identity is None:
            return
        old, new, again = self.old_password.text(), self.new_password.text(), self.new_again.text()
        if new != again:
            self.status.setText(tr("The two new passwords differ; nothing was changed."))
            return
        identity = self.identity

        def work() -> None:
            from ...jobs.keymgmt import change_key_password

            change_key_password(identity, old, new)

        def done(_value: Any) -> None:
            for e in (self.old_password, self.new_password, self.new_again):
                e.clear()
            self.status.setText(tr("The private key of {0} is encrypted with the new password.").format(
                identity.agent_id))

        self._run(work, done, tr("The password was not changed: {0}"), "change password")

    def _confirmed(self, text: str) -> bool:
        if self._confirm is not None:
            return self._confirm(text)
        answer = QMessageBox.question(self, tr("Rotate keys"), text)
        return answer == QMessageBox.StandardButton.Yes

    def rotate(self) -> None:
        if self.identity is None:
            return
        finishing = self.finishing
        if not finishing and not self._confirmed(tr(
                "Rotate the keys of {0}? Agents that trust it at its current version will need to re-pin it "
                "(Identities and trust offers that along the verified rotation chain).").format(
                    self.identity.agent_id)):
            return
        password = self._password()
        if password is None:
            return
        identity, algorithm = self.identity, self.algorithm.currentData()

        def work(progress: Any = None) -> Any:
            from ...jobs.keymgmt import finish_rotation, rotate_keys

            if finishing:
                return finish_rotation(identity.config.path, password)
            return rotate_keys(identity, password, algorithm, progress=progress)

        def done(result: Any) -> None:
            self.identity = result.identity
            self._identity_loaded()
            what = tr("Finished the rotation") if result.finished_interrupted else tr("Rotated the keys")
            self.status.setText(tr("{0}: agent version {1} → {2}, key {3}… → {4}… ({5}).").format(
                what, result.old_version, result.new_version, result.old_key_hash[:16], result.new_key_hash[:16],
                result.algorithm))
            self.rotated.emit(f"{result.agent_id}:{result.new_version}")

        self._run(work, done, tr("The keys were not rotated: {0}"), "rotate keys",
                  on_progress=lambda d, t, m: self.status.setText(tr("Rotating keys: {0}…").format(m)))

    def _run(self, work: Callable[..., Any], done: Callable[[Any], None], failed: str, name: str,
             on_progress: Callable[[int, int, str], None] | None = None) -> None:
        self.busy = True
        self._enable()

        def finished() -> None:
            self.busy = False
            self._enable()

        def failure(exc: BaseException) -> None:
            self.status.setText(failed.format(message_of(exc)))

        self.workers.run(work, on_result=done, on_failure=failure, on_progress=on_progress, on_finished=finished,
                         name=name)
