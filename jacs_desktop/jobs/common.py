"""What every job shares: the progress callback, the cancel token and the ``Cancelled`` exception.

A job is a plain function ``job(..., progress=None, cancel=None)``: it calls ``progress(done, total,
message)`` now and then and stops at the next safe point once ``cancel.is_set()`` (a
:class:`threading.Event` is a cancel token), raising :class:`Cancelled` with the partial report
when it has one. The old import places (``jobs.migrate.Cancelled``, ``jobs.verify_all.ProgressFn``,
``jobs.backup.ProgressFn`` …) name these same objects.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
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


@contextlib.contextmanager
def gc_paused(pause: bool) -> Iterator[None]:
    """Python's cyclic garbage collector off for the block when *pause* (and it was on; another
    thread that paused it first turns it on again): for blocks that make very many objects that
    all stay and form no cycle, which the collector would walk again and again."""
    was = pause and gc.isenabled()
    if was:
        gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
