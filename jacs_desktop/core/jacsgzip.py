"""The gzip stream JACS writes for attachments (flate2 / miniz_oxide, SPEC 2.3 and 12.3)."""

from __future__ import annotations

import zlib
from typing import Iterable

__all__ = ["gzip_like_jacs", "external_candidates"]


def _gzip_stream(data: bytes, level: int, mem_level: int = 8, strategy: int = zlib.Z_DEFAULT_STRATEGY) -> bytes:
    co = zlib.compressobj(level, zlib.DEFLATED, -15, mem_level, strategy)
    body = co.compress(data) + co.flush()
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = (zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "little") + (len(data) & 0xFFFFFFFF).to_bytes(4, "little")
    return header + body + trailer


def gzip_like_jacs(data: bytes) -> bytes:
    """gzip as JACS writes it: no name, mtime 0, OS 255, deflate level 6."""
    return _gzip_stream(data, 6)


def external_candidates(data: bytes) -> Iterable[bytes]:
    seen = set()
    for level, mem, strat in ((6, 8, zlib.Z_DEFAULT_STRATEGY), (6, 9, zlib.Z_DEFAULT_STRATEGY),
                              (5, 8, zlib.Z_DEFAULT_STRATEGY), (7, 8, zlib.Z_DEFAULT_STRATEGY),
                              (1, 8, zlib.Z_DEFAULT_STRATEGY), (9, 8, zlib.Z_DEFAULT_STRATEGY),
                              (0, 8, zlib.Z_DEFAULT_STRATEGY)):
        s = _gzip_stream(data, level, mem, strat)
        if s not in seen:
            seen.add(s)
            yield s
