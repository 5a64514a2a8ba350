"""Item models shared by the views.

``RowTableModel`` is a flat table over Python row objects: sorting and
filtering happen in the model (no proxy model over 100k rows), rows are
appended in batches while a worker produces them, and a row whose data changed
(a verdict arrived) is refreshed in place.

With ``set_pager`` the model shows a ``jobs.doc_pages`` pager instead (a store
of a million documents): the pager counts, sorts and filters (in the database),
rows are asked for as they are shown, a filter whose total is not counted yet
grows by pages (``canFetchMore``/``fetchMore``). Changes of order keep the
selection (persistent indexes are moved); a change in the number of rows is a
reset, never thousands of row inserts.

Each row's sort key is computed once per column and kept (until the row is said to
have changed: ``row_changed``, ``rows_changed``, ``resort``), so sorting again by a
column compares the kept keys, and a batch of rows appended to a sorted table is
sorted on its own and merged into the sorted rows (each new row's place found by
binary search) instead of sorting every row again.

Size: one table model for both ways of holding rows (in memory, or a page at a time) with the
sorting, filtering and merging they share, so every view has one model class to deal with; the
merge itself is in ``sorted_rows``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPixmap

from ..jobs.common import gc_paused
from .sorted_rows import merge_sorted
from .theme import VERDICT_COLORS

__all__ = ["Column", "RowTableModel", "VERDICT_COLORS", "VERDICT_MARKS", "verdict_badge"]

Index = QModelIndex | QPersistentModelIndex

VERDICT_MARKS = {"valid": "✓", "invalid": "✗", "unverifiable": "?", "legacy": "L", "ok": "✓", "failed": "✗",
                 "warning": "!", "skipped": "–", "pending": "…", "error": "⚠"}


_BADGES: dict[tuple[str, str], QIcon] = {}


def verdict_badge(status: str | None) -> QIcon | None:
    """A verdict's badge: a disc in the verdict's colour with its mark cut out in white (so the
    verdict reads by colour, by shape and by the word beside it). Cached per colour."""
    color = VERDICT_COLORS.get(status or "")
    mark = VERDICT_MARKS.get(status or "", "")
    if not color or not mark:
        return None
    key = (color, mark)
    icon = _BADGES.get(key)
    if icon is None:
        pm = QPixmap(28, 28)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(color))
        p.drawEllipse(1, 1, 26, 26)
        font = QFont(p.font())
        font.setPixelSize(18)
        font.setBold(True)
        p.setFont(font)
        # the mark in the colour that stands out on the disc (white on dark, black on light)
        p.setPen(QColor("#ffffff" if QColor(color).lightnessF() < 0.6 else "#000000"))
        p.drawText(pm.rect(), int(Qt.AlignmentFlag.AlignCenter), mark)
        p.end()
        icon = _BADGES[key] = QIcon(pm)
    return icon


class Column:
    def __init__(self, title: str, getter: Callable[[Any], Any], *, tooltip: Callable[[Any], Any] | None = None,
                 sort_key: Callable[[Any], Any] | None = None, status: Callable[[Any], str | None] | None = None,
                 align_right: bool = False):
        self.title = title
        self.getter = getter
        self.tooltip = tooltip
        self.sort_key = sort_key
        #: a verdict/check status for this cell: colours it
        self.status = status
        self.align_right = align_right


def _default_key(v: Any):
    if v is None:
        return (1, "")
    if isinstance(v, (int, float)):
        return (0, v)
    return (0, str(v).lower())


class RowTableModel(QAbstractTableModel):
    RowRole = Qt.ItemDataRole.UserRole + 1
    StatusRole = Qt.ItemDataRole.UserRole + 2
    SortRole = Qt.ItemDataRole.UserRole + 3

    def __init__(self, columns: Sequence[Column], parent=None):
        super().__init__(parent)
        self._columns = list(columns)
        self._all: list[Any] = []
        #: the rows of _all in the order they came (and were made: the order they lie in memory)
        self._arrival: list[Any] = []
        self._rows: list[Any] = []
        self._filter: Callable[[Any], bool] | None = None
        self._sort: tuple[int, Qt.SortOrder] | None = None
        self._pos: dict[int, int] | None = None
        #: each column's kept sort keys, by id() of the row (the rows are held in _all)
        self._keys: dict[int, dict[int, Any]] = {}
        #: _all is in the order of the kept keys of the sort column (a row said to have changed
        #: may be out of place until the next sort)
        self._in_order = False
        #: the sort keys of _all, in its order, once a merge asked for them (only while _in_order)
        self._all_keys: list[Any] | None = None
        #: optional: rows -> QMimeData, to drag rows out (attachments to the file manager)
        self.mime_provider: Callable[[list[Any]], Any] | None = None
        #: optional: whether a row may be dragged out (default: every row)
        self.drag_enabled: Callable[[Any], bool] | None = None
        #: a jobs.doc_pages pager (rows read a page at a time) and each column's sort name
        self._pager: Any = None
        self._sort_names: Sequence[str] = ()

    # -- paged mode ---------------------------------------------------------------
    @property
    def pager(self) -> Any:
        return self._pager

    def set_pager(self, pager: Any, sort_names: Sequence[str]) -> None:
        """Show *pager*'s rows (in the chosen order and filter, which it is told)."""
        self.beginResetModel()
        self._pager, self._sort_names = pager, list(sort_names)
        self._all, self._arrival, self._rows, self._pos = [], [], [], None
        if self._sort is not None and self._sort[0] < len(self._sort_names):
            pager.set_order(self._sort_names[self._sort[0]], self._sort[1] == Qt.SortOrder.DescendingOrder)
        self.endResetModel()

    def refresh(self) -> None:
        """Paged: the rows changed in the store (rows added, summaries read): read again."""
        if self._pager is None:
            self.rows_changed()
            return
        self._pager_relayout(lambda: self._pager.refresh())

    def _pager_relayout(self, change: Callable[[], None]) -> None:
        """*change* the pager's order; the selection follows its rows (a reset when the
        number of rows changes)."""
        before = self._pager.count()
        # the rows the persistent indexes (selection, current) are on, before the change
        old = {idx.row(): self._pager.row(idx.row()) for idx in self.persistentIndexList()
               if idx.isValid() and idx.row() < before}
        change()  # nothing reads the model in between: the signals below come before any repaint
        if self._pager.count() != before:
            self.beginResetModel()
            self.endResetModel()
            return
        self.layoutAboutToBeChanged.emit()  # the selection model saves its indexes (on the old rows) here
        for idx in self.persistentIndexList():
            r = old.get(idx.row()) if idx.isValid() else None
            if r is not None:
                new_row = self._pager.position(r)
                self.changePersistentIndex(idx, self.index(new_row, idx.column()) if new_row >= 0
                                           else QModelIndex())
        self.layoutChanged.emit()

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:
        return self._pager is not None and not parent.isValid() and self._pager.more()

    def endResetModel(self) -> None:
        self._in_reset = True  # views and testers ask for more rows while modelReset is handed out
        try:
            super().endResetModel()
        finally:
            self._in_reset = False

    def fetchMore(self, parent: Index = QModelIndex()) -> None:
        # not while a reset is still being announced (rows inserted then would land inside it);
        # the view asks again once it lays the rows out
        if getattr(self, "_in_reset", False) or not self.canFetchMore(parent):
            return
        self._in_reset = True
        try:
            rows = self._pager.load_more()
        finally:
            self._in_reset = False
        if not rows:
            self._pager.accept(rows)
            return
        first = self._pager.count()
        self._in_reset = True  # (as in endResetModel: no second page inside this insert)
        try:
            self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)  # one insert per page
            self._pager.accept(rows)
            self.endInsertRows()
        finally:
            self._in_reset = False

    def _row_at(self, i: int) -> Any:
        return self._pager.row(i) if self._pager is not None else self._rows[i]

    def _count(self) -> int:
        return self._pager.count() if self._pager is not None else len(self._rows)

    # -- Qt interface ---------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._count()

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < self._count()) or index.column() >= len(self._columns):
            return None
        row = self._row_at(index.row())
        col = self._columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            v = col.getter(row)
            return "" if v is None else str(v)
        if role == Qt.ItemDataRole.ToolTipRole and col.tooltip is not None:
            return col.tooltip(row)
        if role == Qt.ItemDataRole.ForegroundRole and col.status is not None:
            color = VERDICT_COLORS.get(col.status(row) or "")
            return QBrush(QColor(color)) if color else None
        if role == Qt.ItemDataRole.DecorationRole and col.status is not None:
            return verdict_badge(col.status(row))
        if role == Qt.ItemDataRole.TextAlignmentRole and col.align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == self.RowRole:
            return row
        if role == self.StatusRole and col.status is not None:
            return col.status(row)
        if role == self.SortRole:
            return col.getter(row)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        horizontal = role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal
        if horizontal and 0 <= section < len(self._columns):
            return self._columns[section].title
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        row = index.row()
        if self.drag_enabled is None or (0 <= row < self._count() and self.drag_enabled(self._row_at(row))):
            flags |= Qt.ItemFlag.ItemIsDragEnabled
        return flags

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list"]

    def mimeData(self, indexes):
        if self.mime_provider is None:
            return super().mimeData(indexes)
        rows = sorted({i.row() for i in indexes if i.isValid()})
        return self.mime_provider([self._row_at(r) for r in rows])

    # -- sorting and filtering, in the model ------------------------------------
    def _key_fn(self, column: int) -> Callable[[Any], Any]:
        col = self._columns[column]
        if col.sort_key is not None:
            return col.sort_key
        getter = col.getter
        return lambda r: _default_key(getter(r))

    def _keys_of(self, column: int, rows: Sequence[Any]) -> list[Any]:
        """The sort keys of *rows* by *column*: the kept ones, the others computed and kept."""
        kept = self._keys.setdefault(column, {})
        ids = list(map(id, rows))
        if len(kept) >= len(ids):
            with contextlib.suppress(KeyError):  # (the usual, sorting again: every key kept)
                return list(map(kept.__getitem__, ids))
        fn = self._key_fn(column)
        # every row's keys made in the order the rows came, the order they lie in memory (in a
        # sorted table's order they are scattered: 100,000 keys took up to twice as long)
        many = len(ids) > 10_000
        source = self._arrival if many and rows is self._all and len(self._arrival) == len(rows) else rows
        # (100,000 new keys, none in a cycle: without the collector, which would walk every
        # object of the store's rows several times while they are made: 0.7 s of 1.4)
        with gc_paused(many):
            if not kept:  # (a column not sorted by yet: every key, without a loop in Python)
                kept.update(zip(map(id, source), map(fn, source), strict=True))
            else:
                for r in source:
                    i = id(r)
                    if i not in kept:
                        kept[i] = fn(r)
        return list(map(kept.__getitem__, ids))

    def _forget_keys(self) -> None:
        self._keys.clear()
        self._all_keys = None
        self._in_order = False

    def _sort_all(self) -> None:
        self._all_keys = None
        if self._sort is None:
            self._in_order = False
            return
        column, order = self._sort
        keys = self._keys_of(column, self._all)
        # (stable, and in reverse as list.sort(reverse=True): rows with equal keys keep their order)
        order_ = sorted(range(len(keys)), key=keys.__getitem__, reverse=order == Qt.SortOrder.DescendingOrder)
        self._all = list(map(self._all.__getitem__, order_))
        self._in_order = True  # (the keys in that order only when a merge needs them: a sort is not kept waiting)

    def _sorted_keys(self) -> list[Any]:
        """The sort keys of _all in its order (while _in_order)."""
        assert self._sort is not None and self._in_order
        if self._all_keys is None:
            self._all_keys = self._keys_of(self._sort[0], self._all)
        return self._all_keys

    def _merge(self, new: Sequence[Any]) -> None:
        """Merge *new* into the sorted _all, each row where sorting them all would put it."""
        assert self._sort is not None
        column, order = self._sort
        self._all, self._all_keys = merge_sorted(self._all, self._sorted_keys(), new, self._keys_of(column, new),
                                                 order == Qt.SortOrder.DescendingOrder)

    def _apply(self) -> None:
        f = self._filter
        self._rows = self._all if f is None else [r for r in self._all if f(r)]
        self._pos = None

    @property
    def sort_column(self) -> int | None:
        """The column the rows are sorted by (None: in the order they came)."""
        return self._sort[0] if self._sort is not None else None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not (0 <= column < len(self._columns)):
            return
        if self._sort == (column, order):
            return  # already in this order (the view asks again when the header indicator moves)
        if self._pager is not None:
            self._sort = (column, order)
            if column < len(self._sort_names):
                name, desc = self._sort_names[column], order == Qt.SortOrder.DescendingOrder
                self._pager_relayout(lambda: self._pager.set_order(name, desc))
            return
        self._relayout((column, order))

    def resort(self) -> None:
        """The rows' sort keys changed (verdicts arrived): put them in order again,
        keeping the selection; the filter is applied again too (a reset only when it
        now keeps other rows)."""
        if self._pager is not None:
            self._pager_relayout(lambda: self._pager.refresh())
            return
        self._forget_keys()
        if self._filter is not None:
            f = self._filter
            if sum(1 for r in self._all if f(r)) != len(self._rows) or any(not f(r) for r in self._rows):
                self.beginResetModel()
                self._sort_all()
                self._apply()
                self.endResetModel()
                return
        if self._sort is not None:
            self._relayout(self._sort)

    def _relayout(self, sort: tuple[int, Qt.SortOrder]) -> None:
        self.layoutAboutToBeChanged.emit()
        old = self._rows
        persistent = [idx for idx in self.persistentIndexList() if idx.isValid() and idx.row() < len(old)]
        moved = [(idx, old[idx.row()]) for idx in persistent]
        self._sort = sort
        self._sort_all()
        self._apply()
        if moved:
            pos = _positions(self._rows, [r for _idx, r in moved])
            for idx, r in moved:
                new_row = pos.get(id(r))
                self.changePersistentIndex(idx, self.index(new_row, idx.column()) if new_row is not None
                                           else QModelIndex())
        self.layoutChanged.emit()

    def set_filter(self, predicate: Callable[[Any], bool] | None, *, text: str | None = None,
                   ids: frozenset[str] | None = None) -> None:
        """Keep the rows *predicate* keeps. Paged, the pager filters: *text* (the rows
        whose search text contains it) and *ids* say the same as *predicate*."""
        self.beginResetModel()
        self._filter = predicate
        if self._pager is not None:
            self._pager.set_filter(text or "", ids)
        else:
            self._apply()
        self.endResetModel()

    # -- mutation ---------------------------------------------------------------
    def append_rows(self, rows: Sequence[Any]) -> None:
        if not rows or self._pager is not None:
            return
        self._arrival.extend(rows)
        if self._sort is not None or self._filter is not None:
            # keep the chosen order and filter: the batch merged into the sorted rows; one
            # insert when it all goes after them and nothing is filtered (one per batch, as
            # unsorted: PySide6 6.12 fails after thousands of inserts), else one reset
            if self._sort is not None and self._in_order:
                column, order = self._sort
                new_keys = self._keys_of(column, rows)
                all_keys = self._sorted_keys()
                last = all_keys[-1] if all_keys else None
                desc = order == Qt.SortOrder.DescendingOrder
                at_end = self._filter is None and (last is None or (
                    not (last < max(new_keys)) if desc else not (min(new_keys) < last)))
                if at_end:
                    first = len(self._rows)
                    self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
                    self._merge(rows)
                    self._apply()
                    self.endInsertRows()
                    return
                self.beginResetModel()
                self._merge(rows)
            else:
                self.beginResetModel()
                self._all.extend(rows)
                self._sort_all()
            self._apply()
            self.endResetModel()
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self._all.extend(rows)
        self._rows = self._all
        self._pos = None
        self.endInsertRows()

    def set_rows(self, rows: Sequence[Any]) -> None:
        self.beginResetModel()
        self._pager = None
        self._forget_keys()
        self._all = list(rows)
        self._arrival = list(rows)
        self._sort_all()
        self._apply()
        self.endResetModel()

    def clear(self) -> None:
        self.set_rows([])

    def row_changed(self, row_obj: Any) -> None:
        """Tell views that *row_obj*'s data changed."""
        if self._pager is not None:
            j = self._pager.cached_position(row_obj)
            if j is not None:
                self.dataChanged.emit(self.index(j, 0), self.index(j, len(self._columns) - 1))
            return
        for kept in self._keys.values():  # its keys are computed again when asked for
            kept.pop(id(row_obj), None)
        self._all_keys = None  # (the order stands until it is sorted again: no row moves here)
        self._in_order = False
        if self._pos is None:
            self._pos = {id(r): i for i, r in enumerate(self._rows)}
        i = self._pos.get(id(row_obj))
        if i is not None:
            self.dataChanged.emit(self.index(i, 0), self.index(i, len(self._columns) - 1))

    def rows_changed(self) -> None:
        """Many rows' data changed (summaries filled in): the chosen order and filter
        are applied again, since they may depend on what changed. Paged: repainted
        (``refresh`` reads the order again)."""
        if self._pager is not None:
            n = self._pager.count()
            if n:
                self.dataChanged.emit(self.index(0, 0), self.index(n - 1, len(self._columns) - 1))
            return
        self._forget_keys()
        if self._filter is not None or self._sort is not None:
            self.resort()
            if self._rows:
                self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, len(self._columns) - 1))
        elif self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, len(self._columns) - 1))

    def row_object(self, row: int) -> Any:
        return self._row_at(row)

    def row_of(self, row_obj: Any) -> int:
        if self._pager is not None:
            i: int = self._pager.position(row_obj)
            return i
        if self._pos is None:
            self._pos = {id(r): i for i, r in enumerate(self._rows)}
        return self._pos.get(id(row_obj), -1)

    @property
    def rows(self) -> list[Any]:
        """The rows shown (paged: every row of the pager, read; for small tables)."""
        if self._pager is not None:
            return [self._pager.row(i) for i in range(self._pager.count())]
        return list(self._rows)

    @property
    def all_rows(self) -> list[Any]:
        return self.rows if self._pager is not None else list(self._all)


def _positions(rows: list, wanted: list) -> dict[int, int]:
    """Where the *wanted* objects are now in *rows*, by identity. A few (the usual
    selection) are found with list.index, a C loop, when their class compares by
    identity; many, with one pass."""
    unique = {id(r): r for r in wanted}
    if len(unique) <= 16 and all(type(r).__eq__ is object.__eq__ for r in unique.values()):
        out = {}
        for key, r in unique.items():
            with contextlib.suppress(ValueError):
                out[key] = rows.index(r)
        return out
    return {id(r): i for i, r in enumerate(rows) if id(r) in unique}
