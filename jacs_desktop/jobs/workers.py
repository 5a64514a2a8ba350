"""Worker processes for CPU-bound jobs (verification on both cores), results in order.

:class:`ForkPool` (Linux): *n* forked workers without the ``multiprocessing`` machinery
(its import and its queues cost more start-up time than a small store's whole
verification). Each worker has a pipe for its tasks and one for its results; task *i*
goes to worker ``i % n``, so results are read back in the order the tasks were given.
A task is written at once when its worker's pipe has room for it (the pipes do not block);
what does not fit goes to a feeder thread, started the first time it is needed, which waits
for room (a task may be larger than a pipe holds while its worker writes a result). So a
run whose tasks fit runs no second thread, and the two never take turns for the interpreter
lock at every task. A worker that dies, or whose task raises, ends the run with
:class:`WorkerFailed`; never a hang.

:class:`SpawnPool`: the same interface over a ``multiprocessing`` pool of new
interpreters, where fork is not the safe default (macOS, Windows); its functions and
arguments must be picklable.

Both take ``init(*initargs)``, run once in each worker, and ``task(*args)``, run for
each task; both must be module-level functions. Fork only in a process that runs no
other thread (see ``jobs/verify_all.py``, which decides).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import threading
from collections.abc import Callable
from typing import Any

from ..core.errors import JacsError
from .common import Cancelled, CancelToken

__all__ = ["ForkPool", "SpawnPool", "WorkerFailed"]


class WorkerFailed(JacsError):
    """A worker process stopped before it answered (killed, out of memory), or its task raised."""


class SpawnPool:
    """``multiprocessing`` workers (new interpreters): submit task *i*, then read result *i*."""

    def __init__(self, n: int, init: Callable[..., None], initargs: tuple[Any, ...], task: Callable[..., Any],
                 method: str = "spawn") -> None:
        import multiprocessing

        self._timeout = multiprocessing.TimeoutError
        self._task = task
        self._pool = multiprocessing.get_context(method).Pool(n, initializer=init, initargs=initargs)
        self._pending: dict[int, Any] = {}

    def submit(self, i: int, args: tuple[Any, ...]) -> None:
        self._pending[i] = self._pool.apply_async(self._task, args)

    def result(self, i: int, cancel: CancelToken | None = None) -> Any:
        pending = self._pending.pop(i)
        while True:  # wait in short steps, so a cancel is seen while a task runs
            try:
                return pending.get(timeout=0.2)
            except self._timeout:
                if cancel is not None and cancel.is_set():
                    raise Cancelled(None) from None

    def close(self) -> None:
        self._pool.terminate()
        self._pool.join()


class ForkPool:
    """*n* forked workers: ``submit(i, args)`` in order of *i*, ``result(i)`` in the same order.
    *pipe_bytes*: the task pipes' capacity where the system lets it be set (Linux; large tasks
    then cross in a few writes instead of one wake-up of the worker per 64 KiB)."""

    def __init__(self, n: int, init: Callable[..., None], initargs: tuple[Any, ...],
                 task: Callable[..., Any], pipe_bytes: int = 0) -> None:
        import queue
        import signal

        self._pids: list[int] = []
        self._tasks: list[int] = []  # write ends
        self._results: list[int] = []  # read ends
        try:
            for _ in range(n):
                task_r, task_w = os.pipe()
                result_r, result_w = os.pipe()
                pid = os.fork()
                if pid == 0:  # the worker
                    code = 0
                    try:
                        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # (whatever handler the parent set)
                        for fd in (task_w, result_r, *self._tasks, *self._results):
                            os.close(fd)
                        init(*initargs)
                        _serve(task_r, result_w, task)
                    except BaseException:  # (nothing may escape a forked child)
                        code = 1
                    finally:
                        os._exit(code)
                os.close(task_r)
                os.close(result_w)
                os.set_blocking(task_w, False)  # (submit writes what fits, the feeder the rest)
                if pipe_bytes:
                    _grow_pipe(task_w, pipe_bytes)
                self._pids.append(pid)
                self._tasks.append(task_w)
                self._results.append(result_r)
        except BaseException:
            self.close()
            raise
        self._queue: queue.SimpleQueue[tuple[int, bytes | memoryview] | None] = queue.SimpleQueue()
        self._feeder: threading.Thread | None = None
        self._lock = threading.Lock()
        #: task pipe -> frames of it the feeder has not finished writing (keeps the tasks in order)
        self._backlog = dict.fromkeys(self._tasks, 0)

    def _feed(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fd, data = item
            with contextlib.suppress(OSError):  # (the worker is gone: its reader sees that)
                _write_all(fd, data)
            with self._lock:
                self._backlog[fd] -= 1

    def submit(self, i: int, args: tuple[Any, ...]) -> None:
        fd = self._tasks[i % len(self._tasks)]
        data: bytes | memoryview = _frame(args)
        with self._lock:
            if not self._backlog[fd]:  # (nothing of this worker's is still with the feeder)
                try:
                    sent = os.write(fd, data)
                except BlockingIOError:
                    sent = 0
                except OSError:  # the worker is gone: its reader sees that
                    return
                if sent == len(data):
                    return
                data = memoryview(data)[sent:]
            self._backlog[fd] += 1
            if self._feeder is None:
                self._feeder = threading.Thread(target=self._feed, name="pool-feeder", daemon=True)
                self._feeder.start()
        self._queue.put((fd, data))

    def result(self, i: int, cancel: CancelToken | None = None) -> Any:
        import select

        fd = self._results[i % len(self._results)]
        while not select.select([fd], [], [], 0.2)[0]:  # short steps, so a cancel is seen
            if cancel is not None and cancel.is_set():
                raise Cancelled(None)
        head = _read_exact(fd, 8)
        body = _read_exact(fd, int.from_bytes(head, "little")) if len(head) == 8 else b""
        if not body:
            raise WorkerFailed("a worker process stopped unexpectedly (killed or out of memory?)")
        ok, value = pickle.loads(body)
        if not ok:
            raise WorkerFailed(f"a worker process failed: {value}")
        return value

    def close(self) -> None:
        """Stop the workers (a task in progress is abandoned), then the feeder, then close the
        task pipes (not before: the feeder must never write to a number that was reused)."""
        import signal

        for fd in self._results:
            with contextlib.suppress(OSError):
                os.close(fd)
        for pid in self._pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
        for pid in self._pids:
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
        feeder = getattr(self, "_feeder", None)
        if feeder is not None:  # (its writes to the stopped workers fail at once)
            self._queue.put(None)
            feeder.join()
        for fd in self._tasks:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._pids, self._tasks, self._results = [], [], []


def _frame(value: Any) -> bytes:
    data = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(8, "little") + data


def _grow_pipe(fd: int, size: int) -> None:
    import fcntl

    setsz = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setsz is not None:
        with contextlib.suppress(OSError):  # above the system's limit for this user: the default size
            fcntl.fcntl(fd, setsz, size)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    """All of *data* to *fd*, waiting for room when *fd* does not block."""
    import select

    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            select.select([], [fd], [])


def _read_exact(fd: int, n: int) -> bytes:
    """*n* bytes from *fd*, fewer only at its end."""
    parts: list[bytes] = []
    while n:
        part = os.read(fd, min(n, 1 << 20))
        if not part:
            break
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


def _serve(task_fd: int, result_fd: int, task: Callable[..., Any]) -> None:
    """A forked worker's loop: read a task, run it, write the result, until the pipe closes."""
    while True:
        head = _read_exact(task_fd, 8)
        if len(head) < 8:
            return
        args = pickle.loads(_read_exact(task_fd, int.from_bytes(head, "little")))
        try:
            answer: tuple[bool, Any] = (True, task(*args))
        except Exception as exc:  # a bug must reach the parent as an error, not as a hang
            answer = (False, f"{type(exc).__name__}: {exc}")
        _write_all(result_fd, _frame(answer))
