"""The checkpoint diff window, offscreen, on a store the real jacs library made: two checkpoints
with a removed, an edited and a new version between them; counts, filter and copy; both
checkpoints' verification; *Sign this diff…* stores what ``jacs-desktop-cli checkpoint diff``
stores, and jacs verifies it as an ordinary signed document.

Set JACS_DESKTOP_SAVE_SCREENSHOTS=1 to also write resources/screenshots/checkpoint-diff.png."""

import json
import os
import shutil
from pathlib import Path

import pytest

jacs = pytest.importorskip("jacs", reason="the jacs test extra is not installed")
from interop._library import create_jacs_agent_here, env, library  # noqa: E402
from jacs.client import JacsClient  # noqa: E402

from jacs_desktop.cli.app import main as cli  # noqa: E402
from jacs_desktop.core.canonical import jacs_sha256  # noqa: E402
from jacs_desktop.core.identity import Identity  # noqa: E402
from jacs_desktop.jobs import checkpoints as cp  # noqa: E402
from jacs_desktop.storage.opener import open_store  # noqa: E402
from jacs_desktop.ui.workers import WorkerPool  # noqa: E402

PASSWORD = "Ui!Checkpoint#Diff2026"
SHOTS = Path(__file__).resolve().parents[2] / "resources" / "screenshots"


@pytest.fixture
def workers(qtbot):
    pool = WorkerPool()
    yield pool
    pool.pool.waitForDone(10000)


@pytest.fixture
def world(tmp_path):
    root = tmp_path / "store"
    root.mkdir()
    trust = tmp_path / "trust"
    with env(JACS_TRUST_STORE_DIR=str(trust)), library(root, PASSWORD):
        cfg = create_jacs_agent_here(root, "keeper", "ring-Ed25519", PASSWORD)
        client = JacsClient(str(cfg))
        docs = [json.loads(client.sign_message({"n": i}).raw_json) for i in range(3)]
    signer = Identity.load(cfg).unlock(PASSWORD)
    store = open_store(str(root))
    try:
        first = cp.make_checkpoint(store, signer)
    finally:
        store.close()
    # between the checkpoints: one version removed, one edited (re-hashed), one new (by jacs)
    path = {d["jacsId"]: root / "documents" / f"{d['jacsId']}:{d['jacsVersion']}.json" for d in docs}
    gone, edited = docs[0], docs[1]
    path[gone["jacsId"]].unlink()
    e = dict(edited, jacsDocument={"n": 99})
    e.pop("jacsSha256")
    e["jacsSha256"] = jacs_sha256(e)
    path[edited["jacsId"]].write_text(json.dumps(e))
    with env(JACS_TRUST_STORE_DIR=str(trust)), library(root, PASSWORD):
        new = json.loads(JacsClient(str(cfg)).sign_message({"n": "new"}).raw_json)
    store = open_store(str(root))
    try:
        second = cp.make_checkpoint(store, signer)
    finally:
        store.close()

    def key(d):
        return f"documents/{d['jacsId']}:{d['jacsVersion']}.json"

    return {"root": root, "cfg": cfg, "trust": trust, "first": first, "second": second,
            "gone": key(gone), "edited": key(edited), "new": key(new), "first_key": key(first)}


def _lib_valid(world, doc):
    with env(JACS_TRUST_STORE_DIR=str(world["trust"])), library(world["root"], PASSWORD):
        return JacsClient(str(world["cfg"])).verify(json.dumps(doc)).valid


def test_checkpoint_diff_window(qtbot, world, workers, tmp_path):
    from jacs_desktop.ui.browser.checkpoints import CheckpointsWindow

    store = open_store(str(world["root"]))
    cw = CheckpointsWindow(store, workers, str(world["cfg"]), ask_password=lambda _i: PASSWORD)
    qtbot.addWidget(cw)
    cw.load()
    qtbot.waitUntil(lambda: len(cw.rows) == 2, timeout=30000)
    cw.show_diff()  # the checkpoints window's "Diff two checkpoints…"
    w = cw.diff_window
    w.resize(1150, 560)
    w.show()
    # From: the older checkpoint, To: the latest; both hold and name their signer
    a, b = w.pair()
    assert (a.id, b.id) == (world["first"]["jacsId"], world["second"]["jacsId"])
    for label in (w.from_check, w.to_check):
        assert "✓" in label.text() and "signature holds, signed by keeper" in label.text()
    by = {r.change: [] for r in w.diff}
    for r in w.diff:
        by[r.change].append(r.key)
    assert by == {"vanished": [world["gone"]], "changed": [world["edited"]],
                  "appeared": sorted([world["new"], world["first_key"]])}
    assert [w.toggles[c].text() for c in ("appeared", "vanished", "changed")] == \
        ["+ Appeared (2)", "− Vanished (1)", "± Changed (1)"]
    assert w.model.rowCount() == 4
    edited = next(r for r in w.diff if r.change == "changed")
    assert edited.before and edited.after and edited.before != edited.after
    # the earlier checkpoint, itself a stored version, is named as one
    assert any("(a checkpoint)" in w.model.index(i, 1).data() for i in range(4))
    assert [w.model.row_object(i).change for i in range(4)] == ["vanished", "changed", "appeared", "appeared"]
    qtbot.wait(100)
    assert w.grab().save(str(tmp_path / "checkpoint-diff.png"))
    if os.environ.get("JACS_DESKTOP_SAVE_SCREENSHOTS"):
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp_path / "checkpoint-diff.png", SHOTS / "checkpoint-diff.png")
    # filter: by kind and by text; copy: what is shown (or selected), tab-separated
    w.toggles["appeared"].setChecked(False)
    assert sorted(r.change for r in w.shown_rows()) == ["changed", "vanished"]
    w.filter_edit.setText(world["gone"].split("/")[1][:8])
    assert [r.key for r in w.shown_rows()] == [world["gone"]]
    text = w.copy_rows()
    assert text.splitlines()[1].split("\t")[:2] == ["vanished", world["gone"]]
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == text
    w.filter_edit.clear()
    w.toggles["appeared"].setChecked(True)
    assert w.model.rowCount() == 4

    # Sign this diff…: stored in the store, verified by jacs, the same lists the CLI signs
    signed = []
    w.signed.connect(signed.append)
    w.sign_diff()
    qtbot.waitUntil(lambda: bool(signed), timeout=30000)
    diff_id, diff_version = signed[0].split(":")
    stored = json.loads((world["root"] / "documents" / f"{diff_id}:{diff_version}.json").read_text())
    assert stored == w.last_signed and _lib_valid(world, stored)
    d = stored[cp.DIFF_FIELD]
    assert (d["from"]["id"], d["to"]["id"]) == (world["first"]["jacsId"], world["second"]["jacsId"])
    assert (d["vanished"], d["changed"], sorted(d["appeared"])) == (by["vanished"], by["changed"], by["appeared"])
    assert "signed by" in w.status.text() and "2 appeared, 1 vanished, 1 changed" in w.status.text()
    with env(JACS_PRIVATE_KEY_PASSWORD=PASSWORD):
        assert cli(["checkpoint", "diff", str(world["root"]), world["first"]["jacsId"], world["second"]["jacsId"],
                    "--config", str(world["cfg"])]) == 0
    by_cli = [x for x in (world["root"] / "documents").glob("*.json")
              if cp.DIFF_FIELD in (doc := json.loads(x.read_text())) and doc["jacsId"] != diff_id]
    assert len(by_cli) == 1
    cli_doc = json.loads(by_cli[0].read_text())
    assert {k: v for k, v in cli_doc[cp.DIFF_FIELD].items()} == d  # same body as the command line's
    qtbot.waitUntil(lambda: len(cw.rows) == 2 and workers.active == 0, timeout=30000)  # the list was read again
    store.close()


def test_diff_of_a_tampered_checkpoint_is_not_signed(qtbot, world, workers):
    """A checkpoint whose signature breaks: shown as not holding, and Sign this diff… refuses."""
    from jacs_desktop.ui.browser.checkpoint_diff import CheckpointDiffWindow

    p = world["root"] / world["first_key"]
    t = json.loads(p.read_text())
    t[cp.FIELD]["entries"] = t[cp.FIELD]["entries"][1:]
    t[cp.FIELD]["count"] -= 1
    t[cp.FIELD]["root"] = cp.merkle_root([tuple(x) for x in t[cp.FIELD]["entries"]])
    t["jacsSha256"] = jacs_sha256({k: v for k, v in t.items() if k != "jacsSha256"})
    p.write_text(json.dumps(t))
    assert not _lib_valid(world, t)
    store = open_store(str(world["root"]))
    w = CheckpointDiffWindow(store, workers, str(world["cfg"]), ask_password=lambda _i: pytest.fail("asked"))
    qtbot.addWidget(w)
    w.load()
    qtbot.waitUntil(lambda: len(w.rows) == 2, timeout=30000)
    assert "✗" in w.from_check.text() and "signature does not hold" in w.from_check.text()
    assert "✓" in w.to_check.text()
    before = sorted((world["root"] / "documents").glob("*.json"))
    w.sign_diff()
    assert "Not signed" in w.status.text() and "cannot be relied on" in w.status.text()
    assert sorted((world["root"] / "documents").glob("*.json")) == before
    store.close()
