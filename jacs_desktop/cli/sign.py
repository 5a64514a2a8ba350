"""``sign``: a new document signed by an agent, stored where jacs would store it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.errors import JacsError
from .output import EXIT_ERROR, EXIT_OK, err
from .prompts import password_for

__all__ = ["add_parser", "cmd_sign"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser("sign", help="sign a new document as an agent and store it where jacs would")
    s.add_argument("--config", required=True, help="the agent's jacs.config.json")
    s.add_argument("--json-file", required=True, help="JSON body (an object is signed as the document payload)")
    s.add_argument("--attach", action="append", metavar="FILE", help="attach a file (repeatable)")
    s.add_argument("--embed", action="store_true", help="embed attachments in the document")
    s.set_defaults(func=cmd_sign)


def cmd_sign(args: argparse.Namespace) -> int:
    from ..core.identity import Identity
    from ..jobs.local_files import local_attachments, read_body, store_signed

    try:
        identity = Identity.load(args.config)
        body = read_body(Path(args.json_file).expanduser())
        attachments, copies = local_attachments(identity, args.attach or [], embed=args.embed,
                                                note=lambda line: print(line, file=sys.stderr))
        signer = identity.unlock(password_for(identity))
        doc = signer.new_document(body, attachments=attachments)
        store_signed(identity, doc, copies)
    except JacsError as exc:
        err(str(exc))
        return EXIT_ERROR
    print(f"{doc['jacsId']}:{doc['jacsVersion']}")
    return EXIT_OK
