"""``verify``: a store (any URL) or one document file."""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core.errors import JacsError
from .output import CHECK_MARK, EXIT_ERROR, MARK, err, print_json

if TYPE_CHECKING:
    from ..core.verify import Verdict
    from ..jobs.verify_all import VerifyReport

__all__ = ["add_parser", "cmd_verify", "print_report", "print_verdict", "verdict_json", "verdict_text"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    v = sub.add_parser("verify", help="verify a store folder or one document file")
    v.add_argument("path", help="a folder (storage root or data directory), a document file, or a store URL "
                   "(s3://…, sqlite://…, profile:NAME)")
    v.add_argument("--json", action="store_true", help="print a JSON report")
    v.add_argument("--keys", metavar="DIR", help="public keys for a single file (public_keys/ or a key folder)")
    v.add_argument("--files", metavar="DIR", help="folder that external attachments are relative to")
    v.add_argument("-v", "--verbose", action="store_true", help="show every check")
    v.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    """A folder, a ``file://`` URL, s3://, sqlite://, memory:// or profile:NAME all go
    through the same store opener and the same verifier; a single file is checked
    with the store around it (or --keys/--files)."""
    try:
        code = _verify(args)
    except BrokenPipeError:  # the reader of the output went away (``| head``): stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # (no second error at exit)
        return EXIT_ERROR
    if getattr(args, "whole_process", False):
        end_process(code)
    return code


def end_process(code: int) -> None:
    """End the program now that the report is written: flush the output and exit without the
    interpreter's teardown (freeing every object, after a fork every page copied back: 20-70 ms of
    a small store's run). Only for the program's own command line (``main()`` without arguments);
    nothing is left to clean up (the workers are stopped, the store closed). When the output
    cannot be flushed (a closed pipe), the usual exit reports it."""
    import logging
    import os

    try:
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
    except (OSError, ValueError):
        return
    os._exit(code)


def _verify(args: argparse.Namespace) -> int:
    from ..jobs.local_files import local_path, verify_file
    from ..jobs.verify_all import stream_store
    from ..storage.urls import open_store

    try:
        local = local_path(args.path)
        if local is not None and not local.exists():
            err(f"{local} does not exist")
            return EXIT_ERROR
        if local is not None and not local.is_dir():
            return print_report(verify_file(local, args.keys, args.files), args)
        store = open_store(args.path)
        out = _Streamed(args)
        try:
            report = stream_store(store, out.render, out.write, write_many=out.write_many)
        finally:
            store.close()
    except JacsError as exc:
        err(str(exc))
        return EXIT_ERROR
    if not report.total and not report.errors:
        err(f"no JACS data found in {local or args.path} (looked for configs, jacs_data/ and documents/)")
        return EXIT_ERROR
    out.finish(report)
    return report.exit_code


def verdict_json(v: Verdict) -> str:
    """One result of the JSON report (compact: one line): ``json.dumps(v.to_dict(),
    ensure_ascii=False)``, written directly from the verdict (half the time; most checks of a store
    repeat word for word, so their text is kept) when every field is text or None."""
    if v.trust is None:
        try:
            return ('{"kind": ' + _ENC_STR(v.kind) + ', "id": ' + _text(v.id) + ', "version": ' + _text(v.version)
                    + ', "status": ' + _ENC_STR(v.status) + ', "checks": ['
                    + ", ".join([_check_json(c.name, c.status, c.reason) for c in v.checks])
                    + '], "signer": ' + _text(v.signer) + ', "signer_version": ' + _text(v.signer_version)
                    + ', "signer_name": ' + _text(v.signer_name) + ', "algorithm": ' + _text(v.algorithm)
                    + ', "public_key_hash": ' + _text(v.public_key_hash) + ', "path": ' + _text(v.path) + "}")
        except TypeError:  # (a field that is not text: the general encoder writes it)
            pass
    return _encode_line(v.to_dict())


_ENC_STR: Callable[[str], str] = json.encoder.encode_basestring  # (the C function the encoder below uses)


def _text(value: str | None) -> str:
    return "null" if value is None else _ENC_STR(value)


@functools.lru_cache(maxsize=512)
def _check_json(name: str, status: str, reason: str) -> str:
    return '{"name": ' + _ENC_STR(name) + ', "status": ' + _ENC_STR(status) + ', "reason": ' + _ENC_STR(reason) + "}"


def verdict_text(v: Verdict, verbose: bool = False) -> str:
    """The lines :func:`print_verdict` prints for *v*, with the newline."""
    name = f"{v.id}:{v.version}" if v.id else (v.path or "?")
    signer = f" signed by {v.signer}" if v.signer else ""
    alg = f" ({v.algorithm})" if v.algorithm else ""
    lines = [f"{MARK.get(v.status, '?')} {v.status:<12} {v.kind:<8} {name}{signer}{alg}"]
    if v.status != "valid" or verbose:
        for c in v.checks:
            if verbose or c.status not in ("ok", "skipped"):
                lines.append(f"      {CHECK_MARK.get(c.status, '?')} {c.name}: {c.reason}")
    else:
        for c in v.warnings:
            lines.append(f"      ! {c.name}: {c.reason}")
    return "\n".join(lines) + "\n"


_ENCODER = json.JSONEncoder(ensure_ascii=False, check_circular=False)
try:  # the C encoder, made once (JSONEncoder.encode makes one per call): one result per line
    _C_ENCODE = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, _ENCODER.default, json.encoder.encode_basestring, None, ": ", ", ", False, False, True)
except (AttributeError, TypeError):
    _C_ENCODE = None


def _encode_line(value: Any) -> str:
    return "".join(_C_ENCODE(value, 0)) if _C_ENCODE is not None else _ENCODER.encode(value)


class _Streamed:
    """Writes each verdict as it comes (the report is not built in memory): the text lines, or
    the JSON report ``{"results": [...], "summary": {...}, "errors": [...]}`` one result a line.
    The verdicts are rendered where they are made (:func:`verdict_json`, :func:`verdict_text`:
    module functions, so a worker process can run them)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.json = bool(args.json)
        self.render: Callable[[Verdict], str] = (
            verdict_json if self.json else functools.partial(verdict_text, verbose=bool(args.verbose)))
        self.started = False
        self._write = sys.stdout.write

    def write(self, text: str) -> None:
        if self.json:
            text = ('{\n  "results": [\n    ' if not self.started else ",\n    ") + text
            self.started = True
        self._write(text)

    def write_many(self, texts: list[str]) -> None:
        """The renderings of a slice in one write."""
        if not texts:
            return
        if self.json:
            head = '{\n  "results": [\n    ' if not self.started else ",\n    "
            self.started = True
            self._write(head + ",\n    ".join(texts))
        else:
            self._write("".join(texts))

    def finish(self, report: VerifyReport) -> None:
        if not self.json:
            _print_tail(report)
            return
        rest: dict[str, Any] = {"summary": report.summary, "errors": report.errors}
        tail = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in rest.items())
        self._write(("\n  ],\n" if self.started else '{\n  "results": [],\n') + tail + "\n}\n")


def print_verdict(v: Verdict, verbose: bool) -> None:
    sys.stdout.write(verdict_text(v, verbose))


def print_report(report: VerifyReport, args: argparse.Namespace) -> int:
    if args.json:
        print_json(report.to_dict(), ensure_ascii=False)
    else:
        for v in report.results:
            print_verdict(v, args.verbose)
        _print_tail(report)
    return report.exit_code


def _print_tail(report: VerifyReport) -> None:
    for e in report.errors:
        print(f"! {e}")
    s = report.summary
    print(
        f"{s['total']} checked: {s['valid']} valid, {s['invalid']} invalid, "
        f"{s['unverifiable']} unverifiable, {s['legacy']} legacy"
        + (f", {s['error']} not checked (read errors)" if s.get("error") else "")
        + (f", {s['errors']} errors" if s["errors"] else "")
    )
