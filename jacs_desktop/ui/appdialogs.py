"""App-level dialogs: first-run welcome, new store with a new agent, Settings,
About, keyboard shortcuts, README."""

from __future__ import annotations

import platform
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
)

from .theme import error_style

__all__ = ["WelcomeDialog", "NewAgentStoreDialog", "SettingsDialog", "AboutDialog", "ShortcutsDialog",
           "ReadmeDialog", "readme_path", "JACS_FORMAT"]

#: the JACS data format this build reads and writes (jacs library 0.15)
JACS_FORMAT = "JACS 0.15 (jacs library 0.15.0 storage layout, v1 signatures, V2 key envelope)"


def tr(text: str) -> str:
    return QCoreApplication.translate("AppDialogs", text)


def readme_path() -> Path | None:
    from ..resources import resource_path

    return resource_path("README.md")


class WelcomeDialog(QDialog):
    """First run: what JACS data is, and four ways to start. ``choice`` is one of
    ``folder``, ``s3``, ``new``, ``demo`` (or empty when closed)."""

    CHOICES = ("folder", "s3", "new", "demo")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle(tr("Welcome to JACS Desktop"))
        self.choice = ""
        lay = QVBoxLayout(self)
        text = QLabel(tr(
            "<h2>Welcome to JACS Desktop</h2>"
            "<p><b>JACS</b> (JSON AI Communication Standard) agents sign JSON documents. Every edit is a new, "
            "immutable, signed version, and documents can carry attachments. The data lives in a folder, an "
            "S3 bucket or a SQLite file.</p>"
            "<p>JACS Desktop opens any of these stores, shows agents, documents, versions and attachments, and "
            "tells you for every version whether its signature holds.</p>"
            "<p>How would you like to start?</p>"), self)
        text.setWordWrap(True)
        lay.addWidget(text)
        self.buttons: dict[str, QPushButton] = {}
        for key, label, tip in (
            ("folder", tr("Open a folder…"), tr("A JACS storage folder (jacs.config.json, jacs_data/…)")),
            ("s3", tr("Connect to a store…"), tr("S3 (AWS, MinIO, SeaweedFS, R2), Google Cloud Storage, Azure Blob, "
                                                 "or a JSONL or SQLite file")),
            ("new", tr("New store with a new agent…"), tr("Create an agent identity and an empty store for it")),
            ("demo", tr("Open a demo store"), tr("Made now with a throwaway identity; clearly marked as demo data")),
        ):
            b = QPushButton(label, self)
            b.setToolTip(tip)
            b.clicked.connect(lambda _c=False, k=key: self._choose(k))
            lay.addWidget(b)
            self.buttons[key] = b
        self.again = QCheckBox(tr("Show this at start-up"), self)
        self.again.setChecked(False)
        lay.addWidget(self.again)
        # a pip install has no menu entry: offer one (freedesktop desktops only; bundles bring their own)
        self.menu_entry: QCheckBox | None = None
        self.menu_entry_result = ""
        if offer_desktop_entry():
            self.menu_entry = QCheckBox(tr("Add JACS Desktop to the applications menu"), self)
            self.menu_entry.setToolTip(tr("Writes a desktop entry and icons into your personal data folder"))
            self.menu_entry.setChecked(True)
            lay.addWidget(self.menu_entry)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)

    def _choose(self, key: str) -> None:
        self.choice = key
        self.accept()

    def done(self, r: int) -> None:
        if self.menu_entry is not None and self.menu_entry.isChecked() and not self.menu_entry_result:
            from ..desktop_entry import install_desktop_entry

            try:
                self.menu_entry_result = install_desktop_entry().summary()
            except OSError as exc:
                self.menu_entry_result = tr("Could not add the menu entry: {0}").format(exc)
        super().done(r)


def offer_desktop_entry() -> bool:
    """Whether to offer *Add to the applications menu*: on a freedesktop system (Linux, BSD), not
    inside a PyInstaller bundle (its installer owns that), and not installed yet."""
    import sys

    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")) or getattr(sys, "frozen", False):
        return False
    from ..desktop_entry import installed_entry

    return installed_entry() is None


class NewAgentStoreDialog(QDialog):
    """A folder, an agent name, an algorithm and a password: creates the agent (keys,
    config, self-signed agent document) in the folder, which is then a store."""

    def __init__(self, parent=None):
        super().__init__(parent)
        from .wizards.base import PathField

        self.setWindowTitle(tr("New store with a new agent"))
        form = QFormLayout(self)
        self.folder = PathField(self, "dir", tr("Folder for the new store"))
        self.name = QLineEdit(self)
        self.algorithm = QComboBox(self)
        self.algorithm.addItem(tr("Ed25519 (fast, small)"), "ring-Ed25519")
        self.algorithm.addItem(tr("pq2025 — ML-DSA-87 (post-quantum)"), "pq2025")
        self.pw1 = QLineEdit(self)
        self.pw1.setEchoMode(QLineEdit.EchoMode.Password)
        self.pw2 = QLineEdit(self)
        self.pw2.setEchoMode(QLineEdit.EchoMode.Password)
        self.hint = QLabel("", self)
        self.hint.setWordWrap(True)
        self.error = QLabel("", self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet(error_style())
        form.addRow(tr("Folder:"), self.folder)
        form.addRow(tr("Agent name:"), self.name)
        form.addRow(tr("Algorithm:"), self.algorithm)
        form.addRow(tr("Key password:"), self.pw1)
        form.addRow(tr("Again:"), self.pw2)
        form.addRow("", self.hint)
        form.addRow(self.error)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        bb.button(QDialogButtonBox.StandardButton.Ok).setText(tr("Create"))
        bb.accepted.connect(self._accept)
        bb.rejected.connect(self.reject)
        form.addRow(bb)
        self.pw1.textChanged.connect(self._hint)
        self.store_path: str = ""
        self.config_path: str = ""

    def _hint(self) -> None:
        from ..core.keys import password_problems

        probs = password_problems(self.pw1.text())
        self.hint.setText(tr("✓ strong enough") if not probs else "; ".join(probs))

    def _accept(self) -> None:
        from ..core.errors import JacsError
        from ..core.identity import create_agent
        from ..core.keys import password_problems

        folder = self.folder.text()
        problems = []
        if not folder:
            problems.append(tr("Choose a folder"))
        if not self.name.text().strip():
            problems.append(tr("The agent needs a name"))
        problems += password_problems(self.pw1.text())
        if self.pw1.text() != self.pw2.text():
            problems.append(tr("The two passwords differ"))
        if problems:
            self.error.setText("\n".join(problems))
            return
        try:
            ident = create_agent(Path(folder).expanduser(), self.name.text().strip(), self.pw1.text(),
                                 algorithm=self.algorithm.currentData())
        except JacsError as exc:
            self.error.setText(str(exc))
            return
        except OSError as exc:
            self.error.setText(tr("Cannot write to {0}: {1}").format(folder, exc.strerror or exc))
            return
        self.store_path = str(Path(folder).expanduser().resolve())
        self.config_path = str(ident.config.path)
        self.accept()


class SettingsDialog(QDialog):
    """Preferences, saved in the versioned settings file. ``applied`` carries the
    new :class:`~jacs_desktop.storage.settings.Settings`."""

    applied = Signal(object)

    def __init__(self, parent=None, settings=None):
        super().__init__(parent)
        from ..storage.secrets import keyring_status
        from ..storage.settings import load_settings

        self.setWindowTitle(tr("Settings"))
        self.load_error = ""
        if settings is None:
            try:
                settings = load_settings()
            except Exception as exc:
                from ..storage.settings import Settings

                self.load_error = str(exc)
                settings = Settings()
        self.settings = settings
        form = QFormLayout(self)
        self.default_store = QLineEdit(self)
        self.default_store.setPlaceholderText(tr("empty: the last store, else a local store of your own"))
        self.verify_on_open = QCheckBox(tr("Verify every version of every document when a store opens"), self)
        self.cache_mb = QSpinBox(self)
        self.cache_mb.setRange(16, 65536)
        self.cache_mb.setSuffix(" MB")
        self.secrets = QComboBox(self)
        for value, label in (("auto", tr("Automatic (system keyring when it is secure)")),
                             ("keyring", tr("System keyring only")),
                             ("file", tr("Encrypted file with a master password")),
                             ("session", tr("Do not remember (ask every time)"))):
            self.secrets.addItem(label, value)
        st = keyring_status()
        self.keyring_note = QLabel(tr("System keyring: {0}").format(
            tr("available ({0})").format(st.name) if st.secure else tr("not available — {0}").format(st.reason)), self)
        self.keyring_note.setWordWrap(True)
        self.theme = QComboBox(self)
        for value, label in (("system", tr("Follow the system")), ("light", tr("Light")), ("dark", tr("Dark"))):
            self.theme.addItem(label, value)
        self.concurrency = QSpinBox(self)
        self.concurrency.setRange(1, 64)
        form.addRow(tr("Default store:"), self.default_store)
        form.addRow("", self.verify_on_open)
        form.addRow(tr("Document cache:"), self.cache_mb)
        form.addRow(tr("Secrets:"), self.secrets)
        form.addRow("", self.keyring_note)
        form.addRow(tr("Theme:"), self.theme)
        form.addRow(tr("Transfers in flight:"), self.concurrency)
        self.error = QLabel(self.load_error, self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet(error_style())
        form.addRow(self.error)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self)
        bb.accepted.connect(self.save)
        bb.rejected.connect(self.reject)
        form.addRow(bb)
        self._load()

    def _load(self) -> None:
        s = self.settings
        self.default_store.setText(s.default_store)
        self.verify_on_open.setChecked(s.verify_on_open)
        self.cache_mb.setValue(s.cache_mb)
        self.secrets.setCurrentIndex(max(0, self.secrets.findData(s.secrets_backend)))
        self.theme.setCurrentIndex(max(0, self.theme.findData(s.theme)))
        self.concurrency.setValue(s.concurrency)

    def values(self):
        from dataclasses import replace

        return replace(self.settings, default_store=self.default_store.text().strip(),
                       verify_on_open=self.verify_on_open.isChecked(), cache_mb=self.cache_mb.value(),
                       secrets_backend=self.secrets.currentData(), theme=self.theme.currentData(),
                       concurrency=self.concurrency.value())

    def save(self) -> None:
        from ..storage.base import StorageError
        from ..storage.secrets import keyring_status
        from ..storage.settings import save_settings

        new = self.values()
        if new.secrets_backend == "keyring" and not keyring_status().secure:
            self.error.setText(tr("There is no secure system keyring here; choose another way to keep secrets."))
            return
        try:
            save_settings(new)
        except (StorageError, OSError) as exc:
            self.error.setText(str(exc))
            return
        self.settings = new
        self.applied.emit(new)
        self.accept()


class AboutDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        from PySide6 import __version__ as pyside_version
        from PySide6.QtCore import qVersion

        from .. import __version__
        from ..logs import log_file
        from ..storage.connections import config_dir

        self.setWindowTitle(tr("About JACS Desktop"))
        lay = QVBoxLayout(self)
        self.text = QLabel(self)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.text.setOpenExternalLinks(False)
        self.text.linkActivated.connect(self._link)
        self.versions = {"app": __version__, "qt": qVersion(), "pyside": pyside_version,
                         "python": platform.python_version(), "format": JACS_FORMAT}
        self.log_path = str(log_file())
        self.text.setText(tr(
            "<h2>JACS Desktop {app}</h2>"
            "<p>The desktop storage browser for JACS data: browse, verify, sign, migrate, back up.</p>"
            "<table>"
            "<tr><td>Data format:</td><td>{format}</td></tr>"
            "<tr><td>Qt:</td><td>{qt} (PySide6 {pyside})</td></tr>"
            "<tr><td>Python:</td><td>{python}</td></tr>"
            "<tr><td>Log file:</td><td><a href='log'>{log}</a></td></tr>"
            "<tr><td>Settings:</td><td>{config}</td></tr>"
            "</table>"
            "<p><a href='readme'>Read the README</a> · Apache-2.0</p>").format(
                log=self.log_path, config=config_dir(), **self.versions))
        lay.addWidget(self.text)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)

    def _link(self, href: str) -> None:
        if href == "log":
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(self.log_path).parent)))
        elif href == "readme":
            ReadmeDialog(self).exec()


class ReadmeDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle(tr("README"))
        self.resize(900, 700)
        lay = QVBoxLayout(self)
        self.view = QTextBrowser(self)
        self.view.setOpenExternalLinks(True)
        p = readme_path()
        if p is not None:
            self.view.setMarkdown(p.read_text("utf-8", errors="replace"))
            self.view.document().setBaseUrl(QUrl.fromLocalFile(str(p.parent) + "/"))
        else:
            self.view.setPlainText(tr("The README is not part of this installation."))
        lay.addWidget(self.view)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)


class ShortcutsDialog(QDialog):
    """Every action of the window that has a keyboard shortcut."""

    def __init__(self, window):
        super().__init__(window)
        from PySide6.QtGui import QAction, QKeySequence

        self.setWindowTitle(tr("Keyboard shortcuts"))
        self.resize(520, 460)
        self.model = QStandardItemModel(0, 2, self)
        self.model.setHorizontalHeaderLabels([tr("Action"), tr("Shortcut")])
        seen = set()
        for a in window.findChildren(QAction):
            keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in a.shortcuts() if not k.isEmpty()]
            name = a.text().replace("&", "").rstrip("…").strip()
            if not keys or not name or name in seen:
                continue
            seen.add(name)
            self.model.appendRow([QStandardItem(name), QStandardItem(", ".join(keys))])
        self.model.sort(0)
        view = QTableView(self)
        view.setModel(self.model)
        view.verticalHeader().hide()
        view.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        view.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        lay = QVBoxLayout(self)
        lay.addWidget(view)
        row = QHBoxLayout()
        row.addStretch(1)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        bb.rejected.connect(self.reject)
        row.addWidget(bb)
        lay.addLayout(row)

