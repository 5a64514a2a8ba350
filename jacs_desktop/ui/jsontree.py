"""A JSON document as a real tree model: objects and arrays fold; big strings
(embedded attachment contents, signatures) show their size, not base64 soup."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QCoreApplication, QModelIndex, QPersistentModelIndex, Qt

__all__ = ["JsonTreeModel"]

Index = QModelIndex | QPersistentModelIndex
BIG = 200


def tr(text: str) -> str:
    return QCoreApplication.translate("JsonTreeModel", text)


class _Node:
    __slots__ = ("children", "key", "parent", "row", "value")

    def __init__(self, key: str, value: Any, parent: _Node | None, row: int):
        self.key, self.value, self.parent, self.row = key, value, parent, row
        self.children: list[_Node] | None = None

    def kids(self) -> list[_Node]:
        if self.children is None:  # built on first expansion: cheap for big documents
            v = self.value
            if isinstance(v, dict):
                items = sorted(v.items())
            elif isinstance(v, list):
                items = [(f"[{i}]", x) for i, x in enumerate(v)]
            else:
                items = []
            self.children = [_Node(str(k), x, self, i) for i, (k, x) in enumerate(items)]
        return self.children


def preview(v: Any) -> str:
    if isinstance(v, dict):
        return tr("{{…}} {0} fields").format(len(v))
    if isinstance(v, list):
        return tr("[…] {0} items").format(len(v))
    if isinstance(v, str) and len(v) > BIG:
        return tr("<{0:,} characters>").format(len(v))
    return json.dumps(v, ensure_ascii=False)


class JsonTreeModel(QAbstractItemModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._root = _Node("", {}, None, 0)

    def set_document(self, doc: Any) -> None:
        self.beginResetModel()
        self._root = _Node("", doc if isinstance(doc, (dict, list)) else {"value": doc}, None, 0)
        self.endResetModel()

    def _node(self, index: Index) -> _Node:
        return index.internalPointer() if index.isValid() else self._root

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:
        if column < 0 or column >= 2 or row < 0:
            return QModelIndex()
        kids = self._node(parent).kids()
        if row >= len(kids):
            return QModelIndex()
        return self.createIndex(row, column, kids[row])

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        node: _Node = index.internalPointer()
        p = node.parent
        if p is None or p is self._root:
            return QModelIndex()
        return self.createIndex(p.row, 0, p)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self._node(parent).kids())

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 2

    def hasChildren(self, parent: Index = QModelIndex()) -> bool:
        if parent.isValid() and parent.column() != 0:
            return False
        v = self._node(parent).value
        return isinstance(v, (dict, list)) and len(v) > 0

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node: _Node = index.internalPointer()
        if role == Qt.ItemDataRole.DisplayRole:
            return node.key if index.column() == 0 else preview(node.value)
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 1 and isinstance(node.value, str):
            return node.value[:2000]
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return [tr("Field"), tr("Value")][section] if 0 <= section < 2 else None
        return None
