"""The app's theme and every colour the UI paints with, in one place.

Two colour sets, light and dark, each checked for WCAG AA contrast (4.5:1 for text) against the
backgrounds it is drawn on (``tests/ui/test_theme.py``). ``apply_theme`` sets the palette
(``system`` leaves Qt's, which follows the OS) and then picks the colour set that fits the palette
actually in use, so a dark desktop theme gets the dark set too. The dicts ``VERDICT_COLORS`` and
``JSON_COLORS`` are updated in place, so every importer sees the current set; styles are
functions for the same reason. Nothing here imports the window or ``jacs_desktop.app``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "apply_theme", "verdict_color", "current", "use_colors", "contrast_ratio", "is_dark_color",
    "banner_style", "warning_style", "error_style", "ok_style", "caution_style", "error_color",
    "Colors", "LIGHT", "DARK",
    "VERDICT_COLORS", "DEFAULT_VERDICT_COLOR", "JSON_COLORS", "DARK_PALETTE",
]


@dataclass(frozen=True)
class Colors:
    """One theme's colours. Text colours are meant for ``backgrounds`` (window, base, alternate base)."""

    name: str
    #: verdict and check statuses: the mark, the text and the table cell take this colour
    verdict: dict[str, str]
    default_verdict: str
    #: the JSON pane's highlighter: keys, string values, numbers, literals, elided base64
    json: dict[str, str]
    error: str
    ok: str
    caution: str
    #: the backgrounds text is drawn on: window (labels), base (tables, the JSON pane), alternate base
    backgrounds: tuple[str, ...]
    #: banners: (background, text) for errors and for information
    error_banner: tuple[str, str]
    info_banner: tuple[str, str]
    #: palette roles set by apply_theme (empty: the style's own palette)
    palette: dict[str, str] = field(default_factory=dict)


LIGHT = Colors(
    name="light",
    verdict={"valid": "#1a7334", "ok": "#1a7334", "invalid": "#c62828", "failed": "#c62828",
             "unverifiable": "#8a5300", "legacy": "#6a4fb3", "warning": "#8a5300", "error": "#8d4e00"},
    default_verdict="#555555",
    json={"key": "#1565c0", "string": "#256b29", "number": "#ad1457", "literal": "#6a1b9a", "base64": "#6d5449"},
    error="#b71c1c", ok="#1f6b24", caution="#8a5300",
    # Fusion's light palette: window #efefef, base #ffffff, alternate base #f7f7f7
    backgrounds=("#efefef", "#ffffff", "#f7f7f7"),
    error_banner=("#fdecea", "#8a1c1c"), info_banner=("#e3f2fd", "#0d3c61"),
)

DARK_PALETTE = {
    "Window": "#2b2b2b", "WindowText": "#e6e6e6", "Base": "#1f1f1f", "AlternateBase": "#262626",
    "Text": "#e6e6e6", "Button": "#353535", "ButtonText": "#e6e6e6", "Highlight": "#2f6fb3",
    "HighlightedText": "#ffffff", "ToolTipBase": "#333333", "ToolTipText": "#e6e6e6",
    "PlaceholderText": "#9a9a9a", "Link": "#8ab4f8", "LinkVisited": "#c58af9", "BrightText": "#ffffff",
}

#: the dark palette's disabled texts: dimmed, as disabled controls are (WCAG exempts them)
DARK_DISABLED = {"WindowText": "#7a7a7a", "Text": "#7a7a7a", "ButtonText": "#7a7a7a", "HighlightedText": "#bdbdbd",
                 "Button": "#303030"}

DARK = Colors(
    name="dark",
    verdict={"valid": "#81c784", "ok": "#81c784", "invalid": "#ef9a9a", "failed": "#ef9a9a",
             "unverifiable": "#ffb74d", "legacy": "#b39ddb", "warning": "#ffb74d", "error": "#ffcc80"},
    default_verdict="#bdbdbd",
    json={"key": "#90caf9", "string": "#a5d6a7", "number": "#f48fb1", "literal": "#ce93d8", "base64": "#bcaaa4"},
    error="#ef9a9a", ok="#a5d6a7", caution="#ffb74d",
    backgrounds=(DARK_PALETTE["Window"], DARK_PALETTE["Base"], DARK_PALETTE["AlternateBase"]),
    error_banner=("#4a1f1f", "#ffcdd2"), info_banner=("#1e2a38", "#cfe8ff"),
    palette=DARK_PALETTE,
)

_current: list[Colors] = [LIGHT]

#: the current set's verdict and JSON colours (updated in place by use_colors)
VERDICT_COLORS: dict[str, str] = dict(LIGHT.verdict)
JSON_COLORS: dict[str, str] = dict(LIGHT.json)
DEFAULT_VERDICT_COLOR = LIGHT.default_verdict


def current() -> Colors:
    return _current[0]


def use_colors(colors: Colors) -> None:
    """Make ``colors`` the current set (new widgets and repaints use it)."""
    _current[0] = colors
    VERDICT_COLORS.clear()
    VERDICT_COLORS.update(colors.verdict)
    JSON_COLORS.clear()
    JSON_COLORS.update(colors.json)


def verdict_color(status: str | None) -> str:
    c = current()
    return c.verdict.get(status or "", c.default_verdict)


def error_color() -> str:
    return current().error


def banner_style(kind: str = "error") -> str:
    """The window's banner: ``error`` (a failure) or ``info`` (the demo store, a notice)."""
    bg, fg = current().error_banner if kind == "error" else current().info_banner
    return f"QLabel {{ background: {bg}; color: {fg}; padding: 6px; border-radius: 4px; }}"


def warning_style() -> str:
    """A warning line inside a pane (a risky attachment)."""
    return f"QLabel {{ color: {current().error}; }}"


def error_style() -> str:
    """A dialog's error line."""
    return f"color: {current().error}"


def ok_style() -> str:
    """A dialog's success line."""
    return f"color: {current().ok}"


def caution_style() -> str:
    """A caution line (a wizard's warning)."""
    return f"color: {current().caution}"


def _luminance(color: str) -> float:
    h = color.lstrip("#")
    if len(h) == 3:
        h = "".join(ch * 2 for ch in h)

    def lin(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def is_dark_color(color: str) -> bool:
    return _luminance(color) < 0.18


def apply_theme(app: Any, theme: str) -> None:
    """Set the palette for ``light``/``dark``; ``system`` leaves Qt's (which follows the OS). Then
    use the colour set that fits the window background actually in use."""
    from PySide6.QtGui import QColor, QPalette

    if theme in ("light", "dark"):
        app.setStyle("Fusion")
    if theme == "light":
        app.setPalette(app.style().standardPalette())
    elif theme == "dark":
        p = QPalette()
        for role, color in DARK_PALETTE.items():
            p.setColor(getattr(QPalette.ColorRole, role), QColor(color))
        # disabled controls must look disabled (the roles above set every group alike)
        for role, color in DARK_DISABLED.items():
            p.setColor(QPalette.ColorGroup.Disabled, getattr(QPalette.ColorRole, role), QColor(color))
        app.setPalette(p)
    window = app.palette().color(QPalette.ColorRole.Window).name()
    use_colors(DARK if is_dark_color(window) else LIGHT)
