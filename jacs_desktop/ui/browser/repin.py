"""Re-pin from the detail pane: when a verdict's trust line is a pin conflict (a trusted agent
rotated its key, so jacs fails what it signs afterwards), the pane explains it and offers
*Re-pin along the verified rotation chain…*.  The chain is checked off the GUI thread
(:func:`jacs_desktop.jobs.trust.plan_repin`, the rules of the identities window and of
``jacs-desktop-cli trust repin``); a confirmation names the agent, the old and the new key and
every step of the chain; a chain that does not verify is refused with the reason.  The trust
line is read again afterwards; the cryptographic verdict is never changed.

The identities window's *Re-pin to the new key* goes through the same :class:`RepinOffer` (the
same check, question and refusal).  After a re-pin the offer emits ``repinned``; the main window
relays it, and every other change of the trust store, as one :class:`TrustEvents` notification
that the detail pane and the identities window both listen to."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from ...jobs.trust import CONFLICT_TEXT, RepinPlan, TrustStore
from ..workers import message_of

__all__ = ["RepinOffer", "TrustEvents", "WorkersSession", "conflict_words", "confirm_text"]


def tr(text: str) -> str:
    return QCoreApplication.translate("RepinOffer", text)


def _short(h: str | None) -> str:
    return f"{h[:16]}…" if h else "?"


def conflict_words(verdict: Any, trust: TrustStore | None = None) -> str:
    """A pin conflict in plain words (rich text), for the detail pane."""
    store = trust if trust is not None else TrustStore()
    from ...jobs.browse import signer_text

    aid = str(verdict.signer or "").split(":", 1)[0]
    try:
        pinned = store.pin(aid)
    except Exception:  # the trust line already said the store could not be read
        pinned = None
    status = {"valid": tr("holds"), "invalid": tr("does not hold")}.get(verdict.status, verdict.status)
    return "<br>".join([
        tr("<b>Why:</b> your jacs trust store trusts agent {0} with key <code>{1}</code>, but this version is "
           "signed with another key, <code>{2}</code>.").format(html.escape(signer_text(verdict)),
                                                              html.escape(_short(pinned)),
                                                              html.escape(_short(verdict.public_key_hash))),
        tr("This is what happens after a trusted agent changes its key (a key rotation): jacs refuses what it "
           "signs with the new key (\"{0}\") until the trust is moved to the new key.").format(
            html.escape(CONFLICT_TEXT)),
        tr("This is about whom you trust, not about the signature: the signature check above {0}, and "
           "re-pinning does not change it.").format(html.escape(status)),
    ])


def confirm_text(plan: RepinPlan) -> str:
    """The question asked before re-pinning: the agent, the old and the new key, the chain."""
    who = f"'{plan.name}' ({plan.agent_id})" if plan.name else plan.agent_id
    steps = "\n".join(
        tr("  {0}. agent version {1}, {2}: {3} key {4}, its change signed by the key before it").format(
            i + 1, s.version, s.date[:19].replace("T", " "), s.algorithm or "?", _short(s.key_hash))
        for i, s in enumerate(plan.chain))
    return tr("Re-pin agent {0}?\n\n"
              "Old key (trusted now): {1}\n"
              "New key: {2}\n\n"
              "The store holds the rotation chain from the old key to the new one:\n{3}\n\n"
              "jacs will then accept what the agent signs with the new key, and refuse what it signed with the "
              "old key (\"{4}\").").format(who, plan.old_key, plan.new_key, steps, CONFLICT_TEXT)


class TrustEvents(QObject):
    """One notification for "the jacs trust store changed" (the agent id whose trust changed),
    shared by every view that shows trust: the detail pane's trust line, the identities window."""

    changed = Signal(str)


class WorkersSession:
    """A store and a ``WorkerPool`` in the shape of a ``StoreSession`` (``store``, ``run``), for a
    window that has no session of its own (the identities window)."""

    def __init__(self, store: Any, workers: Any):
        self.store, self.workers = store, workers

    def run(self, fn: Callable[[], Any], label: str, on_result: Any = None, on_failure: Any = None,
            quiet: bool = False) -> Any:
        return self.workers.run(fn, on_result=on_result, on_failure=on_failure, name=label)


class RepinOffer(QObject):
    """Answers a view's ``repin_requested`` (agent id, new key): check the chain, confirm, re-pin,
    emit ``repinned`` (agent id).  The view (the detail pane, the identities window) has
    ``repin_requested`` and ``trust_message(text, failed=False)``; it is refreshed by whoever
    listens to ``repinned`` (``TrustEvents``).

    *session_of* gives the open ``StoreSession`` (or a ``WorkersSession``: a store and workers).
    ``confirm`` and ``inform`` (text → bool / None) replace the message boxes in tests;
    ``trust_store`` replaces the library's default trust store."""

    #: a re-pin was written to the trust store: the agent id
    repinned = Signal(str)

    def __init__(self, detail: Any, session_of: Callable[[], Any], parent: QObject | None = None):
        super().__init__(parent)
        self.detail, self.session_of = detail, session_of
        self.confirm: Callable[[str], bool] | None = None
        self.inform: Callable[[str], None] | None = None
        self.trust_store: TrustStore | None = None
        #: the last plan confirmed (or refused: None), for the tests and the status bar
        self.plan: RepinPlan | None = None
        detail.repin_requested.connect(self.start)

    def _trust(self) -> TrustStore:
        return self.trust_store if self.trust_store is not None else TrustStore()

    def _parent(self) -> QWidget | None:
        return self.detail if isinstance(self.detail, QWidget) else None

    def start(self, agent_id: str, new_key: str) -> None:
        session = self.session_of()
        store = session.store if session is not None else None
        if store is None:
            self._refused(tr("no store is open"))
            return
        from ...jobs.trust import plan_repin

        trust = self._trust()
        self.detail.trust_message(tr("Checking the agent's rotation chain in the store…"))
        session.run(lambda: plan_repin(trust, store, agent_id, new_key), tr("Checking a rotation chain"),
                    on_result=lambda plan: self._planned(session, store, trust, plan), on_failure=self._refused,
                    quiet=True)

    def _ask(self, text: str) -> bool:
        if self.confirm is not None:
            return bool(self.confirm(text))
        box = QMessageBox(QMessageBox.Icon.Question, tr("Re-pin along the rotation chain"), text,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self._parent())
        box.button(QMessageBox.StandardButton.Yes).setText(tr("Re-pin"))
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        return box.exec() == QMessageBox.StandardButton.Yes

    def _planned(self, session: Any, store: Any, trust: TrustStore, plan: RepinPlan) -> None:
        if not self._ask(confirm_text(plan)):
            self.detail.trust_message(tr("Not re-pinned: cancelled. The trust store is unchanged."))
            return
        self.plan = plan
        session.run(lambda: plan.apply(trust, store), tr("Re-pinning an agent"),
                    on_result=lambda _path: self._repinned(plan), on_failure=self._refused, quiet=True)

    def _repinned(self, plan: RepinPlan) -> None:
        self.repinned.emit(plan.agent_id)  # the views showing trust read it again (then the outcome is said)
        self.detail.trust_message(tr("Re-pinned {0} to key {1} along agent version(s) {2}: jacs now accepts what "
                                     "it signs with the new key.").format(
            plan.name or plan.agent_id, _short(plan.new_key), ", ".join(s.version for s in plan.chain)))

    def _refused(self, exc: BaseException | str) -> None:
        self.plan = None
        text = tr("Not re-pinned: {0}. The trust store is unchanged.").format(message_of(exc).rstrip("."))
        self.detail.trust_message(text, failed=True)
        if self.inform is not None:
            self.inform(text)
        else:
            QMessageBox.warning(self._parent(), tr("Re-pin along the rotation chain"), text)
