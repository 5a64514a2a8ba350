"""The detail pane's re-pin offer, offscreen, on a store and a trust store the real jacs library made.

Alice trusts Rory (the library's ``trust_agent_with_key``); Rory then rotates its key
(Ed25519 → pq2025) and signs again, which jacs fails ("Document public key conflicts with the
enrolled identity key").  The pane explains it and re-pins along the verified rotation chain;
a document signed as Rory by a key that is none of Rory's (Mallory's, planted in the store) is a
pin conflict too, and its re-pin is refused with the reason.

Set JACS_DESKTOP_SAVE_SCREENSHOTS=1 to also write resources/screenshots/repin-offer.png."""

import json
import os
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

jacs = pytest.importorskip("jacs", reason="the jacs test extra is not installed")
from interop._library import create_jacs_agent_here, env, library  # noqa: E402
from jacs.client import JacsClient  # noqa: E402

from jacs_desktop.core.identity import create_agent  # noqa: E402
from jacs_desktop.core.sign import AgentSigner  # noqa: E402
from jacs_desktop.jobs import trust as tr  # noqa: E402
from jacs_desktop.storage.opener import open_store  # noqa: E402
from jacs_desktop.ui.browser import BrowserWindow  # noqa: E402

PASSWORD = "Ui!Repin#Offer2026x"
SHOTS = Path(__file__).resolve().parents[2] / "resources" / "screenshots"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("repin_offer")
    trust = root / "alice-trust"
    with env(JACS_TRUST_STORE_DIR=str(trust)), library(root, PASSWORD):
        cfg = {n: create_jacs_agent_here(root, n, "ring-Ed25519", PASSWORD) for n in ("alice", "rory")}
        alice, rory = JacsClient(str(cfg["alice"])), JacsClient(str(cfg["rory"]))
        alice.trust_agent_with_key(rory.export_agent(), rory.get_public_key())
        with env(JACS_TRUST_STORE_DIR=str(root / "rory-trust")):
            rot = rory.rotate_keys("pq2025")
            after = json.loads(rory.sign_message({"report": "after rotation"}).raw_json)
        assert not alice.verify(json.dumps(after)).valid  # the pin conflict, as jacs says it
    shutil.move(str(trust), str(root.parent / f"{root.name}-trust"))  # the trust store is not in the store
    mallory = create_agent(root.parent / f"{root.name}-mallory", "mallory", PASSWORD, algorithm="ring-Ed25519")
    store = open_store(str(root))
    try:
        store.put_public_key(mallory.public_key, mallory.algorithm)
        planted = AgentSigner(mallory.signer.signer, rot["jacs_id"], rot["new_version"]).new_document(
            {"jacsDocument": {"type": "message", "content": {"report": "planted"}}})
        store.put_document(planted)
    finally:
        store.close()
    return {"root": root, "cfg": cfg, "rot": rot, "after": after, "planted": planted,
            "trust": root.parent / f"{root.name}-trust"}


@pytest.fixture
def window(made, qtbot, tmp_path, monkeypatch):
    trust = tmp_path / "trusted_agents"
    shutil.copytree(made["trust"], trust)
    monkeypatch.setenv("JACS_TRUST_STORE_DIR", str(trust))
    monkeypatch.setenv("JACS_DESKTOP_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("JACS_DESKTOP_CACHE_DIR", str(tmp_path / "cache"))
    w = BrowserWindow(None, settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), watch=False)
    qtbot.addWidget(w)
    w.resize(1300, 800)
    w.show()
    w.open_url(str(made["root"]))
    qtbot.waitUntil(lambda: w.snapshot is not None and w.docs_model.rowCount() > 0
                    and all(r.verdict for r in w.snapshot.documents), timeout=60000)
    yield w, tr.TrustStore(trust)
    w.close()


def _show(qtbot, w, doc):
    for r in range(w.docs_model.rowCount()):
        if w.docs_model.row_object(r).id == doc["jacsId"]:
            w.docs_view.selectRow(r)
    qtbot.waitUntil(lambda: doc["jacsVersion"] in w.verdict_label.text() and "Trust:" in w.verdict_label.text(),
                    timeout=30000)


def test_pin_conflict_explained_and_repinned_from_the_detail_pane(qtbot, made, window, tmp_path):
    w, ts = window
    d, offer = w.detail, w.selection.repin
    aid, old_key, new_key = made["rot"]["jacs_id"], ts.pin(made["rot"]["jacs_id"]), made["rot"]["new_public_key_hash"]
    _show(qtbot, w, made["after"])
    label = w.verdict_label.text()
    assert "✓ valid" in label and "Trust: pin conflict" in label  # the trust line never changes the verdict
    assert d.trust_note.isVisible() and d.repin_button.isVisible()
    assert "changes its key" in d.trust_note.text() and tr.CONFLICT_TEXT in d.trust_note.text()
    assert old_key[:16] in d.trust_note.text() and new_key[:16] in d.trust_note.text()
    qtbot.wait(200)  # the layout settles (the labels' heights) before the picture
    assert w.grab().save(str(tmp_path / "repin-offer.png"))
    if os.environ.get("JACS_DESKTOP_SAVE_SCREENSHOTS"):
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp_path / "repin-offer.png", SHOTS / "repin-offer.png")

    # cancelled at the confirmation: nothing changes
    asked = []
    offer.confirm = lambda text: asked.append(text) or False
    offer.inform = lambda text: pytest.fail(f"refused: {text}")
    d.repin_button.click()
    qtbot.waitUntil(lambda: bool(asked) and "cancelled" in d.trust_note.text(), timeout=30000)
    assert ts.pin(aid) == old_key
    # the question names the agent, the old and the new key and the chain
    text = asked[0]
    assert aid in text and "'rory'" in text and old_key in text and new_key in text
    assert made["rot"]["new_version"] in text and "pq2025" in text

    offer.confirm = lambda text: True
    d.repin_button.click()
    qtbot.waitUntil(lambda: "Trust: trusted" in w.verdict_label.text(), timeout=30000)
    assert "✓ valid" in w.verdict_label.text()
    assert not d.repin_button.isVisible() and "Re-pinned rory" in d.trust_note.text()
    assert ts.pin(aid) == new_key
    # the library agrees: Rory's new document now verifies with this trust store
    with env(JACS_TRUST_STORE_DIR=str(ts.root)), library(made["root"], PASSWORD):
        assert JacsClient(str(made["cfg"]["alice"])).verify(json.dumps(made["after"])).valid


def test_repin_refused_when_no_chain_verifies(qtbot, made, window):
    """Mallory's key signs as Rory: a pin conflict, but no rotation of Rory's leads to that key."""
    w, ts = window
    d, offer = w.detail, w.selection.repin
    aid, old_key = made["rot"]["jacs_id"], ts.pin(made["rot"]["jacs_id"])
    _show(qtbot, w, made["planted"])
    assert "Trust: pin conflict" in w.verdict_label.text() and d.repin_button.isVisible()
    refused = []
    offer.confirm = lambda text: pytest.fail("asked to confirm a chain that does not verify")
    offer.inform = refused.append
    d.repin_button.click()
    qtbot.waitUntil(lambda: bool(refused), timeout=30000)
    assert "Not re-pinned" in refused[0] and "no verified rotation" in refused[0]
    assert "no verified rotation" in d.trust_note.text() and d.repin_button.isEnabled()
    assert ts.pin(aid) == old_key and "Trust: pin conflict" in w.verdict_label.text()


# -- the identities window's re-pin: the same check, question and refusal as the detail pane ---------------

@pytest.fixture
def identities(made, qtbot, tmp_path):
    """The identities window on a copy of the store and of Alice's trust store, and plan_repin's
    own question for Rory (what both windows must ask)."""
    from jacs_desktop.ui.browser.identity import IdentityWindow
    from jacs_desktop.ui.browser.repin import confirm_text
    from jacs_desktop.ui.workers import WorkerPool

    root, trust = tmp_path / "store", tmp_path / "trusted_agents"
    shutil.copytree(made["root"], root)
    shutil.copytree(made["trust"], trust)
    store, ts, pool = open_store(str(root)), tr.TrustStore(trust), WorkerPool()
    aid, new_key = made["rot"]["jacs_id"], made["rot"]["new_public_key_hash"]
    expected = confirm_text(tr.plan_repin(ts, store, aid, new_key))
    asked: list[str] = []
    w = IdentityWindow(store, pool, ts, confirm=lambda text: asked.append(text) or False)
    w.repin.inform = lambda text: pytest.fail(f"refused: {text}")
    qtbot.addWidget(w)
    w.show()
    w.load()
    qtbot.waitUntil(lambda: any(t.agent_id == aid for t in w.timelines), timeout=30000)
    w.select(aid)
    assert "pin conflict" in w.trust_label.text() and w.repin_button.isEnabled()
    yield {"w": w, "store": store, "trust": ts, "root": root, "aid": aid, "new_key": new_key, "asked": asked,
           "expected": expected}
    pool.pool.waitForDone(10000)
    store.close()


def test_identity_window_repin_asks_the_detail_panes_question(qtbot, made, identities):
    i = identities
    w, ts, aid = i["w"], i["trust"], i["aid"]
    old_key = ts.pin(aid)
    w.repin_button.click()  # cancelled: nothing changes
    qtbot.waitUntil(lambda: bool(i["asked"]) and "cancelled" in w.trust_note.text(), timeout=30000)
    assert i["asked"] == [i["expected"]]  # plan_repin's question, word for word
    assert old_key in i["asked"][0] and i["new_key"] in i["asked"][0] and made["rot"]["new_version"] in i["asked"][0]
    assert ts.pin(aid) == old_key and "pin conflict" in w.trust_label.text() and w.repin_button.isEnabled()

    w.repin.confirm = lambda text: i["asked"].append(text) or True
    w.repin_button.click()
    qtbot.waitUntil(lambda: "Trust: trusted" in w.trust_label.text(), timeout=30000)
    assert i["asked"][1] == i["expected"] and ts.pin(aid) == i["new_key"]
    assert "Re-pinned rory" in w.trust_note.text() and made["rot"]["new_version"] in w.trust_note.text()
    assert w.trust_note.isVisible() and not w.repin_button.isEnabled()
    # the library agrees: Rory's new document verifies with this trust store
    with env(JACS_TRUST_STORE_DIR=str(ts.root)), library(made["root"], PASSWORD):
        assert JacsClient(str(made["cfg"]["alice"])).verify(json.dumps(made["after"])).valid


def test_identity_window_repin_refused_when_no_chain_verifies(qtbot, made, identities):
    """The store lost Rory's rotated agent version after the window read it: the chain no longer
    verifies, and the re-pin is refused with the detail pane's words, before any question."""
    i = identities
    w, ts, aid = i["w"], i["trust"], i["aid"]
    old_key = ts.pin(aid)
    (i["root"] / "jacs_data" / "agent" / f"{aid}:{made['rot']['new_version']}.json").unlink()
    i["store"].invalidate()
    refused: list[str] = []
    w.repin.inform = refused.append
    w.repin_button.click()
    qtbot.waitUntil(lambda: bool(refused), timeout=30000)
    assert i["asked"] == []  # a chain that does not verify is never offered
    assert refused[0].startswith("Not re-pinned:") and "no verified rotation" in refused[0]
    assert refused[0].endswith("The trust store is unchanged.")
    assert w.trust_note.text() == refused[0] and w.trust_note.isVisible()
    assert ts.pin(aid) == old_key


# -- one "trust store changed" notification: the detail pane and the identities window follow each other ---

def _open_identities(qtbot, w, aid):
    w.act_identities.trigger()
    iw = w.identity_window
    qtbot.waitUntil(lambda: any(t.agent_id == aid for t in iw.timelines), timeout=30000)
    iw.select(aid)
    return iw


def test_detail_pane_repin_refreshes_the_open_identities_window(qtbot, made, window):
    w, ts = window
    aid = made["rot"]["jacs_id"]
    _show(qtbot, w, made["after"])
    iw = _open_identities(qtbot, w, aid)
    assert iw.events is w.trust_events and "pin conflict" in iw.trust_label.text()
    w.selection.repin.confirm = lambda text: True
    w.selection.repin.inform = lambda text: pytest.fail(f"refused: {text}")
    w.detail.repin_button.click()
    qtbot.waitUntil(lambda: "Trust: trusted" in w.verdict_label.text(), timeout=30000)
    qtbot.waitUntil(lambda: "Trust: trusted" in iw.trust_label.text(), timeout=30000)  # read again
    assert not iw.repin_button.isEnabled() and ts.pin(aid) == made["rot"]["new_public_key_hash"]
    iw.close()


def test_identities_window_repin_refreshes_the_detail_pane(qtbot, made, window):
    w, ts = window
    aid = made["rot"]["jacs_id"]
    _show(qtbot, w, made["after"])
    assert "Trust: pin conflict" in w.verdict_label.text() and w.detail.repin_button.isVisible()
    iw = _open_identities(qtbot, w, aid)
    heard: list[str] = []
    w.trust_events.changed.connect(heard.append)
    iw.repin.confirm = lambda text: True
    iw.repin.inform = lambda text: pytest.fail(f"refused: {text}")
    iw.repin_button.click()
    qtbot.waitUntil(lambda: "Trust: trusted" in w.verdict_label.text(), timeout=30000)
    assert heard == [aid] and ts.pin(aid) == made["rot"]["new_public_key_hash"]
    assert "✓ valid" in w.verdict_label.text() and not w.detail.repin_button.isVisible()
    qtbot.waitUntil(lambda: "Trust: trusted" in iw.trust_label.text(), timeout=30000)
    # and Untrust there: the detail pane's trust line follows (distrusted)
    iw._confirm = lambda text: True
    iw.untrust_current()
    qtbot.waitUntil(lambda: "Trust: distrusted" in w.verdict_label.text(), timeout=30000)
    assert heard == [aid, aid] and "✓ valid" in w.verdict_label.text()  # the verdict never changes
    iw.close()
