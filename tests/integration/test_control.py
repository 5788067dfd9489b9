"""Job control through the spool: cancel, pause (--now), resume, retry (--missing), priority, remove, log."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import FAKEPROG
from helpers.daemons import add_job, leftover_info_files, process_alive, processes_mentioning, render, wait_for


def status(spool: Path, job: str, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render(spool, "status", job, "--json", *args).stdout)["jobs"][0]
    return data


def pid_of(markers: Path, name: str) -> int:
    return int((markers / f"{name}.starts").read_text().split()[1])


def process_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0]


def test_cancel_while_chunks_run_on_two_daemons_leaves_no_process_and_no_info_file(
    spool: Path, markers: Path, start_daemon  # type: ignore[no-untyped-def]
) -> None:
    start_daemon("a", "--allow-commands", "--poll", "1", "--grace", "30")
    start_daemon("b", "--allow-commands", "--poll", "1", "--grace", "30")
    job = add_job(spool, "1-6", ["python3", FAKEPROG, str(markers), "c{start}", "--sleep", "300",
                                 "--child-sleep", "300"], "--chunk", "1")
    running = wait_for(lambda: [p for p in markers.glob("*.running")] if len(list(markers.glob("*.child"))) == 2
                       else None, 60, what="a chunk running on each daemon")
    assert len(running) == 2
    children = [int(p.read_text()) for p in markers.glob("*.child")]
    assert processes_mentioning(str(markers)), "the chunks' processes run"

    out = render(spool, "cancel", job["job"])
    # the split between queued and running depends on timing; the end state below is what matters
    assert re.search(r"\d+ queued and 0 failed chunk\(s\) removed, \d+ running chunk\(s\) being stopped", out.stderr)
    wait_for(lambda: not processes_mentioning(str(markers)) and not any(map(process_alive, children)), 15,
             what="every process of the job to end")
    wait_for(lambda: leftover_info_files(spool) == [], 15, what="no info file of the job left")
    assert list((spool / "failed").iterdir()) == []
    s = wait_for(lambda: (lambda s: s if s["chunks"]["cancelled"] == 6 else None)(status(spool, job["job"])), 15,
                 what="all six chunks recorded as cancelled")
    assert (s["state"], s["chunks"]["done"], s["chunks"]["failed"], s["chunks"]["running"]) == ("cancelled", 0, 0, 0)
    assert render(spool, "wait", job["job"], "--timeout", "10", check=False).returncode == 1


def test_pause_stops_new_claims_and_resume_lets_them_run(spool: Path, markers: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    urgent = add_job(spool, "1-2", ["python3", FAKEPROG, str(markers), "u{start}"], "--chunk", "1", "--priority", "90")
    render(spool, "pause", urgent["job"])
    later = add_job(spool, "1-2", ["python3", FAKEPROG, str(markers), "l{start}"], "--chunk", "1", "--priority", "10")
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    assert render(spool, "wait", later["job"], "--timeout", "60", check=False).returncode == 0
    assert not list(markers.glob("u*")), "a chunk of the paused job ran"
    assert status(spool, urgent["job"])["state"] == "paused"
    render(spool, "resume", urgent["job"])
    assert render(spool, "wait", urgent["job"], "--timeout", "60", check=False).returncode == 0


def test_pause_now_suspends_running_chunks_and_resume_continues_them(spool: Path, markers: Path,
                                                                     start_daemon) -> None:  # type: ignore[no-untyped-def]
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "p", "--sleep", "3"])
    wait_for(lambda: (markers / "p.starts").exists(), 30, what="the chunk to start")
    pid = pid_of(markers, "p")
    render(spool, "pause", job["job"], "--now")
    wait_for(lambda: process_state(pid) == "T", 15, what="the chunk to be suspended")
    assert not (markers / "p.runs").exists()
    render(spool, "resume", job["job"])
    wait_for(lambda: not process_alive(pid) or process_state(pid) != "T", 15, what="the chunk to continue")
    assert render(spool, "wait", job["job"], "--timeout", "60", check=False).returncode == 0


def test_retry_requeues_failed_chunks_with_attempts_reset(spool: Path, markers: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    flaky = ["python3", "-c", "import os, sys; sys.exit(0 if os.path.exists('flag') else 3)"]
    job = add_job(spool, "1-2", flaky, "--chunk", "1", "--max-attempts", "1", cwd=markers)
    assert render(spool, "wait", job["job"], "--timeout", "60", check=False).returncode == 1
    assert status(spool, job["job"])["chunks"]["failed"] == 2
    (markers / "flag").write_text("fixed")
    out = render(spool, "retry", job["job"])
    assert "2 chunk(s) back in the queue" in out.stderr
    assert render(spool, "wait", job["job"], "--timeout", "60", check=False).returncode == 0
    done = json.loads(next((spool / "jobs" / job["job"] / "done").iterdir()).read_text())
    events = [h["event"] for h in done["history"]]
    assert done["attempts"] == 0 and events.index("failed") < events.index("retried")


def test_retry_missing_brings_cancelled_chunks_back_and_status_lists_missing_frames(
    spool: Path, markers: Path, start_daemon  # type: ignore[no-untyped-def]
) -> None:
    job = add_job(spool, "1-6", ["python3", FAKEPROG, str(markers), "c{start}"], "--chunk", "2")
    render(spool, "cancel", job["job"])
    s = status(spool, job["job"], "--frames")
    assert (s["state"], s["chunks"]["cancelled"], s["missing_frames"]) == ("cancelled", 3, [1, 2, 3, 4, 5, 6])
    assert "missing frames: 1-6" in render(spool, "status", job["job"], "--frames").stdout
    assert "3 chunk(s) back in the queue" in render(spool, "retry", job["job"], "--missing").stderr
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    assert render(spool, "wait", job["job"], "--timeout", "60", check=False).returncode == 0
    s = status(spool, job["job"], "--frames")
    assert (s["state"], s["chunks"]["done"], s["chunks"]["cancelled"], s["missing_frames"]) == ("done", 3, 0, [])
    assert s["frame_time"]["average"] is not None and s["elapsed"] is not None and s["eta"] is None


def test_priority_renames_the_queue_folder_and_updates_the_manifest(spool: Path, markers: Path) -> None:
    job = add_job(spool, "1-4", ["python3", FAKEPROG, str(markers), "c{start}"], "--chunk", "2")
    render(spool, "priority", job["job"], "80")
    (folder,) = (spool / "queue").iterdir()
    assert folder.name.startswith("919-") and folder.name.endswith(job["job"])
    assert len(list(folder.iterdir())) == 2
    assert json.loads((spool / "jobs" / job["job"] / "manifest.json").read_text())["priority"] == 80
    bad = render(spool, "priority", job["job"], "1000", check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_remove_drops_a_finished_job_and_log_shows_any_chunk(spool: Path, markers: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    job = add_job(spool, "1-2", ["python3", "-c", "print('hello from {start}')"], "--chunk", "1")
    assert render(spool, "wait", job["job"], "--timeout", "60", check=False).returncode == 0
    assert "hello from 2" in render(spool, "log", f"{job['job']}:2").stdout
    logs = json.loads(render(spool, "log", job["job"], "--json").stdout)["logs"]
    assert [(entry["chunk"], entry["host"], entry["run"]) for entry in logs] == [
        (c["chunk"], "a", 1) for c in job["chunks"]]
    missing = render(spool, "log", f"{job['job']}:9", check=False)
    assert missing.returncode == 2 and "has no chunk '9'" in missing.stderr  # unknown job or chunk: 2 everywhere
    render(spool, "remove", job["job"])
    assert not (spool / "jobs" / job["job"]).exists()
    gone = render(spool, "status", job["job"], check=False)
    assert gone.returncode == 2 and "no job" in gone.stderr


def test_a_control_file_written_by_someone_else_is_ignored_by_the_daemons(spool: Path, markers: Path,
                                                                          start_daemon) -> None:  # type: ignore[no-untyped-def]
    if os.getuid() != 0:
        pytest.skip("writing a file as another user needs root")
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "x"])
    render(spool, "cancel", job["job"])
    render(spool, "retry", job["job"], "--missing")
    control = spool / "jobs" / job["job"] / "control.json"
    data = json.loads(control.read_text())
    control.write_text(json.dumps({**data, "cancelled": True}))
    os.chown(control, 54321, 54321)  # as if another user had written it
    d = start_daemon("a", "--allow-commands", "--poll", "0.5")
    assert render(spool, "wait", job["job"], "--timeout", "60", check=False).returncode == 0
    assert "uid 54321 is not its owner" in d.output()


def test_fifos_planted_in_a_jobs_folder_hang_neither_the_daemon_nor_render(spool: Path, markers: Path,
                                                                           start_daemon) -> None:  # type: ignore[no-untyped-def]
    job = add_job(spool, "1-2", ["python3", FAKEPROG, str(markers), "c{start}"], "--chunk", "1")
    other = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "o"])
    folder = spool / "jobs" / job["job"]
    os.mkfifo(folder / "control.json")
    os.mkfifo(folder / "done" / f"{job['job']}-9999.json")
    (spool / "jobs" / other["job"] / "manifest.json").unlink()
    os.mkfifo(spool / "jobs" / other["job"] / "manifest.json")
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    assert render(spool, "wait", job["job"], "--timeout", "60", check=False, timeout=90).returncode == 0
    jobs = json.loads(render(spool, "status", "--json", timeout=60).stdout)["jobs"]
    assert [j["job"] for j in jobs] == [job["job"]]
    assert render(spool, "top", timeout=60).returncode == 0
