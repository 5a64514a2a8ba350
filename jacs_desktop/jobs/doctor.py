"""``doctor``: is this store usable? Write, read back, list, conditional create, clean up.

Exit convention (IOA Memory Fabric): 0 healthy, 1 partial, 2 misconfigured/unreachable.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..storage.base import AccessDenied, NotFound, ObjectStore, StorageError, Unreachable
from .common import CancelToken, ProgressFn, is_cancelled

__all__ = ["DoctorReport", "doctor", "HEALTHY", "PARTIAL", "BROKEN"]

HEALTHY, PARTIAL, BROKEN = 0, 1, 2
RECORDS = 25
SCRATCH = ".jacs-desktop-doctor"


@dataclass
class DoctorReport:
    url: str
    code: int = HEALTHY
    failures: list[str] = field(default_factory=list)
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    records: int = RECORDS
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return {HEALTHY: "healthy", PARTIAL: "partial", BROKEN: "misconfigured or unreachable"}[self.code]

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "status": self.status, "exit_code": self.code, "failures": self.failures,
                "latency_ms": self.latency_ms, "records": self.records, "seconds": round(self.seconds, 3)}


def _stats(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return {"min": round(ms[0], 2), "median": round(statistics.median(ms), 2), "p95": round(p95, 2),
            "max": round(ms[-1], 2)}


def doctor(
    open_fn: Callable[[], ObjectStore],
    url: str = "",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> DoctorReport:
    report = DoctorReport(url)
    start = time.perf_counter()
    try:
        objects = open_fn()
        report.url = objects.url or url
        check = getattr(objects, "check", None)
        if check:
            check()
    except (Unreachable, AccessDenied, NotFound) as exc:
        report.code, report.failures = BROKEN, [str(exc)]
        report.seconds = time.perf_counter() - start
        return report
    except StorageError as exc:
        report.code, report.failures = BROKEN, [str(exc)]
        report.seconds = time.perf_counter() - start
        return report
    run = f"{SCRATCH}/{uuid.uuid4().hex}"
    keys = [f"{run}/record-{i:02d}.json" for i in range(RECORDS)]
    bodies = {k: json.dumps({"doctor": k, "n": i, "pad": "x" * (i * 40)}).encode() for i, k in enumerate(keys)}
    timings: dict[str, list[float]] = {"write": [], "read": [], "list": [], "delete": []}
    total = RECORDS * 3 + 2
    step = 0
    fatal = 0

    def tick(msg: str) -> None:
        nonlocal step
        step += 1
        if progress:
            progress(step, total, msg)
        if is_cancelled(cancel):
            raise KeyboardInterrupt

    def fail(msg: str, exc: Exception | None = None) -> None:
        nonlocal fatal
        report.failures.append(msg + (f": {exc}" if exc else ""))
        if isinstance(exc, (Unreachable, AccessDenied)):
            fatal += 1

    written: list[str] = []
    try:
        for k in keys:
            t = time.perf_counter()
            try:
                if objects.put_if_absent(k, bodies[k]):
                    written.append(k)
                else:
                    fail(f"write {k}: the name already existed")
            except StorageError as exc:
                fail(f"write {k}", exc)
            timings["write"].append(time.perf_counter() - t)
            tick("write")
        for k in written:
            t = time.perf_counter()
            try:
                if objects.get(k) != bodies[k]:
                    fail(f"read {k}: the content read back differs from what was written")
            except StorageError as exc:
                fail(f"read {k}", exc)
            timings["read"].append(time.perf_counter() - t)
            tick("read")
        t = time.perf_counter()
        try:
            listed = {o.key for o in objects.list(run + "/")}
            missing = set(written) - listed
            if missing:
                fail(f"list: {len(missing)} written records are missing from the listing")
        except StorageError as exc:
            fail("list", exc)
        timings["list"].append(time.perf_counter() - t)
        tick("list")
        if written:
            try:
                if objects.put_if_absent(written[0], b"overwrite attempt"):
                    fail("conditional create: an existing record was overwritten (versions would not be immutable)")
            except StorageError as exc:
                fail("conditional create", exc)
        tick("conditional create")
    except KeyboardInterrupt:
        report.failures.append("cancelled")
    finally:
        for k in keys:
            t = time.perf_counter()
            try:
                objects.delete(k)
            except StorageError as exc:
                fail(f"clean up {k}", exc)
            timings["delete"].append(time.perf_counter() - t)
        with contextlib.suppress(Exception):
            objects.close()
    report.latency_ms = {op: _stats(v) for op, v in timings.items() if v}
    if report.failures:
        report.code = BROKEN if (fatal and not written) else PARTIAL
    report.seconds = time.perf_counter() - start
    return report
