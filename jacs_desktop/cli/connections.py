"""``connections list | add NAME URL | remove NAME | test NAME``: saved connections (their
secrets go to the OS keyring, or the encrypted secrets file)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING

from ..core.errors import JacsError
from .output import EXIT_ERROR, EXIT_OK, err, print_json
from .prompts import cli_secrets, on_terminal

if TYPE_CHECKING:
    from ..storage.connections import Connections

__all__ = ["add_parser", "cmd_connections"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    c = sub.add_parser("connections", help="saved connections (secrets go to the OS keyring)")
    c.add_argument("action", choices=["list", "add", "remove", "test"])
    c.add_argument("name", nargs="?")
    c.add_argument("url", nargs="?")
    c.add_argument("--access-key", help="S3 access key id (the secret key goes to the keyring)")
    c.add_argument("--secret-key-stdin", action="store_true", help="read the S3 secret key from standard input")
    c.add_argument("--replace", action="store_true", help="replace a connection with the same name")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_connections)


def cmd_connections(args: argparse.Namespace) -> int:
    from ..storage.connections import Connections

    try:
        conns = Connections(secrets=cli_secrets() if args.action in ("add", "remove", "test") else None)
        if args.action == "list":
            return _list(conns, args)
        if args.action == "add":
            return _add(conns, args)
        if args.action == "remove":
            conns.remove(args.name)
            print(f"removed {args.name}")
            return EXIT_OK
        if args.action == "test":
            return _test(conns, args)
    except JacsError as exc:
        err(str(exc))
        return EXIT_ERROR
    return EXIT_ERROR


def _list(conns: Connections, args: argparse.Namespace) -> int:
    items = conns.list()
    if args.json:
        print_json([c.to_json() for c in items])
    elif not items:
        print("No saved connections. Add one: jacs-desktop-cli connections add NAME URL")
    for c in items if not args.json else []:
        print(f"{c.name}\t{c.url}" + (f"\t(access key {c.access_key})" if c.access_key else ""))
    return EXIT_OK


def _add(conns: Connections, args: argparse.Namespace) -> int:
    if not args.name or not args.url:
        raise JacsError("usage: connections add NAME URL [--access-key KEY] [--secret-key-stdin]")
    secret = None
    if args.secret_key_stdin:
        secret = sys.stdin.readline().rstrip("\n")
    elif args.access_key and on_terminal():
        secret = getpass.getpass("Secret key: ")
    if args.access_key and not secret:
        raise JacsError("An access key needs its secret key (--secret-key-stdin)")
    from ..storage.secrets import Secrets

    secrets = conns.secrets  # a Secrets: "add" opens the connections with cli_secrets()
    if secret and not (isinstance(secrets, Secrets) and secrets.persistent):
        warning = secrets.warning if isinstance(secrets, Secrets) else None
        raise JacsError(f"{warning or 'No secure keyring'}. Set JACS_DESKTOP_SECRETS=file and "
                        "JACS_DESKTOP_MASTER_PASSWORD to keep it in an encrypted file.")
    c = conns.add(args.name, args.url, access_key=args.access_key, secret_key=secret, replace=args.replace)
    print(f"saved {c.name}: {c.url}")
    return EXIT_OK


def _test(conns: Connections, args: argparse.Namespace) -> int:
    from ..jobs.doctor import doctor
    from ..storage.urls import open_objects

    c = conns.get(args.name)
    report = doctor(lambda: open_objects(c.url, secrets=c.resolve_secrets()), c.url)
    print(f"{c.name}: {report.status}")
    for f in report.failures:
        print(f"  ✗ {f}")
    return report.code
