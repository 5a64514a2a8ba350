"""jobs.common.gc_paused: the collector off for a block and on again, also when the block fails;
left alone when not asked, or when something else paused it first."""

import gc

import pytest

from jacs_desktop.jobs.browse import collector_paused
from jacs_desktop.jobs.common import gc_paused
from jacs_desktop.storage.fs import FsStore
from jacs_desktop.storage.memory import MemoryStore
from jacs_desktop.storage.store import Store


@pytest.fixture(autouse=True)
def _collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_paused_for_the_block_and_on_again_after_an_error():
    with pytest.raises(RuntimeError), gc_paused(True):
        assert not gc.isenabled()
        raise RuntimeError("inside")
    assert gc.isenabled()


def test_not_asked_leaves_it_on():
    with gc_paused(False):
        assert gc.isenabled()
    assert gc.isenabled()


def test_paused_by_someone_else_first_stays_paused():
    gc.disable()
    with gc_paused(True):
        assert not gc.isenabled()
    assert not gc.isenabled()  # not ours to turn on


def test_only_a_folder_store_pauses_it(tmp_path):
    with collector_paused(Store(FsStore(tmp_path / "s", create=True))):
        assert not gc.isenabled()
    assert gc.isenabled()
    with collector_paused(Store(MemoryStore())):
        assert gc.isenabled()


def test_a_restore_reads_the_archive_with_the_collector_paused(tmp_path, monkeypatch):
    """The archive's entries are read with the collector off (tens of thousands of objects that stay
    and form no cycle), and it is on again after, also when the archive is refused."""
    from conftest import FIXTURE

    import jacs_desktop.jobs.backup.restoring as restoring
    from jacs_desktop.jobs.backup import backup, restore
    from jacs_desktop.storage.urls import open_store

    arc = tmp_path / "b.tar.gz"
    backup(open_store(str(FIXTURE)), arc)
    seen = []
    real = restoring._unpack

    def unpack(*a, **k):
        seen.append(gc.isenabled())
        return real(*a, **k)

    monkeypatch.setattr(restoring, "_unpack", unpack)
    r = restore(arc, open_store(str(tmp_path / "out"), create=True))
    assert r.exit_code == 0 and seen == [False] and gc.isenabled()
    (tmp_path / "bad.tar.gz").write_bytes(b"\x1f\x8b not really gzip")
    r = restore(tmp_path / "bad.tar.gz", open_store(str(tmp_path / "out2"), create=True))
    assert r.exit_code == 1 and seen == [False, False] and gc.isenabled()
