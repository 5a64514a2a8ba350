"""The small object-store interface every backend implements, and name rules.

Keys are relative POSIX-style paths (``documents/{id}:{version}.json``).
Every key and every id/version that comes from a name or a document is
validated before it reaches a backend, on every backend alike.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Self

from ..core.errors import JacsError

__all__ = [
    "StorageError",
    "NotFound",
    "AccessDenied",
    "Unreachable",
    "UnsafeName",
    "NotSupported",
    "Refused",
    "human_size",
    "ObjectInfo",
    "ObjectStore",
    "validate_id",
    "validate_key",
    "join_key",
]


class StorageError(JacsError):
    """A storage operation failed; the message says why in words."""


class NotFound(StorageError):
    pass


class AccessDenied(StorageError):
    pass


class Unreachable(StorageError):
    pass


class UnsafeName(StorageError):
    pass


class NotSupported(StorageError):
    pass


class Refused(StorageError):
    """An object that is there but is not read: not a regular file (a FIFO, a device,
    a socket, a file system's special file), a symbolic link out of the store, a name
    that cannot be kept, or larger than the limit. The message names it and says why."""


def human_size(n: int) -> str:
    """``6.0 GiB``, ``32 MiB``, ``512 bytes``."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            v = n / (1 << shift)
            return f"{v:.0f} {unit}" if v == int(v) and shift < 30 else f"{v:.1f} {unit}"
    return f"{n} bytes"


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_ID_LEN = 200
MAX_KEY_LEN = 1024


def validate_id(value: object, what: str = "id") -> str:
    """An id or version that will become part of a name: refuse anything path-like."""
    if not isinstance(value, str) or not value:
        raise UnsafeName(f"The {what} is empty or not text")
    if len(value) > MAX_ID_LEN:
        raise UnsafeName(f"The {what} is longer than {MAX_ID_LEN} characters")
    if not value.isprintable() and _CONTROL.search(value):
        raise UnsafeName(f"The {what} {value!r} contains control characters")
    if value in (".", "..") or ".." in value:
        raise UnsafeName(f"The {what} {value!r} contains '..'")
    for ch in "/\\:":
        if ch in value:
            raise UnsafeName(f"The {what} {value!r} contains {ch!r}")
    if len(value) >= 2 and value[1] == ":":
        raise UnsafeName(f"The {what} {value!r} looks like a drive path")
    if value != value.strip():
        raise UnsafeName(f"The {what} {value!r} starts or ends with white space")
    return value


def validate_key(key: object) -> str:
    """An object key: a clean relative path with no '..', empty or control parts."""
    if not isinstance(key, str) or not key:
        raise UnsafeName("The object name is empty")
    if len(key) > MAX_KEY_LEN:
        raise UnsafeName("The object name is too long")
    # (a printable text has none: str.isprintable is one pass in C, the search a step per character)
    if not key.isprintable() and _CONTROL.search(key):
        raise UnsafeName(f"The object name {key!r} contains control characters")
    if "\\" in key:
        raise UnsafeName(f"The object name {key!r} contains a backslash")
    if key.startswith("/") or (len(key) >= 2 and key[1] == ":" and key[0].isalpha()):
        raise UnsafeName(f"The object name {key!r} is an absolute path")
    bounded = "/" + key + "/"
    if "//" in bounded or "/./" in bounded or "/../" in bounded:
        raise UnsafeName(f"The object name {key!r} has an empty, '.' or '..' part")
    return key


def join_key(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    mtime: float | None = None  # seconds since the epoch, when the backend knows
    etag: str | None = None
    #: set when the listing found the name but it cannot be read (why, naming it, in
    #: words); reading it raises :class:`Refused` with the same words
    problem: str | None = None
    #: with a problem: True when the entry holds no data a copy could keep (a FIFO,
    #: socket, device or a file system's special file such as JuiceFS's .accesslog)
    no_content: bool = False


class ObjectStore(ABC):
    """Flat key → bytes storage. Implementations must be thread-safe."""

    #: a URL that reopens this store (without secrets)
    url: str = ""
    #: whether ':' may appear in names (False on Windows folders)
    colon_ok: bool = True

    @abstractmethod
    def list(self, prefix: str = "", *, page_size: int = 1000, details: bool = True,
             ordered: bool = True) -> Iterator[ObjectInfo]:
        """Objects whose key starts with *prefix*, in key order, paged internally.

        With ``details=False`` a backend may leave size (0) and mtime (None)
        out when they cost extra (a stat per file on folders); with
        ``ordered=False`` it may yield in any order, as soon as it finds them."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The object's bytes; :class:`NotFound` if absent."""

    def get_limited(self, key: str, limit: int) -> bytes:
        """Like :meth:`get`, refusing (:class:`Refused`) an object larger than *limit*
        bytes; backends that can tell the size first do so before reading."""
        data = self.get(key)
        if len(data) > limit:
            raise Refused(f"{key} is {human_size(len(data))}, over the {human_size(limit)} limit")
        return data

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Create or replace, atomically: readers see the old or the new bytes."""

    @abstractmethod
    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create only if absent; True if this call created it."""

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo | None:
        ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove (used for scratch data and after a verified move; absent is fine)."""

    def move(self, src: str, dst: str) -> None:
        """Move an object (archive/restore). Never loses it: copy, check, then delete."""
        data = self.get(src)
        if not self.put_if_absent(dst, data) and self.get(dst) != data:
            raise StorageError(f"Cannot move {src}: {dst} already exists with other content")
        self.delete(src)

    def any_key(self, prefix: str) -> str | None:
        """Some key under *prefix* (not necessarily the first), or None; cheap."""
        for info in self.list(prefix, page_size=1, details=False, ordered=False):
            return info.key
        return None

    def list_children(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects directly under *prefix* (a folder-like prefix ending in '/' or '')."""
        for info in self.list(prefix):
            if "/" not in info.key[len(prefix):]:
                yield info

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    # a no-op default on purpose, not a forgotten abstract method: stores that hold no
    # connection or file open have nothing to release
    def close(self) -> None:  # noqa: B027
        """Release what the store holds open (connections, files); the default holds nothing."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
