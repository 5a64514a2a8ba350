"""``backup SRC DEST``, ``backup --profile NAME``, ``backup verify ARCHIVE``,
``backup profiles [remove NAME]`` and ``restore ARCHIVE DST``.

How ``backup`` is parsed (a documented pre-dispatch): argparse sub-parsers pick the
sub-command by the first word, and here that word may be a SRC path, so ``backup`` is parsed
in two stages. Stage one is the ``backup`` parser itself (the SRC DEST form and every backup
option, as it always was); when its first positional is ``verify`` or ``profiles``, stage two
parses the rest of the line with that sub-command's own parser (and its ``--help``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..core.errors import JacsError
from .output import EXIT_ERROR, EXIT_INVALID, EXIT_OK, PROG, err, print_json, warn
from .prompts import backup_passphrase, cli_secrets

if TYPE_CHECKING:
    from ..jobs.migrate import MigrateReport

__all__ = ["add_parsers", "cmd_backup", "cmd_backup_verify", "cmd_backup_profiles", "cmd_restore",
           "SUBCOMMANDS"]

_RUN_USAGE = ("usage: backup SRC DEST [--encrypt] [--save-profile NAME]  "
              "(DEST: a .tar.gz/.tar.zst file or another store)")
_PROFILE_USAGE = "usage: backup --profile NAME  (no SRC DEST with a profile)"


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    b = sub.add_parser(
        "backup", add_help=False,
        help="back up a store (SRC DEST or --profile NAME), check an archive (verify ARCHIVE), "
             "list saved profiles (profiles)",
        usage=f"{PROG} backup SRC DEST [options] | --profile NAME | verify ARCHIVE | profiles [remove NAME]",
        description="Back up a store to an archive or, incrementally, to another store; or run a saved "
                    "backup profile.",
        epilog=f"sub-commands: '{PROG} backup verify --help', '{PROG} backup profiles --help'")
    b.add_argument("-h", "--help", action="store_true", help="show this help message and exit")
    b.add_argument("items", nargs="*", metavar="SRC DEST",
                   help="the store to back up, and where to: an archive file (.tar.gz, .tar.zst) or another "
                   "store (incremental: only the versions it lacks are copied)")
    b.add_argument("--profile", metavar="NAME", help="run a saved backup profile (for cron / Task Scheduler)")
    b.add_argument("--save-profile", metavar="NAME", help="save SRC DEST and the options as a profile")
    b.add_argument("--replace", action="store_true", help="with --save-profile: replace a profile of that name")
    b.add_argument("--encrypt", action="store_true", help="encrypt with a passphrase (JACS_DESKTOP_BACKUP_PASSPHRASE)")
    b.add_argument("--include-private-keys", action="store_true",
                   help="also back up encrypted private keys (left out by default)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_backup, finish_parsing=lambda args, rest: _finish_parsing(b, args, rest))

    r = sub.add_parser("restore", help="restore an archive into a store (checked and verified first); exit 2: "
                       "versions that do not verify (reported), 1: damaged entries or errors")
    r.add_argument("archive")
    r.add_argument("dst")
    r.add_argument("--policy", choices=["skip", "keep-both", "overwrite-identical"], default="skip")
    r.add_argument("--skip-invalid", action="store_true",
                   help="leave out versions that do not verify (default: restore them byte for byte, reported)")
    r.add_argument("--partial", action="store_true",
                   help="restore every intact entry even when some are damaged (default: a damaged archive "
                   "restores nothing)")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_restore)


# -- stage two: the sub-commands' own parsers ---------------------------------------------------

def _verify_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"{PROG} backup verify", usage="%(prog)s ARCHIVE [--json]",
        description="Check an archive: every entry intact, every version verified (an encrypted archive "
                    "needs JACS_DESKTOP_BACKUP_PASSPHRASE). Exit 0: intact and valid, 2: versions that do "
                    "not verify, 1: damaged entries or errors.")
    p.add_argument("archive", nargs="*", metavar="ARCHIVE", help="a .tar.gz / .tar.zst backup")
    p.add_argument("--json", action="store_true", help="print a JSON report")
    return p


def _profiles_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"{PROG} backup profiles", usage="%(prog)s [remove NAME] [--json]",
        description="List the saved backup profiles with the command line that runs each one "
                    f"('{PROG} backup --profile NAME', for cron / Task Scheduler), or remove one.")
    p.add_argument("words", nargs="*", metavar="remove NAME", help="remove the profile NAME")
    p.add_argument("--json", action="store_true", help="print the profiles as JSON")
    return p


def _subcommands() -> dict[str, tuple[Callable[[], argparse.ArgumentParser], Callable[[argparse.Namespace], int]]]:
    return {"verify": (_verify_parser, cmd_backup_verify), "profiles": (_profiles_parser, cmd_backup_profiles)}


#: the words after ``backup`` that are sub-commands (anything else is SRC)
SUBCOMMANDS = ("verify", "profiles")


def _finish_parsing(run_parser: argparse.ArgumentParser, args: argparse.Namespace,
                    rest: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """Stage two (see the module docstring). Returns the arguments and what is left unparsed."""
    items = args.items or []
    word = items[0] if items else None
    if word not in SUBCOMMANDS:
        if args.help:
            run_parser.print_help()
            run_parser.exit()
        return args, rest
    make, func = _subcommands()[word]
    # what stage one has parsed stays (argparse only fills in defaults that are missing)
    make().parse_args(items[1:] + rest + (["--help"] if args.help else []), namespace=args)
    args.func = func
    return args, []


# -- the commands -------------------------------------------------------------------------------

def cmd_backup(args: argparse.Namespace) -> int:
    """``backup SRC DEST`` (an archive, or incrementally another store) or ``backup --profile NAME``."""
    from ..jobs.backup import backup
    from ..jobs.profiles import BackupProfiles, is_archive_name, run_profile
    from ..storage.urls import open_store

    try:
        items = args.items or []
        if args.profile:
            if items:
                raise JacsError(_PROFILE_USAGE)
            profiles = BackupProfiles()
            prof = profiles.get(args.profile)
            report = run_profile(prof, profiles.passphrase(prof))
            if not prof.to_archive:
                return _print_migrate(cast("MigrateReport", report), args)
        else:
            if len(items) != 2:
                raise JacsError(_RUN_USAGE)
            src_url, dest = items
            if args.save_profile:
                return _save_profile(args, src_url, dest)
            src = open_store(src_url)
            if is_archive_name(dest):
                report = backup(src, dest, passphrase=backup_passphrase(True) if args.encrypt else None,
                                include_private_keys=args.include_private_keys)
            else:  # incremental: versions are immutable, only missing ones are copied
                from ..jobs.migrate import MigrateOptions, migrate

                return _print_migrate(migrate(src, open_store(dest, create=True), MigrateOptions()), args)
    except JacsError as exc:
        err(str(exc))
        return EXIT_ERROR
    return _archive_done(report, args)


def _save_profile(args: argparse.Namespace, src_url: str, dest: str) -> int:
    from ..jobs.profiles import BackupProfile, BackupProfiles, command_line

    profiles = BackupProfiles(secrets=cli_secrets() if args.encrypt else None)
    passphrase = backup_passphrase(True) if args.encrypt else None
    lost = profiles.not_remembered() if passphrase else None
    prof = profiles.add(BackupProfile(args.save_profile, src_url, dest, bool(args.encrypt),
                                      bool(args.include_private_keys)), passphrase=passphrase,
                        replace=args.replace)
    if lost is None:
        print(f"saved backup profile {prof.name!r}; run it with:\n    {command_line(prof.name)}")
        return EXIT_OK
    # no secure keyring (as ``connections add`` says): the profile is kept, its passphrase is not
    warn(f"{lost.rstrip('.')}. The passphrase of {prof.name!r} cannot "
         "be remembered: give it at run time in JACS_DESKTOP_BACKUP_PASSPHRASE, or set "
         "JACS_DESKTOP_SECRETS=file and JACS_DESKTOP_MASTER_PASSWORD to keep it in an encrypted file "
         "and save the profile again.")
    print(f"saved backup profile {prof.name!r} without its passphrase; run it with:\n"
          f"    JACS_DESKTOP_BACKUP_PASSPHRASE=... {command_line(prof.name)}")
    return EXIT_OK


def cmd_backup_verify(args: argparse.Namespace) -> int:
    from ..jobs.backup import is_encrypted, verify_archive

    try:
        if args.profile:
            raise JacsError(_PROFILE_USAGE)
        if len(args.archive) != 1:
            raise JacsError("usage: backup verify ARCHIVE")
        archive = Path(args.archive[0])
        report = verify_archive(archive, passphrase=backup_passphrase(is_encrypted(archive)))
    except JacsError as exc:
        err(str(exc))
        return EXIT_ERROR
    return _archive_done(report, args)


def cmd_backup_profiles(args: argparse.Namespace) -> int:
    from ..jobs.profiles import BackupProfiles, command_line

    try:
        if args.profile:
            raise JacsError(_PROFILE_USAGE)
        profiles = BackupProfiles()
        words = args.words
        if len(words) == 2 and words[0] == "remove":
            profiles.remove(words[1])
            print(f"removed backup profile {words[1]!r}")
            return EXIT_OK
        if words:
            raise JacsError("usage: backup profiles [remove NAME]")
        rows = [p.to_json() | {"command": command_line(p.name)} for p in profiles.list()]
    except JacsError as exc:
        err(str(exc))
        return EXIT_ERROR
    if args.json:
        print_json(rows)
    else:
        for r in rows:
            enc = " (encrypted)" if r["encrypt"] else ""
            print(f"{r['name']}: {r['source']} -> {r['destination']}{enc}\n    {r['command']}")
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from ..jobs.backup import is_encrypted, restore
    from ..storage.urls import open_store

    try:
        archive = Path(args.archive)
        if not archive.is_file():
            raise JacsError(f"{archive} is not a file")
        report = restore(archive, open_store(args.dst, create=True),
                         passphrase=backup_passphrase(is_encrypted(archive)), policy=args.policy,
                         partial=args.partial, skip_invalid=args.skip_invalid)
    except JacsError as exc:
        err(str(exc))
        return EXIT_ERROR
    return _emit(report, args, f"restored {len(report.restored)}, already there {len(report.skipped)}, "
                               f"conflicts {len(report.conflicts)}, left out {len(report.left_out)}")


# -- printing -----------------------------------------------------------------------------------

def _print_migrate(r: MigrateReport, args: argparse.Namespace) -> int:
    if args.json:
        print_json(r.to_dict())
    else:
        s = r.summary()
        print(f"incremental backup: copied {s['copied']}, already there {s['skipped']}, failed {s['failed']}")
        for k, reason in r.failed:
            print(f"  ✗ {k}: {reason}")
    return EXIT_OK if r.ok else EXIT_INVALID


def _archive_done(report: Any, args: argparse.Namespace) -> int:
    """A backup or a check of an archive: its warnings, then its report."""
    for w in report.warnings:  # a backup of a store with versions that do not verify
        warn(w)
    return _emit(report, args, f"{report.path}: {report.entries} entries, {report.bytes:,} bytes"
                 + (f", verdicts {report.verdicts}" if report.verdicts else ""))


def _emit(report: Any, args: argparse.Namespace, line: str) -> int:
    """Print an archive report (or its JSON); exit with its verdict: 0 intact and valid,
    2 versions that do not verify, 1 damaged entries or other errors."""
    if args.json:
        print_json(report.to_dict())
    else:
        print(line)
        for p in report.problems:
            print(f"  ✗ {p}")
    code: int = report.exit_code
    return code
