"""A sorted batch merged into sorted rows (the table model's listing batches, issue 14).

No Qt here: the rows and their sort keys are plain lists, kept side by side.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

__all__ = ["merge_sorted"]


def merge_sorted(rows: list[Any], keys: list[Any], new: Sequence[Any], new_keys: Sequence[Any],
                 desc: bool) -> tuple[list[Any], list[Any]]:
    """*rows* (sorted by *keys*, ascending or, *desc*, descending) with *new* merged in, and
    their keys: the order ``sorted(rows + new, reverse=desc)`` by the keys gives (stable: a
    new row goes after the rows whose keys equal its own, new rows with equal keys in the
    order given). Each new row's place is found by binary search and the rows between are
    copied in slices: about len(new) * log(len(rows)) comparisons, not a sort of them all."""
    out_rows: list[Any] = []
    out_keys: list[Any] = []
    lo, n = 0, len(keys)
    for j in sorted(range(len(new)), key=new_keys.__getitem__, reverse=desc):
        k = new_keys[j]
        if desc:  # the first row after lo whose key comes after k (is smaller)
            hi, pos = n, lo
            while pos < hi:
                mid = (pos + hi) // 2
                if keys[mid] < k:
                    hi = mid
                else:
                    pos = mid + 1
        else:
            pos = bisect_right(keys, k, lo)
        if pos > lo:
            out_rows += rows[lo:pos]
            out_keys += keys[lo:pos]
        out_rows.append(new[j])
        out_keys.append(k)
        lo = pos
    out_rows += rows[lo:]
    out_keys += keys[lo:]
    return out_rows, out_keys
