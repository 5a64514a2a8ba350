"""Qt models: the PySide6 pin regression and QAbstractItemModelTester."""

import sys

import PySide6
from PySide6.QtCore import Qt
from PySide6.QtTest import QAbstractItemModelTester

from jacs_desktop.ui.models import Column, RowTableModel


def _model():
    return RowTableModel([Column("n", lambda r: r[0]), Column("name", lambda r: r[1])])


def test_pyside_version_avoids_known_crash():
    version = tuple(int(x) for x in PySide6.__version__.split(".")[:2])
    if sys.version_info < (3, 12):
        assert version < (6, 12), "PySide6 6.12 on Python 3.11 crashes after a few thousand beginInsertRows"


def test_twenty_thousand_row_inserts(qtbot):
    """Regression for the PySide6 6.12.0 / Python 3.11 refcount crash."""
    model = _model()
    seen = []
    model.rowsInserted.connect(lambda parent, first, last: seen.append(last))
    for i in range(20_000):
        model.append_rows([(i, f"row {i}")])
    assert model.rowCount() == 20_000
    assert len(seen) == 20_000
    assert model.data(model.index(19_999, 1)) == "row 19999"


def test_model_passes_qabstractitemmodeltester(qtbot):
    model = _model()
    tester = QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    model.append_rows([(3, "c"), (1, "a"), (2, "b")])
    model.append_rows([(5, "e")])
    model.sort(1, Qt.SortOrder.DescendingOrder)
    assert [model.data(model.index(r, 1)) for r in range(4)] == ["e", "c", "b", "a"]
    model.sort(0, Qt.SortOrder.AscendingOrder)
    assert model.data(model.index(0, 0)) == "1"
    model.clear()
    assert model.rowCount() == 0
    assert model.rowCount(model.index(0, 0)) == 0
    assert model.headerData(0, Qt.Orientation.Horizontal) == "n"
    del tester


def test_sort_keeps_persistent_indexes(qtbot):
    model = _model()
    model.append_rows([(2, "b"), (1, "a")])
    p = model.index(0, 1)
    from PySide6.QtCore import QPersistentModelIndex

    pi = QPersistentModelIndex(p)
    model.sort(1)
    assert pi.row() == 1 and model.data(model.index(pi.row(), 1)) == "b"


def test_sort_is_applied_again_when_rows_change(qtbot):
    """Rows sorted by a column whose values arrive later (titles filled in by a
    worker) are in order once rows_changed() is called; sorting twice the same way
    does nothing."""
    from PySide6.QtCore import Qt

    from jacs_desktop.ui.models import Column, RowTableModel

    class R:
        def __init__(self, n):
            self.n, self.title = n, None

    rows = [R(i) for i in range(5)]
    m = RowTableModel([Column("Title", lambda r: r.title)])
    m.set_rows(rows)
    m.sort(0, Qt.SortOrder.AscendingOrder)
    for r, t in zip(rows, ["e", "c", "a", "d", "b"], strict=False):
        r.title = t
    m.rows_changed()
    assert [m.row_object(i).title for i in range(5)] == ["a", "b", "c", "d", "e"]
    m.set_filter(lambda r: r.title in ("b", "d"))
    rows[0].title = "d2"
    m.rows_changed()
    assert [m.row_object(i).title for i in range(m.rowCount())] == ["b", "d"]


def test_resort_after_keys_change_keeps_the_selection_and_the_filter(qtbot):
    """Verdicts arriving change the verdict column's sort keys: resort() puts rows in
    order again with a layout change (persistent indexes follow), not a reset."""
    from PySide6.QtCore import QPersistentModelIndex

    class R:
        def __init__(self, n):
            self.n, self.status = n, "pending"

    rows = [R(i) for i in range(6)]
    m = RowTableModel([Column("Verdict", lambda r: r.status), Column("n", lambda r: r.n)])
    tester = QAbstractItemModelTester(m, QAbstractItemModelTester.FailureReportingMode.Fatal)
    m.set_rows(rows)
    m.sort(0, Qt.SortOrder.AscendingOrder)
    assert m.sort_column == 0
    m.set_filter(lambda r: r.n != 5)
    p = QPersistentModelIndex(m.index(m.row_of(rows[3]), 1))
    resets = []
    m.modelReset.connect(lambda: resets.append(1))
    rows[3].status, rows[1].status = "invalid", "valid"
    m.resort()
    assert [m.row_object(i).n for i in range(m.rowCount())] == [3, 0, 2, 4, 1]
    assert resets == [] and m.row_object(p.row()) is rows[3]
    m.set_filter(lambda r: r.status != "valid")  # a filter that depends on the keys: reset when it changes
    rows[0].status = "valid"
    resets.clear()
    m.resort()
    assert resets == [1] and [m.row_object(i).n for i in range(m.rowCount())] == [3, 2, 4, 5]
    del tester


def test_rows_can_be_kept_from_being_dragged(qtbot):
    m = _model()
    m.append_rows([(1, "ok"), (2, "bad")])
    m.drag_enabled = lambda r: r[1] != "bad"
    assert m.flags(m.index(0, 0)) & Qt.ItemFlag.ItemIsDragEnabled
    assert not (m.flags(m.index(1, 0)) & Qt.ItemFlag.ItemIsDragEnabled)
    assert m.flags(m.index(1, 0)) & Qt.ItemFlag.ItemIsSelectable


def test_worker_failures_cross_as_exception_objects(qtbot):
    """on_failure gets the exception itself (the window reacts to its type), on_error its message."""
    from jacs_desktop.storage.base import AccessDenied
    from jacs_desktop.ui.workers import WorkerPool, message_of

    pool = WorkerPool()
    failures, messages = [], []

    def work():
        raise AccessDenied("S3 refused access")

    pool.run(work, on_failure=failures.append, on_error=messages.append)
    qtbot.waitUntil(lambda: bool(failures and messages), timeout=5000)
    assert isinstance(failures[0], AccessDenied) and messages == ["S3 refused access"]
    assert message_of(ValueError()) == "ValueError" and message_of("said") == "said"
    pool.wait(5000)
