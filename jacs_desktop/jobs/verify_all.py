"""Verify everything in a folder store: a cancellable job with progress."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

from ..core.verify import INVALID, LEGACY, UNVERIFIABLE, VALID, Check, Verdict, verify_bytes
from ..storage.folder import FolderStore

__all__ = ["VerifyReport", "verify_store", "Cancelled", "ProgressFn"]

ProgressFn = Callable[[int, int, str], None]


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


class Cancelled(Exception):
    """The job was cancelled; partial results are on the exception."""

    def __init__(self, report: "VerifyReport"):
        super().__init__("cancelled")
        self.report = report


@dataclass
class VerifyReport:
    results: list[Verdict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def summary(self) -> dict:
        counts = {VALID: 0, INVALID: 0, UNVERIFIABLE: 0, LEGACY: 0}
        for r in self.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        return {"total": len(self.results), **counts, "errors": len(self.errors), "seconds": round(self.seconds, 3)}

    @property
    def exit_code(self) -> int:
        if any(r.status == INVALID for r in self.results):
            return 2
        if self.errors:
            return 1
        return 0

    def to_dict(self) -> dict:
        return {"results": [r.to_dict() for r in self.results], "summary": self.summary, "errors": self.errors}


def verify_store(
    store: FolderStore,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> VerifyReport:
    start = time.perf_counter()
    report = VerifyReport()
    for path, msg in store.config_errors:
        report.errors.append(f"{path}: {msg}")
    entries = list(store.entries())
    ring = store.key_ring()
    total = len(entries)
    for i, entry in enumerate(entries):
        if cancel is not None and cancel.is_set():
            report.seconds = time.perf_counter() - start
            raise Cancelled(report)
        if progress:
            progress(i, total, str(entry.path.name))
        try:
            data = entry.path.read_bytes()
        except OSError as exc:
            v = Verdict(INVALID, entry.kind if entry.kind != "archived" else "document", entry.id, entry.version,
                        checks=[Check("read", "failed", f"cannot read file: {exc.strerror or exc}")], path=str(entry.path))
            report.results.append(v)
            continue
        v = verify_bytes(data, ring, store.read_attachment, path=str(entry.path))
        if entry.id and v.id and entry.id != v.id or entry.version and v.version and entry.version != v.version:
            v.checks.append(Check("file name", "failed",
                                  f"file name says {entry.id}:{entry.version} but the document is {v.id}:{v.version}"))
            v.status = INVALID
        if entry.kind == "archived":
            v.checks.append(Check("archived", "warning", "this version was removed (it is in documents/archive/)"))
        report.results.append(v)
    if progress:
        progress(total, total, "done")
    report.seconds = time.perf_counter() - start
    return report
