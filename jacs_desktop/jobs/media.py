"""Signed text files (``.md`` / ``.txt`` with inline JACS signature blocks) and signed images
(PNG / JPEG / WebP), verified with a store's public keys: the library's result shape and status
words (core/textsig.py, core/mediasig.py)."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import JacsError
from ..core.mediasig import ImageResult, verify_image
from ..core.textsig import TextResult, verify_text
from ..core.verify import KeyResolver, Verdict

__all__ = ["verify_text_file", "verify_image_file", "media_verdict", "looks_signed", "MAX_TEXT_BYTES",
           "MAX_IMAGE_BYTES"]

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


def looks_signed(head: bytes) -> bool:
    """Whether the first bytes of a file show a JACS text or image signature (cheap; no parsing)."""
    from ..core.mediasig import detect_format
    from ..core.textsig import BEGIN_MARKER

    if BEGIN_MARKER.encode() in head:
        return True
    return detect_format(head) is not None and any(
        m in head for m in (b"JACS-Signature", b"JACS\x00", b"JACS:Signature"))


#: the library's word -> a verdict status (never "valid" unless the library's word is)
_STATUS = {"valid": "valid", "invalid_signature": "invalid", "hash_mismatch": "invalid", "malformed": "invalid",
           "key_not_found": "unverifiable", "unsupported_algorithm": "unverifiable",
           "unsupported_format": "unverifiable", "missing_signature": "unverifiable"}
_CHECK = {"valid": "ok", "invalid": "failed", "unverifiable": "unverifiable"}


def media_verdict(path: Path, data: bytes, keys: KeyResolver | None) -> Verdict | None:
    """A verdict for a signed text file or image (None when *data* is neither), for the window's drop:
    one check per signature, named by the library's status word."""
    from ..core.checks import Check
    from ..core.mediasig import detect_format
    from ..core.textsig import BEGIN_MARKER

    if detect_format(data) is not None:
        r = verify_image(data, keys)
        status = _STATUS.get(r.status, "unverifiable")
        check = Check("image signature", _CHECK[status], f"{r.status}" + (f": {r.reason}" if r.reason else ""))
        return Verdict(status, "image", signer=r.signer_id, algorithm=r.algorithm, checks=[check], path=str(path))
    if BEGIN_MARKER.encode() not in data:
        return None
    try:
        t = verify_text(data.decode("utf-8"), keys)
    except UnicodeDecodeError:
        return Verdict("invalid", "text", checks=[Check("text signature", "failed", "the file is not UTF-8 text")],
                       path=str(path))
    checks = [Check(f"text signature {s.signer_id or i + 1}", _CHECK[_STATUS.get(s.status, "unverifiable")],
                    s.status + (f": {s.reason}" if s.reason else "")) for i, s in enumerate(t.signatures)]
    if t.status != "signed":
        checks = [Check("text signature", "failed" if t.status == "malformed" else "unverifiable",
                        t.status + (f": {t.error}" if t.error else ""))]
    worst = "invalid" if any(c.status == "failed" for c in checks) else "unverifiable" if any(
        c.status != "ok" for c in checks) else "valid"
    signers = sorted({s.signer_id for s in t.signatures if s.signer_id})
    return Verdict(worst, "text", signer=", ".join(signers) or None, checks=checks, path=str(path))
