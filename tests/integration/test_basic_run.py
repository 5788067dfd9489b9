"""A daemon runs a command job to the end; `render wait` reports it."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import FAKEPROG
from helpers.daemons import add_job, leftover_info_files, render


def test_command_job_runs_every_chunk_and_leaves_no_info_file(spool: Path, markers: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    job = add_job(spool, "1-30", ["python3", FAKEPROG, str(markers), "c{start}"], "--chunk", "10")
    assert [(c["start"], c["end"]) for c in job["chunks"]] == [(1, 10), (11, 20), (21, 30)]
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    waited = render(spool, "wait", job["job"], "--timeout", "60", check=False)
    assert waited.returncode == 0, waited.stderr
    for start in (1, 11, 21):
        assert len((markers / f"c{start}.runs").read_text().splitlines()) == 1
    assert leftover_info_files(spool) == []
    status = json.loads(render(spool, "status", job["job"], "--json").stdout)
    assert status["jobs"][0]["chunks"]["done"] == 3


def test_failing_chunk_ends_in_failed_with_reason_and_wait_exits_1(spool: Path, markers: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "x", "--exit", "3"], "--max-attempts", "2")
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    waited = render(spool, "wait", job["job"], "--timeout", "60", check=False)
    assert waited.returncode == 1, waited.stderr
    chunk = job["chunks"][0]["chunk"]
    assert "exit code 3" in (spool / "failed" / f"{chunk}.info.reason").read_text()
    info = json.loads((spool / "failed" / f"{chunk}.info").read_text())
    assert info["attempts"] == 2
    assert len((markers / "x.runs").read_text().splitlines()) == 2
    logs = list((spool / "jobs" / job["job"] / "logs").iterdir())
    assert len(logs) == 2 and all("FAILED: exit code 3" in p.read_text() for p in logs)


def test_daemon_without_allow_commands_leaves_command_chunks_queued(spool: Path, markers: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "x"])
    start_daemon("a", "--poll", "0.3")
    waited = render(spool, "wait", job["job"], "--timeout", "2", check=False)
    assert waited.returncode == 3
    assert "no live daemon may run" in waited.stderr
    assert not (markers / "x.runs").exists()
    assert list((spool / "bad").iterdir()) == []
