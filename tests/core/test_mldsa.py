"""ML-DSA-87 signing with JACS's expanded keys: the compiled signer, its check, the fallback."""

import hashlib

import pytest
from conftest import MANIFEST
from cryptography.hazmat.primitives.asymmetric import mldsa as openssl_mldsa

from jacs_desktop.core import mldsa
from jacs_desktop.core.identity import Identity


def _verifies(pk: bytes, msg: bytes, sig: bytes) -> bool:
    try:
        openssl_mldsa.MLDSA87PublicKey.from_public_bytes(pk).verify(sig, msg)
        return True
    except Exception:
        return False


@pytest.fixture
def jacs_key(fixture_copy):
    """The fixture's pq2025 agent (made by the jacs library), unlocked: its expanded key."""
    agent = MANIFEST["agents"]["pq2025"]
    ident = Identity.load(fixture_copy / agent["config"])
    ident.unlock(agent["password"])
    signer = ident.signer.signer
    return signer.secret_bytes(), signer.public_key


def test_the_compiled_signer_is_used():
    assert mldsa.BACKEND == "pqcrypto"


def test_signs_with_the_librarys_expanded_key(jacs_key):
    sk, pk = jacs_key
    assert len(sk) == 4896 and len(pk) == 2592
    a, b = mldsa.sign(sk, pk, b"message"), mldsa.sign(sk, pk, b"message")
    assert a != b  # hedged: fresh randomness each time, as the library signs
    assert _verifies(pk, b"message", a) and _verifies(pk, b"message", b)
    assert not _verifies(pk, b"other message", a)


def test_a_bad_compiled_signature_is_made_again_by_the_fallback(jacs_key, monkeypatch):
    sk, pk = jacs_key
    calls = []

    def broken(secret, message):
        calls.append(message)
        good = compiled_sign(secret, message)
        return good[:-1] + bytes([good[-1] ^ 1])

    compiled_sign = mldsa._COMPILED[0]
    monkeypatch.setattr(mldsa, "_COMPILED", (broken, mldsa._COMPILED[1]))
    sig = mldsa.sign(sk, pk, b"message")
    assert calls == [b"message"] and _verifies(pk, b"message", sig)


def test_keygen_makes_a_consistent_pair():
    sk, pk = mldsa.keygen()
    assert len(sk) == 4896 and len(pk) == 2592
    assert hashlib.shake_256(pk).digest(64) == sk[64:128]  # FIPS 204: tr = H(pk) inside the secret key
    assert _verifies(pk, b"x", mldsa.sign(sk, pk, b"x"))
