"""``verify-text FILE… [--store STORE] [--json]``: signed ``.md`` / ``.txt`` files, as jacs's
``verify_text`` reports them (same status words)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.errors import JacsError
from .output import EXIT_ERROR, EXIT_INVALID, EXIT_OK, err, print_json

__all__ = ["add_parser", "cmd_verify_text"]

MARKS = {"valid": "✓", "invalid_signature": "✗", "hash_mismatch": "✗", "key_not_found": "?",
         "unsupported_algorithm": "?", "malformed": "✗"}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    v = sub.add_parser("verify-text", help="verify the inline JACS signatures of text/markdown files "
                       "(exit 2: a signature does not hold)")
    v.add_argument("files", nargs="+", metavar="FILE")
    v.add_argument("--store", help="the store whose public keys verify the signers (default: the folder the file "
                   "is in, when it is a store)")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_verify_text)


def cmd_verify_text(args: argparse.Namespace) -> int:
    from ..jobs.local_files import folder_store
    from ..jobs.media import verify_text_file
    from ..storage.opener import open_store

    results = {}
    try:
        store = open_store(args.store) if args.store else None
        try:
            for name in args.files:
                path = Path(name).expanduser()
                own = store if store is not None else folder_store(path.resolve().parent)
                try:
                    results[name] = verify_text_file(path, own.keys() if own is not None else None)
                finally:
                    if own is not None and own is not store:
                        own.close()
        finally:
            if store is not None:
                store.close()
    except JacsError as exc:
        err(str(exc))
        return EXIT_ERROR
    if args.json:
        print_json({name: r.to_dict() for name, r in results.items()}, ensure_ascii=False)
    else:
        for name, r in results.items():
            print(f"{name}: {r.status}" + (f" ({r.error})" if r.error else ""))
            for s in r.signatures:
                why = f": {s.reason}" if s.reason else ""
                print(f"    {MARKS.get(s.status, '?')} {s.status:<20} {s.signer_id or '?'} ({s.algorithm}) "
                      f"{s.timestamp}{why}")
    statuses = {s.status for r in results.values() for s in r.signatures} | {r.status for r in results.values()}
    if statuses & {"invalid_signature", "hash_mismatch", "malformed"}:
        return EXIT_INVALID
    if statuses & {"missing_signature", "key_not_found", "unsupported_algorithm"}:
        return EXIT_ERROR
    return EXIT_OK
