"""Archive integrity (every entry against the manifest, field by field), then every JACS
signature of what is intact: the one judgement ``verify_archive`` and ``restore`` share."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Container, Iterator
from itertools import repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NoReturn

from ...core.checks import ERROR, FAILED, INVALID, MAX_DOCUMENT_BYTES, Check
from ...core.verify import FileResolver, KeyResolver, Verdict, verify_bytes
from ...storage.base import NotFound, ObjectInfo, ObjectStore, StorageError, UnsafeName, validate_key
from ...storage.layout import Ref
from ...storage.store import Store
from ..common import CancelToken, ProgressFn, is_cancelled
from .base import FORMAT_VERSION, MANIFEST_NAME, ArchiveReport, BackupError
from .read import _Unpacked

if TYPE_CHECKING:
    from .verifying import VersionPool



class _TempObjects(ObjectStore):
    """The unpacked entries as a read-only object store (for the verifier)."""

    def __init__(self, files: dict[str, tuple[str, int, str]], cache: dict[str, bytes] | None = None):
        self.files = files
        self.cache = cache or {}  # bytes kept from the one read of the archive
        self.url = f"archive-temp://{uuid.uuid4().hex}"

    def list(self, prefix: str = "", *, page_size: int = 1000, details: bool = True,
             ordered: bool = True) -> Iterator[ObjectInfo]:
        for k in sorted(self.files):
            if k.startswith(prefix):
                yield ObjectInfo(k, self.files[k][1], None)

    def get(self, key: str) -> bytes:
        e = self.files.get(key)
        if e is None:
            raise NotFound(f"{key} not found")
        data = self.cache.get(key)
        if data is not None:
            return data
        try:
            with open(e[0], "rb") as f:
                return f.read()
        except OSError as exc:
            raise StorageError(f"{key}: {exc.strerror or exc}") from None

    def put(self, key: str, data: bytes) -> None:
        raise StorageError("the archive's temporary copy is read-only")

    # read-only: creating raises like put (the signature differs: put returns nothing, put_if_absent a bool)
    put_if_absent = put  # type: ignore[assignment]

    def stat(self, key: str) -> ObjectInfo | None:
        e = self.files.get(key)
        return None if e is None else ObjectInfo(key, e[1], None)

    def delete(self, key: str) -> None:
        raise StorageError("the archive's temporary copy is read-only")


def _check_version(data: bytes, ref: Ref, keys: KeyResolver | None, files: FileResolver | None) -> Verdict:
    """One stored version: the verifier's verdict, plus the rule that the name it is
    stored under is the id and version it carries."""
    v = verify_bytes(data, keys, files, path=ref.key)
    if v.id is not None and (v.id != ref.id or v.version != ref.version):
        v.checks.append(Check("name", FAILED, f"stored as {ref.id}:{ref.version} but the document is "
                                              f"{v.id}:{v.version}"))
        v.status = INVALID
    return v


def _read_error(ref: Ref, reason: str) -> Verdict:
    return Verdict(ERROR, ref.kind, ref.id, ref.version, checks=[Check("read", FAILED, reason)], path=ref.key)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise ValueError(f"the key {_short(k)} appears twice in one object")
            seen.add(k)
    return d


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _parse_manifest(data: bytes) -> Any:
    """The manifest's JSON: by jiter (compiled, a few times faster than ``json`` with the hooks
    below: 10,000 entries in about 4 ms instead of 18), which refuses duplicate keys, NaN and
    Infinity too; anything jiter refuses (malformed, duplicates, a byte-order mark, UTF-16, lone
    surrogates, deep nesting) is parsed again by ``json`` with the strict hooks, which accepts what
    the format allows and words why it refuses the rest. What jiter accepts, ``json`` parses to
    the same value (tests/jobs/test_manifest_parse.py)."""
    try:
        from jiter import from_json
    except ImportError:  # pragma: no cover - jiter is a dependency
        pass
    else:
        try:
            return from_json(data, allow_inf_nan=False, catch_duplicate_keys=True)
        except Exception:  # whatever jiter refuses, json decides (and words why)
            pass
    return json.loads(data, object_pairs_hook=_unique_keys, parse_constant=_no_constant)


def _manifest_entries(data: bytes, checked: Container[str] = ()) -> dict[str, dict[str, Any]]:
    """The manifest's entries by name, every field checked (types, safe unique names,
    sizes, SHA-256 digests); anything else is a sentence in a :class:`BackupError`."""
    damaged = "The archive's manifest is damaged: "
    try:
        manifest = _parse_manifest(data)
    except RecursionError:
        raise BackupError(damaged + "it is nested too deeply") from None
    except (ValueError, TypeError) as exc:  # not UTF-8, not JSON, duplicate keys, NaN, huge numbers
        raise BackupError(damaged + str(exc)) from None
    if not isinstance(manifest, dict) or manifest.get("format") != "jacs-desktop-backup":
        raise BackupError("The archive's manifest is not a JACS Desktop backup manifest")
    version = manifest.get("format_version")
    if type(version) is not int or version < 1:
        raise BackupError(damaged + f"format_version is {_short(version)}, not a version number")
    if version > FORMAT_VERSION:
        raise BackupError("The backup was made by a newer JACS Desktop")
    entries = manifest.get("entries")
    if not isinstance(entries, list):
        raise BackupError(damaged + f"entries is {_short(entries)}, not a list")
    fast = _sound_entries(entries, checked)
    if fast is not None:
        return fast
    listed: dict[str, dict[str, Any]] = {}
    for i, e in enumerate(entries, 1):
        if not isinstance(e, dict):
            raise BackupError(damaged + f"entry {i} is {_short(e)}, not an object")
        name, size, sha = e.get("name"), e.get("size"), e.get("sha256")
        if not isinstance(name, str):
            raise BackupError(damaged + f"entry {i} has the name {_short(name)}, not a text")
        if name not in checked:  # names the archive's own entries have were checked as they were read
            try:
                validate_key(name)
            except UnsafeName as exc:
                raise BackupError(damaged + f"entry {i}: {exc}") from None
        if name == MANIFEST_NAME or name in listed:
            raise BackupError(damaged + f"the name {_short(name)} is listed twice")
        if type(size) is not int or not 0 <= size < 1 << 63:
            raise BackupError(damaged + f"entry {_short(name)} has the size {_short(size)}, not a byte count")
        if not isinstance(sha, str) or _SHA256_HEX.fullmatch(sha) is None:
            raise BackupError(damaged + f"entry {_short(name)} has the SHA-256 {_short(sha)}, not a digest")
        listed[name] = e
    return listed


_HEX_DIGITS = b"0123456789abcdef"


def _sound_entries(entries: list[Any], checked: Container[str]) -> dict[str, dict[str, Any]] | None:
    """The entries by name when every one passes every check of :func:`_manifest_entries` (each
    check made over the whole list at once, a few times faster for 10,000 entries); None when any
    might not, or a name is not among *checked* (then the entry-by-entry loop says which and why)."""
    # (each test a C loop over the whole list: map and set, no Python step per entry)
    if not entries:
        return {}
    if set(map(type, entries)) != {dict}:
        return None
    names: list[Any] = list(map(dict.get, entries, repeat("name")))
    if set(map(type, names)) != {str} or not all(map(checked.__contains__, names)):
        return None
    listed: dict[str, dict[str, Any]] = dict(zip(names, entries, strict=True))
    if len(listed) != len(entries) or MANIFEST_NAME in listed:
        return None
    sizes: list[Any] = list(map(dict.get, entries, repeat("size")))
    if set(map(type, sizes)) != {int} or min(sizes) < 0 or max(sizes) >= 1 << 63:
        return None
    digests: list[Any] = list(map(dict.get, entries, repeat("sha256")))
    if set(map(type, digests)) != {str} or set(map(len, digests)) != {64}:
        return None
    joined = "".join(digests)  # only lower-case hex digits: nothing is left when they are deleted
    if not joined.isascii() or joined.encode("ascii").translate(None, _HEX_DIGITS):
        return None
    return listed


def _manifest_check(data: bytes, entries: dict[str, tuple[str, int, str]]) -> dict[str, dict[str, Any]] | BackupError:
    """The manifest's entries, or what is wrong with it (for ``_unpack(on_manifest=...)``)."""
    try:
        return _manifest_entries(data, entries)
    except BackupError as exc:
        return exc


def _checked_manifest(u: _Unpacked) -> dict[str, dict[str, Any]]:
    """The manifest's entries: as checked while the archive was read, else checked now."""
    got = u.manifest_check
    if got is None:
        got = _manifest_check(u.manifest_data or b"", u.entries)
    if isinstance(got, BackupError):
        raise got
    assert isinstance(got, dict)
    return got


def _judge(u: _Unpacked, report: ArchiveReport, progress: ProgressFn | None = None,
           cancel: CancelToken | None = None, *, verify_versions: bool = True, pool: VersionPool | None = None) -> None:
    """Archive integrity (every entry against the manifest), then every JACS signature
    of what is intact (unless not *verify_versions*; on *pool*'s workers when given, the
    same verdicts). Fills *report*; the verdict is ``report.exit_code``."""
    report.entries = len(u.entries)
    report.bytes = sum(map(itemgetter(1), u.entries.values()))
    if u.stream_error:
        report.stream_error = u.stream_error
        report.problems.append(u.stream_error + (f" (while reading {u.broken_entry})" if u.broken_entry else ""))
        if u.broken_entry:
            report.damaged[u.broken_entry] = "cannot be read: " + u.stream_error
    if u.manifest_data is None:
        if not u.stream_error:
            report.errors.append("The archive has no manifest.json: not a JACS Desktop backup")
            report.problems.insert(0, report.errors[-1])
            return
        report.problems.append("The archive's manifest.json could not be read (it comes last): "
                               "no entry could be checked against it")
    else:
        try:
            listed = _checked_manifest(u)
        except BackupError as exc:
            report.errors.append(str(exc))
        if report.errors:
            report.problems.insert(0, report.errors[-1])
            return
        _compare_entries(u, listed, report)
    if not verify_versions:
        report.warnings.append("The documents' signatures were not checked (asked for); every entry was "
                               "checked against the manifest")
        return
    intact = {k: v for k, v in u.entries.items() if k not in report.damaged}
    every = Store(_TempObjects({**{k: ("", 0, "") for k in report.damaged}, **u.entries}))
    store = Store(_TempObjects(intact, u.cache), layout=every.layout)
    refs = every.refs()
    keys, files = store.keys(), store.read_attachment
    checked: dict[str, tuple[str, str]] = {}
    if pool is not None:
        from .verifying import PoolError

        try:
            checked = pool.verdicts(refs, intact, u.cache, every.layout, keys, files, cancel)
        except PoolError as exc:
            report.errors.append(str(exc))
            report.problems.insert(0, str(exc))
            return
        except BackupError:  # cancelled while the workers checked
            _cancelled(report)
            return
    for i, ref in enumerate(refs):
        if is_cancelled(cancel):
            _cancelled(report)
            return
        if ref.key in report.damaged:
            status, reason = ERROR, f"the archive entry is damaged: {report.damaged[ref.key]}"
        else:
            verdict = checked.get(ref.key)
            if verdict is None:
                v = _verify_entry(store, ref, intact[ref.key][1], keys, files)
                verdict = v.status, v.reason
            status, reason = verdict
            if status == ERROR:  # a read failed: nothing is known (never "invalid"), the entry is kept
                report.not_checked[ref.key] = reason
                report.problems.append(f"{ref.key}: not checked: {reason}")
        report.verdicts[status] = report.verdicts.get(status, 0) + 1
        if status == INVALID:
            report.invalid[ref.key] = reason
            report.problems.append(f"{ref.key}: does not verify: {reason}")
        if progress and (i % 100 == 0 or i == len(refs) - 1):
            progress(i + 1, len(refs), ref.key)


def _compare_entries(u: _Unpacked, listed: dict[str, dict[str, Any]], report: ArchiveReport) -> None:
    """Each entry that differs from the manifest, is missing or is not listed, said with why."""
    for name, e in listed.items():
        got = u.entries.get(name)
        if got is None:
            if name != u.broken_entry:
                report.damaged[name] = ("listed in the manifest but missing from the archive" if not u.stream_error
                                        else "not read: the archive broke off before it")
                report.problems.append(f"{name}: {report.damaged[name]}")
        elif got[1] != e.get("size") or got[2] != e.get("sha256"):
            report.damaged[name] = "content differs from the manifest (size or SHA-256)"
            report.problems.append(f"{name}: {report.damaged[name]}")
    for name in u.entries:
        if name not in listed:
            report.damaged[name] = "in the archive but not in the manifest"
            report.problems.append(f"{name}: {report.damaged[name]}")


def _cancelled(report: ArchiveReport) -> None:
    report.cancelled = True
    report.errors.append("cancelled")
    report.problems.insert(0, "cancelled")


def _verify_entry(store: Store, ref: Ref, size: int, keys: KeyResolver | None, files: FileResolver | None) -> Verdict:
    if size > MAX_DOCUMENT_BYTES:
        return Verdict(INVALID, "unknown", checks=[Check("parse", FAILED, (
            f"document is {size / 1048576:.1f} MiB, larger than the {MAX_DOCUMENT_BYTES / 1048576:.0f} MiB "
            "limit; it was not parsed"))], path=ref.key)
    try:
        data = store.objects.get(ref.key)
    except StorageError as exc:
        return _read_error(ref, f"the unpacked copy cannot be read back: {exc}")
    return _check_version(data, ref, keys, files)


