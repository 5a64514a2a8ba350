"""The small widgets the *Connect…* dialog is made of: a field with its problem and note under
it, a set of radio buttons as one choice, a path with Browse…, and labels whose long URLs wrap."""

from __future__ import annotations

import re
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from .theme import error_style

__all__ = ["Row", "Choice", "PathEdit", "browse_field", "breakable", "wrapping_label", "set_message", "tr"]


def tr(text: str) -> str:
    return QCoreApplication.translate("ConnectDialog", text)


_NOTE_STYLE = ""
_BREAK_AFTER = re.compile(r"([/?&=;])")
_LONG_RUN = re.compile(r"([^\s\u200b]{24})(?=[^\s\u200b])")


def breakable(text: str) -> str:
    """*text* with zero-width spaces after URL punctuation, so a long URL or path wraps
    inside its label instead of widening the dialog."""
    return _LONG_RUN.sub("\\1\u200b", _BREAK_AFTER.sub("\\1\u200b", text))


def set_message(label: QLabel, text: str) -> None:
    """Show *text* in a message label (wrapping anywhere in a URL; all of it in the tooltip), or hide it."""
    label.setText(breakable(text))
    label.setToolTip(text)
    label.setVisible(bool(text))


def wrapping_label(parent: QWidget, style: str = "") -> QLabel:
    lab = QLabel("", parent)
    lab.setWordWrap(True)
    lab.setTextFormat(Qt.TextFormat.PlainText)
    lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    # with breakable() text it needs no more than a short run of characters in width; the
    # explicit minimum keeps Qt from reserving the height of that narrowest wrapping (the
    # dialog's height follows heightForWidth instead, see ConnectDialog._fit)
    lab.setMinimumSize(1, 1)
    if style:
        lab.setStyleSheet(style)
    lab.hide()
    return lab


class Row(QWidget):
    """A field with its problem (red) and its note (grey) under it; both hidden when empty."""

    def __init__(self, field: QWidget, parent: QWidget):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(field)
        self.error = wrapping_label(self, error_style())
        self.note = wrapping_label(self, _NOTE_STYLE)
        lay.addWidget(self.error)
        lay.addWidget(self.note)



class Choice(QWidget):
    """Radio buttons for one choice (its value is the chosen key)."""

    def __init__(self, options: list[tuple[str, str]], parent: QWidget):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self.group = QButtonGroup(self)
        self.buttons: dict[str, QRadioButton] = {}
        for key, text in options:
            b = QRadioButton(text, self)
            self.group.addButton(b)
            self.buttons[key] = b
            lay.addWidget(b)
        next(iter(self.buttons.values())).setChecked(True)

    def value(self) -> str:
        return next((k for k, b in self.buttons.items() if b.isChecked()), "")

    def set_value(self, key: str) -> None:
        if key in self.buttons:
            self.buttons[key].setChecked(True)


class PathEdit(QLineEdit):
    """A path's line edit, with the box that holds it and its Browse… button (:attr:`box` is
    what a form row shows)."""

    def __init__(self, box: QWidget, button: QPushButton):
        super().__init__(box)
        self.box = box
        self.button = button


def browse_field(parent: QWidget, pick: Callable[[], str]) -> PathEdit:
    """A line edit with a Browse… button beside it; *pick* asks for the path (empty: none chosen)."""
    box = QWidget(parent)
    h = QHBoxLayout(box)
    h.setContentsMargins(0, 0, 0, 0)
    button = QPushButton(tr("Browse…"), box)
    edit = PathEdit(box, button)
    h.addWidget(edit, 1)
    h.addWidget(button)

    def browse() -> None:
        chosen = pick()
        if chosen:
            edit.setText(chosen)

    button.clicked.connect(browse)
    return edit
