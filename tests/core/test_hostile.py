"""Hostile input never crashes the verifier; it gets a clear verdict."""

import copy
import json

import pytest
from conftest import FIXTURE, MANIFEST
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jacs_desktop.core.verify import MAX_DOCUMENT_BYTES, verify_bytes, verify_document
from jacs_desktop.storage.urls import open_store

STORE = open_store(str(FIXTURE))
RING = STORE.key_ring()
BASE = json.loads((FIXTURE / MANIFEST["documents"][2]["path"]).read_bytes())  # Ed25519 v3
PQ = json.loads((FIXTURE / MANIFEST["documents"][3]["path"]).read_bytes())


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"\xff\xfe{}", "not valid UTF-8"),
        (b"[1,2,3]", "not a JSON object"),
        (b"null", "not a JSON object"),
        (b"{}", "not signed"),
        (b"[" * 200_000 + b"]" * 200_000, "too deep"),
        (b'{"a": 1e999999}', None),
        (b'{"jacsId": "a", "jacsVersion": "b", "jacsSignature": {}, "jacsSha256": "x", "n": 123456789012345678901234567890}', None),
    ],
)
def test_malformed(data, reason):
    v = verify_bytes(data, RING)
    assert v.status == "invalid"
    if reason:
        assert reason in v.reason


def test_size_cap():
    big = json.dumps({"pad": "x" * (50 * 1024 * 1024)}).encode()
    v = verify_bytes(big, RING)
    assert v.status == "invalid" and "larger than" in v.reason and "MiB" in v.reason
    assert len(big) > MAX_DOCUMENT_BYTES


_WRONG = [None, 0, -1, 1.5, True, "", "x", [], {}, [1], {"a": 1}, 2**70, "\u0000", "../../etc"]
_HEADER = ["$schema", "jacsId", "jacsVersion", "jacsVersionDate", "jacsOriginalVersion", "jacsType", "jacsLevel",
           "jacsSha256", "jacsSignature", "jacsFiles", "jacsPreviousVersion", "jacsAgreement", "jacsRegistration"]
_SIG = ["agentID", "agentVersion", "date", "iat", "jti", "publicKeyHash", "signingAlgorithm", "fields",
        "signatureContentVersion", "signature"]


@pytest.mark.parametrize("field", _HEADER)
@pytest.mark.parametrize("value", _WRONG, ids=repr)
def test_wrong_types_in_header(field, value):
    if BASE.get(field, object()) == value:
        pytest.skip("same as the original value")
    doc = copy.deepcopy(BASE)
    doc[field] = value
    v = verify_document(doc, RING, STORE.read_attachment)
    assert v.status in ("invalid", "unverifiable")
    assert v.reason


@pytest.mark.parametrize("field", _SIG)
@pytest.mark.parametrize("value", _WRONG, ids=repr)
def test_wrong_types_in_signature(field, value):
    doc = copy.deepcopy(BASE)
    doc["jacsSignature"][field] = value
    v = verify_document(doc, RING)
    assert v.status in ("invalid", "unverifiable", "legacy")
    assert v.status != "valid"


@pytest.mark.parametrize("field", _SIG)
def test_missing_signature_members(field):
    doc = copy.deepcopy(BASE)
    del doc["jacsSignature"][field]
    v = verify_document(doc, RING)
    assert v.status != "valid"


def test_unknown_algorithm_is_invalid_by_the_schema():
    """The signature schema lists the algorithms (ring-Ed25519, ed25519, pq2025, es256); jacs refuses others."""
    doc = copy.deepcopy(BASE)
    doc["jacsSignature"]["signingAlgorithm"] = "RSA-PSS"
    from jacs_desktop.core.canonical import jacs_sha256

    doc["jacsSha256"] = jacs_sha256(doc)
    v = verify_document(doc, RING)
    assert v.status == "invalid"
    assert any(c.name == "schema" and "signingAlgorithm" in c.reason for c in v.checks), v.checks


def test_listed_but_unsupported_algorithm_is_unverifiable():
    """es256 is in the schema (ecosystem exports) but no document signature uses it: unverifiable, not valid."""
    doc = copy.deepcopy(BASE)
    doc["jacsSignature"]["signingAlgorithm"] = "es256"
    from jacs_desktop.core.canonical import jacs_sha256

    doc["jacsSha256"] = jacs_sha256(doc)
    v = verify_document(doc, RING)
    assert v.status != "valid"


def test_legacy_v1_document():
    """A v1 (no signatureContentVersion) document signed by a fixture key: 'legacy', not a crash."""
    import base64

    from jacs_desktop.core.canonical import canonicalize, jacs_sha256
    from jacs_desktop.core.identity import Identity

    agent = MANIFEST["agents"]["ed25519"]
    ident = Identity.load(FIXTURE / agent["config"])
    # decrypting needs only reads
    signer = ident.unlock(agent["password"]).signer
    doc = {k: v for k, v in BASE.items() if k not in ("jacsSignature", "jacsSha256")}
    fields = sorted(doc)
    sig = {"agentID": agent["agent_id"], "agentVersion": agent["agent_version"], "date": "2024-01-01T00:00:00Z",
           "iat": 1704067200, "jti": "x", "publicKeyHash": agent["public_key_hash"], "fields": fields,
           "signingAlgorithm": "ring-Ed25519"}
    sig["signature"] = base64.b64encode(signer.sign(b" ".join(canonicalize(doc[f]) for f in fields))).decode()
    doc["jacsSignature"] = sig
    doc["jacsSha256"] = jacs_sha256(doc)
    v = verify_document(doc, RING)
    assert v.status == "legacy" and "holds" in v.reason and "NOT" not in v.reason
    doc["jacsType"] = "changed"
    doc["jacsSha256"] = jacs_sha256(doc)
    v = verify_document(doc, RING)
    assert v.status == "legacy" and "does NOT hold" in v.reason


def test_future_iat_warns(tmp_path):
    v = verify_document(BASE, RING, now=BASE["jacsSignature"]["iat"] - 10_000)
    assert v.status == "valid"
    assert any(c.status == "warning" and "future" in c.reason for c in v.checks)


def test_unsafe_attachment_paths():
    from jacs_desktop.core.canonical import jacs_sha256

    for bad in ("/etc/passwd", "../../etc/passwd", "a//b", "a\x00b"):
        doc = copy.deepcopy(BASE)
        doc["jacsFiles"] = [{"embed": False, "mimetype": "text/plain", "path": bad, "sha256": "0" * 64}]
        doc["jacsSha256"] = jacs_sha256(doc)
        calls = []
        v = verify_document(doc, RING, calls.append)
        assert v.status == "invalid" and calls == []
        assert any("Invalid jacsFiles path" in c.reason for c in v.checks)


def _mutations():
    leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
                     st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))
    return st.lists(st.tuples(st.sampled_from(["set", "del", "sig_set", "sig_del", "add"]),
                              st.sampled_from(_HEADER + _SIG + ["jacsDocument", "extra"]), leaf), min_size=1, max_size=4)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations(), st.sampled_from(["ed", "pq"]))
def test_fuzz_mutated_documents_never_crash(muts, which):
    original = BASE if which == "ed" else PQ
    doc = copy.deepcopy(original)
    for op, key, val in muts:
        sig = doc.get("jacsSignature")
        if op == "set":
            doc[key] = val
        elif op == "del" and key in doc:
            del doc[key]
        elif op == "sig_set" and isinstance(sig, dict):
            sig[key] = val
        elif op == "sig_del" and isinstance(sig, dict) and key in sig:
            del sig[key]
        elif op == "add":
            doc["x_" + key] = val
    v = verify_document(doc, RING, STORE.read_attachment)
    assert v.status in ("valid", "invalid", "unverifiable", "legacy")
    if json.dumps(doc, sort_keys=True) != json.dumps(original, sort_keys=True):
        assert v.status != "valid"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_fuzz_random_bytes(data):
    v = verify_bytes(data, RING)
    assert v.status == "invalid"


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(json.dumps(BASE)) - 1), st.characters())
def test_fuzz_single_character_edits(pos, ch):
    text = json.dumps(BASE)
    edited = text[:pos] + ch + text[pos + 1 :]
    v = verify_bytes(edited.encode("utf-8", "surrogatepass"), RING)
    if edited != text:
        try:
            same = json.loads(edited) == BASE
        except ValueError:
            same = False
        if not same:
            assert v.status != "valid"
