"""The stores sidebar: the open store is marked and only it; each store once; stable order;
the context menu (verify this, copy, rename/remove a connection, forget a recent store)."""

from __future__ import annotations

import shutil

import pytest
from conftest import FIXTURE
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication

from jacs_desktop.storage.connections import Connections
from jacs_desktop.ui.browser import BrowserWindow


@pytest.fixture
def w(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = BrowserWindow(None, settings=settings, watch=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def _open(qtbot, w, url) -> None:
    w.open_url(str(url))
    qtbot.waitUntil(lambda: w.snapshot is not None and w.url == str(url) and w.workers.active == 0, timeout=60000)


def _items(w) -> dict[str, str]:
    sp = w.sources_panel
    return {sp.list.item(i).data(Qt.ItemDataRole.UserRole): sp.list.item(i).text() for i in range(sp.list.count())}


def test_only_the_open_store_is_marked_and_the_order_stays(qtbot, w, tmp_path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(FIXTURE, a)
    shutil.copytree(FIXTURE, b)
    _open(qtbot, w, a)
    _open(qtbot, w, b)
    items = _items(w)
    assert items[str(b)].endswith("●") and not items[str(a)].endswith("●")  # a is closed now
    it = w.sources_panel.item_for(str(b))
    assert it.font().bold() and it.isSelected() and not w.sources_panel.item_for(str(a)).font().bold()
    order = list(_items(w))
    _open(qtbot, w, a)  # opening one does not move it under the pointer
    assert list(_items(w)) == order
    assert _items(w)[str(a)].endswith("●")
    # saved for the next start with the newest first
    assert w.sources_panel.recent()[:2] == [str(a), str(b)]


def test_a_store_is_listed_once(qtbot, w, tmp_path) -> None:
    conns = Connections()
    conns.add("bucket", "s3://bucket/prefix?endpoint_url=http://127.0.0.1:9")
    sp = w.sources_panel
    sp.settings.setValue("recent", ["profile:bucket", "s3://bucket/prefix?endpoint_url=http://127.0.0.1:9",
                                    str(tmp_path / "x"), str(tmp_path / "x") + "/"])
    sp.reload()
    urls = [u for _t, u in sp.entries()]
    assert urls == ["profile:bucket", str(tmp_path / "x")]


def test_context_menu_verify_copy_rename_remove_forget(qtbot, w, tmp_path) -> None:
    sp = w.sources_panel
    store = tmp_path / "store"
    shutil.copytree(FIXTURE, store)
    _open(qtbot, w, store)
    texts = [a.text() for a in sp.menu_for(str(store)).actions() if a.text()]
    assert texts == ["Open", "Verify This Store", "Copy Location", "Reveal in File Manager", "Forget This Store"]
    menu = sp.menu_for(str(store))
    next(a for a in menu.actions() if a.text() == "Copy Location").trigger()
    assert QGuiApplication.clipboard().text() == str(store)
    # verify this: the open store is verified, and the Jobs panel lists it
    next(a for a in menu.actions() if a.text() == "Verify This Store").trigger()
    qtbot.waitUntil(lambda: len(w.jobs_tracker.history) and w.jobs_tracker.history.records[0].state == "done",
                    timeout=60000)
    assert w.jobs_tracker.history.records[0].source == str(store)
    # forget a closed store: gone from the list and from the saved recent stores, files untouched
    other = tmp_path / "other"
    shutil.copytree(FIXTURE, other)
    _open(qtbot, w, other)
    sp.forget(str(store))
    assert str(store) not in sp.recent() and str(store) not in [u for _t, u in sp.entries()]
    assert (store / "manifest.json").is_file() and (store / "jacs_data").is_dir()
    # a saved connection: edit / rename / remove
    Connections().add("work", "s3://b/p?endpoint_url=http://127.0.0.1:9", access_key="AKIA", secret_key="s3cr3t",
                      replace=True)
    sp.reload()
    texts = [a.text() for a in sp.menu_for("profile:work").actions() if a.text()]
    assert texts[-3:] == ["Edit Connection…", "Rename Connection…", "Remove Connection…"]
    assert sp.rename_connection("work", "office") == "office"
    conns = Connections()
    assert [c.name for c in conns.list()] == ["office"]
    assert conns.get("office").resolve_secrets() == {"access_key": "AKIA", "secret_key": "s3cr3t"}
    assert "profile:office" in [u for _t, u in sp.entries()]
    sp.remove_connection("office")
    assert Connections().list() == [] and "profile:office" not in [u for _t, u in sp.entries()]


def test_verify_this_on_a_closed_store_opens_and_verifies_it(qtbot, w, tmp_path) -> None:
    store = tmp_path / "other"
    shutil.copytree(FIXTURE, store)
    w.sources_panel.verify_requested.emit(str(store))
    qtbot.waitUntil(lambda: w.url == str(store) and len(w.jobs_tracker.history)
                    and w.jobs_tracker.history.records[0].state == "done", timeout=60000)
    rec = w.jobs_tracker.history.records[0]
    assert rec.kind == "verify" and rec.done == rec.total > 0


def test_row_context_menu_copies_ids_and_reveals(qtbot, w) -> None:
    _open(qtbot, w, FIXTURE)
    row = next(r for r in w.snapshot.documents if r.signer)
    menu = w.row_menu(row)
    texts = [a.text() for a in menu.actions() if a.text()]
    assert texts[-3:] == ["Copy ID", "Copy Signer ID", "Reveal in Folder"]
    next(a for a in menu.actions() if a.text() == "Copy ID").trigger()
    assert QGuiApplication.clipboard().text() == row.id
    next(a for a in menu.actions() if a.text() == "Copy Signer ID").trigger()
    assert QGuiApplication.clipboard().text() == row.signer


def test_every_wizard_has_the_same_style_and_size(qtbot) -> None:
    from PySide6.QtWidgets import QWizard

    from jacs_desktop.storage.memory import MemoryStore
    from jacs_desktop.storage.store import Store
    from jacs_desktop.ui.wizards import BackupWizard, MigrateWizard, RestoreWizard, SignWizard

    wizards = [SignWizard(Store(MemoryStore())), MigrateWizard(source=str(FIXTURE)), BackupWizard(source=str(FIXTURE)),
               RestoreWizard()]
    for wiz in wizards:
        qtbot.addWidget(wiz)
    assert {wiz.wizardStyle() for wiz in wizards} == {QWizard.WizardStyle.ClassicStyle}
    assert len({(wiz.width(), wiz.height()) for wiz in wizards}) == 1
