"""RFC 8785 (JCS) canonical JSON and the JACS document hash.

``canonicalize`` is byte-identical to the reference ``rfc8785.dumps`` (property
tests in ``tests/core/test_canonical*.py`` hold it to that, on arbitrary values
and on the varied real-world generator), and every JSON value takes the C JSON
encoder; the reference is called only to raise its error for what JCS refuses.
Where Python's ``json`` and JCS disagree:

* floats: Python's ``repr`` and ECMAScript's Number-to-String agree for
  non-integral values with 1e-4 <= |x| < 1e16. An integral float up to 2^53
  (``1.0``, ``-0.0``) is written like the integer; any other float (``1e-7``,
  ``7.02e16``, ``1e21``) is handed to the encoder as a marker string (a lone surrogate, which
  no valid value holds) and the marker is replaced by :func:`es_number` text;
* keys: Python sorts by code point, JCS by UTF-16 code unit. The two orders only
  differ between a character in U+E000..U+FFFF and one above U+FFFF (emoji), so
  only an object with keys of both kinds is sorted by a key type that compares
  by UTF-16 (:class:`_U16Key`); emoji keys alone keep the encoder's order;
* integers outside +-(2^53-1), non-finite floats, lone surrogates and non-JSON
  types are refused by the reference with its own error.

A parsed document takes one orjson pass per object hashed or signed (:func:`canonical_fast`):
the strict parse notes whether any object's keys need the UTF-16 order, and floats that
``repr`` writes differently are parsed again as orjson fragments of their ECMAScript text.

Size: the canonical writer and the strict parser that feeds it share the number and
key-order rules (float text, UTF-16 order, markers and fragments, integral floats), so they
sit in one module a reviewer can hold against RFC 8785 at once.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from typing import Any

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
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False, check_circular=False
)
_encode_str = json.encoder.encode_basestring  # the C function when there is one
try:  # the C encoder itself, made once (JSONEncoder.encode makes one per call)
    _c_encoder = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, _ENCODER.default, _encode_str, None, ":", ",", True, False, False)
except (AttributeError, TypeError):  # no C speedups (another Python): the pure-Python encoder
    _c_encoder = None


try:  # orjson writes the same bytes about four times faster (property tests: tests/core/test_canonical*.py)
    import orjson as _orjson

    _ORJSON_SORTED: int = _orjson.OPT_SORT_KEYS
    _Fragment: Any = _orjson.Fragment
    _OrjsonError: Any = _orjson.JSONEncodeError
except ImportError:  # (a dependency; the C json encoder alone is exact too, only slower)
    _orjson = None  # type: ignore[assignment]
    _Fragment = None
    _OrjsonError = TypeError
#: :func:`canonical_bytes` writes a whole object of a parsed tree in one pass (orjson is there)
ONE_PASS = _orjson is not None


def _encode_fast(value: Any) -> bytes | None:
    """The UTF-8 bytes of :func:`_encode` (sorted keys, compact) by orjson, for values whose keys
    sort the same by code point and by UTF-16 and whose floats need no help (orjson sorts and
    writes the safe floats as ``repr``, escapes as RFC 8785 does); None when orjson is missing
    or refuses the value (a lone surrogate, a huge integer: the general path decides)."""
    if _orjson is None:
        return None
    try:
        return _orjson.dumps(value, option=_ORJSON_SORTED)
    except _OrjsonError:
        return None


def _utf16_sorted(value: Any) -> Any:
    """A copy of *value* whose objects hold their members in RFC 8785 order (by UTF-16 code unit),
    for orjson without its sort (it keeps the order it is given); parts without objects are shared."""
    t = type(value)
    if t is dict:
        keys = list(value)
        if not "".join(keys).isascii() and _order_differs(keys):
            keys.sort(key=_utf16_units)
        else:
            keys.sort()
        # (leaves are taken as they are, without a call each)
        return {k: _utf16_sorted(value[k]) if type(value[k]) in _CONTAINERS else value[k] for k in keys}
    if t is list or t is tuple:
        return [_utf16_sorted(v) if type(v) in _CONTAINERS else v for v in value]
    return value


_CONTAINERS = (dict, list, tuple)


def _utf16_units(k: str) -> bytes:
    return k.encode("utf-16-be", "surrogatepass")


def utf16_ordered(value: Any) -> Any:
    """*value* (a parsed tree) with every object's members in RFC 8785 order, for
    :func:`dumps_in_order` (made once per document when its keys need the UTF-16 order)."""
    return _utf16_sorted(value)


def dumps_in_order(value: Any) -> bytes | None:
    """Compact JSON of a value whose objects are already in RFC 8785 order (orjson keeps the
    order it is given); None when orjson is missing or refuses it."""
    if _orjson is None:
        return None
    try:
        return _orjson.dumps(value)
    except _OrjsonError:
        return None


def _encode_utf16_order(value: Any) -> bytes | None:
    """:func:`_encode_fast` for a value whose keys may sort differently by UTF-16 (None as it)."""
    if _orjson is None:
        return None
    try:
        return _orjson.dumps(_utf16_sorted(value))
    except (_OrjsonError, RecursionError):
        return None


def _encode(value: Any) -> str:
    """Compact JSON with sorted keys, no ASCII escaping, NaN refused (the C encoder, one pass)."""
    if type(value) is str:
        return _encode_str(value)
    if _c_encoder is None:
        return _ENCODER.encode(value)
    return "".join(_c_encoder(value, 0))


class CanonicalizationError(ValueError):
    """The value cannot be written as RFC 8785 canonical JSON."""


def canonicalize_reference(value: Any) -> bytes:
    """Canonical JSON by the reference ``rfc8785`` package (slow, exact; imported when first needed:
    only values JCS refuses come here)."""
    import rfc8785

    try:
        return rfc8785.dumps(value)
    except RecursionError as exc:
        raise CanonicalizationError("JSON nesting is too deep to canonicalize") from exc
    except rfc8785.CanonicalizationError as exc:
        raise CanonicalizationError(str(exc)) from exc
    except (TypeError, ValueError) as exc:  # unexpected Python types
        raise CanonicalizationError(str(exc)) from exc


def _fast_ok(value: Any) -> bool:
    """True when one C-encoder pass over *value* is exactly JCS (no float or key needs help)."""
    try:
        return _scan(value) == _PLAIN
    except RecursionError:
        return False


_PLAIN, _FIX, _REFUSE = 0, 1, 2
# a character in U+E000..U+FFFF, and one above U+FFFF: keys of both kinds in one object sort
# differently by code point and by UTF-16 code unit. Told apart without a regular expression
# (the character class [\ue000-\uffff] alone takes 5 ms to compile, at every start): in UTF-8
# the first kind, and only it, starts with the byte EE or EF; the second has a code point above
# U+FFFF (max).


def _has_bmp_high(s: str) -> bool:
    """True when *s* holds a character in U+E000..U+FFFF."""
    b = s.encode("utf-8", "surrogatepass")
    return b"\xee" in b or b"\xef" in b


def _has_astral(s: str) -> bool:
    """True when *s* holds a character above U+FFFF."""
    return bool(s) and max(s) > "\uffff"


def _order_differs(keys: Any) -> bool:
    """True when these keys (of one object) may sort differently by UTF-16 than by code point."""
    high = astral = False
    for k in keys:
        if not k.isascii() and max(k) >= "\ue000":
            high = high or _has_bmp_high(k)
            astral = astral or max(k) > "\uffff"
            if high and astral:
                return True
    return False


def _float_ok(v: float) -> bool:
    """True when ``repr(v)`` is already the ECMAScript text."""
    a = abs(v)
    return 1e-4 <= a < 1e16 and v != int(v)


def _scan(value: Any) -> int:
    """_PLAIN: the C encoder writes *value* as JCS; _FIX: a float or an object's key order needs
    :func:`_rebuild`; _REFUSE: the reference refuses it (or it is not plain JSON types)."""
    result = _PLAIN
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
                    return _REFUSE
            if result == _PLAIN and not all(k.isascii() for k in v) and _order_differs(v):
                result = _FIX
            push(v.values())
        elif t is list or t is tuple:
            push(v)
        elif t is int or t is IntegralFloat:
            if v > _MAX_SAFE or v < -_MAX_SAFE:
                return _REFUSE
        elif t is float:
            if v != v or v in (_INF, -_INF):
                return _REFUSE
            if not _float_ok(v):
                result = _FIX
        else:
            return _REFUSE
    return result


_INF = float("inf")
_MISSING: Any = object()
# a lone surrogate cannot be in a value that is canonicalized (the reference refuses it), so a
# string made of them and a number is a marker no value can hold
_MARK = "\udbff"
_MARKED = re.compile('"\udbff(\\d+)\udbff"')


class _U16Key(str):
    """A key that sorts by UTF-16 code units (RFC 8785 3.2.3), for the C encoder's sort."""

    __slots__ = ()

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, str):
            return NotImplemented
        return self.encode("utf-16-be", "surrogatepass") < other.encode("utf-16-be", "surrogatepass")


def es_number(v: float) -> str:
    """ECMAScript's Number::toString of a finite float (RFC 8785 3.2.2.3), from Python's shortest
    round-trip digits (the same digits ECMAScript chooses)."""
    if v == 0:
        return "0"
    sign = "-" if v < 0 else ""
    r = repr(abs(v))
    if "e" in r:
        mant, _, exp = r.partition("e")
        digits = mant.replace(".", "")
        n = int(exp) + 1  # value = 0.digits * 10^n
    else:
        whole, _, frac = r.partition(".")
        digits = whole + frac
        n = len(whole)
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = n - 1
    exp_text = ("e+" if e > 0 else "e-") + str(abs(e))
    if k == 1:
        return sign + digits + exp_text
    return sign + digits[0] + "." + digits[1:] + exp_text


def _rebuild(value: Any, marks: list[str]) -> Any:
    """A copy of *value* the C encoder writes as JCS: floats it would write differently become
    integers or markers (their text appended to *marks*), objects whose key order differs get
    :class:`_U16Key` keys. Parts that need nothing are shared, not copied."""
    t = type(value)
    if t is float:
        if _float_ok(value):
            return value
        if value == int(value) and abs(value) <= 2**53:
            return int(value)  # exact, and ECMAScript writes these like the integer
        marks.append(es_number(value))
        return f"{_MARK}{len(marks) - 1}{_MARK}"
    if t is dict:
        items = [(k, _rebuild(v, marks)) for k, v in value.items()]
        if not all(k.isascii() for k in value) and _order_differs(value):
            return {_U16Key(k): v for k, v in items}
        return dict(items)
    if t is list or t is tuple:
        return [_rebuild(v, marks) for v in value]
    return value


def _encode_fixed(value: Any) -> str | None:
    """The JCS text of a value :func:`_scan` found needing help; None when a marker is ambiguous."""
    marks: list[str] = []
    text = _encode(_rebuild(value, marks))
    if not marks:
        return text
    found = 0

    def sub(m: re.Match[str]) -> str:
        nonlocal found
        found += 1
        i = int(m.group(1))
        return marks[i] if i < len(marks) else m.group(0)

    text = _MARKED.sub(sub, text)
    # a string of the value spelled like a marker (lone surrogates: refused below) would be one more
    return text if found == len(marks) else None


def canonicalize(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON value."""
    try:
        kind = _scan(value)
        if kind == _REFUSE:
            return canonicalize_reference(value)  # raises the reference's error (or agrees with it)
        if kind == _PLAIN:
            fast = _encode_fast(value)
            if fast is not None:
                return fast
        text = _encode(value) if kind == _PLAIN else _encode_fixed(value)
    except RecursionError as exc:
        raise CanonicalizationError("JSON nesting is too deep to canonicalize") from exc
    if text is not None:
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            pass  # lone surrogate: let the reference produce its error
    return canonicalize_reference(value)


# UTF-8 lead bytes of characters in U+E000-U+FFFF (EE, EF) and above U+FFFF (F0-F4)
_BMP_HIGH_UTF8 = re.compile(rb"[\xee\xef]")
_ASTRAL_UTF8 = re.compile(rb"[\xf0-\xf4]")


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


class UnsafeNumber(ValueError):
    """A float the library refuses: infinite, or integral beyond +-(2^53-1)."""


def float_kind(v: float) -> float | IntegralFloat | None:
    """The strict parse's rule for a JSON float's value *v*: None when the C encoder writes it as
    JCS does; the :class:`IntegralFloat` to put in its place when it is integral (``101.0`` is
    written by JCS exactly like the integer, so the encoder gets the integer, marked as written
    as a float); *v* itself when it needs its ECMAScript text. Raises :class:`UnsafeNumber`."""
    a = abs(v)
    if 1e-4 <= a < 1e16 and v != int(v):
        return None
    if a == float("inf"):
        raise UnsafeNumber(v)
    if v == int(v):
        if a > _MAX_SAFE:
            raise UnsafeNumber(v)
        return IntegralFloat(int(v))
    return v


class _NumberScan:
    """json.loads hooks: refuse what the library refuses, note numbers the C encoder writes differently."""

    __slots__ = ("decoder", "integral_floats", "key_order", "safe")

    def __init__(self) -> None:
        self.safe = True
        self.integral_floats = False
        #: some object's keys sort differently by UTF-16 than by code point
        self.key_order = False

    def object(self, pairs: list[Any]) -> JSONObject:
        """The object_pairs_hook: duplicates refused; notes an object whose key order needs UTF-16."""
        d = dict(pairs)
        if len(d) != len(pairs):
            _no_duplicates(pairs)  # raises, naming the key
        if len(d) > 1 and not self.key_order and not "".join(d).isascii() and _order_differs(d):
            self.key_order = True
        return d

    def parse_float(self, text: str) -> float | int:
        v = float(text)
        try:
            kind = float_kind(v)
        except UnsafeNumber:
            raise StrictJSONError(f"JSON integer {text} is outside the I-JSON safe integer range") from None
        if kind is None:
            return v
        if type(kind) is IntegralFloat:
            self.integral_floats = True
            return kind
        self.safe = False
        return v

    def parse_int(self, text: str) -> int:
        v = int(text)
        if v > _MAX_SAFE or v < -_MAX_SAFE:
            raise StrictJSONError(f"JSON integer {text} is outside the I-JSON safe integer range")
        return v

    def parse_constant(self, text: str) -> float:
        raise StrictJSONError(f"'{text}' is not a JSON value")

    def decoders(self) -> None:
        """Make this scan's decoder (once per thread: a decoder per call costs)."""
        self.decoder = json.JSONDecoder(parse_float=self.parse_float, parse_int=self.parse_int,
                                        parse_constant=self.parse_constant, object_pairs_hook=self.object)


_SCANS = threading.local()


def _scan_for_thread() -> _NumberScan:
    scan: _NumberScan | None = getattr(_SCANS, "scan", None)
    if scan is None:
        scan = _NumberScan()
        scan.decoders()
        _SCANS.scan = scan
    scan.safe, scan.integral_floats, scan.key_order = True, False, False
    return scan


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
    #: the value for canonical JSON (:func:`canonical_bytes`): *value* itself when it is safe, else
    #: the same text parsed again with the floats the encoder writes differently as orjson
    #: fragments of their ECMAScript text (or, without orjson or when some keys need the UTF-16
    #: order, as markers)
    tree: Any = None
    #: the ECMAScript text of each marker in *tree*
    marks: tuple[str, ...] = ()
    #: some object's keys sort differently by UTF-16 code unit than by code point (None: not known)
    key_order: bool | None = None


def _encodable_float(t: str) -> tuple[Any, str | None]:
    """The JSON float *t* as the encoders may write it (a float ``repr`` writes as ECMAScript, or
    the integer an integral one canonicalizes as) and None; else None and its ECMAScript text."""
    v = float(t)
    if _float_ok(v):
        return v, None
    if v == int(v) and abs(v) <= 2**53:
        return int(v), None
    return None, es_number(v)


def _fragment_tree(text: str) -> Any:
    """*text* (already parsed strictly) parsed again for orjson: floats that ``repr`` does not write
    as ECMAScript become fragments of their ECMAScript text (written as they are)."""

    def number(t: str) -> Any:
        v, es = _encodable_float(t)
        return v if es is None else _Fragment(es.encode("ascii"))

    return json.loads(text, parse_float=number)


def _marked_tree(text: str) -> tuple[Any, tuple[str, ...]]:
    """*text* (already parsed strictly) parsed again for canonical JSON: floats that ``repr`` does
    not write as ECMAScript become marker strings (lone surrogates: a strict value holds none)."""
    marks: list[str] = []

    def number(t: str) -> Any:
        v, es = _encodable_float(t)
        if es is None:
            return v
        marks.append(es)
        return f"{_MARK}{len(marks) - 1}{_MARK}"

    return json.loads(text, parse_float=number), tuple(marks)


def canonical_fast(tree: Any, key_order: bool | None) -> bytes | None:
    """Canonical JSON of (a part of) a :attr:`Parsed.tree` without markers in one orjson pass, or
    None when that cannot be done (no orjson, nesting deeper than its limit): then
    :func:`canonical_bytes` or :func:`canonicalize`. *key_order* as for :func:`canonical_bytes`."""
    if _orjson is None:
        return None
    if not key_order:
        out = _encode_fast(tree)
        if out is None or key_order is False or _BMP_HIGH_UTF8.search(out) is None \
                or _ASTRAL_UTF8.search(out) is None:
            return out
    return _encode_utf16_order(tree)  # (both kinds of high characters: some keys may need UTF-16 order)


def canonical_bytes(tree: Any, marks: tuple[str, ...] = (), key_order: bool | None = None,
                    value: Any = _MISSING) -> bytes:
    """Canonical JSON of (a part of) a :attr:`Parsed.tree`: one encoder pass; markers are replaced.

    *key_order* (:attr:`Parsed.key_order`): whether some object's keys need the UTF-16 sort; when
    not known (None), only a text with both kinds of high characters is sorted again. *value*: the
    same part of :attr:`Parsed.value`, canonicalized the general way (:func:`canonicalize`) when
    orjson refuses a tree of fragments (nesting deeper than its limit)."""
    if not marks and _orjson is not None:
        out = canonical_fast(tree, key_order)
        if out is not None:
            return out
        if value is not _MISSING:
            return canonicalize(value)
    try:
        text = _encode(tree)
        if key_order is None:
            key_order = not text.isascii() and _has_bmp_high(text) and _has_astral(text)
        if key_order:
            text = _encode(_rebuild(tree, []))  # (the tree's floats are all safe: only keys change)
    except RecursionError as exc:
        raise CanonicalizationError("JSON nesting is too deep to canonicalize") from exc
    except TypeError as exc:  # an orjson fragment without its value: not a tree this module made so
        raise CanonicalizationError(f"not a canonical JSON tree: {exc}") from exc
    if marks and _MARK in text:
        text = _MARKED.sub(lambda m: marks[int(m.group(1))], text)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (in a value not parsed here): the reference's error
        return canonicalize_reference(tree)


def loads_strict(text: str, raw: bytes | None = None) -> Parsed:
    """Parse JSON as strictly as the JACS library (SPEC 12.1); raises ``ValueError`` with a reason.

    Refused: duplicate member names anywhere, NaN/Infinity, integral numbers
    outside +-(2^53-1) (also when written as floats: ``1e16``), lone
    surrogates.  Integral floats come back as :class:`IntegralFloat`. *raw*: the UTF-8 bytes
    *text* was decoded from, when the caller has them (searched for escapes instead of the text:
    much faster when the text holds characters above U+FFFF).
    """
    if text.startswith("\ufeff"):  # (as json.loads)
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    scan = _scan_for_thread()
    value = scan.decoder.decode(text)
    # (str.find first: a regex over a long non-ASCII text costs more than the parse)
    # (escapes are ASCII: written the same in the bytes and the text)
    escaped = (b"\\ud" in raw or b"\\uD" in raw) if raw is not None else ("\\ud" in text or "\\uD" in text)
    if escaped and _SURROGATE_ESCAPE.search(text) is not None \
            and _lone_surrogate(value) is not None:
        raise StrictJSONError("a string holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode text")
    if scan.safe:
        return Parsed(value, True, scan.integral_floats, value, (), scan.key_order)
    if _Fragment is not None:
        return Parsed(value, False, scan.integral_floats, _fragment_tree(text), (), scan.key_order)
    tree, marks = _marked_tree(text)
    return Parsed(value, False, scan.integral_floats, tree, marks, scan.key_order)


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

    Only key order can still differ from JCS: when the text has both a character
    in U+E000..U+FFFF and one above U+FFFF (checked on the output, at C speed),
    the value takes the general path.
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
    if _BMP_HIGH_UTF8.search(data) is not None and _ASTRAL_UTF8.search(data) is not None:
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
