"""One conformance suite, run on every backend (fs, memory, sqlite, S3 on moto and SeaweedFS)."""

import json
import os
import threading

import pytest
from conftest import FIXTURE
from s3servers import put_all

from jacs_desktop.storage.base import NotFound, StorageError, UnsafeName
from jacs_desktop.storage.layout import JacsLayout
from jacs_desktop.storage.store import Store


def _doc(i: int) -> bytes:
    return json.dumps({"jacsId": f"id-{i}", "jacsVersion": "v", "jacsType": "header", "n": i}).encode()


def test_round_trip_zero_and_ten_megabytes(backend):
    _name, s = backend
    s.put("files/empty.bin", b"")
    assert s.get("files/empty.bin") == b""
    assert s.stat("files/empty.bin").size == 0
    big = os.urandom(10 * 1024 * 1024)
    s.put("files/big.bin", big)
    assert s.get("files/big.bin") == big
    assert s.stat("files/big.bin").size == len(big)
    s.put("files/empty.bin", b"replaced")
    assert s.get("files/empty.bin") == b"replaced"
    s.delete("files/empty.bin")
    assert s.stat("files/empty.bin") is None
    with pytest.raises(NotFound):
        s.get("files/empty.bin")
    s.delete("files/empty.bin")  # absent is fine


def test_documents_with_colons(backend):
    _name, s = backend
    key = "documents/52e07b44-6d02-4085-8401-6c5efce90602:15bf7646-e871-403b-b734-6481368462e5.json"
    assert s.put_if_absent(key, _doc(1)) is True
    assert s.put_if_absent(key, _doc(2)) is False
    assert json.loads(s.get(key))["n"] == 1  # versions are immutable
    assert [o.key for o in s.list("documents/")] == [key]


def test_listing_pages_past_one_thousand(backend):
    _name, s = backend
    keys = [f"jacs_data/agent/a{i:05d}:v.json" for i in range(1050)]
    put_all(s, ((k, b"{}") for k in keys))
    s.put("jacs_data/other.txt", b"x")
    listed = [o.key for o in s.list("jacs_data/agent/", page_size=100)]
    assert listed == keys
    assert len(list(s.list("jacs_data/"))) == 1051
    assert [o.key for o in s.list_children("jacs_data/")] == ["jacs_data/other.txt"]


def test_put_if_absent_race(backend):
    _name, s = backend
    key = "documents/race:v1.json"
    wins, errors = [], []
    barrier = threading.Barrier(8)

    def worker(i):
        try:
            barrier.wait()
            if s.put_if_absent(key, _doc(i)):
                wins.append(i)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(wins) == 1
    assert json.loads(s.get(key))["n"] == wins[0]


@pytest.mark.parametrize("bad", ["../x", "/etc/passwd", "a/../../b", "a//b", "a\x00b", "C:/x", "a\\b", "", ".", "x/./y", "a\nb"])
def test_hostile_names_refused(backend, bad):
    _name, s = backend
    for op in (lambda: s.put(bad, b"x"), lambda: s.put_if_absent(bad, b"x"), lambda: s.get(bad),
               lambda: s.stat(bad), lambda: s.delete(bad)):
        with pytest.raises(UnsafeName):
            op()
    assert list(s.list("")) == []


def test_interrupted_upload_leaves_nothing(backend, monkeypatch):
    name, s = backend
    key = "documents/interrupted:v1.json"
    from jacs_desktop.storage.fs import FsStore
    from jacs_desktop.storage.s3 import S3Store

    if isinstance(s, FsStore):  # a folder, also on a FUSE mount
        import jacs_desktop.storage.fs as fsmod

        def boom(fd):
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(fsmod.os, "fsync", boom)
    elif name == "memory":
        pytest.skip("memory writes are a single dict assignment")
    elif name == "sqlite":
        with pytest.raises(StorageError):
            s.put_if_absent(key, b'{"half": ')  # a torn JSON body is refused, nothing stored
        assert s.stat(key) is None and list(s.list("documents/")) == []
        return
    elif isinstance(s, S3Store):
        # S3 (obstore sends from Rust, out of http.client's reach): a proxy in front of the
        # server hands it the headers and half the body, then drops both sides, on every try
        from s3servers import S3_KEY, S3_SECRET, fault_proxy

        with fault_proxy(s.options["endpoint_url"], [("drop-after-headers", 35_000)] * 8) as (endpoint, _left):
            cut = S3Store(s.bucket, s.prefix, endpoint_url=endpoint, access_key=S3_KEY, secret_key=S3_SECRET,
                          max_attempts=2)
            with pytest.raises(StorageError):
                cut.put_if_absent(key, _doc(1) * 1000)
            with pytest.raises(StorageError):
                cut.put(key, _doc(1) * 1000)
        assert s.stat(key) is None and list(s.list("")) == []
        return
    else:
        # the connection dies after half of the body went out, on every path that
        # sends a PUT (the fast signed PUT and botocore's)
        import http.client

        real_send = http.client.HTTPConnection.send

        def half_then_reset(conn, data):
            if isinstance(data, (bytes, bytearray, memoryview)) and len(data) > 10_000:
                real_send(conn, bytes(data[: len(data) // 2]))
                conn.close()
                raise ConnectionResetError("connection reset in the middle of the upload")
            return real_send(conn, data)

        monkeypatch.setattr(http.client.HTTPConnection, "send", half_then_reset)
    with pytest.raises((StorageError, OSError)):
        s.put_if_absent(key, _doc(1) * 1000)
    with pytest.raises((StorageError, OSError)):
        s.put(key, _doc(1) * 1000)
    monkeypatch.undo()
    assert s.stat(key) is None
    assert list(s.list("")) == []
    if isinstance(s, FsStore):
        assert [p.name for p in s.root.rglob("*") if p.is_file()] == []


def test_move_and_archive_restore(backend):
    _name, s = backend
    store = Store(s, JacsLayout("jacs_data"))
    doc = {"jacsId": "0a1b2c3d-0000-4000-8000-000000000001", "jacsVersion": "0a1b2c3d-0000-4000-8000-000000000002",
           "jacsType": "header"}
    key, created = store.put_document(doc)
    assert created and key == "documents/0a1b2c3d-0000-4000-8000-000000000001:0a1b2c3d-0000-4000-8000-000000000002.json"
    assert store.put_document(doc) == (key, False)
    assert list(store.documents()) == [doc["jacsId"]]
    dst = store.archive(doc["jacsId"], doc["jacsVersion"])
    assert dst.startswith("documents/archive/")
    assert store.documents() == {} and list(store.archived()) == [doc["jacsId"]]
    store.restore(doc["jacsId"], doc["jacsVersion"])
    assert list(store.documents()) == [doc["jacsId"]] and store.archived() == {}
    # a move never overwrites different content
    s.put("files/a", b"1")
    s.put("files/b", b"2")
    with pytest.raises(StorageError):
        s.move("files/a", "files/b")
    assert s.get("files/a") == b"1" and s.get("files/b") == b"2"


def test_fixture_store_on_every_backend(backend, manifest):
    _name, s = backend
    for p in sorted(FIXTURE.rglob("*")):
        if p.is_file() and "tampered" not in p.parts:
            s.put(p.relative_to(FIXTURE).as_posix(), p.read_bytes())
    store = Store(s)
    assert store.layout_name == "jacs" and store.layout.data_dir == "jacs_data"
    agents = store.agents()
    assert set(agents) == {a["agent_id"] for a in manifest["agents"].values()}
    docs = store.documents()
    assert set(docs) == set(manifest["version_chains"])
    for doc_id, chain in manifest["version_chains"].items():
        assert [n.version for n in store.history(docs[doc_id])] == chain
        assert store.latest(store.history(docs[doc_id])).version == chain[-1]
    assert set(store.public_key_hashes()) == {a["public_key_hash"] for a in manifest["agents"].values()}
    verdicts = [store.verify(r) for r in store.refs()]
    assert [v.status for v in verdicts] == ["valid"] * len(verdicts) and len(verdicts) == 15
    hits = store.search("Do you approve?")
    assert {h[0] for h in hits} == {"fbf12295-f05e-4bac-b165-1064712de0f8"}


def test_listing_mixed_names_across_pages(backend):
    """Parallel S3 listing splits by the next character: every name must still come back once, in order."""
    _name, s = backend
    import random
    import uuid as _uuid

    rng = random.Random(3)
    firsts = [*"0123456789abcdef", "A", "Z", "_", "-", ".x", "~", "ü", "g", "z", "9~", "f~", ":x"]
    keys = sorted({f"documents/{rng.choice(firsts)}{_uuid.UUID(int=rng.getrandbits(128))}.json" for _ in range(400)})
    keys.append("documents/archive/a:b.json")
    keys.sort()
    put_all(s, ((k, b"{}") for k in keys))
    s.put("documentsX/outside.json", b"{}")
    assert [o.key for o in s.list("documents/", page_size=37)] == keys
    from jacs_desktop.storage.s3 import S3Store

    if isinstance(s, S3Store):  # both ways of listing S3: sequential pages and parallel by next character
        s.parallel_list = not s.parallel_list
        assert [o.key for o in s.list("documents/", page_size=37)] == keys


@pytest.mark.parametrize("bad_id", ["../../etc/passwd", "/abs", "a/b", "a\\b", "a:b", "x\x00y", "..", "C:", " pad"])
def test_hostile_ids_from_documents_refused(backend, bad_id):
    _name, s = backend
    store = Store(s, JacsLayout("jacs_data"))
    for doc in ({"jacsId": bad_id, "jacsVersion": "v1"}, {"jacsId": "id1", "jacsVersion": bad_id}):
        with pytest.raises(UnsafeName):
            store.put_document(doc)
        with pytest.raises(UnsafeName):
            store.put_agent(doc)
    assert list(s.list("")) == []


def test_forks_are_kept_in_history():
    from jacs_desktop.storage.memory import MemoryStore

    store = Store(MemoryStore(), JacsLayout("jacs_data"))
    def put(ver, prev, date):
        d = {"jacsId": "doc1", "jacsVersion": ver, "jacsVersionDate": date}
        if prev:
            d["jacsPreviousVersion"] = prev
        store.put_document(d)
    put("v1", None, "2026-01-01T00:00:00Z")
    put("v2a", "v1", "2026-01-02T00:00:00Z")
    put("v2b", "v1", "2026-01-03T00:00:00Z")
    put("v3a", "v2a", "2026-01-04T00:00:00Z")
    nodes = store.history(store.documents()["doc1"])
    assert [(n.version, n.depth, n.fork) for n in nodes] == [
        ("v1", 0, False), ("v2a", 1, True), ("v3a", 2, False), ("v2b", 1, True)]
    assert store.latest(nodes).version == "v3a"


def test_listing_unusual_but_valid_names(backend):
    """Names with XML-special and non-ASCII characters list back exactly (the fast
    S3 listing reads XML-escaped keys)."""
    _name, s = backend
    keys = ["files/a&b<c>d.txt", "files/quote\"'.txt", "files/é✓ü.bin", "files/plus+and%25percent.txt",
            "files/space name.txt", "files/semi;colon&amp;.txt"]
    for k in keys:
        s.put(k, k.encode())
    listed = sorted(i.key for i in s.list("files/"))
    assert listed == sorted(keys)
    assert all(s.get(k) == k.encode() for k in keys)
    assert sorted(i.key for i in s.list("files/", page_size=2)) == sorted(keys)  # paging keeps them too
