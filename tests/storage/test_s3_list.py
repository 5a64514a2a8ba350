"""The S3 listing split into key ranges (jacs_desktop.storage.s3_list), against real servers:
every key comes back exactly once and in order whatever the names (not hex, exactly at a
range boundary, ranges left empty, more than a page per range), compared with the
sequential listing and with boto3's own listing; a failing range fails the listing; a
server that ignores start-after still gives the right answer; an abandoned listing stops
its threads."""

import contextlib
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from s3servers import S3_KEY, S3_SECRET, fault_proxy, put_all

from jacs_desktop.storage.base import AccessDenied, ObjectInfo
from jacs_desktop.storage.layout import JacsLayout
from jacs_desktop.storage.s3 import S3Store
from jacs_desktop.storage.s3_list import _info, _info_fast, _info_slow, range_bounds
from jacs_desktop.storage.store import Store


def _store(endpoint, bucket=None, **kw) -> S3Store:
    return S3Store(bucket or f"jd-{uuid.uuid4().hex[:10]}", endpoint_url=endpoint, access_key=S3_KEY,
                   secret_key=S3_SECRET, create_bucket=bucket is None, **kw)


def _boto_keys(s: S3Store, prefix: str) -> list[str]:
    """The bucket's keys under *prefix* as boto3 lists them (the independent judge)."""
    out = []
    for page in s.client.get_paginator("list_objects_v2").paginate(Bucket=s.bucket, Prefix=prefix):
        out += [o["Key"] for o in page.get("Contents", ())]
    return out


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def test_range_bounds_are_above_the_first_page_and_spread():
    assert range_bounds("d/", "d/05", 4) == ["d/4", "d/8", "d/c"]
    assert range_bounds("d/", "d/c1", 4) == ["d/d", "d/e", "d/f"]
    assert range_bounds("d/", "d/f0", 4) == []  # nothing left above: one sequential listing
    assert range_bounds("d/", "d/zz", 8) == []
    assert range_bounds("d/", "d/05", 1) == []
    assert range_bounds("d/", "d/-x", 2) == ["d/7"]
    b = range_bounds("d/", "d/0", 16)
    assert b == sorted(set(b)) and len(b) == 15 and all(x > "d/0" for x in b)


def test_fast_object_info_is_the_plain_one():
    from datetime import UTC, datetime

    for meta in ({"path": "p/a", "size": 3, "last_modified": datetime(2026, 1, 2, tzinfo=UTC), "e_tag": '"ab"'},
                 {"path": "p/b", "size": 0, "last_modified": None, "e_tag": None}):
        fast, slow = _info_fast(meta, 2), _info_slow(meta, 2)
        assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
        assert isinstance(fast, ObjectInfo)
        with pytest.raises(AttributeError):
            fast.size = 5  # still frozen
    # one row of a listed page's Arrow columns (microseconds, a quoted ETag)
    for row, plain in ((("a", 3, 1_767_312_000_250_000, '"ab"'), ObjectInfo("a", 3, 1_767_312_000.25, "ab")),
                       (("b", 0, None, None), ObjectInfo("b", 0, None, None))):
        got = _info(*row)
        assert got == plain and hash(got) == hash(plain) and repr(got) == repr(plain)


def test_ranges_list_every_name_once_in_order(moto_endpoint):
    """Names of every sort, names exactly at range boundaries, ranges with nothing in them
    and ranges of many pages: the ranged listing equals the sequential one and boto3's."""
    rng = random.Random(5)
    s = _store(moto_endpoint, parallel_list="4")
    keys = {f"documents/{_uuid(rng)}:{_uuid(rng)}.json" for _ in range(150)}
    # not hex, below '0', between '9' and 'a', above 'f', non-ASCII, and the boundaries themselves
    keys |= {"documents/-x", "documents/.hidden", "documents/0", "documents/4", "documents/8", "documents/c",
             "documents/9~", "documents/:x", "documents/Z", "documents/archive/a:b.json", "documents/f",
             "documents/f~", "documents/g", "documents/zz", "documents/ü", "documents/~"}
    put_all(s, ((k, b"{}") for k in keys))
    s.put("documentsX/outside.json", b"{}")  # beside the prefix: never listed
    want = sorted(keys)
    assert _boto_keys(s, "documents/") == want
    seq = _store(moto_endpoint, s.bucket, parallel_list="no")
    for page_size in (1000, 37):
        assert [o.key for o in s.list("documents/", page_size=page_size)] == want
        assert [o.key for o in seq.list("documents/", page_size=page_size)] == want
    for ranges in (2, 16):
        s.list_ranges = ranges
        assert [o.key for o in s.list("documents/", page_size=20)] == want
        # not ordered: the ranges' pages as they come, each name still exactly once
        got = [o.key for o in s.list("documents/", page_size=20, ordered=False)]
        assert len(got) == len(want) and sorted(got) == want
    # a prefix that ends inside a name
    under_f = [k for k in want if k.startswith("documents/f")]
    assert len(under_f) > 3 and "documents/f~" in under_f
    assert [o.key for o in s.list("documents/f", page_size=1)] == under_f
    # details survive the fast path
    infos = list(s.list("documents/", page_size=10))
    assert all(o.size == 2 and o.mtime and o.etag == "99914b932bd37a50b983c5e7c90ae93b" for o in infos)
    st = s.stat(infos[0].key)
    assert st is not None and abs(infos[0].mtime - st.mtime) < 1.5  # seconds since the epoch, as HEAD says


def test_top_level_children_in_one_listing(moto_endpoint):
    """list_children asks the server with a delimiter: the store's top level comes back in one
    request however much is below it, console folder markers and deeper names left out."""
    s = _store(moto_endpoint)
    s.client.put_object(Bucket=s.bucket, Key="folder/", Body=b"")  # a console "folder"
    put_all(s, ((f"documents/{i:04d}.json", b"{}") for i in range(1100)))
    put_all(s, ((k, b"{}") for k in ("jacs.config.json", "a.txt", "jacs_data/agent/x:y.json")))
    s.put("empty.json", b"")
    before = s.requests
    assert [(o.key, o.size) for o in s.list_children("")] == [("a.txt", 2), ("empty.json", 0),
                                                                ("jacs.config.json", 2)]
    assert s.requests - before <= 2  # one listing (a HEAD for the empty object), not 1,100 names
    assert [o.key for o in s.list_children("jacs_data/agent/")] == ["jacs_data/agent/x:y.json"]
    sub = S3Store(s.bucket, "jacs_data", endpoint_url=moto_endpoint, access_key=S3_KEY, secret_key=S3_SECRET)
    assert [o.key for o in sub.list_children("")] == []  # only deeper names there
    assert [o.key for o in sub.list_children("agent/")] == ["agent/x:y.json"]


def test_empty_ranges_and_a_store_of_agents_only(moto_endpoint):
    """All names under one digit (the other ranges empty), and a JACS store with agents but no
    documents: refs() finds exactly what is there."""
    s = _store(moto_endpoint, parallel_list="8")
    keys = [f"jacs_data/agent/00000000-0000-4000-8000-{i:012x}:v{i}.json" for i in range(60)]
    put_all(s, ((k, b"{}") for k in keys))
    assert [o.key for o in s.list("jacs_data/agent/", page_size=5)] == sorted(keys)
    refs = Store(s, JacsLayout("jacs_data")).refs()
    assert [(r.kind, r.key) for r in refs] == [("agent", k) for k in sorted(keys)]
    assert list(s.list("documents/", page_size=5)) == []


def test_pages_past_a_thousand_in_every_range(seaweed_endpoint):
    """More than one server page (1,000 keys) in each of two ranges, on SeaweedFS."""
    rng = random.Random(11)
    s = _store(seaweed_endpoint, parallel_list="2")
    keys = sorted({f"documents/{rng.choice('01234567')}{_uuid(rng)}.json" for _ in range(1010)}
                  | {f"documents/{rng.choice('89abcdef')}{_uuid(rng)}.json" for _ in range(1010)})
    with ThreadPoolExecutor(16) as ex:
        list(ex.map(lambda k: s.put(k, b"1"), keys))
    listed = [o.key for o in s.list("documents/")]
    assert listed == keys == _boto_keys(s, "documents/")
    unordered = [o.key for o in s.list("documents/", ordered=False)]
    assert len(unordered) == len(keys) and sorted(unordered) == keys
    assert range_bounds("documents/", max(k for k in keys if k < "documents/1"), 2) == ["documents/8"]
    assert len([o for o in s.list("documents/", page_size=100)]) == len(keys)
    # by default SeaweedFS (which says so in its Server header) gets ranges, moto does not
    auto = _store(seaweed_endpoint, s.bucket)
    assert auto.list_ranges is None
    assert [o.key for o in auto.list("documents/")] == keys
    assert auto.list_ranges == 3


def test_other_servers_list_in_one_sequence_by_default(moto_endpoint):
    s = _store(moto_endpoint)
    put_all(s, ((f"documents/{i:04x}.json", b"{}") for i in range(30)))
    assert [o.key for o in s.list("documents/", page_size=10)] == [f"documents/{i:04x}.json" for i in range(30)]
    assert s.list_ranges == 1 and not s.parallel_list


def test_a_failing_range_fails_the_listing_and_a_transient_one_is_retried(moto_endpoint):
    direct = _store(moto_endpoint)
    rng = random.Random(2)
    keys = sorted(f"documents/{_uuid(rng)}.json" for _ in range(120))
    put_all(direct, ((k, b"{}") for k in keys))
    # the ranges after the first are the requests that carry start-after
    with fault_proxy(moto_endpoint, [(503, "SlowDown")] * 2, match="start-after=documents%2F", method="GET") as (ep, left):
        s = _store(ep, direct.bucket, parallel_list="4")
        assert [o.key for o in s.list("documents/", page_size=10)] == keys
        assert left == [] and s.retries == 2
    with fault_proxy(moto_endpoint, [(503, "SlowDown")] * 2, match="start-after=documents%2F", method="GET") as (ep, left):
        s = _store(ep, direct.bucket, parallel_list="4")
        assert sorted(o.key for o in s.list("documents/", page_size=10, ordered=False)) == keys
        assert left == [] and s.retries == 2
    for ordered in (True, False):
        with fault_proxy(moto_endpoint, [(403, "AccessDenied")], match="start-after=documents%2F",
                         method="GET") as (ep, _l):
            s = _store(ep, direct.bucket, parallel_list="4")
            with pytest.raises(AccessDenied):
                list(s.list("documents/", page_size=10, ordered=ordered))


@contextlib.contextmanager
def _start_after_ignored(upstream: str):
    """A proxy that drops start-after from listing requests (moto does not check signatures)."""
    import http.client
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qsl, urlencode, urlsplit

    up = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            u = urlsplit(self.path)
            query = urlencode([(k, v) for k, v in parse_qsl(u.query, keep_blank_values=True) if k != "start-after"])
            conn = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
            conn.request("GET", u.path + ("?" + query if query else ""),
                         headers={k: v for k, v in self.headers.items() if k.lower() != "connection"})
            r = conn.getresponse()
            data = r.read()
            self.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_that_ignores_start_after_still_lists_right(moto_endpoint):
    direct = _store(moto_endpoint)
    rng = random.Random(4)
    keys = sorted(f"documents/{_uuid(rng)}.json" for _ in range(80))
    put_all(direct, ((k, b"{}") for k in keys))
    with _start_after_ignored(moto_endpoint) as ep:
        s = _store(ep, direct.bucket, parallel_list="4")
        assert sorted(o.key for o in s.list("documents/", page_size=10, ordered=False)) == keys
        assert s._start_after_ignored  # found out: from now on one sequential listing
        assert [o.key for o in s.list("documents/", page_size=10)] == keys
        assert [o.key for o in s.list("documents/a", page_size=3)] == [k for k in keys if k.startswith("documents/a")]


def test_an_abandoned_listing_stops_its_threads(moto_endpoint):
    s = _store(moto_endpoint, parallel_list="8")
    rng = random.Random(9)
    put_all(s, ((f"documents/{_uuid(rng)}.json", b"{}") for _ in range(200)))
    before = {t.ident for t in threading.enumerate()}
    for ordered in (True, False):
        it = s.list("documents/", page_size=5, ordered=ordered)
        first = [next(it) for _ in range(3)]
        assert len(first) == 3 and any(t.name.startswith("s3-list") for t in threading.enumerate())
        it.close()
        deadline = time.monotonic() + 10
        while any(t.name.startswith("s3-list") and t.ident not in before for t in threading.enumerate()):
            assert time.monotonic() < deadline, "listing threads still running"
            time.sleep(0.05)
    assert s.any_key("documents/") is not None


def test_parallel_list_option():
    s = S3Store("b", endpoint_url="http://127.0.0.1:9", access_key="a", secret_key="b")
    assert s.list_ranges is None  # found out from the server when a listing needs it
    assert S3Store("b", access_key="a", secret_key="b").list_ranges == 16  # AWS
    assert S3Store("b", endpoint_url="http://127.0.0.1:9", access_key="a", secret_key="b",
                   parallel_list="yes").list_ranges == 3
    assert S3Store("b", endpoint_url="http://127.0.0.1:9", access_key="a", secret_key="b",
                   parallel_list="no").list_ranges == 1
    assert S3Store("b", endpoint_url="http://127.0.0.1:9", access_key="a", secret_key="b",
                   parallel_list="6").list_ranges == 6
    from jacs_desktop.storage.base import StorageError

    with pytest.raises(StorageError, match="parallel_list"):
        S3Store("b", endpoint_url="http://127.0.0.1:9", access_key="a", secret_key="b", parallel_list="lots")
