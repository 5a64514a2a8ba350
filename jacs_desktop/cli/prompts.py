"""Passwords, passphrases and the secrets store, as a script or a terminal gives them:
an environment variable first, then what the app remembered, then a prompt on a terminal."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import JacsError

if TYPE_CHECKING:
    from ..core.identity import Identity
    from ..storage.secrets import Secrets

__all__ = ["password_for", "backup_passphrase", "cli_secrets", "on_terminal"]


def on_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def password_for(identity: Identity) -> str:
    """The agent's private-key password: JACS_PRIVATE_KEY_PASSWORD, JACS_PASSWORD_FILE, the OS
    keyring (remembered by the app), or a prompt."""
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
        from ..storage.secrets import default_secrets

        remembered = default_secrets().get(f"agent:{identity.agent_id}:password")
    except JacsError:
        remembered = None
    if remembered:
        return remembered
    if on_terminal():
        return getpass.getpass(f"Password for agent {identity.agent_id}: ")
    raise JacsError("No password: set JACS_PRIVATE_KEY_PASSWORD (or JACS_PASSWORD_FILE), remember it in the "
                    "OS keyring from the app, or run in a terminal")


def backup_passphrase(required: bool) -> str | None:
    """JACS_DESKTOP_BACKUP_PASSPHRASE, or a prompt when one is *required*."""
    pw = os.environ.get("JACS_DESKTOP_BACKUP_PASSPHRASE")
    if pw:
        return pw
    if required:
        if on_terminal():
            return getpass.getpass("Backup passphrase: ")
        raise JacsError("A passphrase is needed: set JACS_DESKTOP_BACKUP_PASSPHRASE or run in a terminal")
    return None


def cli_secrets() -> Secrets:
    from ..storage.secrets import default_secrets

    return default_secrets()
