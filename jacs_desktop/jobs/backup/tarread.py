"""The archive's tar members, read fast where that is safe.

Python's ``tarfile`` costs tens of microseconds per member, more than unpacking the file
itself. :class:`TarMembers` reads the plain headers a backup is made of (POSIX or GNU
ustar, a regular file or a folder, every numeric field well formed, a correct checksum)
from its own buffer, and hands every other header (long names, pax headers, links,
devices, anything odd or broken) to ``tarfile`` with the archive's own reader class, which
then reads the rest of the archive. Both paths give the same members and the same errors:
a header ``tarfile`` would call invalid ends the members after the first one, as in
``tarfile``, because it is judged by ``tarfile``'s own header parser.
"""

from __future__ import annotations

import queue
import re
import tarfile
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, cast

from .base import CHUNK, _Readable

__all__ = ["Member", "TarMembers", "Prefetch"]

_POSIX_MAGIC = b"ustar\x0000"
_GNU_MAGIC = b"ustar  \x00"
#: the numeric fields tarfile parses in every header besides the size and checksum, in groups
#: (mode, uid, gid; mtime; devmajor, devminor); the groups differ in length, so one set holds all
_NUMERIC: tuple[tuple[tuple[int, int], ...], ...] = (((100, 108), (108, 116), (116, 124)), ((136, 148),),
                                                      ((329, 337), (337, 345)))
_NO_PREFIX = bytes(155)
#: mode, uid, gid, size, mtime and checksum (bytes 100 to 156) as tarfile, GNU tar and the backup
#: write them: octal digits, each field ended by a NUL (the checksum by a NUL and a space). What
#: matches is a number ``nti`` reads the same; anything else is read field by field as before
_STANDARD = re.compile(rb"[0-7]{7}\x00[0-7]{7}\x00[0-7]{7}\x00([0-7]{11})\x00[0-7]{11}\x00([0-7]{6})\x00 ")
#: the size, modification time and checksum (bytes 124 to 156) in _STANDARD's spelling
_SIZE_TIME_SUM = re.compile(rb"([0-7]{11})\x00[0-7]{11}\x00([0-7]{6})\x00 ")
#: the fields _STANDARD leaves to check: devmajor, devminor
_DEVICES: tuple[tuple[tuple[int, int], ...], ...] = (((329, 337), (337, 345)),)
#: members up to this size come with their bytes (``Member.data``) from the fast path
INLINE = 1 << 16
#: distinct values of the numeric header fields remembered as well formed (then forgotten:
#: memory stays flat however many members have a time of their own)
KNOWN_FIELDS = 4096
_adler32 = zlib.adler32


def _byte_sum(h: bytes) -> int:
    """The sum of a 512-byte header's bytes, in C: adler32's low half is 1 + the sum of the
    bytes modulo 65521, exact for 256 bytes (at most 65,280)."""
    return (_adler32(h[:256]) & 0xFFFF) + (_adler32(h[256:]) & 0xFFFF) - 2


@dataclass(slots=True)
class Member:
    """One tar member: its kind (``reg``, ``dir``, ``sym``, ``lnk``, ``dev``, ``other``)."""

    name: str
    size: int
    kind: str
    linkname: str = ""
    info: tarfile.TarInfo | None = None
    #: a small regular member's bytes, when the fast path had them whole in its buffer (else
    #: read them with :meth:`TarMembers.chunks`)
    data: bytes | None = None
    #: why the fast path could not read those bytes (raised when they are read)
    error: BaseException | None = None


def _number(field: bytes) -> int | None:
    """A numeric header field the way tarfile's ``nti`` reads it, or None where it would
    not (base-256, garbage: left to tarfile)."""
    if field[:1] in (b"\x80", b"\xff"):
        return None
    p = field.find(b"\0")
    if p != -1:
        field = field[:p]
    try:
        return int(field.strip() or b"0", 8)
    except ValueError:
        return None


class _Buffer:
    """Bytes from the decompressed stream, read in large pieces."""

    def __init__(self, src: _Readable):
        self.src, self.b, self.i = src, b"", 0

    def fill(self, n: int) -> bool:
        """At least *n* bytes ready (False: the stream ended first)."""
        avail = len(self.b) - self.i
        if avail >= n:
            return True
        parts = [self.b[self.i:]]
        while avail < n:
            piece = self.src.read(max(CHUNK, n - avail))
            if not piece:
                break
            parts.append(piece)
            avail += len(piece)
        self.b, self.i = b"".join(parts), 0
        return avail >= n

    def take(self, n: int) -> bytes:
        self.fill(n)
        out = self.b[self.i:self.i + n]
        self.i += len(out)
        return out

    def read(self, n: int | None = -1) -> bytes:
        """What is buffered first, then the stream (for tarfile after a hand-over)."""
        if self.i < len(self.b):
            end = len(self.b) if n is None or n < 0 else self.i + n
            out = self.b[self.i:end]
            self.i += len(out)
            return out
        return self.src.read(n)


class TarMembers:
    """Iterate the members; :meth:`chunks` gives a regular member's bytes; :meth:`rest` what
    follows the last member (read to the end by the caller)."""

    def __init__(self, stream: _Readable, tarinfo: type[tarfile.TarInfo]):
        self.buf = _Buffer(stream)
        self.tarinfo = tarinfo
        self.tar: tarfile.TarFile | None = None
        self.fast_unread = 0  # data (and padding) of the last fast member not read yet
        self.known: set[bytes] = set()  # mode/uid/gid and device fields already seen well formed
        self.fast = 0  # members read by the fast path
        # the last plain header's bytes 100-124 (mode, uid, gid) and 156-512 (type, link name,
        # magic, user, group, devices, prefix), which every check but the name's, the size's and
        # the checksum's is made of; their byte sum plus the checksum field's 8 spaces
        self._ids: bytes | None = None
        self._tail = b""
        self._same_sum = 0

    def _plain(self, h: bytes) -> Member | None:
        """The member a plain header describes, or None when tarfile must judge it."""
        if h[156:] == self._tail and h[100:124] == self._ids:
            # the rest of the header is the last plain one's, byte for byte (a backup's headers
            # differ only in name, size, time and checksum): what was checked of those bytes holds;
            # the name, the numbers and the checksum are checked here as below
            std = _SIZE_TIME_SUM.fullmatch(h, 124, 156)
            if std is not None and int(std[2], 8) == ((_adler32(h[:100]) & 0xFFFF) + (_adler32(h[124:148]) & 0xFFFF)
                                                      - 2 + self._same_sum):
                return self._member(h, self._tail[0], int(std[1], 8))  # (its type: byte 156)
        kind = h[156]
        if kind not in (0x30, 0x00, 0x35) or h[257:265] not in (_POSIX_MAGIC, _GNU_MAGIC) \
                or h[345:500] != _NO_PREFIX:
            return None
        std = _STANDARD.fullmatch(h, 100, 156)  # the usual spelling of its numbers, in one step
        if std is not None:
            stored, size, groups = int(std[2], 8), int(std[1], 8), _DEVICES
        else:
            got, size_or_none = _number(h[148:156]), _number(h[124:136])
            if got is None or size_or_none is None or size_or_none < 0:
                return None
            stored, size, groups = got, size_or_none, _NUMERIC
        if stored != _byte_sum(h) - sum(h[148:156]) + 256:
            return None
        known = self.known  # each group of fields is checked once per distinct value
        for group in groups:
            f = h[group[0][0]:group[-1][1]]
            if f not in known:
                if any(_number(h[a:b]) is None for a, b in group):
                    return None
                if len(known) >= KNOWN_FIELDS:
                    known.clear()
                known.add(f)
        member = self._member(h, kind, size)
        if member is not None and std is not None:  # (the usual spelling: the next header may share the rest)
            self._ids, self._tail = h[100:124], h[156:]
            # (adler32's low half is 1 + the byte sum, exact for up to 256 bytes: C instead of a
            # Python sum of 380 bytes)
            self._same_sum = ((_adler32(h[100:124]) & 0xFFFF) + (_adler32(h[156:412]) & 0xFFFF)
                              + (_adler32(h[412:]) & 0xFFFF) - 3 + 256)
        return member

    @staticmethod
    def _member(h: bytes, kind: int, size: int) -> Member | None:
        """The member of a checked plain header of *kind*: its name read (None when tarfile must
        judge it: not UTF-8, empty, a file named like a folder, a folder with a size)."""
        raw = h[:100]
        p = raw.find(b"\0")
        try:
            name = (raw if p == -1 else raw[:p]).decode("utf-8")
        except UnicodeDecodeError:
            return None
        if kind == 0x35:
            return Member(name.rstrip("/"), 0, "dir") if size == 0 else None
        if name.endswith("/") or not name:
            return None
        return Member(name, size, "reg")

    def __iter__(self) -> Iterator[Member]:
        buf = self.buf
        while True:
            if self.fast_unread:
                buf.take(self.fast_unread)
                self.fast_unread = 0
            if not buf.fill(512):
                break  # tarfile says what a short or empty stream is
            h = buf.b[buf.i:buf.i + 512]
            m = self._plain(h)
            if m is None:
                break
            buf.i += 512
            self.fast += 1
            if m.kind == "reg":
                size = m.size
                padded = size + (-size % 512)
                whole = False
                if size <= INLINE:  # the bytes come with the member
                    try:
                        whole = buf.fill(padded)
                    except Exception as exc:  # raised when the member's bytes are read, as they would be
                        m.error = exc
                if whole:
                    i = buf.i
                    m.data = buf.b[i:i + size]
                    buf.i = i + padded
                else:
                    self.fast_unread = padded
            yield m
        if self.fast_unread:
            buf.take(self.fast_unread)
            self.fast_unread = 0
        yield from self._slow()

    def _slow(self) -> Iterator[Member]:
        buf = self.buf
        at_start = self.fast == 0
        if not at_start and buf.fill(512):
            head = buf.b[buf.i:buf.i + 512]
            try:  # what tarfile does with a bad header after the first: the members end there
                self.tarinfo.frombuf(head, tarfile.ENCODING, "surrogateescape")
            except tarfile.HeaderError:
                buf.i += 512
                return
        elif not at_start:
            buf.take(512)  # a short last header: the members end (and the stream is short)
            return
        # tarfile only calls read() on the stream in mode "r|" (typeshed asks for a whole file object)
        self.tar = tarfile.open(fileobj=cast(IO[bytes], buf), mode="r|", tarinfo=self.tarinfo)  # noqa: SIM115
        for m in self.tar:
            if m.issym():
                kind = "sym"
            elif m.islnk():
                kind = "lnk"
            elif m.ischr() or m.isblk() or m.isfifo() or m.isdev():
                kind = "dev"
            elif m.isdir():
                kind = "dir"
            elif m.isreg():
                kind = "reg"
            else:
                kind = "other"
            yield Member(m.name, m.size, kind, m.linkname, m)

    def chunks(self, m: Member) -> Iterator[bytes]:
        """The member's bytes in pieces of at most ``CHUNK``; tarfile.ReadError when short."""
        if m.data is not None:
            if m.data:
                yield m.data
            return
        if m.error is not None:
            raise m.error
        left = m.size
        if m.info is not None:
            assert self.tar is not None
            src = self.tar.extractfile(m.info)
            while left > 0:
                piece = src.read(min(CHUNK, left)) if src else b""
                if not piece:
                    raise tarfile.ReadError("unexpected end of data")
                left -= len(piece)
                yield piece
            return
        buf = self.buf
        while left > 0:
            want = min(CHUNK, left)
            if not buf.fill(want):
                raise tarfile.ReadError("unexpected end of data")
            piece = buf.b[buf.i:buf.i + want]
            buf.i += want
            left -= want
            self.fast_unread -= want
            yield piece

    def rest(self) -> _Readable:
        """What follows the last member: tarfile's buffer then the stream, or this buffer."""
        if self.tar is not None and self.tar.fileobj is not None:
            return cast(_Readable, self.tar.fileobj)
        return self.buf


class Prefetch:
    """The stream read ahead on a thread of its own, a few ``CHUNK`` pieces at a time: zlib,
    zstandard and AES-GCM release the GIL, so decompressing overlaps unpacking. The first piece
    is *first* bytes and each next one twice as large, and a read returns what the current piece
    holds (a short read), so the unpacking starts once 64 KiB are decompressed instead of a whole
    ``CHUNK``. Errors reach the reader in order, after the bytes read before them. :meth:`close`
    stops the thread."""

    def __init__(self, src: _Readable, depth: int = 4, piece: int = CHUNK, first: int = 64 << 10):
        self.q: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=depth)
        self.piece = piece
        #: the first piece is small (the unpacking starts sooner); each after is twice as large, up to *piece*
        self.first = min(first, piece)
        self.stop = threading.Event()
        self.buf, self.off = b"", 0
        self.done = False
        self.error: BaseException | None = None
        self.t = threading.Thread(target=self._run, args=(src,), daemon=True)
        self.t.start()

    def _run(self, src: _Readable) -> None:
        size = self.first
        try:
            while not self.stop.is_set():
                piece = src.read(size)
                size = min(self.piece, size * 2)
                if not self._put(piece or None) or not piece:
                    return
        except BaseException as exc:  # given to the reader, in order
            self._put(exc)

    def _put(self, item: bytes | BaseException | None) -> bool:
        while not self.stop.is_set():
            try:
                self.q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read(self, n: int | None = -1) -> bytes:
        """Up to *n* bytes (all that is left when *n* is negative or None), waiting only until
        some are there: what one piece still holds, never more (a short read, as from a pipe;
        b"" at the end)."""
        if n is None or n < 0:
            parts = []
            while piece := self.read(1 << 30):
                parts.append(piece)
            return b"".join(parts)
        if self.error is not None:
            raise self.error
        if self.off >= len(self.buf):
            if self.done or n == 0:
                return b""
            item = self.q.get()
            if item is None:
                self.done = True
                return b""
            if isinstance(item, BaseException):
                self.done, self.error = True, item
                raise item
            self.buf, self.off = item, 0
        buf, off = self.buf, self.off
        if off == 0 and n >= len(buf):  # the whole piece: no copy
            self.off = len(buf)
            return buf
        out = buf[off:off + n]
        self.off = off + len(out)
        return out

    def close(self) -> None:
        self.stop.set()
        try:
            while True:
                self.q.get_nowait()
        except queue.Empty:
            pass
        self.t.join()
