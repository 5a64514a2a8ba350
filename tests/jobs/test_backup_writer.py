"""The small entries written by a process of their own (``writeproc``): the same restore as the
writer thread gives, byte for byte; a write that fails, a writer that dies and Cancel leave
nothing half-written and no process behind; never a fork beside another thread."""

import hashlib
import os
import stat
import threading
from pathlib import Path

import pytest
from conftest import FIXTURE

import jacs_desktop.jobs.backup.read as read
import jacs_desktop.jobs.backup.tempfiles as tempfiles
import jacs_desktop.jobs.backup.writeproc as writeproc
from jacs_desktop.jobs.backup import backup, restore
from jacs_desktop.storage.urls import open_store

pytestmark = pytest.mark.skipif(not os.path.exists(f"/proc/{os.getpid()}/task"),
                                reason="the writer is forked; the tests count processes in /proc")


def _children() -> set[str]:
    with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children") as f:
        return set(f.read().split())


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    p = tmp_path_factory.mktemp("bk") / "fixture.tar.gz"
    backup(open_store(str(FIXTURE)), p)
    return p


@pytest.fixture
def writers(monkeypatch):
    """Every archive written by a process (however small); the writers started, counted; none left."""
    started = []
    real_init = writeproc.ProcessWriter.__init__

    def init(self):
        real_init(self)
        started.append(self)

    monkeypatch.setattr(writeproc, "WRITER_MIN_BYTES", 0)
    monkeypatch.setattr(writeproc.ProcessWriter, "__init__", init)
    before = _children()
    yield started
    assert _children() <= before, "a writer process was left running"


def _tree(folder):
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
            for p in folder.rglob("*") if p.is_file()}


def test_the_process_writes_what_the_thread_writes(archive, tmp_path, monkeypatch, writers):
    if threading.active_count() > 1:
        pytest.skip("another thread runs in this test process: the writer is never forked beside it")
    by_process = restore(archive, open_store(str(tmp_path / "p"), create=True))
    assert len(writers) == 1 and by_process.ok and len(by_process.restored) == by_process.entries == 35
    monkeypatch.setattr(writeproc, "WRITER_MIN_BYTES", 1 << 60)
    by_thread = restore(archive, open_store(str(tmp_path / "t"), create=True))
    assert len(writers) == 1 and by_thread.ok
    assert _tree(tmp_path / "p") == _tree(tmp_path / "t") and len(_tree(tmp_path / "p")) == 35
    assert by_process.verdicts == by_thread.verdicts and by_process.restored == by_thread.restored


def test_the_process_hashes_what_it_writes_and_a_changed_entry_is_found(archive, tmp_path, writers):
    """The writer process takes each entry's SHA-256 (off the reading process): the same digests as the
    reader takes with the thread, and an entry changed by one bit is damaged, nothing restored."""
    from jacs_desktop.jobs.backup.integrity import _manifest_check
    from jobs.test_backup import _flip_entry

    if threading.active_count() > 1:
        pytest.skip("another thread runs in this test process: the writer is never forked beside it")
    got = {}
    for process in (True, False):
        root = tmp_path / f"u-{process}"
        root.mkdir()
        u = read._unpack(archive, None, root, named=True, keep=False, on_manifest=_manifest_check,
                         writer_process=process)
        got[process] = u.entries
        assert not u.unhashed and all(len(e[2]) == 64 for e in u.entries.values())
    assert len(writers) == 1 and len(got[True]) == 35
    assert {k: v[1:] for k, v in got[True].items()} == {k: v[1:] for k, v in got[False].items()}
    for name, (path, size, sha) in got[True].items():
        data = Path(path).read_bytes()
        assert len(data) == size and hashlib.sha256(data).hexdigest() == sha, name
    bad = tmp_path / "flipped.tar.gz"
    flipped = _flip_entry(archive, bad)
    r = restore(bad, open_store(str(tmp_path / "t"), create=True), verify_versions=False)
    assert len(writers) == 2 and r.exit_code == 1 and flipped in r.damaged and not r.restored
    assert list((tmp_path / "t").iterdir()) == []


def test_no_fork_beside_another_thread(archive):
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert not writeproc.writer_process_ok(10 << 20)
    finally:
        stop.set()
        t.join()
    assert writeproc.writer_process_ok(10 << 20) == (threading.active_count() == 1)
    assert not writeproc.writer_process_ok(1000)  # a small archive: a thread


def _writer_fails(monkeypatch, failing):
    """Every file written through *failing* (in the writer process: it is forked after this)."""
    real, calls = tempfiles._write_file, []

    def write(dest, data, *dir_fd):
        calls.append(dest)
        failing(len(calls))
        real(dest, data, *dir_fd)

    monkeypatch.setattr(tempfiles, "_write_file", write)


def _process_writer(direct, writers, tmp_path):
    if threading.active_count() > 1:
        pytest.skip("another thread runs in this test process: the writer is never forked beside it")
    target = tmp_path / "t"
    r = direct(target)
    assert len(writers) == 1
    assert r.exit_code == 1 and not r.restored
    assert list(target.iterdir()) == [] and [p.name for p in tmp_path.iterdir()] == ["t"]  # nothing half-written
    return r


def test_a_write_that_fails_in_the_writer_process_is_said_and_leaves_nothing(archive, tmp_path, monkeypatch,
                                                                            writers):
    def full_disk(n):
        if n == 7:
            raise OSError(28, "No space left on device")

    _writer_fails(monkeypatch, full_disk)
    r = _process_writer(lambda t: restore(archive, open_store(str(t), create=True)), writers, tmp_path)
    assert "Cannot write the temporary copy" in r.errors[0] and "No space left on device" in r.errors[0]


def test_a_writer_process_that_dies_is_said_and_leaves_nothing(archive, tmp_path, monkeypatch, writers):
    def killed(n):
        if n == 5:
            os._exit(9)

    _writer_fails(monkeypatch, killed)
    r = _process_writer(lambda t: restore(archive, open_store(str(t), create=True)), writers, tmp_path)
    assert "the process writing it stopped unexpectedly" in r.errors[0] and "nothing was restored" in r.problems[0]


def test_cancel_with_the_writer_process(archive, tmp_path, monkeypatch, writers):
    """Cancel arrives once the writer has a batch: the reader stops, the writer ends, nothing is left."""
    cancel = threading.Event()
    monkeypatch.setattr(writeproc, "BATCH", 2)
    real_send = writeproc.ProcessWriter._send

    def send(self):
        real_send(self)
        cancel.set()

    monkeypatch.setattr(writeproc.ProcessWriter, "_send", send)
    r = _process_writer(lambda t: restore(archive, open_store(str(t), create=True), cancel=cancel), writers,
                        tmp_path)
    assert r.cancelled and r.errors == ["cancelled"]


def test_the_task_pipe_holds_a_whole_batch_where_the_system_allows(tmp_path):
    """The pipe to the writer is grown to PIPE_BYTES (a batch crosses in a few writes, not one wake-up
    per 64 KiB); the files it writes are the same."""
    import fcntl

    w = writeproc.ProcessWriter()
    try:
        size = fcntl.fcntl(w.pool._tasks[0], getattr(fcntl, "F_GETPIPE_SZ", 1032))
        with open("/proc/sys/fs/pipe-max-size") as f:
            assert size == min(writeproc.PIPE_BYTES, int(f.read())) or size == 1 << 16
        assert size == writeproc.PIPE_BYTES or os.geteuid() != 0  # (root is never held to the limit)
        w.add(str(tmp_path), "a", b"x" * 300_000)
        w.add(str(tmp_path), "b", b"")
    finally:
        assert w.close() is None
    assert (tmp_path / "a").read_bytes() == b"x" * 300_000 and (tmp_path / "b").read_bytes() == b""


def test_the_first_batches_are_small_and_grow(tmp_path, monkeypatch):
    """The process starts writing after FIRST_BATCH files, not after a whole batch: each batch
    holds twice the files of the one before, up to BATCH; every file is written, in order."""
    sizes = []
    real_send = writeproc.ProcessWriter._send

    def send(self):
        sizes.append(len(self.batch))
        real_send(self)

    monkeypatch.setattr(writeproc.ProcessWriter, "_send", send)
    w = writeproc.ProcessWriter()
    n = 16 + 32 + 64 + 128 + 256 + 256 + 7
    try:
        for i in range(n):
            w.add(str(tmp_path), f"f{i}", b"%d" % i)
    finally:
        assert w.close() is None
    assert writeproc.FIRST_BATCH == 16 and writeproc.BATCH == 256
    assert sizes == [16, 32, 64, 128, 256, 256]
    assert w.digests == [hashlib.sha256(b"%d" % i).hexdigest() for i in range(n)]
    assert all((tmp_path / f"f{i}").read_bytes() == b"%d" % i for i in range(n))
