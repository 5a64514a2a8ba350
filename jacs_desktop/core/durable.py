"""Making names and files durable (fsync), with nothing imported beyond ``os``: a restore or a
migration syncs folders without loading the key machinery of :mod:`.identity`."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["fsync_dir", "fsync_file"]


def _fsync_open(path: str | Path, flags: int) -> bool:
    """fsync what *path* names; False when it cannot be opened (a failed fsync is not reported:
    the callers' next step, a read or the rename's own sync, says what is wrong)."""
    try:
        fd = os.open(path, flags)
    except OSError:
        return False
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
    return True


def fsync_dir(folder: str | Path) -> None:
    """Make a rename or new name in *folder* durable, where the OS allows it."""
    if os.name == "nt":
        return
    _fsync_open(folder, os.O_RDONLY)


def fsync_file(path: str | Path) -> bool:
    """Make *path*'s contents durable; False when it cannot be opened."""
    return _fsync_open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
