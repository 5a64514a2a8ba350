"""The identities window: each agent's timeline (versions, keys, rotations, key epochs, flags)
and its standing in the jacs trust store, with Trust / Untrust / Re-pin (a thin view over
:mod:`jacs_desktop.jobs.identity` and :mod:`jacs_desktop.jobs.trust`).

*Re-pin to the new key* is the detail pane's re-pin (:class:`.repin.RepinOffer`: the chain checked
by ``plan_repin``, the same question, the same refusal).  Every change of the trust store made
here is said on a :class:`.repin.TrustEvents` (the main window's, when it opened this one), and
the window reads the trust store again whenever that says the trust store changed, wherever the
change was made (the detail pane's re-pin too)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...jobs.identity import AgentTimeline
from ..theme import error_style, verdict_color
from ..workers import message_of
from .repin import RepinOffer, TrustEvents, WorkersSession

__all__ = ["IdentityWindow"]

#: a trust state in the theme's verdict colours (light and dark; "not in trust store" is neutral)
TRUST_VERDICTS = {"trusted": "valid", "pin conflict": "invalid", "distrusted": "invalid"}


def trust_colour(state: str) -> str:
    return verdict_color(TRUST_VERDICTS.get(state))


def tr(text: str) -> str:
    return QCoreApplication.translate("IdentityWindow", text)


def _short(h: str | None) -> str:
    return f"{h[:16]}…" if h else "?"


def _when(ts: str | None) -> str:
    """An RFC 3339 date to the second, for reading ("2026-12-01 13:20:20")."""
    return ts[:19].replace("T", " ") if ts else ""


ALG_COLORS = {"ring-Ed25519": "#2f6fb5", "pq2025": "#7b3fb0"}


class TimelineStrip(QWidget):
    """The key epochs of one agent on a time axis, one lane per key: a bar while the key was the
    agent's (coloured by algorithm), a dot per agent version (green: in the chain, red: not), the
    rotation that replaced the key (↻), a tick per signed document (red: flagged; a tick past the
    end of its bar is a document signed after the key was replaced).  Keys that sign as the agent
    but are none of its keys get a red lane of their own."""

    LANE = 34

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.timeline: AgentTimeline | None = None
        self.setMinimumHeight(60)

    def set_timeline(self, tl: AgentTimeline | None) -> None:
        self.timeline = tl
        lanes = len(tl.epochs) if tl is not None else 0
        self.setMinimumHeight(28 + self.LANE * max(lanes, 1))
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        import time

        from ...core.agents import rfc3339_ns

        tl = self.timeline
        if tl is None or not tl.versions:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        stamps = [rfc3339_ns(v.date) for v in tl.versions] + [d.time_ns for e in tl.epochs for d in e.documents]
        known = [t for t in stamps if t is not None]
        start, end = min(known), max(max(known), time.time_ns())
        span = max(end - start, 1)
        label_w = 150.0
        left, right = label_w + 14, float(self.width() - 14)

        def x(ns: int | None) -> float:
            return left + (right - left) * ((ns if ns is not None else end) - start) / span

        flagged = {d for f in tl.flags for d in f.documents}
        lane_of = {e.key_hash: i for i, e in enumerate(tl.epochs)}
        ink = self.palette().color(QPalette.ColorRole.WindowText)  # the theme's text colour (light or dark)
        base = self.palette().color(QPalette.ColorRole.Base)
        for i, e in enumerate(tl.epochs):
            y = 22.0 + self.LANE * i + self.LANE / 2
            color = QColor(ALG_COLORS.get(e.algorithm or "", "#777777") if e.own else verdict_color("invalid"))
            # the lane's name in text colours (an algorithm's bar colour is no text colour in dark mode)
            p.setPen(QPen(ink if e.own else color))
            name = f"{e.algorithm or '?'} {e.key_hash[:8]}" if e.own else tr("foreign key {0}").format(e.key_hash[:8])
            p.drawText(QRectF(0, y - 9, label_w, 18), int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                       name)
            if e.own:
                a, b = x(rfc3339_ns(e.since)), x(rfc3339_ns(e.until) if e.until else end)
                p.fillRect(QRectF(a, y - 5, max(b - a, 3.0), 10), color)
                if e.until:
                    p.setPen(QPen(color, 1, Qt.PenStyle.DotLine))
                    p.drawLine(QPointF(b, y), QPointF(right, y))
            else:
                p.setPen(QPen(color, 1, Qt.PenStyle.DashLine))
                p.drawLine(QPointF(left, y), QPointF(right, y))
            for d in e.documents:
                dx = x(d.time_ns)
                p.setPen(QPen(QColor(verdict_color("invalid")) if d.label in flagged or not e.own else ink, 2))
                p.drawLine(QPointF(dx, y - 14), QPointF(dx, y - 6))
        for v in tl.versions:
            lane = lane_of.get(v.key_hash or "", 0)
            y = 22.0 + self.LANE * lane + self.LANE / 2
            vx = x(rfc3339_ns(v.date))
            ok = v.rotation in ("", "ok") and v.in_chain
            p.setPen(QPen(base, 2))
            p.setBrush(QBrush(QColor(verdict_color("valid" if ok else "invalid"))))
            p.drawEllipse(QPointF(vx, y), 6, 6)
            p.setPen(QPen(ink))
            text = v.version[:8] + (" ↻" if v.rotation else "")
            p.drawText(QPointF(min(max(vx + 9, left), right - 70), y + 15), text)
        p.setPen(QPen(self.palette().color(QPalette.ColorRole.PlaceholderText)))
        p.drawText(QPointF(left, 14), _when(tl.versions[0].date))
        p.drawText(QRectF(right - 200, 2, 200, 16), int(Qt.AlignmentFlag.AlignRight), tr("now"))
        p.end()


class IdentityWindow(QWidget):
    """``load()`` builds every timeline on a worker; the buttons change the trust store, say so on
    *events* (a :class:`.repin.TrustEvents`; the window's own when none is given) and every view
    listening there, this window included, reads the trust store again.

    *confirm* (text → bool) replaces the questions in tests (Untrust, Re-pin); ``repin.inform``
    replaces the refusal's message box."""

    #: Re-pin to the new key clicked: (agent id, the key to pin); answered by ``self.repin``
    repin_requested = Signal(str, str)

    def __init__(self, store: Any, workers: Any, trust_store: Any = None, parent: QWidget | None = None,
                 confirm: Any = None, events: TrustEvents | None = None):
        super().__init__(parent, Qt.WindowType.Window)
        from ...jobs.trust import TrustStore

        self.setWindowTitle(tr("Identities and trust"))
        self.resize(1200, 700)
        self.store, self.workers = store, workers
        self.trust = trust_store if trust_store is not None else TrustStore()
        self._confirm = confirm
        self.timelines: list[AgentTimeline] = []
        #: "the trust store changed": said here after a change, listened to for every change
        self.events = events if events is not None else TrustEvents(self)
        self.events.changed.connect(self.trust_changed)
        #: the agent the outcome under the buttons is about (it goes when another agent is shown)
        self._note_agent: str | None = None
        #: a trust change arrived while hidden: read again when shown
        self._stale = False
        #: the detail pane's re-pin: plan_repin, the same question and refusal
        self.repin = RepinOffer(self, lambda: WorkersSession(self.store, self.workers), self)
        self.repin.trust_store = self.trust
        self.repin.confirm = confirm
        self.repin.repinned.connect(self.events.changed)
        lay = QVBoxLayout(self)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        self.agents = QListWidget(split)
        self.agents.currentRowChanged.connect(lambda _r: self._show())
        right = QWidget(split)
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("", right)
        f = QFont(self.title.font())
        f.setPointSizeF(f.pointSizeF() * 1.3)
        f.setBold(True)
        self.title.setFont(f)
        self.trust_label = QLabel("", right)
        self.trust_label.setWordWrap(True)
        buttons = QHBoxLayout()
        self.trust_button = QPushButton(tr("Trust this agent"), right)
        self.untrust_button = QPushButton(tr("Untrust…"), right)
        self.repin_button = QPushButton(tr("Re-pin to the new key"), right)
        self.trust_button.clicked.connect(self.trust_current)
        self.untrust_button.clicked.connect(self.untrust_current)
        self.repin_button.clicked.connect(self.repin_current)
        for b in (self.trust_button, self.untrust_button, self.repin_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        #: the outcome of Trust / Untrust / Re-pin (or why not), under the buttons
        self.trust_note = QLabel("", right)
        self.trust_note.setWordWrap(True)
        self.trust_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.trust_note.hide()
        self.strip = TimelineStrip(right)
        self.versions = QTreeWidget(right)
        self.versions.setHeaderLabels([tr("Agent version"), tr("Date"), tr("Algorithm"), tr("Key"),
                                       tr("Rotation proof"), tr("Key rotated away")])
        self.versions.setRootIsDecorated(False)
        self.epochs = QTreeWidget(right)
        self.epochs.setHeaderLabels([tr("Key"), tr("Algorithm"), tr("From"), tr("Until"), tr("Documents signed")])
        self.flags = QTreeWidget(right)
        self.flags.setHeaderLabels([tr("Flag"), tr("Details")])
        for w in (self.title, self.trust_label):
            rl.addWidget(w)
        rl.addLayout(buttons)
        rl.addWidget(self.trust_note)
        rl.addWidget(self.strip)
        rl.addWidget(QLabel(tr("Versions and key rotations"), right))
        rl.addWidget(self.versions, 2)
        rl.addWidget(QLabel(tr("Key epochs"), right))
        rl.addWidget(self.epochs, 1)
        rl.addWidget(QLabel(tr("Flags"), right))
        rl.addWidget(self.flags, 2)
        split.setSizes([260, 940])
        lay.addWidget(split)
        self.status = QLabel(tr("Trust store: {0}").format(self.trust.root), self)
        lay.addWidget(self.status)

    # -- loading --------------------------------------------------------------------------
    def load(self) -> None:
        from ...jobs.identity import timelines

        self._stale = False
        store, trust = self.store, self.trust
        self.status.setText(tr("Reading agents and signatures…"))
        self.workers.run(lambda: timelines(store, trust=trust), on_result=self.set_timelines,
                         on_failure=lambda exc: self.status.setText(message_of(exc)), name="identities")

    def set_timelines(self, tls: list[AgentTimeline]) -> None:
        current = self.current()
        keep = current.agent_id if current is not None else None
        self.timelines = tls
        self.agents.blockSignals(True)  # no "nothing selected" in between: a trust action's outcome stays
        self.agents.clear()
        for tl in tls:
            mark = "⚠ " if tl.flags else ""
            item = QListWidgetItem(f"{mark}{tl.name or tl.agent_id[:8]}\n{tl.agent_id}")
            if tl.trust:
                item.setForeground(QBrush(QColor(trust_colour(tl.trust[0]))))
            self.agents.addItem(item)
        self.agents.blockSignals(False)
        rows = [i for i, tl in enumerate(tls) if tl.agent_id == keep]
        self.agents.setCurrentRow(rows[0] if rows else (0 if tls else -1))
        if self.agents.currentRow() < 0:
            self._show()  # (no row: nothing was emitted)
        self.status.setText(tr("{0} agents; trust store: {1}").format(len(tls), self.trust.root))

    def current(self) -> AgentTimeline | None:
        r = self.agents.currentRow() if hasattr(self, "agents") else -1
        return self.timelines[r] if 0 <= r < len(self.timelines) else None

    def select(self, agent_id: str) -> None:
        for i, tl in enumerate(self.timelines):
            if tl.agent_id == agent_id:
                self.agents.setCurrentRow(i)

    def trust_changed(self, _agent_id: str = "") -> None:
        """The trust store changed (here, in the detail pane, …): every agent's trust is read again."""
        if self.isVisible():
            self.load()
        else:
            self._stale = True

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._stale:
            self.load()

    def _show(self) -> None:
        tl = self.current()
        if tl is None or tl.agent_id != self._note_agent:
            self.trust_note.hide()
            self._note_agent = None
        for w in (self.versions, self.epochs, self.flags):
            w.clear()
        self.strip.set_timeline(tl)
        if tl is None:
            self.title.setText("")
            self.trust_label.setText("")
            return
        self.title.setText(f"{tl.name or tr('(no verified agent document)')}  ·  {tl.agent_id}")
        state, reason = tl.trust or ("", "")
        self.trust_label.setText(tr("Trust: {0}. {1}").format(tr(state), reason[:1].upper() + reason[1:])
                                 if state else "")
        self.trust_label.setStyleSheet(f"color: {trust_colour(state)}")
        self.trust_button.setEnabled(state == "not in trust store" and any(v.in_chain for v in tl.versions))
        self.untrust_button.setEnabled(state in ("trusted", "pin conflict"))
        self.repin_button.setEnabled(tl.repin_to is not None)
        for v in tl.versions:
            proof = {"ok": tr("✓ signed by the old key"), "failed": tr("✗ broken"),
                     "warning": tr("⚠ not checked")}.get(v.rotation, tr("(no key change)") if v.previous else "")
            item = QTreeWidgetItem([("✓ " if v.in_chain else "✗ ") + v.version, _when(v.date), v.algorithm or "?",
                                    _short(v.key_hash), proof, _when(v.rotated_at)])
            item.setToolTip(4, v.rotation_reason or v.problem)
            if not v.in_chain:
                item.setForeground(0, QBrush(QColor(verdict_color("invalid"))))
            if v.rotation == "failed":
                item.setForeground(4, QBrush(QColor(verdict_color("invalid"))))
            elif v.rotation == "ok":
                item.setForeground(4, QBrush(QColor(verdict_color("valid"))))
            self.versions.addTopLevelItem(item)
        for e in tl.epochs:
            item = QTreeWidgetItem([_short(e.key_hash) + ("" if e.own else tr("  (not the agent's key)")),
                                    e.algorithm or "?", _when(e.since), _when(e.until) or tr("current"),
                                    str(len(e.documents))])
            if not e.own:
                item.setForeground(0, QBrush(QColor(verdict_color("invalid"))))
            for d in e.documents:
                item.addChild(QTreeWidgetItem([d.label, "", _when(d.date)]))
            self.epochs.addTopLevelItem(item)
        for fl in tl.flags:
            item = QTreeWidgetItem([f"⚠ {tr(fl.kind)}", fl.text])
            item.setForeground(0, QBrush(QColor(verdict_color("invalid"))))
            for doc_key in fl.documents:
                item.addChild(QTreeWidgetItem(["", doc_key]))
            self.flags.addTopLevelItem(item)
            item.setExpanded(True)
        if not tl.flags:
            self.flags.addTopLevelItem(QTreeWidgetItem([tr("✓ no flags"), ""]))
        for w in (self.versions, self.epochs, self.flags):
            for c in range(w.columnCount()):
                w.resizeColumnToContents(c)

    # -- trust actions --------------------------------------------------------------------
    def _ask(self, text: str) -> bool:
        if self._confirm is not None:
            ok: bool = self._confirm(text)
            return ok
        return QMessageBox.question(self, tr("Trust store"), text) == QMessageBox.StandardButton.Yes

    def trust_message(self, text: str, failed: bool = False) -> None:
        """The outcome of a trust action (or why not), under the buttons; the re-pin's too."""
        tl = self.current()
        self._note_agent = tl.agent_id if tl is not None else None
        self.trust_note.setText(text)
        self.trust_note.setStyleSheet(error_style() if failed else "")
        self.trust_note.show()
        self.repin_button.setEnabled(tl is not None and tl.repin_to is not None)

    def _run(self, fn: Any, agent_id: str, done_text: str) -> None:
        def done(_r: Any) -> None:
            self.events.changed.emit(agent_id)  # every view showing trust reads it again, this one too
            self.trust_message(done_text)

        self.workers.run(fn, on_result=done, on_failure=lambda exc: self.trust_message(
            tr("Trust store not changed: {0}").format(message_of(exc)), failed=True), name="trust")

    def trust_current(self) -> None:
        tl = self.current()
        if tl is None:
            return
        store, trust, aid = self.store, self.trust, tl.agent_id

        def work() -> Any:
            from ...jobs.trust import TrustError

            directory = store.agent_directory()
            rec = directory.agent(aid) if directory is not None else None
            chain = sorted((v for v in rec.versions if v.anchored), key=lambda v: (v.date, v.version)) if rec else []
            if not chain or not chain[0].key_hash:
                raise TrustError(tr("the store has no verified version of this agent"))
            pk = store.keys().resolve(chain[0].key_hash)
            if pk is None:
                raise TrustError(tr("the agent's public key is not in the store"))
            sig = chain[0].doc.get("jacsSignature") or {}
            raw = store.read(store.layout.agent_key(aid, chain[0].version))
            return trust.add(chain[0].doc, pk.key, pk.algorithm or sig.get("signingAlgorithm", ""), raw=raw)

        self._run(work, aid, tr("Trusted {0}").format(tl.name or aid))

    def untrust_current(self) -> None:
        tl = self.current()
        if tl is None or not self._ask(tr("Untrust {0}? jacs keeps this decision: it will fail everything the "
                                          "agent signs and will not trust it again.").format(tl.name or tl.agent_id)):
            return
        trust, aid = self.trust, tl.agent_id
        self._run(lambda: trust.remove(aid), aid, tr("Untrusted {0}").format(tl.name or aid))

    def repin_current(self) -> None:
        """Re-pin the shown agent to its new key: checked, asked and refused as in the detail pane."""
        tl = self.current()
        if tl is None or tl.repin_to is None:
            return
        self.repin_button.setEnabled(False)
        self.repin_requested.emit(tl.agent_id, tl.repin_to)
