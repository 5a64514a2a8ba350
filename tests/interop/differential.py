"""Differential testing of our verifier against the real jacs 0.15.0 library.

A *world* is a store written by the library (Ed25519 and pq2025 agents,
messages and their versions, embedded and external attachments, v1
agreements, agent documents and configs).  From its documents, seeded
mutations make *cases*: the exact text of a variant document.  Every case is
verified by the library (``JacsClient.verify`` on the text, as a user of the
library would) and by us (``verify_bytes`` on the same bytes), and the two
verdicts are compared:

* ``critical``: we say valid, the library says invalid.  Must never happen.
* ``stricter``: we say not valid, the library says valid.  Allowed only with
  a reason from :data:`STRICTER_REASONS` (each is a documented difference).

Mutations: edit, add, remove and retype every member at every depth,
duplicate members (text level) and array items, reorder and re-space the
text, re-encode numbers (``5`` -> ``5.0``, ``5e0``) and strings (``\\u``
escapes, NFC/NFD), base64 spellings, BOM, trailing data, swap
signatures/keys/algorithms/attachments between documents.  Each value-level
mutation comes three ways: as is, with ``jacsSha256`` recomputed, and
re-signed by the document's own agent (then re-hashed), so signature checks
do not hide schema and structure checks.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import random
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._library import create_jacs_agent, cwd, env

PASSWORD = "Differential!Test#2026"

#: every check that may fail where the library says valid, with why: (check name, reason pattern, why)
STRICTER_REASONS: list[tuple[str, str, str]] = [
    (r"schema", r"the document names this schema",
     "the document names a shipped schema other than the header (agent, config, agreement) and breaks it; "
     "jacs's verify() checks only the header schema"),
    (r"agreement", r"",
     "agreement signatures and terms: the library's verify() does not check them (check_agreement and "
     "verify_agreement_v2 do); a forged or broken party signature must not pass as a valid document"),
    (r"structure", r"(jacsId|jacsVersion) is missing or not a string",
     "an empty jacsId/jacsVersion: such a document cannot be stored or versioned (the file name is "
     "{jacsId}:{jacsVersion}.json); the library's verify() accepts an empty string"),
    (r"key rotation", r"",
     "rotation proofs: the library's verify() accepts a changed key with a forged or missing "
     "jacsKeyRotationProof (SPEC 2.4); we check the proof with the old key"),
    (r"attachment", r"external",
     "external attachment checks: the library's verify() reads the file from its own data directory"),
]


def unexplained_checks(verdict) -> list[str]:
    """The failing checks of a not-valid verdict that no :data:`STRICTER_REASONS` entry explains."""
    bad = []
    for c in verdict.checks:
        if c.status in ("ok", "warning", "skipped"):
            continue
        if not any(re.search(n, c.name, re.I) and re.search(r, c.reason, re.I) for n, r, _ in STRICTER_REASONS):
            bad.append(f"{c.name}: {c.reason}")
    return bad


# ---------------------------------------------------------------------------
# the world


@dataclass
class World:
    root: Path
    client: Any                      # a JacsClient: the oracle
    bases: dict[str, str]            # name -> exact text the library wrote
    signers: dict[str, Any]          # agent id -> our AgentSigner for that agent
    store: Any = None                # our Store on the same folder

    def oracle(self, text: str) -> tuple[bool, str]:
        with cwd(self.root):
            try:
                r = self.client.verify(text)
            except Exception as exc:  # the library raising is its "invalid"
                return False, f"raised: {exc}"[:300]
        return bool(r.valid), (r.errors[0] if r.errors else "")[:300]

    def ours(self, text: str) -> Any:
        """Our verdict the way every job and the window get it: through the Store (keys, attachments,
        the agent directory with rotation proofs)."""
        return self.store.verify_data(text.encode("utf-8", errors="surrogatepass"))


def build_world(root: Path, *, big_external: bool = True) -> World:
    from jacs import SimpleAgent
    from jacs.client import JacsClient

    from jacs_desktop.core.identity import Identity
    from jacs_desktop.storage.urls import open_store

    root.mkdir(parents=True, exist_ok=True)
    bases: dict[str, str] = {}
    with env(JACS_PRIVATE_KEY_PASSWORD=PASSWORD), cwd(root):
        clients = {}
        for name, alg in (("ed", "ed25519"), ("pq", "pq2025")):
            clients[name] = JacsClient(str(create_jacs_agent(root, name, alg, PASSWORD, "differential")))
        ed, pq = clients["ed"], clients["pq"]
        rng = random.Random(20261201)
        (root / "files").mkdir()
        (root / "jacs_data" / "files").mkdir()
        files = {
            "note.txt": b"hello differential\n",
            "table.csv": b"a,b\n1,2\n3,4\n",
            "blob.bin": bytes(rng.getrandbits(8) for _ in range(3000)),
        }
        if big_external:
            words = ["alpha", "beta", "gamma", "naïve", "✓", "42", "\n"]
            files["big.txt"] = " ".join(rng.choice(words) for _ in range(30_000)).encode()
        for n, data in files.items():
            (root / "files" / n).write_bytes(data)
            (root / "jacs_data" / "files" / n).write_bytes(data)

        contents = [
            {"amount": 100.25, "currency": "EUR", "memo": "naïve café ✓", "n": [1, 2.0, None, True]},
            {"tiny": 1e-7, "big": 9007199254740991, "neg": -0.5, "e": 1.5e-300, "s": "\u2028\u0000\"\\/"},
            {"nested": {"a": {"b": {"c": [1, {"d": "😀"}]}}}, "empty": {}, "list": []},
            {"k\ue000": 1, "k😀": 2, "": "empty key", "int_float": 3.0},
            "a plain string message",
            [1, "two", 3.5],
        ]
        for i, c in enumerate(contents):
            for who, client in (("ed", ed), ("pq", pq)):
                if who == "pq" and i % 2:
                    continue
                m = client.sign_message(c)
                bases[f"{who} message {i}"] = m.raw_json
        d = json.loads(bases["ed message 0"])
        u1 = ed.update_document(f"{d['jacsId']}:{d['jacsVersion']}",
                                dict(d, jacsLevel="artifact", jacsDocument={"type": "message", "content": {"v": 2}}))
        bases["ed update 1"] = u1.raw_json
        d1 = json.loads(u1.raw_json)
        u2 = ed.update_document(f"{d1['jacsId']}:{d1['jacsVersion']}",
                                dict(d1, jacsDocument={"type": "message", "content": {"v": 3}}))
        bases["ed update 2"] = u2.raw_json
        p = json.loads(bases["pq message 0"])
        bases["pq update 1"] = pq.update_document(f"{p['jacsId']}:{p['jacsVersion']}", dict(p, jacsLevel="artifact")).raw_json
        bases["ed embedded"] = ed.sign_file("files/note.txt", embed=True).raw_json
        bases["pq embedded"] = pq.sign_file("files/table.csv", embed=True).raw_json
        bases["ed external small"] = ed.sign_file("files/table.csv", embed=False).raw_json
        bases["pq external blob"] = pq.sign_file("files/blob.bin", embed=False).raw_json
        if big_external:
            bases["ed external big"] = ed.sign_file("files/big.txt", embed=False).raw_json
        base = ed.sign_message({"proposal": "ship it"})
        agreement = ed.create_agreement(base, [ed.agent_id, pq.agent_id], question="Ship?", context="differential")
        bases["agreement v1 created"] = agreement.raw_json
        a1 = ed.sign_agreement(agreement)
        bases["agreement v1 one signed"] = a1.raw_json
        bases["agreement v1 both signed"] = pq.sign_agreement(a1).raw_json
        # agreements v2: parties with roles, a policy, controllers; each signature a new version
        simple = {n: SimpleAgent.load(str(root / f"{n}.config.json")) for n in ("ed", "pq")}
        parties = [{"agentId": ed.agent_id, "agentType": "ai", "role": "signer"},
                   {"agentId": pq.agent_id, "agentType": "ai", "role": "signer"}]
        v2 = simple["ed"].create_agreement_v2(json.dumps({
            "title": "Supply agreement", "description": "differential", "terms": "Deliver 10 units by Friday.",
            "status": "proposed", "parties": parties, "controllers": [ed.agent_id, pq.agent_id],
            "signaturePolicy": {"partyQuorum": 2, "witnessRequired": 0, "notaryRequired": 0}}))
        bases["agreement v2 proposed"] = v2
        v2 = simple["ed"].sign_agreement_v2(v2, "signer")
        bases["agreement v2 partially signed"] = v2
        bases["agreement v2 final"] = simple["pq"].sign_agreement_v2(v2, "signer")
        # a rotated agent: documents before and after, the agent versions with their rotation proofs
        rot = JacsClient(str(create_jacs_agent(root, "rot", "ed25519", PASSWORD, "differential rotation")))
        bases["rotated before"] = rot.sign_message({"n": 1}).raw_json
        rot.rotate_keys()
        bases["rotated after first"] = rot.sign_message({"n": 2}).raw_json
        rot.rotate_keys("pq2025")
        bases["rotated after second"] = rot.sign_message({"n": 3}).raw_json
    for f in sorted((root / "jacs_data" / "agent").glob("*.json")):
        bases[f"agent {f.stem[:8]}…{f.stem[-4:]}"] = f.read_text()
    for name in ("ed", "pq", "rot"):
        bases[f"config {name}"] = (root / f"{name}.config.json").read_text()
    signers = {}
    for name in ("ed", "pq"):
        ident = Identity.load(root / f"{name}.config.json")
        signers[ident.agent_id] = ident.unlock(PASSWORD)
    world = World(root, ed, bases, signers)
    world.store = open_store(str(root))
    return world


# ---------------------------------------------------------------------------
# re-hashing and re-signing


def rehash(doc: dict) -> dict:
    from jacs_desktop.core.canonical import CanonicalizationError, canonicalize

    body = {k: v for k, v in doc.items() if k != "jacsSha256"}
    with contextlib.suppress(CanonicalizationError, RecursionError, TypeError, ValueError):
        doc["jacsSha256"] = hashlib.sha256(canonicalize(body)).hexdigest()
    return doc


def resign_payload(doc: dict, signer: Any, placement: str = "jacsSignature") -> dict | None:
    """Sign the (possibly mutated) signature object's own payload again; None when it cannot be built."""
    from jacs_desktop.core.canonical import CanonicalizationError
    from jacs_desktop.core.verify import signature_payload

    sig = doc.get(placement)
    if not isinstance(sig, dict) or not isinstance(sig.get("fields"), list):
        return None
    try:
        payload = signature_payload(doc, sig, placement)
    except (CanonicalizationError, KeyError, TypeError, ValueError, RecursionError):
        return None
    sig["signature"] = base64.b64encode(signer.signer.sign(payload)).decode("ascii")
    return rehash(doc)


def resign_fresh(doc: dict, signer: Any) -> dict | None:
    """A fresh jacsSignature over every field (as the library signs), then the hash."""
    from jacs_desktop.core.canonical import CanonicalizationError

    body = {k: v for k, v in doc.items() if k not in ("jacsSignature", "jacsSha256")}
    try:
        body["jacsSignature"] = signer.signature(body)
    except (CanonicalizationError, KeyError, TypeError, ValueError, RecursionError):
        return None
    return rehash(body)


# ---------------------------------------------------------------------------
# mutations


@dataclass
class Case:
    base: str
    mutation: str
    text: str


def _paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _get(doc: Any, path: tuple) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def _set(doc: Any, path: tuple, value: Any) -> None:
    _get(doc, path[:-1])[path[-1]] = value


def _del(doc: Any, path: tuple) -> None:
    del _get(doc, path[:-1])[path[-1]]


_RETYPES: list[Callable[[Any], Any]] = [
    lambda v: str(v), lambda v: 0, lambda v: -1, lambda v: 1.5, lambda v: None, lambda v: True,
    lambda v: [v], lambda v: {"v": v}, lambda v: "", lambda v: [],
]


def _edit(v: Any, rng: random.Random) -> Any:
    if isinstance(v, bool):
        return not v
    if isinstance(v, int):
        return rng.choice([v + 1, -v, 0, 2**31, v * 1000])
    if isinstance(v, float):
        return rng.choice([v + 1.0, -v, v / 3])
    if isinstance(v, str):
        choices = [v + "x", v[:-1], v.upper(), "bogus-level", "", v.replace("-", ""), "2026-13-45T99:99:99Z",
                   "ffffffff-ffff-4fff-bfff-ffffffffffff", v[::-1]]
        return rng.choice(choices)
    if isinstance(v, list):
        return v[1:] if v else ["added"]
    if isinstance(v, dict):
        return {k: x for i, (k, x) in enumerate(v.items()) if i != 0}
    return "edited"


def value_mutations(doc: dict, rng: random.Random, limit: int) -> Iterator[tuple[str, dict]]:
    paths = [p for p in _paths(doc) if p]
    rng.shuffle(paths)
    for path in paths[:limit]:
        shown = "/".join(str(p) for p in path)
        old = _get(doc, path)
        op = rng.choice(["edit", "edit", "retype", "remove", "add", "dup-item", "nfd"])
        d = copy.deepcopy(doc)
        try:
            if op == "edit":
                _set(d, path, _edit(old, rng))
            elif op == "retype":
                _set(d, path, rng.choice(_RETYPES)(old))
            elif op == "remove":
                _del(d, path)
            elif op == "add":
                target = old if isinstance(old, (dict, list)) else _get(d, path[:-1])
                target = _get(d, path) if isinstance(old, (dict, list)) else target
                if isinstance(target, dict):
                    target[rng.choice(["extra", "jacsExtra", "signature", "agentID", "x" * 3])] = rng.choice(
                        [1, "v", None, {"a": 1}])
                else:
                    target.append(rng.choice([1, "v", None]))
            elif op == "dup-item":
                target = _get(d, path[:-1])
                if isinstance(target, list):
                    target.append(copy.deepcopy(old))
                else:
                    continue
            elif op == "nfd":
                if not isinstance(old, str) or unicodedata.normalize("NFD", old) == old:
                    continue
                _set(d, path, unicodedata.normalize("NFD", old))
        except (KeyError, IndexError, TypeError):
            continue
        yield f"{op} {shown}", d


def _dump(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False)


def text_mutations(text: str, doc: dict, rng: random.Random) -> Iterator[tuple[str, str]]:
    """Mutations of the text itself: what a parser sees, not a value."""
    yield "as written", text
    yield "pretty", json.dumps(doc, indent=2, ensure_ascii=False)
    yield "ascii escapes", json.dumps(doc, ensure_ascii=True)
    keys = list(doc)
    rng.shuffle(keys)
    yield "reordered", _dump({k: doc[k] for k in keys})
    yield "BOM", "\ufeff" + text
    yield "trailing data", text + " {}"
    yield "trailing whitespace", text + "\n\n"
    yield "slash escaped", text.replace("/", "\\/")
    for name in rng.sample(keys, min(3, len(keys))):
        fake = {"forged": True} if not isinstance(doc[name], str) else "forged"
        body = _dump(doc)[1:-1]
        yield f"duplicate {name} before", "{" + json.dumps(name) + ":" + _dump(fake) + "," + body + "}"
        yield f"duplicate {name} after", "{" + body + "," + json.dumps(name) + ":" + _dump(fake) + "}"
    sig = doc.get("jacsSignature")
    if isinstance(sig, dict):
        iat = sig.get("iat")
        if isinstance(iat, int):
            for spelling in (f"{iat}.0", f"{iat}e0", f"{iat / 1e9!r}e9", f"{iat}.000"):
                d = copy.deepcopy(doc)
                t = _dump(d).replace(f'"iat": {iat}', f'"iat": {spelling}', 1)
                yield f"iat written {spelling}", t
                dd = json.loads(t)
                rehash(dd)
                yield f"iat written {spelling}, rehashed", _dump(dd).replace(f'"iat": {iat}', f'"iat": {spelling}', 1)
        s = sig.get("signature")
        if isinstance(s, str) and s.endswith("="):
            raw = base64.b64decode(s)
            stem = s.rstrip("=")
            last = stem[-1]
            alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
            idx = alphabet.index(last)
            for bump in (1, 2, 3):
                alt = stem[:-1] + alphabet[(idx & ~3) | ((idx + bump) & 3)] + s[len(stem):]
                if alt != s and base64.b64decode(alt) == raw:
                    d = copy.deepcopy(doc)
                    d["jacsSignature"]["signature"] = alt
                    yield f"signature padding bits {bump}, rehashed", _dump(rehash(d))
            d = copy.deepcopy(doc)
            d["jacsSignature"]["signature"] = stem
            yield "signature without padding, rehashed", _dump(rehash(d))
            d = copy.deepcopy(doc)
            d["jacsSignature"]["signature"] = base64.urlsafe_b64encode(raw).decode()
            if d["jacsSignature"]["signature"] != s:
                yield "signature url-safe base64, rehashed", _dump(rehash(d))
            d = copy.deepcopy(doc)
            d["jacsSignature"]["signature"] = s[:20] + "\n" + s[20:]
            yield "signature with newline, rehashed", _dump(rehash(d))
    # numbers re-encoded
    ints = list(re.finditer(r'(?<=[:\[,] )(-?\d+)(?=[,}\]])', _dump(doc)))
    for m in rng.sample(ints, min(3, len(ints))):
        t = _dump(doc)
        for spelling in (m.group(1) + ".0", m.group(1) + "e0", m.group(1) + "E+0"):
            yield f"number {m.group(1)} as {spelling}", t[:m.start()] + spelling + t[m.end():]
    # strings: a \\u escape of one character (same value), NFD (other value)
    strs = [m for m in re.finditer(r'"([^"\\]{2,40})"', text)]
    for m in rng.sample(strs, min(3, len(strs))):
        ch = m.group(1)[0]
        esc = f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else ch
        yield f"string {m.group(1)[:12]!r} escaped", text[:m.start(1)] + esc + text[m.start(1) + 1:]
    nonascii = [m for m in re.finditer(r'"([^"\\]*[^\x00-\x7f][^"\\]*)"', text)]
    for m in nonascii[:2]:
        nfd = unicodedata.normalize("NFD", m.group(1))
        if nfd != m.group(1):
            yield f"string {m.group(1)[:12]!r} NFD", text[:m.start(1)] + nfd + text[m.end(1):]
            d = json.loads(text[:m.start(1)] + nfd + text[m.end(1):])
            yield f"string {m.group(1)[:12]!r} NFD, rehashed", _dump(rehash(d))


def swap_mutations(docs: dict[str, dict], rng: random.Random, limit: int) -> Iterator[tuple[str, str, dict]]:
    names = sorted(docs)
    for _ in range(limit):
        a, b = rng.sample(names, 2)
        da, db = copy.deepcopy(docs[a]), docs[b]
        sa, sb = da.get("jacsSignature"), db.get("jacsSignature")
        if not isinstance(sa, dict) or not isinstance(sb, dict):
            continue
        what = rng.choice(["jacsSignature", "signature", "publicKeyHash", "signingAlgorithm", "agentID",
                           "jacsFiles", "jacsAgreement", "fields"])
        if what == "jacsSignature":
            da["jacsSignature"] = copy.deepcopy(sb)
        elif what in ("jacsFiles", "jacsAgreement"):
            if what not in db:
                continue
            da[what] = copy.deepcopy(db[what])
        else:
            if what not in sb:
                continue
            sa[what] = copy.deepcopy(sb[what])
        yield a, f"swap {what} from {b}", da


def generate_cases(world: World, seed: int, per_base: int) -> Iterator[tuple[Case, Callable[[], dict | None] | None]]:
    """Cases from every base document (plus, for value mutations, the re-signed twin)."""
    rng = random.Random(seed)
    docs = {name: json.loads(text) for name, text in world.bases.items()}
    for name, text in world.bases.items():
        doc = docs[name]
        for m, t in text_mutations(text, doc, rng):
            yield Case(name, m, t), None
        sig = doc.get("jacsSignature") if isinstance(doc, dict) else None
        signer = world.signers.get(sig.get("agentID")) if isinstance(sig, dict) else None
        for m, d in value_mutations(doc, rng, per_base):
            yield Case(name, m, _dump(d)), None
            yield Case(name, m + ", rehashed", _dump(rehash(copy.deepcopy(d)))), None
            if signer is not None and (signer.algorithm != "pq2025" or rng.random() < 0.08):
                if m.split(" ", 1)[1].startswith("jacsSignature"):
                    resigned = resign_payload(copy.deepcopy(d), signer)
                else:
                    resigned = resign_fresh(copy.deepcopy(d), signer)
                if resigned is not None:
                    yield Case(name, m + ", re-signed", _dump(resigned)), None
    for a, m, d in swap_mutations(docs, rng, max(20, per_base)):
        yield Case(a, m, _dump(d)), None
        yield Case(a, m + ", rehashed", _dump(rehash(copy.deepcopy(d)))), None
        sig = d.get("jacsSignature")
        signer = world.signers.get(sig.get("agentID")) if isinstance(sig, dict) else None
        if signer is not None and signer.algorithm != "pq2025":
            r = resign_payload(copy.deepcopy(d), signer)
            if r is not None:
                yield Case(a, m + ", re-signed", _dump(r)), None


@dataclass
class Outcome:
    cases: int = 0
    agree: int = 0
    critical: list[dict] = field(default_factory=list)
    stricter: list[dict] = field(default_factory=list)
    unexplained: list[dict] = field(default_factory=list)
    library_valid: int = 0

    def summary(self) -> str:
        return (f"{self.cases} cases: {self.agree} agree, {self.library_valid} valid in jacs, "
                f"{len(self.critical)} critical (we say valid, jacs invalid), {len(self.stricter)} stricter "
                f"({len(self.unexplained)} without a documented reason)")


def run(world: World, seed: int, per_base: int, max_cases: int | None = None) -> Outcome:
    out = Outcome()
    seen: set[str] = set()
    for case, _ in generate_cases(world, seed, per_base):
        if case.text in seen:
            continue
        seen.add(case.text)
        if max_cases is not None and out.cases >= max_cases:
            break
        out.cases += 1
        lib_ok, lib_why = world.oracle(case.text)
        ours = world.ours(case.text)
        out.library_valid += lib_ok
        we_ok = ours.status == "valid"
        row = {"base": case.base, "mutation": case.mutation, "ours": ours.status, "our_reason": ours.reason,
               "jacs": lib_ok, "jacs_reason": lib_why}
        if we_ok == lib_ok:
            out.agree += 1
        elif we_ok:
            out.critical.append(row)
        else:
            out.stricter.append(row)
            bad = unexplained_checks(ours)
            if bad:
                row["unexplained"] = bad
                out.unexplained.append(row)
    return out
