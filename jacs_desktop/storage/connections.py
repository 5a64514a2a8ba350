"""Saved connections: name, URL, options, in a versioned settings file.

The file lives in :func:`jacs_desktop.paths.config_dir` (``JACS_DESKTOP_CONFIG_DIR``
overrides it). Secrets never go in it: an S3 secret key is kept by the
:mod:`secrets` wrapper under ``connection:{name}:secret_key``.

Opening a ``profile:NAME`` URL is :mod:`.opener`'s job; this module only keeps the list.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# config_dir is re-exported for old callers (jobs/profiles.py, ui/appdialogs.py);
# new code imports it from jacs_desktop.paths
from ..paths import config_dir
from .base import StorageError
from .secrets import SecretStore, default_secrets
from .urlparse import parse_url
from .versioned import load_versioned, save_versioned

__all__ = ["Connection", "Connections", "connections_file", "config_dir", "SETTINGS_VERSION", "MIGRATIONS"]

SETTINGS_VERSION = 1


def connections_file() -> Path:
    """Where the saved connections are kept (in :func:`~jacs_desktop.paths.config_dir`)."""
    return config_dir() / "connections.json"


#: version N -> N+1 upgrade functions for the settings file (hook for future versions)
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    0: lambda d: {"version": 1, "connections": d.get("connections", [])},
}


@dataclass
class Connection:
    name: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)
    #: access key id is not secret; the secret key is in the secrets store
    access_key: str | None = None
    _secrets: SecretStore | None = field(default=None, repr=False, compare=False)

    def secret_name(self) -> str:
        return f"connection:{self.name}:secret_key"

    def resolve_secrets(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.access_key:
            out["access_key"] = self.access_key
            secrets = self._secrets if self._secrets is not None else default_secrets()
            value = secrets.get(self.secret_name())
            if value:
                out["secret_key"] = value
        return out

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "url": self.url, "options": self.options}
        if self.access_key:
            d["access_key"] = self.access_key
        return d


class Connections:
    """The saved connections in *path* (default :func:`connections_file`); their secret
    keys go to *secrets* (default: :func:`~.secrets.default_secrets` when needed)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, secrets: SecretStore | None = None) -> None:
        self.path = Path(path) if path else connections_file()
        self.secrets = secrets
        self._items: dict[str, Connection] = {}
        self._load()

    @classmethod
    def default(cls) -> Connections:
        """The user's saved connections (the file in the config folder)."""
        return cls()

    def _secret_store(self) -> SecretStore:
        return self.secrets if self.secrets is not None else default_secrets()

    def _load(self) -> None:
        doc = load_versioned(self.path, "connections", SETTINGS_VERSION, MIGRATIONS)
        for item in (doc or {}).get("connections", []):
            if isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("url"), str):
                c = Connection(item["name"], item["url"], dict(item.get("options") or {}), item.get("access_key"))
                c._secrets = self.secrets
                self._items[c.name] = c

    def _save(self) -> None:
        save_versioned(self.path, {"version": SETTINGS_VERSION,
                                   "connections": [c.to_json() for c in self._items.values()]})

    def list(self) -> list[Connection]:
        return sorted(self._items.values(), key=lambda c: c.name.lower())

    def get(self, name: str) -> Connection:
        try:
            return self._items[name]
        except KeyError:
            raise StorageError(f"No saved connection named {name!r}") from None

    def add(self, name: str, url: str, *, access_key: str | None = None, secret_key: str | None = None,
            options: dict[str, Any] | None = None, replace: bool = False) -> Connection:
        if not name or not name.strip() or any(ord(ch) < 32 for ch in name):
            raise StorageError("A connection needs a name")
        if name in self._items and not replace:
            raise StorageError(f"A connection named {name!r} already exists")
        p = parse_url(url)
        if p.scheme == "profile":
            raise StorageError("A saved connection cannot point to another profile")
        c = Connection(name.strip(), url, dict(options or {}), access_key)
        c._secrets = self.secrets
        if secret_key:
            self._secret_store().set(c.secret_name(), secret_key)
        self._items[c.name] = c
        self._save()
        return c

    def rename(self, old: str, new: str) -> Connection:
        """Give a saved connection another name; its secret key moves with it (written under
        the new name before the old one is deleted, so a failure loses nothing)."""
        c = self.get(old)
        new = new.strip()
        if not new or any(ord(ch) < 32 for ch in new):
            raise StorageError("A connection needs a name")
        if new == old:
            return c
        if new in self._items:
            raise StorageError(f"A connection named {new!r} already exists")
        moved = Connection(new, c.url, dict(c.options), c.access_key)
        moved._secrets = self.secrets
        secret = None
        if c.access_key:
            secret = self._secret_store().get(c.secret_name())
            if secret:
                self._secret_store().set(moved.secret_name(), secret)
        self._items = {(new if k == old else k): (moved if k == old else v) for k, v in self._items.items()}
        self._save()
        if secret:
            with contextlib.suppress(StorageError):
                self._secret_store().delete(c.secret_name())
        return moved

    def remove(self, name: str) -> None:
        c = self.get(name)
        del self._items[name]
        self._save()
        if c.access_key:
            with contextlib.suppress(StorageError):
                self._secret_store().delete(c.secret_name())
