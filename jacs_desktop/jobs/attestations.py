"""Attestations (``jacsType: attestation``; ``attestation-transform-receipt`` when derived): subject,
claims, evidence and derivation chain, and the
checks of the library's *full* verification tier (``verify_attestation_full``), in its report shape::

    {"valid", "crypto": {"signatureValid", "hashValid", "signerId", "algorithm"},
     "evidence": [{"kind", "digestValid", "freshnessValid", "detail"}],
     "chain": {"valid", "depth", "maxDepth", "links": [{"documentId", "valid", "detail"}]} | null,
     "errors": [...]}

As in jacs 0.15: embedded evidence is re-hashed (a string is base64-decoded when it decodes, else
taken as text; any other JSON value as its compact JSON with sorted keys) and compared with
``digests.sha256``; evidence that is only referenced cannot be checked ("without fetching"); with
``policyContext.maxEvidenceAge`` (ISO 8601 duration; a month is 30.44 days, a year 365.25) each
item's ``collectedAt`` must be that recent; confidential evidence that is embedded is an error
(but does not make the report invalid); every ``derivation.inputs[].id`` must be a stored
document that verifies, recursively, at most ``JACS_MAX_DERIVATION_DEPTH`` (10) deep.

Embedded bytes, as jacs 0.15 reads them (checked against the library): a string is base64-decoded
when it is canonical standard base64 (padded, no stray bits: ``YWJ=`` is text), else taken as UTF-8
text; any other JSON value is serialised as serde_json does (compact, keys sorted, floats in Rust's
shortest form: ``1e-7``, ``0.00001``, ``1000000000000000.0``).

``a2a`` and ``email`` evidence goes through the library's adapters, which are *digest only* (their
details say so: the A2A protocol signature and signer trust, or the email signature and sender
identity, are not verified, and no network is used): the a2a adapter reads the bytes as above; the
email adapter only decodes a base64 string, and takes anything else (text, a JSON value) as no bytes
at all, so such an item holds exactly when its digest is the SHA-256 of nothing.  Referenced a2a and
email evidence fails with the adapter's words, not "without fetching".

One difference, on purpose: jacs checks an attestation's signature with the *verifying* agent's own
key (so it can only verify its own); here the signer's key is found in the store by its
``publicKeyHash``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

from ..core.checks import OK
from ..core.jsontypes import JSONObject
from ..core.verify import Verdict
from ..storage.base import StorageError
from ..storage.store import Store

__all__ = ["AttestationReport", "attestations", "verify_attestation_full", "iso_duration_seconds", "check_evidence",
           "serde_json_compact", "rust_float"]

_KINDS = ("a2a", "email", "jwt", "tlsnotary", "custom")
_B64 = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")


def iso_duration_seconds(text: str) -> int:
    """The library's ISO 8601 duration reading (raises ValueError as it errors)."""
    if not text.startswith("P"):
        raise ValueError(f"Invalid ISO 8601 duration: must start with 'P': '{text}'")
    seconds, in_time, num = 0, False, ""
    units_date = {"Y": 365.25 * 86400, "M": 30.44 * 86400, "D": 86400.0}
    units_time = {"H": 3600.0, "M": 60.0, "S": 1.0}
    for ch in text[1:]:
        if ch == "T":
            in_time = True
        elif ch.isdigit() or ch == ".":
            num += ch
        elif ch in (units_time if in_time else units_date):
            try:
                n = float(num)
            except ValueError:
                raise ValueError(f"Invalid number in duration: '{num}'") from None
            seconds += int(n * (units_time if in_time else units_date)[ch])
            num = ""
        else:
            raise ValueError(f"Unexpected character '{ch}' in ISO 8601 duration '{text}'")
    if seconds == 0 and num:
        raise ValueError(f"Incomplete ISO 8601 duration: '{text}'")
    return seconds


def _rfc3339_seconds(text: str) -> float:
    from datetime import datetime

    t = text.strip()
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?([+-]\d\d:\d\d)$", t)
    if not m:
        raise ValueError(f"Invalid collectedAt timestamp '{text}'")
    frac = float(m.group(2)) if m.group(2) else 0.0
    return datetime.fromisoformat(m.group(1) + m.group(3)).timestamp() + frac


@dataclass
class AttestationReport:
    valid: bool
    crypto: JSONObject
    evidence: list[JSONObject] = field(default_factory=list)
    chain: JSONObject | None = None
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> JSONObject:
        return {"valid": self.valid, "crypto": self.crypto, "evidence": self.evidence, "chain": self.chain,
                "errors": self.errors}


def _canonical_b64(text: str) -> bytes | None:
    """The bytes of *text* when it is canonical padded standard base64 (as Rust's ``STANDARD`` engine
    decodes: non-zero trailing bits are refused), else None."""
    if not _B64.match(text):
        return None
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if base64.b64encode(data).decode("ascii") == text else None


def rust_float(x: float) -> str:
    """*x* as serde_json writes an f64 (ryu's shortest digits, its choice of plain or exponent form)."""
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    if not math.isfinite(x):
        raise ValueError("not a JSON number")
    mant, _, exp = repr(abs(x)).partition("e")
    ip, _, fp = mant.partition(".")
    digits = (ip + fp).lstrip("0")
    k = (int(exp) if exp else 0) - len(fp)
    stripped = digits.rstrip("0")
    k += len(digits) - len(stripped)
    digits, n = stripped, len(stripped)
    kk = n + k  # 10^(kk-1) <= |x| < 10^kk
    if k >= 0 and kk <= 16:
        out = digits + "0" * k + ".0"
    elif 0 < kk <= 16:
        out = f"{digits[:kk]}.{digits[kk:]}"
    elif -5 < kk <= 0:
        out = "0." + "0" * -kk + digits
    elif n == 1:
        out = f"{digits}e{kk - 1}"
    else:
        out = f"{digits[0]}.{digits[1:]}e{kk - 1}"
    return ("-" if x < 0 else "") + out


def serde_json_compact(value: Any) -> str:
    """*value* as ``serde_json::to_string`` writes a parsed ``Value`` (keys sorted: no preserve_order)."""
    if value is None or isinstance(value, bool):
        return "true" if value is True else "false" if value is False else "null"
    if isinstance(value, int):
        return str(value) if -(2**63) <= value < 2**64 else rust_float(float(value))
    if isinstance(value, float):
        return rust_float(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(serde_json_compact(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + serde_json_compact(value[k])
                              for k in sorted(value)) + "}"
    raise ValueError(f"not a JSON value: {type(value).__name__}")


def _evidence_bytes(kind: str, data: Any) -> bytes | None:
    """The bytes the library hashes for embedded evidence of *kind* (None: none it could read)."""
    try:
        if isinstance(data, str):
            decoded = _canonical_b64(data)
            if decoded is not None:
                return decoded
            return b"" if kind == "email" else data.encode("utf-8")
        if kind == "email":
            return b""
        return serde_json_compact(data).encode("utf-8")
    except (UnicodeEncodeError, ValueError, RecursionError):  # a lone surrogate: jacs cannot read it either
        return None


#: (verified, not verified) details of the library's digest-only adapters
_ADAPTER_DETAILS = {
    "a2a": ("Embedded A2A evidence bytes match the recorded digest; A2A protocol signature and signer trust "
            "were not verified",
            "A2A evidence digest could not be verified; A2A protocol signature and signer trust were not verified"),
    "email": ("Embedded email evidence bytes match the recorded digest; email signature and sender identity "
              "were not verified",
              "Email evidence digest could not be verified; email signature and sender identity were not verified"),
}


def check_evidence(e: JSONObject) -> tuple[bool, str]:
    """(digest valid, detail) of one evidence item, as the library's full tier words it."""
    kind = str(e.get("kind"))
    data = e.get("embeddedData")
    raw = _evidence_bytes(kind, data) if data is not None else None
    ok = raw is not None and hashlib.sha256(raw).hexdigest() == e["digests"]["sha256"]
    if kind in _ADAPTER_DETAILS:
        return ok, _ADAPTER_DETAILS[kind][0 if ok else 1]
    if data is None:
        return False, "Cannot verify referenced evidence without fetching"
    return ok, "Evidence digest verified" if ok else "Evidence digest mismatch"


def _evidence_ok(e: Any) -> bool:
    """Whether *e* reads as the library's ``EvidenceRef`` (serde's rules: items that do not are skipped,
    as jacs skips them): a known kind; ``digests.sha256`` a string, ``sha512`` a string or null, any
    other digest a string; ``collectedAt`` a string; ``uri`` / ``resolvedAt`` strings or null;
    ``embedded`` a boolean when present; ``sensitivity`` one of three words when present; ``verifier``
    with string ``name`` and ``version``.  Other fields are ignored."""
    if not isinstance(e, dict) or e.get("kind") not in _KINDS or not isinstance(e.get("collectedAt"), str):
        return False
    digests, verifier = e.get("digests"), e.get("verifier")
    if not isinstance(digests, dict) or not isinstance(digests.get("sha256"), str) or not all(
            isinstance(v, str) or (k == "sha512" and v is None) for k, v in digests.items()):
        return False
    if not isinstance(verifier, dict) or not isinstance(verifier.get("name"), str) or \
            not isinstance(verifier.get("version"), str):
        return False
    if any(k in e and e[k] is not None and not isinstance(e[k], str) for k in ("uri", "resolvedAt")):
        return False
    if "embedded" in e and not isinstance(e["embedded"], bool):
        return False
    return "sensitivity" not in e or e["sensitivity"] in ("public", "restricted", "confidential")


def _crypto(verdict: Verdict) -> tuple[bool, bool]:
    """(hash valid, signature valid) from a verdict."""
    def ok(name: str) -> bool:
        return any(c.name == name and c.status == OK for c in verdict.checks)
    return ok("hash"), ok("signature")


def _find(store: Store, doc_id: str) -> tuple[JSONObject | None, Verdict | None]:
    """A stored document named ``id:version`` (or ``id``: its latest version)."""
    jid, _, ver = doc_id.partition(":")
    refs = [r for r in store.documents().get(jid, []) if not ver or r.version == ver]
    if not refs:
        return None, None
    node = store.latest(store.history(refs))
    ref = next(r for r in refs if node is not None and r.version == node.version)
    try:
        doc = store.read_json(ref.key)
    except StorageError:
        return None, None
    return doc, store.verify(ref)


def _chain(store: Store, doc: JSONObject, depth: int, max_depth: int) -> JSONObject:
    if depth >= max_depth:
        raise ValueError(f"Derivation chain depth {depth} exceeds maximum {max_depth} "
                         "(set JACS_MAX_DERIVATION_DEPTH to increase)")
    att = doc.get("attestation") if isinstance(doc.get("attestation"), dict) else {}
    assert isinstance(att, dict)
    derivation = att.get("derivation")
    links: list[JSONObject] = []
    valid = True
    inputs = derivation.get("inputs") if isinstance(derivation, dict) else None
    for inp in inputs if isinstance(inputs, list) else []:
        if not isinstance(inp, dict) or not isinstance(inp.get("id"), str):
            continue
        found, verdict = _find(store, inp["id"])
        if found is None or verdict is None:
            sha = inp.get("digests", {}).get("sha256") if isinstance(inp.get("digests"), dict) else None
            links.append({"documentId": inp["id"], "valid": False, "detail": "Input document not found in storage"
                          + (f" (expected sha256: {sha})" if isinstance(sha, str) else "")})
            valid = False
            continue
        hash_ok, sig_ok = _crypto(verdict)
        link_ok = hash_ok and sig_ok
        valid = valid and link_ok
        links.append({"documentId": inp["id"], "valid": link_ok, "detail": "Input document verified" if link_ok
                      else f"Input document verification failed (hash: {str(hash_ok).lower()}, "
                           f"sig: {str(sig_ok).lower()})"})
        sub_att = found.get("attestation")
        if isinstance(sub_att, dict) and sub_att.get("derivation") is not None:
            try:
                sub = _chain(store, found, depth + 1, max_depth)
                valid = valid and bool(sub["valid"])
                links.extend(sub["links"])
            except ValueError as exc:
                valid = False
                links.append({"documentId": inp["id"], "valid": False, "detail": f"Sub-chain error: {exc}"})
    return {"valid": valid, "depth": depth + 1, "maxDepth": max_depth, "links": links}


def verify_attestation_full(store: Store, doc: JSONObject, verdict: Verdict, *,
                            now: float | None = None) -> AttestationReport:
    """The full-tier report of attestation *doc* (its *verdict* from ``store.verify``)."""
    hash_ok, sig_ok = _crypto(verdict)
    sig = doc.get("jacsSignature") if isinstance(doc.get("jacsSignature"), dict) else {}
    assert isinstance(sig, dict)
    report = AttestationReport(False, {"signatureValid": sig_ok, "hashValid": hash_ok,
                                       "signerId": str(sig.get("agentID") or ""),
                                       "algorithm": str(sig.get("signingAlgorithm") or "")})
    if not hash_ok:
        report.errors.append("Document hash verification failed")
    if not sig_ok:
        why = next((c.reason for c in verdict.checks if c.name == "signature"), verdict.reason)
        report.errors.append(f"Signature verification failed: {why}")
    att = doc.get("attestation") if isinstance(doc.get("attestation"), dict) else {}
    assert isinstance(att, dict)
    policy = att.get("policyContext") if isinstance(att.get("policyContext"), dict) else {}
    assert isinstance(policy, dict)
    max_age = policy.get("maxEvidenceAge") if isinstance(policy.get("maxEvidenceAge"), str) else None
    clock = time.time() if now is None else now
    evidence = att.get("evidence")
    for e in evidence if isinstance(evidence, list) else []:
        if not _evidence_ok(e):
            continue
        kind = e["kind"]
        digest_ok, detail = check_evidence(e)
        item: JSONObject = {"kind": kind, "digestValid": digest_ok, "freshnessValid": True, "detail": detail}
        if max_age is not None:
            try:
                fresh = clock - _rfc3339_seconds(e["collectedAt"]) <= iso_duration_seconds(max_age)
                item["freshnessValid"] = fresh
                if not fresh:
                    report.errors.append(f"Evidence '{kind}' is stale: collected at {e['collectedAt']} exceeds "
                                         f"maxEvidenceAge {max_age}")
            except ValueError as exc:
                item["freshnessValid"] = False
                report.errors.append(f"Failed to check evidence freshness: {exc}")
        if not digest_ok:
            report.errors.append(f"Evidence '{kind}' digest verification failed")
        if e.get("sensitivity") == "confidential" and e.get("embedded") is True:
            report.errors.append(f"Evidence '{kind}' is marked confidential but has embedded data — confidential "
                                 "evidence should not be embedded")
        report.evidence.append(item)
    if att.get("derivation") is not None:
        try:
            max_depth = int(os.environ.get("JACS_MAX_DERIVATION_DEPTH", "10"))
        except ValueError:
            max_depth = 10
        try:
            report.chain = _chain(store, doc, 0, max_depth)
            if not report.chain["valid"]:
                report.errors.append("Derivation chain verification failed")
        except ValueError as exc:
            report.errors.append(f"Derivation chain error: {exc}")
            report.chain = {"valid": False, "depth": 0, "maxDepth": max_depth, "links": []}
    report.valid = (hash_ok and sig_ok and all(bool(x["digestValid"]) and bool(x["freshnessValid"])
                                               for x in report.evidence)
                    and (report.chain is None or bool(report.chain["valid"])))
    return report


@dataclass
class AttestationRow:
    id: str
    version: str
    subject: JSONObject
    claims: list[Any]
    evidence: list[Any]
    derivation: Any
    report: AttestationReport


def attestations(store: Store, *, now: float | None = None) -> list[AttestationRow]:
    """Every attestation in *store* (latest version of each), with its full-tier report."""
    out = []
    for doc_id, refs in sorted(store.documents().items()):
        node = store.latest(store.history(refs))
        ref = next((r for r in refs if node is not None and r.version == node.version), None)
        if ref is None:
            continue
        try:
            doc = store.read_json(ref.key)
        except StorageError:
            continue
        jtype = doc.get("jacsType")
        if not (isinstance(jtype, str) and jtype.startswith("attestation")) or \
                not isinstance(doc.get("attestation"), dict):
            continue
        att = doc["attestation"]
        out.append(AttestationRow(doc_id, ref.version, att.get("subject") if isinstance(att.get("subject"), dict)
                                  else {}, att.get("claims") if isinstance(att.get("claims"), list) else [],
                                  att.get("evidence") if isinstance(att.get("evidence"), list) else [],
                                  att.get("derivation"), verify_attestation_full(store, doc, store.verify(ref),
                                                                                 now=now)))
    return out
