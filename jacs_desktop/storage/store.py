"""``Store``: a JACS view over any object store.

Agents and their versions, documents and their versions (history by
``jacsPreviousVersion``, forks kept), public keys, attachments, archived
documents. Listing reads names only; bodies are read on demand and kept in a
bounded LRU cache.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from ..core.verify import PublicKey, Verdict, verify_bytes
from .base import NotFound, ObjectStore, StorageError, UnsafeName, validate_id
from .layout import JacsLayout, Layout, Ref, detect_layout

__all__ = ["Store", "HistoryNode", "StoreKeys"]

DEFAULT_CACHE_BYTES = 64 * 1024 * 1024


class _LRU:
    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._d: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            v = self._d.get(key)
            if v is not None:
                self._d.move_to_end(key)
            return v

    def put(self, key: str, value: bytes) -> None:
        if len(value) > self.max_bytes // 4:
            return
        with self._lock:
            old = self._d.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._d[key] = value
            self._size += len(value)
            while self._size > self.max_bytes and self._d:
                _, v = self._d.popitem(last=False)
                self._size -= len(v)

    def discard(self, key: str) -> None:
        with self._lock:
            v = self._d.pop(key, None)
            if v is not None:
                self._size -= len(v)

    def clear(self) -> None:
        with self._lock:
            self._d.clear()
            self._size = 0


@dataclass
class HistoryNode:
    version: str
    previous: str | None
    date: str | None
    key: str
    depth: int = 0
    #: True when the parent has more than one child (a fork)
    fork: bool = False
    children: list[str] = field(default_factory=list)


class StoreKeys:
    """Resolves ``publicKeyHash`` from the store's ``public_keys/`` on demand."""

    def __init__(self, store: "Store"):
        self.store = store
        self._cache: dict[str, PublicKey | None] = {}
        self._extra: dict[str, PublicKey] = {}
        self._lock = threading.Lock()

    def add(self, key: bytes, algorithm: str | None, source: str = "") -> None:
        from ..core.pubkey import public_key_hash

        self._extra[public_key_hash(key)] = PublicKey(key, algorithm, source)

    def resolve(self, key_hash: str) -> PublicKey | None:
        with self._lock:
            if key_hash in self._cache:
                return self._cache[key_hash]
        pk = self._extra.get(key_hash)
        if pk is None:
            try:
                pem_key, alg_key = self.store.layout.public_key_keys(key_hash)
            except UnsafeName:
                return None
            try:
                raw = self.store.objects.get(pem_key)
            except NotFound:
                raw = None
            if raw is not None:
                try:
                    alg = self.store.objects.get(alg_key).decode("utf-8", "replace").strip() or None
                except NotFound:
                    alg = None
                pk = PublicKey(raw[: 1 << 16], alg, pem_key)
        with self._lock:
            self._cache[key_hash] = pk
        return pk


class Store:
    def __init__(self, objects: ObjectStore, layout: Layout | None = None, *, cache_bytes: int = DEFAULT_CACHE_BYTES):
        self.objects = objects
        self.layout = layout or detect_layout(objects)
        self._cache = _LRU(cache_bytes)
        self._keys: StoreKeys | None = None

    @property
    def url(self) -> str:
        return self.objects.url

    @property
    def layout_name(self) -> str:
        return self.layout.name

    def close(self) -> None:
        self.objects.close()

    # -- listing (names only) -----------------------------------------------------
    def refs(self, *, details: bool = False) -> list[Ref]:
        """Every agent/document/archived version the names show, deduplicated
        (``documents/`` at the root wins over ``{D}/documents/``), sorted.

        Names only: no body is read. ``details`` asks the backend for sizes and
        times where those cost extra (a stat per file on folders)."""
        return sorted(self.iter_refs(details=details), key=lambda r: (r.kind, r.id, r.version))

    def iter_refs(self, *, details: bool = False, infos=None) -> Iterator[Ref]:
        """Like :meth:`refs`, but as the names are found (any order): for showing
        rows while a large store is still being listed. *infos*: a listing the
        caller already has (no second listing)."""
        seen: set[tuple[str, str, str]] = set()
        jacs = isinstance(self.layout, JacsLayout)
        parse = self.layout.parse
        for prefix, kind in self.layout.list_prefixes():
            n = len(prefix)
            found = (self.objects.list(prefix, details=details, ordered=False) if infos is None
                     else (i for i in infos if i.key.startswith(prefix)))
            for info in found:
                k = kind
                if jacs and kind == "document" and info.key.startswith("archive/", n):
                    k = "archived"
                ids = parse(info.key, "document" if k == "archived" else k)
                if ids is None:
                    continue
                ident = (k, ids[0], ids[1])
                if ident not in seen:
                    seen.add(ident)
                    yield Ref(k, ids[0], ids[1], info.key, info.size, info.mtime)

    def _grouped(self, kind: str) -> dict[str, list[Ref]]:
        out: dict[str, list[Ref]] = {}
        for r in self.refs():
            if r.kind == kind:
                out.setdefault(r.id, []).append(r)
        return out

    def agents(self) -> dict[str, list[Ref]]:
        return self._grouped("agent")

    def documents(self) -> dict[str, list[Ref]]:
        return self._grouped("document")

    def archived(self) -> dict[str, list[Ref]]:
        return self._grouped("archived")

    def public_key_hashes(self) -> list[str]:
        prefix = self.layout.public_keys_prefix()
        out = []
        for info in self.objects.list(prefix):
            name = info.key[len(prefix):]
            if name.endswith(".pem") and "/" not in name:
                out.append(name[:-4])
        return out

    # -- bodies ----------------------------------------------------------------------
    def read(self, key: str) -> bytes:
        data = self._cache.get(key)
        if data is None:
            data = self.objects.get(key)
            self._cache.put(key, data)
        return data

    def is_cached(self, key: str) -> bool:
        """Whether :meth:`read` would answer from memory (no storage round trip)."""
        return self._cache.get(key) is not None

    def read_json(self, key: str) -> dict:
        data = self.read(key)
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise StorageError(f"{key} is not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise StorageError(f"{key} is not a JSON object")
        return doc

    def invalidate(self, key: str | None = None) -> None:
        if key is None:
            self._cache.clear()
            self._keys = None
        else:
            self._cache.discard(key)

    # -- versions ------------------------------------------------------------------------
    def history(self, refs: Iterable[Ref]) -> list[HistoryNode]:
        """Versions in history order (parents before children, forks kept, by date)."""
        nodes: dict[str, HistoryNode] = {}
        for r in refs:
            try:
                doc = self.read_json(r.key)
            except StorageError:
                nodes[r.version] = HistoryNode(r.version, None, None, r.key)
                continue
            prev = doc.get("jacsPreviousVersion")
            date = doc.get("jacsVersionDate")
            nodes[r.version] = HistoryNode(r.version, prev if isinstance(prev, str) else None,
                                           date if isinstance(date, str) else None, r.key)
        for n in nodes.values():
            if n.previous in nodes:
                nodes[n.previous].children.append(n.version)
        order: list[HistoryNode] = []
        def by_date(v: str):
            return (nodes[v].date or "", v)
        roots = sorted((v for v, n in nodes.items() if n.previous not in nodes), key=by_date)
        stack = [(v, 0) for v in reversed(roots)]
        seen = set()
        while stack:
            v, depth = stack.pop()
            if v in seen:
                continue
            seen.add(v)
            n = nodes[v]
            n.depth = depth
            order.append(n)
            kids = sorted(n.children, key=by_date)
            for kid in kids:
                nodes[kid].fork = len(kids) > 1
            for kid in reversed(kids):
                stack.append((kid, depth + 1))
        return order

    @staticmethod
    def latest(nodes: list[HistoryNode]) -> HistoryNode | None:
        """Library rule: the largest jacsVersionDate, ties broken by key."""
        return max(nodes, key=lambda n: (n.date or "", n.key), default=None)

    # -- keys, attachments, verification ----------------------------------------------
    def keys(self) -> StoreKeys:
        if self._keys is None:
            self._keys = StoreKeys(self)
        return self._keys

    def read_attachment(self, path: str, sha256: str | None = None) -> bytes | None:
        try:
            key = self.layout.attachment_key(path, sha256)
        except UnsafeName:
            return None
        try:
            return self.objects.get(key)
        except NotFound:
            return None

    def verify(self, ref: Ref) -> Verdict:
        try:
            data = self.read(ref.key)
        except StorageError as exc:
            from ..core.verify import Check, INVALID

            return Verdict(INVALID, ref.kind, ref.id, ref.version,
                           checks=[Check("read", "failed", str(exc))], path=ref.key)
        v = verify_bytes(data, self.keys(), self.read_attachment, path=ref.key)
        if v.id is not None and (v.id != ref.id or v.version != ref.version):
            from ..core.verify import Check, INVALID

            v.checks.append(Check("name", "failed",
                                  f"stored as {ref.id}:{ref.version} but the document is {v.id}:{v.version}"))
            v.status = INVALID
        return v

    # -- writes --------------------------------------------------------------------------
    def _ids(self, doc: dict) -> tuple[str, str]:
        jid, ver = doc.get("jacsId"), doc.get("jacsVersion")
        return validate_id(jid, "jacsId"), validate_id(ver, "jacsVersion")

    def put_document(self, doc: dict, data: bytes | None = None) -> tuple[str, bool]:
        """Store a version (immutable); returns (key, created)."""
        from ..core.sign import pretty_json

        jid, ver = self._ids(doc)
        key = self.layout.document_key(jid, ver)
        created = self.objects.put_if_absent(key, data if data is not None else pretty_json(doc))
        return key, created

    def put_agent(self, doc: dict, data: bytes | None = None) -> tuple[str, bool]:
        from ..core.sign import pretty_json

        jid, ver = self._ids(doc)
        key = self.layout.agent_key(jid, ver)
        return key, self.objects.put_if_absent(key, data if data is not None else pretty_json(doc))

    def put_public_key(self, key_bytes: bytes, algorithm: str) -> str:
        from ..core.pubkey import public_key_hash

        h = public_key_hash(key_bytes)
        pem, alg = self.layout.public_key_keys(h)
        self.objects.put_if_absent(pem, key_bytes)
        self.objects.put_if_absent(alg, algorithm.encode("ascii"))
        if self._keys is not None:
            self._keys._cache.pop(h, None)
        return h

    def put_attachment(self, path: str, data: bytes, sha256: str | None = None) -> str:
        key = self.layout.attachment_key(path, sha256)
        if not self.objects.put_if_absent(key, data) and self.objects.get(key) != data:
            raise StorageError(f"{key} already exists with different content")
        return key

    def archive(self, doc_id: str, version: str) -> str:
        """Remove a version: moved to the archive, never deleted."""
        src = self.layout.document_key(doc_id, version)
        dst = self.layout.archive_key(doc_id, version)
        if self.objects.stat(src) is None and isinstance(self.layout, JacsLayout) and self.layout.data_dir:
            alt = f"{self.layout.data_dir}/documents/{doc_id}:{version}.json"
            if self.objects.stat(alt) is not None:
                src = alt
        self.objects.move(src, dst)
        self._cache.discard(src)
        return dst

    def restore(self, doc_id: str, version: str) -> str:
        src = self.layout.archive_key(doc_id, version)
        dst = self.layout.document_key(doc_id, version)
        self.objects.move(src, dst)
        self._cache.discard(src)
        return dst

    # -- search -----------------------------------------------------------------------------
    def search(self, text: str, limit: int = 500) -> list[tuple[str, str]]:
        """Full-text search over live documents: [(id, version)]."""
        native = getattr(self.objects, "search", None)
        if native is not None and isinstance(self.layout, JacsLayout):
            return native(text, limit)
        terms = [t.lower() for t in text.split() if t]
        if not terms:
            return []
        out = []
        for r in self.refs():
            if r.kind != "document":
                continue
            try:
                body = self.read(r.key).decode("utf-8", "replace").lower()
            except StorageError:
                continue
            if all(t in body for t in terms):
                out.append((r.id, r.version))
                if len(out) >= limit:
                    break
        return out
