"""``verify-text FILE… [--store STORE] [--json]`` and ``verify-image FILE… [--store STORE] [--json]``:
signed ``.md`` / ``.txt`` files and PNG / JPEG / WebP images, as jacs's ``verify_text`` and
``verify_image`` report them (same status words)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.errors import JacsError
from .output import EXIT_ERROR, EXIT_INVALID, EXIT_OK, err, print_json

__all__ = ["add_parser", "cmd_verify_text", "cmd_verify_image"]

MARKS = {"valid": "✓", "invalid_signature": "✗", "hash_mismatch": "✗", "key_not_found": "?",
         "unsupported_algorithm": "?", "malformed": "✗", "missing_signature": "-", "unsupported_format": "?"}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    v = sub.add_parser("verify-text", help="verify the inline JACS signatures of text/markdown files "
                       "(exit 2: a signature does not hold)")
    v.add_argument("files", nargs="+", metavar="FILE")
    v.add_argument("--store", help="the store whose public keys verify the signers (default: the folder the file "
                   "is in, when it is a store)")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_verify_text)
    i = sub.add_parser("verify-image", help="verify the JACS signature embedded in PNG / JPEG / WebP images "
                       "(exit 2: a signature does not hold)")
    i.add_argument("files", nargs="+", metavar="FILE")
    i.add_argument("--store", help="the store whose public keys verify the signers (default: the folder the file "
                   "is in, when it is a store)")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_verify_image)


def _each(args: argparse.Namespace, check: Callable[[Path, Any], Any]) -> dict[str, Any]:
    from ..jobs.local_files import folder_store
    from ..storage.opener import open_store

    results = {}
    store = open_store(args.store) if args.store else None
    try:
        for name in args.files:
            path = Path(name).expanduser()
            own = store if store is not None else folder_store(path.resolve().parent)
            try:
                results[name] = check(path, own.keys() if own is not None else None)
            finally:
                if own is not None and own is not store:
                    own.close()
    finally:
        if store is not None:
            store.close()
    return results


def cmd_verify_image(args: argparse.Namespace) -> int:
    from ..jobs.media import verify_image_file

    try:
        results = _each(args, verify_image_file)
    except JacsError as exc:
        err(str(exc))
        return EXIT_ERROR
    if args.json:
        print_json({name: r.to_dict() for name, r in results.items()}, ensure_ascii=False)
    else:
        for name, r in results.items():
            why = f": {r.reason}" if r.reason else ""
            print(f"{MARKS.get(r.status, '?')} {r.status:<18} {name} ({r.format or '?'}) "
                  f"{r.signer_id or ''}{why}")
    statuses = {r.status for r in results.values()}
    if statuses & {"invalid_signature", "hash_mismatch", "malformed"}:
        return EXIT_INVALID
    if statuses - {"valid"}:
        return EXIT_ERROR
    return EXIT_OK


def cmd_verify_text(args: argparse.Namespace) -> int:
    from ..jobs.media import verify_text_file

    try:
        results = _each(args, verify_text_file)
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
