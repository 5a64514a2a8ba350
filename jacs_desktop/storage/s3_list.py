"""The S3 store's listing (:class:`.s3.S3Store`): paged, in key order, over obstore; split
into contiguous key ranges listed at once when the first page is full.

obstore lists folder-wise (``a/b`` lists ``a/b/…``), so a prefix that ends inside a name is
listed from its folder, starting just below it (S3's ``start-after``), and stopped once the
keys leave the prefix.

**Ranges.** A listing whose first page is full goes on in *n* contiguous ranges at once.
Range boundaries are ``PREFIX + d`` for hexadecimal digits *d* above the first page's last
key (JACS names are UUID v4s, spread evenly over their first digit); each range starts
after its lower boundary and stops at the first key past its upper one, the first range
being the first page's own listing going on and the last running to the end. So every
key, whatever its name, is in exactly one range: complete and without repeats by
construction. The caller's thread lists the first range and yields it as it comes; the
others are listed by threads into queues and yielded after it, in order. A listing that
need not be in order (``ordered=False``, as :meth:`.store.Store.iter_refs` asks) has every
range listed by a thread into one queue, and yields pages as they arrive: the caller's
work on the names overlaps the whole listing. Each range but
the last reads at most one page past its end (S3 has no "stop at" parameter), which is
why a server where listing costs CPU (SeaweedFS on the same machine) gets few ranges and
AWS, where each request waits on the network, gets many; other servers list in one
sequence unless told (the folder-backed gateways re-read the whole folder for every page:
see :data:`.s3.SERVER_LIST_RANGES`).

A server that does not honour ``start-after`` (a range then gets keys from before its
start) is caught: those keys are dropped, and the store lists sequentially from then on.

**Names obstore refuses** (``a//b``, ``./x``, control characters; written by another
tool): that range goes on through boto3 from the last key seen.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from .base import ObjectInfo, StorageError
from .s3_errors import describe_boto

__all__ = ["list_objects", "range_bounds"]

class S3Store(Protocol):
    """What the listing needs of :class:`.s3.S3Store` (named so here; not imported, which
    would make an import circle)."""

    prefix: str
    bucket: str
    max_attempts: int
    requests: int
    _stats_lock: threading.Lock
    _start_after_ignored: bool

    @property
    def client(self) -> Any: ...
    def _store(self) -> Any: ...
    def _folder_marker(self, key: str) -> bool: ...
    def _region_moved(self, exc: BaseException) -> bool: ...
    def _transient(self, exc: BaseException) -> bool: ...
    def _wait_before_retry(self, attempt: int) -> None: ...
    def _describe(self, exc: BaseException, what: str) -> StorageError: ...


HEX = "0123456789abcdef"
_TOP = "\U0010ffff"  # the highest code point: S3 orders keys by UTF-8 bytes, i.e. by code point
_END = object()  # a range's queue: the range is complete


def just_below(full: str) -> str | None:
    """A name below every key that starts with *full* and above nearly all others (obstore's
    listing offset is exclusive, and must be a valid path); None when there is none."""
    c = chr(ord(full[-1]) - 1)
    if c == "/":
        c = "."  # only names with an empty part ('a//b') sort between: obstore cannot list them anyway
    if c < " " or c == "\x7f":
        return None
    return full[:-1] + c + _TOP


def etag_of(raw: str | None) -> str | None:
    return (raw or "").strip('"') or None


def _info_slow(meta: Any, skip: int) -> ObjectInfo:
    modified = meta.get("last_modified")
    return ObjectInfo(meta["path"][skip:], int(meta.get("size") or 0),
                      modified.timestamp() if modified is not None else None, etag_of(meta.get("e_tag")))


_new = object.__new__
_FIELDS = ("key", "size", "mtime", "etag", "problem", "no_content")


def _info_fast(meta: Any, skip: int) -> ObjectInfo:
    """:func:`_info_slow`'s result at half its cost (a listing makes one per key): the
    frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``; this
    fills the instance's dict at once. Used only while ObjectInfo has exactly these
    fields and a dict (checked below, and by a test against the plain constructor)."""
    o = _new(ObjectInfo)
    modified = meta["last_modified"]
    o.__dict__.update(key=meta["path"][skip:], size=meta["size"] or 0,
                      mtime=modified.timestamp() if modified is not None else None,
                      etag=(meta["e_tag"] or "").strip('"') or None, problem=None, no_content=False)
    return o


_fast_ok = (tuple(getattr(ObjectInfo, "__dataclass_fields__", ())) == _FIELDS
            and not hasattr(ObjectInfo, "__slots__") and not hasattr(ObjectInfo, "__post_init__"))
#: one listed object's ObjectInfo, from obstore's dict (*skip*: the store prefix's length)
info_of = _info_fast if _fast_ok else _info_slow


def server_software(endpoint: str, timeout: float) -> str:
    """What the S3 server at *endpoint* calls itself (its ``Server`` header, e.g. "SeaweedFS
    8000GB 4.48"), from one anonymous request; "" when it does not say or cannot be asked."""
    import urllib.error
    import urllib.request

    if not endpoint.lower().startswith(("http://", "https://")):
        return ""
    try:
        with urllib.request.urlopen(endpoint.rstrip("/") + "/", timeout=timeout) as r:
            return str(r.headers.get("Server", ""))
    except urllib.error.HTTPError as exc:  # the usual answer: 403 for an anonymous request
        return str(exc.headers.get("Server", ""))
    except Exception:
        return ""


def range_bounds(full: str, last_key: str, ranges: int) -> list[str]:
    """Up to ``ranges - 1`` boundaries above *last_key* (the first page's last key), each
    ``full + hex digit``, spread evenly over the digits left; [] when none is left."""
    if ranges < 2:
        return []
    digits = [d for d in HEX if full + d > last_key]
    if not digits:
        return []
    n = min(ranges - 1, len(digits))
    # the range below the first boundary holds what is left of the first page's digit too
    step = (len(digits) + 1) / (n + 1)
    picks = sorted({min(len(digits) - 1, round(step * (i + 1)) - 1) for i in range(n)})
    return [full + digits[i] for i in picks]


def _columns(batch: Any) -> tuple[list[str], list[Any], list[Any], list[Any]]:
    """One listed page (an Arrow record batch from obstore) as Python lists: paths, sizes,
    modification times (microseconds since the epoch, or None) and ETags (quoted)."""
    from arro3.core import DataType

    return (batch.column("path").to_pylist(), batch.column("size").to_pylist(),
            batch.column("last_modified").cast(DataType.int64()).to_pylist(), batch.column("e_tag").to_pylist())


def _info(key: str, size: Any, micros: Any, etag: Any) -> ObjectInfo:
    """An ObjectInfo from one row of :func:`_columns` (*key* without the store prefix), at
    :func:`_info_fast`'s cost, under the same condition."""
    if not _fast_ok:
        return ObjectInfo(key, int(size or 0), micros / 1e6 if micros is not None else None, etag_of(etag))
    o = _new(ObjectInfo)
    o.__dict__.update(key=key, size=size or 0, mtime=micros / 1e6 if micros is not None else None,
                      etag=(etag or "").strip('"') or None, problem=None, no_content=False)
    return o


def _keys_in(store: S3Store, folder: str, full: str, after: str | None, last: str | None,
             page_size: int) -> Generator[list[ObjectInfo], None, None]:
    """Chunks of the objects whose bucket key starts with *full*, after < key <= last, in
    order. A failed page is asked for again from the last key seen; a name obstore refuses
    hands the rest to boto3.

    obstore hands each page over as Arrow columns (``return_arrow``): no Python dict and
    datetime per object, only the lists made here (a listing is bound by per-object work)."""
    from obstore import list as ob_list
    from obstore.exceptions import InvalidPathError

    skip = len(store.prefix)
    offset = after
    failures = 0
    while True:
        try:
            stream = ob_list(store._store(), folder.rstrip("/") or None, offset=offset,
                             chunk_size=max(1, page_size), return_arrow=True)
            for batch in stream:
                with store._stats_lock:
                    store.requests += 1
                if not batch.num_rows:
                    continue
                paths, sizes, times, etags = _columns(batch)
                first: str = paths[0]
                end: str = paths[-1]
                if (first.startswith(full) and end.startswith(full) and (last is None or end <= last)
                        and (offset is None or first > offset)):
                    # the whole chunk is in the range (keys with one prefix sort together)
                    out = [_info(k[skip:], z, t, e) for k, z, t, e in zip(paths, sizes, times, etags, strict=True)]
                    offset = end
                    failures = 0
                    if 0 in sizes or None in sizes:
                        out = [o for o in out if o.size or not store._folder_marker(store.prefix + o.key)]
                    if out:
                        yield out
                    continue
                out = []
                for key, z, t, e in zip(paths, sizes, times, etags, strict=True):
                    if offset is not None and key <= offset:
                        store._start_after_ignored = True  # the server sent keys from before the start
                        continue
                    if not key.startswith(full):
                        if key > full:
                            if out:
                                yield out
                            return  # past the prefix: S3 lists in order
                        continue
                    if last is not None and key > last:
                        if out:
                            yield out
                        return
                    offset = key
                    if not z and store._folder_marker(key):
                        continue
                    out.append(_info(key[skip:], z, t, e))
                failures = 0
                if out:
                    yield out
            return
        except InvalidPathError:
            # a name obstore's paths refuse (written by another tool): boto3 lists on
            yield from _boto_keys(store, full, offset, last, page_size)
            return
        except Exception as exc:
            if store._region_moved(exc):
                continue
            failures += 1
            if failures >= store.max_attempts or not store._transient(exc):
                raise store._describe(exc, f"listing s3://{store.bucket}/{full}") from None
            store._wait_before_retry(failures)


def _boto_keys(store: S3Store, full: str, after: str | None, last: str | None,
               page_size: int) -> Iterator[list[ObjectInfo]]:
    kwargs: dict[str, Any] = {"Bucket": store.bucket, "Prefix": full, "MaxKeys": max(1, min(page_size, 1000))}
    if after:
        kwargs["StartAfter"] = after
    skip = len(store.prefix)
    try:
        while True:
            page = store.client.list_objects_v2(**kwargs)
            contents = page.get("Contents", ())
            out: list[ObjectInfo] = []
            for o in contents:
                if after is not None and o["Key"] <= after:
                    continue
                if last is not None and o["Key"] > last:
                    yield out
                    return
                modified = o.get("LastModified")
                out.append(ObjectInfo(o["Key"][skip:], int(o.get("Size", 0)),
                                      modified.timestamp() if modified is not None else None, etag_of(o.get("ETag"))))
            yield out
            if not page.get("IsTruncated") or not contents:
                return
            kwargs.pop("StartAfter", None)
            kwargs["ContinuationToken"] = page["NextContinuationToken"]
    except Exception as exc:
        raise describe_boto(exc, f"listing s3://{store.bucket}/{full}") from None


def list_objects(store: S3Store, full: str, page_size: int, ranges: Callable[[], int],
                 ordered: bool = True) -> Iterator[ObjectInfo]:
    """The objects whose bucket key starts with *full*, in key order; after a full first
    page in up to ``ranges()`` ranges at once (see the module text). Not *ordered*: each
    range's pages are yielded as they come, whichever range they are from (the caller's
    work on them overlaps the listing instead of waiting for the first range to end)."""
    store._store()  # no credentials: say so before anything else
    folder = full[: full.rfind("/") + 1]
    after = None
    if full != folder:
        after = just_below(full)
    first = _keys_in(store, folder, full, after, None, page_size)
    head: list[ObjectInfo] = []
    for chunk in first:
        head = chunk
        break
    bounds: list[str] = []
    if len(head) >= page_size and not store._start_after_ignored:
        bounds = range_bounds(full, store.prefix + head[-1].key, ranges())
    if not bounds:
        yield from head
        for chunk in first:
            yield from chunk
        return
    stop = threading.Event()
    # ordered: a queue per range, emptied in turn; not: one queue that all ranges fill
    shared: queue.SimpleQueue[Any] = queue.SimpleQueue()
    queues: list[queue.SimpleQueue[Any]] = [queue.SimpleQueue() for _ in bounds] if ordered else [shared] * len(bounds)
    highs: list[str | None] = [*bounds[1:], None]

    def work(i: int) -> None:
        q = queues[i]
        try:
            for chunk in _keys_in(store, folder, full, bounds[i], highs[i], page_size):
                if stop.is_set():
                    return
                q.put(chunk)
            q.put(_END)
        except BaseException as exc:  # handed to the caller, who raises it in order
            q.put(exc)

    # the first range: the first page's listing going on, up to the first boundary
    upto = bounds[0][len(store.prefix):]

    def work_first() -> None:
        """The first range, by a thread into the shared queue (unordered listings)."""
        q = shared
        try:
            for chunk in first:
                if stop.is_set():
                    return
                if chunk and chunk[-1].key > upto:
                    part = [o for o in chunk if o.key <= upto]
                    if part:
                        q.put(part)
                    break
                if chunk:
                    q.put(chunk)
            first.close()
            q.put(_END)
        except BaseException as exc:
            q.put(exc)

    pool = ThreadPoolExecutor(len(bounds) + (0 if ordered else 1), thread_name_prefix="s3-list")
    try:
        for i in range(len(bounds)):
            pool.submit(work, i)
        yield from head
        if not ordered:
            pool.submit(work_first)
            running = len(bounds) + 1
            while running:
                item = shared.get()
                if item is _END:
                    running -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield from item
            return
        for chunk in first:
            if not chunk:
                continue
            if chunk[-1].key <= upto:
                yield from chunk
                continue
            for o in chunk:
                if o.key > upto:
                    break
                yield o
            break
        first.close()
        for q in queues:
            while True:
                item = q.get()
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield from item
    finally:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
