"""Every document, agent and config of the real fixture gets the verdict its manifest says."""

import json
import shutil

import pytest
from conftest import EXAMPLES, FIXTURE, MANIFEST

from jacs_desktop.core.verify import KeyRing, verify_bytes, verify_document
from jacs_desktop.storage.urls import open_store


@pytest.fixture(scope="module")
def store():
    return open_store(str(FIXTURE))


def _expected(entry):
    return "valid" if entry["should_verify"] else "invalid"


@pytest.mark.parametrize("entry", MANIFEST["documents"], ids=lambda e: e["kind"] + ":" + e["jacsVersion"][:8])
def test_manifest_documents(store, entry):
    v = verify_bytes((FIXTURE / entry["path"]).read_bytes(), store.key_ring(), store.read_attachment)
    assert v.status == _expected(entry), v.checks
    assert v.id == entry["jacsId"] and v.version == entry["jacsVersion"]
    assert v.signer == entry["signer_agent_id"]
    assert v.algorithm == entry["signingAlgorithm"]
    assert v.public_key_hash == entry["publicKeyHash"]
    names = {c.name for c in v.checks}
    assert {"hash", "signature", "signature key"} <= names
    for f in entry.get("files", []):
        assert any(c.name == f"attachment {f['path']}" and c.status == "ok" for c in v.checks)
    if entry.get("agreement_signers"):
        for a in entry["agreement_signers"]:
            assert any(c.name == f"agreement signature {a}" and c.status == "ok" for c in v.checks)
    if "jacsAgreementHash" in entry:
        assert any(c.name == "agreement hash" and c.status == "ok" for c in v.checks)
        assert any(c.name == "agreement terms" and c.status == "warning" for c in v.checks)


@pytest.mark.parametrize("name", list(MANIFEST["agents"]))
def test_agents_and_configs(store, name):
    agent = MANIFEST["agents"][name]
    for rel, kind in ((agent["agent_document"], "agent"), (agent["config"], "config")):
        v = verify_bytes((FIXTURE / rel).read_bytes(), store.key_ring(), store.read_attachment)
        assert v.status == "valid", v.checks
        assert v.kind == kind
        assert v.signer == agent["agent_id"] and v.algorithm == agent["algorithm"]


@pytest.mark.parametrize("entry", MANIFEST["tampered"], ids=lambda e: e["path"])
def test_tampered(store, entry):
    v = verify_bytes((FIXTURE / entry["path"]).read_bytes(), store.key_ring(), store.read_attachment)
    assert v.status == _expected(entry), v.checks
    if entry["should_verify"]:  # the known agreement gap: passes, with the gap shown
        assert any(c.status == "warning" and "gap" in c.reason for c in v.checks)
    else:
        failed = [c for c in v.checks if c.status == "failed"]
        assert failed and all(c.reason for c in failed)


def test_tampered_reasons_are_specific(store):
    ring = store.key_ring()
    def reason(name):
        return verify_bytes((FIXTURE / "tampered" / name).read_bytes(), ring).reason
    assert "jacsSha256 does not match" in reason("content_changed_hash_stale.json")
    assert "Ed25519 signature does not match" in reason("content_changed_rehashed.json")
    assert "Unsigned top-level field 'approvedBy'" in reason("unsigned_field_added.json")
    assert "does not match the supplied public key algorithm" in reason("pq_doc_claims_ed_key.json")


def test_whole_store_matches_manifest(store):
    from jacs_desktop.jobs.verify_all import verify_store

    report = verify_store(store)
    assert report.summary["total"] == len(MANIFEST["documents"]) + 2 * len(MANIFEST["agents"])
    assert report.summary["valid"] == report.summary["total"]
    assert report.exit_code == 0
    # version chains as the manifest lists them
    by_id = {}
    for v in report.results:
        if v.kind == "document":
            by_id.setdefault(v.id, []).append(v.version)
    assert {k: sorted(v) for k, v in by_id.items()} == {k: sorted(v) for k, v in MANIFEST["version_chains"].items()}


@pytest.mark.parametrize("alg", ["ed25519", "pq2025"])
def test_examples_verify(alg):
    ring = KeyRing()
    ring.add((EXAMPLES / f"{alg}_public_key.bin").read_bytes())
    doc = json.loads((EXAMPLES / f"{alg}_message.json").read_bytes())
    assert verify_document(doc, ring).status == "valid"
    from jacs_desktop.core.verify import signature_payload

    assert signature_payload(doc, doc["jacsSignature"], "jacsSignature") == (
        EXAMPLES / f"{alg}_signature_input.txt"
    ).read_bytes().rstrip(b"\n")


def test_unknown_key_is_unverifiable_not_invalid():
    doc = (FIXTURE / MANIFEST["documents"][0]["path"]).read_bytes()
    v = verify_bytes(doc, KeyRing())
    assert v.status == "unverifiable"
    assert "was not found" in v.reason


def test_external_attachment_missing_or_changed(fixture_copy):
    entry = next(e for e in MANIFEST["documents"] if e.get("files") and not e["files"][0]["embed"])
    store = open_store(str(fixture_copy))
    data = (fixture_copy / entry["path"]).read_bytes()
    assert verify_bytes(data, store.key_ring(), store.read_attachment).status == "valid"
    target = fixture_copy / "jacs_data" / entry["files"][0]["path"]
    target.write_bytes(target.read_bytes() + b"changed,row\n")
    v = verify_bytes(data, store.key_ring(), store.read_attachment)
    # the library's exact gzip stream is reproduced, so a changed file is known to be changed (jacs agrees)
    assert v.status == "invalid" and "has changed since it was signed" in v.reason
    target.unlink()
    v = verify_bytes(data, store.key_ring(), store.read_attachment)
    assert v.status == "unverifiable" and "not found" in v.reason


def test_embedded_contents_swapped(store):
    entry = next(e for e in MANIFEST["documents"] if e.get("files") and e["files"][0]["embed"])
    doc = json.loads((FIXTURE / entry["path"]).read_bytes())
    import base64
    import gzip
    doc["jacsFiles"][0]["contents"] = base64.b64encode(gzip.compress(b"evil")).decode()
    from jacs_desktop.core.canonical import jacs_sha256

    doc["jacsSha256"] = jacs_sha256(doc)
    v = verify_document(doc, store.key_ring(), store.read_attachment)
    assert v.status == "invalid"
    assert any(c.status == "failed" and "Hash mismatch" in c.reason for c in v.checks)


def test_file_name_mismatch_is_flagged(fixture_copy):
    from jacs_desktop.jobs.verify_all import verify_store

    src = fixture_copy / MANIFEST["documents"][0]["path"]
    shutil.copy(src, src.parent / "00000000-0000-4000-8000-000000000000:11111111-1111-4111-8111-111111111111.json")
    report = verify_store(open_store(str(fixture_copy)))
    bad = [v for v in report.results if v.status == "invalid"]
    assert len(bad) == 1 and "file name says" in bad[0].reason
    assert report.exit_code == 2


def test_config_with_an_absolute_data_directory_inside_the_folder(fixture_copy):
    """SPEC 1.1: an absolute data directory strictly inside the config's folder is taken relative to it."""
    from jacs_desktop.jobs.verify_all import verify_store

    (fixture_copy / "jacs_data").rename(fixture_copy / "data")
    for agent in MANIFEST["agents"].values():
        cfg_path = fixture_copy / agent["config"]
        cfg = json.loads(cfg_path.read_bytes())
        cfg["jacs_data_directory"] = str(fixture_copy / "data")
        cfg_path.write_text(json.dumps(cfg))
    report = verify_store(open_store(str(fixture_copy)))
    assert report.errors == []
    by_kind = {}
    for v in report.results:
        by_kind.setdefault(v.kind, []).append(v.status)
    assert by_kind["agent"] == ["valid", "valid"]  # found through the configs' data directory
    assert by_kind["config"] == ["invalid", "invalid"]  # edited after signing
    assert set(by_kind["document"]) == {"valid"}  # keys and the external attachment found under data/


def test_config_with_a_data_directory_outside_the_store_is_an_error(fixture_copy, tmp_path):
    from jacs_desktop.jobs.verify_all import verify_store

    cfg_path = fixture_copy / MANIFEST["agents"]["ed25519"]["config"]
    cfg = json.loads(cfg_path.read_bytes())
    cfg["jacs_data_directory"] = str(tmp_path / "elsewhere")
    cfg_path.write_text(json.dumps(cfg))
    report = verify_store(open_store(str(fixture_copy)))
    assert len(report.errors) == 1 and "outside the store" in report.errors[0]
    assert report.exit_code == 2  # the edited config itself is invalid
