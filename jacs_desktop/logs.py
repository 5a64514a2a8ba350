"""Logging to a rotating file in the platformdirs log dir (``JACS_DESKTOP_LOG_DIR`` overrides)."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from . import paths

__all__ = ["log_dir", "log_file", "setup_logging"]


def log_dir() -> Path:
    return paths.log_dir()


def log_file() -> Path:
    return log_dir() / "jacs-desktop.log"


def setup_logging(level: int = logging.INFO) -> Path | None:
    """Add a rotating file handler (1 MiB x 5) to the root logger once; returns the
    file, or None when the folder cannot be written (logging then stays on stderr)."""
    path = log_file()
    root = logging.getLogger()
    for h in root.handlers:
        if isinstance(h, logging.handlers.RotatingFileHandler) and Path(h.baseFilename) == path:
            return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=1 << 20, backupCount=5, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "watchdog"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
