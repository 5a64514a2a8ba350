"""Batched writes into a SQLite store (``DeferredWrites(sqlite_store)``): create-if-absent
writes kept in memory and written a batch per transaction, for long copies such as a
migration (the same calls as ``fs_deferred.DeferredWrites``)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Protocol

from .base import StorageError, validate_key

__all__ = ["DeferredWrites"]


class SqliteStore(Protocol):
    """What this needs of ``sqlite.SqliteStore`` (not imported: that module makes these)."""

    path: Path

    def put_if_absent(self, key: str, data: bytes) -> bool: ...

    def put_many(self, items: list[tuple[str, bytes]], *, if_absent: bool = False,
                 all_or_none: bool = False) -> list[bool]: ...

    def _doc_absent(self, key: str, data: bytes) -> bool | None: ...


class DeferredWrites:
    """Create-if-absent document writes into one :class:`SqliteStore`, written by
    :meth:`sync` in one transaction (``SqliteStore.put_many``): one commit and one update of
    the filter's index for the whole batch instead of one per document.

    ``put_if_absent`` answers at once (the name is not in the store nor in the batch) and
    keeps the body; until :meth:`sync` returns nothing of the batch is in the store, so a
    caller counts the batch as kept (journals it) only after it. When another program wrote
    one of the names meanwhile, :meth:`sync` writes none of the batch and raises
    StorageError (run again: the rest is copied then). A body that is not a JSON document
    is refused at ``put_if_absent``, as the store refuses it. Other objects (agents, keys,
    configs) are written at once. Safe to use from several threads."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._pending: dict[str, bytes] = {}
        self._failed: str | None = None  # a batch was lost: every later sync says so (nothing more is kept)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        validate_key(key)
        with self._lock:
            held = key in self._pending
        if held:  # written once already: in the store first, so that the caller can read it
            self.sync()
            return False
        # a body the store refuses is refused now, not the whole batch later
        absent = self.store._doc_absent(key, data)
        if absent is None:  # not a document: written at once
            return self.store.put_if_absent(key, data)
        if not absent:
            return False
        with self._lock:
            if key in self._pending:
                return False
            self._pending[key] = data
        return True

    def read_back(self, key: str, size: int) -> bytes | None:
        """Up to *size* + 1 bytes of what is kept for *key* (not written yet); None when
        nothing is."""
        with self._lock:
            data = self._pending.get(key)
        return None if data is None else data[:size + 1]

    def sync(self) -> None:
        """Write every body kept since the last sync, in one transaction (all or none)."""
        with self._sync_lock:
            with self._lock:
                batch, self._pending = list(self._pending.items()), {}
            if self._failed is not None:
                raise StorageError(self._failed)
            if not batch:
                return
            try:
                self.store.put_many(batch, if_absent=True, all_or_none=True)
            except sqlite3.DatabaseError as exc:
                self._failed = f"{self.store.path}: the batch could not be written: {exc}"
            except StorageError as exc:
                self._failed = str(exc)
            if self._failed is not None:
                raise StorageError(self._failed)

    def close(self) -> None:
        self.sync()
