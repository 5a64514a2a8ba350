"""The JSON highlighter's colours after non-BMP characters, and the fork mark's glyph."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QFontMetrics, QTextDocument

from jacs_desktop.ui.browser.columns import FORK_MARK
from jacs_desktop.ui.browser.detail import JsonHighlighter, utf16_positions
from jacs_desktop.ui.theme import JSON_COLORS


def _colour_at(doc: QTextDocument, pos: int) -> str:
    """The foreground colour the highlighter gave to UTF-16 position ``pos`` of the first block."""
    block = doc.firstBlock()
    for r in block.layout().formats():
        if r.start <= pos < r.start + r.length:
            return r.format.foreground().color().name()
    return ""


def test_utf16_positions_map_code_points_to_qt_units() -> None:
    assert utf16_positions('{"a": 1}') is None
    assert utf16_positions("é✓") is None  # BMP only: the same positions
    assert utf16_positions("a😀b") == [0, 1, 3, 4]


def test_colours_after_an_emoji_key_stay_on_their_tokens(qtbot) -> None:
    line = '  "😀😀 key": "value", "n": 12345, "ok": true'
    doc = QTextDocument()
    highlighter = JsonHighlighter(doc)  # kept: Qt drops the formats when it is collected
    doc.setPlainText(line)
    highlighter.rehighlight()
    units = utf16_positions(line)
    assert units is not None
    expect = {
        line.index('"value"') + 1: JSON_COLORS["string"],
        line.index("12345") + 2: JSON_COLORS["number"],
        line.index("true") + 1: JSON_COLORS["literal"],
        line.index('"n"') + 1: JSON_COLORS["key"],
    }
    for cp, colour in expect.items():
        assert _colour_at(doc, units[cp]) == QColor(colour).name(), (cp, line[cp])
    # the comma after "value" (one unit past the string) is not coloured as a string
    assert _colour_at(doc, units[line.index('",') + 1]) != QColor(JSON_COLORS["string"]).name()


def test_the_fork_mark_is_drawn_by_the_default_fonts(qtbot) -> None:
    for family in ("DejaVu Sans", QFont().defaultFamily()):
        assert QFontMetrics(QFont(family)).inFontUcs4(ord(FORK_MARK)), family


def test_counts_say_1_agent_and_2_agents(qtbot) -> None:
    from jacs_desktop.ui.browser.columns import plural

    assert plural(1, "{0} agent", "{0} agents") == "1 agent"
    assert plural(2, "{0} agent", "{0} agents") == "2 agents"
    assert plural(0, "{0} document", "{0} documents") == "0 documents"


def test_verdict_cells_carry_a_coloured_badge(qtbot) -> None:
    from PySide6.QtGui import QColor

    from jacs_desktop.ui.models import verdict_badge
    from jacs_desktop.ui.theme import VERDICT_COLORS

    for status in ("valid", "invalid", "unverifiable", "error"):
        img = verdict_badge(status).pixmap(28, 28).toImage()
        # the disc's rim is the verdict's colour
        assert img.pixelColor(14, 2).name() == QColor(VERDICT_COLORS[status]).name(), status
    assert verdict_badge(None) is None and verdict_badge("valid") is verdict_badge("valid")
