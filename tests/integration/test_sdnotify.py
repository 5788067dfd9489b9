"""renderd speaks sd_notify to a real NOTIFY_SOCKET datagram socket, as systemd's Type=notify expects."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.daemons import Daemon, add_job, wait_for


class NotifySocket:
    """The manager's side: a datagram socket that collects every message the daemon sends."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(b"\0" + address[1:].encode() if address.startswith("@") else address)
        self.sock.settimeout(0.2)
        self.address = address
        self.messages: list[dict[str, str]] = []

    def drain(self) -> list[dict[str, str]]:
        while True:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                return self.messages
            self.messages.append(dict(line.split("=", 1) for line in data.decode().splitlines()))

    def seen(self, key: str, value: str | None = None) -> list[dict[str, str]]:
        return [m for m in self.drain() if key in m and (value is None or m[key] == value)]


@pytest.fixture(params=["path", "abstract"])
def notify_socket(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NotifySocket]:
    address = str(tmp_path / "notify") if request.param == "path" else f"@renderd-test-{os.getpid()}-{time.time_ns()}"
    ns = NotifySocket(address)
    yield ns
    ns.sock.close()


def test_daemon_reports_ready_status_watchdog_and_stopping(
    notify_socket: NotifySocket, spool: Path, tmp_path: Path, daemons: list[Daemon]
) -> None:
    env = dict(os.environ, NOTIFY_SOCKET=notify_socket.address, WATCHDOG_USEC="600000")
    d = Daemon(spool, "notified", tmp_path, ["--allow-commands", "--poll", "1"], env=env).start()
    daemons.append(d)

    ready = wait_for(lambda: notify_socket.seen("READY", "1"), 20, what="READY=1")
    assert ready[0]["MAINPID"] == str(d.pid)
    assert ready[0]["STATUS"].startswith("idle: 0/1 slot(s) busy")
    # WATCHDOG_USEC=0.6 s: the loop pings every 0.3 s, so a few arrive within seconds.
    wait_for(lambda: len(notify_socket.seen("WATCHDOG", "1")) >= 3, 20, what="three WATCHDOG=1 pings")

    # A running chunk shows in the status line, and does not inherit the daemon's NOTIFY_SOCKET.
    seen_env = tmp_path / "chunk-env"
    hold = tmp_path / "hold"
    prog = (
        "import os, sys, time, pathlib\n"
        "env = os.environ\n"
        "pathlib.Path(sys.argv[1]).write_text(env.get('NOTIFY_SOCKET', '-') + env.get('WATCHDOG_USEC', '-'))\n"
        "while not os.path.exists(sys.argv[2]): time.sleep(0.05)\n"
    )
    job = add_job(spool, "1-1", [sys.executable, "-c", prog, str(seen_env), str(hold)])
    chunk = job["chunks"][0]["chunk"]
    wait_for(
        lambda: [m for m in notify_socket.seen("STATUS") if chunk in m["STATUS"]], 30, what="a status with the chunk"
    )
    wait_for(seen_env.exists, 30, what="the chunk to start")
    assert seen_env.read_text() == "--"
    before = len(notify_socket.messages)
    hold.touch()
    wait_for(
        lambda: [m for m in notify_socket.drain()[before:] if m.get("STATUS", "").startswith("idle")],
        30,
        what="the status to say idle again",
    )

    assert d.stop() == 0
    assert notify_socket.seen("STOPPING", "1")


def test_a_vanished_notify_socket_does_not_stop_the_daemon(spool: Path, tmp_path: Path, daemons: list[Daemon]) -> None:
    env = dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "gone"), WATCHDOG_USEC="200000")
    d = Daemon(spool, "orphaned", tmp_path, ["--allow-commands", "--poll", "1"], env=env).start()
    daemons.append(d)
    job = add_job(spool, "1-2", [sys.executable, "-c", "pass"], "--chunk", "1")
    wait_for(lambda: len(list((spool / "jobs" / job["job"] / "done").glob("*.json"))) == 2, 60, what="both chunks")
    assert d.stop() == 0


def test_a_manager_that_stops_reading_cannot_stall_the_daemon(
    notify_socket: NotifySocket, spool: Path, tmp_path: Path, daemons: list[Daemon]
) -> None:
    """Unread datagrams fill the socket's queue (about ten); the daemon must not wait for room."""
    env = dict(os.environ, NOTIFY_SOCKET=notify_socket.address, WATCHDOG_USEC="100000")
    d = Daemon(spool, "unheard", tmp_path, ["--allow-commands", "--poll", "0.5"], env=env).start()
    daemons.append(d)
    # A ping every 0.05 s fills the queue within a second, long before these chunks are done.
    job = add_job(spool, "1-3", [sys.executable, "-c", "pass"], "--chunk", "1")
    wait_for(lambda: len(list((spool / "jobs" / job["job"] / "done").glob("*.json"))) == 3, 60, what="3 chunks")
    assert d.stop() == 0
    assert len(notify_socket.drain()) < 100  # most pings were dropped, none was waited for
