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
