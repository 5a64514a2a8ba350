"""What every wizard flow is made of: :class:`Flow` (a page map over a ``state`` dict and the
navigation over it), :class:`Page`, :class:`FlowError`, and the store-URL checks the migrate and
backup flows share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...core.errors import JacsError

if TYPE_CHECKING:
    from ...storage.store import Store

__all__ = ["FlowError", "Page", "Flow", "State", "Next", "given_store", "target_problems", "url_problems"]


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



# -- store URLs (the migrate and backup flows) ----------------------------------------

def _norm(url: Any) -> str:
    u = str(url or "").strip()
    if "://" not in u and not u.startswith("profile:"):
        return str(Path(u).expanduser().resolve())
    return u.rstrip("/")


def given_store(s: State) -> Store | None:
    """The store the browser handed over (already open, with its secrets), but only
    while the source page still names it; another source is opened from its URL."""
    store = s.get("source_store")
    if store is None:
        return None
    src = str(s.get("source") or "").strip()
    return store if src in (store.url, s.get("_source_given")) else None


def target_problems(s: State, what: str) -> list[str]:
    p = url_problems(s.get("target"), what)
    if not p and _norm(s.get("target")) == _norm(s.get("source")):
        p.append(f"The source and the {what} are the same store")
    return p


def url_problems(url: Any, what: str) -> list[str]:
    from ...storage.base import StorageError
    from ...storage.urls import parse_url

    if not url or not str(url).strip():
        return [f"Choose the {what} store"]
    try:
        parse_url(str(url).strip())
    except StorageError as exc:
        return [f"The {what}: {exc}"]
    return []
