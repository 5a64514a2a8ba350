"""The browser window: agents, documents, versions and attachments on any store."""

from __future__ import annotations

import base64
import gzip
import html
import json
import logging
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QModelIndex, QObject, QSettings, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QColor, QDesktopServices, QFont, QKeySequence, QSyntaxHighlighter, QTextCharFormat
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStatusBar,
    QTableView,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ...jobs.browse import (
    BADNESS,
    AgentRow,
    DocRow,
    Drift,
    Snapshot,
    VersionRow,
    attachment_warning,
    signer_text,
    count_versions,
    display_json,
    fill_summaries,
    json_diff,
    new_version_refusal,
    reason_of,
    reconcile,
    shown_identities,
    SnapshotBuilder,
    stream_refs,
    verify_ref,
    verify_rows,
)
from ...storage.base import StorageError
from ...storage.store import HistoryNode
from ..models import VERDICT_MARKS, Column, RowTableModel
from ..qsettings import private_settings
from ..theme import BANNER_STYLE, JSON_COLORS, WARNING_STYLE, ERROR_COLOR, apply_theme, verdict_color
from ..workers import WorkerPool

log = logging.getLogger(__name__)


def tr(text: str) -> str:
    return QCoreApplication.translate("BrowserWindow", text)


def _mark(status: str | None) -> str:
    return f"{VERDICT_MARKS.get(status or '', '')} {status or ''}".strip()


def _row_mark(row) -> str:
    """A row's verdict over all its versions: '✗ 1 of 6 versions invalid'."""
    agg = row.aggregate()
    return f"{VERDICT_MARKS.get(agg.status, '')} {_agg_text(agg)}".strip()


def _agg_text(agg) -> str:
    """Aggregate.text, through tr(): 'invalid', '1 of 6 versions invalid', '4 of 6 versions checked'."""
    n = agg.counts.get(agg.status, 0)
    if agg.total <= 1 or n == agg.total:
        return agg.status
    if agg.status == "pending":
        return tr("{0} of {1} versions checked").format(agg.total - n, agg.total)
    return tr("{0} of {1} versions {2}").format(n, agg.total, agg.status)


def _row_tip(row) -> str:
    agg = row.aggregate()
    latest = row.verdict
    if agg.status == "pending":
        lines = [tr("not verified yet") if not agg.counts.get("valid")
                 else tr("{0} of {1} versions verified so far").format(agg.total - agg.counts.get("pending", 0),
                                                                      agg.total)]
    else:
        lines = [tr("worst over {0} versions: {1}").format(agg.total, _agg_text(agg))]
        if agg.worst is not None and agg.status != "valid":
            lines.append(f"{_short(agg.worst.version)}: {reason_of(agg.worst)}")
    if latest is not None and agg.total > 1:
        lines.append(tr("latest version: {0}").format(latest.status))
    return "\n".join(lines)


_STATUS_WORDS = {"valid": "valid", "invalid": "invalid", "error": "read error", "legacy": "legacy",
                 "unverifiable": "unverifiable", "pending": "not checked"}


def _status_counts(counts: dict[str, int]) -> str:
    """'38 valid, 1 invalid, 1 not checked': valid first, then worst to least bad, not checked last."""
    order = ["valid"] + [s for s in BADNESS if s != "valid" and s != "pending"] + ["pending"]
    order += [s for s in counts if s not in order]
    return ", ".join(f"{counts[s]} {tr(_STATUS_WORDS.get(s, s))}" for s in order if counts.get(s))


def _short(v: str | None, n: int = 8) -> str:
    return "" if not v else (v if len(v) <= n + 1 else v[:n] + "…")


class JsonHighlighter(QSyntaxHighlighter):
    """Keys, strings, numbers and literals in different colours."""

    def __init__(self, document):
        super().__init__(document)
        import re

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
        for rx, f in self.rules:
            for m in rx.finditer(text):
                start, end = (m.start(1), m.end(1)) if m.groups() else (m.start(), m.end())
                self.setFormat(start, end - start, f)


class _WatchBridge(QObject):
    """Carries a folder watcher's reports from its threads to the window's (queued):
    (watcher, batch of changes) and (watcher, problem)."""

    changed = Signal(object, object)
    problem = Signal(object, str)


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
        self.resize(1400, 860)
        self.setAcceptDrops(True)
        self.settings = settings if settings is not None else private_settings()
        self.workers = WorkerPool(self)
        self.snapshot: Snapshot | None = None
        self.url: str | None = None
        self._watch_enabled = watch
        self._watcher = None
        self._load_generation = 0
        self._tasks: list = []
        self._current_doc: DocRow | None = None
        self._current_agent: AgentRow | None = None
        self._current_doc_json: dict | None = None
        self._shown_key: str | None = None
        self._shown_verdict = None
        self._versions_of: DocRow | None = None
        self._verify_note = ""
        self._verifying = False
        self.dropped: list = []
        self._build()
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setInterval(self.REFRESH_MS)
        self._refresh_timer.timeout.connect(self._gentle_refresh)
        self._init_live()
        self._reload_sources()
        if url:
            self.open_url(url)
        else:
            self._show_empty()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self._build_actions()
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        # sidebar
        side = QWidget(splitter)
        sl = QVBoxLayout(side)
        sl.setContentsMargins(6, 6, 6, 6)
        title = QLabel(tr("<b>Stores</b>"), side)
        sl.addWidget(title)
        self.sources = QListWidget(side)
        self.sources.itemActivated.connect(lambda it: self.open_url(it.data(Qt.ItemDataRole.UserRole)))
        self.sources.itemClicked.connect(lambda it: self.open_url(it.data(Qt.ItemDataRole.UserRole)))
        sl.addWidget(self.sources, 1)
        for text, slot in ((tr("Open folder…"), self.choose_folder), (tr("Connect to S3…"), self.connect_s3),
                           (tr("Open SQLite…"), self.choose_sqlite), (tr("New store…"), self.new_store)):
            b = QPushButton(text, side)
            b.clicked.connect(slot)
            sl.addWidget(b)
        # centre
        centre = QWidget(splitter)
        cl = QVBoxLayout(centre)
        cl.setContentsMargins(0, 6, 0, 0)
        top = QHBoxLayout()
        self.search = QLineEdit(centre)
        self.search.setPlaceholderText(tr("Filter by id, title, signer, type — Enter searches the full text"))
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._filter_changed)
        self.search.returnPressed.connect(self.full_text_search)
        top.addWidget(self.search, 1)
        self.layout_label = QLabel("", centre)
        top.addWidget(self.layout_label)
        cl.addLayout(top)
        self.banner = QLabel("", centre)
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.setStyleSheet(BANNER_STYLE)
        self.banner.hide()
        cl.addWidget(self.banner)
        self.empty_label = QLabel("", centre)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.hide()
        cl.addWidget(self.empty_label)
        self.tabs = QTabWidget(centre)
        cl.addWidget(self.tabs, 1)

        self.agents_model = RowTableModel([
            Column(tr("Verdict"), _row_mark, status=lambda r: r.status, tooltip=_row_tip,
                   sort_key=lambda r: r.aggregate().sort_key),
            Column(tr("Name"), lambda r: r.name),
            Column(tr("Type"), lambda r: r.type),
            Column(tr("Id"), lambda r: r.id, tooltip=lambda r: r.id),
            Column(tr("Versions"), lambda r: r.versions, align_right=True),
            Column(tr("Algorithm"), lambda r: r.algorithm),
            Column(tr("Key hash"), lambda r: _short(r.key_hash, 16), tooltip=lambda r: r.key_hash),
        ], self)
        doc_columns = [
            Column(tr("Verdict"), _row_mark, status=lambda r: r.status, tooltip=_row_tip,
                   sort_key=lambda r: r.aggregate().sort_key),
            Column(tr("Title"), lambda r: r.title, tooltip=lambda r: r.title,
                   sort_key=lambda r: (r.title or "\uffff").casefold()),
            Column(tr("Type"), lambda r: r.type, sort_key=lambda r: r.type or ""),
            Column(tr("Id"), lambda r: r.id, tooltip=lambda r: r.id, sort_key=lambda r: r.id),
            Column(tr("Latest version"), lambda r: (r.date or "")[:19].replace("T", " "),
                   sort_key=lambda r: r.date or ""),
            Column(tr("Versions"), lambda r: r.versions, align_right=True, sort_key=lambda r: len(r.refs)),
            Column(tr("Signer"), lambda r: r.signer_label(), tooltip=lambda r: r.signer,
                   sort_key=lambda r: (r.signer_label() or "\uffff").casefold()),
            Column(tr("Attachments"), lambda r: r.attachments, align_right=True,
                   sort_key=lambda r: r.attachments or 0),
        ]
        self.docs_model = RowTableModel(doc_columns, self)
        self.archived_model = RowTableModel(doc_columns, self)
        self.agents_view = self._table(self.agents_model)
        self.docs_view = self._table(self.docs_model)
        self.archived_view = self._table(self.archived_model)
        self.tabs.addTab(self.agents_view, tr("Agents"))
        docs_page = QSplitter(Qt.Orientation.Vertical, self.tabs)
        docs_page.addWidget(self.docs_view)
        lower = QTabWidget(docs_page)
        self.versions_model = RowTableModel([
            Column(tr("Verdict"), lambda r: _mark(r.status), status=lambda r: r.status,
                   tooltip=lambda r: reason_of(r.verdict) if r.verdict else ""),
            Column(tr("Version"), lambda r: ("  " * r.node.depth) + ("⑂ " if r.node.fork else "") + r.node.version,
                   tooltip=lambda r: tr("fork: its parent has more than one next version") if r.node.fork else r.node.version),
            Column(tr("Date"), lambda r: (r.node.date or "")[:23].replace("T", " ")),
            Column(tr("Previous"), lambda r: _short(r.node.previous)),
            Column(tr("Signer"), lambda r: _short(r.summary.get("signer"))),
            Column(tr("Attachments"), lambda r: r.summary.get("attachments"), align_right=True),
        ], self)
        self.versions_view = self._table(self.versions_model, sortable=False)
        self.attachments_model = RowTableModel([
            Column(tr("Name"), lambda a: a.get("path")),
            Column(tr("Type"), lambda a: a.get("mimetype")),
            Column(tr("Size"), lambda a: a.get("_size"), align_right=True),
            Column(tr("Stored"), lambda a: tr("embedded") if a.get("embed") else tr("external")),
            Column(tr("Hash"), lambda a: _mark(a.get("_status")), status=lambda a: a.get("_status"),
                   tooltip=lambda a: a.get("_reason") if self._attachment_risk(a) is None else
                   tr("{0}\nOpening, saving or previewing it asks first; it cannot be dragged out.").format(
                       self._attachment_risk(a))),
        ], self)
        self.attachments_view = self._table(self.attachments_model, sortable=False)
        self.attachments_view.doubleClicked.connect(lambda _i: self.open_attachment())
        lower.addTab(self.versions_view, tr("Versions"))
        att_page = QWidget(lower)
        al = QVBoxLayout(att_page)
        al.setContentsMargins(0, 0, 0, 0)
        al.addWidget(self.attachments_view)
        row = QHBoxLayout()
        for text, slot in ((tr("Save As…"), self.save_attachment), (tr("Open"), self.open_attachment)):
            b = QPushButton(text, att_page)
            b.clicked.connect(slot)
            row.addWidget(b)
        row.addStretch(1)
        al.addLayout(row)
        lower.addTab(att_page, tr("Attachments"))
        self.preview_text = QPlainTextEdit(lower)
        self.preview_text.setReadOnly(True)
        self.preview_image = QLabel(lower)
        self.preview_image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        pv = QWidget(lower)
        pl = QVBoxLayout(pv)
        pl.setContentsMargins(0, 0, 0, 0)
        warn_row = QHBoxLayout()
        self.preview_warning = QLabel("", pv)
        self.preview_warning.setWordWrap(True)
        self.preview_warning.setStyleSheet(WARNING_STYLE)
        warn_row.addWidget(self.preview_warning, 1)
        self.preview_anyway = QPushButton(tr("Preview anyway…"), pv)
        self.preview_anyway.clicked.connect(lambda: self.preview_attachment(confirm=True))
        warn_row.addWidget(self.preview_anyway)
        pl.addLayout(warn_row)
        self.preview_warning.hide()
        self.preview_anyway.hide()
        pl.addWidget(self.preview_text)
        pl.addWidget(self.preview_image)
        self.preview_image.hide()
        lower.addTab(pv, tr("Preview"))
        self.lower_tabs = lower
        self.attachments_view.selectionModel().currentRowChanged.connect(lambda *_: self.preview_attachment())
        self.attachments_view.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.attachments_model.mime_provider = self._attachments_mime
        self.attachments_model.drag_enabled = lambda a: self._attachment_risk(a) is None
        docs_page.addWidget(lower)
        docs_page.setSizes([500, 260])
        self.tabs.addTab(docs_page, tr("Documents"))
        self.tabs.addTab(self.archived_view, tr("Archived"))
        self.tabs.setCurrentIndex(1)
        # detail pane
        detail = QTabWidget(splitter)
        self.detail = detail
        self.checks_model = RowTableModel([
            Column("", lambda c: VERDICT_MARKS.get(c.status, "?"), status=lambda c: c.status),
            Column(tr("Check"), lambda c: c.name),
            Column(tr("Result"), lambda c: c.reason, tooltip=lambda c: c.reason),
        ], self)
        vpage = QWidget(detail)
        vl = QVBoxLayout(vpage)
        self.verdict_label = QLabel(tr("Select an agent or a document."), vpage)
        self.verdict_label.setWordWrap(True)
        self.verdict_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        vl.addWidget(self.verdict_label)
        self.retry_button = QPushButton(tr("Retry"), vpage)
        self.retry_button.setToolTip(tr("Read this version again and verify it"))
        self.retry_button.clicked.connect(self.retry_shown)
        self.retry_button.hide()
        retry_row = QHBoxLayout()
        retry_row.addWidget(self.retry_button)
        retry_row.addStretch(1)
        vl.addLayout(retry_row)
        self.checks_view = self._table(self.checks_model, sortable=False)
        self.checks_view.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.checks_view.setWordWrap(True)
        vl.addWidget(self.checks_view, 1)
        detail.addTab(vpage, tr("Verification"))
        self.json_view = QPlainTextEdit(detail)
        self.json_view.setReadOnly(True)
        self.json_view.setFont(QFont("monospace", 9))
        self.json_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self._highlighter = JsonHighlighter(self.json_view.document())
        detail.addTab(self.json_view, tr("JSON"))
        from PySide6.QtWidgets import QTreeView

        from ..jsontree import JsonTreeModel

        self.tree_model = JsonTreeModel(self)
        self.tree_view = QTreeView(detail)
        self.tree_view.setModel(self.tree_model)
        self.tree_view.setUniformRowHeights(True)
        detail.addTab(self.tree_view, tr("Tree"))
        dpage = QWidget(detail)
        dl = QVBoxLayout(dpage)
        pick = QHBoxLayout()
        self.diff_old = QComboBox(dpage)
        self.diff_new = QComboBox(dpage)
        self.diff_old.currentIndexChanged.connect(self._update_diff)
        self.diff_new.currentIndexChanged.connect(self._update_diff)
        pick.addWidget(QLabel(tr("From"), dpage))
        pick.addWidget(self.diff_old, 1)
        pick.addWidget(QLabel(tr("to"), dpage))
        pick.addWidget(self.diff_new, 1)
        dl.addLayout(pick)
        self.diff_model = RowTableModel([
            Column(tr("Change"), lambda d: d.kind, status=lambda d: {"removed": "failed", "added": "ok",
                                                                      "changed": "warning"}[d.kind]),
            Column(tr("Field"), lambda d: d.path),
            Column(tr("Signed"), lambda d: "✓" if d.signed else ""),
            Column(tr("Before"), lambda d: _compact(d.old)),
            Column(tr("After"), lambda d: _compact(d.new)),
        ], self)
        self.diff_view = self._table(self.diff_model, sortable=False)
        dl.addWidget(self.diff_view, 1)
        detail.addTab(dpage, tr("Diff"))
        splitter.addWidget(side)
        splitter.addWidget(centre)
        splitter.addWidget(detail)
        splitter.setSizes([220, 760, 420])
        self.setCentralWidget(splitter)
        # selection wiring
        self.docs_view.selectionModel().currentRowChanged.connect(lambda cur, _p: self._doc_selected(self.docs_model, cur))
        self.archived_view.selectionModel().currentRowChanged.connect(
            lambda cur, _p: self._doc_selected(self.archived_model, cur))
        self.agents_view.selectionModel().currentRowChanged.connect(self._agent_selected)
        for view in (self.agents_view, self.docs_view, self.archived_view):
            view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            view.customContextMenuRequested.connect(lambda pos, v=view: self._row_menu(v, pos))
        self.versions_view.selectionModel().currentRowChanged.connect(self._version_selected)
        # status bar
        sb = QStatusBar(self)
        self.count_label = QLabel("", sb)
        sb.addWidget(self.count_label, 1)
        self.progress = QProgressBar(sb)
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.progress.hide()
        sb.addPermanentWidget(self.progress)
        self.cancel_button = QPushButton(tr("Cancel"), sb)
        self.cancel_button.clicked.connect(self.cancel_clicked)
        self.cancel_button.hide()
        sb.addPermanentWidget(self.cancel_button)
        self.setStatusBar(sb)

    def _table(self, model: RowTableModel, sortable: bool = True) -> QTableView:
        v = QTableView(self)
        v.setModel(model)
        v.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        v.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        v.setSortingEnabled(sortable)
        v.setAlternatingRowColors(True)
        v.verticalHeader().hide()
        v.verticalHeader().setDefaultSectionSize(22)
        v.horizontalHeader().setStretchLastSection(True)
        v.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        v.setDragEnabled(True)
        return v

    def _build_actions(self) -> None:
        tb = QToolBar(tr("Main"), self)
        tb.setMovable(False)
        self.addToolBar(tb)

        def act(text, shortcut, slot, tip=""):
            a = QAction(text, self)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
            a.setToolTip(f"{tip or text} ({QKeySequence(shortcut).toString()})" if shortcut else tip or text)
            a.triggered.connect(slot)
            tb.addAction(a)
            return a

        self.act_open = act(tr("Open"), QKeySequence.StandardKey.Open, self.choose_folder, tr("Open a folder store"))
        self.act_refresh = act(tr("Refresh"), "F5", self.refresh)
        self.act_find = act(tr("Find"), QKeySequence.StandardKey.Find, self._focus_search)
        self.act_verify = act(tr("Verify all"), "Ctrl+Shift+V", self.verify_all,
                              tr("Verify every version of every agent and document, not only the latest"))
        self.act_copy = act(tr("Copy id"), "Ctrl+Shift+C", self.copy_id)
        self.act_reveal = act(tr("Reveal in folder"), "Ctrl+Shift+R", self.reveal)
        self.act_new_doc = act(tr("New document…"), QKeySequence.StandardKey.New, self.new_document,
                               tr("Create a signed document in this store"))
        self.act_new_version = act(tr("New version…"), "Ctrl+Shift+N", self.new_version,
                                   tr("Edit the selected document and sign a new version"))
        self._new_version_tip = self.act_new_version.toolTip()
        self.act_new_version.setEnabled(False)
        self.act_new_version.setToolTip(tr("New version…: select a document first"))
        self.act_migrate = QAction(tr("Migrate to another store…"), self)
        self.act_migrate.triggered.connect(self.migrate_wizard)
        self.act_backup = QAction(tr("Back up…"), self)
        self.act_backup.setShortcut(QKeySequence("Ctrl+Shift+B"))
        self.act_backup.triggered.connect(self.backup_wizard)
        self.act_restore = QAction(tr("Restore a backup…"), self)
        self.act_restore.triggered.connect(self.restore_wizard)
        mb = self.menuBar()
        m_file = mb.addMenu(tr("&File"))
        for a in (self.act_open,):
            m_file.addAction(a)
        m_file.addAction(tr("Connect to S3…"), self.connect_s3)
        m_file.addAction(tr("Open SQLite…"), self.choose_sqlite)
        m_file.addAction(tr("New empty store…"), self.new_store)
        m_file.addAction(tr("New store with a new agent…"), self.new_agent_store)
        m_file.addAction(tr("Open a demo store"), self.open_demo)
        m_file.addSeparator()
        self.act_settings = QAction(tr("Settings…"), self)
        self.act_settings.setShortcut(QKeySequence.StandardKey.Preferences)
        if self.act_settings.shortcut().isEmpty():
            self.act_settings.setShortcut(QKeySequence("Ctrl+,"))
        self.act_settings.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.act_settings.triggered.connect(self.show_settings)
        m_file.addAction(self.act_settings)
        m_file.addSeparator()
        quit_action = QAction(tr("Quit"), self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        m_file.addAction(quit_action)
        m_edit = mb.addMenu(tr("&Edit"))
        m_edit.addAction(self.act_find)
        m_edit.addAction(self.act_copy)
        m_view = mb.addMenu(tr("&View"))
        m_view.addAction(self.act_refresh)
        m_view.addAction(self.act_verify)
        m_view.addAction(self.act_reveal)
        m_doc = mb.addMenu(tr("&Document"))
        m_doc.addAction(self.act_new_doc)
        m_doc.addAction(self.act_new_version)
        m_tools = mb.addMenu(tr("&Tools"))
        for a in (self.act_migrate, self.act_backup, self.act_restore):
            m_tools.addAction(a)
        self.menu_tools = m_tools
        m_help = mb.addMenu(tr("&Help"))
        self.act_shortcuts = QAction(tr("Keyboard shortcuts"), self)
        self.act_shortcuts.setShortcut(QKeySequence("Ctrl+/"))
        self.act_shortcuts.triggered.connect(self.show_shortcuts)
        m_help.addAction(self.act_shortcuts)
        m_help.addAction(tr("README"), self.show_readme)
        m_help.addAction(tr("Welcome…"), self.show_welcome)
        m_help.addAction(tr("Open the log folder"), self.open_log_folder)
        self.act_about = QAction(tr("About JACS Desktop"), self)
        self.act_about.setMenuRole(QAction.MenuRole.AboutRole)
        self.act_about.triggered.connect(self.show_about)
        m_help.addAction(self.act_about)

    # ------------------------------------------------------------------ sources
    def _recent(self) -> list[str]:
        v = self.settings.value("recent", [])
        if isinstance(v, str):
            v = [v]
        return [x for x in (v or []) if isinstance(x, str)][:10]

    def _remember(self, url: str) -> None:
        rec = [url] + [u for u in self._recent() if u != url]
        self.settings.setValue("recent", rec[:10])
        self.settings.setValue("last", url)
        self._reload_sources()

    def _reload_sources(self, status: dict | None = None) -> None:
        status = status if status is not None else getattr(self, "_source_status", {})
        self._source_status = status
        self.sources.clear()
        entries: list[tuple[str, str]] = []
        try:
            from ...storage.connections import Connections

            entries += [(c.name, f"profile:{c.name}") for c in Connections().list()]
        except Exception as exc:  # noqa: BLE001 - a damaged settings file must not stop the app
            entries.append((tr("(connections unreadable: {0})").format(exc), ""))
        urls = self._recent() + [u for u in status if u not in self._recent() and not u.startswith("profile:")]
        entries += [((Path(u).name or u) if "://" not in u else u, u) for u in urls]
        for text, url in entries:
            st = status.get(url)
            label = text + {"connected": "  ●", "error": "  ⚠", "working": "  …"}.get(st[0] if st else "", "")
            it = QListWidgetItem(label)
            from PySide6.QtWidgets import QStyle

            icon = (QStyle.StandardPixmap.SP_DirIcon if "://" not in url and not url.startswith("profile:")
                    else QStyle.StandardPixmap.SP_DriveNetIcon)
            it.setIcon(self.style().standardIcon(icon))
            it.setData(Qt.ItemDataRole.UserRole, url)
            it.setToolTip(url + (f"\n{st[1]}" if st and st[1] else ""))
            if st and st[0] == "error":
                it.setForeground(QColor(ERROR_COLOR))
            self.sources.addItem(it)

    def _set_source_status(self, url: str, state: str, reason: str = "") -> None:
        s = dict(getattr(self, "_source_status", {}))
        s[url] = (state, reason)
        self._reload_sources(s)

    # ------------------------------------------------------------------ opening
    def _show_empty(self) -> None:
        self.empty_label.setText(tr(
            "<h3>No store open</h3><p>Open a JACS folder, connect to an S3 bucket or open a SQLite file "
            "from the left, or drop JACS documents here to verify them.</p>"))
        self.empty_label.show()

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
            except Exception as exc:  # noqa: BLE001
                self.show_error(str(exc))
                return
            self.open_url(d)

    def new_agent_store(self) -> None:
        from ..appdialogs import NewAgentStoreDialog

        dlg = NewAgentStoreDialog(self)
        self.active_dialog = dlg
        if dlg.exec():
            self.settings.setValue("last_identity", dlg.config_path)
            self.open_url(dlg.store_path)

    def open_demo(self) -> None:
        from ...jobs.demo import make_demo_store

        def made(path):
            self.open_url(str(path))

        self._start(make_demo_store, tr("Making a demo store"), on_result=made)

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
            from PySide6.QtWidgets import QApplication

            apply_theme(QApplication.instance(), prefs.theme)

    def ask_master_password(self) -> bool:
        """Secrets kept in the encrypted file need its master password, once per run."""
        import os

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

    def show_about(self) -> None:
        from ..appdialogs import AboutDialog

        self.active_dialog = AboutDialog(self)
        self.active_dialog.open()

    def show_shortcuts(self) -> None:
        from ..appdialogs import ShortcutsDialog

        self.active_dialog = ShortcutsDialog(self)
        self.active_dialog.open()

    def show_readme(self) -> None:
        from ..appdialogs import ReadmeDialog

        self.active_dialog = ReadmeDialog(self)
        self.active_dialog.open()

    def open_log_folder(self) -> None:
        from ...logs import log_dir

        d = log_dir()
        d.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(d)))

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
            except Exception as exc:  # noqa: BLE001 - not fatal; shown
                log.warning("settings not saved: %s", exc)
        {"folder": self.choose_folder, "s3": self.connect_s3, "new": self.new_agent_store,
         "demo": self.open_demo}.get(choice, lambda: None)()

    def open_from_other_instance(self, store: str) -> None:
        """A second launch handed us a store (or just asked to come to the front)."""
        if store:
            self.open_url(store)
        self.setWindowState((self.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive)
        self.show()
        self.raise_()
        self.activateWindow()

    def connect_s3(self) -> None:
        from ..dialogs import S3Dialog

        dlg = S3Dialog(self)
        if dlg.exec():
            self.open_url(dlg.url, secrets=dlg.secrets)

    def open_url(self, url: str | None, *, secrets: dict | None = None) -> None:
        if not url:
            return
        self.cancel_tasks()
        self._stop_watch(keep_for=url)  # re-reading the watched store: its watcher stays on
        self._load_generation += 1
        gen = self._load_generation
        self.url = url
        self._listing_started()
        self._watch_before_listing(url)
        self.banner.hide()
        self.empty_label.hide()
        self._retire_snapshot()  # nothing of the last store stays on screen or in use
        for m in (self.agents_model, self.docs_model, self.archived_model):
            m.clear()
        self._clear_panes()
        self._verify_note = ""
        self._verifying = False
        self.layout_label.setText("")
        self.count_label.setText(tr("Opening {0}…").format(url))
        self._set_source_status(url, "working")

        self._builder = None

        def work(partial, cancel):
            from ...storage.urls import open_store

            store = open_store(url, secrets=secrets, cache_bytes=int(self.prefs.cache_mb) << 20)
            check = getattr(store.objects, "check", None)
            if check:
                check()
            partial(("store", store))
            stream_refs(store, lambda batch: partial(("refs", batch)), cancel)
            return store

        self._start(work, tr("Listing"), on_result=lambda store: self._listing_done(gen, url, store),
                    on_error=lambda msg: self._open_failed(gen, url, msg),
                    on_partial=lambda item: self._listing_partial(gen, url, item))

    def _ask_secret(self, url: str) -> bool:
        """A saved connection without a usable secret key: ask for it (once), then retry."""
        from ...storage.base import StorageError
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

    def _listing_partial(self, gen: int, url: str, item) -> None:
        if gen != self._load_generation:
            return
        kind, value = item
        if kind == "store":
            self._builder = SnapshotBuilder(value)  # rows selected while the listing runs are read from it
            self.layout_label.setText(tr("layout: {0}").format(value.layout_name))
            self.layout_label.setToolTip(value.layout.description)
            return
        new, grown = self._builder.add(value)
        self.agents_model.append_rows(new["agent"])
        self.docs_model.append_rows(new["document"])
        self.archived_model.append_rows(new["archived"])
        models = {"agent": self.agents_model, "document": self.docs_model, "archived": self.archived_model}
        for row in grown:
            models["agent" if isinstance(row, AgentRow) else ("archived" if row.archived else "document")].row_changed(row)
        n = len(self._builder.documents)
        self.count_label.setText(tr("Listing… {0} documents so far").format(n))

    def _listing_done(self, gen: int, url: str, store) -> None:
        if gen != self._load_generation:
            store.close()
            return
        self._listing = False
        builder = self._builder or SnapshotBuilder(store)
        self._listed(gen, url, builder.snapshot(), models_filled=True)

    def _open_failed(self, gen: int, url: str, msg: str) -> None:
        if gen != self._load_generation:
            return
        self._listing = False
        self._stop_watch()  # nothing shown, nothing to keep up to date
        if url.startswith("profile:") and ("credentials" in msg or "Check the access key" in msg) \
                and getattr(self, "_secret_prompted", None) != url:
            if self._ask_secret(url):
                return
        self._retire_snapshot()
        self._builder = None
        for m in (self.agents_model, self.docs_model, self.archived_model):
            m.clear()
        self._clear_panes()
        self.show_error(tr("Cannot open {0}: {1}").format(url, msg))
        self.count_label.setText("")
        self._set_source_status(url, "error", msg)
        self.load_failed.emit(msg)

    @property
    def _store(self):
        """The open store: the snapshot's, or while a listing runs, the one being listed
        (never the last store's)."""
        if self.snapshot is not None:
            return self.snapshot.store
        b = getattr(self, "_builder", None)
        return b.store if b is not None else None

    def _retire_snapshot(self) -> None:
        """Forget the open store (closing it): its rows and verdicts must not be used for the next."""
        old, self.snapshot = self.snapshot, None
        b, self._builder = getattr(self, "_builder", None), None
        stores = [x.store for x in (old, b) if x is not None]
        for store in {id(st): st for st in stores}.values():
            try:
                store.close()
            except Exception:  # noqa: BLE001
                pass

    def _clear_panes(self) -> None:
        """Empty the verification, JSON, tree, diff, versions, attachments and preview panes."""
        self._current_doc = None
        self._current_agent = None
        self._versions_of = None
        self._current_doc_json = None
        self._shown_key = None
        self._shown_verdict = None
        for m in (self.versions_model, self.attachments_model, self.checks_model, self.diff_model):
            m.clear()
        self.json_view.clear()
        self.tree_model.set_document({})
        for combo in (self.diff_old, self.diff_new):
            combo.blockSignals(True)
            combo.clear()
            combo.blockSignals(False)
        self.preview_text.clear()
        self.preview_image.clear()
        self.preview_image.hide()
        self.preview_text.show()
        self.preview_warning.hide()
        self.preview_anyway.hide()
        self.verdict_label.setText(tr("Select an agent or a document."))
        self.retry_button.hide()
        self._update_actions()

    def _prune_panes(self) -> None:
        """Clear the panes when what they show is no longer listed (and visible) in the open store."""
        doc, agent = self._current_doc, self._current_agent
        if doc is not None:
            model = self.archived_model if doc.archived else self.docs_model
            if self._store is None or model.row_of(doc) < 0:
                self._clear_panes()
        elif agent is not None:
            if self._store is None or self.agents_model.row_of(agent) < 0:
                self._clear_panes()
        elif self._store is None and self._shown_key is not None:
            self._clear_panes()

    def _listed(self, gen: int, url: str, snap: Snapshot, models_filled: bool = False) -> None:
        if gen != self._load_generation:
            snap.store.close()
            return
        if self.snapshot is not None and self.snapshot.store is not snap.store:
            try:
                self.snapshot.store.close()
            except Exception:  # noqa: BLE001
                pass
        self.snapshot = snap
        self._secret_prompted = None
        self._remember(url)
        self._set_source_status(url, "connected")
        self.layout_label.setText(tr("layout: {0}").format(snap.store.layout_name))
        self.layout_label.setToolTip(snap.store.layout.description)
        if not models_filled:
            self.agents_model.set_rows(snap.agents)
            self.docs_model.set_rows(snap.documents)
            self.archived_model.set_rows(snap.archived)
        self._update_counts()
        if not snap.documents and not snap.agents:
            self.empty_label.setText(tr("<h3>This store is empty</h3><p>Create a signed document, or copy "
                                        "JACS data into it.</p>"))
            self.empty_label.show()
        self.setWindowTitle(tr("JACS Desktop — {0}").format(url))
        from ...jobs.demo import is_demo_store

        if "://" not in url and is_demo_store(url):
            self.setWindowTitle(tr("JACS Desktop — DEMO store (throwaway identity)"))
            self.banner.setText(tr("This is a demo store made with a throwaway identity. Nothing in it is real "
                                   "data; one document was changed after signing on purpose to show an invalid "
                                   "verdict."))
            self.banner.show()
        self._listing = False
        self._start_watch(snap)
        self._after_listing()
        self.store_opened.emit(url)

        def summaries(progress, cancel):
            from ...storage.index import IndexCache

            cache = None
            try:
                cache = IndexCache(snap.store.url)
            except Exception:  # noqa: BLE001 - the cache is optional
                cache = None
            try:
                return fill_summaries(snap, cache, progress=progress, cancel=cancel)
            finally:
                if cache is not None:
                    cache.close()

        self._start(summaries, tr("Reading"), on_result=lambda _s: self._summarized(gen))

    def _summarized(self, gen: int) -> None:
        if gen != self._load_generation or self.snapshot is None:
            return
        for m in (self.agents_model, self.docs_model, self.archived_model):
            m.rows_changed()
        for v in (self.agents_view, self.docs_view, self.archived_view):
            _fit_columns(v)
        target = getattr(self, "_select_after_load", None)
        if target:
            self._select_after_load = None
            for r in range(self.docs_model.rowCount()):
                if self.docs_model.row_object(r).id == target:
                    self.tabs.setCurrentIndex(1)
                    self.docs_view.selectRow(r)
                    break
        if self.prefs.verify_on_open:
            self.verify_all()

    # ------------------------------------------------------------------ verification
    def verify_all(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        gen = self._load_generation
        rows = list(snap.agents) + list(snap.documents) + list(snap.archived)
        models = {id(r): m for m, rs in ((self.agents_model, snap.agents), (self.docs_model, snap.documents),
                                         (self.archived_model, snap.archived)) for r in rs}
        pending: list = []

        def landed(row):  # worker thread: collect, the timer below repaints in batches
            pending.append(row)

        last_sort, unsorted = [0.0], {}

        def flush(final: bool = False):
            if gen != self._load_generation:
                return
            batch = []
            while pending:
                batch.append(pending.pop())
            touched: dict[int, list] = {}
            for row in batch:
                m = models.get(id(row))
                if m is not None:
                    touched.setdefault(id(m), [m, []])[1].append(row)
            for m, rows_ in touched.values():
                self._rows_verdicts_changed(m, rows_, resort=False)
                unsorted[id(m)] = m
            now = time.monotonic()
            if final or now - last_sort[0] >= 1.0:  # a big table is sorted again once a second, not per batch
                last_sort[0] = now
                for m in unsorted.values():
                    if m.sort_column == 0:
                        m.resort()
                unsorted.clear()
            self._update_counts()
            self._refresh_detail()

        timer = QTimer(self)
        timer.setInterval(150)
        timer.timeout.connect(flush)
        timer.start()
        total = sum(len(r.refs) for r in rows)

        def done(n):
            timer.stop()
            flush(final=True)
            timer.deleteLater()
            if gen == self._load_generation:
                self._verifying = False
                self._verify_note = tr("verified every version: {0} of {1}").format(n, total)
                self._update_counts()

        def failed(msg):
            timer.stop()
            self._verifying = False
            self.show_error(msg)

        self._verifying = True
        self._verify_note = tr("verifying every version ({0})…").format(total)
        self._update_counts()
        self._start(lambda progress, cancel: verify_rows(snap.store, rows, progress, cancel, landed),
                    tr("Verifying every version"), on_result=done, on_error=failed)

    def _rows_verdicts_changed(self, model: RowTableModel, rows: list, resort: bool = True) -> None:
        """Repaint rows whose verdicts changed; when sorted by verdict, sort again; the
        verdict column grows to show '✗ 1 of 6 versions invalid'."""
        if resort and model.sort_column == 0:
            model.resort()
        if len(rows) > 32:
            model.rows_changed()  # one repaint for a batch, not one per row
        else:
            for row in rows:
                model.row_changed(row)
        view = {id(self.agents_model): self.agents_view, id(self.docs_model): self.docs_view,
                id(self.archived_model): self.archived_view}.get(id(model))
        if view is not None and any(r.status != "valid" for r in rows):
            width = min(max(view.sizeHintForColumn(0), view.horizontalHeader().sectionSizeHint(0)), 260)
            if width > view.columnWidth(0):
                view.setColumnWidth(0, width)

    def _model_of(self, row) -> RowTableModel:
        if isinstance(row, AgentRow):
            return self.agents_model
        return self.archived_model if row.archived else self.docs_model

    def _verdicts_landed(self, row, pairs: list) -> None:
        """Verdicts for some versions of *row* arrived (GUI thread): row, counts, versions
        table, detail and actions follow."""
        for ref, verdict in pairs:
            row.set_verdict(ref.key, verdict)
        self._rows_verdicts_changed(self._model_of(row), [row])
        if row is self._current_doc:
            for v in self.versions_model.all_rows:
                got = row.verdicts.get(v.ref.key)
                if got is not None and got is not v.verdict:
                    v.verdict = got
                    self.versions_model.row_changed(v)
        self._update_counts()
        self._refresh_detail()
        self._update_actions()

    def _verify_versions_of(self, row, refs=None, *, retry: bool = False) -> None:
        """Verify *refs* of *row* (by default those not checked yet) off the GUI thread."""
        if self._store is None:
            return
        todo = list(refs) if refs is not None else [r for r in row.refs if r.key not in row.verdicts]
        if not todo:
            return
        gen, store = self._load_generation, self._store

        def work():
            if retry:
                for r in todo:
                    store.invalidate(r.key)
            return [(r, verify_ref(store, r)) for r in todo]

        def landed(pairs):
            if gen == self._load_generation:
                self._verdicts_landed(row, pairs)

        self._start(work, tr("Verifying versions"), on_result=landed, quiet=True)

    def retry_row(self, row) -> None:
        """Read every version of *row* again and verify it (after a read error)."""
        self._verify_versions_of(row, list(row.refs), retry=True)

    def retry_shown(self) -> None:
        """The Retry button: read the version in the verification panel again and verify it."""
        key = self._shown_key
        row = self._current_doc or self._current_agent
        if key is None or row is None:
            return
        ref = next((r for r in row.refs if r.key == key), None)
        if ref is not None:
            self.retry_button.setEnabled(False)
            self._verify_versions_of(row, [ref], retry=True)

    def _row_menu(self, view: QTableView, pos) -> None:
        idx = view.indexAt(pos)
        if idx.isValid():
            self._row_menu_shown = self.row_menu(view.model().row_object(idx.row()))
            self._row_menu_shown.popup(view.viewport().mapToGlobal(pos))

    def row_menu(self, row) -> QMenu:
        """The context menu of an agent or document row: Retry (after a read error), New version…"""
        menu = QMenu(self)
        retry = menu.addAction(tr("Retry: read and verify every version again") if row.status == "error"
                               else tr("Verify every version again"))
        retry.triggered.connect(lambda: self.retry_row(row))
        if isinstance(row, DocRow) and not row.archived:
            menu.addAction(self.act_new_version)
        return menu

    def _update_counts(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        docs = snap.documents
        parts = []
        for rows, what in ((docs, tr("{0} documents, {1} versions")), (snap.agents, tr("{0} agents, {1} versions"))):
            n, counts = count_versions(rows)
            parts.append(what.format(len(rows), n) + (": " + _status_counts(counts) if n else ""))
        if snap.archived:
            parts.append(tr("{0} archived").format(len(snap.archived)))
        shown = self.docs_model.rowCount()
        if shown != len(docs):
            parts.append(tr("{0} shown").format(shown))
        if self._verify_note:
            parts.append(self._verify_note)
        self.count_label.setText(" · ".join(parts))

    # ------------------------------------------------------------------ selection/detail
    def _agent_selected(self, cur: QModelIndex, _prev=None) -> None:
        if not cur.isValid() or self._store is None:
            return
        row: AgentRow = self.agents_model.row_object(cur.row())
        if row is self._current_agent:
            return  # the same agent again (its row moved when the table was sorted or filtered)
        self._current_doc, self._current_agent = None, row
        self._versions_of = None
        self.versions_model.clear()
        self.diff_model.clear()
        self._update_actions()
        self._verify_versions_of(row)  # the row shows the worst over all versions
        self._show_item(row.latest.key, row.verdict)

    def _with_bodies(self, keys: list[str], then) -> None:
        """Run *then* on the GUI thread once the bodies of *keys* are in memory: at
        once when they are cached, else after a worker has read them (a cold S3
        store must not freeze the window)."""
        store = self._store
        if store is None or all(store.is_cached(k) for k in keys):
            then()
            return
        gen = self._load_generation

        def read():
            for k in keys:
                try:
                    store.read(k)
                except Exception:  # noqa: BLE001 - shown when the body is used
                    pass

        self._start(read, tr("Reading"), on_result=lambda _r: then() if gen == self._load_generation else None,
                    quiet=True)

    def _doc_selected(self, model: RowTableModel, cur: QModelIndex) -> None:
        if not cur.isValid() or self._store is None:
            return
        row: DocRow = model.row_object(cur.row())
        if row is self._current_doc and self._versions_of is row:
            return  # the same document again (its row moved when the table was sorted or filtered)
        self._current_doc, self._current_agent = row, None
        self._versions_of = None
        self._update_actions()
        self._with_bodies([r.key for r in row.refs],
                          lambda: self._show_doc(row) if self._current_doc is row else None)

    def _show_doc(self, row: DocRow) -> None:
        store = self._store
        try:
            nodes = store.history(row.refs)
        except Exception as exc:  # noqa: BLE001 - a failed read: the versions are still listed (and 'error')
            log.info("history of %s: %s", row.id, exc)
            nodes = [HistoryNode(r.version, None, None, r.key) for r in row.refs]
        by_version = {r.version: r for r in row.refs}
        versions = [VersionRow(n, by_version[n.version], row.summaries.get(n.version, {}),
                               row.verdicts.get(by_version[n.version].key)) for n in nodes]
        latest_key = row.latest_ref().key
        self.versions_model.set_rows(versions)
        self._versions_of = row
        _fit_columns(self.versions_view)
        for combo in (self.diff_old, self.diff_new):
            combo.blockSignals(True)
            combo.clear()
            for v in versions:
                combo.addItem(f"{(v.node.date or '')[:19].replace('T', ' ')}  {v.node.version[:8]}", v.ref.key)
            combo.blockSignals(False)
        if len(versions) > 1:
            self.diff_old.setCurrentIndex(len(versions) - 2)
        self.diff_new.setCurrentIndex(len(versions) - 1)
        self._update_diff()
        self._verify_versions_of(row)  # every version: a bad one is never hidden behind a good latest
        idx = next((i for i, v in enumerate(versions) if v.ref.key == latest_key), len(versions) - 1)
        if versions:
            self.versions_view.selectRow(idx)
        self._show_item(latest_key, row.verdict)
        self._update_actions()

    def _version_selected(self, cur: QModelIndex, _prev=None) -> None:
        if not cur.isValid() or self._store is None:
            return
        v: VersionRow = self.versions_model.row_object(cur.row())
        row = self._current_doc
        if v.verdict is None and row is not None and v.ref.key not in row.verdicts:
            self._verify_versions_of(row, [v.ref])
        self._show_item(v.ref.key, v.verdict)

    def _show_item(self, key: str, verdict) -> None:
        self._shown_key = key
        self._with_bodies([key], lambda: self._show_body(key, verdict) if self._shown_key == key else None)

    def _show_body(self, key: str, verdict) -> None:
        store = self._store
        doc = None
        self._shown_verdict = verdict
        if store is not None:
            try:
                doc = store.read_json(key)
                self.json_view.setPlainText(display_json(doc))
                self.tree_model.set_document(doc)
                self.tree_view.expandToDepth(0)
                self.tree_view.resizeColumnToContents(0)
            except Exception as exc:  # noqa: BLE001
                self.json_view.setPlainText(tr("Cannot read {0}: {1}").format(key, exc))
                self.tree_model.set_document({})
        self._current_doc_json = doc
        self._fill_attachments(doc, verdict)
        self._render_verdict(key, verdict)

    def _render_verdict(self, key: str, verdict) -> None:
        """The verification panel: the shown version's verdict and checks, the worst
        over all versions of its row, and Retry after a read error."""
        self._shown_verdict = verdict
        self.retry_button.setVisible(verdict is not None and verdict.status == "error")
        self.retry_button.setEnabled(True)
        overall = self._overall_line(key)
        if verdict is None:
            self.verdict_label.setText(tr("<b>{0}</b><br>Not verified yet…").format(html.escape(key)) + overall)
            self.checks_model.clear()
            return
        head = f"<span style='font-size:14pt;color:{_color(verdict.status)}'><b>{_mark(verdict.status)}</b></span>"
        who = f"<br>{tr('Signer')}: {html.escape(signer_text(verdict))} ({html.escape(verdict.algorithm or '?')})"
        if verdict.public_key_hash:
            who += f"<br>{tr('Key hash')}: <code>{html.escape(verdict.public_key_hash[:32])}…</code>"
        if verdict.status == "error":
            who = ""  # nothing was read, so nothing is known about the signer
        reason = "" if verdict.status == "valid" else f"<br><b>{html.escape(reason_of(verdict))}</b>"
        name = f"{verdict.id}:{verdict.version}" if verdict.id else key
        text = f"{head}&nbsp; {html.escape(name)}{who}{reason}{overall}"
        if self.verdict_label.text() != text:
            self.verdict_label.setText(text)
        if self.checks_model.all_rows == verdict.checks:
            return  # the same checks (a repaint while other verdicts arrive)
        self.checks_model.set_rows(verdict.checks)
        self.checks_view.resizeColumnToContents(0)
        self.checks_view.resizeColumnToContents(1)
        header = self.checks_view.horizontalHeader()
        if header.sectionSize(1) > 170:
            header.resizeSection(1, 170)
        self.checks_view.resizeRowsToContents()

    def _overall_line(self, key: str) -> str:
        """'Over all 6 versions: ✗ 1 of 6 versions invalid (version 2da6…: reason)', for rows of many versions."""
        row = self._current_doc or self._current_agent
        if row is None or not any(r.key == key for r in row.refs) or len(row.refs) < 2:
            return ""
        agg = row.aggregate()
        text = f"{VERDICT_MARKS.get(agg.status, '')} {_agg_text(agg)}"
        if agg.worst is not None and agg.status != "valid" and agg.worst.path != key:
            text += f" — {tr('version')} {_short(agg.worst.version)}: {reason_of(agg.worst)}"
        return (f"<br><span style='color:{_color(agg.status)}'>"
                f"{tr('Over all {0} versions').format(agg.total)}: {html.escape(text)}</span>")

    def _refresh_detail(self) -> None:
        """Verdicts landed: the panel follows for the shown version and the row's worst."""
        row = self._current_doc or self._current_agent
        key = self._shown_key
        if row is None or key is None or not any(r.key == key for r in row.refs):
            return
        v = row.verdicts.get(key)
        if v is not None and v is not self._shown_verdict:
            self._show_item(key, v)
        elif self._current_doc_json is not None or self._shown_verdict is not None:
            self._render_verdict(key, self._shown_verdict)

    def _fill_attachments(self, doc: dict | None, verdict) -> None:
        items = []
        files = doc.get("jacsFiles") if isinstance(doc, dict) else None
        for f in files if isinstance(files, list) else []:
            if not isinstance(f, dict):
                continue
            a = dict(f)
            if a.get("embed") and isinstance(a.get("contents"), str):
                try:
                    a["_size"] = f"{len(gzip.decompress(base64.b64decode(a['contents']))):,} B"
                except Exception:  # noqa: BLE001
                    a["_size"] = tr("unreadable")
            else:
                a["_size"] = ""
            if verdict is not None:
                c = next((c for c in verdict.checks if c.name == f"attachment {a.get('path')}"), None)
                if c:
                    a["_status"], a["_reason"] = c.status, c.reason
            a["_risk"] = attachment_warning(a, verdict)
            items.append(a)
        self.attachments_model.set_rows(items)
        self.preview_attachment()

    # ------------------------------------------------------------------ attachments
    @staticmethod
    def _attachment_risk(a: dict) -> str | None:
        """Why this attachment is risky to open (its check failed, its version is invalid), or None."""
        return a.get("_risk")

    def _current_attachment(self) -> dict | None:
        idx = self.attachments_view.currentIndex()
        if not idx.isValid() or self._store is None:
            return None
        return self.attachments_model.row_object(idx.row())

    def _confirm_attachment(self, a: dict, action: str) -> bool:
        """A risky attachment: say why, let the user cancel. True to go on."""
        risk = self._attachment_risk(a)
        if not risk:
            return True
        name = Path(str(a.get("path") or "attachment")).name
        answer = QMessageBox.warning(
            self, tr("This attachment failed verification"),
            tr("{0} “{1}” anyway?\n\n{2}\n\nIts contents may not be what the signer signed.").format(
                action, name, risk),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    def _attachment_bytes(self, a: dict | None = None) -> tuple[str, bytes] | None:
        a = a if a is not None else self._current_attachment()
        if a is None or self._store is None:
            return None
        name = Path(str(a.get("path") or "attachment")).name
        if a.get("embed"):
            try:
                return name, gzip.decompress(base64.b64decode(a["contents"]))
            except Exception as exc:  # noqa: BLE001
                self.show_error(tr("The embedded attachment cannot be decoded: {0}").format(exc))
                return None
        try:
            data = self._store.read_attachment(str(a.get("path")))
        except StorageError as exc:
            self.show_error(tr("The external file {0} cannot be read: {1}").format(a.get("path"), exc))
            return None
        if data is None:
            self.show_error(tr("The external file {0} is not in this store").format(a.get("path")))
            return None
        return name, data

    def _attachments_mime(self, rows):
        """Dragging attachments out: write them to a temporary folder, offer the files.
        One that failed its check (or whose version is invalid) is not dragged out."""
        import tempfile

        from PySide6.QtCore import QMimeData

        refused = [a for a in rows if self._attachment_risk(a)]
        if refused:
            self.show_error(tr("Not dragged out: {0} — {1} Use Save As… to save it anyway.").format(
                ", ".join(str(a.get("path")) for a in refused), self._attachment_risk(refused[0])))
        mime = QMimeData()
        rows = [a for a in rows if not self._attachment_risk(a)]
        if not rows:
            return mime
        d = Path(tempfile.mkdtemp(prefix="jacs-desktop-drag-"))
        urls = []
        for a in rows:
            data = self._attachment_data(a)
            if data is None:
                continue
            p = d / Path(str(a.get("path") or "attachment")).name
            p.write_bytes(data)
            urls.append(QUrl.fromLocalFile(str(p)))
        mime.setUrls(urls)
        return mime

    def _attachment_data(self, a: dict) -> bytes | None:
        if a.get("embed"):
            try:
                return gzip.decompress(base64.b64decode(a["contents"]))
            except Exception:  # noqa: BLE001
                return None
        try:
            return self._store.read_attachment(str(a.get("path"))) if self._store else None
        except StorageError:
            return None

    def preview_attachment(self, confirm: bool = False) -> None:
        """Text and JSON as text, images as a picture, anything else described. One
        that failed its check is previewed only after a warning (*confirm*: ask now)."""
        self.preview_image.hide()
        self.preview_text.show()
        self.preview_warning.hide()
        self.preview_anyway.hide()
        a = self._current_attachment()
        if a is None:
            self.preview_text.clear()
            return
        risk = self._attachment_risk(a)
        if risk:
            if not a.get("_preview_ok"):
                if not confirm or not self._confirm_attachment(a, tr("Preview")):
                    self.preview_warning.setText(tr("⚠ Not previewed: {0}").format(risk))
                    self.preview_warning.show()
                    self.preview_anyway.show()
                    self.preview_text.clear()
                    return
                a["_preview_ok"] = True
            self.preview_warning.setText(tr("⚠ {0}").format(risk))
            self.preview_warning.show()
        if not a.get("embed") and "_data" not in a and self._store is not None:
            store = self._store  # an external file may be a network read: not on the GUI thread

            def fetched(data, a=a):
                a["_data"] = data
                if self._current_attachment() is a:
                    self.preview_attachment()

            self._start(lambda: store.read_attachment(str(a.get("path"))), tr("Reading"), on_result=fetched,
                        quiet=True)
            self.preview_text.setPlainText(tr("Reading…"))
            return
        data = a["_data"] if "_data" in a else self._attachment_data(a)
        mt = str(a.get("mimetype") or "")
        if data is None:
            self.preview_text.setPlainText(tr("The attachment is not available in this store."))
            return
        if mt.startswith("image/"):
            from PySide6.QtGui import QPixmap

            pm = QPixmap()
            if pm.loadFromData(data):
                self.preview_text.hide()
                self.preview_image.show()
                self.preview_image.setPixmap(pm.scaled(480, 320, Qt.AspectRatioMode.KeepAspectRatio,
                                                       Qt.TransformationMode.SmoothTransformation))
                return
        if mt.startswith("text/") or mt in ("application/json", "application/xml") or mt.endswith("+json"):
            text = data[:1_000_000].decode("utf-8", errors="replace")
            if mt.endswith("json"):
                try:
                    text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
                except ValueError:
                    pass
            self.preview_text.setPlainText(text)
            return
        self.preview_text.setPlainText(tr("{0}: {1:,} bytes — no preview for this type").format(mt or "?", len(data)))

    def save_attachment(self) -> None:
        a = self._current_attachment()
        if a is None or not self._confirm_attachment(a, tr("Save")):
            return
        got = self._attachment_bytes(a)
        if not got:
            return
        name, data = got
        dest, _ = QFileDialog.getSaveFileName(self, tr("Save attachment"), name)
        if dest:
            from ...core.identity import write_file_atomic

            try:
                write_file_atomic(Path(dest), data, 0o644)
            except OSError as exc:
                self.show_error(str(exc))

    def open_attachment(self) -> None:
        a = self._current_attachment()
        if a is None or not self._confirm_attachment(a, tr("Open")):
            return
        got = self._attachment_bytes(a)
        if not got:
            return
        import tempfile

        name, data = got
        d = Path(tempfile.mkdtemp(prefix="jacs-desktop-"))
        p = d / name
        p.write_bytes(data)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(p)))

    def _update_diff(self) -> None:
        if self._store is None or self.diff_old.count() == 0:
            self.diff_model.clear()
            return
        try:
            a = self._store.read_json(self.diff_old.currentData())
            b = self._store.read_json(self.diff_new.currentData())
        except Exception as exc:  # noqa: BLE001
            self.show_error(str(exc))
            return
        self.diff_model.set_rows(json_diff(a, b))

    # ------------------------------------------------------------------ search
    def _filter_changed(self, text: str) -> None:
        t = text.strip().lower()
        pred = None if not t else (lambda r, t=t: t in r.search_text())
        self.docs_model.set_filter(pred)
        self.archived_model.set_filter(pred)
        self.agents_model.set_filter(None if not t else (lambda a, t=t: t in f"{a.id} {a.name or ''}".lower()))
        self._after_filter()

    def _after_filter(self) -> None:
        """A filter hid the selected row: the panes are cleared; one still visible stays selected."""
        self._prune_panes()
        doc, agent = self._current_doc, self._current_agent
        if doc is not None:
            view, model = (self.archived_view, self.archived_model) if doc.archived else (self.docs_view, self.docs_model)
            view.selectRow(model.row_of(doc))
        elif agent is not None:
            self.agents_view.selectRow(self.agents_model.row_of(agent))
        self._update_counts()

    def _focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def full_text_search(self) -> None:
        text = self.search.text().strip()
        if not text or self.snapshot is None:
            return
        store = self.snapshot.store

        def show(hits):
            ids = {h[0] for h in hits}
            self.docs_model.set_filter(lambda r: r.id in ids)
            self._after_filter()
            self.count_label.setText(self.count_label.text() + " · " + tr("{0} full-text matches").format(len(ids)))

        self._start(lambda: store.search(text), tr("Searching"), on_result=show)

    # ------------------------------------------------------------------ actions
    def refresh(self) -> None:
        if self.url:
            if self._current_doc is not None and not self._current_doc.archived \
                    and not getattr(self, "_select_after_load", None):
                self._select_after_load = self._current_doc.id  # selected again once re-read
            if self.snapshot is not None:
                self.snapshot.store.invalidate()
            self.open_url(self.url)

    def _gentle_refresh(self) -> None:
        if self.url and self.workers.active == 0 and self.snapshot is not None and self._watcher is None:
            self.refresh()

    def copy_id(self) -> None:
        view = {0: self.agents_view, 1: self.docs_view, 2: self.archived_view}.get(self.tabs.currentIndex())
        if view is None:
            return
        idx = view.currentIndex()
        if idx.isValid():
            row = view.model().row_object(idx.row())
            QApplication.clipboard().setText(row.id)

    def reveal(self) -> None:
        if self.snapshot is None:
            return
        root = getattr(self.snapshot.store.objects, "root", None)
        if root is None:
            self.show_error(tr("Reveal in folder works for folder stores only"))
            return
        key = getattr(self, "_shown_key", None)
        target = Path(root) / key if key else Path(root)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(target.parent if key else target)))

    def show_error(self, message: str) -> None:
        self.banner.setText(message)
        self.banner.show()

    # ------------------------------------------------------------------ tasks
    def _start(self, fn, label: str, on_result=None, on_error=None, quiet: bool = False, on_partial=None):
        def progress(done, total, _msg):
            if total > 0:
                self.progress.setMaximum(total)
                self.progress.setValue(done)
                self.progress.setFormat(f"{label} %v/%m")

        def finished(task_ref=[None]):
            if task_ref[0] in self._tasks:
                self._tasks.remove(task_ref[0])
            if not self._tasks:
                self.progress.hide()
                self.cancel_button.hide()

        task_ref: list = [None]
        task = self.workers.run(fn, on_result=on_result, on_error=on_error or self.show_error,
                                on_progress=None if quiet else progress,
                                on_finished=lambda: finished(task_ref), on_partial=on_partial, name=label)
        task_ref[0] = task
        self._tasks.append(task)
        if not quiet:
            self.progress.setMaximum(0)
            self.progress.setFormat(label)
            self.progress.show()
            self.cancel_button.show()
        return task

    def cancel_clicked(self) -> None:
        """The Cancel button: work stops; a cancelled listing leaves the rows listed so far
        as the open store, and nothing else stays in the panes."""
        self.cancel_tasks()
        b = getattr(self, "_builder", None)
        if self.snapshot is None and b is not None:
            self.snapshot = b.snapshot()  # the listing stopped: what it found so far is what is shown
            self._verify_note = tr("listing cancelled")
            self._listing_cancelled()
        elif self._verifying:
            self._verify_note = tr("verification cancelled")
        self._prune_panes()
        self._update_counts()

    def cancel_tasks(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        self._tasks.clear()
        self.progress.hide()
        self.cancel_button.hide()

    # ------------------------------------------------------------------ live refresh
    # A folder store is watched for as long as it is open, re-reads included (a watcher
    # stopped while the listing runs loses what is written meanwhile). Change events mark
    # the list dirty; it is re-read once a burst settles (or every MAX_LAG_MS while one
    # lasts), never restarting a listing that runs: changes seen during it get one more
    # re-read after it. Events can still be lost (kernel queue overflow, a dead observer),
    # so after each listing and every RECONCILE_MS a listing of names is compared with
    # what is shown, and a watcher problem says so in the status bar and re-reads.
    def _init_live(self) -> None:
        self._bridge = _WatchBridge(self)
        self._bridge.changed.connect(self._changes_arrived)
        self._bridge.problem.connect(self._watch_problem)
        self._watch_url: str | None = None
        self._watch_root: Path | None = None
        self._listing = False
        self._changes_pending = False
        self._partial_listing = False
        self._reconcile_task = None
        self._stale_reason: str | None = None
        self._settle_timer = self._single_shot(self.SETTLE_MS, self._catch_up)
        self._lag_timer = self._single_shot(self.MAX_LAG_MS, self._catch_up)
        self._reconcile_timer = QTimer(self)
        self._reconcile_timer.setInterval(self.RECONCILE_MS)
        self._reconcile_timer.timeout.connect(self._periodic_check)
        self.watch_label = QLabel("", self.statusBar())
        self.watch_label.setObjectName("watch_label")
        self.watch_label.hide()
        self.statusBar().addWidget(self.watch_label)

    def _single_shot(self, ms: int, slot) -> QTimer:
        t = QTimer(self)
        t.setSingleShot(True)
        t.setInterval(ms)
        t.timeout.connect(slot)
        return t

    def _listing_started(self) -> None:
        self._listing = True
        self._partial_listing = False
        self._changes_pending = False  # what changed so far, this listing sees
        self._settle_timer.stop()
        self._lag_timer.stop()

    def _listing_cancelled(self) -> None:
        """What the cancelled listing found is what is shown: not re-read behind the user's back."""
        self._listing = False
        self._partial_listing = True
        self._settle_timer.stop()
        self._lag_timer.stop()

    def _after_listing(self) -> None:
        if self._changes_pending:
            self._settle_timer.start()  # changes arrived while listing: read again once they settle
        elif self._watcher is not None:
            self._reconcile()  # names written after the listing passed them, before the watcher started

    def _watch_before_listing(self, url: str) -> None:
        """A folder is watched before it is listed: what is written while the listing
        runs then gives events (heard, and re-read after the listing)."""
        if not self._watch_enabled or self._watcher is not None:
            return
        from ...storage.watch import folder_of

        folder = folder_of(url)
        if folder is not None:
            self._watch_folder(folder)

    def _start_watch(self, snap: Snapshot) -> None:
        root = getattr(snap.store.objects, "root", None)
        if root is None:
            self._stop_watch()
            self._refresh_timer.start()
            return
        if not self._watch_enabled:
            return
        self._watch_folder(Path(root).absolute())

    def _watch_folder(self, root: Path) -> None:
        if self._watcher is not None and self._watch_root == root:
            self._reconcile_timer.start()
            return  # kept through the re-read
        self._stop_watch()
        from ...storage.watch import StoreWatcher

        w = StoreWatcher(root, lambda _b: None)
        w.callback = lambda batch, w=w: self._bridge.changed.emit(w, batch)
        w.on_problem = lambda problem, w=w: self._bridge.problem.emit(w, problem)
        try:
            w.start()
        except Exception as exc:  # noqa: BLE001 - fall back to the timer
            log.info("watching %s failed: %s", root, exc)
            self._refresh_timer.start()
            return
        self._watcher, self._watch_root, self._watch_url = w, root, self.url
        self._reconcile_timer.start()

    def _stop_watch(self, keep_for: str | None = None) -> None:
        """Stop live updates; with *keep_for* the url being re-read, the watcher of that
        store stays on (its events during the listing are kept, not lost)."""
        self._refresh_timer.stop()
        self._settle_timer.stop()
        self._lag_timer.stop()
        if self._watcher is not None and keep_for is not None and keep_for == self._watch_url:
            return
        self._reconcile_timer.stop()
        self._set_watch_hint("")
        self._stale_reason = None
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        self._watch_root = self._watch_url = None

    def _changes_arrived(self, watcher, batch) -> None:
        if watcher is not self._watcher:
            return  # a stopped watcher's last batch
        self._changes_pending = True
        self._settle_timer.start()  # (re)started by every batch: fires once the burst settles
        if not self._lag_timer.isActive():
            self._lag_timer.start()

    def _catch_up(self) -> None:
        """Re-read the watched store for the changes seen (not while it is being listed:
        the listing's end comes back here while changes are pending)."""
        self._settle_timer.stop()
        self._lag_timer.stop()
        if not self.url or self._listing or self._partial_listing or not self._changes_pending:
            return
        self._changes_pending = False
        self.refresh()

    def _watch_problem(self, watcher, problem: str) -> None:
        if watcher is not self._watcher:
            return
        from ...storage.watch import OVERFLOW

        if problem == OVERFLOW:
            reason = tr("live updates lost changes (the system's queue of file events overflowed)")
        else:
            reason = tr("live updates failed ({0})").format(problem)
        log.warning("watching %s: %s", self._watch_root, problem)
        self._stale_reason = reason
        self._set_watch_hint(tr("⚠ The list may be out of date: {0}. Re-reading…").format(reason))
        self._changes_pending = True  # lost events may be changes to listed files too: a full re-read
        self._settle_timer.start()
        if not self._lag_timer.isActive():
            self._lag_timer.start()

    def _periodic_check(self) -> None:
        w = self._watcher
        if w is None:
            return
        if not w.healthy():
            log.warning("watching %s: the watcher stopped; restarting it", self._watch_root)
            w.stop()
            self._watcher = None
            if self.snapshot is not None:
                self._start_watch(self.snapshot)
            if self._watcher is not None:
                self._watch_problem(self._watcher, tr("the watcher had stopped; restarted"))
            return
        self._reconcile()

    def _reconcile(self) -> None:
        """Compare a listing of names (on a worker) with what is shown; re-read if they differ."""
        snap = self.snapshot
        task = self._reconcile_task
        if snap is None or self._listing or self._partial_listing or (task is not None and task in self._tasks):
            return
        gen, shown, store = self._load_generation, shown_identities(snap), snap.store

        def done(drift: Drift) -> None:
            if gen != self._load_generation or self.snapshot is not snap:
                return
            if drift:
                log.info("%s: %d versions not shown, %d shown but gone: re-reading", self.url,
                         len(drift.missing), len(drift.gone))
                if self._stale_reason is None:
                    self._stale_reason = tr("{0} changes had not been shown").format(drift.count)
                self._set_watch_hint(tr("⚠ The list was out of date: {0}. Re-reading…").format(self._stale_reason))
                self._changes_pending = True
                self._catch_up()
            elif self._stale_reason is not None and not self._changes_pending:
                self._set_watch_hint(tr("The list was re-read at {0} ({1}); it is up to date.").format(
                    time.strftime("%H:%M:%S"), self._stale_reason))
                self._stale_reason = None

        self._reconcile_task = self._start(lambda cancel: reconcile(store, shown, cancel), tr("Checking"),
                                           on_result=done, on_error=lambda msg: log.info("reconcile: %s", msg),
                                           quiet=True)

    def _set_watch_hint(self, text: str) -> None:
        self.watch_label.setText(text)
        self.watch_label.setToolTip(text)
        self.watch_label.setVisible(bool(text))

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
        wizard with them attached."""
        docs = [p for p in paths if _looks_like_jacs(p)]
        others = [p for p in paths if p not in docs and p.is_file()]
        if docs:
            self.verify_files(docs)
        if others:
            self.new_document(files=others)

    # ------------------------------------------------------------------ wizards
    def _wizard_store(self):
        if self.snapshot is None:
            self.show_error(tr("Open or create a store first: signed documents are stored in the open store."))
            return None
        return self.snapshot.store

    def new_document(self, _checked=False, files=()) -> None:
        store = self._wizard_store()
        if store is None:
            return
        from ..wizards import SignWizard

        wiz = SignWizard(store, self, files=list(files), workers=self.workers,
                         config_path=str(self.settings.value("last_identity", "") or ""))
        self._run_sign_wizard(wiz)

    def new_version(self) -> None:
        store = self._wizard_store()
        if store is None:
            return
        row = self._current_doc
        if row is None:
            self.show_error(tr("Select the document to make a new version of."))
            return
        refusal = self._new_version_refusal()
        if refusal:
            self.show_error(tr("New version refused: {0}").format(refusal))
            if any(r.key not in row.verdicts for r in row.refs):
                self._verify_versions_of(row)  # verify it first: the action is enabled once all are valid
            return
        try:
            previous = store.read_json(row.latest_ref().key)
        except Exception as exc:  # noqa: BLE001 - shown in the banner
            self.show_error(str(exc))
            return
        from ..wizards import SignWizard

        wiz = SignWizard(store, self, previous=previous, workers=self.workers,
                         config_path=str(self.settings.value("last_identity", "") or ""))
        self._run_sign_wizard(wiz)

    def _new_version_refusal(self) -> str | None:
        """Why *New version…* is not possible now (None when it is)."""
        if self.snapshot is None:
            return tr("open a store first")
        row = self._current_doc
        if row is None:
            return tr("select a document first")
        if self._versions_of is not row:
            return tr("its versions are still being read; it is verified first")
        nodes = [v.node for v in self.versions_model.all_rows]
        return new_version_refusal(row.latest_ref(), nodes, row.verdicts)

    def _update_actions(self) -> None:
        refusal = self._new_version_refusal()
        self.act_new_version.setEnabled(refusal is None)
        self.act_new_version.setToolTip(self._new_version_tip if refusal is None
                                        else tr("New version… is not possible: {0}").format(refusal))

    def _run_sign_wizard(self, wiz) -> None:
        def done(result):
            if isinstance(result, dict) and result.get("jacsId"):
                self.settings.setValue("last_identity", wiz.flow.state.get("config_path", ""))
                self._select_after_load = result["jacsId"]
                self.refresh()

        wiz.run_page.job_done.connect(done)
        self._show_wizard(wiz)

    def _selected_doc_ids(self) -> list[str]:
        rows = {i.row() for i in self.docs_view.selectionModel().selectedRows()}
        return [self.docs_model.row_object(r).id for r in sorted(rows)]

    def migrate_wizard(self) -> None:
        from ..wizards import MigrateWizard

        snap = self.snapshot
        wiz = MigrateWizard(self, source=self.url or "", source_store=snap.store if snap else None,
                            selected=self._selected_doc_ids() if snap else (), recent=self._recent(),
                            workers=self.workers, concurrency=int(self.prefs.concurrency))
        self._show_wizard(wiz)

    def backup_wizard(self) -> None:
        from ..wizards import BackupWizard

        snap = self.snapshot
        wiz = BackupWizard(self, source=self.url or "", source_store=snap.store if snap else None,
                           recent=self._recent(), workers=self.workers)
        self._show_wizard(wiz)

    def restore_wizard(self) -> None:
        from ..wizards import RestoreWizard

        wiz = RestoreWizard(self, target=self.url or "", recent=self._recent(), workers=self.workers)
        wiz.run_page.job_done.connect(lambda _r: self.refresh())
        self._show_wizard(wiz)

    def _show_wizard(self, wiz) -> None:
        self.active_wizard = wiz
        wiz.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wiz.show()

    def verify_files(self, paths: list[Path]) -> None:
        """Dropped files: JACS documents are verified with the open store's keys."""
        from ...core.verify import verify_bytes

        store = self.snapshot.store if self.snapshot else None
        results = []
        for p in paths:
            try:
                data = p.read_bytes()
            except OSError as exc:
                results.append((p, None, str(exc)))
                continue
            if not data.lstrip().startswith(b"{"):
                results.append((p, None, tr("not a JACS document (the signed-document wizard will take files)")))
                continue
            v = verify_bytes(data, store.keys() if store else None, store.read_attachment if store else None,
                             path=str(p))
            results.append((p, v, v.reason))
        self.dropped = results
        lines = [f"{p.name}: {_mark(v.status) if v else '–'} {reason}" for p, v, reason in results]
        last = next((v for _p, v, _r in reversed(results) if v is not None), None)
        if last is not None:
            self._clear_panes()
            self.verdict_label.setText("")
            self.checks_model.set_rows(last.checks)
            self._show_dropped(last)
        self.count_label.setText(tr("Dropped: ") + " · ".join(lines))

    def _show_dropped(self, verdict) -> None:
        head = f"<span style='color:{_color(verdict.status)}'><b>{_mark(verdict.status)}</b></span>"
        self.verdict_label.setText(f"{head} {tr('dropped file')} {verdict.path}<br><b>{verdict.reason}</b>")
        self.detail.setCurrentIndex(0)

    # ------------------------------------------------------------------ close
    def closeEvent(self, event) -> None:
        self.cancel_tasks()
        self._stop_watch()
        self.workers.wait(5000)
        store = self._store
        if store is not None:
            try:
                store.close()
            except Exception:  # noqa: BLE001
                pass
        super().closeEvent(event)


def _load_prefs():
    from ...storage.settings import Settings, load_settings

    try:
        return load_settings()
    except Exception as exc:  # noqa: BLE001 - a damaged settings file: defaults, and say so in the log
        log.warning("settings: %s", exc)
        return Settings()


def _looks_like_jacs(p: Path) -> bool:
    """A JSON object with JACS header fields (read at most the first 64 KiB)."""
    try:
        with open(p, "rb") as f:
            head = f.read(65536)
    except OSError:
        return False
    return head.lstrip().startswith(b"{") and (b'"jacsSignature"' in head or b'"jacsId"' in head
                                               or b'"jacsSha256"' in head)


def _fit_columns(view: QTableView, cap: int = 300) -> None:
    view.resizeColumnsToContents()
    header = view.horizontalHeader()
    for i in range(header.count()):
        if header.sectionSize(i) > cap:
            header.resizeSection(i, cap)
    header.setStretchLastSection(True)


def _compact(v: Any) -> str:
    if v is None:
        return ""
    t = json.dumps(v, ensure_ascii=False, sort_keys=True)
    return t if len(t) < 120 else t[:119] + "…"


def _color(status: str) -> str:
    return verdict_color(status)
