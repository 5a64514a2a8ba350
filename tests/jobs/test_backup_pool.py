"""Signatures checked on worker processes while the archive is read: the same verdicts, in the
same order, as the check in this process; early verdicts used only when the finished archive
agrees; a worker that dies, Cancel and damaged entries leave the target untouched."""

import os
import tarfile
import threading

import pytest
from conftest import FIXTURE

import jacs_desktop.jobs.backup.verifying as verifying
from jacs_desktop.jobs.backup import backup, restore, verify_archive
from jacs_desktop.storage.urls import open_store
from jobs.test_backup import TAMPERED, _flip_entry, _tamper

pytestmark = pytest.mark.skipif(not os.path.exists(f"/proc/{os.getpid()}/task"),
                                reason="the pool forks its workers; the tests count them in /proc")


def _children() -> set[str]:
    with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children") as f:
        return set(f.read().split())


@pytest.fixture(autouse=True)
def no_workers_left():
    """Every worker process a test started is gone when it ends (child processes that were there
    before, servers other tests started, are not workers)."""
    before = _children()
    yield
    assert _children() <= before, "a worker process was left running"


@pytest.fixture(scope="module")
def tampered(tmp_path_factory):
    """A backup of the fixture with one version that does not verify (the keys come first)."""
    from conftest import _copy_writable

    store = _copy_writable(FIXTURE, tmp_path_factory.mktemp("src") / "fixture")
    _tamper(store)
    p = tmp_path_factory.mktemp("bk") / "tampered.tar.gz"
    backup(open_store(str(store)), p, verify_versions=False)
    return p


def _early(monkeypatch):
    """How many early verdicts arrived, and how many versions were checked again at the end."""
    seen = {"early": 0, "again": 0, "final": False}
    real_verdicts, real_send = verifying.VersionPool.verdicts, verifying.VersionPool._send

    def verdicts(self, refs, intact, cache, layout, keys, files, cancel):
        self.flush(cancel)
        seen["early"], seen["final"] = len(self.early), True
        return real_verdicts(self, refs, intact, cache, layout, keys, files, cancel)

    def send(self, cancel):
        if seen["final"]:
            seen["again"] += len(self.batch)
        return real_send(self, cancel)

    monkeypatch.setattr(verifying.VersionPool, "verdicts", verdicts)
    monkeypatch.setattr(verifying.VersionPool, "_send", send)
    return seen


def _same(a, b):
    for f in ("exit_code", "verdicts", "invalid", "not_checked", "damaged", "problems", "errors", "restored"):
        assert getattr(a, f) == getattr(b, f), f


def test_the_keys_come_first_in_a_backup(tampered):
    with tarfile.open(tampered) as t:
        names = [m.name for m in t.getmembers()]
    first_version = min(i for i, n in enumerate(names) if n.startswith(("documents/", "jacs_data/agent/")))
    assert any(n.endswith(".pem") for n in names[:first_version])
    assert names[-1] == "manifest.json"


def test_pool_gives_the_verdicts_of_this_process_in_the_same_order(tampered, tmp_path, monkeypatch):
    seen = _early(monkeypatch)
    pooled = restore(tampered, open_store(str(tmp_path / "p"), create=True), workers=2)
    # every version was checked while the archive was read; every early verdict is kept but one: the
    # document whose attachment (files/data.csv) comes after it, looked up early and not found
    assert seen["early"] == sum(pooled.verdicts.values()) == 15 and seen["again"] == 1
    here = restore(tampered, open_store(str(tmp_path / "h"), create=True), workers=1)
    assert pooled.exit_code == 2 and TAMPERED in pooled.invalid
    _same(pooled, here)
    _same(verify_archive(tampered, workers=2), verify_archive(tampered, workers=1))


def test_an_archive_with_its_keys_last_is_checked_at_the_end(tampered, tmp_path, monkeypatch):
    """An older backup (names in sorted order: the documents before the public keys): no early
    verdicts, the same answer."""
    with tarfile.open(tampered) as src:
        members = sorted(((m, src.extractfile(m).read()) for m in src.getmembers()),
                         key=lambda md: (md[0].name == "manifest.json", md[0].name))
    old = tmp_path / "sorted.tar.gz"
    import io

    with tarfile.open(old, "w:gz") as t:
        for m, data in members:
            t.addfile(m, io.BytesIO(data))
    seen = _early(monkeypatch)
    pooled = verify_archive(old, workers=2)
    assert seen["early"] == 0 and seen["again"] == 15
    _same(pooled, verify_archive(old, workers=1))
    assert pooled.exit_code == 2 and TAMPERED in pooled.invalid


def test_an_early_verdict_is_not_used_when_its_key_turns_out_damaged(tampered, tmp_path, monkeypatch):
    """A public key file whose bytes differ from the manifest: the versions were checked early with it,
    but the finished archive has no intact key; every verdict is the one this process gives."""
    bad = tmp_path / "bad-key.tar.gz"
    flipped = _flip_entry(tampered, bad, name_prefix="jacs_data/public_keys/")
    assert flipped and flipped.startswith("jacs_data/public_keys/")  # (its algorithm file)
    seen = _early(monkeypatch)
    pooled = verify_archive(bad, workers=2)
    here = verify_archive(bad, workers=1)
    # the versions signed with that key are checked again (the others keep their early verdict)
    assert seen["early"] == 15 and 0 < seen["again"] < 15
    _same(pooled, here)
    assert pooled.exit_code == 1 and flipped in pooled.damaged
    r = restore(bad, open_store(str(tmp_path / "t"), create=True), workers=2)
    assert r.exit_code == 1 and not r.restored and list((tmp_path / "t").iterdir()) == []


def test_a_long_head_is_not_kept_for_early_checks(tampered, tmp_path, monkeypatch):
    """Hundreds of entries before the first version (not how a backup starts): nothing is held for
    early checks, every version is checked at the end, the same verdicts."""
    import io

    with tarfile.open(tampered) as src:
        members = [(m, src.extractfile(m).read()) for m in src.getmembers()]
    odd = tmp_path / "long-head.tar.gz"
    with tarfile.open(odd, "w:gz") as t:
        for i in range(verifying.MAX_CONTEXT_ENTRIES + 10):
            ti = tarfile.TarInfo(f"notes/{i}.txt")
            ti.size = 2
            t.addfile(ti, io.BytesIO(b"hi"))
        for m, data in members:
            t.addfile(m, io.BytesIO(data))
    seen = _early(monkeypatch)
    pooled = verify_archive(odd, workers=2)
    assert seen["early"] == 0 and seen["again"] == 15
    _same(pooled, verify_archive(odd, workers=1))
    assert pooled.exit_code == 1 and len(pooled.damaged) == verifying.MAX_CONTEXT_ENTRIES + 10  # not in the manifest


def test_damaged_documents_are_still_refused(tampered, tmp_path):
    bad = tmp_path / "flipped.tar.gz"
    flipped = _flip_entry(tampered, bad)
    r = restore(bad, open_store(str(tmp_path / "t"), create=True), workers=2)
    assert r.exit_code == 1 and flipped in r.damaged and not r.restored
    assert list((tmp_path / "t").iterdir()) == []
    _same(r, restore(bad, open_store(str(tmp_path / "u"), create=True), workers=1))


def _die(*args):
    os._exit(3)  # a worker killed in the middle of a batch


def test_a_worker_that_dies_is_a_clear_error_and_nothing_is_written(tampered, tmp_path, monkeypatch):
    monkeypatch.setattr(verifying, "_check_batch", _die)
    target = tmp_path / "t"
    r = restore(tampered, open_store(str(target), create=True), workers=2)
    assert r.exit_code == 1 and not r.restored and not r.cancelled
    assert "a worker process stopped unexpectedly" in r.errors[0] and "not judged" in r.errors[0]
    assert "nothing was restored" in r.problems[0]
    assert list(target.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["t"]


def _raise(*args):
    raise ValueError("a bug in the check")


def test_a_check_that_raises_in_a_worker_is_a_clear_error(tampered, tmp_path, monkeypatch):
    monkeypatch.setattr(verifying, "_check_batch", _raise)
    target = tmp_path / "t"
    r = restore(tampered, open_store(str(target), create=True), workers=2)
    assert r.exit_code == 1 and not r.restored
    assert "ValueError: a bug in the check" in r.errors[0] and "nothing was restored" in r.problems[0]
    assert list(target.iterdir()) == []


def test_cancel_while_the_workers_check(tampered, tmp_path, monkeypatch):
    cancel = threading.Event()

    def slow_start(self, cancel_token):  # Cancel arrives while the first batch is being checked
        cancel.set()
        return real_collect(self, cancel_token)

    real_collect = verifying.VersionPool._collect_first
    monkeypatch.setattr(verifying.VersionPool, "_collect_first", slow_start)
    target = tmp_path / "t"
    r = restore(tampered, open_store(str(target), create=True), workers=2, cancel=cancel)
    assert r.cancelled and r.exit_code == 1 and not r.restored
    assert list(target.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["t"]


def test_no_pool_for_a_small_archive_or_with_other_threads(tampered):
    assert verifying.pool_for(tampered.stat().st_size, None) is None  # under a megabyte
    assert verifying.pool_for(10 << 20, 1) is None
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert verifying.pool_for(10 << 20, None) is None  # forking next to another thread is not safe
    finally:
        stop.set()
        t.join()


def test_without_isal_zlib_decompresses_the_same(tampered, tmp_path, monkeypatch):
    import sys

    with_isal = restore(tampered, open_store(str(tmp_path / "i"), create=True), workers=1)
    monkeypatch.setitem(sys.modules, "isal", None)  # import isal fails: zlib does the work
    r = restore(tampered, open_store(str(tmp_path / "t"), create=True), workers=1)
    _same(r, with_isal)
    broken = tmp_path / "broken.tar.gz"
    raw = bytearray(tampered.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    broken.write_bytes(bytes(raw))
    v = verify_archive(broken, workers=1)
    assert v.exit_code == 1 and "The archive is damaged" in (v.stream_error or v.errors[0])


def test_no_worker_can_start_the_check_runs_here(tampered, tmp_path, monkeypatch):
    def no_processes():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_processes)
    assert verifying.pool_for(10 << 20, 2) is None
    r = restore(tampered, open_store(str(tmp_path / "t"), create=True), workers=2)
    assert r.exit_code == 2 and TAMPERED in r.invalid and len(r.restored) == r.entries
