"""The documents table of a big store, a page at a time (Qt-free).

``DocPager`` is what the window's table asks: ``count()``, ``row(i)``,
``position(row)``, ``set_order(sort, descending)``, ``set_filter(text, ids)``;
``more()`` / ``load_more()`` when a filter's total is not counted yet. Two
implementations answer it:

- ``SqlPager`` over ``PagedDocuments``, for the SQLite backend: counts and pages
  come from the database's indexes (``storage.sqlite_pages``), rows are made
  only for the pages shown (and kept, with their verdicts, once made); a filter
  is looked up in the database's search index (trigrams; one or two characters:
  ``sqlite_grams``) (up to ``MATCH_CAP`` matches: counted and sorted at once), one
  matching more rows is matched by scanning, a page at a time;
- ``ListPager``, the generic fallback: the same order and filter, in memory,
  over a list of rows (what the window does for every other backend).

Verdicts live only in memory. Sorted by verdict, the rows with a verdict
(worse than pending, or valid) are put in order in memory, and the rows still
pending (most of a big store) come from the database between them, by id: the
order is the same as sorting every row by (verdict key, id).

Size: the two pagers answer one interface and must give the same order and filter (a test
compares them); keeping them side by side keeps that rule visible.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from ..storage import sqlite_pages as sp
from ..storage.layout import JacsLayout, Ref
from ..storage.store import Store
from .browse import BADNESS, PENDING, DocRow, rank
from .common import CancelToken

__all__ = ["DocPager", "SqlPager", "ListPager", "PagedDocuments", "paged_tables", "SORT_NAMES", "PAGE",
           "MATCH_CAP", "sort_key"]

#: rows fetched at once
PAGE = 256
#: the documents table's columns, in order, by the sort they ask for
SORT_NAMES = ("verdict", "title", "type", "id", "date", "versions", "signer", "attachments")
#: a filter matching more rows than this is not counted up front: pages are loaded as the table scrolls
#: (in the chosen order, the first page found soon among so many)
MATCH_CAP = 20_000
#: the shortest filter the search index answers (one character: ``sqlite_grams``)
MATCH_MIN = 1

_PENDING_KEY = (len(BADNESS) - rank(PENDING), 0, PENDING)


def sort_key(name: str) -> Callable[[DocRow], Any]:
    """The order of sort *name* over rows (ties by id), the same the database gives."""
    keys: dict[str, Callable[[DocRow], Any]] = {
        "verdict": lambda r: r.aggregate().sort_key,
        "title": lambda r: sp.fold(r.title),
        "type": lambda r: r.type or "",
        "id": lambda r: "",
        "date": lambda r: r.date or "",
        "versions": lambda r: len(r.refs),
        "signer": lambda r: sp.fold(r.signer),
        "attachments": lambda r: r.attachments or 0,
    }
    k = keys[name]
    return lambda r: (k(r), r.id)


class DocPager(Protocol):
    def count(self) -> int: ...
    def more(self) -> bool: ...
    def load_more(self) -> list[DocRow]: ...
    def accept(self, rows: list[DocRow]) -> None: ...
    def row(self, i: int) -> DocRow: ...
    def position(self, row: DocRow) -> int: ...
    def cached_position(self, row: DocRow) -> int | None: ...
    def set_order(self, sort: str, descending: bool) -> None: ...
    def set_filter(self, text: str, ids: frozenset[str] | None = None) -> None: ...
    def refresh(self) -> None: ...


def _matches(row: DocRow, text: str, ids: frozenset[str] | None) -> bool:
    return (not text or text in row.search_text()) and (ids is None or row.id in ids)


class ListPager:
    """The generic fallback: every row in memory, sorted and filtered there."""

    def __init__(self, rows: Sequence[DocRow]):
        self._all = list(rows)
        self._sort, self._desc, self._text = "id", False, ""
        self._ids: frozenset[str] | None = None
        self._rows: list[DocRow] = []
        self.refresh()

    def refresh(self) -> None:
        rows = [r for r in self._all if _matches(r, self._text, self._ids)]
        rows.sort(key=sort_key(self._sort), reverse=self._desc)
        self._rows = rows

    def count(self) -> int:
        return len(self._rows)

    def more(self) -> bool:
        return False

    def load_more(self) -> list[DocRow]:
        return []

    def accept(self, rows: list[DocRow]) -> None:
        pass

    def row(self, i: int) -> DocRow:
        return self._rows[i]

    def position(self, row: DocRow) -> int:
        return next((i for i, r in enumerate(self._rows) if r is row), -1)

    def cached_position(self, row: DocRow) -> int | None:
        i = self.position(row)
        return i if i >= 0 else None

    def set_order(self, sort: str, descending: bool) -> None:
        self._sort, self._desc = sort, descending
        self.refresh()

    def set_filter(self, text: str, ids: frozenset[str] | None = None) -> None:
        self._text, self._ids = text.lower(), ids
        self.refresh()


def paged_tables(store: Store) -> tuple[PagedDocuments, PagedDocuments] | None:
    """(live, archived) documents of *store* read a page at a time, when its backend
    answers indexed queries (SQLite) and names its documents as jacs does; else None."""
    objects = store.objects
    if not hasattr(objects, "reader") or not isinstance(store.layout, JacsLayout):
        return None
    layout = store.layout
    if layout.document_key("a", "b") != "documents/a:b.json" or layout.archive_key("a", "b") != \
            "documents/archive/a:b.json":
        return None
    for prefix, kind in layout.list_prefixes():
        if kind == "document" and prefix != "documents/" and next(iter(objects.list(prefix)), None) is not None:
            return None  # copies elsewhere too: the full listing shows and deduplicates them
    return PagedDocuments(store, False), PagedDocuments(store, True)


class PagedDocuments:
    """The live (or archived) documents of a SQLite store, made into rows as they
    are asked for. Stands in for ``Snapshot.documents``: ``len``, iteration in id
    order (verification), and the rows already made keep their verdicts."""

    def __init__(self, store: Store, archived: bool):
        self.store = store
        self.archived = archived
        objects: Any = store.objects
        self.objects = objects
        self.conn = objects.reader()
        self.lock = threading.RLock()
        self.made: dict[str, DocRow] = {}
        #: agent id -> name, for the filter (the signer's name is searched too)
        self.names: dict[str, str] = {}
        self._len: int | None = None
        self._versions: int | None = None
        self._counts: dict[tuple[str, tuple[str, ...], frozenset[str] | None], int] = {}
        self._indexed = False

    # -- the Sequence part ------------------------------------------------------
    def __len__(self) -> int:
        if self._len is None:
            with self.lock:
                self._len = sp.count(self.conn, sp.DocQuery(archived=self.archived))
        return self._len

    def __bool__(self) -> bool:
        return len(self) > 0

    def __iter__(self) -> Iterator[DocRow]:
        last = ""
        while True:
            with self.lock:
                recs = self.conn.execute(
                    "SELECT jacs_id, versions, latest, title, type, date, signer, attachments, search FROM jd_doc "
                    "WHERE removed = ? AND jacs_id > ? ORDER BY jacs_id LIMIT ?", (int(self.archived), last, 1000),
                ).fetchall()
            if not recs:
                return
            yield from self.rows_for([sp.DocRecord(*r) for r in recs])
            last = recs[-1][0]

    def count(self, q: sp.DocQuery) -> int:
        """``sqlite_pages.count``, kept until ``invalidate`` (the order does not change it:
        sorting a million rows again does not count them again)."""
        if q.exclude_temp or q.only_temp_rows:
            with self.lock:
                return sp.count(self.conn, q)
        key = (q.text, q.signers, q.ids)
        got = self._counts.get(key)
        if got is None:
            with self.lock:
                got = self._counts[key] = sp.count(self.conn, q)
        return got

    def invalidate(self) -> None:
        """The database changed (a sync, a write): counts are read again."""
        self._counts.clear()
        self._len = self._versions = None

    # -- rows -----------------------------------------------------------------
    def rows_for(self, recs: Sequence[sp.DocRecord]) -> list[DocRow]:
        """The rows of *recs* (made once; updated when the document got versions)."""
        stale = [r for r in recs if (got := self.made.get(r.id)) is None or len(got.refs) != r.versions
                 or got.latest_key != self._key(r.id, r.latest)]
        if stale:
            with self.lock:
                versions = sp.versions_of(self.conn, self.archived, [r.id for r in stale])
            for rec in stale:
                self._make(rec, versions.get(rec.id, []))
        return [self.made[r.id] for r in recs]

    def _key(self, jid: str, ver: str) -> str:
        return f"documents/{'archive/' if self.archived else ''}{jid}:{ver}.json"

    def _make(self, rec: sp.DocRecord, versions: list[sp.VersionRecord]) -> None:
        from ..storage.sqlite import _parse_time

        kind = "archived" if self.archived else "document"
        refs = [Ref(kind, rec.id, v.version, self._key(rec.id, v.version), v.size, _parse_time(v.created_at))
                for v in versions] or [Ref(kind, rec.id, rec.latest, self._key(rec.id, rec.latest))]
        row = self.made.get(rec.id)
        if row is None:
            row = self.made[rec.id] = DocRow(rec.id, refs, archived=self.archived)
        else:
            keys = {r.key for r in refs}
            row.refs = refs
            row.verdicts = {k: v for k, v in row.verdicts.items() if k in keys}
            row._rev += 1
        row.summaries = {v.version: {"title": v.title, "type": v.type, "date": v.date, "signer": v.signer,
                                     "attachments": v.attachments} for v in versions}
        row.latest_key = self._key(rec.id, rec.latest)
        row.title, row.type, row.date = rec.title, rec.type, rec.date
        row.signer, row.attachments = rec.signer, rec.attachments
        self._name(row, rec.search)

    def _name(self, row: DocRow, search: str | None = None) -> None:
        row.signer_name = self.names.get(row.signer or "")
        base = search if search is not None else sp.search_text(row.id, row.title, row.type, row.signer)
        row._search = base + (" " + row.signer_name.lower() if row.signer_name else "")

    def set_names(self, names: dict[str, str]) -> None:
        """Agent names known: the rows made so far search them too."""
        self.names = dict(names)
        for row in list(self.made.values()):
            self._name(row)

    def row_by_id(self, doc_id: str) -> DocRow | None:
        """The row of document *doc_id* as the database has it now (the same row object once made)."""
        with self.lock:
            rec = self.conn.execute(
                "SELECT jacs_id, versions, latest, title, type, date, signer, attachments, search FROM jd_doc "
                "WHERE removed = ? AND jacs_id = ?", (int(self.archived), doc_id)).fetchone()
        return self.rows_for([sp.DocRecord(*rec)])[0] if rec else None

    # -- totals ---------------------------------------------------------------
    def versions(self) -> int:
        """How many versions (kept until ``invalidate``: the status bar asks at every batch of verdicts)."""
        if self._versions is None:
            with self.lock:
                self._versions = sp.versions_total(self.conn, self.archived)
        return self._versions

    def count_versions(self) -> tuple[int, dict[str, int]]:
        """(versions, {status: versions}): the ones not made into rows yet are pending."""
        total, seen = self.versions(), 0
        counts: dict[str, int] = {}
        for row in list(self.made.values()):
            for ref in row.refs:
                v = row.verdicts.get(ref.key)
                if v is not None:
                    counts[v.status] = counts.get(v.status, 0) + 1
                    seen += 1
        if total - seen > 0:
            counts[PENDING] = counts.get(PENDING, 0) + total - seen
        return total, counts

    def search_ready(self) -> bool:
        """The filter's search index covers every row (once true, the triggers keep it so)."""
        if not self._indexed:
            with self.lock:
                self._indexed = sp.search_index_ready(self.conn)
        return self._indexed

    def match(self, text: str) -> bool:
        """Put the rows whose search text contains *text* into the connection's
        ``temp.jd_rows`` through the search index (under ``lock``). False when the index
        cannot answer (not built yet, a text of one or two characters found in many rows) or more than
        ``MATCH_CAP`` rows match: then the rows are found by scanning, a page at a time."""
        if len(text) < MATCH_MIN or "\x00" in text or not self.search_ready():
            return False
        try:
            return sp.match_rows(self.conn, self.archived, text, MATCH_CAP) is not None
        except sqlite3.OperationalError:  # an index this SQLite cannot read: scan
            self._indexed = False
            return False

    def spans(self, text: str, sort: str) -> tuple[tuple[Any, Any], ...] | None:
        """The parts of sort *sort*'s order that can hold a row containing *text* (under
        ``lock``; ``sqlite_pages.spans``), None: all of it."""
        try:
            got = sp.spans(self.conn, text, sp.SORTS[sort])
        except sqlite3.OperationalError:  # an index this SQLite cannot read: walk all of it
            return None
        return None if got is None else tuple(got)


class SqlPager:
    """Pages of ``PagedDocuments`` in the chosen order and filter, from indexed SQL."""

    def __init__(self, docs: PagedDocuments):
        self.docs = docs
        self._sort, self._desc, self._text = "id", False, ""
        self._ids: frozenset[str] | None = None
        self._head: list[DocRow] = []
        self._tail: list[DocRow] = []
        self._mid_n = 0  # rows of the middle part known (all of them unless _lazy)
        self._lazy = False  # a filter matching many rows: its total is found by loading pages
        self._pages: dict[int, list[DocRow]] = {}
        self._where: dict[int, int] = {}
        self._rows_set = False
        self._spans: tuple[tuple[Any, Any], ...] | None = None
        self._loaded: list[DocRow] | None = None
        self._pending: tuple[list[DocRow], bool] | None = None
        self.refresh()

    # -- the plan ---------------------------------------------------------------
    def _query(self) -> sp.DocQuery:
        signers: tuple[str, ...] = ()
        if self._text:
            signers = tuple(sorted(a for a, n in self.docs.names.items() if self._text in n.lower()))
        return sp.DocQuery(archived=self.docs.archived, sort="id" if self._sort == "verdict" else self._sort,
                           descending=self._desc, text=self._text, signers=signers, ids=self._ids,
                           exclude_temp=self._sort == "verdict", only_temp_rows=self._rows_set, spans=self._spans)

    def refresh(self) -> None:
        """Read the order again (rows added, verdicts changed)."""
        d = self.docs
        self._pages.clear()
        self._where.clear()
        self._head, self._tail = [], []
        c = d.conn
        with d.lock:
            self._rows_set = False
            if self._text and d.match(self._text):
                signers = self._query().signers
                if signers:  # the signer's name is searched too
                    marks = ",".join("?" * len(signers))  # through the signer sort's index (its key is fold)
                    c.execute(f"INSERT OR IGNORE INTO temp.jd_rows SELECT rowid FROM jd_doc WHERE removed = ? "
                              f"AND signer_key IN ({marks}) AND signer IN ({marks})",
                              [int(d.archived), *(sp.fold(s) for s in signers), *signers])
                self._rows_set = True
            if self._sort == "verdict":
                decided = [r for r in list(d.made.values())
                           if r.verdicts and r.aggregate().sort_key != _PENDING_KEY
                           and _matches(r, self._text, self._ids)]
                c.execute("DELETE FROM temp.jd_ids")
                c.executemany("INSERT OR IGNORE INTO temp.jd_ids VALUES (?)", ((r.id,) for r in decided))
                key = sort_key("verdict")
                worse = sorted((r for r in decided if r.aggregate().sort_key > _PENDING_KEY), key=key,
                               reverse=self._desc)
                better = sorted((r for r in decided if r.aggregate().sort_key < _PENDING_KEY), key=key,
                                reverse=self._desc)
                self._head, self._tail = (worse, better) if self._desc else (better, worse)
            self._spans = None
            self._lazy = bool(self._text) and not self._rows_set and self._ids is None
            if self._lazy and not self._query().signers:  # the blocks of the order that can hold a match
                self._spans = d.spans(self._text, self._query().sort)
            q = self._query()
            self._loaded, self._pending = None, None
            if self._lazy:
                self._loaded = d.rows_for(sp.page(c, q, 0, PAGE))
                self._mid_n = len(self._loaded)
                for k, r in enumerate(self._loaded):
                    self._where[id(r)] = len(self._head) + k
                if self._mid_n < PAGE:
                    self._lazy = False
            else:
                self._mid_n = d.count(q)
        self._index_page(0)

    # -- the pager interface ------------------------------------------------------
    def count(self) -> int:
        return len(self._head) + self._mid_n + (0 if self._lazy else len(self._tail))

    def more(self) -> bool:
        return self._lazy

    def load_more(self) -> list[DocRow]:
        """The next rows of a filter whose total is not known yet (and the tail once it
        ends); they count once ``accept``-ed (the model announces them in between)."""
        if not self._lazy or self._loaded is None:
            return []
        d = self.docs
        with d.lock:
            recs = sp.page(d.conn, self._query(), len(self._loaded), PAGE)
        rows = d.rows_for(recs)
        done = len(recs) < PAGE
        self._pending = (rows, done)
        return rows + (self._tail if done else [])

    def accept(self, rows: list[DocRow]) -> None:
        """The rows ``load_more`` gave are now part of the table."""
        if self._pending is None or self._loaded is None:
            return
        mid, done = self._pending
        self._pending = None
        h = len(self._head)
        for r in mid:
            self._where[id(r)] = h + len(self._loaded)
            self._loaded.append(r)
        self._mid_n = len(self._loaded)
        if done:
            self._lazy = False
            t0 = h + self._mid_n
            for k, r in enumerate(self._tail):
                self._where[id(r)] = t0 + k

    def row(self, i: int) -> DocRow:
        h = len(self._head)
        if i < h:
            return self._head[i]
        j = i - h
        if j >= self._mid_n:
            return self._tail[j - self._mid_n]
        if self._loaded is not None:
            return self._loaded[j]
        p = j // PAGE
        got = self._pages.get(p)
        if got is None or len(got) <= j % PAGE:
            d = self.docs
            with d.lock:
                recs = sp.page(d.conn, self._query(), p * PAGE, PAGE)
            got = self._pages[p] = d.rows_for(recs)
            self._index_page(p)
        return got[j % PAGE]

    def _index_page(self, p: int) -> None:
        h = len(self._head)
        for k, r in enumerate(self._pages.get(p, ())):
            self._where[id(r)] = h + p * PAGE + k
        if p == 0:
            for k, r in enumerate(self._head):
                self._where[id(r)] = k
            t0 = h + self._mid_n
            for k, r in enumerate(self._tail):
                self._where[id(r)] = t0 + k

    def cached_position(self, row: DocRow) -> int | None:
        i = self._where.get(id(row))
        return i if i is not None and i < self.count() else None

    def position(self, row: DocRow) -> int:
        known = self.cached_position(row)
        if known is not None and self.row(known) is row:
            return known
        if row.archived != self.docs.archived or self.docs.made.get(row.id) is not row:
            return -1
        for part, base in ((self._head, 0), (self._tail, len(self._head) + self._mid_n)):
            if row in part:
                return base + part.index(row) if not self._lazy or part is self._head else -1
        d = self.docs
        with d.lock:
            j = sp.position(d.conn, self._query(), row.id)
        if j < 0 or j >= self._mid_n:
            return -1
        return len(self._head) + j

    def set_order(self, sort: str, descending: bool) -> None:
        self._sort, self._desc = sort, descending
        self.refresh()

    def set_filter(self, text: str, ids: frozenset[str] | None = None) -> None:
        self._text, self._ids = text.lower(), ids
        self.refresh()


def sync_paged(store: Store, tables: tuple[PagedDocuments, PagedDocuments], changed: Callable[[], None],
               cancel: CancelToken | None = None) -> None:
    """Summarize what another program wrote to the database since (batches, each
    committed; ``changed()`` after each, twice a second at most), then index for the
    filter the rows not indexed yet (batches too). A store that cannot be written to
    keeps what it has (its filter scans)."""
    import logging

    from ..storage.base import StorageError

    def batch(_done: int) -> None:
        for t in tables:
            t.invalidate()
        changed()

    try:
        n = store.objects.sync_summaries(cancel=cancel, on_batch=batch)  # type: ignore[attr-defined]
    except StorageError as exc:
        logging.getLogger(__name__).warning("%s", exc)
        n = 0
    if n:
        batch(n)
    try:
        store.objects.build_search_index(cancel=cancel)  # type: ignore[attr-defined]
    except StorageError as exc:
        logging.getLogger(__name__).warning("%s", exc)
