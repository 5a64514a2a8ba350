import hashlib

import pytest
from conftest import EXAMPLES, FIXTURE

from jacs_desktop.core.pubkey import key_hash_text, pseudo_pem, public_key_hash


def test_fixture_public_key_hashes(manifest):
    for agent in manifest["agents"].values():
        key = (FIXTURE / agent["key_directory"] / "jacs.public.pem").read_bytes()
        assert public_key_hash(key) == agent["public_key_hash"]
        stored = FIXTURE / "jacs_data" / "public_keys" / f"{agent['public_key_hash']}.pem"
        assert stored.read_bytes() == key


def test_worked_example_lossy_quirk():
    key = (EXAMPLES / "ed25519_public_key.bin").read_bytes()
    assert public_key_hash(key).startswith("bf7a1e56")
    assert hashlib.sha256(key).hexdigest().startswith("37ff2397")
    assert key_hash_text(key).startswith("q\ufffd\ufffd\ufffd}")
    # not injective: changing an invalid byte 0xfe -> 0xff gives the same hash
    i = key.index(0xFE)
    other = key[:i] + b"\xff" + key[i + 1 :]
    assert other != key and public_key_hash(other) == public_key_hash(key)


def test_trim_is_rust_white_space_not_python_strip():
    # U+001C..U+001F are stripped by str.strip() but are not White_Space
    assert key_hash_text(b"\x1ckey\x1f") == "\x1ckey\x1f"
    assert key_hash_text(b" \t\r\nkey\r\n \xc2\xa0") == "key"
    assert key_hash_text(b"a\r\nb") == "a\nb"


@pytest.mark.parametrize(
    "raw, text",
    [
        (b"\xef\xbb\xbfpem", "pem"),
        (b"\xff\xfep\x00e\x00m\x00", "pem"),
        (b"\xfe\xff\x00p\x00e\x00m", "pem"),
        (b"\x80\x80abc", "\ufffd\ufffdabc"),
        (b"\xe2\x82", "\ufffd"),  # one maximal invalid subsequence -> one U+FFFD
    ],
)
def test_bom_and_lossy_decoding(raw, text):
    assert key_hash_text(raw) == text


def test_pseudo_pem():
    pem = pseudo_pem(bytes(range(64)))
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n") and pem.endswith("-----END PUBLIC KEY-----\n")
    assert max(len(line) for line in pem.splitlines()) == 64
