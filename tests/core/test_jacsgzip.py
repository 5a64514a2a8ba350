"""The library's attachment gzip stream (core/jacsgzip.py), without the library.

Byte-for-byte equality with what jacs writes is proven in tests/interop/test_jacsgzip.py;
here: framing, the self-check, the fallback when the stream cannot be reproduced, caching.
"""

import base64
import gzip
import hashlib
import os
import random
import subprocess
import sys
import zlib

import pytest

from jacs_desktop.core import jacsgzip
from jacs_desktop.core.jacsgzip import (
    GZIP_HEADER,
    attachment_sha256,
    exact_available,
    external_candidates,
    external_digests,
    gzip_like_jacs,
    jacs_gzip,
)
from jacs_desktop.core.sign import make_attachment

RNG = random.Random(20261201)
SAMPLES = [b"", b"a", b"hello\n", RNG.randbytes(5000), b"z" * 70_000,
           " ".join(RNG.choice(["sig", "doc", "jacs", "\n"]) for _ in range(40_000)).encode()]


@pytest.fixture
def no_exact(monkeypatch):
    """As on a machine where the library's stream cannot be reproduced."""
    monkeypatch.setattr(jacsgzip, "_state", (None, "test: no exact compressor"))
    jacsgzip.clear_cache()
    yield
    jacsgzip.clear_cache()


@pytest.fixture(autouse=True)
def fresh_cache():
    jacsgzip.clear_cache()
    yield
    jacsgzip.clear_cache()


def test_self_check_passes_here():
    assert exact_available(), jacsgzip.exact_unavailable_reason()
    assert jacsgzip.exact_unavailable_reason() is None


@pytest.mark.parametrize("data", SAMPLES, ids=lambda d: f"{len(d)}B")
def test_stream_framing(data):
    s = jacs_gzip(data)
    assert s[:10] == GZIP_HEADER == bytes.fromhex("1f8b08000000000000ff")
    assert s[-8:-4] == zlib.crc32(data).to_bytes(4, "little")
    assert s[-4:] == len(data).to_bytes(4, "little")
    assert gzip.decompress(s) == data
    assert zlib.decompress(s[10:-8], -15) == data
    assert gzip_like_jacs(data) == s


@pytest.mark.parametrize("value", ["pure-rust", "bogus", ""])
def test_cramjam_backend_variable_does_not_change_the_stream(value):
    # CRAMJAM_BACKEND=pure-rust makes `cramjam.deflate` a different implementation
    # (different bytes); other values make `import cramjam` raise
    code = ("from jacs_desktop.core import jacsgzip as g, sign;"
            "import hashlib;"
            "print(g.exact_available(), hashlib.sha256(g.jacs_gzip(b'abc' * 100000) or b'').hexdigest())")
    env = dict(os.environ, CRAMJAM_BACKEND=value)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", hashlib.sha256(jacs_gzip(b"abc" * 100000)).hexdigest()]


def test_self_check_rejects_a_different_deflate(monkeypatch):
    # e.g. a cramjam release built on another flate2 backend: zlib's output is a valid
    # deflate stream, but not the library's
    monkeypatch.setattr(jacsgzip, "_load_deflate", lambda: (lambda d: zlib.compress(d, 6)[2:-4]))
    fn, reason = jacsgzip._probe()
    assert fn is None and "known answers differ" in reason


def test_self_check_without_cramjam(monkeypatch):
    def missing():
        raise ImportError("No module named 'cramjam'")

    monkeypatch.setattr(jacsgzip, "_load_deflate", missing)
    fn, reason = jacsgzip._probe()
    assert fn is None and "cramjam" in reason


def test_fallback_without_exact_stream(no_exact):
    data = SAMPLES[-1]
    assert not exact_available()
    assert jacs_gzip(data) is None
    s = gzip_like_jacs(data)
    assert s[:10] == GZIP_HEADER and gzip.decompress(s) == data
    assert list(external_candidates(data)) == [s]
    assert [w for w, _ in external_digests(data)] == ["zlib"]


def test_external_attachment_embeds_when_the_stream_cannot_be_reproduced(no_exact):
    att = make_attachment(SAMPLES[-1], "files/notes.txt", embed=False)
    assert att.embed is True and att.contents
    assert "embedded instead of external" in att.embed_reason and "test: no exact compressor" in att.embed_reason
    assert gzip.decompress(base64.b64decode(att.contents)) == SAMPLES[-1]
    assert att.sha256 == hashlib.sha256(att.contents.encode()).hexdigest()
    assert att.to_json()["embed"] is True


def test_external_attachment_records_the_exact_stream():
    data = SAMPLES[-1]
    att = make_attachment(data, "files/notes.txt", embed=False)
    assert att.embed is False and att.contents is None and att.embed_reason is None
    assert att.sha256 == attachment_sha256(jacs_gzip(data))
    assert "contents" not in att.to_json()
    emb = make_attachment(data, "files/notes.txt", embed=True)
    assert emb.sha256 == att.sha256 and emb.embed_reason is None


def test_candidates_exact_first_then_legacy_zlib():
    big = SAMPLES[-1]
    cands = list(external_candidates(big))
    assert cands[0] == jacs_gzip(big)
    assert cands[1] == jacsgzip._zlib_stream(big) != cands[0]
    assert len(cands) == 2
    # tiny files: zlib makes the same stream, offered once
    assert list(external_candidates(b"tiny\n")) == [jacs_gzip(b"tiny\n")]
    digests = list(external_digests(big))
    assert digests == [("jacs", attachment_sha256(cands[0])), ("zlib", attachment_sha256(cands[1]))]
    assert [w for w, _ in external_digests(b"tiny\n")] == ["jacs"]


def test_candidates_are_lazy(monkeypatch):
    # verify stops at the first match: the legacy stream is not computed then
    calls = []
    real = jacsgzip._zlib_stream
    monkeypatch.setattr(jacsgzip, "_zlib_stream", lambda d, *a: calls.append(len(d)) or real(d, *a))
    big = SAMPLES[-1]
    next(iter(external_candidates(big)))
    next(iter(external_digests(big)))
    assert calls == []


def test_cache_compresses_each_content_once(monkeypatch):
    calls = []
    real = jacsgzip._exact_stream
    monkeypatch.setattr(jacsgzip, "_exact_stream", lambda d: calls.append(len(d)) or real(d))
    big = SAMPLES[-1]
    first = jacs_gzip(big)
    for _ in range(5):
        assert jacs_gzip(bytearray(big)) == first
        assert next(iter(external_candidates(big))) == first
    assert calls == [len(big)]
    # digests outlive the stream cache
    jacsgzip._streams.clear()
    d1 = list(external_digests(big))
    for _ in range(5):
        assert list(external_digests(big)) == d1
    assert calls == [len(big)] * 2
    # a different content of the same size is not confused with it
    other = bytes(reversed(big))
    assert jacs_gzip(other) != first and gzip.decompress(jacs_gzip(other)) == other


def test_lru_is_bounded_in_bytes():
    lru = jacsgzip._LRU(max_bytes=1000, max_item=400)
    for i in range(10):
        lru.put(i, b"x" * 300, 300)
    assert lru._size <= 1000 and len(lru._d) == 3
    assert lru.get(9) is not None and lru.get(0) is None
    lru.get(7)  # most recently used survives the next insert
    lru.put("new", b"y", 300)
    assert lru.get(7) is not None and lru.get(8) is None
    lru.put("huge", b"z" * 500, 500)
    assert lru.get("huge") is None


def test_sign_flow_says_when_an_external_attachment_is_embedded_instead(no_exact, tmp_path):
    from jacs_desktop.jobs.flows import SignFlow

    PASSWORD = "Flow!Embed#2026xy"
    (tmp_path / "b.csv").write_bytes(SAMPLES[-1])
    f = SignFlow(content_text='{"jacsDocument": {"type": "message", "content": {"n": 1}}}', title="t",
                 attachments=[{"path": str(tmp_path / "b.csv"), "embed": False}],
                 signer_mode="create", agent_name="embed-flow", agent_dir=str(tmp_path / "agent"),
                 algorithm="ring-Ed25519", password=PASSWORD, password2=PASSWORD)
    doc = f.prepare()
    assert [e["embed"] for e in doc["jacsFiles"]] == [True]
    assert f.state["external"] == []  # nothing to copy beside the store
    notes = f.state["attachment_notes"]
    assert len(notes) == 1 and "embedded instead of external" in notes[0] and "b.csv" in notes[0]
