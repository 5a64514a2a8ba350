"""Versioned JSON settings files (connections, backup profiles, preferences):
``{"version": N, ...}`` read with a migration hook for every older version, refused
with a clear message when damaged or written by a newer release, written atomically
with owner-only permissions."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .base import StorageError

__all__ = ["load_versioned", "save_versioned"]


def load_versioned(path: Path, what: str, version: int,
                   migrations: dict[int, Callable[[dict[str, Any]], dict[str, Any]]]) -> dict[str, Any] | None:
    """The file's content upgraded to *version*, or None when there is no file."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        doc: object = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise StorageError(f"The {what} file {path} cannot be read: {exc}") from None
    if not isinstance(doc, dict):
        raise StorageError(f"The {what} file {path} is damaged")
    found = doc.get("version", 0)
    if not isinstance(found, int) or found > version:
        raise StorageError(f"The {what} file was written by a newer JACS Desktop (version {found})")
    while found < version:
        doc = migrations[found](doc)
        found = doc["version"]
    return doc


def save_versioned(path: Path, doc: dict[str, Any]) -> None:
    from ..core.identity import write_file_atomic

    write_file_atomic(Path(path), json.dumps(doc, indent=2).encode(), 0o600)
