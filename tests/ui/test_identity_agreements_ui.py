"""The identities window and the agreement board, offscreen, on a store the real jacs library made.

Set JACS_DESKTOP_SAVE_SCREENSHOTS=1 to also write resources/screenshots/identity-timeline.png
and agreement-board.png (the README's pictures)."""

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURE
from PySide6.QtCore import QSettings

jacs = pytest.importorskip("jacs", reason="the jacs test extra is not installed")
from interop._library import create_jacs_agent_here, env, library  # noqa: E402
from jacs import SimpleAgent  # noqa: E402
from jacs.client import JacsClient  # noqa: E402

from jacs_desktop.core.crypto import signer_from_private_material  # noqa: E402
from jacs_desktop.core.keys import decrypt_private_key  # noqa: E402
from jacs_desktop.core.sign import AgentSigner  # noqa: E402
from jacs_desktop.jobs.trust import TrustStore  # noqa: E402
from jacs_desktop.storage.opener import open_store  # noqa: E402
from jacs_desktop.ui.browser import BrowserWindow  # noqa: E402
from jacs_desktop.ui.browser.agreements import AgreementBoardWindow  # noqa: E402
from jacs_desktop.ui.browser.identity import IdentityWindow  # noqa: E402
from jacs_desktop.ui.workers import WorkerPool  # noqa: E402

PASSWORD = "Ui!Identity#2026xyz"
SHOTS = Path(__file__).resolve().parents[2] / "resources" / "screenshots"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Alice, Bob and Rory (rotated Ed25519 → pq2025 after Alice trusted it), a v1 and a v2 agreement."""
    root = tmp_path_factory.mktemp("ui_identity")
    trust = root / "alice-trust"
    with env(JACS_TRUST_STORE_DIR=str(trust)), library(root, PASSWORD):
        cfg = {n: create_jacs_agent_here(root, n, "ring-Ed25519", PASSWORD) for n in ("alice", "bob", "rory")}
        agents = {n: SimpleAgent.load(str(c)) for n, c in cfg.items()}
        ids = {n: a.get_agent_id() for n, a in agents.items()}
        alice, rory = JacsClient(str(cfg["alice"])), JacsClient(str(cfg["rory"]))
        rory.sign_message({"report": "before rotation"})
        alice.trust_agent_with_key(rory.export_agent(), rory.get_public_key())
        with env(JACS_TRUST_STORE_DIR=str(root / "rory-trust")):
            rot = rory.rotate_keys("pq2025")
            rory.sign_message({"report": "after rotation"})
        base = alice.sign_message({"proposal": "ship 10 units"})
        alice.sign_agreement(alice.create_agreement(base, [ids["alice"], ids["bob"]], question="Ship 10 units?",
                                                    context="ui test"))
        inp = {"title": "Supply agreement", "description": "ui test", "terms": "Deliver 10 units by Friday.",
               "status": "proposed", "expiresAt": "2099-01-01T00:00:00Z",
               "parties": [{"agentId": ids["alice"], "agentType": "ai", "role": "signer"},
                           {"agentId": ids["bob"], "agentType": "ai", "role": "signer"},
                           {"agentId": ids["rory"], "agentType": "ai", "role": "witness"}],
               "signaturePolicy": {"partyQuorum": "all", "witnessRequired": 1},
               "controllers": [ids["alice"], ids["bob"], ids["rory"]]}
        agents["alice"].sign_agreement_v2(agents["alice"].create_agreement_v2(json.dumps(inp)), "signer")
    # a late document signed with Rory's superseded key (jacs accepts it; the timeline flags it)
    old = rot["old_version"]
    kd = root / "keys" / "rory"
    pub = (kd / f"jacs.public.{old}.pem").read_bytes()
    material = decrypt_private_key((kd / f"jacs.private.{old}.pem.enc").read_bytes(), PASSWORD)
    late = AgentSigner(signer_from_private_material("ed25519", material, pub), ids["rory"], old, pub).new_document(
        {"jacsDocument": {"type": "message", "content": {"report": "late, old key"}}})
    store = open_store(str(root))
    store.put_document(late)
    store.close()
    return {"root": root, "cfg": cfg, "ids": ids, "trust": trust}


@pytest.fixture
def world(made, tmp_path):
    root = tmp_path / "store"
    shutil.copytree(made["root"], root)
    return {**made, "made_root": made["root"], "root": root, "cfg": {n: root / p.name for n, p in made["cfg"].items()},
            "trust": root / "alice-trust"}


@pytest.fixture
def workers(qtbot):
    pool = WorkerPool()
    yield pool
    pool.pool.waitForDone(10000)


def _save(widget, name, tmp_path):
    from PySide6.QtWidgets import QLabel

    path = tmp_path / name
    if os.environ.get("JACS_DESKTOP_SAVE_SCREENSHOTS"):
        # the README's pictures show no folder of the machine that made them
        for label in widget.findChildren(QLabel):
            if str(tmp_path) in label.text():
                label.setText(label.text().replace(str(tmp_path), "~/jacs-example"))
    assert widget.grab().save(str(path))
    assert path.stat().st_size > 10_000
    if os.environ.get("JACS_DESKTOP_SAVE_SCREENSHOTS"):
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SHOTS / name)
    return path


def test_agreement_board_waiting_for_me_and_sign(qtbot, world, workers, tmp_path):
    store = open_store(str(world["root"]))
    w = AgreementBoardWindow(store, workers, str(world["cfg"]["bob"]), ask_password=lambda _i: PASSWORD)
    qtbot.addWidget(w)
    w.show()
    w.load()
    qtbot.waitUntil(lambda: w.board is not None, timeout=30000)
    assert w.tree.topLevelItemCount() == 2
    titles = {w.tree.topLevelItem(i).text(0) for i in range(2)}
    assert titles == {"Ship 10 units?", "Supply agreement"}
    v2 = next(w.tree.topLevelItem(i) for i in range(2) if w.tree.topLevelItem(i).text(0) == "Supply agreement")
    assert [v2.child(i).text(2) for i in range(v2.childCount())] == ["signed", "pending", "pending"]
    w.waiting.setChecked(True)
    assert w.tree.topLevelItemCount() == 2  # Bob is pending in both
    w.resize(1250, 560)
    _save(w, "agreement-board.png", tmp_path)
    # sign the v1 agreement as Bob
    v1 = next(w.tree.topLevelItem(i) for i in range(2) if w.tree.topLevelItem(i).text(0) == "Ship 10 units?")
    w.tree.setCurrentItem(v1)
    assert w.sign_button.isEnabled() and not w.role.isEnabled()
    assert "not covered by any signature" in w.detail.text()
    signed = []
    w.signed.connect(signed.append)
    w.sign_selected()
    qtbot.waitUntil(lambda: bool(signed), timeout=30000)
    qtbot.waitUntil(lambda: w.tree.topLevelItemCount() == 1, timeout=30000)  # only the v2 one still waits
    doc_id, version = signed[0].split(":")
    new = (world["root"] / "documents" / f"{doc_id}:{version}.json").read_text()
    with env(JACS_TRUST_STORE_DIR=str(tmp_path / "none")), library(world["root"], PASSWORD):
        client = JacsClient(str(world["cfg"]["bob"]))
        assert client.verify(new).valid
        client.check_agreement(new)  # raises unless every party signed
    store.close()


def test_identity_window_pin_conflict_and_repin(qtbot, world, workers, tmp_path):
    # the store as jacs made it (its configs name the key folders there: rotatedAt is read from them);
    # the trust store is a copy
    store = open_store(str(world["made_root"]))
    w = IdentityWindow(store, workers, TrustStore(world["trust"]), confirm=lambda _t: True)
    qtbot.addWidget(w)
    w.show()
    w.load()
    qtbot.waitUntil(lambda: len(w.timelines) == 3, timeout=30000)
    w.select(world["ids"]["rory"])
    assert "pin conflict" in w.trust_label.text() and "conflicts with the enrolled identity key" in \
        w.trust_label.text()
    assert w.versions.topLevelItemCount() == 2
    assert w.versions.topLevelItem(1).text(2) == "pq2025" and "signed by the old key" in \
        w.versions.topLevelItem(1).text(4)
    assert w.versions.topLevelItem(0).text(5)  # rotatedAt from the .obsolete.json note
    assert w.epochs.topLevelItemCount() == 2
    assert w.flags.topLevelItemCount() == 1 and "superseded key used after rotation" in w.flags.topLevelItem(0).text(0)
    assert w.repin_button.isEnabled() and not w.trust_button.isEnabled()
    w.resize(1250, 720)
    _save(w, "identity-timeline.png", tmp_path)
    w.repin_current()
    qtbot.waitUntil(lambda: "Trust: trusted" in w.trust_label.text(), timeout=30000)
    # Bob is not trusted: trust him, then jacs finds him in the trust store
    w.select(world["ids"]["bob"])
    assert "not in trust store" in w.trust_label.text() and w.trust_button.isEnabled()
    w.trust_current()
    qtbot.waitUntil(lambda: "Trust: trusted" in w.trust_label.text(), timeout=30000)
    with env(JACS_TRUST_STORE_DIR=str(world["trust"])), library(world["root"], PASSWORD):
        listed = JacsClient(str(world["cfg"]["alice"])).list_trusted_agents()
    assert any(x.startswith(world["ids"]["bob"] + ":") for x in listed)
    store.close()


def test_window_menu_opens_both(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("JACS_DESKTOP_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("JACS_DESKTOP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("JACS_TRUST_STORE_DIR", str(tmp_path / "trust"))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = BrowserWindow(None, settings=settings, watch=False)
    qtbot.addWidget(w)
    w.act_agreements.trigger()  # no store yet: a clear message, nothing opens
    assert not hasattr(w, "agreement_board")
    w.open_url(str(FIXTURE))
    qtbot.waitUntil(lambda: w.snapshot is not None and w.workers.active == 0, timeout=60000)
    # the detail pane's trust line (the fixture's agents are in no trust store)
    qtbot.waitUntil(lambda: w.docs_model.rowCount() > 0 and all(r.verdict for r in w.snapshot.documents),
                    timeout=60000)
    w.docs_view.selectRow(0)
    qtbot.waitUntil(lambda: "Trust: not in trust store" in w.verdict_label.text(), timeout=30000)
    w.act_agreements.trigger()
    qtbot.waitUntil(lambda: w.agreement_board.board is not None, timeout=30000)
    assert w.agreement_board.tree.topLevelItemCount() >= 1  # the fixture's v1 agreement
    w.act_identities.trigger()
    qtbot.waitUntil(lambda: len(w.identity_window.timelines) == 2, timeout=30000)
    assert "not in trust store" in w.identity_window.trust_label.text()
    w.agreement_board.close()
    w.identity_window.close()
    w.close()


def test_checkpoints_window(qtbot, world, workers):
    from jacs_desktop.ui.browser.checkpoints import CheckpointsWindow

    store = open_store(str(world["root"]))
    w = CheckpointsWindow(store, workers, str(world["cfg"]["alice"]), ask_password=lambda _i: PASSWORD)
    qtbot.addWidget(w)
    w.show()
    w.load()
    qtbot.waitUntil(lambda: "0 checkpoints" in w.status.text(), timeout=30000)
    w.create_checkpoint()
    qtbot.waitUntil(lambda: len(w.rows) == 1, timeout=30000)
    assert w.list.topLevelItem(0).text(5) == "✓"
    victim = next(p for p in sorted((world["root"] / "documents").glob("*.json"))
                  if not p.name.startswith(w.rows[0].id))
    victim.unlink()
    store.invalidate()
    w.compare_selected()
    qtbot.waitUntil(lambda: w.comparison is not None, timeout=30000)
    assert w.comparison.vanished == [f"documents/{victim.name}"]
    assert w.result.topLevelItem(0).text(0) == "vanished (1)"
    store.close()


def test_dropped_signed_text_and_image_are_verified(qtbot, tmp_path, monkeypatch):
    """Files signed by jacs sign_text / sign_image dropped on the window: verified with the store's keys."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QColor, QDropEvent, QImage

    note, pic = tmp_path / "minutes.md", tmp_path / "photo.png"
    note.write_text("# Minutes\n\nShip on Friday.\n")
    img = QImage(8, 8, QImage.Format.Format_RGB32)
    img.fill(QColor("#336699"))
    assert img.save(str(tmp_path / "raw.png"), "PNG")
    # a store of its own (jacs stores what it signs there; the copied store's configs point elsewhere)
    root = tmp_path / "signer"
    root.mkdir()
    with env(JACS_TRUST_STORE_DIR=str(tmp_path / "trust")), library(root, PASSWORD):
        agent = SimpleAgent.load(str(create_jacs_agent_here(root, "scribe", "ring-Ed25519", PASSWORD)))
        agent.sign_text(str(note), no_backup=True)
        agent.sign_image(str(tmp_path / "raw.png"), str(pic))
    edited = tmp_path / "edited.md"
    edited.write_text(note.read_text().replace("Friday", "Monday"))
    monkeypatch.setenv("JACS_DESKTOP_CONFIG_DIR", str(tmp_path / "cfg"))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = BrowserWindow(None, settings=settings, watch=False)
    qtbot.addWidget(w)
    w.open_url(str(root))
    qtbot.waitUntil(lambda: w.snapshot is not None and w.workers.active == 0, timeout=60000)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in (note, pic, edited)])
    w.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                           Qt.KeyboardModifier.NoModifier))
    qtbot.waitUntil(lambda: len(w.dropped) == 3, timeout=30000)
    got = {p.name: v for p, v, _r in w.dropped}
    assert (got["minutes.md"].kind, got["minutes.md"].status) == ("text", "valid")
    assert (got["photo.png"].kind, got["photo.png"].status) == ("image", "valid")
    assert got["edited.md"].status == "invalid" and "hash_mismatch" in got["edited.md"].checks[0].reason
    assert getattr(w, "active_wizard", None) is None  # signed files are verified, not offered for signing
    w.close()


def test_attestations_window(qtbot, workers, tmp_path):
    import base64
    import hashlib
    from datetime import UTC, datetime

    from jacs_desktop.ui.browser.attestations import AttestationsWindow

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def params(collected, subject_id):
        data = b"build log"
        return json.dumps({
            "subject": {"type": "artifact", "id": subject_id, "digests": {"sha256": hashlib.sha256(b"x").hexdigest()}},
            "claims": [{"name": "tests-pass", "value": True, "confidence": 0.95}],
            "evidence": [{"kind": "custom", "digests": {"sha256": hashlib.sha256(data).hexdigest()}, "embedded": True,
                          "embeddedData": base64.b64encode(data).decode(), "collectedAt": collected,
                          "verifier": {"name": "ci", "version": "1"}}],
            "policyContext": {"maxEvidenceAge": "P1D"}})

    root = tmp_path / "attest"
    root.mkdir()
    with env(JACS_TRUST_STORE_DIR=str(tmp_path / "trust")), library(root, PASSWORD):
        agent = SimpleAgent.load(str(create_jacs_agent_here(root, "ci", "ring-Ed25519", PASSWORD)))
        agent.create_attestation(params(now, "release-1.0"))
        agent.create_attestation(params("2020-01-01T00:00:00Z", "release-0.9"))
    store = open_store(str(root))
    w = AttestationsWindow(store, workers)
    qtbot.addWidget(w)
    w.show()
    w.load()
    qtbot.waitUntil(lambda: "attestations," in w.status.text() or "Reading" not in w.status.text(), timeout=30000)
    assert len(w.rows) == 2, w.status.text()
    tops = {w.tree.topLevelItem(i).text(0) for i in range(2)}
    assert tops == {"✓ release-1.0", "✗ release-0.9"}
    stale = next(w.tree.topLevelItem(i) for i in range(2) if "0.9" in w.tree.topLevelItem(i).text(0))
    texts = [stale.child(i).text(0) + " " + stale.child(i).text(1) for i in range(stale.childCount())]
    assert any("is stale" in t for t in texts) and any(t.startswith("claims (1)") for t in texts)
    assert "1 failing" in w.status.text()
    store.close()
