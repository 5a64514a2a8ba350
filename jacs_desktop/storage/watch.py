"""Live changes in folder stores: watchdog events, or polling where events do
not work (FUSE mounts such as JuiceFS, network file systems).

Subscribers get batches of :class:`Change` (debounced), on the watcher's
thread; the UI re-posts them to its own thread.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

__all__ = ["Change", "StoreWatcher", "needs_polling"]

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


class StoreWatcher:
    def __init__(self, root: str | os.PathLike, callback: Callable[[list[Change]], None], *,
                 poll: bool | None = None, interval: float = 2.0, debounce: float = 0.25):
        self.root = Path(root).absolute()
        self.callback = callback
        self.poll = needs_polling(self.root) if poll is None else poll
        self.interval = interval
        self.debounce = debounce
        self._pending: dict[str, Change] = {}
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._observer = None

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

    def _flush(self) -> None:
        with self._lock:
            batch = list(self._pending.values())
            self._pending.clear()
            self._timer = None
        if batch:
            try:
                self.callback(batch)
            except Exception:  # a subscriber's bug must not kill the watcher
                import logging

                logging.getLogger(__name__).exception("change subscriber failed")

    def start(self) -> "StoreWatcher":
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event):
                if event.is_directory:
                    return
                kind = event.event_type
                if kind == "moved":
                    watcher._queue("deleted", event.src_path)
                    watcher._queue("created", event.dest_path)
                elif kind in ("created", "modified", "deleted", "closed"):
                    watcher._queue("modified" if kind == "closed" else kind, event.src_path)

        obs = PollingObserver(timeout=self.interval) if self.poll else Observer()
        obs.schedule(Handler(), str(self.root), recursive=True)
        obs.daemon = True
        obs.start()
        self._observer = obs
        return self

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
