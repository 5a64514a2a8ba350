"""ML-DSA-87 (FIPS 204) signing with the key JACS stores: the 4896-byte *expanded* secret key.

JACS keeps no seed, only the expanded key (SPEC 1.2), so the signer must take that form:

* ``pqcrypto`` (compiled Rust, about 5x faster than pure Python) takes the expanded key and is
  used when it is installed;
* ``cryptography`` (OpenSSL) signs ML-DSA only from a 32-byte seed, so it cannot sign here; it
  checks every signature ``pqcrypto`` makes before it is used (OpenSSL's verifier, well under a
  millisecond; ``pqcrypto`` has had no formal audit), and a signature that does not pass is made
  again with the fallback;
* ``dilithium-py`` (pure Python) is the fallback: when ``pqcrypto`` is missing or fails.

Every path signs in FIPS 204 pure mode with an empty context and hedged randomness, as the
library does.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import mldsa

__all__ = ["BACKEND", "sign", "keygen", "public_from_secret"]

SECRET_LEN = 4896
PUBLIC_LEN = 2592
SIGNATURE_LEN = 4627

_Sign = Callable[[bytes, bytes], bytes]
_Keygen = Callable[[], tuple[bytes, bytes]]


def _compiled() -> tuple[_Sign, _Keygen] | None:
    """pqcrypto's ML-DSA-87 sign and keygen, or None when it is not installed (or not the
    sizes expected). Its algorithm modules are made when the package loads, hence importlib."""
    try:
        mod = importlib.import_module("pqcrypto.sign.ml_dsa_87")
    except ImportError:
        return None
    if (mod.SECRET_KEY_SIZE, mod.PUBLIC_KEY_SIZE, mod.SIGNATURE_SIZE) != (SECRET_LEN, PUBLIC_LEN, SIGNATURE_LEN):
        return None
    sign_fn: _Sign = mod.sign
    keygen_fn: _Keygen = mod.keygen
    return sign_fn, keygen_fn


_COMPILED = _compiled()
#: which implementation signs: "pqcrypto" (compiled) or "dilithium-py" (pure Python)
BACKEND = "pqcrypto" if _COMPILED is not None else "dilithium-py"


def _fallback_sign(secret: bytes, message: bytes) -> bytes:
    from dilithium_py.ml_dsa import ML_DSA_87

    return ML_DSA_87.sign(secret, message, ctx=b"", deterministic=False)


def _verifies(public_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        mldsa.MLDSA87PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def sign(secret: bytes, public_key: bytes, message: bytes) -> bytes:
    """An ML-DSA-87 signature of *message* with the expanded *secret* key whose public key is
    *public_key* (the compiled signer's output is checked against it before it is returned)."""
    if _COMPILED is not None:
        try:
            sig = _COMPILED[0](secret, message)
        except (ValueError, RuntimeError):
            sig = b""
        if len(sig) == SIGNATURE_LEN and _verifies(public_key, message, sig):
            return sig
    return _fallback_sign(secret, message)


def keygen() -> tuple[bytes, bytes]:
    """A new key pair: (expanded secret key, public key)."""
    if _COMPILED is not None:
        pk, sk = _COMPILED[1]()
        # FIPS 204 secret keys carry tr = H(pk); and the pair must sign and verify once
        if len(sk) == SECRET_LEN and len(pk) == PUBLIC_LEN and hashlib.shake_256(pk).digest(64) == sk[64:128] \
                and _verifies(pk, b"key check", sign(sk, pk, b"key check")):
            return bytes(sk), bytes(pk)
    from dilithium_py.ml_dsa import ML_DSA_87

    pk, sk = ML_DSA_87.keygen()
    return sk, pk


def public_from_secret(secret: bytes) -> bytes:
    """The public key of an expanded secret key (pure Python: once per key, when no public
    key file is beside it)."""
    from dilithium_py.ml_dsa import ML_DSA_87

    return ML_DSA_87.pk_from_sk(secret)
