"""Talking to this machine's daemons over their local sockets (renderd.protocol)."""

from __future__ import annotations

import logging
import selectors
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from renderd import protocol
from renderd.errors import RenderdError

log = logging.getLogger(__name__)

RESCAN = 1.0  # seconds between looks for daemons that started after us


class DaemonUnreachable(RenderdError):
    """No daemon answers on a socket (it stopped, or the file is a leftover)."""


class Connection:
    """One socket to one daemon; newline-delimited JSON both ways."""

    def __init__(self, path: Path, timeout: float = 5.0) -> None:
        self.path = path
        self.daemon = protocol.daemon_of_socket(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(str(path))
        except OSError as err:
            self.sock.close()
            raise DaemonUnreachable(f"no daemon answers ({err.strerror})", path) from None
        self._buf = bytearray()
        self._ids = 0

    def send(self, name: str, **args: Any) -> int:
        self._ids += 1
        try:
            self.sock.sendall(protocol.encode(protocol.request(name, self._ids, **args)))
        except OSError as err:
            raise DaemonUnreachable(f"the daemon went away ({err.strerror})", self.path) from None
        return self._ids

    def messages(self) -> Iterator[dict[str, Any]]:
        """Messages as they arrive, until the daemon closes the connection."""
        while True:
            while b"\n" not in self._buf:
                if not self._receive():
                    return
            line, _, rest = bytes(self._buf).partition(b"\n")
            self._buf = bytearray(rest)
            yield protocol.decode(line)

    def pending(self) -> Iterator[dict[str, Any]]:
        """After select() said readable: read once, yield the complete messages."""
        alive = self._receive()
        while b"\n" in self._buf:
            line, _, rest = bytes(self._buf).partition(b"\n")
            self._buf = bytearray(rest)
            yield protocol.decode(line)
        if not alive:
            raise EOFError

    def _receive(self) -> bool:
        try:
            data = self.sock.recv(65536)
        except OSError as err:
            raise DaemonUnreachable(f"reading from the daemon failed ({err})", self.path) from None
        self._buf += data
        if len(self._buf) > protocol.MAX_LINE:
            raise protocol.ProtocolError("message too long", self.path)
        return bool(data)

    def call(self, name: str, **args: Any) -> dict[str, Any]:
        """Send one request and wait for its response."""
        ident = self.send(name, **args)
        for message in self.messages():
            if message.get("type") == "response" and message.get("id") in (ident, None):
                if not message.get("ok"):
                    raise RenderdError(f"the daemon refused: {message.get('error')}", self.path)
                return message
        raise DaemonUnreachable("the daemon closed the connection", self.path)

    def close(self) -> None:
        self.sock.close()


def wake_local_daemons(spool_root: Path) -> int:
    """Ask this machine's daemons to re-read the spool now; returns how many answered."""
    answered = 0
    for path in protocol.find_sockets(spool_root):
        try:
            conn = Connection(path, timeout=2.0)
        except DaemonUnreachable:
            continue
        try:
            conn.call("wake")
            answered += 1
        except (RenderdError, protocol.ProtocolError) as err:
            log.debug("wake %s: %s", path, err)
        finally:
            conn.close()
    return answered


class Follower:
    """Subscribes to several daemons at once; new daemons of the spool are picked up as they start."""

    def __init__(self, spool_root: Path | None, sockets: list[Path]) -> None:
        self.spool_root = spool_root
        self.fixed = sockets
        self.conns: dict[Path, Connection] = {}
        self.sel = selectors.DefaultSelector()
        self._next_scan = 0.0
        self.ever_connected = False

    def _scan(self) -> None:
        paths = self.fixed or (protocol.find_sockets(self.spool_root) if self.spool_root else [])
        for path in paths:
            if path in self.conns:
                continue
            try:
                conn = Connection(path)
                conn.send("subscribe")
            except DaemonUnreachable:
                continue
            conn.sock.setblocking(False)
            self.conns[path] = conn
            self.sel.register(conn.sock, selectors.EVENT_READ, conn)
            self.ever_connected = True

    def follow(self, until: float | None = None) -> Iterator[dict[str, Any]]:
        """State and event messages from every followed daemon, as they come."""
        while until is None or time.monotonic() < until:
            if time.monotonic() >= self._next_scan:
                self._scan()
                self._next_scan = time.monotonic() + RESCAN
            for key, _ in self.sel.select(timeout=RESCAN / 2):
                conn: Connection = key.data
                try:
                    for message in conn.pending():
                        if message.get("type") in ("state", "event"):
                            yield message
                        elif message.get("type") == "response" and not message.get("ok"):
                            log.warning("%s: %s", conn.daemon, message.get("error"))
                except (EOFError, DaemonUnreachable, protocol.ProtocolError):
                    self._forget(conn)

    def _forget(self, conn: Connection) -> None:
        self.sel.unregister(conn.sock)
        conn.close()
        self.conns.pop(conn.path, None)

    def close(self) -> None:
        for conn in list(self.conns.values()):
            self._forget(conn)
        self.sel.close()
