"""The flow of a new signed document, or a new version: content -> attachments -> signer ->
review -> run (the Qt shell: :mod:`jacs_desktop.ui.wizards.sign`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...core.errors import JacsError
from ...core.verify import RESERVED_FIELDS
from ..common import CancelToken, ProgressFn
from .base import Flow, FlowError, Page, State

if TYPE_CHECKING:
    from ...core.identity import Identity

__all__ = ["SignFlow", "parse_content", "content_of", "MAX_EMBED_BYTES", "MAX_ATTACHMENT_BYTES"]

#: files larger than this are attached as external files by default
MAX_EMBED_BYTES = 10 << 20
#: and no attachment may be larger than this (it is read into memory to hash it)
MAX_ATTACHMENT_BYTES = 512 << 20


def parse_content(state: State) -> dict[str, Any]:
    """The document payload the content page describes (raises FlowError)."""
    if state.get("form_mode"):
        content: dict[str, Any] = {}
        for k, v in state.get("form") or []:
            k = str(k).strip()
            if not k:
                continue
            if k in content:
                raise FlowError(f"The field {k!r} appears twice")
            content[k] = _form_value(v)
    else:
        text = state.get("content_text") or ""
        if not text.strip():
            content = {}
        else:
            try:
                content = json.loads(text)
            except ValueError as exc:
                raise FlowError(f"The content is not valid JSON: {exc}") from None
            except RecursionError:
                raise FlowError("The content is nested too deeply") from None
            if not isinstance(content, dict):
                raise FlowError("The content must be a JSON object ({ … })")
    title = (state.get("title") or "").strip()
    if title:
        content = {"title": title, **{k: v for k, v in content.items() if k != "title"}}
    clash = [k for k in content if (k.startswith("jacs") and k not in ("jacsFiles", "jacsDocument"))
             or k in RESERVED_FIELDS
             or k == "$schema"]
    if clash:
        raise FlowError(f"The content must not set the header field {clash[0]!r}; JACS sets it when signing")
    if not content and not state.get("attachments"):
        raise FlowError("The document is empty: give a title, some content or an attachment")
    return content


def _form_value(v: Any) -> Any:
    """Form mode: numbers, true/false/null and JSON literals are typed, the rest is text."""
    if not isinstance(v, str):
        return v
    t = v.strip()
    if t in ("true", "false", "null") or (t[:1] in "[{\"-0123456789" and t):
        try:
            return json.loads(t)
        except ValueError:
            pass
    return v


def content_of(doc: dict[str, Any]) -> dict[str, Any]:
    """The editable part of a stored version: everything but the JACS header."""
    return {k: v for k, v in doc.items()
            if k == "jacsDocument" or not (k.startswith("jacs") or k == "$schema" or k in RESERVED_FIELDS)}


class SignFlow(Flow):
    """content -> attachments -> signer -> review -> run.

    state: ``store`` (a Store), ``previous`` (a version dict, for "New version…"),
    ``title``, ``content_text`` / ``form_mode`` + ``form`` [(key, value)],
    ``attachments`` [{path, embed}], ``signer_mode`` ("open" | "create"),
    ``config_path``, ``password``, ``remember``; for a new agent ``agent_dir``,
    ``agent_name``, ``algorithm``, ``password2``. ``prepare()`` unlocks (or creates)
    the identity and signs; ``commit()`` stores the result.
    """

    start = "content"
    title = "New signed document"

    def __init__(self, **state: Any):
        super().__init__(**state)
        prev = self.state.get("previous")
        if prev is not None and not self.state.get("content_text"):
            content = content_of(prev)
            # the title goes to the Title field (parse_content puts it back in front)
            if isinstance(content.get("title"), str) and not self.state.get("title"):
                self.state["title"] = content.pop("title")
            self.state["content_text"] = json.dumps(content, indent=2, ensure_ascii=False)
            self.title = "New version"

    def inherited_attachments(self) -> list[dict[str, Any]]:
        """The previous version's attachments (``jacsFiles``), which a new version keeps."""
        prev = self.state.get("previous")
        files = prev.get("jacsFiles") if isinstance(prev, dict) else None
        return [f for f in files if isinstance(f, dict)] if isinstance(files, list) else []

    def defaults(self) -> State:
        return {"store": None, "previous": None, "title": "", "content_text": "", "form_mode": False, "form": [],
                "attachments": [], "signer_mode": "open", "config_path": "", "password": "", "remember": False,
                "agent_dir": "", "agent_name": "", "algorithm": "ring-Ed25519", "password2": "",
                "identity": None, "prepared": None, "created_agent": None}

    def navmap(self) -> dict[str, Page]:
        return {
            "content": Page("attachments", self._check_content, "Content"),
            "attachments": Page("signer", self._check_attachments, "Attachments"),
            "signer": Page("review", self._check_signer, "Signer"),
            "review": Page("run", self._check_review, "Review"),
            "run": Page(None, None, "Sign and store"),
        }

    # validation
    def _check_content(self, s: State) -> list[str]:
        try:
            parse_content(s)
        except FlowError as exc:
            return [str(exc)]
        return []

    def _check_attachments(self, s: State) -> list[str]:
        from ...core.verify import validate_relative_path

        problems: list[str] = []
        names: set[str] = set()
        kept = {str(f.get("path")) for f in self.inherited_attachments()}
        for a in s.get("attachments") or []:
            if self.attachment_name(a) in kept:
                problems.append(f"{Path(a['path']).name!r} is already attached to the previous version (kept as "
                                f"{self.attachment_name(a)}); rename the new file or leave it out")
            p = Path(a["path"])
            name = self.attachment_name(a)
            if name in names:
                problems.append(f"Two attachments are named {p.name!r}; rename one")
            names.add(name)
            bad = validate_relative_path(name)
            if bad:
                problems.append(f"{p.name!r} cannot be used as an attachment name: {bad}")
            try:
                size = p.stat().st_size
            except OSError as exc:
                problems.append(f"{p}: {exc.strerror or exc}")
                continue
            if not p.is_file():
                problems.append(f"{p} is not a file")
            elif size > MAX_ATTACHMENT_BYTES:
                problems.append(f"{p.name} is {size:,} bytes; the limit is {MAX_ATTACHMENT_BYTES:,}")
        return problems

    @staticmethod
    def attachment_name(a: dict[str, Any]) -> str:
        return str(a.get("name") or f"files/{Path(a['path']).name}")

    def _check_signer(self, s: State) -> list[str]:
        from ...core.keys import password_problems

        if s.get("signer_mode") == "create":
            problems: list[str] = []
            if not (s.get("agent_name") or "").strip():
                problems.append("The new agent needs a name")
            d = (s.get("agent_dir") or "").strip()
            if not d:
                problems.append("Choose a folder for the new agent's keys and configuration")
            elif (Path(d).expanduser() / "jacs.config.json").exists():
                problems.append(f"{d} already holds an agent (jacs.config.json); choose an empty folder")
            pw = s.get("password") or ""
            problems += password_problems(pw)
            if pw != (s.get("password2") or ""):
                problems.append("The two passwords differ")
            if s.get("previous") is not None:
                problems.append("A new version must be signed by the document's original signer, not a new agent")
            return problems
        path = (s.get("config_path") or "").strip()
        if not path:
            return ["Choose the agent's jacs.config.json"]
        try:
            ident = self.identity()
        except JacsError as exc:
            return [str(exc)]
        problems = []
        prev = s.get("previous")
        if prev is not None:
            want = (prev.get("jacsSignature") or {}).get("agentID")
            if ident.agent_id != want:
                problems.append(f"This document was signed by agent {want}; the chosen agent is "
                                f"{ident.agent_id}. Only the original signer may make a new version")
        if not ident.unlocked and not s.get("password"):
            problems.append("Enter the agent's password")
        elif not ident.unlocked:
            # a wrong password is reported here, on the signer page, not after Review
            try:
                ident.unlock(s["password"])
            except JacsError as exc:
                problems.append(f"The password does not unlock this agent's key: {exc}")
            else:
                self.keep_for_this_run(ident.agent_id, s["password"])
        return problems

    @staticmethod
    def keep_for_this_run(agent_id: str, password: str) -> None:
        """The password is asked once per run: kept in memory only (never written) for the next
        wizard that signs as this agent."""
        from ...storage.secrets import SESSION

        SESSION.set(f"agent:{agent_id}:password", password)

    def _check_review(self, s: State) -> list[str]:
        return [] if s.get("prepared") is not None else ["The document has not been signed yet"]

    # work
    def identity(self) -> Identity:
        from ...core.identity import Identity

        path = str(Path(self.state["config_path"]).expanduser())
        ident = self.state.get("identity")
        if ident is None or str(ident.config.path) != str(Path(path).resolve()):
            ident = Identity.load(path)
            self.state["identity"] = ident
        return ident

    def remembered_password(self) -> str | None:
        """The password given earlier in this run (memory only), else the one in the keyring."""
        try:
            from ...storage.secrets import SESSION, default_secrets

            name = f"agent:{self.identity().agent_id}:password"
            return SESSION.get(name) or default_secrets().get(name)
        except Exception:  # nothing remembered is not an error
            return None

    def prepare(self, progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> dict[str, Any]:
        """Unlock or create the identity, read the attachments and sign (no store writes)."""
        from ...core.identity import create_agent
        from ...core.sign import make_attachment

        s = self.state
        content = parse_content(s)
        if s["signer_mode"] == "create":
            created = s.get("created_agent")
            if created is None:
                created = create_agent(Path(s["agent_dir"]).expanduser(), s["agent_name"].strip(), s["password"],
                                       algorithm=s["algorithm"])
                s["created_agent"] = created
                s["config_path"] = str(created.config.path)
            ident = created
            s["identity"] = ident
        else:
            ident = self.identity()
        signer = ident.unlock(s["password"])
        self.keep_for_this_run(ident.agent_id, s["password"])
        if s.get("remember"):
            from ...storage.secrets import default_secrets

            default_secrets().set(f"agent:{ident.agent_id}:password", s["password"])
        attachments, external, notes = [], [], []
        items = s.get("attachments") or []
        for i, a in enumerate(items):
            data = Path(a["path"]).read_bytes()
            name = self.attachment_name(a)
            att = make_attachment(data, name, embed=bool(a.get("embed")))
            attachments.append(att)
            if att.embed_reason:
                notes.append(f"{name}: {att.embed_reason}")
            if not att.embed:
                external.append((name, data, att.sha256))
            if progress:
                progress(i + 1, len(items), name)
        prev = s.get("previous")
        if prev is not None:
            header = {k: v for k, v in prev.items()
                      if (k.startswith("jacs") and k != "jacsDocument") or k == "$schema"}
            doc = signer.new_version(prev, {**header, **content}, attachments=attachments)
        else:
            doc = signer.new_document(content, attachments=attachments)
        s["prepared"] = doc
        s["external"] = external
        #: what the review page must say (e.g. an external attachment embedded instead, and why)
        s["attachment_notes"] = notes
        return doc

    def signed_fields(self) -> list[str]:
        doc = self.state.get("prepared") or {}
        return list((doc.get("jacsSignature") or {}).get("fields") or [])

    def commit(self, progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> dict[str, Any]:
        """Store the signed document (and what verifies it) in the open store."""
        from ...core.sign import pretty_json

        s = self.state
        store, doc, ident = s["store"], s["prepared"], s["identity"]
        if store is None or doc is None:
            raise FlowError("Nothing to store")
        store.put_public_key(ident.public_key, ident.algorithm)
        try:
            raw = ident.config.agent_file.read_bytes()
            store.put_agent(json.loads(raw), raw)
        except (OSError, ValueError):
            pass  # the key is what verification needs; the agent document is a courtesy
        for name, data, sha in s.get("external") or []:
            store.put_attachment(name, data, sha)
        key, created = store.put_document(doc, pretty_json(doc))
        if not created:
            raise FlowError(f"{key} already exists in the store")
        store.invalidate()
        return {"key": key, "jacsId": doc["jacsId"], "jacsVersion": doc["jacsVersion"],
                "jacsSha256": doc.get("jacsSha256"), "agent": ident.agent_id}
