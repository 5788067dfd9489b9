"""`renderd --spawner-socket`: chunks start through a spawner the service manager runs (in the idle slice).

The test plays systemd's part of renderd-spawner.socket (Accept=yes, StandardInput=socket,
StandardOutput=socket): for each connection it starts `python -m renderd.spawner` with the
connection as stdin and stdout, as its own child, not the daemon's.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FAKEPROG
from helpers.daemons import Daemon, add_job, process_alive, wait_for


class SpawnerSocket:
    def __init__(self, path: Path) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen()
        self.path = path
        self.spawners: list[subprocess.Popen[bytes]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                proc = subprocess.Popen([sys.executable, "-m", "renderd.spawner"], stdin=conn, stdout=conn)
            self.spawners.append(proc)

    def close(self) -> None:
        self.listener.close()
        for proc in self.spawners:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


@pytest.fixture
def spawner_socket(tmp_path: Path) -> Iterator[SpawnerSocket]:
    service = SpawnerSocket(tmp_path / "spawner.sock")
    yield service
    service.close()


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[1])


def chunk_pid(markers: Path, chunk: str) -> int | None:
    try:
        return int((markers / f"{chunk}.starts").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None


def test_chunks_run_under_the_managers_spawner_and_die_with_the_daemon(
    spool: Path, markers: Path, tmp_path: Path, spawner_socket: SpawnerSocket, daemons: list[Daemon]
) -> None:
    hold = tmp_path / "hold"
    hold.touch()
    args = ["--allow-commands", "--poll", "0.5", "--spawner-socket", str(spawner_socket.path)]
    d = Daemon(spool, "socketed", tmp_path, args).start()
    daemons.append(d)
    add_job(spool, "1-1", [sys.executable, FAKEPROG, str(markers), "held", "--hold", str(hold)])
    pid = wait_for(lambda: chunk_pid(markers, "held"), 60, what="the chunk to start")

    (spawner,) = spawner_socket.spawners
    assert parent_of(spawner.pid) == os.getpid()  # the manager's child, not the daemon's
    assert parent_of(parent_of(pid)) == spawner.pid  # chunk <- its launcher <- that spawner
    assert "cannot reach the spawner" not in d.output()

    os.kill(d.pid, signal.SIGKILL)  # no goodbye: the spawner only sees the connection close
    wait_for(lambda: not process_alive(pid), 60, what="the chunk to die with its daemon")
    assert spawner.wait(60) == 0


def test_a_daemon_stopped_cleanly_ends_its_spawner(
    spool: Path, markers: Path, tmp_path: Path, spawner_socket: SpawnerSocket, daemons: list[Daemon]
) -> None:
    args = ["--allow-commands", "--poll", "0.5", "--spawner-socket", str(spawner_socket.path)]
    d = Daemon(spool, "socketed", tmp_path, args).start()
    daemons.append(d)
    job = add_job(spool, "1-4", [sys.executable, FAKEPROG, str(markers), "c{start}"], "--chunk", "1")
    done = spool / "jobs" / job["job"] / "done"
    wait_for(lambda: len(list(done.glob("*.json"))) == 4, 60, what="four chunks done")
    assert len(spawner_socket.spawners) == 1  # one spawner for all chunks
    assert d.stop() == 0
    assert spawner_socket.spawners[0].wait(60) == 0


def test_without_the_socket_the_daemon_spawns_its_own(
    spool: Path, markers: Path, tmp_path: Path, daemons: list[Daemon]
) -> None:
    args = ["--allow-commands", "--poll", "0.5", "--spawner-socket", str(tmp_path / "nobody-listens.sock")]
    d = Daemon(spool, "unsocketed", tmp_path, args).start()
    daemons.append(d)
    job = add_job(spool, "1-1", [sys.executable, FAKEPROG, str(markers), "alone"])
    wait_for(lambda: list((spool / "jobs" / job["job"] / "done").glob("*.json")), 60, what="the chunk done")
    assert d.output().count("cannot reach the spawner at") == 1
    assert d.stop() == 0
