"""What every part of the backup package shares: the archive format's constants, the
error types and the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ...core.errors import JacsError

if TYPE_CHECKING:
    pass



MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1
MAGIC = b"JACSDESKTOP-BACKUP-ENC1\n"
CHUNK = 1 << 20
MAX_RATIO = 200  # uncompressed / compressed
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

class _Sink(Protocol):
    """Where bytes are written (a file, or the encrypting layer in front of one)."""

    def write(self, data: bytes, /) -> object: ...


class _Readable(Protocol):
    """What the archive is read through, layer by layer (file, decryption, decompression)."""

    def read(self, n: int | None = ..., /) -> bytes: ...


class _Compressor(Protocol):
    """zlib's and zstandard's compression objects."""

    def compress(self, data: bytes, /) -> bytes: ...

    def flush(self) -> bytes: ...


class BackupError(JacsError):
    pass

class _Refused(BackupError):
    """The archive as a whole is refused (hostile content, a bomb, Cancel): nothing is used."""


@dataclass
class ArchiveReport:
    path: str
    entries: int = 0
    bytes: int = 0
    #: every finding, in words, for display (the fields below sort them)
    problems: list[str] = field(default_factory=list)
    verdicts: dict[str, int] = field(default_factory=dict)
    restored: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: the archive as a whole cannot be used (unreadable, wrong passphrase, hostile, no manifest)
    errors: list[str] = field(default_factory=list)
    #: entries whose bytes are not what the manifest says, or that cannot be read: name -> why
    damaged: dict[str, str] = field(default_factory=dict)
    #: the archive breaks off (truncated, damaged stream) after the entries that were read
    stream_error: str | None = None
    #: versions whose signature or hash does not verify: key -> the verifier's reason
    invalid: dict[str, str] = field(default_factory=dict)
    #: intact versions that could not be checked (a key or attachment read failed): key -> why
    not_checked: dict[str, str] = field(default_factory=dict)
    #: entries a restore did not write (damaged ones in a partial restore, invalid ones on request)
    left_out: list[str] = field(default_factory=list)
    #: objects the target refused (write failures)
    failed: list[str] = field(default_factory=list)
    #: for a backup: what the archive holds that a restore will report
    warnings: list[str] = field(default_factory=list)
    #: for a backup: what the store holds that is not in the archive (a link out of the
    #: store, a name that cannot be kept, too large, unreadable): name -> why
    not_archived: dict[str, str] = field(default_factory=dict)
    cancelled: bool = False

    @property
    def is_damaged(self) -> bool:
        return bool(self.damaged or self.stream_error)

    @property
    def exit_code(self) -> int:
        """0 intact and valid, 1 errors or damaged entries, 2 versions that do not verify."""
        if self.errors or self.is_damaged or self.failed or self.cancelled or self.not_checked \
                or self.not_archived:
            return 1
        return 2 if self.invalid else 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "ok": self.ok, "exit_code": self.exit_code, "entries": self.entries,
                "bytes": self.bytes, "problems": self.problems, "errors": self.errors, "damaged": self.damaged,
                "stream_error": self.stream_error, "invalid": self.invalid, "not_checked": self.not_checked,
                "warnings": self.warnings, "not_archived": self.not_archived,
                "verdicts": self.verdicts, "restored": len(self.restored), "skipped": len(self.skipped),
                "left_out": self.left_out, "failed": self.failed, "conflicts": self.conflicts,
                "cancelled": self.cancelled, "seconds": round(self.seconds, 3)}


