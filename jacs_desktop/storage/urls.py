"""Store URLs: one string opens any backend.

* ``/path``, ``~/path``, ``file:///path`` — a folder
* ``memory://name`` — in-process scratch store
* ``sqlite:///path/file.sqlite3`` — SQLite file
* ``s3://bucket/prefix?endpoint_url=…&region=…&sse=AES256&profile=…`` — S3 / S3-compatible
* ``profile:NAME`` — a saved connection

Kept as the old import place for its many callers: the parser is in
:mod:`.urlparse` (imports only :mod:`.base`), opening is in :mod:`.opener`.
This module sits above both and neither imports it, so the re-exports make
no import circle. New code imports from those two modules.
"""

from __future__ import annotations

from .opener import open_objects, open_store
from .urlparse import ParsedURL, parse_url

__all__ = ["open_objects", "open_store", "parse_url", "ParsedURL"]
