"""Restore into a SQLite store: a batch of entries per transaction (``put_many``), with the same
outcome as entry by entry: conflicts, identical entries, a batch the store refuses, Cancel."""

import json
import threading

import pytest
from conftest import FIXTURE

import jacs_desktop.jobs.backup.place as place
from jacs_desktop.jobs.backup import backup, restore
from jacs_desktop.storage.sqlite import SqliteStore
from jacs_desktop.storage.urls import open_store


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    p = tmp_path_factory.mktemp("bk-sqlite") / "fixture.tar.gz"
    backup(open_store(str(FIXTURE)), p)
    return p


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(place, "BULK_BATCH", 4)  # the fixture's 35 entries span nine batches


@pytest.fixture
def calls(monkeypatch):
    """How often the store was written one object at a time, and in batches."""
    seen = {"one": 0, "many": 0}
    one, many = SqliteStore.put_if_absent, SqliteStore.put_many

    def counted_one(self, key, data):
        seen["one"] += 1
        return one(self, key, data)

    def counted_many(self, items, **kw):
        seen["many"] += 1
        return many(self, items, **kw)

    monkeypatch.setattr(SqliteStore, "put_if_absent", counted_one)
    monkeypatch.setattr(SqliteStore, "put_many", counted_many)
    return seen


def _contents(store):
    return {o.key: store.objects.get(o.key) for o in store.objects.list("")}


def _outcome(r):
    return sorted(r.restored), sorted(r.skipped), sorted(r.conflicts), sorted(r.failed)


def _one_by_one(monkeypatch):
    monkeypatch.setattr(SqliteStore, "put_many", None)  # what a store without batches gets


def test_a_new_store_gets_batches_only_and_the_same_objects(archive, tmp_path, small_batches, calls):
    dst = open_store(f"sqlite://{tmp_path / 'a.sqlite3'}", create=True)
    r = restore(archive, dst)
    assert r.ok and len(r.restored) == r.entries == 35
    assert calls == {"one": 0, "many": 9}
    folder = open_store(str(tmp_path / "folder"), create=True)
    assert restore(archive, folder).ok
    assert _contents(dst) == _contents(folder)
    assert sorted(v.key for v in dst.refs()) == sorted(v.key for v in folder.refs())


def test_conflicts_and_identical_entries_end_as_one_by_one(archive, tmp_path, small_batches, monkeypatch):
    def seeded(name):
        dst = open_store(f"sqlite://{tmp_path / name}", create=True)
        names = sorted(_contents(open_store(str(FIXTURE))))
        same, other = names[3], names[9]  # in two different batches
        dst.objects.put(same, open_store(str(FIXTURE)).objects.get(same))
        changed = json.loads(open_store(str(FIXTURE)).objects.get(other))
        changed["changed"] = "not what the archive has"
        dst.objects.put(other, json.dumps(changed).encode())
        return dst

    batched = restore(archive, b := seeded("b.sqlite3"), policy="keep-both")
    _one_by_one(monkeypatch)
    single = restore(archive, s := seeded("s.sqlite3"), policy="keep-both")
    assert _outcome(batched) == _outcome(single)
    assert len(batched.skipped) == 1 and len(batched.conflicts) == 1 and not batched.failed
    assert _contents(b) == _contents(s)


def test_a_batch_the_store_refuses_is_said_entry_by_entry(archive, tmp_path, small_batches, monkeypatch):
    refused = []
    many = SqliteStore.put_many

    def refuse_one(self, items, **kw):  # a body the store cannot take refuses its whole batch
        if not refused:
            refused.append(items[0][0])
            raise place.StorageError(f"{items[0][0]}: not a JSON document")
        return many(self, items, **kw)

    monkeypatch.setattr(SqliteStore, "put_many", refuse_one)
    dst = open_store(f"sqlite://{tmp_path / 'c.sqlite3'}", create=True)
    r = restore(archive, dst)
    assert refused  # the first batch was refused as a whole ...
    assert len(r.restored) == 35 and not r.failed  # ... and its entries then written one by one
    assert len(_contents(dst)) == 35


def test_cancel_stops_between_batches_and_says_what_was_written(archive, tmp_path, small_batches, monkeypatch):
    cancel = threading.Event()
    many = SqliteStore.put_many

    def cancel_after_two(self, items, **kw):
        out = many(self, items, **kw)
        if many_calls.append(1) or len(many_calls) == 2:
            cancel.set()
        return out

    many_calls: list[int] = []
    monkeypatch.setattr(SqliteStore, "put_many", cancel_after_two)
    dst = open_store(f"sqlite://{tmp_path / 'd.sqlite3'}", create=True)
    r = restore(archive, dst, cancel=cancel)
    assert r.cancelled and len(many_calls) == 2
    assert len(r.restored) == 8 == len(_contents(dst))  # two whole batches, each reported
    assert sorted(r.restored) == sorted(_contents(dst))
