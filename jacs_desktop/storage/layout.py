"""Where JACS objects live inside a store: the two known layouts.

1. ``jacs`` — what jacs 0.15 writes (SPEC 1): ``{D}/agent/{id}:{v}.json``,
   ``documents/{id}:{v}.json`` at the storage root *and* ``{D}/documents/``,
   ``{D}/public_keys/{hash}.pem|.enc_type``, ``documents/archive/``,
   external attachments at ``{D}/{path}``.
2. ``docs`` — the layout in the JACS storage docs: ``agents/{id}/{v}.json``,
   ``documents/{id}/{v}.json``, ``files/{attachment-hash}``; we add
   ``public_keys/{hash}.pem|.enc_type`` and ``archive/{id}/{v}.json``. Used
   where ``:`` cannot be part of a name (Windows folders).
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass

from .base import ObjectStore, StorageError, UnsafeName, join_key, validate_id, validate_key

__all__ = ["Layout", "JacsLayout", "DocsLayout", "Ref", "detect_layout", "new_store_layout"]


@dataclass(frozen=True)
class Ref:
    """A version named by an object key: kind is agent | document | archived."""

    kind: str
    id: str
    version: str
    key: str
    size: int = 0
    mtime: float | None = None


class Layout(ABC):
    """Where a layout puts each kind of object (one subclass per known layout)."""

    name = ""
    description = ""

    @abstractmethod
    def agent_key(self, agent_id: str, version: str) -> str:
        ...

    @abstractmethod
    def document_key(self, doc_id: str, version: str) -> str:
        ...

    @abstractmethod
    def archive_key(self, doc_id: str, version: str) -> str:
        ...

    @abstractmethod
    def public_key_keys(self, key_hash: str) -> tuple[str, str]:
        ...

    @abstractmethod
    def attachment_key(self, path: str, sha256: str | None = None) -> str:
        ...

    @abstractmethod
    def list_prefixes(self) -> list[tuple[str, str]]:
        """(prefix, kind) pairs to list."""
        ...

    @abstractmethod
    def parse(self, key: str, kind: str) -> tuple[str, str] | None:
        """(id, version) from a key under one of the prefixes, or None if it is not one."""
        ...

    @abstractmethod
    def public_keys_prefix(self) -> str:
        ...


_SIMPLE_ID = r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}"
_SIMPLE_NAME = re.compile(rf"({_SIMPLE_ID}):({_SIMPLE_ID})\.json")


def _split_colon(name: str) -> tuple[str, str] | None:
    m = _SIMPLE_NAME.fullmatch(name)
    if m is not None and ".." not in name:  # the usual UUID names: no further checks needed
        return m.group(1), m.group(2)
    if not name.endswith(".json") or "/" in name:
        return None
    stem = name[:-5]
    if stem.count(":") != 1:
        return None
    a, b = stem.split(":")
    try:
        return validate_id(a), validate_id(b)
    except UnsafeName:
        return None


class JacsLayout(Layout):
    name = "jacs"
    description = "jacs 0.15 layout (agent/{id}:{version}.json, documents/{id}:{version}.json)"

    def __init__(self, data_dir: str = "jacs_data"):
        data_dir = data_dir.strip("/")
        if data_dir:
            validate_key(data_dir)
        self.data_dir = data_dir
        self._prefixes = [(join_key(data_dir, "agent") + "/", "agent"), ("documents/", "document")]
        if data_dir:
            self._prefixes.append((join_key(data_dir, "documents") + "/", "document"))

    def agent_key(self, agent_id, version):
        return join_key(self.data_dir, "agent", f"{validate_id(agent_id)}:{validate_id(version)}.json")

    def document_key(self, doc_id, version):
        return f"documents/{validate_id(doc_id)}:{validate_id(version)}.json"

    def archive_key(self, doc_id, version):
        return f"documents/archive/{validate_id(doc_id)}:{validate_id(version)}.json"

    def public_key_keys(self, key_hash):
        validate_id(key_hash, "key hash")
        base = join_key(self.data_dir, "public_keys", key_hash)
        return base + ".pem", base + ".enc_type"

    def public_keys_prefix(self):
        return join_key(self.data_dir, "public_keys") + "/"

    def attachment_key(self, path, sha256=None):
        return validate_key(join_key(self.data_dir, path))

    def list_prefixes(self):
        return list(self._prefixes)

    def parse(self, key, kind):
        for prefix, k in self._prefixes:
            if k == kind and key.startswith(prefix):
                rest = key[len(prefix):]
                if kind == "document" and rest.startswith("archive/"):
                    ids = _split_colon(rest[len("archive/"):])
                    return None if ids is None else ids
                return _split_colon(rest)
        return None


class DocsLayout(Layout):
    name = "docs"
    description = "JACS docs layout (agents/{id}/{version}.json, documents/{id}/{version}.json)"

    def agent_key(self, agent_id, version):
        return f"agents/{validate_id(agent_id)}/{validate_id(version)}.json"

    def document_key(self, doc_id, version):
        return f"documents/{validate_id(doc_id)}/{validate_id(version)}.json"

    def archive_key(self, doc_id, version):
        return f"archive/{validate_id(doc_id)}/{validate_id(version)}.json"

    def public_key_keys(self, key_hash):
        validate_id(key_hash, "key hash")
        return f"public_keys/{key_hash}.pem", f"public_keys/{key_hash}.enc_type"

    def public_keys_prefix(self):
        return "public_keys/"

    def attachment_key(self, path, sha256=None):
        if sha256:
            return f"files/{validate_id(sha256, 'attachment hash')}"
        return validate_key(join_key("files", path))

    def list_prefixes(self):
        return [("agents/", "agent"), ("documents/", "document"), ("archive/", "archived")]

    def parse(self, key, kind):
        for prefix, k in self.list_prefixes():
            if key.startswith(prefix) and (k == kind or (kind == "document" and k == "archived")):
                rest = key[len(prefix):]
                parts = rest.split("/")
                if len(parts) != 2 or not parts[1].endswith(".json"):
                    return None
                try:
                    return validate_id(parts[0]), validate_id(parts[1][:-5])
                except UnsafeName:
                    return None
        return None


def _first(objects: ObjectStore, prefix: str) -> str | None:
    return objects.any_key(prefix)


def detect_layout(objects: ObjectStore) -> Layout:
    """Look at a few names and the config to tell which layout a store uses."""
    if _first(objects, "agents/") is not None:
        return DocsLayout()
    first_doc = _first(objects, "documents/")
    if first_doc is not None and first_doc.count("/") == 2 and not first_doc.startswith("documents/archive/"):
        return DocsLayout()
    # jacs layout: the data directory comes from a config at the root, or jacs_data/
    for info in objects.list_children(""):
        k = info.key
        if not k.endswith(".json") or info.size > (1 << 20):
            continue
        try:
            cfg = json.loads(objects.get(k))
        except (StorageError, ValueError, RecursionError):
            continue
        if isinstance(cfg, dict) and isinstance(cfg.get("jacs_data_directory"), str):
            d = cfg["jacs_data_directory"].strip()
            if d.startswith("./"):
                d = d[2:]
            if d and not d.startswith("/") and ".." not in d:
                try:
                    return JacsLayout(d)
                except UnsafeName:
                    pass
    if _first(objects, "jacs_data/") is not None:
        return JacsLayout("jacs_data")
    if _first(objects, "agent/") is not None or _first(objects, "public_keys/") is not None:
        return JacsLayout("")
    if _first(objects, "files/") is not None or _first(objects, "archive/") is not None:
        return DocsLayout()
    return new_store_layout(objects)


def new_store_layout(objects: ObjectStore) -> Layout:
    """Layout 1 everywhere ':' may be used in a name, else layout 2."""
    return JacsLayout("jacs_data") if objects.colon_ok else DocsLayout()
