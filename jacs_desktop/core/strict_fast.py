"""The strict JSON parse of :func:`~.canonical.loads_strict`, compiled where it can decide exactly.

:func:`parse_fast` parses a document's UTF-8 bytes with ``jiter`` (pydantic's Rust JSON parser:
duplicate member names refused, NaN and Infinity refused, strict UTF-8, lone surrogates refused),
then walks the tree once in Python for what jiter does not tell: integral floats (``5.0``, which
must come back as :class:`~.canonical.IntegralFloat`), floats that Python's ``repr`` writes
differently from ECMAScript (the canonical tree needs their ECMAScript text), integers outside
+-(2^53-1), and whether some object's keys sort differently by UTF-16 than by code point.

It answers only when its answer is the one ``loads_strict`` gives: the same value (types
included), flags and canonical tree. Everything else returns None and the caller runs
``loads_strict``, which stays the reference and words every refusal: any text jiter refuses
(malformed JSON, a duplicate key, NaN, nesting deeper than jiter's limit of 200), an escaped
UTF-16 surrogate anywhere (lone or paired), a number the library refuses, a top-level value that
is not an object or an array. So a refused document gets the same reason from either path, and
tests/core/test_strict_fast.py holds the two paths to the same results on varied and hostile
text.
"""

from __future__ import annotations

import re
from typing import Any

from . import canonical as _canonical
from .canonical import _MAX_SAFE, IntegralFloat, Parsed, UnsafeNumber, _float_ok, _order_differs, es_number, float_kind
from .jsontypes import replace_leaves

_from_json: Any
try:  # (a dependency; without it every document takes loads_strict)
    from jiter import from_json as _from_json
except ImportError:  # pragma: no cover - jiter is installed with the package
    _from_json = None

__all__ = ["parse_fast", "AVAILABLE"]

#: the compiled parser is there (else :func:`parse_fast` always returns None; so it does without
#: orjson, whose fragments the canonical tree needs: canonical._Fragment, looked up at each call)
AVAILABLE: bool = _from_json is not None and _canonical._Fragment is not None

# an escaped UTF-16 surrogate (lone or in a pair): the reference decides those documents; the
# regex engine finds its prefix faster than ``bytes.__contains__`` does (3.6 KB: 0.8 us vs 1.7 us)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_ESCAPE = re.compile(rb"\\u")
# a character in U+E000..U+FFFF (UTF-8 lead bytes EE, EF, or escaped), and one above U+FFFF (lead
# bytes F0-F4; escaped ones are surrogate pairs, left to the reference): an object's keys can
# sort differently by UTF-16 only when the text has both
_BMP_HIGH_ESCAPE = re.compile(rb"\\u[eEfF]")
_ASTRAL_LEADS = (b"\xf0", b"\xf1", b"\xf2", b"\xf3", b"\xf4")


def _keys_may_need_utf16(raw: bytes) -> bool:
    """False when no object of *raw* can have keys whose UTF-16 order differs (the text lacks
    characters above U+FFFF or ones in U+E000..U+FFFF); bytes.find runs at memchr speed."""
    if not any(lead in raw for lead in _ASTRAL_LEADS):
        return False
    return b"\xee" in raw or b"\xef" in raw or (b"\\u" in raw and _BMP_HIGH_ESCAPE.search(raw) is not None)


_FLOAT, _INT, _STR, _DICT, _LIST = float, int, str, dict, list


def _walk(value: Any, keys: bool) -> tuple[bool, bool, bool]:
    """Check every number of *value* (a jiter tree) and put an IntegralFloat in place of each
    integral float; returns (safe, integral_floats, key_order) as ``_NumberScan`` notes them
    (*keys*: look at the keys' order at all). Raises :class:`~.canonical.UnsafeNumber`."""
    safe, integral, order = True, False, False
    stack = [value]
    pop, push = stack.pop, stack.append
    while stack:
        v = pop()
        is_dict = type(v) is _DICT
        fix = False
        for x in v.values() if is_dict else v:
            t = type(x)
            if t is _STR:
                continue
            if t is _FLOAT:
                if 1e-4 <= abs(x) < 1e16 and x != int(x):  # (the common case, inline)
                    continue
                if type(float_kind(x)) is IntegralFloat:
                    fix = integral = True
                else:
                    safe = False
            elif t is _INT:
                if not -_MAX_SAFE <= x <= _MAX_SAFE:
                    raise UnsafeNumber(x)
            elif t is _DICT or t is _LIST:
                push(x)
        if fix:  # (rare: a second pass puts the IntegralFloats in; the size does not change)
            for k, x in v.items() if is_dict else enumerate(v):
                if type(x) is _FLOAT and x == int(x):
                    v[k] = IntegralFloat(int(x))
        if is_dict and keys and not order and len(v) > 1 and not "".join(v).isascii() and _order_differs(v):
            order = True
    return safe, integral, order


def _fragment_tree(value: Any) -> Any:
    """The canonical tree of ``canonical._fragment_tree`` made from the parsed value instead of a
    second parse: integral floats as plain integers, floats ``repr`` writes differently as orjson
    fragments of their ECMAScript text. An object or array with nothing to replace is shared, not
    copied (the trees are never changed once made)."""
    return replace_leaves(value, (IntegralFloat, _FLOAT), _fragment_leaf)


def _fragment_leaf(x: Any) -> Any:
    if type(x) is IntegralFloat:
        return int(x)
    # (as canonical._encodable_float; integral ones are IntegralFloat by now, or refused)
    return x if _float_ok(x) else _canonical._Fragment(es_number(x).encode("ascii"))


def parse_fast(raw: bytes) -> Parsed | None:
    """``loads_strict(raw.decode("utf-8"), raw)`` when this path can decide it exactly, else None
    (the caller then runs ``loads_strict``, which gives the value or the reason it is refused).
    *raw*: a document's bytes (the caller has already refused a byte-order mark and a size
    over the limit)."""
    if _from_json is None or _canonical._Fragment is None:
        return None
    if _ESCAPE.search(raw) is not None and _SURROGATE_ESCAPE.search(raw) is not None:
        return None
    try:
        value = _from_json(raw, allow_inf_nan=False, catch_duplicate_keys=True, cache_mode="keys",
                           float_mode="float")
    except Exception:  # (malformed, a duplicate, NaN, too deep: the reference words why)
        return None
    if type(value) is not _DICT and type(value) is not _LIST:
        return None
    keys = _keys_may_need_utf16(raw)
    try:
        safe, integral, order = _walk(value, keys)
    except UnsafeNumber:
        return None
    if safe:
        return Parsed(value, True, integral, value, (), order)
    return Parsed(value, False, integral, _fragment_tree(value), (), order)
