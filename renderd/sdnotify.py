"""The sd_notify protocol without libsystemd: one datagram per message to $NOTIFY_SOCKET.

systemd's `Type=notify` waits for READY=1; STATUS= shows in `systemctl status`; with
`WatchdogSec=` the manager sets $WATCHDOG_USEC and restarts the service when WATCHDOG=1 stops
arriving, so the daemon pings from its main loop (a hung loop stops the pings).  Outside
systemd $NOTIFY_SOCKET is unset and every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import MutableMapping

log = logging.getLogger(__name__)

# Chunks must not inherit these: a child that talks to the socket would speak for the daemon.
_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
STATUS_INTERVAL = 2.0  # seconds between STATUS refreshes when no watchdog asks for more


class Notifier:
    def __init__(self, environ: MutableMapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = _address(env.get("NOTIFY_SOCKET", ""))
        self.watchdog_interval = _watchdog_interval(env)
        for key in _ENV:
            env.pop(key, None)
        self._sock: socket.socket | None = None
        self._status = ""

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def interval(self) -> float:
        """How often the main loop should call `alive`: half the watchdog time (inf outside systemd)."""
        if not self.enabled:
            return float("inf")
        return min(self.watchdog_interval or STATUS_INTERVAL, STATUS_INTERVAL)

    def send(self, *fields: str) -> bool:
        """Send `KEY=value` fields as one message; False (and a debug line) when it could not be sent."""
        if self.address is None or not fields:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            # Never block the main loop: a manager that stopped reading gets no more messages.
            self._sock.sendto("\n".join(fields).encode(), socket.MSG_DONTWAIT, self.address)
        except OSError as err:
            log.debug("sd_notify to %r failed: %s", self.address, err)
            return False
        return True

    def ready(self, status: str) -> None:
        self._status = status
        self.send("READY=1", f"STATUS={_one_line(status)}", f"MAINPID={os.getpid()}")

    def alive(self, status: str) -> None:
        """Called from the main loop: a watchdog ping, and the status line when it changed."""
        fields = ["WATCHDOG=1"] if self.watchdog_interval else []
        if status != self._status:
            self._status = status
            fields.append(f"STATUS={_one_line(status)}")
        self.send(*fields)

    def stopping(self, status: str = "stopping") -> None:
        self.send("STOPPING=1", f"STATUS={_one_line(status)}")


def _address(value: str) -> str | bytes | None:
    if value.startswith("@"):  # abstract namespace: a leading NUL byte instead of the '@'
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    if value:
        log.warning("NOTIFY_SOCKET=%r is not a Unix socket path: not notifying systemd", value)
    return None


def _watchdog_interval(env: MutableMapping[str, str]) -> float | None:
    pid = env.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None  # meant for another process
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2e6 if usec > 0 else None


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]
