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

One difference, on purpose: jacs checks an attestation's signature with the *verifying* agent's own
key (so it can only verify its own); here the signer's key is found in the store by its
``publicKeyHash``.  The adapters jacs has for ``a2a`` and ``email`` evidence are not reproduced:
for those kinds only the digest is checked, and the detail says so.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
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

__all__ = ["AttestationReport", "attestations", "verify_attestation_full", "iso_duration_seconds"]

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


def _evidence_bytes(data: Any) -> bytes:
    if isinstance(data, str):
        if _B64.match(data):
            try:
                return base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                pass
        return data.encode("utf-8")
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _evidence_ok(e: Any) -> bool:
    """Whether *e* reads as the library's EvidenceRef (items that do not are skipped, as jacs does)."""
    return (isinstance(e, dict) and e.get("kind") in _KINDS and isinstance(e.get("digests"), dict)
            and isinstance(e["digests"].get("sha256"), str) and isinstance(e.get("collectedAt"), str)
            and isinstance(e.get("verifier"), dict) and e.get("sensitivity", "public") in
            ("public", "restricted", "confidential"))


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
        if "embeddedData" in e and e["embeddedData"] is not None:
            digest_ok = hashlib.sha256(_evidence_bytes(e["embeddedData"])).hexdigest() == e["digests"]["sha256"]
            detail = "Evidence digest verified" if digest_ok else "Evidence digest mismatch"
        else:
            digest_ok, detail = False, "Cannot verify referenced evidence without fetching"
        if kind in ("a2a", "email"):
            detail += f" (jacs also runs its {kind} adapter; only the digest is checked here)"
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
