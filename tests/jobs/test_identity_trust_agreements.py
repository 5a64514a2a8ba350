"""The board, the timelines and the trust store on the fixture store and on bad input (no jacs library
needed; the interop tests check the same against the real library)."""

import json

import pytest
from conftest import FIXTURE, MANIFEST

from jacs_desktop.jobs import agreements as ag
from jacs_desktop.jobs import identity as idn
from jacs_desktop.jobs import trust as tr
from jacs_desktop.storage.opener import open_store

CHAIN = "fbf12295-f05e-4bac-b165-1064712de0f8"


@pytest.fixture(scope="module")
def store():
    s = open_store(str(FIXTURE))
    yield s
    s.close()


def test_fixture_v1_agreement_on_the_board(store):
    board = ag.agreement_board(store)
    [a] = board.agreements
    assert (a.id, a.kind, a.title, a.status) == (CHAIN, "v1", "Do you approve?", "complete")
    assert a.version == MANIFEST["version_chains"][CHAIN][-1]
    assert a.versions == len(MANIFEST["version_chains"][CHAIN])
    ids = {m["agent_id"] for m in MANIFEST["agents"].values()}
    assert {p.agent for p in a.parties} == ids and {p.state for p in a.parties} == {"signed"}
    assert {p.name for p in a.parties} == {"fixture-ed25519", "fixture-pq2025"}
    assert ag.V1_GAP in a.notes
    assert ag.waiting_for(board.agreements, next(iter(ids))) == []


def test_tampered_v1_signature_is_invalid_not_signed(store):
    doc = store.read_json(store.layout.document_key(CHAIN, MANIFEST["version_chains"][CHAIN][-1]))
    sig = doc["jacsAgreement"]["signatures"][0]
    sig["signature"] = sig["signature"][:10] + ("A" if sig["signature"][10] != "A" else "B") + sig["signature"][11:]
    v = store.verify_data(json.dumps(doc).encode())
    row = ag.agreement_of(doc, v)
    states = {p.agent: p.state for p in row.parties}
    assert states[sig["agentID"]] == "invalid" and row.status == "invalid"


def test_not_an_agreement_is_refused(store):
    other = next(d for d in MANIFEST["documents"] if d["jacsId"] != CHAIN)
    with pytest.raises(ag.AgreementError, match="not an agreement"):
        ag.find_agreement(store, other["jacsId"])
    with pytest.raises(ag.AgreementError, match="no document"):
        ag.find_agreement(store, "00000000-0000-4000-8000-000000000000")


def test_fixture_timelines(store):
    tls = {t.agent_id: t for t in idn.timelines(store)}
    assert set(tls) == {m["agent_id"] for m in MANIFEST["agents"].values()}
    for m in MANIFEST["agents"].values():
        t = tls[m["agent_id"]]
        assert [v.algorithm for v in t.versions] == [m["algorithm"]]
        assert [e.key_hash for e in t.epochs] == [m["public_key_hash"]]
        assert t.epochs[0].documents and not t.flags


def test_trust_store_bad_files(tmp_path):
    root = tmp_path / "trust"
    (root / "identity_state").mkdir(parents=True)
    (root / "a:1.meta.json").write_text("{not json")
    (root / "b:2.meta.json").write_bytes(b"\xff\xfe")
    entries = tr.TrustStore(root).entries()
    assert [e.state for e in entries] == ["unreadable", "unreadable"]
    assert all("cannot be read" in e.problem for e in entries)
    assert tr.TrustStore(root).trusted() == []
    assert tr.TrustStore(tmp_path / "absent").entries() == []
    line = tr.trust_line(tr.TrustStore(tmp_path / "absent"), "someone", "abc")
    assert line.state == tr.NOT_TRUSTED and "not in the trust store" in line.reason


def test_trust_add_refuses_bad_agents(tmp_path, store):
    ts = tr.TrustStore(tmp_path / "trust")
    m = MANIFEST["agents"]["ed25519"]
    doc = json.loads((FIXTURE / m["agent_document"]).read_text())
    key = (FIXTURE / "jacs_data" / "public_keys" / f"{m['public_key_hash']}.pem").read_bytes()
    other = (FIXTURE / "jacs_data" / "public_keys" /
             f"{MANIFEST['agents']['pq2025']['public_key_hash']}.pem").read_bytes()
    with pytest.raises(tr.TrustError, match="does not verify"):
        ts.add(doc, other, "pq2025")
    with pytest.raises(tr.TrustError, match="not an agent document"):
        ts.add({"jacsId": "x"}, key, "ring-Ed25519")
    with pytest.raises(tr.TrustError, match="cannot be a trust store name"):
        ts.add(dict(doc, jacsId="../x"), key, "ring-Ed25519")
    tampered = dict(doc, name="someone else")
    with pytest.raises(tr.TrustError, match="does not verify"):
        ts.add(tampered, key, "ring-Ed25519")
    assert not (tmp_path / "trust").exists()  # nothing half-written
    e = ts.add(doc, key, "ring-Ed25519")
    assert e.key_hash == m["public_key_hash"] and ts.pin(m["agent_id"]) == m["public_key_hash"]
    assert [x.state for x in ts.trusted()] == ["trusted"]
    with pytest.raises(tr.TrustError, match="not in the trust store"):
        ts.remove("00000000-0000-4000-8000-000000000000")
