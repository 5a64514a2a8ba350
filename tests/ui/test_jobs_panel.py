"""The Jobs panel: verify-all and the wizards' runs are listed with progress and summary, Cancel
reaches the running job, an interrupted migration offers Resume after a restart."""

from __future__ import annotations

import json
import threading

import pytest
from conftest import FIXTURE
from PySide6.QtCore import QSettings

from jacs_desktop.jobs.history import JobHistory
from jacs_desktop.paths import state_dir
from jacs_desktop.ui.browser import BrowserWindow
from jacs_desktop.ui.jobs_panel import JobsPanel, JobTracker


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def _window(qtbot, settings) -> BrowserWindow:
    w = BrowserWindow(None, settings=settings, watch=False)
    qtbot.addWidget(w)
    w.show()
    return w


def test_verify_all_is_listed_with_its_summary_and_kept(qtbot, settings) -> None:
    w = _window(qtbot, settings)
    w.open_url(str(FIXTURE))
    qtbot.waitUntil(lambda: w.snapshot is not None and w.snapshot.documents and w.workers.active == 0,
                    timeout=60000)
    w.act_verify.trigger()  # the user's Verify all: the panel opens
    qtbot.waitUntil(lambda: w.jobs_tracker.history.records[0].state == "done", timeout=60000)
    assert w.jobs_panel.isVisible()
    rec = w.jobs_tracker.history.records[0]
    assert rec.kind == "verify" and rec.source == w.url and rec.done == rec.total > 0
    m = w.jobs_panel.model
    assert m.index(0, 5).data() == "Done" and f"{rec.total:,} / {rec.total:,}" in m.index(0, 2).data()
    w.jobs_panel.view.selectRow(0)
    assert "versions verified" in w.jobs_panel.details.toPlainText()
    assert not w.jobs_panel.retry_button.isEnabled() and not w.jobs_panel.cancel_button.isEnabled()
    w.close()
    saved = json.loads((state_dir() / "jobs.json").read_text())
    assert saved["jobs"][0]["id"] == rec.id and saved["jobs"][0]["state"] == "done"


def test_cancel_from_the_panel_reaches_the_job(qtbot) -> None:
    tracker = JobTracker(JobHistory())
    panel = JobsPanel(tracker)
    qtbot.addWidget(panel)
    stop = threading.Event()
    rec = tracker.begin("migrate", "Migrate a store", "/a", "/b", cancel=stop)
    tracker.progress(rec, 5, 20, "copying")
    assert panel.selected() is rec and panel.cancel_button.isEnabled()
    assert "5 / 20 (25%)" in panel.model.index(0, 2).data()
    panel.cancel_button.click()
    assert stop.is_set()
    tracker.finish(rec, "cancelled", "5 of 20 copied")
    assert not panel.cancel_button.isEnabled() and panel.retry_button.isEnabled()
    assert panel.resume_button.isEnabled()  # a migration goes on from its journal
    panel.clear_button.click()
    assert panel.model.rowCount() == 0 and not panel.empty.isHidden()


def test_an_interrupted_migration_offers_resume_with_its_wizard_prefilled(qtbot, settings, tmp_path) -> None:
    history = JobHistory(state_dir() / "jobs.json")
    target = str(tmp_path / "target")
    rec = history.start("migrate", "Migrate a store", str(FIXTURE), target,
                        params={"source": str(FIXTURE), "target": target, "latest_only": True,
                                "password": "never kept"})
    history.progress(rec, 3, 13)
    history.save()  # the app stops here: the record is still "running" on disk

    w = _window(qtbot, settings)
    back = w.jobs_tracker.history.get(rec.id)
    assert back is not None and back.state == "interrupted"
    w.jobs_panel.show()
    w.jobs_panel.view.selectRow(0)
    assert w.jobs_panel.resume_button.isEnabled() and w.jobs_panel.model.index(0, 5).data() == "Interrupted"
    w.jobs_panel.resume_button.click()
    wiz = w.active_wizard
    assert type(wiz).__name__ == "MigrateWizard"
    state = wiz.flow.state
    assert state["source"] == str(FIXTURE) and state["target"] == target and state["latest_only"] is True
    assert state.get("password", "") == ""
    wiz.close()
    w.close()


def test_a_wizard_run_is_tracked_from_start_to_done(qtbot, settings, tmp_path) -> None:
    w = _window(qtbot, settings)
    from jacs_desktop.ui.wizards import BackupWizard

    archive = tmp_path / "b.tar.gz"
    wiz = BackupWizard(w, source=str(FIXTURE), workers=w.workers)
    qtbot.addWidget(wiz)
    wiz.flow.state.update({"archive": str(archive), "kind": "archive"})
    wiz.show()
    run = wiz.run_page
    wiz.setStartId(wiz.ids["run"])
    wiz.restart()
    qtbot.waitUntil(lambda: run.finished_run, timeout=60000)
    rec = w.jobs_tracker.history.records[0]
    assert rec.kind == "backup" and rec.source == str(FIXTURE) and rec.target == str(archive)
    assert rec.state == ("failed" if run.failed else "done"), run.failed
    assert rec.state == "done" and rec.bytes > 0 and rec.summary
    assert w.jobs_panel.isVisible()
    wiz.close()
    w.close()
