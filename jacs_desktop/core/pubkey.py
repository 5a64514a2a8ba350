"""``publicKeyHash`` (SPEC section 5) and public-key file helpers.

The hash is taken over a *lossy text* view of the key bytes, exactly as the
Rust library does: BOM sniffing, lossy decoding (one U+FFFD per maximal invalid
subsequence, which is also what Python's ``errors="replace"`` produces), Rust
``str::trim`` (Unicode White_Space, not Python's ``str.strip``), then every
``\\r`` removed.
"""

from __future__ import annotations

import base64
import hashlib

__all__ = ["public_key_hash", "key_hash_text", "pseudo_pem", "ALGORITHMS", "normalize_algorithm"]

# Unicode White_Space property (what Rust's str::trim strips).
_WHITE_SPACE = (
    "\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

#: signingAlgorithm values this tool understands, mapped to a key family.
ALGORITHMS = {
    "ring-Ed25519": "ed25519",
    "ed25519": "ed25519",
    "pq2025": "pq2025",
}


def normalize_algorithm(name: str | None) -> str | None:
    """Map an algorithm name to its key family (``ed25519``/``pq2025``) or None."""
    if not isinstance(name, str):
        return None
    return ALGORITHMS.get(name.strip())


def key_hash_text(key_bytes: bytes) -> str:
    """The text whose UTF-8 is hashed into publicKeyHash."""
    if key_bytes.startswith(b"\xef\xbb\xbf"):
        text = key_bytes[3:].decode("utf-8", errors="replace")
    elif key_bytes.startswith(b"\xff\xfe"):
        text = key_bytes[2:].decode("utf-16-le", errors="replace")
    elif key_bytes.startswith(b"\xfe\xff"):
        text = key_bytes[2:].decode("utf-16-be", errors="replace")
    else:
        text = key_bytes.decode("utf-8", errors="replace")
    return text.strip(_WHITE_SPACE).replace("\r", "")


def public_key_hash(key_bytes: bytes) -> str:
    """``publicKeyHash`` of a public key file's bytes (lowercase hex)."""
    return hashlib.sha256(key_hash_text(key_bytes).encode("utf-8")).hexdigest()


def pseudo_pem(key_bytes: bytes) -> str:
    """The pseudo-PEM ``get_public_key()`` returns (base64 of raw bytes, not SPKI)."""
    b64 = base64.b64encode(key_bytes).decode("ascii")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"
