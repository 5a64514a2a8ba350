"""``identity timeline STORE AGENT_ID [--json]``: an agent across its versions, keys and documents;
``identity change-password --config CONFIG``: re-encrypt the agent's private key (as jacs's
``reencrypt_key``)."""

from __future__ import annotations

import argparse

from ..core.errors import JacsError
from .output import EXIT_ERROR, EXIT_INVALID, EXIT_OK, err, print_json

__all__ = ["add_parser", "cmd_timeline"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    i = sub.add_parser("identity", help="who an agent is across its keys")
    acts = i.add_subparsers(dest="identity_action", required=True)
    t = acts.add_parser("timeline", help="an agent's versions, key rotations, key epochs and flags (exit 2: flags)")
    t.add_argument("store", help="a store folder or URL")
    t.add_argument("agent_id", help="the agent's id")
    t.add_argument("--json", action="store_true", help="print JSON")
    t.add_argument("--trust-store", metavar="DIR", help="the jacs trust store (default: JACS_TRUST_STORE_DIR or "
                   "the library's default folder)")
    t.set_defaults(func=cmd_timeline)
    pw = acts.add_parser("change-password", help="re-encrypt the agent's private key with a new password (old one: "
                         "JACS_PRIVATE_KEY_PASSWORD or a prompt; new one: JACS_NEW_PRIVATE_KEY_PASSWORD or a prompt)")
    pw.add_argument("--config", required=True, help="the agent's jacs.config.json")
    pw.set_defaults(func=cmd_change_password)
    from .keymgmt import add_rotate_parser  # identity rotate-keys (cli/keymgmt.py)

    add_rotate_parser(acts)


def _new_password() -> str:
    import getpass
    import os

    from .prompts import on_terminal

    pw = os.environ.get("JACS_NEW_PRIVATE_KEY_PASSWORD")
    if pw:
        return pw
    if not on_terminal():
        raise JacsError("no new password: set JACS_NEW_PRIVATE_KEY_PASSWORD or run on a terminal")
    first = getpass.getpass("New password: ")
    if getpass.getpass("New password again: ") != first:
        raise JacsError("the two new passwords differ")
    return first


def cmd_change_password(args: argparse.Namespace) -> int:
    from ..core.identity import Identity
    from ..jobs.keymgmt import change_key_password
    from .prompts import password_for

    try:
        identity = Identity.load(args.config)
        old = password_for(identity)
        change_key_password(identity, old, _new_password())
    except JacsError as exc:
        err(str(exc))
        return EXIT_ERROR
    print(f"re-encrypted the private key of {identity.agent_id} ({identity.config.private_key_file.name})")
    return EXIT_OK


def cmd_timeline(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..jobs.identity import timeline
    from ..jobs.trust import TrustStore, default_trust_dir
    from ..storage.opener import open_store

    try:
        store = open_store(args.store)
        try:
            trust = TrustStore(Path(args.trust_store) if args.trust_store else default_trust_dir())
            tl = timeline(store, args.agent_id, trust=trust)
        finally:
            store.close()
    except JacsError as exc:
        err(str(exc))
        return EXIT_ERROR
    if tl is None:
        err(f"agent {args.agent_id} is not in {args.store} (no agent document and no document naming it)")
        return EXIT_ERROR
    if args.json:
        print_json(tl.to_dict(), ensure_ascii=False)
        return EXIT_INVALID if tl.flags else EXIT_OK
    print(f"agent {tl.agent_id}" + (f" '{tl.name}'" if tl.name else ""))
    if tl.trust:
        print(f"  trust: {tl.trust[0]}: {tl.trust[1]}")
    print("  versions:")
    for v in tl.versions:
        mark = "✓" if v.in_chain else "✗"
        rot = f"; rotation {v.rotation}: {v.rotation_reason}" if v.rotation else ""
        when = f"; rotated away {v.rotated_at}" if v.rotated_at else ""
        print(f"    {mark} {v.date}  {v.version}  {v.algorithm or '?'}  {(v.key_hash or '?')[:16]}…{rot}{when}")
        if v.problem:
            print(f"        ! {v.problem}")
    print("  key epochs:")
    for e in tl.epochs:
        until = e.until or "now"
        own = "" if e.own else "  (not the agent's key)"
        print(f"    {e.key_hash[:16]}…  {e.algorithm or '?':<12} {e.since} → {until}: "
              f"{len(e.documents)} document(s){own}")
    for f in tl.flags:
        print(f"  ! {f.kind}: {f.text}")
        for d in f.documents:
            print(f"      {d}")
    if not tl.flags:
        print("  no flags")
    return EXIT_INVALID if tl.flags else EXIT_OK
