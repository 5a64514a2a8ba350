"""Agreements: v1 (`jacsAgreement`, SPEC 2.5) and v2/v3 (`jacsType: agreement`, SPEC 12.4).

Size: v2 alone has a dozen rules the library enforces (structure, consent hash,
controllers, roles, transcript, status, history, policy); keeping v1, v2 and v3
together keeps one place that answers "what does an agreement need to be valid".

Pure functions over a parsed document.  :func:`check_agreements` is called by
:func:`jacs_desktop.core.verify.verify_document` with its check context and its
signature checker, so this module never imports ``verify`` (no import circle).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard

from .canonical import CanonicalizationError, canonicalize
from .checks import FAILED, LEGACY, OK, RESERVED_FIELDS, SKIPPED, UNVERIFIABLE, WARNING, Check
from .jsontypes import JSONObject
from .pubkey import normalize_algorithm

if TYPE_CHECKING:  # verify imports this module
    from .verify import CheckContext, VersionLoader

__all__ = ["agreement_fields", "agreement_hash", "agreement_v2_hash", "transcript_hash", "expected_status",
           "party_signature_content", "is_agreement_v2", "is_agreement_v3", "check_agreements",
           "PARTY_SIGNATURE_PLACEMENT", "CONSENT_HASH_FIELDS"]


def _utf16_key(k: str) -> bytes:
    return k.encode("utf-16-be", errors="surrogatepass")


def _legacy_content_string(doc: JSONObject) -> bytes:
    """The legacy v1 content string used by ``jacsAgreementHash`` (SPEC 2.5)."""
    fields = agreement_fields(doc)
    d = _agreement_base(doc)
    return b" ".join(canonicalize(d[f]) for f in fields)


def _agreement_base(doc: JSONObject) -> JSONObject:
    d = {
        k: v
        for k, v in doc.items()
        if k not in ("jacsAgreementHash", "jacsPreviousVersion", "jacsVersion", "jacsVersionDate")
    }
    d.setdefault("jacsFiles", [])
    return d


def agreement_fields(doc: JSONObject) -> list[str]:
    """The exact field list every agreement signature must carry (SPEC 2.5)."""
    d = _agreement_base(doc)
    return sorted((k for k in d if k not in RESERVED_FIELDS), key=_utf16_key)


def agreement_hash(doc: JSONObject) -> str:
    return hashlib.sha256(_legacy_content_string(doc)).hexdigest()


class SignatureChecker(Protocol):
    """verify's ``_check_signature``: SPEC 4.5 for one signature object, returns the status it ended in."""

    def __call__(self, ctx: CheckContext, sig: Any, placement: str, label: str, enforce_unsigned_rule: bool,
                 expected_fields: list[str] | None = None, /) -> str: ...


def check_agreements(ctx: CheckContext, check_signature: SignatureChecker) -> None:
    """Add the agreement checks of ``ctx.doc`` to ``ctx`` (``ctx.add(name, status, reason)``)."""
    _check_agreement_v1(ctx, check_signature)
    _check_agreement_v2(ctx, check_signature)
    _check_agreement_v3(ctx)


def _check_agreement_v1(ctx: CheckContext, _check_signature: SignatureChecker) -> None:
    agreement = ctx.doc.get("jacsAgreement")
    if agreement is None:
        return
    if not isinstance(agreement, dict):
        ctx.add("agreement", FAILED, "jacsAgreement is not a JSON object")
        return
    claimed = ctx.doc.get("jacsAgreementHash")
    if isinstance(claimed, str):
        try:
            computed = agreement_hash(ctx.doc)
        except CanonicalizationError as exc:
            ctx.add("agreement hash", FAILED, f"agreement content cannot be canonicalized: {exc}")
            computed = None
        if computed is not None:
            if computed == claimed:
                ctx.add("agreement hash", OK, "jacsAgreementHash matches the agreed content")
            else:
                ctx.add("agreement hash", FAILED, "jacsAgreementHash does not match the agreed content")
    sigs = agreement.get("signatures", [])
    if not isinstance(sigs, list):
        ctx.add("agreement", FAILED, "jacsAgreement.signatures is not a list")
        return
    expected = agreement_fields(ctx.doc)
    ids = _list_at(agreement, "agentIDs")
    for i, s in enumerate(sigs):
        who = s.get("agentID") if isinstance(s, dict) and isinstance(s.get("agentID"), str) else f"#{i + 1}"
        _check_signature(ctx, s, "jacsAgreement", f"agreement signature {who}", False, expected)
    signed = {s.get("agentID") for s in sigs if isinstance(s, dict) and isinstance(s.get("agentID"), str)}
    pending = [a for a in ids if not isinstance(a, str) or a not in signed]
    summary = f"{len(sigs)} of {len(ids)} parties signed" + (f"; waiting for {len(pending)}" if pending else "")
    ctx.add(
        "agreement terms",
        WARNING,
        f"{summary}. Known JACS gap: the agreement terms (question, context, agentIDs) are not covered by "
        "any signature, only by the unsigned jacsSha256, so they could be edited without breaking a signature.",
    )


# ---------------------------------------------------------------------------
# Agreements v2 (`jacsType: agreement`, SPEC 12.4)
#
# Found against jacs 0.15.0 (documents it made, signatures checked here):
# * jacsAgreementHash = hex SHA-256 of JCS({the consent fields present}), the
#   fields being title, description, terms, termsFormat, effectiveFrom,
#   expiresAt, parties, signaturePolicy (not transcript, signatures, controllers
#   or any header field).
# * A party signature (agreementSignatures[].signature) is a normal v2
#   signature object at placement "agreementSignature" over the synthetic
#   object {"jacsId", "jacsAgreementHash"[, "signedTranscriptHash"]}; its
#   `fields` are ["jacsId", "jacsAgreementHash"(, "signedTranscriptHash")].
#   Values: the document's jacsId and stored jacsAgreementHash, the entry's
#   signedTranscriptHash.  The entry's `role` is not in that signature (the
#   outer jacsSignature of the controller covers it).
# * signedTranscriptHash = hex SHA-256 of JCS(transcript prefix at signing);
#   required when the transcript is non-empty.
# * Every party signing emits a new version whose outer jacsSignature is made
#   by that party; the library's verify_agreement_v2 requires the outer signer
#   to be in `controllers`.

V2_SCHEMA = "https://hai.ai/schemas/agreement/v2/agreement.schema.json"
V3_SCHEMA = "https://hai.ai/schemas/agreement/v3/agreement.schema.json"
PARTY_SIGNATURE_PLACEMENT = "agreementSignature"
CONSENT_HASH_FIELDS = ("title", "description", "terms", "termsFormat", "effectiveFrom", "expiresAt",
                       "parties", "signaturePolicy")
_TERMS_FORMATS = ("text/plain", "text/markdown")
_STATUSES = ("draft", "proposed", "partially_signed", "final", "expired", "disputed", "superseded", "terminated")
_AGENT_TYPES = ("human", "human-org", "hybrid", "ai")
_PARTY_ROLES = ("signer", "witness", "notary", "observer")
_SIGNATURE_ROLES = ("signer", "witness", "notary")
_PARTY_FIELDS = ("agentId", "agentVersion", "agentType", "role", "displayName")
_POLICY_FIELDS = ("partyQuorum", "witnessRequired", "notaryRequired", "timeout", "requiredAlgorithms",
                  "minimumStrength")
_ENTRY_FIELDS = ("signature", "role", "signedTranscriptHash")
_REF_FIELDS = ("jacsId", "jacsVersion", "jacsSha256")
#: top-level members an agreement v2 document may have: the header's and the agreement schema's properties
_V2_ROOT_FIELDS = frozenset({
    "$schema", "$id", "jacsAgreement", "jacsAgreementHash", "jacsBranch", "jacsFiles", "jacsId", "jacsLevel",
    "jacsOriginalDate", "jacsOriginalVersion", "jacsPreviousVersion", "jacsRegistration", "jacsSha256",
    "jacsSignature", "jacsType", "jacsVersion", "jacsVersionDate", "jacsVisibility", "agreementSignatures",
    "allPreviousVersions", "controllers", "description", "effectiveFrom", "expiresAt", "links", "owners",
    "parties", "signaturePolicy", "status", "terms", "termsFormat", "title", "transcript",
})
#: the library's resource limits for agreement v2 documents (its errors, not schema rules)
_MAX_NESTING = 64
_MAX_ITEMS = {"transcript": 10_000, "agreementSignatures": 1_000, "parties": 1_000, "links": 1_000,
              "allPreviousVersions": 10_000}
_LIBRARY_POLICY_NOTE = ("jacs 0.15 itself never reports a v2 policy as accepted (its verify_agreement_v2 checks "
                        "consent signatures only)")

_UUID = re.compile(
    r"^(?:urn:uuid:)?(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{32})$"
    r"|^\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}$")
_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(value: Any) -> float | None:
    """Unix time of an RFC 3339 timestamp (None when it is not one)."""
    if not isinstance(value, str):
        return None
    m = _RFC3339.fullmatch(value)
    if not m:
        return None
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    frac = float(m.group(7)) if m.group(7) else 0.0
    tz = m.group(8)
    try:
        offset = timedelta(0) if tz in ("Z", "z") else timedelta(
            hours=int(tz[1:3]), minutes=int(tz[4:6])) * (1 if tz[0] == "+" else -1)
        return datetime(y, mo, d, h, mi, min(s, 59), tzinfo=timezone(offset)).timestamp() + frac
    except ValueError:
        return None


def _norm_id(agent_id: str) -> str:
    """The library compares agent ids without an ``:version`` suffix."""
    return agent_id.split(":", 1)[0]


def _is_uint(v: object) -> TypeGuard[int]:
    return type(v) is int and v >= 0


def _uint_or_zero(v: object) -> int:
    return v if _is_uint(v) else 0


def _object_at(obj: JSONObject, name: str) -> JSONObject:
    """``obj[name]`` when it is a JSON object, else an empty one."""
    v = obj.get(name)
    return v if isinstance(v, dict) else {}


def _list_at(obj: JSONObject, name: str) -> list[Any]:
    """``obj[name]`` when it is a JSON array, else an empty one."""
    v = obj.get(name)
    return v if isinstance(v, list) else []


def agreement_v2_hash(doc: JSONObject) -> str:
    """``jacsAgreementHash`` of a v2 agreement: SHA-256 of JCS of its consent fields."""
    scope = {k: doc[k] for k in CONSENT_HASH_FIELDS if k in doc}
    return hashlib.sha256(canonicalize(scope)).hexdigest()


def transcript_hash(transcript: list[Any]) -> str:
    return hashlib.sha256(canonicalize(transcript)).hexdigest()


def _transcript_prefix_hashes(transcript: list[Any]) -> set[str]:
    """transcript_hash of every prefix, in one pass (each entry canonicalized once)."""
    running = hashlib.sha256(b"[")
    hashes = set()
    for i, entry in enumerate(transcript):
        closed = running.copy()
        closed.update(b"]")
        hashes.add(closed.hexdigest())
        if i:
            running.update(b",")
        running.update(canonicalize(entry))
    running.update(b"]")
    hashes.add(running.hexdigest())
    return hashes


def party_signature_content(doc: JSONObject, entry: JSONObject) -> JSONObject:
    """The object whose fields a party signature covers (placement ``agreementSignature``)."""
    content = {"jacsId": doc.get("jacsId"), "jacsAgreementHash": doc.get("jacsAgreementHash")}
    if "signedTranscriptHash" in entry:
        content["signedTranscriptHash"] = entry["signedTranscriptHash"]
    return content


def _party_roles(doc: JSONObject) -> dict[str, str]:
    roles = {}
    for p in doc.get("parties") or []:
        if isinstance(p, dict) and isinstance(p.get("agentId"), str) and p.get("role") in _PARTY_ROLES:
            roles[_norm_id(p["agentId"])] = p["role"]
    return roles


def _party_version(doc: JSONObject, agent_id: str) -> str | None:
    for p in doc.get("parties") or []:
        if isinstance(p, dict) and isinstance(p.get("agentId"), str) and _norm_id(p["agentId"]) == agent_id:
            v = p.get("agentVersion")
            return v if isinstance(v, str) else None
    return None


def _quorum_required(policy: JSONObject, signer_total: int) -> int:
    q = policy.get("partyQuorum", "all")
    if q == "majority":
        return signer_total // 2 + 1
    if type(q) is int and q >= 0:
        return q
    return signer_total


def _entry_agent(entry: Any) -> str | None:
    sig = entry.get("signature") if isinstance(entry, dict) else None
    aid = sig.get("agentID") if isinstance(sig, dict) else None
    return _norm_id(aid) if isinstance(aid, str) else None


def _signed_counts(doc: JSONObject, entries: list[Any]) -> dict[str, set[str]]:
    """Distinct party agents that signed in their own role, per role."""
    roles = _party_roles(doc)
    counts: dict[str, set[str]] = {"signer": set(), "witness": set(), "notary": set()}
    for e in entries:
        aid = _entry_agent(e)
        role = e.get("role") if isinstance(e, dict) else None
        if aid is not None and role in counts and roles.get(aid) == role:
            counts[role].add(aid)
    return counts


def _policy_numbers(doc: JSONObject, entries: list[Any]) -> dict[str, tuple[int, int]]:
    """role -> (signed, required) for the policy of *doc* over *entries*."""
    policy = _object_at(doc, "signaturePolicy")
    signer_total = sum(1 for r in _party_roles(doc).values() if r == "signer")
    counts = _signed_counts(doc, entries)
    need = {
        "signer": _quorum_required(policy, signer_total),
        "witness": _uint_or_zero(policy.get("witnessRequired")),
        "notary": _uint_or_zero(policy.get("notaryRequired")),
    }
    return {r: (len(counts[r]), need[r]) for r in counts}


def _policy_met(numbers: dict[str, tuple[int, int]]) -> bool:
    return all(got >= need for got, need in numbers.values())


def _expired(doc: JSONObject, now: float) -> bool:
    policy = _object_at(doc, "signaturePolicy")
    for t in (doc.get("expiresAt"), policy.get("timeout")):
        ts = _rfc3339(t)
        if ts is not None and ts < now:
            return True
    return False


def expected_status(doc: JSONObject, now: float) -> str:
    """The status the library derives from the signatures and the policy (its ``recompute_status``)."""
    current = doc.get("status") if isinstance(doc.get("status"), str) else "draft"
    if current in ("disputed", "superseded", "terminated"):
        return current
    entries = _list_at(doc, "agreementSignatures")
    if _policy_met(_policy_numbers(doc, entries)):
        return "final"
    if _expired(doc, now):
        return "expired"
    if entries:
        return "partially_signed"
    return "proposed" if current == "proposed" else "draft"


def _string_array_problem(doc: JSONObject, name: str) -> str | None:
    if name not in doc:
        return None
    v = doc[name]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        return f"{name} must be a list of strings"
    if len(set(v)) != len(v):
        return f"{name} has duplicate values"
    bad = next((i for i, x in enumerate(v) if not _UUID.fullmatch(x)), None)
    if bad is not None:
        return f"{name}[{bad}] must be a valid UUID"
    return None


def _unknown(obj: JSONObject, allowed: tuple[str, ...], where: str) -> str | None:
    extra = next((k for k in obj if k not in allowed), None)
    return f"{where}.{extra}: unknown field; expected only {', '.join(allowed)}" if extra is not None else None


def _v2_structure_problem(doc: JSONObject) -> str | None:
    """The first rule of the library's agreement v2 validation that *doc* breaks (None when it keeps all)."""
    if doc.get("jacsType") != "agreement":
        return f"jacsType must be 'agreement' for an agreement v2 document, not {doc.get('jacsType')!r}"
    if "$schema" in doc and doc["$schema"] != V2_SCHEMA:
        return f"an agreement v2 document must declare $schema {V2_SCHEMA}, not {doc['$schema']!r}"
    extra = next((k for k in doc if k not in _V2_ROOT_FIELDS), None)
    if extra is not None:
        return f"unknown top-level field '{extra}' is not permitted on agreement v2 documents"
    if isinstance(doc.get("jacsId"), str) and not _UUID.fullmatch(doc["jacsId"]):
        return "jacsId must be a valid UUID"
    for name, cap in _MAX_ITEMS.items():
        if isinstance(doc.get(name), list) and len(doc[name]) > cap:
            return f"{name} exceeds the maximum of {cap} entries"
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > _MAX_NESTING:
            return f"JSON nesting depth exceeds the maximum of {_MAX_NESTING}"
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    if "jacsLevel" in doc and doc["jacsLevel"] != "artifact":
        return f"jacsLevel must be 'artifact', not {doc['jacsLevel']!r}"
    for f in ("jacsAgreementHash", "title", "description", "terms", "status"):
        if not isinstance(doc.get(f), str) or not doc[f]:
            return f"{f} is missing or empty"
    if "termsFormat" in doc and doc["termsFormat"] not in _TERMS_FORMATS:
        return f"termsFormat {doc['termsFormat']!r} is not one of {', '.join(_TERMS_FORMATS)}"
    if doc["status"] not in _STATUSES:
        return f"status {doc['status']!r} is not one of {', '.join(_STATUSES)}"
    for f in ("effectiveFrom", "expiresAt"):
        if f in doc and _rfc3339(doc[f]) is None:
            return f"{f} is not an RFC 3339 timestamp"
    parties = doc.get("parties")
    if not isinstance(parties, list) or not parties:
        return "parties must be a non-empty list"
    seen: set[str] = set()
    for p in parties:
        if not isinstance(p, dict):
            return "parties[] must be objects"
        bad = _unknown(p, _PARTY_FIELDS, "parties[]")
        if bad:
            return bad
        for f in ("agentId", "agentType", "role"):
            if not isinstance(p.get(f), str):
                return f"parties[].{f} is missing"
        aid = _norm_id(p["agentId"])
        if not _UUID.fullmatch(p["agentId"]):
            return "parties[].agentId must be a valid UUID"
        if aid in seen:
            return f"duplicate party agent id '{aid}'"
        seen.add(aid)
        if p["agentType"] not in _AGENT_TYPES:
            return f"parties[].agentType {p['agentType']!r} is not one of {', '.join(_AGENT_TYPES)}"
        if p["role"] not in _PARTY_ROLES:
            return f"parties[].role {p['role']!r} is not one of {', '.join(_PARTY_ROLES)}"
        for f in ("agentVersion", "displayName"):
            if f in p and not isinstance(p[f], str):
                return f"parties[].{f} must be a string"
        if "agentVersion" in p and not _UUID.fullmatch(p["agentVersion"]):
            return "parties[].agentVersion must be a valid UUID"
    roles = list(_party_roles(doc).values())
    if "signer" not in roles:
        return "the agreement has no signer-role party"
    policy = doc.get("signaturePolicy")
    if not isinstance(policy, dict):
        return "signaturePolicy must be an object"
    bad = _unknown(policy, _POLICY_FIELDS, "signaturePolicy")
    if bad:
        return bad
    if "partyQuorum" not in policy:
        return "signaturePolicy.partyQuorum is missing"
    q = policy["partyQuorum"]
    if not (q in ("all", "majority") if isinstance(q, str) else type(q) is int and q >= 1):
        return "signaturePolicy.partyQuorum must be all, majority, or a positive integer"
    for f in ("witnessRequired", "notaryRequired"):
        if f in policy and not _is_uint(policy[f]):
            return f"signaturePolicy.{f} must be a non-negative integer"
    ra = policy.get("requiredAlgorithms")
    if "requiredAlgorithms" in policy and (not isinstance(ra, list) or not all(isinstance(a, str) for a in ra)):
        return "signaturePolicy.requiredAlgorithms must be a list of strings"
    if "minimumStrength" in policy and policy["minimumStrength"] not in ("classical", "post-quantum"):
        return "signaturePolicy.minimumStrength must be classical or post-quantum"
    if "timeout" in policy and _rfc3339(policy["timeout"]) is None:
        return "signaturePolicy.timeout is not an RFC 3339 timestamp"
    for role, total, need in (
        ("signer", roles.count("signer"), _quorum_required(policy, roles.count("signer"))),
        ("witness", roles.count("witness"), policy.get("witnessRequired", 0)),
        ("notary", roles.count("notary"), policy.get("notaryRequired", 0)),
    ):
        if need > total:
            field = {"signer": "partyQuorum", "witness": "witnessRequired", "notary": "notaryRequired"}[role]
            return f"signaturePolicy.{field} ({need}) exceeds the number of {role}-role parties ({total})"
    transcript = doc.get("transcript", [])
    if not isinstance(transcript, list):
        return "transcript must be a list"
    for ref in transcript:
        if not isinstance(ref, dict):
            return "transcript[] entries must be objects"
        bad = _unknown(ref, _REF_FIELDS, "transcript[]")
        if bad:
            return bad
        if not all(isinstance(ref.get(f), str) for f in _REF_FIELDS):
            return "transcript[] entries need jacsId, jacsVersion and jacsSha256"
    entries = doc.get("agreementSignatures")
    if not isinstance(entries, list):
        return "agreementSignatures must be a list"
    for e in entries:
        if not isinstance(e, dict):
            return "agreementSignatures[] entries must be objects"
        bad = _unknown(e, _ENTRY_FIELDS, "agreementSignatures[]")
        if bad:
            return bad
        if "signature" not in e:
            return "agreementSignatures[].signature is missing"
        if e.get("role") not in _SIGNATURE_ROLES:
            return f"agreementSignatures[].role {e.get('role')!r} is not one of {', '.join(_SIGNATURE_ROLES)}"
        if "signedTranscriptHash" in e and not isinstance(e["signedTranscriptHash"], str):
            return "agreementSignatures[].signedTranscriptHash must be a string"
    for name in ("allPreviousVersions", "controllers", "owners"):
        bad = _string_array_problem(doc, name)
        if bad:
            return bad
    links = doc.get("links", [])
    if not isinstance(links, list):
        return "links must be a list"
    for link in links:
        if not isinstance(link, dict):
            return "links[] entries must be objects"
        bad = _unknown(link, _REF_FIELDS, "links[]")
        if bad:
            return bad
        if not isinstance(link.get("jacsId"), str) or not isinstance(link.get("jacsVersion"), str):
            return "links[] entries need jacsId and jacsVersion"
        if "jacsSha256" in link and (not isinstance(link["jacsSha256"], str) or not link["jacsSha256"]):
            return "links[].jacsSha256 must be a non-empty string"
    return None


class _SubCtx:
    """A check context over another document (the content a party signature covers, or an
    earlier version) with the outer context's keys and time.

    By default its checks land in the outer verdict; with ``own_checks`` they are kept apart
    (``self.checks``) for the caller to summarise.
    """

    def __init__(self, ctx: CheckContext, content: JSONObject, own_checks: bool = False):
        self.doc = content
        self.keys = ctx.keys
        self.files = getattr(ctx, "files", None)
        self.now = ctx.now
        self.canon = type(ctx.canon)(content)
        #: where add() puts a check: the outer context (None with ``own_checks``: this one's list)
        self._outer_add: Callable[[str, str, str], Check] | None = None if own_checks else ctx.add
        self.checks: list[Check] = [] if own_checks else ctx.checks

    def add(self, name: str, status: str, reason: str) -> Check:
        if self._outer_add is not None:
            return self._outer_add(name, status, reason)
        c = Check(name, status, reason)
        self.checks.append(c)
        return c


def is_agreement_v2(doc: JSONObject) -> bool:
    return doc.get("jacsType") == "agreement" or doc.get("$schema") == V2_SCHEMA


def is_agreement_v3(doc: JSONObject) -> bool:
    return doc.get("profile") == "jacs-agreement-v3" or doc.get("$schema") == V3_SCHEMA


def _check_agreement_v3(ctx: CheckContext) -> None:
    if is_agreement_v3(ctx.doc):
        ctx.add("agreement", UNVERIFIABLE, "Agreement v3 (jacs-agreement-v3) proofs are not checked by this "
                "version; nothing about its consents, witnesses or notary is known")


def _check_agreement_v2(ctx: CheckContext, check_signature: SignatureChecker) -> None:
    doc = ctx.doc
    if not is_agreement_v2(doc):
        return
    try:
        problem = _v2_structure_problem(doc)
    except RecursionError:
        problem = "the agreement is nested too deeply"
    if problem:
        ctx.add("agreement structure", FAILED, f"Agreement v2 is malformed: {problem}")
        return
    now = ctx.now

    # jacsAgreementHash over the consent scope
    try:
        computed = agreement_v2_hash(doc)
    except CanonicalizationError as exc:
        ctx.add("agreement hash", FAILED, f"the agreed terms cannot be canonicalized: {exc}")
        computed = None
    if computed is not None:
        if computed == doc["jacsAgreementHash"]:
            ctx.add("agreement hash", OK, "jacsAgreementHash matches the agreed terms, parties and policy")
        else:
            ctx.add("agreement hash", FAILED, f"jacsAgreementHash does not match the agreed terms, parties and "
                    f"policy (stored {doc['jacsAgreementHash'][:16]}…, computed {computed[:16]}…)")

    # the outer signer must be allowed to emit versions
    outer = doc.get("jacsSignature")
    signer = outer.get("agentID") if isinstance(outer, dict) else None
    controllers = doc.get("controllers")
    if not isinstance(controllers, list):
        ctx.add("agreement controller", FAILED, "the agreement has no controllers[], so no signer may emit it")
    elif isinstance(signer, str):
        if any(isinstance(c, str) and _norm_id(c) == _norm_id(signer) for c in controllers):
            ctx.add("agreement controller", OK, f"header signer {_norm_id(signer)} is a controller")
        else:
            ctx.add("agreement controller", FAILED, f"header signer '{_norm_id(signer)}' is not a controller for "
                    "this agreement, so it may not emit a version of it")

    _check_history(ctx, check_signature)
    links = [x for x in doc.get("links", []) if "jacsSha256" in x]
    if links:
        ctx.add("agreement links", SKIPPED, f"{len(links)} merge link(s) name another version by its jacsSha256; "
                "the linked versions are not loaded here")

    status_expected = expected_status(doc, now)
    if doc["status"] != status_expected:
        ctx.add("agreement status", FAILED, f"status '{doc['status']}' is inconsistent with the signatures and the "
                f"signaturePolicy; expected '{status_expected}'")

    verified = _check_party_signatures(ctx, check_signature)
    _check_policy(ctx, verified, status_expected)


def _check_history(ctx: CheckContext, check_signature: SignatureChecker) -> None:
    """``allPreviousVersions`` against the header; the earlier versions themselves when the
    context can load them (``ctx.load_version(jacs_id, jacs_version) -> dict | None``)."""
    doc = ctx.doc
    listed = doc.get("allPreviousVersions")
    previous = doc.get("jacsPreviousVersion")
    if listed is None:
        ctx.add("agreement history", FAILED, "allPreviousVersions is missing, so the version chain cannot be checked")
    elif not listed:
        if previous is not None:
            ctx.add("agreement history", FAILED, "jacsPreviousVersion is set but allPreviousVersions is empty")
    elif not isinstance(previous, str):
        ctx.add("agreement history", FAILED, "allPreviousVersions is non-empty but jacsPreviousVersion is missing")
    elif listed[-1] != previous:
        ctx.add("agreement history", FAILED, "allPreviousVersions does not reconcile with jacsPreviousVersion")
    elif isinstance(doc.get("jacsOriginalVersion"), str) and listed[0] != doc["jacsOriginalVersion"]:
        ctx.add("agreement history", FAILED, "allPreviousVersions does not start at jacsOriginalVersion")
    elif callable(load := getattr(ctx, "load_version", None)):
        _walk_history(ctx, check_signature, listed, previous, load)
    else:
        ctx.add("agreement history", SKIPPED, f"{len(listed)} earlier version(s) listed; they are not loaded here, "
                "so their signatures and controllers were not checked")


def _walk_history(ctx: CheckContext, check_signature: SignatureChecker, listed: list[Any], previous: str,
                  load_version: VersionLoader) -> None:
    """The library's chain walk: each loaded earlier version must be signed by one of its controllers."""
    walked: list[str] = []
    cursor: Any = previous
    while isinstance(cursor, str):
        if len(walked) > len(listed):
            ctx.add("agreement history", FAILED, "the jacsPreviousVersion chain contains a cycle")
            return
        try:
            prev = load_version(ctx.doc["jacsId"], cursor)
        except Exception:  # a store that fails is a version not loaded
            prev = None
        if not isinstance(prev, dict):
            walked.reverse()
            if walked and listed[len(listed) - len(walked):] != walked:
                ctx.add("agreement history", FAILED, "allPreviousVersions does not reconcile with the stored "
                        "jacsPreviousVersion chain")
            else:
                ctx.add("agreement history", SKIPPED, f"{len(walked)} of {len(listed)} earlier version(s) checked; "
                        f"version {cursor} was not found, so the chain is not fully verified")
            return
        sig = prev.get("jacsSignature")
        signer = sig.get("agentID") if isinstance(sig, dict) else None
        controllers = prev.get("controllers")
        if not isinstance(signer, str) or not isinstance(controllers, list) or not any(
                isinstance(c, str) and _norm_id(c) == _norm_id(signer) for c in controllers):
            ctx.add("agreement history", FAILED, f"earlier version {cursor} failed header verification: its header "
                    f"signer {signer!r} is not a controller")
            return
        sub = _SubCtx(ctx, prev, own_checks=True)
        status = check_signature(sub, sig, "jacsSignature", "signature", True)
        if status != OK:
            why = next((c.reason for c in reversed(sub.checks) if c.status == status), status)
            ctx.add("agreement history", FAILED if status in (FAILED, LEGACY) else status,
                    f"earlier version {cursor} failed header verification: {why}")
            return
        walked.append(cursor)
        cursor = prev.get("jacsPreviousVersion")
    walked.reverse()
    if walked != listed:
        ctx.add("agreement history", FAILED, "allPreviousVersions does not reconcile with the stored "
                "jacsPreviousVersion chain")
    else:
        ctx.add("agreement history", OK, f"all {len(listed)} earlier version(s) were signed by a controller")


def _check_party_signatures(ctx: CheckContext, check_signature: SignatureChecker) -> list[Any]:
    """Check every party signature; returns the entries that verified."""
    doc = ctx.doc
    entries = doc["agreementSignatures"]
    roles = _party_roles(doc)
    policy = doc["signaturePolicy"]
    transcript = doc.get("transcript", [])
    prefixes = _transcript_prefix_hashes(transcript) if transcript or any(
        "signedTranscriptHash" in e for e in entries) else set()
    verified: list[Any] = []
    statuses: list[str] = []
    seen_labels: dict[str, int] = {}
    seen_signed: set[tuple[str, str]] = set()
    for i, entry in enumerate(entries):
        sig, role = entry["signature"], entry["role"]
        aid_raw = sig.get("agentID") if isinstance(sig, dict) else None
        who = _norm_id(aid_raw) if isinstance(aid_raw, str) else f"#{i + 1}"
        n = seen_labels[who] = seen_labels.get(who, 0) + 1
        label = f"agreement signature {who}" + (f" ({n})" if n > 1 else "")

        def fail(reason: str, label: str = label) -> None:
            ctx.add(label, FAILED, reason)
            statuses.append(FAILED)

        if not isinstance(aid_raw, str):
            fail("the party signature names no signer (agentID)")
            continue
        if roles.get(who) != role:
            fail(f"agent '{who}' is not listed as a {role} party")
            continue
        pinned = _party_version(doc, who)
        if pinned is not None and sig.get("agentVersion") != pinned:
            fail(f"agent '{who}' signed with agentVersion {sig.get('agentVersion')!r} but the party requires "
                 f"agentVersion '{pinned}'")
            continue
        alg = sig.get("signingAlgorithm") if isinstance(sig.get("signingAlgorithm"), str) else ""
        required = policy.get("requiredAlgorithms")
        if isinstance(required, list) and alg not in required:
            fail(f"signature algorithm '{alg}' is not allowed by signaturePolicy.requiredAlgorithms")
            continue
        if policy.get("minimumStrength") == "post-quantum" and normalize_algorithm(alg) != "pq2025":
            fail(f"signature algorithm '{alg}' does not satisfy minimumStrength 'post-quantum'")
            continue
        needed = ["jacsId", "jacsAgreementHash"]
        if "signedTranscriptHash" in entry:
            if entry["signedTranscriptHash"] not in prefixes:
                fail("signedTranscriptHash matches no state of the transcript (entries removed or reordered?)")
                continue
            needed.append("signedTranscriptHash")
        elif transcript:
            fail("signedTranscriptHash is required when the transcript is non-empty")
            continue
        fields = sig.get("fields")
        if isinstance(fields, list):
            missing = [f for f in needed if f not in fields]
            if missing:
                fail(f"the party signature does not cover '{missing[0]}'")
                continue
        if (who, role) in seen_signed:
            fail(f"agent '{who}' has already signed as {role}")
            continue
        status = check_signature(_SubCtx(ctx, party_signature_content(doc, entry)), sig,
                                 PARTY_SIGNATURE_PLACEMENT, label, False)
        statuses.append(status)
        if status == OK:
            seen_signed.add((who, role))
            verified.append(entry)

    if not entries:
        ctx.add("agreement signatures", SKIPPED, "no party has signed yet")
    else:
        bad = sum(1 for s in statuses if s != OK)
        worst = next((s for s in (FAILED, LEGACY, UNVERIFIABLE) if s in statuses), OK)
        by_role = ", ".join(f"{sum(1 for e in verified if e['role'] == r)} {r}" for r in _SIGNATURE_ROLES
                            if any(e["role"] == r for e in entries))
        if worst == OK:
            ctx.add("agreement signatures", OK, f"all {len(entries)} party signature(s) verify ({by_role})")
        else:
            what = {FAILED: "do not verify", LEGACY: "use legacy v1 content",
                    UNVERIFIABLE: "could not be checked"}[worst]
            ctx.add("agreement signatures", worst, f"{bad} of {len(entries)} party signature(s) {what}; "
                    f"verified: {by_role or 'none'}")
    return verified


def _check_policy(ctx: CheckContext, verified: list[Any], status_expected: str) -> None:
    doc = ctx.doc
    numbers = _policy_numbers(doc, verified)
    quorum = doc["signaturePolicy"].get("partyQuorum")
    parts = [f"signers {numbers['signer'][0]} of {numbers['signer'][1]} needed (quorum {quorum})"]
    for role, plural in (("witness", "witnesses"), ("notary", "notaries")):
        got, need = numbers[role]
        if need or got:
            parts.append(f"{plural} {got} of {need} needed")
    summary = "; ".join(parts)
    status = doc["status"]
    if status in ("disputed", "superseded", "terminated"):
        ctx.add("agreement policy", WARNING, f"the agreement is {status}; {summary}")
    elif _policy_met(numbers):
        ctx.add("agreement policy", OK, f"policy met, the agreement is final: {summary}. {_LIBRARY_POLICY_NOTE}")
    elif status_expected == "expired" or status == "expired":
        ctx.add("agreement policy", WARNING, f"the agreement expired before its policy was met: {summary}")
    elif status == "final":
        ctx.add("agreement policy", WARNING, f"the signatures that verify do not meet the policy: {summary}")
    else:
        ctx.add("agreement policy", WARNING, f"not final yet (status {status}): {summary}")
