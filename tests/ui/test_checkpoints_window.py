"""The checkpoints window and the checkpoint diff window in the theme's colours (light and dark) and
naming agents as the versions table does, offscreen, on a copy of the library-made fixture store.

Three checkpoints signed by the fixture's Ed25519 agent: the first, the second after a document
was removed, one edited and one added, and a third whose signature was broken afterwards.  Every
colour the windows paint text with is one of the theme's text colours, which
``tests/ui/test_theme.py`` holds to WCAG AA on the theme's backgrounds (checked here again)."""

from __future__ import annotations

import json
import re

import pytest
from conftest import MANIFEST
from PySide6.QtCore import Qt

from jacs_desktop.core.canonical import jacs_sha256
from jacs_desktop.core.identity import Identity
from jacs_desktop.jobs import checkpoints as cp
from jacs_desktop.storage.opener import open_store
from jacs_desktop.ui import theme
from jacs_desktop.ui.browser.checkpoints import CheckpointsWindow
from jacs_desktop.ui.workers import WorkerPool

AGENT = MANIFEST["agents"]["ed25519"]
AA = 4.5


def text_colours(colors: theme.Colors) -> set[str]:
    """The colours test_theme.py checks for AA on *colors*' backgrounds."""
    return {*colors.verdict.values(), colors.default_verdict, colors.error, colors.ok, colors.caution}


@pytest.fixture
def workers(qtbot):
    pool = WorkerPool()
    yield pool
    pool.pool.waitForDone(10000)


@pytest.fixture
def world(fixture_copy):
    root = fixture_copy
    cfg = root / AGENT["config"]
    signer = Identity.load(cfg).unlock(AGENT["password"])
    store = open_store(str(root))
    try:
        first = cp.make_checkpoint(store, signer)
        docs = sorted(p for p in (root / "documents").glob("*.json") if not p.name.startswith(first["jacsId"]))
        gone, edited = docs[0], docs[1]
        gone.unlink()
        e = json.loads(edited.read_text())
        e["edited"] = True
        e.pop("jacsSha256")
        e["jacsSha256"] = jacs_sha256(e)
        edited.write_text(json.dumps(e))
        store.put_document(signer.new_document({"jacsDocument": {"note": "added after the first checkpoint"}}))
        store.invalidate()
        cp.make_checkpoint(store, signer)
        broken = cp.make_checkpoint(store, signer)
    finally:
        store.close()
    # the third checkpoint's list changed after it was signed: its signature breaks
    p = root / "documents" / f"{broken['jacsId']}:{broken['jacsVersion']}.json"
    t = json.loads(p.read_text())
    t[cp.FIELD]["entries"] = t[cp.FIELD]["entries"][1:]
    t[cp.FIELD]["count"] -= 1
    t[cp.FIELD]["root"] = cp.merkle_root([tuple(x) for x in t[cp.FIELD]["entries"]])
    t["jacsSha256"] = jacs_sha256({k: v for k, v in t.items() if k != "jacsSha256"})
    p.write_text(json.dumps(t))
    return {"root": root, "cfg": cfg}


def _painted(tree) -> list[str]:
    """Every colour a QTreeWidget's items set for their text (children too)."""
    out = []

    def walk(item):
        for col in range(tree.columnCount()):
            brush = item.data(col, Qt.ItemDataRole.ForegroundRole)
            if brush is not None:
                out.append(brush.color().name())
        for i in range(item.childCount()):
            walk(item.child(i))

    for i in range(tree.topLevelItemCount()):
        walk(tree.topLevelItem(i))
    return out


def _style_colours(*labels) -> list[str]:
    return [m for lab in labels for m in re.findall(r"#[0-9a-fA-F]{6}", lab.styleSheet() + lab.text())]


def _assert_covered(colors: theme.Colors, used: list[str]) -> None:
    allowed = {c.lower() for c in text_colours(colors)}
    assert used and {c.lower() for c in used} <= allowed, sorted(set(used) - allowed)
    low = [(c, bg) for c in set(used) for bg in colors.backgrounds if theme.contrast_ratio(c, bg) < AA]
    assert not low, low


@pytest.mark.parametrize("name", ["light", "dark"])
def test_checkpoint_windows_in_theme_colours_with_agent_names(qtbot, qapp, world, workers, tmp_path, name):
    saved_palette, saved_style = qapp.palette(), qapp.style().name()
    theme.apply_theme(qapp, name)
    colors = theme.current()
    assert colors.name == name
    store = open_store(str(world["root"]))
    try:
        w = CheckpointsWindow(store, workers, str(world["cfg"]), ask_password=lambda _i: AGENT["password"])
        qtbot.addWidget(w)
        w.resize(1250, 620)
        w.show()
        w.load()
        qtbot.waitUntil(lambda: len(w.rows) == 3, timeout=30000)
        aid, agent_name = AGENT["agent_id"], "fixture-ed25519"
        # the signer and the loaded identity named beside their ids (the store proves the key is theirs)
        qtbot.waitUntil(lambda: w.identity_name == agent_name, timeout=30000)
        assert w.identity_label.text() == f"Identity: {agent_name} ({aid})"
        # (a signature that does not hold names nobody: the claimed id only, as in the versions table)
        assert [w.list.topLevelItem(i).text(4) for i in range(3)] == [f"{agent_name} ({aid[:8]}…)"] * 2 + \
            [f"{aid[:8]}…"]
        holds = [w.list.topLevelItem(i).foreground(5).color().name() for i in range(3)]
        assert holds == [colors.verdict["valid"]] * 2 + [colors.verdict["invalid"]]
        assert w.list.topLevelItem(2).text(5).startswith("✗ its signature does not hold")
        w.list.setCurrentItem(w.list.topLevelItem(0))
        w.compare_selected()
        qtbot.waitUntil(lambda: w.comparison is not None, timeout=30000)
        heads = {w.result.topLevelItem(i).text(0).split(" (")[0]: w.result.topLevelItem(i).foreground(0).color().name()
                 for i in range(w.result.topLevelItemCount())}
        assert heads == {"vanished": colors.verdict["invalid"], "changed": colors.verdict["warning"],
                         "appeared": colors.default_verdict, "new checkpoints": colors.default_verdict}
        assert (len(w.comparison.vanished), len(w.comparison.changed), len(w.comparison.appeared)) == (1, 1, 1)
        qtbot.wait(100)
        assert w.grab().save(str(tmp_path / f"checkpoints-{name}.png"))
        _assert_covered(colors, _painted(w.list) + _painted(w.result))

        # the diff window: the identity named, the broken checkpoint said in the theme's colours
        w.show_diff()
        d = w.diff_window
        d.resize(1150, 560)
        d.show()
        qtbot.waitUntil(lambda: d.identity_name == agent_name, timeout=30000)
        assert d.identity_label.text() == f"Identity: {agent_name} ({aid})"
        assert f"signed by {agent_name} ({aid})" in d.from_check.text() and "✗" in d.to_check.text()
        d.sign_diff()  # refused: To does not hold
        assert "cannot be relied on" in d.status.text()
        qtbot.wait(100)
        assert d.grab().save(str(tmp_path / f"checkpoint-diff-{name}.png"))
        table = [d.model.data(d.model.index(r, 0), Qt.ItemDataRole.ForegroundRole) for r in range(d.model.rowCount())]
        _assert_covered(colors, [b.color().name() for b in table if b is not None]
                        + _style_colours(d.from_check, d.to_check, d.status))
        # a failure in the checkpoints window's status line: the theme's error colour
        assert not w.load_identity(str(tmp_path / "missing.config.json"))
        assert _style_colours(w.status) == [colors.error]
        d.close()
        w.close()
    finally:
        workers.pool.waitForDone(10000)
        store.close()
        qapp.setPalette(saved_palette)
        qapp.setStyle(saved_style)
        theme.use_colors(theme.LIGHT)
