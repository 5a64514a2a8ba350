"""Secrets (S3 secret keys, agent key passwords) through one wrapper.

Backends, chosen by a setting:

* ``keyring`` — the OS keyring via ``keyring``, *only* when it is a secure one.
  The ``fail``/``null`` backends, anything with priority < 1 and plaintext
  backends (``keyrings.alt``) are detected and refused, never used silently.
* ``file`` — an encrypted file (AES-256-GCM, key from Argon2id) protected by a
  master password.
* ``session`` — not remembered: kept in memory for this session only (the user
  enters it every time the app starts).
* ``auto`` — ``keyring`` when a secure one exists, else ``session`` with
  :attr:`Secrets.warning` saying so plainly.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from .base import StorageError

__all__ = ["default_secrets", "Secrets", "SecretsUnavailable", "KeyringStatus", "keyring_status", "SERVICE"]

SERVICE = "jacs-desktop"
_BACKENDS = ("auto", "keyring", "file", "session")


class SecretsUnavailable(StorageError):
    """No secure place to remember a secret (the message says what to do)."""


@dataclass(frozen=True)
class KeyringStatus:
    secure: bool
    name: str
    reason: str


def keyring_status() -> KeyringStatus:
    """Is there a secure OS keyring? Never raises."""
    try:
        import keyring
        from keyring.backends import chainer, fail
    except Exception as exc:  # pragma: no cover - keyring is a dependency
        return KeyringStatus(False, "none", f"the keyring library is not available ({exc})")
    try:
        kr = keyring.get_keyring()
    except Exception as exc:
        return KeyringStatus(False, "none", f"no keyring backend could be loaded ({exc})")
    name = f"{type(kr).__module__}.{type(kr).__name__}"
    backends = list(getattr(kr, "backends", [])) if isinstance(kr, chainer.ChainerBackend) else [kr]
    if not backends:
        return KeyringStatus(False, name, "no keyring backend is available on this system")
    for b in backends:
        mod = type(b).__module__
        cls = type(b).__name__
        if isinstance(b, fail.Keyring) or mod.startswith("keyring.backends.null") or cls == "Keyring" and mod.endswith(".null"):
            return KeyringStatus(False, name, "no secure keyring is available (only the 'fail'/'null' backend)")
        if mod.startswith("keyrings.alt") or "plaintext" in cls.lower() or "plaintext" in mod.lower():
            return KeyringStatus(False, name, f"the keyring backend {mod}.{cls} stores secrets in plain text")
        try:
            prio = float(getattr(b, "priority", 0))
        except Exception:
            prio = 0.0
        if prio < 1:
            return KeyringStatus(False, name, f"the keyring backend {mod}.{cls} is not a secure store (priority {prio})")
    return KeyringStatus(True, name, "secure OS keyring")


def _kdf(password: str, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    return Argon2id(salt=salt, length=32, iterations=2, lanes=1, memory_cost=19456).derive(password.encode("utf-8"))


class _EncryptedFile:
    VERSION = 1

    def __init__(self, path: Path, master_password: str):
        self.path = Path(path)
        self._lock = threading.Lock()
        if not master_password:
            raise SecretsUnavailable("The encrypted secrets file needs a master password")
        if self.path.exists():
            try:
                doc = json.loads(self.path.read_bytes())
                salt = base64.b64decode(doc["salt"])
                self._key = _kdf(master_password, salt)
                self._doc = doc
                self._decrypt(doc["check"])
            except SecretsUnavailable:
                raise
            except Exception as exc:
                raise SecretsUnavailable(f"The secrets file {self.path} is damaged: {exc}") from None
        else:
            salt = os.urandom(16)
            self._key = _kdf(master_password, salt)
            self._doc = {"version": self.VERSION, "kdf": "argon2id-19456-2-1", "salt": base64.b64encode(salt).decode(),
                         "entries": {}}
            self._doc["check"] = self._encrypt("jacs-desktop")

    def _encrypt(self, text: str) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(12)
        return base64.b64encode(nonce + AESGCM(self._key).encrypt(nonce, text.encode("utf-8"), None)).decode()

    def _decrypt(self, blob: str) -> str:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        raw = base64.b64decode(blob)
        try:
            return AESGCM(self._key).decrypt(raw[:12], raw[12:], None).decode("utf-8")
        except InvalidTag:
            raise SecretsUnavailable("Wrong master password for the secrets file") from None

    def _save(self) -> None:
        from ..core.identity import write_file_atomic

        write_file_atomic(self.path, json.dumps(self._doc, indent=1).encode(), 0o600)

    def get(self, name: str) -> str | None:
        with self._lock:
            blob = self._doc["entries"].get(name)
            return None if blob is None else self._decrypt(blob)

    def set(self, name: str, value: str) -> None:
        with self._lock:
            self._doc["entries"][name] = self._encrypt(value)
            self._save()

    def delete(self, name: str) -> None:
        with self._lock:
            if self._doc["entries"].pop(name, None) is not None:
                self._save()


class Secrets:
    """get/set/delete secrets by name, in the backend the user chose."""

    #: "don't remember" secrets live for the life of the process, shared by every
    #: ``Secrets`` that uses the session backend (so a password is asked once per run)
    _SESSION: dict[str, str] = {}

    def __init__(self, backend: str = "auto", *, file_path: str | os.PathLike | None = None,
                 master_password: str | None = None):
        if backend not in _BACKENDS:
            raise StorageError(f"Unknown secrets backend {backend!r} (choose {', '.join(_BACKENDS)})")
        self.requested = backend
        self.warning: str | None = None
        self._session: dict[str, str] = Secrets._SESSION
        self._file: _EncryptedFile | None = None
        status = keyring_status() if backend in ("auto", "keyring") else None
        if backend == "keyring":
            if not status.secure:
                raise SecretsUnavailable(
                    f"Cannot use the OS keyring: {status.reason}. Choose 'remember in an encrypted file' "
                    "(protected by a master password) or 'do not remember' (enter it every time)."
                )
            self.backend = "keyring"
        elif backend == "auto":
            if status.secure:
                self.backend = "keyring"
            else:
                self.backend = "session"
                self.warning = (
                    f"Secrets will not be remembered: {status.reason}. You can keep them in an encrypted "
                    "file protected by a master password instead."
                )
        elif backend == "file":
            if file_path is None:
                from .connections import config_dir

                file_path = config_dir() / "secrets.enc.json"
            self._file = _EncryptedFile(Path(file_path), master_password or "")
            self.backend = "file"
        else:
            self.backend = "session"

    @property
    def persistent(self) -> bool:
        return self.backend in ("keyring", "file")

    def get(self, name: str) -> str | None:
        if self.backend == "keyring":
            import keyring
            from keyring.errors import KeyringError

            try:
                return keyring.get_password(SERVICE, name)
            except KeyringError as exc:
                raise SecretsUnavailable(f"The OS keyring could not be read: {exc}") from None
        if self.backend == "file":
            return self._file.get(name)
        return self._session.get(name)

    def set(self, name: str, value: str) -> None:
        if self.backend == "keyring":
            import keyring
            from keyring.errors import KeyringError

            try:
                keyring.set_password(SERVICE, name, value)
            except KeyringError as exc:
                raise SecretsUnavailable(f"The OS keyring refused to store the secret: {exc}") from None
            return
        if self.backend == "file":
            self._file.set(name, value)
            return
        self._session[name] = value

    def delete(self, name: str) -> None:
        if self.backend == "keyring":
            import keyring
            from keyring.errors import KeyringError, PasswordDeleteError

            try:
                keyring.delete_password(SERVICE, name)
            except PasswordDeleteError:
                pass
            except KeyringError as exc:
                raise SecretsUnavailable(f"The OS keyring could not delete the secret: {exc}") from None
            return
        if self.backend == "file":
            self._file.delete(name)
            return
        self._session.pop(name, None)


def default_secrets() -> "Secrets":
    """The secrets store the user chose: ``JACS_DESKTOP_SECRETS`` (auto|keyring|file|session)
    or else the Settings choice, with ``JACS_DESKTOP_MASTER_PASSWORD`` (or the password
    the GUI asked for) for the encrypted file."""
    backend = os.environ.get("JACS_DESKTOP_SECRETS")
    if not backend:  # the choice made in Settings
        try:
            from .settings import load_settings

            backend = load_settings().secrets_backend
        except StorageError:
            backend = "auto"
    return Secrets(backend, master_password=os.environ.get("JACS_DESKTOP_MASTER_PASSWORD") or _master_password())


#: the master password for the encrypted secrets file, given once per run by the GUI
_MASTER: dict[str, str] = {}


def set_master_password(password: str) -> None:
    _MASTER["pw"] = password


def _master_password() -> str | None:
    return _MASTER.get("pw")
