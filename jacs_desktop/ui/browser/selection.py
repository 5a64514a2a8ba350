"""What the panes show: the selected agent or document, its versions, the shown
version, its JSON, attachments and verdict.

``Selection`` answers the documents panel's selection signals: it reads the
bodies through the open ``StoreSession`` (``set_session``), verifies what is not
checked yet, and fills the versions table, the detail panel and the
attachments. It emits ``changed`` when what New version… may do changed, and
``counts_changed`` when verdicts landed (the status bar's counts follow).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from ...jobs.browse import AgentRow, DocRow, VersionRow, json_diff, new_version_refusal
from ...storage.store import HistoryNode
from .attachments import AttachmentsPanel
from .columns import tr
from .detail import DetailPanel, overall_line
from .documents import DocumentsPanel

if TYPE_CHECKING:
    from .session import StoreSession

__all__ = ["Selection"]

log = logging.getLogger(__name__)


class Selection(QObject):
    #: the selection or its verdicts changed (New version… follows)
    changed = Signal()
    #: verdicts landed (the counts follow)
    counts_changed = Signal()
    #: a failure to show in the banner
    error = Signal(object)

    def __init__(self, documents: DocumentsPanel, detail: DetailPanel, attachments: AttachmentsPanel,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.documents, self.detail, self.attachments = documents, detail, attachments
        self.session: StoreSession | None = None
        self.doc: DocRow | None = None
        self.agent: AgentRow | None = None
        self.doc_json: dict | None = None
        self.shown_key: str | None = None
        self.shown_verdict = None
        #: the document whose versions are in the versions table
        self.versions_of: DocRow | None = None
        documents.agent_selected.connect(self.agent_selected)
        documents.document_selected.connect(self.doc_selected)
        documents.version_selected.connect(self.version_selected)
        detail.retry_requested.connect(self.retry_shown)
        detail.diff_requested.connect(self._diff)
        from .repin import RepinOffer

        #: the detail pane's Re-pin… on a pin conflict (issue 15)
        self.repin = RepinOffer(detail, lambda: self.session, self)

    @property
    def row(self):
        return self.doc or self.agent

    @property
    def _store(self):
        return self.session.store if self.session is not None else None

    def set_session(self, session) -> None:
        self.session = session
        self.attachments.session = session
        self.clear()

    # ------------------------------------------------------------------ selection
    def agent_selected(self, row: AgentRow) -> None:
        if self._store is None or row is self.agent:
            return  # the same agent again (its row moved when the table was sorted or filtered)
        self.doc, self.agent = None, row
        self.versions_of = None
        self.documents.versions_model.clear()
        self.detail.clear_diff()
        self.changed.emit()
        self.verify_versions_of(row)  # the row shows the worst over all versions
        self._show_item(row.latest.key, row.verdict)

    def doc_selected(self, row: DocRow) -> None:
        if self.session is None or self.session.store is None or (row is self.doc and self.versions_of is row):
            return  # the same document again (its row moved when the table was sorted or filtered)
        self.doc, self.agent = row, None
        self.versions_of = None
        self.changed.emit()
        self.session.with_bodies([r.key for r in row.refs], lambda: self._show_doc(row) if self.doc is row else None)

    def _show_doc(self, row: DocRow) -> None:
        if self.session is None:
            return
        try:
            nodes = self.session.history(row.refs)
        except Exception as exc:
            log.info("history of %s: %s", row.id, exc)
            nodes = [HistoryNode(r.version, None, None, r.key) for r in row.refs]
        by_version = {r.version: r for r in row.refs}
        versions = [VersionRow(n, by_version[n.version], row.summaries.get(n.version, {}),
                               row.verdicts.get(by_version[n.version].key)) for n in nodes]
        latest_key = row.latest_ref().key
        self.documents.set_versions(versions)
        self.versions_of = row
        self.detail.set_versions(versions)
        self.verify_versions_of(row)  # every version: a bad one is never hidden behind a good latest
        idx = next((i for i, v in enumerate(versions) if v.ref.key == latest_key), len(versions) - 1)
        if versions:
            self.documents.select_version(idx)
        self._show_item(latest_key, row.verdict)
        self.changed.emit()

    def version_selected(self, v: VersionRow) -> None:
        if self._store is None:
            return
        row = self.doc
        if v.verdict is None and row is not None and v.ref.key not in row.verdicts:
            self.verify_versions_of(row, [v.ref])
        self._show_item(v.ref.key, v.verdict)

    # ------------------------------------------------------------------ the shown version
    def _show_item(self, key: str, verdict) -> None:
        self.shown_key = key
        if self.session is None:
            return
        self.session.with_bodies([key], lambda: self._show_body(key, verdict) if self.shown_key == key else None)

    def _show_body(self, key: str, verdict) -> None:
        doc = None
        self.shown_verdict = verdict
        if self.session is not None and self.session.store is not None:
            try:
                doc = self.session.read_json(key)
                self.detail.show_document(doc)
            except Exception as exc:
                self.detail.show_unreadable(key, exc)
        self.doc_json = doc
        self.attachments.fill(doc, verdict)
        self._render_verdict(key, verdict)

    def _render_verdict(self, key: str, verdict) -> None:
        self.shown_verdict = verdict
        self.detail.render_verdict(key, verdict, overall_line(self.row, key))

    def refresh_detail(self) -> None:
        """Verdicts landed: the panel follows for the shown version and the row's worst."""
        row, key = self.row, self.shown_key
        if row is None or key is None or not any(r.key == key for r in row.refs):
            return
        v = row.verdicts.get(key)
        if v is not None and v is not self.shown_verdict:
            self._show_item(key, v)
        elif self.doc_json is not None or self.shown_verdict is not None:
            self._render_verdict(key, self.shown_verdict)

    def _diff(self, old_key: str, new_key: str) -> None:
        session = self.session
        if session is None or session.store is None or not old_key or not new_key:
            self.detail.clear_diff()
            return

        def show():
            try:
                a, b = session.read_json(old_key), session.read_json(new_key)
            except Exception as exc:
                self.error.emit(exc)
                return
            self.detail.set_diff(json_diff(a, b))

        session.with_bodies([old_key, new_key], show)

    # ------------------------------------------------------------------ verification
    def verdicts_landed(self, row, pairs: list) -> None:
        """Verdicts for some versions of *row* arrived: row, counts, versions table,
        detail and actions follow."""
        for ref, verdict in pairs:
            row.set_verdict(ref.key, verdict)
        self.documents.verdicts_changed(self.documents.model_of(row), [row])
        if row is self.doc:
            self.documents.version_verdicts_changed(row)
            self.detail.refresh_version_labels()
        self.counts_changed.emit()
        self.refresh_detail()
        self.changed.emit()

    def verify_versions_of(self, row, refs=None, *, retry: bool = False) -> None:
        """Verify *refs* of *row* (by default those not checked yet) off the GUI thread."""
        if self.session is None or self.session.store is None:
            return
        todo = list(refs) if refs is not None else [r for r in row.refs if r.key not in row.verdicts]
        if todo:
            self.session.verify_refs(todo, lambda pairs: self.verdicts_landed(row, pairs), retry=retry)

    def retry_row(self, row) -> None:
        """Read every version of *row* again and verify it (after a read error)."""
        self.verify_versions_of(row, list(row.refs), retry=True)

    def retry_shown(self) -> None:
        """The Retry button: read the version in the verification panel again and verify it."""
        key, row = self.shown_key, self.row
        if key is None or row is None:
            return
        ref = next((r for r in row.refs if r.key == key), None)
        if ref is not None:
            self.detail.retrying()
            self.verify_versions_of(row, [ref], retry=True)

    def new_version_refusal(self) -> str | None:
        """Why *New version…* is not possible now (None when it is)."""
        if self.session is None or self.session.snapshot is None:
            return tr("open a store first")
        row = self.doc
        if row is None:
            return tr("select a document first")
        if self.versions_of is not row:
            return tr("its versions are still being read; it is verified first")
        nodes = [v.node for v in self.documents.versions_model.all_rows]
        return new_version_refusal(row.latest_ref(), nodes, row.verdicts)

    # ------------------------------------------------------------------ clearing
    def clear(self) -> None:
        """Empty the verification, JSON, tree, diff, versions, attachments and preview panes."""
        self.doc = self.agent = self.versions_of = None
        self.doc_json = self.shown_key = self.shown_verdict = None
        self.documents.versions_model.clear()
        self.attachments.clear()
        self.detail.clear()
        self.changed.emit()

    def prune(self) -> None:
        """Clear the panes when what they show is no longer listed (and visible) in the open store."""
        row = self.row
        if row is not None:
            if self._store is None or not self.documents.is_listed(row):
                self.clear()
        elif self._store is None and self.shown_key is not None:
            self.clear()

    def after_filter(self) -> None:
        """A filter hid the selected row: the panes are cleared; one still visible stays selected."""
        self.prune()
        if self.row is not None:
            self.documents.select(self.row)
