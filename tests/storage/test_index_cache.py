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


def test_an_entry_is_used_only_while_its_stamp_matches(tmp_path):
    """Refs listed with a stamp (S3, Azure, GCS: size and time; SQLite: a size) are checked
    against it, as before; a ref listed without one (a folder listed without a stat) only once
    its object is seen (``observe``), with the stamp its entry was written with; the entries
    are kept across opens of the cache."""
    from dataclasses import replace

    from jacs_desktop.storage.index import UNKNOWN_STAMP, stamp_text
    from jacs_desktop.storage.layout import Ref

    s3 = Ref("document", "a", "v1", "documents/a:v1.json", 120, 1700000000.25)
    sqlite = Ref("document", "b", "v1", "documents/b:v1.json", 80, None)
    folder = Ref("document", "c", "v1", "documents/c:v1.json")
    cache = IndexCache("memory://stamps", tmp_path)
    cache.put(s3, {"title": "s3"})
    cache.put(sqlite, {"title": "sqlite"})
    cache.put(folder, {"title": "folder"}, stamp=stamp_text(99, 1700000001.5))  # read with its stamp
    assert cache.get(folder) == {"title": "folder"}  # seen in this session: the stamp of its read
    cache.close()
    for preload in (False, True):
        again = IndexCache("memory://stamps", tmp_path)
        if preload:
            again.preload()
        assert again.get(s3) == {"title": "s3"} and again.get(sqlite) == {"title": "sqlite"}
        assert again.get(replace(s3, mtime=1700000009.0)) is None and again.get(replace(sqlite, size=81)) is None
        assert again.get(folder) is None and not again.fresh(folder)  # not seen yet: not used
        assert again.unseen([s3, sqlite, folder]) == [folder]
        again.observe([(folder.key, "99|1700000001.5")])
        assert again.get(folder) == {"title": "folder"} and again.fresh(folder) and not again.unseen([folder])
        again.observe([(folder.key, "99|1700000002.5")])  # rewritten in place: same size, new time
        assert again.get(folder) is None and again.missing([folder]) == [folder]
        again.close()
    # a body read without a known stamp: current in this session only
    cache = IndexCache("memory://stamps", tmp_path)
    other = replace(folder, id="d", key="documents/d:v1.json")
    cache.put(other, {"title": "unknown"})
    assert cache.get(other) == {"title": "unknown"}
    cache.close()
    cache = IndexCache("memory://stamps", tmp_path)
    assert cache.pending([other]) == [(other, UNKNOWN_STAMP)]  # (a stat never gives that stamp)
    cache.observe([(other.key, "10|1700000003.0")])
    assert cache.get(other) is None and cache.pending([other]) == [(other, None)]  # to be read
    cache.close()


def test_summary_of_a_folder_file_is_read_again_once_it_changed(tmp_path, fixture_copy):
    """``IndexCache.summary`` with the refs of a folder listed without a stat: once the file is
    seen (``jobs.summaries.stamp_here``), the cached summary is used while the file matches and
    read again once it is rewritten in place."""
    import os

    from jacs_desktop.jobs.summaries import stamp_here

    store = Store(FsStore(fixture_copy))
    ref = next(r for r in store.refs() if r.kind == "document")
    assert ref.size == 0 and ref.mtime is None  # (no stat in the listing)
    cache = IndexCache(store.url, tmp_path / "cache")
    stamp_here(store, cache, [ref])
    first = cache.summary(store, ref)
    cache.close()
    path = fixture_copy / ref.key
    doc = json.loads(path.read_text())
    doc["title"] = "Edited by hand"
    st = path.stat()
    path.write_text(json.dumps(doc))
    os.utime(path, ns=(st.st_mtime_ns + 2_000_000_000,) * 2)
    for want_reads in ([ref.key], []):  # read again, then cached with the file's new stamp
        cache = IndexCache(store.url, tmp_path / "cache")
        stamp_here(store, cache, [ref])
        reads: list[str] = []
        real = store.read_json
        store.read_json = lambda key, reads=reads, real=real: (reads.append(key), real(key))[1]  # type: ignore
        try:
            got = cache.summary(store, ref)
        finally:
            del store.read_json
        assert got["title"] == "Edited by hand" != first.get("title")
        assert reads == want_reads
        cache.close()


def test_stamps_before_preload_are_the_entries_last_ones(tmp_path):
    """``stamps`` (one JSON text built by SQLite) gives each key's last entry's stamp, odd keys
    included, and ``pending`` against them answers as it does after ``preload``."""
    from jacs_desktop.storage.layout import Ref

    keys = ["documents/a:v1.json", 'documents/q"uote\\:v1.json', "documents/line\nbreak 🎉:v1.json"]
    refs = [Ref("document", str(i), "v1", k) for i, k in enumerate(keys)]
    cache = IndexCache("memory://stamps-json", tmp_path)
    for i, r in enumerate(refs):
        cache.put(r, {"title": "old"}, stamp=f"{i}|1.5")
    cache.put(refs[0], {"title": "new"}, stamp="9|2.5")  # a later entry of the same key wins
    cache.close()
    cache = IndexCache("memory://stamps-json", tmp_path)
    got = cache.stamps()
    assert got == {keys[0]: "9|2.5", keys[1]: "1|1.5", keys[2]: "2|1.5"}
    before = cache.pending(refs, got)
    cache.preload()
    assert before == cache.pending(refs) == [(r, got[r.key]) for r in refs]
    cache.close()
