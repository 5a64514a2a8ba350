"""Live updates of the open folder store: its watcher, the timers, the periodic check.

A folder store is watched for as long as it is open, re-reads included (a watcher
stopped while the listing runs loses what is written meanwhile), so the watcher
lives here and follows the window's current ``StoreSession`` from one re-read
to the next instead of being owned by one session. Change events mark the list
dirty; ``reread`` is emitted once a burst settles (or every ``max_lag_ms`` while
one lasts), never while a listing runs: changes seen during it give one more
re-read after it. Events can still be lost (kernel queue overflow, a dead
observer), so after each listing and every ``reconcile_ms`` a listing of names is
compared with what is shown, and a watcher problem says so (``hint``) and re-reads.
Stores that cannot be watched are re-read by the gentle ``refresh_ms`` timer.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from ...jobs.browse import Drift, shown_identities
from .columns import tr

if TYPE_CHECKING:
    from ...storage.watch import StoreWatcher
    from ..workers import Task
    from .session import StoreSession

__all__ = ["LiveUpdates"]

log = logging.getLogger(__name__)


class _WatchBridge(QObject):
    """Carries a folder watcher's reports from its threads to the GUI thread (queued):
    (watcher, batch of changes) and (watcher, problem)."""

    changed = Signal(object, object)
    problem = Signal(object, str)


class LiveUpdates(QObject):
    #: read the store again (the window's refresh)
    reread = Signal()
    #: the gentle timer of a store that is not watched fired
    refresh_due = Signal()
    #: the status bar's live-updates hint ("" hides it)
    hint = Signal(str)

    def __init__(self, parent: QObject, *, enabled: bool, settle_ms: int, max_lag_ms: int, reconcile_ms: int,
                 refresh_ms: int):
        super().__init__(parent)
        self.enabled = enabled
        self.session: StoreSession | None = None
        self.watcher: StoreWatcher | None = None
        self.watch_url: str | None = None
        self.watch_root: Path | None = None
        self.changes_pending = False
        self.partial_listing = False
        self.stale_reason: str | None = None
        self._reconcile_task: Task | None = None
        self._bridge = _WatchBridge(self)
        self._bridge.changed.connect(self._changes_arrived)
        self._bridge.problem.connect(self._watch_problem)
        self.settle_timer = self._single_shot(settle_ms, self._catch_up)
        self.lag_timer = self._single_shot(max_lag_ms, self._catch_up)
        self.reconcile_timer = QTimer(self)
        self.reconcile_timer.setInterval(reconcile_ms)
        self.reconcile_timer.timeout.connect(self._periodic_check)
        self.refresh_timer = QTimer(self)
        self.refresh_timer.setInterval(refresh_ms)
        self.refresh_timer.timeout.connect(self.refresh_due)

    def _single_shot(self, ms: int, slot) -> QTimer:
        t = QTimer(self)
        t.setSingleShot(True)
        t.setInterval(ms)
        t.timeout.connect(slot)
        return t

    @property
    def _listing(self) -> bool:
        return self.session is not None and self.session.listing

    # ------------------------------------------------------------------ the window's session
    def session_started(self, session) -> None:
        """A listing of *session* starts: the store's watcher stays on when it is the
        same store read again; a folder is watched before it is listed (what is
        written while the listing runs then gives events, heard and re-read after)."""
        self.stop(keep_for=session.url)
        self.session = session
        self.partial_listing = False
        self.changes_pending = False  # what changed so far, this listing sees
        if not self.enabled or self.watcher is not None:
            return
        from ...storage.watch import folder_of

        folder = folder_of(session.url)
        if folder is not None:
            self._watch_folder(folder)

    def listed(self, session) -> None:
        """*session*'s listing ended: watch its store (or time re-reads), catch up."""
        root = getattr(session.store.objects, "root", None)
        if root is None:
            self.stop()
            self.refresh_timer.start()
        elif self.enabled:
            self._watch_folder(Path(root).absolute())
        if self.changes_pending:
            self.settle_timer.start()  # changes arrived while listing: read again once they settle
        elif self.watcher is not None:
            self.check()  # names written after the listing passed them, before the watcher started

    def listing_cancelled(self) -> None:
        """What the cancelled listing found is what is shown: not re-read behind the user's back."""
        self.partial_listing = True
        self.settle_timer.stop()
        self.lag_timer.stop()

    # ------------------------------------------------------------------ watcher
    def _watch_folder(self, root: Path) -> None:
        if self.watcher is not None and self.watch_root == root:
            self.reconcile_timer.start()
            return  # kept through the re-read
        self.stop()
        from ...storage.watch import StoreWatcher

        w = StoreWatcher(root, lambda _b: None)
        w.callback = lambda batch: self._bridge.changed.emit(w, batch)
        w.on_problem = lambda problem: self._bridge.problem.emit(w, problem)
        try:
            w.start()
        except Exception as exc:
            log.info("watching %s failed: %s", root, exc)
            self.refresh_timer.start()
            return
        self.watcher, self.watch_root = w, root
        self.watch_url = self.session.url if self.session is not None else None
        self.reconcile_timer.start()

    def stop(self, keep_for: str | None = None) -> None:
        """Stop live updates; with *keep_for* the url being re-read, the watcher of that
        store stays on (its events during the listing are kept, not lost)."""
        self.refresh_timer.stop()
        self.settle_timer.stop()
        self.lag_timer.stop()
        if self.watcher is not None and keep_for is not None and keep_for == self.watch_url:
            return
        self.reconcile_timer.stop()
        self.hint.emit("")
        self.stale_reason = None
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        self.watch_root = self.watch_url = None

    def _changes_arrived(self, watcher, batch) -> None:
        if watcher is not self.watcher:
            return  # a stopped watcher's last batch
        self.changes_pending = True
        self.settle_timer.start()  # (re)started by every batch: fires once the burst settles
        if not self.lag_timer.isActive():
            self.lag_timer.start()

    def _catch_up(self) -> None:
        """Re-read the watched store for the changes seen (not while it is being listed:
        the listing's end comes back here while changes are pending)."""
        self.settle_timer.stop()
        self.lag_timer.stop()
        if self.session is None or self._listing or self.partial_listing or not self.changes_pending:
            return
        self.changes_pending = False
        self.reread.emit()

    def _watch_problem(self, watcher, problem: str) -> None:
        if watcher is not self.watcher:
            return
        from ...storage.watch import OVERFLOW

        if problem == OVERFLOW:
            reason = tr("live updates lost changes (the system's queue of file events overflowed)")
        else:
            reason = tr("live updates failed ({0})").format(problem)
        log.warning("watching %s: %s", self.watch_root, problem)
        self.stale_reason = reason
        self.hint.emit(tr("⚠ The list may be out of date: {0}. Re-reading…").format(reason))
        self.changes_pending = True  # lost events may be changes to listed files too: a full re-read
        self.settle_timer.start()
        if not self.lag_timer.isActive():
            self.lag_timer.start()

    def _periodic_check(self) -> None:
        w = self.watcher
        if w is None:
            return
        if not w.healthy():
            log.warning("watching %s: the watcher stopped; restarting it", self.watch_root)
            w.stop()
            self.watcher = None
            if self.session is not None and self.session.snapshot is not None:
                self.listed_again()
            if self.watcher is not None:
                self._watch_problem(self.watcher, tr("the watcher had stopped; restarted"))
            return
        self.check()

    def listed_again(self) -> None:
        store = self.session.store if self.session is not None else None
        root = getattr(store.objects, "root", None) if store is not None else None
        if root is not None and self.enabled:
            self._watch_folder(Path(root).absolute())

    def check(self) -> None:
        """Compare a listing of names (on a worker) with what is shown; re-read if they differ."""
        session = self.session
        if session is None or session.snapshot is None or self._listing or self.partial_listing \
                or session.runner.running(self._reconcile_task):
            return
        snap = session.snapshot

        def done(drift: Drift) -> None:
            if session.snapshot is not snap or session is not self.session:
                return
            if drift:
                log.info("%s: %d versions not shown, %d shown but gone: re-reading", session.url,
                         len(drift.missing), len(drift.gone))
                if self.stale_reason is None:
                    self.stale_reason = tr("{0} changes had not been shown").format(drift.count)
                self.hint.emit(tr("⚠ The list was out of date: {0}. Re-reading…").format(self.stale_reason))
                self.changes_pending = True
                self._catch_up()
            elif self.stale_reason is not None and not self.changes_pending:
                self.hint.emit(tr("The list was re-read at {0} ({1}); it is up to date.").format(
                    time.strftime("%H:%M:%S"), self.stale_reason))
                self.stale_reason = None

        self._reconcile_task = session.reconcile(shown_identities(snap), done)
