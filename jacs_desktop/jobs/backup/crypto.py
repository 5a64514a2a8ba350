"""Encryption of backups: AES-256-GCM in 1 MiB chunks, the last one marked as last (so
a truncated file is detected), the key from the passphrase by Argon2id."""

from __future__ import annotations

import base64
import io
import json
import os
import struct
from typing import TYPE_CHECKING, BinaryIO

from .base import CHUNK, MAGIC, BackupError, _Sink

if TYPE_CHECKING:
    pass



def _kdf(passphrase: str, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    return Argon2id(salt=salt, length=32, iterations=2, lanes=1, memory_cost=19456).derive(passphrase.encode())


class _EncryptingSink:
    """Writes the encrypted format of :func:`_encrypt` as the bytes arrive: 1 MiB
    chunks, each sealed on its own; the last one (kept back until close) is marked
    as last, so a truncated file is detected."""

    def __init__(self, f: _Sink, passphrase: str):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        salt, self.prefix = os.urandom(16), os.urandom(8)
        header = {"cipher": "AES-256-GCM", "kdf": "Argon2id", "m_cost_kib": 19456, "t_cost": 2, "p_cost": 1,
                  "salt": base64.b64encode(salt).decode(), "nonce_prefix": base64.b64encode(self.prefix).decode(),
                  "chunk": CHUNK}
        self.aes = AESGCM(_kdf(passphrase, salt))
        self.f = f
        self.i = 0
        self.pending = bytearray()
        f.write(MAGIC + json.dumps(header).encode() + b"\n")

    def _seal(self, chunk: bytes, last: bool) -> None:
        ct = self.aes.encrypt(self.prefix + struct.pack(">I", self.i), chunk, b"last" if last else b"more")
        self.f.write(struct.pack(">I", len(ct)) + ct)
        self.i += 1

    def write(self, data: bytes) -> int:
        self.pending += data
        while len(self.pending) > CHUNK:  # strictly more: the final chunk waits for close()
            self._seal(bytes(self.pending[:CHUNK]), False)
            del self.pending[:CHUNK]
        return len(data)

    def close(self) -> None:
        self._seal(bytes(self.pending), True)
        self.pending = bytearray()


def is_encrypted(path: str | os.PathLike[str]) -> bool:
    """Whether the file starts like an encrypted backup (reads a few bytes only)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


class _DecryptReader:
    """The plaintext of an encrypted backup (after ``MAGIC``), one 1 MiB chunk at a time."""

    def __init__(self, f: BinaryIO, passphrase: str | None):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if not passphrase:
            raise BackupError("This backup is encrypted: a passphrase is needed")
        line = f.readline(1 << 16)
        try:
            if not line.endswith(b"\n"):
                raise ValueError("no end of line")
            header = json.loads(line)
            salt = base64.b64decode(header["salt"])
            self.prefix = base64.b64decode(header["nonce_prefix"])
            chunk = header.get("chunk", CHUNK)
            if type(chunk) is not int or not 0 < chunk <= 64 << 20 or len(self.prefix) != 8 \
                    or not 8 <= len(salt) <= 1024:
                raise ValueError("bad chunk size, nonce or salt")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise BackupError("The encrypted backup's header is damaged") from None
        self.f = f
        self.max_ct = max(chunk, CHUNK) + 16
        self.aes = AESGCM(_kdf(passphrase, salt))
        self.i = 0
        self.buf, self.off = b"", 0
        self.done = False
        self.next_len = self._read_len()

    def _read_len(self) -> int | None:
        b = self.f.read(4)
        if not b:
            return None
        if len(b) < 4:
            raise BackupError("The encrypted backup is truncated")
        n: int = struct.unpack(">I", b)[0]
        if not 16 <= n <= self.max_ct:
            raise BackupError(f"The encrypted backup is damaged (chunk {self.i})")
        return n

    def _next_chunk(self) -> bytes:
        from cryptography.exceptions import InvalidTag

        n = self.next_len
        if n is None:  # the file ended without the chunk marked as last
            raise BackupError("The encrypted backup is truncated")
        ct = self.f.read(n)
        if len(ct) != n:
            raise BackupError("The encrypted backup is truncated")
        self.next_len = self._read_len()
        last = self.next_len is None
        nonce = self.prefix + struct.pack(">I", self.i)
        try:
            plain = self.aes.decrypt(nonce, ct, b"last" if last else b"more")
        except InvalidTag:
            if last:  # sealed as "more" but nothing follows: the file was cut after a whole chunk
                try:
                    self.aes.decrypt(nonce, ct, b"more")
                except InvalidTag:
                    pass
                else:
                    raise BackupError("The encrypted backup is truncated") from None
            if self.i == 0:
                raise BackupError("Wrong passphrase (or the backup is damaged)") from None
            raise BackupError(f"The encrypted backup is damaged (chunk {self.i})") from None
        self.i += 1
        self.done = last
        return plain

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            n = 1 << 62
        parts: list[bytes] = []
        want = n
        while want > 0:
            if self.off >= len(self.buf):
                if self.done:
                    break
                self.buf, self.off = self._next_chunk(), 0
                continue
            piece = self.buf[self.off:self.off + want]
            self.off += len(piece)
            want -= len(piece)
            parts.append(piece)
        return b"".join(parts)


def _decrypt(data: bytes, passphrase: str | None) -> bytes:
    """The plaintext of a whole encrypted backup held in memory (small ones, tests)."""
    if not data.startswith(MAGIC):
        raise BackupError("This is not an encrypted backup")
    return _DecryptReader(io.BytesIO(data[len(MAGIC):]), passphrase).read()


