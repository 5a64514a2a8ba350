"""Signing: new documents, new versions and attachments, as fixture agents."""

import base64
import gzip
import hashlib

import pytest
from conftest import MANIFEST

from jacs_desktop.core.errors import DocumentError, KeyDecryptionError
from jacs_desktop.core.identity import Identity
from jacs_desktop.core.sign import make_attachment, rfc3339_now, uuid7
from jacs_desktop.core.verify import verify_document
from jacs_desktop.storage.urls import open_store


@pytest.fixture
def identities(fixture_copy):
    out = {}
    for name, agent in MANIFEST["agents"].items():
        ident = Identity.load(fixture_copy / agent["config"])
        ident.unlock(agent["password"])
        out[name] = ident
    return out


@pytest.mark.parametrize("alg", ["ed25519", "pq2025"])
def test_new_document_and_versions(fixture_copy, identities, alg):
    ident = identities[alg]
    ring = open_store(str(fixture_copy)).key_ring()
    s = ident.signer
    d1 = s.new_document({"jacsDocument": {"type": "message", "content": {"n": 1, "note": "naïve ✓"}}})
    assert d1["jacsId"] and d1["jacsVersion"] == d1["jacsOriginalVersion"]
    assert d1["jacsSignature"]["signingAlgorithm"] == MANIFEST["agents"][alg]["algorithm"]
    assert d1["jacsSignature"]["publicKeyHash"] == MANIFEST["agents"][alg]["public_key_hash"]
    assert d1["jacsSignature"]["fields"] == sorted(k for k in d1 if k not in ("jacsSignature", "jacsSha256"))
    v = verify_document(d1, ring)
    assert v.status == "valid", v.checks
    edited = dict(d1, jacsDocument={"type": "message", "content": {"n": 2}})
    d2 = s.new_version(d1, edited)
    assert d2["jacsId"] == d1["jacsId"] and d2["jacsPreviousVersion"] == d1["jacsVersion"]
    assert d2["jacsVersion"] != d1["jacsVersion"] and d2["jacsOriginalVersion"] == d1["jacsVersion"]
    assert d2["jacsLevel"] == "artifact" and d2["jacsFiles"] == []
    assert verify_document(d2, ring).status == "valid"
    d3 = s.new_version(d2)
    assert d3["jacsPreviousVersion"] == d2["jacsVersion"]
    assert verify_document(d3, ring).status == "valid"
    # a change after signing is caught
    d3["jacsDocument"] = {"type": "message", "content": {"n": 3}}
    assert verify_document(d3, ring).status == "invalid"


def test_only_original_signer_may_update(identities):
    d = identities["ed25519"].signer.new_document({"x": 1})
    with pytest.raises(DocumentError, match="original signer"):
        identities["pq2025"].signer.new_version(d)
    with pytest.raises(DocumentError, match="keep jacsId"):
        identities["ed25519"].signer.new_version(d, dict(d, jacsId="other"))


def test_content_may_not_set_header_fields(identities):
    with pytest.raises(DocumentError):
        identities["ed25519"].signer.new_document({"jacsSha256": "x"})
    with pytest.raises(DocumentError):
        identities["ed25519"].signer.new_document({"jacsVersion": "x"})
    with pytest.raises(DocumentError, match="safe integer"):
        identities["ed25519"].signer.new_document({"n": 2**53})


def test_attachments_embedded_and_external(fixture_copy, identities):
    store = open_store(str(fixture_copy))
    data = b"col1,col2\n" + b"x,y\n" * 5000
    emb = make_attachment(data, "files/big.csv", embed=True)
    assert emb.mimetype == "text/csv"
    raw = gzip.decompress(base64.b64decode(emb.contents))
    assert raw == data
    assert emb.sha256 == hashlib.sha256(emb.contents.encode()).hexdigest()
    assert base64.b64decode(emb.contents)[:10] == bytes.fromhex("1f8b08000000000000ff")
    ext = make_attachment(b"tiny\n", "files/tiny.txt", embed=False)
    assert "contents" not in ext.to_json()
    (fixture_copy / "jacs_data" / "files" / "tiny.txt").write_bytes(b"tiny\n")
    doc = identities["ed25519"].signer.new_document(
        {"jacsDocument": {"type": "file", "filename": "big.csv"}}, attachments=[emb, ext]
    )
    v = verify_document(doc, store.key_ring(), store.read_attachment)
    assert v.status == "valid", v.checks
    assert sum(1 for c in v.checks if c.name.startswith("attachment") and c.status == "ok") == 2


@pytest.mark.parametrize("bad", ["/etc/passwd", "../x", "a/../../b", "a//b", "C:\\x", "a\x00b", ""])
def test_attachment_paths_must_be_relative(bad):
    with pytest.raises(DocumentError):
        make_attachment(b"x", bad, embed=True)


def test_unlock_once_and_wrong_password(fixture_copy):
    agent = MANIFEST["agents"]["ed25519"]
    ident = Identity.load(fixture_copy / agent["config"])
    with pytest.raises(KeyDecryptionError):
        _ = ident.signer
    with pytest.raises(KeyDecryptionError, match="incorrect password"):
        ident.unlock("Wrong-Passw0rd!")
    s1 = ident.unlock(agent["password"])
    # the key is decrypted once per session: the key file is not read again
    (fixture_copy / agent["key_directory"] / "jacs.private.pem.enc").unlink()
    assert ident.unlock(agent["password"]) is s1
    docs = [s1.new_document({"i": i}) for i in range(5)]
    assert len({d["jacsId"] for d in docs}) == 5


def test_timestamps_and_jti():
    ts = rfc3339_now(1795299005_156716266)
    assert ts == "2026-11-21T22:10:05.156716266+00:00"
    u = uuid7(1795299005157)
    assert u[14] == "7" and u[19] in "89ab"
    assert u.replace("-", "")[:12] == format(1795299005157, "012x")


def test_registration_countersignature(fixture_copy, identities):
    from jacs_desktop.core.canonical import jacs_sha256

    ring = open_store(str(fixture_copy)).key_ring()
    doc = identities["ed25519"].signer.new_document({"x": 1})
    fields = doc["jacsSignature"]["fields"]
    reg = identities["pq2025"].signer.signature(
        {k: v for k, v in doc.items() if k != "jacsSha256"}, placement="jacsRegistration", fields=fields
    )
    doc["jacsRegistration"] = reg
    doc["jacsSha256"] = jacs_sha256(doc)
    v = verify_document(doc, ring)
    assert v.status == "valid", v.checks
    assert any(c.name == "registration" and c.status == "ok" for c in v.checks)
    doc["jacsRegistration"]["date"] = "2000-01-01T00:00:00+00:00"
    doc["jacsSha256"] = jacs_sha256(doc)
    v = verify_document(doc, ring)
    assert v.status == "invalid" and any(c.name == "registration" and c.status == "failed" for c in v.checks)
