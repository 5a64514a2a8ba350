"""What every job shares: the progress callback, the cancel token and the ``Cancelled`` exception.

A job is a plain function ``job(..., progress=None, cancel=None)``: it calls ``progress(done, total,
message)`` now and then and stops at the next safe point once ``cancel.is_set()`` (a
:class:`threading.Event` is a cancel token), raising :class:`Cancelled` with the partial report
when it has one. The old import places (``jobs.migrate.Cancelled``, ``jobs.verify_all.ProgressFn``,
``jobs.backup.ProgressFn`` …) name these same objects.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

__all__ = ["ProgressFn", "CancelToken", "Cancelled", "is_cancelled"]

R = TypeVar("R")


class ProgressFn(Protocol):
    """``progress(done, total, message)``: *done* of *total* steps so far, and what is going on."""

    def __call__(self, done: int, total: int, message: str, /) -> None: ...


class CancelToken(Protocol):
    """Anything with ``is_set()`` (a :class:`threading.Event`): true once the user cancelled."""

    def is_set(self) -> bool: ...


class Cancelled(Exception, Generic[R]):
    """The job was cancelled; the partial results are on the exception (``report``)."""

    report: R

    def __init__(self, report: R):
        super().__init__("cancelled")
        self.report = report


def is_cancelled(cancel: CancelToken | None) -> bool:
    """True when there is a token and it is set."""
    return cancel is not None and cancel.is_set()
