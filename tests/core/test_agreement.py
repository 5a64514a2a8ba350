"""Agreement checks without the jacs library: v2 (`jacsType: agreement`) and v1 (`jacsAgreement`).

Agreements are built here with our own signer, following the structure found
in documents jacs 0.15 made (see core/agreement.py); one real library document
is kept below as a golden vector.
"""

import base64
import copy
import json
import time
import uuid

import pytest

from jacs_desktop.core import agreement as ag
from jacs_desktop.core.canonical import jacs_sha256
from jacs_desktop.core.crypto import Ed25519Signer
from jacs_desktop.core.sign import AgentSigner, rfc3339_now
from jacs_desktop.core.verify import KeyRing, verify_document

V2 = "https://hai.ai/schemas/agreement/v2/agreement.schema.json"

# A one-party agreement jacs 0.15.0 made and its one signer signed (Ed25519), with that agent's raw public key.
GOLDEN_KEY = base64.b64decode("tvvyxC6gP0qshqWEnHFiHUyI9fnQi5phAdPHrEkN9AQ=")
GOLDEN_JSON = (
    "{\"$schema\":\"https://hai.ai/schemas/agreement/v2/agreement.schema.json\",\"agreementSignatures\":[{\"role"
    "\":\"signer\",\"signature\":{\"agentID\":\"9b850f93-2751-453a-80c7-a63b4c33c54f\",\"agentVersion\":\"3c06fd1b-ec"
    "2a-4f90-bd40-dd62c5a42380\",\"date\":\"2026-12-01T10:09:41.064450407+00:00\",\"fields\":[\"jacsId\",\"jacsAgre"
    "ementHash\"],\"iat\":1796119781,\"jti\":\"01a23114-dec8-73b2-916c-2d3bd710089a\",\"publicKeyHash\":\"a31f59ed0"
    "dd711e12c6c04a005e0725b774b042809b0465e6d1fa91f7fae79c2\",\"signature\":\"+pQQthDKvqnf57m3sz+Ye/HOw4YQFu"
    "blLnI3cN5i5MMY5yplz2u40FAOtV99xF6SJfDwXuPCiBxCKAvDymQ8Cw==\",\"signatureContentVersion\":\"jacs-signatur"
    "e-v2\",\"signingAlgorithm\":\"ring-Ed25519\"}}],\"allPreviousVersions\":[\"243964fc-b85f-498c-9c20-4ad9cbc43"
    "7ce\"],\"controllers\":[\"9b850f93-2751-453a-80c7-a63b4c33c54f\"],\"description\":\"One-party golden vector\""
    ",\"jacsAgreementHash\":\"f2b0bf52d2cb7c6576aa7a2cfc894d08845952a81289884652b7a90dfb6b6d27\",\"jacsId\":\"10"
    "b36ad4-6763-4322-8441-ebb9393d6691\",\"jacsLevel\":\"artifact\",\"jacsOriginalDate\":\"2026-12-01T10:09:40.9"
    "85476508+00:00\",\"jacsOriginalVersion\":\"243964fc-b85f-498c-9c20-4ad9cbc437ce\",\"jacsPreviousVersion\":\""
    "243964fc-b85f-498c-9c20-4ad9cbc437ce\",\"jacsSha256\":\"822f4b8946cb4782efb84675ffd8a45f6bca75d12213652c"
    "d388f297ce3910da\",\"jacsSignature\":{\"agentID\":\"9b850f93-2751-453a-80c7-a63b4c33c54f\",\"agentVersion\":\""
    "3c06fd1b-ec2a-4f90-bd40-dd62c5a42380\",\"date\":\"2026-12-01T10:09:41.149884515+00:00\",\"fields\":[\"$schem"
    "a\",\"agreementSignatures\",\"allPreviousVersions\",\"controllers\",\"description\",\"jacsAgreementHash\",\"jacs"
    "Id\",\"jacsLevel\",\"jacsOriginalDate\",\"jacsOriginalVersion\",\"jacsPreviousVersion\",\"jacsType\",\"jacsVersi"
    "on\",\"jacsVersionDate\",\"links\",\"owners\",\"parties\",\"signaturePolicy\",\"status\",\"terms\",\"termsFormat\",\"t"
    "itle\",\"transcript\"],\"iat\":1796119781,\"jti\":\"01a23114-df1d-7611-9d3f-3d529bd7680f\",\"publicKeyHash\":\"a"
    "31f59ed0dd711e12c6c04a005e0725b774b042809b0465e6d1fa91f7fae79c2\",\"signature\":\"TkAKhOG2izwNHWdNFKJY7Y"
    "u9GOhKxy0VCUUziJGrgb7lhwbo+JraEN2W4sNchKVL75XUJ3RslLNNmQNuKH0ACw==\",\"signatureContentVersion\":\"jacs-"
    "signature-v2\",\"signingAlgorithm\":\"ring-Ed25519\"},\"jacsType\":\"agreement\",\"jacsVersion\":\"55f2cb41-4679"
    "-4b2e-b17a-3774e86832fd\",\"jacsVersionDate\":\"2026-12-01T10:09:41.149780295+00:00\",\"links\":[],\"owners\""
    ":[],\"parties\":[{\"agentId\":\"9b850f93-2751-453a-80c7-a63b4c33c54f\",\"agentType\":\"ai\",\"role\":\"signer\"}],"
    "\"signaturePolicy\":{\"partyQuorum\":\"all\"},\"status\":\"final\",\"terms\":\"We agree.\",\"termsFormat\":\"text/pla"
    "in\",\"title\":\"Golden\",\"transcript\":[]}"
)


def _golden():
    return json.loads(GOLDEN_JSON)


def _agent(i: int) -> AgentSigner:
    return AgentSigner(Ed25519Signer(bytes([i]) * 32), str(uuid.UUID(int=i, version=4)),
                       str(uuid.UUID(int=1000 + i, version=4)))


A, B, C, W, N, X = (_agent(i) for i in range(1, 7))
RING = KeyRing()
for _s in (A, B, C, W, N, X):
    RING.add(_s.signer.public_key, "ring-Ed25519")


def party(s: AgentSigner, role: str, **extra) -> dict:
    return {"agentId": s.agent_id, "agentType": "ai", "role": role, **extra}


def party_signature(doc: dict, s: AgentSigner, role: str, transcript_hash: str | None = None) -> dict:
    entry = {"role": role}
    if transcript_hash is not None:
        entry["signedTranscriptHash"] = transcript_hash
    content = ag.party_signature_content(doc, entry)
    entry["signature"] = s.signature(content, placement="agreementSignature", fields=list(content))
    return entry


def make(parties, policy, signed=(), *, controllers=None, outer=None, status=None, transcript=(), **extra) -> dict:
    parties, policy = copy.deepcopy(parties), copy.deepcopy(policy)
    now = rfc3339_now()
    version = str(uuid.uuid4())
    doc = {
        "$schema": V2, "jacsId": str(uuid.uuid4()), "jacsVersion": version, "jacsVersionDate": now,
        "jacsOriginalVersion": version, "jacsOriginalDate": now, "jacsType": "agreement", "jacsLevel": "artifact",
        "title": "Supply", "description": "Test agreement", "terms": "We agree.", "termsFormat": "text/plain",
        "status": "proposed", "parties": parties, "signaturePolicy": policy, "agreementSignatures": [],
        "transcript": list(transcript), "allPreviousVersions": [], "links": [],
        "controllers": controllers if controllers is not None else [p["agentId"] for p in parties], "owners": [],
        **extra,
    }
    doc["jacsAgreementHash"] = ag.agreement_v2_hash(doc)
    th = ag.transcript_hash(doc["transcript"]) if doc["transcript"] else None
    for s, role in signed:
        doc["agreementSignatures"].append(party_signature(doc, s, role, th))
    doc["status"] = status or ag.expected_status(doc, time.time())
    return (outer or A).finish(doc)


def resign(doc: dict, outer: AgentSigner | None = None) -> dict:
    return (outer or A).finish(doc)


def verdict(doc: dict, ring: KeyRing = RING):
    return verify_document(doc, ring)


def checks(v) -> dict:
    return {c.name: c for c in v.checks}


THREE = [party(A, "signer"), party(B, "signer"), party(C, "signer"), party(W, "witness"), party(N, "notary")]
POLICY = {"partyQuorum": "all", "witnessRequired": 1, "notaryRequired": 1}
ALL_SIGNED = [(A, "signer"), (B, "signer"), (C, "signer"), (W, "witness"), (N, "notary")]


# --- the golden library vector ---------------------------------------------------


def test_golden_library_agreement_verifies():
    doc = _golden()
    ring = KeyRing()
    ring.add(GOLDEN_KEY, "ring-Ed25519")
    v = verify_document(doc, ring)
    assert v.status == "valid", v.checks
    c = checks(v)
    sid = doc["agreementSignatures"][0]["signature"]["agentID"]
    assert c[f"agreement signature {sid}"].status == "ok"
    assert c["agreement signatures"].status == "ok"
    assert c["agreement hash"].status == "ok"
    assert c["agreement controller"].status == "ok"
    assert c["agreement policy"].status == "ok" and "final" in c["agreement policy"].reason
    assert ag.agreement_v2_hash(doc) == doc["jacsAgreementHash"]


def test_golden_party_signature_is_over_the_agreement_hash_only():
    """The party signature covers jacsId and jacsAgreementHash, not the terms directly."""
    doc = _golden()
    ring = KeyRing()
    ring.add(GOLDEN_KEY, "ring-Ed25519")
    doc["agreementSignatures"][0]["signature"]["signature"] = base64.b64encode(b"\0" * 64).decode()
    doc["jacsSha256"] = jacs_sha256(doc)  # the outer signature now fails too: it covers agreementSignatures
    c = checks(verify_document(doc, ring))
    sid = doc["agreementSignatures"][0]["signature"]["agentID"]
    assert c[f"agreement signature {sid}"].status == "failed"
    assert c["signature"].status == "failed"


# --- status and policy arithmetic --------------------------------------------------


def _status_doc(parties, policy, entries, status="proposed", **extra):
    return {"parties": parties, "signaturePolicy": policy, "status": status,
            "agreementSignatures": [{"role": r, "signature": {"agentID": s.agent_id}} for s, r in entries], **extra}


@pytest.mark.parametrize("quorum,signed,expected", [
    ("all", 0, "proposed"), ("all", 2, "partially_signed"), ("all", 3, "final"),
    ("majority", 1, "partially_signed"), ("majority", 2, "final"),
    (1, 1, "final"), (2, 1, "partially_signed"),
])
def test_expected_status_quorum(quorum, signed, expected):
    parties = [party(A, "signer"), party(B, "signer"), party(C, "signer")]
    entries = [(s, "signer") for s in (A, B, C)[:signed]]
    assert ag.expected_status(_status_doc(parties, {"partyQuorum": quorum}, entries), 0) == expected


def test_expected_status_witness_notary_roles_and_terminal_states():
    parties = [party(A, "signer"), party(W, "witness"), party(N, "notary")]
    pol = {"partyQuorum": "all", "witnessRequired": 1, "notaryRequired": 1}
    assert ag.expected_status(_status_doc(parties, pol, [(A, "signer"), (W, "witness")]), 0) == "partially_signed"
    assert ag.expected_status(_status_doc(parties, pol, [(A, "signer"), (W, "witness"), (N, "notary")]), 0) == "final"
    # a signature in the wrong role does not count
    assert ag.expected_status(_status_doc(parties, pol, [(A, "signer"), (W, "notary"), (N, "witness")]), 0) \
        == "partially_signed"
    # the same agent twice counts once
    assert ag.expected_status(_status_doc([party(A, "signer"), party(B, "signer")], {"partyQuorum": 2},
                                          [(A, "signer"), (A, "signer")]), 0) == "partially_signed"
    assert ag.expected_status(_status_doc(parties, pol, [], status="draft"), 0) == "draft"
    for terminal in ("disputed", "superseded", "terminated"):
        assert ag.expected_status(_status_doc(parties, pol, [], status=terminal), 0) == terminal


def test_expected_status_expiry():
    parties = [party(A, "signer"), party(B, "signer")]
    doc = _status_doc(parties, {"partyQuorum": "all"}, [(A, "signer")], expiresAt="2020-01-01T00:00:00Z")
    assert ag.expected_status(doc, 2e9) == "expired"
    assert ag.expected_status(doc, 1e9) == "partially_signed"
    doc = _status_doc(parties, {"partyQuorum": "all", "timeout": "2020-01-01T00:00:00.5+02:00"}, [])
    assert ag.expected_status(doc, 2e9) == "expired"
    # a met policy stays final after expiry
    doc = _status_doc(parties, {"partyQuorum": "all"}, [(A, "signer"), (B, "signer")], expiresAt="2020-01-01T00:00:00Z")
    assert ag.expected_status(doc, 2e9) == "final"


# --- our own agreements --------------------------------------------------------------


def test_final_agreement_is_valid_with_separate_crypto_and_policy_checks():
    v = verdict(make(THREE, POLICY, ALL_SIGNED, outer=N))
    assert v.status == "valid", v.checks
    c = checks(v)
    for s in (A, B, C, W, N):
        assert c[f"agreement signature {s.agent_id}"].status == "ok"
    assert c["agreement signatures"].status == "ok" and "3 signer, 1 witness, 1 notary" in c["agreement signatures"].reason
    assert c["agreement policy"].status == "ok"
    assert "agreement status" not in c


@pytest.mark.parametrize("n", [0, 1, 4])
def test_unfinished_agreement_is_a_valid_document_with_a_policy_warning(n):
    doc = make(THREE, POLICY, ALL_SIGNED[:n])
    v = verdict(doc)
    assert v.status == "valid", v.checks
    c = checks(v)
    assert c["agreement policy"].status == "warning"
    assert f"status {doc['status']}" in c["agreement policy"].reason
    assert c["agreement signatures"].status == ("skipped" if n == 0 else "ok")


def test_forged_party_signature_under_a_valid_outer_signature_is_invalid():
    doc = make(THREE, POLICY, ALL_SIGNED, outer=N)
    doc["agreementSignatures"][1]["signature"]["signature"] = base64.b64encode(b"\1" * 64).decode()
    v = verdict(resign(doc, N))
    c = checks(v)
    assert v.status == "invalid"
    assert c["signature"].status == "ok"  # the outer signature holds
    assert c[f"agreement signature {B.agent_id}"].status == "failed"
    assert c["agreement signatures"].status == "failed" and "1 of 5" in c["agreement signatures"].reason
    # the policy counts only signatures that verified
    assert c["agreement policy"].status == "warning"


def test_party_signature_metadata_edit_is_invalid():
    doc = make(THREE, POLICY, ALL_SIGNED[:2])
    doc["agreementSignatures"][0]["signature"]["date"] = "2020-01-01T00:00:00Z"
    assert checks(verdict(resign(doc)))[f"agreement signature {A.agent_id}"].status == "failed"


@pytest.mark.parametrize("edit", ["terms", "parties", "policy"])
def test_edited_consent_scope(edit):
    doc = make(THREE, POLICY, ALL_SIGNED[:2])
    if edit == "terms":
        doc["terms"] = "We agree to something else."
    elif edit == "parties":
        doc["parties"][0]["displayName"] = "Alice"
    else:
        doc["signaturePolicy"]["witnessRequired"] = 0
    v = verdict(resign(doc))
    assert v.status == "invalid" and checks(v)["agreement hash"].status == "failed"
    # recomputing jacsAgreementHash moves the failure to the party signatures
    doc["jacsAgreementHash"] = ag.agreement_v2_hash(doc)
    c = checks(verdict(resign(doc)))
    assert c["agreement hash"].status == "ok"
    assert c[f"agreement signature {A.agent_id}"].status == "failed"
    assert c[f"agreement signature {B.agent_id}"].status == "failed"


@pytest.mark.parametrize("claimed", ["final", "proposed", "draft"])
def test_status_that_does_not_match_the_signatures_fails(claimed):
    doc = make(THREE, POLICY, ALL_SIGNED[:2], status=claimed)
    v = verdict(doc)
    assert v.status == "invalid"
    assert "expected 'partially_signed'" in checks(v)["agreement status"].reason


def test_removed_signature_with_status_kept_fails_and_with_status_fixed_is_valid():
    doc = make(THREE, POLICY, ALL_SIGNED, outer=N)
    del doc["agreementSignatures"][3]
    assert checks(verdict(resign(doc, N)))["agreement status"].status == "failed"
    doc["status"] = "partially_signed"
    assert verdict(resign(doc, N)).status == "valid"


def test_duplicate_party_signature_fails():
    doc = make(THREE, POLICY, ALL_SIGNED[:2])
    doc["agreementSignatures"].append(copy.deepcopy(doc["agreementSignatures"][0]))
    v = verdict(resign(doc))
    c = checks(v)
    assert v.status == "invalid"
    assert "already signed as signer" in c[f"agreement signature {A.agent_id} (2)"].reason


def test_signer_who_is_not_a_party_or_not_in_that_role_fails():
    doc = make(THREE, POLICY, [(A, "signer"), (X, "signer")], status="partially_signed")
    assert "not listed as a signer party" in checks(verdict(doc))[f"agreement signature {X.agent_id}"].reason
    doc = make(THREE, POLICY, [(A, "signer"), (W, "signer")], status="partially_signed")
    assert "not listed as a signer party" in checks(verdict(doc))[f"agreement signature {W.agent_id}"].reason


def test_outer_signer_must_be_a_controller():
    doc = make(THREE, POLICY, ALL_SIGNED[:1], controllers=[A.agent_id])
    assert checks(verdict(doc))["agreement controller"].status == "ok"
    v = verdict(resign(doc, B))
    assert v.status == "invalid"
    assert "is not a controller" in checks(v)["agreement controller"].reason
    del doc["controllers"]
    assert checks(verdict(resign(doc)))["agreement controller"].status == "failed"


def test_pinned_party_version():
    parties = [party(A, "signer", agentVersion=A.agent_version), party(B, "signer", agentVersion=str(uuid.uuid4()))]
    doc = make(parties, {"partyQuorum": "all"}, [(A, "signer"), (B, "signer")], status="final")
    c = checks(verdict(doc))
    assert c[f"agreement signature {A.agent_id}"].status == "ok"
    assert "party requires agentVersion" in c[f"agreement signature {B.agent_id}"].reason


def test_algorithm_policy():
    parties = [party(A, "signer"), party(B, "signer")]
    for pol, why in (({"partyQuorum": "all", "requiredAlgorithms": ["pq2025"]}, "requiredAlgorithms"),
                     ({"partyQuorum": "all", "requiredAlgorithms": ["ed25519"]}, "requiredAlgorithms"),
                     ({"partyQuorum": "all", "minimumStrength": "post-quantum"}, "minimumStrength")):
        doc = make(parties, pol, [(A, "signer")])
        c = checks(verdict(doc))
        assert why in c[f"agreement signature {A.agent_id}"].reason, pol
    doc = make(parties, {"partyQuorum": "all", "requiredAlgorithms": ["ring-Ed25519"]}, [(A, "signer")])
    assert verdict(doc).status == "valid"


def _ref(i):
    return {"jacsId": str(uuid.UUID(int=100 + i, version=4)), "jacsVersion": str(uuid.UUID(int=200 + i, version=4)),
            "jacsSha256": f"{i:064x}"}


def test_transcript_binding():
    parties = [party(A, "signer"), party(B, "signer")]
    doc = make(parties, {"partyQuorum": "all"}, [(A, "signer")], transcript=[_ref(1)])
    assert doc["agreementSignatures"][0]["signedTranscriptHash"] == ag.transcript_hash([_ref(1)])
    assert verdict(doc).status == "valid"
    # appending to the transcript keeps earlier signatures valid (they bound a prefix)
    doc["transcript"].append(_ref(2))
    assert verdict(resign(doc)).status == "valid"
    # removing or reordering entries does not
    for t in ([_ref(2)], [_ref(2), _ref(1)], []):
        d = copy.deepcopy(doc)
        d["transcript"] = t
        c = checks(verdict(resign(d)))
        assert c[f"agreement signature {A.agent_id}"].status == "failed", t
    # a non-empty transcript needs signedTranscriptHash
    d = copy.deepcopy(doc)
    del d["agreementSignatures"][0]["signedTranscriptHash"]
    assert "required" in checks(verdict(resign(d)))[f"agreement signature {A.agent_id}"].reason


def test_party_signature_fields():
    doc = make(THREE, POLICY, ALL_SIGNED[:1])
    d = copy.deepcopy(doc)
    d["agreementSignatures"][0]["signature"]["fields"] = ["jacsId"]
    assert "does not cover 'jacsAgreementHash'" in checks(verdict(resign(d)))[f"agreement signature {A.agent_id}"].reason
    # a listed field that the signed content does not have
    content = {"jacsId": doc["jacsId"], "jacsAgreementHash": doc["jacsAgreementHash"], "title": "x"}
    d = copy.deepcopy(doc)
    d["agreementSignatures"][0]["signature"] = A.signature(content, placement="agreementSignature", fields=list(content))
    assert checks(verdict(resign(d)))[f"agreement signature {A.agent_id}"].status == "failed"
    # the order of the fields is the signer's choice (the payload follows it)
    content = {"jacsAgreementHash": doc["jacsAgreementHash"], "jacsId": doc["jacsId"]}
    d = copy.deepcopy(doc)
    d["agreementSignatures"][0]["signature"] = A.signature(content, placement="agreementSignature", fields=list(content))
    assert verdict(resign(d)).status == "valid"


def test_unknown_party_key_is_unverifiable_not_invalid():
    doc = make(THREE, POLICY, ALL_SIGNED[:2])
    ring = KeyRing()
    ring.add(A.signer.public_key, "ring-Ed25519")
    v = verdict(doc, ring)
    assert v.status == "unverifiable"
    c = checks(v)
    assert c[f"agreement signature {B.agent_id} key"].status == "unverifiable"
    assert c["agreement signatures"].status == "unverifiable"


def test_history_rules():
    doc = make(THREE, POLICY)
    prev = str(uuid.uuid4())
    cases = [
        ({"allPreviousVersions": None}, "missing"),
        ({"allPreviousVersions": [prev]}, "jacsPreviousVersion is missing"),
        ({"allPreviousVersions": [doc["jacsOriginalVersion"], prev], "jacsPreviousVersion": str(uuid.uuid4())},
         "does not reconcile"),
        ({"allPreviousVersions": [prev], "jacsPreviousVersion": prev}, "does not start at jacsOriginalVersion"),
    ]
    for edit, why in cases:
        d = copy.deepcopy(doc)
        for k, val in edit.items():
            if val is None:
                d.pop(k)
            else:
                d[k] = val
        c = checks(verdict(resign(d)))
        assert why in c["agreement history"].reason and c["agreement history"].status == "failed", edit
    d = copy.deepcopy(doc)
    d["allPreviousVersions"] = [doc["jacsOriginalVersion"]]
    d["jacsPreviousVersion"] = doc["jacsOriginalVersion"]
    c = checks(verdict(resign(d)))
    assert c["agreement history"].status == "skipped"


@pytest.mark.parametrize("edit,why", [
    (lambda d: d["agreementSignatures"][0].update(role="observer"), "role"),
    (lambda d: d["agreementSignatures"][0].update(extra=1), "unknown field"),
    (lambda d: d["parties"].append(dict(d["parties"][0])), "duplicate party"),
    (lambda d: d["parties"][0].update(agentId="not-a-uuid"), "UUID"),
    (lambda d: d["controllers"].append("nope"), "UUID"),
    (lambda d: d["controllers"].append(d["controllers"][0]), "duplicate"),
    (lambda d: d["signaturePolicy"].update(partyQuorum=9), "exceeds"),
    (lambda d: d["signaturePolicy"].update(partyQuorum=2.0), "partyQuorum"),
    (lambda d: d["signaturePolicy"].update(witnessRequired=2), "exceeds"),
    (lambda d: d.update(status="signed"), "status"),
    (lambda d: d.update(expiresAt="2020-01-01"), "RFC 3339"),
    (lambda d: d.update(jacsLevel="raw"), "artifact"),
    (lambda d: d.pop("agreementSignatures"), "agreementSignatures"),
    (lambda d: d.update(parties=[party(W, "witness")], signaturePolicy={"partyQuorum": "all"}), "signer-role"),
])
def test_malformed_agreements_fail_structure(edit, why):
    doc = make(THREE, POLICY, ALL_SIGNED[:1])
    edit(doc)
    v = verdict(resign(doc))
    assert v.status == "invalid"
    c = checks(v)["agreement structure"]
    assert c.status == "failed" and why in c.reason, c.reason


def test_garbage_never_raises():
    doc = make(THREE, POLICY, ALL_SIGNED[:1])
    for key in ("parties", "signaturePolicy", "agreementSignatures", "transcript", "controllers", "links",
                "allPreviousVersions", "status", "jacsAgreementHash"):
        for junk in (None, 1, "x", [1], {"a": 1}, [None], [[]]):
            d = copy.deepcopy(doc)
            d[key] = junk
            assert verdict(d).status == "invalid"
    d = copy.deepcopy(doc)
    d["agreementSignatures"] = [{"role": "signer", "signature": junk} for junk in (None, 1, "x", [], {})]
    assert verdict(d).status == "invalid"


def test_agreement_v3_is_unverifiable():
    doc = make(THREE, POLICY)
    doc.pop("jacsType")
    doc["$schema"] = "https://hai.ai/schemas/agreement/v3/agreement.schema.json"
    doc["profile"] = "jacs-agreement-v3"
    v = verdict(resign(doc))
    assert checks(v)["agreement"].status == "unverifiable"
    assert v.status in ("unverifiable", "invalid")


def test_non_agreement_documents_get_no_agreement_checks():
    doc = A.new_document({"jacsDocument": {"type": "message", "content": {"x": 1}}})
    v = verdict(doc)
    assert v.status == "valid" and not [c for c in v.checks if c.name.startswith("agreement")]


# --- agreements v1 (jacsAgreement) -------------------------------------------------


def _v1(signers=(A, B)) -> dict:
    doc = A.new_document({"content": {"proposal": "ship it"}, "jacsFiles": []}, jacs_level="artifact")
    body = {k: v for k, v in doc.items() if k not in ("jacsSha256",)}
    body["jacsAgreementHash"] = ag.agreement_hash(body)
    body["jacsAgreement"] = {"agentIDs": [s.agent_id for s in (A, B)], "question": "Ship?", "context": "test",
                             "signatures": []}
    body = A.finish({k: v for k, v in body.items() if k != "jacsSignature"})
    fields = ag.agreement_fields(body)
    for s in signers:
        body["jacsAgreement"]["signatures"].append(s.signature(body, placement="jacsAgreement", fields=fields))
    body["jacsSha256"] = jacs_sha256(body)
    return body


def test_v1_agreement_signatures_verify():
    v = verdict(_v1())
    assert v.status == "valid", v.checks
    c = checks(v)
    assert c[f"agreement signature {A.agent_id}"].status == "ok"
    assert c[f"agreement signature {B.agent_id}"].status == "ok"
    assert c["agreement hash"].status == "ok"
    assert c["agreement terms"].status == "warning"


def test_v1_forged_agreement_signature_under_valid_outer_signature_is_invalid():
    doc = _v1()
    doc["jacsAgreement"]["signatures"][1]["signature"] = base64.b64encode(b"\2" * 64).decode()
    doc["jacsSha256"] = jacs_sha256(doc)  # jacsAgreement is in no signature: the outer one still holds
    v = verdict(doc)
    c = checks(v)
    assert v.status == "invalid" and c["signature"].status == "ok"
    assert c[f"agreement signature {B.agent_id}"].status == "failed"


def test_v1_wrong_field_list_and_agreement_hash():
    doc = _v1()
    sig = doc["jacsAgreement"]["signatures"][0]
    doc["jacsAgreement"]["signatures"][0] = A.signature(doc, placement="jacsAgreement", fields=sig["fields"][:-1])
    doc["jacsSha256"] = jacs_sha256(doc)
    assert "exactly the agreement fields" in checks(verdict(doc))[f"agreement signature {A.agent_id}"].reason
    doc = _v1()
    doc["jacsAgreementHash"] = "0" * 64
    doc = A.finish({k: v for k, v in doc.items() if k != "jacsSignature"})
    assert checks(verdict(doc))["agreement hash"].status == "failed"


class _Ctx:
    """A check context that can load earlier versions."""

    def __init__(self, doc, versions):
        from jacs_desktop.core.checks import Check
        from jacs_desktop.core.verify import _Canon

        self._check, self._versions = Check, versions
        self.doc, self.keys, self.files, self.now, self.checks = doc, RING, None, time.time(), []
        self.canon = _Canon(doc)

    def add(self, name, status, reason):
        c = self._check(name, status, reason)
        self.checks.append(c)
        return c

    def load_version(self, jacs_id, version):
        return self._versions.get((jacs_id, version))


def _next_version(prev, outer):
    d = {k: v for k, v in prev.items() if k not in ("jacsSignature", "jacsSha256")}
    d["allPreviousVersions"] = prev["allPreviousVersions"] + [prev["jacsVersion"]]
    d["jacsPreviousVersion"] = prev["jacsVersion"]
    d["jacsVersion"] = str(uuid.uuid4())
    return outer.finish(d)


def _history(doc, versions):
    from jacs_desktop.core.verify import _check_signature

    ctx = _Ctx(doc, {(v["jacsId"], v["jacsVersion"]): v for v in versions})
    ag.check_agreements(ctx, _check_signature)
    return {c.name: c for c in ctx.checks}["agreement history"]


def test_history_walk_with_a_version_loader():
    v0 = make(THREE, POLICY)
    v1 = _next_version(v0, B)
    v2 = _next_version(v1, C)
    assert _history(v2, [v0, v1]).status == "ok"
    assert _history(v2, [v1]).status == "skipped"  # v0 not found: checked as far as it goes
    assert "not a controller" in _history(v2, [v0, _next_version(v0, X) | {"jacsVersion": v1["jacsVersion"]}]).reason
    forged = copy.deepcopy(v1)
    forged["terms"] = "changed"
    h = _history(v2, [v0, forged])
    assert h.status == "failed" and "failed header verification" in h.reason
    # the stored chain has a version the list leaves out
    v2b = copy.deepcopy(v2)
    v2b["allPreviousVersions"] = [v0["jacsVersion"], str(uuid.uuid4()), v1["jacsVersion"]]
    assert "does not reconcile" in _history(B.finish({k: v for k, v in v2b.items() if k != "jacsSignature"}),
                                            [v0, v1]).reason


def test_policy_check_for_expired_and_terminal_agreements():
    parties = [party(A, "signer"), party(B, "signer")]
    doc = make(parties, {"partyQuorum": "all"}, [(A, "signer")], expiresAt="2020-01-01T00:00:00Z")
    assert doc["status"] == "expired"
    v = verdict(doc)
    assert v.status == "valid"
    assert "expired before its policy was met" in checks(v)["agreement policy"].reason
    doc = make(parties, {"partyQuorum": "all"}, [(A, "signer"), (B, "signer")], status="terminated")
    c = checks(verdict(doc))
    assert c["agreement policy"].status == "warning" and "terminated" in c["agreement policy"].reason
    assert "agreement status" not in c
