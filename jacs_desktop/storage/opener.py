"""A store URL → an open store, in one place: parse the URL, look a ``profile:NAME``
up in the saved connections, merge its secrets, make the backend.

Module-level imports only go down (opener → connections → secrets → settings →
urlparse → base; the backends and :class:`~.store.Store` beside them), so there
is no import circle; the import-linter contracts in pyproject.toml keep it so.
Each backend module is imported when a URL names it (a folder store does not load
the S3, SQLite or cloud modules; the saved connections only for ``profile:NAME``), and
the heavy optional dependency, boto3, lazily inside :mod:`.s3` when an S3 store is first made.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .base import ObjectStore, StorageError
from .fs import FsStore
from .store import DEFAULT_CACHE_BYTES, Store
from .urlparse import ParsedURL, parse_url

if TYPE_CHECKING:
    from .connections import Connections

__all__ = ["open_objects", "open_store", "resolve_profile"]


def resolve_profile(name: str, secrets: Mapping[str, Any] | None = None, *,
                    connections: Connections | None = None) -> tuple[str, dict[str, Any]]:
    """The URL a saved connection points to, and its secrets with *secrets* (the
    non-empty ones) on top. *connections*: default the user's saved connections."""
    from .connections import Connections

    conn = (connections if connections is not None else Connections.default()).get(name)
    if parse_url(conn.url).scheme == "profile":  # only a hand-edited file can say so
        raise StorageError(f"The saved connection {name!r} points to another profile")
    merged: dict[str, Any] = {**conn.resolve_secrets(), **{k: v for k, v in (secrets or {}).items() if v}}
    return conn.url, merged


def open_objects(url: str, *, create: bool = False, secrets: Mapping[str, Any] | None = None,
                 connections: Connections | None = None) -> ObjectStore:
    """The backend a URL names (``profile:NAME`` through *connections*, default the
    user's saved connections). *create*: make the folder, file or bucket when missing."""
    p = parse_url(url)
    if p.scheme == "profile":
        url, secrets = resolve_profile(p["name"], secrets, connections=connections)
        p = parse_url(url)
    return _backend(p, create=create, secrets=secrets)


def _backend(p: ParsedURL, *, create: bool, secrets: Mapping[str, Any] | None) -> ObjectStore:
    scheme = p.scheme
    if scheme == "memory":
        from .memory import memory_store

        return memory_store(p["name"])
    if scheme == "sqlite":
        path = Path(os.path.expanduser(p["path"]))
        if not path.exists() and not create:
            raise StorageError(f"{path} does not exist")
        from .sqlite import SqliteStore

        return SqliteStore(path, create=create)
    if scheme == "jsonl":
        path = Path(os.path.expanduser(p["path"]))
        if not path.exists() and not create:
            raise StorageError(f"{path} does not exist")
        from .jsonl import JsonlStore

        return JsonlStore(path, create=create)
    if scheme == "s3":
        opts = dict(p["options"])
        if secrets:
            opts.update({k: v for k, v in secrets.items() if v})
        if create:
            opts["create_bucket"] = True
        from .s3 import S3Store

        return S3Store(p["bucket"], p["prefix"], **opts)
    if scheme == "gs":
        gs_opts = {**p["options"], **{k: v for k, v in (secrets or {}).items() if v}}
        if create:
            gs_opts["create_bucket"] = True
        from .gcs import GCSStore

        return GCSStore(p["bucket"], p["prefix"], **gs_opts)
    if scheme == "azure":  # a saved connection's access key is the account name, its secret key the account key
        az_opts = {**p["options"], **{k: v for k, v in (secrets or {}).items() if v}}
        if create:
            az_opts["create_container"] = True
        from .azure import AzureStore

        return AzureStore(p["container"], p["prefix"], **az_opts)
    return FsStore(Path(os.path.expanduser(p["path"])), create=create)


def open_store(url: str, *, create: bool = False, secrets: Mapping[str, Any] | None = None,
               cache_bytes: int | None = None,
               connections: Connections | None = None) -> Store:
    """A :class:`~.store.Store` on the backend the URL names (see :func:`open_objects`)."""
    return Store(open_objects(url, create=create, secrets=secrets, connections=connections),
                 cache_bytes=cache_bytes or DEFAULT_CACHE_BYTES)
