"""Hostile backup archives: huge tar headers, hostile manifests, file/folder conflicts.
``backup verify`` and ``restore`` give a sentence (exit 1), never a traceback, in
bounded memory, and restore writes nothing."""

import gzip
import io
import json
import tarfile
import time
import tracemalloc
import uuid

import pytest

from jacs_desktop.cli import main
from jacs_desktop.jobs.backup import restore, verify_archive
from jacs_desktop.storage.fs import FsStore
from jacs_desktop.storage.memory import MemoryStore
from jacs_desktop.storage.store import Store

GIB = 1 << 30
MIB = 1 << 20
_GZ_ZERO_MIB = gzip.compress(bytes(MIB), 9)  # about 1 KiB


def _header(name: str, type_: bytes, size: int, fmt=tarfile.GNU_FORMAT) -> bytes:
    ti = tarfile.TarInfo(name)
    ti.type, ti.size, ti.mode = type_, size, 0o600
    return ti.tobuf(format=fmt)


def _gz_zeros(n: int) -> bytes:
    """*n* zero bytes (a whole number of MiB) as back-to-back gzip members: about 1 KiB per MiB,
    made in no time."""
    assert n % MIB == 0
    return _GZ_ZERO_MIB * (n // MIB)


def _huge_header_archive(path, type_: bytes, size: int = GIB):
    """A header declaring *size* bytes of payload (zeros), then an ordinary file and the end."""
    tail = io.BytesIO()
    with tarfile.open(fileobj=tail, mode="w", format=tarfile.GNU_FORMAT) as t:
        ti = tarfile.TarInfo("documents/x.json")
        ti.size = 2
        t.addfile(ti, io.BytesIO(b"{}"))
    name = "././@LongLink" if type_ in (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK) else "././@PaxHeader"
    path.write_bytes(gzip.compress(_header(name, type_, size)) + _gz_zeros(size) + gzip.compress(tail.getvalue()))
    return path


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _no_traceback(*texts):
    for t in texts:
        assert "Traceback" not in t and 'File "' not in t, t


@pytest.mark.parametrize("type_", [tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE,
                                   tarfile.XGLTYPE])
def test_huge_extended_header_refused_in_bounded_memory(tmp_path, type_, capsys):
    arc = _huge_header_archive(tmp_path / "long.tar.gz", type_)
    assert arc.stat().st_size < 2 * MIB
    for run in (lambda: verify_archive(arc), lambda: restore(arc, Store(FsStore(tmp_path / "dst", create=True)))):
        tracemalloc.start()
        try:
            t0 = time.perf_counter()
            r = run()
            seconds = time.perf_counter() - t0
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert r.exit_code == 1 and r.errors, r.problems
        assert "1,073,741,824 bytes" in r.errors[0] and "Refused" in r.errors[0], r.errors
        assert peak < 16 * MIB, peak  # the payload is never read, let alone held
        assert seconds < 5
    assert list((tmp_path / "dst").rglob("*")) == []
    code, out, err = _cli(capsys, "backup", "verify", arc)
    assert code == 1 and "1,073,741,824 bytes" in out
    _no_traceback(out, err)


def test_long_chain_of_extended_headers_refused(tmp_path):
    one = _header("././@LongLink", tarfile.GNUTYPE_LONGNAME, 512) + b"a" * 511 + b"\0"
    arc = tmp_path / "chain.tar.gz"
    arc.write_bytes(gzip.compress(one * 5000 + _header("x", tarfile.REGTYPE, 0) + bytes(1024)))
    r = verify_archive(arc)
    assert r.exit_code == 1 and "extended headers in a row" in r.errors[0]


def test_sparse_member_refused(tmp_path):
    arc = tmp_path / "sparse.tar.gz"
    arc.write_bytes(gzip.compress(_header("documents/s.json", tarfile.GNUTYPE_SPARSE, 0) + bytes(1024)))
    r = verify_archive(arc)
    assert r.exit_code == 1 and "sparse" in r.errors[0]


# -- hostile manifests ----------------------------------------------------------------------

def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _archive(path, files: dict[str, bytes], manifest: bytes | None = None):
    """An archive of *files* (in this order) and a manifest (by default a correct one)."""
    if manifest is None:
        manifest = json.dumps({"format": "jacs-desktop-backup", "format_version": 1,
                               "entries": [{"name": n, "size": len(d), "sha256": _sha(d)}
                                           for n, d in files.items()]}).encode()
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as t:
        for name, data in [*files.items(), ("manifest.json", manifest)]:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return path


DOC = b'{"a": 1}'
_OK_ENTRY = {"name": "documents/x.json", "size": len(DOC), "sha256": _sha(DOC)}


def _m(**fields) -> bytes:
    base = {"format": "jacs-desktop-backup", "format_version": 1, "entries": [_OK_ENTRY]}
    base.update(fields)
    return json.dumps(base).encode()


def _entry(**fields) -> bytes:
    return _m(entries=[{**_OK_ENTRY, **fields}])


HOSTILE_MANIFESTS = {
    "entries is a number": _m(entries=5),
    "entries is text": _m(entries="documents/x.json"),
    "entries is an object": _m(entries={"documents/x.json": _OK_ENTRY}),
    "entries missing": json.dumps({"format": "jacs-desktop-backup", "format_version": 1}).encode(),
    "an entry is a number": _m(entries=[5]),
    "an entry is null": _m(entries=[None]),
    "name is a list": _entry(name=["documents/x.json"]),
    "name is a number": _entry(name=5),
    "name is an object": _entry(name={"a": 1}),
    "name is null": _entry(name=None),
    "name missing": _m(entries=[{"size": len(DOC), "sha256": _sha(DOC)}]),
    "name is unsafe": _entry(name="../../etc/passwd"),
    "name is absolute": _entry(name="/etc/passwd"),
    "name is the manifest's": _entry(name="manifest.json"),
    "name listed twice": _m(entries=[_OK_ENTRY, _OK_ENTRY]),
    "size is text": _entry(size="8"),
    "size is negative": _entry(size=-1),
    "size is a float": _entry(size=8.0),
    "size is true": _entry(size=True),
    "size is huge": _entry(size=10 ** 400),
    "sha256 is a number": _entry(sha256=5),
    "sha256 is not hex": _entry(sha256="z" * 64),
    "sha256 is a list": _entry(sha256=[_sha(DOC)]),
    "format_version 1e400": _m().replace(b'"format_version": 1', b'"format_version": 1e400'),
    "format_version -1e400": _m().replace(b'"format_version": 1', b'"format_version": -1e400'),
    "format_version NaN": _m().replace(b'"format_version": 1', b'"format_version": NaN'),
    "format_version Infinity": _m().replace(b'"format_version": 1', b'"format_version": Infinity'),
    "format_version 5000 digits": _m().replace(b'"format_version": 1', b'"format_version": ' + b"9" * 5000),
    "format_version text": _m(format_version="1"),
    "format_version list": _m(format_version=[1]),
    "format_version true": _m(format_version=True),
    "format_version null": _m(format_version=None),
    "format_version 0": _m(format_version=0),
    "format_version 1.5": _m(format_version=1.5),
    "format_version newer": _m(format_version=2),
    "format is a list": _m(format=["jacs-desktop-backup"]),
    "100,000 deep in entries": _m().replace(b'"entries": [', b'"entries": [' + b"[" * 100_000 + b"]" * 100_000
                                            + b", ", 1),
    "100,000 deep at the top": b"[" * 100_000 + b"]" * 100_000,
    "100,000 deep objects": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "duplicate entries key": _m()[:-1] + b', "entries": []}',
    "duplicate format_version key": _m()[:-1] + b', "format_version": 2}',
    "duplicate name key in an entry": _m().replace(b'"name": "documents/x.json"',
                                                   b'"name": "documents/x.json", "name": "documents/y.json"'),
    "top level is a list": b"[]",
    "top level is a number": b"5",
    "top level is a string": b'"jacs-desktop-backup"',
    "empty": b"",
    "not UTF-8": b"\xff\xfe{}",
    "not JSON": b"{format: jacs}",
    "trailing garbage": _m() + b"]]]",
}


@pytest.mark.parametrize("case", list(HOSTILE_MANIFESTS))
def test_hostile_manifest_is_a_sentence(tmp_path, case, capsys):
    arc = _archive(tmp_path / "m.tar.gz", {"documents/x.json": DOC}, HOSTILE_MANIFESTS[case])
    r = verify_archive(arc)
    assert (r.exit_code == 1 and r.errors and "manifest" in r.errors[0].lower()) or "newer" in r.errors[0], r.errors
    dst = Store(MemoryStore(uuid.uuid4().hex))
    rr = restore(arc, dst)
    assert rr.exit_code == 1 and rr.errors == r.errors and list(dst.objects.list("")) == []
    code, out, err = _cli(capsys, "backup", "verify", arc)
    assert code == 1 and r.errors[0] in out
    _no_traceback(out, err)
    code, out, err = _cli(capsys, "restore", arc, tmp_path / "restored")
    assert code == 1 and r.errors[0] in out and "nothing was restored" in out
    _no_traceback(out, err)
    assert [p for p in (tmp_path / "restored").rglob("*") if p.is_file()] == []


def _safe(name):
    from jacs_desktop.storage.base import UnsafeName, validate_key

    try:
        return validate_key(name) == name
    except UnsafeName:
        return False


def test_the_whole_list_check_passes_only_what_the_entry_by_entry_check_passes(monkeypatch):
    """The manifest's entries checked a whole list at a time (the fast way) pass only when the entry by
    entry loop passes every one, with the same result: for each hostile manifest's entries above, and
    for good ones."""
    import json

    from jacs_desktop.jobs.backup import integrity
    from jacs_desktop.jobs.backup.base import BackupError

    fast = integrity._sound_entries

    def loop(entries, checked):
        """The entry-by-entry loop's answer alone (the fast way turned off): the entries, or the error."""
        monkeypatch.setattr(integrity, "_sound_entries", lambda entries, checked: None)
        try:
            return integrity._manifest_entries(json.dumps({**json.loads(_m()), "entries": entries}), checked)
        except BackupError as exc:
            return exc
        finally:
            monkeypatch.setattr(integrity, "_sound_entries", fast)

    good = json.loads(_m())["entries"]
    many = [{"name": f"documents/{i}.json", "size": i, "sha256": f"{i:064x}"} for i in range(1000)]
    for entries in (good, many):
        names = {e["name"] for e in entries}
        assert fast(entries, names) == loop(entries, names) == {e["name"]: e for e in entries}
        assert fast(entries, set()) is None  # a name not read from the archive: the loop checks it
    tried = refused = 0
    for case, data in HOSTILE_MANIFESTS.items():
        try:
            entries = json.loads(data)["entries"]
        except (ValueError, TypeError, KeyError, RecursionError):
            continue
        if not isinstance(entries, list):
            continue
        tried += 1
        every = {e["name"] for e in entries if isinstance(e, dict) and _safe(e.get("name"))}  # (as read: sound)
        want = loop(entries, every)
        refused += isinstance(want, BackupError)
        got = fast(entries, every)
        assert got is None or got == want, case
    assert tried >= 20 and refused >= 15


def test_good_manifest_still_accepted(tmp_path):
    arc = _archive(tmp_path / "ok.tar.gz", {"documents/x.json": DOC})
    r = verify_archive(arc)
    assert not r.errors and not r.damaged, r.problems


# -- file/folder conflicts -----------------------------------------------------------------

CONFLICTS = {
    "file then folder": {"jacs_data": b"x", "jacs_data/documents/x.json": DOC},
    "folder then file": {"jacs_data/documents/x.json": DOC, "jacs_data": b"x"},
    "deep prefix": {"a/b": b"x", "a/b/c/d/e.json": DOC},
    "file inside the manifest": {"manifest.json/x": b"x"},
}


@pytest.mark.parametrize("case", list(CONFLICTS))
def test_file_folder_conflict_verify_and_restore_agree(tmp_path, case, capsys):
    arc = _archive(tmp_path / "c.tar.gz", CONFLICTS[case])
    r = verify_archive(arc)
    assert r.exit_code == 1 and "both a file and a folder" in r.errors[0], r.problems
    target = tmp_path / "restored"
    rr = restore(arc, Store(FsStore(target, create=True)))
    assert rr.exit_code == 1 and rr.errors == r.errors
    assert [p for p in target.rglob("*")] == []
    code, out, err = _cli(capsys, "restore", arc, tmp_path / "restored2")
    assert code == 1 and "both a file and a folder" in out and "nothing was restored" in out
    _no_traceback(out, err)
    assert [p for p in (tmp_path / "restored2").rglob("*") if p.is_file()] == []
    code, out, err = _cli(capsys, "backup", "verify", arc)
    assert code == 1 and "both a file and a folder" in out


def test_sibling_names_are_not_a_conflict(tmp_path):
    arc = _archive(tmp_path / "s.tar.gz", {"jacs_data/a": b"x", "jacs_data/ab/c": b"y", "jacs_data.bak": b"z"})
    r = verify_archive(arc)
    assert not r.errors, r.problems


# -- hostile encryption headers --------------------------------------------------------------

def _enc_header(**fields) -> dict:
    import base64

    h = {"cipher": "AES-256-GCM", "kdf": "Argon2id", "salt": base64.b64encode(b"s" * 16).decode(),
         "nonce_prefix": base64.b64encode(b"n" * 8).decode(), "chunk": MIB}
    h.update(fields)
    return h


@pytest.mark.parametrize("header", [
    _enc_header(salt=""), _enc_header(salt="YWJj"), _enc_header(salt=5), _enc_header(salt="!!"),
    _enc_header(nonce_prefix="YWJj"), _enc_header(chunk=1e400), _enc_header(chunk=-1), _enc_header(chunk="1"),
    [], "x", 5, None,
], ids=lambda h: json.dumps(h)[:40])
def test_hostile_encryption_header_is_a_sentence(tmp_path, header, capsys, monkeypatch):
    from jacs_desktop.jobs.backup import MAGIC

    arc = tmp_path / "e.tar.gz"
    arc.write_bytes(MAGIC + json.dumps(header).encode() + b"\n" + b"\0\0\0\x20" + b"x" * 32)
    r = verify_archive(arc, passphrase="a passphrase")
    assert r.exit_code == 1 and "header is damaged" in r.errors[0], r.errors
    monkeypatch.setenv("JACS_DESKTOP_BACKUP_PASSPHRASE", "a passphrase")
    for argv in (("backup", "verify", arc), ("restore", arc, tmp_path / "restored")):
        code, out, err = _cli(capsys, *argv)
        assert code == 1 and "header is damaged" in out
        _no_traceback(out, err)


# -- names that differ only in case ------------------------------------------------------------

@pytest.mark.parametrize("files", [
    {"documents/Doc.json": DOC, "documents/doc.json": DOC},
    {"Jacs_Data": b"x", "jacs_data/documents/x.json": DOC},
    {"jacs_data/documents/x.json": DOC, "JACS_DATA": b"x"},
    {"documents/\u00e9.json": DOC, "documents/E\u0301.json": DOC},  # NFC/NFD and case
], ids=["files", "file then folder", "folder then file", "accents"])
def test_case_only_clash_refused_on_case_insensitive_targets(tmp_path, files, monkeypatch, capsys):
    import jacs_desktop.jobs.backup.restoring as bk

    arc = _archive(tmp_path / "case.tar.gz", files)
    r = verify_archive(arc)  # verify cannot know the target: it says what a restore will do
    assert not r.errors and any("differ" in w and "only in case" in w and "case-insensitive" in w
                                for w in r.warnings), r.warnings
    _code, _out, err = _cli(capsys, "backup", "verify", arc)
    assert "only in case" in err
    assert bk._case_insensitive(tmp_path) is False  # this test machine's temp folder
    monkeypatch.setattr(bk, "_case_insensitive", lambda folder: True)  # as on Windows or macOS
    target = tmp_path / "restored"
    rr = restore(arc, Store(FsStore(target, create=True)))
    assert rr.exit_code == 1 and "differ only in case" in rr.errors[0], rr.problems
    assert list(target.rglob("*")) == []
    monkeypatch.setattr(bk, "_case_insensitive", lambda folder: False)
    rr = restore(arc, Store(FsStore(tmp_path / "restored2", create=True)))
    assert not rr.errors and sorted(rr.restored) == sorted(files)


def test_folders_differing_in_case_are_no_clash(tmp_path, monkeypatch):
    import jacs_desktop.jobs.backup.restoring as bk

    arc = _archive(tmp_path / "f.tar.gz", {"A/x": b"1", "a/y": b"2", "a/b/z": b"3"})
    r = verify_archive(arc)
    assert not r.errors and r.warnings == []
    monkeypatch.setattr(bk, "_case_insensitive", lambda folder: True)
    rr = restore(arc, Store(FsStore(tmp_path / "t", create=True)))
    assert not rr.errors, rr.problems
