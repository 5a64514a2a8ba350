"""Migration, backup and restore wizards (thin shells over the flows).

Size: three wizards (migrate, backup, restore) with their pages; each is a thin shell over
jobs/flows.py. TODO(issue 12): one module per wizard.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QWidget,
    QWizard,
)

from ...jobs.flows import BackupFlow, MigrateFlow, RestoreFlow
from .base import FlowPage, FlowWizard, PathField, RunPage, tr

__all__ = ["MigrateWizard", "BackupWizard", "RestoreWizard", "StorePicker"]


class StorePicker(QWidget):
    """An editable list of saved connections and recent stores, plus Folder…/SQLite… buttons."""

    def __init__(self, parent, recent=()):
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.combo = QComboBox(self)
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.lineEdit().setPlaceholderText(tr("a folder, s3://bucket/prefix, sqlite:///file, profile:NAME"))
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


class _UrlPage(FlowPage):
    """A page that names a store; the page's name is the state key it fills."""

    def __init__(self, wiz, name, subtitle, recent=(), create_box=False):
        super().__init__(wiz, name, subtitle=subtitle)
        self.picker = StorePicker(self, recent)
        form = QFormLayout()
        form.addRow(tr("Store:"), self.picker)
        self.body.addLayout(form)
        self.create = QCheckBox(tr("Create it if it does not exist (a new empty store)"), self) if create_box else None
        if self.create:
            self.body.addWidget(self.create)
        self.finish_layout()

    def load(self) -> None:
        self.picker.setText(self.state[self.name])
        if self.create:
            self.create.setChecked(bool(self.state.get("create_target", True)))

    def store(self) -> None:
        self.state[self.name] = self.picker.text()
        if self.create:
            self.state["create_target"] = self.create.isChecked()


def _radios(page: FlowPage, options: list[tuple[str, str]]) -> dict[str, QRadioButton]:
    group = QButtonGroup(page)
    out = {}
    for value, text in options:
        r = QRadioButton(text, page)
        group.addButton(r)
        page.body.addWidget(r)
        out[value] = r
    return out


def _checked(radios: dict[str, QRadioButton], default: str) -> str:
    return next((v for v, r in radios.items() if r.isChecked()), default)


class _ReviewPage(FlowPage):
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


# -- migration ------------------------------------------------------------------------------

class _WhatPage(FlowPage):
    name = "what"

    def __init__(self, wiz):
        super().__init__(wiz, subtitle=tr("Public keys always go along: nothing verifies without them."))
        self.radios = _radios(self, [("all", tr("Everything (agents, documents, archived, keys)")),
                                     ("agents", tr("Agents only")), ("documents", tr("Documents only")),
                                     ("selected", tr("The documents selected in the browser"))])
        self.latest = QCheckBox(tr("Latest version of each document only (default: every version)"), self)
        self.body.addWidget(self.latest)
        self.finish_layout()

    def load(self) -> None:
        self.radios[self.state["only"]].setChecked(True)
        n = len(self.state["selected"])
        self.radios["selected"].setText(tr("The documents selected in the browser ({0})").format(n))
        self.radios["selected"].setEnabled(n > 0)
        self.latest.setChecked(bool(self.state["latest_only"]))

    def store(self) -> None:
        self.state["only"] = _checked(self.radios, "all")
        self.state["latest_only"] = self.latest.isChecked()


class _ModePage(FlowPage):
    name = "mode"

    def __init__(self, wiz):
        super().__init__(wiz)
        self.radios = _radios(self, [
            ("verbatim", tr("Verbatim copy (recommended): byte for byte, signatures preserved, every copy "
                            "re-read and checked against the source")),
            ("resign", tr("Re-sign as another identity: each document is signed again and links to its "
                          "original id and version"))])
        self.warning = QLabel(tr("⚠ Re-signing changes the signer of every copied document. The copies no "
                                 "longer carry the original signatures."), self)
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #b26a00")
        self.body.addWidget(self.warning)
        self.ack = QCheckBox(tr("I understand: the copies will be signed by a different agent"), self)
        self.body.addWidget(self.ack)
        self.dry = QCheckBox(tr("Dry run: only report what would be copied, skipped or in conflict"), self)
        self.skip = QCheckBox(tr("Skip what the target already has (compared by jacsSha256)"), self)
        self.verify = QCheckBox(tr("Verify each source version first; copy only what verifies"), self)
        for w in (self.dry, self.skip, self.verify):
            self.body.addWidget(w)
        row = QFormLayout()
        self.concurrency = QSpinBox(self)
        self.concurrency.setRange(1, 32)
        row.addRow(tr("Transfers in flight:"), self.concurrency)
        self.body.addLayout(row)
        for r in self.radios.values():
            r.toggled.connect(self._mode)
        self.finish_layout()

    def _mode(self) -> None:
        on = self.radios["resign"].isChecked()
        self.warning.setVisible(on)
        self.ack.setVisible(on)

    def load(self) -> None:
        s = self.state
        self.radios[s["mode"]].setChecked(True)
        self.ack.setChecked(bool(s["resign_ack"]))
        self.dry.setChecked(bool(s["dry_run"]))
        self.skip.setChecked(bool(s["skip_existing"]))
        self.verify.setChecked(bool(s["verify_source"]))
        self.concurrency.setValue(int(s["concurrency"]))
        self._mode()

    def store(self) -> None:
        s = self.state
        s["mode"] = _checked(self.radios, "verbatim")
        s["resign_ack"] = self.ack.isChecked()
        s["dry_run"] = self.dry.isChecked()
        s["skip_existing"] = self.skip.isChecked()
        s["verify_source"] = self.verify.isChecked()
        s["concurrency"] = self.concurrency.value()


class _FileAndSecretPage(FlowPage):
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


def _identity_page(wiz) -> _FileAndSecretPage:
    return _FileAndSecretPage(wiz, "identity", tr("The agent that signs the copies."), "config_path", "password",
                              tr("Configuration:"), tr("The agent's jacs.config.json"), tr("JACS config (*.json)"),
                              tr("Password:"))


def describe_migration(r) -> str:
    if r is None:
        return ""
    s = r.summary()
    lines = [tr("Would copy {0}").format(s["would_copy"]) if r.dry_run else tr("Copied {0}").format(s["copied"]),
             tr("Skipped {0} (already there)").format(s["skipped"]), tr("Failed {0}").format(s["failed"]),
             tr("{0:,} bytes in {1:.1f} s").format(s["bytes"], s["seconds"])]
    if s["resumed_from_journal"]:
        lines.append(tr("{0} done by an earlier, interrupted run (journal)").format(s["resumed_from_journal"]))
    if r.stopped:
        lines.append(r.stopped)
    for k, reason in r.failed[:200]:
        lines.append(f"  ✗ {k}: {reason}")
    if getattr(r, "cancelled", False):
        lines.append(tr("Cancelled: run the same migration again to continue where it stopped."))
    return "\n".join(lines)


def _migration_job(flow):
    def job(progress=None, cancel=None):
        from ...jobs.migrate import Cancelled

        try:
            return flow.run(progress=progress, cancel=cancel)
        except Cancelled as c:  # the partial report is the summary
            c.report.cancelled = True
            return c.report
    return job


class MigrateWizard(FlowWizard):
    def __init__(self, parent=None, *, source: str = "", source_store=None, selected=(), recent=(), workers=None,
                 concurrency: int = 4):
        flow = MigrateFlow(source=source, source_store=source_store, selected=list(selected),
                           concurrency=concurrency)
        super().__init__(flow, parent, workers)
        self.add(_UrlPage(self, "source", tr("The store to copy from. It is only read."), recent))
        self.add(_UrlPage(self, "target", tr("The store to copy to: any backend, or a new empty store."),
                          recent, create_box=True))
        self.add(_WhatPage(self))
        self.add(_ModePage(self))
        self.add(_identity_page(self))
        self.add(_ReviewPage(self, flow.summary_lines, tr("Start"), tr("Check, then start.")))
        self.run_page = self.add(RunPage(self, _migration_job(flow), describe_migration, tr("Migrating")))


# -- backup -----------------------------------------------------------------------------------

class _DestinationPage(FlowPage):
    name = "destination"

    def __init__(self, wiz, recent=()):
        super().__init__(wiz, subtitle=tr("An archive file, or another store (incremental: versions are "
                                          "immutable, so only missing ones are copied)."))
        self.radios = _radios(self, [("archive", tr("Archive file (.tar.gz or .tar.zst)")),
                                     ("store", tr("Another store (incremental)"))])
        form = QFormLayout()
        self.archive = PathField(self, "save", tr("Backup archive"),
                                 tr("Archives (*.tar.gz *.tar.zst)"))
        self.archive.edit.setToolTip(tr("{date} and {time} in the name give each run its own file"))
        form.addRow(tr("Archive:"), self.archive)
        self.picker = StorePicker(self, recent)
        form.addRow(tr("Store:"), self.picker)
        self.body.addLayout(form)
        for r in self.radios.values():
            r.toggled.connect(self._kind)
        self.finish_layout()

    def _kind(self) -> None:
        arch = self.radios["archive"].isChecked()
        self.archive.setEnabled(arch)
        self.picker.setEnabled(not arch)

    def load(self) -> None:
        s = self.state
        self.radios[s["kind"]].setChecked(True)
        if not s["archive"]:
            from ...jobs.flows import default_archive_name

            s["archive"] = default_archive_name(Path.home())
        self.archive.setText(s["archive"])
        self.picker.setText(s["target"])
        self._kind()

    def store(self) -> None:
        s = self.state
        s["kind"] = _checked(self.radios, "archive")
        s["archive"] = self.archive.text()
        s["target"] = self.picker.text()


class _BackupOptionsPage(FlowPage):
    name = "options"

    def __init__(self, wiz):
        super().__init__(wiz)
        self.encrypt = QCheckBox(tr("Encrypt the archive with a passphrase (AES-256-GCM, Argon2id)"), self)
        self.body.addWidget(self.encrypt)
        form = QFormLayout()
        self.pass1 = QLineEdit(self)
        self.pass1.setEchoMode(QLineEdit.EchoMode.Password)
        self.pass2 = QLineEdit(self)
        self.pass2.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow(tr("Passphrase:"), self.pass1)
        form.addRow(tr("Again:"), self.pass2)
        self.body.addLayout(form)
        self.remember = QCheckBox(tr("Remember the passphrase in the keyring (needed for scheduled runs)"), self)
        self.body.addWidget(self.remember)
        self.private = QCheckBox(tr("Include private keys"), self)
        self.private_warn = QLabel(tr("⚠ Anyone with this archive and the key password can sign as your agents. "
                                      "Keep it as safe as the keys themselves."), self)
        self.private_warn.setWordWrap(True)
        self.private_warn.setStyleSheet("color: #b26a00")
        self.private_ack = QCheckBox(tr("I understand"), self)
        for w in (self.private, self.private_warn, self.private_ack):
            self.body.addWidget(w)
        form2 = QFormLayout()
        self.profile = QLineEdit(self)
        self.profile.setPlaceholderText(tr("optional: save as a profile to run from cron / Task Scheduler"))
        form2.addRow(tr("Profile name:"), self.profile)
        self.body.addLayout(form2)
        self.encrypt.toggled.connect(self._sync)
        self.private.toggled.connect(self._sync)
        self.finish_layout()

    def _sync(self) -> None:
        on = self.encrypt.isChecked() and self.state["kind"] == "archive"
        for w in (self.pass1, self.pass2, self.remember):
            w.setEnabled(on)
        self.private_warn.setVisible(self.private.isChecked())
        self.private_ack.setVisible(self.private.isChecked())

    def load(self) -> None:
        s = self.state
        self.encrypt.setEnabled(s["kind"] == "archive")
        self.encrypt.setChecked(bool(s["encrypt"]) and s["kind"] == "archive")
        self.pass1.setText(s["passphrase"])
        self.pass2.setText(s["passphrase2"])
        self.remember.setChecked(bool(s["remember"]))
        self.private.setChecked(bool(s["include_private_keys"]))
        self.private_ack.setChecked(bool(s["private_ack"]))
        self.profile.setText(s["profile_name"])
        self._sync()

    def store(self) -> None:
        s = self.state
        s["encrypt"] = self.encrypt.isChecked() and s["kind"] == "archive"
        s["passphrase"] = self.pass1.text()
        s["passphrase2"] = self.pass2.text()
        s["remember"] = self.remember.isChecked()
        s["include_private_keys"] = self.private.isChecked()
        s["private_ack"] = self.private_ack.isChecked()
        s["profile_name"] = self.profile.text()


def describe_archive(r) -> str:
    if r is None:
        return ""
    if hasattr(r, "summary"):  # incremental backup into a store
        return describe_migration(r)
    lines = [f"{r.path}", tr("{0} entries, {1:,} bytes, {2:.1f} s").format(r.entries, r.bytes, r.seconds)]
    if r.verdicts:
        lines.append(tr("Signatures: {0}").format(", ".join(f"{k} {v}" for k, v in sorted(r.verdicts.items()))))
    for w in getattr(r, "warnings", []):
        lines.append("⚠ " + w)
    if r.restored or r.skipped or r.conflicts or r.left_out:
        lines.append(tr("Restored {0}, already there {1}, conflicts {2}, left out {3}").format(
            len(r.restored), len(r.skipped), len(r.conflicts), len(r.left_out)))
    if r.damaged:
        lines.append(tr("{0} damaged entries (size or SHA-256 not as the manifest says, or unreadable)").format(
            len(r.damaged)))
    if r.invalid:
        lines.append(tr("{0} versions do not verify").format(len(r.invalid)))
    if getattr(r, "not_checked", None):
        lines.append(tr("{0} versions could not be checked (a read failed)").format(len(r.not_checked)))
    lines += [f"  ✗ {p}" for p in r.problems[:200]]
    return "\n".join(lines)


def _backup_job(flow):
    def job(progress=None, cancel=None):
        from ...jobs.migrate import Cancelled

        cmd = flow.save_profile()
        try:
            r = flow.run(progress=progress, cancel=cancel)
        except Cancelled as c:
            c.report.cancelled = True
            r = c.report
        if cmd:
            r.profile_command = cmd
        return r
    return job


def _describe_backup(r) -> str:
    text = describe_archive(r)
    cmd = getattr(r, "profile_command", None)
    if cmd:
        text += "\n\n" + tr("Saved as a profile. To run it from cron or Task Scheduler:") + "\n    " + cmd
    return text


class BackupWizard(FlowWizard):
    def __init__(self, parent=None, *, source: str = "", source_store=None, recent=(), workers=None):
        flow = BackupFlow(source=source, source_store=source_store)
        super().__init__(flow, parent, workers)
        self.add(_UrlPage(self, "source", tr("The store to back up. It is only read."), recent))
        self.add(_DestinationPage(self, recent))
        self.add(_BackupOptionsPage(self))
        self.add(_ReviewPage(self, self._lines, tr("Back up"), tr("Check, then start.")))
        self.run_page = self.add(RunPage(self, _backup_job(flow), _describe_backup, tr("Backing up")))

    def _lines(self) -> list[str]:
        f = self.flow
        s = f.state
        lines = [tr("From: {0}").format(s["source"]), tr("To:   {0}").format(f.destination())]
        if s["kind"] == "archive":
            lines.append(tr("Encrypted: {0}").format(tr("yes") if s["encrypt"] else tr("no")))
        lines.append(tr("Private keys: {0}").format(tr("INCLUDED") if s["include_private_keys"] else tr("left out")))
        if s["profile_name"].strip():
            lines.append(tr("Saved as profile {0!r}").format(s["profile_name"].strip()))
        lines += ["", tr("Command line (cron / Task Scheduler):"), "    " + f.command_line()]
        return lines


# -- restore ----------------------------------------------------------------------------------

def _archive_page(wiz) -> _FileAndSecretPage:
    return _FileAndSecretPage(wiz, "archive", tr("The archive is verified before anything is written."), "archive",
                              "passphrase", tr("Archive:"), tr("Backup archive"),
                              tr("Archives (*.tar.gz *.tgz *.tar.zst);;All files (*)"), tr("Passphrase:"),
                              tr("only for encrypted archives"))


class _VerifyPage(FlowPage):
    name = "verify"

    def __init__(self, wiz):
        super().__init__(wiz, subtitle=tr("Every entry against the manifest, then every signature."))
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.body.addWidget(self.status)
        self.body.addWidget(self.text, 1)
        self.partial = QCheckBox(self)
        self.skip_invalid = QCheckBox(self)
        for box in (self.partial, self.skip_invalid):
            box.setVisible(False)
            box.toggled.connect(self._choice)
            self.body.addWidget(box)
        self.finish_layout()
        self.busy = False

    def initializePage(self) -> None:
        self.busy = True
        super().initializePage()
        self.status.setText(tr("Verifying…"))
        self.text.clear()
        self.partial.setVisible(False)
        self.skip_invalid.setVisible(False)
        self.wiz.workers.run(self.flow.verify, on_result=self._done, on_error=self._failed, name="verify")

    def load(self) -> None:
        self.partial.setChecked(bool(self.state["partial"]))
        self.skip_invalid.setChecked(bool(self.state["skip_invalid"]))

    def store(self) -> None:
        r = self.state.get("verified")
        self.state["partial"] = self.partial.isChecked() and r is not None and r.is_damaged
        self.state["skip_invalid"] = self.skip_invalid.isChecked() and r is not None and bool(r.invalid)

    def _choice(self) -> None:
        self.store()
        if not self.busy:
            self.error_label.setText("\n".join(self.flow.errors(self.name)))
        self.completeChanged.emit()

    def _done(self, r) -> None:
        self.busy = False
        if r.errors:
            self.status.setText(tr("✗ The archive did not verify: nothing can be restored from it."))
        elif r.is_damaged:
            self.status.setText(tr("✗ The archive is damaged: {0} entries are not as the manifest says or "
                                   "cannot be read.").format(len(r.damaged)))
        elif r.invalid:
            self.status.setText(tr("⚠ The archive is intact, but {0} versions do not verify.").format(len(r.invalid)))
        elif r.not_checked:
            self.status.setText(tr("⚠ The archive is intact, but {0} versions could not be checked (a read "
                                   "failed).").format(len(r.not_checked)))
        else:
            self.status.setText(tr("✓ The archive verifies."))
        self.text.setPlainText(describe_archive(r))
        self.partial.setText(tr("Restore the intact entries and leave out the {0} damaged ones").format(
            len(r.damaged)))
        self.partial.setVisible(not r.errors and r.is_damaged)
        self.skip_invalid.setText(tr("Leave out the {0} versions that do not verify (otherwise they are restored "
                                     "byte for byte and stay marked invalid)").format(len(r.invalid)))
        self.skip_invalid.setVisible(not r.errors and bool(r.invalid))
        self.store()
        self.error_label.setText("\n".join(self.flow.errors(self.name)))
        self.completeChanged.emit()

    def _failed(self, msg: str) -> None:
        self.busy = False
        self.status.setText(tr("✗ The archive could not be read."))
        self.error_label.setText(msg)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return not self.busy and not self.flow.errors(self.name)


class _PolicyPage(FlowPage):
    name = "policy"

    def __init__(self, wiz):
        super().__init__(wiz, subtitle=tr("When the target already has an object of the same name with "
                                          "different content:"))
        self.radios = _radios(self, [
            ("skip", tr("Skip: keep what the target has")),
            ("keep-both", tr("Keep both: the archived copy goes to restore-conflicts/")),
            ("overwrite-identical", tr("Overwrite only when jacsSha256 is identical (formatting differs)"))])
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, tr("Restore"))
        self.finish_layout()

    def load(self) -> None:
        self.radios[self.state["policy"]].setChecked(True)

    def store(self) -> None:
        self.state["policy"] = _checked(self.radios, "skip")


class RestoreWizard(FlowWizard):
    def __init__(self, parent=None, *, target: str = "", archive: str = "", recent=(), workers=None):
        flow = RestoreFlow(target=target, archive=archive)
        super().__init__(flow, parent, workers)
        self.add(_archive_page(self))
        self.add(_VerifyPage(self))
        self.add(_UrlPage(self, "target", tr("The store to restore into (created if missing)."), recent))
        self.add(_PolicyPage(self))
        self.run_page = self.add(RunPage(self, flow.run, describe_archive, tr("Restoring")))
