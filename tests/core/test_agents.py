"""AgentDirectory (core/agents.py): rotation proofs and signer identity, without the jacs library.

Rotations are made here the way jacs 0.15 makes them (see tests/interop/test_rotation.py).
"""

import base64
import copy
import json
import uuid

import pytest

from jacs_desktop.core.agents import AgentDirectory, check_rotation, rfc3339_ns, transition_message
from jacs_desktop.core.crypto import generate_private_material, signer_from_private_material
from jacs_desktop.core.sign import AGENT_SCHEMA, AgentSigner, rfc3339_now
from jacs_desktop.core.verify import KeyRing, verify_document


class Agent:
    """One agent's key history: its versions and a signer per key."""

    def __init__(self, name="alice", family="ed25519"):
        self.id = str(uuid.uuid4())
        self.family = family
        self.ring = KeyRing()
        signer, pub = self._keypair(family)
        version = str(uuid.uuid4())
        now = rfc3339_now()
        self.signer = AgentSigner(signer, self.id, version, pub)
        self.versions = [self.signer.finish({
            "$schema": AGENT_SCHEMA, "description": "unit", "jacsAgentType": "ai", "jacsId": self.id,
            "jacsLevel": "config", "jacsOriginalDate": now, "jacsOriginalVersion": version, "jacsType": "agent",
            "jacsVersion": version, "jacsVersionDate": now, "name": name,
        })]
        self.signers = [self.signer]

    def _keypair(self, family):
        material, pub = generate_private_material(family)
        self.ring.add(pub, "ring-Ed25519" if family == "ed25519" else "pq2025")
        return signer_from_private_material(family, material, pub), pub

    @property
    def version(self):
        return self.versions[-1]["jacsVersion"]

    def rotate(self, *, proof_mutate=None, with_proof=True, family=None):
        prev = self.versions[-1]
        old = self.signer
        signer, pub = self._keypair(family or self.family)
        new = AgentSigner(signer, self.id, prev["jacsVersion"], pub)  # jacs names the old version here
        ts = rfc3339_now()
        msg = transition_message(self.id, old.public_key_hash, new.public_key_hash, ts)
        proof = {"newPublicKeyHash": new.public_key_hash, "oldPublicKeyHash": old.public_key_hash,
                 "signature": base64.b64encode(old.signer.sign(msg.encode())).decode(),
                 "signingAlgorithm": old.algorithm, "timestamp": ts, "transitionMessage": msg}
        if proof_mutate:
            proof_mutate(proof, old)
        doc = {k: v for k, v in prev.items() if k not in ("jacsSignature", "jacsSha256")}
        doc.update(jacsPreviousVersion=prev["jacsVersion"], jacsVersion=str(uuid.uuid4()), jacsVersionDate=rfc3339_now())
        if with_proof:
            doc["jacsKeyRotationProof"] = proof
        else:
            doc.pop("jacsKeyRotationProof", None)
        self.versions.append(new.finish(doc))
        self.signer = AgentSigner(signer, self.id, self.version, pub)
        self.signers.append(self.signer)
        return self.versions[-1]

    def message(self, signer=None, content=None):
        return (signer or self.signer).new_document({"jacsDocument": {"type": "message", "content": content or {"x": 1}}})

    def directory(self, versions=None, ring=None):
        return AgentDirectory.from_documents(self.versions if versions is None else versions, ring or self.ring)


def check(verdict, name):
    found = [c for c in verdict.checks if c.name == name]
    assert len(found) <= 1
    return found[0] if found else None


def test_rfc3339():
    a = rfc3339_ns("2026-12-01T10:03:35.754490492+00:00")
    assert a == rfc3339_ns("2026-12-01T11:03:35.754490492+01:00") == rfc3339_ns("2026-12-01T10:03:35.754490492Z")
    assert a % 1_000_000_000 == 754490492
    assert rfc3339_ns("2026-12-01T10:03:35+00:00") < a
    for bad in ("2026-12-01", "yesterday", None, 5, "2026-13-01T00:00:00Z"):
        assert rfc3339_ns(bad) is None


def test_genuine_rotations_link_every_key():
    alice = Agent()
    docs = [alice.message()]
    alice.rotate()
    docs.append(alice.message())
    alice.rotate(family="pq2025")
    docs.append(alice.message())
    d = alice.directory()
    rec = d.agent(alice.id)
    assert rec.name == "alice" and not rec.contested
    assert set(rec.keys) == {s.public_key_hash for s in alice.signers}
    assert set(rec.superseded) == {s.public_key_hash for s in alice.signers[:2]}
    for i, v in enumerate(alice.versions):
        verdict = verify_document(v, alice.ring, signers=d)
        assert verdict.status == "valid" and verdict.signer_name == "alice", verdict.checks
        rot = check(verdict, "key rotation")
        assert (rot is None) if i == 0 else (rot.status == "ok")
    for doc in docs:
        verdict = verify_document(doc, alice.ring, signers=d)
        assert verdict.status == "valid" and verdict.signer_name == "alice" and not verdict.warnings, verdict.checks
        assert "signed with a key of agent 'alice'" in check(verdict, "signer identity").reason
    assert d.owners(alice.signers[0].public_key_hash) == {alice.id}
    assert d.name_for(alice.id, alice.signers[1].public_key_hash) == "alice"


def test_without_directory_nothing_changes():
    alice = Agent()
    v = verify_document(alice.message(), alice.ring)
    assert v.signer_name is None and check(v, "signer identity") is None


def test_old_key_after_rotation_warns():
    alice = Agent()
    first = alice.signer
    alice.rotate()
    late = alice.message(first)
    v = verify_document(late, alice.ring, signers=alice.directory())
    assert v.status == "valid" and v.signer_name == "alice"
    sup = check(v, "superseded key")
    assert sup.status == "warning" and alice.version in sup.reason and "replaced on" in sup.reason


def test_old_key_after_rotation_by_iat_when_date_is_not_rfc3339():
    alice = Agent()
    first = alice.signer
    alice.rotate()
    doc = alice.message(first)
    body = {k: v for k, v in doc.items() if k not in ("jacsSignature", "jacsSha256")}
    from jacs_desktop.core.canonical import jacs_sha256
    from jacs_desktop.core.verify import _Canon, signature_payload

    sig = {k: v for k, v in doc["jacsSignature"].items() if k != "signature"}
    sig["date"] = "not a date"
    sig["iat"] = sig["iat"] + 10
    sig["signature"] = base64.b64encode(first.signer.sign(signature_payload(body, sig, "jacsSignature", _Canon(body)))).decode()
    body["jacsSignature"] = sig
    body["jacsSha256"] = jacs_sha256(body)
    v = verify_document(body, alice.ring, signers=alice.directory())
    assert check(v, "superseded key").status == "warning", v.checks


def test_planted_key_is_unknown():
    alice = Agent()
    mallory = Agent("mallory")
    ring = KeyRing()
    for r in (alice.ring, mallory.ring):
        for h in list(r._by_hash):
            ring.add(r.resolve(h).key, r.resolve(h).algorithm)
    fake = AgentSigner(mallory.signer.signer, alice.id, alice.version, mallory.signer.signer.public_key).new_document(
        {"jacsDocument": {"type": "message", "content": {"pay": "mallory"}}})
    v = verify_document(fake, ring, signers=alice.directory(ring=ring))
    ident = check(v, "signer identity")
    assert v.status == "valid" and v.signer_name is None
    assert ident.status == "warning" and f"unknown key claiming agent {alice.id}" in ident.reason
    both = AgentDirectory.from_documents(alice.versions + mallory.versions, ring)
    v = verify_document(fake, ring, signers=both)
    assert v.signer_name is None and f"the key belongs to agent {mallory.id}" in check(v, "signer identity").reason
    assert verify_document(mallory.message(), ring, signers=both).signer_name == "mallory"


def test_agent_not_in_store():
    alice = Agent()
    v = verify_document(alice.message(), alice.ring, signers=AgentDirectory.from_documents([], alice.ring))
    ident = check(v, "signer identity")
    assert ident.status == "warning" and "unknown key claiming agent" in ident.reason
    assert "no valid self-signed agent document" in ident.reason and v.status == "valid"


def test_bad_signature_gets_no_identity():
    alice = Agent()
    doc = alice.message()
    doc["jacsDocument"]["content"] = {"x": 2}
    from jacs_desktop.core.canonical import jacs_sha256

    doc["jacsSha256"] = jacs_sha256(doc)
    v = verify_document(doc, alice.ring, signers=alice.directory())
    assert v.status == "invalid" and v.signer_name is None and check(v, "signer identity") is None


def test_key_change_without_proof_fails():
    alice = Agent()
    alice.rotate(with_proof=False)
    d = alice.directory()
    v = verify_document(alice.versions[-1], alice.ring, signers=d)
    rot = check(v, "key rotation")
    assert v.status == "invalid" and rot.status == "failed" and "without a jacsKeyRotationProof" in rot.reason
    assert v.signer_name is None and "unknown key claiming agent" in check(v, "signer identity").reason
    assert verify_document(alice.message(), alice.ring, signers=d).signer_name is None
    assert verify_document(alice.message(alice.signers[0]), alice.ring, signers=d).signer_name == "alice"


def _swap_bytes(proof, old):
    raw = bytearray(base64.b64decode(proof["signature"]))
    raw[0] ^= 0xFF
    proof["signature"] = base64.b64encode(bytes(raw)).decode()


def _resign(proof, old):
    proof["signature"] = base64.b64encode(old.signer.sign(proof["transitionMessage"].encode())).decode()


def _other_agent(proof, old):
    proof["transitionMessage"] = proof["transitionMessage"].replace(proof["transitionMessage"].split(":")[1], "x-agent")
    _resign(proof, old)


def _same_key(proof, old):
    proof["newPublicKeyHash"] = proof["oldPublicKeyHash"]
    proof["transitionMessage"] = transition_message(proof["transitionMessage"].split(":")[1], proof["oldPublicKeyHash"],
                                                    proof["oldPublicKeyHash"], proof["timestamp"])
    _resign(proof, old)


def _bad_ts(proof, old):
    proof["transitionMessage"] = proof["transitionMessage"][: -len(proof["timestamp"])] + "soon"
    proof["timestamp"] = "soon"
    _resign(proof, old)


@pytest.mark.parametrize("mutate, wording", [
    (_swap_bytes, "not signed by the old key"),
    (_other_agent, "is for agent x-agent"),
    (_same_key, "is not the key this version is signed with"),
    (_bad_ts, "is not an RFC 3339 date"),
    (lambda p, o: p.update(transitionMessage="HELLO:" + p["transitionMessage"]), "does not start with"),
    (lambda p, o: p.update(signature="!!!"), "not valid base64"),
    (lambda p, o: p.update(signingAlgorithm="pq2025"), "does not match the old public key"),
    (lambda p, o: p.update(signingAlgorithm="RSA-PSS"), "is not supported"),
    (lambda p, o: p.pop("timestamp"), "has no 'timestamp'"),
    (lambda p, o: p.update(oldPublicKeyHash="ab" * 32), "does not match its fields"),
])
def test_forged_proofs(mutate, wording):
    alice = Agent()
    alice.rotate(proof_mutate=mutate)
    d = alice.directory()
    v = verify_document(alice.versions[-1], alice.ring, signers=d)
    rot = check(v, "key rotation")
    assert rot.status == "failed" and wording in rot.reason, rot.reason
    assert v.status == "invalid" and v.signer_name is None
    assert verify_document(alice.message(), alice.ring, signers=d).signer_name is None


def test_proof_not_an_object_and_proof_on_first_version():
    alice = Agent()
    v1 = alice.versions[0]
    doc = {k: v for k, v in v1.items() if k not in ("jacsSignature", "jacsSha256")}
    doc["jacsKeyRotationProof"] = "yes"
    bad = alice.signers[0].finish(doc)
    assert "not a JSON object" in check_rotation(bad, [], alice.ring).reason
    alice.rotate()
    doc = {k: v for k, v in alice.versions[1].items() if k not in ("jacsSignature", "jacsSha256", "jacsPreviousVersion")}
    first = alice.signer.finish(doc)
    r = check_rotation(first, None, alice.ring)
    assert r.status == "failed" and "first agent version" in r.reason


def test_previous_version_missing_from_store():
    alice = Agent()
    old = alice.signers[0]
    alice.rotate()
    d = alice.directory(alice.versions[1:])
    v = verify_document(alice.versions[1], alice.ring, signers=d)
    rot = check(v, "key rotation")
    assert rot.status == "warning" and "is not in the store" in rot.reason and v.status == "valid"
    assert v.signer_name == "alice"
    # the old key is linked by the proof: named, and flagged when used after the rotation
    late = verify_document(alice.message(old), alice.ring, signers=d)
    assert late.signer_name == "alice" and check(late, "superseded key").status == "warning"


def test_old_public_key_missing():
    alice = Agent()
    alice.rotate()
    ring = KeyRing([alice.ring.resolve(alice.signer.public_key_hash)])
    d = alice.directory(ring=ring)
    v = verify_document(alice.versions[1], ring, signers=d)
    rot = check(v, "key rotation")
    assert rot.status == "warning" and "could not be checked" in rot.reason
    assert v.status == "valid" and v.signer_name == "alice"


def test_two_first_versions_with_different_keys_are_contested():
    alice = Agent()
    impostor = Agent("alice")
    clone = copy.deepcopy(impostor.versions[0])
    body = {k: v for k, v in clone.items() if k not in ("jacsSignature", "jacsSha256")}
    body.update(jacsId=alice.id)
    impostor_signer = AgentSigner(impostor.signer.signer, alice.id, body["jacsVersion"], impostor.signer.signer.public_key)
    forged_root = impostor_signer.finish(body)
    ring = KeyRing([alice.ring.resolve(alice.signer.public_key_hash),
                    impostor.ring.resolve(impostor.signer.public_key_hash)])
    d = AgentDirectory.from_documents([alice.versions[0], forged_root], ring)
    assert d.agent(alice.id).contested
    for doc in (alice.message(), impostor_signer.new_document({"jacsDocument": {"type": "message", "content": 1}})):
        v = verify_document(doc, ring, signers=d)
        assert v.signer_name is None and "cannot be told" in check(v, "signer identity").reason


def test_from_documents_skips_what_is_not_an_agent():
    alice = Agent()
    other = Agent("bob")
    # bob signs a document that looks like alice's agent document: not self-signed, ignored
    body = {k: v for k, v in alice.versions[0].items() if k not in ("jacsSignature", "jacsSha256")}
    body["name"] = "alice (bob's copy)"
    not_self = other.signer.finish(body)
    ring = KeyRing([alice.ring.resolve(alice.signer.public_key_hash), other.ring.resolve(other.signer.public_key_hash)])
    d = AgentDirectory.from_documents(
        [None, "x", b"{", {"jacsType": "agent"}, alice.message(), alice.versions[0], dict(alice.versions[0]), not_self,
         json.dumps(alice.versions[0]).encode()], ring)
    assert len(d) == 1
    rec = d.agent(alice.id)
    assert rec.name == "alice" and len(rec.versions) == 2 and not rec.contested
    assert [v.self_valid for v in rec.versions].count(False) == 1


def test_agent_document_from_outside_the_store_is_checked_against_it():
    alice = Agent()
    d = alice.directory()
    alice.rotate(proof_mutate=_swap_bytes)
    v = verify_document(alice.versions[-1], alice.ring, signers=d)
    assert check(v, "key rotation").status == "failed" and v.status == "invalid"
