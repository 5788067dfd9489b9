"""A daemon that leaves on its own (renderd --idle-exit / --job / --pilot, renderd/pilot.py), without Slurm.

The Slurm side (`render burst`, scancel, the time limit's source) is in test_burst_slurm.py; here
the exit rules run in a real daemon on a real spool, in seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import FAKEPROG
from helpers.daemons import BIN, add_job, render

from renderd.spool import Spool


def _exits(d, timeout: float) -> int:  # type: ignore[no-untyped-def]
    assert d.proc is not None
    return int(d.proc.wait(timeout))


def test_a_daemon_with_idle_exit_leaves_once_nothing_it_may_run_is_queued(  # type: ignore[no-untyped-def]
    spool: Path, markers: Path, start_daemon
) -> None:
    mine = add_job(spool, "1-3", [sys.executable, FAKEPROG, str(markers), "c{start}"], "--chunk", "1")
    other = add_job(spool, "1-2", [sys.executable, FAKEPROG, str(markers), "o{start}"], "--chunk", "1")
    d = start_daemon("p1", "--allow-commands", "--poll", "0.3", "--idle-exit", "2", "--job", mine["job"])
    assert _exits(d, 120) == 0, d.output()[-2000:]
    assert len(list((spool / "jobs" / mine["job"] / "done").iterdir())) == 3
    assert not list((spool / "jobs" / other["job"] / "done").glob("*.json")), "--job: the other job is left alone"
    assert "leaving: no chunk it may run was queued for 2 s (--idle-exit)" in d.output()
    record = json.loads((spool / "hosts" / "p1.json").read_text())
    assert record["state"] == "offline"


def test_queued_chunks_it_may_not_run_do_not_keep_it(spool: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    add_job(spool, "1-5", ["true"], "--chunk", "1")  # command chunks: refused without --allow-commands
    d = start_daemon("p2", "--poll", "0.3", "--idle-exit", "2")
    assert _exits(d, 60) == 0, d.output()[-2000:]
    assert "leaving: no chunk it may run" in d.output()


def test_pilot_outside_a_batch_job_is_one_line(spool: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM")}
    out = subprocess.run([str(BIN / "renderd"), "--spool", str(spool), "--pilot"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 2 and "SLURM_JOB_ID is not set" in out.stderr and "Traceback" not in out.stderr


def test_burst_without_sbatch_says_so_in_one_line(spool: Path) -> None:
    add_job(spool, "1", ["true"])
    out = subprocess.run([str(BIN / "render"), "--spool", str(spool), "burst", "--slurm", "2"], capture_output=True,
                         text=True, env={**os.environ, "PATH": "/nonexistent"}, timeout=60)
    assert out.returncode == 1 and out.stderr.strip().count("\n") == 0, out.stderr
    assert "`sbatch` is not installed" in out.stderr
    assert not (spool / "burst").exists()
    status = render(spool, "burst", "--status", check=False)
    assert status.returncode == 0 and "no pilots were submitted" in status.stderr


def test_render_hosts_notes_a_live_pilot(spool: Path) -> None:
    now = time.time()
    Spool.open(spool, create=True).write_host("node7-15_2", {
        "format": 1, "name": "node7-15_2", "state": "idle", "heartbeat": now, "started": now, "load": [0.1, 0.1, 0.1],
        "chunks": [], "pilot": {"idle_exit": 60.0, "end_in": 3600.0}})
    out = render(spool, "hosts").stdout
    assert "(Slurm pilot, leaves after 60 s without work, job time limit at " in out, out
