"""``migrate SRC DST``: copy a whole store to another (resumable; the source is only read)."""

from __future__ import annotations

import argparse
import sys

from ..core.errors import JacsError
from .output import EXIT_ERROR, EXIT_INVALID, EXIT_OK, err, print_json
from .prompts import password_for

__all__ = ["add_parser", "cmd_migrate", "settings_concurrency"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    m = sub.add_parser("migrate", help="copy a whole store to another store (resumable; the source is only read)")
    m.add_argument("src")
    m.add_argument("dst")
    m.add_argument("--dry-run", action="store_true", help="show what would be copied, skipped or in conflict")
    m.add_argument("--resign", action="store_true", help="sign every document again (changes the signer!)")
    m.add_argument("--config", help="the identity for --resign")
    m.add_argument("--only", choices=["agents", "documents"])
    m.add_argument("--latest-only", action="store_true", help="only the latest version of each document")
    m.add_argument("--verify-source", action="store_true", help="copy only versions that verify")
    m.add_argument("--concurrency", type=int, default=None,
                   help="transfers in flight (default: the Settings value, 4 unless changed)")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_migrate)


def cmd_migrate(args: argparse.Namespace) -> int:
    from ..jobs.migrate import Cancelled, MigrateOptions, migrate
    from ..storage.urls import open_store

    try:
        resign = None
        if args.resign:
            if not args.config:
                raise JacsError("--resign needs --config CONFIG (the identity that signs again)")
            from ..core.identity import Identity

            identity = Identity.load(args.config)
            resign = identity.unlock(password_for(identity))
            print(f"warning: re-signing changes the signer of every document to {identity.agent_id}",
                  file=sys.stderr)
        src = open_store(args.src)
        dst = open_store(args.dst, create=True)
        opts = MigrateOptions(only=args.only or "all", latest_only=args.latest_only, dry_run=args.dry_run,
                              verify_source=args.verify_source, resign=resign,
                              concurrency=args.concurrency or settings_concurrency())

        def progress(done: int, total: int, msg: str) -> None:
            if not args.json and sys.stderr.isatty():
                print(f"\r{done}/{total}", end="", file=sys.stderr, flush=True)

        try:
            report = migrate(src, dst, opts, progress=progress)
        except Cancelled as exc:
            report = exc.report
    except JacsError as exc:
        err(str(exc))
        return EXIT_ERROR
    if args.json:
        print_json(report.to_dict())
    else:
        s = report.summary()
        verb = "would copy" if args.dry_run else "copied"
        n = s["would_copy"] if args.dry_run else s["copied"]
        print(f"{verb} {n}, skipped {s['skipped']}, failed {s['failed']} ({s['bytes']:,} bytes, {s['seconds']:.1f}s)")
        for k, r in report.failed:
            print(f"  ✗ {k}: {r}")
        if report.stopped:
            print(f"  {report.stopped} ({report.not_attempted} not attempted)")
    return EXIT_OK if report.ok else EXIT_INVALID


def settings_concurrency() -> int:
    """Transfers in flight when --concurrency is not given: the Settings value (4 if unreadable)."""
    from ..storage.base import StorageError
    from ..storage.settings import load_settings

    try:
        return load_settings().concurrency
    except StorageError:
        return 4
