"""The attestations window: every attestation of the open store with its subject, claims, evidence
and derivation chain, and jacs's full-tier checks (a thin view over :mod:`jacs_desktop.jobs.attestations`)."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from ..theme import verdict_color
from ..workers import message_of

__all__ = ["AttestationsWindow"]

def _colour(ok: bool) -> str:
    """Valid / invalid in the theme's verdict colours (light and dark)."""
    return verdict_color("valid" if ok else "invalid")


def tr(text: str) -> str:
    return QCoreApplication.translate("AttestationsWindow", text)


def _short(value: Any, n: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= n else text[: n - 1] + "…"


class AttestationsWindow(QWidget):
    def __init__(self, store: Any, workers: Any, parent: QWidget | None = None):
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle(tr("Attestations"))
        self.resize(1000, 640)
        self.store, self.workers = store, workers
        self.rows: list[Any] = []
        lay = QVBoxLayout(self)
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels([tr("Attestation"), tr("Details")])
        lay.addWidget(self.tree, 1)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        lay.addWidget(self.status)

    def load(self) -> None:
        from ...jobs.attestations import attestations

        store = self.store
        self.status.setText(tr("Reading and checking the attestations…"))
        self.workers.run(lambda: attestations(store), on_result=self.set_rows,
                         on_failure=lambda exc: self.status.setText(message_of(exc)), name="attestations")

    def _add(self, parent: QTreeWidgetItem, label: str, detail: str = "", ok: bool | None = None) -> QTreeWidgetItem:
        item = QTreeWidgetItem([label, detail])
        if ok is not None:
            item.setForeground(0, QBrush(QColor(_colour(ok))))
        parent.addChild(item)
        return item

    def set_rows(self, rows: list[Any]) -> None:
        self.rows = rows
        self.tree.clear()
        for r in rows:
            rep = r.report
            subject = r.subject.get("id") or r.subject.get("type") or "?"
            top = QTreeWidgetItem([f"{'✓' if rep.valid else '✗'} {subject}", f"{r.id}:{r.version}"])
            top.setForeground(0, QBrush(QColor(_colour(rep.valid))))
            self.tree.addTopLevelItem(top)
            crypto = rep.crypto
            self._add(top, tr("signed by"), f"{crypto['signerId']} ({crypto['algorithm']})",
                      bool(crypto["signatureValid"] and crypto["hashValid"]))
            subj = self._add(top, tr("subject"), _short(r.subject.get("type", "")))
            for k, v in r.subject.items():
                self._add(subj, str(k), _short(v))
            claims = self._add(top, tr("claims ({0})").format(len(r.claims)))
            for c in r.claims:
                if isinstance(c, dict):
                    conf = tr(" (confidence {0})").format(c["confidence"]) if "confidence" in c else ""
                    self._add(claims, str(c.get("name", "?")), _short(c.get("value")) + conf)
            ev = self._add(top, tr("evidence ({0})").format(len(rep.evidence)))
            for e in rep.evidence:
                ok = bool(e["digestValid"] and e["freshnessValid"])
                fresh = "" if e["freshnessValid"] else tr("; stale")
                self._add(ev, str(e["kind"]), f"{e['detail']}{fresh}", ok)
            if rep.chain is not None:
                chain = self._add(top, tr("derived from"), tr("depth {0} of at most {1}").format(
                    rep.chain["depth"], rep.chain["maxDepth"]), bool(rep.chain["valid"]))
                for link in rep.chain["links"]:
                    self._add(chain, str(link["documentId"]), str(link["detail"]), bool(link["valid"]))
            for msg in rep.errors:
                self._add(top, tr("problem"), msg, False)
            top.setExpanded(True)
        self.tree.resizeColumnToContents(0)
        bad = sum(1 for r in rows if not r.report.valid)
        self.status.setText(tr("{0} attestations, {1} failing jacs's full checks").format(len(rows), bad))
