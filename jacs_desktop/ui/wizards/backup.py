"""The backup wizard (a thin shell over :class:`jacs_desktop.jobs.flows.BackupFlow`), and how a
backup or restore report is told."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QCheckBox, QFormLayout, QLabel, QLineEdit

from ...jobs.flows.backup import BackupFlow
from ..theme import caution_style
from .base import FlowPage, FlowWizard, PathField, RunPage, tr
from .migrate import describe_migration
from .pages import ReviewPage, StorePicker, UrlPage, checked, radios

__all__ = ["BackupWizard", "describe_archive"]


class _DestinationPage(FlowPage):
    name = "destination"

    def __init__(self, wiz, recent=()):
        super().__init__(wiz, subtitle=tr("An archive file, or another store (incremental: versions are "
                                          "immutable, so only missing ones are copied)."))
        self.radios = radios(self, [("archive", tr("Archive file (.tar.gz or .tar.zst)")),
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
            from ...jobs.flows.backup import default_archive_name

            s["archive"] = default_archive_name(Path.home())
        self.archive.setText(s["archive"])
        self.picker.setText(s["target"])
        self._kind()

    def store(self) -> None:
        s = self.state
        s["kind"] = checked(self.radios, "archive")
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
        self.keyring_note = QLabel("", self)  # why Remember is off, where no secure keyring exists
        self.keyring_note.setWordWrap(True)
        self.keyring_note.hide()
        self.body.addWidget(self.keyring_note)
        self.private = QCheckBox(tr("Include private keys"), self)
        self.private_warn = QLabel(tr("⚠ Anyone with this archive and the key password can sign as your agents. "
                                      "Keep it as safe as the keys themselves."), self)
        self.private_warn.setWordWrap(True)
        self.private_warn.setStyleSheet(caution_style())
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
        for w in (self.pass1, self.pass2):
            w.setEnabled(on)
        from ...storage.secrets import remember_status

        where, why = remember_status()
        self.remember.setEnabled(on and bool(where))
        if not where:
            self.remember.setChecked(False)
            self.keyring_note.setText(tr("The passphrase cannot be remembered: {0}.").format(why))
        elif where == "file":
            self.remember.setText(tr("Remember the passphrase in the encrypted secrets file (needed for scheduled "
                                     "runs)"))
        self.keyring_note.setVisible(not where)
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
        s["remember"] = self.remember.isChecked() and self.remember.isEnabled()
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
        self.add(UrlPage(self, "source", tr("The store to back up. It is only read."), recent))
        self.add(_DestinationPage(self, recent))
        self.add(_BackupOptionsPage(self))
        self.add(ReviewPage(self, self._lines, tr("Back up"), tr("Check, then start.")))
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
