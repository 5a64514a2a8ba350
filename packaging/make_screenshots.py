"""Render the main window on the fixture store, offscreen, light and dark, into
resources/screenshots/. Run: .venv/bin/python packaging/make_screenshots.py"""

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from jacs_desktop.app import apply_theme
    from jacs_desktop.ui.browser import BrowserWindow

    fixture = Path(os.environ.get("JACS_FORMAT_DIR", REPO.parent / "shared" / "jacs-format")) / "fixture"
    out = REPO / "resources" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp())
    os.environ["JACS_DESKTOP_CONFIG_DIR"] = str(tmp / "cfg")
    os.environ["JACS_DESKTOP_CACHE_DIR"] = str(tmp / "cache")
    app = QApplication([])
    for theme in ("light", "dark"):
        apply_theme(app, theme)
        w = BrowserWindow(None, settings=QSettings(str(tmp / f"{theme}.ini"), QSettings.Format.IniFormat),
                          watch=False)
        w.resize(1400, 860)
        w.show()
        w.open_url(str(fixture))
        deadline = time.time() + 60
        while time.time() < deadline:
            app.processEvents()
            time.sleep(0.02)
            if w.snapshot and all(r.verdict for r in w.snapshot.documents) and w.workers.active == 0:
                break
        for r in range(w.docs_model.rowCount()):
            if w.docs_model.row_object(r).id.startswith("fbf12295"):
                w.docs_view.selectRow(r)
        for _ in range(30):
            app.processEvents()
            time.sleep(0.02)
        path = out / f"main-{theme}.png"
        w.grab().save(str(path))
        print(path.relative_to(REPO))
        w.close()


if __name__ == "__main__":
    main()
