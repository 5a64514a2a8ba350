"""Private-key envelopes and password rules (SPEC section 6).

``jacs.private.pem.enc`` is either the V2 JSON envelope (Argon2id + AES-256-GCM)
or the legacy raw format ``salt(16) || nonce(12) || ciphertext||tag`` with a
PBKDF2-HMAC-SHA256 key (600 000 iterations, falling back to 100 000).
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from .errors import KeyDecryptionError, KeyFormatError, PasswordPolicyError

__all__ = [
    "decrypt_private_key",
    "encrypt_private_key",
    "password_problems",
    "check_password",
    "WRONG_PASSWORD",
]

WRONG_PASSWORD = "Private key decryption failed: incorrect password or corrupted key file."

ARGON2_M_COST_KIB = 19456
ARGON2_T_COST = 2
ARGON2_P_COST = 1
MAX_ENVELOPE_BYTES = 1 << 20
_B64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def _b64url_decode(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise KeyFormatError(f"Key envelope field '{what}' must be a string")
    if _B64URL.fullmatch(text) is None:
        raise KeyFormatError(f"Key envelope field '{what}' is not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"Key envelope field '{what}' is not base64url") from exc


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _argon2_key(password: str, salt: bytes, m_cost: int, t_cost: int, p_cost: int) -> bytes:
    kdf = Argon2id(salt=salt, length=32, iterations=t_cost, lanes=p_cost, memory_cost=m_cost)
    return kdf.derive(password.encode("utf-8"))


def _decrypt_envelope(data: bytes, password: str) -> bytes:
    try:
        env = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise KeyFormatError("The private key file looks like JSON but cannot be parsed") from exc
    if not isinstance(env, dict):
        raise KeyFormatError("The private key envelope is not a JSON object")
    version = env.get("jacsEncryptedPrivateKeyVersion")
    if version != 2:
        raise KeyFormatError(f"Unsupported private key envelope version {version!r}")
    if env.get("cipher") != "AES-256-GCM":
        raise KeyFormatError(f"Unsupported private key cipher {env.get('cipher')!r}")
    kdf = env.get("kdf")
    if not isinstance(kdf, dict) or kdf.get("name") != "Argon2id":
        raise KeyFormatError("Unsupported private key KDF (expected Argon2id)")
    m_cost, t_cost, p_cost = kdf.get("m_cost_kib"), kdf.get("t_cost"), kdf.get("p_cost")
    if kdf.get("version", 19) != 19:
        raise KeyFormatError("Argon2id parameter policy rejected: version must be 19")
    if type(m_cost) is not int or type(t_cost) is not int or type(p_cost) is not int:
        raise KeyFormatError("Argon2id parameter policy rejected: costs must be integers")
    if not (8192 <= m_cost <= 19456) or t_cost not in (1, 2) or p_cost != 1:
        raise KeyFormatError(
            f"Argon2id parameter policy rejected (m_cost_kib={m_cost}, t_cost={t_cost}, p_cost={p_cost})"
        )
    salt = _b64url_decode(env.get("salt"), "salt")
    nonce = _b64url_decode(env.get("nonce"), "nonce")
    ciphertext = _b64url_decode(env.get("ciphertext"), "ciphertext")
    if len(salt) != 16:
        raise KeyFormatError("Argon2id parameter policy rejected: salt must be 16 bytes")
    if len(nonce) != 12:
        raise KeyFormatError("The private key envelope nonce must be 12 bytes")
    if len(ciphertext) < 16:
        raise KeyFormatError("The private key envelope is truncated")
    key = _argon2_key(password, salt, m_cost, t_cost, p_cost)
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, None)
    except InvalidTag as exc:
        raise KeyDecryptionError(WRONG_PASSWORD) from exc


def _decrypt_legacy(data: bytes, password: str) -> bytes:
    if len(data) < 16 + 12 + 16:
        raise KeyFormatError("The private key file is too short to be a JACS key")
    head = data[:4]
    if head[:1] == b"J" and head[1:3].isalpha() and head[1:3].isupper() and head[3:4].isdigit():
        raise KeyFormatError("The private key file uses a reserved format marker")
    salt, nonce, ciphertext = data[:16], data[16:28], data[28:]
    for iterations in (600_000, 100_000):
        key = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(password.encode("utf-8"))
        try:
            return AESGCM(key).decrypt(nonce, ciphertext, None)
        except InvalidTag:
            continue
    raise KeyDecryptionError(WRONG_PASSWORD)


def decrypt_private_key(data: bytes, password: str) -> bytes:
    """Decrypt the content of ``jacs.private.pem.enc``."""
    if not isinstance(password, str):
        raise KeyDecryptionError("A password is required to decrypt the private key")
    if len(data) > MAX_ENVELOPE_BYTES:
        raise KeyFormatError("The private key file is too large to be a JACS key")
    if data.lstrip()[:1] == b"{":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            # a legacy blob is salt + nonce + ciphertext: random bytes, which start with
            # "{" one time in 256 but are (practically) never UTF-8 text
            return _decrypt_legacy(data, password)
        return _decrypt_envelope(data, password)
    return _decrypt_legacy(data, password)


def encrypt_private_key(plaintext: bytes, password: str, *, check: bool = True) -> bytes:
    """Write a V2 envelope (compact JSON, member order as the library writes it)."""
    if check:
        check_password(password)
    salt, nonce = os.urandom(16), os.urandom(12)
    key = _argon2_key(password, salt, ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST)
    ct = AESGCM(key).encrypt(nonce, plaintext, None)
    env = {
        "jacsEncryptedPrivateKeyVersion": 2,
        "cipher": "AES-256-GCM",
        "kdf": {
            "name": "Argon2id",
            "version": 19,
            "m_cost_kib": ARGON2_M_COST_KIB,
            "t_cost": ARGON2_T_COST,
            "p_cost": ARGON2_P_COST,
        },
        "salt": _b64url_encode(salt),
        "nonce": _b64url_encode(nonce),
        "ciphertext": _b64url_encode(ct),
    }
    return json.dumps(env, separators=(",", ":")).encode("ascii")


# --- password rules -------------------------------------------------------------

# Refused by jacs 0.15 as "too common" (established by asking the library,
# tests/interop/test_password_rules.py keeps the two in step).
_COMMON = {
    "password", "password1", "password123", "12345678", "123456789", "1234567890",
    "qwerty123", "qwertyuiop", "qwerty12345", "admin123", "admin12345", "trustno1",
    "abc12345", "abcd1234", "monkey123", "shadow123", "master123", "dragon123",
    "letmein123", "welcome123", "asdfghjkl", "iloveyou1", "baseball", "football1",
    "sunshine1", "princess1", "zxcvbnm123",
}

_SPECIAL_POOL = 32


def password_problems(password: str) -> list[str]:
    """Reasons *password* is refused for a new key (empty list = acceptable)."""
    pw = password.strip()
    problems: list[str] = []
    if len(pw.encode("utf-8")) < 8:
        problems.append("Password must be at least 8 characters long.")
        return problems
    if pw.lower() in _COMMON:
        problems.append("Password is too common and easily guessable. Please use a unique password.")
    run = 1
    for a, b in itertools.pairwise(pw):
        run = run + 1 if a == b else 1
        if run >= 4:
            problems.append("Password contains too many repeated characters (4+ in a row). Use more variety.")
            break
    up = down = 1
    for a, b in itertools.pairwise(pw):
        up = up + 1 if ord(b) == ord(a) + 1 else 1
        down = down + 1 if ord(b) == ord(a) - 1 else 1
        if up >= 5 or down >= 5:
            problems.append("Password contains a sequence of 5+ consecutive characters (like 'abcde' or '12345').")
            break
    classes = 0
    pool = 0
    if any(c.islower() and c.isascii() for c in pw):
        pool += 26
        classes += 1
    if any(c.isupper() and c.isascii() for c in pw):
        pool += 26
        classes += 1
    if any(c.isdigit() and c.isascii() for c in pw):
        pool += 10
        classes += 1
    if any(not (c.isascii() and c.isalnum()) for c in pw):
        pool += _SPECIAL_POOL
        classes += 1
    distinct = len(set(pw))
    pool = max(pool, distinct)
    entropy = len(pw) * math.log2(pool) if pool > 1 else 0.0
    ratio = distinct / len(pw)
    if ratio < 0.5:
        entropy *= 0.5
    elif ratio < 0.75:
        entropy *= 0.75
    needed = 35.0 if classes <= 1 else 28.0
    if entropy < needed:
        problems.append(
            f"Password is too weak (estimated {entropy:.0f} bits, needs {needed:.0f}). "
            "Use a longer password that mixes letters, digits and symbols."
        )
    return problems


def check_password(password: str) -> None:
    problems = password_problems(password)
    if problems:
        raise PasswordPolicyError(" ".join(problems))
