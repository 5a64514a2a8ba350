"""``Store``: a JACS view over any object store.

Agents and their versions, documents and their versions (history by
``jacsPreviousVersion``, forks kept), agent configs, public keys,
attachments, archived documents. Listing reads names only; bodies are read
on demand and kept in a bounded LRU cache.

This is the one way JACS data is read and verified, on every backend (folder,
S3, SQLite, memory): the same names, the same keys, the same attachments give
the same verdicts. A storage failure (unreachable, time-out, permission
denied, vanished) is never ``invalid``: the item is ``error``, "not checked".

Size: the JACS view over any backend: listing, history, keys, the agent directory, attachments
and verification read through one cache and one set of read limits.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..core.agents import AgentDirectory
from ..core.checks import MAX_DOCUMENT_BYTES
from ..core.verify import (
    ERROR,
    INVALID,
    WARNING,
    Check,
    KeyResolver,
    KeyRing,
    PublicKey,
    Verdict,
    parse_document,
    verify_bytes,
)
from .base import NotFound, ObjectInfo, ObjectStore, StorageError, UnsafeName, validate_id
from .layout import ConfigFile, JacsLayout, Layout, Ref, detect_layout, find_configs

__all__ = ["Store", "HistoryNode", "StoreKeys", "KeyLookupError", "public_key_files", "read_error_verdict",
           "ref_of"]

#: public key files larger than this are cut (no real key is near it)
MAX_KEY_BYTES = 1 << 16
#: key files (.pem, .enc_type) larger than this are refused without being read
MAX_KEY_FILE_BYTES = 1 << 20
#: external attachments larger than this are refused without being read (``Store.max_attachment_bytes``)
MAX_ATTACHMENT_BYTES = 256 << 20
_HEX = frozenset("0123456789abcdef")


class KeyLookupError(StorageError):
    """A public key could not be looked up because the storage failed (not: it is absent)."""


def public_key_files(objects: ObjectStore, prefix: str) -> Iterator[tuple[str, bytes, str | None, str]]:
    """``{prefix}{hash}.pem`` (+ ``.enc_type``) files: (hash, key bytes, algorithm, key).

    Only names that are a SHA-256 in lowercase hex; a file that vanished since the
    listing is left out; any other storage error is raised."""
    for info in objects.list(prefix, details=False):
        name = info.key[len(prefix):]
        if "/" in name or not name.endswith(".pem"):
            continue
        h = name[:-4]
        if len(h) != 64 or not _HEX.issuperset(h):
            continue
        try:
            raw = objects.get_limited(info.key, MAX_KEY_FILE_BYTES)[:MAX_KEY_BYTES]
        except NotFound:
            continue
        try:
            alg = _algorithm(objects, f"{prefix}{h}.enc_type")
        except NotFound:
            alg = None
        yield h, raw, alg, info.key


def _algorithm(objects: ObjectStore, key: str) -> str | None:
    """The ``.enc_type`` beside a key (bounded: a FIFO or a huge file there is refused, never read)."""
    return objects.get_limited(key, MAX_KEY_FILE_BYTES).decode("utf-8", "replace").strip() or None


def read_error_verdict(kind: str, doc_id: str | None, version: str | None, path: str | None,
                       exc: BaseException) -> Verdict:
    """The verdict for something that could not be read: ``error``, nothing checked."""
    return Verdict(ERROR, "document" if kind == "archived" else kind, doc_id or None, version or None,
                   checks=[Check("read", ERROR, f"not checked: {exc}")], path=path)

DEFAULT_CACHE_BYTES = 64 * 1024 * 1024


class _LRU:
    def __init__(self, max_bytes: int) -> None:
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
    """Resolves ``publicKeyHash`` on demand: keys added by the caller, then
    ``{D}/public_keys/{hash}.pem`` of every data directory, then the agents' own
    public keys named by the configs (``{K}/jacs.public.pem``; jacs tries these).

    A key whose bytes do not hash to the name it was found under is only used
    when no other place has a matching one (the verifier then says it does not
    match). A storage failure while looking raises :class:`KeyLookupError`:
    "absent" and "could not look" are never confused."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, PublicKey | None] = {}
        self._extra: dict[str, PublicKey] = {}
        self._config_keys: dict[str, PublicKey] | None = None
        self._config_error: StorageError | None = None
        self._lock = threading.Lock()

    def add(self, key: bytes, algorithm: str | None, source: str = "") -> None:
        from ..core.pubkey import public_key_hash

        h = public_key_hash(key)
        self._extra[h] = PublicKey(key, algorithm, source)
        with self._lock:
            self._cache.pop(h, None)

    def _from_configs(self) -> dict[str, PublicKey]:
        """The agents' own public keys by hash (kept once all were read; after a
        storage error, read again next time and the error is in ``_config_error``)."""
        from ..core.pubkey import public_key_hash

        if self._config_keys is not None:
            return self._config_keys
        found: dict[str, PublicKey] = {}
        error = None
        for c in self.store.configs():
            key = c.public_key_key
            if key is None:
                continue
            try:
                raw = self.store.objects.get_limited(key, MAX_KEY_FILE_BYTES)[:MAX_KEY_BYTES]
            except NotFound:
                continue
            except StorageError as exc:
                error = exc
                continue
            found.setdefault(public_key_hash(raw), PublicKey(raw, c.algorithm, key))
        self._config_error = error
        if error is None:
            self._config_keys = found
        return found

    def _lookup(self, key_hash: str) -> PublicKey | None:
        from ..core.pubkey import public_key_hash

        pk = self._extra.get(key_hash)
        if pk is not None:
            return pk
        try:
            candidates = self.store.layout.public_key_candidates(key_hash)
        except UnsafeName:
            return None
        objects = self.store.objects
        mismatched = None
        try:
            for pem_key, alg_key in candidates:
                try:
                    raw = objects.get_limited(pem_key, MAX_KEY_FILE_BYTES)[:MAX_KEY_BYTES]
                except NotFound:
                    continue
                try:
                    alg = _algorithm(objects, alg_key)
                except NotFound:
                    alg = None
                pk = PublicKey(raw, alg, pem_key)
                if public_key_hash(raw) == key_hash:
                    return pk
                mismatched = mismatched or pk
            own = self._from_configs().get(key_hash)
        except StorageError as exc:
            raise KeyLookupError(f"the public key {key_hash[:16]}… could not be looked up: {exc}") from exc
        if own is not None:
            return own
        if self._config_error is not None:  # the right key may be the one that could not be read
            raise KeyLookupError(f"the public key {key_hash[:16]}… could not be looked up: "
                                 f"{self._config_error}") from self._config_error
        return mismatched

    def resolve(self, key_hash: str) -> PublicKey | None:
        with self._lock:
            if key_hash in self._cache:
                return self._cache[key_hash]
        pk = self._lookup(key_hash)  # a storage error is raised and not remembered
        with self._lock:
            self._cache[key_hash] = pk
        return pk


class _Watch:
    """Wraps the key and attachment resolvers for one verification and remembers
    a storage failure (the core verifier turns any resolver exception into a check;
    here it also makes the verdict ``error``)."""

    def __init__(self, keys: KeyResolver, files: Callable[[str], bytes | None]) -> None:
        self._keys, self._files = keys, files
        self.failure: StorageError | None = None

    def resolve(self, key_hash: str) -> PublicKey | None:
        try:
            return self._keys.resolve(key_hash)
        except StorageError as exc:
            self.failure = self.failure or exc
            raise

    def file(self, path: str) -> bytes | None:
        try:
            return self._files(path)
        except StorageError as exc:
            self.failure = self.failure or exc
            raise


def _ref_under(layout: Layout, jacs: bool, kind: str, at: int, key: str, size: int = 0,
               mtime: float | None = None) -> Ref | None:
    """The version *key* names when listed under a folder of *kind* whose name ends at *at*
    (*jacs*: *layout* is the JACS layout, where ``archive/`` under the documents holds the
    archived ones), or None: the one naming rule of :meth:`Store.iter_refs` and :func:`ref_of`."""
    k = "archived" if jacs and kind == "document" and key.startswith("archive/", at) else kind
    ids = layout.parse(key, "document" if k == "archived" else k)
    return None if ids is None else Ref(k, ids[0], ids[1], key, size, mtime)


def ref_of(layout: Layout, key: str) -> Ref | None:
    """The version *key* names under *layout*, as :meth:`Store.iter_refs` finds it (the first of
    the layout's folders that holds it), or None."""
    jacs = isinstance(layout, JacsLayout)
    for prefix, kind in layout.list_prefixes():
        if key.startswith(prefix):
            r = _ref_under(layout, jacs, kind, len(prefix), key)
            if r is not None:
                return r
    return None


class Store:
    #: external attachments larger than this are refused (a storage error naming the file)
    max_attachment_bytes = MAX_ATTACHMENT_BYTES

    def __init__(self, objects: ObjectStore, layout: Layout | None = None, *, cache_bytes: int = DEFAULT_CACHE_BYTES):
        self.objects = objects
        self._configs: list[ConfigFile] | None = None
        if layout is None:
            try:
                self._configs = find_configs(objects)
            except StorageError:
                self._configs = None  # read again (and reported) when asked for
            layout = detect_layout(objects, self._configs if self._configs is not None else [])
        self.layout = layout
        self._cache = _LRU(cache_bytes)
        self._keys: StoreKeys | None = None
        self._agent_dir: AgentDirectory | None = None
        self._agent_lock = threading.RLock()

    @property
    def url(self) -> str:
        return self.objects.url

    @property
    def layout_name(self) -> str:
        return self.layout.name

    def close(self) -> None:
        self.objects.close()

    # -- listing (names only) -----------------------------------------------------
    def refs(self, *, details: bool = False, unique: bool = True) -> list[Ref]:
        """Every agent/document/archived version the names show, deduplicated
        (``documents/`` at the root wins over ``{D}/documents/``), sorted.

        Names only: no body is read. ``details`` asks the backend for sizes and
        times where those cost extra (a stat per file on folders). With
        ``unique=False`` every stored copy is listed (what a full verification checks)."""
        return sorted(self.iter_refs(details=details, unique=unique), key=lambda r: (r.kind, r.id, r.version, r.key))

    def iter_refs(self, *, details: bool = False, infos: Iterable[ObjectInfo] | None = None,
                  unique: bool = True, only: str | None = None) -> Iterator[Ref]:
        """Like :meth:`refs`, but as the names are found (any order): for showing
        rows while a large store is still being listed. *infos*: a listing the
        caller already has (no second listing). *only*: list just the folders that
        hold that kind (the agents, without the documents; it may yield others)."""
        seen: set[tuple[str, str, str] | str] = set()
        layout = self.layout
        jacs = isinstance(layout, JacsLayout)
        for prefix, kind in layout.list_prefixes():
            if only is not None and kind != only and not (only == "archived" and kind == "document"):
                continue
            n = len(prefix)
            found = (self.objects.list(prefix, details=details, ordered=False) if infos is None
                     else (i for i in infos if i.key.startswith(prefix)))
            for info in found:
                r = _ref_under(layout, jacs, kind, n, info.key, info.size, info.mtime)
                if r is None:
                    continue
                ident: tuple[str, str, str] | str = (r.kind, r.id, r.version) if unique else info.key
                if ident not in seen:
                    seen.add(ident)
                    yield r

    def _grouped(self, kind: str) -> dict[str, list[Ref]]:
        out: dict[str, list[Ref]] = {}
        # (only that kind's folders: the agents of a 100,000-document store without its documents)
        for r in sorted(self.iter_refs(only=kind), key=lambda r: (r.kind, r.id, r.version, r.key)):
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
        out: list[str] = []
        for prefix in self.layout.public_keys_prefixes():
            for info in self.objects.list(prefix):
                name = info.key[len(prefix):]
                if name.endswith(".pem") and "/" not in name and name[:-4] not in out:
                    out.append(name[:-4])
        return out

    # -- configs ------------------------------------------------------------------------
    def configs(self) -> list[ConfigFile]:
        """The agent configs at the store root (read once; a storage error is raised)."""
        if self._configs is None:
            self._configs = find_configs(self.objects)
        return self._configs

    def config_refs(self) -> list[Ref]:
        """The configs as refs (kind ``config``; id and version are not in the name)."""
        return [Ref("config", "", "", c.key, c.size) for c in self.configs()]

    def config_problems(self) -> list[tuple[str, str]]:
        """(key, why) for configs that cannot be used to find their agent's data."""
        return [(c.key, c.problem) for c in self.configs() if c.problem]

    # -- bodies ----------------------------------------------------------------------
    def read(self, key: str) -> bytes:
        data = self._cache.get(key)
        if data is None:
            # bounded as the verifier is: a 6 GiB file is refused before it is read
            data = self.objects.get_limited(key, MAX_DOCUMENT_BYTES)
            self._cache.put(key, data)
        return data

    def is_cached(self, key: str) -> bool:
        """Whether :meth:`read` would answer from memory (no storage round trip)."""
        return self._cache.get(key) is not None

    def read_json(self, key: str) -> dict[str, Any]:
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
            self._configs = None
            self._agent_dir = None
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
        def by_date(v: str) -> tuple[str, str]:
            return (nodes[v].date or "", v)
        roots = sorted((v for v, n in nodes.items() if n.previous not in nodes), key=by_date)
        stack = [(v, 0) for v in reversed(roots)]
        seen: set[str] = set()
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
    def agent_directory(self) -> AgentDirectory | None:
        """Who owns which key, from this store's agent documents (built once; None if they cannot be listed).

        A signer is named only when its key is proven to be one of that agent's
        keys (self-signed agent versions, rotation proofs); see core/agents.py.
        """
        with self._agent_lock:
            if self._agent_dir is None:
                try:
                    refs = [r for rs in self.agents().values() for r in rs]
                except StorageError:
                    return None
                docs: list[bytes] = []
                for r in refs:
                    try:
                        docs.append(self.read(r.key))
                    except StorageError:
                        continue  # one unreadable agent version: fewer names, never a wrong one
                self._agent_dir = AgentDirectory.from_documents(docs, self.keys())
            return self._agent_dir

    def keys(self) -> StoreKeys:
        if self._keys is None:
            self._keys = StoreKeys(self)
        return self._keys

    def key_ring(self) -> KeyRing:
        """Every public key in the store, loaded now (for callers that want them all)."""
        ring = KeyRing()
        for prefix in self.layout.public_keys_prefixes():
            for h, raw, alg, key in public_key_files(self.objects, prefix):
                ring.add(raw, alg, key, key_hash=h)
        keys = self.keys()
        for pk in list(keys._extra.values()) + list(keys._from_configs().values()):
            ring.add(pk.key, pk.algorithm, pk.source)
        return ring

    def read_attachment(self, path: str, sha256: str | None = None) -> bytes | None:
        """An external attachment's bytes (``{D}/{path}`` of the first data directory
        that has it), None when absent; a storage failure is raised."""
        try:
            candidates = self.layout.attachment_candidates(path, sha256)
        except UnsafeName:
            return None
        for key in candidates:
            if not self._inside(key):
                continue
            try:
                return self.objects.get_limited(key, self.max_attachment_bytes)
            except NotFound:
                continue
        return None

    def _inside(self, key: str) -> bool:
        """On a folder: the file is really inside it (no symbolic link out of the store)."""
        local = getattr(self.objects, "local_path", None)
        root = getattr(self.objects, "root", None)
        if local is None or root is None:
            return True
        import os

        try:
            real: str = os.path.realpath(local(key))
            base: str = os.path.realpath(root)
        except (OSError, StorageError):
            return False
        return real == base or real.startswith(base.rstrip(os.sep) + os.sep)

    def verify_data(self, data: bytes, *, path: str | None = None, kind: str = "document") -> Verdict:
        """Verify bytes with this store's keys and attachments. A storage failure
        while looking up the key or an attachment makes it ``error`` (unless the
        document is invalid on its own)."""
        watch = _Watch(self.keys(), self.read_attachment)

        def load_version(doc_id: str, version: str) -> dict[str, Any] | None:
            try:
                raw = self.read(self.layout.document_key(doc_id, version))
            except NotFound:
                return None
            except (UnsafeName, ValueError):
                return None
            except StorageError as exc:
                watch.failure = watch.failure or exc
                return None
            doc, _err = parse_document(raw)
            return doc if isinstance(doc, dict) else None

        v = verify_bytes(data, watch, watch.file, path=path, signers=self.agent_directory(), versions=load_version)
        if watch.failure is not None:
            v.checks.append(Check("read", ERROR, f"not checked: {watch.failure}"))
            if v.status != INVALID:
                v.status = ERROR
        if kind == "archived":
            v.checks.append(Check("archived", WARNING, "this version was removed (it is in the archive)"))
        return v

    def verify(self, ref: Ref) -> Verdict:
        try:
            data = self.read(ref.key)
        except StorageError as exc:
            return read_error_verdict(ref.kind, ref.id, ref.version, ref.key, exc)
        v = self.verify_data(data, path=ref.key, kind=ref.kind)
        if ref.kind != "config" and v.id is not None and (v.id != ref.id or v.version != ref.version):
            v.checks.append(Check("file name", "failed",
                                  f"file name says {ref.id}:{ref.version} but the document is {v.id}:{v.version}"))
            v.status = INVALID
        return v

    # -- writes --------------------------------------------------------------------------
    def _ids(self, doc: dict[str, Any]) -> tuple[str, str]:
        jid, ver = doc.get("jacsId"), doc.get("jacsVersion")
        return validate_id(jid, "jacsId"), validate_id(ver, "jacsVersion")

    def put_document(self, doc: dict[str, Any], data: bytes | None = None) -> tuple[str, bool]:
        """Store a version (immutable); returns (key, created)."""
        from ..core.sign import pretty_json

        jid, ver = self._ids(doc)
        key = self.layout.document_key(jid, ver)
        created = self.objects.put_if_absent(key, data if data is not None else pretty_json(doc))
        return key, created

    def put_agent(self, doc: dict[str, Any], data: bytes | None = None) -> tuple[str, bool]:
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
            found: list[tuple[str, str]] = native(text, limit)  # SqliteStore.search
            return found
        terms = [t.lower() for t in text.split() if t]
        if not terms:
            return []
        out: list[tuple[str, str]] = []
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
