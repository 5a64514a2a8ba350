"""The app around the window: single instance, first run, settings, help, log file,
desktop integration files."""

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import FIXTURE, REPO
from PySide6.QtCore import QSettings

from jacs_desktop.storage.settings import Settings, load_settings, save_settings
from jacs_desktop.ui.browser import BrowserWindow


@pytest.fixture
def window(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = BrowserWindow(None, settings=settings, watch=False, prefs=Settings())
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


def _env(tmp_path, **extra):
    env = dict(os.environ, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen",
               JACS_DESKTOP_CONFIG_DIR=str(tmp_path / "cfg"), JACS_DESKTOP_LOG_DIR=str(tmp_path / "log"),
               XDG_CONFIG_HOME=str(tmp_path / "xdg"), XDG_DATA_HOME=str(tmp_path / "xdgdata"))
    env.update(extra)
    return env


def test_second_launch_hands_its_store_to_the_running_window(qtbot, tmp_path):
    from jacs_desktop.ui.single import SingleInstance

    name = f"jd-test-{uuid.uuid4().hex[:8]}"
    first = SingleInstance(name)
    assert first.listen()
    try:
        rel = "some/store"
        with qtbot.waitSignal(first.open_requested, timeout=30000) as sig:
            proc = subprocess.Popen([sys.executable, "-m", "jacs_desktop", rel], cwd=tmp_path,
                                    env=_env(tmp_path, JACS_DESKTOP_INSTANCE=name))
        assert proc.wait(30) == 0  # the second launch exits at once ...
        assert sig.args == [str(tmp_path / rel)]  # ... after handing over the absolute path
        with qtbot.waitSignal(first.open_requested, timeout=30000) as sig:
            p2 = subprocess.Popen([sys.executable, "-m", "jacs_desktop"], env=_env(tmp_path, JACS_DESKTOP_INSTANCE=name))
        assert p2.wait(30) == 0 and sig.args == [""]  # no store: just come to the front
    finally:
        first.close()
    # with the first one gone, a new instance takes over the name
    again = SingleInstance(name)
    assert not again.send("x", timeout_ms=300)
    assert again.listen()
    again.close()


def _one_session(monkeypatch, config, display=":0"):
    monkeypatch.delenv("JACS_DESKTOP_INSTANCE", raising=False)
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_ID"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DISPLAY", display)
    monkeypatch.setenv("JACS_DESKTOP_CONFIG_DIR", str(config))


def test_instance_name_is_per_user_display_session_and_config_folder(monkeypatch, tmp_path):
    from jacs_desktop.ui.single import instance_name

    _one_session(monkeypatch, tmp_path / "a")
    base = instance_name()
    assert instance_name() == base and len(base) < 80  # a socket path on Unix: short
    monkeypatch.setenv("JACS_DESKTOP_CONFIG_DIR", os.path.join(str(tmp_path), "x", "..", "a", "."))
    assert instance_name() == base  # the same folder spelled otherwise
    names = {base}
    for var, value in (("DISPLAY", ":1"), ("WAYLAND_DISPLAY", "wayland-1"), ("XDG_SESSION_ID", "7"),
                       ("JACS_DESKTOP_CONFIG_DIR", str(tmp_path / "b"))):
        with monkeypatch.context() as m:
            m.setenv(var, value)
            names.add(instance_name())
    assert len(names) == 5


def test_launch_from_another_config_folder_or_display_is_not_handed_off(qtbot, monkeypatch, tmp_path):
    from jacs_desktop.ui.single import SingleInstance

    _one_session(monkeypatch, tmp_path / "cfg-a")
    first = SingleInstance()
    assert first.listen()
    got = []
    first.open_requested.connect(got.append)
    try:
        with monkeypatch.context() as m:  # another config folder: its own window
            m.setenv("JACS_DESKTOP_CONFIG_DIR", str(tmp_path / "cfg-b"))
            other = SingleInstance()
            assert other.name != first.name and not other.send("/store/b", timeout_ms=300)
            assert other.listen()  # ... which can run beside the first
            other.close()
        with monkeypatch.context() as m:  # another X display (or SSH session)
            m.setenv("DISPLAY", "remote:10")
            assert not SingleInstance().send("/store/c", timeout_ms=300)
        with monkeypatch.context() as m:
            m.setenv("XDG_SESSION_ID", "42")
            assert not SingleInstance().send("/store/d", timeout_ms=300)
        # the same user, display and config folder: handed to the running window
        with qtbot.waitSignal(first.open_requested, timeout=10000) as sig:
            assert SingleInstance().send("/store/a")
        assert sig.args == ["/store/a"]
        qtbot.wait(50)
        assert got == ["/store/a"]
    finally:
        first.close()


def test_window_opens_what_another_instance_sends(qtbot, window):
    window.open_from_other_instance(str(FIXTURE))
    qtbot.waitUntil(lambda: window.snapshot is not None and window.workers.active == 0, timeout=30000)
    assert window.url == str(FIXTURE)


def test_smoke_test_flag_opens_and_verifies(tmp_path):
    p = subprocess.run([sys.executable, "-m", "jacs_desktop", "--smoke-test", str(FIXTURE)],
                       env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "2 agents, 7 documents, verdicts {'valid': 7}" in p.stdout
    log = tmp_path / "log" / "jacs-desktop.log"
    assert log.is_file() and "starting" in log.read_text()
    bad = subprocess.run([sys.executable, "-m", "jacs_desktop", "--smoke-test", "s3://b?endpoint_url=http://127.0.0.1:1"
                          "&max_attempts=1&connect_timeout=1"], env=_env(tmp_path, AWS_ACCESS_KEY_ID="a",
                                                                       AWS_SECRET_ACCESS_KEY="b"),
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "Cannot reach" in bad.stdout


def test_settings_versioned_file_and_dialog(qtbot, window, tmp_path):
    from jacs_desktop.ui.appdialogs import SettingsDialog

    assert load_settings() == Settings()  # no file: defaults
    window.show_settings()
    dlg = window.active_dialog
    assert isinstance(dlg, SettingsDialog)
    dlg.verify_on_open.setChecked(False)
    dlg.cache_mb.setValue(128)
    dlg.theme.setCurrentIndex(dlg.theme.findData("dark"))
    dlg.concurrency.setValue(8)
    dlg.secrets.setCurrentIndex(dlg.secrets.findData("session"))
    with qtbot.waitSignal(dlg.applied):
        dlg.save()
    s = load_settings()
    assert (s.verify_on_open, s.cache_mb, s.theme, s.concurrency, s.secrets_backend) == (False, 128, "dark", 8, "session")
    assert window.prefs == s
    path = Path(os.environ["JACS_DESKTOP_CONFIG_DIR"]) / "settings.json"
    doc = json.loads(path.read_text())
    assert doc["version"] == 1
    # the secrets wrapper follows the choice when no environment variable overrides it
    from jacs_desktop.storage.secrets import default_secrets

    os.environ.pop("JACS_DESKTOP_SECRETS", None)
    assert default_secrets().backend == "session"
    # an old (version 0) file is migrated; unknown keys from a newer minor are kept on save
    path.write_text(json.dumps({"theme": "light", "cache_mb": 32}))
    assert load_settings().theme == "light" and load_settings().cache_mb == 32
    path.write_text(json.dumps({"version": 1, "settings": {"theme": "neon", "future_key": 1, "concurrency": 3}}))
    s = load_settings()
    assert s.theme == "system" and s.concurrency == 3  # a bad value falls back alone
    save_settings(s)
    assert json.loads(path.read_text())["settings"]["future_key"] == 1
    path.write_text(json.dumps({"version": 99}))
    from jacs_desktop.storage.base import StorageError

    with pytest.raises(StorageError, match="newer"):
        load_settings()
    path.write_text("{broken")
    w2 = BrowserWindow(None, settings=window.settings, watch=False)  # damaged file: defaults, no crash
    qtbot.addWidget(w2)
    assert w2.prefs == Settings()


def test_welcome_demo_store_about_shortcuts_readme(qtbot, window):
    from jacs_desktop.ui.appdialogs import AboutDialog, ReadmeDialog, ShortcutsDialog, WelcomeDialog

    window.show_welcome()
    dlg = window.active_dialog
    assert isinstance(dlg, WelcomeDialog) and set(dlg.buttons) == set(WelcomeDialog.CHOICES)
    dlg.buttons["demo"].click()  # -> a demo store made on the fly, clearly labelled
    qtbot.waitUntil(lambda: window.snapshot is not None and "DEMO" in window.windowTitle()
                    and window.workers.active == 0
                    and all(r.verdict for r in window.snapshot.documents), timeout=60000)
    assert window.banner.isVisible() and "throwaway" in window.banner.text()
    statuses = sorted(r.status for r in window.snapshot.documents)
    assert statuses.count("invalid") == 1 and statuses.count("valid") == 3
    assert load_settings().welcome_done  # not shown again at start-up
    about = AboutDialog(window)
    qtbot.addWidget(about)
    import PySide6

    assert about.versions["pyside"] == PySide6.__version__ and "JACS 0.15" in about.text.text()
    assert "jacs-desktop.log" in about.text.text()
    sc = ShortcutsDialog(window)
    qtbot.addWidget(sc)
    rows = {sc.model.item(r, 0).text(): sc.model.item(r, 1).text() for r in range(sc.model.rowCount())}
    assert rows["Refresh"] == "F5" and "New document" in rows and "Keyboard Shortcuts" in rows
    rd = ReadmeDialog(window)
    qtbot.addWidget(rd)
    assert "JACS Desktop" in rd.view.toPlainText()
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles[-1] == "&Help"


def test_new_store_with_new_agent_dialog(qtbot, window, tmp_path):
    from jacs_desktop.ui.appdialogs import NewAgentStoreDialog

    dlg = NewAgentStoreDialog(window)
    qtbot.addWidget(dlg)
    dlg.folder.setText(str(tmp_path / "mystore"))
    dlg.name.setText("me")
    dlg.pw1.setText("weak")
    dlg._accept()
    assert dlg.result() == 0 and dlg.error.text()
    dlg.pw1.setText("Strong!Passw0rd#2026")
    dlg.pw2.setText("Strong!Passw0rd#2026")
    assert "strong enough" in dlg.hint.text()
    dlg._accept()
    assert dlg.result() == 1 and (tmp_path / "mystore" / "jacs.config.json").is_file()
    from jacs_desktop.storage.urls import open_store

    store = open_store(dlg.store_path)
    [agent] = [r for r in store.refs() if r.kind == "agent"]
    assert store.verify(agent).status == "valid"


@pytest.mark.skipif(not shutil.which("desktop-file-validate"), reason="desktop-file-utils is not installed")
def test_desktop_file_validates():
    f = REPO / "jacs_desktop" / "data" / "org.jacsdesktop.JacsDesktop.desktop"
    p = subprocess.run(["desktop-file-validate", str(f)], capture_output=True, text=True)
    assert p.returncode == 0 and "error" not in p.stdout, p.stdout


@pytest.mark.skipif(not shutil.which("appstreamcli"), reason="appstream is not installed")
def test_metainfo_validates():
    f = REPO / "jacs_desktop" / "data" / "org.jacsdesktop.JacsDesktop.metainfo.xml"
    p = subprocess.run(["appstreamcli", "validate", "--no-net", str(f)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_icons_exist_and_window_icon_is_set(tmp_path):
    from PySide6.QtGui import QImage

    from jacs_desktop.resources import icon_path

    assert icon_path() is not None
    for size in (16, 32, 48, 64, 128, 256, 512):
        img = QImage(str(icon_path(size)))
        assert (img.width(), img.height()) == (size, size)


def test_version_is_the_same_everywhere():
    import re
    import tomllib

    from jacs_desktop import __version__

    v = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert __version__ == v
    assert f"<string>{v}</string>" in (REPO / "packaging" / "macos" / "Info.plist").read_text()
    assert f"StringStruct('ProductVersion', '{v}')" in (REPO / "packaging" / "windows" / "version_info.txt").read_text()
    metainfo = REPO / "jacs_desktop" / "data" / "org.jacsdesktop.JacsDesktop.metainfo.xml"
    assert f'release version="{v}"' in metainfo.read_text()
    nums = ",".join(re.findall(r"\d+", v)[:3]) + ",0"
    assert f"filevers=({nums})" in (REPO / "packaging" / "windows" / "version_info.txt").read_text().replace(" ", "")


def test_file_secrets_ask_for_the_master_password_once(qtbot, window, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QInputDialog

    from jacs_desktop.storage import secrets as secmod

    monkeypatch.delenv("JACS_DESKTOP_MASTER_PASSWORD", raising=False)
    monkeypatch.setenv("JACS_DESKTOP_SECRETS", "file")
    secmod.SESSION.clear()
    with pytest.raises(secmod.SecretsUnavailable, match="master password"):
        secmod.default_secrets()  # no password yet: a clear refusal, never an unprotected file
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("master pw for test", True)))
    assert window.ask_master_password()
    s = secmod.default_secrets()
    s.set("agent:x:password", "secret value")
    assert secmod.default_secrets().get("agent:x:password") == "secret value"
    stored = (Path(os.environ["JACS_DESKTOP_CONFIG_DIR"]) / "secrets.enc.json").read_text()
    assert "secret value" not in stored
    secmod.SESSION.clear()
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("", False)))
    assert not window.ask_master_password() and "master password" in window.banner.text()


def test_unexpected_error_is_logged_and_told_plainly(qtbot, window, tmp_path):
    import logging

    from jacs_desktop.app import _install_excepthook
    from jacs_desktop.logs import log_file, setup_logging

    setup_logging()
    old = sys.excepthook
    try:
        _install_excepthook(window, logging.getLogger("jacs_desktop"))
        try:
            raise ValueError("boom in a slot")
        except ValueError:
            sys.excepthook(*sys.exc_info())
    finally:
        sys.excepthook = old
    assert "Something went wrong: boom in a slot" in window.banner.text() and "Traceback" not in window.banner.text()
    path = log_file()
    for h in list(logging.getLogger().handlers):
        if getattr(h, "baseFilename", None) == str(path):
            h.flush()
            logging.getLogger().removeHandler(h)
            h.close()
    text = path.read_text()
    assert "Traceback" in text and "boom in a slot" in text
