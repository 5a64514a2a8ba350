"""The one way the UI runs work off the GUI thread.

``WorkerPool.run(fn, ...)`` runs ``fn`` on a QThreadPool; results, errors and
progress come back to the GUI thread through Qt signals. A function that takes
``progress`` and/or ``cancel`` keyword arguments gets a progress callback
``(done, total, message)`` and a cancel token (``is_set()``), which is the
contract the Qt-free jobs already follow; one that takes ``partial`` can hand
intermediate results to the GUI thread as it goes.

A failure crosses to the GUI thread as the exception object: ``on_failure`` gets
it (to react to its type, e.g. ``storage.base.AccessDenied``), ``on_error`` its
message (``message_of``).
"""

from __future__ import annotations

import inspect
import logging
import threading
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

__all__ = ["WorkerPool", "Task", "message_of"]

log = logging.getLogger(__name__)


def message_of(exc: BaseException | str) -> str:
    """What a failure says to the user: its message, else the name of its type."""
    if isinstance(exc, str):
        return exc
    return str(exc) or type(exc).__name__


class _Signals(QObject):
    result = Signal(object)
    #: the exception object
    error = Signal(object)
    progress = Signal(int, int, str)
    partial = Signal(object)
    finished = Signal()


class Task(QRunnable):
    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict, name: str):
        super().__init__()
        self.setAutoDelete(False)
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.name = name
        self.signals = _Signals()
        self.cancel_event = threading.Event()
        self.done = threading.Event()
        params: Mapping[str, inspect.Parameter]
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            params = {}
        if "progress" in params:
            self.kwargs["progress"] = lambda d, t, m="": self.signals.progress.emit(int(d), int(t), str(m))
        if "cancel" in params:
            self.kwargs["cancel"] = self.cancel_event
        if "partial" in params:  # intermediate results (rows while a listing runs)
            self.kwargs["partial"] = lambda value: None if self.cancelled else self.signals.partial.emit(value)

    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def run(self) -> None:  # on a pool thread
        try:
            value = self.fn(*self.args, **self.kwargs)
        except Exception as exc:  # every failure reaches the GUI thread, never a traceback dialog
            log.info("task %s failed: %s", self.name, message_of(exc))  # in the log file, for bug reports
            log.debug("task %s traceback:\n%s", self.name, traceback.format_exc())
            exc.__traceback__ = None  # the frames stay on this thread
            if not self.cancelled:
                self.signals.error.emit(exc)
        else:
            if not self.cancelled:
                self.signals.result.emit(value)
        finally:
            self.done.set()
            self.signals.finished.emit()


class WorkerPool(QObject):
    """Runs tasks; keeps them alive until they finish; counts what is running."""

    busy_changed = Signal(int)

    def __init__(self, parent: QObject | None = None, max_threads: int | None = None):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        if max_threads:
            self.pool.setMaxThreadCount(max_threads)
        self._tasks: set[Task] = set()

    def run(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_result: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_progress: Callable[[int, int, str], None] | None = None,
        on_finished: Callable[[], None] | None = None,
        on_partial: Callable[[Any], None] | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
        name: str = "",
        **kwargs: Any,
    ) -> Task:
        task = Task(fn, args, kwargs, name or getattr(fn, "__name__", "task"))
        # a result or partial that was already on its way when the task was
        # cancelled is dropped on arrival too
        if on_result:
            task.signals.result.connect(lambda value, t=task: None if t.cancelled else on_result(value))
        if on_error:
            task.signals.error.connect(lambda exc: on_error(message_of(exc)))
        if on_failure:
            task.signals.error.connect(on_failure)
        if on_progress:
            task.signals.progress.connect(on_progress)
        if on_finished:
            task.signals.finished.connect(on_finished)
        if on_partial:
            task.signals.partial.connect(lambda value, t=task: None if t.cancelled else on_partial(value))
        task.signals.finished.connect(lambda t=task: self._done(t))
        self._tasks.add(task)
        self.busy_changed.emit(len(self._tasks))
        self.pool.start(task)
        return task

    def _done(self, task: Task) -> None:
        self._tasks.discard(task)
        self.busy_changed.emit(len(self._tasks))

    @property
    def active(self) -> int:
        return len(self._tasks)

    def cancel_all(self) -> None:
        for t in list(self._tasks):
            t.cancel()

    def wait(self, msecs: int = 30000) -> bool:
        return self.pool.waitForDone(msecs)
