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

What lives for the run only — ``session`` secrets and the master password the
GUI asked for — is in one explicit object, :data:`SESSION` (a
:class:`SessionSecrets`): every :class:`Secrets` uses it unless it is given
another, so a password is asked once per run; ``SESSION.clear()`` forgets it all.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..paths import config_dir
from .base import StorageError
from .settings import load_settings

__all__ = ["default_secrets", "Secrets", "SecretStore", "SecretsUnavailable", "KeyringStatus", "keyring_status",
           "SERVICE", "SessionSecrets", "SESSION", "set_master_password", "secrets_file", "remember_status"]

SERVICE = "jacs-desktop"
_BACKENDS = ("auto", "keyring", "file", "session")


class SecretsUnavailable(StorageError):
    """No secure place to remember a secret (the message says what to do)."""


class SecretStore(Protocol):
    """What keeps secrets by name: a :class:`Secrets`, or a :class:`SessionSecrets` itself."""

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> None: ...


def secrets_file() -> Path:
    """Where the ``file`` backend keeps its encrypted secrets (in :func:`~jacs_desktop.paths.config_dir`)."""
    return config_dir() / "secrets.enc.json"


class SessionSecrets:
    """What is kept in memory for one run and never written anywhere: the secrets
    of the ``session`` backend and the master password of the encrypted file.

    The process-wide one is :data:`SESSION`; pass another to :class:`Secrets` (or
    :func:`default_secrets`) to keep a caller's secrets apart, e.g. in tests.
    Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, str] = {}
        self._master: str | None = None

    def get(self, name: str) -> str | None:
        with self._lock:
            return self._values.get(name)

    def set(self, name: str, value: str) -> None:
        with self._lock:
            self._values[name] = value

    def delete(self, name: str) -> None:
        with self._lock:
            self._values.pop(name, None)

    @property
    def master_password(self) -> str | None:
        with self._lock:
            return self._master

    @master_password.setter
    def master_password(self, password: str | None) -> None:
        with self._lock:
            self._master = password or None

    def clear(self) -> None:
        """Forget every secret and the master password (as a new run would)."""
        with self._lock:
            self._values.clear()
            self._master = None


#: the process-wide session: "don't remember" secrets and the master password live
#: here for the life of the process, shared by every :class:`Secrets` by default
SESSION = SessionSecrets()


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
        if (isinstance(b, fail.Keyring) or mod.startswith("keyring.backends.null")
                or (cls == "Keyring" and mod.endswith(".null"))):
            return KeyringStatus(False, name, "no secure keyring is available (only the 'fail'/'null' backend)")
        if mod.startswith("keyrings.alt") or "plaintext" in cls.lower() or "plaintext" in mod.lower():
            return KeyringStatus(False, name, f"the keyring backend {mod}.{cls} stores secrets in plain text")
        try:
            prio = float(getattr(b, "priority", 0))
        except Exception:
            prio = 0.0
        if prio < 1:
            return KeyringStatus(False, name,
                                 f"the keyring backend {mod}.{cls} is not a secure store (priority {prio})")
    return KeyringStatus(True, name, "secure OS keyring")


def _kdf(password: str, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    return Argon2id(salt=salt, length=32, iterations=2, lanes=1, memory_cost=19456).derive(password.encode("utf-8"))


class _EncryptedFile:
    VERSION = 1

    def __init__(self, path: Path, master_password: str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        if not master_password:
            raise SecretsUnavailable("The encrypted secrets file needs a master password")
        if self.path.exists():
            try:
                doc = json.loads(self.path.read_bytes())
                salt = base64.b64decode(doc["salt"])
                self._key = _kdf(master_password, salt)
                self._doc: dict[str, Any] = doc
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
    """get/set/delete secrets by name, in the backend the user chose.

    *session* holds what the ``session`` backend keeps (default: the process-wide
    :data:`SESSION`, so every ``Secrets`` of one run shares it)."""

    def __init__(self, backend: str = "auto", *, file_path: str | os.PathLike[str] | None = None,
                 master_password: str | None = None, session: SessionSecrets | None = None) -> None:
        if backend not in _BACKENDS:
            raise StorageError(f"Unknown secrets backend {backend!r} (choose {', '.join(_BACKENDS)})")
        self.requested = backend
        self.warning: str | None = None
        self._session = SESSION if session is None else session
        self._file: _EncryptedFile | None = None
        if backend == "keyring":
            status = keyring_status()
            if not status.secure:
                raise SecretsUnavailable(
                    f"Cannot use the OS keyring: {status.reason}. Choose 'remember in an encrypted file' "
                    "(protected by a master password) or 'do not remember' (enter it every time)."
                )
            self.backend = "keyring"
        elif backend == "auto":
            status = keyring_status()
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
                file_path = secrets_file()
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
        if self._file is not None:  # the "file" backend
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
        if self._file is not None:
            self._file.set(name, value)
            return
        self._session.set(name, value)

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
        if self._file is not None:
            self._file.delete(name)
            return
        self._session.delete(name)


def default_secrets(session: SessionSecrets | None = None) -> Secrets:
    """The secrets store the user chose: ``JACS_DESKTOP_SECRETS`` (auto|keyring|file|session)
    or else the Settings choice, with ``JACS_DESKTOP_MASTER_PASSWORD`` (or the password
    the GUI asked for, kept in the session) for the encrypted file."""
    session = SESSION if session is None else session
    backend = os.environ.get("JACS_DESKTOP_SECRETS")
    if not backend:  # the choice made in Settings
        try:
            backend = load_settings().secrets_backend
        except StorageError:
            backend = "auto"
    return Secrets(backend, master_password=os.environ.get("JACS_DESKTOP_MASTER_PASSWORD") or session.master_password,
                   session=session)


def set_master_password(password: str, session: SessionSecrets | None = None) -> None:
    """The master password of the encrypted secrets file, given once per run by the GUI."""
    (SESSION if session is None else session).master_password = password



def remember_status() -> tuple[str, str]:
    """Where a secret the user asks to remember goes: ``("keyring" | "file", "")`` when it can be
    remembered (the OS keyring, or the encrypted secrets file the Settings chose), else
    ``("", why not)`` in words. Never raises."""
    try:
        store = default_secrets()
    except SecretsUnavailable as exc:
        return "", str(exc).rstrip(".")
    except Exception as exc:  # a broken settings file must not break a dialog
        return "", f"the secrets store could not be opened ({exc})"
    if store.persistent:
        return store.backend, ""
    if store.requested == "auto":
        return "", keyring_status().reason.rstrip(".")
    return "", "the Settings say secrets are kept for this session only"
