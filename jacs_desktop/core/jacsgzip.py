"""The gzip stream JACS writes for attachments (flate2 / miniz_oxide, SPEC 2.3 and 12.3).

For an external attachment (``embed: false``) the library records
``sha256(base64(gzip(file)))`` and, when verifying, recompresses the file and
compares. Checking such an attachment, or writing one the library accepts,
therefore needs the library's *exact* compressed bytes: deflate by Rust
``miniz_oxide`` at flate2's default level 6, wrapped in the gzip header
``1f8b 0800 00000000 00ff`` and the CRC-32 / ISIZE trailer.

Python's ``zlib`` makes the same stream only for tiny inputs (it splits
blocks differently). The ``cramjam`` package's default backend compresses
with flate2 on miniz_oxide, the same code the library runs, and reproduces it
byte for byte (tests/interop/test_jacsgzip.py proves this against the real
library on a corpus of sizes and kinds of data, up to 50 MB). Only its raw
deflate output is used; the gzip framing is written here.

That match is checked at run time, once, against known answers recorded from
the library (:func:`exact_available`). When the check fails (``cramjam``
missing, or a release whose deflate output differs), nothing pretends:
:func:`jacs_gzip` returns ``None``, :func:`gzip_like_jacs` falls back to zlib
(fine for embedded contents, which any gzip reader decodes), signing embeds
instead of writing an external attachment, and verifying reports external
files it cannot reproduce as unverifiable.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import importlib.machinery
import importlib.util
import threading
import types
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Generic, TypeVar

__all__ = [
    "GZIP_HEADER",
    "gzip_like_jacs",
    "jacs_gzip",
    "exact_available",
    "exact_unavailable_reason",
    "external_candidates",
    "external_digests",
    "attachment_sha256",
    "clear_cache",
]

#: no name, mtime 0, XFL 0, OS 255 (unknown): flate2's GzBuilder default
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_LEVEL = 6  # flate2 Compression::default()


def _frame(data: bytes, body: bytes) -> bytes:
    trailer = (zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "little") + (len(data) & 0xFFFFFFFF).to_bytes(4, "little")
    return b"".join((GZIP_HEADER, body, trailer))


def _zlib_stream(data: bytes, level: int = _LEVEL) -> bytes:
    co = zlib.compressobj(level, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY)
    return _frame(data, co.compress(data) + co.flush())


# -- the exact compressor ------------------------------------------------------

def _cramjam_ext() -> types.ModuleType:
    """cramjam's compiled module itself, not the package's re-export: the package swaps in
    another deflate implementation (whose output differs) when CRAMJAM_BACKEND=pure-rust,
    and refuses to import when that variable names a backend that is not installed."""
    try:
        import cramjam  # noqa: F401  (a static import, so bundlers see the dependency)

        return importlib.import_module("cramjam.cramjam")
    except Exception:
        pass
    # the package's __init__ failed (over CRAMJAM_BACKEND): load the extension beside it directly
    pkg = importlib.util.find_spec("cramjam")
    if pkg is None or not pkg.submodule_search_locations:
        raise ImportError("cramjam is not installed")
    spec = importlib.machinery.PathFinder.find_spec("cramjam.cramjam", list(pkg.submodule_search_locations))
    if spec is None or spec.loader is None:
        raise ImportError("cramjam's compiled module was not found")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _load_deflate() -> Callable[[bytes], bytes]:
    compress = _cramjam_ext().deflate.compress

    def deflate(data: bytes) -> bytes:
        return bytes(compress(data, level=_LEVEL))

    return deflate


def _kat_data(kind: str, n: int, seed: int) -> bytes:
    """Deterministic test data (SHA-256 in counter mode), the same on every platform."""
    raw = bytearray()
    i = 0
    want = n if kind == "random" else n // 2 + 64
    while len(raw) < want:
        raw += hashlib.sha256(b"jacsgzip:%d:%d" % (seed, i)).digest()
        i += 1
    if kind == "random":
        return bytes(raw[:n])
    if kind == "text":
        words = (b"alpha", b"beta", b"gamma", b"delta", "na\u00efve".encode(), "\u2713".encode(), b"42", b"\n",
                 b"the", b"of", b"signed", b"document")
        out = bytearray()
        j = 0
        while len(out) < n:
            out += words[raw[j % len(raw)] % len(words)]
            out += b" "
            j += 1
        return bytes(out[:n])
    raise ValueError(kind)


def _kat_inputs() -> list[bytes]:
    text = _kat_data("text", 120_000, 1)
    rnd = _kat_data("random", 70_000, 2)
    return [
        b"",
        b"a",
        b"hello interop\n",
        text,                                        # dynamic blocks, block splitting, lazy matching
        rnd,                                         # stored blocks
        b"\x00" * 300_000,                           # long matches
        rnd[:20_000] + text[:40_000] + b"ab" * 9_000,  # block type changes within one stream
    ]


# sha256 of the streams jacs 0.15.0 (flate2 1.1.10, miniz_oxide 0.9.1) writes for _kat_inputs(),
# checked against the library by tests/interop/test_jacsgzip.py
_KAT_SHA256 = (
    "ac73670af3abed54ac6fb4695131f4099be9fbe39d6076c5d0264a6bbdae9d83",
    "94992c9e182d4a5387b07e699a54922d1a21f9358a69504eb8c56922a31a21f8",
    "e235cab70637ff4b4c512f42983221b36165958041aa5fffd39fb68844c65260",
    "8e563b6b240d04059a2f32ef712e1039fa60db32f7926b1c6129643e6c64df4f",
    "348ed65d42568a708be7199f9aad768ed71a15d9cd1ce9c8fb60289bc299882b",
    "1defccd237d2ef43bf2d0dda81735c8667cd6d2a35b8dc96501688da6fdd8605",
    "8e2fb95928f36ed01319fcf20da49af76759a0fa25d86e091d0b4ff42f8777a1",
)

_state_lock = threading.Lock()
_state: tuple[Callable[[bytes], bytes] | None, str | None] | None = None


def _exact() -> tuple[Callable[[bytes], bytes] | None, str | None]:
    global _state
    if _state is None:
        with _state_lock:
            if _state is None:
                _state = _probe()
    return _state


def _probe() -> tuple[Callable[[bytes], bytes] | None, str | None]:
    try:
        deflate = _load_deflate()
    except Exception as exc:  # ImportError, or a broken CRAMJAM_BACKEND value
        return None, f"the cramjam package is not usable ({exc})"
    try:
        got = tuple(hashlib.sha256(_frame(d, deflate(d))).hexdigest() for d in _kat_inputs())
    except Exception as exc:
        return None, f"cramjam's deflate failed its self-check ({exc})"
    if got != _KAT_SHA256:
        # not strict: a length difference is counted separately
        bad = sum(1 for a, b in zip(got, _KAT_SHA256, strict=False) if a != b) + abs(len(got) - len(_KAT_SHA256))
        return None, (f"this cramjam release does not compress exactly like the jacs library "
                      f"({bad} of {len(_KAT_SHA256)} known answers differ)")
    return deflate, None


def exact_available() -> bool:
    """True when :func:`jacs_gzip` reproduces the library's stream (self-checked once)."""
    return _exact()[0] is not None


def exact_unavailable_reason() -> str | None:
    """Why the library's stream cannot be reproduced here, or ``None`` when it can."""
    return _exact()[1]


# -- caches -------------------------------------------------------------------

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


class _LRU(Generic[_K, _V]):
    """A thread-safe LRU bounded by the summed size of its values."""

    def __init__(self, max_bytes: int, max_item: int):
        self.max_bytes = max_bytes
        self.max_item = max_item
        #: key -> (value, size)
        self._d: OrderedDict[_K, tuple[_V, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: _K) -> tuple[_V, int] | None:
        with self._lock:
            v = self._d.get(key)
            if v is not None:
                self._d.move_to_end(key)
            return v

    def put(self, key: _K, value: _V, size: int) -> None:
        if size > self.max_item:
            return
        with self._lock:
            old = self._d.pop(key, None)
            if old is not None:
                self._size -= old[1]
            self._d[key] = (value, size)
            self._size += size
            while self._size > self.max_bytes and self._d:
                _, (_, s) = self._d.popitem(last=False)
                self._size -= s

    def clear(self) -> None:
        with self._lock:
            self._d.clear()
            self._size = 0


# whole streams (signing, embedded contents), and just the attachment sha256
# (verifying many versions that point at the same file), keyed by the data's hash + size
_CacheKey = tuple[str, bytes, int]  # (kind or writer, sha256 of the data, its size)
_streams: _LRU[_CacheKey, bytes] = _LRU(max_bytes=64 << 20, max_item=16 << 20)
_digests: _LRU[_CacheKey, str] = _LRU(max_bytes=1 << 20, max_item=1 << 10)
_CACHE_MIN = 4096  # below this, compressing is cheaper than hashing + locking


def _key(kind: str, data: bytes) -> _CacheKey:
    return kind, hashlib.sha256(data).digest(), len(data)


def clear_cache() -> None:
    _streams.clear()
    _digests.clear()


def _cached_stream(kind: str, data: bytes, make: Callable[[bytes], bytes]) -> bytes:
    if len(data) < _CACHE_MIN:
        return make(data)
    key = _key(kind, data)
    hit = _streams.get(key)
    if hit is not None:
        return hit[0]
    stream = make(data)
    _streams.put(key, stream, len(stream))
    return stream


def _exact_stream(data: bytes) -> bytes:
    deflate = _exact()[0]
    assert deflate is not None
    return _frame(data, deflate(data))


# -- public API ----------------------------------------------------------------

def jacs_gzip(data: bytes) -> bytes | None:
    """The library's exact gzip stream of *data*, or ``None`` when it cannot be reproduced here."""
    data = bytes(data) if not isinstance(data, bytes) else data
    if not exact_available():
        return None
    return _cached_stream("jacs", data, _exact_stream)


def gzip_like_jacs(data: bytes) -> bytes:
    """gzip as JACS writes it: the library's exact stream when possible, else zlib level 6
    with the same header (any gzip reader decodes both; only external attachments need exactness)."""
    exact = jacs_gzip(data)
    return exact if exact is not None else _cached_stream("zlib6", data, _zlib_stream)


def attachment_sha256(stream: bytes) -> str:
    """``jacsFiles[].sha256`` for a gzip stream: SHA-256 of its base64 text."""
    return hashlib.sha256(base64.b64encode(stream)).hexdigest()


def external_candidates(data: bytes) -> Iterable[bytes]:
    """gzip streams whose hash an external attachment of *data* may record, most likely first.

    1. the jacs library's exact stream (miniz_oxide level 6), when reproducible here;
    2. zlib level 6 with the library's header: what JACS Desktop wrote for external
       attachments before it could reproduce the library's stream. For tiny files it is
       the same stream as 1 (and is then not yielded twice).

    Both are deterministic functions of the file, so a hash match proves the file's
    content either way. Other zlib levels were once tried too; no known writer uses
    them, and on large files each costs a full recompression, so they are gone.
    """
    data = bytes(data) if not isinstance(data, bytes) else data
    exact = jacs_gzip(data)
    if exact is not None:
        yield exact
    legacy = _cached_stream("zlib6", data, _zlib_stream)
    if legacy != exact:
        yield legacy


def external_digests(data: bytes) -> Iterator[tuple[str, str]]:
    """Like :func:`external_candidates`, as ``(writer, sha256)`` pairs; *writer* is ``"jacs"``
    for the library's exact stream and ``"zlib"`` for the legacy one. Digests are cached
    per file content, so many documents pointing at one large file compress it once."""
    data = bytes(data) if not isinstance(data, bytes) else data
    ident = (hashlib.sha256(data).digest(), len(data)) if len(data) >= _CACHE_MIN else None

    def digest(writer: str, make: Callable[[], bytes | None]) -> str | None:
        if ident is not None:
            hit = _digests.get((writer, *ident))
            if hit is not None:
                return hit[0]
        stream = make()
        d = attachment_sha256(stream) if stream is not None else ""
        if ident is not None:
            _digests.put((writer, *ident), d, 160)
        return d or None

    exact = digest("jacs", lambda: jacs_gzip(data))
    if exact is not None:
        yield "jacs", exact
    legacy = digest("zlib", lambda: _zlib_stream(data))
    if legacy is not None and legacy != exact:  # never None: the zlib stream always exists
        yield "zlib", legacy
