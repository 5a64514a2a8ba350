"""Who a signer really is: agent versions, key rotation proofs (SPEC 2.4, 12.5).

Anyone who can write into a store can put a public key under ``public_keys/``
and sign documents with it that *claim* a known ``agentID``; the signature is
then mathematically valid, but says nothing about who signed.  An
:class:`AgentDirectory` is built from the agent documents of a store and knows
which keys really belong to which agent:

* an agent version counts when it is self-signed (``jacsSignature.agentID`` is
  its own ``jacsId``) and verifies;
* the chain of an agent starts at its first version in the store (one without
  a ``jacsPreviousVersion``, or whose previous version is not in the store:
  trust on first sight, nothing better is available offline);
* a later version belongs to the chain when it keeps its parent's key, or when
  its ``jacsKeyRotationProof`` holds: ``transitionMessage`` =
  ``JACS_KEY_ROTATION:{agentId}:{oldHash}:{newHash}:{timestamp}``, signed raw
  (base64) by the *old* key, ``oldPublicKeyHash`` = the parent's key,
  ``newPublicKeyHash`` = the key this version is signed with;
* the keys of an agent are the keys of the versions in its chain (plus the old
  key a first-in-store version's valid proof names).

jacs 0.15 itself does not check rotation proofs when it verifies an agent
document (a forged proof re-signed with the new key verifies there); this
module is stricter and fails such an agent version.

The directory implements ``SignerDirectory`` of core/verify.py: pass it as
``verify_document(..., signers=directory)``.  It adds

* ``key rotation`` (agent documents): ok / failed / warning, see
  :func:`check_rotation`;
* ``signer identity``: ok with the agent's name, or a warning
  "unknown key claiming agent X" (then ``Verdict.signer_name`` stays None);
* ``superseded key``: a warning for a signature dated after its key was
  rotated away (jacs accepts those, SPEC 12.5).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timezone
from typing import Any

from .checks import FAILED, OK, VALID, WARNING
from .crypto import verify_signature
from .jsontypes import JSONObject
from .pubkey import normalize_algorithm, public_key_hash
from .verify import CheckContext, KeyResolver, PublicKey, Verdict, _key_family, parse_document, verify_document

__all__ = [
    "AgentDirectory",
    "AgentRecord",
    "AgentVersion",
    "Rotation",
    "check_rotation",
    "transition_message",
    "ROTATION_PREFIX",
    "ROTATION_CHECK",
    "IDENTITY_CHECK",
    "SUPERSEDED_CHECK",
]

ROTATION_PREFIX = "JACS_KEY_ROTATION:"
ROTATION_CHECK = "key rotation"
IDENTITY_CHECK = "signer identity"
SUPERSEDED_CHECK = "superseded key"
_PROOF_FIELDS = ("transitionMessage", "signature", "signingAlgorithm", "oldPublicKeyHash", "newPublicKeyHash",
                 "timestamp")

_RFC3339 = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,12}))?([Zz]|[+-]\d\d:\d\d)$"
)


def transition_message(agent_id: str, old_hash: str, new_hash: str, timestamp: str) -> str:
    """The text the old key signs when an agent rotates keys (SPEC 2.4)."""
    return f"{ROTATION_PREFIX}{agent_id}:{old_hash}:{new_hash}:{timestamp}"


def rfc3339_ns(text: Any) -> int | None:
    """Nanoseconds since the epoch of an RFC 3339 date (None if it is not one)."""
    if not isinstance(text, str):
        return None
    m = _RFC3339.match(text.strip())
    if not m:
        return None
    y, mo, d, h, mi, s, frac, tz = m.groups()
    try:
        if tz in ("Z", "z"):
            tzinfo = UTC
        else:
            sign = 1 if tz[0] == "+" else -1
            from datetime import timedelta

            tzinfo = timezone(sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])))
        second = min(int(s), 59)  # a leap second counts as :59
        dt = datetime(int(y), int(mo), int(d), int(h), int(mi), second, tzinfo=tzinfo)
    except ValueError:
        return None
    ns = int(dt.timestamp()) * 1_000_000_000
    if frac:
        ns += int((frac + "000000000")[:9])
    return ns


def _signature_time_ns(sig: JSONObject) -> int | None:
    """When a signature says it was made: its ``date`` (precise), else ``iat``."""
    ns = rfc3339_ns(sig.get("date"))
    if ns is not None:
        return ns
    iat = sig.get("iat")
    if type(iat) is int and iat >= 0:
        return iat * 1_000_000_000
    return None


def _short(h: Any) -> str:
    return f"{h[:16]}…" if isinstance(h, str) and len(h) > 16 else str(h)


@dataclass
class Rotation:
    """Outcome of checking one agent version's ``jacsKeyRotationProof``."""

    status: str  # OK, FAILED or WARNING
    reason: str
    old_hash: str | None = None
    timestamp: str | None = None
    timestamp_ns: int | None = None

    @property
    def holds(self) -> bool:
        """The old key really signed the change to this version's key."""
        return self.status == OK or (self.status == WARNING and self.timestamp_ns is not None)


@dataclass
class AgentVersion:
    doc: JSONObject
    agent_id: str
    version: str
    previous: str | None
    key_hash: str | None
    date: str
    name: str | None
    #: self-signed and valid
    self_valid: bool
    problem: str = ""
    #: None when the version carries no proof and none is needed
    rotation: Rotation | None = None
    #: in the agent's chain of trust (see the module docstring)
    anchored: bool = False
    root: bool = False


@dataclass
class AgentRecord:
    agent_id: str
    versions: list[AgentVersion] = field(default_factory=list)
    #: publicKeyHash -> the agent version that proves the key is this agent's
    keys: dict[str, str] = field(default_factory=dict)
    #: publicKeyHash -> (rotation time in ns, rotation timestamp text, version that replaced it)
    superseded: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    #: first versions in the store signed with different keys: who is who cannot be told
    contested: bool = False
    name: str | None = None

    @property
    def label(self) -> str:
        return f"'{self.name}' ({self.agent_id})" if self.name else self.agent_id


def _resolve(keys: KeyResolver | None, key_hash: str) -> tuple[PublicKey | None, str | None]:
    if keys is None:
        return None, None
    try:
        return keys.resolve(key_hash), None
    except Exception as exc:  # a resolver backed by storage may fail
        return None, str(exc)


def check_rotation(doc: JSONObject, previous: list[AgentVersion] | None, keys: KeyResolver | None) -> Rotation | None:
    """Check the key change of one agent version against its previous version.

    *previous* are the self-signed valid documents of the version named by
    ``jacsPreviousVersion`` (empty or None when the store does not have it).
    Returns None when there is nothing to check (no proof, and the key did not
    change or the previous version is unknown).
    """
    sig = doc.get("jacsSignature")
    new_key = sig.get("publicKeyHash") if isinstance(sig, dict) else None
    prev_version = doc.get("jacsPreviousVersion")
    prev_keys = sorted({p.key_hash for p in (previous or []) if p.key_hash})
    agent_id = doc.get("jacsId")
    if "jacsKeyRotationProof" not in doc:
        if not isinstance(prev_version, str) or not prev_keys or new_key in prev_keys:
            return None
        return Rotation(FAILED, f"the signing key changed from {_short(prev_keys[0])} (agent version {prev_version}) "
                                f"to {_short(new_key)} without a jacsKeyRotationProof signed by the old key")
    proof = doc["jacsKeyRotationProof"]
    if not isinstance(proof, dict):
        return Rotation(FAILED, "jacsKeyRotationProof is not a JSON object")
    missing = [f for f in _PROOF_FIELDS if not isinstance(proof.get(f), str) or not proof.get(f)]
    if missing:
        return Rotation(FAILED, f"the rotation proof has no '{missing[0]}'")
    msg, old, new, ts = (proof["transitionMessage"], proof["oldPublicKeyHash"], proof["newPublicKeyHash"],
                         proof["timestamp"])
    if not isinstance(prev_version, str):
        return Rotation(FAILED, "a rotation proof on a first agent version (it has no jacsPreviousVersion)")
    if not msg.startswith(ROTATION_PREFIX):
        return Rotation(FAILED, f"the rotation proof's transitionMessage does not start with {ROTATION_PREFIX!r}")
    claimed_agent = msg[len(ROTATION_PREFIX):].split(":", 1)[0]
    if claimed_agent != agent_id:
        return Rotation(FAILED, f"the rotation proof is for agent {claimed_agent}, not for this agent {agent_id}")
    if msg != transition_message(agent_id, old, new, ts):
        return Rotation(FAILED, "the rotation proof's transitionMessage does not match its fields "
                                "(agent id, old and new key hash, timestamp)")
    if new != new_key:
        return Rotation(FAILED, f"the rotation proof's new key {_short(new)} is not the key this version is "
                                f"signed with ({_short(new_key)})")
    if old == new:
        return Rotation(FAILED, "the rotation proof names the same key as old and new")
    if prev_keys and old not in prev_keys:
        return Rotation(FAILED, f"the rotation proof's old key {_short(old)} is not the key of the previous agent "
                                f"version {prev_version} ({_short(prev_keys[0])})")
    ts_ns = rfc3339_ns(ts)
    if ts_ns is None:
        return Rotation(FAILED, f"the rotation proof's timestamp {ts!r} is not an RFC 3339 date")
    pk, err = _resolve(keys, old)
    if pk is None:
        why = f"looking it up failed: {err}" if err else "it is not in the store"
        return Rotation(WARNING, f"the rotation proof could not be checked: the old public key {_short(old)} "
                                 f"is missing ({why})", old, ts)
    if public_key_hash(pk.key) != old:
        return Rotation(FAILED, f"the public key found for the proof's old key {_short(old)} hashes to "
                                f"{_short(public_key_hash(pk.key))}")
    family = normalize_algorithm(proof["signingAlgorithm"])
    if family is None:
        return Rotation(FAILED, f"the rotation proof's signing algorithm {proof['signingAlgorithm']!r} "
                                "is not supported")
    if _key_family(pk) != family:
        return Rotation(FAILED, "the rotation proof's signing algorithm does not match the old public key's algorithm")
    try:
        signature = base64.b64decode(proof["signature"].encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return Rotation(FAILED, "the rotation proof's signature is not valid base64")
    ok, why = verify_signature(family, pk.key, msg.encode("utf-8"), signature)
    if not ok:
        return Rotation(FAILED, f"the rotation proof is not signed by the old key {_short(old)}: {why}")
    if not prev_keys:
        return Rotation(WARNING, f"the old key {_short(old)} signed the change to this version's key "
                                 f"{_short(new)} ({ts}), but the previous agent version {prev_version} is not "
                                 "in the store to show that the old key was this agent's", old, ts, ts_ns)
    return Rotation(OK, f"the previous key {_short(old)} (agent version {prev_version}) signed the change to "
                        f"this version's key {_short(new)} ({ts})", old, ts, ts_ns)


def _version_of(doc: JSONObject, keys: KeyResolver | None) -> AgentVersion | None:
    aid, ver = doc.get("jacsId"), doc.get("jacsVersion")
    if doc.get("jacsType") != "agent" or not isinstance(aid, str) or not aid or not isinstance(ver, str) or not ver:
        return None
    sig = doc.get("jacsSignature")
    key_hash = sig.get("publicKeyHash") if isinstance(sig, dict) else None
    prev = doc.get("jacsPreviousVersion")
    date = doc.get("jacsVersionDate")
    name = doc.get("name")
    v = AgentVersion(doc, aid, ver, prev if isinstance(prev, str) else None,
                     key_hash if isinstance(key_hash, str) else None, date if isinstance(date, str) else "",
                     name if isinstance(name, str) and name.strip() else None, False)
    if not isinstance(sig, dict) or sig.get("agentID") != aid:
        v.problem = "the agent document is not signed by the agent itself"
        return v
    verdict = verify_document(doc, keys)
    if verdict.status != VALID:
        v.problem = f"the agent document is {verdict.status}: {verdict.reason}"
        return v
    v.self_valid = True
    return v


class AgentDirectory:
    """The agents of a store and the keys proven to be theirs (see the module docstring)."""

    def __init__(self, versions: Iterable[AgentVersion] = (), keys: KeyResolver | None = None):
        self.keys = keys
        self._agents: dict[str, AgentRecord] = {}
        #: publicKeyHash -> agent ids it is proven to belong to
        self._owners: dict[str, set[str]] = {}
        for v in versions:
            self._agents.setdefault(v.agent_id, AgentRecord(v.agent_id)).versions.append(v)
        for record in self._agents.values():
            self._link(record)
            for h in record.keys:
                self._owners.setdefault(h, set()).add(record.agent_id)

    @classmethod
    def from_documents(cls, docs: Iterable[Any], keys: KeyResolver | None) -> AgentDirectory:
        """Build from documents (parsed dicts, or the stored bytes); anything that is
        not an agent document is skipped."""
        versions = []
        seen: set[tuple[Any, Any, Any]] = set()  # (jacsId, jacsVersion, jacsSha256) as found
        for doc in docs:
            if isinstance(doc, (bytes, bytearray, str)):
                doc, _err = parse_document(bytes(doc) if isinstance(doc, bytearray) else doc)
            if not isinstance(doc, dict):
                continue
            ident = (doc.get("jacsId"), doc.get("jacsVersion"), doc.get("jacsSha256"))
            if ident in seen and all(isinstance(x, str) for x in ident):
                continue  # the same version found twice (e.g. a copy in another folder)
            v = _version_of(doc, keys)
            if v is not None:
                seen.add(ident)
                versions.append(v)
        return cls(versions, keys)

    # -- building ----------------------------------------------------------------------
    def _link(self, record: AgentRecord) -> None:
        valid = [v for v in record.versions if v.self_valid]
        by_version: dict[str, list[AgentVersion]] = {}
        for v in valid:
            by_version.setdefault(v.version, []).append(v)
        for v in record.versions:
            prev = by_version.get(v.previous, []) if v.previous else []
            v.rotation = check_rotation(v.doc, prev, self.keys)
        children: dict[str, list[AgentVersion]] = {}
        roots = []
        for v in valid:
            if v.previous is None or v.previous not in by_version:
                v.root = True
                roots.append(v)
            else:
                children.setdefault(v.previous, []).append(v)
        for v in roots:
            v.anchored = v.rotation is None or v.rotation.status != FAILED
        stack = [v for v in roots if v.anchored]
        while stack:
            parent = stack.pop()
            for child in children.get(parent.version, []):
                if child.anchored:
                    continue
                rot = child.rotation
                if rot is None:
                    linked = child.key_hash == parent.key_hash
                else:
                    linked = rot.status == OK and rot.old_hash == parent.key_hash
                if linked:
                    child.anchored = True
                    stack.append(child)
        anchored = [v for v in valid if v.anchored]
        root_keys = {v.key_hash for v in roots if v.anchored}
        record.contested = len(root_keys) > 1
        for v in sorted(anchored, key=lambda v: (v.date, v.version)):
            if v.key_hash is not None:  # always set: a valid signature names its key
                record.keys.setdefault(v.key_hash, v.version)
            rot = v.rotation
            if rot is not None and rot.holds and rot.old_hash:
                record.keys.setdefault(rot.old_hash, v.version)
                old = record.superseded.get(rot.old_hash)
                # a rotation that holds has its time (timestamp_ns is not None)
                if rot.timestamp_ns is not None and (old is None or rot.timestamp_ns < old[0]):
                    record.superseded[rot.old_hash] = (rot.timestamp_ns, rot.timestamp or "", v.version)
        if anchored:
            latest = max(anchored, key=lambda v: (v.date, v.version))
            record.name = latest.name

    # -- queries -----------------------------------------------------------------------
    def agent(self, agent_id: str) -> AgentRecord | None:
        return self._agents.get(agent_id)

    def agents(self) -> list[AgentRecord]:
        return list(self._agents.values())

    def owners(self, key_hash: str) -> set[str]:
        """The agents a key is proven to belong to (normally one, or none)."""
        return set(self._owners.get(key_hash, ()))

    def name_for(self, agent_id: str, key_hash: str) -> str | None:
        """The agent's name when *key_hash* is proven to be one of its keys."""
        record = self._agents.get(agent_id)
        if record is None or record.contested or key_hash not in record.keys:
            return None
        return record.name

    def __len__(self) -> int:
        return len(self._agents)

    # -- the SignerDirectory hook ------------------------------------------------------
    def _rotation_for(self, doc: JSONObject) -> Rotation | None:
        aid, ver = doc.get("jacsId"), doc.get("jacsVersion")
        record = self._agents.get(aid) if isinstance(aid, str) else None
        if record is not None:
            for v in record.versions:
                if v.version == ver and v.doc == doc:
                    return v.rotation
        prev_version = doc.get("jacsPreviousVersion")
        previous = []
        if record is not None and isinstance(prev_version, str):
            previous = [v for v in record.versions if v.self_valid and v.version == prev_version]
        return check_rotation(doc, previous, self.keys)

    def check_signer(self, ctx: CheckContext, verdict: Verdict) -> None:
        doc = ctx.doc
        sig = doc.get("jacsSignature")
        if not isinstance(sig, dict):
            return
        if doc.get("jacsType") == "agent":
            rot = self._rotation_for(doc)
            if rot is not None:
                ctx.add(ROTATION_CHECK, rot.status, rot.reason)
        if not any(c.name == "signature" and c.status == OK for c in ctx.checks):
            return  # the signature does not hold: nothing is said about who made it
        aid, key_hash = sig.get("agentID"), sig.get("publicKeyHash")
        if not isinstance(aid, str) or not aid:
            ctx.add(IDENTITY_CHECK, WARNING, "the signature names no agent (no agentID)")
            return
        record = self._agents.get(aid)
        if record is None or key_hash not in record.keys:
            if record is None or not any(v.self_valid for v in record.versions):
                why = "the store holds no valid self-signed agent document of that agent"
            else:
                why = (f"no valid agent document of it is signed with key {_short(key_hash)} "
                       "and no rotation proof links that key to it")
            # (a signature that holds names its key: key_hash is a str)
            others = sorted(self._owners.get(key_hash, ())) if isinstance(key_hash, str) else []
            if others:
                why += f"; the key belongs to agent {', '.join(others)}"
            ctx.add(IDENTITY_CHECK, WARNING, f"unknown key claiming agent {aid}: {why}")
            return
        if record.contested:
            firsts = sum(1 for v in record.versions if v.root and v.anchored)
            ctx.add(IDENTITY_CHECK, WARNING,
                    f"agent {aid} has {firsts} first agent documents signed with different keys; which one is "
                    "the real agent cannot be told, so the signer is not named")
            return
        verdict.signer_name = record.name
        ctx.add(IDENTITY_CHECK, OK, f"signed with a key of agent {record.label} "
                                    f"(shown by agent version {record.keys[key_hash]})")
        replaced = record.superseded.get(key_hash)
        signed_at = _signature_time_ns(sig) if replaced is not None else None  # (a date parse costs)
        if replaced is not None and signed_at is not None and signed_at > replaced[0]:
            when = sig["date"] if rfc3339_ns(sig.get("date")) is not None else f"iat {sig.get('iat')}"
            ctx.add(SUPERSEDED_CHECK, WARNING,
                    f"signed on {when} with key {_short(key_hash)}, which agent {record.label} replaced on "
                    f"{replaced[1]} (agent version {replaced[2]}); jacs still accepts it, but the key was no "
                    "longer the agent's current key")
