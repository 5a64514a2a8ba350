"""The agreement board and signing from the app, on a store the real jacs 0.15 library made.

Alice, Bob and Wendy are jacs agents in one store; jacs makes a v1 agreement (Alice and Bob,
Alice signed) and a v2 agreement (Alice and Bob signers, Wendy witness, Alice signed).  The
board must list both with the right party states; Bob and Wendy then sign *from the app* and
the library's own ``check_agreement`` / ``verify_agreement_v2`` / ``verify`` must accept the
versions we stored.
"""

import json
import shutil

import pytest

jacs = pytest.importorskip("jacs", reason="the jacs test extra is not installed")
from jacs import SimpleAgent  # noqa: E402
from jacs.client import JacsClient  # noqa: E402

from jacs_desktop.cli.app import main as cli  # noqa: E402
from jacs_desktop.core.identity import Identity  # noqa: E402
from jacs_desktop.jobs import agreements as ag  # noqa: E402
from jacs_desktop.storage.opener import open_store  # noqa: E402

from ._library import create_jacs_agent_here, env, library  # noqa: E402

pytestmark = pytest.mark.interop
PASSWORD = "Board!Agree#2026xyz"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The store as jacs left it (copied per test that writes)."""
    root = tmp_path_factory.mktemp("board")
    with env(JACS_TRUST_STORE_DIR=str(root / "trust")), library(root, PASSWORD):
        cfg = {n: create_jacs_agent_here(root, n, "ring-Ed25519", PASSWORD) for n in ("alice", "bob", "wendy")}
        agents = {n: SimpleAgent.load(str(c)) for n, c in cfg.items()}
        ids = {n: a.get_agent_id() for n, a in agents.items()}
        client = JacsClient(str(cfg["alice"]))
        base = client.sign_message({"proposal": "ship 10 units"})
        v1 = client.sign_agreement(client.create_agreement(base, [ids["alice"], ids["bob"]], question="Ship?",
                                                           context="board test"))
        inp = {"title": "Supply agreement", "description": "board test", "terms": "Deliver 10 units by Friday.",
               "status": "proposed", "effectiveFrom": "2026-01-01T00:00:00Z", "expiresAt": "2099-01-01T00:00:00Z",
               "parties": [{"agentId": ids["alice"], "agentType": "ai", "role": "signer"},
                           {"agentId": ids["bob"], "agentType": "ai", "role": "signer"},
                           {"agentId": ids["wendy"], "agentType": "ai", "role": "witness"}],
               "signaturePolicy": {"partyQuorum": "all", "witnessRequired": 1},
               "controllers": [ids["alice"], ids["bob"], ids["wendy"]]}
        v2 = agents["alice"].sign_agreement_v2(agents["alice"].create_agreement_v2(json.dumps(inp)), "signer")
    return {"root": root, "cfg": cfg, "ids": ids, "v1": json.loads(v1.raw_json), "v2": json.loads(v2)}


@pytest.fixture
def world(made, tmp_path):
    root = tmp_path / "store"
    shutil.copytree(made["root"], root)
    cfg = {n: root / p.name for n, p in made["cfg"].items()}
    return {**made, "root": root, "cfg": cfg}


def _board(root):
    store = open_store(str(root))
    try:
        return ag.agreement_board(store)
    finally:
        store.close()


def _by_id(board, doc_id):
    found = [a for a in board.agreements if a.id == doc_id]
    assert len(found) == 1, [a.id for a in board.agreements]
    return found[0]


def _states(a):
    return {(p.agent, p.role): p.state for p in a.parties}


def test_board_lists_both_agreements(made):
    ids = made["ids"]
    board = _board(made["root"])
    assert not board.errors
    v1 = _by_id(board, made["v1"]["jacsId"])
    assert v1.kind == "v1" and v1.title == "Ship?" and v1.version == made["v1"]["jacsVersion"]
    assert _states(v1) == {(ids["alice"], "signer"): "signed", (ids["bob"], "signer"): "pending"}
    assert v1.status == "pending" and v1.terms_hash == made["v1"]["jacsAgreementHash"]
    assert any("not covered by any signature" in n for n in v1.notes)  # the known v1 gap is shown
    v2 = _by_id(board, made["v2"]["jacsId"])
    assert v2.kind == "v2" and v2.title == "Supply agreement" and v2.status == "partially_signed"
    assert _states(v2) == {(ids["alice"], "signer"): "signed", (ids["bob"], "signer"): "pending",
                           (ids["wendy"], "witness"): "pending"}
    assert v2.quorum == "all 2 signers, 1 witness" and v2.quorum_met is False
    assert (v2.effective_from, v2.expires_at) == ("2026-01-01T00:00:00Z", "2099-01-01T00:00:00Z")
    assert v2.versions == 2 and not v2.forks
    assert {p.name for p in v2.parties} == {"alice", "bob", "wendy"}
    # only the agreements appear (the message the v1 agreement started from is not one)
    assert len(board.agreements) == 2
    # waiting for me
    assert {a.id for a in ag.waiting_for(board.agreements, ids["bob"])} == {v1.id, v2.id}
    assert [a.id for a in ag.waiting_for(board.agreements, ids["wendy"])] == [v2.id]
    assert ag.waiting_for(board.agreements, ids["alice"]) == []


def test_cli_list_json_shape(made, capsys):
    ids = made["ids"]
    assert cli(["agreements", "list", str(made["root"]), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"agreements"}
    rows = {r["id"]: r for r in out["agreements"]}
    assert set(rows) == {made["v1"]["jacsId"], made["v2"]["jacsId"]}
    for r in rows.values():
        assert set(r) == {"id", "version", "kind", "title", "status", "parties"}
        for p in r["parties"]:
            assert set(p) == {"agent", "role", "state"} and p["state"] in ("signed", "invalid", "pending")
    assert rows[made["v2"]["jacsId"]]["parties"] == [
        {"agent": ids["alice"], "role": "signer", "state": "signed"},
        {"agent": ids["bob"], "role": "signer", "state": "pending"},
        {"agent": ids["wendy"], "role": "witness", "state": "pending"}]
    assert cli(["agreements", "list", str(made["root"]), "--json", "--pending-for", ids["wendy"]]) == 0
    only = json.loads(capsys.readouterr().out)["agreements"]
    assert [r["id"] for r in only] == [made["v2"]["jacsId"]]
    assert cli(["agreements", "list", str(made["root"]), "--pending-for", ids["alice"]]) == 0
    assert "0 agreement(s) waiting for" in capsys.readouterr().out


def _lib_verify(world, doc):
    with env(JACS_TRUST_STORE_DIR=str(world["root"] / "trust")), library(world["root"], PASSWORD):
        client = JacsClient(str(world["cfg"]["alice"]))
        return client, client.verify(json.dumps(doc))


def test_sign_v1_from_the_app_is_accepted_by_jacs(world):
    bob = Identity.load(world["cfg"]["bob"]).unlock(PASSWORD)
    store = open_store(str(world["root"]))
    try:
        new = ag.sign_in_store(store, world["v1"]["jacsId"], bob)
    finally:
        store.close()
    assert new["jacsPreviousVersion"] == world["v1"]["jacsVersion"]
    stored = json.loads((world["root"] / "documents" / f"{new['jacsId']}:{new['jacsVersion']}.json").read_text())
    assert stored == new
    client, plain = _lib_verify(world, new)
    assert plain.valid, plain.errors
    with env(JACS_TRUST_STORE_DIR=str(world["root"] / "trust")), library(world["root"], PASSWORD):
        status = client.check_agreement(json.dumps(new))  # raises while anyone is pending
        with pytest.raises(Exception, match="not all agents have signed"):
            client.check_agreement(json.dumps(world["v1"]))
    assert {s.agent_id for s in status.signers if s.signed} == {world["ids"]["alice"], world["ids"]["bob"]}
    board = _board(world["root"])
    a = _by_id(board, new["jacsId"])
    assert a.version == new["jacsVersion"] and a.status == "complete"
    assert set(_states(a).values()) == {"signed"}
    # signing twice is refused, and so is a stranger
    with pytest.raises(ag.AgreementError, match="already signed"):
        ag.sign_agreement(new, bob)
    wendy = Identity.load(world["cfg"]["wendy"]).unlock(PASSWORD)
    with pytest.raises(ag.AgreementError, match="not one of this agreement's parties"):
        ag.sign_agreement(new, wendy)


def test_sign_v2_with_roles_from_the_cli_is_accepted_by_jacs(world, capsys):
    doc_id = world["v2"]["jacsId"]
    with env(JACS_PRIVATE_KEY_PASSWORD=PASSWORD):
        # wendy is a witness, not a signer
        assert cli(["agreements", "sign", str(world["root"]), doc_id, "--config", str(world["cfg"]["wendy"])]) == 1
        assert "not as signer" in capsys.readouterr().err
        assert cli(["agreements", "sign", str(world["root"]), doc_id, "--config", str(world["cfg"]["wendy"]),
                    "--role", "witness"]) == 0
        mid = capsys.readouterr().out.strip()
        assert mid.endswith("(partially_signed)")
        assert cli(["agreements", "sign", str(world["root"]), doc_id, "--config", str(world["cfg"]["bob"])]) == 0
        last = capsys.readouterr().out.strip()
    assert last.endswith("(final)")
    version = last.split()[0].split(":", 1)[1]
    final = json.loads((world["root"] / "documents" / f"{doc_id}:{version}.json").read_text())
    assert len(final["allPreviousVersions"]) == 3 and final["status"] == "final"
    _client, plain = _lib_verify(world, final)
    assert plain.valid, plain.errors
    with env(JACS_TRUST_STORE_DIR=str(world["root"] / "trust")), library(world["root"], PASSWORD):
        report = SimpleAgent.load(str(world["cfg"]["alice"])).verify_agreement_v2(json.dumps(final))
    assert report["mathematicalChecksValid"] is True, report
    board = _board(world["root"])
    a = _by_id(board, doc_id)
    assert a.status == "final" and a.quorum_met is True and set(_states(a).values()) == {"signed"}
    assert a.versions == 4


def test_fork_and_tampered_signature_are_shown(world):
    """Two versions from the same parent: the latest is shown and the fork named; a party
    signature whose bytes were changed is 'invalid', not 'signed'."""
    bob = Identity.load(world["cfg"]["bob"]).unlock(PASSWORD)
    wendy = Identity.load(world["cfg"]["wendy"]).unlock(PASSWORD)
    store = open_store(str(world["root"]))
    try:
        first = ag.sign_agreement(world["v2"], bob)
        second = ag.sign_agreement(world["v2"], wendy, "witness")
        store.put_document(first)
        store.put_document(second)
    finally:
        store.close()
    a = _by_id(_board(world["root"]), world["v2"]["jacsId"])
    assert a.version == second["jacsVersion"] and a.forks == [first["jacsVersion"]]
    assert any("forked" in n for n in a.notes)
    # tamper: flip a byte of Alice's party signature and re-sign the outer signature as Alice
    alice = Identity.load(world["cfg"]["alice"]).unlock(PASSWORD)
    bad = json.loads(json.dumps(world["v2"]))
    sig = bad["agreementSignatures"][0]["signature"]
    import base64

    raw = bytearray(base64.b64decode(sig["signature"]))
    raw[5] ^= 1
    sig["signature"] = base64.b64encode(bytes(raw)).decode()
    bad = alice.finish(bad)
    _client, plain = _lib_verify(world, bad)
    assert plain.valid  # the library's plain verify does not look at party signatures; verify_agreement_v2 does
    from jacs_desktop.core.verify import verify_document

    store = open_store(str(world["root"]))
    try:
        verdict = store.verify_data(json.dumps(bad).encode())
    finally:
        store.close()
    row = ag.agreement_of(bad, verdict)
    assert _states(row)[(world["ids"]["alice"], "signer")] == "invalid"
    assert row.status == "invalid"
    assert verify_document(bad).status != "valid"
    with env(JACS_TRUST_STORE_DIR=str(world["root"] / "trust")), library(world["root"], PASSWORD):
        report = SimpleAgent.load(str(world["cfg"]["alice"])).verify_agreement_v2(json.dumps(bad))
    assert report["mathematicalChecksValid"] is False


def test_not_a_controller_is_refused(world):
    doc = json.loads(json.dumps(world["v2"]))
    doc["controllers"] = [world["ids"]["alice"]]
    bob = Identity.load(world["cfg"]["bob"]).unlock(PASSWORD)
    with pytest.raises(ag.AgreementError, match="controllers"):
        ag.sign_agreement(doc, bob)
