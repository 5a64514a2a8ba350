"""The app's QSettings, kept private: the file lists recent stores."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtCore import QSettings

__all__ = ["private_settings"]


def private_settings(settings: QSettings | None = None) -> QSettings:
    """*settings* (default: the app's ``QSettings()``) with its file 0600 in a 0700
    folder whatever the umask: it lists recent stores. QSettings rewrites the file
    through a temporary one that keeps the existing file's mode. (On Windows the
    native settings are in the registry and there are no modes to set.)"""
    import contextlib
    import os

    from PySide6.QtCore import QSettings

    if settings is None:
        settings = QSettings()
    name = settings.fileName()
    if name and os.name != "nt":
        from ..paths import private_file

        # an unwritable settings folder: Qt reports it through status()
        with contextlib.suppress(OSError):
            private_file(name)
    return settings
