"""``agreements list STORE [--pending-for AGENT_ID] [--json]`` and ``agreements sign STORE ID --config
CONFIG [--role R]``: the agreement board and signing from the command line."""

from __future__ import annotations

import argparse

from ..core.errors import JacsError
from .output import EXIT_ERROR, EXIT_OK, err, print_json
from .prompts import password_for

__all__ = ["add_parser", "cmd_list", "cmd_sign"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    a = sub.add_parser("agreements", help="every agreement in a store, who signed and who is pending; sign one")
    acts = a.add_subparsers(dest="agreements_action", required=True)
    ls = acts.add_parser("list", help="list the agreements of a store")
    ls.add_argument("store", help="a store folder or URL")
    ls.add_argument("--pending-for", metavar="AGENT_ID", help="only the agreements waiting for this agent's signature")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_list)
    sg = acts.add_parser("sign", help="sign an agreement as an agent; the new version is stored")
    sg.add_argument("store", help="a store folder or URL")
    sg.add_argument("id", help="the agreement's jacsId (its latest version is signed)")
    sg.add_argument("--config", required=True, help="the signing agent's jacs.config.json")
    sg.add_argument("--role", choices=["signer", "witness", "notary"],
                    help="the role to sign in (v2 agreements; default signer)")
    sg.set_defaults(func=cmd_sign)


def cmd_list(args: argparse.Namespace) -> int:
    from ..jobs.agreements import agreement_board, waiting_for
    from ..storage.opener import open_store

    try:
        store = open_store(args.store)
        try:
            board = agreement_board(store)
        finally:
            store.close()
    except JacsError as exc:
        err(str(exc))
        return EXIT_ERROR
    if args.json:
        print_json(board.to_dict(args.pending_for), ensure_ascii=False)
        return EXIT_OK
    rows = waiting_for(board.agreements, args.pending_for)
    for ag in rows:
        forks = f" ⑂ {len(ag.forks) + 1} forks" if ag.forks else ""
        print(f"{ag.id}:{ag.version}  {ag.kind}  {ag.status:<16} {ag.title}{forks}")
        print(f"    quorum: {ag.quorum}" + (" (met)" if ag.quorum_met else "")
              + (f"; effective from {ag.effective_from}" if ag.effective_from else "")
              + (f"; expires {ag.expires_at}" if ag.expires_at else ""))
        for p in ag.parties:
            name = f" '{p.name}'" if p.name else ""
            print(f"    {p.state:<8} {p.role:<8} {p.agent}{name}")
        for n in ag.notes:
            print(f"    ! {n}")
    for doc_id, why in board.errors:
        print(f"! {doc_id}: {why}")
    what = f" waiting for {args.pending_for}" if args.pending_for else ""
    print(f"{len(rows)} agreement(s){what}")
    return EXIT_OK


def cmd_sign(args: argparse.Namespace) -> int:
    from ..core.identity import Identity
    from ..jobs.agreements import sign_in_store
    from ..storage.opener import open_store

    try:
        identity = Identity.load(args.config)
        signer = identity.unlock(password_for(identity))
        store = open_store(args.store)
        try:
            new = sign_in_store(store, args.id, signer, args.role)
        finally:
            store.close()
    except JacsError as exc:
        err(str(exc))
        return EXIT_ERROR
    status = new.get("status")
    print(f"{new['jacsId']}:{new['jacsVersion']}" + (f" ({status})" if isinstance(status, str) else ""))
    return EXIT_OK
