"""What the browser shows, computed without Qt: rows for agents and documents,
filled in stages (names → summaries → verdicts), and a JSON-aware version diff."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from ..core.verify import Verdict
from ..storage.index import IndexCache, summarize
from ..storage.layout import Ref
from ..storage.store import HistoryNode, Store

__all__ = ["AgentRow", "DocRow", "Snapshot", "SnapshotBuilder", "stream_refs", "fill_summaries", "verify_rows",
           "json_diff", "DiffLine", "display_json", "VersionRow"]


class _Versioned:
    """What agent and document rows share: their versions and the latest verdict."""

    refs: list[Ref]
    verdict: Verdict | None

    @property
    def versions(self) -> int:
        return len(self.refs)

    @property
    def status(self) -> str:
        return self.verdict.status if self.verdict else "pending"


@dataclass(eq=False)
class AgentRow(_Versioned):
    id: str
    refs: list[Ref]
    name: str | None = None
    type: str | None = None
    algorithm: str | None = None
    key_hash: str | None = None
    verdict: Verdict | None = None

    @property
    def latest(self) -> Ref:
        return max(self.refs, key=lambda r: r.version)


@dataclass(eq=False)
class DocRow(_Versioned):
    id: str
    refs: list[Ref]
    archived: bool = False
    title: str | None = None
    type: str | None = None
    date: str | None = None
    signer: str | None = None
    signer_name: str | None = None
    attachments: int | None = None
    latest_key: str | None = None
    verdict: Verdict | None = None
    summaries: dict[str, dict] = field(default_factory=dict)

    def latest_ref(self) -> Ref:
        if self.latest_key:
            for r in self.refs:
                if r.key == self.latest_key:
                    return r
        return self.refs[-1]

    _search: str | None = None

    def search_text(self) -> str:
        """What the filter box matches (cached; reset when the summary is filled)."""
        if self._search is None:
            self._search = " ".join(
                x for x in (self.id, self.title, self.type, self.signer, self.signer_name) if x).lower()
        return self._search


@dataclass(eq=False)
class VersionRow:
    node: HistoryNode
    ref: Ref
    summary: dict
    verdict: Verdict | None = None

    @property
    def status(self) -> str:
        return self.verdict.status if self.verdict else "pending"


@dataclass
class Snapshot:
    store: Store
    agents: list[AgentRow]
    documents: list[DocRow]
    archived: list[DocRow]

    @property
    def counts(self) -> dict:
        return {"agents": len(self.agents), "documents": len(self.documents), "archived": len(self.archived)}


def stream_refs(store: Store, partial: Callable[[list[Ref]], None], cancel=None,
                first_batch: int = 500, batch: int = 5000) -> int:
    """Hand the store's version names to *partial* in batches as they are found,
    so a large store shows rows before its listing ends. Returns the count."""
    buf: list[Ref] = []
    size, n = first_batch, 0
    for ref in store.iter_refs():
        buf.append(ref)
        n += 1
        if len(buf) >= size:
            if cancel is not None and cancel.is_set():
                return n
            partial(buf)
            buf, size = [], batch
    if buf:
        partial(buf)
    return n


class SnapshotBuilder:
    """Groups streamed refs into rows; tells which rows are new and which grew."""

    def __init__(self, store: Store):
        self.store = store
        self.agents: dict[str, AgentRow] = {}
        self.documents: dict[str, DocRow] = {}
        self.archived: dict[str, DocRow] = {}

    def add(self, refs: list[Ref]) -> tuple[dict[str, list], list]:
        new: dict[str, list] = {"agent": [], "document": [], "archived": []}
        grown: list = []
        for r in refs:
            table = {"agent": self.agents, "document": self.documents, "archived": self.archived}[r.kind]
            row = table.get(r.id)
            if row is None:
                row = AgentRow(r.id, [r]) if r.kind == "agent" else DocRow(r.id, [r], archived=r.kind == "archived")
                table[r.id] = row
                new[r.kind].append(row)
            else:
                row.refs.append(r)
                grown.append(row)
        return new, grown

    def snapshot(self) -> Snapshot:
        return Snapshot(self.store, list(self.agents.values()), list(self.documents.values()),
                        list(self.archived.values()))


def fill_summaries(snapshot: Snapshot, cache: IndexCache | None = None,
                   progress: Callable[[int, int, str], None] | None = None, cancel=None) -> Snapshot:
    """Read each version's summary (cached) and fill titles, types, dates, signers."""
    store = snapshot.store
    total = sum(len(r.refs) for r in snapshot.documents + snapshot.archived) + len(snapshot.agents)
    done = 0

    def summary(ref: Ref) -> dict:
        if cache is not None:
            return cache.summary(store, ref)
        try:
            return summarize(store.read_json(ref.key))
        except Exception as exc:  # noqa: BLE001 - shown as the row's error
            return {"error": str(exc)}

    names: dict[str, str] = {}
    for a in snapshot.agents:
        if cancel is not None and cancel.is_set():
            return snapshot
        s = summary(a.latest)
        a.name, a.type = s.get("agent_name"), None
        try:
            doc = store.read_json(a.latest.key)
            a.type = doc.get("jacsAgentType") if isinstance(doc.get("jacsAgentType"), str) else None
            sig = doc.get("jacsSignature") if isinstance(doc.get("jacsSignature"), dict) else {}
            a.algorithm = sig.get("signingAlgorithm")
            a.key_hash = sig.get("publicKeyHash")
        except Exception:  # noqa: BLE001
            pass
        if a.name:
            names[a.id] = a.name
        done += 1
    for row in snapshot.documents + snapshot.archived:
        if cancel is not None and cancel.is_set():
            return snapshot
        best: tuple[str, str] | None = None
        for ref in row.refs:
            s = summary(ref)
            row.summaries[ref.version] = s
            key = (s.get("date") or "", ref.key)
            if best is None or key > best:
                best = key
            done += 1
        if best:
            row.latest_key = best[1]
            s = row.summaries[row.latest_ref().version]
            row.title, row.type, row.date = s.get("title"), s.get("type"), s.get("date")
            row.signer, row.attachments = s.get("signer"), s.get("attachments")
            row.signer_name = names.get(row.signer or "")
            row._search = None
            row.search_text()  # built here, on the worker, so the first filter is only the matching
        if progress and done % 200 == 0:
            progress(done, total, "reading documents")
    if progress:
        progress(total, total, "read")
    return snapshot


def verify_rows(store: Store, rows: list, progress: Callable[[int, int, str], None] | None = None,
                cancel=None, on_row: Callable[[Any], None] | None = None) -> int:
    """Verify the latest version of each row; ``on_row`` is called as each verdict lands."""
    n = 0
    for i, row in enumerate(rows):
        if cancel is not None and cancel.is_set():
            break
        ref = row.latest if isinstance(row, AgentRow) else row.latest_ref()
        row.verdict = store.verify(ref)
        n += 1
        if on_row:
            on_row(row)
        if progress and (i % 20 == 0 or i == len(rows) - 1):
            progress(i + 1, len(rows), "verifying")
    return n


# -- display and diff ---------------------------------------------------------------

EMBED_LIMIT = 200


def display_json(doc: Any) -> str:
    """Pretty JSON for reading: embedded attachment contents shown as their size."""
    def shrink(v: Any, key: str | None = None):
        if isinstance(v, dict):
            return {k: shrink(x, k) for k, x in v.items()}
        if isinstance(v, list):
            return [shrink(x) for x in v]
        if isinstance(v, str) and len(v) > EMBED_LIMIT and key in ("contents", "signature"):
            return f"<{len(v):,} characters of base64>"
        return v
    return json.dumps(shrink(doc), indent=2, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class DiffLine:
    kind: str  # changed | added | removed
    path: str
    old: Any = None
    new: Any = None
    signed: bool = False


_HEADER_NOISE = {"jacsVersion", "jacsVersionDate", "jacsPreviousVersion", "jacsSha256", "jacsSignature"}


def json_diff(old: Any, new: Any, *, include_header: bool = False) -> list[DiffLine]:
    """Changed, added and removed fields between two versions; top-level fields
    covered by the newer version's signature are marked ``signed``."""
    signed_fields: set[str] = set()
    if isinstance(new, dict) and isinstance(new.get("jacsSignature"), dict):
        f = new["jacsSignature"].get("fields")
        if isinstance(f, list):
            signed_fields = {x for x in f if isinstance(x, str)}
    out: list[DiffLine] = []

    def walk(a: Any, b: Any, path: list[str]):
        top = path[0] if path else ""
        signed = top in signed_fields
        p = "/".join(path)
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                if not path and not include_header and k in _HEADER_NOISE:
                    continue
                if k not in b:
                    out.append(DiffLine("removed", "/".join(path + [k]), a[k], None, (path[0] if path else k) in signed_fields))
                elif k not in a:
                    out.append(DiffLine("added", "/".join(path + [k]), None, b[k], (path[0] if path else k) in signed_fields))
                else:
                    walk(a[k], b[k], path + [k])
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, path + [str(i)])
        elif a != b or type(a) is not type(b):
            out.append(DiffLine("changed", p, a, b, signed))

    walk(old, new, [])
    return out
