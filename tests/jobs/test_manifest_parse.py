"""The manifest's fast parse (jiter) and the strict reference (json with hooks) agree: what the
fast one accepts parses to the same value, and everything the reference refuses is refused."""

import json
import random

import pytest

from jacs_desktop.jobs.backup.base import BackupError
from jacs_desktop.jobs.backup.integrity import _manifest_entries, _no_constant, _parse_manifest, _unique_keys
from tests.varied_json import varied_value


def _strict(data: bytes):
    return json.loads(data, object_pairs_hook=_unique_keys, parse_constant=_no_constant)


def _same(data: bytes) -> None:
    try:
        want = _strict(data)
    except (ValueError, TypeError, RecursionError):
        with pytest.raises((ValueError, TypeError, RecursionError)):
            _parse_manifest(data)
        return
    got = _parse_manifest(data)
    assert got == want
    assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)  # (types too: 1 vs 1.0)


HOSTILE = [
    b'{"a":1,"a":2}', b'{"x":{"a":1,"a":2}}', b'[{"a":1},{"b":2,"b":3}]', b'{"a":NaN}', b'{"a":Infinity}',
    b'{"a":-Infinity}', b'{"a":1e400}', b'{"a":"\xff"}', b'\xef\xbb\xbf{"a":1}', '{"a":1}'.encode("utf-16"),
    '{"a":1}'.encode("utf-32"), b' {"a":1} ', b'{"a":1} x', b"[" * 300 + b"]" * 300, b"[" * 5000 + b"]" * 5000,
    b'{"a":123456789012345678901234567890}', b'{"a":"\\ud800"}', b'{"a":"\\udc00\\ud800"}', b'{"a":"\\u0000"}',
    b'{"a":1,}', b"{'a':1}", b'{"a":01}', b'{"a":-0}', b'{"a":1.0}', b'{"a":"\x01"}', b'{"a":"\xed\xa0\x80"}',
    b"", b"null", b'{"a":1E+2}', b'{"a":"b\\/c"}', b'{"a":' + b"1" * 5000 + b"}", b'{"a":tru}', b'{"a":true}',
]


@pytest.mark.parametrize("data", HOSTILE)
def test_hostile_texts_agree(data):
    _same(data)


def test_varied_content_agrees():
    rng = random.Random(20261202)
    for _ in range(400):
        value = varied_value(rng, exotic=0.5, odd=0.4, depth=5)
        text = json.dumps(value, ensure_ascii=rng.random() < 0.5).encode()
        _same(text)
        # and every one-byte change of it (most are malformed: both must refuse them)
        for _ in range(3):
            b = bytearray(text)
            b[rng.randrange(len(b))] = rng.choice(b'{}[]",:0\\ae\xff')
            _same(bytes(b))


def test_duplicate_key_in_an_entry_is_refused_and_named():
    data = (b'{"format":"jacs-desktop-backup","format_version":1,"entries":[{"name":"a","size":1,'
            b'"sha256":"' + b"0" * 64 + b'","size":2}]}')
    with pytest.raises(BackupError, match="appears twice"):
        _manifest_entries(data)
