"""Type names for parsed JSON, as ``json.loads`` returns it.

A JSON object's member values can be anything JSON holds; the code narrows
them with ``isinstance`` where it uses them, so they stay ``Any`` here.
"""

from __future__ import annotations

from typing import Any, TypeAlias

__all__ = ["JSONObject"]

#: a parsed JSON object (or one being built to be written as JSON)
JSONObject: TypeAlias = dict[str, Any]
