"""The jacs library's trust store (SPEC 1.5), read and written in the library's own format.

Folder: ``$JACS_TRUST_STORE_DIR``, else ``trusted_agents/`` in the user data folder of ``jacs``
(``~/.local/share/jacs/trusted_agents/`` on Linux).  Per trusted agent version:

* ``{agentId}:{agentVersion}.json``: the agent document;
* ``{agentId}:{agentVersion}.meta.json``: ``agent_id`` (id:version), ``name``, ``public_key_pem``
  (the library's pseudo-PEM of the raw key), ``public_key_hash``, ``trusted_at``, ``verified``;
* ``keys/{hash}.pem`` (raw key bytes) and ``keys/{hash}.algo`` (algorithm, no newline);
* ``identity_state/{agentId}.pin``: the pinned publicKeyHash, and a lock file
  ``identity_state/.{agentId}.lock``;
* after ``untrust_agent``: ``identity_state/{agentId}.distrusted.json`` (``identity``,
  ``denied_public_key_hashes``, ``distrusted_at``); the other files stay.  The library then
  fails everything the agent signs ("locally distrusted") and refuses to trust it again.

What jacs 0.15 does with it (tested): ``verify`` fails a document whose agent is pinned to
another key ("Document public key conflicts with the enrolled identity key"): that is what
happens to everything a trusted agent signs after it rotates its key.  The library cannot
trust the rotated version itself (its self-signature names the old version, which
``trust_agent_with_key`` rejects), so *re-pin* keeps the trusted version's record and moves
its key and pin to the new key, after checking that the agent's rotation chain in the store
links the pinned key to the new one (every rotation proof signed by the key before it).  The
library's ``verify`` then accepts the agent's new documents; its ``list_trusted_agents`` no
longer lists the agent (it compares the record's key with the agent document's), which
:meth:`TrustStore.entries` says as ``repinned``.

A trust line (:func:`trust_line`) never changes a verdict's status: it is said beside it.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.agents import AgentDirectory
from ..core.checks import OK, VALID
from ..core.errors import JacsError
from ..core.identity import write_file_atomic
from ..core.jsontypes import JSONObject
from ..core.pubkey import pseudo_pem, public_key_hash
from ..core.sign import rfc3339_now
from ..core.verify import KeyRing, Verdict, verify_document

if TYPE_CHECKING:
    from ..storage.store import Store

__all__ = ["TrustStore", "TrustedAgent", "TrustLine", "TrustError", "default_trust_dir", "trust_line",
           "apply_trust", "TRUSTED", "NOT_TRUSTED", "PIN_CONFLICT", "DISTRUSTED", "CONFLICT_TEXT", "RepinPlan",
           "RepinStep", "plan_repin"]

TRUSTED, NOT_TRUSTED, PIN_CONFLICT, DISTRUSTED = "trusted", "not in trust store", "pin conflict", "distrusted"
#: the library's words for a pin conflict
CONFLICT_TEXT = "Document public key conflicts with the enrolled identity key"
MAX_TRUST_FILE_BYTES = 1 << 20


class TrustError(JacsError):
    """A trust store change refused, or a trust store file that cannot be read."""


def default_trust_dir() -> Path:
    """``$JACS_TRUST_STORE_DIR``, else the library's default (SPEC 1.5)."""
    env = os.environ.get("JACS_TRUST_STORE_DIR")
    if env:
        return Path(env).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "jacs" / "trusted_agents"
    import platformdirs

    return Path(platformdirs.user_data_dir("jacs", appauthor=False)) / "trusted_agents"


@dataclass
class TrustedAgent:
    agent_id: str
    version: str
    name: str | None
    key_hash: str
    algorithm: str | None
    trusted_at: str
    verified: bool
    #: the identity's pinned key (None: no pin file)
    pin: str | None = None
    distrusted: bool = False
    #: the record's key is not the key its agent document is signed with: re-pinned after a rotation
    repinned: bool = False
    problem: str | None = None

    @property
    def state(self) -> str:
        if self.problem:
            return "unreadable"
        if self.distrusted:
            return DISTRUSTED
        if self.repinned:
            return "repinned"
        return TRUSTED

    def to_dict(self) -> JSONObject:
        return {"agent": self.agent_id, "version": self.version, "name": self.name, "key": self.key_hash,
                "algorithm": self.algorithm, "since": self.trusted_at, "state": self.state, "pin": self.pin,
                "problem": self.problem}


@dataclass
class TrustLine:
    state: str  # TRUSTED, NOT_TRUSTED, PIN_CONFLICT or DISTRUSTED
    reason: str
    #: for a pin conflict the store can mend: the key to re-pin to
    repin_to: str | None = None


def _read_json(path: Path) -> Any:
    with open(path, "rb") as f:
        data = f.read(MAX_TRUST_FILE_BYTES + 1)
    if len(data) > MAX_TRUST_FILE_BYTES:
        raise ValueError("file is too large")
    return json.loads(data)


def _id_part(text: str, what: str) -> str:
    if not text or any(ch in text for ch in "/\\:") or text in (".", "..") or any(ord(ch) < 32 for ch in text):
        raise TrustError(f"{what} {text!r} cannot be a trust store name")
    return text


@dataclass
class TrustStore:
    root: Path = field(default_factory=default_trust_dir)

    # -- reading ---------------------------------------------------------------------------
    def pin(self, agent_id: str) -> str | None:
        p = self.root / "identity_state" / f"{agent_id}.pin"
        try:
            return p.read_text("ascii").strip() or None
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise TrustError(f"the trust store's pin for {agent_id} cannot be read: {exc}") from None

    def distrusted(self, agent_id: str) -> list[str] | None:
        """The denied key hashes when the identity was untrusted (None: it was not)."""
        p = self.root / "identity_state" / f"{agent_id}.distrusted.json"
        if not p.exists():
            return None
        try:
            d = _read_json(p)
        except (OSError, ValueError) as exc:
            raise TrustError(f"{p.name} cannot be read: {exc}") from None
        denied = d.get("denied_public_key_hashes") if isinstance(d, dict) else None
        return [h for h in denied if isinstance(h, str)] if isinstance(denied, list) else []

    def entries(self) -> list[TrustedAgent]:
        """Every agent version in the trust store, distrusted ones included (``state`` says which)."""
        out: list[TrustedAgent] = []
        if not self.root.is_dir():
            return out
        for meta_path in sorted(self.root.glob("*.meta.json")):
            stem = meta_path.name[: -len(".meta.json")]
            aid, _, ver = stem.partition(":")
            entry = TrustedAgent(aid, ver, None, "", None, "", False)
            try:
                meta = _read_json(meta_path)
                if not isinstance(meta, dict):
                    raise ValueError("not a JSON object")
                entry.name = meta.get("name") if isinstance(meta.get("name"), str) else None
                key_hash, since = meta.get("public_key_hash"), meta.get("trusted_at")
                entry.key_hash = key_hash if isinstance(key_hash, str) else ""
                entry.trusted_at = since if isinstance(since, str) else ""
                entry.verified = meta.get("verified") is True
                algo = self.root / "keys" / f"{entry.key_hash}.algo"
                entry.algorithm = algo.read_text("ascii").strip() if entry.key_hash and algo.is_file() else None
                entry.pin = self.pin(aid)
                entry.distrusted = self.distrusted(aid) is not None
                doc_path = self.root / f"{stem}.json"
                if doc_path.is_file():
                    doc = _read_json(doc_path)
                    sig = doc.get("jacsSignature") if isinstance(doc, dict) else None
                    signed_with = sig.get("publicKeyHash") if isinstance(sig, dict) else None
                    entry.repinned = isinstance(signed_with, str) and signed_with != entry.key_hash
            except (OSError, ValueError, UnicodeDecodeError, TrustError) as exc:
                entry.problem = f"{meta_path.name} cannot be read: {exc}"
            out.append(entry)
        return out

    def trusted(self) -> list[TrustedAgent]:
        """The agent versions the library treats as trusted (not distrusted, readable, pinned to their key)."""
        return [e for e in self.entries() if e.state in (TRUSTED, "repinned") and (e.pin in (None, e.key_hash))]

    def for_agent(self, agent_id: str) -> list[TrustedAgent]:
        return [e for e in self.entries() if e.agent_id == agent_id]

    # -- writing ---------------------------------------------------------------------------
    def _write(self, rel: str, data: bytes, mode: int = 0o644) -> None:
        write_file_atomic(self.root / rel, data, mode)

    def _prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.root / "identity_state").mkdir(exist_ok=True, mode=0o700)
        (self.root / "keys").mkdir(exist_ok=True, mode=0o755)

    def add(self, agent_doc: JSONObject, public_key: bytes, algorithm: str, *,
            raw: bytes | None = None) -> TrustedAgent:
        """Trust an agent version with its public key (the library's ``trust_agent_with_key``).

        The agent document must be self-signed with that key and name its own version in the
        signature (the library's rule); an agent already pinned to another key is refused
        (re-pin it along its rotation chain instead), an untrusted one too (as the library does).
        """
        aid, ver = agent_doc.get("jacsId"), agent_doc.get("jacsVersion")
        if not isinstance(aid, str) or not isinstance(ver, str) or agent_doc.get("jacsType") != "agent":
            raise TrustError("this is not an agent document (jacsType agent with jacsId and jacsVersion)")
        _id_part(aid, "agent id")
        _id_part(ver, "agent version")
        key_hash = public_key_hash(public_key)
        ring = KeyRing()
        ring.add(public_key, algorithm, "trusted key")
        verdict = verify_document(agent_doc, ring)
        sig = agent_doc.get("jacsSignature")
        if verdict.status != VALID:
            raise TrustError(f"the agent document does not verify with that key: {verdict.reason}")
        if not isinstance(sig, dict) or sig.get("agentID") != aid or sig.get("publicKeyHash") != key_hash:
            raise TrustError("the agent document is not self-signed with that key")
        if sig.get("agentVersion") != ver:
            raise TrustError(f"agent version {ver} is signed as version {sig.get('agentVersion')} (a version made by "
                             "a key rotation); jacs refuses to trust it. Trust the agent's first version and "
                             "re-pin along its rotation chain instead")
        if self.distrusted(aid) is not None:
            raise TrustError(f"agent {aid} was untrusted; jacs keeps that decision and will not trust it again "
                             f"(identity_state/{aid}.distrusted.json in the trust store)")
        pinned = self.pin(aid)
        if pinned is not None and pinned != key_hash:
            raise TrustError(f"agent {aid} is pinned to key {pinned[:16]}…, not {key_hash[:16]}…; jacs calls that "
                             f"\"{CONFLICT_TEXT}\". Re-pin along the agent's verified rotation chain instead")
        name = agent_doc.get("name") if isinstance(agent_doc.get("name"), str) else None
        now = rfc3339_now()
        self._prepare()
        stem = f"{aid}:{ver}"
        body = raw if raw is not None else json.dumps(agent_doc, indent=2, sort_keys=True, ensure_ascii=False).encode()
        self._write(f"keys/{key_hash}.pem", public_key)
        self._write(f"keys/{key_hash}.algo", algorithm.encode("ascii"))
        self._write(f"{stem}.json", body)
        meta = {"agent_id": stem, "name": name, "public_key_pem": pseudo_pem(public_key),
                "public_key_hash": key_hash, "trusted_at": now, "verified": True}
        self._write(f"{stem}.meta.json", json.dumps(meta, indent=2).encode())
        lock = self.root / "identity_state" / f".{aid}.lock"
        if not lock.exists():
            lock.touch(mode=0o600)
        self._write(f"identity_state/{aid}.pin", key_hash.encode("ascii"), 0o600)
        return TrustedAgent(aid, ver, name, key_hash, algorithm, now, True, key_hash)

    def remove(self, agent_id: str) -> list[str]:
        """Untrust an agent (the library's ``untrust_agent``): its keys are denied from now on.

        *agent_id* may carry ``:version``; the whole identity is untrusted (as in the library).
        Returns the denied key hashes."""
        aid = _id_part(agent_id.split(":", 1)[0], "agent id")
        entries = [e for e in self.entries() if e.agent_id == aid]
        if not entries:
            raise TrustError(f"agent {aid} is not in the trust store {self.root}")
        pinned = self.pin(aid)
        denied = sorted({h for h in [pinned, *(e.key_hash for e in entries)] if h})
        if pinned:
            denied = [pinned, *[h for h in denied if h != pinned]]
        self._prepare()
        note = {"identity": aid, "denied_public_key_hashes": denied[:1] if pinned else denied,
                "distrusted_at": rfc3339_now()}
        self._write(f"identity_state/{aid}.distrusted.json", json.dumps(note, indent=2).encode(), 0o600)
        return list(note["denied_public_key_hashes"])

    def repin_path(self, agent_id: str, directory: AgentDirectory, new_key: str) -> list[str]:
        """The agent versions that carry the pin from the pinned key to *new_key*, each one's
        rotation proof signed by the key before it; raises TrustError when there is none."""
        pinned = self.pin(agent_id)
        if pinned is None:
            raise TrustError(f"agent {agent_id} is not pinned in the trust store")
        record = directory.agent(agent_id)
        if record is None:
            raise TrustError(f"the store holds no agent documents of {agent_id}")
        if record.contested:
            raise TrustError(f"agent {agent_id} has first versions signed with different keys: who is who cannot "
                             "be told, so the pin is not moved")
        by_key: dict[str, list[Any]] = {}
        for v in record.versions:
            if v.anchored and v.key_hash:
                by_key.setdefault(v.key_hash, []).append(v)
        # walk forward from the pinned key along rotations that hold (status ok)
        path: list[str] = []
        key = pinned
        seen = {key}
        while key != new_key:
            nxt = [v for v in record.versions if v.anchored and v.rotation is not None and v.rotation.status == OK
                   and v.rotation.old_hash == key]
            if not nxt:
                raise TrustError(f"no verified rotation in the store links the pinned key {pinned[:16]}… to "
                                 f"{new_key[:16]}…: the pin is not moved")
            v = sorted(nxt, key=lambda v: (v.date, v.version))[0]
            path.append(v.version)
            key = v.key_hash or ""
            if key in seen:
                raise TrustError("the rotation chain loops")
            seen.add(key)
        return path

    def repin(self, agent_id: str, directory: AgentDirectory, new_key: str, public_key: bytes,
              algorithm: str) -> list[str]:
        """Move the pin of a trusted agent to *new_key* along its verified rotation chain."""
        if public_key_hash(public_key) != new_key:
            raise TrustError("the public key given does not hash to the key to pin")
        if self.distrusted(agent_id) is not None:
            raise TrustError(f"agent {agent_id} was untrusted; jacs keeps that decision")
        path = self.repin_path(agent_id, directory, new_key)
        pinned = self.pin(agent_id)
        records = [e for e in self.entries() if e.agent_id == agent_id and e.key_hash == pinned and not e.problem]
        if not records:
            raise TrustError(f"the trust store has no record of agent {agent_id} with its pinned key")
        rec = records[-1]
        meta_rel = f"{agent_id}:{rec.version}.meta.json"
        meta = _read_json(self.root / meta_rel)
        meta["public_key_pem"] = pseudo_pem(public_key)
        meta["public_key_hash"] = new_key
        self._write(f"keys/{new_key}.pem", public_key)
        self._write(f"keys/{new_key}.algo", algorithm.encode("ascii"))
        self._write(meta_rel, json.dumps(meta, indent=2).encode())
        self._write(f"identity_state/{agent_id}.pin", new_key.encode("ascii"), 0o600)
        return path


def trust_line(store: TrustStore, signer: str | None, key_hash: str | None,
               directory: AgentDirectory | None = None) -> TrustLine:
    """What the trust store says about a signature by *signer* with *key_hash*."""
    if not signer:
        return TrustLine(NOT_TRUSTED, "the signature names no agent")
    aid = signer.split(":", 1)[0]
    try:
        denied = store.distrusted(aid)
        pinned = store.pin(aid)
    except TrustError as exc:
        return TrustLine(NOT_TRUSTED, f"the trust store could not be read: {exc}")
    if denied is not None:
        return TrustLine(DISTRUSTED, f"agent {aid} was untrusted in the trust store; jacs fails what it signs "
                                     "(\"locally distrusted\")")
    if pinned is None:
        return TrustLine(NOT_TRUSTED, f"agent {aid} is not in the trust store {store.root}")
    if key_hash == pinned:
        names = [e for e in store.for_agent(aid) if e.key_hash == pinned]
        since = f" since {names[-1].trusted_at}" if names and names[-1].trusted_at else ""
        return TrustLine(TRUSTED, f"agent {aid} is trusted with this key{since}")
    reason = (f"agent {aid} is trusted with key {pinned[:16]}…, but this is signed with {str(key_hash)[:16]}…; "
              f"jacs fails it: \"{CONFLICT_TEXT}\". That is what happens after a trusted agent rotates its key")
    if directory is not None and key_hash:
        try:
            path = store.repin_path(aid, directory, key_hash)
        except TrustError as exc:
            return TrustLine(PIN_CONFLICT, f"{reason}. It cannot be re-pinned: {exc}")
        return TrustLine(PIN_CONFLICT, f"{reason}. The store shows the rotation (agent version(s) "
                                       f"{', '.join(path)}, each proof signed by the key before it): it can be "
                                       "re-pinned to the new key", repin_to=key_hash)
    return TrustLine(PIN_CONFLICT, reason)


def apply_trust(verdict: Verdict, store: TrustStore, directory: AgentDirectory | None = None) -> TrustLine:
    """Add the trust line to *verdict* (``verdict.trust`` / ``trust_reason``); its status never changes."""
    line = trust_line(store, verdict.signer, verdict.public_key_hash, directory)
    verdict.trust, verdict.trust_reason = line.state, line.reason
    return line


@dataclass
class RepinStep:
    """One agent version on the rotation chain: the key it moved to, proven by the key before it."""
    version: str
    date: str
    algorithm: str | None
    key_hash: str


@dataclass
class RepinPlan:
    """What a re-pin would do, checked: move *agent_id*'s pin from *old_key* to *new_key* along *chain*."""
    agent_id: str
    name: str | None
    old_key: str
    new_key: str
    chain: list[RepinStep]
    public_key: bytes = field(repr=False)
    algorithm: str = ""

    def apply(self, trust: TrustStore, store: Store) -> list[str]:
        """Re-pin (the chain is checked again as it is written)."""
        directory = store.agent_directory()
        if directory is None:
            raise TrustError("the store's agent documents cannot be listed")
        return trust.repin(self.agent_id, directory, self.new_key, self.public_key, self.algorithm)


def plan_repin(trust: TrustStore, store: Store, agent_id: str, new_key: str) -> RepinPlan:
    """Check that *agent_id*'s pin can move to *new_key* along a verified rotation chain in *store*
    (the same rules as :meth:`TrustStore.repin`); raises TrustError with the reason when not."""
    aid = _id_part(agent_id.split(":", 1)[0], "agent id")
    if trust.distrusted(aid) is not None:
        raise TrustError(f"agent {aid} was untrusted; jacs keeps that decision")
    pinned = trust.pin(aid)
    if pinned is None:
        raise TrustError(f"agent {aid} is not in the trust store {trust.root}")
    if pinned == new_key:
        raise TrustError(f"agent {aid} is already pinned to key {new_key[:16]}…")
    directory = store.agent_directory()
    if directory is None:
        raise TrustError("the store's agent documents cannot be listed")
    path = trust.repin_path(aid, directory, new_key)
    record = directory.agent(aid)
    by_version = {v.version: v for v in record.versions} if record is not None else {}
    chain = []
    for ver in path:
        v = by_version[ver]
        sig = v.doc.get("jacsSignature")
        alg = sig.get("signingAlgorithm") if isinstance(sig, dict) else None
        chain.append(RepinStep(ver, v.date, alg if isinstance(alg, str) else None, v.key_hash or ""))
    pk = store.keys().resolve(new_key)
    if pk is None:
        raise TrustError(f"the new public key {new_key[:16]}… is not in the store")
    algorithm = pk.algorithm or (chain[-1].algorithm if chain else None)
    if not algorithm:
        raise TrustError("the new key's algorithm is not known")
    if not any(e.key_hash == pinned and not e.problem for e in trust.for_agent(aid)):
        raise TrustError(f"the trust store has no record of agent {aid} with its pinned key")
    return RepinPlan(aid, record.name if record is not None else None, pinned, new_key, chain, pk.key, algorithm)
