"""What the browser shows, computed without Qt: rows for agents and documents,
filled in stages (names → summaries → verdicts), and a JSON-aware version diff.

Size: the row model the window and its tests share (agents, documents, versions, aggregate
verdicts, reconcile, diff); it is Qt-free so all of it is tested without a window. TODO(issue
12): the diff could move to its own module.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.verify import ERROR, FAILED, INVALID, LEGACY, UNVERIFIABLE, VALID, Check, Verdict
from ..storage.base import StorageError
from ..storage.fs import FsStore
from ..storage.index import IndexCache, summarize
from ..storage.layout import Ref
from ..storage.store import HistoryNode, Store
from .common import CancelToken, ProgressFn, gc_paused, is_cancelled
from .summaries import Reader, batches, stamp_here

__all__ = ["AgentRow", "DocRow", "Snapshot", "EveryRow", "SnapshotBuilder", "stream_refs", "fill_summaries",
           "verify_rows",
           "json_diff", "DiffLine", "display_json", "VersionRow", "PENDING", "BADNESS", "Aggregate", "aggregate",
           "verify_ref", "read_error_verdict", "reason_of", "count_versions", "new_version_refusal",
           "attachment_warning", "Drift", "Identity", "shown_identities", "reconcile"]

#: seconds between two progress steps of ``fill_summaries`` at least
PROGRESS_S = 0.25

#: not verified yet
PENDING = "pending"
#: worst first: a row shows the worst verdict over all its versions
BADNESS = (INVALID, ERROR, LEGACY, UNVERIFIABLE, PENDING, VALID)
_RANK = {s: i for i, s in enumerate(BADNESS)}


def rank(status: str) -> int:
    """0 for the worst status (invalid); unknown statuses count as invalid."""
    return _RANK.get(status, 0)


@dataclass(frozen=True)
class Aggregate:
    """The verdict over all versions of an agent or a document."""

    status: str
    total: int
    counts: dict[str, int]
    #: the version (key) that gives the status, when one does
    worst: Verdict | None = None

    @property
    def bad(self) -> int:
        """How many versions have the row's status (when it is not valid/pending)."""
        return self.counts.get(self.status, 0) if self.status not in (VALID, PENDING) else 0

    @property
    def text(self) -> str:
        """'invalid', or '1 of 6 versions invalid' when not all versions share it."""
        n = self.counts.get(self.status, 0)
        if self.total <= 1 or n == self.total:
            return self.status
        if self.status == PENDING:
            return f"{self.total - n} of {self.total} versions checked"
        return f"{n} of {self.total} versions {self.status}"

    @functools.cached_property  # (asked once per row at every sort of a big table)
    def sort_key(self) -> tuple[int, int, str]:
        """Larger is worse: in descending order (a header's first click) the worst rows come
        first, the rows with more bad versions before those with fewer."""
        return (len(BADNESS) - rank(self.status), self.bad, self.status)


def aggregate(verdicts: list[Verdict | None]) -> Aggregate:
    """Worst verdict over versions (invalid > error > legacy > unverifiable >
    pending > valid); a version without a verdict is pending."""
    counts: dict[str, int] = {}
    worst: Verdict | None = None
    status = VALID if verdicts else PENDING
    for v in verdicts:
        st = v.status if v is not None else PENDING
        counts[st] = counts.get(st, 0) + 1
        if rank(st) < rank(status):
            status, worst = st, v
    return Aggregate(status, len(verdicts), counts, worst)


#: the aggregate of n versions none of which is checked yet, by n (never changed: shared)
_UNCHECKED: dict[int, Aggregate] = {}


class _Versioned:
    """What agent and document rows share: their versions and their verdicts,
    one per version (keyed by object key), filled in as they are checked."""

    refs: list[Ref]
    verdicts: dict[str, Verdict]
    #: bumped by set_verdict; the aggregate is cached per revision (it is asked for at every repaint)
    _rev = 0
    #: (revision, verdicts, versions, the aggregate then)
    _agg_cache: tuple[int, int, int, Aggregate] | None = None

    def set_verdict(self, key: str, verdict: Verdict) -> None:
        self.verdicts[key] = verdict
        self._rev += 1

    @property
    def versions(self) -> int:
        return len(self.refs)

    def _latest(self) -> Ref:
        raise NotImplementedError

    @property
    def verdict(self) -> Verdict | None:
        """The latest version's verdict."""
        return self.verdicts.get(self._latest().key)

    @verdict.setter
    def verdict(self, v: Verdict | None) -> None:
        key = self._latest().key
        if v is None:
            self.verdicts.pop(key, None)
            self._rev += 1
        else:
            self.set_verdict(key, v)

    def aggregate(self) -> Aggregate:
        if not self.verdicts:  # none checked yet (a big table's first sort by verdict): one shared per count
            agg = _UNCHECKED.get(len(self.refs))
            if agg is None:
                agg = _UNCHECKED[len(self.refs)] = aggregate([None] * len(self.refs))
            return agg
        rev, n, cached = self._rev, len(self.verdicts), self._agg_cache
        if cached is not None and cached[0] == rev and cached[1] == n and cached[2] == len(self.refs):
            return cached[3]
        agg = aggregate([self.verdicts.get(r.key) for r in self.refs])
        self._agg_cache = (rev, n, len(self.refs), agg)
        return agg

    @property
    def status(self) -> str:
        """The worst status over all versions ('pending' until each is checked)."""
        return self.aggregate().status


@dataclass(eq=False)
class AgentRow(_Versioned):
    id: str
    refs: list[Ref]
    name: str | None = None
    type: str | None = None
    algorithm: str | None = None
    key_hash: str | None = None
    verdicts: dict[str, Verdict] = field(default_factory=dict)

    @property
    def latest(self) -> Ref:
        return max(self.refs, key=lambda r: r.version)

    def _latest(self) -> Ref:
        return self.latest


@dataclass(eq=False)
class DocRow(_Versioned):
    id: str
    refs: list[Ref]
    archived: bool = False
    title: str | None = None
    type: str | None = None
    date: str | None = None
    signer: str | None = None
    #: the name the signer's agent document gives: a claim, used for searching only
    signer_name: str | None = None
    attachments: int | None = None
    latest_key: str | None = None
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _latest(self) -> Ref:
        return self.latest_ref()

    def latest_ref(self) -> Ref:
        if self.latest_key:
            for r in self.refs:
                if r.key == self.latest_key:
                    return r
        return self.refs[-1]

    def signer_label(self) -> str | None:
        """The Signer column: the agent's name only once the latest version's verdict proves the key
        is that agent's; until then (or for a planted key) the claimed id, never a borrowed name."""
        v = self.verdict if self.verdicts else None  # (none checked: no verdict to look for; a sort asks every row)
        if v is not None and v.signer_name:
            return v.signer_name
        if v is not None and v.signer and unknown_signing_key(v):
            return f"unknown key claiming {v.signer[:8]}…"
        signer = self.signer
        return signer[:8] + "…" if signer and len(signer) > 12 else signer

    _search: str | None = None

    def search_text(self) -> str:
        """What the filter box matches (cached; reset when the summary is filled)."""
        if self._search is None:
            self._search = " ".join(
                [x for x in (self.id, self.title, self.type, self.signer, self.signer_name) if x]).lower()
        return self._search


@dataclass(eq=False)
class VersionRow:
    node: HistoryNode
    ref: Ref
    summary: dict[str, Any]
    verdict: Verdict | None = None

    @property
    def status(self) -> str:
        return self.verdict.status if self.verdict else PENDING

    def signer_label(self) -> str:
        """The versions table's Signer: the agent's name once this version's verdict proves the key
        is that agent's; until then (or for a planted key) the claimed id, never a borrowed name."""
        v = self.verdict
        if v is not None and v.signer_name:
            return v.signer_name
        sid = (v.signer if v is not None else None) or self.summary.get("signer") or ""
        short_id = sid[:8] + "…" if len(sid) > 12 else sid
        if v is not None and v.signer and unknown_signing_key(v):
            return f"unknown key claiming {short_id}"
        return short_id


@dataclass
class Snapshot:
    store: Store
    agents: list[AgentRow]
    #: a list, or for a store read a page at a time (SQLite) a ``doc_pages.PagedDocuments``
    documents: Sequence[DocRow]
    archived: Sequence[DocRow]

    @property
    def counts(self) -> dict[str, int]:
        return {"agents": len(self.agents), "documents": len(self.documents), "archived": len(self.archived)}

    @property
    def paged(self) -> bool:
        """The documents are read a page at a time (not all in memory)."""
        return not isinstance(self.documents, list)

    def every_row(self) -> EveryRow:
        """Agents, documents and archived documents, without making a list of a million rows."""
        return EveryRow((self.agents, self.documents, self.archived))


class EveryRow:
    """Rows of several tables one after the other; ``versions()`` counts their versions."""

    def __init__(self, parts: Sequence[Sequence[AgentRow | DocRow]]):
        self.parts = parts

    def __iter__(self) -> Iterator[AgentRow | DocRow]:
        for part in self.parts:
            yield from part

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def versions(self) -> int:
        return sum(p.versions() if hasattr(p, "versions") else sum(len(r.refs) for r in p) for p in self.parts)


def collector_paused(store: Store) -> contextlib.AbstractContextManager[None]:
    """Python's cyclic garbage collector off for the block, for a folder on this machine
    (:func:`~.common.gc_paused`). A big folder's listing and summaries make hundreds of thousands
    of objects that all stay (rows, names, summaries), none in a cycle; the collector walked them
    again and again while they were made (a third of the summaries' time). Not for stores read
    over the network: their listing can take minutes."""
    return gc_paused(isinstance(store.objects, FsStore))


def stream_refs(store: Store, partial: Callable[[list[Ref]], None], cancel: CancelToken | None = None,
                first_batch: int = 500, batch: int = 5000, *, documents: bool = True) -> int:
    """Hand the store's version names to *partial* in batches as they are found (*first_batch*,
    then *batch*, doubling up to 8 × *batch*), so a large store shows rows before its listing
    ends. Returns the count.
    ``documents=False``: agents only (the documents are read a page at a time)."""
    with collector_paused(store):
        return _stream_refs(store, partial, cancel, first_batch, batch, documents)


def _stream_refs(store: Store, partial: Callable[[list[Ref]], None], cancel: CancelToken | None,
                 first_batch: int, batch: int, documents: bool) -> int:
    buf: list[Ref] = []
    size, n = first_batch, 0
    refs = store.iter_refs()
    if not documents:
        infos = [i for prefix, kind in store.layout.list_prefixes() if kind == "agent"
                 for i in store.objects.list(prefix, details=False, ordered=False)]
        refs = (r for r in store.iter_refs(infos=infos) if r.kind == "agent")
    for ref in refs:
        buf.append(ref)
        n += 1
        if len(buf) >= size:
            if is_cancelled(cancel):
                return n
            partial(buf)
            # then growing batches (each one sorts the window's table again): 5,000, 10,000, ... 40,000
            buf, size = [], batch if size < batch else min(size * 2, batch * 8)
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
        #: (live, archived) read a page at a time (``doc_pages.paged_tables``), or None
        self.paged: tuple[Sequence[DocRow], Sequence[DocRow]] | None = None

    def add(self, refs: list[Ref]) -> tuple[dict[str, list[AgentRow | DocRow]], list[AgentRow | DocRow]]:
        new: dict[str, list[AgentRow | DocRow]] = {"agent": [], "document": [], "archived": []}
        grown: list[AgentRow | DocRow] = []
        for r in refs:
            row: AgentRow | DocRow | None
            if r.kind == "agent":
                row = self.agents.get(r.id)
                if row is None:
                    row = self.agents[r.id] = AgentRow(r.id, [r])
                    new[r.kind].append(row)
                    continue
            else:
                table = {"document": self.documents, "archived": self.archived}[r.kind]
                row = table.get(r.id)
                if row is None:
                    row = table[r.id] = DocRow(r.id, [r], archived=r.kind == "archived")
                    new[r.kind].append(row)
                    continue
            row.refs.append(r)
            grown.append(row)
        return new, grown

    def snapshot(self) -> Snapshot:
        if self.paged is not None:
            return Snapshot(self.store, list(self.agents.values()), *self.paged)
        return Snapshot(self.store, list(self.agents.values()), list(self.documents.values()),
                        list(self.archived.values()))


#: a version as (kind, id, version)
Identity = tuple[str, str, str]


@dataclass(frozen=True)
class Drift:
    """How a fresh listing of a store's names differs from what the window shows:
    versions (kind, id, version) listed but not shown, and shown but gone."""

    missing: frozenset[Identity] = frozenset()
    gone: frozenset[Identity] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.missing or self.gone)

    @property
    def count(self) -> int:
        return len(self.missing) + len(self.gone)


def shown_identities(snapshot: Snapshot) -> frozenset[Identity]:
    """(kind, id, version) of every version in *snapshot* (what the window shows)."""
    return frozenset((r.kind, r.id, r.version)
                     for rows in (snapshot.agents, snapshot.documents, snapshot.archived)
                     for row in rows for r in row.refs)


def reconcile(store: Store, shown: frozenset[Identity], cancel: CancelToken | None = None) -> Drift:
    """Compare a listing of names (no reads, no stat: for a folder a directory listing)
    with *shown*: what change events failed to bring, and what they failed to take away.
    Identities, not keys, are compared, so a version found under two names is no drift."""
    listed: set[Identity] = set()
    for r in store.iter_refs():
        listed.add((r.kind, r.id, r.version))
        if cancel is not None and len(listed) % 5000 == 0 and cancel.is_set():
            return Drift()
    return Drift(frozenset(listed - shown), frozenset(shown - listed))


def fill_summaries(snapshot: Snapshot, cache: IndexCache | None = None,
                   progress: ProgressFn | None = None, cancel: CancelToken | None = None,
                   on_rows: Callable[[Sequence[DocRow]], None] | None = None,
                   reader: Reader | None = None) -> Snapshot:
    """Read each version's summary (cached) and fill titles, types, dates, signers;
    ``on_rows(rows)`` after each batch of document rows is filled (``summaries.batches``:
    a big folder's missing summaries are read on every core). *reader*: the
    ``summaries.Reader`` the listing fed (it started reading them; *cache* is its cache)."""
    with collector_paused(snapshot.store):
        return _fill_summaries(snapshot, cache, progress, cancel, on_rows, reader)


def _fill_summaries(snapshot: Snapshot, cache: IndexCache | None, progress: ProgressFn | None,
                    cancel: CancelToken | None, on_rows: Callable[[Sequence[DocRow]], None] | None,
                    reader: Reader | None) -> Snapshot:
    store = snapshot.store
    if reader is not None:
        cache = reader.cache
        reader.flush()  # (it read the cache in already)
    if cache is not None and not snapshot.paged and not cache.preloaded:
        cache.preload()  # one query for every entry, not one per document
    # paged tables come with their summaries (from the database's own index)
    doc_rows: list[DocRow] = [] if snapshot.paged else [*snapshot.documents, *snapshot.archived]
    total = sum(len(r.refs) for r in doc_rows) + len(snapshot.agents)
    done = 0

    def summary(ref: Ref) -> dict[str, Any]:
        if cache is not None:
            got = cache.get(ref)  # (the usual: in memory)
            return got if got is not None else cache.summary(store, ref)
        try:
            return summarize(store.read_json(ref.key))
        except Exception as exc:  # shown as the row's error
            return {"error": str(exc)}

    shown = 0.0
    names: dict[str, str] = {}
    if cache is not None:  # a folder's agents: their files seen, so an entry is used only while they match
        stamp_here(store, cache, [a.latest for a in snapshot.agents])
    for a in snapshot.agents:
        if cancel is not None and cancel.is_set():
            return snapshot
        s = summary(a.latest)
        a.name, a.type = s.get("agent_name"), None
        try:
            doc = store.read_json(a.latest.key)
            a.type = doc.get("jacsAgentType") if isinstance(doc.get("jacsAgentType"), str) else None
            raw_sig = doc.get("jacsSignature")
            sig: dict[str, Any] = raw_sig if isinstance(raw_sig, dict) else {}
            a.algorithm = sig.get("signingAlgorithm")
            a.key_hash = sig.get("publicKeyHash")
        except Exception:
            pass
        if a.name:
            names[a.id] = a.name
        done += 1
    for table in (snapshot.documents, snapshot.archived) if snapshot.paged else ():
        set_names = getattr(table, "set_names", None)
        if set_names is not None:
            set_names(names)
    for batch in batches(store, cache, doc_rows, cancel, reader):
        for row in batch:
            if cancel is not None and cancel.is_set():
                return snapshot
            done = _fill_row(row, summary, names, done)
            # (at most four times a second: each step repaints the window's progress bar at once)
            if progress and done % 200 == 0 and (now := time.monotonic()) - shown >= PROGRESS_S:
                shown = now
                progress(done, total, "reading documents")
        if on_rows is not None:
            on_rows(batch)
    if progress:
        progress(total, total, "read")
    return snapshot


def _fill_row(row: DocRow, summary: Callable[[Ref], dict[str, Any]], names: dict[str, str], done: int) -> int:
    """Fill *row* from its versions' summaries (its latest version's); returns *done* plus its versions."""
    refs = row.refs
    if len(refs) == 1:  # (most rows: one version, the latest)
        ref = refs[0]
        s = row.summaries[ref.version] = summary(ref)
        row.latest_key = ref.key
        done += 1
    else:
        best: tuple[str, str] | None = None
        for ref in refs:
            s = summary(ref)
            row.summaries[ref.version] = s
            key = (s.get("date") or "", ref.key)
            if best is None or key > best:
                best = key
            done += 1
        if best is None:
            return done
        row.latest_key = best[1]
        s = row.summaries[row.latest_ref().version]
    row.title, row.type, row.date = s.get("title"), s.get("type"), s.get("date")
    row.signer, row.attachments = s.get("signer"), s.get("attachments")
    row.signer_name = names.get(row.signer or "")
    row._search = None
    row.search_text()  # built here, on the worker, so the first filter is only the matching
    return done


def read_error_verdict(ref: Ref, what: object) -> Verdict:
    """A version that could not be read: nothing was checked, so ``error``, never ``invalid``."""
    text = str(what) or type(what).__name__
    if not text.startswith("not checked"):
        text = f"not checked: {text}"
    return Verdict(ERROR, "agent" if ref.kind == "agent" else "document", ref.id, ref.version,
                   checks=[Check("read", ERROR, text)], path=ref.key)


def reason_of(v: Verdict) -> str:
    """``Verdict.reason``, and for an ``error`` verdict what could not be read ("not checked: …")."""
    if v.status == ERROR:
        c = next((c for c in v.checks if c.status in (ERROR, FAILED)), None)
        if c is not None:
            return c.reason
    return v.reason


def verify_ref(store: Store, ref: Ref) -> Verdict:
    """``store.verify`` where a failed read (503, time-out, permission denied, a
    vanished file) is an ``error`` verdict ("not checked: …"), whichever way the
    store reports it: raised, or as a failed ``read`` check."""
    try:
        v = store.verify(ref)
    except (StorageError, OSError, TimeoutError) as exc:
        return read_error_verdict(ref, exc)
    read = next((c for c in v.checks if c.name == "read" and c.status in (FAILED, ERROR)), None)
    if read is not None and v.status in (INVALID, ERROR):
        return read_error_verdict(ref, read.reason)
    return v


def verify_rows(store: Store, rows: Sequence[AgentRow | DocRow] | EveryRow, progress: ProgressFn | None = None,
                cancel: CancelToken | None = None, on_row: Callable[[Any], None] | None = None, *,
                every_version: bool = True) -> int:
    """Verify every version of each row (latest only with ``every_version=False``);
    ``on_row`` is called as each row's verdicts land. Returns the versions verified."""
    def versions_of(row: AgentRow | DocRow) -> list[Ref]:
        return list(row.refs) if every_version else [row.latest if isinstance(row, AgentRow) else row.latest_ref()]

    if isinstance(rows, EveryRow) and every_version:  # a paged store: not a list of every row up front
        total = rows.versions()
        todo: Iterable[AgentRow | DocRow] = rows
    else:
        todo = list(rows)
        total = sum(len(versions_of(r)) for r in todo)
    n = 0
    for row in todo:
        if cancel is not None and cancel.is_set():
            break
        for ref in versions_of(row):
            row.set_verdict(ref.key, verify_ref(store, ref))
            n += 1
            if progress and (n % 20 == 0 or n == total):
                progress(n, total, "verifying every version")
        if on_row:
            on_row(row)
    return n


def count_versions(rows: Sequence[AgentRow | DocRow]) -> tuple[int, dict[str, int]]:
    """(versions, {status: versions}) over *rows*; unchecked versions count as pending."""
    paged = getattr(rows, "count_versions", None)
    if paged is not None:  # a table read a page at a time: counted without making every row
        got: tuple[int, dict[str, int]] = paged()
        return got
    total = 0
    counts: dict[str, int] = {}
    for row in rows:
        for ref in row.refs:
            v = row.verdicts.get(ref.key)
            st = v.status if v is not None else PENDING
            counts[st] = counts.get(st, 0) + 1
            total += 1
    return total, counts


def new_version_refusal(base: Ref, nodes: list[HistoryNode], verdicts: dict[str, Verdict]) -> str | None:
    """Why a new version must not be signed on top of *base* (None when it may):
    a forged or unchecked version must not get laundered into a chain of good
    signatures, so *base* and every version before it must be valid (or legacy)."""
    by_version = {n.version: n for n in nodes}
    node = next((n for n in nodes if n.key == base.key), None)
    chain: list[tuple[str, str]] = [(base.key, base.version)]
    seen = {base.version}
    while node is not None and node.previous in by_version and node.previous not in seen:
        node = by_version[node.previous]
        seen.add(node.version)
        chain.append((node.key, node.version))
    for key, version in chain:
        v = verdicts.get(key)
        which = "The latest version" if key == base.key else f"Version {version[:8]}… in its history"
        if v is None:
            return f"{which} is not verified yet: verify it first."
        if v.status == ERROR:
            return f"{which} could not be checked ({reason_of(v)}): retry reading it first."
        if v.status in (INVALID, UNVERIFIABLE):
            return (f"{which} is {v.status} ({reason_of(v)}). A new version would sign on top of it and make "
                    f"it look trusted.")
        if v.status not in (VALID, LEGACY):
            return f"{which} is {v.status}."
    return None


def attachment_warning(entry: dict[str, Any], verdict: Verdict | None) -> str | None:
    """Why opening, saving, previewing or dragging out an attachment is risky:
    its hash check failed, or the version it belongs to is invalid (None when neither)."""
    if entry.get("_status") == FAILED:
        return f"Its check failed: {entry.get('_reason') or 'the contents do not match their hash'}."
    if verdict is not None and verdict.status == INVALID:
        return f"The version it belongs to is invalid: {reason_of(verdict)}."
    return None


# -- display and diff ---------------------------------------------------------------

EMBED_LIMIT = 200


def display_json(doc: Any) -> str:
    """Pretty JSON for reading: embedded attachment contents shown as their size."""
    def shrink(v: Any, key: str | None = None) -> Any:
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

    def walk(a: Any, b: Any, path: list[str]) -> None:
        top = path[0] if path else ""
        signed = top in signed_fields
        p = "/".join(path)
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                if not path and not include_header and k in _HEADER_NOISE:
                    continue
                field_signed = (path[0] if path else k) in signed_fields
                if k not in b:
                    out.append(DiffLine("removed", "/".join([*path, k]), a[k], None, field_signed))
                elif k not in a:
                    out.append(DiffLine("added", "/".join([*path, k]), None, b[k], field_signed))
                else:
                    walk(a[k], b[k], [*path, k])
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):  # the lengths are equal
                walk(x, y, [*path, str(i)])
        elif a != b or type(a) is not type(b):
            out.append(DiffLine("changed", p, a, b, signed))

    walk(old, new, [])
    return out


def signer_text(verdict: Verdict) -> str:
    """Who signed, in words: the agent's name only when its key is proven the agent's
    (``signer_name``); otherwise the id with what is known about the key."""
    sid = verdict.signer or "?"
    if verdict.signer_name:
        return f"{verdict.signer_name} ({sid})"
    if unknown_signing_key(verdict):
        return f"unknown key claiming agent {sid}"
    return sid


def unknown_signing_key(verdict: Verdict) -> bool:
    """The agent directory could not show the signing key to be the claimed agent's."""
    return any(c.name == "signer identity" and c.status == "warning" for c in verdict.checks)
