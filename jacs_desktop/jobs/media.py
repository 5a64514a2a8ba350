"""Signed text files (``.md`` / ``.txt`` with inline JACS signature blocks), verified with a
store's public keys: the library's result shape and status words (core/textsig.py)."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import JacsError
from ..core.textsig import TextResult, verify_text
from ..core.verify import KeyResolver

__all__ = ["verify_text_file", "MAX_TEXT_BYTES"]

#: text files larger than this are refused without being read
MAX_TEXT_BYTES = 64 << 20


def verify_text_file(path: Path, keys: KeyResolver | None) -> TextResult:
    """Verify the inline signatures of the text file at *path* (raises JacsError when it cannot be read)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_TEXT_BYTES + 1)
    except OSError as exc:
        raise JacsError(f"{path}: {exc.strerror or exc}") from None
    if len(data) > MAX_TEXT_BYTES:
        raise JacsError(f"{path} is larger than {MAX_TEXT_BYTES >> 20} MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return TextResult("malformed", error=f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})")
    return verify_text(text, keys)
