"""The index cache: used while it matches the store, rebuilt when stale or damaged."""

import json

from jacs_desktop.storage.fs import FsStore
from jacs_desktop.storage.index import IndexCache, summarize
from jacs_desktop.storage.store import Store


def test_index_cache_rebuild_and_staleness(tmp_path, fixture_copy):
    store = Store(FsStore(fixture_copy))
    refs = store.refs(details=True)
    cache = IndexCache(store.url, tmp_path / "cache")
    calls = []
    n = cache.rebuild(store, refs, progress=lambda d, t, m: calls.append((d, t)))
    assert n == len(refs) == 15 and calls[-1] == (15, 15)
    agents = [cache.get(r) for r in refs if r.kind == "agent"]
    assert {a["agent_name"] for a in agents} == {"fixture-ed25519", "fixture-pq2025"}
    docs = {r.version: cache.get(r) for r in refs if r.kind == "document"}
    assert docs["1df4afa1-7f6f-474a-827e-f3a687d63b1b"]["previous"] == "15bf7646-e871-403b-b734-6481368462e5"
    # never trusted over the store: change a file, the entry no longer applies
    ref = next(r for r in refs if r.kind == "document")
    path = fixture_copy / ref.key
    doc = json.loads(path.read_text())
    doc["title"] = "A new title that changes the size"
    path.write_text(json.dumps(doc))
    fresh = next(r for r in store.refs(details=True) if r.key == ref.key)
    assert cache.get(fresh) is None
    assert cache.summary(store, fresh)["title"] == "A new title that changes the size"
    cache.close()
    # damaged cache file: rebuilt, not an error
    cache.path.write_bytes(b"garbage" * 1000)
    again = IndexCache(store.url, tmp_path / "cache")
    assert again.get(fresh) is None
    again.close()


def test_summaries():
    assert summarize({"jacsDocument": {"type": "file", "filename": "data.csv"}, "jacsFiles": [{}, {}]})["attachments"] == 2
    assert summarize({"jacsDocument": {"type": "message", "content": "hello\nworld"}})["title"] == "hello"
    assert summarize([1])["error"]
