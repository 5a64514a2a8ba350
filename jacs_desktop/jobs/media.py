"""Signed text files (``.md`` / ``.txt`` with inline JACS signature blocks) and signed images
(PNG / JPEG / WebP), verified with a store's public keys: the library's result shape and status
words (core/textsig.py, core/mediasig.py)."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import JacsError
from ..core.mediasig import ImageResult, verify_image
from ..core.textsig import TextResult, verify_text
from ..core.verify import KeyResolver

__all__ = ["verify_text_file", "verify_image_file", "MAX_TEXT_BYTES", "MAX_IMAGE_BYTES"]

#: text files larger than this are refused without being read
MAX_TEXT_BYTES = 64 << 20
MAX_IMAGE_BYTES = 256 << 20


def _read(path: Path, limit: int) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise JacsError(f"{path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise JacsError(f"{path} is larger than {limit >> 20} MiB")
    return data


def verify_image_file(path: Path, keys: KeyResolver | None) -> ImageResult:
    """Verify the embedded signature of the image at *path* (raises JacsError when it cannot be read)."""
    return verify_image(_read(path, MAX_IMAGE_BYTES), keys)


def verify_text_file(path: Path, keys: KeyResolver | None) -> TextResult:
    """Verify the inline signatures of the text file at *path* (raises JacsError when it cannot be read)."""
    data = _read(path, MAX_TEXT_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return TextResult("malformed", error=f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})")
    return verify_text(text, keys)
