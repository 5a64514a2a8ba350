"""Reading archives as streams, entry by entry, with every hostile construct refused
(links, devices, unsafe or duplicate names, huge tar headers, sparse files, bombs). The
refusal rules sit together here, so that a reviewer reads every one in one place; the fast
header reader (``tarread``) and the writing of the temporary files (``tempfiles``) are apart."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, NoReturn, Protocol, cast

from ...storage.base import UnsafeName, validate_key
from ..common import CancelToken, ProgressFn
from .base import CHUNK, MAGIC, MANIFEST_NAME, MAX_RATIO, ZSTD_MAGIC, BackupError, _Readable, _Refused
from .crypto import _DecryptReader
from .tarread import Prefetch, TarMembers
from .tempfiles import _LocalError, _make_folders, _new_writer, _write_entry, _Writer

if TYPE_CHECKING:
    pass



# -- reading archives as streams ----------------------------------------------------------------
#
# Nothing is read whole into memory: the file is decrypted chunk by chunk, decompressed
# in bounded pieces and unpacked entry by entry into a temporary folder, each entry's
# size and SHA-256 taken as it streams. ``verify_archive`` and ``restore`` share all of
# it: :func:`_unpack` (the archive's structure), :func:`_judge` (integrity against the
# manifest, then every JACS signature), so they always agree.

#: the archive may not unpack to more than this many times its size (decompression bombs),
#: with a floor for small archives; there is no absolute ceiling (entries go to disk)
BOMB_FLOOR = 64 << 20
#: the manifest is parsed in memory: one larger than this is refused
MAX_MANIFEST_BYTES = 1 << 30
#: tarfile reads a GNU long name / long link or a pax header whole into memory: one
#: declaring more than this is refused from its 512-byte header, before it is read
MAX_TAR_HEADER = 64 << 10
#: extended headers (long name, long link, pax) in a row before one entry
MAX_HEADER_CHAIN = 8
_EXT_HEADERS = {tarfile.GNUTYPE_LONGNAME: "GNU long name", tarfile.GNUTYPE_LONGLINK: "GNU long link name",
                tarfile.XHDTYPE: "pax extended header", tarfile.XGLTYPE: "pax global header",
                tarfile.SOLARIS_XHDTYPE: "Solaris extended header"}


@dataclass
class _HeaderCounts:
    """Kept on the TarFile being read: extended headers in a row, pax global header bytes."""

    chain: int = 0
    global_bytes: int = 0


def _header_counts(tar: tarfile.TarFile) -> _HeaderCounts:
    counts: _HeaderCounts = vars(tar).setdefault("_jd_counts", _HeaderCounts())
    return counts


class _BoundedTarInfo(tarfile.TarInfo):
    """tarfile's header processing, with every header's declared size checked before
    tarfile reads the payload: extended headers over ``MAX_TAR_HEADER`` (all of it
    would be read into memory), long chains of them, negative sizes and sparse files
    (never in a backup) refuse the archive."""

    def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        if self.size < 0:
            raise _Refused(f"Refused: the archive has a header with a negative size ({self.name!r})")
        what = _EXT_HEADERS.get(self.type)
        counts = _header_counts(tar)
        if what is None:
            counts.chain = 0
            if self.type == tarfile.GNUTYPE_SPARSE:
                raise _Refused(f"Refused: the archive holds a sparse file ({self.name!r}); a backup never does")
            # tarfile's own header hook; typeshed leaves tarfile's private methods out
            member: tarfile.TarInfo = super()._proc_member(tar)  # type: ignore[misc]
            return member
        if self.size > MAX_TAR_HEADER:
            raise _Refused(f"Refused: the archive has a {what} of {self.size:,} bytes (at most {MAX_TAR_HEADER:,} "
                           "are accepted); it is not a JACS Desktop backup")
        counts.chain += 1
        if counts.chain > MAX_HEADER_CHAIN:
            raise _Refused(f"Refused: the archive has more than {MAX_HEADER_CHAIN} extended headers in a row")
        if self.type == tarfile.XGLTYPE:  # global headers accumulate for the whole archive
            counts.global_bytes += self.size
            if counts.global_bytes > MAX_TAR_HEADER:
                raise _Refused(f"Refused: the archive's pax global headers add up to more than "
                               f"{MAX_TAR_HEADER:,} bytes")
        member = super()._proc_member(tar)  # type: ignore[misc]  # as above: not in typeshed
        if member.size < 0:
            raise _Refused(f"Refused: the archive gives {member.name!r} a negative size")
        return member

    def _no_sparse(self, *args: object) -> NoReturn:
        raise _Refused("Refused: the archive holds a sparse file (pax GNU.sparse headers); a backup never does")

    _proc_gnusparse_00 = _proc_gnusparse_01 = _proc_gnusparse_10 = _no_sparse


class _Inflater(Protocol):
    """zlib's and ISA-L's decompression objects."""

    eof: bool
    unused_data: bytes
    unconsumed_tail: bytes

    def decompress(self, data: bytes, max_length: int = ..., /) -> bytes: ...

    def flush(self) -> bytes: ...


class _Gunzip:
    """gzip members (one or more, back to back) decompressed in bounded pieces: by ISA-L
    (``isal``, two to three times zlib's speed) where it is installed, else by zlib."""

    def __init__(self, src: _Readable):
        import zlib

        # (typeshed gives zlib's the optional dictionary as a second argument)
        self.new: Callable[[int], _Inflater] = cast(Callable[[int], _Inflater], zlib.decompressobj)
        self.errors: tuple[type[Exception], ...] = (zlib.error,)
        try:
            from isal import isal_zlib

            # (its stub calls the error an instance)
            self.new = cast(Callable[[int], _Inflater], isal_zlib.decompressobj)
            self.errors = (cast(type[Exception], isal_zlib.error), zlib.error)
        except ImportError:  # pragma: no cover - isal is a dependency; zlib does the same, slower
            pass
        self.src = src
        self.z = self.new(31)
        self.finished = False

    def read(self, n: int | None = -1) -> bytes:
        n = CHUNK if n is None or n <= 0 else n
        try:
            while not self.finished:
                if self.z.eof:  # a member ended: another may follow
                    rest = self.z.unused_data or self.src.read(CHUNK)
                    if not rest:
                        self.finished = True
                        break
                    self.z = self.new(31)
                    data = rest
                else:
                    data = self.z.unconsumed_tail or self.src.read(CHUNK)
                if not data:
                    out = self.z.flush()
                    if out:
                        return out
                    raise BackupError("The archive is truncated (the compressed stream ends early)")
                out = self.z.decompress(data, n)
                if out:
                    return out
        except self.errors as exc:
            raise BackupError(f"The archive is damaged: {exc}") from None
        return b""


class _Zstd:
    def __init__(self, src: _Readable):
        import zstandard

        self.zstd = zstandard
        # the reader only calls src.read() (its stub asks for a whole file object)
        self.r = zstandard.ZstdDecompressor().stream_reader(cast(IO[bytes], src), read_across_frames=True)

    def read(self, n: int | None = -1) -> bytes:
        try:
            return self.r.read(CHUNK if n is None or n <= 0 else n)
        except self.zstd.ZstdError as exc:
            raise BackupError(f"The archive is damaged: {exc}") from None


class _Peeked:
    """A reader with a few bytes already taken from its front put back."""

    def __init__(self, head: bytes, src: _Readable):
        self.head, self.src = head, src

    def read(self, n: int | None = -1) -> bytes:
        if self.head:
            if n is None or n < 0:
                out, self.head = self.head + self.src.read(), b""
                return out
            out, self.head = self.head[:n], self.head[n:]
            if len(out) < n:
                out += self.src.read(n - len(out))
            return out
        return self.src.read(n)


class _Counted:
    """Counts what is read through it; refuses more than *limit* (decompression bombs)."""

    def __init__(self, src: _Readable, limit: int):
        self.src, self.limit, self.total = src, limit, 0

    def read(self, n: int | None = -1) -> bytes:
        data = self.src.read(n)
        self.total += len(data)
        if self.total > self.limit:
            raise _Refused("Refused: the archive unpacks to far more than its size (a decompression bomb?)")
        return data


def _bomb_limit(file_size: int) -> int:
    return max(file_size * MAX_RATIO, BOMB_FLOOR)


def _tar_stream(f: io.BufferedReader, file_size: int, passphrase: str | None) -> _Counted:
    """The uncompressed tar bytes of the archive open as *f* (encrypted or not)."""
    src: _Readable = f
    if f.read(len(MAGIC)) == MAGIC:
        src = _DecryptReader(f, passphrase)
    else:
        f.seek(0)
    head = src.read(4)
    peeked = _Peeked(head, src)
    plain: _Readable
    if head[:2] == b"\x1f\x8b":
        plain = _Gunzip(peeked)
    elif head == ZSTD_MAGIC:
        plain = _Zstd(peeked)
    else:
        plain = peeked  # an uncompressed tar
    limit = _bomb_limit(file_size)
    return _Counted(plain, limit + limit // 8 + (1 << 20))  # tar headers and padding on top


@dataclass
class _Unpacked:
    """What :func:`_unpack` found: entries (name -> temp file path, size, SHA-256) in archive order."""

    root: Path
    entries: dict[str, tuple[str, int, str]] = field(default_factory=dict)
    manifest_data: bytes | None = None
    #: why the archive could not be read to its end (after the entries above)
    stream_error: str | None = None
    #: the entry that was being read when it broke off
    broken_entry: str | None = None
    #: names that are one on a case-insensitive file system (Windows, macOS): (earlier, later)
    case_clashes: list[tuple[str, str]] = field(default_factory=list)
    #: the temporary files are laid out under the entries' own names (so the folder can become
    #: the target as a whole), not numbered
    named: bool = False
    #: the bytes of small entries, kept from the one read of the archive for the signature checks
    cache: dict[str, bytes] = field(default_factory=dict)
    #: what *on_manifest* made of the manifest (checked while the last files were still being written)
    manifest_check: object = None
    #: entries whose SHA-256 the writer takes (a process: off this one), in the order given to it
    unhashed: list[str] = field(default_factory=list)


#: told of each entry as it is read: (name, its bytes when they came in one piece, size, cancel)
OnEntry = Callable[[str, "bytes | None", int, "CancelToken | None"], None]

#: entries up to this size are kept in memory for the signature checks, up to CACHE_BUDGET in all
CACHE_ENTRY = 1 << 20
CACHE_BUDGET = 64 << 20


def _unpack(path: Path, passphrase: str | None, root: Path, *, named: bool = False,
            progress: ProgressFn | None = None, cancel: CancelToken | None = None,
            case_insensitive: bool = False, keep: bool = True, on_entry: OnEntry | None = None,
            on_manifest: Callable[[bytes, dict[str, tuple[str, int, str]]], object] | None = None,
            writer_process: bool = False) -> _Unpacked:
    """Stream the archive's entries into files under *root* (which must exist and be
    empty): under their own names when *named*, else numbered. Raises
    :class:`BackupError` when the archive cannot be used at all: unreadable, wrong
    passphrase, links, devices, unsafe or duplicate names, bombs. A stream that breaks
    off after some entries is not raised: it is recorded. Nothing is synced to disk here:
    the caller makes the finished folder durable in one step. *keep*: small entries' bytes
    are kept for the signature checks (False when they are not checked). *on_entry* is told of
    every entry as it is read: (name, its bytes when small, size, cancel); *on_manifest* is given
    the manifest and the entries once all are read, while the writer thread finishes (its answer
    is ``manifest_check``). *writer_process*: the small entries are written by a forked process
    (``writeproc``; ask ``writer_process_ok`` before any thread starts), else by a thread."""
    try:
        # opened apart from the with below (which closes it) so that a failure is worded as reading it
        f = open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise BackupError(f"Cannot read {path}: {exc.strerror or exc}") from None
    out = _Unpacked(root, named=named)
    with f:
        try:
            size = os.fstat(f.fileno()).st_size
            stream = _tar_stream(f, size, passphrase)
            limit = _bomb_limit(size)
        except OSError as exc:
            raise BackupError(f"Cannot read {path}: {exc.strerror or exc}") from None
        root_s = str(root)
        writer = _new_writer(writer_process)
        ahead = Prefetch(stream)  # decryption and decompression on a thread of their own
        try:
            members = TarMembers(ahead, _BoundedTarInfo)
            try:
                _read_members(members, out, writer, named, root_s, limit, progress, cancel, case_insensitive, f,
                              size, keep, on_entry)
                if on_manifest is not None and out.manifest_data is not None:
                    out.manifest_check = on_manifest(out.manifest_data, out.entries)
            finally:
                failed = writer.close()  # every entry read is on disk (or this machine could not write it)
                if failed is not None:
                    raise _LocalError(failed)  # a local write failure decides, whatever else
                _take_digests(out, writer)
            # read to the very end: the gzip CRC, the encrypted "last" chunk, bombs of zeros
            trailing = 0
            rest = members.rest()
            while piece := rest.read(CHUNK):
                trailing += len(piece)
            if trailing == 0:
                raise tarfile.ReadError("the archive ends early (no end-of-archive marker)")
        except _Refused:
            raise
        except _LocalError as exc:
            raise BackupError(str(exc)) from None
        except (BackupError, tarfile.TarError, EOFError, OSError, ValueError) as exc:
            # the stream broke off: what was read before it is kept (and judged)
            msg = str(exc) if isinstance(exc, BackupError) else f"The archive is damaged: {exc}"
            if not out.entries and out.manifest_data is None:
                raise BackupError(msg) from None
            out.stream_error = msg
            return out
        finally:
            ahead.close()
    out.broken_entry = None
    return out


def _read_members(members: TarMembers, out: _Unpacked, writer: _Writer, named: bool, root_s: str, limit: int,
                  progress: ProgressFn | None, cancel: CancelToken | None, case_insensitive: bool,
                  f: IO[bytes], size: int, keep: bool = True, on_entry: OnEntry | None = None) -> None:
    """Every member into *out*; ``out.broken_entry`` names the one being read when it fails.
    *keep*: small entries' bytes are kept in ``out.cache`` (for the signature checks)."""
    total = cached = 0
    folders: set[str] = set()  # every folder the entries' names imply
    folded: dict[str, str] = {}  # files and folders by their case-folded name
    made: set[str] = set()  # folders made under root (named layout)
    entries, cache = out.entries, out.cache
    sha256 = hashlib.sha256
    unhashed = out.unhashed if writer.hashes else None  # the writer hashes what it writes
    last_parent: str | None = None  # the folder of the entry before, when its checks found nothing
    for m in members:
        out.broken_entry = None
        if cancel is not None and cancel.is_set():
            raise _Refused("cancelled")
        name, kind = m.name, m.kind
        if kind != "reg":
            if kind in ("sym", "lnk"):
                raise _Refused(f"Refused: the archive holds a link ({name!r} -> {m.linkname!r})")
            if kind == "dev":
                raise _Refused(f"Refused: the archive holds a device or pipe ({name!r})")
            if kind == "dir":
                continue
            raise _Refused(f"Refused: {name!r} is not a regular file")
        clean = name[2:] if name.startswith("./") else name
        try:
            validate_key(clean)
        except UnsafeName as exc:
            raise _Refused(f"Refused: unsafe name in the archive: {exc}") from None
        if clean in entries or (clean == MANIFEST_NAME and out.manifest_data is not None):
            raise _Refused(f"Refused: the name {clean!r} appears twice in the archive")
        slash = clean.rfind("/")
        parent = clean[:slash] if slash > 0 else ""
        key = clean.lower() if clean.isascii() else _fold(clean)
        if parent and parent == last_parent and clean not in folders and key not in folded:
            folded[key] = clean  # its folders were checked with the entry before (found sound)
        else:
            clashes = len(out.case_clashes)
            _check_file_folder(clean, out, folders)
            _check_case(clean, out, folded, case_insensitive)
            last_parent = parent if len(out.case_clashes) == clashes else None
        n = m.size
        total += n
        if total > limit:
            raise _Refused("Refused: the archive unpacks to far more than its size (a decompression bomb?)")
        out.broken_entry = clean
        if clean == MANIFEST_NAME:
            if n > MAX_MANIFEST_BYTES:
                raise _Refused(f"Refused: the manifest is {n:,} bytes, more than any backup needs")
            out.manifest_data = b"".join(members.chunks(m))
        else:
            if named:
                if parent and parent not in made:
                    _make_folders(root_s, parent, made)
                folder, leaf = (f"{root_s}/{parent}", clean[slash + 1:]) if parent else (root_s, clean)
            else:
                folder, leaf = root_s, f"{len(entries):08d}"
            kept: bytes | None
            data = m.data
            if data is None and n <= CHUNK:
                data = b"".join(members.chunks(m))
            if data is not None:  # one piece: written (and maybe hashed) by the writer
                writer.add(folder, leaf, data)
                if unhashed is None:
                    entries[clean] = (f"{folder}/{leaf}", len(data), sha256(data).hexdigest())
                else:
                    entries[clean] = (f"{folder}/{leaf}", len(data), "")  # (its digest: _take_digests)
                    unhashed.append(clean)
                kept = data
            else:
                entries[clean], kept = _write_entry(f"{folder}/{leaf}", members.chunks(m), keep)
            if keep and kept is not None and n <= CACHE_ENTRY and cached + n <= CACHE_BUDGET:
                cache[clean] = kept
                cached += n
            if on_entry is not None:
                on_entry(clean, kept, n, cancel)
        out.broken_entry = None
        if progress and (len(entries) % 100 == 0 or n >= CHUNK):
            progress(min(f.tell(), size), size, clean)


def _take_digests(out: _Unpacked, writer: _Writer) -> None:
    """The writer's digests into the entries it hashed (after ``close`` found no failure)."""
    names = out.unhashed
    if not names:
        return
    if len(writer.digests) != len(names):  # never: each batch written is answered with its digests
        raise _LocalError("Cannot write the temporary copy: the process writing it did not answer for every file")
    entries = out.entries
    entries.update(zip(names, [(p, n, digest) for (p, n, _), digest in
                               zip(map(entries.__getitem__, names), writer.digests, strict=True)], strict=True))
    names.clear()


def _check_file_folder(name: str, out: _Unpacked, folders: set[str]) -> None:
    """Refuse a name that is both a file and a folder in the archive (``jacs_data`` and
    ``jacs_data/x``), whichever comes first: no file system can hold both."""
    if name in folders:
        raise _Refused(f"Refused: {name!r} is both a file and a folder in the archive (an entry's name is "
                       "inside it)")
    parts = name.split("/")
    for i in range(len(parts) - 1, 0, -1):
        folder = "/".join(parts[:i])
        if folder in folders:
            break  # and so are its own parents
        if folder in out.entries or (folder == MANIFEST_NAME and out.manifest_data is not None):
            raise _Refused(f"Refused: {folder!r} is both a file and a folder in the archive ({name!r} is inside "
                           "it)")
        folders.add(folder)


def _fold(name: str) -> str:
    if name.isascii():  # NFC leaves ASCII as it is; casefold is lower there
        return name.lower()
    import unicodedata

    return unicodedata.normalize("NFC", name).casefold()


def _check_case(name: str, out: _Unpacked, folded: dict[str, str], refuse: bool) -> None:
    """Names that are one file on a case-insensitive file system (``Doc.json`` and
    ``doc.json``, or a file ``A`` and a folder ``a/``): refused when the target is one
    (*refuse*), else recorded in ``out.case_clashes``. Folders that differ only in case
    merge there, which loses nothing. *folded* maps case-folded names to the names
    seen: a file as itself, a folder with a ``/`` after it."""
    clash = None
    key = _fold(name)
    if key in folded:
        clash = folded[key].rstrip("/")
    else:
        folded[key] = name
    parts = name.split("/")
    for i in range(len(parts) - 1, 0, -1):
        folder = "/".join(parts[:i])
        fk = _fold(folder)
        have = folded.get(fk)
        if have is None:
            folded[fk] = folder + "/"
        elif have.endswith("/"):
            break  # a folder already: so are its parents
        elif clash is None:
            clash = have
            break
    if clash is None:
        return
    if refuse:
        raise _Refused(f"Refused: {clash!r} and {name!r} differ only in case; the target's file system does not "
                       "tell them apart, so one would overwrite or block the other")
    out.case_clashes.append((clash, name))
