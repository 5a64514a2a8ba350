"""Signature primitives for the JACS algorithms (SPEC section 4.3).

Verification uses libsodium (PyNaCl) for Ed25519, with ``cryptography`` having the
last word on what libsodium refuses, and ``cryptography`` for ML-DSA-87; ``cryptography``
and :mod:`.mldsa` are imported when first needed (a verifier that meets only valid
Ed25519 signatures does not load them: start-up time of the command line). Signing uses
``cryptography`` for Ed25519 and :mod:`.mldsa` for ML-DSA-87 (compiled ``pqcrypto``,
``dilithium-py`` as the fallback), because JACS stores the 4896-byte FIPS 204
*expanded* secret key, which ``cryptography`` cannot import.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

from .errors import KeyFormatError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa

__all__ = [
    "ED25519_PUBLIC_LEN",
    "MLDSA87_PUBLIC_LEN",
    "MLDSA87_SECRET_LEN",
    "verify_signature",
    "Signer",
    "Ed25519Signer",
    "MLDSA87Signer",
    "signer_from_private_material",
    "generate_private_material",
    "ed25519_pkcs8_v2",
]

ED25519_PUBLIC_LEN = 32
ED25519_SIGNATURE_LEN = 64
MLDSA87_PUBLIC_LEN = 2592
MLDSA87_SECRET_LEN = 4896
MLDSA87_SIGNATURE_LEN = 4627

# ring's PKCS#8 v2 (RFC 5958 OneAsymmetricKey) encoding of an Ed25519 key:
# SEQ { INTEGER 1, SEQ { OID 1.3.101.112 }, OCTET STRING { OCTET STRING seed },
#       [1] IMPLICIT BIT STRING pub }
_PKCS8_V2_PREFIX = bytes.fromhex("3051020101300506032b657004220420")
_PKCS8_V2_PUB_TAG = bytes.fromhex("812100")
_PKCS8_V1_PREFIX = bytes.fromhex("302e020100300506032b657004220420")


def ed25519_pkcs8_v2(seed: bytes, public: bytes) -> bytes:
    """The 83-byte PKCS#8 v2 DER that ``ring`` writes for an Ed25519 key."""
    return _PKCS8_V2_PREFIX + seed + _PKCS8_V2_PUB_TAG + public


def _ed25519_seed(der: bytes) -> bytes:
    if len(der) == 83 and der.startswith(_PKCS8_V2_PREFIX) and der[48:51] == _PKCS8_V2_PUB_TAG:
        return der[16:48]
    if len(der) == 48 and der.startswith(_PKCS8_V1_PREFIX):
        return der[16:48]
    if len(der) == 32:
        return der
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError("The decrypted Ed25519 key is not PKCS#8 DER") from exc
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise KeyFormatError("The decrypted key is not an Ed25519 key")
    return key.private_bytes_raw()


_sodium_open: Callable[[bytes, bytes], object] | None
try:  # libsodium verifies Ed25519 about 2x faster than the OpenSSL build in cryptography
    from nacl.bindings import crypto_sign_open as _sodium_open
except ImportError:  # PyNaCl is a dependency, but stay correct without it
    _sodium_open = None
else:
    try:  # the same libsodium call without the binding's per-call output buffer (zeroed, then copied out)
        from nacl._sodium import ffi as _ffi  # type: ignore[import-not-found]
        from nacl._sodium import lib as _lib

        _sodium_lib_open = _lib.crypto_sign_open
        _buffers = threading.local()

        def _sodium_open_direct(signed: bytes, public_key: bytes) -> object:
            """``nacl.bindings.crypto_sign_open`` into a buffer this thread keeps (the opened
            message is not needed); raises ValueError when the signature does not hold."""
            n = len(signed)
            b = getattr(_buffers, "b", None)
            if b is None or b[2] < n:
                size = max(n, 1 << 16)
                b = (_ffi.new("unsigned char[]", size), _ffi.new("unsigned long long *"), size)
                if size <= 1 << 20:  # (a larger one is not kept)
                    _buffers.b = b
            if _sodium_lib_open(b[0], b[1], signed, n, public_key) != 0:
                raise ValueError("Signature was forged or corrupt")
            return None

        _sodium_open = _sodium_open_direct
    except (ImportError, AttributeError):  # (a PyNaCl without these internals: its public call)
        pass


@functools.lru_cache(maxsize=256)
def _ed25519_key(public_key: bytes) -> ed25519.Ed25519PublicKey:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519.Ed25519PublicKey.from_public_bytes(public_key)


@functools.lru_cache(maxsize=64)
def _mldsa87_key(public_key: bytes) -> mldsa.MLDSA87PublicKey:
    from cryptography.hazmat.primitives.asymmetric import mldsa

    return mldsa.MLDSA87PublicKey.from_public_bytes(public_key)


def verify_signature(family: str, public_key: bytes, message: bytes, signature: bytes) -> tuple[bool, str]:
    """Check *signature* over *message*. Returns (ok, reason)."""
    if family == "ed25519":
        if len(public_key) != ED25519_PUBLIC_LEN:
            return False, f"Ed25519 public key must be 32 bytes, got {len(public_key)}"
        if _sodium_open is not None and len(signature) == ED25519_SIGNATURE_LEN:
            try:
                _sodium_open(signature + message, public_key)
                return True, "Ed25519 signature is valid"
            except Exception:
                pass  # libsodium is stricter on edge cases: OpenSSL has the last word
        from cryptography.exceptions import InvalidSignature

        try:
            _ed25519_key(public_key).verify(signature, message)
        except InvalidSignature:
            return False, "Ed25519 signature does not match the signed content"
        except ValueError as exc:
            return False, f"Ed25519 key rejected: {exc}"
        return True, "Ed25519 signature is valid"
    if family == "pq2025":
        if len(public_key) != MLDSA87_PUBLIC_LEN:
            return False, f"ML-DSA-87 public key must be 2592 bytes, got {len(public_key)}"
        if len(signature) != MLDSA87_SIGNATURE_LEN:
            return False, f"ML-DSA-87 signature must be 4627 bytes, got {len(signature)}"
        from cryptography.exceptions import InvalidSignature

        try:
            _mldsa87_key(public_key).verify(signature, message)
        except InvalidSignature:
            return False, "ML-DSA-87 signature does not match the signed content"
        except ValueError as exc:
            return False, f"ML-DSA-87 key rejected: {exc}"
        return True, "ML-DSA-87 signature is valid"
    return False, f"unsupported key family {family!r}"


class Signer(ABC):
    """A decrypted private key, ready to sign many messages."""

    family: str
    algorithm: str  # the signingAlgorithm value written into signatures
    public_key: bytes

    @abstractmethod
    def sign(self, message: bytes) -> bytes:
        ...


class Ed25519Signer(Signer):
    family = "ed25519"
    algorithm = "ring-Ed25519"

    def __init__(self, seed: bytes):
        from cryptography.hazmat.primitives.asymmetric import ed25519

        self._key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._key.public_key().public_bytes_raw()

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def pkcs8(self) -> bytes:
        return ed25519_pkcs8_v2(self._key.private_bytes_raw(), self.public_key)


class MLDSA87Signer(Signer):
    family = "pq2025"
    algorithm = "pq2025"

    def __init__(self, expanded_secret: bytes, public_key: bytes | None = None):
        if len(expanded_secret) != MLDSA87_SECRET_LEN:
            raise KeyFormatError(
                f"A pq2025 private key must be the 4896-byte ML-DSA-87 expanded key, got {len(expanded_secret)} bytes"
            )
        self._sk = bytes(expanded_secret)
        if public_key is None:
            from . import mldsa as mldsa87

            public_key = mldsa87.public_from_secret(self._sk)
        elif hashlib.shake_256(public_key).digest(64) != self._sk[64:128]:
            # FIPS 204 secret keys carry tr = H(pk); a mismatch means another key pair
            raise KeyFormatError("The private key does not belong to the public key next to it")
        self.public_key = public_key

    def sign(self, message: bytes) -> bytes:
        # FIPS 204 pure mode, empty context, hedged randomness (like the library).
        from . import mldsa as mldsa87

        return mldsa87.sign(self._sk, self.public_key, message)

    def secret_bytes(self) -> bytes:
        return self._sk


def signer_from_private_material(family: str, material: bytes, public_key: bytes | None = None) -> Signer:
    """Build a signer from decrypted key material (SPEC 1.2)."""
    signer: Signer
    if family == "ed25519":
        signer = Ed25519Signer(_ed25519_seed(material))
    elif family == "pq2025":
        signer = MLDSA87Signer(material, public_key)
    else:
        raise KeyFormatError(f"Unsupported key algorithm {family!r}")
    if public_key is not None and signer.public_key != public_key:
        raise KeyFormatError("The private key does not belong to the public key next to it")
    return signer


def generate_private_material(family: str) -> tuple[bytes, bytes]:
    """New key pair: (private material as JACS stores it, raw public key)."""
    if family == "ed25519":
        from cryptography.hazmat.primitives.asymmetric import ed25519

        seed = os.urandom(32)
        key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        pub = key.public_key().public_bytes_raw()
        return ed25519_pkcs8_v2(seed, pub), pub
    if family == "pq2025":
        from . import mldsa as mldsa87

        return mldsa87.keygen()
    raise KeyFormatError(f"Unsupported key algorithm {family!r}")
