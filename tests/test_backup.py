"""Backup archives: round trip, encryption, verify finds damage, restore refuses hostile archives."""

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import uuid

import pytest

from conftest import FIXTURE, REPO
from jacs_desktop.jobs.backup import BackupError, backup, restore, verify_archive
from jacs_desktop.storage.fs import FsStore
from jacs_desktop.storage.memory import MemoryStore
from jacs_desktop.storage.store import Store
from jacs_desktop.storage.urls import open_store


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    p = tmp_path_factory.mktemp("bk") / "fixture.tar.gz"
    backup(open_store(str(FIXTURE)), p)
    return p


def test_round_trip(archive, tmp_path):
    names = tarfile.open(archive).getnames()
    assert "manifest.json" in names and not any(n.endswith("private.pem.enc") for n in names)
    m = json.loads(tarfile.open(archive).extractfile("manifest.json").read())
    assert m["format_version"] == 1 and m["counts"]["documents"] == 13 and m["counts"]["agents"] == 2
    assert all(len(e["sha256"]) == 64 for e in m["entries"])
    r = verify_archive(archive)
    assert r.ok and r.verdicts == {"valid": 15}
    dst = Store(FsStore(tmp_path / "restored", create=True))
    rr = restore(archive, dst)
    assert rr.ok and len(rr.restored) == r.entries
    again = Store(FsStore(tmp_path / "restored"))
    assert {again.verify(x).status for x in again.refs()} == {"valid"} and len(again.refs()) == 15
    rr2 = restore(archive, again)
    assert rr2.restored == [] and len(rr2.skipped) == r.entries


def test_private_keys_only_when_asked(tmp_path):
    p = tmp_path / "with-keys.tar.gz"
    backup(open_store(str(FIXTURE)), p, include_private_keys=True)
    assert any(n.endswith("jacs.private.pem.enc") for n in tarfile.open(p).getnames())


def test_encrypted_round_trip_and_wrong_passphrase(tmp_path):
    p = tmp_path / "enc.tar.gz"
    backup(open_store(str(FIXTURE)), p, passphrase="correct horse battery")
    raw = p.read_bytes()
    assert b"jacsSignature" not in raw and b"manifest.json" not in raw
    assert verify_archive(p, passphrase="correct horse battery").ok
    r = verify_archive(p, passphrase="wrong")
    assert not r.ok and "Wrong passphrase" in r.problems[0]
    assert "passphrase is needed" in verify_archive(p).problems[0]


def test_flipped_bit_is_found(archive, tmp_path):
    # rebuild the archive with one byte of one entry changed but the manifest kept
    with tarfile.open(archive) as src:
        members = [(m, src.extractfile(m).read()) for m in src.getmembers()]
    bad = tmp_path / "flipped.tar.gz"
    with tarfile.open(bad, "w:gz") as out:
        for m, data in members:
            if m.name.startswith("documents/") and "flipped" not in locals():
                data = bytearray(data)
                data[100] ^= 0x01
                data = bytes(data)
                flipped = m.name
            out.addfile(m, io.BytesIO(data))
    r = verify_archive(bad)
    assert not r.ok and any(flipped in p and "differs from the manifest" in p for p in r.problems)
    dst = Store(MemoryStore(uuid.uuid4().hex))
    rr = restore(bad, dst)
    assert not rr.ok and list(dst.objects.list("")) == []  # nothing restored from a bad archive
    # a flipped bit in the compressed stream itself
    raw = bytearray(archive.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    corrupt = tmp_path / "corrupt.tar.gz"
    corrupt.write_bytes(bytes(raw))
    assert not verify_archive(corrupt).ok


def _tar(tmp_path, name, build):
    p = tmp_path / name
    with tarfile.open(p, "w:gz") as t:
        build(t)
        m = json.dumps({"format": "jacs-desktop-backup", "format_version": 1, "entries": []}).encode()
        ti = tarfile.TarInfo("manifest.json")
        ti.size = len(m)
        t.addfile(ti, io.BytesIO(m))
    return p


def _file(t, name, data=b"x"):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    t.addfile(ti, io.BytesIO(data))


def _link(t, name, target, kind):
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname = kind, target
    t.addfile(ti)


def _dev(t, name):
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.CHRTYPE
    t.addfile(ti)


@pytest.mark.parametrize("case, build, message", [
    ("dotdot", lambda t: _file(t, "../escape.json"), "unsafe name"),
    ("nested-dotdot", lambda t: _file(t, "documents/../../escape.json"), "unsafe name"),
    ("absolute", lambda t: _file(t, "/etc/evil.json"), "unsafe name"),
    ("symlink", lambda t: _link(t, "documents/link.json", "/etc/passwd", tarfile.SYMTYPE), "link"),
    ("hardlink", lambda t: _link(t, "documents/hard.json", "/etc/passwd", tarfile.LNKTYPE), "link"),
    ("device", lambda t: _dev(t, "documents/dev"), "device"),
    ("duplicate", lambda t: (_file(t, "documents/a:b.json", b"1"), _file(t, "documents/a:b.json", b"2")), "twice"),
    ("bomb", lambda t: _file(t, "documents/zeros.bin", b"\0" * (80 << 20)), "bomb"),
])
def test_hostile_archives_refused(tmp_path, case, build, message):
    p = _tar(tmp_path, f"{case}.tar.gz", build)
    target = tmp_path / "target"
    dst = Store(FsStore(target, create=True))
    r = restore(p, dst)
    assert not r.ok and any(message in x for x in r.problems), r.problems
    assert list(target.rglob("*")) == []
    assert not (tmp_path / "escape.json").exists()


def test_not_an_archive(tmp_path):
    p = tmp_path / "x.tar.gz"
    p.write_bytes(b"not a tar at all")
    assert "damaged" in verify_archive(p).problems[0]
    p.write_bytes(gzip.compress(b"hello"))
    assert not verify_archive(p).ok


def test_restore_conflict_policies(archive, tmp_path):
    objects = MemoryStore(uuid.uuid4().hex)
    with tarfile.open(archive) as t:
        name = next(n for n in t.getnames() if n.startswith("documents/"))
        original = t.extractfile(name).read()
    doc = json.loads(original)
    reformatted = json.dumps(doc).encode()  # same jacsSha256, other bytes
    objects.put(name, reformatted)
    r = restore(archive, Store(objects))
    assert name in r.conflicts and objects.get(name) == reformatted  # skip: untouched
    r = restore(archive, Store(objects), policy="keep-both")
    assert objects.get(f"restore-conflicts/{name}") == original and objects.get(name) == reformatted
    r = restore(archive, Store(objects), policy="overwrite-identical")
    assert objects.get(name) == original
    objects.put(name, b'{"jacsSha256": "other"}')
    r = restore(archive, Store(objects), policy="overwrite-identical")
    assert name in r.conflicts and objects.get(name) == b'{"jacsSha256": "other"}'


def test_cli_backup_verify_restore(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), JACS_DESKTOP_BACKUP_PASSPHRASE="cli passphrase 123",
               JACS_DESKTOP_STATE_DIR=str(tmp_path / "state"))

    def cli(*a):
        return subprocess.run([sys.executable, "-m", "jacs_desktop.cli", *map(str, a)], env=env,
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)

    arc = tmp_path / "b.tar.gz"
    p = cli("backup", FIXTURE, arc, "--encrypt", "--json")
    assert p.returncode == 0, p.stderr
    p = cli("backup", "verify", arc, "--json")
    assert p.returncode == 0 and json.loads(p.stdout)["verdicts"] == {"valid": 15}
    p = cli("restore", arc, tmp_path / "r")
    assert p.returncode == 0 and "restored" in p.stdout
    assert cli("verify", tmp_path / "r").returncode == 0
    p = cli("backup", FIXTURE, arc)
    assert p.returncode == 1 and "already exists" in p.stderr
    # incremental backup into another store: the second run copies nothing
    p = cli("backup", FIXTURE, tmp_path / "mirror")
    assert p.returncode == 0 and "copied" in p.stdout
    p = cli("backup", FIXTURE, tmp_path / "mirror")
    assert p.returncode == 0 and "copied 0" in p.stdout


def test_kill_9_mid_backup_then_rerun(tmp_path):
    """A backup killed at random points leaves no archive (or a complete one) and no
    half-written file once the next backup has run; the source is untouched."""
    import random
    import signal
    import time

    from test_migrate import _make_source, tree_hash

    src = tmp_path / "src"
    _make_source(src, 1500)
    files = src / "jacs_data" / "files"  # 48 MB of incompressible attachments: a backup takes seconds
    files.mkdir(parents=True, exist_ok=True)
    for i in range(48):
        (files / f"blob{i:02d}.bin").write_bytes(os.urandom(1 << 20))
    before = tree_hash(src)
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    rng = random.Random(5)
    interrupted = 0
    for i in range(4):
        dest = out / f"b{i}.tar.gz"
        proc = subprocess.Popen([sys.executable, "-m", "jacs_desktop.cli", "backup", str(src), str(dest)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if dest.exists():  # finished before the kill: then it is whole
            assert verify_archive(dest).ok
        else:
            interrupted += 1
    assert interrupted >= 1  # the kills really interrupted running backups
    final = out / "final.tar.zst"
    p = subprocess.run([sys.executable, "-m", "jacs_desktop.cli", "backup", str(src), str(final)], env=env,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert not [x for x in out.iterdir() if x.name.startswith(".")]  # dead writers' temp files are gone
    r = verify_archive(final)
    assert r.ok and r.verdicts == {"valid": 1501} and r.entries > 1548
    assert tree_hash(src) == before


def test_zstd_archive_round_trip_and_bomb(tmp_path):
    import zstandard

    arc = tmp_path / "f.tar.zst"
    backup(open_store(str(FIXTURE)), arc)
    assert arc.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"
    r = verify_archive(arc)
    assert r.ok and r.verdicts == {"valid": 15}
    # a zstd stream that unpacks to far more than the archive's size is refused
    bomb = tmp_path / "bomb.tar.zst"
    bomb.write_bytes(zstandard.ZstdCompressor(level=19).compress(b"\0" * (80 << 20)))
    v = verify_archive(bomb)
    assert not v.ok and "decompression bomb" in v.problems[0]
    broken = tmp_path / "broken.tar.zst"
    broken.write_bytes(arc.read_bytes()[:200])
    assert not verify_archive(broken).ok


def test_cli_backup_profiles(tmp_path, monkeypatch):
    env = dict(os.environ, PYTHONPATH=str(REPO), JACS_DESKTOP_CONFIG_DIR=str(tmp_path / "cfg"),
               JACS_DESKTOP_SECRETS="file", JACS_DESKTOP_MASTER_PASSWORD="master for cli tests")
    env.pop("JACS_DESKTOP_BACKUP_PASSPHRASE", None)

    def cli(*a, **extra):
        return subprocess.run([sys.executable, "-m", "jacs_desktop.cli", *map(str, a)], env=dict(env, **extra),
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)

    dest = tmp_path / "arch" / "nightly-{date}-{time}.tar.gz"
    dest.parent.mkdir()
    p = cli("backup", FIXTURE, dest, "--encrypt", "--save-profile", "nightly",
            JACS_DESKTOP_BACKUP_PASSPHRASE="remembered passphrase")
    assert p.returncode == 0 and "jacs-desktop-cli backup --profile nightly" in p.stdout, p.stderr
    p = cli("backup", "profiles", "--json")
    [row] = json.loads(p.stdout)
    assert row["name"] == "nightly" and row["encrypt"] and "passphrase" not in json.dumps(row).lower()
    assert "remembered passphrase" not in (tmp_path / "cfg" / "backup-profiles.json").read_text()
    p = cli("backup", "--profile", "nightly", "--json")  # as cron runs it: no terminal, no env passphrase
    assert p.returncode == 0, p.stderr
    made = json.loads(p.stdout)["path"]
    assert "{date}" not in made and (tmp_path / "arch").glob("nightly-*.tar.gz")
    p = cli("backup", "verify", made, JACS_DESKTOP_BACKUP_PASSPHRASE="remembered passphrase")
    assert p.returncode == 0, p.stdout + p.stderr
    p = cli("backup", "--profile", "nope")
    assert p.returncode == 1 and "No backup profile named 'nope'" in p.stderr
    p = cli("backup", "profiles", "remove", "nightly")
    assert p.returncode == 0 and cli("backup", "profiles").stdout == ""


def test_temp_files_of_dead_writers_are_swept(tmp_path):
    from jacs_desktop.core.identity import sweep_dead_temp_files

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        gone = tmp_path / f".a.tar.gz.{dead.pid}.0123abcd.tmp"
        kept = tmp_path / f".b.tar.gz.{live.pid}.0123abcd.tmp"
        other = tmp_path / f".notes.txt.{dead.pid}.0123abcd.tmp"
        for p in (gone, kept, other):
            p.write_bytes(b"half")
        assert sweep_dead_temp_files(tmp_path, (".tar.gz",)) == 1
        assert not gone.exists() and kept.exists() and other.exists()
    finally:
        live.kill()
        live.wait()


@pytest.mark.parametrize("size", [0, 10, 1 << 20, (2 << 20) + 5])
def test_streamed_encryption_round_trip_and_truncation(size):
    from jacs_desktop.jobs.backup import CHUNK, _decrypt, _EncryptingSink

    plain = os.urandom(size)
    out = io.BytesIO()
    sink = _EncryptingSink(out, "stream passphrase")
    for i in range(0, len(plain), 300_000):  # arrives in pieces, as from the compressor
        sink.write(plain[i:i + 300_000])
    sink.close()
    data = out.getvalue()
    assert _decrypt(data, "stream passphrase") == plain
    with pytest.raises(BackupError, match="Wrong passphrase"):
        _decrypt(data, "another passphrase")
    if size > CHUNK:  # a file cut after a whole chunk: the missing "last" chunk is noticed
        from jacs_desktop.jobs.backup import MAGIC

        header_end = data.index(b"\n", len(MAGIC)) + 1
        first = int.from_bytes(data[header_end:header_end + 4], "big")
        with pytest.raises(BackupError):
            _decrypt(data[:header_end + 4 + first], "stream passphrase")


def test_failed_backup_leaves_no_file(tmp_path, monkeypatch):
    """A read error half-way: no archive and no temp file in the folder."""
    from jacs_desktop.storage.fs import FsStore

    src = Store(FsStore(FIXTURE))
    real = src.objects.get_with_mtime
    calls = {"n": 0}

    def failing(key):  # the 5th document read fails (key look-ups by the verifier are not counted)
        calls["n"] += key.startswith("documents/")
        if calls["n"] == 5:
            raise OSError(5, "Input/output error")
        return real(key)

    monkeypatch.setattr(src.objects, "get_with_mtime", failing)
    with pytest.raises(OSError):
        backup(src, tmp_path / "x.tar.gz", passphrase="a passphrase here")
    assert list(tmp_path.iterdir()) == []
