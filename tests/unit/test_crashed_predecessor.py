"""A crashed predecessor's claim is taken back at once only when its chunk processes are gone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers.daemons import wait_for

from renderd.claim import LeaseWatcher, helpers_alive
from renderd.format.names import ClaimName
from renderd.spool import Spool


def test_claim_of_a_dead_daemon_under_our_name_waits_for_its_launchers(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, create=True)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])  # a daemon pid that has just exited
    gone.wait()
    name = ClaimName("job-0001", "a", gone.pid, "0123abcd")
    spool.claimed_path(name).write_text("{}")
    spool.heartbeat_path(name).write_text("1\n")
    # a process that looks like that daemon's chunk launcher (`python -m renderd.spawner PID`)
    launcher = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()", "-m", "renderd.spawner", str(gone.pid)],
        stdin=subprocess.PIPE,
    )
    watcher = LeaseWatcher(spool, "a", 60.0, lambda _name: False)
    try:
        wait_for(lambda: helpers_alive(gone.pid), 10, what="the stand-in launcher to start")
        assert watcher.stale() == []  # its chunk may still be dying: the lease decides meanwhile
    finally:
        assert launcher.stdin is not None
        launcher.stdin.close()
        launcher.wait(10)
    assert watcher.stale() == [name]
