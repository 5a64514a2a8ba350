"""One running app per user: a second launch hands its store to the first window.

The first instance listens on a QLocalServer named for the user; a later launch
connects, sends ``{"open": STORE}`` (or ``{"raise": true}``) as one JSON line and
exits. A server left behind by a crashed instance is removed and replaced.
"""

from __future__ import annotations

import getpass
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
    except Exception:  # noqa: BLE001 - no user name: still one per machine
        user = "user"
    safe = "".join(ch if ch.isalnum() else "_" for ch in user)
    return f"jacs-desktop-{safe}"


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
            line = bytes(sock.readLine()).decode("utf-8", errors="replace").strip()
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
