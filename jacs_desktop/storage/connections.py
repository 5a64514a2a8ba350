"""Saved connections: name, URL, options, in a versioned settings file.

The file lives in the platformdirs config dir (``JACS_DESKTOP_CONFIG_DIR``
overrides it). Secrets never go in it: an S3 secret key is kept by the
:mod:`secrets` wrapper under ``connection:{name}:secret_key``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .base import StorageError
from .urls import parse_url

__all__ = ["Connection", "Connections", "config_dir", "SETTINGS_VERSION", "MIGRATIONS"]

SETTINGS_VERSION = 1
APP = "jacs-desktop"


def config_dir() -> Path:
    env = os.environ.get("JACS_DESKTOP_CONFIG_DIR")
    if env:
        return Path(env)
    from platformdirs import user_config_path

    return user_config_path(APP, appauthor=False)


#: version N -> N+1 upgrade functions for the settings file (hook for future versions)
MIGRATIONS: dict[int, Callable[[dict], dict]] = {
    0: lambda d: {"version": 1, "connections": d.get("connections", [])},
}


@dataclass
class Connection:
    name: str
    url: str
    options: dict = field(default_factory=dict)
    #: access key id is not secret; the secret key is in the secrets store
    access_key: str | None = None
    _secrets: object = field(default=None, repr=False, compare=False)

    def secret_name(self) -> str:
        return f"connection:{self.name}:secret_key"

    def resolve_secrets(self) -> dict:
        out: dict = {}
        if self.access_key:
            out["access_key"] = self.access_key
            secrets = self._secrets
            if secrets is None:
                from .secrets import default_secrets

                secrets = default_secrets()
            value = secrets.get(self.secret_name())
            if value:
                out["secret_key"] = value
        return out

    def to_json(self) -> dict:
        d = {"name": self.name, "url": self.url, "options": self.options}
        if self.access_key:
            d["access_key"] = self.access_key
        return d


class Connections:
    _default: "Connections | None" = None
    _lock = threading.Lock()

    def __init__(self, path: str | os.PathLike | None = None, secrets=None):
        self.path = Path(path) if path else config_dir() / "connections.json"
        self.secrets = secrets
        self._items: dict[str, Connection] = {}
        self._load()

    @classmethod
    def default(cls) -> "Connections":
        return cls()

    def _load(self) -> None:
        from .versioned import load_versioned

        doc = load_versioned(self.path, "connections", SETTINGS_VERSION, MIGRATIONS)
        for item in (doc or {}).get("connections", []):
            if isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("url"), str):
                c = Connection(item["name"], item["url"], dict(item.get("options") or {}), item.get("access_key"))
                c._secrets = self.secrets
                self._items[c.name] = c

    def _save(self) -> None:
        from .versioned import save_versioned

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
            options: dict | None = None, replace: bool = False) -> Connection:
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
            secrets = self.secrets
            if secrets is None:
                from .secrets import default_secrets

                secrets = default_secrets()
            secrets.set(c.secret_name(), secret_key)
        self._items[c.name] = c
        self._save()
        return c

    def remove(self, name: str) -> None:
        c = self.get(name)
        del self._items[name]
        self._save()
        if c.access_key:
            try:
                secrets = self.secrets
                if secrets is None:
                    from .secrets import default_secrets

                    secrets = default_secrets()
                secrets.delete(c.secret_name())
            except StorageError:
                pass
