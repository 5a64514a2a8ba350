"""Render the main window on the fixture store, offscreen, light and dark, into
resources/screenshots/. Run: .venv/bin/python packaging/make_screenshots.py"""

import os
import shutil
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
    # neutral paths in the pictures (no folder of the machine that made them): the store is a copy
    # of the fixture in a fresh folder, and the trust store is beside it
    tmp = Path(tempfile.gettempdir()) / "jacs-screenshots"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    shutil.copytree(fixture, tmp / "example-store")
    fixture = tmp / "example-store"
    os.environ["JACS_TRUST_STORE_DIR"] = str(tmp / "trusted_agents")
    os.environ["JACS_DESKTOP_STATE_DIR"] = str(tmp / "state")
    os.environ["XDG_DATA_HOME"] = str(tmp / "xdg-data")  # the welcome's menu-entry offer writes here
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
            laptop(app, w, out)
            extra(app, w, out, tmp)
            repin_and_checkpoints(app, out, tmp, fixture)
        w.close()


def _settle(app, seconds=0.6):
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.02)


def laptop(app, w, out) -> None:
    """The window on a 1366 x 768 laptop screen, the Jobs panel after Verify all, and the stores
    sidebar's context menu (drawn onto the window where it pops up)."""
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QPainter

    w.resize(1366, 768)
    _settle(app)
    w.grab().save(str(out / "main-1366x768.png"))
    print("resources/screenshots/main-1366x768.png")
    w.act_verify.trigger()  # the user's Verify all: the Jobs panel opens with it
    end = time.time() + 60
    while time.time() < end and (not w.jobs_tracker.history.records
                                 or w.jobs_tracker.history.records[0].state == "running"):
        _settle(app, 0.1)
    w.jobs_panel.view.selectRow(0)
    _settle(app)
    w.grab().save(str(out / "jobs-panel.png"))
    print("resources/screenshots/jobs-panel.png")
    w.jobs_panel.hide()
    sp = w.sources_panel
    item = sp.list.item(0)
    rect = sp.list.visualItemRect(item)
    menu = sp.menu_for(item.data(0x0100))
    at = sp.list.viewport().mapTo(w, rect.center())
    menu.popup(w.mapToGlobal(at))
    _settle(app)
    shot = w.grab()
    painter = QPainter(shot)
    painter.drawPixmap(QPoint(at.x(), at.y()), menu.grab())
    painter.end()
    shot.save(str(out / "context-menu.png"))
    print("resources/screenshots/context-menu.png")
    menu.close()
    w.resize(1400, 860)


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
    backups = tmp / "backups"
    backups.mkdir(exist_ok=True)
    archive = str(backups / "jacs-{date}-{time}.tar.zst")
    bw = BackupWizard(w, source=w.url, source_store=w.snapshot.store, workers=w.workers)
    bw.show()
    bw.next()
    bw.page_named("destination").archive.setText(archive)
    bw.next()
    opts = bw.page_named("options")
    opts.encrypt.setChecked(True)
    opts.pass1.setText("correct horse battery staple")
    opts.pass2.setText("correct horse battery staple")
    opts.profile.setText("nightly")
    bw.flow.state["archive"] = archive
    opts.store()
    _settle(app)
    bw.grab().save(str(out / "wizard-backup-options.png"))
    print("resources/screenshots/wizard-backup-options.png")
    bw.close()


def repin_and_checkpoints(app, out, tmp, fixture) -> None:
    """The detail pane's re-pin offer (an agent trusted, then rotated to pq2025, signs again) and
    the checkpoint diff window (two checkpoints of a copy of the fixture, a document signed between)."""
    import json

    from PySide6.QtCore import QSettings

    from jacs_desktop.core.identity import create_agent
    from jacs_desktop.jobs.checkpoints import checkpoints, make_checkpoint, store_entries
    from jacs_desktop.jobs.keymgmt import rotate_keys
    from jacs_desktop.jobs.trust import TrustStore
    from jacs_desktop.storage.opener import open_store
    from jacs_desktop.ui.browser import BrowserWindow
    from jacs_desktop.ui.browser.checkpoint_diff import CheckpointDiffWindow

    pw = "Screenshot!Rotate#2026"
    root = tmp / "rotated-agent"
    rory = create_agent(root, "rory", pw)
    TrustStore().add(json.loads(rory.config.agent_file.read_text()), rory.public_key, rory.algorithm)
    rotated = rotate_keys(rory, pw, "pq2025").identity
    store = open_store(str(root))
    store.put_document(rotated.unlock(pw).new_document({"jacsDocument": {"type": "report", "quarter": "Q4"}}))
    store.close()
    w = BrowserWindow(None, settings=QSettings(str(tmp / "repin.ini"), QSettings.Format.IniFormat), watch=False)
    w.resize(1400, 860)
    w.show()
    w.open_url(str(root))
    end = time.time() + 60
    while time.time() < end and not (w.snapshot and w.docs_model.rowCount() and w.workers.active == 0
                                     and all(r.verdict for r in w.snapshot.documents)):
        _settle(app, 0.1)
    w.docs_view.selectRow(0)
    _settle(app, 1.0)
    w.grab().save(str(out / "repin-offer.png"))
    print("resources/screenshots/repin-offer.png")
    w.close()

    cstore = tmp / "checkpointed-store"
    shutil.copytree(fixture, cstore)
    keeper = create_agent(tmp / "keeper", "keeper", pw)
    store = open_store(str(cstore))
    store.put_agent(json.loads(keeper.config.agent_file.read_text()))  # the store knows who signs
    store.put_public_key(keeper.public_key, keeper.algorithm)
    signer = keeper.unlock(pw)
    make_checkpoint(store, signer)
    # between the checkpoints: a version removed, one added
    (cstore / next(key for key, _sha in store_entries(store)[0] if key.startswith("documents/"))).unlink()
    store.invalidate()
    store.put_document(signer.new_document({"jacsDocument": {"type": "report", "quarter": "Q4"}}))
    make_checkpoint(store, signer)
    dw = CheckpointDiffWindow(store, w.workers, identity=keeper, rows=checkpoints(store))
    dw.resize(1150, 560)
    dw.show()
    _settle(app)
    dw.grab().save(str(out / "checkpoint-diff.png"))
    print("resources/screenshots/checkpoint-diff.png")
    dw.close()
    store.close()


if __name__ == "__main__":
    main()
