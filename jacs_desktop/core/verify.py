"""Verification of JACS documents, agents and configs (SPEC sections 3, 4, 5, 8).

The result is a :class:`Verdict`: an overall status (``valid``, ``invalid``,
``error``, ``unverifiable``, ``legacy``), one :class:`Check` per rule with a
reason in words, and who signed with which algorithm.  Nothing here raises on
bad input: malformed JSON, wrong types, unknown algorithms all become failed
checks; a resolver that fails (storage) makes the verdict ``error``.

Size: this module is the signature rules of SPEC 4.5 end to end (parse, schema,
hash, signature, attachments, the hooks for agreements and signer identity) —
one path a reviewer can read top to bottom; the parts with their own rules live
beside it (canonical.py, schema.py, agreement.py, agents.py, jacsgzip.py).
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import itertools
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeGuard

from . import agreement as _agreement
from .agreement import agreement_fields, agreement_hash
from .canonical import (
    ONE_PASS,
    CanonicalizationError,
    Parsed,
    StrictJSONError,
    _fast_ok,
    canonical_bytes,
    canonical_fast,
    canonicalize,
    dumps_in_order,
    loads_strict,
    utf16_ordered,
)
from .checks import (
    ERROR,
    FAILED,
    FUTURE_SKEW_SECONDS,
    INVALID,
    LEGACY,
    MAX_DOCUMENT_BYTES,
    OK,
    RESERVED_FIELDS,
    SIGNATURE_V2,
    SKIPPED,
    UNVERIFIABLE,
    VALID,
    WARNING,
    Check,
)
from .crypto import ED25519_PUBLIC_LEN, MLDSA87_PUBLIC_LEN, verify_signature
from .jacsgzip import exact_available, exact_unavailable_reason, external_digests, gzip_like_jacs
from .jsontypes import JSONObject
from .pubkey import normalize_algorithm, public_key_hash
from .schema import validate_document
from .strict_fast import parse_fast

__all__ = [
    "Check",
    "Verdict",
    "PublicKey",
    "KeyRing",
    "KeyResolver",
    "verify_document",
    "verify_bytes",
    "parse_document",
    "claimed_hash",
    "signature_payload",
    "agreement_fields",
    "agreement_hash",
    "validate_relative_path",
    "gzip_like_jacs",
    "MAX_DOCUMENT_BYTES",
    "RESERVED_FIELDS",
    "VALID",
    "INVALID",
    "UNVERIFIABLE",
    "LEGACY",
    # check statuses and rule constants of .checks, re-exported for the callers of this module
    "ERROR",
    "OK",
    "FAILED",
    "WARNING",
    "SKIPPED",
    "SIGNATURE_V2",
    "FUTURE_SKEW_SECONDS",
]


@dataclass
class Verdict:
    status: str
    kind: str = "document"
    id: str | None = None
    version: str | None = None
    signer: str | None = None
    signer_version: str | None = None
    #: the signer's name, set only when the signing key is proven to be one of that agent's keys
    signer_name: str | None = None
    algorithm: str | None = None
    public_key_hash: str | None = None
    checks: list[Check] = field(default_factory=list)
    path: str | None = None
    #: the trust store's word on the signer (jobs/trust.py): "trusted", "not in trust store",
    #: "pin conflict" or "distrusted"; None when not asked. It never changes ``status``.
    trust: str | None = None
    trust_reason: str | None = None

    @property
    def valid(self) -> bool:
        return self.status == VALID

    @property
    def reason(self) -> str:
        """The most important reason, for one-line display."""
        order = {FAILED: 0, ERROR: 1, LEGACY: 2, UNVERIFIABLE: 3, WARNING: 4}
        worst = sorted(
            (c for c in self.checks if c.status in order), key=lambda c: order[c.status]
        )
        if worst and self.status != VALID:
            return worst[0].reason
        return "all checks passed" if self.status == VALID else self.status

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.status == WARNING]

    def to_dict(self) -> JSONObject:
        return {
            "kind": self.kind,
            "id": self.id,
            "version": self.version,
            "status": self.status,
            "checks": [c.to_dict() for c in self.checks],
            "signer": self.signer,
            "signer_version": self.signer_version,
            "signer_name": self.signer_name,
            "algorithm": self.algorithm,
            "public_key_hash": self.public_key_hash,
            "path": self.path,
            **({"trust": self.trust, "trust_reason": self.trust_reason} if self.trust is not None else {}),
        }


@dataclass(frozen=True)
class PublicKey:
    key: bytes
    algorithm: str | None  # content of the .enc_type file, if known
    source: str = ""


class KeyResolver(Protocol):
    def resolve(self, key_hash: str) -> PublicKey | None: ...


class KeyRing:
    """Public keys by ``publicKeyHash``; what ``public_keys/`` holds, in memory."""

    def __init__(self, keys: Iterable[PublicKey] = ()):
        self._by_hash: dict[str, PublicKey] = {}
        for k in keys:
            self.add(k.key, k.algorithm, k.source)

    def add(self, key: bytes, algorithm: str | None = None, source: str = "", key_hash: str | None = None) -> str:
        """Add a key; *key_hash* is the name it was found under (defaults to its hash)."""
        h = key_hash or public_key_hash(key)
        self._by_hash.setdefault(h, PublicKey(bytes(key), algorithm, source))
        return h

    def resolve(self, key_hash: str) -> PublicKey | None:
        return self._by_hash.get(key_hash)

    def __len__(self) -> int:
        return len(self._by_hash)

    def __contains__(self, key_hash: object) -> bool:
        return key_hash in self._by_hash


FileResolver = Callable[[str], "bytes | None"]
#: an earlier version of a document by (jacsId, jacsVersion), parsed; None when the store does not have it
VersionLoader = Callable[[str, str], "JSONObject | None"]


class CheckContext(Protocol):
    """What a rule sees and writes to: the document (or the content a signature covers), the keys,
    the time, and the checks so far. :class:`_Ctx` here, ``_SubCtx`` in core/agreement.py."""

    doc: JSONObject
    keys: KeyResolver | None
    now: float
    canon: _Canon
    checks: list[Check]

    def add(self, name: str, status: str, reason: str) -> Check: ...


class SignerDirectory(Protocol):
    """Who owns which key (core/agents.py): names a signer only when the key is proven to be theirs."""

    def check_signer(self, ctx: CheckContext, verdict: Verdict) -> None:
        """Add identity checks to ``ctx`` (``ctx.add(name, status, reason)``), set ``verdict.signer_name``."""


# ---------------------------------------------------------------------------
# helpers


def _utf16_key(k: str) -> bytes:
    return k.encode("utf-16-be", errors="surrogatepass")


class _Canon:
    """Canonical JSON of a document's top-level members, computed once each and shared by the
    hash and the signature payload.

    *tree* and *marks* come from the strict parse (:attr:`Parsed.tree`): then every member takes
    one C-encoder pass (:func:`canonical_bytes`). Without them (a document that was not parsed
    here) each member goes through :func:`canonicalize`.
    """

    def __init__(self, doc: JSONObject, fast: bool = False, tree: Any = None, marks: tuple[str, ...] = (),
                 key_order: bool | None = None):
        self.doc = doc
        #: True when *tree* (or the document itself) takes the one-pass path
        self.fast = fast
        self.tree: Any = tree if tree is not None else doc
        self.marks = marks
        self.key_order = key_order
        #: a whole object of the tree takes one encoder pass (orjson; no markers to replace)
        self.one_pass = ONE_PASS and fast and not marks
        self._cache: dict[str, bytes] = {}
        self._ordered: Any = None

    def ordered(self) -> Any:
        """The tree with every object in RFC 8785 order (made once: the hash and the signature
        payload both need it when some keys sort differently by UTF-16)."""
        if self._ordered is None:
            self._ordered = utf16_ordered(self.tree)
        return self._ordered

    def value(self, name: str) -> bytes:
        c = self._cache.get(name)
        if c is None:
            c = (canonical_bytes(self.tree[name], self.marks, self.key_order, self.doc[name]) if self.fast
                 else canonicalize(self.doc[name]))
            self._cache[name] = c
        return c

    def object(self, names: Iterable[str]) -> bytes:
        if self.one_pass:  # one pass over the members (sorted by the encoder), not one per member
            if self.key_order:
                ordered = self.ordered()
                out = dumps_in_order({n: ordered[n] for n in sorted(names, key=_utf16_key)})
            else:
                tree = self.tree
                out = canonical_fast({n: tree[n] for n in names}, self.key_order)
            if out is not None:
                return out
        value = self.value
        names = sorted(names)
        if not "".join(names).isascii():  # (ASCII names sort the same by code point and by UTF-16)
            names.sort(key=_utf16_key)
        parts = [_key_bytes(n) + b":" + value(n) for n in names]
        return b"{" + b",".join(parts) + b"}"


@functools.lru_cache(maxsize=4096)
def _key_bytes(name: str) -> bytes:
    return canonicalize(name)


def signature_payload(doc: JSONObject, sig: JSONObject, placement: str, canon: _Canon | None = None) -> bytes:
    """The exact bytes a v2 signature covers (SPEC 4.2)."""
    canon = canon or _Canon(doc)
    fields = sig["fields"]
    if canon.one_pass and canon.doc.get(placement) is sig:  # the whole payload in one encoder pass
        tree = canon.ordered() if canon.key_order else canon.tree
        tree_sig = tree[placement]
        # (the members in RFC 8785 order, so an ordered tree needs no sorting)
        payload = {"domain": "jacs.signature.v2", "fields": [{"name": f, "value": tree[f]} for f in fields],
                   "placementKey": placement,
                   "signatureMetadata": {k: v for k, v in tree_sig.items() if k != "signature"}}
        out = dumps_in_order(payload) if canon.key_order else canonical_fast(payload, canon.key_order)
        if out is not None:
            return out
    items = [b'{"name":' + _key_bytes(f) + b',"value":' + canon.value(f) + b"}" for f in fields]
    if canon.fast and canon.doc.get(placement) is sig:  # the signature's own copy in the canonical tree
        tree_sig = canon.tree[placement]
        meta = canonical_bytes({k: v for k, v in tree_sig.items() if k != "signature"}, canon.marks, canon.key_order,
                               {k: v for k, v in sig.items() if k != "signature"})
    else:
        meta = canonicalize({k: v for k, v in sig.items() if k != "signature"})
    return (
        b'{"domain":"jacs.signature.v2","fields":['
        + b",".join(items)
        + b'],"placementKey":'
        + _key_bytes(placement)
        + b',"signatureMetadata":'
        + meta
        + b"}"
    )


def _legacy_payload(doc: JSONObject, fields: list[Any], canon: _Canon) -> bytes:
    return b" ".join(canon.value(f) for f in fields)


def validate_relative_path(path: Any) -> str | None:
    """Why an attachment path is unsafe (None when it is a clean relative path)."""
    if not isinstance(path, str) or not path:
        return "path is empty or not a string"
    if "\x00" in path or any(ord(c) < 0x20 for c in path):
        return "path contains control characters"
    if path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"):
        return "path is absolute"
    segments = path.replace("\\", "/").split("/")
    if any(s == "" for s in segments):
        return "path contains an empty segment"
    if any(s in (".", "..") for s in segments):
        return "path contains '.' or '..'"
    return None


@functools.lru_cache(maxsize=512)
def _key_hash_cached(key: bytes) -> str:
    return public_key_hash(key)


_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _is_int(v: object) -> TypeGuard[int]:
    return type(v) is int


def _b64decode_strict(text: str) -> bytes:
    """Standard base64 with padding, in its one canonical spelling (the library refuses the others).

    Raises ``ValueError`` with the reason: characters outside the alphabet,
    wrong padding, or non-zero padding bits in the last character (which
    decodes to the same bytes, so it is another spelling of the signature).
    """
    # (strict_mode: the alphabet and the padding checked in C, as b64decode(validate=True) does
    # with a regex first; the same texts pass, property-tested in tests/core)
    raw = binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    if binascii.b2a_base64(raw, newline=False).decode("ascii") != text:
        raise ValueError("its last character carries non-zero padding bits (not the canonical base64 spelling)")
    return raw


# ---------------------------------------------------------------------------
# parsing


def claimed_hash(data: bytes) -> str | None:
    """The ``jacsSha256`` a stored document claims (None if it is not a JACS document)."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return None
    v = doc.get("jacsSha256") if isinstance(doc, dict) else None
    return v if isinstance(v, str) else None


def parse_document(data: bytes | str, max_bytes: int = MAX_DOCUMENT_BYTES) -> tuple[Any, str | None]:
    """Parse JSON bytes as strictly as the library; returns (value, error message or None)."""
    parsed, err = _parse(data, max_bytes)
    return (parsed.value if parsed else None), err


def _parse(data: bytes | str, max_bytes: int, compiled: bool = True) -> tuple[Parsed | None, str | None]:
    """The strict parse (or the reason it fails). Bytes take the compiled parse
    (core/strict_fast.py) when it can decide, else :func:`loads_strict`, the reference, which
    words every refusal; *compiled* False: the reference alone (the tests compare the two)."""
    size = len(data)
    if size > max_bytes:
        return None, (
            f"document is {size / 1048576:.1f} MiB, larger than the {max_bytes / 1048576:.0f} MiB limit; "
            "it was not parsed"
        )
    try:
        if isinstance(data, bytes):
            if data.startswith(b"\xef\xbb\xbf"):
                return None, "document starts with a UTF-8 byte-order mark, which JSON forbids and the library refuses"
            fast = parse_fast(data) if compiled else None  # (None: loads_strict decides)
            if fast is not None:
                return fast, None
            return loads_strict(data.decode("utf-8"), data), None
        if data.startswith("\ufeff"):
            return None, "document starts with a byte-order mark, which JSON forbids and the library refuses"
        return loads_strict(data), None
    except UnicodeDecodeError as exc:
        return None, f"document is not valid UTF-8 ({exc.reason} at byte {exc.start})"
    except RecursionError:
        return None, "document nesting is too deep to parse"
    except StrictJSONError as exc:
        return None, f"document is not acceptable JSON: {exc}"
    except ValueError as exc:
        return None, f"document is not valid JSON: {exc}"


# ---------------------------------------------------------------------------
# the verifier


class _Ctx:
    def __init__(self, doc: JSONObject, keys: KeyResolver | None, files: FileResolver | None, now: float | None,
                 fast: bool, parsed: Parsed | None = None):
        self.doc = doc
        self.keys = keys
        self.files = files
        self.canon = (_Canon(doc, True, parsed.tree, parsed.marks, parsed.key_order) if parsed is not None
                      else _Canon(doc, fast))
        self.checks: list[Check] = []
        self.now = time.time() if now is None else now
        #: earlier versions of the document, for agreements v2 (core/agreement.py looks for it)
        self.load_version: VersionLoader | None = None

    def add(self, name: str, status: str, reason: str) -> Check:
        c = Check(name, status, reason)
        self.checks.append(c)
        return c


def _kind_of(doc: JSONObject) -> str:
    t = doc.get("jacsType")
    if t == "agent":
        return "agent"
    if t == "config" or (isinstance(doc.get("$schema"), str) and doc["$schema"].endswith("jacs.config.schema.json")):
        return "config"
    return "document"


def _resolve_key(ctx: CheckContext, key_hash: str) -> PublicKey | None:
    if ctx.keys is None:
        return None
    try:
        return ctx.keys.resolve(key_hash)
    except Exception as exc:  # a resolver backed by storage may fail
        # a storage failure, not a property of the document: "error" (not checked), never "invalid"
        ctx.add("key", ERROR, f"not checked: looking up the public key failed: {exc}")
        return None


def _key_family(pk: PublicKey) -> str | None:
    fam = normalize_algorithm(pk.algorithm) if pk.algorithm else None
    if fam:
        return fam
    if pk.algorithm:
        return None
    if len(pk.key) == ED25519_PUBLIC_LEN:
        return "ed25519"
    if len(pk.key) == MLDSA87_PUBLIC_LEN:
        return "pq2025"
    return None


def _check_signature(
    ctx: CheckContext,
    sig: Any,
    placement: str,
    label: str,
    enforce_unsigned_rule: bool,
    expected_fields: list[str] | None = None,
) -> str:
    """Run SPEC 4.5 for one signature object; returns the check status it ended in."""
    doc = ctx.doc
    if not isinstance(sig, dict):
        ctx.add(label, FAILED, f"{placement} signature is not a JSON object")
        return FAILED
    problems = []
    iat = sig.get("iat")
    if not _is_int(iat) or iat < 0:
        problems.append("'iat' must be a non-negative integer")
    jti = sig.get("jti")
    if not isinstance(jti, str) or not jti:
        problems.append("'jti' must be a non-empty string")
    fields = sig.get("fields")
    if not isinstance(fields, list) or not all(map(isinstance, fields, itertools.repeat(str))):  # (in C)
        problems.append("'fields' must be a list of field names")
        fields = None
    signature_b64 = sig.get("signature")
    if not isinstance(signature_b64, str) or not signature_b64:
        problems.append("'signature' is missing")
    key_hash = sig.get("publicKeyHash")
    if not isinstance(key_hash, str) or not key_hash:
        problems.append("'publicKeyHash' is missing")
    for name in ("agentID", "agentVersion"):
        if name in sig and not isinstance(sig[name], str):
            problems.append(f"'{name}' must be a string")
        elif name in sig and _UUID_TEXT.fullmatch(sig[name]) is None:
            # the library's identity binding parses "{agentID}:{agentVersion}" as two UUIDs in their
            # one canonical spelling (lowercase, hyphenated); any other spelling names a different agent
            problems.append(f"'{name}' {sig[name][:40]!r} is not a UUID in lowercase hyphenated form "
                            "(identity binding)")
    # (the tests after `problems` only narrow the types: each of them added a problem above)
    if problems or fields is None or not isinstance(signature_b64, str) or not isinstance(key_hash, str):
        ctx.add(label, FAILED, f"{placement}: " + "; ".join(problems))
        return FAILED
    if _is_int(iat) and iat > ctx.now + FUTURE_SKEW_SECONDS:
        ctx.add(label + " date", WARNING, f"{placement} is dated in the future (iat {iat})")

    # field list rules (set operations decide; the first offending name, in order, is named)
    covered = set(fields)
    if not covered <= doc.keys():
        missing = next(f for f in fields if f not in doc)
        ctx.add(label, FAILED, f"{placement} lists field '{missing}' that the document does not have")
        return FAILED
    if placement in covered or not covered.isdisjoint(RESERVED_FIELDS):
        reserved = next(f for f in fields if f in RESERVED_FIELDS or f == placement)
        ctx.add(label, FAILED, f"{placement} lists the reserved field '{reserved}'")
        return FAILED
    if expected_fields is not None and fields != expected_fields:
        ctx.add(label, FAILED, f"{placement} signature does not cover exactly the agreement fields")
        return FAILED
    if enforce_unsigned_rule and len(doc) > len(covered) and not (doc.keys() - covered <= RESERVED_FIELDS):
        k = next(k for k in doc if k not in covered and k not in RESERVED_FIELDS)
        ctx.add(
            label,
            FAILED,
            f"Unsigned top-level field '{k}' is present but not covered by '{placement}.fields'; "
            "the signature does not authenticate it.",
        )
        return FAILED

    version = sig.get("signatureContentVersion", None)
    legacy = "signatureContentVersion" not in sig
    if not legacy and version != SIGNATURE_V2:
        ctx.add(label, FAILED, f"{placement}: unknown signatureContentVersion {version!r}")
        return FAILED

    alg = sig.get("signingAlgorithm")
    if not legacy and (not isinstance(alg, str) or not alg):
        ctx.add(label, FAILED, f"{placement}: a v2 signature requires an explicit signingAlgorithm")
        return FAILED
    family = normalize_algorithm(alg)
    if family is None and not legacy:
        ctx.add(label, UNVERIFIABLE, f"{placement}: signing algorithm {alg!r} is not supported")
        return UNVERIFIABLE

    pk = _resolve_key(ctx, key_hash)
    if pk is None:
        if not any(c.name == "key" for c in ctx.checks):
            ctx.add(label + " key", UNVERIFIABLE, f"public key {key_hash[:16]}… of the signer was not found")
        if legacy:
            ctx.add(label, LEGACY, f"{placement} uses legacy v1 signature content (no signatureContentVersion); "
                    "jacs 0.15 refuses to verify it")
            return LEGACY
        return UNVERIFIABLE
    key_family = _key_family(pk)
    if family is None and legacy:
        family = key_family
    if key_family is None:
        ctx.add(label + " key", UNVERIFIABLE, f"the public key's algorithm {pk.algorithm!r} is not supported")
        return UNVERIFIABLE
    if key_family != family:
        ctx.add(label + " key", FAILED, "Signed algorithm does not match the supplied public key algorithm")
        return FAILED
    actual_hash = _key_hash_cached(pk.key)
    if actual_hash != key_hash:
        ctx.add(label + " key", FAILED, f"the public key found for {key_hash[:16]}… hashes to {actual_hash[:16]}…")
        return FAILED
    ctx.add(label + " key", OK, f"{family} public key {key_hash[:16]}…" + (f" from {pk.source}" if pk.source else ""))

    try:
        signature = _b64decode_strict(signature_b64)
    except (binascii.Error, UnicodeEncodeError):
        ctx.add(label, FAILED, f"{placement}: 'signature' is not valid base64")
        return FAILED
    except ValueError as exc:
        ctx.add(label, FAILED, f"{placement}: 'signature' is not valid base64: {exc}")
        return FAILED
    try:
        if legacy:
            payload = _legacy_payload(doc, fields, ctx.canon)
        else:
            payload = signature_payload(doc, sig, placement, ctx.canon)
    except CanonicalizationError as exc:
        ctx.add(label, FAILED, f"{placement}: signed content cannot be canonicalized: {exc}")
        return FAILED
    ok, why = verify_signature(family, pk.key, payload, signature)
    if legacy:
        ctx.add(
            label,
            LEGACY,
            f"{placement} uses legacy v1 signature content (no signatureContentVersion), which jacs 0.15 "
            f"refuses; the v1 signature {'holds' if ok else 'does NOT hold'}",
        )
        return LEGACY
    if not ok:
        ctx.add(label, FAILED, f"{placement}: {why}")
        return FAILED
    ctx.add(label, OK, f"{placement}: {why}")
    return OK


def _check_schema(ctx: _Ctx, integral_floats: bool) -> None:
    try:
        problems = validate_document(ctx.doc, integral_floats=integral_floats)
    except RecursionError:
        ctx.add("schema", FAILED, "document nesting is too deep to validate")
        return
    for p in problems:
        extra = "" if p.library else (
            " (the document names this schema; jacs's verify checks only the header schema, JACS Desktop checks both)")
        ctx.add("schema", FAILED, p.reason + extra)
    if not problems:
        named = ctx.doc.get("$schema")
        ctx.add("schema", OK, f"satisfies {named if isinstance(named, str) else 'the header schema'}")


def _check_hash(ctx: _Ctx) -> None:
    claimed = ctx.doc.get("jacsSha256")
    if not isinstance(claimed, str):
        ctx.add("hash", FAILED, "document has no jacsSha256")
        return
    try:
        names = [k for k in ctx.doc if k != "jacsSha256"]
        computed = hashlib.sha256(ctx.canon.object(names)).hexdigest()
    except CanonicalizationError as exc:
        ctx.add("hash", FAILED, f"document cannot be canonicalized: {exc}")
        return
    if computed != claimed:
        ctx.add("hash", FAILED,
                f"jacsSha256 does not match the content (claimed {claimed[:16]}…, computed {computed[:16]}…)")
    else:
        ctx.add("hash", OK, f"jacsSha256 matches ({computed[:16]}…)")


def _check_files(ctx: _Ctx) -> None:
    files = ctx.doc.get("jacsFiles")
    if files is None:
        return
    if not isinstance(files, list):
        ctx.add("attachments", FAILED, "jacsFiles is not a list")
        return
    for i, entry in enumerate(files):
        label = f"attachment {i + 1}"
        if not isinstance(entry, dict):
            ctx.add(label, FAILED, "attachment entry is not a JSON object")
            continue
        path = entry.get("path")
        shown = path if isinstance(path, str) else f"#{i + 1}"
        label = f"attachment {shown}"
        sha = entry.get("sha256")
        if not isinstance(sha, str):
            ctx.add(label, FAILED, "attachment has no sha256")
            continue
        if entry.get("embed") is True:
            contents = entry.get("contents")
            if not isinstance(contents, str):
                ctx.add(label, FAILED, "embedded attachment has no contents")
                continue
            got = hashlib.sha256(contents.encode("utf-8", errors="surrogatepass")).hexdigest()
            if got != sha:
                ctx.add(label, FAILED, f"Hash mismatch: embedded contents may have been tampered with "
                        f"(expected {sha[:16]}…, got {got[:16]}…)")
            else:
                ctx.add(label, OK, "embedded contents match their sha256")
            continue
        bad = validate_relative_path(path)
        if bad or not isinstance(path, str):  # (a path without a problem is a str: the test narrows the type)
            ctx.add(label, FAILED, f"Invalid jacsFiles path: {bad}")
            continue
        if ctx.files is None:
            ctx.add(label, UNVERIFIABLE, "external attachment: no file location to check it against")
            continue
        try:
            data = ctx.files(path)
        except Exception as exc:
            ctx.add(label, ERROR, f"not checked: the external attachment could not be read: {exc}")
            continue
        if data is None:
            ctx.add(label, UNVERIFIABLE, "external attachment file was not found")
            continue
        found = list(external_digests(data))  # the library's exact stream first; cached per file content
        matched = next((how for how, digest in found if digest == sha), None)
        if matched == "jacs":
            ctx.add(label, OK, "external file matches its sha256")
        elif matched is not None:
            # intact, but recorded from another gzip stream than the library's: jacs reports a hash
            # mismatch for it, so it must not be "valid" here either
            ctx.add(label, FAILED, "the external file is intact, but its sha256 was recorded from a zlib gzip "
                    "stream (as JACS Desktop 0.1 wrote) instead of the jacs library's; jacs rejects it as a hash "
                    "mismatch. Sign the document again to fix it.")
        elif exact_available():
            got = found[0][1] if found else "?"
            ctx.add(label, FAILED, f"Hash mismatch: the external file has changed since it was signed "
                    f"(expected {sha[:16]}…, got {got[:16]}…)")
        else:
            ctx.add(label, UNVERIFIABLE, "external file could not be checked: the jacs library's gzip stream "
                    f"cannot be reproduced here ({exact_unavailable_reason()})")


def verify_document(
    doc: Any,
    keys: KeyResolver | None = None,
    files: FileResolver | None = None,
    *,
    now: float | None = None,
    path: str | None = None,
    numbers_checked: bool = False,
    signers: SignerDirectory | None = None,
    integral_floats: bool = True,
    versions: VersionLoader | None = None,
    parsed: Parsed | None = None,
) -> Verdict:
    """Verify a parsed JACS document, agent or config. Never raises on bad input.

    *numbers_checked*, *integral_floats* and *parsed* are for :func:`verify_bytes`:
    the parser already saw that every number is written the same by Python and by
    JCS (or made the tree for canonical JSON that marks the others), and whether
    any number is an integral float.
    """
    if not isinstance(doc, dict):
        return Verdict(INVALID, "unknown", checks=[Check("structure", FAILED, "document is not a JSON object")],
                       path=path)
    if parsed is not None and parsed.value is doc and parsed.tree is not None:
        ctx = _Ctx(doc, keys, files, now, True, parsed)
    else:
        try:
            fast = numbers_checked or _fast_ok(doc)
        except RecursionError:
            fast = False
        ctx = _Ctx(doc, keys, files, now, fast)
    if versions is not None:
        ctx.load_version = versions  # agreements v2: the library checks every stored earlier version too
    kind = _kind_of(doc)
    verdict = Verdict(INVALID, kind, path=path)
    jid, jver = doc.get("jacsId"), doc.get("jacsVersion")
    verdict.id = jid if isinstance(jid, str) else None
    verdict.version = jver if isinstance(jver, str) else None
    structure = []
    if not isinstance(jid, str) or not jid:
        structure.append("jacsId is missing or not a string")
    if not isinstance(jver, str) or not jver:
        structure.append("jacsVersion is missing or not a string")
    sig = doc.get("jacsSignature")
    if sig is None:
        structure.append("document is not signed (no jacsSignature)")
    if structure:
        ctx.add("structure", FAILED, "; ".join(structure))
    _check_schema(ctx, integral_floats)
    if isinstance(sig, dict):
        for attr, key in (("signer", "agentID"), ("signer_version", "agentVersion"),
                          ("algorithm", "signingAlgorithm"), ("public_key_hash", "publicKeyHash")):
            v = sig.get(key)
            setattr(verdict, attr, v if isinstance(v, str) else None)

    try:
        _check_hash(ctx)
        if sig is not None:
            _check_signature(ctx, sig, "jacsSignature", "signature", True)
        _check_files(ctx)
        # --- agreements (core/agreement.py) ---
        _agreement.check_agreements(ctx, _check_signature)
        # --- end agreements ---
        # --- signer identity (core/agents.py) ---
        if signers is not None and isinstance(sig, dict):
            signers.check_signer(ctx, verdict)
        # --- end signer identity ---
        if "jacsRegistration" in doc:
            _check_signature(ctx, doc["jacsRegistration"], "jacsRegistration", "registration", False)
        if kind == "agent" and isinstance(sig, dict) and verdict.signer and verdict.id and verdict.signer != verdict.id:
            ctx.add("self-signature", WARNING, "agent document is not signed by the agent itself")
        if kind == "config" and isinstance(sig, dict):
            idv = doc.get("jacs_agent_id_and_version")
            if isinstance(idv, str) and verdict.signer and not idv.startswith(verdict.signer + ":"):
                ctx.add("config signer", WARNING, "config is not signed by the agent it configures")
    except RecursionError:
        ctx.add("structure", FAILED, "document nesting is too deep")
    except Exception as exc:  # a verifier bug must never crash a job, and never leave a "valid"
        import logging

        logging.getLogger(__name__).exception("verifier error on %s", path or verdict.id)
        ctx.add("verifier", UNVERIFIABLE, f"not fully checked: the verifier hit an unexpected error "
                f"({type(exc).__name__}: {exc})")

    verdict.checks = ctx.checks
    statuses = {c.status for c in ctx.checks}
    if FAILED in statuses:
        verdict.status = INVALID
    elif ERROR in statuses:
        verdict.status = ERROR
    elif LEGACY in statuses:
        verdict.status = LEGACY
    elif UNVERIFIABLE in statuses:
        verdict.status = UNVERIFIABLE
    else:
        verdict.status = VALID
    return verdict


def verify_bytes(
    data: bytes | str,
    keys: KeyResolver | None = None,
    files: FileResolver | None = None,
    *,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    path: str | None = None,
    now: float | None = None,
    signers: SignerDirectory | None = None,
    versions: VersionLoader | None = None,
) -> Verdict:
    """Parse and verify; a parse failure is an ``invalid`` verdict with the reason."""
    parsed, err = _parse(data, max_bytes)
    if parsed is None:
        return Verdict(INVALID, "unknown", checks=[Check("parse", FAILED, err or "document cannot be parsed")],
                       path=path)
    return verify_document(parsed.value, keys, files, path=path, now=now, numbers_checked=parsed.safe,
                           signers=signers, integral_floats=parsed.integral_floats, versions=versions, parsed=parsed)
