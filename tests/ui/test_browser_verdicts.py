"""Nothing is hidden in the browser window (issue 10): a row shows the worst verdict
over all its versions, a forged version cannot be built on, risky attachments warn,
a read failure is 'error' (with Retry), never 'invalid', and nothing of another store
(or of a hidden row) stays in the panes."""

import base64
import gzip
import json
from dataclasses import replace

import pytest
from conftest import FIXTURE, MANIFEST
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QAbstractItemModelTester
from PySide6.QtWidgets import QMessageBox

from jacs_desktop.core.verify import Check, Verdict
from jacs_desktop.jobs import browse
from jacs_desktop.storage.base import Unreachable
from jacs_desktop.storage.layout import Ref
from jacs_desktop.storage.store import HistoryNode
from jacs_desktop.ui.browser import BrowserWindow
from jacs_desktop.ui.theme import verdict_color

CHAIN = "52e07b44-6d02-4085-8401-6c5efce90602"
FIRST, SECOND, LATEST = MANIFEST["version_chains"][CHAIN]
ATTACHED = "c0ccfa5f-40c0-43e3-950f-83ca6ba3aac9"
ED_AGENT = MANIFEST["agents"]["ed25519"]


def _doc_path(root, doc_id, version):
    return root / "documents" / f"{doc_id}:{version}.json"


def _forge(path, edit):
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False))


def _forge_oldest(root):
    """The first of the chain's three versions gets its amount changed after signing."""
    def edit(doc):
        doc["jacsDocument"]["content"]["amount"] = 1_000_000
    _forge(_doc_path(root, CHAIN, FIRST), edit)


def _prefs(verify_on_open=True):
    from jacs_desktop.storage.settings import Settings

    return replace(Settings(), verify_on_open=verify_on_open, welcome_done=True)


def _window(qtbot, tmp_path, verify_on_open=True):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = BrowserWindow(None, settings=settings, watch=False, prefs=_prefs(verify_on_open))
    qtbot.addWidget(w)
    w._testers = [QAbstractItemModelTester(m, QAbstractItemModelTester.FailureReportingMode.Fatal, w)
                  for m in (w.agents_model, w.docs_model, w.archived_model, w.versions_model,
                            w.attachments_model, w.checks_model, w.diff_model)]
    w.show()
    return w


@pytest.fixture
def window(qtbot, tmp_path):
    w = _window(qtbot, tmp_path)
    yield w
    w.close()


@pytest.fixture
def manual_window(qtbot, tmp_path):
    """Verification only when asked (Verify all), to see verdicts arrive."""
    w = _window(qtbot, tmp_path, verify_on_open=False)
    yield w
    w.close()


def _all_verified(w):
    snap = w.snapshot
    return bool(snap is not None and snap.documents and w.workers.active == 0
                and all(r.key in row.verdicts for row in snap.documents + snap.agents for r in row.refs))


def _open_and_verify(qtbot, w, url):
    w.open_url(str(url))
    qtbot.waitUntil(lambda: _all_verified(w), timeout=60000)


def _open(qtbot, w, url):
    """Listed and summaries read, nothing verified."""
    w.open_url(str(url))
    qtbot.waitUntil(lambda: w.snapshot is not None and w.snapshot.documents and w.workers.active == 0
                    and all(r.title or r.type for r in w.snapshot.documents), timeout=60000)


def _select_doc(qtbot, w, doc_id):
    w.tabs.setCurrentIndex(1)
    for r in range(w.docs_model.rowCount()):
        if w.docs_model.row_object(r).id == doc_id:
            w.docs_view.selectRow(r)
            row = w.docs_model.row_object(r)
            qtbot.waitUntil(lambda row=row: w._versions_of is row and w.workers.active == 0
                            and all(v.verdict for v in w.versions_model.all_rows), timeout=20000)
            return row
    raise AssertionError(doc_id)


def _select_version(qtbot, w, version):
    for r in range(w.versions_model.rowCount()):
        if w.versions_model.row_object(r).node.version == version:
            w.versions_view.selectRow(r)
            qtbot.waitUntil(lambda r=r: w._shown_key == w.versions_model.row_object(r).ref.key
                            and w.workers.active == 0, timeout=10000)
            return w.versions_model.row_object(r)
    raise AssertionError(version)


# -- the row shows the worst over all versions ------------------------------------------

def test_forged_older_version_is_not_hidden_behind_a_valid_latest(qtbot, window, fixture_copy):
    w = window
    _forge_oldest(fixture_copy)
    _open_and_verify(qtbot, w, fixture_copy)
    row = next(r for r in w.snapshot.documents if r.id == CHAIN)
    assert row.verdict.status == "valid"  # the latest version is fine ...
    assert row.status == "invalid"  # ... but the row is not
    r = w.docs_model.row_of(row)
    assert w.docs_model.data(w.docs_model.index(r, 0)) == "✗ 1 of 3 versions invalid"
    tip = w.docs_model.data(w.docs_model.index(r, 0), Qt.ItemDataRole.ToolTipRole)
    assert "1 of 3 versions invalid" in tip and FIRST[:8] in tip and "latest version: valid" in tip
    assert w.docs_model.data(w.docs_model.index(r, 0), Qt.ItemDataRole.ForegroundRole).color().name() == QColor(verdict_color("invalid")).name()
    # the status bar counts versions as well as documents; Verify all says it checked every version
    text = w.count_label.text()
    assert "7 documents, 13 versions: 12 valid, 1 invalid" in text
    assert "verified every version: 15 of 15" in text
    assert "every version" in w.act_verify.toolTip()
    # the verification panel of the (valid) latest version says so too
    _select_doc(qtbot, w, CHAIN)
    assert "Over all 3 versions" in w.verdict_label.text() and "1 of 3 versions invalid" in w.verdict_label.text()
    statuses = {v.node.version: v.status for v in w.versions_model.all_rows}
    assert statuses == {FIRST: "invalid", SECOND: "valid", LATEST: "valid"}
    # the Diff tab tells the versions apart and says which side failed, at 1024 x 700 too
    w.resize(1024, 700)
    w.detail.setCurrentIndex(w.detail.count() - 1)
    labels = [w.diff_old.itemText(i) for i in range(w.diff_old.count())]
    assert [lab.split(" · ")[0] for lab in labels] == ["v1", "v2", "v3"]
    assert labels[0].endswith("✗ invalid") and labels[2].endswith("✓ valid") and FIRST[:8] in labels[0]
    assert not w.detail.diff_note.isVisible()  # v2 -> v3: both valid
    w.diff_old.setCurrentIndex(0)
    qtbot.waitUntil(lambda: w.diff_model.rowCount() > 0, timeout=10000)
    assert w.detail.diff_note.isVisible() and w.detail.diff_note.text().startswith("From: ✗ invalid")
    assert w.diff_old.width() >= 150 and w.diff_view.isVisible()


def test_sorting_by_verdict_follows_verdicts_as_they_arrive(qtbot, manual_window, fixture_copy):
    w = manual_window
    _forge_oldest(fixture_copy)
    _open(qtbot, w, fixture_copy)
    rows = [w.docs_model.row_object(i) for i in range(w.docs_model.rowCount())]
    assert all(r.status == "pending" for r in rows)
    pos = next(i for i, r in enumerate(rows) if r.id == CHAIN)
    # worst first (descending, as a first click on the header) unless the forged one happens to
    # be first already: then ascending, worst last
    order = Qt.SortOrder.AscendingOrder if pos == 0 else Qt.SortOrder.DescendingOrder
    w.docs_view.sortByColumn(0, order)
    before = [w.docs_model.row_object(i).id for i in range(w.docs_model.rowCount())]
    expected = len(before) - 1 if order == Qt.SortOrder.AscendingOrder else 0
    assert before.index(CHAIN) != expected
    w.verify_all()
    qtbot.waitUntil(lambda: _all_verified(w), timeout=60000)
    after = [w.docs_model.row_object(i).id for i in range(w.docs_model.rowCount())]
    assert after.index(CHAIN) == expected


def test_agent_row_shows_the_worst_over_its_versions(qtbot, window, fixture_copy):
    w = window
    agent_dir = fixture_copy / "jacs_data" / "agent"
    src = agent_dir / f"{ED_AGENT['agent_id']}:{ED_AGENT['agent_version']}.json"
    old = "00000000-0000-4000-8000-000000000000"  # sorts before the real version: not the latest
    forged = agent_dir / f"{ED_AGENT['agent_id']}:{old}.json"
    forged.write_bytes(src.read_bytes())
    _forge(forged, lambda d: d.update(name="mallory"))
    _open_and_verify(qtbot, w, fixture_copy)
    row = next(a for a in w.snapshot.agents if a.id == ED_AGENT["agent_id"])
    assert row.verdict.status == "valid" and row.status == "invalid"
    r = w.agents_model.row_of(row)
    assert w.agents_model.data(w.agents_model.index(r, 0)) == "✗ 1 of 2 versions invalid"
    assert "2 agents, 3 versions: 2 valid, 1 invalid" in w.count_label.text()


# -- new versions are never signed on top of a bad one ----------------------------------------

def test_new_version_refused_on_forged_history(qtbot, window, fixture_copy):
    w = window
    _forge_oldest(fixture_copy)
    _open_and_verify(qtbot, w, fixture_copy)
    assert not w.act_new_version.isEnabled()  # nothing selected
    _select_doc(qtbot, w, "013428fa-cca2-45a8-b1cc-88b027304bb2")  # a valid document: allowed
    assert w.act_new_version.isEnabled()
    _select_doc(qtbot, w, CHAIN)
    assert not w.act_new_version.isEnabled()
    tip = w.act_new_version.toolTip()
    assert "not possible" in tip and FIRST[:8] in tip and "invalid" in tip
    w.active_wizard = None
    w.new_version()  # triggered anyway (a script, a stale shortcut): refused with the reason
    assert w.active_wizard is None
    assert w.banner.isVisible() and "New version refused" in w.banner.text() and "invalid" in w.banner.text()


def test_new_version_refused_when_the_latest_is_invalid(qtbot, window, fixture_copy):
    w = window
    target = _doc_path(fixture_copy, CHAIN, LATEST)
    target.write_bytes((FIXTURE / "tampered/content_changed_rehashed.json").read_bytes())
    _open_and_verify(qtbot, w, fixture_copy)
    _select_doc(qtbot, w, CHAIN)
    assert not w.act_new_version.isEnabled() and "The latest version is invalid" in w.act_new_version.toolTip()
    w.new_version()
    assert "New version refused" in w.banner.text()


def test_new_version_refusal_rules():
    def ref(v):
        return Ref("document", "d", v, f"documents/d:{v}.json")

    def node(v, prev):
        return HistoryNode(v, prev, None, f"documents/d:{v}.json")

    nodes = [node("a", None), node("b", "a"), node("c", "b"), node("x", "a")]
    good, bad = Verdict("valid"), Verdict("invalid", checks=[Check("hash", "failed", "hash mismatch")])
    verdicts = {f"documents/d:{v}.json": good for v in "abcx"}
    assert browse.new_version_refusal(ref("c"), nodes, verdicts) is None
    verdicts["documents/d:x.json"] = bad  # a bad fork elsewhere is not in this version's history
    assert browse.new_version_refusal(ref("c"), nodes, verdicts) is None
    verdicts["documents/d:a.json"] = bad
    assert "Version a… in its history is invalid (hash mismatch)" in browse.new_version_refusal(ref("c"), nodes, verdicts)
    verdicts["documents/d:a.json"] = good
    del verdicts["documents/d:b.json"]
    assert "not verified yet: verify it first" in browse.new_version_refusal(ref("c"), nodes, verdicts)
    verdicts["documents/d:b.json"] = Verdict("unverifiable", checks=[Check("key", "unverifiable", "no key")])
    assert "unverifiable" in browse.new_version_refusal(ref("c"), nodes, verdicts)
    verdicts["documents/d:b.json"] = browse.read_error_verdict(ref("b"), "timed out")
    assert "could not be checked" in browse.new_version_refusal(ref("c"), nodes, verdicts)
    verdicts["documents/d:b.json"] = Verdict("legacy")
    assert browse.new_version_refusal(ref("c"), nodes, verdicts) is None


def test_aggregate_order_of_badness():
    v = {s: Verdict(s) for s in ("valid", "invalid", "error", "legacy", "unverifiable")}
    agg = browse.aggregate
    assert agg([v["valid"]] * 3).status == "valid" and agg([v["valid"]] * 3).text == "valid"
    assert agg([v["valid"], None]).status == "pending" and agg([v["valid"], None]).text == "1 of 2 versions checked"
    assert agg([v["unverifiable"], None]).status == "unverifiable"
    assert agg([v["unverifiable"], v["legacy"]]).status == "legacy"
    assert agg([v["legacy"], v["error"]]).status == "error"
    a = agg([v["error"], v["invalid"]] + [v["valid"]] * 4)
    assert a.status == "invalid" and a.text == "1 of 6 versions invalid" and a.worst is v["invalid"]
    assert agg([v["invalid"]]).text == "invalid" and agg([]).status == "pending"
    ranked = sorted(["valid", "pending", "unverifiable", "legacy", "error", "invalid"], key=browse.rank)
    assert ranked == ["invalid", "error", "legacy", "unverifiable", "pending", "valid"]


# -- attachments that failed their check ----------------------------------------------------

def _forge_attachment(root):
    def edit(doc):
        doc["jacsFiles"][0]["contents"] = base64.b64encode(gzip.compress(b"forged report\n")).decode()
    _forge(_doc_path(root, ATTACHED, "d2cf6f9e-552e-491c-a2aa-a034ee43c479"), edit)


@pytest.fixture
def recorded_warnings(monkeypatch):
    calls, answer = [], {"button": QMessageBox.StandardButton.Cancel}

    def warning(parent, title, text, buttons=None, default=None):
        calls.append((title, text))
        return answer["button"]

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(warning))
    return calls, answer


def test_failed_attachment_warns_before_preview_save_open_and_is_not_dragged_out(
        qtbot, window, fixture_copy, recorded_warnings, monkeypatch):
    from PySide6.QtGui import QDesktopServices
    from PySide6.QtWidgets import QFileDialog

    calls, answer = recorded_warnings
    opened, asked_where = [], []
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url)))
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (asked_where.append(a), ("", ""))[1]))
    w = window
    _forge_attachment(fixture_copy)
    _open_and_verify(qtbot, w, fixture_copy)
    _select_doc(qtbot, w, ATTACHED)
    a = w.attachments_model.row_object(0)
    assert a["_status"] == "failed"
    w.attachments_view.selectRow(0)
    # preview: not shown automatically; the pane says why, and asks before showing it
    assert not w.preview_warning.isHidden() and "check failed" in w.preview_warning.text()
    assert w.preview_text.toPlainText() == "" and not w.preview_anyway.isHidden()
    w.preview_anyway.click()
    assert len(calls) == 1 and "check failed" in calls[0][1] and "Preview" in calls[0][1]
    assert w.preview_text.toPlainText() == ""  # cancelled
    # Open and Save As: warned, cancelled, nothing opened or asked
    w.open_attachment()
    w.save_attachment()
    assert len(calls) == 3 and "Open" in calls[1][1] and "Save" in calls[2][1]
    assert opened == [] and asked_where == []
    # drag-out: the row cannot be dragged, and the mime data carries nothing, with the reason shown
    idx = w.attachments_model.index(0, 0)
    assert not (w.attachments_model.flags(idx) & Qt.ItemFlag.ItemIsDragEnabled)
    mime = w.attachments_model.mimeData([idx])
    assert mime.urls() == [] and "Not dragged out" in w.banner.text()
    # the user goes on: preview and open work after the warning
    answer["button"] = QMessageBox.StandardButton.Yes
    w.preview_anyway.click()
    assert w.preview_text.toPlainText() == "forged report\n" and not w.preview_warning.isHidden()
    w.open_attachment()
    assert len(opened) == 1 and len(calls) == 5


def test_good_attachment_does_not_warn(qtbot, window, recorded_warnings, monkeypatch):
    from PySide6.QtGui import QDesktopServices

    calls, _answer = recorded_warnings
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: True))
    w = window
    _open_and_verify(qtbot, w, FIXTURE)
    _select_doc(qtbot, w, ATTACHED)
    w.attachments_view.selectRow(0)
    assert w.preview_warning.isHidden()
    assert w.preview_text.toPlainText() == (FIXTURE / "files" / "report.txt").read_text()
    w.open_attachment()
    assert calls == []
    assert w.attachments_model.flags(w.attachments_model.index(0, 0)) & Qt.ItemFlag.ItemIsDragEnabled


def test_attachment_warning_rules():
    bad = Verdict("invalid", checks=[Check("hash", "failed", "Hash mismatch")])
    assert browse.attachment_warning({"_status": "ok"}, Verdict("valid")) is None
    assert "check failed" in browse.attachment_warning({"_status": "failed", "_reason": "x"}, Verdict("valid"))
    assert "is invalid: Hash mismatch" in browse.attachment_warning({"_status": "ok"}, bad)


# -- a read failure is 'error', never 'invalid', and can be retried ------------------------------

def test_read_failure_is_error_not_invalid_and_retry_reads_again(qtbot, manual_window, fixture_copy):
    w = manual_window
    _open(qtbot, w, fixture_copy)
    objects = w.snapshot.store.objects
    real_get, real_get_limited = objects.get, objects.get_limited
    failing = {
        f"documents/{CHAIN}:{SECOND}.json": Unreachable("S3 answered 503 Slow Down"),
        f"documents/{ATTACHED}:d2cf6f9e-552e-491c-a2aa-a034ee43c479.json": PermissionError(13, "Permission denied"),
    }

    def get(key):
        if key in failing:
            raise failing[key]
        return real_get(key)

    def get_limited(key, limit):  # the store reads documents with a size bound
        if key in failing:
            raise failing[key]
        return real_get_limited(key, limit)

    objects.get, objects.get_limited = get, get_limited
    w.snapshot.store.invalidate()
    w.verify_all()
    qtbot.waitUntil(lambda: _all_verified(w), timeout=60000)
    chain = next(r for r in w.snapshot.documents if r.id == CHAIN)
    attached = next(r for r in w.snapshot.documents if r.id == ATTACHED)
    assert chain.status == "error" and attached.status == "error"
    v = chain.verdicts[f"documents/{CHAIN}:{SECOND}.json"]
    assert v.status == "error" and v.checks[0].name == "read" and browse.reason_of(v).startswith("not checked: ")
    assert "503" in browse.reason_of(v)
    assert browse.reason_of(attached.verdict).startswith("not checked: ") and "Permission denied" in browse.reason_of(attached.verdict)
    assert w.docs_model.data(w.docs_model.index(w.docs_model.row_of(chain), 0)) == "⚠ 1 of 3 versions error"
    assert "invalid" not in w.count_label.text() and "2 read error" in w.count_label.text()
    # the window: the version shows error with a Retry button; New version is refused
    _select_doc(qtbot, w, CHAIN)
    assert not w.act_new_version.isEnabled() and "could not be checked" in w.act_new_version.toolTip()
    _select_version(qtbot, w, SECOND)
    assert w.retry_button.isVisible() and "not checked: " in w.verdict_label.text()
    assert "invalid" not in w.verdict_label.text()
    # the store answers again: Retry reads it again and the verdict is known
    failing.clear()
    w.retry_button.click()
    qtbot.waitUntil(lambda: chain.status == "valid" and w.workers.active == 0, timeout=20000)
    assert not w.retry_button.isVisible() and "valid" in w.verdict_label.text()
    assert w.versions_model.row_object(w.versions_view.currentIndex().row()).status == "valid"
    assert w.act_new_version.isEnabled()
    # the other row is retried from its context menu
    menu = w.row_menu(attached)
    retry = next(a for a in menu.actions() if a.text().startswith("Retry"))
    retry.trigger()
    qtbot.waitUntil(lambda: attached.status == "valid" and w.workers.active == 0, timeout=20000)
    assert "13 versions: 13 valid" in w.count_label.text()


def test_verify_ref_turns_every_read_failure_into_error():
    class FakeStore:
        def __init__(self, outcome):
            self.outcome = outcome

        def verify(self, ref):
            if isinstance(self.outcome, BaseException):
                raise self.outcome
            return self.outcome

    ref = Ref("document", "d", "v", "documents/d:v.json")
    for exc in (Unreachable("503"), TimeoutError("timed out"), PermissionError(13, "Permission denied"),
                FileNotFoundError(2, "No such file")):
        v = browse.verify_ref(FakeStore(exc), ref)
        assert v.status == "error" and v.checks[0].name == "read" and browse.reason_of(v).startswith("not checked: ")
    # the store's own way (a failed read check), whether it says invalid (old) or error (new)
    for status in ("invalid", "error"):
        v = browse.verify_ref(FakeStore(Verdict(status, checks=[Check("read", "failed", "vanished")])), ref)
        assert v.status == "error" and browse.reason_of(v) == "not checked: vanished"
    forged = Verdict("invalid", checks=[Check("hash", "failed", "mismatch")])
    assert browse.verify_ref(FakeStore(forged), ref) is forged


# -- never a verdict from another store, nor of a hidden row -------------------------------------

def _panes_empty(w):
    return (w.json_view.toPlainText() == "" and w.checks_model.rowCount() == 0 and w.tree_model.rowCount() == 0
            and w.diff_model.rowCount() == 0 and w.versions_model.rowCount() == 0
            and w.attachments_model.rowCount() == 0 and w.preview_text.toPlainText() == ""
            and w.diff_old.count() == 0 and not w.retry_button.isVisible()
            and w.verdict_label.text() == "Select an agent or a document.")


def _select_attached_with_preview(qtbot, w):
    _select_doc(qtbot, w, ATTACHED)
    w.attachments_view.selectRow(0)
    assert not _panes_empty(w) and w.preview_text.toPlainText()


def test_switching_stores_clears_the_panes(qtbot, window, tmp_path):
    w = window
    _open_and_verify(qtbot, w, FIXTURE)
    _select_attached_with_preview(qtbot, w)
    empty = tmp_path / "empty"
    empty.mkdir()
    w.open_url(str(empty))
    assert _panes_empty(w) and w._current_doc is None and w.snapshot is None
    qtbot.waitUntil(lambda: w.snapshot is not None and w.workers.active == 0, timeout=10000)
    assert _panes_empty(w)


def test_failed_open_clears_the_panes_and_the_old_store(qtbot, window, tmp_path):
    w = window
    _open_and_verify(qtbot, w, FIXTURE)
    _select_attached_with_preview(qtbot, w)
    with qtbot.waitSignal(w.load_failed, timeout=10000):
        w.open_url(str(tmp_path / "missing"))
    # nothing of the last store stays in the panes; it is listed again under its own name (a
    # failed connect does not leave an empty window), never shown as the store that failed
    assert _panes_empty(w) and not w.act_new_version.isEnabled()
    assert w.url == str(FIXTURE) and "missing" in w.banner.text() and "is shown again" in w.banner.text()
    qtbot.waitUntil(lambda: w.snapshot is not None and w.workers.active == 0, timeout=60000)
    assert w.snapshot.store.objects.url.rstrip("/").endswith("fixture") and w.docs_model.rowCount() == 7


def test_filter_hiding_the_selected_document_clears_the_panes(qtbot, window):
    w = window
    _open_and_verify(qtbot, w, FIXTURE)
    _select_attached_with_preview(qtbot, w)
    shown = w.json_view.toPlainText()
    w.search.setText("report")  # still visible: kept, and still selected
    assert w.json_view.toPlainText() == shown and w._current_doc.id == ATTACHED
    assert w.docs_model.row_object(w.docs_view.currentIndex().row()).id == ATTACHED
    w.search.setText("agreement")  # hidden: cleared
    assert w.docs_model.rowCount() >= 1 and all(w.docs_model.row_object(r).id != ATTACHED
                                                 for r in range(w.docs_model.rowCount()))
    assert _panes_empty(w) and not w.act_new_version.isEnabled()
    w.search.clear()


def test_cancelled_listing_keeps_only_what_was_listed(qtbot, window, tmp_path):
    w = window
    _open_and_verify(qtbot, w, FIXTURE)
    _select_attached_with_preview(qtbot, w)
    old = w.snapshot.store
    w.open_url(str(FIXTURE))  # opened again: the panes are cleared at once
    assert _panes_empty(w)
    w.cancel_clicked()
    assert _panes_empty(w) and w.workers.wait(10000)
    qtbot.wait(50)
    assert _panes_empty(w) and (w.snapshot is None or w.snapshot.store is not old)


# -- a signer is named only when the key is proven theirs -------------------------------

def test_signer_named_only_for_the_agents_own_key(qtbot, window, fixture_copy, tmp_path):
    from jacs_desktop.core.identity import create_agent
    from jacs_desktop.core.sign import AgentSigner
    from jacs_desktop.storage.urls import open_store

    stranger = create_agent(tmp_path / "stranger", "mallory", "Mallory!Pass#2026", algorithm="ring-Ed25519")
    forger = AgentSigner(stranger.signer.signer, ED_AGENT["agent_id"], ED_AGENT["agent_version"], stranger.public_key)
    store = open_store(str(fixture_copy))
    store.put_public_key(stranger.public_key, "ring-Ed25519")
    planted = forger.new_document({"jacsDocument": {"type": "message", "content": "pay mallory"}})
    store.put_document(planted)
    w = window
    _open_and_verify(qtbot, w, fixture_copy)
    col = next(i for i in range(w.docs_model.columnCount()) if w.docs_model.headerData(
        i, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole) == "Signer")

    def signer_cell(doc_id):
        row = next(r for r in w.snapshot.documents if r.id == doc_id)
        return w.docs_model.data(w.docs_model.index(w.docs_model.row_of(row), col))

    assert signer_cell(CHAIN) == "fixture-ed25519"
    assert signer_cell(planted["jacsId"]).startswith("unknown key claiming " + ED_AGENT["agent_id"][:8])
    _select_doc(qtbot, w, planted["jacsId"])
    assert "unknown key claiming agent " + ED_AGENT["agent_id"] in w.verdict_label.text()
    _select_doc(qtbot, w, CHAIN)
    assert "fixture-ed25519 (" + ED_AGENT["agent_id"] in w.verdict_label.text()
    # the versions table names the signer too, once each version's verdict proves the key
    vcol = next(i for i in range(w.versions_model.columnCount()) if w.versions_model.headerData(
        i, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole) == "Signer")
    qtbot.waitUntil(lambda: all(w.versions_model.row_object(r).verdict
                                for r in range(w.versions_model.rowCount())), timeout=30000)
    cells = {w.versions_model.data(w.versions_model.index(r, vcol)) for r in range(w.versions_model.rowCount())}
    assert cells == {"fixture-ed25519"}
    _select_doc(qtbot, w, planted["jacsId"])
    qtbot.waitUntil(lambda: bool(w.versions_model.rowCount() and w.versions_model.row_object(0).verdict),
                    timeout=30000)
    assert w.versions_model.data(w.versions_model.index(0, vcol)).startswith("unknown key claiming")
