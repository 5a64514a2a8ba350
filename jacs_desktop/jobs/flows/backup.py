"""The backup and restore flows: source -> destination -> options -> review -> run, and
archive -> verify -> target -> policy -> run (the Qt shells: :mod:`jacs_desktop.ui.wizards.backup` and
:mod:`jacs_desktop.ui.wizards.restore`; the work: :mod:`jacs_desktop.jobs.backup` and
:mod:`jacs_desktop.jobs.profiles`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..common import CancelToken, ProgressFn
from .base import Flow, Page, State, given_store, target_problems, url_problems

if TYPE_CHECKING:
    from ..backup import ArchiveReport
    from ..migrate import MigrateReport
    from ..profiles import BackupProfile, BackupProfiles

__all__ = ["BackupFlow", "RestoreFlow", "default_archive_name"]


#: an encrypted archive's name ends with this (after .tar.gz or .tar.zst, which say how it is compressed)
ENCRYPTED_SUFFIX = ".jdbackup"


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
            "source": Page("destination", lambda s: url_problems(s.get("source"), "source"), "Source"),
            "destination": Page("options", self._check_destination, "Destination"),
            "options": Page("review", self._check_options, "Options"),
            "review": Page("run", None, "Review"),
            "run": Page(None, None, "Back up"),
        }

    def destination(self) -> str:
        """Where the backup goes. An encrypted archive is named ``….jdbackup`` (added to the chosen
        name): it is not a tar file that other tools can open, and the name says so."""
        chosen: str = self.state["archive"] if self.state["kind"] == "archive" else self.state["target"]
        chosen = chosen.strip()
        if self.state["kind"] == "archive" and self.state.get("encrypt") and chosen \
                and not chosen.lower().endswith(ENCRYPTED_SUFFIX):
            chosen += ENCRYPTED_SUFFIX
        return chosen

    def _check_destination(self, s: State) -> list[str]:
        from ..profiles import ARCHIVE_SUFFIXES, is_archive_name

        if s.get("kind") == "archive":
            a = (s.get("archive") or "").strip()
            if not a:
                return ["Choose the archive file"]
            if not is_archive_name(a):
                return [f"The archive name must end with one of {', '.join(ARCHIVE_SUFFIXES[:3])}"]
            p = Path(a + ENCRYPTED_SUFFIX if s.get("encrypt") and not a.lower().endswith(ENCRYPTED_SUFFIX)
                     else a).expanduser()
            if "{" not in a and p.exists():
                return [f"{p} already exists; choose a new name (or use {{date}} in the name)"]
            if not p.parent.is_dir():
                return [f"The folder {p.parent} does not exist"]
            return []
        return target_problems(s, "destination")

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
        from ..profiles import BackupProfile

        s = self.state
        return BackupProfile(s["profile_name"].strip(), s["source"].strip(), self.destination(), bool(s["encrypt"]),
                             bool(s["include_private_keys"]))

    def command_line(self) -> str:
        import shlex

        from ..profiles import command_line

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
        from ..profiles import BackupProfiles, command_line

        if not self.state["profile_name"].strip():
            return None
        profiles = profiles or BackupProfiles()
        p = profiles.add(self.profile(), passphrase=self.state["passphrase"] if self.state["encrypt"]
                         and self.state["remember"] else None, replace=True)
        return command_line(p.name)

    def run(self, progress: ProgressFn | None = None,
            cancel: CancelToken | None = None) -> ArchiveReport | MigrateReport:
        from ..profiles import run_profile

        s = self.state
        return run_profile(self.profile(), s["passphrase"] if s["encrypt"] else None, progress, cancel,
                           src=given_store(s))


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
            "target": Page("policy", lambda s: url_problems(s.get("target"), "target"), "Target"),
            "policy": Page("run", self._check_policy, "Conflicts"),
            "run": Page(None, None, "Restore"),
        }

    def encrypted(self) -> bool:
        from ..backup import MAGIC

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
        from ..backup import verify_archive

        s = self.state
        s["verified"] = None
        r = verify_archive(Path(s["archive"]).expanduser(), passphrase=s["passphrase"] or None, progress=progress,
                           cancel=cancel)
        s["verified"] = r
        return r

    def run(self, progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> ArchiveReport:
        from ...storage.urls import open_store
        from ..backup import restore

        s = self.state
        return restore(Path(s["archive"]).expanduser(), open_store(s["target"], create=True),
                       passphrase=s["passphrase"] or None, policy=s["policy"], partial=bool(s["partial"]),
                       skip_invalid=bool(s["skip_invalid"]), progress=progress, cancel=cancel)


def default_archive_name(folder: str | os.PathLike[str], zstd: bool = False) -> str:
    return str(Path(folder) / ("jacs-backup-{date}-{time}" + (".tar.zst" if zstd else ".tar.gz")))
