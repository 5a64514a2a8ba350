"""JACS rules for loose local files, as the command line meets them.

- Which store a single document file belongs to (``documents/{id}:{v}.json`` is checked with
  the store around it), where a key folder keeps its public keys, and how one file is verified
  with the store around it or with ``--keys`` / ``--files`` folders.
- Where a document signed by an agent goes: its external attachments under the agent's data
  directory (``files/NAME``, private files), the document itself where jacs would put it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import JacsError
from ..core.verify import KeyRing, verify_bytes
from .verify_all import VerifyReport

if TYPE_CHECKING:
    from ..core.identity import Identity
    from ..core.sign import Attachment
    from ..storage.store import Store, StoreKeys

__all__ = ["looks_like_url", "local_path", "folder_store", "keys_from_folder", "single_file_context",
           "verify_file", "read_body", "local_attachments", "store_signed"]

AttachmentResolver = Callable[[str], bytes | None]


# -- verifying one file ------------------------------------------------------------------

def looks_like_url(text: str) -> bool:
    return "://" in text or text.startswith("profile:")


def local_path(text: str) -> Path | None:
    """The folder or file a path or ``file://`` URL names (None for other stores)."""
    from ..storage.urls import parse_url

    if looks_like_url(text) and not text.lower().startswith("file://"):
        return None
    return Path(os.path.expanduser(parse_url(text)["path"]))


def folder_store(folder: Path, need_config: bool = False) -> Store | None:
    """The store a folder is (None when it is not one, or has no config and one is needed)."""
    from ..storage.fs import FsStore
    from ..storage.store import Store

    try:
        store = Store(FsStore(folder))
        if need_config and not store.configs():
            return None
    except JacsError:
        return None
    return store


def keys_from_folder(ring: KeyRing | StoreKeys, kd: Path) -> int:
    """Add a key folder's public keys to *ring*: ``public_keys/``, the folder itself,
    ``jacs_data/public_keys/``, ``jacs.public.pem``. Returns how many were added."""
    from ..storage.fs import FsStore
    from ..storage.store import public_key_files

    objects = FsStore(kd)
    n = 0
    for prefix in ("public_keys/", "", "jacs_data/public_keys/"):
        for _h, raw, alg, key in public_key_files(objects, prefix):
            ring.add(raw, alg, str(kd / key))
            n += 1
    pub = kd / "jacs.public.pem"
    if pub.is_file():
        ring.add(pub.read_bytes()[: 1 << 16], None, str(pub))
        n += 1
    return n


def single_file_context(path: Path, keys_dir: str | None,
                        files_dir: str | None) -> tuple[Store | None, KeyRing | StoreKeys, AttachmentResolver | None]:
    """(store or None, key ring, attachment resolver) for verifying one file."""
    store = None
    # a document inside a store: documents/{id}:{v}.json → use the store around it
    parent = path.resolve().parent
    if parent.name in ("documents", "agent", "archive"):
        base = parent.parent.parent if parent.name == "archive" else parent.parent
        if parent.name == "agent" or (base / "jacs_data").is_dir() or any(base.glob("*.json")):
            store = folder_store(base if parent.name != "agent" else base.parent)
    if store is None and parent.is_dir():
        store = folder_store(parent, need_config=True)
    ring: KeyRing | StoreKeys = store.keys() if store is not None else KeyRing()
    files: AttachmentResolver | None = store.read_attachment if store is not None else None
    if keys_dir:
        kd = Path(keys_dir).expanduser()
        if not kd.is_dir():
            raise JacsError(f"--keys: {kd} is not a folder")
        if keys_from_folder(ring, kd) == 0:
            raise JacsError(f"--keys: no public keys found in {kd} "
                            "(expected public_keys/{hash}.pem or jacs.public.pem)")
    if files_dir:
        fd = Path(files_dir).expanduser().resolve()

        def from_folder(rel: str, _fd: Path = fd) -> bytes | None:
            p = (_fd / rel).resolve()
            if not p.is_relative_to(_fd) or not p.is_file():
                return None
            return p.read_bytes()

        files = from_folder

    return store, ring, files


def verify_file(target: Path, keys_dir: str | None = None, files_dir: str | None = None) -> VerifyReport:
    """Verify one document file: with the store around it, unless *files_dir* says where its
    attachments are (then with the keys found and *keys_dir*). Raises JacsError when it cannot."""
    report = VerifyReport()
    store, ring, files = single_file_context(target, keys_dir, files_dir)
    try:
        data = target.read_bytes()
    except OSError as exc:
        raise JacsError(f"cannot read {target}: {exc.strerror or exc}") from None
    if store is not None and not files_dir:
        report.results.append(store.verify_data(data, path=str(target)))
    else:
        report.results.append(verify_bytes(data, ring, files, path=str(target)))
    return report


# -- signing into an agent's folder ----------------------------------------------------------

def read_body(body_path: Path) -> dict[str, Any]:
    """The JSON to sign: an object is the document payload; anything else becomes a message."""
    try:
        raw = body_path.read_bytes()
    except OSError as exc:
        raise JacsError(f"cannot read {body_path}: {exc.strerror or exc}") from None
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise JacsError(f"{body_path} is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        body = {"jacsDocument": {"type": "message", "content": body}}
    return body


def local_attachments(identity: Identity, paths: Iterable[str], *, embed: bool,
                      note: Callable[[str], None] | None = None) -> tuple[list[Attachment], list[tuple[Path, Path]]]:
    """Read attachment files: (attachments to sign, (source, destination) copies to make).
    An external attachment goes to ``files/NAME`` under the agent's data directory; one that
    is there already with other bytes is refused. *note* hears why a file is embedded anyway."""
    from ..core.sign import make_attachment

    attachments, copies = [], []
    for f in paths:
        fp = Path(f).expanduser()
        try:
            data = fp.read_bytes()
        except OSError as exc:
            raise JacsError(f"cannot read attachment {fp}: {exc.strerror or exc}") from None
        rel = f"files/{fp.name}"
        att = make_attachment(data, rel, embed=embed)
        attachments.append(att)
        if att.embed_reason and note is not None:
            note(f"{fp.name}: {att.embed_reason}")
        if not att.embed:
            dest = identity.config.data_dir / rel
            if dest.exists() and dest.read_bytes() != data:
                raise JacsError(f"{dest} already exists with different content; rename the attachment")
            copies.append((fp, dest))
    return attachments, copies


def store_signed(identity: Identity, doc: dict[str, Any], copies: Iterable[tuple[Path, Path]]) -> str:
    """Store a signed document where jacs would (the agent's storage root, no layout prefix),
    after copying its external attachments; returns its key. Raises JacsError if it exists."""
    from ..paths import copy_private
    from ..storage.fs import FsStore
    from ..storage.layout import JacsLayout
    from ..storage.store import Store

    for src, dest in copies:  # external attachments live under the data directory
        if not dest.exists():  # 0600 in a 0700 files/, like the rest of the data directory
            copy_private(src, dest)
    store = Store(FsStore(identity.config.root), JacsLayout(""))
    key, created = store.put_document(doc)
    if not created:
        raise JacsError(f"{key} already exists")
    return key
