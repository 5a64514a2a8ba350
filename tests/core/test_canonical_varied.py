"""The general canonical path (every JSON value through the C encoder) against rfc8785, on content
as varied as real documents: emoji and high keys, UTF-16 order, tiny/huge/integral floats, depth."""

import json
import random
import struct

import rfc8785
from hypothesis import example, given, settings
from hypothesis import strategies as st
from varied_json import EMOJI_KEYS, HIGH_BMP_KEYS, old_fast_path_refuses, varied_payload, varied_value

from jacs_desktop.core.canonical import (
    CanonicalizationError,
    _fast_ok,
    canonical_bytes,
    canonicalize,
    canonicalize_parsed,
    es_number,
    loads_scanned,
    loads_strict,
)


def _same_as_reference(value) -> None:
    try:
        ref = rfc8785.dumps(value)
    except Exception:  # the reference refuses it: so must we, with our error type
        try:
            canonicalize(value)
        except CanonicalizationError:
            return
        raise AssertionError(f"the reference refuses {value!r:.200} but we wrote it") from None
    assert canonicalize(value) == ref


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=10**9))
def test_varied_payloads_match_reference(i):
    _same_as_reference(varied_payload(i))


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=10**9), st.floats(0, 1), st.floats(0, 1))
def test_varied_values_match_reference(seed, exotic, odd):
    _same_as_reference(varied_value(random.Random(seed), exotic=exotic, odd=odd, depth=5))


def test_the_generator_takes_the_old_slow_path_about_half_the_time():
    """The benchmark's content is as varied as real data (about half the documents)."""
    share = sum(old_fast_path_refuses(varied_payload(i)) for i in range(1000)) / 1000
    assert 0.35 <= share <= 0.65, share


_key_chars = st.sampled_from(["a", "Z", "é", "\u00ff", "\ud7ff", "\ue000", "\uf8ff", "\ufe0f", "\uff21", "\uffff",
                              "😀", "🇩", "\U00010000", "\U0010ffff", "\x00", "\x7f"])
_keys = st.one_of(st.text(_key_chars, max_size=4), st.sampled_from(EMOJI_KEYS + HIGH_BMP_KEYS), st.text(max_size=5))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_keys, st.integers(0, 9), max_size=8))
def test_keys_sort_by_utf16_code_units(d):
    _same_as_reference(d)
    _same_as_reference({"outer": [d, {"x": d}]})


_bits = st.integers(min_value=0, max_value=2**64 - 1).map(lambda b: struct.unpack("<d", struct.pack("<Q", b))[0])
_special = st.sampled_from([0.0, -0.0, 1.0, -1.0, 1e-7, -1e-7, 1e-6, 1e-5, 9.999e-5, 1e-4, 5e-324, 2.2250738585072014e-308,
                            1.7976931348623157e308, 1e16, 1e21, 1e22, 9007199254740992.0, 9007199254740993.0,
                            7.022867711623962e16, 123456789012345680.0, 1e15 + 0.5, 0.1 + 0.2, 100.0, 1e20])


@settings(max_examples=1000, deadline=None)
@given(st.one_of(_bits, _special))
@example(1e-7)
@example(-0.0)
@example(1e21)
def test_floats_are_written_as_ecmascript(x):
    if x != x or x in (float("inf"), float("-inf")):
        return
    assert es_number(x).encode() == rfc8785.dumps(x)
    _same_as_reference([x, {"v": x}])


def test_deep_nesting_matches_reference():
    v = "leaf"
    for i in range(200):
        v = {"😀" if i % 2 else "\uff21": v, "k": 1e-7} if i % 3 else [v, 1.0]
    _same_as_reference(v)


def test_a_string_spelled_like_a_marker_is_refused_like_the_reference():
    """The markers are lone surrogates: a value holding one is refused, never confused with a number."""
    for v in (["\udbff0\udbff", 1e-7], {"\udbff0\udbff": 1e-7}, ["\udbff0\udbff"], {"a": "\udbff1\udbff", "b": 1e21}):
        _same_as_reference(v)


def test_emoji_keys_alone_take_one_encoder_pass():
    assert _fast_ok({"😀": 1, "a": {"🚀": [1, "x"]}, "é": 2})
    assert not _fast_ok({"😀": 1, "\uff21": 2})  # both kinds: sorted by UTF-16
    assert not _fast_ok({"a": 1e-7}) and not _fast_ok({"a": 1.0})


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=10**9), st.booleans())
def test_the_parsed_path_matches_reference(i, exotic):
    """verify_bytes' path: the strict parse (which notes key order and marks floats), then one
    encoder pass per member, or the older one-pass path for safe numbers."""
    value = varied_payload(i) if not exotic else {"v": varied_value(random.Random(i), exotic=0.7, odd=0.5)}
    text = json.dumps(value, ensure_ascii=bool(i % 2))
    ref = rfc8785.dumps(json.loads(text))
    p = loads_strict(text)
    assert canonical_bytes(p.tree, p.marks, p.key_order) == ref
    assert canonical_bytes(p.tree, p.marks) == ref  # key order not known: found from the text
    for k in p.value:
        assert canonical_bytes(p.tree[k], p.marks, p.key_order) == rfc8785.dumps(json.loads(text)[k])
    parsed, safe = loads_scanned(text)
    assert (canonicalize_parsed(parsed) if safe else canonicalize(parsed)) == ref


def test_key_order_is_noted_by_the_parser():
    assert loads_strict('{"\\ud83d\\ude00": 1, "\\uff21": 2}').key_order
    assert loads_strict('{"a": {"😀": 1, "\uff21": 2}}').key_order
    assert not loads_strict('{"😀": 1, "b": "\uff21"}').key_order  # a value, not a key
    assert not loads_strict('{"😀": 1, "é": {"\uff21": 2}}').key_order  # different objects
