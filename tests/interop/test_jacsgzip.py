"""Attachment gzip streams, byte for byte against the real jacs 0.15.0 library (SPEC 2.3, 12.3).

* the full gzip stream the library embeds equals ours, on a seeded corpus of kinds of
  data and of sizes around every block and buffer boundary of miniz_oxide and flate2;
* the library accepts the external attachments we sign, and rejects them once the file changes;
* the library's external attachments verify as valid with our verifier.

The 50 MB cases run on demand only: JACS_GZIP_BIG=1 pytest -m slow tests/interop/test_jacsgzip.py
"""

import base64
import hashlib
import json
import os
import random

import pytest

jacs = pytest.importorskip("jacs", reason="the jacs test extra is not installed")
from jacs import SimpleAgent  # noqa: E402

from jacs_desktop.core import jacsgzip  # noqa: E402
from jacs_desktop.core.identity import create_agent  # noqa: E402
from jacs_desktop.core.sign import make_attachment  # noqa: E402
from jacs_desktop.core.verify import verify_document  # noqa: E402
from jacs_desktop.storage.urls import open_store  # noqa: E402

from ._library import cwd as _cwd  # noqa: E402
from ._library import env as _env  # noqa: E402

pytestmark = pytest.mark.interop
PASSWORD = "Interop!Gzip#2026x"




# -- the corpus ------------------------------------------------------------------

WORDS = ["alpha", "beta", "gamma", "delta", "naïve", "✓", "42", "\n", "the", "of", "signed", "JACS", "{", "}"]


def _text(rng, n):
    out = bytearray()
    while len(out) < n:
        out += (rng.choice(WORDS) + rng.choice((" ", " ", ", ", "\n"))).encode()
    return bytes(out[:n])


def _random(rng, n):
    return rng.randbytes(n)


def _zeros(rng, n):
    return bytes(n)


def _low_entropy(rng, n):      # few symbols: static vs dynamic Huffman choice
    return bytes(rng.choice(b"ACGT") for _ in range(n))


def _periodic(period):         # matches at exactly one distance (window edge: 32768)
    def make(rng, n):
        unit = rng.randbytes(period)
        return (unit * (n // period + 1))[:n]
    return make


def _mixed(rng, n):            # stored, dynamic and long-match runs in one stream
    out = bytearray()
    while len(out) < n:
        k = rng.randint(1, 40_000)
        out += rng.choice((_text, _random, _zeros, _low_entropy))(rng, k)
    return bytes(out[:n])


def _records(rng, n):          # structured binary (little-endian counters and flags)
    out = bytearray()
    i = 0
    while len(out) < n:
        out += i.to_bytes(4, "little") + rng.choice((b"\x00\x01", b"\x00\x02", b"\xff\xfe")) + rng.randbytes(2)
        i += 1
    return bytes(out[:n])


# miniz_oxide: window 32 KiB, a block is flushed when 64 KiB of LZ codes are buffered or after
# 31 KiB of input that compresses badly; max match 258; flate2 writes through a 32 KiB buffer
BOUNDARIES = (258, 4096, 8192, 16384, 31 * 1024, 32768, 65536, 98304, 131072, 262144)


def corpus():
    rng = random.Random(20261201)
    cases = [(f"text-{n}", _text(rng, n)) for n in (0, 1, 2, 3, 4, 5, 7, 8, 13, 16, 31, 64, 100, 1000)]
    cases += [(f"random-{n}", _random(rng, n)) for n in (1, 2, 5, 100, 1000)]
    for b in BOUNDARIES:
        for n in (b - 1, b, b + 1):
            cases.append((f"text-{n}", _text(rng, n)))
            cases.append((f"random-{n}", _random(rng, n)))
    cases += [(f"zeros-{n}", _zeros(rng, n)) for n in (1, 258, 259, 65537, 1_000_000)]
    cases += [(f"acgt-{n}", _low_entropy(rng, n)) for n in (100, 5000, 70_000, 300_000)]
    cases += [(f"period{p}-{n}", _periodic(p)(rng, n))
              for p, n in ((3, 100_000), (258, 200_000), (259, 200_000), (4000, 150_000),
                           (32767, 140_000), (32768, 140_000), (32769, 140_000))]
    cases += [(f"mixed-{n}", _mixed(rng, n)) for n in (100_000, 400_000, 1_500_000)]
    cases += [(f"records-{n}", _records(rng, n)) for n in (65536, 500_000)]
    cases += [(f"kat-{i}", d) for i, d in enumerate(jacsgzip._kat_inputs())]
    return cases


CORPUS = corpus()


# -- the library's side ----------------------------------------------------------

def _files_doc(agent, folder: str, embed: bool) -> dict:
    """One jacs document attaching every file of *folder* (the library signs a folder whole)."""
    raw = agent.create_document(document_string=json.dumps({"jacsDocument": {"type": "file", "filename": folder}}),
                                custom_schema=None, outputfilename=None, no_save=True,
                                attachments=folder, embed=embed)
    return json.loads(raw)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("jacsgzip")
    with _env(JACS_PRIVATE_KEY_PASSWORD=PASSWORD), _cwd(root):
        SimpleAgent.create_agent(
            name="gz", password=PASSWORD, algorithm="ed25519",
            data_directory=str(root / "jacs_data"), key_directory=str(root / "keys"),
            config_path=str(root / "gz.config.json"), agent_type="ai",
            description="interop", domain="", default_storage="fs",
        )
        agent = jacs.JacsAgent()
        agent.load(str(root / "gz.config.json"))
        (root / "corpus").mkdir()
        (root / "jacs_data" / "files").mkdir(parents=True)
        for name, data in CORPUS:
            (root / "corpus" / f"{name}.bin").write_bytes(data)
            (root / "jacs_data" / "files" / f"{name}.bin").write_bytes(data)
        embedded = _files_doc(agent, "corpus", embed=True)
        external = _files_doc(agent, "corpus", embed=False)
    return {"root": root, "agent": agent, "embedded": embedded, "external": external,
            "data": {f"corpus/{n}.bin": d for n, d in CORPUS}}


def _library_verify(world, doc) -> tuple[bool, str]:
    with _env(JACS_PRIVATE_KEY_PASSWORD=PASSWORD), _cwd(world["root"]):
        try:
            return world["agent"].verify_document(json.dumps(doc)) is True, ""
        except Exception as exc:  # the library raises on a hash mismatch
            return False, str(exc)


# -- byte for byte -----------------------------------------------------------------

def test_corpus_is_broad():
    sizes = [len(d) for _, d in CORPUS]
    assert len(CORPUS) >= 80 and min(sizes) == 0 and max(sizes) >= 1_000_000
    assert len({hashlib.sha256(d).digest() for _, d in CORPUS}) == len(CORPUS) - 1  # kat-0 == text-0


def test_every_stream_is_the_librarys_byte_for_byte(world):
    entries = {e["path"]: e for e in world["embedded"]["jacsFiles"]}
    assert set(entries) == set(world["data"])
    differ = []
    for path, data in world["data"].items():
        theirs = base64.b64decode(entries[path]["contents"])
        ours = jacsgzip.jacs_gzip(data)
        if ours != theirs:
            differ.append((path, len(data), len(ours), len(theirs)))
        att = make_attachment(data, path, embed=True)
        assert att.contents == entries[path]["contents"] and att.sha256 == entries[path]["sha256"], path
    assert differ == [], f"{len(differ)} of {len(entries)} streams differ: {differ[:10]}"


def test_known_answers_are_the_librarys(world):
    entries = {e["path"]: e for e in world["embedded"]["jacsFiles"]}
    got = tuple(hashlib.sha256(base64.b64decode(entries[f"corpus/kat-{i}.bin"]["contents"])).hexdigest()
                for i in range(len(jacsgzip._kat_inputs())))
    assert got == jacsgzip._KAT_SHA256
    assert jacsgzip.exact_available()


def test_the_librarys_external_attachments_verify_valid(world):
    doc = world["external"]
    assert all(e["embed"] is False for e in doc["jacsFiles"]) and len(doc["jacsFiles"]) == len(CORPUS)
    v = verify_document(doc, open_store(str(world["root"])).key_ring(), world["data"].get)
    bad = [(c.name, c.status, c.reason) for c in v.checks if c.name.startswith("attachment") and c.status != "ok"]
    assert bad == [] and v.status == "valid", bad[:5]
    # and the library's recorded hashes are the ones we make for external attachments
    for e in doc["jacsFiles"]:
        assert make_attachment(world["data"][e["path"]], e["path"], embed=False).sha256 == e["sha256"]


def test_the_librarys_external_attachment_no_longer_valid_when_the_file_changes(world):
    doc = world["external"]
    data = dict(world["data"])
    path = "corpus/text-65536.bin"
    data[path] = data[path][:-1] + b"!"
    v = verify_document(doc, open_store(str(world["root"])).key_ring(), data.get)
    assert v.status != "valid"
    assert [c.status for c in v.checks if c.name == f"attachment {path}"] != ["ok"]


@pytest.fixture(scope="module")
def ours(world):
    """Documents we sign with external attachments, files where the library looks for them."""
    root = world["root"] / "ours"
    ident = create_agent(root, "ours-gzip", PASSWORD, algorithm="ring-Ed25519")
    files = ident.config.data_dir / "files"
    files.mkdir(parents=True)
    for name, data in CORPUS:
        (files / f"{name}.bin").write_bytes(data)
    atts = [make_attachment(data, f"files/{name}.bin", embed=False) for name, data in CORPUS]
    assert all(a.embed is False and a.embed_reason is None for a in atts)
    whole = ident.signer.new_document({"jacsDocument": {"type": "file", "filename": "corpus"}}, attachments=atts)
    singles = {name: ident.signer.new_document({"jacsDocument": {"type": "file", "filename": f"{name}.bin"}},
                                               attachments=[a])
               for (name, _), a in zip(CORPUS, atts, strict=False)
               if name in ("text-1000", "random-32769", "text-65537", "mixed-400000", "zeros-1000000")}
    return {"root": root, "ident": ident, "files": files, "whole": whole, "singles": singles}


def test_library_accepts_our_external_attachments(ours):
    cfg = ours["ident"].config
    with _env(JACS_PRIVATE_KEY_PASSWORD=PASSWORD), _cwd(ours["root"]):
        agent = jacs.JacsAgent()
        agent.load(str(cfg.path))
        for name, doc in [("all", ours["whole"]), *ours["singles"].items()]:
            assert agent.verify_document(json.dumps(doc)) is True, name
        # the library really recompresses the file: change it and it rejects the document
        target = ours["files"] / "text-65537.bin"
        original = target.read_bytes()
        target.write_bytes(original[:-1] + b"?")
        try:
            with pytest.raises(Exception, match=r"(?i)hash|tamper"):
                if agent.verify_document(json.dumps(ours["singles"]["text-65537"])) is not True:
                    raise AssertionError("hash mismatch: not verified")
        finally:
            target.write_bytes(original)
        assert agent.verify_document(json.dumps(ours["singles"]["text-65537"])) is True
    store = open_store(str(ours["root"]))
    v = verify_document(ours["whole"], store.key_ring(), store.read_attachment)
    assert v.status == "valid", [c for c in v.checks if c.status != "ok"][:5]


# -- 50 MB, on demand ------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("JACS_GZIP_BIG") != "1", reason="50 MB cases: set JACS_GZIP_BIG=1")
@pytest.mark.parametrize("kind", ["text", "random", "mixed"])
def test_50_mb_byte_for_byte(world, kind):
    rng = random.Random(50)
    n = 50_000_000
    data = {"text": _text, "random": _random, "mixed": _mixed}[kind](rng, n)
    folder = world["root"] / f"big-{kind}"
    folder.mkdir()
    (folder / "big.bin").write_bytes(data)
    with _env(JACS_PRIVATE_KEY_PASSWORD=PASSWORD), _cwd(world["root"]):
        doc = _files_doc(world["agent"], folder.name, embed=True)
    theirs = base64.b64decode(doc["jacsFiles"][0]["contents"])
    del doc
    assert jacsgzip.jacs_gzip(data) == theirs
