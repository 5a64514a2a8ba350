"""Rotating keys from the app (jobs.keymgmt.rotate_keys) on agents made by the real jacs 0.15.0:
the library loads the rotated agent and signs with the new key; documents signed before and after
verify in jacs and in our verifier; the rotation proof holds in our timeline and in jacs's own
crash recovery (which checks it before re-signing a config); an interrupted rotation is finished by
jacs and by us; bad input changes nothing.  Also: an agent rotated by jacs's Python ``rotate_keys``
(whose config jacs leaves stale, so jacs refuses to load it) is repaired by finish_rotation."""

import base64
import json
import shutil
from pathlib import Path

import pytest

jacs = pytest.importorskip("jacs", reason="the jacs test extra is not installed")
from jacs.client import JacsClient  # noqa: E402
from jacs.types import JacsError as LibraryError  # noqa: E402

from jacs_desktop.cli.app import main as cli  # noqa: E402
from jacs_desktop.core.crypto import signer_from_private_material  # noqa: E402
from jacs_desktop.core.errors import IdentityError, JacsError, KeyDecryptionError  # noqa: E402
from jacs_desktop.core.identity import Identity  # noqa: E402
from jacs_desktop.core.keys import decrypt_private_key  # noqa: E402
from jacs_desktop.core.pubkey import normalize_algorithm  # noqa: E402
from jacs_desktop.core.sign import AgentSigner, pretty_json  # noqa: E402
from jacs_desktop.jobs import keymgmt  # noqa: E402
from jacs_desktop.jobs.identity import timeline  # noqa: E402
from jacs_desktop.storage.opener import open_store  # noqa: E402

from ._library import create_jacs_agent_here, env, library  # noqa: E402

pytestmark = pytest.mark.interop
PW = "Rotate!FromApp#2026q"


def _make(root: Path, algorithm: str) -> Path:
    with env(JACS_TRUST_STORE_DIR=str(root / "trust")), library(root, PW):
        return create_jacs_agent_here(root, "rhea", algorithm, PW)


def _jacs(root: Path, cfg: Path) -> JacsClient:
    with env(JACS_TRUST_STORE_DIR=str(root / "trust")), library(root, PW):
        return JacsClient(str(cfg))


def _jacs_sign(root: Path, cfg: Path, payload) -> dict:
    with env(JACS_TRUST_STORE_DIR=str(root / "trust")), library(root, PW):
        return json.loads(JacsClient(str(cfg)).sign_message(payload).raw_json)


def _jacs_valid(root: Path, cfg: Path, doc: dict) -> bool:
    with env(JACS_TRUST_STORE_DIR=str(root / "trust")), library(root, PW):
        return JacsClient(str(cfg)).verify(json.dumps(doc)).valid


def _ours_valid(root: Path, doc: dict) -> bool:
    store = open_store(str(root))
    try:
        refs = [r for r in store.documents().get(doc["jacsId"], []) if r.version == doc["jacsVersion"]]
        assert refs, "the document is in the store"
        return store.verify(refs[0]).valid
    finally:
        store.close()


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("first, target", [("ring-Ed25519", None), ("ring-Ed25519", "pq2025"), ("pq2025", None)])
def test_rotated_agent_loads_and_signs_in_jacs(tmp_path, first, target):
    cfg = _make(tmp_path, first)
    before = _jacs_sign(tmp_path, cfg, {"n": "before"})
    ident = Identity.load(cfg)
    old_hash, old_version = ident.public_key_hash, ident.agent_version
    steps = []
    res = keymgmt.rotate_keys(ident, PW, target, progress=lambda d, t, m: steps.append((d, t, m)))
    assert steps[-1][0] == steps[-1][1] == 5
    assert res.old_key_hash == old_hash and res.new_key_hash != old_hash and res.old_version == old_version
    assert res.algorithm == (target or first)
    kd = ident.config.key_dir
    assert not (kd / keymgmt.JOURNAL_NAME).exists() and not list(kd.glob(".jacs.rotation.*"))
    assert (kd / f"jacs.private.{old_version}.pem.enc").is_file()
    note = json.loads((kd / f"jacs.private.{old_version}.pem.enc.obsolete.json").read_text())
    assert note["obsoletedAtVersion"] == old_version and note["reason"] == "superseded-by-rotation"

    # the library loads the rotated agent and signs with the new key, as the new version
    after = _jacs_sign(tmp_path, cfg, {"n": "after"})
    sig = after["jacsSignature"]
    assert sig["publicKeyHash"] == res.new_key_hash and sig["agentVersion"] == res.new_version
    assert sig["signingAlgorithm"] == res.algorithm
    # and our own loaded identity signs as the new version too
    ours_after = res.identity.unlock(PW).new_document({"n": "after, ours"})
    store_docs = tmp_path / "documents"
    (store_docs / f"{ours_after['jacsId']}:{ours_after['jacsVersion']}.json").write_bytes(pretty_json(ours_after))
    for doc in (before, after, ours_after):
        assert _jacs_valid(tmp_path, cfg, doc), doc["jacsSignature"]["publicKeyHash"]
        assert _ours_valid(tmp_path, doc)
    # the new agent version we wrote is a document jacs verifies (signed by the new key)
    assert _jacs_valid(tmp_path, cfg, json.loads(res.agent_file.read_text()))

    # the timeline shows two versions, the proof verified with the old key, no flags
    store = open_store(str(tmp_path))
    try:
        tl = timeline(store, res.agent_id)
    finally:
        store.close()
    assert tl is not None and [v.version for v in tl.versions] == [old_version, res.new_version]
    assert tl.versions[1].rotation == "ok", tl.versions[1].rotation_reason
    assert not tl.flags, [f.text for f in tl.flags]

    # rotating again from the rotated agent works the same
    res2 = keymgmt.rotate_keys(res.identity, PW)
    third = _jacs_sign(tmp_path, cfg, {"n": "third"})
    assert third["jacsSignature"]["publicKeyHash"] == res2.new_key_hash
    assert all(_jacs_valid(tmp_path, cfg, d) for d in (before, after, third))


def _crash_before_config(monkeypatch, ident):
    """Our rotation interrupted after the keys were switched, before the config was re-signed."""
    def boom(config, doc):
        raise OSError("simulated crash")
    monkeypatch.setattr(keymgmt, "_write_config", boom)
    with pytest.raises(OSError):
        keymgmt.rotate_keys(ident, PW)
    monkeypatch.undo()


def test_interrupted_rotation_is_finished_by_jacs_and_by_us(tmp_path, monkeypatch):
    a = tmp_path / "a"
    a.mkdir()
    cfg = _make(a, "ring-Ed25519")
    ident = Identity.load(cfg)
    old_version = ident.agent_version
    _crash_before_config(monkeypatch, ident)
    assert (ident.config.key_dir / keymgmt.JOURNAL_NAME).is_file()
    b = tmp_path / "b"
    shutil.copytree(a, b)
    c = tmp_path / "c"
    shutil.copytree(a, c)

    # jacs's own recovery: it checks our new version and its rotation proof, then re-signs the config
    doc = _jacs_sign(a, cfg, {"n": "after crash"})
    assert doc["jacsSignature"]["agentVersion"] != old_version
    assert not (ident.config.key_dir / keymgmt.JOURNAL_NAME).exists()

    # ours: the same state finished by finish_rotation (and by rotate_keys, which finishes first)
    res = keymgmt.finish_rotation(b / cfg.name, PW)
    assert res.finished_interrupted and res.old_version == old_version
    assert _jacs_sign(b, b / cfg.name, {"n": 1})["jacsSignature"]["publicKeyHash"] == res.new_key_hash
    res_c = keymgmt.rotate_keys(Identity.load(c / cfg.name), PW)
    assert res_c.finished_interrupted
    assert _jacs_sign(c, c / cfg.name, {"n": 1})["jacsSignature"]["publicKeyHash"] == res_c.new_key_hash


def test_an_attempt_stopped_before_the_journal_leaves_the_agent_as_it_was(tmp_path, monkeypatch):
    cfg = _make(tmp_path, "ring-Ed25519")
    ident = Identity.load(cfg)
    real = keymgmt.write_file_atomic

    def no_journal(path, *a, **k):
        if Path(path).name == keymgmt.JOURNAL_NAME:
            raise OSError("simulated crash")
        return real(path, *a, **k)

    monkeypatch.setattr(keymgmt, "write_file_atomic", no_journal)
    with pytest.raises(OSError):
        keymgmt.rotate_keys(ident, PW)
    monkeypatch.undo()
    agents = ident.config.data_dir / "agent"
    # the new version is only staged under a hidden name, which jacs does not read
    assert [p.name for p in agents.glob("*.json") if not p.name.startswith(".")] == [ident.config.agent_file.name]
    assert _jacs_sign(tmp_path, cfg, {"n": 0})["jacsSignature"]["publicKeyHash"] == ident.public_key_hash
    res = keymgmt.rotate_keys(Identity.load(cfg), PW)  # again: what was staged is dropped
    assert sorted(p.name for p in agents.glob("*")) == sorted(
        [ident.config.agent_file.name, res.agent_file.name])
    assert not list(ident.config.key_dir.glob(".jacs.rotation.*"))
    assert _jacs_sign(tmp_path, cfg, {"n": 1})["jacsSignature"]["publicKeyHash"] == res.new_key_hash


def test_a_forged_rotation_proof_is_refused_by_jacs_and_by_us(tmp_path, monkeypatch):
    cfg = _make(tmp_path, "ring-Ed25519")
    ident = Identity.load(cfg)
    _crash_before_config(monkeypatch, ident)
    config = ident.config
    child = next(p for p in (config.data_dir / "agent").glob("*.json") if p != config.agent_file)
    doc = json.loads(child.read_text())
    # forge: the proof's signature replaced, the version re-signed by the new key so only the proof is wrong
    proof = doc["jacsKeyRotationProof"]
    raw = bytearray(base64.b64decode(proof["signature"]))
    raw[0] ^= 1
    proof["signature"] = base64.b64encode(bytes(raw)).decode()
    pub = config.public_key_file.read_bytes()
    signer = signer_from_private_material(normalize_algorithm("ring-Ed25519"),
                                          decrypt_private_key(config.private_key_file.read_bytes(), PW), pub)
    forged = AgentSigner(signer, ident.agent_id, ident.agent_version, pub).finish(doc)
    child.write_bytes(pretty_json(forged))
    with pytest.raises(LibraryError, match=r"(?i)transition proof"):
        _jacs(tmp_path, cfg)
    before = _snapshot(tmp_path)
    with pytest.raises(IdentityError, match="rotation proof does not hold"):
        keymgmt.finish_rotation(cfg, PW)
    assert _snapshot(tmp_path) == before


def test_an_agent_rotated_by_jacs_python_is_repaired(tmp_path):
    cfg = _make(tmp_path, "ring-Ed25519")
    with env(JACS_TRUST_STORE_DIR=str(tmp_path / "trust")), library(tmp_path, PW):
        client = JacsClient(str(cfg))
        before = json.loads(client.sign_message({"n": 0}).raw_json)
        rot = client.rotate_keys()
    with pytest.raises(LibraryError, match="no rotation journal is present"):
        _jacs(tmp_path, cfg)  # the library cannot load what it rotated itself
    with pytest.raises(IdentityError, match="earlier rotation did not finish"):
        keymgmt.rotate_keys(Identity.load(cfg), PW)
    res = keymgmt.finish_rotation(cfg, PW)
    assert res.new_version == rot["new_version"] and res.new_key_hash == rot["new_public_key_hash"]
    after = _jacs_sign(tmp_path, cfg, {"n": 1})
    assert after["jacsSignature"]["publicKeyHash"] == rot["new_public_key_hash"]
    assert _jacs_valid(tmp_path, cfg, before) and _ours_valid(tmp_path, after)


def test_bad_input_changes_nothing(tmp_path):
    cfg = _make(tmp_path, "pq2025")
    ident = Identity.load(cfg)
    before = _snapshot(tmp_path)
    with pytest.raises(KeyDecryptionError):
        keymgmt.rotate_keys(ident, "Wrong!Password#2026q")
    with pytest.raises(JacsError, match="refused"):
        keymgmt.rotate_keys(ident, PW, "ring-Ed25519")
    with pytest.raises(JacsError, match="Unknown key algorithm"):
        keymgmt.rotate_keys(ident, PW, "rsa-pss")
    with pytest.raises(IdentityError, match="No rotation to finish"):
        keymgmt.finish_rotation(cfg, PW)
    assert _snapshot(tmp_path) == before
    assert _jacs_sign(tmp_path, cfg, {"still": "works"})["jacsSignature"]["publicKeyHash"] == ident.public_key_hash


def test_cli_rotate_keys(tmp_path, capsys):
    cfg = _make(tmp_path, "ring-Ed25519")
    with env(JACS_PRIVATE_KEY_PASSWORD="Wrong!Password#2026q"):
        assert cli(["identity", "rotate-keys", "--config", str(cfg)]) == 1
    capsys.readouterr()
    with env(JACS_PRIVATE_KEY_PASSWORD=PW):
        assert cli(["identity", "rotate-keys", "--config", str(cfg), "--algorithm", "pq2025", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["algorithm"] == "pq2025"
    doc = _jacs_sign(tmp_path, cfg, {"n": "cli"})
    assert doc["jacsSignature"]["publicKeyHash"] == out["new_public_key_hash"]
    assert doc["jacsSignature"]["signingAlgorithm"] == "pq2025"
