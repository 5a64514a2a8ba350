"""App preferences in a versioned JSON file (platformdirs config dir).

Qt-free, so the CLI honours the same choices (secrets backend, transfer
concurrency). Window geometry and the recent-stores list stay in QSettings:
they are the GUI's own state, not preferences.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ..paths import config_dir
from .base import StorageError
from .urlparse import parse_url
from .versioned import load_versioned, save_versioned

__all__ = ["Settings", "SETTINGS_FILE_VERSION", "load_settings", "load_settings_or_defaults", "save_settings",
           "settings_file", "THEMES", "SECRETS_BACKENDS"]

log = logging.getLogger(__name__)

SETTINGS_FILE_VERSION = 1
THEMES = ("system", "light", "dark")
SECRETS_BACKENDS = ("auto", "keyring", "file", "session")
_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    0: lambda d: {"version": 1, "settings": {k: v for k, v in d.items() if k != "version"}},
}


@dataclass
class Settings:
    default_store: str = ""          # empty: the store under the platformdirs data dir
    verify_on_open: bool = True
    cache_mb: int = 64               # document bodies kept in memory per open store
    secrets_backend: str = "auto"    # auto | keyring | file | session
    theme: str = "system"            # system | light | dark
    concurrency: int = 4             # transfers in flight for migrations and backups
    welcome_done: bool = False

    def problems(self) -> list[str]:
        out: list[str] = []
        if self.theme not in THEMES:
            out.append(f"Unknown theme {self.theme!r}")
        if self.secrets_backend not in SECRETS_BACKENDS:
            out.append(f"Unknown secrets backend {self.secrets_backend!r}")
        if not 16 <= int(self.cache_mb) <= 65536:
            out.append("The cache size must be between 16 MB and 64 GB")
        if not 1 <= int(self.concurrency) <= 64:
            out.append("Concurrency must be between 1 and 64")
        if self.default_store:
            try:
                parse_url(self.default_store)
            except StorageError as exc:
                out.append(f"Default store: {exc}")
        return out


def settings_file() -> Path:
    """Where the settings are kept (in :func:`~jacs_desktop.paths.config_dir`)."""
    return config_dir() / "settings.json"


def _path(path: str | os.PathLike[str] | None) -> Path:
    return Path(path) if path else settings_file()


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """The saved settings; defaults when there is no file. A damaged file or one
    from a newer version raises a clear StorageError (the app then shows it and
    goes on with defaults, without overwriting the file)."""
    doc = load_versioned(_path(path), "settings", SETTINGS_FILE_VERSION, _MIGRATIONS)
    if doc is None:
        return Settings()
    known = {f.name: f for f in fields(Settings)}
    values: dict[str, Any] = {}  # bool, int or str, as the field's default
    for k, v in (doc.get("settings") or {}).items():
        f = known.get(k)
        if f is None:
            continue  # a setting this version does not know is ignored, not lost on save
        default = getattr(Settings, k)
        if isinstance(default, bool):
            values[k] = bool(v)
        elif isinstance(default, int):
            try:
                values[k] = int(v)
            except (TypeError, ValueError):
                continue
        elif isinstance(v, str):
            values[k] = v
    s = Settings(**values)
    if s.problems():  # bad values fall back to defaults one by one
        for k in list(values):
            trial = Settings(**{k: values[k]})
            if trial.problems():
                setattr(s, k, getattr(Settings, k))
    return s


def load_settings_or_defaults(path: str | os.PathLike[str] | None = None) -> Settings:
    """What the app starts with: the saved settings, or the defaults when the file
    cannot be used (the reason goes to the log; the file is left as it is)."""
    try:
        return load_settings(path)
    except Exception as exc:  # a damaged settings file: defaults, and say so in the log
        log.warning("settings: %s", exc)
        return Settings()


def save_settings(settings: Settings, path: str | os.PathLike[str] | None = None) -> None:
    problems = settings.problems()
    if problems:
        raise StorageError("; ".join(problems))
    p = _path(path)
    extra: dict[str, Any] = {}
    if p.exists():  # keep settings a newer version wrote
        try:
            extra = dict(json.loads(p.read_bytes()).get("settings") or {})
        except (OSError, ValueError, AttributeError):
            extra = {}
    extra.update(asdict(settings))
    save_versioned(p, {"version": SETTINGS_FILE_VERSION, "settings": extra})
