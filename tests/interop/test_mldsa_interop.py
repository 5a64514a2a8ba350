"""pq2025 documents signed by the compiled ML-DSA-87 signer are accepted by the real jacs library,
with the library's own key (the fixture agent) and with a key we made."""

import json

import pytest

jacs = pytest.importorskip("jacs", reason="the jacs test extra is not installed")
import jacs.simple as jacs_simple  # noqa: E402
from conftest import MANIFEST  # noqa: E402

from jacs_desktop.core import mldsa  # noqa: E402
from jacs_desktop.core.identity import Identity, create_agent  # noqa: E402

from ._library import cwd  # noqa: E402

pytestmark = pytest.mark.interop


def _accepted(doc: dict, root, data_dir: str, key_dir: str) -> bool:
    with cwd(root):
        r = jacs_simple.verify_standalone(json.dumps(doc), "local", data_dir, key_dir)
    return bool(r.valid)


def test_jacs_accepts_what_the_compiled_signer_signs_with_its_key(fixture_copy):
    assert mldsa.BACKEND == "pqcrypto"
    agent = MANIFEST["agents"]["pq2025"]
    ident = Identity.load(fixture_copy / agent["config"])
    signer = ident.unlock(agent["password"])
    docs = [signer.new_document({"jacsDocument": {"type": "message", "content": {"n": i, "s": "naïve ✓"}}})
            for i in range(3)]
    assert all(_accepted(d, fixture_copy, "jacs_data", agent["key_directory"]) for d in docs)
    tampered = json.loads(json.dumps(docs[0]))
    tampered["jacsDocument"]["content"]["n"] = 99
    assert not _accepted(tampered, fixture_copy, "jacs_data", agent["key_directory"])


def test_jacs_accepts_a_key_pair_the_compiled_signer_made(tmp_path):
    ident = create_agent(tmp_path / "agent", "compiled-pq", "Interop!Test#2026x", algorithm="pq2025")
    doc = ident.signer.new_document({"jacsDocument": {"type": "message", "content": {"n": 1}}})
    cfg = ident.config
    assert _accepted(doc, cfg.root, str(cfg.data_dir), str(cfg.key_dir))
