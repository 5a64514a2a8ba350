"""Render jacs_desktop/data/icons/jacs-desktop.svg to the PNG sizes desktops ask for, and
the Windows .ico / macOS .icns the bundle uses.

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/make_icons.py
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

ICONS = Path(__file__).resolve().parents[1] / "jacs_desktop" / "data" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv)  # noqa: F841 - fonts need it
    renderer = QSvgRenderer(str(ICONS / "jacs-desktop.svg"))
    if not renderer.isValid():
        print("the SVG does not render", file=sys.stderr)
        return 1
    for size in SIZES:
        img = QImage(size, size, QImage.Format.Format_ARGB32)
        img.fill(Qt.GlobalColor.transparent)
        p = QPainter(img)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(p)
        p.end()
        out = ICONS / f"jacs-desktop-{size}.png"
        img.save(str(out))
        print(out.name)
    # Windows .ico and macOS .icns for the PyInstaller spec (Qt's image plugins write both)
    from PySide6.QtGui import QImageWriter

    root = ICONS.parents[1] / "packaging"
    for fmt, target, size in (("ico", root / "windows" / "jacs-desktop.ico", 256),
                              ("icns", root / "macos" / "jacs-desktop.icns", 512)):
        w = QImageWriter(str(target), fmt.encode())
        if not w.write(QImage(str(ICONS / f"jacs-desktop-{size}.png"))):
            print(f"{target.name}: {w.errorString()}", file=sys.stderr)
            return 1
        print(target.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
