"""One running app per user, display and config folder: a second launch hands its
store to the first window.

The first instance listens on a QLocalServer named for the user, the display or
session it runs in (``DISPLAY``, ``WAYLAND_DISPLAY``, ``XDG_SESSION_ID`` where
set) and its config folder (``JACS_DESKTOP_CONFIG_DIR`` or platformdirs'); a
later launch with the same three connects, sends ``{"open": STORE}`` (or
``{"raise": true}``) as one JSON line and exits. A launch from another X display,
SSH session or config folder gets its own window: the running one would open the
store on a screen the user is not at, and resolve ``profile:`` names from other
settings. A server left behind by a crashed instance is removed and replaced.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

__all__ = ["SingleInstance", "instance_name"]

log = logging.getLogger(__name__)


def instance_name() -> str:
    env = os.environ.get("JACS_DESKTOP_INSTANCE")
    if env:
        return env
    try:
        user = getpass.getuser()
    except Exception:
        user = "user"
    safe = "".join(ch if ch.isalnum() else "_" for ch in user)[:32]
    return f"jacs-desktop-{safe}-{_session_key()}"


#: what makes two launches by one user belong to the same window
SESSION_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_ID")


def _session_key() -> str:
    """A short hash of the display/session and the config folder (the server name is
    a socket path on Unix, which must stay short)."""
    from ..paths import config_dir

    parts = [f"{var}={os.environ.get(var, '')}" for var in SESSION_VARIABLES]
    cfg = config_dir()
    try:
        cfg_s = os.path.realpath(os.path.expanduser(str(cfg)))
    except OSError:
        cfg_s = os.path.abspath(str(cfg))
    parts.append(f"config={os.path.normcase(cfg_s)}")
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:16]


class SingleInstance(QObject):
    #: a store URL or path to open ("" means: just come to the front)
    open_requested = Signal(str)

    def __init__(self, name: str | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name or instance_name()
        self.server: QLocalServer | None = None
        self._sockets: set[QLocalSocket] = set()

    def send(self, store: str | None, timeout_ms: int = 1500) -> bool:
        """Hand *store* to a running instance; False when none is running."""
        sock = QLocalSocket()
        sock.connectToServer(self.name)
        if not sock.waitForConnected(timeout_ms):
            return False
        msg = {"open": store} if store else {"raise": True}
        sock.write((json.dumps(msg) + "\n").encode("utf-8"))
        ok = sock.waitForBytesWritten(timeout_ms)
        sock.disconnectFromServer()
        if sock.state() != QLocalSocket.LocalSocketState.UnconnectedState:
            sock.waitForDisconnected(timeout_ms)
        return ok

    def listen(self) -> bool:
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not self.server.listen(self.name):
            # a crashed instance left its socket behind: nobody answered send(), so remove it
            QLocalServer.removeServer(self.name)
            if not self.server.listen(self.name):
                log.warning("single instance: cannot listen on %s: %s", self.name, self.server.errorString())
                return False
        self.server.newConnection.connect(self._accept)
        return True

    def _accept(self) -> None:
        while self.server is not None and self.server.hasPendingConnections():
            sock = self.server.nextPendingConnection()
            self._sockets.add(sock)
            sock.readyRead.connect(self._ready)
            sock.disconnected.connect(self._gone)
            self._read(sock)  # what arrived with the connection

    def _ready(self) -> None:
        sock = self.sender()
        if isinstance(sock, QLocalSocket):
            self._read(sock)

    def _gone(self) -> None:
        sock = self.sender()
        if isinstance(sock, QLocalSocket) and sock in self._sockets:
            self._read(sock)
            self._sockets.discard(sock)

    def _read(self, sock: QLocalSocket) -> None:
        while sock.canReadLine():
            line = bytes(sock.readLine().data()).decode("utf-8", errors="replace").strip()
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if not isinstance(msg, dict):
                continue
            store = msg.get("open")
            self.open_requested.emit(store if isinstance(store, str) else "")

    def close(self) -> None:
        for sock in list(self._sockets):
            sock.abort()
        self._sockets.clear()
        if self.server is not None:
            self.server.close()
            self.server = None
