"""Attestations made by jacs: our full-tier report equals the library's ``verify_attestation_full``
(validity, crypto, every evidence item, the derivation chain) on fresh, stale, mismatched and
derived attestations."""

import base64
import hashlib
import json
import time
from datetime import UTC, datetime

import pytest

jacs = pytest.importorskip("jacs", reason="the jacs test extra is not installed")
from jacs import SimpleAgent  # noqa: E402

from jacs_desktop.cli.app import main as cli  # noqa: E402
from jacs_desktop.jobs import attestations as at  # noqa: E402
from jacs_desktop.storage.opener import open_store  # noqa: E402

from ._library import create_jacs_agent_here, env, library  # noqa: E402

pytestmark = pytest.mark.interop
PASSWORD = "Attest!Full#2026xyz"


def _evidence(data: bytes, collected: str, *, digest: str | None = None, kind="custom", embed=True, **extra):
    e = {"kind": kind, "digests": {"sha256": digest or hashlib.sha256(data).hexdigest()}, "embedded": embed,
         "collectedAt": collected, "verifier": {"name": "interop", "version": "1"}, **extra}
    if embed:
        e["embeddedData"] = base64.b64encode(data).decode()
    return e


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("attest")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    subject = {"type": "artifact", "id": "report-1", "digests": {"sha256": hashlib.sha256(b"report").hexdigest()}}
    claims = [{"name": "reviewed", "value": True, "confidence": 0.9}]
    docs = {}
    with env(JACS_TRUST_STORE_DIR=str(root / "trust")), library(root, PASSWORD):
        agent = SimpleAgent.load(str(create_jacs_agent_here(root, "auditor", "ring-Ed25519", PASSWORD)))

        def make(name, evidence, **extra):
            params = {"subject": subject, "claims": claims, "evidence": evidence,
                      "policyContext": {"maxEvidenceAge": "PT1H"}, **extra}
            docs[name] = json.loads(agent.create_attestation(json.dumps(params)))

        make("fresh", [_evidence(b"log line 1", now)])
        make("stale", [_evidence(b"log line 2", "2020-01-01T00:00:00Z")])
        make("digest mismatch", [_evidence(b"log line 3", now, digest="00" * 32)])
        make("referenced only", [_evidence(b"x", now, embed=False, uri="https://example.invalid/e")])
        make("confidential embedded", [_evidence(b"secret", now, sensitivity="confidential")])
        make("json evidence", [dict(_evidence(b"", now, embed=False), embedded=True,
                                    embeddedData={"b": 1, "a": [1, 2]},
                                    digests={"sha256": hashlib.sha256(b'{"a":[1,2],"b":1}').hexdigest()})])
        first = docs["fresh"]
        derivation = {"inputs": [{"id": f"{first['jacsId']}:{first['jacsVersion']}",
                                  "digests": {"sha256": first["jacsSha256"]}},
                                 {"id": "00000000-0000-4000-8000-000000000000:00000000-0000-4000-8000-000000000001",
                                  "digests": {"sha256": "ab" * 32}}],
                      "transform": {"name": "summarize", "hash": "cd" * 32},
                      "outputDigests": {"sha256": "ef" * 32}}
        make("derived", [_evidence(b"log line 4", now)], derivation=derivation)
        make("derived ok", [_evidence(b"log line 5", now)], derivation=dict(derivation,
                                                                              inputs=derivation["inputs"][:1]))
        library_reports = {n: json.loads(agent.verify_attestation_full(f"{d['jacsId']}:{d['jacsVersion']}"))
                           for n, d in docs.items()}
    return {"root": root, "docs": docs, "library": library_reports}


def test_full_tier_report_equals_the_library(made):
    store = open_store(str(made["root"]))
    try:
        rows = {r.id: r for r in at.attestations(store, now=time.time())}
    finally:
        store.close()
    assert len(rows) == len(made["docs"])
    for name, doc in made["docs"].items():
        ours, theirs = rows[doc["jacsId"]].report.to_dict(), made["library"][name]
        assert ours["valid"] == theirs["valid"], (name, ours, theirs)
        assert ours["crypto"] == theirs["crypto"], name
        assert [{k: e[k] for k in ("kind", "digestValid", "freshnessValid")} for e in ours["evidence"]] == \
            [{k: e[k] for k in ("kind", "digestValid", "freshnessValid")} for e in theirs["evidence"]], name
        assert [e["detail"] for e in ours["evidence"]] == [e["detail"] for e in theirs["evidence"]], name
        assert ours["errors"] == theirs["errors"], (name, ours["errors"], theirs["errors"])
        assert ours["chain"] == theirs["chain"], (name, ours["chain"], theirs["chain"])
    expected_valid = {"fresh": True, "stale": False, "digest mismatch": False, "referenced only": False,
                      "confidential embedded": True, "json evidence": True, "derived": False, "derived ok": True}
    assert {n: made["library"][n]["valid"] for n in made["docs"]} == expected_valid


def test_iso_durations():
    assert at.iso_duration_seconds("PT1H30M") == 5400
    assert at.iso_duration_seconds("P1D") == 86400
    assert at.iso_duration_seconds("P1Y6M") == int(365.25 * 86400) + int(6 * 30.44 * 86400)
    assert at.iso_duration_seconds("P") == 0  # as the library reads it
    for bad in ("1H", "PT1X", "PT5"):
        with pytest.raises(ValueError):
            at.iso_duration_seconds(bad)


def test_cli(made, capsys):
    assert cli(["attestations", "list", str(made["root"])]) == 2  # some fail
    out = capsys.readouterr().out
    assert "claim reviewed: True (confidence 0.9)" in out and "is stale" in out
    fresh = made["docs"]["fresh"]["jacsId"]
    assert cli(["attestations", "verify", str(made["root"]), fresh, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["valid"] is True
