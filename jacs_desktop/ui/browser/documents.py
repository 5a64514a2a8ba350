"""The centre of the window: the filter, the agents / documents / archived tables,
and under the documents the versions of the selected one (plus the pages other
panels add there: attachments, preview). It says what was selected; it reads nothing."""

from __future__ import annotations

import time
from typing import cast

from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QSplitter, QTableView, QTabWidget, QVBoxLayout, QWidget

from ...jobs.browse import AgentRow
from ...jobs.doc_pages import SORT_NAMES, SqlPager
from ..banner import Banner
from ..models import RowTableModel
from .columns import agent_columns, document_columns, fit_columns, make_table, tr, version_columns

__all__ = ["DocumentsPanel"]

AGENTS, DOCUMENTS, ARCHIVED = 0, 1, 2


class DocumentsPanel(QWidget):
    #: an agent row became current
    agent_selected = Signal(object)
    #: a document row (of the documents or the archived table) became current
    document_selected = Signal(object)
    #: a version row became current
    version_selected = Signal(object)
    #: the filter text changed (the tables are filtered already)
    filtered = Signal()
    #: Enter in the filter: search the full text for it
    full_text_requested = Signal(str)
    #: right click on a row: (row, global position)
    row_menu_requested = Signal(object, QPoint)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        cl = QVBoxLayout(self)
        cl.setContentsMargins(0, 6, 0, 0)
        top = QHBoxLayout()
        self.search = QLineEdit(self)
        self.search.setPlaceholderText(tr("Filter by id, title, signer, type — Enter searches the full text"))
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._filter_changed)
        self.search.returnPressed.connect(lambda: self.full_text_requested.emit(self.search.text().strip()))
        top.addWidget(self.search, 1)
        # Escape in the filter clears it (the clear button does the same with the mouse)
        esc = QShortcut(QKeySequence(Qt.Key.Key_Escape), self.search, self.search.clear)
        esc.setContext(Qt.ShortcutContext.WidgetShortcut)
        self.layout_label = QLabel("", self)
        top.addWidget(self.layout_label)
        cl.addLayout(top)
        self.banner = Banner(self)  # errors and information, each dismissible
        cl.addWidget(self.banner)
        self.empty_label = QLabel("", self)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.hide()
        cl.addWidget(self.empty_label)
        #: "No matches …": the filter hides every row of the table shown, and what to do next
        self.no_match_label = QLabel("", self)
        self.no_match_label.setWordWrap(True)
        self.no_match_label.hide()
        cl.addWidget(self.no_match_label)
        self.tabs = QTabWidget(self)
        cl.addWidget(self.tabs, 1)

        self.agents_model = RowTableModel(agent_columns(), self)
        self.docs_model = RowTableModel(document_columns(), self)
        self.archived_model = RowTableModel(document_columns(), self)
        self.agents_view = make_table(self.agents_model, self)
        self.docs_view = make_table(self.docs_model, self)
        self.archived_view = make_table(self.archived_model, self)
        self.tabs.addTab(self.agents_view, tr("Agents"))
        docs_page = QSplitter(Qt.Orientation.Vertical, self.tabs)
        docs_page.setObjectName("documents")
        docs_page.addWidget(self.docs_view)
        self.lower_tabs = QTabWidget(docs_page)
        self.versions_model = RowTableModel(version_columns(), self)
        self.versions_view = make_table(self.versions_model, self, sortable=False)
        self.lower_tabs.addTab(self.versions_view, tr("Versions"))
        docs_page.addWidget(self.lower_tabs)
        docs_page.setSizes([500, 260])
        self.tabs.addTab(docs_page, tr("Documents"))
        self.tabs.addTab(self.archived_view, tr("Archived"))
        self.tabs.currentChanged.connect(lambda _i: self.update_no_match())
        self.tabs.setCurrentIndex(DOCUMENTS)
        self.docs_view.selectionModel().currentRowChanged.connect(
            lambda cur, _p: self._row_current(self.docs_model, cur))
        self.archived_view.selectionModel().currentRowChanged.connect(
            lambda cur, _p: self._row_current(self.archived_model, cur))
        self.agents_view.selectionModel().currentRowChanged.connect(
            lambda cur, _p: self._row_current(self.agents_model, cur))
        for view in (self.agents_view, self.docs_view, self.archived_view):
            view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            view.customContextMenuRequested.connect(lambda pos, v=view: self._menu_at(v, pos))
        self.versions_view.selectionModel().currentRowChanged.connect(self._version_current)
        self._last_sort = 0.0
        self._unsorted: dict[int, RowTableModel] = {}

    def add_lower_tab(self, page: QWidget, title: str) -> None:
        """A page beside Versions, under the documents table."""
        self.lower_tabs.addTab(page, title)

    # ------------------------------------------------------------------ signals out
    def _row_current(self, model: RowTableModel, cur: QModelIndex) -> None:
        if cur.isValid():
            row = model.row_object(cur.row())
            (self.agent_selected if model is self.agents_model else self.document_selected).emit(row)

    def _version_current(self, cur: QModelIndex, _prev=None) -> None:
        if cur.isValid():
            self.version_selected.emit(self.versions_model.row_object(cur.row()))

    def _menu_at(self, view: QTableView, pos) -> None:
        idx = view.indexAt(pos)
        if idx.isValid():
            model = cast(RowTableModel, view.model())  # every table here shows a RowTableModel
            self.row_menu_requested.emit(model.row_object(idx.row()), view.viewport().mapToGlobal(pos))

    def _filter_changed(self, text: str) -> None:
        t = text.strip().lower()
        pred = None if not t else (lambda r: t in r.search_text())
        self.docs_model.set_filter(pred, text=t)
        self.archived_model.set_filter(pred, text=t)
        self.agents_model.set_filter(None if not t else (lambda a: t in f"{a.id} {a.name or ''}".lower()))
        self.update_no_match()
        self.filtered.emit()

    def update_no_match(self) -> None:
        """Show the next step when the filter leaves the table shown empty (and only then)."""
        text = self.search.text().strip()
        view = self.tabs.currentWidget()
        model = {self.agents_view: self.agents_model, self.archived_view: self.archived_model}.get(
            cast(QTableView, view), self.docs_model)
        empty = bool(text) and model.rowCount() == 0
        if empty:
            self.no_match_label.setText(tr("No matches for “{0}”. Press Enter to search the full text of every "
                                           "document, or Escape to clear the filter.").format(text))
        self.no_match_label.setVisible(empty)

    # ------------------------------------------------------------------ rows
    @property
    def row_models(self) -> tuple[RowTableModel, RowTableModel, RowTableModel]:
        return self.agents_model, self.docs_model, self.archived_model

    def model_of(self, row) -> RowTableModel:
        if isinstance(row, AgentRow):
            return self.agents_model
        return self.archived_model if row.archived else self.docs_model

    def view_of(self, model: RowTableModel) -> QTableView | None:
        return {id(self.agents_model): self.agents_view, id(self.docs_model): self.docs_view,
                id(self.archived_model): self.archived_view}.get(id(model))

    def clear(self) -> None:
        for m in self.row_models:
            m.clear()
        self.versions_model.clear()

    def set_snapshot(self, snap) -> None:
        self.agents_model.set_rows(snap.agents)
        self.docs_model.set_rows(snap.documents)
        self.archived_model.set_rows(snap.archived)

    def add_rows(self, new: dict, grown: list) -> None:
        """A listing batch: new rows appended, rows that got versions repainted. For a
        store read a page at a time: ``paged`` (its two tables) shows them, ``synced``
        (rows another program wrote were summarized) reads them again."""
        if new.get("paged") is not None:
            live, archived = new["paged"]
            text = self.search.text().strip().lower()
            for model, table in ((self.docs_model, live), (self.archived_model, archived)):
                pager = SqlPager(table)
                if text:
                    pager.set_filter(text)
                model.set_pager(pager, SORT_NAMES)
        elif new.get("synced") is not None:
            for model in (self.docs_model, self.archived_model):
                model.refresh()
        self.agents_model.append_rows(new["agent"])
        self.docs_model.append_rows(new["document"])
        self.archived_model.append_rows(new["archived"])
        for row in grown:
            self.model_of(row).row_changed(row)
        if self.no_match_label.isVisible() or self.search.text().strip():
            self.update_no_match()

    def summaries_landed(self, rows=None) -> None:
        """A batch of document *rows* got their titles and signers: the part of the table they
        are in repainted (a batch of rows not shown repaints nothing; all rows when *rows* is
        not given); sorted and filtered again once every batch is in, ``summaries_read``."""
        for m in (self.docs_model, self.archived_model):
            if m.pager is None and m.rowCount():
                where = [i for i in map(m.row_of, rows) if i >= 0] if rows is not None else [0, m.rowCount() - 1]
                if where:
                    m.dataChanged.emit(m.index(min(where), 0), m.index(max(where), m.columnCount() - 1))

    def summaries_read(self) -> None:
        for m in self.row_models:
            if m.pager is not None:
                m.refresh()  # the signers' names are searched too now
            else:
                m.rows_changed()
        for v in (self.agents_view, self.docs_view, self.archived_view):
            fit_columns(v)

    def verdicts_changed(self, model: RowTableModel, rows: list, resort: bool = True) -> None:
        """Repaint rows whose verdicts changed; when sorted by verdict, sort again; the
        verdict column grows to show '✗ 1 of 6 versions invalid'."""
        if resort and model.sort_column == 0:
            model.resort()
        if len(rows) > 32:
            model.rows_changed()  # one repaint for a batch, not one per row
        else:
            for row in rows:
                model.row_changed(row)
        view = self.view_of(model)
        if view is not None and any(r.status != "valid" for r in rows):
            width = min(max(view.sizeHintForColumn(0), view.horizontalHeader().sectionSizeHint(0)), 260)
            if width > view.columnWidth(0):
                view.setColumnWidth(0, width)

    def verdicts_batch(self, rows: list, final: bool = False) -> None:
        """Rows that got verdicts while everything is verified: repainted per batch; a
        table sorted by verdict is sorted again once a second (and at the end), not per batch."""
        touched: dict[int, list] = {}
        for row in rows:
            m = self.model_of(row)
            touched.setdefault(id(m), [m, []])[1].append(row)
        for m, rows_ in touched.values():
            self.verdicts_changed(m, rows_, resort=False)
            self._unsorted[id(m)] = m
        now = time.monotonic()
        if final or now - self._last_sort >= 1.0:
            self._last_sort = now
            for m in self._unsorted.values():
                if m.sort_column == 0:
                    m.resort()
            self._unsorted.clear()

    def is_listed(self, row) -> bool:
        """Listed, and not hidden by the filter."""
        return self.model_of(row).row_of(row) >= 0

    def select(self, row) -> None:
        model = self.model_of(row)
        view = self.view_of(model)
        if view is not None:
            view.selectRow(model.row_of(row))

    def select_document_id(self, doc_id: str) -> bool:
        pager = self.docs_model.pager
        if pager is not None:  # a store read a page at a time: found by id, not by reading every row
            row = pager.docs.row_by_id(doc_id)
            r = self.docs_model.row_of(row) if row is not None else -1
            if r >= 0:
                self.tabs.setCurrentIndex(DOCUMENTS)
                self.docs_view.selectRow(r)
            return r >= 0
        for r in range(self.docs_model.rowCount()):
            if self.docs_model.row_object(r).id == doc_id:
                self.tabs.setCurrentIndex(DOCUMENTS)
                self.docs_view.selectRow(r)
                return True
        return False

    def filter_to_ids(self, ids: set) -> None:
        self.docs_model.set_filter(lambda r: r.id in ids, ids=frozenset(ids))

    def current_row(self):
        """The current row of the table on show (None on none)."""
        view = {AGENTS: self.agents_view, DOCUMENTS: self.docs_view, ARCHIVED: self.archived_view}.get(
            self.tabs.currentIndex())
        if view is None:
            return None
        idx = view.currentIndex()
        return cast(RowTableModel, view.model()).row_object(idx.row()) if idx.isValid() else None

    def selected_doc_ids(self) -> list[str]:
        rows = {i.row() for i in self.docs_view.selectionModel().selectedRows()}
        return [self.docs_model.row_object(r).id for r in sorted(rows)]

    # ------------------------------------------------------------------ versions
    def set_versions(self, versions) -> None:
        self.versions_model.set_rows(versions)
        fit_columns(self.versions_view)

    def select_version(self, i: int) -> None:
        self.versions_view.selectRow(i)

    def version_verdicts_changed(self, row) -> None:
        for v in self.versions_model.all_rows:
            got = row.verdicts.get(v.ref.key)
            if got is not None and got is not v.verdict:
                v.verdict = got
                self.versions_model.row_changed(v)

    # ------------------------------------------------------------------ messages
    def show_banner(self, text: str, kind: str = "error") -> None:
        """*kind*: ``error`` (something failed) or ``info`` (a notice, such as the demo store's)."""
        self.banner.show_message(text, kind)

    def show_empty(self, text: str) -> None:
        self.empty_label.setText(text)
        self.empty_label.show()

    def set_layout_name(self, store) -> None:
        self.layout_label.setText(tr("layout: {0}").format(store.layout_name))
        self.layout_label.setToolTip(store.layout.description)

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()
