"""Migration: verbatim copy verified on the target, dry run, conflicts, resume after kill -9, re-sign."""

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import FIXTURE, MANIFEST, REPO

from jacs_desktop.core.verify import claimed_hash
from jacs_desktop.jobs.migrate import Cancelled, MigrateOptions, migrate
from jacs_desktop.storage.fs import FsStore
from jacs_desktop.storage.memory import MemoryStore
from jacs_desktop.storage.sqlite import SqliteStore
from jacs_desktop.storage.store import Store
from jacs_desktop.storage.urls import open_store


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("JACS_DESKTOP_STATE_DIR", str(tmp_path / "state"))


def tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize("target", ["fs", "memory", "sqlite"])
def test_verbatim_copy_verifies_and_rerun_skips(tmp_path, target):
    before = tree_hash(FIXTURE)
    src = open_store(str(FIXTURE))
    objects = {"fs": lambda: FsStore(tmp_path / "t", create=True), "memory": lambda: MemoryStore(uuid.uuid4().hex),
               "sqlite": lambda: SqliteStore(tmp_path / "t.sqlite3")}[target]()
    dst = Store(objects, src.layout)
    r = migrate(src, dst)
    assert r.ok and len(r.copied) >= 15 + 4 and r.bytes > 0
    again = Store(objects)
    verdicts = [again.verify(ref) for ref in again.refs()]
    assert len(verdicts) == 15 and {v.status for v in verdicts} == {"valid"}
    r2 = migrate(src, again)
    assert r2.copied == [] and len(r2.skipped) == len(r.copied) and r2.ok
    assert tree_hash(FIXTURE) == before  # the source is only read


def test_to_docs_layout_and_external_attachment(tmp_path):
    from jacs_desktop.storage.layout import DocsLayout

    src = open_store(str(FIXTURE))
    dst = Store(MemoryStore(uuid.uuid4().hex), DocsLayout())
    r = migrate(src, dst)
    assert r.ok and "files/files/data.csv" in r.copied
    assert all(dst.verify(ref).status == "valid" for ref in dst.refs())


def test_dry_run_writes_nothing(tmp_path):
    dst = Store(FsStore(tmp_path / "t", create=True))
    r = migrate(open_store(str(FIXTURE)), dst, MigrateOptions(dry_run=True))
    assert r.would_copy and r.copied == [] and list((tmp_path / "t").rglob("*")) == []


def test_conflict_is_reported_not_overwritten(tmp_path):
    """A *different valid* version under the same name is a conflict: versions are immutable."""
    src = open_store(str(FIXTURE))
    objects = MemoryStore(uuid.uuid4().hex)
    key = MANIFEST["documents"][0]["path"]
    other = (FIXTURE / MANIFEST["documents"][1]["path"]).read_bytes()  # valid, hashes to its claim
    objects.put(key, other)
    r = migrate(src, Store(objects, src.layout))
    assert key in r.conflicts and not r.ok and key not in r.repaired
    assert objects.get(key) == other


@pytest.mark.parametrize("planted", [b"", b"TRUNCATE", b'{"jacsId": "other", "jacsSha256": "different"}'],
                         ids=["empty", "truncated", "bad-hash"])
def test_damaged_target_object_is_repaired_not_a_conflict(tmp_path, planted):
    """What cannot be a valid version (empty, cut short, not hashing to its claim) is
    damage: overwritten, read back, reported as repaired; the run is ok and a re-run skips."""
    src = open_store(str(FIXTURE))
    objects = FsStore(tmp_path / "t", create=True)
    key = MANIFEST["documents"][0]["path"]
    good = (FIXTURE / key).read_bytes()
    objects.put(key, good[: len(good) // 2] if planted == b"TRUNCATE" else planted)
    before = objects.get(key)
    dry = migrate(src, Store(objects, src.layout), MigrateOptions(dry_run=True))
    assert key in dry.would_copy and dry.conflicts == [] and objects.get(key) == before
    r = migrate(src, Store(objects, src.layout))
    assert r.ok, r.failed
    assert r.repaired == [key] and key in r.copied and r.conflicts == []
    assert objects.get(key) == good
    r2 = migrate(src, Store(objects, src.layout))
    assert r2.ok and r2.repaired == [] and key in r2.skipped


def test_skip_existing_compares_bytes_not_the_claimed_hash(tmp_path):
    """A damaged copy that still claims the right jacsSha256 (one byte changed inside
    the content) is repaired, never silently skipped."""
    src = open_store(str(FIXTURE))
    objects = MemoryStore(uuid.uuid4().hex)
    key = MANIFEST["documents"][0]["path"]
    good = (FIXTURE / key).read_bytes()
    i = good.index(b'"jacsVersionDate"') - 5  # a byte inside the signed content, before that field
    while not chr(good[i]).isalnum():
        i -= 1
    bad = good[:i] + (b"X" if good[i:i + 1] != b"X" else b"Y") + good[i + 1:]
    assert len(bad) == len(good) and bad != good and claimed_hash(bad) == claimed_hash(good)
    objects.put(key, bad)
    r = migrate(src, Store(objects, src.layout))
    assert key in r.repaired and r.ok and key not in r.skipped
    assert objects.get(key) == good


def test_same_version_written_differently_is_skipped(tmp_path):
    """Other white space, the same hashed content: the same version (skipped, not a conflict)."""
    src = open_store(str(FIXTURE))
    objects = MemoryStore(uuid.uuid4().hex)
    key = MANIFEST["documents"][0]["path"]
    compact = json.dumps(json.loads((FIXTURE / key).read_bytes()), separators=(",", ":")).encode()
    objects.put(key, compact)
    r = migrate(src, Store(objects, src.layout))
    assert r.ok and key in r.skipped and objects.get(key) == compact


def test_only_agents_and_latest_only(tmp_path):
    src = open_store(str(FIXTURE))
    a = Store(MemoryStore(uuid.uuid4().hex), src.layout)
    migrate(src, a, MigrateOptions(only="agents"))
    assert len(a.agents()) == 2 and a.documents() == {}
    b = Store(MemoryStore(uuid.uuid4().hex), src.layout)
    migrate(src, b, MigrateOptions(latest_only=True))
    docs = b.documents()
    assert all(len(v) == 1 for v in docs.values()) and len(docs) == 7
    chain = MANIFEST["version_chains"]["fbf12295-f05e-4bac-b165-1064712de0f8"]
    assert docs["fbf12295-f05e-4bac-b165-1064712de0f8"][0].version == chain[-1]


def test_cancel_then_resume_from_journal(tmp_path):
    src = open_store(str(FIXTURE))
    objects = MemoryStore(uuid.uuid4().hex)

    class StopAfter:
        def __init__(self):
            self.n = 0

        def is_set(self):
            self.n += 1
            return self.n > 6

    with pytest.raises(Cancelled) as exc:
        migrate(src, Store(objects, src.layout), MigrateOptions(concurrency=1), cancel=StopAfter())
    first = exc.value.report
    assert 0 < len(first.copied) < 15 and Path(first.journal).exists()
    r = migrate(src, Store(objects, src.layout), MigrateOptions(concurrency=1))
    assert r.resumed == len(first.copied) and r.ok
    assert not Path(r.journal).exists()  # finished runs remove their journal
    assert len(Store(objects).refs()) == 15


def test_resign_as_new_identity(tmp_path, fixture_copy):
    from jacs_desktop.core.identity import create_agent

    ident = create_agent(tmp_path / "me", "migrator", "Str0ng!Passw0rd#x")
    src = open_store(str(fixture_copy))
    dst = Store(MemoryStore(uuid.uuid4().hex), src.layout)
    r = migrate(src, dst, MigrateOptions(resign=ident.signer, only="documents"))
    assert r.ok
    dst.put_public_key(ident.public_key, "ring-Ed25519")
    for ref in dst.refs():
        if ref.kind != "document":
            continue
        doc = dst.read_json(ref.key)
        assert doc["jacsSignature"]["agentID"] == ident.agent_id
        assert doc["jacsMigratedFrom"]["jacsVersion"] == ref.version
        assert "jacsMigratedFrom" in doc["jacsSignature"]["fields"]
        assert dst.verify(ref).status == "valid"


def _make_source(root: Path, n: int) -> None:
    from jacs_desktop.core.identity import create_agent

    ident = create_agent(root, "bulk", "Str0ng!Passw0rd#x")
    st = Store(FsStore(root))
    for i in range(n):
        st.put_document(ident.signer.new_document({"jacsDocument": {"type": "message", "content": {"i": i,
                                                                                               "pad": "x" * 2000}}}))


@pytest.mark.parametrize("target", ["sqlite", "fs"])
def test_kill_9_mid_migration_then_rerun(tmp_path, target):
    n = 3000
    src = tmp_path / "src"
    _make_source(src, n)
    before = tree_hash(src)
    url = f"sqlite://{tmp_path}/dst.sqlite3" if target == "sqlite" else str(tmp_path / "dst")
    env = dict(os.environ, PYTHONPATH=str(REPO), JACS_DESKTOP_STATE_DIR=str(tmp_path / "state"))
    cmd = [sys.executable, "-m", "jacs_desktop.cli", "migrate", str(src), url, "--concurrency", "1"]
    rng = random.Random(11 if target == "sqlite" else 12)
    partial_counts = []
    for _ in range(2):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # wait until copying has started and journalled a first batch (a folder target's
        # files are journalled once their batch is durable), then kill at a random point
        deadline = time.time() + 30
        while time.time() < deadline and not any(
                "done\t" in j.read_text(errors="replace") for j in (tmp_path / "state").glob("migrate-*.journal")):
            time.sleep(0.01)
        time.sleep(rng.uniform(0.05, 0.4))
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL, f"the migration ended by itself ({proc.returncode}) before the kill"
        partial_counts.append(len([r for r in open_store(url).refs() if r.kind == "document"]))
    assert 0 < partial_counts[0] < n, partial_counts  # the kill really interrupted a running copy
    out = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["summary"]["failed"] == 0 and report["summary"]["resumed_from_journal"] > 0, report["summary"]
    target_store = open_store(url)
    refs = target_store.refs()
    assert len([r for r in refs if r.kind == "document"]) == n and len(refs) == n + 1
    assert {target_store.verify(r).status for r in refs} == {"valid"}
    if target == "sqlite":
        import sqlite3

        con = sqlite3.connect(f"{tmp_path}/dst.sqlite3")
        assert con.execute("SELECT count(*), count(DISTINCT jacs_id || ':' || jacs_version) "
                           "FROM jacs_document").fetchone() == (n, n)
        con.close()
    else:  # no half-written or temporary files left behind
        left = [p.name for p in (tmp_path / "dst").rglob(".*") if p.is_file()]
        assert not left, left
    assert tree_hash(src) == before


def test_cli_migrate_dry_run_and_errors(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), JACS_DESKTOP_STATE_DIR=str(tmp_path / "state"))
    p = subprocess.run([sys.executable, "-m", "jacs_desktop.cli", "migrate", str(FIXTURE), str(tmp_path / "new"),
                        "--dry-run", "--json"], env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["summary"]["would_copy"] >= 19
    p = subprocess.run([sys.executable, "-m", "jacs_desktop.cli", "migrate", str(FIXTURE), "hdfs://x"],
                       env=env, capture_output=True, text=True)
    assert p.returncode == 1 and "Unknown kind of store" in p.stderr
    p = subprocess.run([sys.executable, "-m", "jacs_desktop.cli", "migrate", str(FIXTURE), str(tmp_path / "n2"),
                        "--resign"], env=env, capture_output=True, text=True)
    assert p.returncode == 1 and "--config" in p.stderr


_ODD_NAMES = [b"a\\b:v1.json", b"nl\nx:v1.json", "rtl\u202eabc:v1.json".encode(), b"bad\xff\xfe:v1.json",
              b"x:v\xff.json"]


@pytest.mark.parametrize("target", ["fs", "sqlite"])
def test_odd_file_names_are_reported_and_skipped(tmp_path, fixture_copy, target):
    """A backslash, a newline, an RTL override and bytes that are not UTF-8 in documents/
    file names: each such name is reported (escaped, printable) and skipped, the rest is
    copied, the exit code says something was left out, and there is no traceback."""
    docs = os.fsencode(fixture_copy / "documents")
    body = (FIXTURE / MANIFEST["documents"][0]["path"]).read_bytes()
    for name in _ODD_NAMES:
        with open(os.path.join(docs, name), "wb") as f:
            f.write(body)
    url = f"sqlite://{tmp_path}/dst.sqlite3" if target == "sqlite" else str(tmp_path / "dst")
    env = dict(os.environ, PYTHONPATH=str(REPO), JACS_DESKTOP_STATE_DIR=str(tmp_path / "state"))
    p = subprocess.run([sys.executable, "-m", "jacs_desktop.cli", "migrate", str(fixture_copy), url, "--json"],
                       env=env, capture_output=True)
    assert b"Traceback" not in p.stderr, p.stderr.decode(errors="replace")
    assert p.returncode == 2, (p.stdout + p.stderr).decode(errors="replace")
    report = json.loads(p.stdout)
    failed = {f["key"]: f["reason"] for f in report["failed"]}
    assert set(failed) == {"documents/a\\\\b:v1.json", "documents/nl\\nx:v1.json", "documents/rtl\\u202eabc:v1.json",
                           "documents/bad\\xff\\xfe:v1.json", "documents/x:v\\xff.json"}
    assert "backslash" in failed["documents/a\\\\b:v1.json"] and "newline" in failed["documents/nl\\nx:v1.json"]
    assert "U+202E" in failed["documents/rtl\\u202eabc:v1.json"] and "UTF-8" in failed["documents/x:v\\xff.json"]
    assert report["summary"]["copied"] >= 19  # everything else went over
    out = open_store(url)
    assert len([r for r in out.refs() if r.kind == "document"]) == 13
    assert {out.verify(r).status for r in out.refs()} == {"valid"}
    # the text report prints the names escaped, one line each
    p = subprocess.run([sys.executable, "-m", "jacs_desktop.cli", "migrate", str(fixture_copy), url],
                       env=dict(env, PYTHONIOENCODING="utf-8"), capture_output=True)
    assert p.returncode == 2 and b"Traceback" not in p.stderr, p.stderr.decode(errors="replace")
    lines = p.stdout.decode("utf-8").splitlines()
    assert len([x for x in lines if "not copied" in x]) == 5 and "documents/nl\\nx:v1.json" in p.stdout.decode()


def test_source_rewritten_while_migrating_is_never_copied_torn(tmp_path, fixture_copy):
    """A real writer (another process) rewrites two source documents over and over
    while migrations read them: one with the same (valid) bytes each time, as an
    editor saving again; one with different bytes every time. The first arrives
    whole; the second is reported as changing and skipped; neither is ever copied torn."""
    steady_key, busy_key = MANIFEST["documents"][0]["path"], MANIFEST["documents"][1]["path"]
    steady = (fixture_copy / steady_key).read_bytes()
    busy_body = (fixture_copy / busy_key).read_bytes()
    log = tmp_path / "written.txt"
    script = """
import sys, time
steady_path, busy_path, log = sys.argv[1:4]
steady = open(steady_path, "rb").read()
body = open(busy_path, "rb").read()
n = 0
with open(log, "w") as out:
    while True:
        n += 1
        with open(steady_path, "wb") as f:  # truncate, then write in two parts: torn in between
            f.write(steady[:3000]); f.flush(); f.write(steady[3000:])
        version = body.replace(b'"jacsSha256"', b'"n": %d, "jacsSha256"' % n, 1)
        out.write(str(n) + "\\n"); out.flush()
        with open(busy_path, "wb") as f:
            f.write(version[:2000]); f.flush(); f.write(version[2000:])
        time.sleep(0.0005)
"""
    writer = subprocess.Popen([sys.executable, "-c", script, str(fixture_copy / steady_key),
                               str(fixture_copy / busy_key), str(log)])
    try:
        deadline = time.time() + 20
        while time.time() < deadline and (not log.exists() or log.stat().st_size < 20):
            time.sleep(0.01)
        results = []
        for _ in range(4):
            dst = Store(MemoryStore(uuid.uuid4().hex), open_store(str(fixture_copy)).layout)
            results.append((dst, migrate(open_store(str(fixture_copy)), dst, MigrateOptions(journal=False))))
    finally:
        writer.kill()
        writer.wait()
    n_max = int(log.read_text().split()[-1])
    written = {busy_body.replace(b'"jacsSha256"', b'"n": %d, "jacsSha256"' % n, 1) for n in range(1, n_max + 1)}
    for dst, r in results:
        assert dst.objects.get(steady_key) == steady and steady_key in r.copied
        if busy_key in r.copied:  # only ever a whole version the writer wrote
            assert dst.objects.get(busy_key) in written
        else:
            reasons = dict(r.failed)
            assert ("changed while it was read" in reasons[busy_key] or "is empty" in reasons[busy_key]) and not r.ok
    assert any(busy_key not in r.copied for _d, r in results)
    assert n_max > 50  # the writer really was busy during the runs


def test_symlink_in_a_folder_target_is_never_written_through(tmp_path):
    """documents/x.json in the target is a link to a file elsewhere: the migration
    reports it and the file elsewhere keeps its bytes."""
    src = open_store(str(FIXTURE))
    key = MANIFEST["documents"][0]["path"]
    target = tmp_path / "dst"
    (target / "documents").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_bytes(b"")  # empty: it would look like damage to repair
    (target / key).symlink_to(elsewhere)
    r = migrate(src, Store(FsStore(target), src.layout))
    assert not r.ok and key in dict(r.failed) and key not in r.repaired
    assert "symbolic link" in dict(r.failed)[key]
    assert elsewhere.read_bytes() == b""
    assert (target / key).is_symlink()
    others = [d["path"] for d in MANIFEST["documents"] if d["path"] != key]
    assert all((target / k).read_bytes() == (FIXTURE / k).read_bytes() for k in others)  # the rest went over


def test_folder_link_in_a_folder_target_is_never_written_through(tmp_path):
    """documents/ and jacs_data/ in the target are links to folders elsewhere: nothing
    is written there (no file, no folder); every such object is reported."""
    src = open_store(str(FIXTURE))
    target = tmp_path / "dst"
    target.mkdir()
    docs_elsewhere, data_elsewhere = tmp_path / "elsewhere-docs", tmp_path / "elsewhere-data"
    docs_elsewhere.mkdir()
    data_elsewhere.mkdir()
    (target / "documents").symlink_to(docs_elsewhere)
    (target / "jacs_data").symlink_to(data_elsewhere)
    r = migrate(src, Store(FsStore(target), src.layout))
    assert not r.ok and r.copied and all(k.endswith(".json") and "/" not in k for k in r.copied)  # configs only
    reasons = dict(r.failed)
    doc = MANIFEST["documents"][0]["path"]
    assert "symbolic link" in reasons[doc] and "outside the store" in reasons[doc]
    assert list(docs_elsewhere.iterdir()) == [] and list(data_elsewhere.iterdir()) == []


def test_damaged_public_key_is_repaired_and_a_different_config_is_a_conflict(tmp_path):
    """A .pem that does not hash to its name (cut short) is damage; a config file that
    holds other valid JSON is somebody's config: reported, never overwritten."""
    src = open_store(str(FIXTURE))
    objects = MemoryStore(uuid.uuid4().hex)
    pem = next(k for k in (i.key for i in src.objects.list("jacs_data/public_keys/")) if k.endswith(".pem"))
    good_pem = src.objects.get(pem)
    objects.put(pem, good_pem[: len(good_pem) // 2])
    config = next(i.key for i in src.objects.list_children("") if i.key.endswith(".config.json"))
    objects.put(config, b'{"jacs_agent_id_and_version": "someone-else"}')
    r = migrate(src, Store(objects, src.layout))
    assert pem in r.repaired and objects.get(pem) == good_pem
    assert config in r.conflicts and objects.get(config) == b'{"jacs_agent_id_and_version": "someone-else"}'
