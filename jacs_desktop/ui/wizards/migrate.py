"""The migration wizard (a thin shell over :class:`jacs_desktop.jobs.flows.MigrateFlow`)."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QFormLayout, QLabel, QSpinBox

from ...jobs.flows.migrate import MigrateFlow
from ..theme import caution_style
from .base import FlowPage, FlowWizard, RunPage, tr
from .pages import FileAndSecretPage, ReviewPage, UrlPage, checked, radios

__all__ = ["MigrateWizard", "describe_migration"]


class _WhatPage(FlowPage):
    name = "what"

    def __init__(self, wiz):
        super().__init__(wiz, subtitle=tr("Public keys always go along: nothing verifies without them."))
        self.radios = radios(self, [("all", tr("Everything (agents, documents, archived, keys)")),
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
        self.state["only"] = checked(self.radios, "all")
        self.state["latest_only"] = self.latest.isChecked()


class _ModePage(FlowPage):
    name = "mode"

    def __init__(self, wiz):
        super().__init__(wiz)
        self.radios = radios(self, [
            ("verbatim", tr("Verbatim copy (recommended): byte for byte, signatures preserved, every copy "
                            "re-read and checked against the source")),
            ("resign", tr("Re-sign as another identity: each document is signed again and links to its "
                          "original id and version"))])
        self.warning = QLabel(tr("⚠ Re-signing changes the signer of every copied document. The copies no "
                                 "longer carry the original signatures."), self)
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(caution_style())
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
        s["mode"] = checked(self.radios, "verbatim")
        s["resign_ack"] = self.ack.isChecked()
        s["dry_run"] = self.dry.isChecked()
        s["skip_existing"] = self.skip.isChecked()
        s["verify_source"] = self.verify.isChecked()
        s["concurrency"] = self.concurrency.value()


def _identity_page(wiz) -> FileAndSecretPage:
    return FileAndSecretPage(wiz, "identity", tr("The agent that signs the copies."), "config_path", "password",
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
        self.add(UrlPage(self, "source", tr("The store to copy from. It is only read."), recent))
        self.add(UrlPage(self, "target", tr("The store to copy to: any backend, or a new empty store."),
                          recent, create_box=True, check_store=True))
        self.add(_WhatPage(self))
        self.add(_ModePage(self))
        self.add(_identity_page(self))
        self.add(ReviewPage(self, flow.summary_lines, tr("Start"), tr("Check, then start.")))
        self.run_page = self.add(RunPage(self, _migration_job(flow), describe_migration, tr("Migrating")))
