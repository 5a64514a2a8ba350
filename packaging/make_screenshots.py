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
        if theme == "light":
            extra(app, w, out, tmp)
        w.close()


def _settle(app, seconds=0.6):
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.02)


def extra(app, w, out, tmp) -> None:
    """The welcome dialog, the signed-document wizard's review page and the backup wizard."""
    from jacs_desktop.core.identity import create_agent
    from jacs_desktop.ui.appdialogs import WelcomeDialog
    from jacs_desktop.ui.wizards import BackupWizard, SignWizard

    welcome = WelcomeDialog(w)
    welcome.show()
    _settle(app)
    welcome.grab().save(str(out / "welcome.png"))
    print("resources/screenshots/welcome.png")
    welcome.close()
    pw = "Screenshot!Agent#2026"
    create_agent(tmp / "agent", "report-bot", pw)
    att = tmp / "q3-figures.csv"
    att.write_text("quarter,documents\nQ3,240\n")
    wiz = SignWizard(w.snapshot.store, w, files=[att], workers=w.workers)
    wiz.page_named("content").title_edit.setText("Quarterly report")
    wiz.page_named("content").editor.setPlainText('{\n  "jacsDocument": {"type": "report", "quarter": "Q3"}\n}')
    wiz.show()
    wiz.next()
    wiz.next()
    wiz.page_named("signer").config.setText(str(tmp / "agent" / "jacs.config.json"))
    wiz.page_named("signer").password.setText(pw)
    wiz.next()
    end = time.time() + 30
    while not wiz.page_named("review").isComplete() and time.time() < end:
        _settle(app, 0.1)
    _settle(app)
    wiz.grab().save(str(out / "wizard-sign-review.png"))
    print("resources/screenshots/wizard-sign-review.png")
    wiz.close()
    bw = BackupWizard(w, source=w.url, source_store=w.snapshot.store, workers=w.workers)
    bw.show()
    bw.next()
    bw.page_named("destination").archive.setText("/backups/jacs-{date}-{time}.tar.zst")
    bw.next()
    opts = bw.page_named("options")
    opts.encrypt.setChecked(True)
    opts.pass1.setText("correct horse battery staple")
    opts.pass2.setText("correct horse battery staple")
    opts.profile.setText("nightly")
    bw.flow.state["archive"] = "/backups/jacs-{date}-{time}.tar.zst"
    opts.store()
    _settle(app)
    bw.grab().save(str(out / "wizard-backup-options.png"))
    print("resources/screenshots/wizard-backup-options.png")
    bw.close()


if __name__ == "__main__":
    main()
