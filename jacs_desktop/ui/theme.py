"""The app's theme and every colour the UI paints with, in one place.

``apply_theme`` sets the palette (``system`` leaves Qt's, which follows the OS);
the constants below are the verdict colours, the JSON highlighter's and the
banner/warning styles. Nothing here imports the window or ``jacs_desktop.app``.
"""

from __future__ import annotations

__all__ = [
    "apply_theme", "verdict_color",
    "VERDICT_COLORS", "DEFAULT_VERDICT_COLOR", "JSON_COLORS", "DARK_PALETTE",
    "BANNER_STYLE", "WARNING_STYLE", "ERROR_STYLE", "OK_STYLE", "CAUTION_STYLE", "ERROR_COLOR",
]

#: verdict and check statuses: the mark, the text and the table cell take this colour
VERDICT_COLORS = {"valid": "#1b7f3b", "ok": "#1b7f3b", "invalid": "#c62828", "failed": "#c62828",
                  "unverifiable": "#b26a00", "legacy": "#6a4fb3", "warning": "#b26a00", "error": "#8d4e00"}
DEFAULT_VERDICT_COLOR = "#555"

#: the JSON pane's highlighter: keys, string values, numbers, literals, elided base64
JSON_COLORS = {"key": "#1565c0", "string": "#2e7d32", "number": "#ad1457", "literal": "#6a1b9a",
               "base64": "#8d6e63"}

ERROR_COLOR = "#c62828"
#: the window's banner (errors, the demo store)
BANNER_STYLE = "QLabel { background: #fdecea; color: #8a1c1c; padding: 6px; border-radius: 4px; }"
#: a warning line inside a pane (a risky attachment)
WARNING_STYLE = "QLabel { color: #8a1c1c; }"
#: a dialog's error / success line
ERROR_STYLE = f"color: {ERROR_COLOR}"
OK_STYLE = "color: #2e7d32"
#: a caution line (a wizard's warning)
CAUTION_STYLE = "color: #b26a00"

DARK_PALETTE = {
    "Window": "#2b2b2b", "WindowText": "#e6e6e6", "Base": "#1f1f1f", "AlternateBase": "#262626",
    "Text": "#e6e6e6", "Button": "#353535", "ButtonText": "#e6e6e6", "Highlight": "#2f6fb3",
    "HighlightedText": "#ffffff", "ToolTipBase": "#333333", "ToolTipText": "#e6e6e6",
    "PlaceholderText": "#8a8a8a",
}


def verdict_color(status: str | None) -> str:
    return VERDICT_COLORS.get(status or "", DEFAULT_VERDICT_COLOR)


def apply_theme(app, theme: str) -> None:
    """``system`` leaves Qt's palette (which follows the OS) alone."""
    if theme == "system":
        return
    from PySide6.QtGui import QColor, QPalette

    app.setStyle("Fusion")
    if theme == "light":
        app.setPalette(app.style().standardPalette())
        return
    p = QPalette()
    for role, color in DARK_PALETTE.items():
        p.setColor(getattr(QPalette.ColorRole, role), QColor(color))
    app.setPalette(p)
