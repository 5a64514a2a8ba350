"""The restore wizard (a thin shell over :class:`jacs_desktop.jobs.flows.RestoreFlow`): the
archive is verified before anything is written."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QLabel, QPlainTextEdit, QPushButton, QWizard

from ...jobs.flows.backup import RestoreFlow
from .backup import describe_archive
from .base import FlowPage, FlowWizard, RunPage, tr
from .pages import FileAndSecretPage, UrlPage, checked, radios

__all__ = ["RestoreWizard"]


def _archive_page(wiz) -> FileAndSecretPage:
    return FileAndSecretPage(wiz, "archive", tr("The archive is verified before anything is written."), "archive",
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
        self.radios = radios(self, [
            ("skip", tr("Skip: keep what the target has")),
            ("keep-both", tr("Keep both: the archived copy goes to restore-conflicts/")),
            ("overwrite-identical", tr("Overwrite only when jacsSha256 is identical (formatting differs)"))])
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, tr("Restore"))
        self.finish_layout()

    def load(self) -> None:
        self.radios[self.state["policy"]].setChecked(True)

    def store(self) -> None:
        self.state["policy"] = checked(self.radios, "skip")


class RestoreWizard(FlowWizard):
    def __init__(self, parent=None, *, target: str = "", archive: str = "", recent=(), workers=None):
        flow = RestoreFlow(target=target, archive=archive)
        super().__init__(flow, parent, workers)
        self.add(_archive_page(self))
        self.add(_VerifyPage(self))
        self.add(UrlPage(self, "target", tr("The store to restore into (created if missing)."), recent))
        self.add(_PolicyPage(self))
        self.run_page = self.add(RunPage(self, flow.run, describe_archive, tr("Restoring")))
        # when it is done: open what was restored, in the window
        self.open_button = QPushButton(tr("Open the Restored Store"), self.run_page)
        self.open_button.hide()
        self.open_button.clicked.connect(self._open_restored)
        self.run_page.body.addWidget(self.open_button)
        self.run_page.job_done.connect(self._restored)

    #: the restored store's location, when the user asks to open it
    open_requested = Signal(str)

    def _restored(self, result) -> None:
        self.open_button.setVisible(result is not None and not self.run_page.cancelled and bool(
            str(self.flow.state.get("target") or "").strip()))

    def _open_restored(self) -> None:
        self.open_requested.emit(str(self.flow.state["target"]).strip())
        self.accept()
