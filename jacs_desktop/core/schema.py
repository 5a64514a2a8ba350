"""JSON-schema validation of JACS documents against the schemas jacs 0.15.0 ships.

The schemas (``schemas/*.json`` beside this file, copied from the library's
wheel) are loaded into one registry, so ``$ref`` between them resolves
offline.  The validator is ``jsonschema-rs`` 0.56: the Python binding of the
Rust ``jsonschema`` crate at the very version jacs 0.15.0 is built with, so
formats, ``integer`` and error wording follow the library's own validator (and
it validates a document in a few microseconds, about 100 times faster than the
pure-Python ``jsonschema`` package).

* ``integer``: the library's validator takes ``5.0`` for an integer, so the
  parser's :class:`IntegralFloat` values are handed to it as floats.  The
  places where the library wants a written integer (``jacsSignature.iat``)
  are checked by the signature rules, as in the library.
* formats are checked the draft-7 way (``date-time``, ``email``, ``uri``);
  ``uuid`` is not a draft-7 format and is not checked, as in the library.

Which schema: the library validates every document against the header
schema, whatever its ``$schema`` says (a document naming an unknown schema is
still checked against the header, and its error names the ``$schema`` it
gave).  We do the same, and also validate against the schema the document
names when it is one of the shipped schemas other than the header: a document
that claims to be an agent or an agreement must satisfy that schema.  The
library does not do that second check in ``verify``; it is a place where we
are stricter, reported with the schema and the rule.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from .canonical import IntegralFloat
from .jsontypes import JSONObject, replace_leaves

__all__ = ["IntegralFloat", "SchemaProblem", "HEADER_SCHEMA", "known_schemas", "validate_document"]

HEADER_SCHEMA = "https://hai.ai/schemas/header/v1/header.schema.json"


@dataclass(frozen=True)
class SchemaProblem:
    schema: str
    field: str
    message: str
    #: True when the library itself applies this schema (the header schema)
    library: bool

    @property
    def reason(self) -> str:
        return f"Schema validation failed for '{self.schema}' at field '{self.field}': {self.message}"


@functools.lru_cache(maxsize=1)
def _registry() -> tuple[Any, dict[str, JSONObject]]:
    schemas: dict[str, JSONObject] = {}
    # the files beside this module (an installed wheel, the app bundle) are read directly:
    # importing importlib.resources costs 3 ms of every start
    folder = os.path.join(os.path.dirname(__file__), "schemas")
    if os.path.isdir(folder):
        names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
        texts = []
        for n in names:
            with open(os.path.join(folder, n), encoding="utf-8") as f:
                texts.append(f.read())
    else:  # pragma: no cover - packaged where files are not on disk (a zip)
        from importlib import resources

        entries = sorted((e for e in (resources.files(__package__) / "schemas").iterdir() if e.name.endswith(".json")),
                         key=lambda e: e.name)
        texts = [e.read_text(encoding="utf-8") for e in entries]
    for text in texts:
        contents = json.loads(text)
        schemas[contents["$id"]] = contents
    return jsonschema_rs.Registry(list(schemas.items())), schemas


def known_schemas() -> list[str]:
    return sorted(_registry()[1])


@functools.cache
def _validator(schema_id: str) -> Any:
    registry, schemas = _registry()
    return jsonschema_rs.Draft7Validator(schemas[schema_id], registry=registry, validate_formats=True)


def _plain(value: Any) -> Any:
    """*value* with every :class:`IntegralFloat` turned back into the float it was written as (an
    object or array without one is shared, not copied: the validators only read)."""
    return replace_leaves(value, (IntegralFloat,), float)


def _problem(schema_name: str, validator: Any, doc: Any, library: bool) -> SchemaProblem | None:
    for err in validator.iter_errors(doc):
        path = ".".join(str(p) for p in err.instance_path) or "root"
        return SchemaProblem(schema_name, path, err.message, library)
    return None


def validate_document(doc: Any, *, integral_floats: bool = True) -> list[SchemaProblem]:
    """Schema problems of a parsed document (empty when it satisfies its schemas).

    *integral_floats* False says the document holds no :class:`IntegralFloat`
    (the parser knows), which saves a copy.
    """
    if integral_floats:
        doc = _plain(doc)
    named = doc.get("$schema") if isinstance(doc, dict) else None
    shown = named if isinstance(named, str) else "header.schema.json"
    problems: list[SchemaProblem] = []
    header = _validator(HEADER_SCHEMA)
    if not header.is_valid(doc):
        p = _problem(shown, header, doc, True)
        if p is not None:
            problems.append(p)
    if isinstance(named, str) and named != HEADER_SCHEMA and named in _registry()[1]:
        v = _validator(named)
        if not v.is_valid(doc):
            p = _problem(named, v, doc, False)
            if p is not None:
                problems.append(p)
    return problems
