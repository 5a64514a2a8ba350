"""Live changes in folder stores: watchdog events, or polling where events do
not work (FUSE mounts such as JuiceFS, network file systems).

Subscribers get batches of :class:`Change` (debounced), on the watcher's
thread; the UI re-posts them to its own thread.

Events can be lost: the kernel drops them when its inotify queue overflows (a
burst of thousands of files while the reader is starved), and an observer thread
can die. Neither reaches an event handler, so a watcher reports them to its
``on_problem`` callback ("overflow" / "error: …"), and :meth:`StoreWatcher.healthy`
tells whether its threads still run. Whoever shows the store must then re-read
(reconcile) the listing: the events say only that something changed, never that
nothing else did.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watchdog.events import FileSystemEvent
    from watchdog.observers.api import BaseObserver

__all__ = ["Change", "StoreWatcher", "needs_polling", "folder_of", "OVERFLOW"]

#: what ``on_problem`` gets when the kernel dropped events
OVERFLOW = "overflow"

_POLL_FS = ("fuse", "nfs", "cifs", "smb", "9p", "sshfs", "juicefs", "virtiofs", "ceph", "glusterfs")


@dataclass(frozen=True)
class Change:
    kind: str  # created | modified | deleted | moved
    key: str  # store key (relative path with '/')


def needs_polling(path: Path) -> bool:
    """True when *path* is on a file system that does not deliver inotify events."""
    try:
        real = str(Path(path).resolve())
        best, fstype = "", ""
        with open("/proc/mounts", encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    mnt = parts[1].replace("\\040", " ")
                    if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) > len(best):
                        best, fstype = mnt, parts[2]
        return any(fstype.startswith(p) for p in _POLL_FS)
    except OSError:
        return False


def folder_of(url: str) -> Path | None:
    """The folder a folder store's *url* names (what its FsStore's root will be), or None
    for other stores and folders that do not exist: to watch it before it is listed."""
    from .urlparse import parse_url

    try:
        p = parse_url(url)
    except Exception:  # not a url that names a folder
        return None
    if p.scheme in ("profile", "memory", "sqlite", "s3") or not p.get("path"):
        return None
    folder = Path(os.path.expanduser(p["path"])).absolute()
    return folder if folder.is_dir() else None


_live: weakref.WeakSet[StoreWatcher] = weakref.WeakSet()
_live_lock = threading.Lock()


class _WatchdogProblems(logging.Handler):
    """watchdog reports a dropped-events overflow and its own failures only in its log:
    pass them on to the running (event-mode) watchers."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a malformed record is not worth failing over
            text = str(record.msg)
        if "overflow" in text.lower():
            problem = OVERFLOW
        elif record.levelno >= logging.ERROR:
            problem = f"error: {text}"
        else:
            return
        with _live_lock:
            watchers = [w for w in _live if not w.poll]
        # the record comes from the thread that hit the problem: tell only its watcher
        # (an overflow from a thread no watcher owns may concern any of them)
        mine = [w for w in watchers if record.thread in w._thread_ids()]
        if mine or problem != OVERFLOW:
            watchers = mine
        for w in watchers:
            w._problem(problem)


_handler_installed = False


def _install_problem_handler() -> None:
    global _handler_installed
    with _live_lock:
        if _handler_installed:
            return
        _handler_installed = True
    h = _WatchdogProblems(level=logging.WARNING)
    logger = logging.getLogger("watchdog.observers")
    logger.addHandler(h)
    if logger.getEffectiveLevel() > logging.WARNING:
        logger.setLevel(logging.WARNING)


class StoreWatcher:
    def __init__(self, root: str | os.PathLike[str], callback: Callable[[list[Change]], None], *,
                 poll: bool | None = None, interval: float = 2.0, debounce: float = 0.25,
                 on_problem: Callable[[str], None] | None = None) -> None:
        self.root = Path(root).absolute()
        self.callback = callback
        #: called (on a watchdog thread) with OVERFLOW or "error: …" when events were lost
        self.on_problem = on_problem
        #: problems seen so far (for logs and tests)
        self.problems: list[str] = []
        self.poll = needs_polling(self.root) if poll is None else poll
        self.interval = interval
        self.debounce = debounce
        self._pending: dict[str, Change] = {}
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._observer: BaseObserver | None = None

    @property
    def mode(self) -> str:
        return "polling" if self.poll else "events"

    def _key(self, path: str) -> str | None:
        try:
            rel = Path(path).absolute().relative_to(self.root)
        except ValueError:
            return None
        name = rel.name
        if not name or (name.startswith(".") and (name.endswith(".jdtmp") or name.endswith(".tmp"))):
            return None
        return rel.as_posix()

    def _queue(self, kind: str, path: str) -> None:
        key = self._key(path)
        if key is None:
            return
        with self._lock:
            self._pending[key] = Change(kind, key)
            if self._timer is None:
                self._timer = threading.Timer(self.debounce, self._flush)
                self._timer.daemon = True
                self._timer.start()

    def _problem(self, problem: str) -> None:
        self.problems.append(problem)
        if self.on_problem is not None:
            try:
                self.on_problem(problem)
            except Exception:  # a subscriber's bug must not break the watcher
                logging.getLogger(__name__).exception("problem subscriber failed")

    def _threads(self) -> list[threading.Thread]:
        """The observer's threads: itself, its emitters, and the threads it holds
        (the inotify reader of watchdog's InotifyObserver)."""
        obs = self._observer
        if obs is None:
            return []
        held = [v for v in vars(obs).values() if isinstance(v, threading.Thread)]
        return [obs, *list(getattr(obs, "emitters", ()) or ()), *held]

    def _thread_ids(self) -> set[int]:
        return {t.ident for t in self._threads() if t.ident is not None}

    def healthy(self) -> bool:
        """Whether the observer's threads all still run (False once stopped, or after
        one of them died: from then on no events arrive)."""
        threads = self._threads()
        return bool(threads) and all(t.is_alive() for t in threads)

    def _flush(self) -> None:
        with self._lock:
            batch = list(self._pending.values())
            self._pending.clear()
            self._timer = None
        if batch:
            try:
                self.callback(batch)
            except Exception:  # a subscriber's bug must not kill the watcher
                logging.getLogger(__name__).exception("change subscriber failed")

    def start(self) -> StoreWatcher:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.is_directory:
                    return
                kind = event.event_type
                # str for a str root: fsdecode keeps it as it is
                src, dest = os.fsdecode(event.src_path), os.fsdecode(event.dest_path)
                if kind == "moved":
                    watcher._queue("deleted", src)
                    watcher._queue("created", dest)
                elif kind in ("created", "modified", "deleted", "closed"):
                    watcher._queue("modified" if kind == "closed" else kind, src)

        _install_problem_handler()
        obs = PollingObserver(timeout=self.interval) if self.poll else Observer()
        obs.schedule(Handler(), str(self.root), recursive=True)
        obs.daemon = True
        self._observer = obs
        with _live_lock:
            _live.add(self)
        try:
            obs.start()
        except BaseException:
            with _live_lock:
                _live.discard(self)
            self._observer = None
            raise
        return self

    def stop(self) -> None:
        with _live_lock:
            _live.discard(self)
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def __enter__(self) -> StoreWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
