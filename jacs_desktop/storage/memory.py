"""``memory://name``: an in-process store for tests and scratch work."""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterator

from .base import NotFound, ObjectInfo, ObjectStore, validate_key

__all__ = ["MemoryStore", "memory_store"]

_NAMED: dict[str, MemoryStore] = {}
_NAMED_LOCK = threading.Lock()


class MemoryStore(ObjectStore):
    def __init__(self, name: str = "") -> None:
        self.url = f"memory://{name}"
        self._lock = threading.RLock()
        self._data: dict[str, tuple[bytes, float]] = {}
        self._keys: list[str] = []

    def list(self, prefix: str = "", *, page_size: int = 1000, details: bool = True,
             ordered: bool = True) -> Iterator[ObjectInfo]:
        with self._lock:
            i = bisect.bisect_left(self._keys, prefix)
            out: list[ObjectInfo] = []
            while i < len(self._keys) and self._keys[i].startswith(prefix):
                k = self._keys[i]
                data, mtime = self._data[k]
                out.append(ObjectInfo(k, len(data), mtime))
                i += 1
        yield from out

    def get(self, key: str) -> bytes:
        validate_key(key)
        with self._lock:
            try:
                return self._data[key][0]
            except KeyError:
                raise NotFound(f"{key} not found") from None

    def _set(self, key: str, data: bytes) -> None:
        if key not in self._data:
            bisect.insort(self._keys, key)
        self._data[key] = (bytes(data), time.time())

    def put(self, key: str, data: bytes) -> None:
        validate_key(key)
        with self._lock:
            self._set(key, data)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        validate_key(key)
        with self._lock:
            if key in self._data:
                return False
            self._set(key, data)
            return True

    def stat(self, key: str) -> ObjectInfo | None:
        validate_key(key)
        with self._lock:
            v = self._data.get(key)
            return None if v is None else ObjectInfo(key, len(v[0]), v[1])

    def delete(self, key: str) -> None:
        validate_key(key)
        with self._lock:
            if self._data.pop(key, None) is not None:
                self._keys.remove(key)


def memory_store(name: str) -> MemoryStore:
    """The named in-process store (same name, same store, while the process lives)."""
    with _NAMED_LOCK:
        if name not in _NAMED:
            _NAMED[name] = MemoryStore(name)
        return _NAMED[name]
