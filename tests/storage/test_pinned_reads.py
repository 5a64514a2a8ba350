"""A verify worker's folder view (``FsStore(pin_folders=True)``) opens each folder once and its
files relative to it: every hostile case gives exactly what the usual view gives (the same bytes,
or the same error with the same words), and the pool's verdicts on a hostile store are the ones
verified in one process."""

import os
import shutil

import pytest
from bounded import bounded

from jacs_desktop.jobs.verify_all import verify_store
from jacs_desktop.storage.base import StorageError
from jacs_desktop.storage.fs import _MAX_PINNED, FsStore
from jacs_desktop.storage.store import Store

pytestmark = pytest.mark.timeout(30)

DOC = "documents/52e07b44-6d02-4085-8401-6c5efce90602:15bf7646-e871-403b-b734-6481368462e5.json"


def _outcome(objects: FsStore, key: str):
    try:
        return ("bytes", bounded(lambda: objects.get(key), 10))
    except StorageError as exc:
        return (type(exc).__name__, str(exc))


def _hostile(root, tmp_path, keys_out: bool = True) -> list[str]:
    """Make one of each hostile entry; returns the keys to read (*keys_out*: the public keys'
    folder is also moved out of the store and linked to)."""
    docs = root / "documents"
    os.mkfifo(docs / "fifo:1.json")
    (docs / "zero:1.json").symlink_to("/dev/zero")
    secret = tmp_path / "secret.json"
    secret.write_bytes((root / DOC).read_bytes())
    (docs / "out:1.json").symlink_to(secret)
    (docs / "in:1.json").symlink_to(root / DOC)  # a link inside the store is followed
    (docs / "dir:1.json").mkdir()
    with open(docs / "huge:1.json", "wb") as f:
        f.truncate(6 << 30)
    outside = tmp_path / "outside_keys"
    if keys_out:
        shutil.move(str(root / "jacs_data" / "public_keys"), str(outside))
        (root / "jacs_data" / "public_keys").symlink_to(outside)  # a folder linked out of the store
    inner = next(p.name for p in (outside if keys_out else root / "jacs_data" / "public_keys").iterdir())
    (root / "all_agents").mkdir()
    (root / "linked").symlink_to("all_agents")  # a folder linked inside the store
    (root / "all_agents" / "a.json").write_bytes(b"{}")
    return [DOC, "documents/fifo:1.json", "documents/zero:1.json", "documents/out:1.json", "documents/in:1.json",
            "documents/dir:1.json", "documents/huge:1.json", "documents/missing:1.json", "nowhere/x.json",
            f"jacs_data/public_keys/{inner}", "linked/a.json", "jacs_data", "documents/a\u202eb.json"]


def test_every_hostile_read_is_answered_as_the_usual_view_answers(fixture_copy, tmp_path):
    keys = _hostile(fixture_copy, tmp_path)
    usual, pinned = FsStore(fixture_copy), FsStore(fixture_copy, pin_folders=True)
    assert pinned._pinned is not None  # (the pinned path is the one under test on this platform)
    for _ in range(2):  # (the second time through descriptors already pinned)
        for key in keys:
            assert _outcome(pinned, key) == _outcome(usual, key), key
    kinds = {_outcome(usual, k)[0] for k in keys}
    assert {"bytes", "Refused", "NotFound"} <= kinds
    pinned.close()
    assert pinned._pinned == {}


def test_pinned_folders_are_bounded_and_released(tmp_path):
    for i in range(_MAX_PINNED + 5):
        (tmp_path / f"f{i}").mkdir()
        (tmp_path / f"f{i}" / "a.json").write_bytes(b"%d" % i)
    before = len(os.listdir("/proc/self/fd"))
    objects = FsStore(tmp_path, pin_folders=True)
    for i in range(_MAX_PINNED + 5):
        assert objects.get(f"f{i}/a.json") == b"%d" % i
    assert 0 < len(objects._pinned) <= _MAX_PINNED
    objects.close()
    assert len(os.listdir("/proc/self/fd")) == before


def test_pool_verdicts_on_a_hostile_store_are_the_single_process_ones(fixture_copy, tmp_path):
    _hostile(fixture_copy, tmp_path, keys_out=False)
    one = bounded(lambda: verify_store(Store(FsStore(fixture_copy)), workers=1), 20)
    pool = bounded(lambda: verify_store(Store(FsStore(fixture_copy)), workers=2), 20)
    assert [r.to_dict() for r in pool.results] == [r.to_dict() for r in one.results]
    assert pool.errors == one.errors
    statuses = {r.status for r in one.results}
    assert {"valid", "invalid", "error"} <= statuses
