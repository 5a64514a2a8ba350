"""Live updates of an open folder store miss nothing (issue 11): thousands of documents
written into the folder while the window is open all end up in the documents table,
events arriving while a listing runs are not dropped, and when the watcher loses events
(inotify queue overflow) the window says the list may be out of date and catches up."""

import json
import os
import threading
import time
import uuid
from dataclasses import replace

from PySide6.QtCore import QSettings
from PySide6.QtTest import QAbstractItemModelTester

from jacs_desktop.ui.browser import BrowserWindow

N = int(os.environ.get("JACS_RECONCILE_DOCS", "5000"))


def _window(qtbot, tmp_path):
    from jacs_desktop.storage.settings import Settings

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    prefs = replace(Settings(), verify_on_open=False, welcome_done=True)
    w = BrowserWindow(None, settings=settings, watch=True, prefs=prefs)
    qtbot.addWidget(w)
    w._testers = [QAbstractItemModelTester(m, QAbstractItemModelTester.FailureReportingMode.Fatal, w)
                  for m in (w.agents_model, w.docs_model, w.archived_model)]
    w.show()
    return w


def _names(n):
    return [(str(uuid.uuid4()), str(uuid.uuid4())) for _ in range(n)]


def _write_all(folder, names, started=None):
    """What another program writing documents does: each file created, written, closed, as fast as it can."""
    docs = folder / "documents"
    if started is not None:
        started.set()
    for doc_id, version in names:
        body = json.dumps({"jacsId": doc_id, "jacsVersion": version, "jacsType": "artifact",
                           "content": {"n": 1}}).encode()
        with open(docs / f"{doc_id}:{version}.json", "wb") as f:
            f.write(body)


def _shown_ids(w):
    m = w.docs_model
    return {m.row_object(r).id for r in range(m.rowCount())}


def _settled(w, expected):
    return w.workers.active == 0 and w.snapshot is not None and _shown_ids(w) >= expected


def _wait_shown(qtbot, w, expected, timeout=60):
    try:
        qtbot.waitUntil(lambda: _settled(w, expected), timeout=timeout * 1000)
    except Exception:
        missing = expected - _shown_ids(w)
        raise AssertionError(f"{len(missing)} of {len(expected)} documents never shown "
                             f"(watcher problems: {getattr(w._watcher, 'problems', None)})") from None


def _open(qtbot, w, folder):
    with qtbot.waitSignal(w.store_opened, timeout=30000):
        w.open_url(str(folder))
    qtbot.waitUntil(lambda: w.workers.active == 0, timeout=30000)


def test_thousands_written_into_an_open_store_are_all_shown(qtbot, tmp_path, fixture_copy):
    w = _window(qtbot, tmp_path)
    _open(qtbot, w, fixture_copy)
    before = _shown_ids(w)
    names = _names(N)
    expected = before | {i for i, _v in names}
    t0 = time.monotonic()
    writer = threading.Thread(target=_write_all, args=(fixture_copy, names), daemon=True)
    writer.start()
    qtbot.waitUntil(lambda: not writer.is_alive(), timeout=120000)
    wrote = time.monotonic() - t0
    _wait_shown(qtbot, w, expected)
    print(f"{N} written in {wrote:.1f} s, all shown {time.monotonic() - t0:.1f} s after the first")
    assert _shown_ids(w) == expected
    assert w.docs_model.rowCount() == len(expected)
    w.close()


def test_documents_written_while_the_store_is_being_listed_are_shown(qtbot, tmp_path, fixture_copy):
    """A writer adds documents while the window lists a large store: the names created after
    the listing passed them, before the watcher runs, give no event anyone hears; they must
    still show up (the watcher starts before the listing ends; a listing of names catches up)."""
    _write_all(fixture_copy, _names(4000))
    w = _window(qtbot, tmp_path)
    late = _names(1000)
    w.open_url(str(fixture_copy))
    _write_all(fixture_copy, late)
    assert w.snapshot is None, "the listing ended before the writer did: nothing was written during it"
    expected = {i for i, _v in late}
    _wait_shown(qtbot, w, expected)
    w.close()


def test_an_overflow_says_the_list_may_be_out_of_date_and_catches_up(qtbot, tmp_path, fixture_copy):
    """A real inotify queue overflow (another process floods the folder while this one
    cannot read events): the status bar says the list may be stale, the window re-reads,
    and then says it is up to date, with every document shown."""
    from storage.test_watch_and_sqlite import flood_while_starved

    w = _window(qtbot, tmp_path)
    _open(qtbot, w, fixture_copy)
    before = _shown_ids(w)
    assert w.watch_label.isHidden()
    n = 6000
    flood_while_starved(fixture_copy, n=n)
    qtbot.waitUntil(lambda: "may be out of date" in w.watch_label.text(), timeout=15000)
    assert w.watch_label.isVisible() and "overflowed" in w.watch_label.text()
    expected = before | {f"doc{i}" for i in range(n)}
    qtbot.waitUntil(lambda: _settled(w, expected) and "up to date" in w.watch_label.text(), timeout=60000)
    assert _shown_ids(w) == expected
    w.close()


def test_a_watcher_that_stopped_is_noticed_restarted_and_caught_up(qtbot, tmp_path, fixture_copy, monkeypatch):
    """No events at all (the observer's threads are gone): the periodic check says so,
    starts a new watcher and re-reads; what was written meanwhile shows up."""
    monkeypatch.setattr(BrowserWindow, "RECONCILE_MS", 400)
    w = _window(qtbot, tmp_path)
    _open(qtbot, w, fixture_copy)
    dead = w._watcher
    dead._observer.stop()  # its threads end, as when one dies
    dead._observer.join(5)
    names = _names(50)
    _write_all(fixture_copy, names)
    qtbot.waitUntil(lambda: w._watcher is not dead and w._watcher is not None and w._watcher.healthy(), timeout=10000)
    _wait_shown(qtbot, w, {i for i, _v in names}, timeout=30)
    qtbot.waitUntil(lambda: "up to date" in w.watch_label.text(), timeout=10000)
    assert "stopped" in w.watch_label.text() and w.watch_label.isVisible()
    later = _names(20)  # and the new watcher hears what comes next
    _write_all(fixture_copy, later)
    _wait_shown(qtbot, w, {i for i, _v in later}, timeout=30)
    w.close()


def test_reconcile_compares_names_with_what_is_shown(tmp_path, fixture_copy):
    """The cheap check itself (no Qt): a listing of names against the shown versions."""
    from jacs_desktop.jobs.browse import SnapshotBuilder, reconcile, shown_identities, stream_refs
    from jacs_desktop.storage.urls import open_store

    store = open_store(str(fixture_copy))
    b = SnapshotBuilder(store)
    stream_refs(store, b.add)
    snap = b.snapshot()
    shown = shown_identities(snap)
    assert len(shown) == sum(len(r.refs) for r in snap.agents + snap.documents + snap.archived)
    assert not reconcile(store, shown)
    (doc_id, version), = _names(1)
    _write_all(fixture_copy, [(doc_id, version)])
    gone = next(iter(snap.documents)).refs[0]
    (fixture_copy / gone.key).unlink()
    drift = reconcile(store, shown)
    assert drift.missing == {("document", doc_id, version)}
    assert drift.gone == {(gone.kind, gone.id, gone.version)} and drift.count == 2
    store.close()
