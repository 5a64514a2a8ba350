"""Canonical JSON: the fast path is byte-identical to the rfc8785 reference."""

import json
import math

import pytest
import rfc8785
from conftest import EXAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st

from jacs_desktop.core.canonical import CanonicalizationError, canonicalize, hash_input, jacs_sha256


@pytest.mark.parametrize("alg", ["ed25519", "pq2025"])
def test_examples_hash_input_and_hash(alg):
    doc = json.loads((EXAMPLES / f"{alg}_message.json").read_bytes())
    expected = (EXAMPLES / f"{alg}_hash_input.txt").read_bytes().rstrip(b"\n")
    assert hash_input(doc) == expected
    assert jacs_sha256(doc) == doc["jacsSha256"]


@pytest.mark.parametrize(
    "value, text",
    [
        (1.0, "1"), (-0.0, "0"), (1e-7, "1e-7"), (0.000001, "0.000001"), (5e-324, "5e-324"),
        (1 / 3, "0.3333333333333333"), (1e21, "1e+21"), (1e16, "10000000000000000"), (100.25, "100.25"),
        ({"b": 1, "a": [True, None, "x"]}, '{"a":[true,null,"x"],"b":1}'),
        ({"\ue000": 1, "😀": 2}, '{"😀":2,"\ue000":1}'),
        ("\u007f\u2028é\n\x01", '"\u007f\u2028é\\n\\u0001"'),
    ],
)
def test_known_values(value, text):
    assert canonicalize(value) == text.encode("utf-8")
    assert canonicalize(value) == rfc8785.dumps(value)


@pytest.mark.parametrize("value", [2**53, -(2**53), math.inf, math.nan, "\ud800", {"k": "\udfff"}, {1: 2}, object()])
def test_refused_values(value):
    with pytest.raises(CanonicalizationError):
        canonicalize(value)


def test_deep_nesting_is_an_error_not_a_crash():
    v = []
    for _ in range(100_000):
        v = [v]
    with pytest.raises(CanonicalizationError):
        canonicalize(v)


_keys = st.one_of(
    st.text(max_size=8),
    st.text(alphabet=st.sampled_from(["a", "\ue000", "\uffff", "😀", "\U0010ffff", "é", "\u0000", "Z"]), max_size=4),
)
_floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e-7, 1e-5, 0.0001, 123456789012345.6, 1e15 + 0.5, 9007199254740992.0, 1e16, 1e21, 1e22, -0.0]),
)
_ints = st.one_of(st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1), st.integers(min_value=-(2**60), max_value=2**60))
_scalars = st.one_of(st.none(), st.booleans(), _ints, _floats, st.text(), st.characters(codec="utf-16", exclude_categories=()))
_json = st.recursive(
    _scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(_keys, children, max_size=5)),
    max_leaves=30,
)


def _both(value):
    try:
        ref = ("ok", rfc8785.dumps(value))
    except Exception as exc:  # the reference's own errors
        ref = ("err", type(exc).__name__)
    try:
        fast = ("ok", canonicalize(value))
    except CanonicalizationError:
        fast = ("err", None)
    return ref, fast


@settings(max_examples=1500, deadline=None)
@given(_json)
def test_fast_path_matches_reference(value):
    ref, fast = _both(value)
    assert ref[0] == fast[0]
    if ref[0] == "ok":
        assert fast[1] == ref[1]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_strings_with_surrogates_match_reference(s):
    ref, fast = _both({"k": s, s: [s]})
    assert ref[0] == fast[0] and (ref[0] == "err" or ref[1] == fast[1])


_number_texts = st.one_of(
    st.sampled_from(["1.0", "-0.0", "0.0", "1e-7", "1E-7", "1e21", "1e400", "-1e400", "9007199254740992.0",
                     "9007199254740991.0", "123456789012345678901234567890", "1.5e3", "2E+2", "0.00001", "100.25"]),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(min_value=-(2**64), max_value=2**64).map(str),
)


@settings(max_examples=1500, deadline=None)
def _has_unsafe_integral(v) -> bool:
    if isinstance(v, dict):
        return any(_has_unsafe_integral(x) for x in v.values())
    if isinstance(v, list):
        return any(_has_unsafe_integral(x) for x in v)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return True
    return v == int(v) and abs(v) > 2**53 - 1


@given(st.recursive(
    st.one_of(_number_texts, st.text(max_size=6).map(json.dumps), st.sampled_from(["true", "null"])),
    lambda c: st.one_of(
        st.lists(c, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.dictionaries(_keys, c, max_size=4).map(lambda d: "{" + ",".join(json.dumps(k) + ":" + v for k, v in d.items()) + "}"),
    ),
    max_leaves=20,
))
def test_scanned_parse_path_matches_reference(text):
    """verify_bytes' path (parse with number hooks, one C encode) equals rfc8785."""
    from jacs_desktop.core.canonical import StrictJSONError, canonicalize_parsed, loads_scanned

    plain = json.loads(text)
    try:
        value, safe = loads_scanned(text)
    except StrictJSONError:
        # refused only for what the library refuses: an integral number outside +-(2^53-1) or a non-finite one
        assert _has_unsafe_integral(plain), text
        return
    assert not _has_unsafe_integral(plain), text
    try:
        ref = rfc8785.dumps(plain)
    except Exception:
        ref = None
    if safe:
        assert ref is not None and canonicalize_parsed(value) == ref
    else:
        try:
            got = canonicalize(value)
        except CanonicalizationError:
            got = None
        assert got == ref
