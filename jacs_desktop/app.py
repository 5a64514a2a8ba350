"""``jacs-desktop [STORE]``: the GUI entry point."""

from __future__ import annotations

import argparse
import sys


def default_store() -> str:
    """A local store under the platformdirs data dir, created empty on first run."""
    from platformdirs import user_data_path

    path = user_data_path("jacs-desktop", appauthor=False) / "store"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return str(path)


def apply_theme(app, theme: str) -> None:
    """``system`` leaves Qt's palette (which follows the OS) alone."""
    if theme == "system":
        return
    from PySide6.QtGui import QColor, QPalette

    app.setStyle("Fusion")
    if theme == "light":
        app.setPalette(app.style().standardPalette())
        return
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#2b2b2b", QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1f1f1f", QPalette.ColorRole.AlternateBase: "#262626",
        QPalette.ColorRole.Text: "#e6e6e6", QPalette.ColorRole.Button: "#353535",
        QPalette.ColorRole.ButtonText: "#e6e6e6", QPalette.ColorRole.Highlight: "#2f6fb3",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#333333",
        QPalette.ColorRole.ToolTipText: "#e6e6e6", QPalette.ColorRole.PlaceholderText: "#8a8a8a",
    }
    for role, color in roles.items():
        p.setColor(role, QColor(color))
    app.setPalette(p)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    parser = argparse.ArgumentParser(prog="jacs-desktop", description="Browse and verify JACS stores.")
    parser.add_argument("store", nargs="?", help="a folder, s3://…, sqlite://…, memory://… or profile:NAME")
    parser.add_argument("--theme", choices=["system", "light", "dark"], default=None)
    args, qt_args = parser.parse_known_args(argv[1:])
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([argv[0], *qt_args])
    app.setApplicationName("JACS Desktop")
    app.setOrganizationName("JACS Desktop")
    settings = QSettings()
    apply_theme(app, args.theme or str(settings.value("theme", "system")))
    from .ui.browser import BrowserWindow

    url = args.store or settings.value("last") or default_store()
    window = BrowserWindow(str(url), settings=settings)
    window.show()
    return app.exec()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
