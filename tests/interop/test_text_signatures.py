"""Inline text signatures (jacs's ``sign_text``) verified here with the library's status words: the
same result as the library's ``verify_text`` on every case, with both signers' keys known to it."""

import base64
import json
import re
import shutil

import pytest

jacs = pytest.importorskip("jacs", reason="the jacs test extra is not installed")
from jacs import SimpleAgent  # noqa: E402

from jacs_desktop.cli.app import main as cli  # noqa: E402
from jacs_desktop.core import textsig  # noqa: E402
from jacs_desktop.jobs.media import verify_text_file  # noqa: E402
from jacs_desktop.storage.opener import open_store  # noqa: E402

from ._library import create_jacs_agent_here, env, library  # noqa: E402

pytestmark = pytest.mark.interop
PASSWORD = "Text!Signatures#2026"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("textsig")
    files = {}
    with env(JACS_TRUST_STORE_DIR=str(root / "trust")), library(root, PASSWORD):
        a = SimpleAgent.load(str(create_jacs_agent_here(root, "alice", "ring-Ed25519", PASSWORD)))
        b = SimpleAgent.load(str(create_jacs_agent_here(root, "bob", "pq2025", PASSWORD)))
        two = root / "two.md"
        two.write_bytes(b"# Minutes\r\n\r\nWe agreed.  \r\n\r\n")
        a.sign_text(str(two), no_backup=True)
        b.sign_text(str(two), no_backup=True)
        files["two signers, CRLF"] = two
        one = root / "one.txt"
        one.write_text("plain text, one signer\n")
        a.sign_text(str(one), no_backup=True)
        files["one signer"] = one
        ids = {"alice": a.get_agent_id(), "bob": b.get_agent_id()}
        keydir = root / "keydir"  # the library finds other signers in a key folder: <id>.public.pem
        keydir.mkdir()
        for name, agent in (("alice", a), ("bob", b)):
            (keydir / f"{ids[name]}.public.pem").write_text(agent.get_public_key_pem())
    text = files["two signers, CRLF"].read_text()
    cases = dict(files)

    def variant(name, new_text):
        p = root / f"{len(cases)}.md"
        p.write_text(new_text)
        cases[name] = p

    variant("text edited", text.replace("agreed", "disagreed"))
    variant("trailing whitespace added (still valid)", text.replace("We agreed.", "We agreed.   \t\n\n", 1))
    sig = re.search(r"\n  signature: (\S+)", text).group(1)
    raw = bytearray(base64.b64decode(sig))
    raw[4] ^= 1
    variant("signature bytes flipped", text.replace(sig, base64.b64encode(bytes(raw)).decode(), 1))
    variant("signed field edited in the block", text.replace("jacsLevel: artifact", "jacsLevel: raw", 1))
    variant("canonicalization changed", text.replace("canonicalization: jacs-text-v1",
                                                     "canonicalization: jacs-text-v2", 1))
    variant("block not closed", text[: text.rindex(textsig.END_MARKER)])
    variant("no signature", "just text\n")
    variant("garbage block", "x\n" + textsig.BEGIN_MARKER + "\n: : :\n  - [\n" + textsig.END_MARKER + "\n")
    return {"root": root, "cases": cases, "ids": ids, "keydir": keydir}


def _library(made, path):
    with env(JACS_TRUST_STORE_DIR=str(made["root"] / "trust")), library(made["root"], PASSWORD):
        agent = SimpleAgent.load(str(made["root"] / "alice.config.json"))
        return agent.verify_text(str(path), key_dir=str(made["keydir"]))


def _shape(result):
    """What must agree: the file status and each block's signer, algorithm and status."""
    sigs = [(s["signer_id"], s["algorithm"], s["status"]) for s in result.get("signatures", [])]
    return result["status"], sigs


def test_same_status_words_as_the_library(made):
    store = open_store(str(made["root"]))
    try:
        for name, path in sorted(made["cases"].items()):
            ours = verify_text_file(path, store.keys()).to_dict()
            theirs = _library(made, path)
            assert _shape(ours) == _shape(theirs), (name, ours, theirs)
    finally:
        store.close()
    two = verify_text_file(made["cases"]["two signers, CRLF"], None)
    assert [s.status for s in two.signatures] == ["key_not_found", "key_not_found"]  # no keys given


def test_expected_words(made):
    store = open_store(str(made["root"]))
    try:
        got = {name: verify_text_file(p, store.keys()) for name, p in made["cases"].items()}
    finally:
        store.close()
    assert [s.status for s in got["two signers, CRLF"].signatures] == ["valid", "valid"]
    assert [s.algorithm for s in got["two signers, CRLF"].signatures] == ["ed25519", "pq2025"]
    assert got["two signers, CRLF"].valid
    assert [s.status for s in got["text edited"].signatures] == ["hash_mismatch", "hash_mismatch"]
    assert got["signature bytes flipped"].signatures[0].status == "invalid_signature"
    assert got["signed field edited in the block"].signatures[0].status == "invalid_signature"
    assert got["canonicalization changed"].signatures[0].status == "malformed"
    assert got["block not closed"].status == "malformed"
    assert got["no signature"].status == "missing_signature"
    assert got["garbage block"].signatures[0].status == "malformed"


def test_cli_verify_text(made, capsys, tmp_path):
    shutil.copytree(made["root"], tmp_path / "s", ignore=shutil.ignore_patterns("trust"))
    ok = tmp_path / "s" / "two.md"
    assert cli(["verify-text", str(ok)]) == 0  # the store around the file gives the keys
    assert "✓ valid" in capsys.readouterr().out
    bad = made["cases"]["text edited"]
    assert cli(["verify-text", str(bad), "--store", str(made["root"]), "--json"]) == 2
    out = json.loads(capsys.readouterr().out)
    assert {s["status"] for s in out[str(bad)]["signatures"]} == {"hash_mismatch"}
    assert cli(["verify-text", str(tmp_path / "absent.md")]) == 1
