"""Thin Qt shells over the Qt-free flows in :mod:`jacs_desktop.jobs.flows`.

A :class:`FlowWizard` holds one flow. Each :class:`FlowPage` copies its widgets
into ``flow.state`` (``store()``), asks the flow for errors before letting the
user go on, and asks it which page comes next — so the page order and every
rule live in the flow, where tests reach them without a window. :class:`RunPage`
runs the flow's job on the worker pool with a progress bar, an ETA, Cancel and
a summary that can be saved as JSON.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, cast

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from ..theme import error_style
from ..workers import WorkerPool

__all__ = ["FlowWizard", "FlowPage", "RunPage", "PathField", "tr"]


def tr(text: str) -> str:
    return QCoreApplication.translate("Wizards", text)


class FlowPage(QWizardPage):
    name = ""

    def __init__(self, wizard: FlowWizard, name: str | None = None, title: str = "", subtitle: str = ""):
        super().__init__()
        self.wiz = wizard
        self.name = name or self.name
        self.setTitle(title or tr(wizard.flow.pages[self.name].title))
        if subtitle:
            self.setSubTitle(subtitle)
        self.body = QVBoxLayout(self)
        self.error_label = QLabel("", self)
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(error_style())
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    @property
    def flow(self):
        return self.wiz.flow

    @property
    def state(self) -> dict:
        return self.wiz.flow.state

    def finish_layout(self) -> None:
        self.body.addStretch(1)
        self.body.addWidget(self.error_label)

    # widgets <-> state
    def load(self) -> None:
        """state -> widgets"""

    def store(self) -> None:
        """widgets -> state"""

    def initializePage(self) -> None:
        self.error_label.setText("")
        self.load()

    def validatePage(self) -> bool:
        self.store()
        errs = self.flow.errors(self.name)
        self.error_label.setText("\n".join(errs))
        if errs:
            self._clear_on_edit()
        return not errs

    def _clear_on_edit(self) -> None:
        """A message does not outlive the fix: the first edit on the page after a refusal takes it
        away (Next checks again; the checks can be slow, e.g. unlocking a key, so not on every key)."""
        if getattr(self, "_clearing", False):
            return
        self._clearing = True

        def clear(*_args: object) -> None:
            if not getattr(self, "_checking", False):  # a check still running keeps its "Checking…" line
                self.error_label.setText("")

        for edit in self.findChildren(QLineEdit):
            edit.textEdited.connect(clear)
        for text in self.findChildren(QPlainTextEdit):
            text.textChanged.connect(clear)
        for button in self.findChildren(QAbstractButton):
            if button.isCheckable():
                button.toggled.connect(clear)
        for combo in self.findChildren(QComboBox):
            combo.currentIndexChanged.connect(clear)

    def nextId(self) -> int:
        self.store()
        nxt = self.flow.next_of(self.name)
        return -1 if nxt is None else self.wiz.ids[nxt]


class RunPage(FlowPage):
    """Runs ``job(progress, cancel)``; shows progress, ETA, Cancel and a summary."""

    name = "run"
    job_done = Signal(object)

    def __init__(self, wizard: FlowWizard, job: Callable[..., Any], describe: Callable[[Any], str],
                 title: str = ""):
        super().__init__(wizard, "run", title)
        self.job, self.describe = job, describe
        self.status = QLabel(tr("Starting…"), self)
        self.status.setWordWrap(True)
        self.bar = QProgressBar(self)
        self.eta = QLabel("", self)
        self.cancel_button = QPushButton(tr("Cancel"), self)
        self.cancel_button.clicked.connect(self.cancel)
        self.summary = QPlainTextEdit(self)
        self.summary.setReadOnly(True)
        self.export_button = QPushButton(tr("Save summary as JSON…"), self)
        self.export_button.clicked.connect(self.export)
        self.export_button.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel_button)
        self.body.addWidget(self.status)
        self.body.addLayout(row)
        self.body.addWidget(self.eta)
        self.body.addWidget(self.summary, 1)
        self.body.addWidget(self.export_button)
        self.body.addWidget(self.error_label)
        self.result: Any = None
        self.failed: str | None = None
        self.finished_run = False
        self.cancelled = False
        self._cancel = threading.Event()
        self._start = 0.0
        self._job: Any = None  # this run's record in the Jobs panel
        self._tracker: Any = None

    def initializePage(self) -> None:
        if self._start:  # already ran (Back is disabled after the commit page anyway)
            return
        self._start = time.monotonic()
        self.bar.setRange(0, 0)
        job = self.job

        def work(progress):
            return job(progress=progress, cancel=self._cancel)

        self._job = self._track()
        self.wiz.workers.run(work, on_result=self._done, on_error=self._failed, on_progress=self._progress,
                             name=self.wiz.flow.title)

    #: the flows whose runs the window's Jobs panel lists
    JOB_KINDS: ClassVar[dict[str, str]] = {"MigrateFlow": "migrate", "BackupFlow": "backup",
                                           "RestoreFlow": "restore"}

    def _track(self) -> Any:
        """Report this run to the window's Jobs panel (when the wizard has a window with one)."""
        tracker = getattr(self.wiz.parentWidget(), "jobs_tracker", None)
        flow = self.wiz.flow
        kind = self.JOB_KINDS.get(type(flow).__name__)
        if tracker is None or kind is None:
            return None
        s = flow.state
        source = str(s.get("archive") if kind == "restore" else s.get("source") or "")
        target = str(flow.destination() if kind == "backup" else s.get("target") or "")
        self._tracker = tracker
        return tracker.begin(kind, tr(flow.title), source, target, params=dict(s), cancel=self.cancel)

    def _progress(self, done: int, total: int, msg: str) -> None:
        if self._job is not None:
            self._tracker.progress(self._job, done, total, msg)
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(done)
            elapsed = time.monotonic() - self._start
            if done and elapsed > 0.5:
                left = elapsed * (total - done) / done
                self.eta.setText(tr("{0} of {1} · about {2} left").format(done, total, _duration(left)))
        if msg:
            self.status.setText(msg)

    def cancel(self) -> None:
        self.cancelled = True
        self._cancel.set()
        self.cancel_button.setEnabled(False)
        self.status.setText(tr("Cancelling…"))

    def _done(self, value) -> None:
        self.result = value
        self.finished_run = True
        self.bar.setRange(0, 1)
        self.bar.setValue(1)
        self.cancel_button.setEnabled(False)
        self.export_button.setEnabled(hasattr(value, "to_dict") or isinstance(value, dict))
        head = tr("Cancelled.") if self.cancelled else tr("Done in {0}.").format(
            _duration(time.monotonic() - self._start))
        self.status.setText(head)
        self.summary.setPlainText(self.describe(value))
        if self._job is not None:
            self._tracker.finish(self._job, "cancelled" if self.cancelled else "done", self.summary.toPlainText(),
                                 nbytes=getattr(value, "bytes", None))
        self.completeChanged.emit()
        self.job_done.emit(value)

    def _failed(self, msg: str) -> None:
        self.failed = msg
        self.finished_run = True
        self.cancel_button.setEnabled(False)
        self.bar.setRange(0, 1)
        self.status.setText(tr("Failed."))
        self.error_label.setText(msg)
        if self._job is not None:
            self._tracker.finish(self._job, "cancelled" if self.cancelled else "failed", error=str(msg))
        self.completeChanged.emit()
        self.job_done.emit(None)

    def isComplete(self) -> bool:
        return self.finished_run

    def validatePage(self) -> bool:
        return self.finished_run

    def nextId(self) -> int:
        return -1

    def export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, tr("Save summary"), "summary.json", tr("JSON (*.json)"))
        if path:
            self.save_summary(path)

    def save_summary(self, path: str) -> None:
        data = self.result.to_dict() if hasattr(self.result, "to_dict") else self.result
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, default=str)


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s"


class PathField(QWidget):
    """A line edit with a Browse… button (file, folder or save-as)."""

    def __init__(self, parent, mode: str = "file", caption: str = "", filter: str = ""):
        super().__init__(parent)
        self.mode, self.caption, self.filter = mode, caption, filter
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit(self)
        b = QPushButton(tr("Browse…"), self)
        b.clicked.connect(self.browse)
        lay.addWidget(self.edit, 1)
        lay.addWidget(b)

    def browse(self) -> None:
        if self.mode == "dir":
            p = QFileDialog.getExistingDirectory(self, self.caption)
        elif self.mode == "save":
            p, _ = QFileDialog.getSaveFileName(self, self.caption, self.edit.text(), self.filter)
        else:
            p, _ = QFileDialog.getOpenFileName(self, self.caption, "", self.filter)
        if p:
            self.edit.setText(p)

    def text(self) -> str:
        return self.edit.text().strip()

    def setText(self, t: str) -> None:
        self.edit.setText(t)


_Page = TypeVar("_Page", bound=FlowPage)


class FlowWizard(QWizard):
    """One flow, its pages by name, and the worker pool that runs its jobs."""

    #: the last page, which runs the flow's job (each wizard adds its own)
    run_page: RunPage

    def __init__(self, flow, parent=None, workers: WorkerPool | None = None):
        super().__init__(parent)
        self.flow = flow
        self.workers = workers or WorkerPool(self)
        self.ids: dict[str, int] = {name: i for i, name in enumerate(flow.pages)}
        self.setWindowTitle(tr(flow.title))
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.resize(760, 560)

    def add(self, page: _Page) -> _Page:
        self.setPage(self.ids[page.name], page)
        return page

    def page_named(self, name: str) -> FlowPage:
        return cast(FlowPage, self.page(self.ids[name]))  # every page is added by add()

    def current_name(self) -> str:
        p = self.currentPage()
        return getattr(p, "name", "")

    def reject(self) -> None:  # Cancel / Esc / close: stop the job first
        run = self.page(self.ids["run"]) if "run" in self.ids else None
        if isinstance(run, RunPage) and run._start and not run.finished_run:
            run.cancel()
            return  # the summary still comes; the user closes after it
        super().reject()
