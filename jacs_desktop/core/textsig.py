"""Inline text signatures: ``.md`` / ``.txt`` files signed by jacs's ``sign_text`` (jacs 0.15).

The file keeps its text byte for byte and gets signature blocks appended::

    -----BEGIN JACS SIGNATURE-----
    <a whole signed JACS document, as YAML>
    -----END JACS SIGNATURE-----

The document (``jacsType`` e.g. ``inline-md``) carries ``content = {inlineSignatureVersion: 1,
canonicalization: "jacs-text-v1", hashAlgorithm: "sha256", signedContentHash}``, where
``signedContentHash`` is base64url (no padding) of SHA-256 of the text before the first block at
column zero, with every CR removed and trailing spaces, tabs and newlines cut (jacs-text-v1).
Several signers each append a block.

:func:`verify_text` gives the library's result shape and words: ``missing_signature``,
``malformed`` (file level) or ``signed`` with one entry per block, each ``valid``,
``invalid_signature``, ``hash_mismatch``, ``key_not_found``, ``unsupported_algorithm`` or
``malformed``.  Each block is verified as the ordinary JACS document it is (hash, schema,
signature), so a block is ``valid`` here only when the whole document verifies.

Where the key comes from differs: jacs looks a signer up by agent id (the loaded agent itself,
a ``--key-dir``, the trust store); here the key is looked up by the block's ``publicKeyHash``
in the keys given (a store's ``public_keys/``), and its hash must match.  The legacy 0.10 mini
blocks (``signatureBlockVersion``) are reported ``malformed`` ("not supported here").
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from .checks import VALID
from .jsontypes import JSONObject
from .verify import KeyResolver, Verdict, verify_document

__all__ = ["BEGIN_MARKER", "END_MARKER", "TextSignature", "TextResult", "verify_text", "content_hash",
           "split_content", "MAX_BLOCKS", "MAX_BLOCK_BYTES"]

BEGIN_MARKER = "-----BEGIN JACS SIGNATURE-----"
END_MARKER = "-----END JACS SIGNATURE-----"
CANONICALIZATION = "jacs-text-v1"
#: the library's limits (its file-level errors)
MAX_BLOCKS = 256
MAX_BLOCK_BYTES = 16 * 1024 * 1024


@dataclass
class TextSignature:
    signer_id: str
    algorithm: str
    timestamp: str
    status: str
    reason: str = ""
    verdict: Verdict | None = None

    def to_dict(self) -> JSONObject:
        out: JSONObject = {"signer_id": self.signer_id, "algorithm": self.algorithm, "timestamp": self.timestamp,
                           "status": self.status}
        if self.reason:
            out["error" if self.status == "malformed" else "reason"] = self.reason
        return out


@dataclass
class TextResult:
    status: str  # "signed", "missing_signature" or "malformed"
    signatures: list[TextSignature] = field(default_factory=list)
    error: str = ""

    @property
    def valid(self) -> bool:
        return self.status == "signed" and bool(self.signatures) and all(s.status == "valid" for s in self.signatures)

    def to_dict(self) -> JSONObject:
        out: JSONObject = {"status": self.status}
        if self.status == "signed":
            out["signatures"] = [s.to_dict() for s in self.signatures]
        if self.error:
            out["error"] = self.error
        return out


def split_content(text: str) -> tuple[str, str]:
    """(the signed text, the rest from the first column-zero BEGIN marker)."""
    if text.startswith(BEGIN_MARKER):
        return "", text
    i = text.find("\n" + BEGIN_MARKER)
    if i < 0:
        return text, ""
    return text[: i + 1], text[i + 1:]


def content_hash(content: str) -> str:
    """jacs-text-v1: CRs removed, trailing spaces/tabs/newlines cut, SHA-256, base64url without padding."""
    normal = content.replace("\r", "").rstrip(" \t\n\r")
    return base64.urlsafe_b64encode(hashlib.sha256(normal.encode("utf-8")).digest()).decode("ascii").rstrip("=")


def _blocks(rest: str) -> tuple[list[str], str | None]:
    """The block bodies (trailing LFs cut), or a file-level error."""
    out: list[str] = []
    s = rest
    while (b := s.find(BEGIN_MARKER)) >= 0:
        after = b + len(BEGIN_MARKER)
        nl = s.find("\n", after)
        if nl < 0:
            return out, "BEGIN marker not followed by newline"
        start = nl + 1
        e = s.find(END_MARKER, start)
        if e < 0:
            return out, "BEGIN marker without matching END marker"
        body = s[start:e].rstrip("\n")
        if len(body.encode("utf-8")) > MAX_BLOCK_BYTES:
            return out, f"block body exceeds {MAX_BLOCK_BYTES} bytes limit (actual: {len(body.encode('utf-8'))})"
        past = e + len(END_MARKER)
        s = s[past + 1:] if s[past:past + 1] == "\n" else s[past:]
        out.append(body)
        if len(out) > MAX_BLOCKS:
            return out, f"exceeds MAX_SIGNATURE_BLOCKS={MAX_BLOCKS}"
    return out, None


def _yaml_loader() -> Any:
    """PyYAML's safe loader without YAML 1.1 timestamps (dates stay strings, as in YAML 1.2)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return Loader


def _parse(body: str) -> tuple[JSONObject | None, str]:
    import yaml

    loader = _yaml_loader()
    try:
        for ev in yaml.parse(body, Loader=loader):
            if isinstance(ev, yaml.AliasEvent) or getattr(ev, "anchor", None):
                return None, "YAML anchors and aliases are not accepted"
            tag = getattr(ev, "tag", None)
            implicit = getattr(ev, "implicit", True)
            if tag is not None and not (any(implicit) if isinstance(implicit, tuple) else implicit):
                return None, "YAML tags are not accepted"
        doc = yaml.load(body, Loader=loader)
    except yaml.YAMLError as exc:
        return None, f"yaml parse error: {str(exc).splitlines()[0]}"
    except RecursionError:
        return None, "yaml parse error: nesting too deep"
    if not isinstance(doc, dict):
        return None, f"yaml parse error on block of {len(body)} bytes"
    if "signatureBlockVersion" in doc:
        return None, "legacy (jacs 0.10) signature blocks are not supported here"
    if not isinstance(doc.get("jacsId"), str) or not isinstance(doc.get("jacsVersion"), str) or \
            "jacsSignature" not in doc:
        return None, "not a full JACS document"
    if not isinstance(doc.get("jacsType"), str):
        return None, "full JACS document missing jacsType"
    content = doc.get("content")
    if not isinstance(content, dict) or type(content.get("inlineSignatureVersion")) is not int:
        return None, "full JACS inline document missing content.inlineSignatureVersion"
    return doc, ""


def _alg_tag(raw: str) -> tuple[str, bool]:
    if raw in ("ring-Ed25519", "ed25519", "Ed25519"):
        return "ed25519", True
    if raw == "pq2025":
        return "pq2025", True
    return raw.lower(), False


def _block(doc: JSONObject, want_hash: str, keys: KeyResolver | None) -> TextSignature:
    sig = doc.get("jacsSignature") if isinstance(doc.get("jacsSignature"), dict) else {}
    assert isinstance(sig, dict)
    signer = sig.get("agentID") if isinstance(sig.get("agentID"), str) else ""
    ts = doc.get("jacsVersionDate") if isinstance(doc.get("jacsVersionDate"), str) else sig.get("date")
    raw_alg = sig.get("signingAlgorithm")
    alg, known = _alg_tag(raw_alg if isinstance(raw_alg, str) else "")
    entry = TextSignature(str(signer), alg, ts if isinstance(ts, str) else "", "malformed")
    content = doc["content"]
    if content.get("inlineSignatureVersion") != 1:
        entry.reason = "unsupported inlineSignatureVersion"
        return entry
    if content.get("canonicalization") != CANONICALIZATION:
        entry.reason = "unsupported canonicalization"
        return entry
    if content.get("hashAlgorithm") != "sha256":
        entry.reason = "unsupported hashAlgorithm"
        return entry
    if content.get("signedContentHash") != want_hash:
        entry.status, entry.reason = "hash_mismatch", "the text was changed after it was signed"
        return entry
    if not known:
        entry.status, entry.reason = "unsupported_algorithm", f"signing algorithm {alg!r} is not supported"
        return entry
    key_hash = sig.get("publicKeyHash")
    pk = None
    if isinstance(key_hash, str) and keys is not None:
        try:
            pk = keys.resolve(key_hash)
        except Exception as exc:  # a store that fails: not found, said why
            entry.status, entry.reason = "key_not_found", f"the key could not be looked up: {exc}"
            return entry
    if pk is None:
        entry.status, entry.reason = "key_not_found", f"the signer's public key {str(key_hash)[:16]}… is not known"
        return entry
    verdict = verify_document(doc, keys)
    entry.verdict = verdict
    if verdict.status == VALID:
        entry.status, entry.reason = "valid", ""
    else:
        entry.status, entry.reason = "invalid_signature", verdict.reason
    return entry


def verify_text(text: str, keys: KeyResolver | None) -> TextResult:
    """Verify every inline signature of *text* (see the module docstring)."""
    content, rest = split_content(text)
    if not rest:
        return TextResult("missing_signature")
    bodies, problem = _blocks(rest)
    if problem:
        return TextResult("malformed", error=problem)
    want = content_hash(content)
    result = TextResult("signed")
    for body in bodies:
        doc, why = _parse(body)
        if doc is None:
            result.signatures.append(TextSignature("", "", "", "malformed", why))
            continue
        result.signatures.append(_block(doc, want, keys))
    return result
