"""Writing the tar stream fast: hand-made ustar headers for the usual short names and
compression (gzip or zstandard) on a worker thread."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from typing import TYPE_CHECKING

from .base import BackupError, _Compressor, _Sink

if TYPE_CHECKING:
    pass



_USTAR = bytearray(512)
_USTAR[100:108] = b"0000600\0"
_USTAR[108:116] = b"0000000\0"
_USTAR[116:124] = b"0000000\0"
_USTAR[148:156] = b" " * 8
_USTAR[156:157] = b"0"
_USTAR[257:265] = b"ustar\x0000"
_USTAR_SUM = sum(_USTAR)
_USTAR_TAIL = bytes(_USTAR[156:])


def _ustar_header(name: bytes, size: int, mtime: int) -> bytes | None:
    """A POSIX ustar header for a regular file, or None when the name needs tarfile.
    Built from a template; the checksum is the template's plus the changed fields'."""
    if len(name) > 100 or size >= 8 ** 11:
        return None
    size_f = b"%011o\0" % size
    time_f = b"%011o\0" % max(0, min(mtime, 8 ** 11 - 1))
    check = _USTAR_SUM + sum(name) + sum(size_f) + sum(time_f)
    return b"".join((name, b"\0" * (100 - len(name)), _USTAR_MODES, size_f, time_f, b"%06o\0 " % check,
                     _USTAR_TAIL))


_USTAR_MODES = bytes(_USTAR[100:124])
_ZEROS = bytes(512)


class _GzipPipe:
    """A write-only file object: bytes written are compressed (gzip level 6, or
    zstandard level 3) on a worker thread in 1 MiB pieces; zlib and zstandard
    release the GIL, so reading the next files overlaps with compressing the last
    ones."""

    PIECE = 1 << 20

    def __init__(self, codec: str = "gzip", sink: _Sink | None = None):
        import queue
        import threading
        import zlib

        if codec == "zstd":
            import zstandard

            self._z: _Compressor = zstandard.ZstdCompressor(level=3).compressobj()
        else:
            self._z = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: gzip wrapper
        self._q: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self._out: list[bytes] = []
        # compressed bytes go straight to the sink (the archive's temp file) when there
        # is one, so memory stays bounded whatever the store's size
        self._emit: Callable[[bytes], object] = sink.write if sink is not None else self._out.append
        self._pending = bytearray()
        self._error: BaseException | None = None
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        try:
            while True:
                piece = self._q.get()
                if piece is None:
                    self._emit(self._z.flush())
                    return
                self._emit(self._z.compress(piece))
        except BaseException as exc:  # surfaced by finish()
            self._error = exc

    def write(self, data: bytes) -> int:
        self._pending += data
        if len(self._pending) >= self.PIECE:
            self._q.put(bytes(self._pending))
            self._pending = bytearray()
        return len(data)

    def tell(self) -> int:  # tarfile asks; the offset it keeps itself is what counts
        return 0

    def flush(self) -> None:
        pass

    def finish(self) -> bytes:
        if self._pending:
            self._q.put(bytes(self._pending))
            self._pending = bytearray()
        self._q.put(None)
        self._t.join()
        if self._error is not None:
            raise BackupError(f"compression failed: {self._error}")
        return b"".join(self._out)

    def abort(self) -> None:
        """Stop the worker thread after a failure or Cancel (what it wrote is dropped)."""
        import queue

        try:
            while True:
                self._q.get_nowait()
        except queue.Empty:
            pass
        self._q.put(None)
        self._t.join(10)


def _tar_add(tar: tarfile.TarFile, out: _Sink, name: str, data: bytes, mtime: int) -> None:
    """Append one regular file; a hand-made ustar header for the usual short names
    (tarfile's own header code dominated backup time), tarfile for the rest."""
    header = _ustar_header(name.encode("utf-8"), len(data), mtime)
    if header is None:
        ti = tarfile.TarInfo(name)
        ti.size, ti.mtime, ti.mode = len(data), mtime, 0o600
        tar.addfile(ti, io.BytesIO(data))
        return
    pad = -len(data) % 512
    out.write(b"".join((header, data, _ZEROS[:pad])))
    tar.offset += 512 + len(data) + pad


