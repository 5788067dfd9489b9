"""The spawner as a socket-activated systemd service, so chunks run in the idle slice.

A system daemon running as the `renderd` user cannot move its chunks into the top-level
renderd-chunks.slice (only root may start scopes there), and weights count between siblings,
so chunks inside renderd.service would compete at system.slice's full weight.  Instead
systemd starts the spawner itself there: `renderd-spawner.socket` (Accept=yes) hands each
connection to a new `renderd-spawner@.service` instance in renderd-chunks.slice with the
connection as its stdin and stdout — the same JSON-lines protocol as the pipes of a spawner
the daemon starts itself (spawner.py).  When the daemon goes away the spawner reads EOF and
exits, and each launcher's death signal kills its chunk, as with a child spawner.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

from renderd.spawner import Spawner


class SocketSpawner(Spawner):
    """Daemon side: talks to a spawner that the service manager started for this connection."""

    def __init__(self, on_message: Callable[[dict[str, Any]], None], path: str) -> None:
        self._on_message = on_message
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise
        self._stdin = self.sock.makefile("wb")
        self._lock = threading.Lock()
        self._reader = threading.Thread(
            target=self._read, args=(self.sock.makefile("rb"),), name="spawner-reader", daemon=True
        )
        self._reader.start()

    def alive(self) -> bool:
        return self._reader.is_alive()

    def close(self) -> None:
        """EOF to the spawner (it exits, and its launchers stop their chunks), then hang up."""
        try:
            self._stdin.close()
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self._reader.join(timeout=5)
        self.sock.close()
