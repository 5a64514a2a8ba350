"""The table model's kept sort keys and merged batches (issue 14: a 100,000-row folder's
open must not sort every row again per listing batch): the rows end in exactly the order
sorting them all again gives (ties in the order they were in, the new ones after; both
directions, filtered or not, with rows changed between batches), under QAbstractItemModelTester; each row's key is computed once
per column until the row changes; a batch that sorts after the rows shown is one insert,
not a reset."""

import random

from PySide6.QtCore import QPersistentModelIndex, Qt
from PySide6.QtTest import QAbstractItemModelTester

from jacs_desktop.ui.models import Column, RowTableModel

ASC, DESC = Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder


class Row:
    def __init__(self, n, name):
        self.n, self.name = n, name


def _model(calls=None):
    def counted(r):
        if calls is not None:
            calls.append(r)
        return r.n

    return RowTableModel([Column("n", lambda r: r.n, sort_key=counted), Column("name", lambda r: r.name)])


def _shown(m):
    return [m.row_object(i) for i in range(m.rowCount())]


def _expected(before, column, order, keep=None):
    """The rows *before* (in their order) sorted, as the model did before merging (stable)."""
    key = (lambda r: r.n) if column == 0 else (lambda r: (0, r.name.lower()))
    rows = sorted(before, key=key, reverse=order == DESC)
    return [r for r in rows if keep is None or keep(r)]


def test_merged_batches_are_in_the_order_a_full_sort_gives(qtbot):
    rnd = random.Random(14)
    for column, order, keep in ((0, ASC, None), (0, DESC, None), (1, ASC, None), (1, DESC, None),
                                (0, ASC, lambda r: r.n % 3 != 0), (1, DESC, lambda r: "b" in r.name)):
        m = _model()
        QAbstractItemModelTester(m, QAbstractItemModelTester.FailureReportingMode.Fatal)
        m.sort(column, order)
        if keep is not None:
            m.set_filter(keep)
        arrived = []
        for batch in range(12):
            rows = [Row(rnd.randrange(40), rnd.choice(["a", "B", "b", "c", "ab"]) + str(rnd.randrange(4)))
                    for _ in range(rnd.randrange(1, 30))]
            if batch % 4 == 3 and arrived:  # a row already shown changes its key (it has grown)
                changed = rnd.choice(arrived)
                changed.n, changed.name = rnd.randrange(40), "c9"
                m.row_changed(changed)
            want = _expected(m.all_rows + rows, column, order, keep)
            m.append_rows(rows)
            arrived += rows
            assert _shown(m) == want, (column, order, batch)
        assert sorted(map(id, m.all_rows)) == sorted(map(id, arrived))
        # the other way round, then back: the same rows, the same ties
        for again in (DESC if order == ASC else ASC, order):
            want = _expected(m.all_rows, column, again, keep)
            m.sort(column, again)
            assert _shown(m) == want


def test_each_key_is_computed_once_until_the_row_changes(qtbot):
    calls = []
    m = _model(calls)
    m.sort(0, ASC)
    rows = [Row(n, f"r{n}") for n in range(3000)]
    random.Random(1).shuffle(rows)
    for i in range(0, 3000, 300):
        m.append_rows(rows[i:i + 300])
    assert len(calls) == 3000  # not once per row per batch
    m.sort(1, ASC)
    m.sort(0, DESC)
    m.sort(0, ASC)
    assert len(calls) == 3000  # sorted again by the kept keys
    assert [r.n for r in _shown(m)] == list(range(3000))
    rows[0].n = -1
    m.row_changed(rows[0])
    m.append_rows([Row(5000, "last")])
    assert len(calls) == 3002  # the changed row and the new one
    assert _shown(m)[0] is rows[0] and _shown(m)[-1].name == "last"
    m.rows_changed()  # every row may have changed: every key computed again
    assert len(calls) == 3002 + 3001


def test_a_batch_after_the_rows_shown_is_one_insert_and_keeps_the_selection(qtbot):
    m = _model()
    QAbstractItemModelTester(m, QAbstractItemModelTester.FailureReportingMode.Fatal)
    m.sort(0, ASC)
    m.append_rows([Row(n, "x") for n in (5, 1, 3)])
    p = QPersistentModelIndex(m.index(1, 1))  # the row with 3
    resets, inserts = [], []
    m.modelReset.connect(lambda: resets.append(True))
    m.rowsInserted.connect(lambda _parent, first, last: inserts.append((first, last)))
    m.append_rows([Row(n, "y") for n in (9, 5, 7)])  # all sort after (a tie with the last: after it)
    assert inserts == [(3, 5)] and not resets
    assert [r.n for r in _shown(m)] == [1, 3, 5, 5, 7, 9] and _shown(m)[2].name == "x"
    assert p.isValid() and p.row() == 1
    m.append_rows([Row(2, "z")])  # goes between: one reset
    assert resets == [True] and [r.n for r in _shown(m)] == [1, 2, 3, 5, 5, 7, 9]


def test_the_documents_table_sorted_by_verdict_as_verdicts_arrive(qtbot):
    """The real Verdict column: unchecked rows (one shared aggregate per number of versions)
    and checked ones sort by how bad they are; a verdict that arrives moves its row once the
    table is sorted again (``resort``), the kept keys being forgotten."""
    from jacs_desktop.core.verify import Verdict
    from jacs_desktop.jobs.browse import DocRow
    from jacs_desktop.storage.layout import Ref
    from jacs_desktop.ui.browser.columns import document_columns

    def row(i, versions):
        refs = [Ref("document", f"d{i}", f"v{v}", f"documents/d{i}:v{v}.json", 10, 1.0) for v in range(versions)]
        return DocRow(f"d{i}", refs, title=f"t{i}")

    rows = [row(i, 1 + i % 2) for i in range(6)]
    rows[1].set_verdict(rows[1].refs[0].key, Verdict("invalid"))
    rows[2].set_verdict(rows[2].refs[0].key, Verdict("valid"))
    assert rows[0].aggregate() is rows[4].aggregate() and rows[0].status == "pending"
    assert rows[1].status == "invalid" and rows[3].aggregate().total == 2
    m = RowTableModel(document_columns())
    QAbstractItemModelTester(m, QAbstractItemModelTester.FailureReportingMode.Fatal)
    m.sort(0, DESC)  # the worst first
    m.append_rows(rows[:3])
    m.append_rows(rows[3:])
    assert _shown(m)[0] is rows[1] and _shown(m)[-1] is rows[2]
    rows[5].set_verdict(rows[5].refs[0].key, Verdict("invalid"))
    rows[5].set_verdict(rows[5].refs[1].key, Verdict("invalid"))
    m.resort()
    assert _shown(m)[0] is rows[5] and _shown(m)[1] is rows[1]  # two bad versions before one


def test_a_big_table_sorted_by_each_column_in_turn(qtbot):
    """More than 10,000 rows (their keys are then made in the order the rows came, not the table's):
    after sorts by one column and the other, rows that changed and batches merged in, each sort
    gives the order sorting them all gives, and each key is made once until its row changes."""
    calls = []
    m = _model(calls)
    rnd = random.Random(7)
    rows = [Row(rnd.randrange(1000), f"n{rnd.randrange(10_000)}") for _ in range(12_000)]
    m.set_rows(rows[:6000])
    m.sort(1, DESC)
    for i in range(6000, 12_000, 3000):
        m.append_rows(rows[i:i + 3000])
        assert _shown(m) == _expected(m.all_rows, 1, DESC)
    for column, order in ((0, ASC), (1, ASC), (0, DESC)):  # (ties stay in the order they were in)
        want = _expected(m.all_rows, column, order)
        m.sort(column, order)
        assert _shown(m) == want, (column, order)
    assert len(calls) == 12_000
    for r in rows[:50]:
        r.n = rnd.randrange(1000)
        m.row_changed(r)
    for column, order in ((1, DESC), (0, ASC)):
        want = _expected(m.all_rows, column, order)
        m.sort(column, order)
        assert _shown(m) == want, (column, order)
    assert len(calls) == 12_050
