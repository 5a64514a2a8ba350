"""The index cache writes its entries in batches (one transaction per few thousand, not one
commit per document, issue 14) and stays whole when the process dies with a batch open."""

import subprocess
import sys
import textwrap

from jacs_desktop.storage.index import IndexCache
from jacs_desktop.storage.layout import Ref


def _ref(i):
    return Ref("document", f"id{i}", "v1", f"documents/id{i}:v1.json", 100 + i, 1.0)


def test_entries_are_committed_in_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(IndexCache, "BATCH_S", 3600.0)  # by count only here
    monkeypatch.setattr(IndexCache, "BATCH", 2000)  # (the first open writes 20,000 at once)
    cache = IndexCache("memory://batches", tmp_path)
    commits = []
    cache._db.set_trace_callback(lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None)
    for i in range(5000):
        cache.put(_ref(i), {"title": f"t{i}"})
    assert len(commits) == 5000 // IndexCache.BATCH
    assert cache.get(_ref(4999)) == {"title": "t4999"}  # the open batch is read back by its own connection
    other = IndexCache("memory://batches", tmp_path)
    assert other.get(_ref(1999)) == {"title": "t1999"} and other.get(_ref(4999)) is None  # not committed yet
    cache.close()
    assert other.get(_ref(4999)) == {"title": "t4999"}  # close writes the last batch
    other.close()


def test_a_process_killed_with_a_batch_open_leaves_a_usable_cache(tmp_path):
    code = textwrap.dedent(f"""
        import os, sys
        from jacs_desktop.storage.index import IndexCache
        from jacs_desktop.storage.layout import Ref
        c = IndexCache("memory://killed", {str(tmp_path)!r})
        c.BATCH_S = 3600.0
        c.BATCH = 2000
        for i in range(3000):
            c.put(Ref("document", f"id{{i}}", "v1", f"documents/id{{i}}:v1.json", 100 + i, 1.0), {{"title": str(i)}})
        os._exit(9)  # no close, no flush: the last 1000 are in an open transaction
    """)
    subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    cache = IndexCache("memory://killed", tmp_path)
    assert cache.get(_ref(0)) == {"title": "0"} and cache.get(_ref(1999)) == {"title": "1999"}
    assert cache.get(_ref(2500)) is None  # lost with the open batch: read again from the store next time
    cache.put(_ref(2500), {"title": "again"})
    cache.close()
    assert IndexCache("memory://killed", tmp_path).get(_ref(2500)) == {"title": "again"}


def test_a_content_title_is_the_start_of_its_json(tmp_path):
    """The title of a structured content is encoded only as far as it is shown: the same text
    as the whole json.dumps cut at 80 characters (seeded random contents, non-ASCII keys)."""
    import json
    import random

    from jacs_desktop.storage.index import summarize

    rnd = random.Random(5)

    def val(d=0):
        r = rnd.random()
        if d > 3 or r < 0.3:
            return rnd.choice([1, 2.5, "x" * rnd.randint(0, 50), "é🎉", None, True])
        if r < 0.6:
            return [val(d + 1) for _ in range(rnd.randint(1, 4))]
        return {rnd.choice("abcdeé🎉") * rnd.randint(1, 5): val(d + 1) for _ in range(rnd.randint(1, 4))}

    checked = 0
    for _ in range(3000):
        c = val()
        if isinstance(c, (dict, list)) and c:
            text = json.dumps(c, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))
            want = text if len(text) <= 80 else text[:79] + "…"
            assert summarize({"jacsDocument": {"content": c}})["title"] == want  # encoded lazily
            assert summarize({"jacsDocument": {"content": c}}, size=len(text))["title"] == want  # whole
            checked += 1
    assert checked > 1000


def test_an_entry_written_again_is_the_one_read(tmp_path):
    """Entries are appended (no index on the key): the last one written for a key is its entry,
    before and after ``preload``, in this process and the next; stale copies that piled up are
    dropped when the cache is read in."""
    import sqlite3
    from dataclasses import replace

    cache = IndexCache("memory://again", tmp_path)
    refs = [_ref(i) for i in range(3000)]
    for r in refs:
        cache.put(r, {"title": "old"})
    cache.flush()
    changed = [replace(r, size=r.size + 1) for r in refs]  # every file changed: written again
    for r in changed:
        cache.put(r, {"title": "new"})
    cache.close()
    rows = sqlite3.connect(cache.path).execute("SELECT COUNT(*) FROM entry").fetchone()[0]
    assert rows == 6000
    other = IndexCache("memory://again", tmp_path)
    assert other.get(changed[7]) == {"title": "new"} and other.get(refs[7]) is None  # (one by one: the last)
    other.preload()
    assert other.get(changed[2999]) == {"title": "new"} and other.missing(refs) == refs
    assert other.missing(changed) == []
    other.close()
    rows = sqlite3.connect(cache.path).execute("SELECT COUNT(*) FROM entry").fetchone()[0]
    assert rows == 3000  # the stale copies dropped
    again = IndexCache("memory://again", tmp_path)
    again.preload()
    assert again.get(changed[0]) == {"title": "new"}
    again.prune({r.key for r in refs[:10]})
    again.close()
    assert sqlite3.connect(cache.path).execute("SELECT COUNT(*) FROM entry").fetchone()[0] == 10
