"""Install desktop entry: `jacs-desktop --install-desktop-entry`, the welcome's offer, Help menu."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jacs_desktop.desktop_entry import (
    APP_ID,
    desktop_entry_text,
    install_desktop_entry,
    installed_entry,
    uninstall_desktop_entry,
)


def _exec_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("Exec="))


def test_install_writes_entry_metainfo_and_icons(tmp_path: Path) -> None:
    home = tmp_path / "share"
    result = install_desktop_entry(home, command=["/opt/my apps/jacs-desktop"])
    entry = home / "applications" / f"{APP_ID}.desktop"
    assert entry in result.written and installed_entry(home) == entry
    assert _exec_line(entry.read_text()) == 'Exec="/opt/my apps/jacs-desktop" %F'
    assert (home / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    for size in (16, 48, 256, 512):
        png = home / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").is_file()
    # no temporary files left beside what was written
    assert not [p for p in home.rglob(".*.tmp")]
    assert oct(entry.stat().st_mode & 0o777) == oct(0o644)
    removed = uninstall_desktop_entry(home)
    assert entry in removed and installed_entry(home) is None


@pytest.mark.skipif(not shutil.which("desktop-file-validate"), reason="desktop-file-utils is not installed")
def test_the_installed_entry_validates(tmp_path: Path) -> None:
    install_desktop_entry(tmp_path, command=[sys.executable, "-m", "jacs_desktop.app"])
    entry = tmp_path / "applications" / f"{APP_ID}.desktop"
    p = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
    assert p.returncode == 0 and "error" not in p.stdout, p.stdout


def test_exec_quoting_follows_the_desktop_entry_spec() -> None:
    line = _exec_line(desktop_entry_text(['/a/"odd" $dir/100%/jacs-desktop']))
    assert line == r'Exec="/a/\"odd\" \$dir/100%%/jacs-desktop" %F'


def test_an_unwritable_target_gives_an_error_and_no_partial_file(tmp_path: Path) -> None:
    home = tmp_path / "share"
    home.mkdir()
    (home / "metainfo").write_text("a file where a folder must be")  # fails for root too
    with pytest.raises(OSError):
        install_desktop_entry(home, command=["/usr/bin/jacs-desktop"])
    # the entry written before the failure is complete; no temporary file is left anywhere
    assert (home / "applications" / f"{APP_ID}.desktop").read_text().endswith("\n")
    assert not [p for p in home.rglob("*.tmp")]


def test_command_line_flag_installs_into_xdg_data_home(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    p = subprocess.run([sys.executable, "-m", "jacs_desktop.app", "--install-desktop-entry"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "Installed the desktop entry" in p.stdout
    entry = tmp_path / "applications" / f"{APP_ID}.desktop"
    # Exec starts the app that is installed here (this venv's launcher, or its Python)
    program = shlex.split(_exec_line(entry.read_text()).removeprefix("Exec=").removesuffix(" %F"))[0]
    assert os.access(program, os.X_OK) and Path(program).parent == Path(sys.executable).parent, program
    p = subprocess.run([sys.executable, "-m", "jacs_desktop.app", "--uninstall-desktop-entry"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and not entry.exists()


def test_welcome_offers_the_menu_entry_and_installs_it(qtbot, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    from jacs_desktop.ui.appdialogs import WelcomeDialog

    dlg = WelcomeDialog()
    qtbot.addWidget(dlg)
    assert dlg.menu_entry is not None and dlg.menu_entry.isChecked()
    dlg.reject()
    assert installed_entry(tmp_path) is not None and "Installed" in dlg.menu_entry_result
    again = WelcomeDialog()  # installed now: not offered again
    qtbot.addWidget(again)
    assert again.menu_entry is None


def test_help_menu_has_the_install_action(qtbot, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    from jacs_desktop.ui.browser import BrowserWindow

    w = BrowserWindow()
    qtbot.addWidget(w)
    texts = [a.text() for m in w.menuBar().findChildren(type(w.menuBar().actions()[0].menu()))
             for a in m.actions()]
    assert "Add to the Applications Menu" in texts
    w.act_install_entry.trigger()
    assert installed_entry(tmp_path) is not None
