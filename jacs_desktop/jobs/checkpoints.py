"""Signed store checkpoints: what the store held, signed, so that a deleted latest version or a
truncated history shows.

Per-document signatures cannot show that a version was removed.  A *checkpoint* is an ordinary
signed JACS document (the library verifies it like any other) made by the loaded identity:

    {"storeCheckpoint": {"format": "jacs-desktop-checkpoint/1", "tree": "rfc6962-sha256",
                         "root": <hex>, "count": n, "entries": [[key, jacsSha256], ...]}}

``entries`` are every stored agent, document and archived version, by object key, with the
``jacsSha256`` it claims ("" when it claims none or cannot be read); ``root`` is the RFC 6962
Merkle tree hash over them in key order (leaf = SHA-256(0x00 ‖ key ‖ 0x0a ‖ jacsSha256), node =
SHA-256(0x01 ‖ left ‖ right)).  Every version counts, checkpoints too (leaving any document out
would let a document that looks like one hide from them); a comparison lists checkpoint and
diff documents that appeared apart from the rest.

:func:`compare` lists what appeared, vanished or changed since a checkpoint (after checking the
checkpoint's own signature and that its root matches its entries); :func:`signed_diff` signs the
difference between two checkpoints (``storeCheckpointDiff``), again an ordinary document.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from ..core.checks import VALID
from ..core.errors import JacsError
from ..core.jsontypes import JSONObject
from ..core.sign import AgentSigner
from ..core.verify import Verdict, claimed_hash
from ..storage.base import StorageError
from ..storage.store import Store
from .common import Cancelled, CancelToken, ProgressFn, is_cancelled

__all__ = ["FORMAT", "TREE", "Comparison", "CheckpointError", "store_entries", "merkle_root", "make_checkpoint",
           "checkpoints", "compare", "compare_entries", "signed_diff", "checkpoint_of", "DiffRow", "diff_rows"]

FORMAT = "jacs-desktop-checkpoint/1"
DIFF_FORMAT = "jacs-desktop-checkpoint-diff/1"
TREE = "rfc6962-sha256"
FIELD, DIFF_FIELD = "storeCheckpoint", "storeCheckpointDiff"


class CheckpointError(JacsError):
    """A checkpoint that cannot be used (not found, not one, its root does not match …)."""


def _leaf(key: str, sha: str) -> bytes:
    return hashlib.sha256(b"\x00" + key.encode("utf-8") + b"\n" + sha.encode("ascii", "replace")).digest()


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 Merkle tree hash of already hashed leaves."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = leaves
    # iterative form of the RFC 6962 split (largest power of two below n): pair left to right,
    # an odd last node is promoted unchanged
    while len(level) > 1:
        nxt = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def merkle_root(entries: list[tuple[str, str]]) -> str:
    return _mth([_leaf(k, s) for k, s in sorted(entries)]).hex()


def _is_checkpoint_doc(data: bytes) -> bool:
    """A checkpoint or checkpoint-diff document (by its structure, not by a mention)."""
    import json

    if f'"{FIELD}"'.encode() not in data and f'"{DIFF_FIELD}"'.encode() not in data:
        return False
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return False
    if not isinstance(doc, dict):
        return False
    a, b = doc.get(FIELD), doc.get(DIFF_FIELD)
    return (isinstance(a, dict) and a.get("format") == FORMAT) or (isinstance(b, dict) and
                                                                   b.get("format") == DIFF_FORMAT)


def store_entries(store: Store, progress: ProgressFn | None = None,
                  cancel: CancelToken | None = None) -> tuple[list[tuple[str, str]], list[str]]:
    """([(key, jacsSha256)] of every stored version but checkpoints, sorted; errors)."""
    refs = store.refs(unique=False)
    out: list[tuple[str, str]] = []
    errors: list[str] = []
    for i, r in enumerate(refs):
        if is_cancelled(cancel):
            raise Cancelled(out)
        if progress is not None and i % 100 == 0:
            progress(i, len(refs), f"checkpoint: {i} of {len(refs)} versions")
        try:
            data = store.read(r.key)
        except StorageError as exc:
            errors.append(f"{r.key}: {exc}")
            out.append((r.key, ""))
            continue
        out.append((r.key, claimed_hash(data) or ""))
    out.sort()
    return out, errors


def make_checkpoint(store: Store, signer: AgentSigner, progress: ProgressFn | None = None,
                    cancel: CancelToken | None = None) -> JSONObject:
    """Sign a checkpoint of *store* and store it; returns the document. Refuses when a version
    could not be read (a checkpoint must say what is there, not what could be read)."""
    entries, errors = store_entries(store, progress, cancel)
    if errors:
        raise CheckpointError(f"{len(errors)} version(s) could not be read, so no checkpoint was made: {errors[0]}")
    body = {FIELD: {"format": FORMAT, "tree": TREE, "root": merkle_root(entries), "count": len(entries),
                    "entries": [list(e) for e in entries]}}
    doc = signer.new_document(body)
    store.put_document(doc)
    return doc


@dataclass
class Checkpoint:
    id: str
    version: str
    date: str
    root: str
    count: int
    entries: list[tuple[str, str]]
    verdict: Verdict | None = None
    signer: str | None = None
    #: why it cannot be relied on (None: its signature holds and its root matches its entries)
    problem: str | None = None

    def to_dict(self) -> JSONObject:
        return {"id": self.id, "version": self.version, "date": self.date, "root": self.root, "count": self.count,
                "signer": self.signer, "status": self.verdict.status if self.verdict else None,
                "problem": self.problem}


def checkpoint_of(doc: JSONObject, verdict: Verdict | None = None) -> Checkpoint | None:
    body = doc.get(FIELD)
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        return None
    listed = body.get("entries")
    raw: list[Any] = listed if isinstance(listed, list) else []
    entries = [(e[0], e[1]) for e in raw if isinstance(e, list) and len(e) == 2
               and isinstance(e[0], str) and isinstance(e[1], str)]
    sig = doc.get("jacsSignature") if isinstance(doc.get("jacsSignature"), dict) else {}
    cp = Checkpoint(str(doc.get("jacsId")), str(doc.get("jacsVersion")), str(doc.get("jacsVersionDate") or ""),
                    str(body.get("root") or ""), len(entries), entries, verdict,
                    sig.get("agentID") if isinstance(sig, dict) and isinstance(sig.get("agentID"), str) else None)
    if len(entries) != len(raw) or body.get("count") != len(entries):
        cp.problem = "its entry list is malformed or does not match its count"
    elif merkle_root(entries) != cp.root:
        cp.problem = "its Merkle root does not match its entries"
    elif verdict is not None and verdict.status != VALID:
        cp.problem = f"its signature does not hold ({verdict.status}: {verdict.reason})"
    return cp


def checkpoints(store: Store) -> list[Checkpoint]:
    """Every checkpoint in *store*, verified, oldest first."""
    out = []
    for refs in store.documents().values():
        for r in refs:
            try:
                data = store.read(r.key)
            except StorageError:
                continue
            if not _is_checkpoint_doc(data):
                continue
            try:
                doc = store.read_json(r.key)
            except StorageError:
                continue
            cp = checkpoint_of(doc, store.verify(r))
            if cp is not None:
                out.append(cp)
    out.sort(key=lambda c: (c.date, c.id))
    return out


@dataclass
class Comparison:
    base: JSONObject  # {"id", "version", "root", "date"} of the checkpoint compared against
    appeared: list[str] = field(default_factory=list)
    #: checkpoint and checkpoint-diff documents that appeared (not counted as appeared)
    new_checkpoints: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        return not (self.appeared or self.vanished or self.changed)

    def to_dict(self) -> JSONObject:
        return {"checkpoint": self.base, "appeared": self.appeared, "new_checkpoints": self.new_checkpoints,
                "vanished": self.vanished,
                "changed": self.changed, "errors": self.errors}


def compare_entries(then: list[tuple[str, str]], now: list[tuple[str, str]], base: JSONObject) -> Comparison:
    a, b = dict(then), dict(now)
    return Comparison(base, appeared=sorted(set(b) - set(a)), vanished=sorted(set(a) - set(b)),
                      changed=sorted(k for k in set(a) & set(b) if a[k] != b[k]))


def _pick(store: Store, checkpoint_id: str | None) -> Checkpoint:
    cps = checkpoints(store)
    if checkpoint_id:
        cps = [c for c in cps if checkpoint_id in (c.id, f"{c.id}:{c.version}")]
    if not cps:
        raise CheckpointError(f"no checkpoint {checkpoint_id} in the store" if checkpoint_id
                              else "the store has no checkpoint yet")
    cp = cps[-1]
    if cp.problem:
        raise CheckpointError(f"checkpoint {cp.id}:{cp.version} cannot be relied on: {cp.problem}")
    return cp


def _base(cp: Checkpoint) -> JSONObject:
    return {"id": cp.id, "version": cp.version, "root": cp.root, "date": cp.date, "signer": cp.signer}


def compare(store: Store, checkpoint_id: str | None = None, progress: ProgressFn | None = None,
            cancel: CancelToken | None = None) -> Comparison:
    """What appeared, vanished or changed since the checkpoint (default: the latest one)."""
    cp = _pick(store, checkpoint_id)
    now, errors = store_entries(store, progress, cancel)
    c = compare_entries(cp.entries, now, _base(cp))
    c.errors = errors
    for key in list(c.appeared):
        try:
            data = store.read(key)
        except StorageError:
            continue
        if _is_checkpoint_doc(data):
            c.appeared.remove(key)
            c.new_checkpoints.append(key)
    return c


@dataclass
class DiffRow:
    """One object that appeared, vanished or changed between two checkpoints."""
    change: str  # "appeared", "vanished" or "changed"
    key: str
    #: the jacsSha256 it claimed in the older / newer checkpoint ("" where it was not there or claimed none)
    before: str
    after: str


def diff_rows(a: Checkpoint, b: Checkpoint) -> list[DiffRow]:
    """What differs from checkpoint *a* to *b*, row by row (the lists :func:`signed_diff` signs)."""
    c = compare_entries(a.entries, b.entries, _base(a))
    then, now = dict(a.entries), dict(b.entries)
    return ([DiffRow("vanished", k, then[k], "") for k in c.vanished]
            + [DiffRow("changed", k, then[k], now[k]) for k in c.changed]
            + [DiffRow("appeared", k, "", now[k]) for k in c.appeared])


def signed_diff(store: Store, from_id: str, to_id: str, signer: AgentSigner) -> JSONObject:
    """A signed document listing what changed between two checkpoints of *store* (stored in it)."""
    a, b = _pick(store, from_id), _pick(store, to_id)
    c = compare_entries(a.entries, b.entries, _base(a))
    body: dict[str, Any] = {DIFF_FIELD: {"format": DIFF_FORMAT, "from": _base(a), "to": _base(b),
                                         "appeared": c.appeared, "vanished": c.vanished, "changed": c.changed}}
    doc = signer.new_document(body)
    store.put_document(doc)
    return doc
