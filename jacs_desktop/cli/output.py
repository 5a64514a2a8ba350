"""What every command prints the same way: exit codes, verdict marks, errors and warnings,
JSON reports, and streams that cannot fail on a non-UTF-8 terminal."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

__all__ = ["EXIT_OK", "EXIT_ERROR", "EXIT_INVALID", "MARK", "CHECK_MARK", "PROG", "err", "warn", "print_json",
           "safe_streams"]

#: 0 everything valid (or the command succeeded), 1 an error (bad arguments, unreadable files,
#: wrong password), 2 something is invalid
EXIT_OK, EXIT_ERROR, EXIT_INVALID = 0, 1, 2

PROG = "jacs-desktop-cli"

MARK = {"valid": "✓", "invalid": "✗", "unverifiable": "?", "legacy": "L", "error": "E"}
CHECK_MARK = {"ok": "✓", "failed": "✗", "unverifiable": "?", "legacy": "L", "warning": "!", "skipped": "-",
              "error": "E"}


def err(msg: str) -> None:
    print(f"{PROG}: error: {msg}", file=sys.stderr)


def warn(msg: str) -> None:
    print(f"{PROG}: warning: {msg}", file=sys.stderr)


def print_json(value: Any, *, ensure_ascii: bool = True) -> None:
    """A report on standard output: indented JSON and a newline."""
    json.dump(value, sys.stdout, indent=2, ensure_ascii=ensure_ascii)
    sys.stdout.write("\n")


def safe_streams() -> None:
    """A terminal or pipe that cannot take UTF-8 (``PYTHONIOENCODING=ascii``, a C locale) gets
    escapes for ✓ ✗ and non-ASCII names instead of a UnicodeEncodeError traceback."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and (stream.encoding or "").lower().replace("-", "") != "utf8":
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")
