"""A disposable index cache: per-version summaries (title, type, signer, dates,
parent, attachments) kept in a SQLite file in the platformdirs cache dir.

It is never trusted over the store: an entry is used only while the object's
size and modification time (its *stamp*; for a file seen by a stat, its change time too,
which no program can set back) still match, and the whole file can
be deleted at any time (it is rebuilt, with progress). The stamp to match is the
listing's when it gives one (S3, SQLite: a size, a time); a folder is listed without
a stat per file (its refs have size 0 and no time), so there the stamp is the one the
object was *seen* with in this session (``observe``: a stat, done by the summaries'
worker processes or ``jobs.summaries.stamp_here``; or the stamp of the body just read
when an entry is written), and an entry of a ref not seen yet is never used. An entry
written from a body read now carries the stamp taken before (or with) that read, so a
file changed while it is read is read again next time.

Entries are written in batches: one transaction per ``BATCH`` entries or
``BATCH_S`` seconds (and at ``flush``/``close``), not one commit per document.
A crash loses at most the open batch, which is read again next time; SQLite's
transaction keeps the file whole either way.

The entries are only ever appended (no index on the key: writing 100,000 entries with
one, in the listing's random order, cost 1.5 s of CPU, without it 0.3 s); the last entry
of a key is its current one (rowid order); ``preload`` reads them all and, when stale
copies have piled up, keeps only the last of each.

A summary is what the window shows (title, signer...), never a verdict: it is read
leniently (``summary_of_bytes``, in ``version_summary``: the fastest JSON parser at hand),
and every verdict is computed from the body itself, elsewhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from ..paths import cache_dir, private_dir, private_file
from .base import StorageError
from .layout import Ref
from .version_summary import _loads as _loads_array
from .version_summary import parse_summaries, summarize, summary_json, summary_of_bytes

__all__ = ["IndexCache", "summarize", "summary_of_bytes", "summary_json", "parse_summaries", "cache_dir", "JsonReader",
           "CancelFlag", "stamp_text", "UNKNOWN_STAMP"]

INDEX_VERSION = 2

#: the stamp of an entry whose object's stamp is not known (a body that could not be read, or
#: one read without a stamp): current only in the session that wrote it (never equal to a
#: stat's stamp, which always has a time)
UNKNOWN_STAMP = ""


def stamp_text(size: int, mtime: float | None, ctime_ns: int | None = None) -> str:
    """What an entry is checked against: the object's size and modification time, and for a file
    seen by a stat its change time too (*ctime_ns*: the system sets it at every change of the
    file, and no program can set it back, as one can the modification time)."""
    text = f"{size}|{'' if mtime is None else mtime}"
    return text if ctime_ns is None else f"{text}|{ctime_ns}"


class JsonReader(Protocol):
    """What summaries are read from: a :class:`~.store.Store` (its ``invalidate``, when
    it has one, is called first)."""

    def read_json(self, key: str) -> Any: ...


class CancelFlag(Protocol):
    """A cancel request (a ``threading.Event``, a jobs ``CancelToken``)."""

    def is_set(self) -> bool: ...


#: a process's own connection for ``IndexCache.write_entries``: (path, connection)
_writer: tuple[Path, sqlite3.Connection] | None = None


class IndexCache:
    #: entries per transaction at most
    BATCH = 20_000
    #: seconds a transaction stays open at most
    BATCH_S = 2.0

    def __init__(self, store_url: str, directory: Path | None = None) -> None:
        #: the batch not written yet: key -> (stamp, summary JSON)
        self._buf: dict[str, tuple[str, str]] = {}
        self._since = 0.0
        #: every entry, once ``preload`` read them
        self._mem: dict[str, tuple[str, str]] | None = None
        #: summaries already parsed (by ``preload``, or given to ``put``): key -> (stamp, summary)
        self._parsed: dict[str, tuple[str, dict[str, Any]]] = {}
        #: the stamp each object of a ref listed without one has now (``observe``; a body read now)
        self._now: dict[str, str] = {}
        d = private_dir(Path(directory) if directory else cache_dir())
        self.path = d / (hashlib.sha256(store_url.encode("utf-8")).hexdigest()[:32] + ".index.sqlite3")
        self._lock = threading.Lock()
        try:
            self._db = self._open()
        except sqlite3.DatabaseError:
            # disposable: a damaged cache is simply rebuilt
            self.path.unlink(missing_ok=True)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        # It names every document: 0600 whatever the umask (SQLite gives its -wal and
        # -shm files the database file's mode); one an older version left 0644 is tightened.
        private_file(self.path)
        for extra in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + extra)
            if side.exists():
                private_file(side)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # a disposable cache: no fsync at each commit
        db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
        row = db.execute("SELECT value FROM meta WHERE name='version'").fetchone()
        if row is None or row[0] != str(INDEX_VERSION):
            db.execute("DROP TABLE IF EXISTS entry")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (str(INDEX_VERSION),))
        # appended to; a key's last row (by rowid) is its entry
        db.execute("CREATE TABLE IF NOT EXISTS entry (key TEXT NOT NULL, stamp TEXT NOT NULL, summary TEXT NOT NULL)")
        return db

    @staticmethod
    def _stamp(ref: Ref) -> str:
        return stamp_text(ref.size, ref.mtime)

    def _want(self, ref: Ref) -> str | None:
        """The stamp an entry of *ref* must have to be used: the listing's, else the one its
        object was seen with in this session; None: not seen (no entry is used)."""
        if ref.size or ref.mtime is not None:
            return stamp_text(ref.size, ref.mtime)
        return self._now.get(ref.key)

    def _row(self, key: str) -> tuple[str, str] | None:
        row = self._buf.get(key) if self._buf else None
        if row is None:
            if self._mem is not None:
                row = self._mem.get(key)
            else:
                got = self._db.execute(self._LAST, (key,)).fetchone()
                row = (got[0], got[1]) if got is not None else None
        return row

    def observe(self, stamps: Iterable[tuple[str, str]]) -> None:
        """(key, stamp) of objects as they are now (seen by a stat): the entries of refs listed
        without a stamp are checked against these for the rest of the session."""
        with self._lock:
            self._now.update(stamps)

    def unseen(self, refs: Iterable[Ref]) -> list[Ref]:
        """The refs of *refs* listed without a stamp whose object was not seen yet (``observe``)."""
        now = self._now
        with self._lock:
            return [r for r in refs if not r.size and r.mtime is None and r.key not in now]

    def preload(self) -> None:
        """Read every entry into memory at once (one query instead of one per document,
        for filling a whole table of summaries), the summaries parsed in one pass."""
        with self._lock:
            self._commit()
            rows = self._db.execute("SELECT key, stamp, summary FROM entry ORDER BY rowid").fetchall()
            self._mem = mem = {k: (st, sm) for k, st, sm in rows}  # (the last row of a key wins)
            if len(rows) - len(mem) > max(1000, len(mem) // 4):
                self._compact()
            if len(rows) != len(mem):
                rows = [(k, st, sm) for k, (st, sm) in mem.items()]
            for (k, st, _sm), parsed in zip(rows, parse_summaries([r[2] for r in rows]), strict=True):
                if isinstance(parsed, dict):
                    self._parsed[k] = (st, parsed)

    def _compact(self) -> None:
        """Only each key's last entry kept (the stale copies of entries written again)."""
        with contextlib.suppress(sqlite3.Error):  # (another process writing: next time)
            self._db.execute("DELETE FROM entry WHERE rowid NOT IN (SELECT MAX(rowid) FROM entry GROUP BY key)")

    #: one key's entry read from the file (a pass over the entries, there is no index on the
    #: key: for more than a few lookups, ``preload`` first, as ``fill_summaries`` does)
    _LAST = "SELECT stamp, summary FROM entry WHERE key=? ORDER BY rowid DESC LIMIT 1"

    @property
    def preloaded(self) -> bool:
        """Every entry is in memory (``preload``)."""
        return self._mem is not None

    def missing(self, refs: list[Ref]) -> list[Ref]:
        """The refs of *refs* without a current entry (after ``preload``: one pass in memory)."""
        return [r for r, _have in self.pending(refs)]

    #: every (key, stamp) as one JSON text: SQLite builds it in one step, without the interpreter
    #: lock (row by row, each of 100,000 rows took the lock back from the listing's threads)
    _STAMPS = "SELECT json_group_array(json_array(key, stamp)) FROM (SELECT key, stamp FROM entry ORDER BY rowid)"

    def stamps(self) -> dict[str, str]:
        """Each key's entry's stamp, in one query, no summary parsed (a fraction of ``preload``):
        for ``pending`` before the entries are preloaded. (Should an older entry of a key win,
        a file is only checked against that one: its newer entry is then not used.)"""
        with self._lock:
            if self._mem is not None and not self._buf:
                return {k: row[0] for k, row in self._mem.items()}
            self._commit()
            try:
                (text,) = self._db.execute(self._STAMPS).fetchone()
                return {k: st for k, st in _loads_array(text)}
            except (sqlite3.OperationalError, ValueError, TypeError):  # (no JSON functions in this SQLite)
                return dict(self._db.execute("SELECT key, stamp FROM entry ORDER BY rowid").fetchall())

    def pending(self, refs: Iterable[Ref], stamps: dict[str, str] | None = None) -> list[tuple[Ref, str | None]]:
        """The refs of *refs* without a current entry, each with what is to be done: the stamp of
        its entry when that entry only needs its object checked (a ref listed without a stamp,
        not seen yet: the entry stands if the object's stamp is this one), or None when there is
        no entry to check (the body is to be read). *stamps*: the entries' (``stamps``), else
        the cache's own (after ``preload``: one pass in memory)."""
        if stamps is not None:  # (no lock: the entries' stamps were read already)
            return self._pending(refs, stamps.get, False)
        with self._lock:
            if self._mem is not None and not self._buf:
                return self._pending(refs, self._mem.get, True)
            return self._pending(refs, self._row, True)

    def _pending(self, refs: Iterable[Ref], entry_of: Callable[[str], Any], rows: bool
                 ) -> list[tuple[Ref, str | None]]:
        out: list[tuple[Ref, str | None]] = []
        append, now = out.append, self._now
        for r in refs:  # (written out: every name of a big folder, at every open)
            key = r.key
            have = entry_of(key)
            if rows and have is not None:
                have = have[0]
            if r.size or r.mtime is not None:
                if have is None or have != stamp_text(r.size, r.mtime):
                    append((r, None))
            elif key not in now:  # (the usual: a folder's file, not seen yet)
                append((r, have))
            elif have is None or have != now[key]:
                append((r, None))
        return out

    def _fresh(self, ref: Ref) -> bool:
        want = self._want(ref)
        if want is None:
            return False
        row = self._row(ref.key)
        return row is not None and row[0] == want

    def fresh(self, ref: Ref) -> bool:
        """Whether an entry for *ref* is there and current (nothing parsed)."""
        with self._lock:
            return self._fresh(ref)

    def get(self, ref: Ref) -> dict[str, Any] | None:
        """The cached summary of *ref* while it is current (the same dict each time: not to be changed)."""
        with self._lock:
            # (``_want``, written out: asked for every version at every open)
            want = stamp_text(ref.size, ref.mtime) if ref.size or ref.mtime is not None else self._now.get(ref.key)
            if want is None:  # listed without a stamp and not seen: never used unchecked
                return None
            parsed = self._parsed.get(ref.key)
            if parsed is not None and parsed[0] == want:
                return parsed[1]
            row = self._row(ref.key)
        if row is None or row[0] != want:
            return None
        try:
            summary: dict[str, Any] = json.loads(row[1])  # written by put()
        except ValueError:
            return None
        return summary

    def _stamp_to_write(self, ref: Ref, stamp: str | None) -> str:
        """The stamp an entry of *ref* is written with: *stamp* (the body's, read now), else the
        listing's, else the one its object was seen with (a stat before the read); unknown: the
        entry is current only in this session. A ref listed without a stamp is seen with it now."""
        listed = bool(ref.size) or ref.mtime is not None
        if stamp is None:
            if listed:
                return stamp_text(ref.size, ref.mtime)
            stamp = self._now.get(ref.key, UNKNOWN_STAMP)
        elif stamp == UNKNOWN_STAMP and listed:  # (a body that could not be read)
            return stamp_text(ref.size, ref.mtime)  # the listing's, taken before the read
        if not listed:
            self._now[ref.key] = stamp
        return stamp

    def remember(self, items: list[tuple[Ref, dict[str, Any], str]], stamps: Sequence[str] | None = None) -> None:
        """(ref, summary, its JSON) for each of *items*, already written to the file by
        ``write_entries`` (another process) with *stamps* (one per item; else the refs'):
        kept in memory only."""
        parsed, buf, mem, to_write = self._parsed, self._buf, self._mem, self._stamp_to_write
        with self._lock:
            for i, (ref, summary, text) in enumerate(items):
                stamp = to_write(ref, stamps[i] if stamps is not None else None)
                parsed[ref.key] = (stamp, summary)
                if buf:
                    buf.pop(ref.key, None)
                if mem is not None:
                    mem[ref.key] = (stamp, text)

    @staticmethod
    def write_entries(path: Path, rows: list[tuple[str, str, str]]) -> bool:
        """(key, stamp, summary JSON) rows written to the cache file *path* in one transaction,
        from any process (a connection of its own, kept for the next call); False when the
        file cannot be written (then the caller keeps them)."""
        global _writer
        try:
            if _writer is None or _writer[0] != path:
                _writer = (path, sqlite3.connect(path, isolation_level=None, timeout=30))
                _writer[1].execute("PRAGMA synchronous=NORMAL")
            db = _writer[1]
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT INTO entry VALUES (?,?,?)", rows)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.Error:
            return False
        return True

    @classmethod
    def stamp_of(cls, ref: Ref) -> str:
        """What the listing says of *ref*'s object (its size and modification time)."""
        return cls._stamp(ref)

    def put(self, ref: Ref, summary: dict[str, Any], text: str | None = None, stamp: str | None = None) -> None:
        """Cache *summary* of *ref* (*text*: its JSON, when the caller has it already; *stamp*:
        that of the body it was read from, when known)."""
        self.put_many([(ref, summary, summary_json(summary) if text is None else text)],
                      None if stamp is None else [stamp])

    def put_many(self, items: list[tuple[Ref, dict[str, Any], str]], stamps: Sequence[str] | None = None) -> None:
        """Cache (ref, summary, its JSON) for each of *items* (*stamps*: those of the bodies they
        were read from, one per item; else see ``_stamp_to_write``)."""
        with self._lock:
            for i, (ref, summary, text) in enumerate(items):
                if not self._buf:
                    self._since = time.monotonic()
                entry = (self._stamp_to_write(ref, stamps[i] if stamps is not None else None), text)
                self._buf[ref.key] = entry
                self._parsed[ref.key] = (entry[0], summary)
                if self._mem is not None:
                    self._mem[ref.key] = entry
                if len(self._buf) >= self.BATCH or time.monotonic() - self._since >= self.BATCH_S:
                    self._commit()

    def _commit(self) -> None:
        """The batch in one transaction (all of it or, after a crash, none of it)."""
        if not self._buf:
            return
        rows = [(k, st, sm) for k, (st, sm) in self._buf.items()]
        self._db.execute("BEGIN")
        try:
            self._db.executemany("INSERT INTO entry VALUES (?,?,?)", rows)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._buf.clear()

    def flush(self) -> None:
        """Write the open batch now."""
        with self._lock:
            self._commit()

    def summary(self, store: JsonReader, ref: Ref) -> dict[str, Any]:
        """Cached summary, or read the body and cache it."""
        got = self.get(ref)
        if got is not None:
            return got
        invalidate = getattr(store, "invalidate", None)
        if invalidate is not None:
            invalidate(ref.key)  # the body may have changed since it was cached
        try:
            doc = store.read_json(ref.key)
            s = summarize(doc)
        except StorageError as exc:
            s = {"error": str(exc)}
        self.put(ref, s)
        return s

    def rebuild(self, store: JsonReader, refs: list[Ref], progress: Callable[[int, int, str], None] | None = None,
                cancel: CancelFlag | None = None) -> int:
        """Drop everything and summarize *refs* again; returns how many were indexed."""
        with self._lock:
            self._buf.clear()
            self._db.execute("DELETE FROM entry")
            self._parsed.clear()
            if self._mem is not None:
                self._mem = {}
        n = 0
        for i, ref in enumerate(refs):
            if cancel is not None and cancel.is_set():
                break
            self.summary(store, ref)
            n += 1
            if progress and (i % 50 == 0 or i == len(refs) - 1):
                progress(i + 1, len(refs), ref.key)
        self.flush()
        return n

    def prune(self, live_keys: set[str]) -> None:
        with self._lock:
            self._commit()
            keys = {r[0] for r in self._db.execute("SELECT key FROM entry")}
            gone = [k for k in keys if k not in live_keys]
            # one pass over the entries (there is no index on the key)
            self._db.execute("CREATE TEMP TABLE IF NOT EXISTS gone (key TEXT PRIMARY KEY)")
            self._db.execute("BEGIN")
            try:
                self._db.execute("DELETE FROM gone")
                self._db.executemany("INSERT OR IGNORE INTO gone VALUES (?)", [(k,) for k in gone])
                self._db.execute("DELETE FROM entry WHERE key IN (SELECT key FROM gone)")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            for k in gone:
                self._parsed.pop(k, None)
                self._now.pop(k, None)
            if self._mem is not None:
                for k in gone:
                    self._mem.pop(k, None)

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlite3.Error):  # disposable: what is not written is read again next time
                self._commit()
            self._db.close()
