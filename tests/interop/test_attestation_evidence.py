"""a2a and email evidence: our full-tier report equals jacs 0.15.0's ``verify_attestation_full`` on
library-made attestations, valid and tampered, in seeded random variants (payload shapes, encodings,
floats, digests right, wrong, or of another reading of the same data), and after the stored document
was edited.  The library's a2a and email adapters are digest only: no network is involved."""

import base64
import copy
import hashlib
import json
import random
import time
from datetime import UTC, datetime

import pytest

jacs = pytest.importorskip("jacs", reason="the jacs test extra is not installed")
from jacs import SimpleAgent  # noqa: E402

from jacs_desktop.jobs import attestations as at  # noqa: E402
from jacs_desktop.storage.opener import open_store  # noqa: E402

from ._library import create_jacs_agent_here, env, library  # noqa: E402

pytestmark = pytest.mark.interop
PASSWORD = "Attest!Evidence#2026"
SEEDS = (1, 2, 3)


def _h(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _random_json(rng: random.Random, depth: int = 0):
    pick = rng.randrange(8 if depth < 2 else 5)
    if pick == 0:
        return rng.randint(-(2**53) + 1, 2**53 - 1)
    if pick == 1:  # floats of every magnitude jacs accepts (integral ones only inside the safe range)
        x = rng.uniform(-10, 10) * 10 ** rng.randint(-12, 15)
        return x if x != int(x) or abs(x) < 2**53 else 0.5
    if pick == 2:
        return "".join(rng.choice("ab/\\\"\n\t\u001féü€😀\u2028 ") for _ in range(rng.randrange(12)))
    if pick == 3:
        return rng.choice([True, False, None])
    if pick == 4:
        return rng.choice([1.0, 100.0, 1e-7, 0.00001, 1e15, 123e-5, -0.0])
    if pick == 5:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(["z", "a", "é", "B", "key", "10", "1"]) + str(i): _random_json(rng, depth + 1)
            for i in range(rng.randrange(4))}


def _variants(rng: random.Random, now: str):
    """(embeddedData or None, digest) pairs: right and wrong digests for each way jacs reads data."""
    raw = rng.randbytes(rng.randrange(1, 40))
    canon = base64.b64encode(raw).decode()
    text = "".join(rng.choice("abc xyz=+/é") for _ in range(rng.randrange(1, 20)))
    obj = _random_json(rng)
    obj_bytes = at.serde_json_compact(obj).encode()
    sloppy = base64.b64encode(b"ab").decode()[:-1] + "J"  # "YWJ=": decodes in Python, not in Rust
    out = [
        (canon, _h(raw)),                       # base64 → its bytes
        (canon, _h(canon.encode())),            # … not its text
        (text, _h(text.encode())),              # text that is not base64 → its UTF-8 (email: nothing)
        (text, _h(b"")),
        (obj, _h(obj_bytes)),                   # a JSON value → serde_json's compact form (email: nothing)
        (obj, _h(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode())),  # Python's form
        (obj, _h(b"")),
        (sloppy, _h(b"ab")),
        (sloppy, _h(sloppy.encode())),
        (canon.rstrip("="), _h(raw)),           # unpadded
        ("", _h(b"")),
        (None, _h(raw)),                        # referenced only
        (canon, "00" * 32),
    ]
    rng.shuffle(out)
    return out


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("evidence")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    subject = {"type": "artifact", "id": "msg-1", "digests": {"sha256": _h(b"msg")}}
    docs, reports = {}, {}
    with env(JACS_TRUST_STORE_DIR=str(root / "trust")), library(root, PASSWORD):
        agent = SimpleAgent.load(str(create_jacs_agent_here(root, "courier", "ring-Ed25519", PASSWORD)))
        for seed in SEEDS:
            rng = random.Random(seed)
            for kind in ("a2a", "email", "custom", "jwt", "tlsnotary"):  # the last three: no adapter
                items = []
                for data, digest in _variants(rng, now):
                    e = {"kind": kind, "digests": {"sha256": digest}, "embedded": data is not None,
                         "collectedAt": now, "verifier": {"name": "interop", "version": "1"}}
                    if data is not None:
                        e["embeddedData"] = data
                    else:
                        e["uri"] = "https://example.invalid/evidence"
                    items.append(e)
                # all variants in one attestation, and the first few alone (so that some hold as a whole)
                for n, evidence in enumerate([items] + [[e] for e in items[:3]]):
                    params = {"subject": subject, "claims": [{"name": f"{kind}-checked", "value": True}],
                              "evidence": evidence, "policyContext": {"maxEvidenceAge": "PT1H"}}
                    docs[(seed, kind, n)] = json.loads(agent.create_attestation(json.dumps(params)))
        # one attestation with several items of both kinds, and a stale one
        mixed = [{"kind": k, "digests": {"sha256": _h(b"m")}, "embedded": True, "embeddedData": "bQ==",
                  "collectedAt": c, "verifier": {"name": "i", "version": "1"}}
                 for k, c in (("a2a", now), ("email", now), ("email", "2020-01-01T00:00:00Z"))]
        docs["mixed"] = json.loads(agent.create_attestation(json.dumps(
            {"subject": subject, "claims": [{"name": "mixed", "value": 1}], "evidence": mixed,
             "policyContext": {"maxEvidenceAge": "P1D"}})))
        for key, d in docs.items():
            reports[key] = json.loads(agent.verify_attestation_full(f"{d['jacsId']}:{d['jacsVersion']}"))
    return {"root": root, "docs": docs, "library": reports}


def _ours(root):
    store = open_store(str(root))
    try:
        return {r.id: r.report.to_dict() for r in at.attestations(store, now=time.time())}
    finally:
        store.close()


def _errors(report: dict) -> list[str]:
    """The error lines; a failed signature by its first words only (the library words the cryptographic
    reason its own way, e.g. 'Cryptographic error: Ed25519 cryptographic operation failed: …')."""
    sig = "Signature verification failed:"
    return [sig if e.startswith(sig) else e for e in report["errors"]]


def _same(ours: dict, theirs: dict, key) -> None:
    assert ours["valid"] == theirs["valid"], (key, ours, theirs)
    assert ours["crypto"] == theirs["crypto"], key
    assert ours["evidence"] == theirs["evidence"], (key, ours["evidence"], theirs["evidence"])
    assert _errors(ours) == _errors(theirs), (key, ours["errors"], theirs["errors"])
    assert ours["chain"] == theirs["chain"], key


def test_reports_equal_the_library(made):
    ours = _ours(made["root"])
    for key, doc in made["docs"].items():
        _same(ours[doc["jacsId"]], made["library"][key], key)
    lib = made["library"]
    # the cases are not all alike: each kind has items that hold and items that fail, with its own words
    for kind in ("a2a", "email"):
        held = {e["digestValid"] for k in lib if isinstance(k, tuple) and k[1] == kind for e in lib[k]["evidence"]}
        assert held == {True, False}, kind
    details = {e["detail"] for r in lib.values() for e in r["evidence"]}
    assert any("A2A protocol signature and signer trust were not verified" in d for d in details)
    assert any("email signature and sender identity were not verified" in d for d in details)
    # email reads only base64: text or a JSON value whose digest is that of no bytes holds, as in the library
    email = [(e, r) for k in lib if isinstance(k, tuple) and k[1] == "email" and k[2] == 0
             for e, r in zip(made["docs"][k]["attestation"]["evidence"], lib[k]["evidence"], strict=True)]
    def unreadable(data) -> bool:  # what the email adapter takes as no bytes
        return data is not None and data != "" and (not isinstance(data, str) or at._canonical_b64(data) is None)

    assert any(r["digestValid"] for e, r in email if unreadable(e.get("embeddedData")))
    assert [e["freshnessValid"] for e in lib["mixed"]["evidence"]] == [True, True, False]


def test_edited_stored_attestations(made, tmp_path):
    """Evidence edited in the stored file after signing: both say the hash (and signature) fail."""
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(made["root"], root)
    rng = random.Random(9)
    singles = [k for k in made["docs"] if isinstance(k, tuple) and k[2]]
    keys = rng.sample([k for k in singles if k[1] in ("a2a", "email")], 4)
    # items the library cannot read as evidence (serde refuses them) are skipped by it, and by us
    unreadable = [{"digests": {"sha256": _h(b""), "md5": 5}}, {"uri": 5}, {"embedded": "yes"}, {"resolvedAt": 5},
                  {"verifier": {"name": "x"}}, {"verifier": {"name": "x", "version": 1}}, {"sensitivity": None},
                  {"sensitivity": "Public"}, {"collectedAt": 5}, {"kind": "A2A"},
                  {"digests": {"sha256": _h(b""), "sha512": None, "x": "y"}, "extra": 1}, {"embedded": None}]
    edits = dict(zip(rng.sample([k for k in singles if k not in keys], len(unreadable)), unreadable, strict=True))
    edited = {}
    for key in keys + list(edits):
        doc = copy.deepcopy(made["docs"][key])
        ev = doc["attestation"]["evidence"][0]
        if key in edits:
            good = dict(ev, kind="a2a", embeddedData="", digests={"sha256": _h(b"")})
            doc["attestation"]["evidence"] = [{**good, **edits[key]}, good]
        else:
            ev["digests"]["sha256"] = _h(b"forged")
            ev["embeddedData"] = base64.b64encode(b"forged").decode()
        path = next(root.rglob(f"{doc['jacsId']}:{doc['jacsVersion']}.json"))
        path.write_text(json.dumps(doc, indent=2, sort_keys=True))
        edited[key] = doc
    with env(JACS_TRUST_STORE_DIR=str(root / "trust")), library(root, PASSWORD):
        agent = SimpleAgent.load(str(root / "courier.config.json"))
        theirs = {k: json.loads(agent.verify_attestation_full(f"{d['jacsId']}:{d['jacsVersion']}"))
                  for k, d in edited.items()}
    ours = _ours(root)
    for key, doc in edited.items():
        assert theirs[key]["valid"] is False and theirs[key]["crypto"]["hashValid"] is False
        _same(ours[doc["jacsId"]], theirs[key], key)
    # only the item with a null sha512, a string extra digest and an unknown field is read
    kept = [edits[k] for k in edits if len(theirs[k]["evidence"]) == 2]
    assert kept == [unreadable[10]], kept


def test_serde_json_forms():
    assert [at.rust_float(x) for x in (1e-7, 0.00001, 0.000001, 1e15, 1e16, 100.0, -0.0, 1.5e300, 123e-5)] == \
        ["1e-7", "0.00001", "1e-6", "1000000000000000.0", "1e16", "100.0", "-0.0", "1.5e300", "0.00123"]
    assert at.serde_json_compact({"b": [1, 2.5, None], "a": "é\n"}) == '{"a":"é\\n","b":[1,2.5,null]}'
