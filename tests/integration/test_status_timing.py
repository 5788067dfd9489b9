"""Status timing: time suspended is counted apart (not in frame times), elapsed never goes down at a cancel."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from conftest import FAKEPROG
from helpers.daemons import add_job, render, wait_for


def _status(spool: Path, job: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render(spool, "status", job, "--json").stdout)["jobs"][0]
    return data


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_time_suspended_is_counted_apart_from_the_frames_time(spool: Path, markers: Path,
                                                              start_daemon) -> None:  # type: ignore[no-untyped-def]
    start_daemon("t1", "--allow-commands", "--poll", "0.5")
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "s", "--sleep", "2"])["job"]
    wait_for(lambda: (markers / "s.starts").exists(), 60, what="the chunk to start")
    pid = int((markers / "s.starts").read_text().split()[1])
    render(spool, "pause", job, "--now")
    wait_for(lambda: _state(pid) == "T", 30, what="the chunk to be suspended")
    stopped_at = time.monotonic()
    wait_for(lambda: time.monotonic() - stopped_at >= 2.0, 10, interval=0.1, what="two seconds suspended")
    render(spool, "resume", job)
    assert render(spool, "wait", job, "--timeout", "2m", check=False).returncode == 0
    (record,) = (json.loads(p.read_text()) for p in (spool / "jobs" / job / "done").iterdir())
    assert 2.0 <= record["suspended"] <= record["seconds"]
    data = _status(spool, job)
    assert data["suspended"] >= 2.0
    own = record["seconds"] - record["suspended"]  # the frame's own time only
    assert abs(data["frame_time"]["average"] - own) < 0.01
    assert "(suspended 0m0" in render(spool, "status", job).stdout


def test_elapsed_does_not_go_down_when_a_job_is_cancelled(spool: Path, markers: Path,
                                                          start_daemon) -> None:  # type: ignore[no-untyped-def]
    start_daemon("t2", "--allow-commands", "--poll", "0.5")
    job = add_job(spool, "1-2", ["python3", FAKEPROG, str(markers), "c{start}", "--sleep", "{start}0"],
                  "--chunk", "1")["job"]  # chunk 1 sleeps 10 s, chunk 2 20 s: both still running or queued
    wait_for(lambda: (markers / "c1.starts").exists(), 60, what="the first chunk to start")
    wait_for(lambda: (_status(spool, job)["elapsed"] or 0) >= 1.0, 60, what="a second of elapsed time")
    before = _status(spool, job)["elapsed"]
    render(spool, "cancel", job)
    wait_for(lambda: _status(spool, job)["state"] == "cancelled", 60, what="the cancel to finish")
    assert _status(spool, job)["elapsed"] >= before
