"""The detail panel: the shown version's verification, its JSON, its tree and the
diff between two versions. It only shows what it is given; reading and
verifying are the window's (through its session)."""

from __future__ import annotations

import html
import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextCharFormat
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ...jobs.browse import display_json, reason_of, signer_text
from ..jsontree import JsonTreeModel
from ..models import VERDICT_MARKS, RowTableModel
from ..theme import JSON_COLORS, verdict_color
from .columns import agg_text, check_columns, diff_columns, make_table, mark, short, tr

__all__ = ["DetailPanel", "JsonHighlighter", "overall_line", "utf16_positions", "version_label"]


class JsonHighlighter(QSyntaxHighlighter):
    """Keys, strings, numbers and literals in different colours."""

    def __init__(self, document):
        super().__init__(document)

        def fmt(color: str, bold: bool = False) -> QTextCharFormat:
            f = QTextCharFormat()
            f.setForeground(QColor(color))
            if bold:
                f.setFontWeight(QFont.Weight.Bold)
            return f

        self.rules = [
            (re.compile(r'"(?:[^"\\]|\\.)*"(?=\s*:)'), fmt(JSON_COLORS["key"], True)),
            (re.compile(r':\s*("(?:[^"\\]|\\.)*")'), fmt(JSON_COLORS["string"])),
            (re.compile(r'(?<![\w"])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?'), fmt(JSON_COLORS["number"])),
            (re.compile(r"\b(?:true|false|null)\b"), fmt(JSON_COLORS["literal"], True)),
            (re.compile(r"<[\d,]+ characters of base64>"), fmt(JSON_COLORS["base64"])),
        ]

    def highlightBlock(self, text: str) -> None:
        # Qt counts positions in UTF-16 units, Python in code points: map them, or every emoji
        # (two units) would shift the colours of the rest of the line
        units = utf16_positions(text)
        for rx, f in self.rules:
            for m in rx.finditer(text):
                start, end = (m.start(1), m.end(1)) if m.groups() else (m.start(), m.end())
                if units is not None:
                    start, end = units[start], units[end]
                self.setFormat(start, end - start, f)


def utf16_positions(text: str) -> list[int] | None:
    """For each code-point index of ``text`` (and its end), the UTF-16 index Qt uses; None when they agree."""
    if text.isascii() or all(ord(c) < 0x10000 for c in text):
        return None
    out = [0] * (len(text) + 1)
    pos = 0
    for i, c in enumerate(text):
        out[i] = pos
        pos += 2 if ord(c) >= 0x10000 else 1
    out[len(text)] = pos
    return out


def trust_of(verdict):
    """The jacs trust store's word on *verdict*'s signer and key, read now (a ``jobs.trust.TrustLine``)."""
    from ...jobs.trust import TrustStore, trust_line

    return trust_line(TrustStore(), verdict.signer, verdict.public_key_hash)


def trust_html(verdict, line=None) -> str:
    """The trust line of *verdict* (trusted / not in trust store / pin conflict / distrusted), read from
    the jacs trust store now; it never changes the verdict. A pin conflict is explained under it
    (``DetailPanel.trust_note``)."""
    from ...jobs.trust import PIN_CONFLICT, TRUSTED

    line = line if line is not None else trust_of(verdict)
    color = verdict_color("valid" if line.state == TRUSTED else None if line.state == "not in trust store"
                          else "invalid")
    return (f"<br><span style='color:{color}'>{tr('Trust')}: {html.escape(tr(line.state))}</span>"
            + (f" <small>{html.escape(line.reason)}</small>" if line.state not in (TRUSTED, PIN_CONFLICT) else ""))


def version_label(i: int, v) -> str:
    """A diff choice: 'v3 · 2026-12-01 10:22:01 · 2da6f1c4 · ✓ valid' (number, date, id, verdict)."""
    date = (v.node.date or "")[:19].replace("T", " ")
    status = mark(v.status) if v.verdict is not None else tr("not verified yet")
    return " · ".join(p for p in (f"v{i + 1}", date, v.node.version[:8], status) if p)


def overall_line(row, key: str) -> str:
    """'Over all 6 versions: ✗ 1 of 6 versions invalid (version 2da6…: reason)', for rows of many versions."""
    if row is None or not any(r.key == key for r in row.refs) or len(row.refs) < 2:
        return ""
    agg = row.aggregate()
    text = f"{VERDICT_MARKS.get(agg.status, '')} {agg_text(agg)}"
    if agg.worst is not None and agg.status != "valid" and agg.worst.path != key:
        text += f" — {tr('version')} {short(agg.worst.version)}: {reason_of(agg.worst)}"
    return (f"<br><span style='color:{verdict_color(agg.status)}'>"
            f"{tr('Over all {0} versions').format(agg.total)}: {html.escape(text)}</span>")


class DetailPanel(QTabWidget):
    #: Retry clicked: read the shown version again and verify it
    retry_requested = Signal()
    #: the diff's From or To changed: (old key, new key)
    diff_requested = Signal(str, str)
    #: Re-pin… clicked on a pin conflict: (agent id, the key to pin); see repin.RepinOffer
    repin_requested = Signal(str, str)

    EMPTY = "Select an agent or a document."

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.checks_model = RowTableModel(check_columns(), self)
        vpage = QWidget(self)
        vl = QVBoxLayout(vpage)
        self.verdict_label = QLabel(tr("Select an agent or a document."), vpage)
        self.verdict_label.setWordWrap(True)
        self.verdict_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        vl.addWidget(self.verdict_label)
        self.retry_button = QPushButton(tr("Retry"), vpage)
        self.retry_button.setToolTip(tr("Read this version again and verify it"))
        self.retry_button.clicked.connect(self.retry_requested)
        self.retry_button.hide()
        retry_row = QHBoxLayout()
        retry_row.addWidget(self.retry_button)
        retry_row.addStretch(1)
        vl.addLayout(retry_row)
        # a pin conflict in plain words, and the offer to re-pin (issue 15)
        self.trust_note = QLabel("", vpage)
        self.trust_note.setWordWrap(True)
        self.trust_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.trust_note.hide()
        vl.addWidget(self.trust_note)
        self.repin_button = QPushButton(tr("Re-pin along the verified rotation chain…"), vpage)
        self.repin_button.setToolTip(tr("Move your trust to the new key, if this store holds the agent's key "
                                        "change signed with its old key"))
        self.repin_button.clicked.connect(self._repin_clicked)
        self.repin_button.hide()
        repin_row = QHBoxLayout()
        repin_row.addWidget(self.repin_button)
        repin_row.addStretch(1)
        vl.addLayout(repin_row)
        #: what render_verdict showed last (key, verdict, overall): refresh_trust shows it again
        self._shown: tuple | None = None
        #: (agent id, key hash) the Re-pin button is for
        self._conflict: tuple[str, str] | None = None
        self.checks_view = make_table(self.checks_model, self, sortable=False)
        self.checks_view.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.checks_view.setWordWrap(True)
        vl.addWidget(self.checks_view, 1)
        self.addTab(vpage, tr("Verification"))
        self.json_view = QPlainTextEdit(self)
        self.json_view.setReadOnly(True)
        self.json_view.setFont(QFont("monospace", 9))
        self.json_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self._highlighter = JsonHighlighter(self.json_view.document())
        self.addTab(self.json_view, tr("JSON"))
        self.tree_model = JsonTreeModel(self)
        self.tree_view = QTreeView(self)
        self.tree_view.setModel(self.tree_model)
        self.tree_view.setUniformRowHeights(True)
        self.addTab(self.tree_view, tr("Tree"))
        dpage = QWidget(self)
        dl = QVBoxLayout(dpage)
        # From and To on their own lines, so both stay readable in a narrow pane (1024 px windows)
        pick = QFormLayout()
        pick.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.diff_old = QComboBox(dpage)
        self.diff_new = QComboBox(dpage)
        for combo in (self.diff_old, self.diff_new):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(16)
            combo.currentIndexChanged.connect(self._diff_changed)
        pick.addRow(tr("From"), self.diff_old)
        pick.addRow(tr("To"), self.diff_new)
        dl.addLayout(pick)
        #: which side failed verification (or is not checked yet), in words
        self.diff_note = QLabel("", dpage)
        self.diff_note.setWordWrap(True)
        self.diff_note.hide()
        dl.addWidget(self.diff_note)
        self.diff_model = RowTableModel(diff_columns(), self)
        self.diff_view = make_table(self.diff_model, self, sortable=False)
        self.diff_view.setWordWrap(False)
        # Before and After side by side, sharing what the pane has left; the rest as narrow as they can be
        h = self.diff_view.horizontalHeader()
        h.setStretchLastSection(False)
        for col, mode in enumerate((QHeaderView.ResizeMode.ResizeToContents, QHeaderView.ResizeMode.Interactive,
                                    QHeaderView.ResizeMode.ResizeToContents, QHeaderView.ResizeMode.Stretch,
                                    QHeaderView.ResizeMode.Stretch)):
            h.setSectionResizeMode(col, mode)
        h.resizeSection(1, 130)
        self.diff_view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        dl.addWidget(self.diff_view, 1)
        self._versions: list = []
        self.addTab(dpage, tr("Diff"))

    # ------------------------------------------------------------------ clearing
    def clear(self) -> None:
        for m in (self.checks_model, self.diff_model):
            m.clear()
        self.json_view.clear()
        self.tree_model.set_document({})
        self.set_versions([])
        self.verdict_label.setText(tr("Select an agent or a document."))
        self.retry_button.hide()
        self._shown = None
        self._show_conflict(None, None)

    def clear_diff(self) -> None:
        self.diff_model.clear()

    # ------------------------------------------------------------------ JSON, tree
    def show_document(self, doc: dict) -> None:
        self.json_view.setPlainText(display_json(doc))
        self.tree_model.set_document(doc)
        self.tree_view.expandToDepth(0)
        self.tree_view.resizeColumnToContents(0)

    def show_unreadable(self, key: str, exc: Exception) -> None:
        self.json_view.setPlainText(tr("Cannot read {0}: {1}").format(key, exc))
        self.tree_model.set_document({})

    # ------------------------------------------------------------------ verification
    def render_verdict(self, key: str, verdict, overall: str = "") -> None:
        """The shown version's verdict and checks, *overall* (``overall_line``) under
        it, and Retry after a read error."""
        self.retry_button.setVisible(verdict is not None and verdict.status == "error")
        self.retry_button.setEnabled(True)
        self._shown = (key, verdict, overall)
        line = None
        if verdict is None:
            self._show_conflict(None, None)
            self.verdict_label.setText(tr("<b>{0}</b><br>Not verified yet…").format(html.escape(key)) + overall)
            self.checks_model.clear()
            return
        head = (f"<span style='font-size:14pt;color:{verdict_color(verdict.status)}'>"
                f"<b>{mark(verdict.status)}</b></span>")
        who = f"<br>{tr('Signer')}: {html.escape(signer_text(verdict))} ({html.escape(verdict.algorithm or '?')})"
        if verdict.public_key_hash:
            who += f"<br>{tr('Key hash')}: <code>{html.escape(verdict.public_key_hash[:32])}…</code>"
        if verdict.signer and verdict.kind != "config":  # issue 15: the jacs trust store's word, beside the verdict
            line = trust_of(verdict)
            who += trust_html(verdict, line)
        if verdict.status == "error":
            who, line = "", None  # nothing was read, so nothing is known about the signer
        self._show_conflict(verdict, line)
        reason = "" if verdict.status == "valid" else f"<br><b>{html.escape(reason_of(verdict))}</b>"
        name = f"{verdict.id}:{verdict.version}" if verdict.id else key
        text = f"{head}&nbsp; {html.escape(name)}{who}{reason}{overall}"
        if self.verdict_label.text() != text:
            self.verdict_label.setText(text)
        self._set_checks(verdict.checks)

    def _show_conflict(self, verdict, line) -> None:
        """Under a pin conflict: what it means in plain words, and Re-pin…; hidden otherwise."""
        from ...jobs.trust import PIN_CONFLICT
        from .repin import conflict_words

        if verdict is None or line is None or line.state != PIN_CONFLICT or not verdict.public_key_hash:
            if self._conflict is not None or self.trust_note.isVisible():
                self.trust_note.hide()
                self.repin_button.hide()
            self._conflict = None
            return
        aid = verdict.signer.split(":", 1)[0]
        conflict = (aid, verdict.public_key_hash)
        if conflict != self._conflict:  # a new conflict: its explanation (not the last re-pin's outcome)
            self._conflict = conflict
            self.trust_note.setStyleSheet("")
            self.trust_note.setText(conflict_words(verdict))
        self.trust_note.show()
        self.repin_button.show()
        self.repin_button.setEnabled(True)

    def _repin_clicked(self) -> None:
        if self._conflict is not None:
            self.repin_button.setEnabled(False)
            self.repin_requested.emit(*self._conflict)

    def trust_message(self, text: str, failed: bool = False) -> None:
        """The outcome of Re-pin… (refused or done), under the trust line."""
        self.trust_note.setText(text)
        self.trust_note.setStyleSheet(f"color: {verdict_color('invalid')}" if failed else "")
        self.trust_note.show()
        self.repin_button.setEnabled(self._conflict is not None)

    def refresh_trust(self) -> None:
        """The trust store changed: the shown verdict's trust line is read again (the verdict is not)."""
        if self._shown is not None:
            key, verdict, overall = self._shown
            self.verdict_label.setText("")  # render again even when the text would be the same
            self.render_verdict(key, verdict, overall)

    def _set_checks(self, checks) -> None:
        if self.checks_model.all_rows == checks:
            return  # the same checks (a repaint while other verdicts arrive)
        self.checks_model.set_rows(checks)
        self.checks_view.resizeColumnToContents(0)
        self.checks_view.resizeColumnToContents(1)
        header = self.checks_view.horizontalHeader()
        if header.sectionSize(1) > 170:
            header.resizeSection(1, 170)
        self.checks_view.resizeRowsToContents()

    def retrying(self) -> None:
        self.retry_button.setEnabled(False)

    def show_dropped(self, verdict) -> None:
        """A dropped file's verdict (not a version of the open store)."""
        self.checks_model.set_rows(verdict.checks)
        head = f"<span style='color:{verdict_color(verdict.status)}'><b>{mark(verdict.status)}</b></span>"
        self.verdict_label.setText(f"{head} {tr('dropped file')} {verdict.path}<br><b>{verdict.reason}</b>")
        self.setCurrentIndex(0)

    # ------------------------------------------------------------------ diff
    def set_versions(self, versions) -> None:
        """The diff's From/To choices: *versions* (VersionRow), the last two picked."""
        self._versions = list(versions)
        for combo in (self.diff_old, self.diff_new):
            combo.blockSignals(True)
            combo.clear()
            for i, v in enumerate(versions):
                combo.addItem(version_label(i, v), v.ref.key)
            combo.blockSignals(False)
        self._update_diff_note()
        if not versions:
            return
        if len(versions) > 1:
            self.diff_old.setCurrentIndex(len(versions) - 2)
        self.diff_new.setCurrentIndex(len(versions) - 1)
        self._diff_changed()

    def refresh_version_labels(self) -> None:
        """Verdicts arrived: the From/To labels show them (the choices stay as they are)."""
        for combo in (self.diff_old, self.diff_new):
            for i, v in enumerate(self._versions[:combo.count()]):
                combo.setItemText(i, version_label(i, v))
        self._update_diff_note()

    def _update_diff_note(self) -> None:
        by_key = {v.ref.key: v for v in self._versions}
        notes, failed = [], False
        for side, combo in ((tr("From"), self.diff_old), (tr("To"), self.diff_new)):
            v = by_key.get(combo.currentData() or "")
            if v is None or v.status == "valid":
                continue
            if v.verdict is None:
                notes.append(tr("{0}: not verified yet").format(side))
            else:
                failed = True
                notes.append(f"{side}: {mark(v.status)} — {reason_of(v.verdict)}")
        self.diff_note.setText("\n".join(notes))
        self.diff_note.setStyleSheet(f"color: {verdict_color('invalid')}" if failed else "")
        self.diff_note.setVisible(bool(notes))

    def _diff_changed(self, *_args) -> None:
        self._update_diff_note()
        if self.diff_old.count() == 0:
            self.diff_model.clear()
            return
        self.diff_requested.emit(self.diff_old.currentData() or "", self.diff_new.currentData() or "")

    def set_diff(self, changes) -> None:
        self.diff_model.set_rows(changes)
