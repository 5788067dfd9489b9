"""The daemon's local Unix socket: requests answered by `handlers/`, events streamed to subscribers.

One thread runs a `selectors` loop over non-blocking sockets.  The daemon hands events over
with `publish()`, which only queues them and pokes a pipe, so a slow or vanished client can
never block the daemon.  A client whose unsent output passes `MAX_PENDING` bytes (it stopped
reading) is dropped.  Who may connect is checked with `SO_PEERCRED`: the daemon's own user,
root, and members of the configured admin group.
"""

from __future__ import annotations

import errno
import grp
import logging
import os
import queue
import selectors
import socket
import stat
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from renderd import protocol
from renderd.access import in_group
from renderd.errors import RenderdError
from renderd.handlers import HANDLERS
from renderd.livestate import LiveState

log = logging.getLogger(__name__)

MAX_PENDING = 256 * 1024  # unsent bytes before a client counts as not reading
SNDBUF = 64 * 1024
MAX_CLIENTS = 64
MAX_REFUSED = 8  # refused clients waiting to be told so: a few, so they cannot crowd out the allowed ones
_PEERCRED = struct.Struct("3i")  # pid, uid, gid


class SocketError(RenderdError):
    """The daemon's socket cannot be set up."""


@dataclass(frozen=True)
class PeerPolicy:
    """Who may talk to this daemon: its own user, root, and an admin group's members."""

    uid: int
    group: str | None = None

    def allows(self, uid: int, gid: int) -> bool:
        if uid in (self.uid, 0):
            return True
        return self.group is not None and in_group(uid, gid, self.group)


@dataclass
class Client:
    sock: socket.socket
    pid: int
    uid: int
    inbuf: bytearray = field(default_factory=bytearray)
    outbuf: bytearray = field(default_factory=bytearray)
    subscribed: bool = False
    closing: bool = False  # close once outbuf is flushed
    refused: bool = False  # not allowed: its first request is answered "permission denied", then it is closed


class Server:
    """A Unix socket server on its own thread; `publish` is the daemon's one way in."""

    def __init__(self, path: Path, name: str, policy: PeerPolicy, on_wake: Callable[[], None]) -> None:
        self.path = path
        self.name = name
        self.policy = policy
        self.on_wake = on_wake
        self.live = LiveState(host=name)
        self._inbox: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._clients: dict[int, Client] = {}
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._stop = False
        self._thread = threading.Thread(target=self._serve, name="renderd-socket", daemon=True)
        self._listener: socket.socket | None = None
        self._inode: int | None = None
        self.dropped = 0

    # ------------------------------------------------------------------ the daemon's side

    def start(self) -> None:
        self._listener = self._bind()
        self._sel.register(self._listener, selectors.EVENT_READ, "listen")
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread.start()
        log.info("listening on %s", self.path)

    def publish(self, event: dict[str, Any]) -> None:
        """Queue an event for every subscriber.  Never blocks."""
        self._inbox.put(event)
        self._poke()

    def close(self) -> None:
        self._stop = True
        self._poke()
        if self._thread.is_alive():
            self._thread.join(5)
        for client in list(self._clients.values()):
            self._drop(client, None)
        if self._listener is not None:
            self._listener.close()
            self._unlink_own_socket()
        self._sel.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _poke(self) -> None:
        try:
            os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):
            pass  # the pipe is full: the server thread is awake anyway

    # ------------------------------------------------------------------ socket file

    def _bind(self) -> socket.socket:
        self._prepare_folder(self.path.parent)
        if len(os.fsencode(self.path)) > 107:
            raise SocketError("socket path is longer than Unix sockets allow (107 bytes); use --socket", self.path)
        self._remove_stale()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old = os.umask(0o117 if self.policy.group else 0o177)
        try:
            sock.bind(str(self.path))
        except OSError as err:
            sock.close()
            raise SocketError(f"cannot listen: {err.strerror}", self.path) from None
        finally:
            os.umask(old)
        if self.policy.group:
            self._give_to_group(self.path)
        sock.listen(16)
        sock.setblocking(False)
        self._inode = os.lstat(self.path).st_ino
        return sock

    def _prepare_folder(self, folder: Path) -> None:
        """Our own folder, not a symlink or someone else's (/tmp is shared)."""
        try:
            folder.mkdir(mode=0o750 if self.policy.group else 0o700, parents=True, exist_ok=True)
            st = os.lstat(folder)
        except OSError as err:
            raise SocketError(f"cannot create the socket folder: {err.strerror}", folder) from None
        if not stat.S_ISDIR(st.st_mode):
            raise SocketError("the socket folder is not a folder", folder)
        if st.st_uid not in (os.getuid(), 0):
            raise SocketError("the socket folder belongs to another user", folder)
        if self.policy.group and st.st_mode & 0o001 == 0 and st.st_uid == os.getuid():
            # a private folder (made earlier, without a group): let the group reach the socket
            self._give_to_group(folder)
            os.chmod(folder, stat.S_IMODE(st.st_mode) | 0o050)

    def _give_to_group(self, path: Path) -> None:
        assert self.policy.group is not None
        try:
            os.chown(path, -1, grp.getgrnam(self.policy.group).gr_gid)
        except KeyError:
            raise SocketError(f"no group {self.policy.group!r} on this machine (--admin-group)", path) from None
        except PermissionError:
            raise SocketError(f"cannot give the socket to group {self.policy.group!r}: not a member", path) from None

    def _remove_stale(self) -> None:
        """A socket file left by a dead daemon is removed; a live daemon's is not touched."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise SocketError("exists and is not a socket", self.path)
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        probe.settimeout(2)
        try:
            probe.connect(str(self.path))
        except (ConnectionRefusedError, FileNotFoundError):
            os.unlink(self.path)
            return
        except OSError as err:
            raise SocketError(f"cannot check the old socket: {err.strerror}", self.path) from None
        finally:
            probe.close()
        raise SocketError("another daemon listens on this socket (give this one another --name or --socket)", self.path)

    def _unlink_own_socket(self) -> None:
        try:
            if os.lstat(self.path).st_ino == self._inode:
                os.unlink(self.path)
        except FileNotFoundError:
            pass

    # ------------------------------------------------------------------ the server thread

    def _serve(self) -> None:
        while not self._stop:
            for key, mask in self._sel.select(timeout=5.0):
                try:
                    if key.data == "listen":
                        self._accept()
                    elif key.data == "wake":
                        self._drain_wake()
                    else:
                        self._on_client(key.data, mask)
                except Exception:  # one bad client or event must not end the server
                    log.exception("socket server error")

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                event = self._inbox.get_nowait()
            except queue.Empty:
                return
            self.live.apply(event)
            try:
                raw = protocol.encode({"type": "event", **event})
            except (TypeError, ValueError, protocol.ProtocolError) as err:
                log.warning("event %s not sent: %s", event.get("event"), err)
                continue
            for client in list(self._clients.values()):
                if client.subscribed and not client.closing:
                    self._send(client, raw)

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            sock, _ = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        pid, uid, gid = _PEERCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
        sock.setblocking(False)
        refused = not self.policy.allows(uid, gid)
        if refused:
            log.warning("refused a socket client: pid %d, uid %d is not this daemon's user, root or admin group",
                        pid, uid)
        same_kind = sum(1 for c in self._clients.values() if c.refused == refused)
        if same_kind >= (MAX_REFUSED if refused else MAX_CLIENTS):
            _send_quietly(sock, protocol.encode(protocol.error(None, "permission denied" if refused else
                                                               "too many clients")))
            sock.close()
            return
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SNDBUF)
        client = Client(sock, pid, uid, refused=refused)
        self._clients[sock.fileno()] = client
        self._sel.register(sock, selectors.EVENT_READ, client)

    def _on_client(self, client: Client, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self._flush(client)
        if mask & selectors.EVENT_READ and client.sock.fileno() in self._clients:
            self._read(client)

    def _read(self, client: Client) -> None:
        try:
            data = client.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(client, None)
            return
        if not data:
            self._drop(client, None)
            return
        client.inbuf += data
        while b"\n" in client.inbuf and not client.closing:
            line, _, rest = bytes(client.inbuf).partition(b"\n")
            client.inbuf = bytearray(rest)
            self._dispatch(client, line)
        if len(client.inbuf) > protocol.MAX_LINE:
            self._reply(client, protocol.error(None, "message too long"))
            client.closing = True
            self._flush(client)

    def _dispatch(self, client: Client, line: bytes) -> None:
        try:
            message = protocol.decode(line)
        except protocol.ProtocolError as err:
            message = {}
            if not client.refused:
                self._reply(client, protocol.error(None, str(err)))
                return
        ident = message.get("id")
        if client.refused:  # its first line is answered (so that it learns why), then it is closed
            self._reply(client, protocol.error(ident, "permission denied"))
            client.closing = True
            self._flush(client)
            return
        handler = HANDLERS.get(str(message.get("request"))) if message.get("type") == "request" else None
        if handler is None:
            self._reply(client, protocol.error(ident, f"unknown request {message.get('request')!r}"))
            return
        for reply in handler(self, client, message):
            self._reply(client, reply)

    def _reply(self, client: Client, message: dict[str, Any]) -> None:
        self._send(client, protocol.encode(message))

    def _send(self, client: Client, raw: bytes) -> None:
        client.outbuf += raw
        self._flush(client)

    def _flush(self, client: Client) -> None:
        if client.sock.fileno() not in self._clients:
            return
        while client.outbuf:
            try:
                sent = client.sock.send(client.outbuf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._drop(client, None)
                return
            del client.outbuf[:sent]
        if len(client.outbuf) > MAX_PENDING:
            self._drop(client, f"it stopped reading ({len(client.outbuf)} bytes unsent)")
            return
        if client.closing and not client.outbuf:
            self._drop(client, None)
            return
        want = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.outbuf else 0)
        if self._sel.get_key(client.sock).events != want:
            self._sel.modify(client.sock, want, client)

    def _drop(self, client: Client, reason: str | None) -> None:
        client.closing = True  # stops the handling of whatever else it sent
        fd = client.sock.fileno()
        if fd < 0 or self._clients.pop(fd, None) is None:
            return
        if reason is not None:
            self.dropped += 1
            log.warning("dropped socket client pid %d (uid %d): %s", client.pid, client.uid, reason)
        try:
            self._sel.unregister(client.sock)
        except (KeyError, ValueError):
            pass
        client.sock.close()


def _send_quietly(sock: socket.socket, raw: bytes) -> None:
    try:
        sock.send(raw)
    except OSError as err:
        if err.errno not in (errno.EAGAIN, errno.EPIPE, errno.ECONNRESET):
            log.debug("could not tell a refused client why: %s", err)
