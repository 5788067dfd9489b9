"""`render top` (a live screen on a terminal, plain lines when piped) and `render clean`."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path

from conftest import FAKEPROG
from helpers.daemons import BIN, add_job, render, wait_for

from renderd import protocol
from renderd.spool import Spool


def test_top_draws_jobs_and_hosts_on_a_terminal_and_q_quits(spool: Path, markers: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    job = add_job(spool, "1-4", ["python3", FAKEPROG, str(markers), "c{start}"], "--chunk", "2")
    assert render(spool, "wait", job["job"], "--timeout", "60", check=False).returncode == 0
    main, secondary = pty.openpty()
    proc = subprocess.Popen([str(BIN / "render"), "--spool", str(spool), "top", "--interval", "0.2"],
                            stdin=secondary, stdout=secondary, stderr=secondary, close_fds=True,
                            env={**os.environ, "COLUMNS": "140", "LINES": "30", "TERM": "xterm"})
    os.close(secondary)
    screen = bytearray()

    def shows_the_job() -> bool:
        if select.select([main], [], [], 0.2)[0]:
            screen.extend(os.read(main, 65536))
        return job["job"].encode() in screen and b"q quits" in screen

    try:
        wait_for(shows_the_job, 30, what="the job on the screen")
        os.write(main, b"q")
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(main)
    assert "━" in screen.decode(errors="replace"), "a progress bar is drawn"


def test_top_prints_plain_lines_when_piped(spool: Path, markers: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    job = add_job(spool, "1-4", ["python3", FAKEPROG, str(markers), "c{start}"], "--chunk", "2")
    assert render(spool, "wait", job["job"], "--timeout", "60", check=False).returncode == 0

    def idle_top() -> list[str] | None:  # the host record follows the done record a moment later
        out = render(spool, "top").stdout.splitlines()
        return out if any(line.split()[:2] == ["a", "idle"] for line in out) else None

    out = wait_for(idle_top, 60, what="host a idle in render top")
    (row,) = [line for line in out if line.startswith(job["job"])]
    assert row.split()[1:5] == ["done", "100%", "4/4", "0/0/2/0"]
    assert "\x1b[" not in "".join(out)


def _age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_clean_removes_finished_jobs_and_old_litter_and_keeps_the_rest(spool: Path, markers: Path,
                                                                       start_daemon) -> None:  # type: ignore[no-untyped-def]
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    killed = start_daemon("b", "--when", "never")
    killed.kill()  # SIGKILL: its socket file stays behind
    (alive_socket,) = [p for p in protocol.find_sockets(spool) if p.name.endswith("-a.sock")]
    (dead_socket,) = [p for p in protocol.find_sockets(spool) if p.name.endswith("-b.sock")]
    good = add_job(spool, "1-2", ["python3", FAKEPROG, str(markers), "g{start}"], "--chunk", "1")
    bad = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "b", "--exit", "3"], "--max-attempts", "1")
    for job, code in ((good, 0), (bad, 1)):
        assert render(spool, "wait", job["job"], "--timeout", "60", check=False).returncode == code
    old_bad, new_bad = spool / "bad" / "junk.info.0a1b2c3d", spool / "bad" / "fresh.info.0a1b2c3e"
    old_lock, new_tmp = spool / "locks" / "x-0001.lock", spool / "tmp" / "half-written.4242.0a1b2c3d.tmp"
    rotated = spool / "events" / "gone-host.jsonl.3"
    for path in (old_bad, new_bad, old_lock, new_tmp, rotated):
        path.write_text("x")
    for path in (old_bad, old_lock, rotated):
        _age(path, 3 * 86400)

    report = json.loads(render(spool, "clean", "--older-than", "1d", "--json").stdout)
    assert report["jobs"] == []
    assert report["files"] == {"logs": 0, "events": 1, "bad": 1, "locks": 1, "tmp": 0, "sockets": 1}
    assert alive_socket.exists() and not dead_socket.exists()
    assert not old_bad.exists() and not old_lock.exists() and not rotated.exists()
    assert new_bad.exists() and new_tmp.exists()

    dry = json.loads(render(spool, "clean", "--older-than", "0s", "--dry-run", "--json").stdout)
    assert dry["jobs"] == [good["job"]] and (spool / "jobs" / good["job"]).exists()
    out = render(spool, "clean", "--older-than", "0s")
    assert "removed 1 finished job(s)" in out.stderr
    assert not (spool / "jobs" / good["job"]).exists()
    assert (spool / "jobs" / bad["job"]).exists(), "a job with failed chunks waits for its owner"
    assert (spool / "failed" / f"{bad['chunks'][0]['chunk']}.info").exists()

    wrong = render(spool, "clean", "--older-than", "7x", check=False)
    assert wrong.returncode == 2 and "use a number and a unit" in wrong.stderr and "Traceback" not in wrong.stderr


def test_hosts_and_top_show_a_running_chunks_progress_from_the_host_record(spool: Path, markers: Path) -> None:
    """The daemon stores each chunk's last progress event in its host record; the views read it from there."""
    job = add_job(spool, "1-10", ["python3", FAKEPROG, str(markers), "c"], "--chunk", "10")
    chunk = job["chunks"][0]["chunk"]
    progress = {"progress": 0.35, "frames_done": 3, "frames_total": 10, "frame": 4}
    Spool.open(spool).write_host("a", {"format": 1, "name": "a", "state": "busy", "heartbeat": time.time(),
                                       "load": [0.5],
                                       "chunks": [{"chunk": chunk, "job": job["job"], "progress": progress}]})
    assert f"{chunk} 35%" in render(spool, "hosts").stdout
    (row,) = [line for line in render(spool, "top").stdout.splitlines() if line.startswith(job["job"])]
    assert row.split()[2] == "35%"
