"""The wizards, offscreen with pytest-qt: pages, validation, cancel mid-run, summary."""

import json

from conftest import AGENT_PASSWORD, FIXTURE
from PySide6.QtWidgets import QWizard

from jacs_desktop.core.identity import create_agent
from jacs_desktop.core.sign import pretty_json
from jacs_desktop.storage.memory import MemoryStore
from jacs_desktop.storage.store import Store
from jacs_desktop.storage.urls import open_store
from jacs_desktop.ui.wizards import BackupWizard, MigrateWizard, RestoreWizard, SignWizard

PASSWORD = AGENT_PASSWORD  # the agent_dir fixture (conftest) has this password


def _next(qtbot, wiz, expect: str):
    wiz.next()
    assert wiz.current_name() == expect, wiz.currentPage().error_label.text()


def _finish_run(qtbot, wiz):
    qtbot.waitUntil(lambda: wiz.run_page.finished_run, timeout=120000)
    return wiz.run_page


def test_sign_wizard_pages_validation_and_store(qtbot, agent_dir, tmp_path):
    store = Store(MemoryStore())
    att = tmp_path / "photo.png"
    att.write_bytes(b"\x89PNG fake image bytes" * 10)
    wiz = SignWizard(store, files=[att])  # as when files are dropped on the window
    qtbot.addWidget(wiz)
    wiz.show()
    assert wiz.current_name() == "content"
    content = wiz.page_named("content")
    content.editor.setPlainText("{not json")
    assert "✗" in content.live.text()
    wiz.next()
    assert wiz.current_name() == "content" and "not valid JSON" in content.error_label.text()
    content.editor.setPlainText('{"jacsDocument": {"type": "message", "content": "hi"}}')
    assert "✓" in content.live.text()
    content.form_mode.setChecked(True)  # simple JSON carries over into the form
    assert content.form_model.rowCount() == 1 and content.form_model.item(0, 0).text() == "jacsDocument"
    content.form_mode.setChecked(False)
    content.title_edit.setText("Wizard doc")
    _next(qtbot, wiz, "attachments")
    page = wiz.page_named("attachments")
    assert page.model.rowCount() == 1 and page.model.item(0, 2).text() == "image/png"
    _next(qtbot, wiz, "signer")
    signer = wiz.page_named("signer")
    wiz.next()
    assert wiz.current_name() == "signer" and "jacs.config.json" in signer.error_label.text()
    signer.config.setText(str(agent_dir / "jacs.config.json"))
    signer.password.setText("not the password!")
    wiz.next()  # a wrong password is reported here, on the signer page
    assert wiz.current_name() == "signer" and "does not unlock" in signer.error_label.text()
    signer.password.setText(PASSWORD)
    _next(qtbot, wiz, "review")
    review = wiz.page_named("review")
    qtbot.waitUntil(lambda: review.isComplete(), timeout=30000)
    assert "jacsSha256" in review.info.text() and "title" in review.info.text()
    assert "Stored in" in review.info.text() and store.objects.url in review.info.text()
    doc = wiz.flow.state["prepared"]
    assert store.refs() == []  # nothing stored before the commit button
    _next(qtbot, wiz, "run")
    page = _finish_run(qtbot, wiz)
    assert page.failed is None, page.failed
    ref = next(r for r in store.refs() if r.id == doc["jacsId"])
    assert store.verify(ref).status == "valid"
    assert doc["jacsFiles"][0]["path"] == "files/photo.png" and doc["jacsFiles"][0]["embed"]
    out = tmp_path / "summary.json"
    page.save_summary(str(out))
    assert json.loads(out.read_text())["jacsId"] == doc["jacsId"]


def test_new_version_wizard_prefills_and_links(qtbot, agent_dir):
    from jacs_desktop.core.identity import Identity

    store = Store(MemoryStore())
    ident = Identity.load(agent_dir / "jacs.config.json")
    first = ident.unlock(PASSWORD).new_document({"n": 1, "note": "first"})
    store.put_document(first, pretty_json(first))
    wiz = SignWizard(store, previous=first, config_path=str(agent_dir / "jacs.config.json"))
    qtbot.addWidget(wiz)
    wiz.show()
    assert wiz.windowTitle() == "New version"
    content = wiz.page_named("content")
    assert json.loads(content.editor.toPlainText()) == {"n": 1, "note": "first"}
    content.editor.setPlainText('{"n": 2, "note": "second"}')
    _next(qtbot, wiz, "attachments")
    _next(qtbot, wiz, "signer")
    signer = wiz.page_named("signer")
    assert not signer.create_radio.isEnabled()  # only the original signer may update
    signer.password.setText(PASSWORD)
    _next(qtbot, wiz, "review")
    qtbot.waitUntil(lambda: wiz.page_named("review").isComplete(), timeout=30000)
    _next(qtbot, wiz, "run")
    _finish_run(qtbot, wiz)
    versions = [r for r in store.refs() if r.id == first["jacsId"]]
    assert len(versions) == 2
    new = wiz.flow.state["prepared"]
    assert new["jacsPreviousVersion"] == first["jacsVersion"] and new["n"] == 2
    assert all(store.verify(r).status == "valid" for r in versions)


def _big_source(n=1500):
    import tempfile

    d = tempfile.mkdtemp()
    ident = create_agent(d, "bulk", PASSWORD)
    store = Store(MemoryStore())
    store.put_public_key(ident.public_key, ident.algorithm)
    s = ident.signer
    for i in range(n):
        doc = s.new_document({"i": i, "pad": "x" * 200})
        store.put_document(doc, pretty_json(doc))
    return store


def test_migrate_wizard_cancel_then_resume(qtbot, tmp_path, agent_dir):
    src = _big_source()
    target = "sqlite://" + str(tmp_path / "target.sqlite3")
    wiz = MigrateWizard(source=src.url, source_store=src, concurrency=1)
    qtbot.addWidget(wiz)
    wiz.show()
    _next(qtbot, wiz, "target")
    tgt = wiz.page_named("target")
    tgt.picker.setText(src.url)
    wiz.next()
    assert wiz.current_name() == "target" and "same store" in tgt.error_label.text()
    tgt.picker.setText(target)
    _next(qtbot, wiz, "what")
    _next(qtbot, wiz, "mode")
    mode = wiz.page_named("mode")
    mode.radios["resign"].setChecked(True)
    assert mode.warning.isVisibleTo(mode)
    wiz.next()
    assert wiz.current_name() == "mode" and "tick the box" in mode.error_label.text()
    mode.ack.setChecked(True)
    _next(qtbot, wiz, "identity")  # re-signing asks who signs
    ident = wiz.page_named("identity")
    wiz.next()
    assert wiz.current_name() == "identity" and "jacs.config.json" in ident.error_label.text()
    ident.file.setText(str(agent_dir / "jacs.config.json"))
    ident.secret.setText(PASSWORD)
    _next(qtbot, wiz, "review")
    assert "RE-SIGN" in wiz.page_named("review").text.toPlainText()
    wiz.back()
    wiz.back()
    mode.radios["verbatim"].setChecked(True)
    _next(qtbot, wiz, "review")
    assert "verbatim copy" in wiz.page_named("review").text.toPlainText()
    _next(qtbot, wiz, "run")
    run = wiz.run_page
    qtbot.waitUntil(lambda: run.bar.value() > 20 or run.finished_run, timeout=60000)
    wiz.reject()  # Cancel while running: the job stops, the wizard stays for the summary
    assert wiz.isVisible()
    _finish_run(qtbot, wiz)
    assert run.cancelled and "Cancelled" in run.status.text() and "continue" in run.summary.toPlainText()
    first = run.result
    assert 0 < len(first.copied) < 1500
    # the same migration again continues from the journal: nothing duplicated, nothing lost
    again = MigrateWizard(source=src.url, source_store=src)
    qtbot.addWidget(again)
    again.flow.state["target"] = target
    report = again.flow.run()
    assert report.ok
    dst = open_store(target)
    docs = [r for r in dst.refs() if r.kind == "document"]
    assert len(docs) == 1500
    assert not set(report.copied) & set(first.copied) and report.resumed >= len(first.copied)
    assert {r.version for r in docs} == {r.version for r in src.refs() if r.kind == "document"}


def test_backup_and_restore_wizards(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("JACS_DESKTOP_SECRETS", "file")
    monkeypatch.setenv("JACS_DESKTOP_MASTER_PASSWORD", "master for wizard tests")
    wiz = BackupWizard(source=str(FIXTURE))
    qtbot.addWidget(wiz)
    wiz.show()
    _next(qtbot, wiz, "destination")
    dest = wiz.page_named("destination")
    assert "{date}" in dest.archive.text()
    dest.archive.setText(str(tmp_path / "fixture-{date}.tar.gz"))
    _next(qtbot, wiz, "options")
    opts = wiz.page_named("options")
    opts.encrypt.setChecked(True)
    opts.pass1.setText("correct horse battery")
    opts.pass2.setText("correct horse battery!")
    wiz.next()
    assert wiz.current_name() == "options" and "differ" in opts.error_label.text()
    opts.pass2.setText("correct horse battery")
    opts.remember.setChecked(True)
    opts.profile.setText("nightly fixture")
    _next(qtbot, wiz, "review")
    text = wiz.page_named("review").text.toPlainText()
    assert "jacs-desktop-cli backup --profile 'nightly fixture'" in text
    _next(qtbot, wiz, "run")
    run = _finish_run(qtbot, wiz)
    assert run.failed is None, run.failed
    assert "cron" in run.summary.toPlainText()
    archive = run.result.path
    assert run.result.ok and "{date}" not in archive
    # an encrypted archive is not a tar file: its name says so, and says how it is compressed inside
    assert archive.endswith(".tar.gz.jdbackup") and ".tar.gz.jdbackup" in text

    r = RestoreWizard(archive=archive)
    qtbot.addWidget(r)
    r.show()
    r.page_named("archive").secret.setText("wrong one")
    _next(qtbot, r, "verify")
    ver = r.page_named("verify")
    qtbot.waitUntil(lambda: not ver.busy, timeout=30000)
    assert not ver.isComplete() and "passphrase" in ver.error_label.text().lower()
    r.back()
    r.page_named("archive").secret.setText("correct horse battery")
    _next(qtbot, r, "verify")
    qtbot.waitUntil(lambda: ver.isComplete(), timeout=30000)
    assert "verifies" in ver.status.text()
    _next(qtbot, r, "target")
    target = tmp_path / "restored"
    r.page_named("target").picker.setText(str(target))
    _next(qtbot, r, "policy")
    _next(qtbot, r, "run")
    run = _finish_run(qtbot, r)
    assert run.failed is None and run.result.ok
    restored = open_store(str(target))
    assert sum(1 for x in restored.refs() if x.kind == "document") == 13
    assert r.button(QWizard.WizardButton.FinishButton).isVisible()
    # and it offers to open what was restored
    assert r.open_button.isVisible()
    with qtbot.waitSignal(r.open_requested, timeout=5000) as opened:
        r.open_button.click()
    assert opened.args == [str(target)]


def test_backup_wizard_warns_and_restore_wizard_choices(qtbot, tmp_path, fixture_copy):
    """A store with a tampered version: the backup summary says so; the restore wizard
    offers to leave it out; a damaged archive goes on only when the user chooses to
    restore the intact entries."""
    from jobs.test_backup import TAMPERED, _flip_entry, _tamper  # tests/ is on sys.path (its conftest)

    _tamper(fixture_copy)
    wiz = BackupWizard(source=str(fixture_copy))
    qtbot.addWidget(wiz)
    wiz.show()
    _next(qtbot, wiz, "destination")
    wiz.page_named("destination").archive.setText(str(tmp_path / "t.tar.gz"))
    _next(qtbot, wiz, "options")
    _next(qtbot, wiz, "review")
    _next(qtbot, wiz, "run")
    run = _finish_run(qtbot, wiz)
    assert run.failed is None, run.failed
    summary = run.summary.toPlainText()
    assert "does not verify" in summary and TAMPERED in summary and run.result.invalid.keys() == {TAMPERED}
    archive = tmp_path / "t.tar.gz"

    r = RestoreWizard(archive=str(archive))
    qtbot.addWidget(r)
    r.show()
    _next(qtbot, r, "verify")
    ver = r.page_named("verify")
    qtbot.waitUntil(lambda: not ver.busy, timeout=30000)
    assert ver.isComplete() and "do not verify" in ver.status.text()
    assert ver.skip_invalid.isVisibleTo(ver) and not ver.partial.isVisibleTo(ver)
    ver.skip_invalid.setChecked(True)
    _next(qtbot, r, "target")
    r.page_named("target").picker.setText(str(tmp_path / "restored"))
    _next(qtbot, r, "policy")
    _next(qtbot, r, "run")
    done = _finish_run(qtbot, r)
    assert done.failed is None and done.result.left_out == [TAMPERED]
    assert not (tmp_path / "restored" / TAMPERED).exists()
    assert "left out 1" in done.summary.toPlainText()

    bad = tmp_path / "damaged.tar.gz"
    flipped = _flip_entry(archive, bad, "jacs_data/")
    d = RestoreWizard(archive=str(bad))
    qtbot.addWidget(d)
    d.show()
    _next(qtbot, d, "verify")
    dver = d.page_named("verify")
    qtbot.waitUntil(lambda: not dver.busy, timeout=30000)
    assert not dver.isComplete() and "damaged" in dver.status.text() and dver.partial.isVisibleTo(dver)
    assert "damaged" in dver.error_label.text() and flipped in dver.text.toPlainText()
    dver.partial.setChecked(True)
    assert dver.isComplete() and dver.error_label.text() == ""
    _next(qtbot, d, "target")
    d.page_named("target").picker.setText(str(tmp_path / "partial"))
    _next(qtbot, d, "policy")
    _next(qtbot, d, "run")
    done = _finish_run(qtbot, d)
    assert done.failed is None and flipped in done.result.left_out
    assert not (tmp_path / "partial" / flipped).exists() and (tmp_path / "partial" / TAMPERED).exists()


def test_migrate_target_is_checked_when_its_page_is_left(qtbot, tmp_path):
    src = open_store(str(FIXTURE))
    wiz = MigrateWizard(source=str(FIXTURE), source_store=src)
    qtbot.addWidget(wiz)
    wiz.show()
    _next(qtbot, wiz, "target")
    tgt = wiz.page_named("target")
    # an endpoint nobody listens on: the page says so and stays, long before any job runs
    tgt.picker.setText("s3://bucket/x?endpoint_url=http://127.0.0.1:9")
    wiz.next()
    assert wiz.current_name() == "target" and "Checking" in tgt.error_label.text()
    qtbot.waitUntil(lambda: "cannot be used as the target" in tgt.error_label.text(), timeout=30000)
    assert wiz.current_name() == "target"
    # an existing, writable folder passes (the check leaves nothing in it) and the wizard goes on
    folder = tmp_path / "existing"
    folder.mkdir()
    tgt.picker.setText(str(folder))
    wiz.next()
    qtbot.waitUntil(lambda: wiz.current_name() == "what", timeout=30000)
    assert list(folder.iterdir()) == []
    # a new store that the job will create is not checked
    wiz.back()
    tgt.picker.setText(str(tmp_path / "new-store"))
    wiz.next()
    assert wiz.current_name() == "what"


def test_new_version_fills_the_title_lists_kept_attachments_and_asks_the_password_once(qtbot, agent_dir):
    from jacs_desktop.core.identity import Identity
    from jacs_desktop.core.sign import make_attachment

    store = Store(MemoryStore())
    ident = Identity.load(agent_dir / "jacs.config.json")
    att = make_attachment(b"a,b\n1,2\n", "files/data.csv", embed=True)
    first = ident.unlock(PASSWORD).new_document({"title": "Quarterly numbers", "n": 1}, attachments=[att])
    store.put_document(first, pretty_json(first))
    config = str(agent_dir / "jacs.config.json")

    wiz = SignWizard(store, previous=first, config_path=config)
    qtbot.addWidget(wiz)
    wiz.show()
    content = wiz.page_named("content")
    assert content.title_edit.text() == "Quarterly numbers"
    assert json.loads(content.editor.toPlainText()) == {"n": 1}
    _next(qtbot, wiz, "attachments")
    kept = wiz.page_named("attachments").inherited
    assert kept.isVisible() and "files/data.csv" in kept.text() and "embedded" in kept.text()
    _next(qtbot, wiz, "signer")
    wiz.page_named("signer").password.setText(PASSWORD)
    _next(qtbot, wiz, "review")
    qtbot.waitUntil(lambda: wiz.page_named("review").isComplete(), timeout=30000)
    _next(qtbot, wiz, "run")
    _finish_run(qtbot, wiz)
    second = wiz.flow.state["prepared"]
    assert second["title"] == "Quarterly numbers" and [f["path"] for f in second["jacsFiles"]] == ["files/data.csv"]
    # the next wizard in this run does not ask again: the password is filled in (memory only)
    again = SignWizard(store, previous=second, config_path=config)
    qtbot.addWidget(again)
    again.show()
    _next(qtbot, again, "attachments")
    _next(qtbot, again, "signer")
    assert again.page_named("signer").password.text() == PASSWORD


def test_remember_is_disabled_with_the_reason_where_nothing_can_remember(qtbot, monkeypatch):
    monkeypatch.setenv("JACS_DESKTOP_SECRETS", "session")
    wiz = BackupWizard(source=str(FIXTURE))
    qtbot.addWidget(wiz)
    wiz.show()
    _next(qtbot, wiz, "destination")
    _next(qtbot, wiz, "options")
    opts = wiz.page_named("options")
    opts.encrypt.setChecked(True)
    assert not opts.remember.isEnabled() and not opts.remember.isChecked()
    assert opts.keyring_note.isVisible() and "cannot be remembered" in opts.keyring_note.text()


def test_a_refusal_does_not_outlive_the_fix(qtbot):
    wiz = BackupWizard(source=str(FIXTURE))
    qtbot.addWidget(wiz)
    wiz.show()
    _next(qtbot, wiz, "destination")
    _next(qtbot, wiz, "options")
    opts = wiz.page_named("options")
    opts.encrypt.setChecked(True)
    wiz.next()
    assert wiz.current_name() == "options" and "passphrase" in opts.error_label.text()
    qtbot.keyClicks(opts.pass1, "x")  # the first edit takes the message away; Next checks again
    assert opts.error_label.text() == ""
    wiz.next()
    assert "passphrase" in opts.error_label.text()
