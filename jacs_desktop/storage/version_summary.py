"""What the browser shows for one version (title, type, signer, dates, parent, attachments),
read from its body: a *summary*, kept by the index cache (``index``) and by the SQLite store's
own tables. Never a verdict: it is read leniently (the fastest JSON parser at hand), and every
verdict is computed from the body itself, elsewhere.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["summarize", "summary_of_bytes", "summary_json", "parse_summaries", "WHOLE_TITLE_BYTES"]

try:  # several times faster than json on documents; the same values for valid JSON
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is optional
    _orjson = None  # type: ignore[assignment]

_TITLE_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


#: a body at most this big has its structured content encoded whole for its title (the C encoder,
#: in one call); a bigger one lazily, as far as the title goes
WHOLE_TITLE_BYTES = 256 * 1024


def _title(doc: dict[str, Any], size: int | None = None) -> str | None:
    # the first of title, name, jacsDocument.content.title, content.title, jacsDocument.filename,
    # jacsDocument.content.name, content.content.title that is a string with more than blanks
    # (looked up one by one, without a loop over paths: this runs for every body of a store)
    get = doc.get
    jd = get("jacsDocument")
    jd = jd if isinstance(jd, dict) else None
    jd_content = jd.get("content") if jd is not None else None
    jdc = jd_content if isinstance(jd_content, dict) else None
    c = get("content")
    cd = c if isinstance(c, dict) else None
    cc = cd.get("content") if cd is not None else None
    ccd = cc if isinstance(cc, dict) else None
    for v in (get("title"), get("name"), jdc.get("title") if jdc is not None else None,
              cd.get("title") if cd is not None else None, jd.get("filename") if jd is not None else None,
              jdc.get("name") if jdc is not None else None, ccd.get("title") if ccd is not None else None):
        if isinstance(v, str) and v.strip():
            return v.strip()[:200]
    agreement = doc.get("jacsAgreement")
    question = agreement.get("question") if isinstance(agreement, dict) else None
    if isinstance(question, str):
        return "Agreement: " + question[:180]
    content = jd_content
    if content is None and cd is not None:
        content = cd.get("content", cd)
    if isinstance(content, str) and content.strip():
        return content.strip().splitlines()[0][:200]
    if isinstance(content, (dict, list)) and content:
        if size is not None and size <= WHOLE_TITLE_BYTES:  # small: one call of the C encoder
            text = _TITLE_ENCODER.encode(content)
            return text if len(text) <= 80 else text[:79] + "…"
        # only the first 81 characters are needed: encoded lazily, stopped there (a large
        # content is not encoded whole for its title); the same text json.dumps gives
        parts: list[str] = []
        n = 0
        for chunk in _TITLE_ENCODER.iterencode(content):
            parts.append(chunk)
            n += len(chunk)
            if n > 80:
                break
        text = "".join(parts)
        return text if len(text) <= 80 else text[:79] + "…"
    return None


def summarize(doc: Any, size: int | None = None) -> dict[str, Any]:
    """What the browser shows for one version, from its body (*size*: the body's bytes, when known)."""
    if not isinstance(doc, dict):
        return {"error": "not a JSON object"}
    get = doc.get
    raw_sig = get("jacsSignature")
    sig: dict[str, Any] = raw_sig if isinstance(raw_sig, dict) else {}
    raw_files = get("jacsFiles")
    # (each field: the string, else None; written out, this runs for every body of a store)
    jtype, level, date = get("jacsType"), get("jacsLevel"), get("jacsVersionDate")
    previous, original = get("jacsPreviousVersion"), get("jacsOriginalVersion")
    signer, signer_version, algorithm = sig.get("agentID"), sig.get("agentVersion"), sig.get("signingAlgorithm")
    name = get("name") if jtype == "agent" else None
    return {
        "title": _title(doc, size),
        "type": jtype if isinstance(jtype, str) else None,
        "level": level if isinstance(level, str) else None,
        "date": date if isinstance(date, str) else None,
        "previous": previous if isinstance(previous, str) else None,
        "original": original if isinstance(original, str) else None,
        "signer": signer if isinstance(signer, str) else None,
        "signer_version": signer_version if isinstance(signer_version, str) else None,
        "algorithm": algorithm if isinstance(algorithm, str) else None,
        "attachments": len(raw_files) if isinstance(raw_files, list) else 0,
        "agreement": isinstance(get("jacsAgreement"), dict),
        "agent_name": name if isinstance(name, str) else None,
    }


def _loads(data: bytes | str) -> Any:
    if _orjson is not None:
        try:
            return _orjson.loads(data)
        except (_orjson.JSONDecodeError, RecursionError):
            pass  # what orjson refuses and json reads (NaN, integers over 64 bits), or an error message
    return json.loads(data)


def summary_of_bytes(key: str, data: bytes) -> dict[str, Any]:
    """The summary of the body *data* of *key*, or ``{"error": why}`` (the texts
    ``Store.read_json`` gives for a body that is not a JSON object)."""
    try:
        doc = _loads(data)
    except (ValueError, RecursionError) as exc:
        return {"error": f"{key} is not valid JSON: {exc}"}
    if not isinstance(doc, dict):
        return {"error": f"{key} is not a JSON object"}
    return summarize(doc, len(data))


def summary_json(summary: dict[str, Any]) -> str:
    """*summary* as the JSON text the cache keeps."""
    if _orjson is not None:
        try:
            return _orjson.dumps(summary).decode()
        except TypeError:  # (an integer over 64 bits)
            pass
    return json.dumps(summary)


def parse_summaries(texts: list[str]) -> list[Any]:
    """The JSON *texts* (summaries written by ``put``) parsed in one pass (one call for
    all of them, not one per text); a text that is not JSON gives None."""
    if not texts:
        return []
    try:
        got = _loads("[" + ",".join(texts) + "]")
        if isinstance(got, list) and len(got) == len(texts):
            return got
    except (ValueError, RecursionError):
        pass
    out: list[Any] = []
    for t in texts:  # one of them is damaged: each on its own
        try:
            out.append(_loads(t))
        except (ValueError, RecursionError):
            out.append(None)
    return out
