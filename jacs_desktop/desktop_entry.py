"""Install the app into the user's applications menu (freedesktop.org desktop entry + icons).

A pip install puts ``jacs-desktop`` on the PATH but no menu entry: this writes the package's
``.desktop`` file (with ``Exec`` pointing at the launcher that is running now, so it works from a
virtual environment too), its AppStream metainfo and the icons into the user's XDG data folder
(``$XDG_DATA_HOME``, default ``~/.local/share``). Every file is written to a temporary name beside
it and renamed into place, so an interrupted install leaves no half-written file. Qt-free: used by
``jacs-desktop --install-desktop-entry``, the first-run welcome and Help ▸ Install Desktop Entry.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["APP_ID", "InstallResult", "data_dir", "desktop_entry_text", "install_desktop_entry",
           "installed_entry", "launcher", "uninstall_desktop_entry"]

APP_ID = "org.jacsdesktop.JacsDesktop"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def data_dir() -> Path:
    """The package's own data folder: the desktop entry, metainfo and icons."""
    return Path(__file__).resolve().parent / "data"


def _xdg_data_home() -> Path:
    env = os.environ.get("XDG_DATA_HOME", "")
    # the XDG spec: a relative value is invalid and must be ignored
    return Path(env) if env and os.path.isabs(env) else Path.home() / ".local" / "share"


def launcher() -> list[str]:
    """The command that starts this app: the ``jacs-desktop`` script beside the running Python
    (a virtual environment's bin folder), else the one on the PATH, else ``python -m``."""
    here = Path(sys.executable).parent
    for name in ("jacs-desktop", "jacs-desktop.exe"):
        cand = here / name
        if cand.is_file() and os.access(cand, os.X_OK):
            return [str(cand)]
    found = shutil.which("jacs-desktop")
    if found:
        return [os.path.abspath(found)]
    return [sys.executable, "-m", "jacs_desktop.app"]


def _exec_quote(arg: str) -> str:
    """One argument of a desktop entry's Exec key (the spec's quoting: double quotes, with
    ``"`, ``$``, `` ` `` and ``\\`` escaped; ``%`` doubled)."""
    arg = arg.replace("%", "%%")
    if not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`"):
        return arg
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    return f'"{escaped}"'


def desktop_entry_text(command: list[str] | None = None) -> str:
    """The package's desktop entry with ``Exec``/``TryExec`` set to ``command``."""
    command = command or launcher()
    lines = []
    for line in (data_dir() / f"{APP_ID}.desktop").read_text(encoding="utf-8").splitlines():
        if line.startswith("Exec="):
            line = "Exec=" + " ".join(_exec_quote(a) for a in command) + " %F"
        elif line.startswith("TryExec="):
            line = "TryExec=" + command[0]
        lines.append(line)
    return "\n".join(lines) + "\n"


@dataclass
class InstallResult:
    written: list[Path] = field(default_factory=list)
    #: what could not be done, in words (the entry still works without it)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        entry = next((p for p in self.written if p.suffix == ".desktop"), None)
        text = f"Installed the desktop entry {entry} and {len(self.written) - 1} more files." if entry else ""
        return " ".join([text, *self.notes]).strip()


def _atomic_write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _targets(home: Path) -> list[tuple[Path, Path | None]]:
    """(installed path, package source) pairs; the desktop entry's source is None (it is generated)."""
    icons = data_dir() / "icons"
    out: list[tuple[Path, Path | None]] = [
        (home / "applications" / f"{APP_ID}.desktop", None),
        (home / "metainfo" / f"{APP_ID}.metainfo.xml", data_dir() / f"{APP_ID}.metainfo.xml"),
        (home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg", icons / "jacs-desktop.svg"),
    ]
    out += [(home / "icons" / "hicolor" / f"{s}x{s}" / "apps" / f"{APP_ID}.png", icons / f"jacs-desktop-{s}.png")
            for s in ICON_SIZES]
    return out


def installed_entry(data_home: Path | None = None) -> Path | None:
    """The installed desktop entry, when there is one."""
    p = (data_home or _xdg_data_home()) / "applications" / f"{APP_ID}.desktop"
    return p if p.is_file() else None


def install_desktop_entry(data_home: Path | None = None, command: list[str] | None = None) -> InstallResult:
    """Write the desktop entry, metainfo and icons. Raises OSError (with the path) when a file
    cannot be written; what is already in place stays valid (each file is renamed into place)."""
    home = data_home or _xdg_data_home()
    result = InstallResult()
    for target, source in _targets(home):
        if source is None:
            data = desktop_entry_text(command).encode("utf-8")
        elif source.is_file():
            data = source.read_bytes()
        else:
            result.notes.append(f"{source.name} is missing from this installation; skipped.")
            continue
        _atomic_write(target, data)
        result.written.append(target)
    # refresh the menu's caches where the tools exist (desktops also notice on their own)
    for cmd in (["update-desktop-database", "-q", str(home / "applications")],
                ["gtk-update-icon-cache", "-q", "-t", "-f", str(home / "icons" / "hicolor")]):
        if shutil.which(cmd[0]):
            try:
                subprocess.run(cmd, capture_output=True, timeout=30, check=False)
            except (OSError, subprocess.SubprocessError):
                result.notes.append(f"{cmd[0]} did not run; the menu may need a new login to show the entry.")
    return result


def uninstall_desktop_entry(data_home: Path | None = None) -> list[Path]:
    """Remove what :func:`install_desktop_entry` wrote; returns the removed paths."""
    removed = []
    for target, _ in _targets(data_home or _xdg_data_home()):
        try:
            target.unlink()
        except FileNotFoundError:
            continue
        removed.append(target)
    return removed
