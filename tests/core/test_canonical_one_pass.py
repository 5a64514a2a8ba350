"""The one-pass canonical path (orjson over the parsed tree, floats as fragments of their
ECMAScript text, objects sorted by UTF-16 where their keys need it) is byte-identical to the
reference, falls back where orjson cannot go (nesting deeper than its limit), and the verifier
gives the same verdicts without orjson."""

import json
import random
import uuid

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from varied_json import varied_payload, varied_value

from jacs_desktop.core import canonical
from jacs_desktop.core.canonical import canonical_bytes, canonical_fast, canonicalize, loads_strict
from jacs_desktop.core.crypto import Ed25519Signer
from jacs_desktop.core.sign import AgentSigner, pretty_json
from jacs_desktop.core.verify import KeyRing, verify_bytes


def _deep(depth: int):
    v = {"😀": 1e-7, "\uff21": 100.0, "x": [1.5, "✓"]}
    for i in range(depth):
        v = {"😀" if i % 2 else "\uff21": v, "n": i}
    return v


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=10**9), st.booleans())
def test_one_pass_matches_the_reference(i, exotic):
    value = varied_payload(i) if not exotic else {"v": varied_value(random.Random(i), exotic=0.7, odd=0.5)}
    text = json.dumps(value, ensure_ascii=bool(i % 2))
    ref = rfc8785.dumps(json.loads(text))
    p = loads_strict(text, text.encode())
    assert p.marks == ()  # fragments, not markers
    assert canonical_fast(p.tree, p.key_order) == ref
    assert canonical_fast(p.tree, None) == ref  # key order not known: found from the bytes
    assert canonical_bytes(p.tree, p.marks, p.key_order, p.value) == ref
    assert canonicalize(json.loads(text)) == ref


def test_deeper_than_orjson_goes_falls_back_to_the_general_path():
    value = _deep(300)
    text = json.dumps(value)
    p = loads_strict(text)
    assert p.key_order and not p.safe
    assert canonical_fast(p.tree, p.key_order) is None  # orjson's nesting limit
    assert canonical_bytes(p.tree, p.marks, p.key_order, p.value) == rfc8785.dumps(json.loads(text))
    assert canonicalize(json.loads(text)) == rfc8785.dumps(json.loads(text))


def test_verdicts_are_the_same_without_orjson(monkeypatch):
    signer = AgentSigner(Ed25519Signer(bytes([7]) * 32), str(uuid.UUID(int=7, version=4)),
                         str(uuid.UUID(int=1007, version=4)))
    ring = KeyRing()
    ring.add(signer.signer.public_key, "ring-Ed25519")
    docs = [signer.new_document({"jacsDocument": {"content": varied_payload(i)}}) for i in range(40)]
    docs.append(signer.new_document({"jacsDocument": {"content": _deep(300)}}))
    tampered = json.loads(pretty_json(docs[3]))
    tampered["jacsDocument"]["content"]["🚀"] = 1e-7
    datas = [pretty_json(d) for d in docs] + [pretty_json(tampered)]

    def verdicts():
        return [(v.status, [c.to_dict() for c in v.checks]) for v in (verify_bytes(d, ring, now=0) for d in datas)]

    with_orjson = verdicts()
    assert [s for s, _ in with_orjson] == ["valid"] * len(docs) + ["invalid"]
    monkeypatch.setattr(canonical, "_orjson", None)
    monkeypatch.setattr(canonical, "_Fragment", None)
    assert loads_strict(json.dumps({"a": 1e-7})).marks == ("1e-7",)  # the marker path
    assert verdicts() == with_orjson
