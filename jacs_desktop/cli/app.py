"""The ``jacs-desktop-cli`` parser and entry point: one sub-command module per command group.

:func:`main` builds only the parser of the command it is given (building all of them costs
more start-up time than verifying a small store); ``--help``, ``--version`` or an unknown
command get the whole parser, so their messages list every command.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any

from .. import __version__
from .output import EXIT_ERROR, PROG, err, safe_streams

__all__ = ["build_parser", "main", "COMMANDS"]

#: each command → the module (in this package) that adds its parser, in the order of the help
COMMANDS: dict[str, str] = {
    "verify": "verify",
    "sign": "sign",
    "doctor": "doctor",
    "migrate": "migrate",
    "backup": "backup",  # backup (with its verify and profiles) and restore
    "restore": "backup",
    "connections": "connections",
    "agreements": "agreements",
    "identity": "identity",
    "trust": "trust",
    "checkpoint": "checkpoint",
    "verify-text": "media",
    "verify-image": "media",
    "attestations": "attestations",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (*command*) one with only the sub-commands of that command's module."""
    p = argparse.ArgumentParser(prog=PROG, description="Verify and sign JACS data.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    names = [COMMANDS[command]] if command in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for name in names:
        module: Any = importlib.import_module(f".{name}", __package__)
        (module.add_parsers if hasattr(module, "add_parsers") else module.add_parser)(sub)
    return p


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """``parser.parse_args``, with a second stage for a command that parses the rest of its line
    itself (``backup verify …``, ``backup profiles …``: see :mod:`jacs_desktop.cli.backup`)."""
    args, rest = parser.parse_known_args(argv)
    finish = getattr(args, "finish_parsing", None)
    if finish is not None:
        args, rest = finish(args, rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return args


def main(argv: list[str] | None = None) -> int:
    safe_streams()
    line = sys.argv[1:] if argv is None else argv
    args = parse_args(build_parser(line[0] if line else None), argv)
    args.whole_process = argv is None  # (the program's own command line: see cli/verify.py's end_process)
    try:
        code: int = args.func(args)
        return code
    except KeyboardInterrupt:
        err("interrupted")
        return EXIT_ERROR
