"""Verify everything in a store (any backend): a cancellable job with progress.

The same tree gives the same verdicts whether it is a folder, a ``file://``
URL, S3, SQLite or memory: configs, agents, documents (every stored copy),
archived documents; keys and attachments are looked up through the
:class:`~jacs_desktop.storage.store.Store`. Something that cannot be read is
``error`` ("not checked"), never ``invalid``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..core.verify import ERROR, INVALID, LEGACY, UNVERIFIABLE, VALID, Verdict
from ..storage.base import StorageError
from ..storage.layout import Ref
from ..storage.store import Store
from .common import Cancelled, CancelToken, ProgressFn

__all__ = ["VerifyReport", "verify_store", "Cancelled", "ProgressFn", "CancelToken"]


@dataclass
class VerifyReport:
    results: list[Verdict] = field(default_factory=list)
    #: problems not tied to one checked item (a listing that failed, an unusable config)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def summary(self) -> dict[str, int | float]:
        """Counts by status; ``error``: items not checked (read failures); ``errors``:
        the problems in :attr:`errors`."""
        counts = {VALID: 0, INVALID: 0, UNVERIFIABLE: 0, LEGACY: 0, ERROR: 0}
        for r in self.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        return {"total": len(self.results), **counts, "errors": len(self.errors), "seconds": round(self.seconds, 3)}

    @property
    def exit_code(self) -> int:
        """2 when anything is invalid, else 1 when something was not checked, else 0."""
        if any(r.status == INVALID for r in self.results):
            return 2
        if self.errors or any(r.status == ERROR for r in self.results):
            return 1
        return 0

    def to_dict(self) -> dict[str, Any]:
        return {"results": [r.to_dict() for r in self.results], "summary": self.summary, "errors": self.errors}


def verify_store(
    store: Store,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> VerifyReport:
    start = time.perf_counter()
    report = VerifyReport()
    refs: list[Ref] = []
    try:
        refs += store.config_refs()
        for key, why in store.config_problems():
            report.errors.append(f"{key}: {why}")
    except StorageError as exc:
        report.errors.append(f"the configs could not be read: {exc}")
    try:
        refs += store.refs(unique=False)  # every stored copy is checked
    except StorageError as exc:
        report.errors.append(f"the store could not be listed: {exc}")
    total = len(refs)
    for i, ref in enumerate(refs):
        if cancel is not None and cancel.is_set():
            report.seconds = time.perf_counter() - start
            raise Cancelled(report)
        if progress:
            progress(i, total, ref.key.rsplit("/", 1)[-1])
        report.results.append(store.verify(ref))
    if progress:
        progress(total, total, "done")
    report.seconds = time.perf_counter() - start
    return report
