"""Store URLs, parsed: the syntax only, nothing is opened or looked up.

* ``/path``, ``~/path``, ``file:///path`` — a folder
* ``memory://name`` — in-process scratch store
* ``sqlite:///path/file.sqlite3`` — SQLite file
* ``jsonl:///path/file.jsonl`` — one JSON Lines file
* ``s3://bucket/prefix?endpoint_url=…&region=…&sse=AES256&profile=…`` — S3 / S3-compatible
* ``gs://bucket/prefix?endpoint_url=…&project=…`` — Google Cloud Storage
* ``azure://container/prefix?account=…&endpoint=…`` — Azure Blob (``az://`` alike)
* ``profile:NAME`` — a saved connection (resolved by :mod:`.opener`, not here)

Imports nothing from storage but :mod:`.base`, so connections and settings can
validate URLs without an import circle; :mod:`.opener` turns a URL into a store.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .base import NotSupported, StorageError

__all__ = ["parse_url", "ParsedURL"]

_S3_OPTIONS = {"endpoint_url", "region", "sse", "profile", "connect_timeout", "read_timeout", "max_attempts",
               "addressing_style", "create_bucket", "parallel_list", "fast_path"}


_GS_OPTIONS = {"endpoint_url", "project", "credentials_file", "anonymous", "connect_timeout", "read_timeout",
               "retry_timeout", "create_bucket"}


def _parse_gs(url: str) -> ParsedURL:
    """``gs://bucket/prefix?endpoint_url=…&project=…`` (``gcs://`` alike)."""
    parts = urlsplit(url)
    if not parts.netloc:
        raise StorageError("A Google Cloud Storage URL needs a bucket: gs://bucket/prefix")
    opts: dict[str, Any] = {}
    for k, v in parse_qs(parts.query, keep_blank_values=False).items():
        if k not in _GS_OPTIONS:
            raise StorageError(f"Unknown Google Cloud Storage option {k!r} (known: {', '.join(sorted(_GS_OPTIONS))})")
        opts[k] = v[-1]
    return ParsedURL(scheme="gs", bucket=parts.netloc, prefix=unquote(parts.path).strip("/"), options=opts)


_AZURE_OPTIONS = {"account", "endpoint", "create_container", "connect_timeout", "read_timeout", "max_attempts"}


def _parse_azure(url: str) -> ParsedURL:
    """``azure://container/prefix?account=…&endpoint=…`` (``az://`` alike); keys never go in the URL."""
    parts = urlsplit(url)
    if not parts.netloc:
        raise StorageError("An Azure URL needs a container: azure://container/prefix")
    opts: dict[str, Any] = {}
    for k, v in parse_qs(parts.query, keep_blank_values=False).items():
        if k in ("account_key", "key", "sas", "sas_token", "connection_string"):
            raise StorageError("Azure keys do not go in the URL: save the key with the connection (it goes to the "
                               "OS keyring) or set AZURE_STORAGE_CONNECTION_STRING")
        if k not in _AZURE_OPTIONS:
            raise StorageError(f"Unknown Azure option {k!r} (known: {', '.join(sorted(_AZURE_OPTIONS))})")
        opts[k] = v[-1]
    return ParsedURL(scheme="azure", container=parts.netloc, prefix=unquote(parts.path).strip("/"), options=opts)


class ParsedURL(dict[str, Any]):
    @property
    def scheme(self) -> str:
        scheme: str = self["scheme"]  # always set: every ParsedURL is built with one
        return scheme


def parse_url(url: str) -> ParsedURL:
    if not isinstance(url, str) or not url.strip():
        raise StorageError("No store given")
    url = url.strip()
    if "\x00" in url:
        raise StorageError("The store URL contains a NUL character")
    low = url.lower()
    if low.startswith(("gs://", "gcs://")):
        return _parse_gs(url)
    if low.startswith(("azure://", "az://")):
        return _parse_azure(url)
    if low.startswith(("gs://", "gcs://", "azure://", "az://", "abfs://", "abfss://")):
        raise NotSupported(f"{url.split(':', 1)[0]}:// stores are not supported yet "
                           "(folders, S3, SQLite and memory are)")
    if low.startswith("profile:"):
        return ParsedURL(scheme="profile", name=url[len("profile:"):])
    if low.startswith("memory://"):
        return ParsedURL(scheme="memory", name=url[len("memory://"):])
    if low.startswith("sqlite://"):
        rest = url[len("sqlite://"):]
        path = unquote(rest)
        if not path:
            raise StorageError("A SQLite URL needs a file: sqlite:///path/file.sqlite3")
        return ParsedURL(scheme="sqlite", path=path)
    if low.startswith("jsonl://"):
        path = unquote(url[len("jsonl://"):])
        if not path:
            raise StorageError("A JSONL URL needs a file: jsonl:///path/file.jsonl")
        return ParsedURL(scheme="jsonl", path=path)
    if low.startswith("s3://"):
        parts = urlsplit(url)
        bucket = parts.netloc
        if not bucket:
            raise StorageError("An S3 URL needs a bucket: s3://bucket/prefix")
        opts: dict[str, Any] = {}
        for k, v in parse_qs(parts.query, keep_blank_values=False).items():
            if k not in _S3_OPTIONS:
                raise StorageError(f"Unknown S3 option {k!r} (known: {', '.join(sorted(_S3_OPTIONS))})")
            opts[k] = v[-1]
        return ParsedURL(scheme="s3", bucket=bucket, prefix=unquote(parts.path).strip("/"), options=opts)
    if low.startswith("file://"):
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise NotSupported("file:// URLs on another host are not supported")
        return ParsedURL(scheme="file", path=unquote(parts.path))
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+://", url):
        raise NotSupported(f"Unknown kind of store: {url.split('://', 1)[0]}://")
    return ParsedURL(scheme="file", path=url)
