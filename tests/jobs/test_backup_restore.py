"""One-pass restore: the unpacked folder becomes an empty target whole, the fast tar reader and
tarfile agree, a write failure or a tampered archive leaves nothing, archive-only restores."""

import hashlib
import io
import json
import os
import stat
import tarfile

import pytest
from conftest import FIXTURE

import jacs_desktop.jobs.backup.place as place
import jacs_desktop.jobs.backup.read as read
import jacs_desktop.jobs.backup.tempfiles as tempfiles
from jacs_desktop.jobs.backup import backup, restore, verify_archive
from jacs_desktop.jobs.backup.tarread import TarMembers
from jacs_desktop.storage.urls import open_store


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    p = tmp_path_factory.mktemp("bk1") / "fixture.tar.gz"
    backup(open_store(str(FIXTURE)), p)
    return p


def _contents(archive):
    with tarfile.open(archive) as t:
        return {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile() and m.name != "manifest.json"}


def _tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _archive(path, files, long_in_the_middle=True):
    """A backup-shaped archive (manifest included) written by tarfile, with whatever headers it uses."""
    entries = [{"name": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for n, d in files.items()]
    manifest = json.dumps({"format": "jacs-desktop-backup", "format_version": 1, "entries": entries}).encode()
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as t:
        for n, d in [*files.items(), ("manifest.json", manifest)]:
            ti = tarfile.TarInfo(n)
            ti.size, ti.mode = len(d), 0o600
            t.addfile(ti, io.BytesIO(d))
    return path


def test_empty_target_becomes_the_unpacked_folder_whole(archive, tmp_path):
    target = tmp_path / "t"
    target.mkdir(mode=0o750)
    os.chmod(target, 0o750)
    seen_during_unpack = []

    def progress(done, total, name):  # called while the archive is being read: the target stays empty
        seen_during_unpack.append(list(target.iterdir()))

    r = restore(archive, open_store(str(target)), progress=progress)
    assert r.ok and len(r.restored) == r.entries == 35
    assert seen_during_unpack and all(seen == [] for seen in seen_during_unpack[:-1])
    assert _tree(target) == _contents(archive)
    assert stat.S_IMODE(target.stat().st_mode) == 0o750  # the target keeps its own permissions
    for p in target.rglob("*"):
        assert stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600)
    assert [p.name for p in tmp_path.iterdir()] == ["t"]  # no temporary folder left beside it


def test_a_target_with_content_gets_the_entries_one_by_one(archive, tmp_path, monkeypatch):
    target = tmp_path / "t"
    target.mkdir()
    (target / "mine.txt").write_bytes(b"kept")
    moved = []
    real = place._move_whole
    monkeypatch.setattr(place, "_move_whole", lambda u, fs: moved.append(real(u, fs)) or moved[-1])
    r = restore(archive, open_store(str(target)))
    assert r.ok and len(r.restored) == 35 and moved == [False]
    assert _tree(target) == {**_contents(archive), "mine.txt": b"kept"}


def test_fast_reader_and_tarfile_give_the_same_members(tmp_path):
    """Short names (the fast path), then a long name and a pax header (tarfile from there on)."""
    files = {f"documents/{i}.json": b"{}" * i for i in range(5)}
    files["documents/" + "x" * 150 + ".json"] = b"long name"
    files.update({f"documents/after-{i}.json": bytes([i]) * 700 for i in range(3)})
    arc = _archive(tmp_path / "mixed.tar.gz", files)
    import gzip

    members = TarMembers(io.BytesIO(gzip.decompress(arc.read_bytes())), read._BoundedTarInfo)
    got = {m.name: b"".join(members.chunks(m)) for m in members if m.kind == "reg"}
    assert members.fast == 5 and members.tar is not None  # both paths were taken
    with tarfile.open(arc) as t:
        assert got == {m.name: t.extractfile(m).read() for m in t.getmembers()}
    r = restore(arc, open_store(str(tmp_path / "t"), create=True))
    assert r.ok and _tree(tmp_path / "t") == files


def _respelled(header: bytes, fields: dict) -> bytes:
    """*header* with some numeric fields written another way (offset -> bytes), its checksum made again."""
    h = bytearray(header)
    for at, value in fields.items():
        h[at:at + len(value)] = value
    if 148 not in fields:
        h[148:156] = b" " * 8
        h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


@pytest.mark.parametrize("fields", [
    {},  # as tarfile writes it: the one-step reading of the numbers
    {124: b"       1750 "},  # the size in spaces, no NUL
    {100: b"   600 \0", 108: b"     0 \0", 136: b"  14524770400"},  # old GNU spellings
    {124: b"0000001_750\0"},  # int() reads the underscore: so does tarfile
    {124: b"\x80" + (1000).to_bytes(11, "big")},  # base-256: left to tarfile
    {148: b"0000000\0"},  # a wrong checksum: tarfile judges (the members end)
    {148: b"%06o\0 " % 1},  # another wrong one (for the second header: the one-step check of a known header)
    {0: b"documents/\xff.json\0"},  # a name that is not UTF-8: left to tarfile
    {265: b"someone\0"},  # another user name: the header is checked whole again
    {124: b"00000001750 "},  # the size ended by a space: read field by field
])
@pytest.mark.parametrize("which", [0, 1])
def test_numbers_spelled_otherwise_are_read_as_tarfile_reads_them(tmp_path, fields, which):
    """The first header changed (checked field by field), or the second (after a plain one, whose
    bytes but name, size, time and checksum it shares: the one-step check), read as tarfile reads it."""
    import gzip

    arc = _archive(tmp_path / "plain.tar.gz", {"documents/a.json": b"x" * 1000, "documents/b.json": b"y" * 1000})
    raw = bytearray(gzip.decompress(arc.read_bytes()))
    at = 0 if which == 0 else 512 + 1024  # (the first entry's 1,000 bytes take two blocks)
    assert raw[at:at + 15] == (b"documents/a.json"[:15] if which == 0 else b"documents/b.json"[:15])
    raw[at:at + 512] = _respelled(bytes(raw[at:at + 512]), fields)

    def by_tarfile():
        with tarfile.open(fileobj=io.BytesIO(bytes(raw)), mode="r:") as t:
            return [(m.name, m.size, t.extractfile(m).read()) for m in t.getmembers()]

    def by_ours():
        members = TarMembers(io.BytesIO(bytes(raw)), read._BoundedTarInfo)
        return [(m.name, m.size, b"".join(members.chunks(m))) for m in members]

    def outcome(read_it):
        try:
            return read_it()
        except tarfile.TarError as exc:
            return type(exc).__name__
    want = outcome(by_tarfile)
    assert outcome(by_ours) == want
    if 148 in fields:  # a wrong checksum: the members end there (at the first: tarfile refuses the archive)
        assert want == "ReadError" if which == 0 else [m[0] for m in want] == ["documents/a.json"]
    else:
        assert len(want) == 3 and want[which][1] == 1000


def test_a_header_broken_after_the_fast_ones_is_damage_not_a_crash(archive, tmp_path):
    import gzip

    with tarfile.open(archive) as t:
        header = t.getmembers()[6].offset  # the 7th member's header: after six read by the fast path
    raw = bytearray(gzip.decompress(archive.read_bytes()))
    raw[header + 148] ^= 0x07  # a digit of its checksum
    arc = tmp_path / "bad.tar.gz"
    arc.write_bytes(gzip.compress(bytes(raw)))
    v = verify_archive(arc)
    r = restore(arc, open_store(str(tmp_path / "t"), create=True))
    assert v.exit_code == r.exit_code == 1 and not r.restored
    assert list((tmp_path / "t").iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tar.gz", "t"]
    assert v.problems == ["The archive has no manifest.json: not a JACS Desktop backup"]  # as tarfile: the members end there


def test_write_failure_on_the_writer_thread_leaves_nothing(archive, tmp_path, monkeypatch):
    real, calls = tempfiles._write_file, []

    def failing(dest, data, *dir_fd):
        calls.append(dest)
        if len(calls) == 7:
            raise OSError(28, "No space left on device")
        real(dest, data, *dir_fd)

    monkeypatch.setattr(tempfiles, "_write_file", failing)
    r = restore(archive, open_store(str(tmp_path / "t"), create=True))
    assert r.exit_code == 1 and "No space left on device" in r.errors[0] and not r.restored
    assert list((tmp_path / "t").iterdir()) == [] and [p.name for p in tmp_path.iterdir()] == ["t"]


def test_without_syncfs_every_file_is_synced(archive, tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(place, "_syncfs", lambda folder: False)
    monkeypatch.setattr(place.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    r = restore(archive, open_store(str(tmp_path / "t"), create=True))
    assert r.ok and len(synced) >= 35


def test_archive_only_restore_still_checks_every_entry(archive, tmp_path, fixture_copy):
    from jobs.test_backup import TAMPERED, _flip_entry, _tamper

    r = restore(archive, open_store(str(tmp_path / "a"), create=True), verify_versions=False)
    assert r.ok and r.verdicts == {} and "not checked" in r.warnings[0] and len(r.restored) == 35
    bad = tmp_path / "flipped.tar.gz"
    flipped = _flip_entry(archive, bad)
    r = restore(bad, open_store(str(tmp_path / "b"), create=True), verify_versions=False)
    assert r.exit_code == 1 and flipped in r.damaged and not r.restored and list((tmp_path / "b").iterdir()) == []
    _tamper(fixture_copy)  # a version that does not verify, archived byte for byte: only a signature check sees it
    backup(open_store(str(fixture_copy)), tmp_path / "tampered.tar.gz", verify_versions=False)
    full = restore(tmp_path / "tampered.tar.gz", open_store(str(tmp_path / "c"), create=True))
    assert full.exit_code == 2 and TAMPERED in full.invalid


def test_the_disk_gets_a_head_start_and_the_last_sync_still_comes(tmp_path, monkeypatch):
    """Syncs while the archive is still read (a thread, again and again until joined), then the one that
    makes the restore durable, before the folder is put in place."""
    import threading

    files = {f"documents/{i:04d}.json": b"x" * 600 for i in range(600)}
    arc = _archive(tmp_path / "many.tar.gz", files)
    target = tmp_path / "t"
    calls = []
    real = place._syncfs

    def syncfs(folder):
        calls.append((threading.current_thread().name, list(target.iterdir()) if target.exists() else None))
        return real(folder)

    monkeypatch.setattr(place, "_syncfs", syncfs)
    threads = threading.active_count()
    r = restore(arc, open_store(str(target), create=True))
    assert r.ok and len(r.restored) == 600 and _tree(target) == files
    names = [name for name, _ in calls]
    assert names[0] == "restore-writeback" and names.count(threading.current_thread().name) == 1
    last = names.index(threading.current_thread().name)  # (an early one under way may go on beside it)
    assert set(names[:last]) == {"restore-writeback"}
    assert all(seen == [] for _, seen in calls[:last + 1])  # each of them before anything was put in place
    assert threading.active_count() == threads


def test_the_early_syncs_repeat_until_joined(tmp_path, monkeypatch):
    """Once the reading passes its mark the thread syncs again and again (the last files of each sync
    get theirs sooner); after join() none runs, and before the mark none did."""
    import threading
    import time

    calls = []
    monkeypatch.setattr(place, "_syncfs", lambda folder: calls.append(folder) or True)
    seen = []
    wb = place.EarlyWriteback(tmp_path, lambda d, t, n: seen.append(d), at=0.5, every=0.001)
    wb.reading(10, 100, "a")
    time.sleep(0.05)
    assert calls == [] and seen == [10]
    wb.reading(60, 100, "b")
    deadline = time.monotonic() + 10
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    wb.join()
    done = len(calls)
    assert done >= 3 and set(calls) == {tmp_path} and seen == [10, 60]
    time.sleep(0.05)
    assert len(calls) == done and "restore-writeback" not in [t.name for t in threading.enumerate()]


def test_headers_that_share_the_rest_are_checked_in_one_step(tmp_path, monkeypatch):
    """After a plain header, one that differs from it only in name, size, time and checksum is read
    without the field-by-field checks (a backup's headers all look so), and gives the same members."""
    import gzip

    from jacs_desktop.jobs.backup import tarread

    files = {f"documents/{i:03d}.json": bytes([65 + i % 26]) * (100 + 37 * i) for i in range(40)}
    arc = _archive(tmp_path / "many.tar.gz", files)
    raw = gzip.decompress(arc.read_bytes())
    whole = []
    real = tarread._byte_sum
    monkeypatch.setattr(tarread, "_byte_sum", lambda h: whole.append(1) or real(h))
    members = TarMembers(io.BytesIO(raw), read._BoundedTarInfo)
    got = {m.name: b"".join(members.chunks(m)) for m in members if m.kind == "reg"}
    with tarfile.open(fileobj=io.BytesIO(raw)) as t:
        assert got == {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isreg()}
    assert {k: v for k, v in got.items() if k in files} == files
    assert members.fast >= len(got) and members.tar is None  # (every header read by the fast path)
    assert 1 <= len(whole) <= 3  # (the first header, and any whose other bytes differ: a folder's)
