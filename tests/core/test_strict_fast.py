"""The compiled strict parse (core/strict_fast.py, jiter) against the reference (canonical.loads_strict).

Whatever the compiled path answers must be what the reference answers: the same value with the
same types (IntegralFloat for ``5.0``, a float for ``1e-7``, -0.0 kept apart from 0.0), the same
flags, the same canonical tree; where it does not decide, the reference runs, so a refusal has the
reference's reason. The comparison is made on what the verifier sees (``verify._parse``: the value
or the reason users read), on varied real-world content written several ways, on hostile text,
and on random edits of a document.
"""

import json
import math
import random
import re
import struct

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from varied_json import EMOJI_KEYS, HIGH_BMP_KEYS, varied_payload, varied_value

from jacs_desktop.core import canonical
from jacs_desktop.core.canonical import IntegralFloat, canonical_bytes, loads_strict
from jacs_desktop.core.strict_fast import AVAILABLE, parse_fast
from jacs_desktop.core.verify import MAX_DOCUMENT_BYTES, _parse, verify_bytes

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="jiter is not installed")


def _same(a, b, where="$"):
    """Equal values of the same types all the way down (floats by their bits)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} vs {type(b).__name__}"
    if type(a) is dict:
        assert list(a) == list(b), f"{where}: keys {list(a)!r:.200} vs {list(b)!r:.200}"
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif type(a) is list:
        assert len(a) == len(b), f"{where}: lengths"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif type(a) is float:
        assert struct.pack("<d", a) == struct.pack("<d", b), f"{where}: {a!r} vs {b!r}"
    else:
        assert a == b, f"{where}: {a!r:.100} vs {b!r:.100}"


def _same_tree(a, b, where="$"):
    """:func:`_same` for canonical trees, whose orjson fragments compare by their text."""
    if type(a) is orjson.Fragment or type(b) is orjson.Fragment:
        assert type(a) is type(b) and orjson.dumps(a) == orjson.dumps(b), where
    elif type(a) in (dict, list):
        assert type(a) is type(b) and len(a) == len(b), where
        for k, x, y in (((k, a[k], b[k]) for k in a) if type(a) is dict else
                        ((i, x, y) for i, (x, y) in enumerate(zip(a, b, strict=True)))):
            _same_tree(x, y, f"{where}.{k}")
        if type(a) is dict:
            assert list(a) == list(b), where
    else:
        _same(a, b, where)


def _same_parse(raw: bytes) -> bool:
    """The verifier's parse with the compiled path and without it give the same result (the value,
    flags and canonical tree, or the same reason); returns whether the compiled path decided."""
    got, why = _parse(raw, MAX_DOCUMENT_BYTES)
    ref, ref_why = _parse(raw, MAX_DOCUMENT_BYTES, compiled=False)
    assert why == ref_why
    assert (got is None) == (ref is None)
    if ref is None:
        return False
    _same(got.value, ref.value)
    assert (got.safe, got.integral_floats, got.key_order, got.marks) == \
        (ref.safe, ref.integral_floats, ref.key_order, ref.marks)
    # the canonical tree: the same members in the same order and types, fragments with the same text
    _same_tree(got.tree, ref.tree)
    if isinstance(ref.value, dict):
        assert canonical_bytes(got.tree, got.marks, got.key_order) == canonical_bytes(ref.tree, ref.marks,
                                                                                        ref.key_order)
    return parse_fast(raw) is not None


def _writings(value) -> list[bytes]:
    """The same value as several writers put it: pretty and compact, escaped and not."""
    return [json.dumps(value, ensure_ascii=False, indent=2).encode(), json.dumps(value, separators=(",", ":")).encode(),
            json.dumps(value, ensure_ascii=False, sort_keys=True).encode(),
            orjson.dumps(value, option=orjson.OPT_INDENT_2) if _orjson_ok(value) else b"{}"]


def _orjson_ok(value) -> bool:
    try:
        orjson.dumps(value)
        return True
    except (TypeError, orjson.JSONEncodeError):
        return False


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**9))
def test_varied_documents_parse_the_same(i):
    decided = [_same_parse(raw) for raw in _writings(varied_payload(i))]
    assert decided[0] and decided[2]  # (real documents are written unescaped: the compiled path takes them)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**9), st.floats(0, 1), st.floats(0, 1))
def test_varied_values_parse_the_same(seed, exotic, odd):
    value = {"v": varied_value(random.Random(seed), exotic=exotic, odd=odd, depth=6)}
    for raw in _writings(value):
        _same_parse(raw)


def _number_texts():
    digits = st.text("0123456789", min_size=1, max_size=25)
    return st.one_of(
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.builds(lambda s, i, f, e: f"{s}{i.lstrip('0') or '0'}" + (f".{f}" if f else "") + (f"e{e}" if e is not None else ""),
                  st.sampled_from(["", "-"]), digits, st.one_of(st.just(""), digits),
                  st.one_of(st.none(), st.integers(-400, 400))),
    )


@settings(max_examples=500, deadline=None)
@given(st.lists(_number_texts(), min_size=1, max_size=6), st.sampled_from(EMOJI_KEYS + HIGH_BMP_KEYS + ["a", "é"]))
@example(["5.0", "5e0", "-0.0", "0.99999999999999999", "4503599627370495.5"], "a")
@example(["1e16", "9007199254740991"], "a")
@example(["9007199254740992"], "a")
@example(["1e400"], "a")
@example(["-1e400", "1e-400", "5e-324", "2.2250738585072014e-308"], "a")
@example(["1" * 5000], "a")
@example(["1e-7", "7.02e16", "1e21", "123456789.125", "1e15", "100.0"], "😀")
def test_numbers_parse_the_same(numbers, key):
    """Every kind of number: integral floats (IntegralFloat), floats repr writes differently
    (fragments), integers and integral floats past 2^53 and overflowing floats (refused)."""
    body = ", ".join(numbers)
    _same_parse(f'{{"{key}": [{body}], "n": {numbers[0]}, "\uff21": 1}}'.encode())


HOSTILE = [
    b'{"a": 1, "a": 2}', b'{"a": 1, "\\u0061": 2}', b'{"x": {"b": 1, "b": 2}}', b'[{"a": 1}, {"a": 1}]',
    b'{"a": [1, 2, {"k": 1, "j": 2, "k": 3}], "a": 0}', b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}',
    b'{"a": "\\ud800"}', b'{"a": "\\udc00"}', b'{"\\ud800": 1}', b'{"a": "\\ud83d\\ude00"}', b'{"a": "x\\uDBFF\\uDFFF"}',
    b'{"a": "\\ud83d"}', b'{"a": "\\ud83d\\u0041"}', b'{"\\ud83d\\ude00": 1, "\\uff21": 2}', b'{"\\ue000": 1, "\xf0\x9f\x98\x80": 2}',
    b'\xef\xbb\xbf{"a": 1}', b'{"a": "\x01"}', b'{"a": 1,}', b'[1,]', b'{"a": 01}', b'{"a": 1.}', b'{"a": .5}',
    b'{"a": +1}', b'{"a": -}', b'{} x', b'{}\x00', b'\x0c{}', b'', b'   ', b'"text"', b'5', b'5.0', b'null', b'[]',
    b'{}', b'{"a": tru}', b'{"a": "\\x"}', b'{"a": "\xff"}', b'{"a": "\xed\xa0\x80"}', b'{"a": "\xc0\xaf"}',
    b'{"a": "\xf4\x90\x80\x80"}', b'{"a": "\xe2\x82"}', b'{"a": 1}\xff', b'{"a" : 1 , "b":[ ] }\r\n\t',
    b'{"a": "\\u0000\\/\\b\\f\\n\\r\\t\\"\\\\"}', b'{"a": "\x7f"}', b'{"a": "\xef\xbf\xbe"}', b'{"\\uE000": {"\xf0\x9f\x9a\x80": 1, "\\uFF21": 2}}',
    b'{"a": 1e16}', b'{"a": -1e16}', b'{"a": 12345678901234567890}', b'{"a": -9223372036854775809}',
    b'{"a": 18446744073709551616}', b'{"a": 1E5, "b": 1e+5, "c": 1E-05}', b'{"a": 1' + b"0" * 400 + b'}',
    b'[' * 199 + b']' * 199, b'[' * 200 + b']' * 200, b'[' * 201 + b']' * 201, b'[' * 2000 + b']' * 2000,
    b'{"a":' * 150 + b'1' + b'}' * 150, b'{"a": "' + "😀".encode() * 1000 + b'"}',
]


@pytest.mark.parametrize("raw", HOSTILE, ids=lambda r: repr(r[:40]))
def test_hostile_text_parses_the_same(raw):
    _same_parse(raw)


def test_the_compiled_path_decides_plain_documents_and_leaves_the_rest():
    assert parse_fast(b'{"a": [1, 2.5, "x", null, true], "b": {"c": 1.0}}') is not None
    p = parse_fast(b'{"a": 1.0, "b": 1e-7, "c": -0.0}')
    assert p is not None and type(p.value["a"]) is IntegralFloat and type(p.value["c"]) is IntegralFloat
    assert p.integral_floats and not p.safe and canonical_bytes(p.tree) == b'{"a":1,"b":1e-7,"c":0}'
    for undecided in (b'{"a": 1, "a": 2}', b'{"a": "\\ud83d\\ude00"}', b'{"a": 1e16}', b'5', b'{"a": NaN}',
                      b'[' * 300 + b']' * 300):
        assert parse_fast(undecided) is None, undecided
    assert parse_fast(b'{"\xf0\x9f\x98\x80": 1, "\xef\xbc\xa1": 2}').key_order  # (emoji and U+FF21)
    assert not parse_fast(b'{"\xf0\x9f\x98\x80": 1, "b": "\xef\xbc\xa1"}').key_order  # a value, not a key


def _mutations():
    alphabet = st.sampled_from([*'{}[]:,"\\ 0123456789.eE+-aAtfnul', "\\u", "\\ud83d", "\\ude00", "é", "😀",
                                "\uff21", "\x01", "NaN", "1e400", ".0"])
    return st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 3), alphabet), min_size=1, max_size=4)


@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=0, max_value=10**6), _mutations())
def test_edited_documents_parse_the_same(seed, edits):
    """Random edits of a document (inserted, deleted, replaced characters): a broken one gets the
    reference's reason, one that still parses the same value."""
    text = json.dumps(varied_payload(seed), ensure_ascii=False)
    for pos, cut, piece in edits:
        pos %= len(text) + 1
        text = text[:pos] + piece + text[pos + cut:]
    _same_parse(text.encode("utf-8", "surrogatepass"))


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["{}", "{:e}", "{:.17g}", "{:.3f}", "{!r}"]))
def test_floats_are_read_exactly_as_python_reads_them(x, fmt):
    text = fmt.format(x)
    if "inf" in text or "nan" in text:
        return
    _same_parse(f'{{"x": [{text}]}}'.encode())
    p = parse_fast(f'{{"x": [{text}]}}'.encode())
    if p is not None and type(p.value["x"][0]) is float:
        assert struct.pack("<d", p.value["x"][0]) == struct.pack("<d", float(text))
    assert math.isfinite(float(text))


def test_key_order_helpers_match_the_character_classes():
    """_order_differs tells the two kinds of high characters apart without the (slow to compile)
    regular expressions it used; the same answers over every code point and mixed keys."""
    high, astral = re.compile("[\ue000-\uffff]"), re.compile("[\U00010000-\U0010ffff]")
    for c in range(0, 0x110000, 7):
        s = "a" + chr(c)
        assert canonical._has_bmp_high(s) == (high.search(s) is not None), hex(c)
        assert canonical._has_astral(s) == (astral.search(s) is not None), hex(c)
    for keys in (["😀", "\uff21"], ["😀\uff21"], ["\ue000", "a"], ["😀", "é"], ["\uffff", "\U00010000"], ["\ud800", "😀"]):
        ref = any(high.search(k) for k in keys) and any(astral.search(k) for k in keys)
        assert canonical._order_differs(keys) == ref, keys


def test_a_verdict_is_the_same_either_way(monkeypatch):
    """End to end: a document the compiled path refuses to decide (a duplicate) and one it decides
    get the verdicts and reasons of the reference path."""
    from jacs_desktop.core import verify

    docs = [b'{"jacsId": "a", "jacsId": "b"}', b'{"a": 1.0, "b": 1e-7}', b'{"a": 1e16}', b'{"a": "\\udc00"}']
    fast = [verify_bytes(d).to_dict() for d in docs]
    monkeypatch.setattr(verify, "parse_fast", lambda raw: None)
    assert [verify_bytes(d).to_dict() for d in docs] == fast
    assert "duplicate JSON object key 'jacsId'" in fast[0]["checks"][0]["reason"]


def test_loads_strict_is_still_the_reference():
    """(the tests above compare against it: it must still refuse what the library refuses)"""
    for bad in ('{"a": 1, "a": 2}', '{"a": NaN}', '{"a": 1e16}', '{"a": "\\ud800"}'):
        with pytest.raises(ValueError):
            loads_strict(bad)
