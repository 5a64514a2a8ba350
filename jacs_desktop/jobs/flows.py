"""Wizard page flows without a window (a navigation map, as in Electrum's wizard).

Each flow is a map ``page -> Page(next, validate)`` over a plain ``state`` dict.
``next`` is a page name, a function of the state that returns one, or ``None``
for the last page. The Qt wizards in :mod:`jacs_desktop.ui.wizards` are thin
shells: their pages write into ``flow.state``, ask ``flow.errors(page)`` before
moving on and ``flow.next_of(page)`` for where to go, and run the flow's jobs on
the worker pool. Tests drive the same flows with no Qt at all.

Flows: :class:`SignFlow` (new signed document / new version), :class:`MigrateFlow`,
:class:`BackupFlow`, :class:`RestoreFlow`.

Size: every wizard's page map and validation rules (sign, migrate, backup, restore) in one
place, as Electrum keeps its wizard's navigation map. TODO(issue 12): one module per flow.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import JacsError
from ..core.verify import RESERVED_FIELDS
from .common import CancelToken, ProgressFn

if TYPE_CHECKING:
    from ..core.identity import Identity
    from ..storage.store import Store
    from .backup import ArchiveReport
    from .migrate import MigrateOptions, MigrateReport
    from .profiles import BackupProfile, BackupProfiles

__all__ = ["FlowError", "Page", "Flow", "SignFlow", "MigrateFlow", "BackupFlow", "RestoreFlow",
           "parse_content", "MAX_EMBED_BYTES"]

#: files larger than this are attached as external files by default
MAX_EMBED_BYTES = 10 << 20
#: and no attachment may be larger than this (it is read into memory to hash it)
MAX_ATTACHMENT_BYTES = 512 << 20


class FlowError(JacsError):
    """The page cannot be left yet; the message lists what to fix."""


#: what a flow's pages write and read (see each flow's ``defaults``)
State = dict[str, Any]
Next = str | Callable[[State], str | None] | None


@dataclass
class Page:
    next: Next
    validate: Callable[[State], list[str]] | None = None
    title: str = ""


class Flow(ABC):
    start: str = ""
    title: str = ""

    def __init__(self, **state: Any):
        self.state: State = {**self.defaults(), **state}
        self.stack: list[str] = [self.start]
        self.pages: dict[str, Page] = self.navmap()

    # -- to be filled by each flow ----------------------------------------------------
    def defaults(self) -> State:
        return {}

    @abstractmethod
    def navmap(self) -> dict[str, Page]:
        """page name -> Page"""

    # -- navigation -----------------------------------------------------------------
    @property
    def current(self) -> str:
        return self.stack[-1]

    def next_of(self, page: str | None = None) -> str | None:
        nxt = self.pages[page or self.current].next
        return nxt(self.state) if callable(nxt) else nxt

    def is_last(self, page: str | None = None) -> bool:
        return self.next_of(page) is None

    def errors(self, page: str | None = None) -> list[str]:
        v = self.pages[page or self.current].validate
        return list(v(self.state)) if v else []

    def advance(self) -> str | None:
        errs = self.errors()
        if errs:
            raise FlowError("\n".join(errs))
        nxt = self.next_of()
        if nxt is not None:
            self.stack.append(nxt)
        return nxt

    def back(self) -> str:
        if len(self.stack) > 1:
            self.stack.pop()
        return self.current

    def path(self) -> list[str]:
        """Pages the current state leads through, from the start (no validation)."""
        out = [self.start]
        page: str | None = self.start
        while (page := self.next_of(page)) is not None and page not in out:
            out.append(page)
        return out


# -- 1. a new signed document, or a new version --------------------------------------------

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
            self.state["content_text"] = json.dumps(content_of(prev), indent=2, ensure_ascii=False)
            self.title = "New version"

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
        from ..core.verify import validate_relative_path

        problems: list[str] = []
        names: set[str] = set()
        for a in s.get("attachments") or []:
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
        from ..core.keys import password_problems

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
        return problems

    def _check_review(self, s: State) -> list[str]:
        return [] if s.get("prepared") is not None else ["The document has not been signed yet"]

    # work
    def identity(self) -> Identity:
        from ..core.identity import Identity

        path = str(Path(self.state["config_path"]).expanduser())
        ident = self.state.get("identity")
        if ident is None or str(ident.config.path) != str(Path(path).resolve()):
            ident = Identity.load(path)
            self.state["identity"] = ident
        return ident

    def remembered_password(self) -> str | None:
        try:
            from ..storage.secrets import default_secrets

            return default_secrets().get(f"agent:{self.identity().agent_id}:password")
        except Exception:  # nothing remembered is not an error
            return None

    def prepare(self, progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> dict[str, Any]:
        """Unlock or create the identity, read the attachments and sign (no store writes)."""
        from ..core.identity import create_agent
        from ..core.sign import make_attachment

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
        if s.get("remember"):
            from ..storage.secrets import default_secrets

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
        from ..core.sign import pretty_json

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


# -- 2. migration ----------------------------------------------------------------------

class MigrateFlow(Flow):
    """source -> target -> what -> mode -> [identity] -> review -> run."""

    start = "source"
    title = "Migrate a store"

    def __init__(self, **state: Any):
        super().__init__(**state)
        self.state["_source_given"] = self.state.get("source")

    def defaults(self) -> State:
        return {"source": "", "target": "", "create_target": True, "only": "all", "selected": [],
                "latest_only": False, "mode": "verbatim", "config_path": "", "password": "",
                "resign_ack": False, "dry_run": False, "skip_existing": True, "verify_source": False,
                "concurrency": 4, "source_store": None}

    def navmap(self) -> dict[str, Page]:
        return {
            "source": Page("target", lambda s: _url_problems(s.get("source"), "source"), "Source"),
            "target": Page("what", self._check_target, "Target"),
            "what": Page("mode", self._check_what, "What to copy"),
            "mode": Page(lambda s: "identity" if s.get("mode") == "resign" else "review", self._check_mode, "Mode"),
            "identity": Page("review", self._check_identity, "Re-sign as"),
            "review": Page("run", None, "Review"),
            "run": Page(None, None, "Migrate"),
        }

    def _check_target(self, s: State) -> list[str]:
        return _target_problems(s, "target")

    @staticmethod
    def _check_what(s: State) -> list[str]:
        if s.get("only") not in ("all", "agents", "documents", "selected"):
            return ["Choose what to copy"]
        if s.get("only") == "selected" and not s.get("selected"):
            return ["No documents are selected; select them in the browser first"]
        return []

    @staticmethod
    def _check_mode(s: State) -> list[str]:
        if s.get("mode") not in ("verbatim", "resign"):
            return ["Choose a mode"]
        if s.get("mode") == "resign" and not s.get("resign_ack"):
            return ["Re-signing replaces every document's signer; tick the box to confirm"]
        return []

    def _check_identity(self, s: State) -> list[str]:
        from ..core.identity import Identity

        if not (s.get("config_path") or "").strip():
            return ["Choose the identity (jacs.config.json) to sign as"]
        try:
            Identity.load(Path(s["config_path"]).expanduser())
        except JacsError as exc:
            return [str(exc)]
        return [] if s.get("password") else ["Enter the identity's password"]

    def options(self) -> MigrateOptions:
        from .migrate import MigrateOptions

        s = self.state
        o = MigrateOptions(only="all" if s["only"] == "selected" else s["only"], latest_only=bool(s["latest_only"]),
                           dry_run=bool(s["dry_run"]), skip_existing=bool(s["skip_existing"]),
                           verify_source=bool(s["verify_source"]), concurrency=int(s["concurrency"]))
        if s["only"] == "selected":
            o.doc_ids = frozenset(s["selected"])
        return o

    def summary_lines(self) -> list[str]:
        s = self.state
        what = {"all": "everything", "agents": "agents only", "documents": "documents only",
                "selected": f"{len(s['selected'])} selected document(s)"}[s["only"]]
        lines = [f"From: {s['source']}", f"To:   {s['target']}", f"What: {what}"
                 + (", latest versions only" if s["latest_only"] else ", all versions")]
        if s["mode"] == "resign":
            lines.append(f"Mode: RE-SIGN as {s['config_path']} — every copied document gets a new signer")
        else:
            lines.append("Mode: verbatim copy (signatures preserved; each copy checked against the source)")
        opts = [n for n, k in (("dry run", "dry_run"), ("skip existing (by jacsSha256)", "skip_existing"),
                               ("verify the source first", "verify_source")) if s[k]]
        lines.append("Options: " + (", ".join(opts) or "none"))
        lines.append(f"Equivalent command: {self.command_line()}")
        return lines

    def command_line(self) -> str:
        import shlex

        s = self.state
        parts = ["jacs-desktop-cli", "migrate", s["source"], s["target"]]
        if s["dry_run"]:
            parts.append("--dry-run")
        if s["mode"] == "resign":
            parts += ["--resign", "--config", s["config_path"]]
        if s["only"] in ("agents", "documents"):
            parts += ["--only", s["only"]]
        if s["latest_only"]:
            parts.append("--latest-only")
        if s["verify_source"]:
            parts.append("--verify-source")
        return " ".join(shlex.quote(p) for p in parts)

    def run(self, progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> MigrateReport:
        from ..core.identity import Identity
        from ..storage.urls import open_store
        from .migrate import migrate

        s = self.state
        opts = self.options()
        if s["mode"] == "resign":
            opts.resign = Identity.load(Path(s["config_path"]).expanduser()).unlock(s["password"])
        src = _given_store(s) or open_store(s["source"])
        dst = open_store(s["target"], create=bool(s["create_target"]))
        return migrate(src, dst, opts, progress=progress, cancel=cancel)


def _norm(url: Any) -> str:
    u = str(url or "").strip()
    if "://" not in u and not u.startswith("profile:"):
        return str(Path(u).expanduser().resolve())
    return u.rstrip("/")


def _given_store(s: State) -> Store | None:
    """The store the browser handed over (already open, with its secrets), but only
    while the source page still names it; another source is opened from its URL."""
    store = s.get("source_store")
    if store is None:
        return None
    src = str(s.get("source") or "").strip()
    return store if src in (store.url, s.get("_source_given")) else None


def _target_problems(s: State, what: str) -> list[str]:
    p = _url_problems(s.get("target"), what)
    if not p and _norm(s.get("target")) == _norm(s.get("source")):
        p.append(f"The source and the {what} are the same store")
    return p


def _url_problems(url: Any, what: str) -> list[str]:
    from ..storage.base import StorageError
    from ..storage.urls import parse_url

    if not url or not str(url).strip():
        return [f"Choose the {what} store"]
    try:
        parse_url(str(url).strip())
    except StorageError as exc:
        return [f"The {what}: {exc}"]
    return []


# -- 3. backup and restore -------------------------------------------------------------

class BackupFlow(Flow):
    """source -> destination -> options -> review -> run."""

    start = "source"
    title = "Back up a store"

    def __init__(self, **state: Any):
        super().__init__(**state)
        self.state["_source_given"] = self.state.get("source")

    def defaults(self) -> State:
        return {"source": "", "kind": "archive", "archive": "", "target": "", "encrypt": False, "passphrase": "",
                "passphrase2": "", "remember": False, "include_private_keys": False, "private_ack": False,
                "profile_name": "", "source_store": None}

    def navmap(self) -> dict[str, Page]:
        return {
            "source": Page("destination", lambda s: _url_problems(s.get("source"), "source"), "Source"),
            "destination": Page("options", self._check_destination, "Destination"),
            "options": Page("review", self._check_options, "Options"),
            "review": Page("run", None, "Review"),
            "run": Page(None, None, "Back up"),
        }

    def destination(self) -> str:
        chosen: str = self.state["archive"] if self.state["kind"] == "archive" else self.state["target"]
        return chosen.strip()

    def _check_destination(self, s: State) -> list[str]:
        from .profiles import ARCHIVE_SUFFIXES, is_archive_name

        if s.get("kind") == "archive":
            a = (s.get("archive") or "").strip()
            if not a:
                return ["Choose the archive file"]
            if not is_archive_name(a):
                return [f"The archive name must end with one of {', '.join(ARCHIVE_SUFFIXES[:3])}"]
            p = Path(a).expanduser()
            if "{" not in a and p.exists():
                return [f"{p} already exists; choose a new name (or use {{date}} in the name)"]
            if not p.parent.is_dir():
                return [f"The folder {p.parent} does not exist"]
            return []
        return _target_problems(s, "destination")

    @staticmethod
    def _check_options(s: State) -> list[str]:
        problems: list[str] = []
        if s.get("encrypt"):
            if s.get("kind") != "archive":
                problems.append("Encryption is for archive files")
            if len(s.get("passphrase") or "") < 8:
                problems.append("The passphrase needs at least 8 characters")
            elif s.get("passphrase") != s.get("passphrase2"):
                problems.append("The two passphrases differ")
        if s.get("include_private_keys") and not s.get("private_ack"):
            problems.append("Private keys are in the backup only if you confirm the warning")
        name = (s.get("profile_name") or "").strip()
        if name and any(ord(ch) < 32 for ch in name):
            problems.append("The profile name has control characters")
        return problems

    def profile(self) -> BackupProfile:
        from .profiles import BackupProfile

        s = self.state
        return BackupProfile(s["profile_name"].strip(), s["source"].strip(), self.destination(), bool(s["encrypt"]),
                             bool(s["include_private_keys"]))

    def command_line(self) -> str:
        import shlex

        from .profiles import command_line

        s = self.state
        if s["profile_name"].strip():
            return command_line(s["profile_name"].strip())
        parts = ["jacs-desktop-cli", "backup", s["source"], self.destination()]
        if s["encrypt"]:
            parts.append("--encrypt")
        if s["include_private_keys"]:
            parts.append("--include-private-keys")
        return " ".join(shlex.quote(p) for p in parts)

    def save_profile(self, profiles: BackupProfiles | None = None) -> str | None:
        """Save the profile when a name was given; returns the command line for cron."""
        from .profiles import BackupProfiles, command_line

        if not self.state["profile_name"].strip():
            return None
        profiles = profiles or BackupProfiles()
        p = profiles.add(self.profile(), passphrase=self.state["passphrase"] if self.state["encrypt"]
                         and self.state["remember"] else None, replace=True)
        return command_line(p.name)

    def run(self, progress: ProgressFn | None = None,
            cancel: CancelToken | None = None) -> ArchiveReport | MigrateReport:
        from .profiles import run_profile

        s = self.state
        return run_profile(self.profile(), s["passphrase"] if s["encrypt"] else None, progress, cancel,
                           src=_given_store(s))


class RestoreFlow(Flow):
    """archive -> verify -> target -> policy -> run. Nothing is restored from an
    archive that cannot be read; from one with damaged entries only when the user
    chooses to restore the rest (``partial``). Versions that do not verify are
    restored byte for byte and reported, or left out (``skip_invalid``)."""

    start = "archive"
    title = "Restore a backup"

    def defaults(self) -> State:
        return {"archive": "", "passphrase": "", "verified": None, "target": "", "policy": "skip",
                "partial": False, "skip_invalid": False}

    def navmap(self) -> dict[str, Page]:
        return {
            "archive": Page("verify", self._check_archive, "Archive"),
            "verify": Page("target", self._check_verified, "Verify"),
            "target": Page("policy", lambda s: _url_problems(s.get("target"), "target"), "Target"),
            "policy": Page("run", self._check_policy, "Conflicts"),
            "run": Page(None, None, "Restore"),
        }

    def encrypted(self) -> bool:
        from .backup import MAGIC

        try:
            with open(Path(self.state["archive"]).expanduser(), "rb") as f:
                return f.read(len(MAGIC)) == MAGIC
        except OSError:
            return False

    def _check_archive(self, s: State) -> list[str]:
        a = (s.get("archive") or "").strip()
        if not a:
            return ["Choose the archive"]
        p = Path(a).expanduser()
        if not p.is_file():
            return [f"{p} is not a file"]
        if self.encrypted() and not s.get("passphrase"):
            return ["The archive is encrypted: enter its passphrase"]
        return []

    @staticmethod
    def _check_verified(s: State) -> list[str]:
        r = s.get("verified")
        if r is None:
            return ["The archive has not been verified yet"]
        if r.errors:
            return ["The archive did not verify; nothing can be restored from it", *r.errors[:5]]
        if r.is_damaged and not s.get("partial"):
            n = len(r.damaged)
            what = f"{n} entr{'y is' if n == 1 else 'ies are'} damaged" if n else "the archive is damaged"
            return [f"The archive did not verify: {what}. Nothing is restored unless you choose to restore "
                    "the intact entries", *r.problems[:5]]
        return []

    @staticmethod
    def _check_policy(s: State) -> list[str]:
        return [] if s.get("policy") in ("skip", "keep-both", "overwrite-identical") else ["Choose a policy"]

    def verify(self, progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> ArchiveReport:
        from .backup import verify_archive

        s = self.state
        s["verified"] = None
        r = verify_archive(Path(s["archive"]).expanduser(), passphrase=s["passphrase"] or None, progress=progress,
                           cancel=cancel)
        s["verified"] = r
        return r

    def run(self, progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> ArchiveReport:
        from ..storage.urls import open_store
        from .backup import restore

        s = self.state
        return restore(Path(s["archive"]).expanduser(), open_store(s["target"], create=True),
                       passphrase=s["passphrase"] or None, policy=s["policy"], partial=bool(s["partial"]),
                       skip_invalid=bool(s["skip_invalid"]), progress=progress, cancel=cancel)


def default_archive_name(folder: str | os.PathLike[str], zstd: bool = False) -> str:
    return str(Path(folder) / ("jacs-backup-{date}-{time}" + (".tar.zst" if zstd else ".tar.gz")))
