"""The window on a folder store opened again after files were changed in place (issue 14): a
folder is listed without a stat per file, so the index cache's titles and signers are used only
for files seen unchanged; a file rewritten with the same size and a new time, and one with a new
size, show their new title and signer; the others keep theirs (from the cache)."""

import json
import os
from dataclasses import replace

import pytest
from PySide6.QtCore import QSettings, Qt

from jacs_desktop.jobs import summaries
from jacs_desktop.storage.settings import Settings
from jacs_desktop.ui.browser import BrowserWindow

N = 40


def _body(i, title, signer):
    return json.dumps({"jacsId": f"{i:08d}-0000-4000-8000-000000000000", "jacsVersion": "v1", "title": title,
                       "jacsSignature": {"agentID": signer}}).encode()


def _path(root, i):
    return root / "documents" / f"{i:08d}-0000-4000-8000-000000000000:v1.json"


def _rewrite(path, data):
    old = path.stat().st_mtime_ns
    with open(path, "r+b") as f:  # the same file, written over
        f.truncate(0)
        f.write(data)
    os.utime(path, ns=(old + 3_000_000_000,) * 2)


def _open(qtbot, tmp_path, root):
    w = BrowserWindow(None, settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), watch=False,
                      prefs=replace(Settings(), verify_on_open=False, welcome_done=True))
    qtbot.addWidget(w)
    w.show()
    done = []
    real = w._summarized
    w._summarized = lambda: (real(), done.append(True))
    w.open_url(str(root))
    qtbot.waitUntil(lambda: bool(done) and w.workers.active == 0, timeout=60000)
    model = w.documents.docs_model
    title = next(c for c in range(model.columnCount()) if model.headerData(c, Qt.Orientation.Horizontal) == "Title")
    # (the Title column as the table shows it; the signer the row holds, shown shortened)
    shown = {model.row_object(r).id[:8]: (model.data(model.index(r, title)), model.row_object(r).signer)
             for r in range(model.rowCount())}
    w.close()
    return shown


@pytest.mark.parametrize("pool", [True, False], ids=["pool", "one process"])
def test_files_changed_in_place_show_their_new_titles(qtbot, tmp_path, monkeypatch, pool):
    monkeypatch.setenv("JACS_DESKTOP_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("JACS_DESKTOP_CACHE_DIR", str(tmp_path / "cache"))
    if pool:  # the workers read the bodies, then check the files against the cache
        monkeypatch.setattr(summaries, "BATCH", 8)
        monkeypatch.setattr(summaries, "PARALLEL_MIN", 10)
        monkeypatch.setattr(summaries, "CHECK_MIN", 10)
    else:
        monkeypatch.setattr(summaries, "parallel_ok", lambda _store: False)
    root = tmp_path / "store"
    (root / "documents").mkdir(parents=True)
    for i in range(N):
        _path(root, i).write_bytes(_body(i, f"title {i:04d}", "signer-one"))
    want = {f"{i:08d}": (f"title {i:04d}", "signer-one") for i in range(N)}
    assert _open(qtbot, tmp_path, root) == want
    same = _path(root, 5)
    size = same.stat().st_size
    _rewrite(same, _body(5, "tampered 5", "signer-two"))  # the same size, another title and signer
    assert same.stat().st_size == size
    _rewrite(_path(root, 9), _body(9, "a new and longer title", "signer-three"))
    want["00000005"] = ("tampered 5", "signer-two")
    want["00000009"] = ("a new and longer title", "signer-three")
    assert _open(qtbot, tmp_path, root) == want
