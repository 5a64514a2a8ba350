"""Image signatures: PNG / JPEG / WebP files signed by jacs's ``sign_image`` (jacs 0.15).

The signature is a signed JACS message document, base64url (no padding) in the file's metadata:

* PNG: an uncompressed ``iTXt`` chunk with keyword ``JACS-Signature``;
* JPEG: an APP11 segment whose body starts ``JACS\\0`` (before the first SOS);
* WebP: an ``XMP `` chunk holding ``JACS:Signature="…"``.

The message's ``content`` is the claim ``{mediaSignatureVersion: 1, format, canonicalization:
"jacs-media-v1", hashAlgorithm: "sha256", contentHash, publicKeyHash: "sha256-b64url:…",
embeddingChannels, robust}``; ``contentHash`` is base64url SHA-256 of the file with the JACS
chunk or segment taken out (rebuilt as the library rebuilds it), ``publicKeyHash`` the
base64url SHA-256 of the signer's public key in the library's PEM form.

:func:`verify_image` follows the library's ``verify_image`` step by step and gives its words:
``valid``, ``invalid_signature``, ``hash_mismatch``, ``key_not_found``, ``missing_signature``,
``unsupported_format``, ``malformed``.  Two differences, said in the result's ``reason``: the key
is looked up by the document's ``publicKeyHash`` in the keys given (jacs: by agent id, from
itself, a key folder or the trust store), and robust (pixel, ``jacs-media-v1-robust``) signatures
are not checked here (``unsupported_format``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .checks import VALID
from .jsontypes import JSONObject
from .pubkey import pseudo_pem
from .verify import KeyResolver, verify_document

__all__ = ["ImageResult", "verify_image", "detect_format", "extract_payload", "canonical_bytes", "MediaError"]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PNG_KEYWORD = b"JACS-Signature"
JPEG_IDENTIFIER = b"JACS\x00"
WEBP_KEY = 'JACS:Signature="'


class MediaError(ValueError):
    """The image cannot be parsed (the library's ``parse error``)."""


@dataclass
class ImageResult:
    status: str
    format: str | None = None
    signer_id: str | None = None
    algorithm: str | None = None
    reason: str = ""

    @property
    def valid(self) -> bool:
        return self.status == "valid"

    def to_dict(self) -> JSONObject:
        out: JSONObject = {"status": self.status, "format": self.format, "signer_id": self.signer_id,
                           "algorithm": self.algorithm}
        if self.reason:
            out["reason"] = self.reason
        return out


def detect_format(data: bytes) -> str | None:
    if data[:8] == PNG_MAGIC:
        return "png"
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


# -- PNG ---------------------------------------------------------------------------------
def _png_chunks(data: bytes) -> list[tuple[bytes, bytes, bytes]]:
    pos, out = 8, []
    while pos + 12 <= len(data):
        n = int.from_bytes(data[pos:pos + 4], "big")
        typ = data[pos + 4:pos + 8]
        if pos + 8 + n + 4 > len(data):
            raise MediaError("truncated PNG chunk")
        out.append((typ, data[pos + 8:pos + 8 + n], data[pos:pos + 12 + n]))
        if typ == b"IEND":
            return out
        pos += 12 + n
    raise MediaError("PNG without IEND chunk")


def _png_text(body: bytes) -> str | None:
    k = body.find(b"\x00")
    if k < 0 or body[:k] != PNG_KEYWORD or k + 3 > len(body) or body[k + 1] != 0:
        return None
    lang = body.find(b"\x00", k + 3)
    if lang < 0:
        return None
    tk = body.find(b"\x00", lang + 1)
    if tk < 0:
        return None
    try:
        return body[tk + 1:].decode("utf-8")
    except UnicodeDecodeError:
        return None


# -- JPEG --------------------------------------------------------------------------------
def _jpeg_segments(data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """(marker, rebuilt segment bytes) up to and including SOS, and where SOS ends."""
    out = [(0xD8, b"\xff\xd8")]
    pos = 2
    while pos < len(data):
        while pos < len(data) and data[pos] == 0xFF:
            pos += 1
        if pos >= len(data):
            raise MediaError("unexpected EOF in JPEG segments")
        marker = data[pos]
        pos += 1
        if 0xD0 <= marker <= 0xD7 or marker in (0x01, 0xD8, 0xD9):
            out.append((marker, bytes([0xFF, marker])))
            if marker == 0xD9:
                return out, pos
            continue
        if pos + 2 > len(data):
            raise MediaError("JPEG segment length truncated")
        n = int.from_bytes(data[pos:pos + 2], "big")
        if n < 2:
            raise MediaError("JPEG segment length too small")
        if pos + n > len(data):
            raise MediaError("JPEG segment body truncated")
        out.append((marker, bytes([0xFF, marker]) + data[pos:pos + n]))
        pos += n
        if marker == 0xDA:
            return out, pos
    raise MediaError("JPEG without SOS marker")


def _jpeg_is_jacs(marker: int, seg: bytes) -> bool:
    return marker == 0xEB and len(seg) > 4 and seg[4:].startswith(JPEG_IDENTIFIER)


# -- WebP --------------------------------------------------------------------------------
def _webp_chunks(data: bytes) -> list[tuple[bytes, bytes, bytes]]:
    end = 8 + int.from_bytes(data[4:8], "little")
    if end > len(data):
        raise MediaError("WebP RIFF size exceeds file bytes")
    pos, out = 12, []
    while pos + 8 <= end:
        fourcc = data[pos:pos + 4]
        n = int.from_bytes(data[pos + 4:pos + 8], "little")
        stop = pos + 8 + n + (n % 2)
        if stop > end:
            raise MediaError("WebP chunk exceeds RIFF bounds")
        out.append((fourcc, data[pos + 8:pos + 8 + n], data[pos:stop]))
        pos = stop
    return out


def _webp_is_jacs(fourcc: bytes, body: bytes) -> bool:
    try:
        return fourcc == b"XMP " and WEBP_KEY in body.decode("utf-8")
    except UnicodeDecodeError:
        return False


def _webp_signature(body: bytes) -> str | None:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    i = text.find(WEBP_KEY)
    if i < 0:
        return None
    j = text.find('"', i + len(WEBP_KEY))
    return text[i + len(WEBP_KEY):j] if j >= 0 else None


# -- the library's two operations ------------------------------------------------------------
def extract_payload(fmt: str, data: bytes) -> str | None:
    """The embedded base64url payload (None: no signature; MediaError: a duplicate or a parse error)."""
    found: list[str] = []
    if fmt == "png":
        found = [t for typ, body, _ in _png_chunks(data) if typ == b"iTXt" and (t := _png_text(body)) is not None]
    elif fmt == "jpeg":
        for marker, seg in _jpeg_segments(data)[0]:
            if _jpeg_is_jacs(marker, seg):
                try:
                    found.append(seg[4 + len(JPEG_IDENTIFIER):].decode("utf-8"))
                except UnicodeDecodeError:
                    continue
    else:
        found = [s for fourcc, body, _ in _webp_chunks(data) if fourcc == b"XMP "
                 and (s := _webp_signature(body)) is not None]
    if len(found) > 1:
        raise MediaError("duplicate JACS-Signature chunk")
    return found[0] if found else None


def canonical_bytes(fmt: str, data: bytes) -> bytes:
    """The file without its JACS signature, rebuilt as jacs-media-v1 does (the bytes ``contentHash`` covers)."""
    if fmt == "png":
        return PNG_MAGIC + b"".join(full for typ, body, full in _png_chunks(data)
                                    if not (typ == b"iTXt" and _png_text(body) is not None))
    if fmt == "jpeg":
        segs, end = _jpeg_segments(data)
        return b"".join(seg for marker, seg in segs if not _jpeg_is_jacs(marker, seg)) + data[end:]
    body = b"WEBP" + b"".join(full for fourcc, b, full in _webp_chunks(data) if not _webp_is_jacs(fourcc, b))
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def verify_image(data: bytes, keys: KeyResolver | None) -> ImageResult:
    """Verify the embedded JACS signature of an image (see the module docstring)."""
    fmt = detect_format(data)
    if fmt is None:
        return ImageResult("unsupported_format", reason="not a PNG, JPEG or WebP file")
    try:
        raw = extract_payload(fmt, data)
    except MediaError as exc:
        return ImageResult("malformed", fmt, reason=f"parse error: {exc}")
    if raw is None:
        return ImageResult("missing_signature", fmt)
    try:
        payload = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("utf-8")
        if "=" in raw or any(c in raw for c in "+/"):
            raise ValueError("not base64url without padding")
    except (ValueError, UnicodeDecodeError):
        return ImageResult("malformed", fmt, reason="embedded payload is not valid base64url JSON")
    try:
        doc: Any = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        return ImageResult("malformed", fmt, reason=f"payload not JSON: {exc}")
    claim = doc.get("content") if isinstance(doc, dict) else None
    if not isinstance(claim, dict):
        return ImageResult("malformed", fmt, reason="signed document missing /content")
    if claim.get("mediaSignatureVersion") != 1 or type(claim.get("mediaSignatureVersion")) is not int:
        return ImageResult("malformed", fmt, reason=f"unsupported mediaSignatureVersion: "
                                                    f"{claim.get('mediaSignatureVersion')!r}")
    if claim.get("format") != fmt:
        return ImageResult("malformed", fmt, reason=f"format mismatch: claim says {claim.get('format')}, "
                                                    f"actual is {fmt}")
    if claim.get("hashAlgorithm") != "sha256":
        return ImageResult("malformed", fmt, reason=f"unsupported hashAlgorithm: {claim.get('hashAlgorithm')}")
    claim_pkh = claim.get("publicKeyHash")
    if not isinstance(claim_pkh, str) or not claim_pkh.startswith("sha256-b64url:"):
        return ImageResult("malformed", fmt, reason="publicKeyHash missing or malformed")
    canon = claim.get("canonicalization")
    if canon == "jacs-media-v1-robust":
        return ImageResult("unsupported_format", fmt, reason="robust (pixel) image signatures are not checked here")
    if canon != "jacs-media-v1":
        return ImageResult("malformed", fmt, reason=f"unsupported canonicalization: {canon}")
    try:
        computed = _b64url(hashlib.sha256(canonical_bytes(fmt, data)).digest())
    except MediaError as exc:
        return ImageResult("malformed", fmt, reason=f"parse error: {exc}")
    if claim.get("contentHash") != computed:
        return ImageResult("hash_mismatch", fmt, reason="the image was changed after it was signed")
    sig = doc.get("jacsSignature")
    signer = sig.get("agentID") if isinstance(sig, dict) else None
    if not isinstance(signer, str):
        return ImageResult("malformed", fmt, reason="signed document missing jacsSignature.agentID")
    alg = sig.get("signingAlgorithm") if isinstance(sig, dict) and isinstance(sig.get("signingAlgorithm"), str) \
        else None
    result = ImageResult("key_not_found", fmt, signer, alg)
    key_hash = sig.get("publicKeyHash") if isinstance(sig, dict) else None
    pk = None
    if isinstance(key_hash, str) and keys is not None:
        try:
            pk = keys.resolve(key_hash)
        except Exception as exc:  # a store that fails: not found, said why
            result.reason = f"the key could not be looked up: {exc}"
            return result
    if pk is None:
        result.reason = f"the signer's public key {str(key_hash)[:16]}… is not known"
        return result
    if "sha256-b64url:" + _b64url(hashlib.sha256(pseudo_pem(pk.key).encode("ascii")).digest()) != claim_pkh:
        result.reason = "the claim's publicKeyHash is not the signing key's"
        return result
    verdict = verify_document(doc, keys)
    if verdict.status == VALID:
        channels = claim.get("embeddingChannels")
        if isinstance(channels, list) and "lsb" in channels:
            result.status = "unsupported_format"
            result.reason = "the claim names a pixel (lsb) channel, not checked here"
        else:
            result.status = "valid"
        return result
    # jacs reports any embedded document that does not verify (its jacsSha256 included) as invalid_signature
    result.status, result.reason = "invalid_signature", verdict.reason
    return result
