"""``jacs-desktop-cli``: verify and sign JACS data from scripts.

Exit codes: 0 everything valid (or command succeeded), 2 something is invalid,
1 an error (bad arguments, unreadable files, wrong password).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import sys
from pathlib import Path

from . import __version__
from .core.errors import JacsError
from .core.verify import KeyRing, Verdict, verify_bytes
from .jobs.verify_all import VerifyReport, verify_store

EXIT_OK, EXIT_ERROR, EXIT_INVALID = 0, 1, 2

_MARK = {"valid": "✓", "invalid": "✗", "unverifiable": "?", "legacy": "L", "error": "E"}
_CHECK_MARK = {"ok": "✓", "failed": "✗", "unverifiable": "?", "legacy": "L", "warning": "!", "skipped": "-",
               "error": "E"}


def _err(msg: str) -> None:
    print(f"jacs-desktop-cli: error: {msg}", file=sys.stderr)


def _print_verdict(v: Verdict, verbose: bool) -> None:
    name = f"{v.id}:{v.version}" if v.id else (v.path or "?")
    signer = f" signed by {v.signer}" if v.signer else ""
    alg = f" ({v.algorithm})" if v.algorithm else ""
    print(f"{_MARK.get(v.status, '?')} {v.status:<12} {v.kind:<8} {name}{signer}{alg}")
    if v.status != "valid" or verbose:
        for c in v.checks:
            if verbose or c.status not in ("ok", "skipped"):
                print(f"      {_CHECK_MARK.get(c.status, '?')} {c.name}: {c.reason}")
    else:
        for c in v.warnings:
            print(f"      ! {c.name}: {c.reason}")


def _folder_store(folder: Path, need_config: bool = False):
    """The store a folder is (None when it is not one, or has no config and one is needed)."""
    from .storage.fs import FsStore
    from .storage.store import Store

    try:
        store = Store(FsStore(folder))
        if need_config and not store.configs():
            return None
    except JacsError:
        return None
    return store


def _keys_from_folder(ring, kd: Path) -> int:
    """--keys DIR: ``public_keys/``, the folder itself, ``jacs_data/public_keys/``, ``jacs.public.pem``."""
    from .storage.fs import FsStore
    from .storage.store import public_key_files

    objects = FsStore(kd)
    n = 0
    for prefix in ("public_keys/", "", "jacs_data/public_keys/"):
        for _h, raw, alg, key in public_key_files(objects, prefix):
            ring.add(raw, alg, str(kd / key))
            n += 1
    pub = kd / "jacs.public.pem"
    if pub.is_file():
        ring.add(pub.read_bytes()[: 1 << 16], None, str(pub))
        n += 1
    return n


def _single_file_context(path: Path, keys_dir: str | None, files_dir: str | None):
    """(store or None, key resolver, attachment resolver) for verifying one file."""
    store = None
    # a document inside a store: documents/{id}:{v}.json → use the store around it
    parent = path.resolve().parent
    if parent.name in ("documents", "agent", "archive"):
        base = parent.parent.parent if parent.name == "archive" else parent.parent
        if parent.name == "agent" or (base / "jacs_data").is_dir() or any(base.glob("*.json")):
            store = _folder_store(base if parent.name != "agent" else base.parent)
    if store is None and parent.is_dir():
        store = _folder_store(parent, need_config=True)
    ring = store.keys() if store is not None else KeyRing()
    files = store.read_attachment if store is not None else None
    if keys_dir:
        kd = Path(keys_dir).expanduser()
        if not kd.is_dir():
            raise JacsError(f"--keys: {kd} is not a folder")
        if _keys_from_folder(ring, kd) == 0:
            raise JacsError(f"--keys: no public keys found in {kd} (expected public_keys/{{hash}}.pem or jacs.public.pem)")
    if files_dir:
        fd = Path(files_dir).expanduser().resolve()

        def files(rel: str, _fd=fd):
            p = (_fd / rel).resolve()
            if not p.is_relative_to(_fd) or not p.is_file():
                return None
            return p.read_bytes()

    return store, ring, files


def _looks_like_url(text: str) -> bool:
    return "://" in text or text.startswith("profile:")


def _local_path(text: str) -> Path | None:
    """The folder or file a path or ``file://`` URL names (None for other stores)."""
    from .storage.urls import parse_url

    if _looks_like_url(text) and not text.lower().startswith("file://"):
        return None
    return Path(os.path.expanduser(parse_url(text)["path"]))


def cmd_verify(args: argparse.Namespace) -> int:
    """A folder, a ``file://`` URL, s3://, sqlite://, memory:// or profile:NAME all go
    through the same store opener and the same verifier; a single file is checked
    with the store around it (or --keys/--files)."""
    from .storage.urls import open_store

    try:
        local = _local_path(args.path)
        if local is not None and not local.exists():
            _err(f"{local} does not exist")
            return EXIT_ERROR
        if local is not None and not local.is_dir():
            return _verify_single(local, args)
        store = open_store(args.path)
        try:
            report = verify_store(store)
        finally:
            store.close()
    except JacsError as exc:
        _err(str(exc))
        return EXIT_ERROR
    if not report.results and not report.errors:
        _err(f"no JACS data found in {local or args.path} (looked for configs, jacs_data/ and documents/)")
        return EXIT_ERROR
    return _print_report(report, args)


def _verify_single(target: Path, args: argparse.Namespace) -> int:
    report = VerifyReport()
    try:
        store, ring, files = _single_file_context(target, args.keys, args.files)
        try:
            data = target.read_bytes()
        except OSError as exc:
            _err(f"cannot read {target}: {exc.strerror or exc}")
            return EXIT_ERROR
        if store is not None and not args.files:
            report.results.append(store.verify_data(data, path=str(target)))
        else:
            report.results.append(verify_bytes(data, ring, files, path=str(target)))
    except JacsError as exc:
        _err(str(exc))
        return EXIT_ERROR
    return _print_report(report, args)


def _print_report(report: VerifyReport, args: argparse.Namespace) -> int:
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for v in report.results:
            _print_verdict(v, args.verbose)
        for e in report.errors:
            print(f"! {e}")
        s = report.summary
        print(
            f"{s['total']} checked: {s['valid']} valid, {s['invalid']} invalid, "
            f"{s['unverifiable']} unverifiable, {s['legacy']} legacy"
            + (f", {s['error']} not checked (read errors)" if s.get("error") else "")
            + (f", {s['errors']} errors" if s["errors"] else "")
        )
    return report.exit_code


def _password_for(identity) -> str:
    pw = os.environ.get("JACS_PRIVATE_KEY_PASSWORD")
    if pw:
        return pw
    pw_file = os.environ.get("JACS_PASSWORD_FILE")
    if pw_file:
        try:
            return Path(pw_file).read_text("utf-8").strip()
        except OSError as exc:
            raise JacsError(f"JACS_PASSWORD_FILE {pw_file}: {exc.strerror or exc}") from None
    try:
        from .storage.secrets import default_secrets

        remembered = default_secrets().get(f"agent:{identity.agent_id}:password")
    except JacsError:
        remembered = None
    if remembered:
        return remembered
    if sys.stdin is not None and sys.stdin.isatty():
        return getpass.getpass(f"Password for agent {identity.agent_id}: ")
    raise JacsError("No password: set JACS_PRIVATE_KEY_PASSWORD (or JACS_PASSWORD_FILE), remember it in the "
                    "OS keyring from the app, or run in a terminal")


def cmd_sign(args: argparse.Namespace) -> int:
    from .core.identity import Identity
    from .core.sign import make_attachment

    try:
        identity = Identity.load(args.config)
        body_path = Path(args.json_file).expanduser()
        try:
            raw = body_path.read_bytes()
        except OSError as exc:
            raise JacsError(f"cannot read {body_path}: {exc.strerror or exc}") from None
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise JacsError(f"{body_path} is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            body = {"jacsDocument": {"type": "message", "content": body}}
        attachments = []
        copies = []
        for f in args.attach or []:
            fp = Path(f).expanduser()
            try:
                data = fp.read_bytes()
            except OSError as exc:
                raise JacsError(f"cannot read attachment {fp}: {exc.strerror or exc}") from None
            rel = f"files/{fp.name}"
            att = make_attachment(data, rel, embed=args.embed)
            attachments.append(att)
            if att.embed_reason:
                print(f"{fp.name}: {att.embed_reason}", file=sys.stderr)
            if not att.embed:
                dest = identity.config.data_dir / rel
                if dest.exists() and dest.read_bytes() != data:
                    raise JacsError(f"{dest} already exists with different content; rename the attachment")
                copies.append((fp, dest))
        signer = identity.unlock(_password_for(identity))
        doc = signer.new_document(body, attachments=attachments)
        for src, dest in copies:  # external attachments live under the data directory
            if not dest.exists():  # 0600 in a 0700 files/, like the rest of the data directory
                from .paths import copy_private

                copy_private(src, dest)
        from .storage.fs import FsStore
        from .storage.layout import JacsLayout
        from .storage.store import Store

        store = Store(FsStore(identity.config.root), JacsLayout(""))
        key, created = store.put_document(doc)
        if not created:
            raise JacsError(f"{key} already exists")
    except JacsError as exc:
        _err(str(exc))
        return EXIT_ERROR
    print(f"{doc['jacsId']}:{doc['jacsVersion']}")
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from .jobs.doctor import BROKEN, doctor
    from .storage.urls import open_objects

    report = doctor(lambda: open_objects(args.url, create=args.create), args.url)
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"{report.url or args.url}: {report.status} ({report.seconds:.2f}s)")
        for op, st in report.latency_ms.items():
            print(f"  {op:<7} median {st['median']:.1f} ms, p95 {st['p95']:.1f} ms, max {st['max']:.1f} ms")
        for f in report.failures:
            print(f"  ✗ {f}")
    return report.code if report.code <= BROKEN else BROKEN


def _secrets_for_cli():
    from .storage.secrets import default_secrets

    return default_secrets()


def cmd_connections(args: argparse.Namespace) -> int:
    from .storage.connections import Connections

    try:
        conns = Connections(secrets=_secrets_for_cli() if args.action in ("add", "remove", "test") else None)
        if args.action == "list":
            items = conns.list()
            if args.json:
                json.dump([c.to_json() for c in items], sys.stdout, indent=2)
                sys.stdout.write("\n")
            elif not items:
                print("No saved connections. Add one: jacs-desktop-cli connections add NAME URL")
            for c in items if not args.json else []:
                print(f"{c.name}\t{c.url}" + (f"\t(access key {c.access_key})" if c.access_key else ""))
            return EXIT_OK
        if args.action == "add":
            if not args.name or not args.url:
                raise JacsError("usage: connections add NAME URL [--access-key KEY] [--secret-key-stdin]")
            secret = None
            if args.secret_key_stdin:
                secret = sys.stdin.readline().rstrip("\n")
            elif args.access_key and sys.stdin is not None and sys.stdin.isatty():
                secret = getpass.getpass("Secret key: ")
            if args.access_key and not secret:
                raise JacsError("An access key needs its secret key (--secret-key-stdin)")
            secrets = conns.secrets
            if secret and not secrets.persistent:
                raise JacsError(f"{secrets.warning or 'No secure keyring'}. Set JACS_DESKTOP_SECRETS=file and "
                                "JACS_DESKTOP_MASTER_PASSWORD to keep it in an encrypted file.")
            c = conns.add(args.name, args.url, access_key=args.access_key, secret_key=secret, replace=args.replace)
            print(f"saved {c.name}: {c.url}")
            return EXIT_OK
        if args.action == "remove":
            conns.remove(args.name)
            print(f"removed {args.name}")
            return EXIT_OK
        if args.action == "test":
            from .jobs.doctor import doctor
            from .storage.urls import open_objects

            c = conns.get(args.name)
            report = doctor(lambda: open_objects(c.url, secrets=c.resolve_secrets()), c.url)
            print(f"{c.name}: {report.status}")
            for f in report.failures:
                print(f"  ✗ {f}")
            return report.code
    except JacsError as exc:
        _err(str(exc))
        return EXIT_ERROR
    return EXIT_ERROR


def cmd_migrate(args: argparse.Namespace) -> int:
    from .jobs.migrate import Cancelled, MigrateOptions, migrate
    from .storage.urls import open_store

    try:
        resign = None
        if args.resign:
            if not args.config:
                raise JacsError("--resign needs --config CONFIG (the identity that signs again)")
            from .core.identity import Identity

            identity = Identity.load(args.config)
            resign = identity.unlock(_password_for(identity))
            print(f"warning: re-signing changes the signer of every document to {identity.agent_id}",
                  file=sys.stderr)
        src = open_store(args.src)
        dst = open_store(args.dst, create=True)
        opts = MigrateOptions(only=args.only or "all", latest_only=args.latest_only, dry_run=args.dry_run,
                              verify_source=args.verify_source, resign=resign,
                              concurrency=args.concurrency or _settings_concurrency())

        def progress(done, total, msg):
            if not args.json and sys.stderr.isatty():
                print(f"\r{done}/{total}", end="", file=sys.stderr, flush=True)

        try:
            report = migrate(src, dst, opts, progress=progress)
        except Cancelled as exc:
            report = exc.report
    except JacsError as exc:
        _err(str(exc))
        return EXIT_ERROR
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
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


def _settings_concurrency() -> int:
    from .storage.base import StorageError
    from .storage.settings import load_settings

    try:
        return load_settings().concurrency
    except StorageError:
        return 4


def _backup_passphrase(required: bool) -> str | None:
    pw = os.environ.get("JACS_DESKTOP_BACKUP_PASSPHRASE")
    if pw:
        return pw
    if required:
        if sys.stdin is not None and sys.stdin.isatty():
            return getpass.getpass("Backup passphrase: ")
        raise JacsError("A passphrase is needed: set JACS_DESKTOP_BACKUP_PASSPHRASE or run in a terminal")
    return None


def _is_archive_name(text: str) -> bool:
    from .jobs.profiles import is_archive_name

    return is_archive_name(text)


def _print_migrate(r, args: argparse.Namespace) -> int:
    if args.json:
        json.dump(r.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        s = r.summary()
        print(f"incremental backup: copied {s['copied']}, already there {s['skipped']}, failed {s['failed']}")
        for k, reason in r.failed:
            print(f"  ✗ {k}: {reason}")
    return EXIT_OK if r.ok else EXIT_INVALID


def cmd_backup(args: argparse.Namespace) -> int:
    from .jobs.backup import backup, is_encrypted, verify_archive
    from .jobs.profiles import BackupProfile, BackupProfiles, command_line, run_profile
    from .storage.urls import open_store

    try:
        items = args.items or []
        if args.profile:
            if items:
                raise JacsError("usage: backup --profile NAME  (no SRC DEST with a profile)")
            profiles = BackupProfiles()
            prof = profiles.get(args.profile)
            report = run_profile(prof, profiles.passphrase(prof))
            if not prof.to_archive:
                return _print_migrate(report, args)
        elif items[:1] == ["profiles"]:
            profiles = BackupProfiles()
            if len(items) == 3 and items[1] == "remove":
                profiles.remove(items[2])
                print(f"removed backup profile {items[2]!r}")
                return EXIT_OK
            if len(items) != 1:
                raise JacsError("usage: backup profiles [remove NAME]")
            rows = [p.to_json() | {"command": command_line(p.name)} for p in profiles.list()]
            if args.json:
                json.dump(rows, sys.stdout, indent=2)
                sys.stdout.write("\n")
            else:
                for r in rows:
                    enc = " (encrypted)" if r["encrypt"] else ""
                    print(f"{r['name']}: {r['source']} -> {r['destination']}{enc}\n    {r['command']}")
            return EXIT_OK
        elif items[:1] == ["verify"]:
            if len(items) != 2:
                raise JacsError("usage: backup verify ARCHIVE")
            archive = Path(items[1])
            report = verify_archive(archive, passphrase=_backup_passphrase(is_encrypted(archive)))
        else:
            if len(items) != 2:
                raise JacsError("usage: backup SRC DEST [--encrypt] [--save-profile NAME]  "
                                "(DEST: a .tar.gz/.tar.zst file or another store)")
            src_url, dest = items
            if args.save_profile:
                profiles = BackupProfiles(secrets=_secrets_for_cli() if args.encrypt else None)
                passphrase = _backup_passphrase(True) if args.encrypt else None
                lost = profiles.not_remembered() if passphrase else None
                prof = profiles.add(BackupProfile(args.save_profile, src_url, dest, bool(args.encrypt),
                                                  bool(args.include_private_keys)), passphrase=passphrase,
                                    replace=args.replace)
                if lost is None:
                    print(f"saved backup profile {prof.name!r}; run it with:\n    {command_line(prof.name)}")
                    return EXIT_OK
                # no secure keyring (as ``connections add`` says): the profile is kept, its passphrase is not
                print(f"jacs-desktop-cli: warning: {lost.rstrip('.')}. The passphrase of {prof.name!r} cannot "
                      "be remembered: give it at run time in JACS_DESKTOP_BACKUP_PASSPHRASE, or set "
                      "JACS_DESKTOP_SECRETS=file and JACS_DESKTOP_MASTER_PASSWORD to keep it in an encrypted file "
                      "and save the profile again.", file=sys.stderr)
                print(f"saved backup profile {prof.name!r} without its passphrase; run it with:\n"
                      f"    JACS_DESKTOP_BACKUP_PASSPHRASE=... {command_line(prof.name)}")
                return EXIT_OK
            src = open_store(src_url)
            if _is_archive_name(dest):
                report = backup(src, dest, passphrase=_backup_passphrase(True) if args.encrypt else None,
                                include_private_keys=args.include_private_keys)
            else:  # incremental: versions are immutable, only missing ones are copied
                from .jobs.migrate import MigrateOptions, migrate

                return _print_migrate(migrate(src, open_store(dest, create=True), MigrateOptions()), args)
    except JacsError as exc:
        _err(str(exc))
        return EXIT_ERROR
    for w in report.warnings:  # a backup of a store with versions that do not verify
        print(f"jacs-desktop-cli: warning: {w}", file=sys.stderr)
    return _emit(report, args, f"{report.path}: {report.entries} entries, {report.bytes:,} bytes"
                 + (f", verdicts {report.verdicts}" if report.verdicts else ""))


def _emit(report, args: argparse.Namespace, line: str) -> int:
    """Print an archive report (or its JSON); exit with its verdict: 0 intact and valid,
    2 versions that do not verify, 1 damaged entries or other errors."""
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(line)
        for p in report.problems:
            print(f"  ✗ {p}")
    return report.exit_code


def cmd_restore(args: argparse.Namespace) -> int:
    from .jobs.backup import is_encrypted, restore
    from .storage.urls import open_store

    try:
        archive = Path(args.archive)
        if not archive.is_file():
            raise JacsError(f"{archive} is not a file")
        report = restore(archive, open_store(args.dst, create=True),
                         passphrase=_backup_passphrase(is_encrypted(archive)), policy=args.policy,
                         partial=args.partial, skip_invalid=args.skip_invalid)
    except JacsError as exc:
        _err(str(exc))
        return EXIT_ERROR
    return _emit(report, args, f"restored {len(report.restored)}, already there {len(report.skipped)}, "
                               f"conflicts {len(report.conflicts)}, left out {len(report.left_out)}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="jacs-desktop-cli", description="Verify and sign JACS data.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("verify", help="verify a store folder or one document file")
    v.add_argument("path", help="a folder (storage root or data directory), a document file, or a store URL "
                   "(s3://…, sqlite://…, profile:NAME)")
    v.add_argument("--json", action="store_true", help="print a JSON report")
    v.add_argument("--keys", metavar="DIR", help="public keys for a single file (public_keys/ or a key folder)")
    v.add_argument("--files", metavar="DIR", help="folder that external attachments are relative to")
    v.add_argument("-v", "--verbose", action="store_true", help="show every check")
    v.set_defaults(func=cmd_verify)

    s = sub.add_parser("sign", help="sign a new document as an agent and store it where jacs would")
    s.add_argument("--config", required=True, help="the agent's jacs.config.json")
    s.add_argument("--json-file", required=True, help="JSON body (an object is signed as the document payload)")
    s.add_argument("--attach", action="append", metavar="FILE", help="attach a file (repeatable)")
    s.add_argument("--embed", action="store_true", help="embed attachments in the document")
    s.set_defaults(func=cmd_sign)

    d = sub.add_parser("doctor", help="check that a store works: write, read back, list, clean up")
    d.add_argument("url", help="a folder, s3://…, sqlite://…, memory://… or profile:NAME")
    d.add_argument("--json", action="store_true")
    d.add_argument("--create", action="store_true", help="create the folder/bucket/database if missing")
    d.set_defaults(func=cmd_doctor)

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

    b = sub.add_parser("backup", help="back up a store (SRC DEST or --profile NAME), check an archive "
                       "(verify ARCHIVE), list saved profiles (profiles)")
    b.add_argument("items", nargs="*", metavar="SRC DEST | verify ARCHIVE | profiles [remove NAME]")
    b.add_argument("--profile", metavar="NAME", help="run a saved backup profile (for cron / Task Scheduler)")
    b.add_argument("--save-profile", metavar="NAME", help="save SRC DEST and the options as a profile")
    b.add_argument("--replace", action="store_true", help="with --save-profile: replace a profile of that name")
    b.add_argument("--encrypt", action="store_true", help="encrypt with a passphrase (JACS_DESKTOP_BACKUP_PASSPHRASE)")
    b.add_argument("--include-private-keys", action="store_true",
                   help="also back up encrypted private keys (left out by default)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_backup)

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

    c = sub.add_parser("connections", help="saved connections (secrets go to the OS keyring)")
    c.add_argument("action", choices=["list", "add", "remove", "test"])
    c.add_argument("name", nargs="?")
    c.add_argument("url", nargs="?")
    c.add_argument("--access-key", help="S3 access key id (the secret key goes to the keyring)")
    c.add_argument("--secret-key-stdin", action="store_true", help="read the S3 secret key from standard input")
    c.add_argument("--replace", action="store_true", help="replace a connection with the same name")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_connections)
    return p


def _safe_streams() -> None:
    """A terminal or pipe that cannot take UTF-8 (``PYTHONIOENCODING=ascii``, a C locale) gets
    escapes for ✓ ✗ and non-ASCII names instead of a UnicodeEncodeError traceback."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and (stream.encoding or "").lower().replace("-", "") != "utf8":
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass


def main(argv: list[str] | None = None) -> int:
    _safe_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
