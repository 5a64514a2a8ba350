"""``jacs-desktop``: the GUI entry point."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    from PySide6.QtWidgets import QApplication

    from .ui.placeholder import PlaceholderWindow

    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName("JACS Desktop")
    app.setOrganizationName("JACS Desktop")
    store = argv[1] if len(argv) > 1 else None
    window = PlaceholderWindow(store)
    window.show()
    return app.exec()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
