"""``jacs-desktop-cli``: verify and sign JACS data from scripts.

Exit codes: 0 everything valid (or command succeeded), 2 something is invalid,
1 an error (bad arguments, unreadable files, wrong password).

One module per command group (``verify``, ``sign``, ``doctor``, ``migrate``, ``backup`` with
``restore``, ``connections``) over :mod:`jacs_desktop.jobs`; ``output`` prints what they share,
``prompts`` asks for passwords; ``app`` builds the parser and runs :func:`main`.
"""

from .app import build_parser, main
from .output import EXIT_ERROR, EXIT_INVALID, EXIT_OK

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_ERROR", "EXIT_INVALID"]
