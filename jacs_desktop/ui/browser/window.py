"""The browser window: puts the panels together and runs what they ask for.

Over 500 lines, on purpose: this is where everything meets. The panels
(sources, documents, attachments, detail, status bar) show things and emit
signals; ``Selection`` fills the panes for what is selected; the open
``StoreSession`` does every read off the GUI thread and drops what arrives once
it is closed; ``LiveUpdates`` keeps a folder store up to date. What is left here
is opening a store (one session per open), verifying everything, the counts,
drag and drop, and opening the dialogs and wizards, each a few lines that only
wire one piece to another. Cutting it further would mean panels calling back
into the window, which they must not.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QMainWindow, QMenu, QSplitter

from ...jobs.browse import AgentRow, DocRow, Snapshot, count_versions
from ...storage.base import AccessDenied, StorageError
from ..qsettings import private_settings
from ..theme import apply_theme
from ..workers import WorkerPool, message_of
from .actions import BrowserActions
from .attachments import AttachmentsPanel
from .columns import mark, plural, status_counts, tr
from .detail import DetailPanel
from .documents import DocumentsPanel
from .live import LiveUpdates
from .selection import Selection
from .session import StoreSession, TaskRunner
from .sources import SourcesPanel
from .state import restore_window_state, save_window_state
from .statusbar import StatusBar

__all__ = ["BrowserWindow"]

log = logging.getLogger(__name__)


class BrowserWindow(QMainWindow):
    store_opened = Signal(str)
    load_failed = Signal(str)

    REFRESH_MS = 60_000
    #: live updates: re-read this long after the last change event of a burst …
    SETTLE_MS = 500
    #: … and at least this often while events keep coming
    MAX_LAG_MS = 3_000
    #: while a folder store is open: compare a listing of names with what is shown
    RECONCILE_MS = 30_000

    def __init__(self, url: str | None = None, *, watch: bool = True, settings: QSettings | None = None,
                 prefs=None):
        super().__init__()
        self.setWindowTitle(tr("JACS Desktop"))
        self.prefs = prefs if prefs is not None else _load_prefs()
        self.setAcceptDrops(True)
        self.settings = settings if settings is not None else private_settings()
        self.workers = WorkerPool(self)
        self.runner = TaskRunner(self.workers, self)
        self.session: StoreSession | None = None
        self.url: str | None = None
        self._verify_note = ""
        self._verifying = False
        self._select_after_load: str | None = None
        self._secret_prompted: str | None = None
        self._verify_after_load = False  # the sidebar asked to verify the store being opened
        self._view_after_load: tuple[int, dict[str, int]] | None = None  # a refresh keeps tab and scroll
        self._previous: tuple[str, dict | None] | None = None  # the store to come back to if a connect fails
        #: a refresh's last good listing (url, snapshot, time read): shown, marked stale, if the refresh fails
        self._stale: tuple[str, Snapshot, str] | None = None
        self.dropped: list = []
        self._build()
        self.live = LiveUpdates(self, enabled=watch, settle_ms=self.SETTLE_MS, max_lag_ms=self.MAX_LAG_MS,
                                reconcile_ms=self.RECONCILE_MS, refresh_ms=self.REFRESH_MS)
        self.live.reread.connect(self.refresh)
        self.live.refresh_due.connect(self._gentle_refresh)
        self.live.hint.connect(self.status.set_watch_hint)
        restore_window_state(self, self.settings)
        self.sources_panel.reload()
        if url:
            self.open_url(url)
        else:
            self._show_empty()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.actions_ = BrowserActions(self)
        self.menu_tools = self.actions_.install(self)
        for name in self.actions_.names():
            setattr(self, name, getattr(self.actions_, name))
        self.actions_.connect_slots({
            "act_open": self.choose_folder, "act_refresh": self.refresh, "act_find": self._focus_search,
            "act_verify": self.verify_all, "act_copy": self.copy_id, "act_reveal": self.reveal,
            "act_new_doc": self.new_document, "act_new_version": self.new_version,
            "act_connect_s3": self.connect_s3, "act_open_sqlite": self.choose_sqlite,
            "act_new_store": self.new_store, "act_new_agent_store": self.new_agent_store,
            "act_demo": self.open_demo, "act_migrate": self.migrate_wizard, "act_backup": self.backup_wizard,
            "act_restore": self.restore_wizard, "act_settings": self.show_settings, "act_quit": self.close,
            "act_shortcuts": self.show_shortcuts, "act_readme": self.show_readme, "act_welcome": self.show_welcome,
            "act_log_folder": self.open_log_folder, "act_about": self.show_about,
            "act_install_entry": self.install_desktop_entry,
        })
        # issue 15: identities and trust, the agreement board (ui/browser/identity.py, agreements.py)
        self.act_identities = self.menu_tools.addAction(tr("Identities and trust…"), self.show_identities)
        self.act_identities.setShortcut("Ctrl+Shift+I")
        self.act_agreements = self.menu_tools.addAction(tr("Agreements…"), self.show_agreements)
        self.act_agreements.setShortcut("Ctrl+Shift+A")
        self.act_checkpoints = self.menu_tools.addAction(tr("Store checkpoints…"), self.show_checkpoints)
        self.act_attestations = self.menu_tools.addAction(tr("Attestations…"), self.show_attestations)
        self.act_keys = self.menu_tools.addAction(tr("Key management…"), self.show_key_management)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.setObjectName("main")
        self.sources_panel = SourcesPanel(self.settings, splitter)
        self.documents = DocumentsPanel(splitter)
        self.attachments = AttachmentsPanel(self.documents)
        self.documents.add_lower_tab(self.attachments.list_page, tr("Attachments"))
        self.documents.add_lower_tab(self.attachments.preview_page, tr("Preview"))
        self.detail = DetailPanel(splitter)
        splitter.addWidget(self.sources_panel)
        splitter.addWidget(self.documents)
        splitter.addWidget(self.detail)
        splitter.setSizes([200, 640, 560])  # shares (Qt scales them to the window): the detail pane stays usable
        self.setCentralWidget(splitter)
        self._build_jobs_panel()
        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        # panels -> window
        sp = self.sources_panel
        sp.open_requested.connect(self.open_url)
        sp.folder_requested.connect(self.choose_folder)
        sp.s3_requested.connect(self.connect_s3)
        sp.sqlite_requested.connect(self.choose_sqlite)
        sp.new_store_requested.connect(self.new_store)
        sp.verify_requested.connect(self.verify_store)
        sp.edit_requested.connect(self.edit_connection)
        self.selection = Selection(self.documents, self.detail, self.attachments, self)
        self.selection.changed.connect(self._update_actions)
        self.selection.counts_changed.connect(self._update_counts)
        self.selection.error.connect(self.show_error)
        # issue 15: "the trust store changed", one notification for every view that shows trust
        # (the detail pane's trust line, the identities window); ui/browser/repin.py
        from .repin import TrustEvents

        self.trust_events = TrustEvents(self)
        self.selection.repin.repinned.connect(self.trust_events.changed)
        self.trust_events.changed.connect(lambda _agent: self.detail.refresh_trust())
        d = self.documents
        d.filtered.connect(self._after_filter)
        d.full_text_requested.connect(lambda _text: self.full_text_search())
        d.row_menu_requested.connect(self._popup_row_menu)
        self.attachments.error.connect(self.show_error)
        self.status.cancel_requested.connect(self.cancel_clicked)
        self.runner.busy.connect(self.status.busy)
        self.runner.step.connect(self.status.step)
        self.runner.idle.connect(self.status.idle)
        self.runner.failed.connect(self.show_error)
        # the widgets by their old names (tests, the smoke test and scripts use them)
        self.sources = sp.list
        for name in ("search", "layout_label", "banner", "empty_label", "tabs", "lower_tabs", "agents_model",
                     "docs_model", "archived_model", "agents_view", "docs_view", "archived_view", "versions_model",
                     "versions_view"):
            setattr(self, name, getattr(d, name))
        for name in ("checks_model", "checks_view", "verdict_label", "retry_button", "json_view", "tree_model",
                     "tree_view", "diff_old", "diff_new", "diff_model", "diff_view"):
            setattr(self, name, getattr(self.detail, name))
        a = self.attachments
        self.attachments_model, self.attachments_view = a.model, a.view
        self.open_attachment, self.save_attachment, self.preview_attachment = (
            a.open_attachment, a.save_attachment, a.preview)
        for name in ("preview_text", "preview_image", "preview_warning", "preview_anyway"):
            setattr(self, name, getattr(a, name))
        for name in ("count_label", "progress", "cancel_button", "watch_label"):
            setattr(self, name, getattr(self.status, name))

    # ------------------------------------------------------------------ state
    @property
    def snapshot(self) -> Snapshot | None:
        return self.session.snapshot if self.session is not None else None

    @property
    def _store(self):
        """The open store: the snapshot's, or while a listing runs, the one being listed."""
        return self.session.store if self.session is not None else None

    # what the panes show (the selection's)
    @property
    def _current_doc(self) -> DocRow | None:
        return self.selection.doc

    @property
    def _current_agent(self) -> AgentRow | None:
        return self.selection.agent

    @property
    def _versions_of(self) -> DocRow | None:
        return self.selection.versions_of

    @property
    def _shown_key(self) -> str | None:
        return self.selection.shown_key

    @property
    def _watcher(self):
        return self.live.watcher

    @property
    def _tasks(self) -> list:
        return self.runner.tasks

    def _attachment_bytes(self, a: dict | None = None):
        return self.attachments.bytes_now(a)

    def show_error(self, message) -> None:
        """*message*: a sentence, or a failure (its message is shown)."""
        self.documents.show_banner(message_of(message))

    def _show_empty(self) -> None:
        self.documents.show_empty(tr(
            "<h3>No store open</h3><p>Open a JACS folder, connect to an S3 bucket or open a SQLite file "
            "from the left, or drop JACS documents here to verify them.</p>"))

    # ------------------------------------------------------------------ choosing a store
    def choose_folder(self) -> None:
        d = QFileDialog.getExistingDirectory(self, tr("Open a JACS folder"))
        if d:
            self.open_url(d)

    def choose_sqlite(self) -> None:
        f, _ = QFileDialog.getOpenFileName(self, tr("Open a SQLite store"), "", tr("SQLite (*.sqlite3 *.sqlite *.db)"))
        if f:
            self.open_url("sqlite://" + Path(f).as_posix())

    def new_store(self) -> None:
        d = QFileDialog.getExistingDirectory(self, tr("Folder for a new store"))
        if d:
            from ...storage.fs import FsStore

            try:
                FsStore(d, create=True)
            except Exception as exc:
                self.show_error(exc)
                return
            self.open_url(d)

    def new_agent_store(self) -> None:
        from ..appdialogs import NewAgentStoreDialog

        dlg = NewAgentStoreDialog(self)
        self.active_dialog: QDialog | None = dlg
        if dlg.exec():
            self.settings.setValue("last_identity", dlg.config_path)
            self.open_url(dlg.store_path)

    def open_demo(self) -> None:
        from ...jobs.demo import make_demo_store

        self.runner.start(make_demo_store, tr("Making a demo store"), on_result=lambda path: self.open_url(str(path)))

    def connect_s3(self) -> None:
        from ..dialogs import S3Dialog

        dlg = S3Dialog(self)
        if dlg.exec():
            self.open_url(dlg.url, secrets=dlg.secrets)

    def verify_store(self, url: str) -> None:
        """The sidebar's *Verify This Store*: verify the open store, or open it and verify it."""
        from .sources import same_store

        if self.url and same_store(url, self.url) and self.snapshot is not None:
            self.verify_all()
            return
        self._verify_after_load = True
        self.open_url(url)

    def edit_connection(self, name: str) -> None:
        """The sidebar's *Edit Connection…*: the Connect dialog filled from the saved connection."""
        from ...storage.connect_form import kind_of_url
        from ...storage.connections import Connections
        from ..connect import ConnectDialog

        try:
            conn = Connections().get(name)
        except StorageError as exc:
            self.show_error(exc)
            return
        dlg = ConnectDialog(self, kind=kind_of_url(conn.url), url=conn.url, access_key=conn.access_key, name=name)
        self.active_dialog = dlg
        if dlg.exec():
            self.sources_panel.reload()
            self.open_url(dlg.url, secrets=dlg.secrets)

    def open_from_other_instance(self, store: str) -> None:
        """A second launch handed us a store (or just asked to come to the front)."""
        if store:
            self.open_url(store)
        self.setWindowState((self.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive)
        self.show()
        self.raise_()
        self.activateWindow()

    # ------------------------------------------------------------------ help, settings, welcome
    def show_settings(self) -> None:
        from ..appdialogs import SettingsDialog

        dlg = SettingsDialog(self, self.prefs)
        dlg.applied.connect(self.apply_prefs)
        self.active_dialog = dlg
        dlg.open()

    def apply_prefs(self, prefs) -> None:
        old = self.prefs
        self.prefs = prefs
        if prefs.secrets_backend == "file" and old.secrets_backend != "file":
            self.ask_master_password()
        if prefs.theme != old.theme:
            apply_theme(QApplication.instance(), prefs.theme)

    def ask_master_password(self) -> bool:
        """Secrets kept in the encrypted file need its master password, once per run."""
        from PySide6.QtWidgets import QInputDialog, QLineEdit

        from ...storage.secrets import set_master_password

        if os.environ.get("JACS_DESKTOP_MASTER_PASSWORD"):
            return True
        text, ok = QInputDialog.getText(
            self, tr("Master password"),
            tr("Secrets are kept in an encrypted file. Its master password (a new one sets it up):"),
            QLineEdit.EchoMode.Password)
        if ok and text:
            set_master_password(text)
            return True
        self.show_error(tr("Without the master password, saved secrets cannot be used in this session."))
        return False

    def _dialog(self, cls) -> None:
        dlg = cls(self)
        self.active_dialog = dlg
        dlg.open()

    def show_about(self) -> None:
        from ..appdialogs import AboutDialog

        self._dialog(AboutDialog)

    def show_shortcuts(self) -> None:
        from ..appdialogs import ShortcutsDialog

        self._dialog(ShortcutsDialog)

    def show_readme(self) -> None:
        from ..appdialogs import ReadmeDialog

        self._dialog(ReadmeDialog)

    def open_log_folder(self) -> None:
        from ...logs import log_dir

        d = log_dir()
        d.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(d)))

    def install_desktop_entry(self) -> None:
        """Help ▸ Add to the Applications Menu: the desktop entry and icons, into the user's data folder."""
        from ...desktop_entry import install_desktop_entry

        try:
            text = install_desktop_entry().summary()
        except OSError as exc:
            self.show_error(tr("Could not add the menu entry: {0}").format(exc))
            return
        self.statusBar().showMessage(text, 10000)

    def show_welcome(self) -> None:
        from ..appdialogs import WelcomeDialog

        dlg = WelcomeDialog(self)
        self.active_dialog = dlg
        dlg.finished.connect(lambda _r: self._welcome_chosen(dlg.choice))
        dlg.open()

    def _welcome_chosen(self, choice: str) -> None:
        from dataclasses import replace

        from ...storage.settings import save_settings

        if not self.prefs.welcome_done:
            self.prefs = replace(self.prefs, welcome_done=True)
            try:
                save_settings(self.prefs)
            except Exception as exc:
                log.warning("settings not saved: %s", exc)
        {"folder": self.choose_folder, "s3": self.connect_s3, "new": self.new_agent_store,
         "demo": self.open_demo}.get(choice, lambda: None)()

    # ------------------------------------------------------------------ opening: one session per store
    def open_url(self, url: str | None, *, secrets: dict | None = None) -> None:
        if not url:
            return
        self.runner.cancel_all()
        if self._stale is not None and self._stale[0] != url:
            self._stale = None  # another store: the last listing of this one is not kept
        if self.session is not None and self.snapshot is not None and self.session.url != url:
            # a failed connect comes back to this store instead of leaving an empty window
            self._previous = (self.session.url, self.session.secrets)
        old, session = self.session, StoreSession(self.runner, url, secrets=secrets,
                                                  cache_bytes=int(self.prefs.cache_mb) << 20, parent=self)
        self.session, self.url = session, url
        if old is not None:
            old.close()  # nothing of the last store stays on screen or in use
            old.deleteLater()
        self.live.session_started(session)
        self.documents.banner.hide()
        self.documents.empty_label.hide()
        self.documents.clear()
        self.selection.set_session(session)
        self._verify_note = ""
        self._verifying = False
        self.documents.layout_label.setText("")
        self.status.set_text(tr("Opening {0}…").format(url))
        self.sources_panel.set_status(url, "working")
        session.list(on_store=self.documents.set_layout_name, on_rows=lambda new, grown: self._rows_listed(
            session, new, grown), on_listed=lambda snap: self._listed(session, snap),
            on_failure=lambda exc: self._open_failed(session, exc))

    def _rows_listed(self, session: StoreSession, new: dict, grown: list) -> None:
        self.documents.add_rows(new, grown)
        n = len(session.builder.documents) if session.builder is not None else 0
        self.status.set_text(tr("Listing… {0} documents so far").format(n))

    def _ask_secret(self, url: str) -> bool:
        """A saved connection without a usable secret key: ask for it (once), then retry."""
        from ...storage.connections import Connections
        from ..dialogs import PasswordDialog

        try:
            conn = Connections().get(url[len("profile:"):])
        except StorageError:
            return False
        if not conn.access_key:
            return False
        dlg = PasswordDialog(self, tr("Secret key for {0} (access key {1})").format(conn.name, conn.access_key),
                             conn.secret_name())
        if not dlg.exec() or not dlg.password:
            return False
        self._secret_prompted = url  # a second failure is shown, not asked again
        self.open_url(url, secrets={"access_key": conn.access_key, "secret_key": dlg.password})
        return True

    def _open_failed(self, session: StoreSession, exc: BaseException) -> None:
        url, msg = session.url, message_of(exc)
        self.live.stop()  # nothing shown, nothing to keep up to date
        self._view_after_load = None
        ask = url.startswith("profile:") and isinstance(exc, AccessDenied) and self._secret_prompted != url
        if ask and self._ask_secret(url):
            return
        session.close()
        self.documents.clear()
        self.selection.clear()
        self.status.set_text("")
        self.sources_panel.set_status(url, "error", msg)
        previous, self._previous = self._previous, None
        stale, self._stale = self._stale, None
        if stale is not None and stale[0] == url and isinstance(stale[1].documents, list):
            # a refresh that failed: the last good listing stays, marked stale (its rows cannot be opened:
            # nothing is read from a store that cannot be read)
            self.documents.set_snapshot(stale[1])
            self.show_error(tr("Cannot refresh {0}: {1}. The list is the one read at {2} and may be out of date; "
                               "its documents open again once the store can be read. Refresh (F5) tries again.")
                            .format(url, msg.rstrip("."), stale[2]))
            self.status.set_text(tr("Stale: listed at {0}, not refreshed").format(stale[2]))
        elif previous is not None and previous[0] != url:
            # back to the store that was open: it is listed again, and the banner says what failed
            self.open_url(previous[0], secrets=previous[1])
            self.show_error(tr("Cannot open {0}: {1}. {2} is shown again.").format(url, msg.rstrip("."), previous[0]))
        else:
            self.show_error(tr("Cannot open {0}: {1}").format(url, msg))
        self.load_failed.emit(msg)

    def _listed(self, session: StoreSession, snap: Snapshot) -> None:
        url = session.url
        self._secret_prompted = None
        self._previous = None
        self._stale = None
        self.sources_panel.remember(url)
        self.sources_panel.set_status(url, "connected")
        self.documents.set_layout_name(snap.store)
        self._update_counts()
        if not snap.documents and not snap.agents:
            self.documents.show_empty(tr("<h3>This store is empty</h3><p>Create a signed document, or copy "
                                         "JACS data into it.</p>"))
        self.setWindowTitle(tr("JACS Desktop — {0}").format(url))
        from ...jobs.demo import is_demo_store

        if "://" not in url and is_demo_store(url):
            self.setWindowTitle(tr("JACS Desktop — DEMO store (throwaway identity)"))
            self.documents.show_banner(tr("This is a demo store made with a throwaway identity. Nothing in it is "
                                          "real data; one document was changed after signing on purpose to show "
                                          "an invalid verdict."), "info")
        self.live.listed(session)
        self.store_opened.emit(url)
        session.read_summaries(lambda _s: self._summarized(), on_rows=self.documents.summaries_landed)

    def _summarized(self) -> None:
        self.documents.summaries_read()
        target, self._select_after_load = self._select_after_load, None
        if target:
            self.documents.select_document_id(target)
        view, self._view_after_load = self._view_after_load, None
        if view is not None:
            tab, scrolls = view
            self.documents.tabs.setCurrentIndex(tab)
            for name, value in scrolls.items():
                getattr(self.documents, name).verticalScrollBar().setValue(value)
        asked, self._verify_after_load = self._verify_after_load, False
        if asked:
            self.verify_all()
        elif self.prefs.verify_on_open:
            self.verify_all(auto=True)

    # ------------------------------------------------------------------ verification
    def verify_all(self, auto: bool = False) -> None:
        """Verify every version; ``auto`` (verify on open): listed in Jobs without opening the panel."""
        session, snap = self.session, self.snapshot
        if session is None or snap is None:
            return
        rows = snap.every_row()  # a paged store: not a list of every row
        total = rows.versions()
        job = self.jobs_tracker.begin("verify", tr("Verify all"), session.url, cancel=self.cancel_clicked, quiet=auto)
        self._verify_job = job
        seen = [0]

        def batch(changed: list, final: bool) -> None:
            self.documents.verdicts_batch(changed, final)
            self._update_counts()
            self.selection.refresh_detail()
            seen[0] = min(total, seen[0] + sum(len(r.refs) for r in changed))
            self.jobs_tracker.progress(job, seen[0], total)

        def done(n):
            self._verifying = False
            self._verify_note = tr("verified every version: {0} of {1}").format(n, total)
            self._update_counts()
            if job.state == "running":
                self.jobs_tracker.finish(job, "done" if n >= total else "cancelled",
                                         tr("{0} of {1} versions verified.").format(n, total) + "\n"
                                         + self.status.text())

        def failed(exc):
            self._verifying = False
            if job.state == "running":
                self.jobs_tracker.finish(job, "failed", error=message_of(exc))
            self.show_error(exc)

        self._verifying = True
        self._verify_note = tr("verifying every version ({0})…").format(total)
        self._update_counts()
        session.verify_all(rows, batch, done, failed)

    def _popup_row_menu(self, row, pos) -> None:
        self._row_menu_shown = self.row_menu(row)
        self._row_menu_shown.popup(pos)

    def row_menu(self, row) -> QMenu:
        """The context menu of an agent or document row: Retry (after a read error), New version…"""
        menu = QMenu(self)
        retry = menu.addAction(tr("Retry: read and verify every version again") if row.status == "error"
                               else tr("Verify every version again"))
        retry.triggered.connect(lambda: self.selection.retry_row(row))
        if isinstance(row, DocRow) and not row.archived:
            menu.addAction(self.actions_.act_new_version)
        menu.addSeparator()
        menu.addAction(tr("Copy ID"), lambda: QApplication.clipboard().setText(row.id))
        signer = row.signer if isinstance(row, DocRow) else None
        if signer:
            menu.addAction(tr("Copy Signer ID"), lambda: QApplication.clipboard().setText(str(signer)))
        snap = self.snapshot
        if snap is not None and getattr(snap.store.objects, "root", None) is not None:  # a folder store
            menu.addAction(self.actions_.act_reveal)
        return menu

    def _update_counts(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        docs = snap.documents
        parts = []
        for rows, one, many in ((docs, "{0} document", "{0} documents"), (snap.agents, "{0} agent", "{0} agents")):
            n, counts = count_versions(rows)
            parts.append(f"{plural(len(rows), one, many)}, {plural(n, '{0} version', '{0} versions')}"
                         + (": " + status_counts(counts) if n else ""))
        if snap.archived:
            parts.append(tr("{0} archived").format(len(snap.archived)))
        shown = self.documents.docs_model.rowCount()
        if shown != len(docs):
            parts.append(tr("{0} shown").format(shown))
        if self._verify_note:
            parts.append(self._verify_note)
        self.status.set_text(" · ".join(parts))

    # ------------------------------------------------------------------ search
    def _after_filter(self) -> None:
        self.selection.after_filter()
        self._update_counts()

    def _focus_search(self) -> None:
        self.documents.focus_search()

    def full_text_search(self) -> None:
        text = self.documents.search.text().strip()
        session = self.session
        if not text or session is None or self.snapshot is None:
            return

        def show(hits):
            ids = {h[0] for h in hits}
            self.documents.filter_to_ids(ids)
            self._after_filter()
            self.status.set_text(self.status.text() + " · " + tr("{0} full-text matches").format(len(ids)))

        session.search(text, show)

    # ------------------------------------------------------------------ actions
    def refresh(self) -> None:
        if not self.url:
            return
        if self._current_doc is not None and not self._current_doc.archived and not self._select_after_load:
            self._select_after_load = self._current_doc.id  # selected again once re-read
        if self.snapshot is not None:
            self.snapshot.store.invalidate()
        # the tab and where each table was scrolled to come back once re-read
        d = self.documents
        self._view_after_load = (d.tabs.currentIndex(), {name: getattr(d, name).verticalScrollBar().value()
                                                         for name in ("agents_view", "docs_view", "archived_view")})
        secrets = self.session.secrets if self.session is not None and self.session.url == self.url else None
        if self.snapshot is not None:
            self._stale = (self.url, self.snapshot, time.strftime("%H:%M"))
        self.open_url(self.url, secrets=secrets)

    def _gentle_refresh(self) -> None:
        if self.url and self.workers.active == 0 and self.snapshot is not None and self.live.watcher is None:
            self.refresh()

    def copy_id(self) -> None:
        row = self.documents.current_row()
        if row is not None:
            QApplication.clipboard().setText(row.id)

    def reveal(self) -> None:
        if self.snapshot is None:
            return
        root = getattr(self.snapshot.store.objects, "root", None)
        if root is None:
            self.show_error(tr("Reveal in folder works for folder stores only"))
            return
        key = self._shown_key
        target = Path(root) / key if key else Path(root)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(target.parent if key else target)))

    def cancel_clicked(self) -> None:
        """The Cancel button: work stops; a cancelled listing leaves the rows listed so far
        as the open store, and nothing else stays in the panes."""
        self.cancel_tasks()
        if self.session is not None and self.session.stop_listing():
            self._verify_note = tr("listing cancelled")  # what it found so far is what is shown
            n = self.documents.docs_model.rowCount()
            self.documents.show_banner(tr("Listing cancelled: the store is shown only in part ({0} listed so far). "
                                          "Refresh (F5) lists all of it.").format(plural(n, "{0} document",
                                                                                         "{0} documents")), "info")
            self.live.listing_cancelled()
        elif self._verifying:
            self._verifying = False
            self._verify_note = tr("verification cancelled")
            job = getattr(self, "_verify_job", None)
            if job is not None and job.state == "running":
                self.jobs_tracker.finish(job, "cancelled", tr("Cancelled after {0} of {1} versions.").format(
                    job.done, job.total))
        self.selection.prune()
        self._update_counts()

    def cancel_tasks(self) -> None:
        self.runner.cancel_all()

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.files_dropped(paths)

    def files_dropped(self, paths: list[Path]) -> None:
        """JACS documents are verified; any other files open the signed-document
        wizard with them attached. The files are read by a worker."""
        self._verify_dropped(paths, sort=True)

    def verify_files(self, paths: list[Path]) -> None:
        """Dropped files: JACS documents are verified with the open store's keys."""
        self._verify_dropped(paths, sort=False)

    def _verify_dropped(self, paths: list[Path], *, sort: bool) -> None:
        store = self._store

        def work():
            docs = [p for p in paths if _looks_like_jacs(p)] if sort else list(paths)
            others = [p for p in paths if p not in docs and p.is_file()]
            return _verify_paths(docs, store), others

        def done(got):
            results, others = got
            if results:
                self._show_dropped(results)
            if others:
                self.new_document(files=others)

        run = self.session.run if self.session is not None else self.runner.start
        run(work, tr("Verifying"), on_result=done, quiet=True)

    def _show_dropped(self, results: list) -> None:
        self.dropped = results
        lines = [f"{p.name}: {mark(v.status) if v else '–'} {reason}" for p, v, reason in results]
        last = next((v for _p, v, _r in reversed(results) if v is not None), None)
        if last is not None:
            self.selection.clear()
            self.detail.show_dropped(last)
        self.status.set_text(tr("Dropped: ") + " · ".join(lines))

    # ------------------------------------------------------------------ wizards
    def _wizard_store(self):
        if self.snapshot is None:
            self.show_error(tr("Open or create a store first: signed documents are stored in the open store."))
            return None
        return self.snapshot.store

    def show_identities(self) -> None:
        """Tools → Identities and trust: every agent's timeline and its trust store standing."""
        if self._store is None:
            self.show_error(tr("Open a store first: the identities are read from the open store."))
            return
        from .identity import IdentityWindow

        old = getattr(self, "identity_window", None)
        if old is not None:  # one identities window: the old one stops listening to trust changes
            old.close()
            old.deleteLater()
        self.identity_window = IdentityWindow(self._store, self.workers, parent=self, events=self.trust_events)
        self.identity_window.show()
        self.identity_window.load()

    def show_agreements(self) -> None:
        """Tools → Agreements: the agreement board of the open store, signing as the last identity."""
        if self._store is None:
            self.show_error(tr("Open a store first: the agreements are read from the open store."))
            return
        from .agreements import AgreementBoardWindow

        self.agreement_board = AgreementBoardWindow(self._store, self.workers, self._last_identity(), parent=self)
        self.agreement_board.signed.connect(lambda _label: self.refresh())
        self.agreement_board.show()
        self.agreement_board.load()

    def show_checkpoints(self) -> None:
        """Tools → Store checkpoints: sign a checkpoint of the open store, compare with one."""
        if self._store is None:
            self.show_error(tr("Open a store first: checkpoints are made of the open store."))
            return
        from .checkpoints import CheckpointsWindow

        self.checkpoints_window = CheckpointsWindow(self._store, self.workers, self._last_identity(), parent=self)
        self.checkpoints_window.show()
        self.checkpoints_window.load()

    def show_attestations(self) -> None:
        """Tools → Attestations: claims, evidence and derivation chains, checked as jacs's full tier."""
        if self._store is None:
            self.show_error(tr("Open a store first: the attestations are read from the open store."))
            return
        from .attestations import AttestationsWindow

        self.attestations_window = AttestationsWindow(self._store, self.workers, parent=self)
        self.attestations_window.show()
        self.attestations_window.load()

    def show_key_management(self) -> None:
        """Tools → Key management: change the loaded identity's password, rotate its keys (ui/browser/keymgmt.py)."""
        from .keymgmt import KeyManagementWindow

        self.key_window = KeyManagementWindow(self.workers, self._last_identity(), parent=self)
        self.key_window.rotated.connect(lambda _label: self.refresh() if self._store is not None else None)
        self.key_window.show()

    def _last_identity(self) -> str:
        return str(self.settings.value("last_identity", "") or "")

    def new_document(self, _checked=False, files=()) -> None:
        store = self._wizard_store()
        if store is None:
            return
        from ..wizards import SignWizard

        self._run_sign_wizard(SignWizard(store, self, files=list(files), workers=self.workers,
                                         config_path=self._last_identity()))

    def new_version(self) -> None:
        store = self._wizard_store()
        if store is None:
            return
        row = self._current_doc
        if row is None:
            self.show_error(tr("Select the document to make a new version of."))
            return
        refusal = self.selection.new_version_refusal()
        if refusal:
            self.show_error(tr("New version refused: {0}").format(refusal))
            if any(r.key not in row.verdicts for r in row.refs):
                self.selection.verify_versions_of(row)  # verify it first: the action is enabled once all are valid
            return
        session, key = self.session, row.latest_ref().key
        if session is None:
            return

        def edit():
            try:
                previous = session.read_json(key)
            except Exception as exc:
                self.show_error(exc)
                return
            from ..wizards import SignWizard

            self._run_sign_wizard(SignWizard(store, self, previous=previous, workers=self.workers,
                                             config_path=self._last_identity()))

        session.with_bodies([key], edit)

    def _update_actions(self) -> None:
        refusal = self.selection.new_version_refusal()
        self.actions_.act_new_version.setEnabled(refusal is None)
        self.actions_.act_new_version.setToolTip(self.actions_.new_version_tip if refusal is None
                                        else tr("New version… is not possible: {0}").format(refusal))

    def _run_sign_wizard(self, wiz) -> None:
        def done(result):
            if isinstance(result, dict) and result.get("jacsId"):
                self.settings.setValue("last_identity", wiz.flow.state.get("config_path", ""))
                self._select_after_load = result["jacsId"]
                self.refresh()

        wiz.run_page.job_done.connect(done)
        self._show_wizard(wiz)

    def migrate_wizard(self) -> None:
        from ..wizards import MigrateWizard

        snap = self.snapshot
        self._show_wizard(MigrateWizard(self, source=self.url or "", source_store=snap.store if snap else None,
                                        selected=self.documents.selected_doc_ids() if snap else (),
                                        recent=self.sources_panel.recent(), workers=self.workers,
                                        concurrency=int(self.prefs.concurrency)))

    def backup_wizard(self) -> None:
        from ..wizards import BackupWizard

        snap = self.snapshot
        self._show_wizard(BackupWizard(self, source=self.url or "", source_store=snap.store if snap else None,
                                       recent=self.sources_panel.recent(), workers=self.workers))

    def restore_wizard(self) -> None:
        from ..wizards import RestoreWizard

        wiz = RestoreWizard(self, target=self.url or "", recent=self.sources_panel.recent(), workers=self.workers)
        wiz.run_page.job_done.connect(lambda _r: self.refresh())
        wiz.open_requested.connect(self.open_url)
        self._show_wizard(wiz)

    # ------------------------------------------------------------------ jobs
    def _build_jobs_panel(self) -> None:
        from ...jobs.history import JobHistory
        from ..jobs_panel import JobsPanel, JobTracker

        self.jobs_tracker = JobTracker(JobHistory.default(), self)
        self.jobs_panel = JobsPanel(self.jobs_tracker, self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.jobs_panel)
        self.jobs_panel.hide()
        self.act_jobs = self.jobs_panel.toggleViewAction()
        self.act_jobs.setText(tr("Jobs"))
        self.act_jobs.setShortcut("Ctrl+J")
        self.actions_.menu_view.addSeparator()
        self.actions_.menu_view.addAction(self.act_jobs)
        self.jobs_tracker.user_started.connect(lambda _id: self.show_jobs())
        self.jobs_panel.retry_requested.connect(self.retry_job)
        self.jobs_panel.resume_requested.connect(self.retry_job)
        if self.jobs_tracker.history.load_problem:
            log.warning("%s", self.jobs_tracker.history.load_problem)

    def show_jobs(self) -> None:
        """Show the Jobs panel at a modest height (a fifth of the window) the first time."""
        first = self.jobs_panel.isHidden() and not self.settings.value("window/state")
        self.jobs_panel.show()
        if first:
            self.resizeDocks([self.jobs_panel], [max(160, self.height() // 5)], Qt.Orientation.Vertical)

    def retry_job(self, rec) -> None:
        """Retry / Resume from the Jobs panel: verify again, or reopen the job's wizard with what it
        was given (never its passwords); a migration then goes on from its journal."""
        params = dict(rec.params)
        if rec.kind == "verify":
            if rec.source and rec.source != self.url:
                self.open_url(rec.source)
                self.statusBar().showMessage(tr("Opened {0}: choose Verify all when it has loaded.").format(
                    rec.source), 10000)
            else:
                self.verify_all()
            return
        from ..wizards import BackupWizard, MigrateWizard, RestoreWizard

        recent = self.sources_panel.recent()
        wiz: MigrateWizard | BackupWizard | RestoreWizard
        if rec.kind == "migrate":
            wiz = MigrateWizard(self, source=rec.source, recent=recent, workers=self.workers,
                                concurrency=int(params.get("concurrency") or self.prefs.concurrency))
        elif rec.kind == "backup":
            wiz = BackupWizard(self, source=rec.source, recent=recent, workers=self.workers)
        elif rec.kind == "restore":
            wiz = RestoreWizard(self, target=rec.target, archive=rec.source, recent=recent, workers=self.workers)
            wiz.run_page.job_done.connect(lambda _r: self.refresh())
            wiz.open_requested.connect(self.open_url)
        else:
            return
        for key in ("source_store", "selected"):
            params.pop(key, None)
        wiz.flow.state.update(params)
        self._show_wizard(wiz)

    def _show_wizard(self, wiz) -> None:
        self.active_wizard = wiz
        wiz.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wiz.show()

    # ------------------------------------------------------------------ close
    def closeEvent(self, event) -> None:
        save_window_state(self, self.settings)
        self.cancel_tasks()
        self.live.stop()
        self.workers.wait(5000)
        if self.session is not None:
            self.session.close()
        super().closeEvent(event)


def _load_prefs():
    from ...storage.settings import Settings, load_settings

    try:
        return load_settings()
    except Exception as exc:
        log.warning("settings: %s", exc)
        return Settings()


def _looks_like_jacs(p: Path) -> bool:
    """A JSON object with JACS header fields (read at most the first 64 KiB)."""
    try:
        with open(p, "rb") as f:
            head = f.read(65536)
    except OSError:
        return False
    from ...jobs.media import looks_signed  # issue 15: signed text files and images are verified too

    return looks_signed(head) or (head.lstrip().startswith(b"{") and (
        b'"jacsSignature"' in head or b'"jacsId"' in head or b'"jacsSha256"' in head))


def _verify_paths(paths: list[Path], store) -> list:
    """(path, verdict or None, reason) for each file (on a worker: files and keys are read)."""
    from ...core.verify import verify_bytes

    results: list[tuple[Path, object, str]] = []
    for p in paths:
        try:
            data = p.read_bytes()
        except OSError as exc:
            results.append((p, None, str(exc)))
            continue
        from ...jobs.media import media_verdict

        mv = media_verdict(p, data, store.keys() if store else None)  # a signed text file or image
        if mv is not None:
            results.append((p, mv, mv.reason))
            continue
        if not data.lstrip().startswith(b"{"):
            results.append((p, None, tr("not a JACS document (the signed-document wizard will take files)")))
            continue
        v = verify_bytes(data, store.keys() if store else None, store.read_attachment if store else None,
                         path=str(p))
        results.append((p, v, v.reason))
    return results
