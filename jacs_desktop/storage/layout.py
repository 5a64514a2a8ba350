"""Where JACS objects live inside a store: the two known layouts.

1. ``jacs`` — what jacs 0.15 writes (SPEC 1): ``{D}/agent/{id}:{v}.json``,
   ``documents/{id}:{v}.json`` at the storage root *and* ``{D}/documents/``,
   ``{D}/public_keys/{hash}.pem|.enc_type``, ``documents/archive/``,
   external attachments at ``{D}/{path}``, agent configs (``*.config.json``)
   at the root. A store may hold more than one data directory (several
   configs, or ``jacs_data/`` beside a config that names another one): every
   one is listed and searched for keys and attachments; writes go to the first.
2. ``docs`` — the layout in the JACS storage docs: ``agents/{id}/{v}.json``,
   ``documents/{id}/{v}.json``, ``files/{attachment-hash}``; we add
   ``public_keys/{hash}.pem|.enc_type`` and ``archive/{id}/{v}.json``. Used
   where ``:`` cannot be part of a name (Windows folders).
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .base import NotFound, ObjectStore, StorageError, UnsafeName, join_key, validate_id, validate_key

__all__ = ["Layout", "JacsLayout", "DocsLayout", "Ref", "ConfigFile", "find_configs", "detect_layout",
           "new_store_layout", "MAX_CONFIG_BYTES"]

#: root-level JSON files larger than this are not read to see whether they are configs
MAX_CONFIG_BYTES = 1 << 20


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

    # where to look (reads): every place the layout may hold the object, first one first
    def public_key_candidates(self, key_hash: str) -> list[tuple[str, str]]:
        return [self.public_key_keys(key_hash)]

    def public_keys_prefixes(self) -> list[str]:
        return [self.public_keys_prefix()]

    def attachment_candidates(self, path: str, sha256: str | None = None) -> list[str]:
        return [self.attachment_key(path, sha256)]


_SIMPLE_ID = r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}"
_SIMPLE_NAME = re.compile(rf"({_SIMPLE_ID}):({_SIMPLE_ID})\.json")


def _split_colon(name: str) -> tuple[str, str] | None:
    m = _SIMPLE_NAME.fullmatch(name)
    if m is not None and ".." not in name:  # the usual UUID names: no further checks needed
        return m.group(1), m.group(2)
    if not name.endswith(".json") or "/" in name or name.startswith("."):
        return None  # hidden files (e.g. macOS "._" resource forks) are not versions
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

    def __init__(self, data_dir: str = "jacs_data", also: Iterable[str] = ()) -> None:
        """*data_dir*: where agents, public keys and attachments are written; *also*:
        further data directories in the same store, read like the first."""
        dirs: list[str] = []
        for d in (data_dir, *also):
            d = d.strip("/")
            if d:
                validate_key(d)
            if d not in dirs:
                dirs.append(d)
        self.data_dir = dirs[0]
        self.data_dirs = dirs
        self._prefixes = [(join_key(d, "agent") + "/", "agent") for d in dirs] + [("documents/", "document")]
        self._prefixes += [(join_key(d, "documents") + "/", "document") for d in dirs if d and d != "documents"]

    def agent_key(self, agent_id: str, version: str) -> str:
        return join_key(self.data_dir, "agent", f"{validate_id(agent_id)}:{validate_id(version)}.json")

    def document_key(self, doc_id: str, version: str) -> str:
        return f"documents/{validate_id(doc_id)}:{validate_id(version)}.json"

    def archive_key(self, doc_id: str, version: str) -> str:
        return f"documents/archive/{validate_id(doc_id)}:{validate_id(version)}.json"

    def public_key_keys(self, key_hash: str) -> tuple[str, str]:
        return self._key_pair(self.data_dir, key_hash)

    @staticmethod
    def _key_pair(data_dir: str, key_hash: str) -> tuple[str, str]:
        validate_id(key_hash, "key hash")
        base = join_key(data_dir, "public_keys", key_hash)
        return base + ".pem", base + ".enc_type"

    def public_key_candidates(self, key_hash: str) -> list[tuple[str, str]]:
        return [self._key_pair(d, key_hash) for d in self.data_dirs]

    def public_keys_prefix(self) -> str:
        return join_key(self.data_dir, "public_keys") + "/"

    def public_keys_prefixes(self) -> list[str]:
        return [join_key(d, "public_keys") + "/" for d in self.data_dirs]

    def attachment_key(self, path: str, sha256: str | None = None) -> str:
        return validate_key(join_key(self.data_dir, path))

    def attachment_candidates(self, path: str, sha256: str | None = None) -> list[str]:
        return [validate_key(join_key(d, path)) for d in self.data_dirs]

    def list_prefixes(self) -> list[tuple[str, str]]:
        return list(self._prefixes)

    def parse(self, key: str, kind: str) -> tuple[str, str] | None:
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

    def agent_key(self, agent_id: str, version: str) -> str:
        return f"agents/{validate_id(agent_id)}/{validate_id(version)}.json"

    def document_key(self, doc_id: str, version: str) -> str:
        return f"documents/{validate_id(doc_id)}/{validate_id(version)}.json"

    def archive_key(self, doc_id: str, version: str) -> str:
        return f"archive/{validate_id(doc_id)}/{validate_id(version)}.json"

    def public_key_keys(self, key_hash: str) -> tuple[str, str]:
        validate_id(key_hash, "key hash")
        return f"public_keys/{key_hash}.pem", f"public_keys/{key_hash}.enc_type"

    def public_keys_prefix(self) -> str:
        return "public_keys/"

    def attachment_key(self, path: str, sha256: str | None = None) -> str:
        if sha256:
            return f"files/{validate_id(sha256, 'attachment hash')}"
        return validate_key(join_key("files", path))

    def list_prefixes(self) -> list[tuple[str, str]]:
        return [("agents/", "agent"), ("documents/", "document"), ("archive/", "archived")]

    def parse(self, key: str, kind: str) -> tuple[str, str] | None:
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


@dataclass(frozen=True)
class ConfigFile:
    """A JACS agent config at the store root (SPEC 1.1, 2.4)."""

    key: str
    size: int
    #: the parsed config (None when it could not be read or parsed)
    doc: dict[str, Any] | None = None
    #: why it cannot be used to find the agent's data (None: it can)
    problem: str | None = None
    #: the store's folder, for absolute directories inside it (folders only)
    root: str | None = None

    @property
    def data_dir(self) -> str | None:
        return _config_dir(self.doc, "jacs_data_directory", self.root) if self.doc else None

    @property
    def key_dir(self) -> str | None:
        return _config_dir(self.doc, "jacs_key_directory", self.root) if self.doc else None

    @property
    def public_key_key(self) -> str | None:
        """Where the agent's own public key is (``{K}/jacs.public.pem``), if inside the store."""
        kd = self.key_dir
        name = self.doc.get("jacs_agent_public_key_filename") if self.doc else None
        name = name or "jacs.public.pem"
        if kd is None or not isinstance(name, str) or "/" in name or "\\" in name or name in (".", ".."):
            return None
        try:
            return validate_key(join_key(kd, name))
        except UnsafeName:
            return None

    @property
    def algorithm(self) -> str | None:
        alg = self.doc.get("jacs_agent_key_algorithm") if self.doc else None
        return alg if isinstance(alg, str) else None


def _config_dir(doc: dict[str, Any], field: str, root: str | None = None) -> str | None:
    """A config's data/key directory as a key prefix inside the store (None: unusable or
    outside). On a folder (*root*), an absolute directory strictly inside it is made
    relative, as jacs does (SPEC 1.1)."""
    import os

    d = doc.get(field)
    if not isinstance(d, str) or not d.strip():
        return None
    d = d.strip()
    if ".." in d.replace("\\", "/").split("/"):
        return None  # jacs refuses '..'
    if root is not None and os.path.isabs(d):
        base = os.path.realpath(root)
        real = os.path.realpath(d)
        if not real.startswith(base.rstrip(os.sep) + os.sep):
            return None
        d = os.path.relpath(real, base)
    d = d.replace("\\", "/")
    while d.startswith("./"):
        d = d[2:]
    d = d.rstrip("/")
    if d in ("", "."):
        return ""
    if d.startswith("/") or (len(d) > 1 and d[1] == ":"):
        return None  # absolute: outside any store we can name
    try:
        return validate_key(d)
    except UnsafeName:
        return None


def _config_problem(doc: object, root: str | None = None) -> str | None:
    from ..core.pubkey import normalize_algorithm

    if not isinstance(doc, dict):
        return "not a JSON object"
    idv = doc.get("jacs_agent_id_and_version")
    if not isinstance(idv, str) or idv.count(":") != 1:
        return "jacs_agent_id_and_version must be 'agentId:agentVersion'"
    if normalize_algorithm(doc.get("jacs_agent_key_algorithm")) is None:
        return f"unsupported jacs_agent_key_algorithm {doc.get('jacs_agent_key_algorithm')!r}"
    for field in ("jacs_data_directory", "jacs_key_directory"):
        v = doc.get(field)
        if not isinstance(v, str) or not v.strip():
            return f"the config has no {field}"
        if ".." in v.replace("\\", "/").split("/"):
            return f"{field} must not contain '..' ({v!r})"
    for field in ("jacs_agent_private_key_filename", "jacs_agent_public_key_filename"):
        n = doc.get(field)
        if n is not None and (not isinstance(n, str) or "/" in n or "\\" in n or n in ("", ".", "..")):
            return f"{field} must be a plain file name ({n!r})"
    if _config_dir(doc, "jacs_data_directory", root) is None:
        return (f"jacs_data_directory {doc['jacs_data_directory']!r} is outside the store; "
                "the agents and public keys there are not checked")
    return None


def _looks_like_config(doc: object) -> bool:
    if not isinstance(doc, dict):
        return False
    schema = doc.get("$schema")
    return ("jacs_agent_id_and_version" in doc or "jacs_data_directory" in doc or doc.get("jacsType") == "config"
            or (isinstance(schema, str) and schema.endswith("jacs.config.schema.json")))


def find_configs(objects: ObjectStore) -> list[ConfigFile]:
    """The agent configs at the store root: every ``*.config.json`` (by name), and any
    other root ``*.json`` of at most 1 MiB that reads as a JACS config. Hidden files
    are left out. One that cannot be read is kept (without its content); a failed
    listing raises."""
    root = getattr(objects, "root", None)
    root = str(root) if root is not None and getattr(objects, "local_path", None) is not None else None
    out: list[ConfigFile] = []
    for info in objects.list_children(""):
        k = info.key
        if not k.endswith(".json") or k.startswith(".") or "/" in k:
            continue
        named = k.endswith(".config.json")
        if info.problem is not None:  # a FIFO, device, link out of the store, odd name: never opened
            if named:
                out.append(ConfigFile(k, 0, None, f"{info.problem}; not read", root))
            continue
        if info.size > MAX_CONFIG_BYTES:
            if named:
                out.append(ConfigFile(k, info.size, None, "larger than 1 MiB; not read as a config", root))
            continue
        try:
            doc = json.loads(objects.get_limited(k, MAX_CONFIG_BYTES))
        except NotFound:
            continue  # gone since it was listed
        except StorageError:
            # could not be read: kept, so that verifying it says "not checked" (never skipped silently)
            out.append(ConfigFile(k, info.size, None, None, root))
            continue
        except (ValueError, RecursionError, UnicodeDecodeError):
            if named:
                out.append(ConfigFile(k, info.size, None, None, root))  # its verdict says why
            continue
        if not named and not _looks_like_config(doc):
            continue
        if not isinstance(doc, dict):
            out.append(ConfigFile(k, info.size, None, None, root))  # its verdict says why
            continue
        out.append(ConfigFile(k, info.size, doc, _config_problem(doc, root), root))
    return out


def detect_layout(objects: ObjectStore, configs: list[ConfigFile] | None = None) -> Layout:
    """Look at a few names and the configs to tell which layout a store uses.

    *configs*: :func:`find_configs` already run on this store (not read twice)."""
    if _first(objects, "agents/") is not None:
        return DocsLayout()
    first_doc = _first(objects, "documents/")
    if first_doc is not None and first_doc.count("/") == 2 and not first_doc.startswith("documents/archive/"):
        return DocsLayout()
    # jacs layout: the data directories come from the configs at the root, jacs_data/, or the root itself
    if configs is None:
        try:
            configs = find_configs(objects)
        except StorageError:
            configs = []
    dirs: list[str] = []
    for c in configs:
        d = c.data_dir
        if d is not None and d not in dirs:
            dirs.append(d)
    if "jacs_data" not in dirs and _first(objects, "jacs_data/") is not None:
        dirs.append("jacs_data")
    if "" not in dirs and (_first(objects, "agent/") is not None or _first(objects, "public_keys/") is not None):
        dirs.append("")  # the store is a data directory itself
    if dirs:
        try:
            return JacsLayout(dirs[0], dirs[1:])
        except UnsafeName:
            pass
    if _first(objects, "files/") is not None or _first(objects, "archive/") is not None:
        return DocsLayout()
    return new_store_layout(objects)


def new_store_layout(objects: ObjectStore) -> Layout:
    """Layout 1 everywhere ':' may be used in a name, else layout 2."""
    return JacsLayout("jacs_data") if objects.colon_ok else DocsLayout()
