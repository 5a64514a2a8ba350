"""The key management window (offscreen) on agents made by the real jacs 0.15.0: change the password,
rotate to pq2025, finish a rotation jacs's Python rotate_keys left unfinished; jacs loads the agent
and signs with the new key afterwards."""

import json

import pytest

jacs = pytest.importorskip("jacs", reason="the jacs test extra is not installed")
from interop._library import create_jacs_agent_here, env, library  # noqa: E402
from jacs.client import JacsClient  # noqa: E402

from jacs_desktop.ui.workers import WorkerPool  # noqa: E402

PW, NEW = "Ui!Rotate#Keys2026a", "Ui!Rotate#Keys2027b"


@pytest.fixture
def workers(qtbot):
    pool = WorkerPool()
    yield pool
    pool.pool.waitForDone(20000)


def _sign(root, cfg, password):
    with env(JACS_TRUST_STORE_DIR=str(root / "trust")), library(root, password):
        return json.loads(JacsClient(str(cfg)).sign_message({"n": 1}).raw_json)["jacsSignature"]


def test_change_password_and_rotate(qtbot, workers, tmp_path):
    from jacs_desktop.ui.browser.keymgmt import KeyManagementWindow

    with env(JACS_TRUST_STORE_DIR=str(tmp_path / "trust")), library(tmp_path, PW):
        cfg = create_jacs_agent_here(tmp_path, "kai", "ring-Ed25519", PW)
    asked = []
    w = KeyManagementWindow(workers, str(cfg), ask_password=lambda _i: NEW,
                            confirm=lambda text: asked.append(text) or True)
    qtbot.addWidget(w)
    w.show()
    assert w.fields["algorithm"].text() == "ring-Ed25519" and w.rotate_button.text() == "Rotate keys"
    old_hash = w.identity.public_key_hash
    # a mistyped repeat changes nothing; then the password is changed
    w.old_password.setText(PW)
    w.new_password.setText(NEW)
    w.new_again.setText(NEW + "x")
    w.change_password()
    assert "differ" in w.status.text()
    w.new_again.setText(NEW)
    w.change_password()
    qtbot.waitUntil(lambda: "new password" in w.status.text() and not w.busy, timeout=30000)
    assert _sign(tmp_path, cfg, NEW)["publicKeyHash"] == old_hash

    # rotate to pq2025 (the window asks for confirmation, then the password)
    w.algorithm.setCurrentIndex(w.algorithm.findData("pq2025"))
    rotated = []
    w.rotated.connect(rotated.append)
    w.rotate()
    qtbot.waitUntil(lambda: bool(rotated) and not w.busy, timeout=30000)
    assert asked and "re-pin" in asked[0]
    assert "Rotated the keys" in w.status.text(), w.status.text()
    assert w.fields["algorithm"].text() == "pq2025" and w.fields["key"].text() != old_hash
    assert w.algorithm.count() == 1  # pq2025 cannot go back to Ed25519
    sig = _sign(tmp_path, cfg, NEW)
    assert sig["signingAlgorithm"] == "pq2025" and sig["publicKeyHash"] == w.fields["key"].text()
    assert rotated == [f"{sig['agentID']}:{sig['agentVersion']}"]
    qtbot.wait(50)
    assert w.grab().save(str(tmp_path / "key-management.png"))

    # a wrong password is said plainly and changes nothing
    w2 = KeyManagementWindow(workers, str(cfg), ask_password=lambda _i: "Wrong!Password#2026", confirm=lambda _t: True)
    qtbot.addWidget(w2)
    w2.rotate()
    qtbot.waitUntil(lambda: "not rotated" in w2.status.text() and not w2.busy, timeout=30000)
    assert w2.fields["key"].text() == sig["publicKeyHash"]


def test_finish_a_rotation_jacs_left_unfinished(qtbot, workers, tmp_path):
    from jacs_desktop.ui.browser.keymgmt import KeyManagementWindow

    with env(JACS_TRUST_STORE_DIR=str(tmp_path / "trust")), library(tmp_path, PW):
        cfg = create_jacs_agent_here(tmp_path, "kai", "ring-Ed25519", PW)
        rot = JacsClient(str(cfg)).rotate_keys()
    w = KeyManagementWindow(workers, str(cfg), ask_password=lambda _i: PW, confirm=lambda _t: pytest.fail("asked"))
    qtbot.addWidget(w)
    assert w.rotate_button.text() == "Finish the interrupted rotation" and "stopped" in w.status.text()
    w.rotate()
    qtbot.waitUntil(lambda: "Finished the rotation" in w.status.text() and not w.busy, timeout=30000)
    assert w.fields["version"].text() == rot["new_version"] and w.rotate_button.text() == "Rotate keys"
    assert _sign(tmp_path, cfg, PW)["publicKeyHash"] == rot["new_public_key_hash"]


def test_tools_menu_opens_it_with_the_last_identity(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings

    from jacs_desktop.ui.browser import BrowserWindow

    monkeypatch.setenv("JACS_DESKTOP_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("JACS_DESKTOP_CACHE_DIR", str(tmp_path / "cache"))
    with env(JACS_TRUST_STORE_DIR=str(tmp_path / "trust")), library(tmp_path, PW):
        cfg = create_jacs_agent_here(tmp_path, "kai", "pq2025", PW)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("last_identity", str(cfg))
    w = BrowserWindow(None, settings=settings, watch=False)
    qtbot.addWidget(w)
    assert w.act_keys.text() == "Key management…"
    w.act_keys.trigger()  # no store needed: it manages the identity's own files
    assert w.key_window.isVisible() and w.key_window.fields["algorithm"].text() == "pq2025"
    assert [w.key_window.algorithm.itemText(i) for i in range(w.key_window.algorithm.count())] == ["Keep pq2025"]
    w.key_window.close()
    w.close()
