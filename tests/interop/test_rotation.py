"""Key rotation and signer identity against the real jacs 0.15.0 library.

The library writes: each rotation a new agent version (``jacsPreviousVersion`` =
the old one) carrying ``jacsKeyRotationProof``, signed with the new key (its
``jacsSignature.agentVersion`` still names the *old* version); the new key
under ``public_keys/``; the old key pair archived as
``jacs.private.{oldVersion}.pem.enc`` / ``jacs.public.{oldVersion}.pem``.

jacs's ``verify`` does not look at the rotation proof at all (forged proofs
pass there); we fail them: stricter, never laxer.
"""

import base64
import copy
import json
import shutil
from pathlib import Path

import pytest

jacs = pytest.importorskip("jacs", reason="the jacs test extra is not installed")
from jacs import SimpleAgent  # noqa: E402
from jacs.client import JacsClient  # noqa: E402

from jacs_desktop.core.agents import AgentDirectory, transition_message  # noqa: E402
from jacs_desktop.core.canonical import jacs_sha256  # noqa: E402
from jacs_desktop.core.crypto import signer_from_private_material  # noqa: E402
from jacs_desktop.core.identity import create_agent  # noqa: E402
from jacs_desktop.core.keys import decrypt_private_key  # noqa: E402
from jacs_desktop.core.pubkey import normalize_algorithm  # noqa: E402
from jacs_desktop.core.sign import AgentSigner  # noqa: E402
from jacs_desktop.core.verify import KeyRing, _Canon, signature_payload, verify_document  # noqa: E402

from ._library import cwd as _cwd  # noqa: E402
from ._library import env as _env  # noqa: E402

pytestmark = pytest.mark.interop
PASSWORD = "Rotation!Test#2026x"




def _ring(data_dir: Path) -> KeyRing:
    ring = KeyRing()
    for pem in sorted((data_dir / "public_keys").glob("*.pem")):
        enc = pem.with_suffix(".enc_type")
        alg = enc.read_text() if enc.exists() else None
        ring.add(pem.read_bytes(), alg, "public_keys", key_hash=pem.stem)
    return ring


def _agent_docs(data_dir: Path) -> dict[str, dict]:
    return {d["jacsVersion"]: d for d in (json.loads(p.read_text()) for p in (data_dir / "agent").glob("*.json"))}


def _signer(key_dir: Path, private_name: str, public_name: str, algorithm: str):
    pub = (key_dir / public_name).read_bytes()
    material = decrypt_private_key((key_dir / private_name).read_bytes(), PASSWORD)
    return signer_from_private_material(normalize_algorithm(algorithm), material, pub), pub


def _resign(doc: dict, signer) -> dict:
    """Re-sign *doc* keeping its signature metadata (as jacs wrote it), then re-hash."""
    body = {k: v for k, v in doc.items() if k not in ("jacsSha256",)}
    sig = {k: v for k, v in body["jacsSignature"].items() if k != "signature"}
    sig["signature"] = base64.b64encode(signer.sign(signature_payload(body, sig, "jacsSignature", _Canon(body)))).decode()
    body["jacsSignature"] = sig
    body["jacsSha256"] = jacs_sha256(body)
    return body


@pytest.fixture(scope="module", params=["ed25519", "pq2025"])
def world(request, tmp_path_factory):
    """An agent made by jacs, rotated twice (the Ed25519 one to pq2025 the second time)."""
    alg = request.param
    root = tmp_path_factory.mktemp(f"rotation_{alg}")
    with _env(JACS_PRIVATE_KEY_PASSWORD=PASSWORD, JACS_TRUST_STORE_DIR=str(root / "trust")), _cwd(root):
        SimpleAgent.create_agent(
            name="rotor", password=PASSWORD, algorithm=alg,
            data_directory=str(root / "jacs_data"), key_directory=str(root / "keys"),
            config_path=str(root / "rotor.config.json"), agent_type="ai",
            description="rotation interop", domain="", default_storage="fs",
        )
        client = JacsClient(str(root / "rotor.config.json"))
        docs = {"before": json.loads(client.sign_message({"n": 1}).raw_json)}
        r1 = client.rotate_keys()
        docs["after first"] = json.loads(client.sign_message({"n": 2}).raw_json)
        r2 = client.rotate_keys("pq2025")
        docs["after second"] = json.loads(client.sign_message({"n": 3}).raw_json)
    data, keys = root / "jacs_data", root / "keys"
    agents = _agent_docs(data)
    assert len(agents) == 3
    v1, v2, v3 = r1["old_version"], r1["new_version"], r2["new_version"]
    assert r2["old_version"] == v2
    first_alg = agents[v1]["jacsSignature"]["signingAlgorithm"]
    return {
        "root": root, "data": data, "keys": keys, "client": client, "alg": alg, "docs": docs,
        "agents": agents, "versions": (v1, v2, v3), "agent_id": r1["jacs_id"], "first_alg": first_alg,
    }


def _lib_valid(world, doc: dict) -> bool:
    with _env(JACS_PRIVATE_KEY_PASSWORD=PASSWORD), _cwd(world["root"]):
        return world["client"].verify(json.dumps(doc)).valid


def _ours(world, doc: dict, agent_docs=None):
    ring = _ring(world["data"])
    directory = AgentDirectory.from_documents((agent_docs or world["agents"]).values(), ring)
    return verify_document(doc, ring, signers=directory)


def _check(verdict, name):
    found = [c for c in verdict.checks if c.name == name]
    assert len(found) <= 1, verdict.checks
    return found[0] if found else None


def test_rotation_structure(world):
    v1, v2, v3 = world["versions"]
    a = world["agents"]
    assert a[v2]["jacsPreviousVersion"] == v1 and a[v3]["jacsPreviousVersion"] == v2
    assert "jacsKeyRotationProof" not in a[v1]
    for old, new in ((v1, v2), (v2, v3)):
        proof = a[new]["jacsKeyRotationProof"]
        assert proof["oldPublicKeyHash"] == a[old]["jacsSignature"]["publicKeyHash"]
        assert proof["newPublicKeyHash"] == a[new]["jacsSignature"]["publicKeyHash"]
        assert proof["transitionMessage"] == transition_message(
            world["agent_id"], proof["oldPublicKeyHash"], proof["newPublicKeyHash"], proof["timestamp"])
        # the proof is signed with the old key's algorithm; the version by the new key
        assert proof["signingAlgorithm"] == a[old]["jacsSignature"]["signingAlgorithm"]
        # quirk: the new version's self-signature names the version it replaces
        assert a[new]["jacsSignature"]["agentVersion"] == old
        assert (world["keys"] / f"jacs.private.{old}.pem.enc").is_file()
        assert (world["keys"] / f"jacs.public.{old}.pem").is_file()
        assert (world["data"] / "public_keys" / f"{proof['newPublicKeyHash']}.pem").is_file()
    assert a[v3]["jacsSignature"]["signingAlgorithm"] == "pq2025"


def test_agent_versions_and_documents_match_the_library(world):
    v1, _v2, _v3 = world["versions"]
    for version, doc in world["agents"].items():
        ours = _ours(world, doc)
        assert ours.status == "valid" and _lib_valid(world, doc), (version, ours.checks)
        rot = _check(ours, "key rotation")
        if version == v1:
            assert rot is None
        else:
            assert rot.status == "ok", rot
            assert "signed the change" in rot.reason
        assert ours.signer_name == "rotor"
        assert _check(ours, "signer identity").status == "ok"
    for name, doc in world["docs"].items():
        ours = _ours(world, doc)
        assert ours.status == "valid" and _lib_valid(world, doc), (name, ours.checks)
        assert ours.signer_name == "rotor", ours.checks
        assert _check(ours, "superseded key") is None, name
        assert not ours.warnings, (name, ours.checks)


def _forge(world, mutate, *, prove_with_old=False):
    """The latest agent version with its proof changed, re-signed with the new key (so only the proof is wrong)."""
    _v1, v2, v3 = world["versions"]
    doc = copy.deepcopy(world["agents"][v3])
    proof = doc["jacsKeyRotationProof"]
    mutate(proof)
    if prove_with_old:  # a proof really signed by the old key, over the edited message
        old_signer, _ = _signer(world["keys"], f"jacs.private.{v2}.pem.enc", f"jacs.public.{v2}.pem",
                                world["agents"][v2]["jacsSignature"]["signingAlgorithm"])
        proof["signature"] = base64.b64encode(old_signer.sign(proof["transitionMessage"].encode())).decode()
    new_signer, _ = _signer(world["keys"], "jacs.private.pem.enc", "jacs.public.pem", "pq2025")
    return _resign(doc, new_signer)


def _flip(proof):
    raw = bytearray(base64.b64decode(proof["signature"]))
    raw[7] ^= 0x01
    proof["signature"] = base64.b64encode(bytes(raw)).decode()


def _swap(proof):
    proof["oldPublicKeyHash"], proof["newPublicKeyHash"] = proof["newPublicKeyHash"], proof["oldPublicKeyHash"]
    proof["transitionMessage"] = transition_message(
        proof["transitionMessage"].split(":")[1], proof["oldPublicKeyHash"], proof["newPublicKeyHash"], proof["timestamp"])


OTHER_ID = "00000000-0000-4000-8000-000000000000"


def _other_agent(proof):
    head, _agent, rest = proof["transitionMessage"].split(":", 2)
    proof["transitionMessage"] = f"{head}:{OTHER_ID}:{rest}"


def _timestamp(proof):
    old_ts = proof["timestamp"]
    proof["timestamp"] = "2020-01-01T00:00:00.000000000+00:00"
    proof["transitionMessage"] = proof["transitionMessage"][: -len(old_ts)] + proof["timestamp"]


def _timestamp_field_only(proof):
    proof["timestamp"] = "2020-01-01T00:00:00.000000000+00:00"


FORGERIES = {
    "signature bytes flipped": (_flip, False, "not signed by the old key"),
    "hashes swapped": (_swap, False, "new key"),
    "hashes swapped, signed by the old key": (_swap, True, "new key"),
    "other agent id": (_other_agent, False, "is for agent " + OTHER_ID),
    "other agent id, signed by the old key": (_other_agent, True, "is for agent " + OTHER_ID),
    "timestamp edited": (_timestamp, False, "not signed by the old key"),
    "timestamp field only": (_timestamp_field_only, False, "does not match its fields"),
    "signature removed": (lambda p: p.pop("signature"), False, "has no 'signature'"),
}


@pytest.mark.parametrize("case", sorted(FORGERIES))
def test_forged_proofs_fail(world, case):
    mutate, with_old, wording = FORGERIES[case]
    forged = _forge(world, mutate, prove_with_old=with_old)
    ours = _ours(world, forged)
    rot = _check(ours, "key rotation")
    assert rot is not None and rot.status == "failed", ours.checks
    assert wording in rot.reason, rot.reason
    assert ours.status == "invalid"
    # everything else about the document holds: only the proof is wrong
    assert _check(ours, "signature").status == "ok" and _check(ours, "hash").status == "ok"
    # jacs itself does not check the proof: it accepts the forgery (we are stricter)
    assert _lib_valid(world, forged)


def test_old_hash_not_the_previous_versions_key(world, tmp_path):
    """A proof that really verifies, but with a key the previous version never had."""
    _v1, _v2, _v3 = world["versions"]
    stranger = create_agent(tmp_path / "stranger", "stranger", PASSWORD, algorithm="pq2025")
    planted = stranger.public_key_hash

    def mutate(proof):
        proof["oldPublicKeyHash"] = planted
        proof["signingAlgorithm"] = "pq2025"
        proof["transitionMessage"] = transition_message(world["agent_id"], planted, proof["newPublicKeyHash"],
                                                        proof["timestamp"])
        proof["signature"] = base64.b64encode(stranger.signer.signer.sign(proof["transitionMessage"].encode())).decode()

    forged = _forge(world, mutate)
    ring = _ring(world["data"])
    ring.add(stranger.public_key, "pq2025")
    directory = AgentDirectory.from_documents(world["agents"].values(), ring)
    ours = verify_document(forged, ring, signers=directory)
    rot = _check(ours, "key rotation")
    assert rot.status == "failed" and "is not the key of the previous agent version" in rot.reason
    assert _lib_valid(world, forged)


def test_a_forged_version_in_the_store_does_not_vouch_for_its_key(world):
    """With the genuine latest version replaced by a forged one, its key is no longer the agent's."""
    _v1, _v2, v3 = world["versions"]
    forged = _forge(world, _flip)
    agents = dict(world["agents"])
    agents[v3] = forged
    ours = _ours(world, world["docs"]["after second"], agents)
    ident = _check(ours, "signer identity")
    assert ident.status == "warning" and f"unknown key claiming agent {world['agent_id']}" in ident.reason
    assert ours.signer_name is None and ours.status == "valid"
    # documents signed with the older, still linked keys keep their name
    assert _ours(world, world["docs"]["after first"], agents).signer_name == "rotor"


def test_old_key_used_after_rotation_gets_a_warning(world):
    v1, v2, _v3 = world["versions"]
    old_signer, old_pub = _signer(world["keys"], f"jacs.private.{v1}.pem.enc", f"jacs.public.{v1}.pem",
                                  world["first_alg"])
    late = AgentSigner(old_signer, world["agent_id"], v1, old_pub).new_document(
        {"jacsDocument": {"type": "message", "content": {"late": True}}})
    assert _lib_valid(world, late)  # SPEC 12.5: the library accepts it
    ours = _ours(world, late)
    assert ours.status == "valid" and ours.signer_name == "rotor"
    sup = _check(ours, "superseded key")
    assert sup is not None and sup.status == "warning", ours.checks
    assert "replaced on" in sup.reason and v2 in sup.reason
    # the same key before the rotation: no warning
    assert _check(_ours(world, world["docs"]["before"]), "superseded key") is None


def test_planted_key_is_an_unknown_key(world, tmp_path):
    """A stranger's key put into public_keys/, signing as the rotated agent."""
    _v1, _v2, v3 = world["versions"]
    mallory = create_agent(tmp_path / "mallory", "mallory", PASSWORD, algorithm=world["alg"])
    src = mallory.config.public_keys_dir
    dst = world["data"] / "public_keys"
    planted = []
    for p in src.iterdir():
        if not (dst / p.name).exists():
            shutil.copyfile(p, dst / p.name)
            planted.append(dst / p.name)
    try:
        fake = AgentSigner(mallory.signer.signer, world["agent_id"], v3, mallory.public_key).new_document(
            {"jacsDocument": {"type": "message", "content": {"pay": "mallory"}}})
        assert _lib_valid(world, fake)  # the library has no way to tell
        ours = _ours(world, fake)
        assert ours.status == "valid"  # the signature itself holds...
        ident = _check(ours, "signer identity")
        assert ident.status == "warning"  # ...but who signed is unknown
        assert f"unknown key claiming agent {world['agent_id']}" in ident.reason
        assert ours.signer_name is None
        # mallory's own agent document does not change that (it is another agent)
        ring = _ring(world["data"])
        mallory_doc = json.loads(mallory.config.agent_file.read_text())
        directory = AgentDirectory.from_documents([*world["agents"].values(), mallory_doc], ring)
        again = verify_document(fake, ring, signers=directory)
        assert again.signer_name is None and "the key belongs to agent " + mallory.agent_id in _check(
            again, "signer identity").reason
        # and a genuine document still shows the name
        genuine = _ours(world, world["docs"]["after second"])
        assert genuine.signer_name == "rotor" and _check(genuine, "signer identity").status == "ok"
    finally:
        for p in planted:
            p.unlink()


def test_planted_agent_version_without_proof(world, tmp_path):
    """A stranger's self-signed 'next version' of the agent (no proof) is not the agent."""
    _v1, _v2, v3 = world["versions"]
    mallory = create_agent(tmp_path / "mallory2", "mallory", PASSWORD, algorithm=world["alg"])
    doc = copy.deepcopy(world["agents"][v3])
    doc.pop("jacsKeyRotationProof")
    doc["name"] = "rotor (new key, trust me)"
    doc["jacsVersion"] = "11111111-1111-4111-8111-111111111111"
    doc["jacsPreviousVersion"] = v3
    s = AgentSigner(mallory.signer.signer, world["agent_id"], v3, mallory.public_key)
    doc.pop("jacsSignature")
    doc.pop("jacsSha256")
    planted = s.finish(doc)
    dst = world["data"] / "public_keys"
    planted_files = []
    for p in mallory.config.public_keys_dir.iterdir():
        if not (dst / p.name).exists():
            shutil.copyfile(p, dst / p.name)
            planted_files.append(dst / p.name)
    try:
        ring = _ring(world["data"])
        directory = AgentDirectory.from_documents([*world["agents"].values(), planted], ring)
        ours = verify_document(planted, ring, signers=directory)
        rot = _check(ours, "key rotation")
        assert rot.status == "failed" and "without a jacsKeyRotationProof" in rot.reason
        assert ours.signer_name is None and ours.status == "invalid"
        assert _lib_valid(world, planted)  # jacs does not compare keys across agent versions
        fake = s.new_document({"jacsDocument": {"type": "message", "content": {"x": 1}}})
        v = verify_document(fake, ring, signers=directory)
        assert v.signer_name is None and "unknown key claiming agent" in _check(v, "signer identity").reason
        assert v.status == "valid" and _lib_valid(world, fake)
        assert directory.agent(world["agent_id"]).name == "rotor"
    finally:
        for p in planted_files:
            p.unlink()


def test_whole_world_agrees_with_the_library(world):
    """Every file jacs wrote (documents, agent versions, config): same verdict, names everywhere."""
    root = world["root"]
    files = sorted([*(root / "documents").glob("*.json"), *(world["data"] / "agent").glob("*.json"),
                    root / "rotor.config.json"])
    assert len(files) >= 7
    for path in files:
        doc = json.loads(path.read_text())
        ours = _ours(world, doc)
        assert ours.status == "valid", (path.name, ours.checks)
        assert _lib_valid(world, doc), path.name
        assert ours.signer_name == "rotor", (path.name, ours.checks)
        assert not [c for c in ours.checks if c.status not in ("ok",)], (path.name, ours.checks)
