"""The read-ahead thread of the restore (``tarread.Prefetch``): a read waits only until some bytes
are there (a short read, one piece at most), the first pieces are small, every byte arrives in
order, and an error comes after the bytes read before it."""

import io
import threading

import pytest

from jacs_desktop.jobs.backup.tarread import Prefetch


class _Pieces:
    """A source that records the sizes asked for, and can fail after some bytes."""

    def __init__(self, data: bytes, fail_after: int | None = None):
        self.f, self.asked, self.fail_after, self.given = io.BytesIO(data), [], fail_after, 0

    def read(self, n: int = -1) -> bytes:
        self.asked.append(n)
        if self.fail_after is not None and self.given >= self.fail_after:
            raise OSError("the disk said no")
        out = self.f.read(n)
        self.given += len(out)
        return out


def test_pieces_start_small_and_grow_and_every_byte_arrives_in_order():
    data = bytes(range(256)) * 40_000  # 10 MB
    src = _Pieces(data)
    p = Prefetch(src, piece=1 << 20, first=64 << 10)
    got = []
    try:
        while chunk := p.read(300_000):
            assert len(chunk) <= 300_000
            got.append(chunk)
    finally:
        p.close()
    assert b"".join(got) == data
    assert src.asked[:5] == [64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20]
    assert set(src.asked[5:]) == {1 << 20}


def test_a_read_returns_what_one_piece_holds_without_waiting_for_more():
    """The first read does not wait for n bytes: it returns the first piece (so the unpacking
    starts as soon as the first 64 KiB are decompressed)."""
    gate = threading.Event()

    class Slow:
        calls = 0
        waited_out = False

        def read(self, n):
            Slow.calls += 1
            if Slow.calls == 1:
                return b"a" * n
            # the second piece comes only once the first read has returned (a read that waited
            # for more would wait here until the time runs out)
            Slow.waited_out = not gate.wait(5)
            return b""

    p = Prefetch(Slow(), piece=1 << 20, first=1000)
    try:
        assert p.read(1 << 20) == b"a" * 1000
        gate.set()
        assert p.read(10) == b""
    finally:
        gate.set()
        p.close()
    assert not Slow.waited_out


def test_read_all_and_zero():
    p = Prefetch(_Pieces(b"x" * 200_000), piece=50_000, first=10_000)
    try:
        assert p.read(0) == b""
        assert p.read(-1) == b"x" * 200_000
        assert p.read() == b""
    finally:
        p.close()


def test_an_error_comes_after_the_bytes_before_it():
    p = Prefetch(_Pieces(b"y" * 100_000, fail_after=30_000), piece=10_000, first=10_000)
    got = b""
    try:
        with pytest.raises(OSError, match="the disk said no"):
            while True:
                chunk = p.read(7_000)
                assert chunk, "the stream must not end quietly before the error"
                got += chunk
        with pytest.raises(OSError):  # and again on every later read
            p.read(1)
    finally:
        p.close()
    assert got == b"y" * 30_000
