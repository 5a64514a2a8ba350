"""The agreement board: every agreement in a store, who signed, who still has to, and signing one.

Qt-free; the window's *Agreements* tab and ``jacs-desktop-cli agreements`` both use it.

* v1 agreements are documents with a ``jacsAgreement`` block (SPEC 2.5): the parties are its
  ``agentIDs`` (all signers), each signature is checked by the verifier ("agreement signature
  {agent}" checks).  Their known gap is shown: the terms are in no signature.
* v2/v3 agreements are ``jacsType: agreement`` documents (SPEC 12.4): parties with a role,
  ``signaturePolicy``, ``status``, ``effectiveFrom`` / ``expiresAt``.

Per agreement the latest version across forks is shown (the library's rule: the largest
``jacsVersionDate``) and a fork is named.  A party's state is ``signed`` (its signature
verifies), ``invalid`` (it signed, but the signature does not verify) or ``pending``.

:func:`sign_agreement` adds the loaded identity's signature and returns the new version, made
the way jacs 0.15 makes it (``sign_agreement`` / ``sign_agreement_v2``), so that the library's
``check_agreement`` and ``verify_agreement_v2`` accept it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..core.agreement import (
    PARTY_SIGNATURE_PLACEMENT,
    agreement_fields,
    expected_status,
    is_agreement_v2,
    is_agreement_v3,
    party_signature_content,
    transcript_hash,
)
from ..core.checks import FAILED, OK, VALID
from ..core.errors import JacsError
from ..core.jsontypes import JSONObject
from ..core.sign import AgentSigner, rfc3339_now
from ..core.verify import Verdict
from ..storage.base import StorageError
from ..storage.layout import Ref
from ..storage.store import Store
from .common import Cancelled, CancelToken, ProgressFn, is_cancelled

__all__ = ["Party", "Agreement", "Board", "agreement_board", "agreement_of", "sign_agreement", "waiting_for",
           "SIGNED", "INVALID", "PENDING", "SIGNING_ROLES", "V1_GAP"]

SIGNED, INVALID, PENDING = "signed", "invalid", "pending"
SIGNING_ROLES = ("signer", "witness", "notary")
V1_GAP = ("v1 agreement: the terms (question, context, parties) are not covered by any signature, only by the "
          "unsigned jacsSha256, so they could be edited without breaking a signature")


class AgreementError(JacsError):
    """Signing refused (not a party, already signed, not a controller …)."""


@dataclass
class Party:
    agent: str
    role: str
    state: str  # SIGNED, INVALID or PENDING
    reason: str = ""
    name: str | None = None

    def to_dict(self) -> JSONObject:
        return {"agent": self.agent, "role": self.role, "state": self.state}


@dataclass
class Agreement:
    id: str
    version: str
    kind: str  # "v1" or "v2" (v3 documents are reported as v2: same shape)
    title: str
    status: str
    parties: list[Party] = field(default_factory=list)
    terms_hash: str | None = None
    quorum: str = ""
    quorum_met: bool | None = None
    effective_from: str | None = None
    expires_at: str | None = None
    #: other latest versions (forks: more than one version without a child)
    forks: list[str] = field(default_factory=list)
    versions: int = 1
    date: str = ""
    verdict: Verdict | None = None
    notes: list[str] = field(default_factory=list)
    schema_version: str = ""
    key: str = ""

    def party(self, agent_id: str) -> list[Party]:
        return [p for p in self.parties if p.agent == agent_id]

    def to_dict(self) -> JSONObject:
        return {"id": self.id, "version": self.version, "kind": self.kind, "title": self.title,
                "status": self.status, "parties": [p.to_dict() for p in self.parties]}


@dataclass
class Board:
    agreements: list[Agreement] = field(default_factory=list)
    #: (document id, why it could not be read)
    errors: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self, pending_for: str | None = None) -> JSONObject:
        rows = waiting_for(self.agreements, pending_for) if pending_for else self.agreements
        return {"agreements": [a.to_dict() for a in rows]}


def _norm(agent_id: str) -> str:
    return agent_id.split(":", 1)[0]


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def _list(obj: JSONObject, name: str) -> list[Any]:
    v = obj.get(name)
    return v if isinstance(v, list) else []


def _is_agreement(doc: JSONObject) -> bool:
    return isinstance(doc.get("jacsAgreement"), dict) or is_agreement_v2(doc) or is_agreement_v3(doc) or \
        doc.get("jacsType") == "agreement"


def _signature_states(verdict: Verdict | None) -> dict[str, tuple[str, str]]:
    """agent id -> (SIGNED or INVALID, reason) from the verifier's "agreement signature X" checks."""
    out: dict[str, tuple[str, str]] = {}
    if verdict is None:
        return out
    prefix = "agreement signature "
    for c in verdict.checks:
        if not c.name.startswith(prefix):
            continue
        who = c.name[len(prefix):].split(" (", 1)[0]
        state = SIGNED if c.status == OK else INVALID
        if out.get(who, (None,))[0] == SIGNED and state == INVALID:
            continue  # one good signature in that role is enough to be signed
        out[who] = (state, c.reason)
    return out


def _policy_text(doc: JSONObject, signers: int) -> tuple[str, dict[str, int]]:
    policy = doc.get("signaturePolicy") if isinstance(doc.get("signaturePolicy"), dict) else {}
    assert isinstance(policy, dict)
    q = policy.get("partyQuorum", "all")
    if q == "majority":
        need = signers // 2 + 1
        text = f"majority ({need} of {signers} signers)"
    elif type(q) is int and q >= 0:
        need = q
        text = f"{q} of {signers} signers"
    else:
        need = signers
        text = f"all {signers} signers"
    needs = {"signer": need}
    for role, key in (("witness", "witnessRequired"), ("notary", "notaryRequired")):
        n = policy.get(key)
        if type(n) is int and n > 0:
            needs[role] = n
            text += f", {n} {role}{'es' if role == 'witness' and n > 1 else 's' if n > 1 else ''}"
    return text, needs


def agreement_of(doc: JSONObject, verdict: Verdict | None, *, now: float | None = None) -> Agreement | None:
    """The board row of one agreement version (None when *doc* is no agreement)."""
    if not _is_agreement(doc):
        return None
    jid, ver = _str(doc.get("jacsId")) or "?", _str(doc.get("jacsVersion")) or "?"
    states = _signature_states(verdict)
    date = _str(doc.get("jacsVersionDate")) or ""
    if isinstance(doc.get("jacsAgreement"), dict):
        block = doc["jacsAgreement"]
        ids = [a for a in (block.get("agentIDs") or []) if isinstance(a, str)] if isinstance(
            block.get("agentIDs"), list) else []
        sigs = block.get("signatures") if isinstance(block.get("signatures"), list) else []
        for s in sigs:
            a = s.get("agentID") if isinstance(s, dict) else None
            if isinstance(a, str) and a not in ids:
                ids.append(a)
        parties = []
        for a in ids:
            st, why = states.get(_norm(a), (PENDING, ""))
            parties.append(Party(a, "signer", st, why))
        content = doc.get("content")
        title = _str(block.get("question")) or (
            _str(content.get("title")) if isinstance(content, dict) else None) or "(no question)"
        signed = sum(1 for p in parties if p.state == SIGNED)
        if verdict is not None and verdict.status != VALID and verdict.status != "legacy":
            status = INVALID if verdict.status == "invalid" else verdict.status
        elif any(p.state == INVALID for p in parties):
            status = INVALID
        elif parties and signed == len(parties):
            status = "complete"
        else:
            status = PENDING
        ag = Agreement(jid, ver, "v1", title, status, parties, _str(doc.get("jacsAgreementHash")),
                       f"all {len(parties)} parties", bool(parties) and signed == len(parties), date=date,
                       verdict=verdict, notes=[V1_GAP], schema_version="v1")
        ctx = _str(block.get("context"))
        if ctx:
            ag.notes.insert(0, f"context: {ctx}")
        return ag
    # v2 / v3
    parties = []
    for p in _list(doc, "parties"):
        if not isinstance(p, dict) or not isinstance(p.get("agentId"), str):
            continue
        a = _norm(p["agentId"])
        role = p["role"] if isinstance(p.get("role"), str) else "signer"
        st, why = states.get(a, (PENDING, "")) if role in SIGNING_ROLES else (PENDING, "observer: does not sign")
        name = _str(p.get("displayName"))
        parties.append(Party(a, role, st, why, name))
    signers = sum(1 for p in parties if p.role == "signer")
    quorum, needs = _policy_text(doc, signers)
    got = {r: len({p.agent for p in parties if p.role == r and p.state == SIGNED}) for r in needs}
    met = all(got[r] >= n for r, n in needs.items())
    status = _str(doc.get("status")) or "draft"
    notes = []
    if verdict is not None and verdict.status not in (VALID,):
        notes.append(f"the document is {verdict.status}: {verdict.reason}")
        if verdict.status == "invalid":
            status = INVALID
    elif status not in ("disputed", "superseded", "terminated"):
        expect = expected_status(doc, time.time() if now is None else now)
        if expect != status:
            notes.append(f"the stored status is {status}; by the signatures and the clock it is {expect}")
    ag = Agreement(jid, ver, "v2", _str(doc.get("title")) or "(untitled)", status, parties,
                   _str(doc.get("jacsAgreementHash")), quorum, met, _str(doc.get("effectiveFrom")),
                   _str(doc.get("expiresAt")), date=date, verdict=verdict, notes=notes,
                   schema_version="v3" if is_agreement_v3(doc) else "v2")
    return ag


def _leaves(store: Store, refs: list[Ref]) -> tuple[list[str], Ref, int]:
    """(the latest version of every fork, the latest ref, how many versions)."""
    nodes = store.history(refs)
    latest = store.latest(nodes)
    by_version = {r.version: r for r in refs}
    leaves = [n.version for n in nodes if not n.children]
    assert latest is not None
    return leaves, by_version[latest.version], len(nodes)


def agreement_board(store: Store, progress: ProgressFn | None = None, cancel: CancelToken | None = None,
                    *, now: float | None = None) -> Board:
    """Every agreement in *store* (its latest version, verified)."""
    board = Board()
    try:
        docs = store.documents()
    except StorageError as exc:
        board.errors.append(("", f"the documents could not be listed: {exc}"))
        return board
    total = len(docs)
    for i, (doc_id, refs) in enumerate(sorted(docs.items())):
        if is_cancelled(cancel):
            raise Cancelled(board)
        if progress is not None:
            progress(i, total, f"agreements: {i} of {total} documents")
        try:
            leaves, ref, count = _leaves(store, refs)
            doc = store.read_json(ref.key)
        except StorageError as exc:
            board.errors.append((doc_id, str(exc)))
            continue
        if not _is_agreement(doc):
            continue
        verdict = store.verify(ref)
        ag = agreement_of(doc, verdict, now=now)
        if ag is None:
            continue
        ag.versions, ag.key = count, ref.key
        ag.forks = [v for v in leaves if v != ref.version]
        if ag.forks:
            ag.notes.append(f"forked: {len(leaves)} latest versions ({', '.join(ag.forks)} besides this one); "
                            "jacs takes the one with the latest jacsVersionDate")
        _name_parties(store, ag)
        board.agreements.append(ag)
    if progress is not None:
        progress(total, total, f"{len(board.agreements)} agreements")
    board.agreements.sort(key=lambda a: (a.date, a.id), reverse=True)
    return board


def _name_parties(store: Store, ag: Agreement) -> None:
    directory = store.agent_directory()
    if directory is None:
        return
    for p in ag.parties:
        rec = directory.agent(p.agent)
        if p.name is None and rec is not None and not rec.contested:
            p.name = rec.name


def waiting_for(agreements: Iterable[Agreement], agent_id: str | None) -> list[Agreement]:
    """The agreements where *agent_id* is a signing party that has not signed (and that are still open)."""
    if not agent_id:
        return list(agreements)
    me = _norm(agent_id)
    closed = ("final", "complete", "expired", "disputed", "superseded", "terminated")
    return [a for a in agreements if a.status not in closed and any(
        p.agent == me and p.role in SIGNING_ROLES and p.state == PENDING for p in a.parties)]


def _next_version(doc: JSONObject) -> JSONObject:
    new = {k: v for k, v in doc.items() if k not in ("jacsSignature", "jacsSha256", "jacsRegistration")}
    new["jacsPreviousVersion"] = doc["jacsVersion"]
    new["jacsVersion"] = str(uuid.uuid4())
    new["jacsVersionDate"] = rfc3339_now()
    return new


def sign_agreement(doc: JSONObject, signer: AgentSigner, role: str | None = None, *,
                   now: float | None = None) -> JSONObject:
    """The next version of agreement *doc* with *signer*'s signature added (v1, or v2 in *role*).

    Refuses (``AgreementError``) when the signer is no party (in that role), already signed, or
    (v2) is not a controller, so could not emit a version the library accepts.
    """
    if not isinstance(doc.get("jacsId"), str) or not isinstance(doc.get("jacsVersion"), str):
        raise AgreementError("the agreement has no jacsId/jacsVersion")
    me = signer.agent_id
    if isinstance(doc.get("jacsAgreement"), dict):
        if role not in (None, "signer"):
            raise AgreementError("v1 agreements have no roles: every party signs as a signer")
        block = dict(doc["jacsAgreement"])
        if me not in _list(block, "agentIDs"):
            raise AgreementError(f"agent {me} is not one of this agreement's parties")
        sigs = _list(block, "signatures")
        if any(isinstance(s, dict) and s.get("agentID") == me for s in sigs):
            raise AgreementError(f"agent {me} has already signed this agreement")
        sig = signer.signature(doc, placement="jacsAgreement", fields=agreement_fields(doc))
        block["signatures"] = [*sigs, sig]
        new = _next_version(doc)
        new["jacsAgreement"] = block
        return signer.finish(new)
    if not _is_agreement(doc):
        raise AgreementError("this document is not an agreement")
    role = role or "signer"
    if role not in SIGNING_ROLES:
        raise AgreementError(f"role must be one of {', '.join(SIGNING_ROLES)}")
    mine = [p.get("role") for p in _list(doc, "parties") if isinstance(p, dict) and isinstance(p.get("agentId"), str)
            and _norm(p["agentId"]) == me]
    if not mine:
        raise AgreementError(f"agent {me} is not one of this agreement's parties")
    if role not in mine:
        raise AgreementError(f"agent {me} is a party as {', '.join(str(r) for r in mine)}, not as {role}")
    entries = _list(doc, "agreementSignatures")
    for e in entries:
        s = e.get("signature") if isinstance(e, dict) else None
        if isinstance(s, dict) and isinstance(s.get("agentID"), str) and _norm(s["agentID"]) == me \
                and e.get("role") == role:
            raise AgreementError(f"agent {me} has already signed this agreement as {role}")
    if not any(isinstance(c, str) and _norm(c) == me for c in _list(doc, "controllers")):
        raise AgreementError(f"agent {me} is not one of the agreement's controllers, so jacs would refuse the "
                             "version it signs (\"header signer is not a controller\"); ask a controller to add it")
    status = doc.get("status")
    if status in ("final", "disputed", "superseded", "terminated", "expired"):
        raise AgreementError(f"the agreement is {status}; it takes no more signatures")
    entry: JSONObject = {"role": role}
    transcript = doc.get("transcript")
    if isinstance(transcript, list) and transcript:
        entry["signedTranscriptHash"] = transcript_hash(transcript)
    content = party_signature_content(doc, entry)
    entry["signature"] = signer.signature(content, placement=PARTY_SIGNATURE_PLACEMENT, fields=list(content))
    new = _next_version(doc)
    new["agreementSignatures"] = [*entries, entry]
    new["allPreviousVersions"] = [*_list(doc, "allPreviousVersions"), doc["jacsVersion"]]
    new["status"] = expected_status(new, time.time() if now is None else now)
    return signer.finish(new)


def pending_roles(ag: Agreement, agent_id: str) -> list[str]:
    """The roles in which *agent_id* still has to sign *ag*."""
    me = _norm(agent_id)
    return [p.role for p in ag.parties if p.agent == me and p.role in SIGNING_ROLES and p.state == PENDING]


def find_agreement(store: Store, doc_id: str) -> tuple[JSONObject, Ref]:
    """The latest version of agreement *doc_id* in *store* (raises JacsError when there is none)."""
    refs = store.documents().get(doc_id)
    if not refs:
        raise AgreementError(f"no document {doc_id} in the store")
    ref = _leaves(store, refs)[1]
    doc = store.read_json(ref.key)
    if not _is_agreement(doc):
        raise AgreementError(f"document {doc_id} is not an agreement")
    return doc, ref


def sign_in_store(store: Store, doc_id: str, signer: AgentSigner, role: str | None = None) -> JSONObject:
    """Sign the latest version of *doc_id* and store the new version; refuses a version that would
    not verify (it is checked before it is stored)."""
    doc, _ref = find_agreement(store, doc_id)
    new = sign_agreement(doc, signer, role)
    from ..core.sign import pretty_json

    data = pretty_json(new)
    verdict = store.verify_data(data)
    bad = [c for c in verdict.checks if c.status == FAILED]
    if bad:
        raise AgreementError(f"the signed version does not verify ({bad[0].name}: {bad[0].reason}); not stored")
    store.put_document(new, data)
    return new
