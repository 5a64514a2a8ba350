"""Key management for a loaded identity: change the private key's password, as jacs's
``reencrypt_key`` does.

jacs 0.15 re-encrypts only the agent's signing key (``jacs_agent_private_key_filename`` in the
key folder); the ecosystem key and archived (rotated-away) keys keep their old password, which
the library does not ask for when it loads the agent and signs.  The same is done here: the key
is decrypted with the old password, encrypted with the new one in the library's envelope
(Argon2id + AES-256-GCM), checked to decrypt again, and written in place atomically (0600).
"""

from __future__ import annotations

from ..core.errors import IdentityError, JacsError
from ..core.identity import Identity, write_file_atomic
from ..core.keys import check_password, decrypt_private_key, encrypt_private_key

__all__ = ["change_key_password"]


def change_key_password(identity: Identity, old_password: str, new_password: str) -> None:
    """Re-encrypt *identity*'s private key; the new password must meet the library's rules.
    Nothing is written unless the old password decrypts the key and the new file decrypts."""
    check_password(new_password)
    if new_password == old_password:
        raise JacsError("The new password is the same as the old one")
    path = identity.config.private_key_file
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IdentityError(f"Cannot read the private key {path}: {exc.strerror or exc}") from None
    material = decrypt_private_key(data, old_password)
    new = encrypt_private_key(material, new_password)
    if decrypt_private_key(new, new_password) != material:  # never: a broken envelope is not written
        raise JacsError("The re-encrypted key did not decrypt; nothing was changed")
    write_file_atomic(path, new, 0o600)
    identity.lock()
