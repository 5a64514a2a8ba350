"""Agreements: v1 (`jacsAgreement`, SPEC 2.5) and v2/v3 (`jacsType: agreement`, SPEC 12.4).

Pure functions over a parsed document.  :func:`check_agreements` is called by
:func:`jacs_desktop.core.verify.verify_document` with its check context and its
signature checker, so this module never imports ``verify`` (no import circle).
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable

from .canonical import CanonicalizationError, canonicalize
from .checks import FAILED, OK, RESERVED_FIELDS, WARNING

__all__ = ["agreement_fields", "agreement_hash", "check_agreements"]


def _utf16_key(k: str) -> bytes:
    return k.encode("utf-16-be", errors="surrogatepass")


def _legacy_content_string(doc: dict) -> bytes:
    """The legacy v1 content string used by ``jacsAgreementHash`` (SPEC 2.5)."""
    fields = agreement_fields(doc)
    d = _agreement_base(doc)
    return b" ".join(canonicalize(d[f]) for f in fields)


def _agreement_base(doc: dict) -> dict:
    d = {
        k: v
        for k, v in doc.items()
        if k not in ("jacsAgreementHash", "jacsPreviousVersion", "jacsVersion", "jacsVersionDate")
    }
    d.setdefault("jacsFiles", [])
    return d


def agreement_fields(doc: dict) -> list[str]:
    """The exact field list every agreement signature must carry (SPEC 2.5)."""
    d = _agreement_base(doc)
    return sorted((k for k in d if k not in RESERVED_FIELDS), key=_utf16_key)


def agreement_hash(doc: dict) -> str:
    return hashlib.sha256(_legacy_content_string(doc)).hexdigest()



SignatureChecker = Callable[..., str]


def check_agreements(ctx: Any, check_signature: SignatureChecker) -> None:
    """Add the agreement checks of ``ctx.doc`` to ``ctx`` (``ctx.add(name, status, reason)``)."""
    _check_agreement_v1(ctx, check_signature)


def _check_agreement_v1(ctx: Any, _check_signature: SignatureChecker) -> None:
    agreement = ctx.doc.get("jacsAgreement")
    if agreement is None:
        return
    if not isinstance(agreement, dict):
        ctx.add("agreement", FAILED, "jacsAgreement is not a JSON object")
        return
    claimed = ctx.doc.get("jacsAgreementHash")
    if isinstance(claimed, str):
        try:
            computed = agreement_hash(ctx.doc)
        except CanonicalizationError as exc:
            ctx.add("agreement hash", FAILED, f"agreement content cannot be canonicalized: {exc}")
            computed = None
        if computed is not None:
            if computed == claimed:
                ctx.add("agreement hash", OK, "jacsAgreementHash matches the agreed content")
            else:
                ctx.add("agreement hash", FAILED, "jacsAgreementHash does not match the agreed content")
    sigs = agreement.get("signatures", [])
    if not isinstance(sigs, list):
        ctx.add("agreement", FAILED, "jacsAgreement.signatures is not a list")
        return
    expected = agreement_fields(ctx.doc)
    ids = agreement.get("agentIDs") if isinstance(agreement.get("agentIDs"), list) else []
    for i, s in enumerate(sigs):
        who = s.get("agentID") if isinstance(s, dict) and isinstance(s.get("agentID"), str) else f"#{i + 1}"
        _check_signature(ctx, s, "jacsAgreement", f"agreement signature {who}", False, expected)
    signed = {s.get("agentID") for s in sigs if isinstance(s, dict)}
    pending = [a for a in ids if a not in signed]
    summary = f"{len(sigs)} of {len(ids)} parties signed" + (f"; waiting for {len(pending)}" if pending else "")
    ctx.add(
        "agreement terms",
        WARNING,
        f"{summary}. Known JACS gap: the agreement terms (question, context, agentIDs) are not covered by "
        "any signature, only by the unsigned jacsSha256, so they could be edited without breaking a signature.",
    )
