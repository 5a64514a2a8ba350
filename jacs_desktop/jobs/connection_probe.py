"""*Test connection*: open a store the way the window would, write one scratch record under
:data:`SCRATCH_PREFIX`, read it back, find it in a listing, remove it, and say so in words.

Unlike ``doctor`` (25 records, latencies), this is the quick yes/no a connection form needs:
bounded timeouts and few retries, so an unreachable endpoint is told in seconds, and every
failure sorted into what the user can fix (:attr:`ProbeResult.problem`).

A JSONL file is only opened and read: removing a line rewrites the whole file, which a
test must not do to a user's store (the result says so).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..storage.azure import EXTRA_HINT as AZURE_EXTRA_MISSING
from ..storage.base import AccessDenied, NotFound, ObjectStore, StorageError, Unreachable
from ..storage.fs import FsStore
from ..storage.gcs import GCS_EXTRA_MISSING
from ..storage.jsonl import JsonlStore
from ..storage.opener import open_objects
from ..storage.urlparse import parse_url
from .common import CancelToken, ProgressFn, is_cancelled

__all__ = ["SCRATCH_PREFIX", "PROBE_OPTIONS", "ProbeResult", "probe_connection", "with_probe_timeouts"]

#: where the scratch record goes, relative to the store (its prefix)
SCRATCH_PREFIX = ".jacs-desktop-connection-test/"
#: short timeouts and one retry: a test that hangs for a minute tells the user nothing
PROBE_OPTIONS: dict[str, dict[str, str]] = {
    "s3": {"connect_timeout": "3", "read_timeout": "10", "max_attempts": "2"},
    "gs": {"connect_timeout": "3", "read_timeout": "10", "retry_timeout": "4"},
    "azure": {"connect_timeout": "3", "read_timeout": "10", "max_attempts": "2"},
}
_HEADLINES = {
    "credentials": "The credentials are missing or were not accepted.",
    "unreachable": "The server cannot be reached.",
    "missing": "Not found.",
    "extra": "A part of JACS Desktop is not installed.",
    "refused": "The store can be read but does not work as a store should.",
    "other": "The store cannot be used.",
    "cancelled": "The test was cancelled.",
}
#: the same, said for a kind of store where the general words would mislead
_KIND_HEADLINES = {
    ("credentials", "file"): "You may not read or write there.",
    ("missing", "file"): "The file or folder is not there.",
    ("missing", "s3"): "The bucket was not found.",
    ("missing", "gs"): "The bucket was not found.",
    ("missing", "azure"): "The container was not found.",
}
_FILE_SCHEMES = ("file", "sqlite", "jsonl")


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    #: "" when ok, else credentials | unreachable | missing | extra | refused | other | cancelled
    problem: str
    #: what happened, in sentences (the first says whether it works)
    message: str
    seconds: float
    #: the store the test opened (no secrets)
    url: str
    #: the scratch key that was written and removed ("" when none was written)
    scratch_key: str = ""
    #: a scratch key the test could not remove ("" when nothing is left behind)
    left_behind: str = ""


def with_probe_timeouts(url: str) -> str:
    """*url* with :data:`PROBE_OPTIONS` for its kind added where the URL does not set them."""
    scheme = parse_url(url).scheme
    extra = PROBE_OPTIONS.get(scheme)
    if not extra:
        return url
    have = {k for k, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
    add = "&".join(f"{k}={v}" for k, v in extra.items() if k not in have)
    if not add:
        return url
    return url + ("&" if "?" in url else "?") + add


def _problem(exc: BaseException) -> str:
    text = str(exc)
    if text in (GCS_EXTRA_MISSING, AZURE_EXTRA_MISSING) or "pip install 'jacs-desktop[" in text:
        return "extra"
    if isinstance(exc, AccessDenied):
        return "credentials"
    if isinstance(exc, Unreachable):
        return "unreachable"
    if isinstance(exc, NotFound):
        return "missing"
    return "other"


def _headline(problem: str, url: str) -> str:
    try:
        scheme = parse_url(url).scheme
    except StorageError:
        scheme = ""
    kind = "file" if scheme in _FILE_SCHEMES else scheme
    return _KIND_HEADLINES.get((problem, kind), _HEADLINES[problem])


def _failed(url: str, start: float, problem: str, detail: str, *, scratch: str = "", left: str = "") -> ProbeResult:
    if detail and detail[0].islower():
        detail = detail[0].upper() + detail[1:]
    if detail and not detail.endswith((".", ")", "!")):
        detail += "."
    lines = [_headline(problem, url), detail]
    if left:
        lines.append(f"The test record {left} could not be removed; delete it by hand.")
    elif scratch:
        lines.append(f"The test record it wrote under {SCRATCH_PREFIX} was removed.")
    return ProbeResult(False, problem, " ".join(x for x in lines if x), time.perf_counter() - start, url,
                       scratch, left)


def _remove_scratch_folder(objects: ObjectStore) -> None:
    """A folder store keeps the emptied scratch folder: remove it (only when empty)."""
    if isinstance(objects, FsStore):
        with contextlib.suppress(OSError):
            (objects.root / SCRATCH_PREFIX.rstrip("/")).rmdir()


def probe_connection(url: str, secrets: Mapping[str, Any] | None = None, *,
                     progress: ProgressFn | None = None, cancel: CancelToken | None = None,
                     open_fn: Callable[[str, Mapping[str, Any] | None], ObjectStore] | None = None) -> ProbeResult:
    """Test the store *url* (opened with *secrets*): see the module text. Never raises for a
    storage failure; the result says what went wrong. *open_fn*: how to open (default the opener)."""
    start = time.perf_counter()
    where = url.split("?", 1)[0]
    opener = open_fn or (lambda u, s: open_objects(u, secrets=s))
    steps = 6

    def step(n: int, what: str) -> bool:
        if progress is not None:
            progress(n, steps, what)
        return is_cancelled(cancel)

    try:
        probe_url = with_probe_timeouts(url)
    except StorageError as exc:
        return _failed(where, start, _problem(exc), str(exc))
    if step(0, "Opening the store"):
        return _failed(where, start, "cancelled", "")
    try:
        objects = opener(probe_url, secrets)
    except StorageError as exc:
        return _failed(where, start, _problem(exc), str(exc))
    except OSError as exc:  # a backend that let one through: still words, not a traceback
        return _failed(where, start, "other", f"{type(exc).__name__}: {exc}")
    scratch = ""
    try:
        check = getattr(objects, "check", None)
        if step(1, "Checking the bucket or container"):
            return _failed(where, start, "cancelled", "")
        if callable(check):
            check()
        if isinstance(objects, JsonlStore):
            return _probe_jsonl(objects, where, start)
        scratch = f"{SCRATCH_PREFIX}{uuid.uuid4().hex}.json"
        body = json.dumps({"jacsDesktopConnectionTest": True, "written": time.time(),
                           "note": "written by JACS Desktop's Test connection, removed at once"}).encode()
        if step(2, "Writing a test record"):
            return _failed(where, start, "cancelled", "")
        if not objects.put_if_absent(scratch, body):
            found, scratch = scratch, ""
            return _failed(where, start, "refused", f"A new test record was reported to exist already ({found}).")
        if step(3, "Reading it back"):
            return _cleanup(objects, where, start, scratch, "cancelled", "")
        if objects.get(scratch) != body:
            return _cleanup(objects, where, start, scratch, "refused",
                            "The test record read back differs from what was written.")
        if step(4, "Listing"):
            return _cleanup(objects, where, start, scratch, "cancelled", "")
        if scratch not in {o.key for o in objects.list(SCRATCH_PREFIX, details=False)}:
            return _cleanup(objects, where, start, scratch, "refused",
                            "The test record was written but a listing does not show it.")
        step(5, "Removing the test record")
        objects.delete(scratch)
        if objects.stat(scratch) is not None:
            return _failed(where, start, "refused", "The test record could not be removed.", left=scratch)
        _remove_scratch_folder(objects)
        step(6, "Done")
        seconds = time.perf_counter() - start
        return ProbeResult(True, "", f"It works: {where} was opened, a test record was written under "
                           f"{SCRATCH_PREFIX}, read back, listed and removed ({seconds:.1f} s). Nothing was "
                           "left behind.", seconds, where, scratch)
    except StorageError as exc:
        if scratch:
            return _cleanup(objects, where, start, scratch, _problem(exc), str(exc))
        return _failed(where, start, _problem(exc), str(exc))
    finally:
        with contextlib.suppress(Exception):
            objects.close()


def _cleanup(objects: ObjectStore, where: str, start: float, scratch: str, problem: str, detail: str) -> ProbeResult:
    """A failure after the scratch record was written: remove it, and say whether that worked."""
    try:
        objects.delete(scratch)
        left = "" if objects.stat(scratch) is None else scratch
    except StorageError:
        left = scratch
    if not left:
        _remove_scratch_folder(objects)
    return _failed(where, start, problem, detail, scratch=scratch, left=left)


def _probe_jsonl(objects: JsonlStore, where: str, start: float) -> ProbeResult:
    count = 0
    for _ in objects.list("", details=False, ordered=False):
        count += 1
    writable = os.access(objects.path, os.W_OK)
    seconds = time.perf_counter() - start
    noun = "object" if count == 1 else "objects"
    return ProbeResult(True, "", f"It works: {where} was opened and read ({count} {noun}, {seconds:.1f} s); it "
                       + ("can be written. " if writable else "is read-only for you. ")
                       + "No test record was written: removing a line rewrites the whole file.", seconds, where)
