"""Signing many documents into a SQLite store (a migration with re-sign, the one bulk signing
path; issue 14): the re-signed documents are written a batch per transaction
(``SqliteStore.put_many`` through ``sqlite_batch.DeferredWrites``), never one document per
transaction; each verifies as signed by the new signer; a second run says every document is
a conflict (the target holds a different valid version) without writing over it; a run
cancelled part way keeps exactly what it reports as copied (whole batches) and the next run
copies the rest."""

import collections

import pytest

from jacs_desktop.core.identity import create_agent
from jacs_desktop.jobs import migrate as migrate_mod
from jacs_desktop.jobs.common import Cancelled
from jacs_desktop.jobs.migrate import MigrateOptions, migrate
from jacs_desktop.storage.fs import FsStore
from jacs_desktop.storage.opener import open_store
from jacs_desktop.storage.sqlite import SqliteStore
from jacs_desktop.storage.store import Store

from .test_search_index import check_short

PASSWORD = "Str0ng!Passw0rd#x"


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("signed")
    ident = create_agent(root / "src", "bulk", PASSWORD)
    st = Store(FsStore(root / "src"))
    for i in range(40):
        st.put_document(ident.signer.new_document({"title": f"memo {i} ꙮ", "jacsDocument": {"i": i}}))
    me = create_agent(root / "me", "migrator", PASSWORD)
    return root / "src", me


class _Writes:
    """Counts the SQLite store's writes of document versions: one by one or in batches."""

    def __init__(self, monkeypatch):
        self.single = collections.Counter()
        self.batches: list[int] = []
        for name in ("put", "put_if_absent"):
            real = getattr(SqliteStore, name)

            def one(store, key, data, _real=real, _name=name):
                if key.startswith("documents/"):
                    self.single[_name] += 1
                return _real(store, key, data)

            monkeypatch.setattr(SqliteStore, name, one)
        real_many = SqliteStore.put_many

        def many(store, items, **kw):
            self.batches.append(sum(k.startswith("documents/") for k, _d in items))
            return real_many(store, items, **kw)

        monkeypatch.setattr(SqliteStore, "put_many", many)


def _documents(keys):
    return [k for k in keys if k.startswith("documents/")]


def _docs(objects):
    return sorted(i.key for i in objects.list("documents/"))


def test_a_migration_with_re_sign_into_sqlite_writes_batches(tmp_path, monkeypatch, source):
    src_root, me = source
    monkeypatch.setattr(migrate_mod, "_BATCH", 16)
    writes = _Writes(monkeypatch)
    src = open_store(str(src_root))
    objects = SqliteStore(tmp_path / "t.sqlite3")
    dst = Store(objects, src.layout)
    try:
        r = migrate(src, dst, MigrateOptions(resign=me.signer, only="documents", journal=False, concurrency=2))
        n = len(_documents(r.copied))
        assert r.ok and n == 40 and len(r.copied) > n, r.failed  # and the agent and its key, as they are
        assert not writes.single and sum(writes.batches) == n and max(writes.batches) > 1
        dst.put_public_key(me.public_key, me.algorithm)
        for ref in dst.refs():
            if ref.kind == "document":
                doc = dst.read_json(ref.key)
                assert doc["jacsSignature"]["agentID"] == me.agent_id
                assert dst.verify(ref).status == "valid", ref.key
        c = objects._conn()
        assert c.execute("SELECT count(*) FROM jd_doc").fetchone() == (n,)
        assert c.execute("SELECT upto FROM jd_gram_upto").fetchone() == (2**63 - 1,)  # no tail left: batches
        import random

        check_short(c, random.Random(71), 30)
        before = _docs(objects)
        bodies = {k: objects.get(k) for k in before}
        again = migrate(src, dst, MigrateOptions(resign=me.signer, only="documents", journal=False))
        assert not again.copied and len(again.failed) == 40 and len(again.skipped) == len(r.copied) - 40  # identical
        assert all("conflict" in why for _k, why in again.failed)
        assert {k: objects.get(k) for k in before} == bodies  # never written over
    finally:
        objects.close()


class _StopAfter:
    def __init__(self, n):
        self.n, self.asked = n, 0

    def is_set(self):
        self.asked += 1
        return self.asked > self.n


def test_a_cancelled_re_sign_into_sqlite_keeps_what_it_reports_and_the_next_run_copies_the_rest(
        tmp_path, monkeypatch, source):
    src_root, me = source
    monkeypatch.setattr(migrate_mod, "_BATCH", 8)
    writes = _Writes(monkeypatch)
    src = open_store(str(src_root))
    objects = SqliteStore(tmp_path / "t.sqlite3")
    dst = Store(objects, src.layout)
    try:
        opts = MigrateOptions(resign=me.signer, only="documents", concurrency=1)
        with pytest.raises(Cancelled) as exc:
            migrate(src, dst, opts, cancel=_StopAfter(20))
        first = exc.value.report
        done = _documents(first.copied)
        assert 0 < len(done) < 40 - 8
        assert _docs(objects) == sorted(done)  # what it says it copied, no more, no less
        r = migrate(src, dst, MigrateOptions(resign=me.signer, only="documents", concurrency=1))
        assert r.ok and len(_documents(r.copied)) == 40 - len(done) and r.resumed == len(first.copied)
        assert len(_docs(objects)) == 40
        assert not writes.single and sum(writes.batches) == 40
    finally:
        objects.close()
