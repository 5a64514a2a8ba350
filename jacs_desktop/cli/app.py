"""The ``jacs-desktop-cli`` parser and entry point: one sub-command module per command group."""

from __future__ import annotations

import argparse

from .. import __version__
from . import (
    agreements,
    attestations,
    backup,
    checkpoint,
    connections,
    doctor,
    identity,
    media,
    migrate,
    sign,
    trust,
    verify,
)
from .output import EXIT_ERROR, PROG, err, safe_streams

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Verify and sign JACS data.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    verify.add_parser(sub)
    sign.add_parser(sub)
    doctor.add_parser(sub)
    migrate.add_parser(sub)
    backup.add_parsers(sub)  # backup (with its verify and profiles) and restore
    connections.add_parser(sub)
    agreements.add_parser(sub)
    identity.add_parser(sub)
    trust.add_parser(sub)
    checkpoint.add_parser(sub)
    media.add_parser(sub)
    attestations.add_parser(sub)
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
    args = parse_args(build_parser(), argv)
    try:
        code: int = args.func(args)
        return code
    except KeyboardInterrupt:
        err("interrupted")
        return EXIT_ERROR
