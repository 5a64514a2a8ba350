"""The window on a folder store whose summaries are read by the process pool (issue 14): the
documents table is repainted as each batch of rows lands, before the last one, and every
row ends with the title its body gives; opened again, the titles come from the cache; a
worker that hangs or dies costs the window nothing but a short wait for the rows left."""

import itertools
import json
from dataclasses import replace

from PySide6.QtCore import QSettings

from jacs_desktop.jobs import summaries
from jacs_desktop.storage.settings import Settings
from jacs_desktop.ui.browser import BrowserWindow

N = 60


def _folder(root):
    docs = root / "documents"
    docs.mkdir(parents=True)
    for i in range(N):
        jid = f"{i:08d}-0000-4000-8000-000000000000"
        (docs / f"{jid}:v1.json").write_text(json.dumps({"jacsId": jid, "jacsVersion": "v1", "title": f"title {i}",
                                                         "jacsSignature": {"agentID": "someone"}}))


def _open(qtbot, tmp_path, root):
    w = BrowserWindow(None, settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), watch=False,
                      prefs=replace(Settings(), verify_on_open=False, welcome_done=True))
    qtbot.addWidget(w)
    w.show()
    landed = []
    w.documents.summaries_landed = lambda _rows: landed.append(w.documents.docs_model.rowCount())
    done = []
    w._summarized = lambda: done.append(True)
    w.open_url(str(root))
    qtbot.waitUntil(lambda: bool(done) and w.workers.active == 0, timeout=60000)
    return w, landed


def test_rows_land_in_batches_and_get_their_titles(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("JACS_DESKTOP_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("JACS_DESKTOP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(summaries, "BATCH", 8)
    monkeypatch.setattr(summaries, "PARALLEL_MIN", 10)
    root = tmp_path / "store"
    _folder(root)
    for _round in range(2):  # the pool reads them; then the cache has them
        w, landed = _open(qtbot, tmp_path, root)
        assert len(landed) == -(-N // 8)  # one repaint per batch
        titles = {w.docs_model.row_object(r).title for r in range(w.docs_model.rowCount())}
        assert titles == {f"title {i}" for i in range(N)}
        w.close()


def hang_task(items, cache_file):
    """The pool's task in a worker that hangs on the batch with document 20 (a hung disk)."""
    import time

    if any("00000020-" in key for key, _stamp in items):
        time.sleep(3600)
    return summaries._summarize_keys(items, cache_file)


def die_task(items, cache_file):
    """The pool's task in a worker that ends its process on the batch with document 20."""
    import os

    if any("00000020-" in key for key, _stamp in items):
        os._exit(3)
    return summaries._summarize_keys(items, cache_file)


def test_a_hung_or_dead_worker_leaves_the_window_usable(qtbot, tmp_path, monkeypatch, caplog):
    """A worker that hangs (or dies) on one batch: the window keeps answering (its event loop
    never waits), the rows before land, and after the stuck limit the rest are read in the
    window's process: every row gets its title."""
    import time

    from PySide6.QtCore import QTimer

    monkeypatch.setenv("JACS_DESKTOP_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setattr(summaries, "BATCH", 8)
    monkeypatch.setattr(summaries, "PARALLEL_MIN", 10)
    monkeypatch.setattr(summaries, "STUCK_S", 1.0)
    root = tmp_path / "store"
    _folder(root)
    for name, task in (("hang", hang_task), ("die", die_task)):
        monkeypatch.setenv("JACS_DESKTOP_CACHE_DIR", str(tmp_path / f"cache-{name}"))
        monkeypatch.setattr(summaries, "_summarize_keys", task)
        caplog.clear()
        ticks = []
        timer = QTimer()
        timer.timeout.connect(lambda ticks=ticks: ticks.append(time.monotonic()))
        timer.start(20)
        t0 = time.monotonic()
        w, landed = _open(qtbot, tmp_path, root)
        took = time.monotonic() - t0
        timer.stop()
        titles = {w.docs_model.row_object(r).title for r in range(w.docs_model.rowCount())}
        assert titles == {f"title {i}" for i in range(N)}, name
        assert len(landed) == -(-N // 8), name
        gaps = [b - a for a, b in itertools.pairwise(ticks)]
        assert ticks and max(gaps) < 0.8, (name, max(gaps))  # never stalled (for STUCK_S, 1 s, say)
        assert "read in one process from now on" in caplog.text, name
        assert took < 20, (name, took)
        w.close()


def test_a_batch_repaints_only_its_rows(qtbot, tmp_path, monkeypatch):
    """Each batch that lands says which rows changed (their span), not the whole table: a batch of
    rows scrolled out of sight repaints nothing."""
    monkeypatch.setenv("JACS_DESKTOP_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("JACS_DESKTOP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(summaries, "BATCH", 8)
    monkeypatch.setattr(summaries, "PARALLEL_MIN", 10)
    root = tmp_path / "store"
    _folder(root)
    w = BrowserWindow(None, settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), watch=False,
                      prefs=replace(Settings(), verify_on_open=False, welcome_done=True))
    qtbot.addWidget(w)
    w.show()
    spans = []
    w.documents.docs_model.dataChanged.connect(lambda a, b, *_: spans.append((a.row(), b.row())))
    done = []
    real = w._summarized
    w._summarized = lambda: (real(), done.append(True))
    w.open_url(str(root))
    qtbot.waitUntil(lambda: bool(done) and w.workers.active == 0, timeout=60000)
    model = w.documents.docs_model
    batches = [(a, b) for a, b in spans if b - a < 8]
    covered = sorted(i for a, b in batches for i in range(a, b + 1))
    assert covered == list(range(N))  # every row repainted once, by the batch it came in
    assert len(batches) == -(-N // 8)
    assert {model.row_object(r).title for r in range(model.rowCount())} == {f"title {i}" for i in range(N)}
    w.close()
