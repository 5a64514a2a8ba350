"""The window's message banner: errors and information look different (colour, icon, words), and
the user can dismiss either; the window clears it when the problem is gone (a store opened, a
refresh that worked). ``text()`` is the message without markup (tests and copy read it)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QStyle, QToolButton, QWidget

from .theme import banner_style

__all__ = ["Banner"]


def tr(text: str) -> str:
    from PySide6.QtCore import QCoreApplication

    return QCoreApplication.translate("Banner", text)


class Banner(QFrame):
    #: the user closed it
    dismissed = Signal()

    KINDS = ("error", "info")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = "error"
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        self.icon = QLabel(self)
        self.label = QLabel("", self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.close_button = QToolButton(self)
        self.close_button.setAutoRaise(True)
        self.close_button.setText("×")
        self.close_button.setToolTip(tr("Dismiss this message"))
        self.close_button.clicked.connect(self.dismiss)
        lay.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, text: str, kind: str = "error") -> None:
        self.kind = kind if kind in self.KINDS else "error"
        self.label.setText(text)
        self.label.setStyleSheet(banner_style(self.kind))
        pixmap = (QStyle.StandardPixmap.SP_MessageBoxCritical if self.kind == "error"
                  else QStyle.StandardPixmap.SP_MessageBoxInformation)
        self.icon.setPixmap(self.style().standardIcon(pixmap).pixmap(20, 20))
        self.icon.setToolTip(tr("Error") if self.kind == "error" else tr("Information"))
        self.show()

    def setText(self, text: str) -> None:  # the QLabel spelling, for callers that set text only
        self.show_message(text, self.kind)

    def text(self) -> str:
        return self.label.text()

    def dismiss(self) -> None:
        self.hide()
        self.dismissed.emit()

    def clear(self, kind: str | None = None) -> None:
        """Hide the banner (only when it shows *kind*, if given): the problem has gone away."""
        if kind is None or self.kind == kind:
            self.hide()
