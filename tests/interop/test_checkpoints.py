"""Signed store checkpoints on a store the real jacs library made: the checkpoint and the signed
diff are ordinary documents jacs verifies; a removed latest version, an edited one and a new one
show in the comparison."""

import hashlib
import json

import pytest

jacs = pytest.importorskip("jacs", reason="the jacs test extra is not installed")
from jacs.client import JacsClient  # noqa: E402

from jacs_desktop.cli.app import main as cli  # noqa: E402
from jacs_desktop.core.canonical import jacs_sha256  # noqa: E402
from jacs_desktop.core.identity import Identity  # noqa: E402
from jacs_desktop.jobs import checkpoints as cp  # noqa: E402
from jacs_desktop.storage.opener import open_store  # noqa: E402

from ._library import create_jacs_agent_here, env, library  # noqa: E402

pytestmark = pytest.mark.interop
PASSWORD = "Checkpoint!Store#2026"


def _rfc6962(leaves):
    """The RFC 6962 definition, recursively (the reference for the iterative one)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _rfc6962(leaves[:k]) + _rfc6962(leaves[k:])).digest()


def test_merkle_root_is_rfc6962():
    for n in range(0, 40):
        entries = [(f"documents/{i:03}.json", hashlib.sha256(str(i).encode()).hexdigest()) for i in range(n)]
        leaves = [cp._leaf(k, s) for k, s in entries]
        assert cp.merkle_root(entries) == _rfc6962(leaves).hex(), n
    one = [("a", "b")]
    assert cp.merkle_root(one) != cp.merkle_root([("a", "c")]) != cp.merkle_root([("b", "b")])


@pytest.fixture
def world(tmp_path):
    root = tmp_path / "store"
    root.mkdir()
    with env(JACS_TRUST_STORE_DIR=str(tmp_path / "trust")), library(root, PASSWORD):
        cfg = create_jacs_agent_here(root, "keeper", "ring-Ed25519", PASSWORD)
        client = JacsClient(str(cfg))
        docs = [json.loads(client.sign_message({"n": i}).raw_json) for i in range(3)]
    return {"root": root, "cfg": cfg, "docs": docs, "trust": tmp_path / "trust"}


def _lib_valid(world, doc):
    with env(JACS_TRUST_STORE_DIR=str(world["trust"])), library(world["root"], PASSWORD):
        return JacsClient(str(world["cfg"])).verify(json.dumps(doc)).valid


def _path(world, doc):
    return world["root"] / "documents" / f"{doc['jacsId']}:{doc['jacsVersion']}.json"


def test_checkpoint_compare_and_signed_diff(world, capsys):
    signer = Identity.load(world["cfg"]).unlock(PASSWORD)
    store = open_store(str(world["root"]))
    try:
        first = cp.make_checkpoint(store, signer)
    finally:
        store.close()
    body = first[cp.FIELD]
    assert body["count"] == 4  # three documents and the agent version
    assert _lib_valid(world, first)  # an ordinary signed document to jacs
    with env(JACS_PRIVATE_KEY_PASSWORD=PASSWORD):
        assert cli(["checkpoint", "compare", str(world["root"])]) == 0
    assert "nothing appeared, vanished or changed" in capsys.readouterr().out

    # the store changes: one version removed, one edited (re-hashed, so jacsSha256 differs), one new
    gone, edited = world["docs"][0], world["docs"][1]
    _path(world, gone).unlink()
    e = dict(edited, jacsDocument={"n": 99})
    e.pop("jacsSha256")
    e["jacsSha256"] = jacs_sha256(e)
    _path(world, edited).write_text(json.dumps(e))
    with env(JACS_TRUST_STORE_DIR=str(world["trust"])), library(world["root"], PASSWORD):
        new = json.loads(JacsClient(str(world["cfg"])).sign_message({"n": "new"}).raw_json)
    store = open_store(str(world["root"]))
    try:
        c = cp.compare(store)
        assert c.vanished == [f"documents/{gone['jacsId']}:{gone['jacsVersion']}.json"]
        assert c.changed == [f"documents/{edited['jacsId']}:{edited['jacsVersion']}.json"]
        assert c.appeared == [f"documents/{new['jacsId']}:{new['jacsVersion']}.json"]
        assert c.base["id"] == first["jacsId"]
        second = cp.make_checkpoint(store, signer)
        diff = cp.signed_diff(store, first["jacsId"], second["jacsId"], signer)
        assert [x.id for x in cp.checkpoints(store)] == [first["jacsId"], second["jacsId"]]
    finally:
        store.close()
    d = diff[cp.DIFF_FIELD]
    assert (d["vanished"], d["changed"]) == (c.vanished, c.changed)
    assert set(d["appeared"]) == {*c.appeared, f"documents/{first['jacsId']}:{first['jacsVersion']}.json"}
    assert _lib_valid(world, diff) and _lib_valid(world, second)
    # since the latest checkpoint only checkpoint documents appeared (itself and the diff), shown apart
    with env(JACS_PRIVATE_KEY_PASSWORD=PASSWORD):
        assert cli(["checkpoint", "compare", str(world["root"]), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["appeared"] == [] and out["vanished"] == [] and out["changed"] == []
    assert set(out["new_checkpoints"]) == {f"documents/{d['jacsId']}:{d['jacsVersion']}.json" for d in (second, diff)}
    # against the first one, from the command line: exit 2 (something vanished or changed)
    assert cli(["checkpoint", "compare", str(world["root"]), "--checkpoint", first["jacsId"]]) == 2
    text = capsys.readouterr().out
    assert "vanished" in text and gone["jacsId"] in text


def test_tampered_checkpoint_is_refused(world, capsys):
    signer = Identity.load(world["cfg"]).unlock(PASSWORD)
    store = open_store(str(world["root"]))
    try:
        first = cp.make_checkpoint(store, signer)
    finally:
        store.close()
    # someone drops an entry from the checkpoint (and fixes the root and count): the signature breaks
    t = json.loads(json.dumps(first))
    body = t[cp.FIELD]
    body["entries"] = body["entries"][1:]
    body["count"] -= 1
    body["root"] = cp.merkle_root([tuple(x) for x in body["entries"]])
    t["jacsSha256"] = jacs_sha256({k: v for k, v in t.items() if k != "jacsSha256"})
    _path(world, first).write_text(json.dumps(t))
    assert not _lib_valid(world, t)
    assert cli(["checkpoint", "compare", str(world["root"])]) == 1
    assert "cannot be relied on" in capsys.readouterr().err
    assert cli(["checkpoint", "list", str(world["root"]), "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["checkpoints"]
    assert row["status"] == "invalid" and "signature does not hold" in row["problem"]
    # and a root that does not match the entries is caught before the signature is even needed
    assert cp.checkpoint_of(dict(first, **{cp.FIELD: dict(first[cp.FIELD], root="00" * 32)})).problem == \
        "its Merkle root does not match its entries"
