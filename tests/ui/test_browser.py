"""The browser window, offscreen, on the real fixture store."""

import shutil

import pytest
from conftest import FIXTURE, MANIFEST
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QAbstractItemModelTester

from jacs_desktop.ui.browser import BrowserWindow


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("JACS_DESKTOP_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("JACS_DESKTOP_CACHE_DIR", str(tmp_path / "cache"))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = BrowserWindow(None, settings=settings, watch=False)
    qtbot.addWidget(w)
    testers = [QAbstractItemModelTester(m, QAbstractItemModelTester.FailureReportingMode.Fatal, w)
               for m in (w.agents_model, w.docs_model, w.archived_model, w.versions_model, w.attachments_model,
                         w.checks_model, w.diff_model)]
    w._testers = testers
    w.show()
    yield w
    w.close()


def _open_and_verify(qtbot, w, url):
    w.open_url(str(url))
    qtbot.waitUntil(lambda: w.snapshot is not None and w.snapshot.documents
                    and all(r.verdict for r in w.snapshot.documents + w.snapshot.agents)
                    and w.workers.active == 0, timeout=60000)


def _select_doc(qtbot, w, doc_id):
    for r in range(w.docs_model.rowCount()):
        if w.docs_model.row_object(r).id == doc_id:
            w.docs_view.selectRow(r)
            return w.docs_model.row_object(r)
    raise AssertionError(doc_id)


def test_fixture_store_agents_documents_versions_verdicts(qtbot, window):
    w = window
    _open_and_verify(qtbot, w, FIXTURE)
    assert w.agents_model.rowCount() == 2 and w.docs_model.rowCount() == 7
    names = {w.agents_model.row_object(r).name for r in range(2)}
    assert names == {"fixture-ed25519", "fixture-pq2025"}
    assert {w.docs_model.row_object(r).status for r in range(7)} == {"valid"}
    assert "7 documents, 13 versions: 13 valid" in w.count_label.text()
    assert "verified every version: 15 of 15" in w.count_label.text()
    assert w.layout_label.text() == "layout: jacs"
    chain_id = "fbf12295-f05e-4bac-b165-1064712de0f8"
    row = _select_doc(qtbot, w, chain_id)
    assert row.signer_name == "fixture-pq2025" and row.title == "Agreement: Do you approve?"
    versions = [w.versions_model.row_object(r).node.version for r in range(w.versions_model.rowCount())]
    assert versions == MANIFEST["version_chains"][chain_id]
    assert "valid" in w.verdict_label.text()
    checks = {c.name: c.status for c in w.checks_model.all_rows}
    assert checks["hash"] == "ok" and checks["signature"] == "ok" and checks["agreement terms"] == "warning"
    assert '"question": "Do you approve?"' in w.json_view.toPlainText()
    # diff between the last two versions: the new agreement signature, signed fields marked
    assert w.diff_model.rowCount() >= 1
    # a version that was not verified yet is verified on selection
    w.versions_view.selectRow(0)
    qtbot.waitUntil(lambda: w.versions_model.row_object(0).verdict is not None, timeout=10000)
    assert w.versions_model.row_object(0).status == "valid"


def test_attachments_and_embedded_contents_shown_as_size(qtbot, window):
    w = window
    _open_and_verify(qtbot, w, FIXTURE)
    _select_doc(qtbot, w, "c0ccfa5f-40c0-43e3-950f-83ca6ba3aac9")
    assert w.attachments_model.rowCount() == 1
    a = w.attachments_model.row_object(0)
    assert a["path"] == "files/report.txt" and a["_status"] == "ok" and a["_size"].endswith(" B")
    assert "characters of base64>" in w.json_view.toPlainText() or len(a["contents"]) <= 200
    w.attachments_view.selectRow(0)
    assert w._attachment_bytes()[1] == (FIXTURE / "files" / "report.txt").read_bytes()
    _select_doc(qtbot, w, "651a863f-8d67-4a94-a225-dbbc2b1feffa")
    w.attachments_view.selectRow(0)
    assert w.attachments_model.row_object(0)["embed"] is False
    qtbot.waitUntil(lambda: w._attachment_bytes() is not None, timeout=10000)  # an external file: read by a worker
    assert w._attachment_bytes()[1] == (FIXTURE / "jacs_data/files/data.csv").read_bytes()


def test_tampered_document_shown_invalid_with_reason(qtbot, window, fixture_copy):
    w = window
    target = fixture_copy / "documents/52e07b44-6d02-4085-8401-6c5efce90602:2da65630-cb8e-4320-a78a-93f4d6c94eaa.json"
    shutil.copy(FIXTURE / "tampered/content_changed_rehashed.json", target)
    _open_and_verify(qtbot, w, fixture_copy)
    row = _select_doc(qtbot, w, "52e07b44-6d02-4085-8401-6c5efce90602")
    assert row.status == "invalid"
    assert "signature does not match" in w.verdict_label.text()
    assert "13 versions: 12 valid, 1 invalid" in w.count_label.text()
    failed = [c for c in w.checks_model.all_rows if c.status == "failed"]
    assert failed and "Ed25519 signature does not match" in failed[0].reason
    # the rest of the store still works
    assert sum(1 for r in w.snapshot.documents if r.status == "valid") == 6


def test_filter_and_full_text_search(qtbot, window):
    w = window
    _open_and_verify(qtbot, w, FIXTURE)
    w.search.setText("report")
    assert w.docs_model.rowCount() == 1
    w.search.setText("fixture-pq2025")  # signer name
    assert w.docs_model.rowCount() == 4
    w.search.setText("approve")
    w.full_text_search()
    qtbot.waitUntil(lambda: w.workers.active == 0 and w.docs_model.rowCount() == 1, timeout=10000)
    assert w.docs_model.row_object(0).id == "fbf12295-f05e-4bac-b165-1064712de0f8"
    w.search.clear()
    assert w.docs_model.rowCount() == 7


def test_sorting_in_the_model(qtbot, window):
    w = window
    _open_and_verify(qtbot, w, FIXTURE)
    w.docs_view.sortByColumn(5, Qt.SortOrder.DescendingOrder)  # versions
    assert [w.docs_model.row_object(r).versions for r in range(7)] == [4, 3, 2, 1, 1, 1, 1]


def test_drop_files_verifies_them(qtbot, window, tmp_path):
    w = window
    _open_and_verify(qtbot, w, FIXTURE)
    mime = QMimeData()
    other = tmp_path / "notes.txt"
    other.write_text("plain text")
    mime.setUrls([QUrl.fromLocalFile(str(FIXTURE / "tampered/unsigned_field_added.json")),
                  QUrl.fromLocalFile(str(other))])
    ev = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                    Qt.KeyboardModifier.NoModifier)
    w.dropEvent(ev)
    qtbot.waitUntil(lambda: bool(w.dropped) and getattr(w, "active_wizard", None) is not None, timeout=10000)
    [(_p1, v1, r1)] = w.dropped  # the JACS document is verified ...
    assert v1.status == "invalid" and "approvedBy" in r1
    assert "invalid" in w.verdict_label.text()
    wiz = w.active_wizard  # ... and the other file opens the signed-document wizard with it attached
    assert wiz.isVisible() and [a["path"] for a in wiz.flow.state["attachments"]] == [str(other)]
    wiz.close()


def test_dropped_file_signed_into_store_and_selected(qtbot, window, tmp_path):
    from jacs_desktop.core.identity import create_agent

    w = window
    store_dir = tmp_path / "store"
    from jacs_desktop.storage.fs import FsStore

    FsStore(store_dir, create=True)
    w.open_url(str(store_dir))
    qtbot.waitUntil(lambda: w.snapshot is not None and w.workers.active == 0, timeout=30000)
    pw = "Browser!Wizard#2026"
    create_agent(tmp_path / "me", "me", pw)
    f = tmp_path / "report.csv"
    f.write_text("a,b\n1,2\n")
    w.files_dropped([f])  # read on a worker
    qtbot.waitUntil(lambda: getattr(w, "active_wizard", None) is not None, timeout=10000)
    wiz = w.active_wizard
    wiz.page_named("content").title_edit.setText("Dropped report")
    wiz.next()
    wiz.next()
    signer = wiz.page_named("signer")
    signer.config.setText(str(tmp_path / "me" / "jacs.config.json"))
    signer.password.setText(pw)
    wiz.next()
    qtbot.waitUntil(lambda: wiz.page_named("review").isComplete(), timeout=30000)
    doc_id = wiz.flow.state["prepared"]["jacsId"]
    wiz.next()
    qtbot.waitUntil(lambda: w._current_doc is not None and w._current_doc.id == doc_id
                    and w.workers.active == 0, timeout=60000)
    assert w.tabs.currentIndex() == 1 and w._current_doc.status == "valid"
    assert w.attachments_model.rowCount() == 1
    assert w.settings.value("last_identity") == str(tmp_path / "me" / "jacs.config.json")


def test_unreachable_s3_shows_a_clear_error(qtbot, window):
    w = window
    url = "s3://bucket?endpoint_url=http://127.0.0.1:1&max_attempts=1&connect_timeout=1"
    with qtbot.waitSignal(w.load_failed, timeout=30000):
        w.open_url(url, secrets={"access_key": "a", "secret_key": "b"})
    assert w.banner.isVisible() and "Cannot reach the S3 endpoint" in w.banner.text()
    assert w.docs_model.rowCount() == 0
    item = next(w.sources.item(i) for i in range(w.sources.count()) if w.sources.item(i).data(Qt.ItemDataRole.UserRole) == url)
    assert "⚠" in item.text() and "Cannot reach" in item.toolTip()
    # the window keeps working: open a good store after the failure
    _open_and_verify(qtbot, w, FIXTURE)
    assert w.docs_model.rowCount() == 7


def test_bad_folder_and_empty_store(qtbot, window, tmp_path):
    w = window
    with qtbot.waitSignal(w.load_failed, timeout=10000):
        w.open_url(str(tmp_path / "missing"))
    assert "not a folder" in w.banner.text()
    empty = tmp_path / "empty"
    empty.mkdir()
    with qtbot.waitSignal(w.store_opened, timeout=10000):
        w.open_url(str(empty))
    assert w.empty_label.isVisible() and "empty" in w.empty_label.text()


def test_live_refresh_of_folder_store(qtbot, tmp_path, fixture_copy, monkeypatch):
    monkeypatch.setenv("JACS_DESKTOP_CACHE_DIR", str(tmp_path / "cache"))
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    w = BrowserWindow(None, settings=settings, watch=True)
    qtbot.addWidget(w)
    _open_and_verify(qtbot, w, fixture_copy)
    assert w.docs_model.rowCount() == 7
    src = FIXTURE / MANIFEST["documents"][0]["path"]
    shutil.copy(src, fixture_copy / "documents" / "aaaaaaaa-0000-4000-8000-000000000000:bbbbbbbb-0000-4000-8000-000000000000.json")
    qtbot.waitUntil(lambda: w.snapshot is not None and len(w.snapshot.documents) == 8, timeout=15000)
    qtbot.waitUntil(lambda: w.workers.active == 0, timeout=30000)
    w.close()


def test_attachment_preview_and_drag_out(qtbot, window):
    w = window
    _open_and_verify(qtbot, w, FIXTURE)
    _select_doc(qtbot, w, "c0ccfa5f-40c0-43e3-950f-83ca6ba3aac9")
    w.attachments_view.selectRow(0)
    expected = (FIXTURE / "files" / "report.txt").read_text()
    assert w.preview_text.toPlainText() == expected
    mime = w.attachments_model.mimeData([w.attachments_model.index(0, 0)])
    files = [u.toLocalFile() for u in mime.urls()]
    assert len(files) == 1 and files[0].endswith("report.txt")
    from pathlib import Path

    assert Path(files[0]).read_text() == expected


def test_menus_and_shortcuts(qtbot, window):
    w = window
    titles = [a.text() for a in w.menuBar().actions()]
    assert titles == ["&File", "&Edit", "&View", "&Document", "&Tools", "&Help"]
    assert w.act_refresh.shortcut().toString() == "F5"
    assert w.act_find.shortcut().matches(w.act_find.shortcut()) and not w.act_find.shortcut().isEmpty()


def test_password_dialog_without_keyring_says_so(qtbot):
    import keyring
    from keyring.backends import fail

    from jacs_desktop.ui.dialogs import PasswordDialog

    old = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        d = PasswordDialog(None, "Password for agent X", "agent:x:password")
        qtbot.addWidget(d)
        assert not d.remember.isEnabled() and "Cannot remember it" in d.note.text()
        d.edit.setText("secret")
        d._accept()
        assert d.result() == 1 and d.password == "secret"
    finally:
        keyring.set_keyring(old)


def test_json_tree_folds_and_shows_big_values_as_size(qtbot, window):
    import json as _json

    from jacs_desktop.ui.jsontree import JsonTreeModel

    w = window
    _open_and_verify(qtbot, w, FIXTURE)
    _select_doc(qtbot, w, "c0ccfa5f-40c0-43e3-950f-83ca6ba3aac9")
    m = w.tree_model
    top = {m.index(r, 0).data(): m.index(r, 1).data() for r in range(m.rowCount())}
    assert top["jacsId"] == '"c0ccfa5f-40c0-43e3-950f-83ca6ba3aac9"'
    assert top["jacsFiles"] == "[…] 1 items"
    files = next(m.index(r, 0) for r in range(m.rowCount()) if m.index(r, 0).data() == "jacsFiles")
    entry = m.index(0, 0, files)
    values = {m.index(r, 0, entry).data(): m.index(r, 1, entry).data() for r in range(m.rowCount(entry))}
    assert values["path"] == '"files/report.txt"'
    _select_doc(qtbot, w, "c4fbdd85-f661-4505-989e-ff0607d83a19")  # pq2025: a 6,000-character signature
    sig = next(m.index(r, 0) for r in range(m.rowCount()) if m.index(r, 0).data() == "jacsSignature")
    sigv = {m.index(r, 0, sig).data(): m.index(r, 1, sig).data() for r in range(m.rowCount(sig))}
    assert sigv["signature"].startswith("<") and "characters>" in sigv["signature"]
    fresh = JsonTreeModel()
    QAbstractItemModelTester(fresh, QAbstractItemModelTester.FailureReportingMode.Fatal)
    fresh.set_document(_json.loads((FIXTURE / MANIFEST["documents"][-1]["path"]).read_text()))
    assert fresh.rowCount() > 5


def test_profile_without_secret_asks_for_it(qtbot, window, tmp_path, monkeypatch):
    """A saved S3 connection whose secret is not remembered: the password dialog asks, then it opens."""
    import uuid

    from s3servers import S3_KEY, S3_SECRET, moto_server

    from jacs_desktop.storage.connections import Connections
    from jacs_desktop.storage.s3 import S3Store
    from jacs_desktop.storage.secrets import Secrets
    from jacs_desktop.ui import dialogs

    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("JACS_DESKTOP_SECRETS", "session")
    asked = []

    def fake_exec(self):
        asked.append(self.secret_name)
        self.edit.setText(S3_SECRET)
        return 1

    monkeypatch.setattr(dialogs.PasswordDialog, "exec", fake_exec)
    with moto_server() as endpoint:
        bucket = f"jd-{uuid.uuid4().hex[:8]}"
        s = S3Store(bucket, endpoint_url=endpoint, access_key=S3_KEY, secret_key=S3_SECRET, create_bucket=True)
        for f in FIXTURE.rglob("*"):
            if f.is_file() and "tampered" not in f.parts:
                s.put(f.relative_to(FIXTURE).as_posix(), f.read_bytes())
        Connections(secrets=Secrets("session")).add("moto", f"s3://{bucket}?endpoint_url={endpoint}", access_key=S3_KEY)
        _open_and_verify(qtbot, w := window, "profile:moto")
        assert asked == ["connection:moto:secret_key"]
        assert w.docs_model.rowCount() == 7 and not w.banner.isVisible()


def test_cancel_stops_work_and_the_window_keeps_working(qtbot, window, tmp_path):
    from jacs_desktop.core.identity import create_agent
    from jacs_desktop.storage.fs import FsStore
    from jacs_desktop.storage.store import Store

    w = window
    root = tmp_path / "many"
    ident = create_agent(root, "bulk", "Str0ng!Passw0rd#x")
    st = Store(FsStore(root))
    for i in range(4000):
        st.put_document(ident.signer.new_document({"i": i, "pad": "x" * 500}))
    w.open_url(str(root))
    qtbot.waitUntil(lambda: w.progress.isVisible() and w.progress.format().startswith("Verifying"), timeout=60000)
    assert w.cancel_button.isVisible()
    w.cancel_button.click()
    assert not w.cancel_button.isVisible() and not w.progress.isVisible()
    qtbot.waitUntil(lambda: w.workers.active == 0, timeout=20000)
    pending = sum(1 for r in w.docs_model.all_rows if r.verdict is None)
    assert pending > 0  # verification really stopped
    _open_and_verify(qtbot, w, FIXTURE)
    assert w.docs_model.rowCount() == 7


def test_first_run_opens_a_default_local_store(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    from jacs_desktop.app import default_store

    path = default_store()
    assert path.startswith(str(tmp_path / "data")) and __import__("os").path.isdir(path)


def test_selecting_a_document_whose_body_is_not_cached_reads_it_off_the_gui_thread(qtbot, window):
    w = window
    _open_and_verify(qtbot, w, FIXTURE)
    w.snapshot.store.invalidate()  # as on a cold S3 store: nothing in memory
    chain_id = "52e07b44-6d02-4085-8401-6c5efce90602"
    _select_doc(qtbot, w, chain_id)
    assert w.versions_model.rowCount() == 0  # not read on the GUI thread
    qtbot.waitUntil(lambda: w.versions_model.rowCount() == 3, timeout=10000)
    qtbot.waitUntil(lambda: chain_id in w.json_view.toPlainText(), timeout=10000)


def test_a_closed_session_drops_what_arrives_for_it(qtbot, window):
    """A result already on its way when its store was closed never reaches the window."""
    w = window
    _open_and_verify(qtbot, w, FIXTURE)
    old, got = w.session, []
    task = old.run(lambda: "late", "test", on_result=got.append, quiet=True)
    assert task.done.wait(10)  # the result is queued for the GUI thread, not delivered yet
    old.close()
    qtbot.wait(50)
    assert got == [] and old.closed and old.snapshot is None and w.snapshot is None
    w.open_url(str(FIXTURE))  # a new session works as before
    _open_and_verify(qtbot, w, FIXTURE)
    assert w.session is not old and w.docs_model.rowCount() == 7


def test_the_secret_is_asked_for_on_access_denied_only(qtbot, window, monkeypatch):
    """The window reacts to the failure's type, not to words in its message."""
    from jacs_desktop.storage.base import AccessDenied, StorageError
    from jacs_desktop.ui.browser.session import StoreSession

    w = window
    asked = []
    monkeypatch.setattr(w, "_ask_secret", lambda url: asked.append(url) or False)
    w._open_failed(StoreSession(w.runner, "profile:a"), StorageError("bad credentials file"))
    assert asked == [] and "bad credentials file" in w.banner.text()
    w._open_failed(StoreSession(w.runner, "profile:a"), AccessDenied("S3 refused access"))
    assert asked == ["profile:a"]
