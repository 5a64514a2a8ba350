"""The jobs list: every verify-all, migration, backup and restore, running or finished, and the
history of finished ones kept across restarts (the window's Jobs panel shows it).

Qt-free. A :class:`JobHistory` holds :class:`JobRecord` objects and saves them as JSON in the
state folder (``jobs.json``, 0600, written to a temporary file and renamed). A job that was still
running when the app stopped is loaded as ``interrupted``; a migration's journal lets it be
resumed. Only parameters that are not secret are kept (``params``): never passwords or
passphrases.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["JobRecord", "JobHistory", "SECRET_KEYS", "KINDS", "STATES", "public_params", "format_bytes",
           "format_eta"]

KINDS = ("verify", "migrate", "backup", "restore")
#: running, then one of the others
STATES = ("running", "done", "failed", "cancelled", "interrupted")
#: flow-state keys never written to the history
SECRET_KEYS = frozenset({"password", "passphrase", "passphrase2", "secret", "secret_key", "account_key",
                         "connection_string", "source_store", "identity", "prepared"})
#: finished jobs kept (the oldest go first)
KEEP = 200


def public_params(state: dict[str, Any]) -> dict[str, Any]:
    """The JSON-safe, non-secret part of a flow's state (enough to reopen its wizard prefilled)."""
    out: dict[str, Any] = {}
    for k, v in state.items():
        if k.startswith("_") or k in SECRET_KEYS or "password" in k or "secret" in k:
            continue
        if isinstance(v, (str, int, float, bool)) or v is None:
            out[k] = v
        elif isinstance(v, (list, tuple)) and all(isinstance(x, (str, int, float, bool)) for x in v):
            out[k] = list(v)
    return out


@dataclass
class JobRecord:
    kind: str
    title: str
    source: str = ""
    target: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: str = "running"
    started: float = field(default_factory=time.time)
    finished: float | None = None
    done: int = 0
    total: int = 0
    bytes: int = 0
    message: str = ""
    summary: str = ""
    error: str = ""
    #: the flow's non-secret state, to reopen its wizard (Retry / Resume)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def finished_run(self) -> bool:
        return self.state != "running"

    @property
    def resumable(self) -> bool:
        """A migration that did not finish resumes from its journal (the target keeps it)."""
        return self.kind == "migrate" and self.state in ("interrupted", "failed", "cancelled")

    @property
    def retryable(self) -> bool:
        return self.state in ("failed", "cancelled", "interrupted")

    def fraction(self) -> float | None:
        return self.done / self.total if self.total > 0 else None

    def eta(self, now: float | None = None) -> float | None:
        """Seconds left, from the rate so far (None until there is a rate)."""
        if self.state != "running" or self.total <= 0 or self.done <= 0:
            return None
        elapsed = (now or time.time()) - self.started
        if elapsed < 0.5:
            return None
        return elapsed * (self.total - self.done) / self.done

    def duration(self) -> float:
        return (self.finished or time.time()) - self.started

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobRecord:
        known = {f.name for f in fields(cls)}
        rec = cls(**{k: v for k, v in data.items() if k in known})
        if rec.kind not in KINDS or rec.state not in STATES:
            raise ValueError(f"unknown job kind or state: {rec.kind!r}, {rec.state!r}")
        return rec


class JobHistory:
    """The jobs of this run and the finished ones of earlier runs, newest first."""

    def __init__(self, path: Path | None = None):
        self.path = path
        self.records: list[JobRecord] = []
        #: what went wrong reading the saved history (shown once; the file is then rewritten)
        self.load_problem = ""
        if path is not None:
            self._load()

    @classmethod
    def default(cls) -> JobHistory:
        from ..paths import state_dir

        return cls(state_dir() / "jobs.json")

    def _load(self) -> None:
        assert self.path is not None
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as exc:
            self.load_problem = f"The job history could not be read: {exc}"
            return
        try:
            data = json.loads(raw)
            items = data["jobs"] if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise ValueError("no job list")
            recs = [JobRecord.from_dict(d) for d in items if isinstance(d, dict)]
        except (ValueError, KeyError, TypeError) as exc:
            self.load_problem = f"The job history was damaged and is started afresh ({exc})."
            return
        for r in recs:
            if r.state == "running":  # the app stopped while it ran
                r.state = "interrupted"
                r.message = "The app stopped while this job ran."
        self.records = recs

    def save(self) -> None:
        if self.path is None:
            return
        from ..paths import private_dir

        private_dir(self.path.parent)
        keep = [r for r in self.records if r.state == "running"]
        keep += [r for r in self.records if r.state != "running"][:KEEP]
        keep.sort(key=lambda r: -r.started)
        body = json.dumps({"version": 1, "jobs": [r.to_dict() for r in keep]}, ensure_ascii=False, indent=1)
        fd, tmp = tempfile.mkstemp(prefix=".jobs.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def __iter__(self) -> Iterator[JobRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def get(self, job_id: str) -> JobRecord | None:
        return next((r for r in self.records if r.id == job_id), None)

    def start(self, kind: str, title: str, source: str = "", target: str = "",
              params: dict[str, Any] | None = None) -> JobRecord:
        if kind not in KINDS:
            raise ValueError(f"unknown job kind {kind!r}")
        rec = JobRecord(kind=kind, title=title, source=source, target=target, params=public_params(params or {}))
        self.records.insert(0, rec)
        self._save_quietly()
        return rec

    def progress(self, rec: JobRecord, done: int, total: int, message: str = "", nbytes: int | None = None) -> None:
        rec.done, rec.total = done, total
        if message:
            rec.message = message
        if nbytes is not None:
            rec.bytes = nbytes

    def finish(self, rec: JobRecord, state: str, summary: str = "", error: str = "") -> None:
        if state not in STATES or state == "running":
            raise ValueError(f"not a final state: {state!r}")
        rec.state, rec.finished = state, time.time()
        rec.summary, rec.error = summary, error
        if state == "done" and rec.total:
            rec.done = rec.total
        self._save_quietly()

    def clear_finished(self) -> int:
        before = len(self.records)
        self.records = [r for r in self.records if r.state == "running"]
        self._save_quietly()
        return before - len(self.records)

    def _save_quietly(self) -> None:
        """Saving the history must never stop a job: a failure is kept as the load problem."""
        try:
            self.save()
        except OSError as exc:
            self.load_problem = f"The job history could not be saved: {exc}"


def format_bytes(n: int) -> str:
    if n <= 0:
        return ""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"
