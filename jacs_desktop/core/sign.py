"""Creating signed JACS documents and new versions (SPEC sections 2, 4, 7, 10).

An :class:`AgentSigner` holds one decrypted key for a session: decrypt once,
sign many documents.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .canonical import canonicalize
from .crypto import Signer
from .errors import DocumentError
from .jacsgzip import exact_unavailable_reason, gzip_like_jacs, jacs_gzip
from .jsontypes import JSONObject
from .pubkey import public_key_hash
from .verify import RESERVED_FIELDS, _Canon, signature_payload, validate_relative_path

__all__ = [
    "HEADER_SCHEMA",
    "AGENT_SCHEMA",
    "CONFIG_SCHEMA",
    "AgentSigner",
    "Attachment",
    "make_attachment",
    "rfc3339_now",
    "uuid7",
    "pretty_json",
]

HEADER_SCHEMA = "https://hai.ai/schemas/header/v1/header.schema.json"
AGENT_SCHEMA = "https://hai.ai/schemas/agent/v1/agent.schema.json"
CONFIG_SCHEMA = "https://hai.ai/schemas/jacs.config.schema.json"
_MAX_SAFE = 2**53 - 1


def rfc3339_now(ns: int | None = None) -> str:
    """UTC time with 9 fractional digits and ``+00:00``, as the library writes it."""
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(secs, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{frac:09d}+00:00"


def uuid7(ms: int | None = None) -> str:
    """A UUID version 7 (time-ordered), as JACS uses for ``jti``."""
    ms = int(time.time() * 1000) if ms is None else ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def pretty_json(doc: Any) -> bytes:
    """Pretty JSON (2 spaces, keys sorted) as the library stores documents."""
    import json

    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8")


@dataclass
class Attachment:
    """One ``jacsFiles`` entry."""

    path: str
    mimetype: str
    embed: bool
    sha256: str
    contents: str | None = None
    size: int = 0
    #: set when an external attachment was asked for but the file was embedded instead, and why
    embed_reason: str | None = None

    def to_json(self) -> JSONObject:
        d = {"embed": self.embed, "mimetype": self.mimetype, "path": self.path, "sha256": self.sha256}
        if self.embed:
            d["contents"] = self.contents
        return d


def guess_mimetype(path: str) -> str:
    mt, _ = mimetypes.guess_type(path, strict=False)
    return mt or "application/octet-stream"


def make_attachment(data: bytes, path: str, *, embed: bool, mimetype: str | None = None) -> Attachment:
    """gzip + base64 the bytes; ``sha256`` is the hash of the base64 text (SPEC 2.3).

    *path* is stored as given; for external attachments jacs verifiers read it
    from ``{storage_root}/{data_directory}/{path}``, so it must be relative.

    An external attachment (``embed=False``) records the hash of the library's exact
    gzip stream, which the library recomputes from the file when it verifies. When
    that stream cannot be reproduced here (see :mod:`.jacsgzip`), the attachment is
    embedded instead of written as one the library would reject, and
    ``Attachment.embed_reason`` says why.
    """
    bad = validate_relative_path(path)
    if bad:
        raise DocumentError(f"Attachment path {path!r} is not usable: {bad}")
    reason = None
    stream: bytes | None
    if embed:
        stream = gzip_like_jacs(data)
    else:
        stream = jacs_gzip(data)
        if stream is None:
            reason = (f"embedded instead of external: the jacs library's compressed form of the file cannot be "
                      f"reproduced here, so it would reject an external attachment "
                      f"({exact_unavailable_reason()})")
            embed = True
            stream = gzip_like_jacs(data)
    b64 = base64.b64encode(stream).decode("ascii")
    sha = hashlib.sha256(b64.encode("ascii")).hexdigest()
    return Attachment(path, mimetype or guess_mimetype(path), embed, sha, b64 if embed else None, len(data), reason)


def _check_numbers(value: Any) -> None:
    """JACS refuses to create documents with integers outside +-(2^53-1)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif type(v) is int and not -_MAX_SAFE <= v <= _MAX_SAFE:
            raise DocumentError(f"JSON integer {v} is outside the I-JSON safe integer range")
        elif (type(v) is float and v == v and v not in (float("inf"), float("-inf")) and v == int(v)
              and abs(v) > _MAX_SAFE):
            raise DocumentError(f"JSON number {v!r} is outside the I-JSON safe integer range")


class AgentSigner:
    """Signs documents as one agent with a key decrypted once."""

    def __init__(self, signer: Signer, agent_id: str, agent_version: str, public_key_file_bytes: bytes | None = None):
        self.signer = signer
        self.agent_id = agent_id
        self.agent_version = agent_version
        key_bytes = public_key_file_bytes if public_key_file_bytes is not None else signer.public_key
        self.public_key_hash = public_key_hash(key_bytes)
        self.algorithm = signer.algorithm

    # -- signatures ---------------------------------------------------------
    def signature(
        self, doc: JSONObject, placement: str = "jacsSignature", fields: list[str] | None = None
    ) -> JSONObject:
        """Build and sign a v2 signature object for *doc* at *placement*."""
        if fields is None:
            fields = sorted(k for k in doc if k not in RESERVED_FIELDS and k != placement)
        now_ns = time.time_ns()
        sig = {
            "agentID": self.agent_id,
            "agentVersion": self.agent_version,
            "date": rfc3339_now(now_ns),
            "fields": fields,
            "iat": now_ns // 1_000_000_000,
            "jti": uuid7(now_ns // 1_000_000),
            "publicKeyHash": self.public_key_hash,
            "signatureContentVersion": "jacs-signature-v2",
            "signingAlgorithm": self.algorithm,
        }
        payload = signature_payload(doc, sig, placement, _Canon(doc))
        sig["signature"] = base64.b64encode(self.signer.sign(payload)).decode("ascii")
        return sig

    def finish(self, doc: JSONObject) -> JSONObject:
        """Sign at ``jacsSignature`` and hash; returns a new dict."""
        body = {k: v for k, v in doc.items() if k not in ("jacsSignature", "jacsSha256")}
        _check_numbers(body)
        body["jacsSignature"] = self.signature(body)
        body["jacsSha256"] = hashlib.sha256(canonicalize(body)).hexdigest()
        return body

    # -- documents ------------------------------------------------------------
    def new_document(
        self,
        content: JSONObject,
        *,
        attachments: Iterable[Attachment] = (),
        jacs_type: str = "header",
        jacs_level: str = "raw",
        schema: str = HEADER_SCHEMA,
    ) -> JSONObject:
        """A new signed document (first version) from a JSON object payload."""
        if not isinstance(content, dict):
            raise DocumentError("Document content must be a JSON object")
        header_clash = [k for k in content if k.startswith("jacs") and k not in ("jacsDocument", "jacsFiles")] + [
            k for k in content if k in RESERVED_FIELDS
        ]
        if header_clash:
            raise DocumentError(f"Content must not set the header field {header_clash[0]!r}")
        doc_id = str(uuid.uuid4())
        version = str(uuid.uuid4())
        now = rfc3339_now()
        doc = {"$schema": schema, **content}
        doc.update(
            {
                "jacsId": doc_id,
                "jacsVersion": version,
                "jacsVersionDate": now,
                "jacsOriginalVersion": version,
                "jacsOriginalDate": now,
                "jacsType": jacs_type,
                "jacsLevel": jacs_level,
            }
        )
        files = [a.to_json() for a in attachments]
        if files or "jacsFiles" in content:
            doc["jacsFiles"] = list(content.get("jacsFiles", [])) + files
        return self.finish(doc)

    def new_version(
        self, previous: JSONObject, updated: JSONObject | None = None, *, attachments: Iterable[Attachment] = ()
    ) -> JSONObject:
        """The next version of *previous* (SPEC 7).

        *updated* is the edited document (header fields are taken from
        *previous*); only the original signer may update.
        """
        if not isinstance(previous, dict):
            raise DocumentError("The previous version is not a JSON object")
        sig = previous.get("jacsSignature")
        if not isinstance(sig, dict) or sig.get("agentID") != self.agent_id:
            raise DocumentError("Only the original signer may create a new version of this document")
        for k in ("jacsId", "jacsVersion"):
            if not isinstance(previous.get(k), str):
                raise DocumentError(f"The previous version has no {k}")
        src = dict(updated if updated is not None else previous)
        if updated is not None:
            for k in ("jacsId", "jacsVersion"):
                if k in updated and updated[k] != previous[k]:
                    raise DocumentError(f"The edited document must keep {k} {previous[k]!r}")
        doc = {k: v for k, v in src.items() if k not in ("jacsSignature", "jacsSha256", "jacsRegistration")}
        doc["jacsId"] = previous["jacsId"]
        for k in ("jacsOriginalVersion", "jacsOriginalDate", "$schema", "jacsType"):
            if k in previous:
                doc[k] = previous[k]
        doc["jacsPreviousVersion"] = previous["jacsVersion"]
        doc["jacsVersion"] = str(uuid.uuid4())
        doc["jacsVersionDate"] = rfc3339_now()
        if doc.get("jacsLevel") not in ("config", "artifact"):
            doc["jacsLevel"] = "artifact"
        files = list(doc.get("jacsFiles") or [])
        files.extend(a.to_json() for a in attachments)
        doc["jacsFiles"] = files
        return self.finish(doc)
