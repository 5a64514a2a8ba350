"""RFC 8785 (JCS) canonical JSON and the JACS document hash.

``canonicalize`` is byte-identical to the reference ``rfc8785.dumps`` (property
tests in ``tests/test_canonical.py`` hold it to that).  It takes a fast path
through the C JSON encoder when the value has nothing where Python's ``json``
and JCS disagree, and falls back to ``rfc8785`` otherwise:

* floats: Python's ``repr`` and ECMAScript's Number-to-String agree for
  non-integral values with 1e-4 <= |x| < 1e16; everything else (integral floats
  such as ``1.0``, tiny values such as ``1e-7``) goes through the reference;
* keys: Python sorts by code point, JCS by UTF-16 code unit; the two orders only
  differ when a key holds a character >= U+E000, which goes through the reference;
* integers outside +-(2^53-1) and lone surrogates are refused by the reference
  with its own error, so the fast path sends them there too.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import rfc8785

__all__ = [
    "CanonicalizationError",
    "canonicalize",
    "canonicalize_reference",
    "jacs_sha256",
    "hash_input",
    "sha256_hex",
]

_MAX_SAFE = 2**53 - 1
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
)
_encode = _ENCODER.encode


class CanonicalizationError(ValueError):
    """The value cannot be written as RFC 8785 canonical JSON."""


def canonicalize_reference(value: Any) -> bytes:
    """Canonical JSON by the reference ``rfc8785`` package (slow, exact)."""
    try:
        return rfc8785.dumps(value)
    except RecursionError as exc:
        raise CanonicalizationError("JSON nesting is too deep to canonicalize") from exc
    except rfc8785.CanonicalizationError as exc:
        raise CanonicalizationError(str(exc)) from exc
    except (TypeError, ValueError) as exc:  # unexpected Python types
        raise CanonicalizationError(str(exc)) from exc


def _fast_ok(value: Any) -> bool:
    """True when the C encoder's output is exactly JCS for *value*."""
    stack = [value]
    pop = stack.pop
    push = stack.extend
    while stack:
        v = pop()
        t = type(v)
        if t is str or v is None or t is bool:
            continue
        if t is dict:
            for k in v:
                if type(k) is not str:
                    return False
                if not k.isascii() and max(k) >= "\ue000":
                    return False
            push(v.values())
        elif t is list or t is tuple:
            push(v)
        elif t is int:
            if v > _MAX_SAFE or v < -_MAX_SAFE:
                return False
        elif t is float:
            a = abs(v)
            if not (1e-4 <= a < 1e16) or v == int(v):
                return False
        else:
            return False
    return True


def canonicalize(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON value."""
    try:
        ok = _fast_ok(value)
    except RecursionError as exc:  # pragma: no cover - _fast_ok is iterative
        raise CanonicalizationError("JSON nesting is too deep to canonicalize") from exc
    if ok:
        try:
            return _encode(value).encode("utf-8")
        except RecursionError as exc:
            raise CanonicalizationError("JSON nesting is too deep to canonicalize") from exc
        except UnicodeEncodeError:
            pass  # lone surrogate: let the reference produce its error
    return canonicalize_reference(value)


# UTF-8 lead bytes of characters >= U+E000 (EE, EF: U+E000-U+FFFF; F0-F4: planes 1-16)
_HIGH_UTF8 = re.compile(rb"[\xee-\xf4]")


class _NumberScan:
    """json.loads hooks that note numbers the C encoder would write differently."""

    __slots__ = ("safe",)

    def __init__(self) -> None:
        self.safe = True

    def parse_float(self, text: str) -> float | int:
        v = float(text)
        a = abs(v)
        if 1e-4 <= a < 1e16 and v != int(v):
            return v
        if v == v and a <= _MAX_SAFE and v == int(v):
            # an integral float (``101.0``) is written by JCS exactly like the
            # integer, so hand the encoder the integer
            return int(v)
        self.safe = False
        return v

    def parse_int(self, text: str) -> int:
        v = int(text)
        if v > _MAX_SAFE or v < -_MAX_SAFE:
            self.safe = False
        return v

    def parse_constant(self, text: str) -> float:
        self.safe = False
        return float(text)


def loads_scanned(text: str | bytes) -> tuple[Any, bool]:
    """``json.loads`` that also tells whether every number is fast-path safe.

    When the flag is True, :func:`canonicalize_parsed` can skip the tree walk.
    Integral floats within +-(2^53-1) come back as ints (same JCS text).
    """
    scan = _NumberScan()
    value = json.loads(
        text, parse_float=scan.parse_float, parse_int=scan.parse_int, parse_constant=scan.parse_constant
    )
    return value, scan.safe


def canonicalize_parsed(value: Any) -> bytes:
    """Canonical JSON of a value from :func:`loads_scanned` whose numbers were safe.

    Only key order can still differ from JCS (keys with characters >= U+E000);
    that is checked on the output, and such values take the exact path.
    """
    try:
        text = _encode(value)
    except RecursionError as exc:
        raise CanonicalizationError("JSON nesting is too deep to canonicalize") from exc
    if text.isascii():
        return text.encode("ascii")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        return canonicalize_reference(value)
    if _HIGH_UTF8.search(data) is not None:  # a character >= U+E000 somewhere
        return canonicalize(value)
    return data


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hash_input(document: dict) -> bytes:
    """The exact bytes hashed into ``jacsSha256``: JCS of the document minus it."""
    if "jacsSha256" in document:
        document = {k: v for k, v in document.items() if k != "jacsSha256"}
    return canonicalize(document)


def jacs_sha256(document: dict) -> str:
    """``jacsSha256`` as SPEC section 3 defines it."""
    return sha256_hex(hash_input(document))
