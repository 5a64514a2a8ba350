"""Backup to an archive file, verify it, restore it — cancellable jobs.

Archive: ``.tar.gz`` (or ``.tar.zst``, zstandard) holding the store's objects in their layout plus
``manifest.json`` (format version, source, date, tool version, every entry
with size and SHA-256, counts). Optionally encrypted with a passphrase
(AES-256-GCM in 1 MiB chunks, key from Argon2id). Private keys are left out
unless asked for.

Archive integrity (each entry's size and SHA-256 against the manifest) is kept
apart from JACS signatures. ``verify_archive`` and ``restore`` run the same check
and reach the same verdict (``ArchiveReport.exit_code``): 0 every entry intact and
every version valid, 2 versions that do not verify (restored byte for byte and
reported, or left out on request), 1 damaged or unreadable entries (nothing is
restored unless a partial restore is asked for) or other errors.

Restore streams the archive (decrypted chunk by chunk, decompressed in bounded
pieces) into a temporary folder beside the target, checking every entry as it
arrives, then verifies and moves the entries into place: memory stays bounded
whatever the archive's size. Only regular files with safe relative names are
accepted: ``..``, absolute paths, links, device files, duplicate names, a name that
is both a file and a folder, names differing only in case (on a case-insensitive
target), tar headers larger than ``MAX_TAR_HEADER`` (refused from their 512-byte
header, before tarfile would read them into memory), sparse files and
decompression bombs refuse the whole archive and nothing is written to the target.
A manifest is checked field by field: anything unexpected is a sentence, never a
traceback.

The parts: ``base`` (format constants, errors, the report), ``crypto`` (encryption),
``tarwrite`` and ``write`` (making an archive), ``read`` (the bounded streaming reader),
``integrity`` (the manifest and the signatures judged), ``verifying`` (the signatures checked
on worker processes while the archive is read), ``restoring`` (verify and restore; not named
``restore``, which is the function).
"""

from .base import CHUNK as CHUNK
from .base import FORMAT_VERSION as FORMAT_VERSION
from .base import MAGIC as MAGIC
from .base import MANIFEST_NAME as MANIFEST_NAME
from .base import ArchiveReport as ArchiveReport
from .base import BackupError as BackupError
from .crypto import _decrypt as _decrypt
from .crypto import _EncryptingSink as _EncryptingSink
from .crypto import is_encrypted as is_encrypted
from .integrity import _TempObjects as _TempObjects
from .read import MAX_MANIFEST_BYTES as MAX_MANIFEST_BYTES
from .read import MAX_TAR_HEADER as MAX_TAR_HEADER
from .restoring import restore as restore
from .restoring import verify_archive as verify_archive
from .write import backup as backup

__all__ = ["BackupError", "backup", "verify_archive", "restore", "ArchiveReport", "MANIFEST_NAME",
           "MAGIC", "is_encrypted"]
