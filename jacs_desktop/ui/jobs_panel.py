"""The Jobs panel (View ▸ Jobs): every verify-all, migration, backup and restore with its source,
target, progress, bytes, time left, Cancel, Retry and Resume, its summary, and the finished jobs
of earlier runs (kept by :class:`jacs_desktop.jobs.history.JobHistory`).

:class:`JobTracker` is what runners report to: the wizards' run page and the window's verify-all
call ``begin`` / ``progress`` / ``finish``. Cancel sets the job's cancel event; Retry and Resume
are signals the window answers (reopen the wizard prefilled, or verify again), since only the
window knows how to start each kind of job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..jobs.history import JobHistory, JobRecord, format_bytes, format_eta
from .theme import verdict_color

__all__ = ["JobTracker", "JobsModel", "JobsPanel"]


def tr(text: str) -> str:
    return QCoreApplication.translate("JobsPanel", text)


_KIND_WORDS = {"verify": "Verify", "migrate": "Migrate", "backup": "Back up", "restore": "Restore"}
_STATE_WORDS = {"running": "Running", "done": "Done", "failed": "Failed", "cancelled": "Cancelled",
                "interrupted": "Interrupted"}
_STATE_COLOURS = {"done": "valid", "failed": "invalid", "cancelled": "warning", "interrupted": "warning"}


class JobTracker(QObject):
    """The jobs of this window. ``changed`` carries the job's id (or "" for many)."""

    changed = Signal(str)
    added = Signal(str)
    #: a job the user started (not one the app started by itself, such as verify-on-open)
    user_started = Signal(str)

    def __init__(self, history: JobHistory | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.history = history if history is not None else JobHistory()
        self._cancel: dict[str, threading.Event | Callable[[], None]] = {}
        self._last_emit: dict[str, float] = {}

    def begin(self, kind: str, title: str, source: str = "", target: str = "",
              params: dict[str, Any] | None = None,
              cancel: threading.Event | Callable[[], None] | None = None, quiet: bool = False) -> JobRecord:
        rec = self.history.start(kind, title, source, target, params)
        if cancel is not None:
            self._cancel[rec.id] = cancel
        self.added.emit(rec.id)
        if not quiet:
            self.user_started.emit(rec.id)
        return rec

    def progress(self, rec: JobRecord, done: int, total: int, message: str = "", nbytes: int | None = None) -> None:
        self.history.progress(rec, done, total, message, nbytes)
        now = time.monotonic()
        if now - self._last_emit.get(rec.id, 0.0) >= 0.1 or done == total:  # at most ten repaints a second
            self._last_emit[rec.id] = now
            self.changed.emit(rec.id)

    def finish(self, rec: JobRecord, state: str, summary: str = "", error: str = "", nbytes: int | None = None) -> None:
        if nbytes:
            rec.bytes = nbytes
        self.history.finish(rec, state, summary, error)
        self._cancel.pop(rec.id, None)
        self.changed.emit(rec.id)

    def can_cancel(self, rec: JobRecord) -> bool:
        return rec.state == "running" and rec.id in self._cancel

    def cancel(self, rec: JobRecord) -> None:
        how = self._cancel.get(rec.id)
        if how is None:
            return
        if isinstance(how, threading.Event):
            how.set()
        else:
            how()
        rec.message = tr("Cancelling…")
        self.changed.emit(rec.id)

    def clear_finished(self) -> None:
        self.history.clear_finished()
        self.changed.emit("")


class JobsModel(QAbstractTableModel):
    HEADERS = ("Job", "Source → target", "Progress", "Bytes", "Time", "State", "Started")

    def __init__(self, tracker: JobTracker, parent: QObject | None = None):
        super().__init__(parent)
        self.tracker = tracker
        tracker.added.connect(self._added)
        tracker.changed.connect(self._changed)

    @property
    def records(self) -> list[JobRecord]:
        return self.tracker.history.records

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.records)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return tr(self.HEADERS[section])
        return None

    def record(self, row: int) -> JobRecord | None:
        return self.records[row] if 0 <= row < len(self.records) else None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        rec = self.record(index.row()) if index.isValid() else None
        if rec is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(rec, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == 1:
                return f"{rec.source}\n→ {rec.target}" if rec.target else rec.source
            if col == 5:
                return rec.error or rec.message or None
        if role == Qt.ItemDataRole.ForegroundRole and col == 5 and rec.state in _STATE_COLOURS:
            return QColor(verdict_color(_STATE_COLOURS[rec.state]))
        return None

    def _text(self, rec: JobRecord, col: int) -> str:
        if col == 0:
            return rec.title or tr(_KIND_WORDS.get(rec.kind, rec.kind))
        if col == 1:
            return f"{rec.source} → {rec.target}" if rec.target and rec.target != rec.source else rec.source
        if col == 2:
            frac = rec.fraction()
            if frac is None:
                return "" if rec.finished_run else tr("starting…")
            return f"{rec.done:,} / {rec.total:,} ({frac:.0%})"
        if col == 3:
            return format_bytes(rec.bytes)
        if col == 4:
            if rec.state == "running":
                left = format_eta(rec.eta())
                return tr("about {0} left").format(left) if left else ""
            return format_eta(rec.duration())
        if col == 5:
            return tr(_STATE_WORDS.get(rec.state, rec.state))
        if col == 6:
            return time.strftime("%Y-%m-%d %H:%M", time.localtime(rec.started))
        return ""

    def _added(self, _job_id: str) -> None:
        # new jobs go on top; a handful per session, so an insert (not a reset) keeps the selection
        self.beginInsertRows(QModelIndex(), 0, 0)
        self.endInsertRows()

    def _changed(self, job_id: str) -> None:
        if not job_id:
            self.beginResetModel()
            self.endResetModel()
            return
        for row, rec in enumerate(self.records):
            if rec.id == job_id:
                self.dataChanged.emit(self.index(row, 0), self.index(row, self.columnCount() - 1))
                return


class JobsPanel(QDockWidget):
    #: Retry clicked on a failed, cancelled or interrupted job
    retry_requested = Signal(object)
    #: Resume clicked on an unfinished migration
    resume_requested = Signal(object)

    def __init__(self, tracker: JobTracker, parent: QWidget | None = None):
        super().__init__(tr("Jobs"), parent)
        self.setObjectName("jobs_panel")
        self.tracker = tracker
        self.model = JobsModel(tracker, self)
        body = QWidget(self)
        lay = QVBoxLayout(body)
        lay.setContentsMargins(4, 4, 4, 4)
        split = QSplitter(Qt.Orientation.Vertical, body)
        self.view = QTableView(split)
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.verticalHeader().hide()
        self.view.setAlternatingRowColors(True)
        h = self.view.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        h.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.view.verticalHeader().setDefaultSectionSize(22)
        self.view.setWordWrap(False)
        self.details = QPlainTextEdit(split)
        self.details.setReadOnly(True)
        self.details.setPlaceholderText(tr("Select a job to see its summary."))
        split.addWidget(self.view)
        split.addWidget(self.details)
        split.setSizes([130, 50])
        self.empty = QLabel(tr("No jobs yet. Verify all, Migrate, Back up and Restore show their progress here."),
                            body)
        self.empty.setWordWrap(True)
        buttons = QHBoxLayout()
        self.cancel_button = QPushButton(tr("Cancel"), body)
        self.retry_button = QPushButton(tr("Retry…"), body)
        self.resume_button = QPushButton(tr("Resume…"), body)
        self.clear_button = QPushButton(tr("Clear Finished"), body)
        self.resume_button.setToolTip(tr("Start the migration again: it goes on from its journal, copying only "
                                         "what is missing"))
        for b in (self.cancel_button, self.retry_button, self.resume_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.clear_button)
        lay.addWidget(self.empty)
        lay.addWidget(split, 1)
        lay.addLayout(buttons)
        self.setWidget(body)
        self.cancel_button.clicked.connect(self._cancel)
        self.retry_button.clicked.connect(lambda: self._emit(self.retry_requested))
        self.resume_button.clicked.connect(lambda: self._emit(self.resume_requested))
        self.clear_button.clicked.connect(tracker.clear_finished)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._update())
        tracker.changed.connect(lambda _id: self._update())
        tracker.added.connect(self._select_new)
        self._update()

    def selected(self) -> JobRecord | None:
        rows = self.view.selectionModel().selectedRows()
        return self.model.record(rows[0].row()) if rows else None

    def _select_new(self, _job_id: str) -> None:
        self.view.selectRow(0)
        self._update()

    def _emit(self, signal: Any) -> None:
        rec = self.selected()
        if rec is not None:
            signal.emit(rec)

    def _cancel(self) -> None:
        rec = self.selected()
        if rec is not None:
            self.tracker.cancel(rec)

    def _update(self) -> None:
        rec = self.selected()
        has_jobs = bool(self.model.rowCount())
        self.empty.setVisible(not has_jobs)
        self.cancel_button.setEnabled(rec is not None and self.tracker.can_cancel(rec))
        self.retry_button.setEnabled(rec is not None and rec.retryable)
        self.resume_button.setEnabled(rec is not None and rec.resumable)
        self.resume_button.setVisible(rec is not None and rec.kind == "migrate")
        self.clear_button.setEnabled(any(r.finished_run for r in self.model.records))
        if rec is None:
            self.details.setPlainText("")
            return
        lines = [f"{rec.title}", f"{tr('From')}: {rec.source}"]
        if rec.target:
            lines.append(f"{tr('To')}: {rec.target}")
        if rec.message:
            lines.append(rec.message)
        if rec.error:
            lines.append(f"{tr('Error')}: {rec.error}")
        if rec.summary:
            lines += ["", rec.summary]
        self.details.setPlainText("\n".join(lines))
