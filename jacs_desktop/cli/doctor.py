"""``doctor``: check that a store works (write, read back, list, clean up)."""

from __future__ import annotations

import argparse

from .output import print_json

__all__ = ["add_parser", "cmd_doctor"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    d = sub.add_parser("doctor", help="check that a store works: write, read back, list, clean up")
    d.add_argument("url", help="a folder, s3://…, sqlite://…, memory://… or profile:NAME")
    d.add_argument("--json", action="store_true")
    d.add_argument("--create", action="store_true", help="create the folder/bucket/database if missing")
    d.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    from ..jobs.doctor import BROKEN, doctor
    from ..storage.urls import open_objects

    report = doctor(lambda: open_objects(args.url, create=args.create), args.url)
    if args.json:
        print_json(report.to_dict())
    else:
        print(f"{report.url or args.url}: {report.status} ({report.seconds:.2f}s)")
        for op, st in report.latency_ms.items():
            print(f"  {op:<7} median {st['median']:.1f} ms, p95 {st['p95']:.1f} ms, max {st['max']:.1f} ms")
        for f in report.failures:
            print(f"  ✗ {f}")
    return report.code if report.code <= BROKEN else BROKEN
