"""Identity timeline and trust store on stores the real jacs 0.15 library made.

Rory is a jacs agent that signs, rotates its Ed25519 key to pq2025 and signs again; the store
also gets a late document signed with Rory's superseded key, one citing an agent version the
store does not hold, and one signed as Rory by Mallory's key planted in ``public_keys/``.
Alice trusts Rory (in the library's trust store) before the rotation; the library then fails
Rory's new documents ("Document public key conflicts with the enrolled identity key") until
we re-pin along the verified rotation chain.  Trust written by us must be what ``jacs`` reads.
"""

import base64
import json
import shutil
import uuid

import pytest

jacs = pytest.importorskip("jacs", reason="the jacs test extra is not installed")
from jacs.client import JacsClient  # noqa: E402

from jacs_desktop.cli.app import main as cli  # noqa: E402
from jacs_desktop.core.crypto import signer_from_private_material  # noqa: E402
from jacs_desktop.core.identity import Identity, create_agent  # noqa: E402
from jacs_desktop.core.keys import decrypt_private_key  # noqa: E402
from jacs_desktop.core.pubkey import normalize_algorithm  # noqa: E402
from jacs_desktop.core.sign import AgentSigner  # noqa: E402
from jacs_desktop.jobs import identity as idn  # noqa: E402
from jacs_desktop.jobs import trust as tr  # noqa: E402
from jacs_desktop.storage.opener import open_store  # noqa: E402

from ._library import create_jacs_agent_here, env, library  # noqa: E402

pytestmark = pytest.mark.interop
PASSWORD = "Trust!Identity#2026x"
MESSAGE = {"jacsDocument": {"type": "message", "content": {"n": 0}}}


def _key_signer(root, agent_id, version, alg, old=True):
    """Rory's signer from its key folder: the archived key of *version* (old) or the current one."""
    kd = root / "keys" / "rory"
    tail = f".{version}" if old else ""
    pub = (kd / f"jacs.public{tail}.pem").read_bytes()
    material = decrypt_private_key((kd / f"jacs.private{tail}.pem.enc").read_bytes(), PASSWORD)
    return AgentSigner(signer_from_private_material(normalize_algorithm(alg), material, pub), agent_id, version, pub)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("identity")
    trust = root / "alice-trust"
    with env(JACS_TRUST_STORE_DIR=str(trust)), library(root, PASSWORD):
        cfg_alice = create_jacs_agent_here(root, "alice", "ring-Ed25519", PASSWORD)
        cfg_rory = create_jacs_agent_here(root, "rory", "ring-Ed25519", PASSWORD)
        cfg_victor = create_jacs_agent_here(root, "victor", "ring-Ed25519", PASSWORD)  # verifies Alice's documents
        alice, rory = JacsClient(str(cfg_alice)), JacsClient(str(cfg_rory))
        before = json.loads(rory.sign_message({"n": 1}).raw_json)
        alice.trust_agent_with_key(rory.export_agent(), rory.get_public_key())  # the library's own enrolment
        with env(JACS_TRUST_STORE_DIR=str(root / "rory-trust")):  # Rory's own trust store: empty
            rot = rory.rotate_keys("pq2025")
            after = json.loads(rory.sign_message({"n": 2}).raw_json)
        conflict = alice.verify(json.dumps(after))
    shutil.copytree(trust, root / "trust-as-jacs-left-it")
    aid, v1, v2 = rot["jacs_id"], rot["old_version"], rot["new_version"]
    store = open_store(str(root))
    try:
        late = _key_signer(root, aid, v1, "ring-Ed25519").new_document(MESSAGE)
        ghost_version = str(uuid.uuid4())
        ghost = _key_signer(root, aid, ghost_version, "pq2025", old=False).new_document(MESSAGE)
        mallory = create_agent(root / "mallory", "mallory", PASSWORD, algorithm="ring-Ed25519")
        store.put_public_key(mallory.public_key, mallory.algorithm)
        planted = AgentSigner(mallory.signer.signer, aid, v2).new_document(MESSAGE)
        for d in (late, ghost, planted):
            store.put_document(d)
    finally:
        store.close()
    return {"root": root, "cfg_alice": cfg_alice, "cfg_rory": cfg_rory, "cfg_victor": cfg_victor, "aid": aid, "v1": v1, "v2": v2,
            "rot": rot, "before": before, "after": after, "late": late, "ghost": ghost, "planted": planted,
            "ghost_version": ghost_version, "conflict": conflict, "mallory": mallory}


@pytest.fixture
def world(made, tmp_path):
    t = tmp_path / "trust"
    shutil.copytree(made["root"] / "trust-as-jacs-left-it", t)
    return {**made, "trust": t}


def _label(doc):
    return f"{doc['jacsId']}:{doc['jacsVersion']}"


def _store(made):
    return open_store(str(made["root"]))


def _lib(world, doc, trust=None, who="cfg_alice"):
    """The library's verdict on *doc*, as Alice (or *who*) with the trust store *trust*."""
    with env(JACS_TRUST_STORE_DIR=str(trust or world["trust"])), library(world["root"], PASSWORD):
        client = JacsClient(str(world[who]))
        return client.verify(json.dumps(doc)), client


def test_timeline_of_a_rotated_agent(made):
    store = _store(made)
    try:
        tl = idn.timeline(store, made["aid"])
    finally:
        store.close()
    assert tl is not None and tl.name == "rory"
    assert [v.version for v in tl.versions] == [made["v1"], made["v2"]]
    assert [v.algorithm for v in tl.versions] == ["ring-Ed25519", "pq2025"]
    assert tl.versions[1].key_hash == made["rot"]["new_public_key_hash"]
    assert tl.versions[0].rotation == "" and tl.versions[1].rotation == "ok"
    assert "signed the change" in tl.versions[1].rotation_reason
    obsolete = json.loads((made["root"] / "keys" / "rory" /
                           f"jacs.private.{made['v1']}.pem.enc.obsolete.json").read_text())
    assert tl.versions[0].rotated_at == obsolete["rotatedAt"] and tl.versions[1].rotated_at is None
    own = [e for e in tl.epochs if e.own]
    assert [e.algorithm for e in own] == ["ring-Ed25519", "pq2025"]
    proof = json.loads((made["root"] / "jacs_data" / "agent" / f"{made['aid']}:{made['v2']}.json").read_text())
    assert own[0].until == proof["jacsKeyRotationProof"]["timestamp"] and own[1].until is None
    assert sorted(d.label for d in own[0].documents) == sorted([_label(made["before"]), _label(made["late"])])
    assert sorted(d.label for d in own[1].documents) == sorted([_label(made["after"]), _label(made["ghost"])])
    flags = {f.kind: f for f in tl.flags}
    assert set(flags) == {idn.SUPERSEDED, idn.MISSING_VERSION, idn.FOREIGN_KEY}
    assert flags[idn.SUPERSEDED].documents == [_label(made["late"])]
    assert flags[idn.MISSING_VERSION].documents == [_label(made["ghost"])]
    assert flags[idn.FOREIGN_KEY].documents == [_label(made["planted"])]
    assert made["mallory"].public_key_hash[:16] in flags[idn.FOREIGN_KEY].text
    # the library accepts all three (nothing in jacs flags them)
    for doc in (made["late"], made["ghost"], made["planted"]):
        assert _lib(made, doc, made["root"] / "empty-trust")[0].valid


def test_broken_proof_is_flagged(made, tmp_path):
    root = tmp_path / "store"
    shutil.copytree(made["root"], root, ignore=shutil.ignore_patterns("*trust*"))
    path = root / "jacs_data" / "agent" / f"{made['aid']}:{made['v2']}.json"
    doc = json.loads(path.read_text())
    raw = bytearray(base64.b64decode(doc["jacsKeyRotationProof"]["signature"]))
    raw[3] ^= 1
    doc["jacsKeyRotationProof"]["signature"] = base64.b64encode(bytes(raw)).decode()
    doc = _key_signer(root, made["aid"], made["v1"], "pq2025", old=False).finish(doc)  # re-signed by the new key
    path.write_text(json.dumps(doc, indent=2))
    store = open_store(str(root))
    try:
        tl = idn.timeline(store, made["aid"])
    finally:
        store.close()
    bad = [f for f in tl.flags if f.kind == idn.BAD_PROOF]
    assert len(bad) == 1 and "not signed by the old key" in bad[0].text
    assert _label(made["after"]) in bad[0].documents
    assert tl.versions[1].rotation == "failed" and not tl.versions[1].in_chain


def test_cli_timeline(made, capsys):
    assert cli(["identity", "timeline", str(made["root"]), made["aid"], "--json",
                "--trust-store", str(made["root"] / "trust-as-jacs-left-it")]) == 2  # flags
    out = json.loads(capsys.readouterr().out)
    assert [v["algorithm"] for v in out["versions"]] == ["ring-Ed25519", "pq2025"]
    assert out["trust"]["state"] == tr.PIN_CONFLICT
    assert cli(["identity", "timeline", str(made["root"]), made["aid"]]) == 2
    text = capsys.readouterr().out
    assert idn.SUPERSEDED in text and _label(made["late"]) in text
    assert cli(["identity", "timeline", str(made["root"]), "no-such-agent"]) == 1


def test_library_trust_is_read(world):
    ts = tr.TrustStore(world["trust"])
    [e] = ts.trusted()
    assert (e.agent_id, e.version, e.name, e.key_hash) == (world["aid"], world["v1"], "rory",
                                                             world["before"]["jacsSignature"]["publicKeyHash"])
    assert e.algorithm == "ring-Ed25519" and e.trusted_at and e.state == tr.TRUSTED
    with env(JACS_TRUST_STORE_DIR=str(world["trust"])):
        assert tr.default_trust_dir() == world["trust"]


def test_pin_conflict_explained_and_repinned(world):
    """The library fails Rory's post-rotation document; we say why, re-pin, and then it passes."""
    assert not world["conflict"].valid and tr.CONFLICT_TEXT in " ".join(world["conflict"].errors)
    ts = tr.TrustStore(world["trust"])
    store = _store(world)
    try:
        directory = store.agent_directory()
        verdict = store.verify_data(json.dumps(world["after"]).encode())
        assert verdict.status == "valid"
        line = tr.apply_trust(verdict, ts, directory)
        assert line.state == tr.PIN_CONFLICT and tr.CONFLICT_TEXT in line.reason
        assert line.repin_to == world["rot"]["new_public_key_hash"]
        assert verdict.status == "valid" and verdict.to_dict()["trust"] == tr.PIN_CONFLICT  # never changed
        before = store.verify_data(json.dumps(world["before"]).encode())
        assert tr.apply_trust(before, ts, directory).state == tr.TRUSTED
        # a tampered document stays invalid, trusted signer or not
        bad = dict(world["before"], jacsDocument={"type": "message", "content": {"n": 99}})
        v = store.verify_data(json.dumps(bad).encode())
        tr.apply_trust(v, ts, directory)
        assert v.status == "invalid" and v.trust == tr.TRUSTED
        path = ts.repin(world["aid"], directory, line.repin_to, *_key(store, line.repin_to))
    finally:
        store.close()
    assert path == [world["v2"]]
    lib, _client = _lib(world, world["after"])
    assert lib.valid, lib.errors  # jacs now accepts what Rory signs with the new key
    old, _ = _lib(world, world["before"])
    assert not old.valid and tr.CONFLICT_TEXT in " ".join(old.errors)  # and, like us, no longer the old key
    store = _store(world)
    try:
        assert tr.trust_line(ts, world["aid"], world["rot"]["new_public_key_hash"]).state == tr.TRUSTED
        assert tr.trust_line(ts, world["aid"], world["before"]["jacsSignature"]["publicKeyHash"]).state == \
            tr.PIN_CONFLICT
    finally:
        store.close()
    [e] = ts.entries()
    assert e.state == "repinned" and e.key_hash == world["rot"]["new_public_key_hash"]


def _key(store, key_hash):
    pk = store.keys().resolve(key_hash)
    return pk.key, pk.algorithm


def test_repin_refused_without_a_verified_chain(world, tmp_path):
    """With the rotation proof broken, the pin is not moved."""
    ts = tr.TrustStore(world["trust"])
    root = tmp_path / "store"
    shutil.copytree(world["root"], root, ignore=shutil.ignore_patterns("*trust*"))
    path = root / "jacs_data" / "agent" / f"{world['aid']}:{world['v2']}.json"
    doc = json.loads(path.read_text())
    doc["jacsKeyRotationProof"]["timestamp"] = "2020-01-01T00:00:00Z"
    doc = _key_signer(root, world["aid"], world["v1"], "pq2025", old=False).finish(doc)
    path.write_text(json.dumps(doc, indent=2))
    store = open_store(str(root))
    try:
        new = world["rot"]["new_public_key_hash"]
        with pytest.raises(tr.TrustError, match="no verified rotation"):
            ts.repin(world["aid"], store.agent_directory(), new, *_key(store, new))
        line = tr.trust_line(ts, world["aid"], new, store.agent_directory())
        assert line.state == tr.PIN_CONFLICT and line.repin_to is None and "cannot be re-pinned" in line.reason
    finally:
        store.close()
    assert ts.pin(world["aid"]) == world["before"]["jacsSignature"]["publicKeyHash"]


def test_trust_written_by_us_is_what_jacs_reads(world, tmp_path, capsys):
    t = tmp_path / "mine"
    ts = tr.TrustStore(t)
    alice = Identity.load(world["cfg_alice"])
    alice_doc = json.loads(alice.config.agent_file.read_text())
    signed_by_alice = alice.unlock(PASSWORD).new_document(MESSAGE)
    assert cli(["trust", "--trust-store", str(t), "add", str(world["root"]), alice.agent_id]) == 0
    assert "trusted " + alice.agent_id in capsys.readouterr().out
    lib, client = _lib(world, signed_by_alice, t, "cfg_victor")
    with env(JACS_TRUST_STORE_DIR=str(t)), library(world["root"], PASSWORD):
        assert client.list_trusted_agents() == [f"{alice.agent_id}:{alice.agent_version}"]
        assert client.is_trusted(f"{alice.agent_id}:{alice.agent_version}")
        assert json.loads(client.get_trusted_agent(f"{alice.agent_id}:{alice.agent_version}")) == alice_doc
    assert lib.valid, lib.errors
    assert cli(["trust", "--trust-store", str(t), "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["agents"]
    assert [(a["agent"], a["version"], a["state"]) for a in listed] == [(alice.agent_id, alice.agent_version,
                                                                         "trusted")]
    # a rotated version cannot be trusted directly (jacs refuses it too)
    with pytest.raises(tr.TrustError, match="key rotation"):
        store = _store(world)
        try:
            v2 = store.read_json(store.layout.agent_key(world["aid"], world["v2"]))
            ts.add(v2, *_key(store, world["rot"]["new_public_key_hash"]))
        finally:
            store.close()
    # untrust: jacs no longer lists it, fails what it signs, and (like jacs) we refuse to trust it again
    assert cli(["trust", "--trust-store", str(t), "remove", alice.agent_id]) == 0
    capsys.readouterr()
    lib, client = _lib(world, signed_by_alice, t, "cfg_victor")
    assert not lib.valid and "distrusted" in " ".join(lib.errors)
    with env(JACS_TRUST_STORE_DIR=str(t)), library(world["root"], PASSWORD):
        assert client.list_trusted_agents() == []
    assert tr.trust_line(ts, alice.agent_id, alice.public_key_hash).state == tr.DISTRUSTED
    assert cli(["trust", "--trust-store", str(t), "add", str(world["root"]), alice.agent_id]) == 1
    assert "untrusted" in capsys.readouterr().err


def test_cli_repin(world, capsys):
    args = ["trust", "--trust-store", str(world["trust"])]
    # trust check: the verdicts with their trust lines; the exit code stays verify's (0: all valid)
    assert cli([*args, "check", str(world["root"]), "--json"]) == 0
    results = {f"{r['id']}:{r['version']}": r for r in json.loads(capsys.readouterr().out)["results"]}
    after, before = results[_label(world["after"])], results[_label(world["before"])]
    assert (after["status"], after["trust"]) == ("valid", tr.PIN_CONFLICT) and "re-pinned" in after["trust_reason"]
    assert (before["status"], before["trust"]) == ("valid", tr.TRUSTED)
    assert results[_label(world["planted"])]["trust"] == tr.PIN_CONFLICT
    assert cli([*args, "repin", str(world["root"]), world["aid"]]) == 0
    assert "re-pinned" in capsys.readouterr().out
    assert _lib(world, world["after"])[0].valid
    assert cli([*args, "repin", str(world["root"]), world["aid"]]) == 0
    assert "already pinned" in capsys.readouterr().out
    assert cli([*args, "list", "--all"]) == 0
    assert "repinned" in capsys.readouterr().out
