"""Type names for parsed JSON, as ``json.loads`` returns it, and one way to change such a tree.

A JSON object's member values can be anything JSON holds; the code narrows
them with ``isinstance`` where it uses them, so they stay ``Any`` here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

__all__ = ["JSONObject", "replace_leaves"]

#: a parsed JSON object (or one being built to be written as JSON)
JSONObject: TypeAlias = dict[str, Any]


def replace_leaves(value: Any, kinds: tuple[type, ...], fix: Callable[[Any], Any]) -> Any:
    """*value* (a parsed tree) with ``fix(x)`` in place of every member *x* whose type is one of
    *kinds* (exactly; objects and arrays are walked, not fixed). An object or array with nothing
    replaced in it is the same object, not a copy: copies are made only on the way to what
    changes, so the result must not be changed in place."""
    t = type(value)
    if t is dict:
        members: Any = value.items()
    elif t is list:
        members = enumerate(value)
    else:
        return fix(value) if t in kinds else value
    out: Any = None
    for k, x in members:
        tx = type(x)
        if tx is dict or tx is list:
            y = replace_leaves(x, kinds, fix)
        elif tx in kinds:
            y = fix(x)
        else:
            continue
        if y is not x:
            if out is None:
                out = dict(value) if t is dict else list(value)
            out[k] = y
    return value if out is None else out
