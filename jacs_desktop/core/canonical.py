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
from dataclasses import dataclass
from typing import Any

import rfc8785

from .jsontypes import JSONObject

__all__ = [
    "CanonicalizationError",
    "IntegralFloat",
    "Parsed",
    "StrictJSONError",
    "loads_strict",
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
    except RecursionError as exc:  # defensive: _fast_ok is iterative
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


class StrictJSONError(ValueError):
    """The text is JSON a lenient parser takes but the JACS library refuses (SPEC 12.1)."""


class IntegralFloat(int):
    """A number written with a fraction or exponent whose value is integral (``5.0``, ``5e0``).

    RFC 8785 writes it like the integer, so it canonicalizes as one, but it is
    not a written integer: ``"iat": 1795299005.0`` is refused by the library.
    """

    __slots__ = ()

    def __repr__(self) -> str:  # the C JSON encoder uses int.__repr__, not this
        return f"{int(self)}.0"


class _NumberScan:
    """json.loads hooks: refuse what the library refuses, note numbers the C encoder writes differently."""

    __slots__ = ("integral_floats", "safe")

    def __init__(self) -> None:
        self.safe = True
        self.integral_floats = False

    def parse_float(self, text: str) -> float | int:
        v = float(text)
        a = abs(v)
        if 1e-4 <= a < 1e16 and v != int(v):
            return v
        if a == float("inf"):
            raise StrictJSONError(f"JSON integer {text} is outside the I-JSON safe integer range")
        if v == int(v):
            if a > _MAX_SAFE:
                raise StrictJSONError(f"JSON integer {text} is outside the I-JSON safe integer range")
            # an integral float (``101.0``) is written by JCS exactly like the
            # integer, so hand the encoder the integer, marked as written as a float
            self.integral_floats = True
            return IntegralFloat(int(v))
        self.safe = False
        return v

    def parse_int(self, text: str) -> int:
        v = int(text)
        if v > _MAX_SAFE or v < -_MAX_SAFE:
            raise StrictJSONError(f"JSON integer {text} is outside the I-JSON safe integer range")
        return v

    def parse_constant(self, text: str) -> float:
        raise StrictJSONError(f"'{text}' is not a JSON value")


def _no_duplicates(pairs: list[Any]) -> JSONObject:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen = set()
        for k, _ in pairs:
            if k in seen:
                raise StrictJSONError(
                    f"duplicate JSON object key {k!r}: a repeated member name makes the document ambiguous "
                    "(RFC 8785 needs I-JSON), and the library refuses it"
                )
            seen.add(k)
    return d


# an escaped UTF-16 surrogate; only lone ones are an error, which is rare enough to check slowly
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _lone_surrogate(value: Any) -> str | None:
    stack = [value]
    while stack:
        v = stack.pop()
        if type(v) is str:
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return v
        elif type(v) is dict:
            stack.extend(v.keys())
            stack.extend(v.values())
        elif type(v) is list:
            stack.extend(v)
    return None


@dataclass(frozen=True)
class Parsed:
    value: Any
    #: every number is written the same by the C encoder and by JCS (fast canonical path)
    safe: bool
    #: some number is an :class:`IntegralFloat`
    integral_floats: bool


def loads_strict(text: str) -> Parsed:
    """Parse JSON as strictly as the JACS library (SPEC 12.1); raises ``ValueError`` with a reason.

    Refused: duplicate member names anywhere, NaN/Infinity, integral numbers
    outside +-(2^53-1) (also when written as floats: ``1e16``), lone
    surrogates.  Integral floats come back as :class:`IntegralFloat`.
    """
    scan = _NumberScan()
    value = json.loads(
        text, parse_float=scan.parse_float, parse_int=scan.parse_int, parse_constant=scan.parse_constant,
        object_pairs_hook=_no_duplicates,
    )
    if _SURROGATE_ESCAPE.search(text) is not None and _lone_surrogate(value) is not None:
        raise StrictJSONError("a string holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode text")
    return Parsed(value, scan.safe, scan.integral_floats)


def loads_scanned(text: str | bytes) -> tuple[Any, bool]:
    """``json.loads`` that also tells whether every number is fast-path safe.

    Strict as :func:`loads_strict`. When the flag is True,
    :func:`canonicalize_parsed` can skip the tree walk.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    p = loads_strict(text)
    return p.value, p.safe


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


def hash_input(document: JSONObject) -> bytes:
    """The exact bytes hashed into ``jacsSha256``: JCS of the document minus it."""
    if "jacsSha256" in document:
        document = {k: v for k, v in document.items() if k != "jacsSha256"}
    return canonicalize(document)


def jacs_sha256(document: JSONObject) -> str:
    """``jacsSha256`` as SPEC section 3 defines it."""
    return sha256_hex(hash_input(document))
