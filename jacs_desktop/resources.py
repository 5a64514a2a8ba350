"""Where the app's resources (icons, README) are: inside a PyInstaller bundle,
beside the package in a source checkout or editable install, or nowhere (then
the app goes on without them)."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["resource_path", "icon_path"]


def _roots() -> list[Path]:
    roots = []
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        roots.append(Path(bundle))
    here = Path(__file__).resolve().parent
    roots.append(here.parent)
    return roots


def resource_path(name: str) -> Path | None:
    """``README.md`` or ``resources/…`` relative to the project root."""
    for root in _roots():
        p = root / name
        if p.is_file():
            return p
    return None


def icon_path(size: int | None = None) -> Path | None:
    """The app icon (package data, so a pip install has it too): a PNG of ``size`` px, or the SVG."""
    name = f"jacs-desktop-{size}.png" if size else "jacs-desktop.svg"
    p = Path(__file__).resolve().parent / "data" / "icons" / name
    return p if p.is_file() else None
