"""``jacs-desktop [STORE]``: the GUI entry point."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, cast

# the theme and the private QSettings file are the UI's; re-exported here for the entry point and scripts
from .ui.qsettings import private_settings
from .ui.theme import apply_theme

if TYPE_CHECKING:
    import logging
    from pathlib import Path
    from types import TracebackType

    from PySide6.QtWidgets import QApplication

    from .ui.browser import BrowserWindow


def default_store() -> str:
    """A local store under the platformdirs data dir, created empty on first run."""
    from .paths import data_dir, private_dir

    return str(private_dir(data_dir() / "store"))


def setup_private_logging() -> Path | None:
    """The rotating log file (``logs.setup_logging``), 0600 in a 0700 folder whatever
    the umask; each file a rollover starts is made 0600 before the handler opens it.
    Returns the log file, or None when it cannot be written."""
    import logging
    import logging.handlers

    from .logs import log_file, setup_logging
    from .paths import private_file

    path = log_file()
    try:
        private_file(path)
    except OSError:
        return None
    got = setup_logging()
    for h in logging.getLogger().handlers:
        if isinstance(h, logging.handlers.RotatingFileHandler) and h.baseFilename == str(path):
            h.rotator = _private_rotator
    return got


def _private_rotator(source: str, dest: str) -> None:
    import os

    from .paths import private_file

    if os.path.exists(source):
        os.rename(source, dest)
    private_file(source)  # the handler reopens it next, in append mode


APP_ID = "org.jacsdesktop.JacsDesktop"


def _absolute(store: str | None) -> str | None:
    """A path given on the command line, made absolute (the running instance has
    another working directory); URLs stay as they are."""
    if not store or "://" in store or store.startswith("profile:"):
        return store
    import os

    return os.path.abspath(os.path.expanduser(store))


def _desktop_entry(install: bool) -> int:
    """--install-desktop-entry / --uninstall-desktop-entry: no window, a line of text, 0 or 1."""
    from .desktop_entry import install_desktop_entry, uninstall_desktop_entry

    try:
        if install:
            print(install_desktop_entry().summary())
        else:
            removed = uninstall_desktop_entry()
            print(f"Removed {len(removed)} files." if removed else "No desktop entry was installed.")
    except OSError as exc:
        print(f"Could not {'install' if install else 'remove'} the desktop entry: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    parser = argparse.ArgumentParser(prog="jacs-desktop", description="Browse and verify JACS stores.")
    parser.add_argument("store", nargs="?", help="a folder, s3://…, sqlite://…, memory://… or profile:NAME")
    parser.add_argument("--theme", choices=["system", "light", "dark"], default=None)
    parser.add_argument("--new-instance", action="store_true",
                        help="do not hand the store to an already running window")
    parser.add_argument("--smoke-test", action="store_true",
                        help="open the store, verify it, print a summary and exit (0 when it opened)")
    parser.add_argument("--install-desktop-entry", action="store_true",
                        help="add JACS Desktop to your applications menu (desktop entry and icons) and exit")
    parser.add_argument("--uninstall-desktop-entry", action="store_true",
                        help="remove what --install-desktop-entry added and exit")
    args, qt_args = parser.parse_known_args(argv[1:])
    if args.install_desktop_entry or args.uninstall_desktop_entry:
        return _desktop_entry(install=args.install_desktop_entry)
    store = _absolute(args.store)

    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtGui import QGuiApplication, QIcon
    from PySide6.QtWidgets import QApplication

    # instance() is typed as the QCoreApplication it may be; this process only ever makes a QApplication
    app = cast(QApplication, QApplication.instance() or QApplication([argv[0], *qt_args]))
    app.setApplicationName("JACS Desktop")
    app.setApplicationDisplayName("JACS Desktop")
    app.setOrganizationName("JACS Desktop")
    from . import __version__

    app.setApplicationVersion(__version__)
    QGuiApplication.setDesktopFileName(APP_ID)
    from .resources import icon_path

    icon = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        p = icon_path(size)
        if p is not None:
            icon.addFile(str(p))
    if not icon.isNull():
        app.setWindowIcon(icon)

    single = None
    if not (args.new_instance or args.smoke_test):
        from .ui.single import SingleInstance

        single = SingleInstance()
        if single.send(store):
            return 0  # the running window opens it
        single.listen()

    log_path = setup_private_logging()
    import logging

    log = logging.getLogger("jacs_desktop")
    log.info("JACS Desktop %s starting (log: %s)", __version__, log_path)
    from .storage.settings import load_settings_or_defaults

    prefs = load_settings_or_defaults()
    settings = private_settings(QSettings())
    apply_theme(app, args.theme or prefs.theme)
    from .ui.browser import BrowserWindow

    first_run = not prefs.welcome_done and not store and not settings.value("last") and not prefs.default_store
    # the store named on the command line, else the default store from Settings, else the last one
    url = store or prefs.default_store or settings.value("last") or default_store()
    window = BrowserWindow(str(url), settings=settings, prefs=prefs, watch=not args.smoke_test)
    if single is not None:
        single.open_requested.connect(window.open_from_other_instance)
    _install_excepthook(window, log)
    window.show()
    if args.smoke_test:
        return _smoke(app, window)
    if first_run:
        QTimer.singleShot(0, window.show_welcome)
    elif prefs.secrets_backend == "file":
        QTimer.singleShot(0, window.ask_master_password)
    code = app.exec()
    if single is not None:
        single.close()
    return code


def _install_excepthook(window: BrowserWindow, log: logging.Logger) -> None:
    """An unexpected exception in a slot goes to the log file with its traceback; the
    user sees one plain sentence in the window's banner, never the traceback."""
    previous = sys.excepthook

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            previous(exc_type, exc, tb)
            return
        log.error("unexpected error", exc_info=(exc_type, exc, tb))
        try:
            from .logs import log_file

            window.show_error(window.tr("Something went wrong: {0}. The details are in {1}.")
                              .format(str(exc) or exc_type.__name__, log_file()))
        except Exception:
            pass

    sys.excepthook = hook


def _smoke(app: QApplication, window: BrowserWindow) -> int:
    """Wait for the store to open and verify; print what was found."""
    from PySide6.QtCore import QTimer

    result = {"code": 2}

    def check() -> None:
        snap = window.snapshot
        if snap is not None and window.workers.active == 0 and all(
                r.verdict for r in [*snap.documents, *snap.agents]):
            counts: dict[str, int] = {}
            for r in snap.documents:
                counts[r.status] = counts.get(r.status, 0) + 1
            print(f"smoke test: opened {window.url}: {len(snap.agents)} agents, {len(snap.documents)} documents, "
                  f"verdicts {counts}", flush=True)
            result["code"] = 0
            app.quit()

    def failed(msg: str) -> None:
        print(f"smoke test: failed: {msg}", flush=True)
        result["code"] = 1
        app.quit()

    window.load_failed.connect(failed)
    timer = QTimer(window)
    timer.timeout.connect(check)
    timer.start(100)
    QTimer.singleShot(120_000, app.quit)
    app.exec()
    window.close()
    return result["code"]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
