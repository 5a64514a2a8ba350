"""``attestations list STORE [--json]`` and ``attestations verify STORE ID [--json]``: attestations
with their claims, evidence and derivation chain, checked as jacs's full tier does."""

from __future__ import annotations

import argparse

from ..core.errors import JacsError
from .output import EXIT_ERROR, EXIT_INVALID, EXIT_OK, err, print_json

__all__ = ["add_parser", "cmd_attestations"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    a = sub.add_parser("attestations", help="attestations: claims, evidence, derivation chain, full-tier checks")
    acts = a.add_subparsers(dest="attestations_action", required=True)
    ls = acts.add_parser("list", help="every attestation of a store with its full-tier report (exit 2: one fails)")
    ls.add_argument("store")
    ls.add_argument("--json", action="store_true")
    vf = acts.add_parser("verify", help="the full-tier report of one attestation (exit 2: it fails)")
    vf.add_argument("store")
    vf.add_argument("id", help="the attestation's jacsId (its latest version)")
    vf.add_argument("--json", action="store_true")
    for p in (ls, vf):
        p.set_defaults(func=cmd_attestations)


def cmd_attestations(args: argparse.Namespace) -> int:
    from ..jobs.attestations import attestations
    from ..storage.opener import open_store

    try:
        store = open_store(args.store)
        try:
            rows = attestations(store)
        finally:
            store.close()
    except JacsError as exc:
        err(str(exc))
        return EXIT_ERROR
    if args.attestations_action == "verify":
        rows = [r for r in rows if r.id == args.id]
        if not rows:
            err(f"no attestation {args.id} in {args.store}")
            return EXIT_ERROR
        if args.json:
            print_json(rows[0].report.to_dict(), ensure_ascii=False)
            return EXIT_OK if rows[0].report.valid else EXIT_INVALID
    if args.json:
        print_json({"attestations": [{"id": r.id, "version": r.version, "subject": r.subject, "claims": r.claims,
                                      "report": r.report.to_dict()} for r in rows]}, ensure_ascii=False)
    else:
        for r in rows:
            mark = "✓" if r.report.valid else "✗"
            subject = r.subject.get("id") or r.subject.get("type") or "?"
            print(f"{mark} {r.id}:{r.version}  subject {subject}  signed by {r.report.crypto['signerId']}")
            for c in r.claims:
                if isinstance(c, dict):
                    conf = f" (confidence {c['confidence']})" if "confidence" in c else ""
                    print(f"    claim {c.get('name')}: {c.get('value')!r}{conf}")
            for e in r.report.evidence:
                ok = "✓" if e["digestValid"] and e["freshnessValid"] else "✗"
                print(f"    {ok} evidence {e['kind']}: {e['detail']}" + ("" if e["freshnessValid"] else "; stale"))
            if r.report.chain is not None:
                for link in r.report.chain["links"]:
                    print(f"    {'✓' if link['valid'] else '✗'} derived from {link['documentId']}: {link['detail']}")
            for msg in r.report.errors:
                print(f"    ! {msg}")
        print(f"{len(rows)} attestation(s)")
    return EXIT_OK if all(r.report.valid for r in rows) else EXIT_INVALID
