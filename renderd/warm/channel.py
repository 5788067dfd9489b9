"""The daemon's end of one warm Blender's socket: a listener in a 0700 folder of the daemon's own.

The runner script (kinds/scripts/warm_runner.py) connects once and says `ready`; the daemon
sends each chunk as one JSON line with the chunk's log passed as a descriptor (SCM_RIGHTS),
so Blender writes into the log the daemon opened safely, never a path from the spool.  A
reader thread turns each answer into a message on the daemon's event queue.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

MAX_LINE = 64 * 1024


class Channel:
    def __init__(self, path: Path, token: str, post: Callable[[dict[str, Any]], None]) -> None:
        self.path, self.token, self._post = path, token, post
        self._closed = False
        self.conn: socket.socket | None = None
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.listener.bind(str(path))
        os.chmod(path, 0o600)
        self.listener.listen(1)
        self.listener.settimeout(1.0)
        self._thread = threading.Thread(target=self._read, name=f"warm-{token}", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while self.conn is None:
                if self._closed:
                    return
                try:
                    conn, _ = self.listener.accept()
                except TimeoutError:
                    continue
                if not self._peer_is_us(conn):
                    conn.close()
                    continue
                conn.settimeout(None)
                self.conn = conn
            buf = b""
            while True:
                data = self.conn.recv(MAX_LINE)
                if not data:
                    break
                buf += data
                while b"\n" in buf:
                    line, _, buf = buf.partition(b"\n")
                    try:
                        msg = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(msg, dict) and isinstance(msg.get("event"), str):
                        self._post({**msg, "event": f"warm-{msg['event']}", "token": self.token,
                                    "chunk_token": msg.get("token")})
                if len(buf) > MAX_LINE:
                    break
        except OSError:
            pass
        if not self._closed:
            self._post({"event": "warm-closed", "token": self.token})

    @staticmethod
    def _peer_is_us(conn: socket.socket) -> bool:
        """Only our own user may talk here (the folder is 0700 already; this is the second lock)."""
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
        return bool(uid == os.getuid())

    def send(self, request: dict[str, Any], log_fd: int) -> None:
        if self.conn is None:
            raise OSError("the warm Blender is not connected")
        socket.send_fds(self.conn, [(json.dumps(request) + "\n").encode()], [log_fd])

    def close(self) -> None:
        self._closed = True
        for sock in (self.conn, self.listener):
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
        try:
            self.path.unlink()
        except OSError:
            pass
