"""The window on a folder store whose summaries are read by the process pool (issue 14): the
documents table is repainted as each batch of rows lands, before the last one, and every
row ends with the title its body gives; opened again, the titles come from the cache."""

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
    w.documents.summaries_landed = lambda: landed.append(w.documents.docs_model.rowCount())
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
