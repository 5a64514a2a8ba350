"""The identity timeline: one agent across its versions and keys, and what its documents say.

Qt-free; the window's *Identity* tab and ``jacs-desktop-cli identity timeline`` both use it.

Per agent (from the store's :class:`~jacs_desktop.core.agents.AgentDirectory`):

* every agent version in date order, with its algorithm and ``publicKeyHash`` (an Ed25519 →
  pq2025 upgrade shows as a change of algorithm), its ``jacsKeyRotationProof`` checked with the
  *old* key, and ``rotatedAt`` from the key folder's ``*.obsolete.json`` where the store has it;
* key epochs: each key, from the version that brought it to the rotation that replaced it, and
  the documents signed with it;
* flags, each naming the documents: a superseded key used after its rotation, a broken or
  missing rotation proof, a signature citing an agent version the store does not hold, a key
  in ``public_keys/`` that signs as the agent but is none of its keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..core.agents import AgentDirectory, AgentRecord, _signature_time_ns
from ..core.checks import FAILED, OK, WARNING
from ..core.jsontypes import JSONObject
from ..storage.base import StorageError
from ..storage.store import Store
from .common import Cancelled, CancelToken, ProgressFn, is_cancelled

__all__ = ["TimelineVersion", "KeyEpoch", "Flag", "AgentTimeline", "SignedDoc", "timelines", "timeline",
           "SUPERSEDED", "BAD_PROOF", "MISSING_VERSION", "FOREIGN_KEY"]

SUPERSEDED = "superseded key used after rotation"
BAD_PROOF = "broken or missing rotation proof"
MISSING_VERSION = "signature cites an agent version the store does not hold"
FOREIGN_KEY = "a key in public_keys/ signs as this agent but is none of its keys"


@dataclass
class SignedDoc:
    id: str
    version: str
    key_hash: str
    agent_version: str | None
    date: str
    time_ns: int | None

    @property
    def label(self) -> str:
        return f"{self.id}:{self.version}"


@dataclass
class TimelineVersion:
    version: str
    date: str
    previous: str | None
    algorithm: str | None
    key_hash: str | None
    #: "ok", "failed", "warning", or "" (no key change, nothing to prove)
    rotation: str = ""
    rotation_reason: str = ""
    rotated_at: str | None = None
    in_chain: bool = False
    problem: str = ""


@dataclass
class KeyEpoch:
    key_hash: str
    algorithm: str | None
    since: str
    #: when it was replaced (rotation proof timestamp), None while current
    until: str | None = None
    documents: list[SignedDoc] = field(default_factory=list)
    own: bool = True


@dataclass
class Flag:
    kind: str
    text: str
    documents: list[str] = field(default_factory=list)

    def to_dict(self) -> JSONObject:
        return {"kind": self.kind, "text": self.text, "documents": self.documents}


@dataclass
class AgentTimeline:
    agent_id: str
    name: str | None
    versions: list[TimelineVersion] = field(default_factory=list)
    epochs: list[KeyEpoch] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    #: (state, reason) from the trust store when one was given
    trust: tuple[str, str] | None = None
    #: a pin conflict the store's verified rotation chain can mend: the key to re-pin to
    repin_to: str | None = None

    def to_dict(self) -> JSONObject:
        return {
            "agent": self.agent_id, "name": self.name,
            "versions": [{"version": v.version, "date": v.date, "previous": v.previous, "algorithm": v.algorithm,
                          "publicKeyHash": v.key_hash, "rotation": v.rotation or None,
                          "rotation_reason": v.rotation_reason or None, "rotatedAt": v.rotated_at,
                          "in_chain": v.in_chain, "problem": v.problem or None} for v in self.versions],
            "epochs": [{"publicKeyHash": e.key_hash, "algorithm": e.algorithm, "since": e.since, "until": e.until,
                        "documents": len(e.documents), "own": e.own} for e in self.epochs],
            "flags": [f.to_dict() for f in self.flags],
            **({"trust": {"state": self.trust[0], "reason": self.trust[1]}} if self.trust else {}),
        }


def _obsolete_notes(store: Store, agent_id: str) -> dict[str, str]:
    """old agent version -> rotatedAt, from ``*.obsolete.json`` in the key folders of the agent's configs."""
    out: dict[str, str] = {}
    try:
        configs = store.configs()
    except StorageError:
        return out
    for c in configs:
        idv = c.doc.get("jacs_agent_id_and_version") if c.doc else None
        kd = c.key_dir
        if not isinstance(idv, str) or not idv.startswith(agent_id + ":") or kd is None:
            continue
        prefix = kd.rstrip("/") + "/"
        try:
            infos = list(store.objects.list(prefix))
        except StorageError:
            continue
        for info in infos:
            if not info.key.endswith(".obsolete.json") or "/" in info.key[len(prefix):]:
                continue
            try:
                note = json.loads(store.objects.get_limited(info.key, 1 << 16))
            except (StorageError, ValueError):
                continue
            if isinstance(note, dict) and isinstance(note.get("obsoletedAtVersion"), str) and isinstance(
                    note.get("rotatedAt"), str):
                out[note["obsoletedAtVersion"]] = note["rotatedAt"]
    return out


def _signed_docs(store: Store, progress: ProgressFn | None, cancel: CancelToken | None) -> dict[str, list[SignedDoc]]:
    """agent id -> the documents whose outer signature names it (every version in the store)."""
    by_agent: dict[str, list[SignedDoc]] = {}
    refs = [r for rs in store.documents().values() for r in rs]
    for i, r in enumerate(refs):
        if is_cancelled(cancel):
            raise Cancelled(by_agent)
        if progress is not None and i % 50 == 0:
            progress(i, len(refs), f"reading signatures: {i} of {len(refs)} documents")
        try:
            doc = store.read_json(r.key)
        except StorageError:
            continue
        sig = doc.get("jacsSignature")
        if not isinstance(sig, dict):
            continue
        aid, h = sig.get("agentID"), sig.get("publicKeyHash")
        if not isinstance(aid, str) or not isinstance(h, str):
            continue
        av = sig.get("agentVersion")
        date = sig.get("date") if isinstance(sig.get("date"), str) else ""
        by_agent.setdefault(aid.split(":", 1)[0], []).append(
            SignedDoc(r.id, r.version, h, av if isinstance(av, str) else None, str(date), _signature_time_ns(sig)))
    return by_agent


def _build(store: Store, record: AgentRecord, docs: list[SignedDoc], stored_keys: set[str]) -> AgentTimeline:
    tl = AgentTimeline(record.agent_id, record.name)
    rotated = _obsolete_notes(store, record.agent_id)
    ordered = sorted(record.versions, key=lambda v: (v.date, v.version))
    for v in ordered:
        sig = v.doc.get("jacsSignature")
        alg = sig.get("signingAlgorithm") if isinstance(sig, dict) else None
        rot = v.rotation
        tv = TimelineVersion(v.version, v.date, v.previous, alg if isinstance(alg, str) else None, v.key_hash,
                             rot.status if rot else "", rot.reason if rot else "", rotated.get(v.version),
                             v.anchored, v.problem)
        tl.versions.append(tv)
        if rot is not None and (rot.status == FAILED or (rot.status == WARNING and not rot.holds)):
            signed = [d.label for d in docs if d.key_hash == v.key_hash]
            tl.flags.append(Flag(BAD_PROOF, f"agent version {v.version}: {rot.reason}", signed))
    # key epochs, in the order the chain brought them
    epochs: dict[str, KeyEpoch] = {}
    for v in ordered:
        if v.anchored and v.key_hash and v.key_hash not in epochs:
            sig = v.doc.get("jacsSignature")
            alg = sig.get("signingAlgorithm") if isinstance(sig, dict) else None
            epochs[v.key_hash] = KeyEpoch(v.key_hash, alg if isinstance(alg, str) else None, v.date)
    for h, (_ns, ts, _ver) in record.superseded.items():
        if h in epochs:
            epochs[h].until = ts
    foreign: dict[str, KeyEpoch] = {}
    known_versions = {v.version for v in record.versions}
    missing: list[str] = []
    late: list[str] = []
    for d in sorted(docs, key=lambda d: (d.date, d.label)):
        ep = epochs.get(d.key_hash)
        if ep is None:
            ep = foreign.setdefault(d.key_hash, KeyEpoch(d.key_hash, None, d.date, own=False))
        ep.documents.append(d)
        if d.agent_version is not None and d.agent_version not in known_versions:
            missing.append(d.label)
        replaced = record.superseded.get(d.key_hash)
        if replaced is not None and d.time_ns is not None and d.time_ns > replaced[0]:
            late.append(d.label)
    tl.epochs = list(epochs.values()) + list(foreign.values())
    if late:
        tl.flags.append(Flag(SUPERSEDED, f"{len(late)} document(s) signed with a key after the agent rotated it "
                                         "away (jacs still accepts them)", late))
    if missing:
        tl.flags.append(Flag(MISSING_VERSION, f"{len(missing)} document(s) cite an agent version the store does "
                                              "not hold, so the key they name cannot be tied to that version",
                             missing))
    for ep in foreign.values():
        where = ("its public key is in public_keys/" if ep.key_hash in stored_keys
                 else "its public key is not in the store")
        if ep.key_hash in stored_keys:
            tl.flags.append(Flag(FOREIGN_KEY, f"key {ep.key_hash[:16]}… signs as agent {record.agent_id} but no "
                                              f"verified agent version or rotation proof makes it the agent's "
                                              f"({where})", [d.label for d in ep.documents]))
    return tl


def timelines(store: Store, progress: ProgressFn | None = None, cancel: CancelToken | None = None,
              trust: Any = None) -> list[AgentTimeline]:
    """The timeline of every agent in *store* (and of agent ids only documents name).

    *trust* is an optional :class:`~jacs_desktop.jobs.trust.TrustStore`: each timeline then says
    what it holds about the agent's current key."""
    directory = store.agent_directory() or AgentDirectory()
    docs = _signed_docs(store, progress, cancel)
    try:
        stored_keys = set(store.public_key_hashes())
    except StorageError:
        stored_keys = set()
    out = []
    ids = sorted({r.agent_id for r in directory.agents()} | set(docs))
    for aid in ids:
        record = directory.agent(aid) or AgentRecord(aid)
        tl = _build(store, record, docs.get(aid, []), stored_keys)
        if trust is not None:
            from .trust import trust_line

            current = next((e.key_hash for e in reversed(tl.epochs) if e.own and e.until is None), None)
            if current is None and tl.epochs:
                current = tl.epochs[-1].key_hash
            line = trust_line(trust, aid, current, directory)
            tl.trust, tl.repin_to = (line.state, line.reason), line.repin_to
        out.append(tl)
    if progress is not None:
        progress(1, 1, f"{len(out)} agents")
    return out


def timeline(store: Store, agent_id: str, trust: Any = None) -> AgentTimeline | None:
    """One agent's timeline (None when the store neither has it nor documents naming it)."""
    for tl in timelines(store, trust=trust):
        if tl.agent_id == agent_id:
            return tl
    return None


def rotation_ok(tv: TimelineVersion) -> bool:
    return tv.rotation in ("", OK)
