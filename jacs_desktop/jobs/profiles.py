"""Saved backup profiles: source, destination and options under a name, so that
``jacs-desktop-cli backup --profile NAME`` can run from cron or Task Scheduler.

Stored in ``backup-profiles.json`` (versioned, like the connections file) in the
platformdirs config dir. An encrypted profile's passphrase is never in the file:
it is kept by the secrets wrapper under ``backup:{name}:passphrase`` (or given in
``JACS_DESKTOP_BACKUP_PASSPHRASE`` at run time).

Archive destinations may hold ``{date}`` and ``{time}`` (UTC), so each run writes
a new file: ``/backups/jacs-{date}-{time}.tar.gz``.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..storage.base import StorageError
from ..storage.connections import config_dir
from ..storage.urls import parse_url
from .common import CancelToken, ProgressFn

if TYPE_CHECKING:
    from ..storage.secrets import Secrets
    from ..storage.store import Store
    from .backup import ArchiveReport
    from .migrate import MigrateReport

__all__ = ["BackupProfile", "BackupProfiles", "PROFILES_VERSION", "ARCHIVE_SUFFIXES", "is_archive_name",
           "command_line"]

PROFILES_VERSION = 1
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.zst", ".jdbackup")
_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    0: lambda d: {"version": 1, "profiles": d.get("profiles", [])},
}


def is_archive_name(text: str) -> bool:
    return str(text).lower().endswith(ARCHIVE_SUFFIXES)


def command_line(name: str) -> str:
    """What to put in a crontab / scheduled task for the profile."""
    return "jacs-desktop-cli backup --profile " + shlex.quote(name)


@dataclass
class BackupProfile:
    name: str
    source: str
    destination: str
    encrypt: bool = False
    include_private_keys: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def to_archive(self) -> bool:
        return is_archive_name(self.destination)

    def secret_name(self) -> str:
        return f"backup:{self.name}:passphrase"

    def resolved_destination(self, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        return self.destination.replace("{date}", now.strftime("%Y-%m-%d")).replace("{time}", now.strftime("%H%M%S"))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "destination": self.destination, "encrypt": self.encrypt,
                "include_private_keys": self.include_private_keys, "options": self.options}


def validate_profile(p: BackupProfile) -> list[str]:
    problems: list[str] = []
    if not p.name or not p.name.strip() or any(ord(ch) < 32 for ch in p.name):
        problems.append("A profile needs a name")
    for what, url in (("source", p.source), ("destination", p.destination)):
        if not url or not str(url).strip():
            problems.append(f"The {what} is empty")
            continue
        if what == "destination" and is_archive_name(url):
            continue
        try:
            parse_url(url)
        except StorageError as exc:
            problems.append(f"The {what}: {exc}")
    if p.encrypt and not p.to_archive:
        problems.append("Encryption is for archive files; a store destination keeps the signed files as they are")
    if p.source and p.destination and p.source == p.destination:
        problems.append("The source and the destination are the same")
    return problems


class BackupProfiles:
    def __init__(self, path: str | os.PathLike[str] | None = None, secrets: Secrets | None = None):
        self.path = Path(path) if path else config_dir() / "backup-profiles.json"
        self.secrets = secrets
        self._items: dict[str, BackupProfile] = {}
        self._load()

    def _secrets(self) -> Secrets:
        if self.secrets is None:
            from ..storage.secrets import default_secrets

            self.secrets = default_secrets()
        return self.secrets

    def _load(self) -> None:
        from ..storage.versioned import load_versioned

        doc = load_versioned(self.path, "backup profiles", PROFILES_VERSION, _MIGRATIONS)
        for item in (doc or {}).get("profiles", []):
            if not isinstance(item, dict):
                continue
            try:
                p = BackupProfile(str(item["name"]), str(item["source"]), str(item["destination"]),
                                  bool(item.get("encrypt")), bool(item.get("include_private_keys")),
                                  dict(item.get("options") or {}))
            except (KeyError, TypeError, ValueError):
                continue
            self._items[p.name] = p

    def _save(self) -> None:
        from ..storage.versioned import save_versioned

        profiles = [p.to_json() for p in self._items.values()]
        save_versioned(self.path, {"version": PROFILES_VERSION, "profiles": profiles})

    def list(self) -> list[BackupProfile]:
        return sorted(self._items.values(), key=lambda p: p.name.lower())

    def get(self, name: str) -> BackupProfile:
        try:
            return self._items[name]
        except KeyError:
            raise StorageError(f"No backup profile named {name!r}") from None

    def add(self, profile: BackupProfile, *, passphrase: str | None = None, replace: bool = False) -> BackupProfile:
        profile.name = profile.name.strip() if profile.name else profile.name
        problems = validate_profile(profile)
        if problems:
            raise StorageError("; ".join(problems))
        if profile.name in self._items and not replace:
            raise StorageError(f"A backup profile named {profile.name!r} already exists")
        if passphrase:
            self._secrets().set(profile.secret_name(), passphrase)
        self._items[profile.name] = profile
        self._save()
        return profile

    def not_remembered(self) -> str | None:
        """Why an encrypted profile's passphrase would not be remembered after this run
        (no secure keyring and no encrypted secrets file), in words; None when it would be."""
        secrets = self._secrets()
        if secrets.persistent:
            return None
        if secrets.warning:
            return secrets.warning
        return "Secrets are set to be kept for this run only (the 'do not remember' choice)"

    def remove(self, name: str) -> None:
        p = self.get(name)
        del self._items[name]
        self._save()
        if p.encrypt:
            with contextlib.suppress(StorageError):
                self._secrets().delete(p.secret_name())

    def passphrase(self, profile: BackupProfile) -> str | None:
        env = os.environ.get("JACS_DESKTOP_BACKUP_PASSPHRASE")
        if env:
            return env
        if not profile.encrypt:
            return None
        try:
            return self._secrets().get(profile.secret_name())
        except StorageError:
            return None


def run_profile(profile: BackupProfile, passphrase: str | None, progress: ProgressFn | None = None,
                cancel: CancelToken | None = None, src: Store | None = None) -> ArchiveReport | MigrateReport:
    """Run one backup profile; returns an ``ArchiveReport`` or a ``MigrateReport``.
    *src*: the source store when the caller has it open already."""
    from ..storage.urls import open_store

    if src is None:
        src = open_store(profile.source)
    if profile.to_archive:
        from .backup import BackupError, backup

        if profile.encrypt and not passphrase:
            raise BackupError(f"The profile {profile.name!r} is encrypted and no passphrase is remembered: "
                              "set JACS_DESKTOP_BACKUP_PASSPHRASE")
        return backup(src, profile.resolved_destination(), passphrase=passphrase if profile.encrypt else None,
                      include_private_keys=profile.include_private_keys, progress=progress, cancel=cancel)
    from .migrate import MigrateOptions, migrate

    return migrate(src, open_store(profile.destination, create=True), MigrateOptions(), progress=progress,
                   cancel=cancel)
