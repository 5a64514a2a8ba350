"""The app's own folders, and private files and folders in them.

Each folder comes from platformdirs unless its environment variable names
another (tests and portable set-ups use these):

=============  ============================  ==========================================
folder         override                      holds
=============  ============================  ==========================================
config_dir()   ``JACS_DESKTOP_CONFIG_DIR``   settings, connections, profiles, secrets
state_dir()    ``JACS_DESKTOP_STATE_DIR``    migration journals
cache_dir()    ``JACS_DESKTOP_CACHE_DIR``    index caches (titles of every document)
log_dir()      ``JACS_DESKTOP_LOG_DIR``      the rotating log file
data_dir()     none                          the default local store
=============  ============================  ==========================================

What the app writes there names documents, stores and people, so folders it
creates are 0700 and files 0600 whatever the umask (:func:`private_dir`,
:func:`private_file`). Qt-free: storage, jobs and the CLI use it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["APP", "config_dir", "state_dir", "cache_dir", "log_dir", "data_dir",
           "private_dir", "private_file", "copy_private", "DIR_MODE", "FILE_MODE"]

APP = "jacs-desktop"
DIR_MODE = 0o700
FILE_MODE = 0o600


def _folder(var: str, kind: str) -> Path:
    env = os.environ.get(var)
    if env:
        return Path(env)
    import platformdirs

    folder: Path = getattr(platformdirs, f"user_{kind}_path")(APP, appauthor=False)
    return folder


def config_dir() -> Path:
    return _folder("JACS_DESKTOP_CONFIG_DIR", "config")


def state_dir() -> Path:
    return _folder("JACS_DESKTOP_STATE_DIR", "state")


def cache_dir() -> Path:
    return _folder("JACS_DESKTOP_CACHE_DIR", "cache")


def log_dir() -> Path:
    return _folder("JACS_DESKTOP_LOG_DIR", "log")


def data_dir() -> Path:
    import platformdirs

    return platformdirs.user_data_path(APP, appauthor=False)


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Make *path* and any missing parents, each new one 0700 (``mkdir -p`` would make
    the parents 0755 under umask 022). Folders that already exist are left alone.
    One ``mkdir`` call when *path* exists, as cheap as ``mkdir(exist_ok=True)``."""
    p = Path(path)
    try:
        os.mkdir(p, DIR_MODE)
    except FileExistsError:
        if not p.is_dir():
            raise
        return p
    except FileNotFoundError:
        if p.parent == p:
            raise
        private_dir(p.parent)
        try:
            os.mkdir(p, DIR_MODE)
        except FileExistsError:  # made by another thread meanwhile
            if not p.is_dir():
                raise
            return p
    if os.name != "nt":
        os.chmod(p, DIR_MODE)  # a umask such as 0o277 must not leave it unusable
    return p


def private_file(path: str | os.PathLike[str]) -> Path:
    """Make *path* an 0600 file: created empty (in a :func:`private_dir`) when missing,
    tightened when it exists. Libraries that open an existing file without changing
    its mode (SQLite, QSettings, logging) then keep it private."""
    p = Path(path)
    private_dir(p.parent)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0), FILE_MODE)
    try:
        if os.name != "nt":
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return p


def copy_private(src: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Copy *src* to a new 0600 file *dest* (in a :func:`private_dir`); never overwrites."""
    d = Path(dest)
    private_dir(d.parent)
    fd = os.open(d, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            if os.name != "nt":
                os.fchmod(out.fileno(), FILE_MODE)
            shutil.copyfileobj(inp, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        d.unlink(missing_ok=True)
        raise
    return d
