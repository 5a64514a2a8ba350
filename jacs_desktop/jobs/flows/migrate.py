"""The migration flow: source -> target -> what -> mode -> [identity] -> review -> run (the Qt
shell: :mod:`jacs_desktop.ui.wizards.migrate`; the work: :mod:`jacs_desktop.jobs.migrate`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...core.errors import JacsError
from ..common import CancelToken, ProgressFn
from .base import Flow, Page, State, given_store, target_problems, url_problems

if TYPE_CHECKING:
    from ..migrate import MigrateOptions, MigrateReport

__all__ = ["MigrateFlow"]


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
            "source": Page("target", lambda s: url_problems(s.get("source"), "source"), "Source"),
            "target": Page("what", self._check_target, "Target"),
            "what": Page("mode", self._check_what, "What to copy"),
            "mode": Page(lambda s: "identity" if s.get("mode") == "resign" else "review", self._check_mode, "Mode"),
            "identity": Page("review", self._check_identity, "Re-sign as"),
            "review": Page("run", None, "Review"),
            "run": Page(None, None, "Migrate"),
        }

    def _check_target(self, s: State) -> list[str]:
        return target_problems(s, "target")

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
        from ...core.identity import Identity

        if not (s.get("config_path") or "").strip():
            return ["Choose the identity (jacs.config.json) to sign as"]
        try:
            Identity.load(Path(s["config_path"]).expanduser())
        except JacsError as exc:
            return [str(exc)]
        return [] if s.get("password") else ["Enter the identity's password"]

    def options(self) -> MigrateOptions:
        from ..migrate import MigrateOptions

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
        from ...core.identity import Identity
        from ...storage.urls import open_store
        from ..migrate import migrate

        s = self.state
        opts = self.options()
        if s["mode"] == "resign":
            opts.resign = Identity.load(Path(s["config_path"]).expanduser()).unlock(s["password"])
        src = given_store(s) or open_store(s["source"])
        dst = open_store(s["target"], create=bool(s["create_target"]))
        return migrate(src, dst, opts, progress=progress, cancel=cancel)
