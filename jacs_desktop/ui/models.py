"""Item models shared by the views."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

__all__ = ["Column", "RowTableModel"]

Index = QModelIndex | QPersistentModelIndex


class Column:
    def __init__(self, title: str, getter: Callable[[Any], Any], tooltip: Callable[[Any], Any] | None = None):
        self.title = title
        self.getter = getter
        self.tooltip = tooltip


class RowTableModel(QAbstractTableModel):
    """A flat table over a list of row objects, with columns as getters.

    Sorting happens in the model (no proxy), rows can be appended in batches
    while a worker produces them.
    """

    RowRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, columns: Sequence[Column], parent=None):
        super().__init__(parent)
        self._columns = list(columns)
        self._rows: list[Any] = []

    # -- Qt interface ---------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return None
        row = self._rows[index.row()]
        col = self._columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            v = col.getter(row)
            return "" if v is None else str(v)
        if role == Qt.ItemDataRole.ToolTipRole and col.tooltip is not None:
            return col.tooltip(row)
        if role == self.RowRole:
            return row
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            if 0 <= section < len(self._columns):
                return self._columns[section].title
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not (0 <= column < len(self._columns)):
            return
        getter = self._columns[column].getter
        self.layoutAboutToBeChanged.emit()
        old = list(self._rows)
        self._rows.sort(key=lambda r: (getter(r) is None, str(getter(r) or "")),
                        reverse=order == Qt.SortOrder.DescendingOrder)
        pos = {id(r): i for i, r in enumerate(self._rows)}
        for idx in self.persistentIndexList():
            if idx.isValid() and idx.row() < len(old):
                self.changePersistentIndex(idx, self.index(pos[id(old[idx.row()])], idx.column()))
        self.layoutChanged.emit()

    # -- mutation -------------------------------------------------------------
    def append_rows(self, rows: Sequence[Any]) -> None:
        if not rows:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self._rows.extend(rows)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows = []
        self.endResetModel()

    def row_object(self, row: int) -> Any:
        return self._rows[row]

    @property
    def rows(self) -> list[Any]:
        return list(self._rows)
