"""validate_key / validate_id refuse a name exactly when it holds a control character (U+0000 to
U+001F, U+007F), also now that printable names skip the per-character search: names with other
characters Python calls unprintable (format marks, separators, NBSP) are judged by the search."""

import random

import pytest

from jacs_desktop.storage.base import UnsafeName, validate_id, validate_key

# controls, and characters str.isprintable() calls unprintable that are not controls
_CONTROLS = [*(chr(c) for c in range(0x20)), "\x7f"]
_UNPRINTABLE_OK = ["\x85", "\xa0", "\xad", "\u200b", "\u200e", "\u202e", "\u2028", "\ufeff", "\U000e0001"]
_PLAIN = [*"abcXYZ019-_.:@é中🚀", "\u0300"]


def _refused(fn, text: str) -> str | None:
    try:
        fn(text)
    except UnsafeName as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("fn", [validate_key, lambda t: validate_id(t, "id")])
def test_refused_exactly_for_a_control_character(fn):
    rng = random.Random(20261202)
    for _ in range(20_000):
        parts = [rng.choice(_PLAIN + _UNPRINTABLE_OK + (_CONTROLS if rng.random() < 0.3 else []))
                 for _ in range(rng.randint(1, 10))]
        text = "n" + "".join(parts) + "n"  # (no white space at either end: validate_id refuses that)
        why = _refused(fn, text)
        has_control = any(c in _CONTROLS for c in text)
        assert (why is not None and "control characters" in why) == has_control, repr(text)


def test_unprintable_characters_that_are_not_controls_pass():
    for c in _UNPRINTABLE_OK:
        assert validate_key(f"documents/a{c}b.json") == f"documents/a{c}b.json"
