"""The browser's tables: their columns, the text in their cells, how a table view is set up.

Every table of the window (agents, documents, archived, versions, attachments,
checks, diff) is a ``RowTableModel`` over rows of ``jobs.browse``; the columns
are defined here, once. ``tr`` is the browser's translation context
("BrowserWindow"), shared by its panels.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from ...jobs.browse import BADNESS, reason_of
from ..models import VERDICT_MARKS, Column, RowTableModel

__all__ = [
    "tr", "plural", "mark", "row_mark", "agg_text", "row_tip", "status_counts", "short", "compact",
    "agent_columns", "document_columns", "version_columns", "attachment_columns", "check_columns",
    "diff_columns", "make_table", "fit_columns", "FORK_MARK",
]

#: marks a fork in the version tree: U+22D4 PITCHFORK, which DejaVu Sans, Noto and the Windows and
#: macOS symbol fonts draw (U+2442 ⑂, used before, rendered as a box with common fonts)
FORK_MARK = "\u22d4"


def tr(text: str) -> str:
    return QCoreApplication.translate("BrowserWindow", text)


def plural(n: int, one: str, many: str) -> str:
    """'1 agent' / '2 agents': ``one`` and ``many`` are tr() texts with ``{0}`` for the number."""
    return (tr(one) if n == 1 else tr(many)).format(n)


def mark(status: str | None) -> str:
    return f"{VERDICT_MARKS.get(status or '', '')} {status or ''}".strip()


def row_mark(row) -> str:
    """A row's verdict over all its versions: '✗ 1 of 6 versions invalid'."""
    agg = row.aggregate()
    return f"{VERDICT_MARKS.get(agg.status, '')} {agg_text(agg)}".strip()


def agg_text(agg) -> str:
    """Aggregate.text, through tr(): 'invalid', '1 of 6 versions invalid', '4 of 6 versions checked'."""
    n = agg.counts.get(agg.status, 0)
    if agg.total <= 1 or n == agg.total:
        return agg.status
    if agg.status == "pending":
        return tr("{0} of {1} versions checked").format(agg.total - n, agg.total)
    return tr("{0} of {1} versions {2}").format(n, agg.total, agg.status)


def row_tip(row) -> str:
    agg = row.aggregate()
    latest = row.verdict
    if agg.status == "pending":
        lines = [tr("not verified yet") if not agg.counts.get("valid")
                 else tr("{0} of {1} versions verified so far").format(agg.total - agg.counts.get("pending", 0),
                                                                      agg.total)]
    else:
        lines = [tr("worst over {0} versions: {1}").format(agg.total, agg_text(agg))]
        if agg.worst is not None and agg.status != "valid":
            lines.append(f"{short(agg.worst.version)}: {reason_of(agg.worst)}")
    if latest is not None and agg.total > 1:
        lines.append(tr("latest version: {0}").format(latest.status))
    return "\n".join(lines)


_STATUS_WORDS = {"valid": "valid", "invalid": "invalid", "error": "read error", "legacy": "legacy",
                 "unverifiable": "unverifiable", "pending": "not checked"}


def status_counts(counts: dict[str, int]) -> str:
    """'38 valid, 1 invalid, 1 not checked': valid first, then worst to least bad, not checked last."""
    order = ["valid"] + [s for s in BADNESS if s != "valid" and s != "pending"] + ["pending"]
    order += [s for s in counts if s not in order]
    return ", ".join(f"{counts[s]} {tr(_STATUS_WORDS.get(s, s))}" for s in order if counts.get(s))


def short(v: str | None, n: int = 8) -> str:
    return "" if not v else (v if len(v) <= n + 1 else v[:n] + "…")


def compact(v: Any) -> str:
    if v is None:
        return ""
    t = json.dumps(v, ensure_ascii=False, sort_keys=True)
    return t if len(t) < 120 else t[:119] + "…"


# ---------------------------------------------------------------------- columns
def agent_columns() -> list[Column]:
    return [
        Column(tr("Verdict"), row_mark, status=lambda r: r.status, tooltip=row_tip,
               sort_key=lambda r: r.aggregate().sort_key),
        Column(tr("Name"), lambda r: r.name),
        Column(tr("Type"), lambda r: r.type),
        Column(tr("Id"), lambda r: r.id, tooltip=lambda r: r.id),
        Column(tr("Versions"), lambda r: r.versions, align_right=True),
        Column(tr("Algorithm"), lambda r: r.algorithm),
        Column(tr("Key hash"), lambda r: short(r.key_hash, 16), tooltip=lambda r: r.key_hash),
    ]


def document_columns() -> list[Column]:
    """The documents table and the archived table."""
    return [
        Column(tr("Verdict"), row_mark, status=lambda r: r.status, tooltip=row_tip,
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


def version_columns() -> list[Column]:
    return [
        Column(tr("Verdict"), lambda r: mark(r.status), status=lambda r: r.status,
               tooltip=lambda r: reason_of(r.verdict) if r.verdict else ""),
        Column(tr("Version"),
               lambda r: ("  " * r.node.depth) + (f"{FORK_MARK} " if r.node.fork else "") + r.node.version,
               tooltip=lambda r: tr("fork: its parent has more than one next version") if r.node.fork
               else r.node.version),
        Column(tr("Date"), lambda r: (r.node.date or "")[:23].replace("T", " ")),
        Column(tr("Previous"), lambda r: short(r.node.previous)),
        Column(tr("Signer"), lambda r: r.signer_label(),
               tooltip=lambda r: (r.verdict.signer if r.verdict else None) or r.summary.get("signer") or ""),
        Column(tr("Attachments"), lambda r: r.summary.get("attachments"), align_right=True),
    ]


def attachment_columns() -> list[Column]:
    """Rows are the document's ``jacsFiles`` entries with ``_size``, ``_status``,
    ``_reason`` and ``_risk`` (why opening it is risky) added."""
    return [
        Column(tr("Name"), lambda a: a.get("path")),
        Column(tr("Type"), lambda a: a.get("mimetype")),
        Column(tr("Size"), lambda a: a.get("_size"), align_right=True),
        Column(tr("Stored"), lambda a: tr("embedded") if a.get("embed") else tr("external")),
        Column(tr("Hash"), lambda a: mark(a.get("_status")), status=lambda a: a.get("_status"),
               tooltip=lambda a: a.get("_reason") if a.get("_risk") is None else
               tr("{0}\nOpening, saving or previewing it asks first; it cannot be dragged out.").format(
                   a.get("_risk"))),
    ]


def check_columns() -> list[Column]:
    return [
        Column("", lambda c: VERDICT_MARKS.get(c.status, "?"), status=lambda c: c.status),
        Column(tr("Check"), lambda c: c.name),
        Column(tr("Result"), lambda c: c.reason, tooltip=lambda c: c.reason),
    ]


def _full(v: Any) -> str:
    """A diff value whole, for its tooltip (at most 2,000 characters)."""
    if v is None:
        return ""
    t = json.dumps(v, ensure_ascii=False, sort_keys=True, indent=1)
    return t if len(t) <= 2000 else t[:1999] + "…"


def diff_columns() -> list[Column]:
    return [
        Column(tr("Change"), lambda d: d.kind, status=lambda d: {"removed": "failed", "added": "ok",
                                                                  "changed": "warning"}[d.kind]),
        Column(tr("Field"), lambda d: d.path),
        Column(tr("Signed"), lambda d: "✓" if d.signed else ""),
        Column(tr("Before"), lambda d: compact(d.old), tooltip=lambda d: _full(d.old)),
        Column(tr("After"), lambda d: compact(d.new), tooltip=lambda d: _full(d.new)),
    ]


# ---------------------------------------------------------------------- views
def make_table(model: RowTableModel, parent: QWidget, sortable: bool = True) -> QTableView:
    v = QTableView(parent)
    v.setModel(model)
    v.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    v.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    v.setSortingEnabled(sortable)
    v.setAlternatingRowColors(True)
    v.verticalHeader().hide()
    v.verticalHeader().setDefaultSectionSize(22)
    v.horizontalHeader().setStretchLastSection(True)
    v.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    # columns fitted to the rows shown and 100 more (Qt's default, 1,000, asked a 100,000-row
    # table for 30,000 cells: a second with the window frozen once the titles were read)
    v.horizontalHeader().setResizeContentsPrecision(100)
    v.setDragEnabled(True)
    return v


#: a view property: set when the user's widths were restored, so fit_columns leaves them alone
KEEP_WIDTHS = "jacs_keep_widths"


def fit_columns(view: QTableView, cap: int = 300) -> None:
    """Columns as wide as their contents (at most ``cap``), unless the user's widths were restored."""
    if view.property(KEEP_WIDTHS):
        return
    view.resizeColumnsToContents()
    header = view.horizontalHeader()
    for i in range(header.count()):
        if header.sectionSize(i) > cap:
            header.resizeSection(i, cap)
    header.setStretchLastSection(True)
