"""Both colour sets meet WCAG AA (4.5:1 for text) on every background they are drawn on, and the
theme picks the set that fits the palette actually in use."""

from __future__ import annotations

import pytest

from jacs_desktop.ui import theme
from jacs_desktop.ui.theme import DARK, LIGHT, contrast_ratio

AA = 4.5


def test_contrast_ratio_matches_the_wcag_definition() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)


@pytest.mark.parametrize("colors", [LIGHT, DARK], ids=lambda c: c.name)
def test_text_colours_meet_aa_on_their_backgrounds(colors: theme.Colors) -> None:
    texts = {**{f"verdict {k}": v for k, v in colors.verdict.items()},
             **{f"json {k}": v for k, v in colors.json.items()},
             "default verdict": colors.default_verdict, "error": colors.error, "ok": colors.ok,
             "caution": colors.caution}
    if colors.palette:
        texts |= {role: colors.palette[role] for role in ("WindowText", "Text", "Link", "LinkVisited")}
    low = [(name, fg, bg, round(contrast_ratio(fg, bg), 2))
           for name, fg in texts.items() for bg in colors.backgrounds if contrast_ratio(fg, bg) < AA]
    assert not low, low
    for bg, fg in (colors.error_banner, colors.info_banner):
        assert contrast_ratio(fg, bg) >= AA, (fg, bg)
    # information and errors look different
    assert colors.error_banner != colors.info_banner


def test_the_dark_palette_text_meets_aa() -> None:
    p = DARK.palette
    for fg, bg in (("Text", "Base"), ("WindowText", "Window"), ("ButtonText", "Button"),
                   ("HighlightedText", "Highlight"), ("ToolTipText", "ToolTipBase")):
        assert contrast_ratio(p[fg], p[bg]) >= AA, (fg, bg)


def test_apply_theme_picks_the_set_for_the_palette_in_use(qapp) -> None:
    from PySide6.QtGui import QColor, QPalette

    saved_palette, saved_style = qapp.palette(), qapp.style().name()
    try:
        theme.apply_theme(qapp, "dark")
        assert theme.current() is DARK and DARK.json == theme.JSON_COLORS
        assert theme.verdict_color("valid") == DARK.verdict["valid"]
        assert DARK.error_banner[0] in theme.banner_style("error")
        assert DARK.info_banner[0] in theme.banner_style("info")
        theme.apply_theme(qapp, "light")
        assert theme.current() is LIGHT and LIGHT.verdict == theme.VERDICT_COLORS
        # "system" keeps the desktop's palette but still fits the colours to it: a dark desktop theme
        dark_desktop = QPalette()
        dark_desktop.setColor(QPalette.ColorRole.Window, QColor("#202124"))
        qapp.setPalette(dark_desktop)
        theme.apply_theme(qapp, "system")
        assert theme.current() is DARK
    finally:
        qapp.setPalette(saved_palette)
        qapp.setStyle(saved_style)
        theme.use_colors(LIGHT)


def test_disabled_controls_look_disabled_in_the_dark_theme(qapp) -> None:
    from PySide6.QtGui import QPalette

    saved_palette, saved_style = qapp.palette(), qapp.style().name()
    try:
        theme.apply_theme(qapp, "dark")
        p = qapp.palette()
        for role in (QPalette.ColorRole.ButtonText, QPalette.ColorRole.Text, QPalette.ColorRole.WindowText):
            active = p.color(QPalette.ColorGroup.Active, role).name()
            disabled = p.color(QPalette.ColorGroup.Disabled, role).name()
            assert active != disabled and contrast_ratio(disabled, DARK.palette["Window"]) < contrast_ratio(
                active, DARK.palette["Window"])
    finally:
        qapp.setPalette(saved_palette)
        qapp.setStyle(saved_style)
        theme.use_colors(LIGHT)
