"""The browser's status bar: counts, the live-updates hint, progress and Cancel."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QProgressBar, QPushButton, QStatusBar, QWidget

from ..elided import ElidedLabel
from .columns import tr

__all__ = ["StatusBar"]


class StatusBar(QStatusBar):
    #: the Cancel button was clicked
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.count_label = ElidedLabel("", self, Qt.TextElideMode.ElideRight)  # never widens the window
        self.addWidget(self.count_label, 1)
        self.progress = QProgressBar(self)
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.addPermanentWidget(self.progress)
        self.cancel_button = QPushButton(tr("Cancel"), self)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.cancel_button.hide()
        self.addPermanentWidget(self.cancel_button)
        #: live updates: '⚠ The list may be out of date: …'
        self.watch_label = ElidedLabel("", self, Qt.TextElideMode.ElideRight)
        self.watch_label.setObjectName("watch_label")
        self.watch_label.hide()
        self.addWidget(self.watch_label)

    # counts
    def set_text(self, text: str) -> None:
        self.count_label.setText(text)

    def text(self) -> str:
        return self.count_label.text()

    # progress (TaskRunner's signals)
    def busy(self, label: str) -> None:
        self.progress.setMaximum(0)
        self.progress.setFormat(label)
        self.progress.show()
        self.cancel_button.show()

    def step(self, label: str, done: int, total: int) -> None:
        if total > 0:
            self.progress.setMaximum(total)
            self.progress.setValue(done)
            self.progress.setFormat(f"{label} %v/%m")

    def idle(self) -> None:
        self.progress.hide()
        self.cancel_button.hide()

    # live updates
    def set_watch_hint(self, text: str) -> None:
        self.watch_label.setText(text)
        self.watch_label.setToolTip(text)
        self.watch_label.setVisible(bool(text))
