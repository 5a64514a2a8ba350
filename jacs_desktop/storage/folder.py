"""A JACS folder exactly as jacs 0.15 lays it out on disk (SPEC section 1).

Given a folder (a storage root with configs, or a data directory), find the
agent configs, data directories, agent documents, documents (at the storage
root *and* under each data directory), archived documents and public keys.
Listing never reads document bodies; bodies are read on request.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..core.errors import IdentityError
from ..core.identity import AgentConfig, write_file_atomic
from ..core.sign import pretty_json
from ..core.verify import KeyRing, validate_relative_path

__all__ = ["FolderStore", "StoreEntry", "load_key_dir", "MAX_SCAN_CONFIG_BYTES"]

MAX_SCAN_CONFIG_BYTES = 1 << 20


@dataclass(frozen=True)
class StoreEntry:
    kind: str  # "agent" | "document" | "config" | "archived"
    path: Path
    id: str | None
    version: str | None


def _split_name(name: str) -> tuple[str | None, str | None]:
    if not name.endswith(".json"):
        return None, None
    stem = name[:-5]
    if stem.count(":") != 1:
        return None, None
    a, b = stem.split(":")
    return (a or None), (b or None)


def _json_files(folder: Path) -> Iterator[Path]:
    try:
        with os.scandir(folder) as it:
            for e in sorted(it, key=lambda e: e.name):
                if e.name.startswith(".") or not e.name.endswith(".json"):
                    continue
                if e.is_file(follow_symlinks=False):
                    yield Path(e.path)
    except (FileNotFoundError, NotADirectoryError):
        return


def load_key_dir(ring: KeyRing, folder: Path) -> int:
    """Add ``{hash}.pem`` (+ ``.enc_type``) keys of a ``public_keys/`` folder."""
    n = 0
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for e in entries:
        if not e.name.endswith(".pem") or not e.is_file(follow_symlinks=False):
            continue
        h = e.name[:-4]
        if len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
            continue
        try:
            key = Path(e.path).read_bytes()[: 1 << 16]
        except OSError:
            continue
        alg = None
        try:
            alg = (folder / f"{h}.enc_type").read_text("utf-8", errors="replace").strip() or None
        except OSError:
            pass
        ring.add(key, alg, str(Path(e.path)), key_hash=h)
        n += 1
    return n


class FolderStore:
    """Read access (plus document writes) to a jacs-layout folder."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise IdentityError(f"{self.root} is not a folder")
        self.configs: list[AgentConfig] = []
        self.config_files: list[Path] = []
        self.config_errors: list[tuple[Path, str]] = []
        self.data_dirs: list[Path] = []
        self._discover()

    # -- discovery ------------------------------------------------------------
    def _discover(self) -> None:
        data_dirs: list[Path] = []
        for f in _json_files(self.root):
            try:
                if f.stat().st_size > MAX_SCAN_CONFIG_BYTES:
                    continue
                head = json.loads(f.read_bytes())
            except (OSError, ValueError, RecursionError):
                continue
            if not isinstance(head, dict) or "jacs_agent_id_and_version" not in head:
                continue
            self.config_files.append(f)
            try:
                cfg = AgentConfig.load(f)
            except IdentityError as exc:
                self.config_errors.append((f, str(exc)))
                continue
            self.configs.append(cfg)
            data_dirs.append(cfg.data_dir)
        default = self.root / "jacs_data"
        if default.is_dir():
            data_dirs.append(default)
        if (self.root / "agent").is_dir() or (self.root / "public_keys").is_dir():
            data_dirs.append(self.root)  # PATH is a data directory itself
        seen = set()
        for d in data_dirs:
            r = d.resolve()
            if r not in seen and r.is_dir():
                seen.add(r)
                self.data_dirs.append(r)

    @property
    def document_dirs(self) -> list[Path]:
        dirs = [self.root / "documents"] + [d / "documents" for d in self.data_dirs]
        for c in self.configs:
            dirs.append(c.documents_dir)
        out, seen = [], set()
        for d in dirs:
            r = d.resolve() if d.exists() else d
            if r not in seen:
                seen.add(r)
                out.append(r)
        return out

    def entries(self, include_archived: bool = True) -> Iterator[StoreEntry]:
        for f in self.config_files:
            yield StoreEntry("config", f, None, None)
        for d in self.data_dirs:
            for f in _json_files(d / "agent"):
                a, v = _split_name(f.name)
                yield StoreEntry("agent", f, a, v)
        for d in self.document_dirs:
            for f in _json_files(d):
                a, v = _split_name(f.name)
                yield StoreEntry("document", f, a, v)
            if include_archived:
                for f in _json_files(d / "archive"):
                    a, v = _split_name(f.name)
                    yield StoreEntry("archived", f, a, v)

    # -- keys and attachments ----------------------------------------------------
    def key_ring(self) -> KeyRing:
        ring = KeyRing()
        for d in self.data_dirs:
            load_key_dir(ring, d / "public_keys")
        for c in self.configs:  # the agents' own keys (the library tries these first)
            try:
                ring.add(c.public_key_file.read_bytes()[: 1 << 16], c.algorithm, str(c.public_key_file))
            except OSError:
                pass
        return ring

    def read_attachment(self, rel_path: str) -> bytes | None:
        """External attachment bytes: ``{data_dir}/{path}`` (what the library reads)."""
        if validate_relative_path(rel_path):
            return None
        for d in self.data_dirs:
            p = (d / rel_path)
            try:
                if p.resolve().is_relative_to(d) and p.is_file():
                    return p.read_bytes()
            except OSError:
                continue
        return None

    # -- writes ---------------------------------------------------------------------
    def write_document(self, doc: dict, documents_dir: Path | None = None) -> Path:
        """Store a version as ``documents/{id}:{version}.json`` (immutable)."""
        from ..core.verify import validate_relative_path as _v

        jid, ver = doc.get("jacsId"), doc.get("jacsVersion")
        for v in (jid, ver):
            if not isinstance(v, str) or _v(v) or ":" in v or "/" in v or "\\" in v:
                raise IdentityError(f"Refusing to store a document with id/version {v!r}")
        target = (documents_dir or self.root / "documents") / f"{jid}:{ver}.json"
        write_file_atomic(target, pretty_json(doc), 0o600, exclusive=True)
        return target
