"""The cases of the verdicts issue, one by one, on the fixture (no jacs needed).

Each was a false "valid" before; the library (jacs 0.15.0) says invalid for
every one (the differential suite in tests/interop checks that in bulk).
Forgeries that need a valid signature are re-signed with the fixture agent's
own key, as an attacker with that key (or the agent itself) could.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json

import pytest
from conftest import FIXTURE, MANIFEST

from jacs_desktop.core.canonical import canonicalize
from jacs_desktop.core.identity import Identity
from jacs_desktop.core.verify import verify_bytes
from jacs_desktop.storage.urls import open_store

STORE = open_store(str(FIXTURE))
KEYS = STORE.keys()
ED_ENTRY = MANIFEST["documents"][2]
TEXT = (FIXTURE / ED_ENTRY["path"]).read_text()
DOC = json.loads(TEXT)


def _rehash(doc: dict) -> dict:
    doc["jacsSha256"] = hashlib.sha256(canonicalize({k: v for k, v in doc.items() if k != "jacsSha256"})).hexdigest()
    return doc


@pytest.fixture(scope="module")
def ed_signer():
    agent = MANIFEST["agents"]["ed25519"]
    return Identity.load(FIXTURE / agent["config"]).unlock(agent["password"])


def _resign(doc: dict, signer) -> dict:
    body = {k: v for k, v in doc.items() if k not in ("jacsSignature", "jacsSha256")}
    body["jacsSignature"] = signer.signature(body)
    return _rehash(body)


def _verdict(text: str | bytes):
    data = text.encode() if isinstance(text, str) else text
    return verify_bytes(data, KEYS, STORE.read_attachment)


def _failed(v) -> list[str]:
    return [f"{c.name}: {c.reason}" for c in v.checks if c.status == "failed"]


def test_the_base_document_is_valid():
    assert _verdict(TEXT).status == "valid"


def test_forged_jacs_document_placed_before_the_real_one():
    forged = TEXT.replace('"jacsDocument":', '"jacsDocument": {"type": "message", "content": "forged"},\n  "jacsDocument":', 1)
    assert forged != TEXT
    assert json.loads(forged) == DOC  # a lenient parser keeps the last one: same content, same hash
    v = _verdict(forged)
    assert v.status == "invalid" and "duplicate JSON object key 'jacsDocument'" in v.reason


def test_duplicate_member_nested():
    sig = DOC["jacsSignature"]["agentID"]
    forged = TEXT.replace(f'"agentID": "{sig}"', f'"agentID": "00000000-0000-4000-8000-000000000000", "agentID": "{sig}"', 1)
    assert forged != TEXT
    v = _verdict(forged)
    assert v.status == "invalid" and "duplicate JSON object key 'agentID'" in v.reason


def test_utf8_bom():
    v = _verdict(b"\xef\xbb\xbf" + TEXT.encode())
    assert v.status == "invalid" and "byte-order mark" in v.reason


@pytest.mark.parametrize("spelling", ["{iat}.0", "{iat}e0", "{iat}E0", "{iat}.000"])
def test_integral_float_iat(spelling):
    iat = DOC["jacsSignature"]["iat"]
    text = TEXT.replace(f'"iat": {iat}', '"iat": ' + spelling.format(iat=iat), 1)
    assert text != TEXT
    v = _verdict(text)  # the hash is unchanged: JCS writes 1795299005.0 as 1795299005
    assert v.status == "invalid"
    assert any("'iat' must be a non-negative integer" in r for r in _failed(v)), _failed(v)


def test_integral_float_elsewhere_is_fine(ed_signer):
    """An integral float in the payload is just a number (the library writes 2.0 itself)."""
    d = _resign(dict(copy.deepcopy(DOC), jacsDocument={"type": "message", "content": {"n": 2.0, "m": [1e0]}}),
                ed_signer)
    text = json.dumps(d)
    assert '"n": 2.0' in text
    assert _verdict(text).status == "valid"


def test_non_zero_padding_bits_in_signature():
    sig = DOC["jacsSignature"]["signature"]
    raw = base64.b64decode(sig)
    stem = sig.rstrip("=")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    i = alphabet.index(stem[-1])
    alt = stem[:-1] + alphabet[i ^ 1] + sig[len(stem):]
    assert alt != sig and base64.b64decode(alt) == raw  # the same bytes, another spelling
    d = copy.deepcopy(DOC)
    d["jacsSignature"]["signature"] = alt
    v = _verdict(json.dumps(_rehash(d)))
    assert v.status == "invalid" and "padding bits" in v.reason


def test_added_agreement_block_with_hash_recomputed():
    d = copy.deepcopy(DOC)
    d["jacsAgreement"] = {"agentIDs": ["not a list of ids"], "signatures": "none"}
    v = _verdict(json.dumps(_rehash(d)))
    assert v.status == "invalid"
    assert any(r.startswith("schema: Schema validation failed") and "jacsAgreement" in r for r in _failed(v)), _failed(v)


def test_bogus_level_validly_resigned(ed_signer):
    d = _resign(dict(copy.deepcopy(DOC), jacsLevel="bogus-level"), ed_signer)
    v = _verdict(json.dumps(d))
    assert v.status == "invalid"
    schema = [c for c in v.checks if c.name == "schema" and c.status == "failed"]
    assert schema and "at field 'jacsLevel'" in schema[0].reason and "bogus-level" in schema[0].reason
    # the signature itself holds: only the schema says no
    assert [c.status for c in v.checks if c.name == "signature"] == ["ok"]


@pytest.mark.parametrize("field, value", [
    ("jacsVersionDate", "yesterday"),
    ("jacsFiles", [{"mimetype": "text/plain"}]),
    ("jacsVisibility", "everyone"),
])
def test_schema_rules_resigned(ed_signer, field, value):
    d = _resign(dict(copy.deepcopy(DOC), **{field: value}), ed_signer)
    v = _verdict(json.dumps(d))
    assert v.status == "invalid"
    assert any(c.name == "schema" and c.status == "failed" and field in c.reason for c in v.checks), _failed(v)


@pytest.mark.parametrize("agent_id", ["upper", "no hyphens", "braces"])
def test_signer_uuid_must_be_canonical_text(ed_signer, agent_id):
    d = copy.deepcopy(DOC)
    real = d["jacsSignature"]["agentID"]
    d["jacsSignature"]["agentID"] = {"upper": real.upper(), "no hyphens": real.replace("-", ""),
                                     "braces": "{" + real + "}"}[agent_id]
    from jacs_desktop.core.verify import signature_payload

    sig = d["jacsSignature"]
    sig["signature"] = base64.b64encode(ed_signer.signer.sign(signature_payload(d, sig, "jacsSignature"))).decode()
    v = _verdict(json.dumps(_rehash(d)))
    assert v.status == "invalid" and "lowercase hyphenated" in v.reason


@pytest.mark.parametrize("number", ["9007199254740992", "1e16", "1e400", "-9007199254740992", "NaN", "Infinity"])
def test_numbers_outside_i_json(number):
    text = TEXT.replace('"jacsSha256"', f'"n": {number}, "jacsSha256"', 1)
    v = _verdict(text)
    assert v.status == "invalid" and v.checks[0].name == "parse", v.checks


def test_lone_surrogate():
    text = TEXT.replace('"jacsSha256"', '"n": "\\ud800", "jacsSha256"', 1)
    v = _verdict(text)
    assert v.status == "invalid" and "surrogate" in v.reason


def test_every_fixture_document_still_verifies():
    for entry in MANIFEST["documents"]:
        v = _verdict((FIXTURE / entry["path"]).read_bytes())
        assert (v.status == "valid") == entry["library_verdict"], (entry["path"], _failed(v))


def test_store_names_the_signer_only_for_the_agents_own_key(fixture_copy, tmp_path):
    """A key planted under public_keys/ claiming a known agent id: signature holds, name withheld."""
    from jacs_desktop.core.identity import create_agent
    from jacs_desktop.core.sign import AgentSigner

    store = open_store(str(fixture_copy))
    genuine = next(r for r in store.refs() if r.kind == "document" and r.id == ED_ENTRY["jacsId"]
                   and r.version == ED_ENTRY["jacsVersion"])
    v = store.verify(genuine)
    assert v.status == "valid" and v.signer_name == "fixture-ed25519"

    stranger = create_agent(tmp_path / "stranger", "mallory", "Mallory!Pass#2026", algorithm="ring-Ed25519")
    claimed = MANIFEST["agents"]["ed25519"]
    forger = AgentSigner(stranger.signer.signer, claimed["agent_id"], claimed["agent_version"], stranger.public_key)
    store.put_public_key(stranger.public_key, "ring-Ed25519")
    doc = forger.new_document({"jacsDocument": {"type": "message", "content": "pay mallory"}})
    key, _ = store.put_document(doc)
    store.invalidate()
    ref = next(r for r in store.refs() if r.key == key)
    v = store.verify(ref)
    assert v.signer == claimed["agent_id"] and v.signer_name is None
    ident = [c for c in v.checks if c.name == "signer identity"]
    assert ident and ident[0].status == "warning" and "unknown key claiming agent" in ident[0].reason


def test_a_failing_key_lookup_or_attachment_read_is_error_not_invalid():
    from jacs_desktop.core.verify import verify_document

    class Down:
        def resolve(self, key_hash):
            raise OSError("connection reset by peer")

    v = verify_document(json.loads(TEXT), Down())
    assert v.status == "error" and v.reason.startswith("not checked: looking up the public key failed")

    entry = next(e for e in MANIFEST["documents"] if e.get("files") and not e["files"][0]["embed"])
    doc = json.loads((FIXTURE / entry["path"]).read_bytes())

    def unreadable(path):
        raise TimeoutError("read timed out")

    v = verify_document(doc, KEYS, unreadable)
    assert v.status == "error" and "could not be read" in v.reason
