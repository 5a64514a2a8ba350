"""Image signatures (jacs's ``sign_image``) on PNG, JPEG and WebP verified here with the library's
status words: the same status as the library's ``verify_image`` on every case."""

import base64
import json
import shutil

import pytest

jacs = pytest.importorskip("jacs", reason="the jacs test extra is not installed")
from jacs import SimpleAgent  # noqa: E402
from PySide6.QtGui import QColor, QImage  # noqa: E402

from jacs_desktop.cli.app import main as cli  # noqa: E402
from jacs_desktop.core import mediasig  # noqa: E402
from jacs_desktop.storage.opener import open_store  # noqa: E402

from ._library import create_jacs_agent_here, env, library  # noqa: E402

pytestmark = pytest.mark.interop
PASSWORD = "Image!Signatures#2026"
FORMATS = ("png", "jpeg", "webp")


def _payload_span(fmt, data):
    raw = mediasig.extract_payload(fmt, data).encode()
    i = data.index(raw)
    return i, raw


def _tamper_signature(fmt, data):
    """Flip one character of the signature inside the embedded document (same length, so the file stays well formed)."""
    i, raw = _payload_span(fmt, data)
    doc = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4)).decode()
    sig = json.loads(doc)["jacsSignature"]["signature"]
    flipped = sig[:8] + ("A" if sig[8] != "A" else "B") + sig[9:]
    new = base64.urlsafe_b64encode(doc.replace(sig, flipped).encode()).rstrip(b"=")
    assert len(new) == len(raw)
    return data[:i] + new + data[i + len(raw):]


def _tamper_image(fmt, data):
    """Change a byte of the picture data itself: PNG's IDAT, JPEG's scan, WebP's first (image) chunk."""
    j = data.index(b"IDAT") + 6 if fmt == "png" else len(data) - 4 if fmt == "jpeg" else 12 + 8 + 6
    i, raw = _payload_span(fmt, data)
    assert not (i <= j < i + len(raw))
    return data[:j] + bytes([data[j] ^ 0x55]) + data[j + 1:]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("mediasig")
    img = QImage(24, 12, QImage.Format.Format_RGB32)
    img.fill(QColor("#2f6fb5"))
    cases = {}
    with env(JACS_TRUST_STORE_DIR=str(root / "trust")), library(root, PASSWORD):
        a = SimpleAgent.load(str(create_jacs_agent_here(root, "alice", "ring-Ed25519", PASSWORD)))
        b = SimpleAgent.load(str(create_jacs_agent_here(root, "bob", "pq2025", PASSWORD)))
        keydir = root / "keydir"
        keydir.mkdir()
        for agent in (a, b):
            (keydir / f"{agent.get_agent_id()}.public.pem").write_text(agent.get_public_key_pem())
        for fmt in FORMATS:
            plain = root / f"plain.{fmt}"
            assert img.save(str(plain), fmt.upper())
            cases[f"{fmt} unsigned"] = plain
            for who, agent in (("alice", a), ("bob", b)):
                out = root / f"{who}.{fmt}"
                agent.sign_image(str(plain), str(out))
                cases[f"{fmt} signed by {who}"] = out
            signed = (root / f"alice.{fmt}").read_bytes()
            for name, fn in (("signature flipped", _tamper_signature), ("image changed", _tamper_image)):
                p = root / f"{name.replace(' ', '-')}.{fmt}"
                p.write_bytes(fn(fmt, signed))
                cases[f"{fmt} {name}"] = p
    (root / "not-an-image.png").write_bytes(b"hello")
    cases["not an image"] = root / "not-an-image.png"
    return {"root": root, "cases": cases, "keydir": keydir}


def _library(made):
    """The library's statuses for every case (one agent load)."""
    out = {}
    with env(JACS_TRUST_STORE_DIR=str(made["root"] / "trust")), library(made["root"], PASSWORD):
        agent = SimpleAgent.load(str(made["root"] / "alice.config.json"))
        for name, path in made["cases"].items():
            try:
                out[name] = agent.verify_image(str(path), key_dir=str(made["keydir"]))["status"]
            except Exception as exc:  # the library raises on files it cannot take at all
                out[name] = f"raised: {exc}"
    return out


def test_same_status_as_the_library(made):
    store = open_store(str(made["root"]))
    expected = {"unsigned": "missing_signature", "signed by alice": "valid", "signed by bob": "valid",
                "signature flipped": "invalid_signature", "image changed": "hash_mismatch"}
    statuses = _library(made)
    try:
        for name, path in sorted(made["cases"].items()):
            ours = mediasig.verify_image(path.read_bytes(), store.keys())
            theirs = statuses[name]
            if name == "not an image":
                assert ours.status == "unsupported_format" and (theirs == "unsupported_format" or
                                                                 theirs.startswith("raised")), theirs
                continue
            assert ours.status == theirs, (name, ours, theirs)
            assert ours.status == expected[name.split(" ", 1)[1]], (name, ours)
            assert ours.format == name.split(" ", 1)[0]
    finally:
        store.close()
    assert mediasig.verify_image(made["cases"]["png signed by bob"].read_bytes(), None).status == "key_not_found"


def test_canonical_bytes_are_the_unsigned_file(made):
    """Signing only adds the JACS chunk: without it, the signed file is the file that was signed."""
    for fmt in FORMATS:
        signed = made["cases"][f"{fmt} signed by alice"].read_bytes()
        plain = made["cases"][f"{fmt} unsigned"].read_bytes()
        assert mediasig.canonical_bytes(fmt, signed) == mediasig.canonical_bytes(fmt, plain)


def test_cli_verify_image(made, capsys, tmp_path):
    shutil.copytree(made["root"], tmp_path / "s", ignore=shutil.ignore_patterns("trust"))
    assert cli(["verify-image", str(tmp_path / "s" / "bob.webp"), str(tmp_path / "s" / "alice.jpeg")]) == 0
    assert capsys.readouterr().out.count("valid") == 2
    bad = made["cases"]["png image changed"]
    assert cli(["verify-image", str(bad), "--store", str(made["root"]), "--json"]) == 2
    assert json.loads(capsys.readouterr().out)[str(bad)]["status"] == "hash_mismatch"
    assert cli(["verify-image", str(made["cases"]["png unsigned"])]) == 1
