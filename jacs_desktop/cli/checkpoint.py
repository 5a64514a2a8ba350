"""``checkpoint create | list | compare | diff``: signed store checkpoints (see jobs/checkpoints.py)."""

from __future__ import annotations

import argparse

from ..core.errors import JacsError
from .output import EXIT_ERROR, EXIT_INVALID, EXIT_OK, err, print_json
from .prompts import password_for

__all__ = ["add_parser", "cmd_checkpoint"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    c = sub.add_parser("checkpoint", help="signed checkpoints of a whole store: what appeared, vanished or changed")
    acts = c.add_subparsers(dest="checkpoint_action", required=True)
    mk = acts.add_parser("create", help="sign a checkpoint of every stored version and store it")
    mk.add_argument("store")
    mk.add_argument("--config", required=True, help="the signing agent's jacs.config.json")
    ls = acts.add_parser("list", help="the checkpoints in a store, verified")
    ls.add_argument("store")
    ls.add_argument("--json", action="store_true")
    cmp = acts.add_parser("compare", help="compare the store with a checkpoint (exit 2: something vanished or "
                          "changed)")
    cmp.add_argument("store")
    cmp.add_argument("--checkpoint", metavar="ID", help="default: the latest checkpoint")
    cmp.add_argument("--json", action="store_true")
    df = acts.add_parser("diff", help="sign the difference between two checkpoints and store it")
    df.add_argument("store")
    df.add_argument("from_id", metavar="FROM")
    df.add_argument("to_id", metavar="TO")
    df.add_argument("--config", required=True, help="the signing agent's jacs.config.json")
    for p in (mk, ls, cmp, df):
        p.set_defaults(func=cmd_checkpoint)


def cmd_checkpoint(args: argparse.Namespace) -> int:
    from ..jobs import checkpoints as cp
    from ..storage.opener import open_store

    try:
        signer = None
        if args.checkpoint_action in ("create", "diff"):
            from ..core.identity import Identity

            identity = Identity.load(args.config)
            signer = identity.unlock(password_for(identity))
        store = open_store(args.store)
        try:
            if args.checkpoint_action == "create":
                assert signer is not None
                doc = cp.make_checkpoint(store, signer)
                body = doc[cp.FIELD]
                print(f"{doc['jacsId']}:{doc['jacsVersion']}  root {body['root']}  ({body['count']} versions)")
                return EXIT_OK
            if args.checkpoint_action == "diff":
                assert signer is not None
                doc = cp.signed_diff(store, args.from_id, args.to_id, signer)
                d = doc[cp.DIFF_FIELD]
                print(f"{doc['jacsId']}:{doc['jacsVersion']}  {len(d['appeared'])} appeared, {len(d['vanished'])} "
                      f"vanished, {len(d['changed'])} changed")
                return EXIT_OK
            if args.checkpoint_action == "list":
                rows = cp.checkpoints(store)
                if args.json:
                    print_json({"checkpoints": [c.to_dict() for c in rows]})
                    return EXIT_OK
                for c in rows:
                    state = f"✗ {c.problem}" if c.problem else "✓"
                    print(f"{c.date}  {c.id}:{c.version}  root {c.root[:16]}…  {c.count} versions  "
                          f"signed by {c.signer}  {state}")
                print(f"{len(rows)} checkpoint(s)")
                return EXIT_OK
            result = cp.compare(store, args.checkpoint)
        finally:
            store.close()
    except JacsError as exc:
        err(str(exc))
        return EXIT_ERROR
    if args.json:
        print_json(result.to_dict(), ensure_ascii=False)
    else:
        b = result.base
        print(f"since checkpoint {b['id']}:{b['version']} ({b['date']}, signed by {b['signer']}):")
        for what, keys in (("vanished", result.vanished), ("changed", result.changed),
                           ("appeared", result.appeared), ("new checkpoint", result.new_checkpoints)):
            for k in keys:
                print(f"  {what:<14} {k}")
        for e in result.errors:
            print(f"  ! {e}")
        if result.unchanged:
            print("  nothing appeared, vanished or changed")
    if result.vanished or result.changed:
        return EXIT_INVALID
    return EXIT_ERROR if result.errors else EXIT_OK
