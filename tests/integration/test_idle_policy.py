"""The idle policy end to end: real daemons, real chunks, owner activity through --activity-path and CPU load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conftest import FAKEPROG
from helpers.daemons import add_job, render, wait_for

from renderd.check import process_priorities

IDLE = ("--when", "idle", "--idle-signals", "none", "--allow-commands", "--poll", "0.5")


def host_record(spool: Path, name: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((spool / "hosts" / f"{name}.json").read_text())
    except (OSError, ValueError):
        return {}
    return data


def proc_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        raw = fh.read()
    return raw[raw.rfind(b")") + 2 :].split()[0].decode()


def group_members(pgid: int) -> list[int]:
    """Live processes whose process group is `pgid` (a chunk's program and its children)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                raw = fh.read()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != b"Z":
            out.append(int(entry))
    return out


def group_states(pgid: int) -> set[str]:
    states = set()
    for pid in group_members(pgid):
        try:
            states.add(proc_state(pid))
        except OSError:
            continue
    return states


def started_pid(markers: Path, chunk: str) -> int | None:
    """The pid the fake program recorded when it started (its process group id too); None before that."""
    try:
        text = (markers / f"{chunk}.starts").read_text()
    except FileNotFoundError:
        return None
    if not text.endswith("\n"):
        return None  # not written completely yet
    return int(text.splitlines()[-1].split()[1])


def wait_started(markers: Path, chunk: str, timeout: float = 60) -> int:
    pid: int = wait_for(lambda: started_pid(markers, chunk), timeout, what=f"chunk {chunk} to start")
    return pid


@contextmanager
def toucher(path: Path, every: float = 0.2) -> Iterator[threading.Event]:
    """Keep the activity file fresh (the owner working) until the block ends."""
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            path.touch()
            stop.wait(every)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join()


def test_chunk_waits_for_idle_owner_suspends_on_activity_resumes_and_is_given_back(  # type: ignore[no-untyped-def]
    spool: Path, markers: Path, tmp_path: Path, start_daemon
) -> None:
    activity = tmp_path / "owner-active"
    hold = tmp_path / "hold"
    hold.touch()
    a_args = (*IDLE, "--activity-path", str(activity), "--idle-after", "2", "--resume-after", "2")
    with toucher(activity):
        a = start_daemon("a", *a_args, "--max-suspend", "8")
        job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "c", "--hold", str(hold)])
        chunk = job["chunks"][0]["chunk"]
        # The owner keeps working: the daemon sees the chunk but does not start it.
        wait_for(lambda: "owner active" in str(host_record(spool, "a").get("policy")), 30, what="policy to say why")
        watch_until = time.monotonic() + 3
        while time.monotonic() < watch_until:
            assert not (markers / "c.starts").exists(), "a chunk started while the owner was active"
            time.sleep(0.1)
        quiet_since = time.time()
    # 2 s after the owner stops, it starts.
    pid = wait_started(markers, "c", 60)
    started = float((markers / "c.starts").read_text().split()[0])
    assert started - os.stat(activity).st_mtime >= 2.0
    assert started - quiet_since >= 1.5

    # The owner is back: the chunk's processes stop (state T).
    activity.touch()
    touched = time.monotonic()
    wait_for(lambda: group_states(pid) == {"T"}, 30, what="the chunk's processes to be stopped")
    latency = time.monotonic() - touched
    wait_for(lambda: host_record(spool, "a").get("state") == "suspended", 30, what="host state suspended")
    print(f"activity -> all processes in state T: {latency:.3f} s")

    # Quiet again: after --resume-after it runs on, with its claim (lease) kept all along.
    wait_for(lambda: "T" not in group_states(pid), 30, what="the chunk to resume")
    assert [c.chunk for c in claims(spool)] == [chunk]
    assert "resumed" in a.output()

    # The owner works for longer than --max-suspend: the chunk goes back to the queue, not to failed/.
    with toucher(activity):
        wait_for(lambda: group_states(pid) == {"T"}, 30, what="the second suspension")
        wait_for(lambda: queued(spool) == [chunk], 60, what="the preempted chunk to be back in the queue")
    info = json.loads(next((spool / "queue").glob(f"*/{chunk}.info")).read_text())
    assert info["attempts"] == 0 and info["failed_hosts"] == []
    assert [h["event"] for h in info["history"]][-1] == "preempted"
    assert not group_members(pid)

    # Another host finishes it.
    a.stop()
    hold.unlink()
    start_daemon("b", "--allow-commands", "--poll", "0.5")
    waited = render(spool, "wait", job["job"], "--timeout", "60", check=False)
    assert waited.returncode == 0, waited.stderr
    done = json.loads((spool / "jobs" / job["job"] / "done" / f"{chunk}.json").read_text())
    assert done["host"] == "b"


def claims(spool: Path) -> list[Any]:
    from renderd.format.names import ClaimName

    return [c for c in (ClaimName.parse(p.name) for p in (spool / "claimed").iterdir()) if c is not None]


def queued(spool: Path) -> list[str]:
    return sorted(p.name[: -len(".info")] for p in (spool / "queue").glob("*/*.info"))


def test_running_chunk_has_sched_idle_nice_19_and_idle_io_class(  # type: ignore[no-untyped-def]
    spool: Path, markers: Path, tmp_path: Path, start_daemon
) -> None:
    hold = tmp_path / "hold"
    hold.touch()
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "p", "--hold", str(hold)])
    pid = wait_started(markers, "p", 60)
    prio = process_priorities(pid)
    assert {k: prio[k] for k in ("policy", "nice", "io_class")} == {
        "policy": "SCHED_IDLE",
        "nice": 19,
        "io_class": "idle",
    }
    # where sessions are CPU groups (autogroup), the chunk's session group is lowered as well
    autogroups = Path("/proc/sys/kernel/sched_autogroup_enabled")
    if autogroups.exists() and autogroups.read_text().strip() == "1":
        assert prio["autogroup_nice"] == 19
    # the daemon itself stays at the priority it was started with (the test runner's), so it
    # heartbeats and suspends on time
    daemon_pid = int(host_record(spool, "a")["pid"])
    assert process_priorities(daemon_pid)["policy"] == "SCHED_OTHER"
    assert process_priorities(daemon_pid)["nice"] == os.nice(0)
    hold.unlink()
    assert render(spool, "wait", job["job"], "--timeout", "60", check=False).returncode == 0


def test_cpu_load_by_other_programs_suspends_the_chunk_and_quiet_resumes_it(  # type: ignore[no-untyped-def]
    spool: Path, markers: Path, tmp_path: Path, start_daemon
) -> None:
    hold = tmp_path / "hold"
    hold.touch()
    ncpu = os.cpu_count() or 1
    # A busy threshold just under "every core busy", so other work on a shared test machine rarely reaches it.
    busy = max(0.5, ncpu - 0.5)
    policy = ("--when", "idle", "--idle-signals", "cpu", "--cpu-busy", str(busy), "--idle-after", "0")
    start_daemon("a", *policy, "--resume-after", "1", "--allow-commands", "--poll", "0.5")
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "u", "--hold", str(hold)])
    pid = wait_started(markers, "u", 120)
    burn = "while True: pass"
    burners = [subprocess.Popen([sys.executable, "-c", burn]) for _ in range(ncpu)]
    try:
        wait_for(lambda: group_states(pid) == {"T"}, 60, what="CPU load to suspend the chunk")
    finally:
        for b in burners:
            b.kill()
            b.wait()
    wait_for(lambda: "T" not in group_states(pid), 120, what="the chunk to resume once the CPU is quiet")
    hold.unlink()
    assert render(spool, "wait", job["job"], "--timeout", "60", check=False).returncode == 0


def test_owner_pauses_drains_and_resumes_a_host_from_the_front_end(  # type: ignore[no-untyped-def]
    spool: Path, markers: Path, tmp_path: Path, start_daemon
) -> None:
    hold = tmp_path / "hold"
    hold.touch()
    start_daemon("a", "--allow-commands", "--poll", "0.5", "--max-suspend", "600")
    first = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "h1", "--hold", str(hold)])
    pid = wait_started(markers, "h1", 60)

    out = render(spool, "host", "pause")  # no HOST: this machine's daemon of the spool
    assert out.stderr.startswith("a: paused")
    wait_for(lambda: group_states(pid) == {"T"}, 30, what="pause to suspend the running chunk")
    wait_for(lambda: host_record(spool, "a").get("state") == "paused", 30, what="host state paused")
    assert "paused" in render(spool, "hosts").stdout

    render(spool, "host", "drain", "a")
    wait_for(lambda: "T" not in group_states(pid), 30, what="drain to let the chunk run on")
    wait_for(lambda: host_record(spool, "a").get("state") == "drain", 30, what="host state drain")
    second = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "h2"])
    hold.unlink()
    assert render(spool, "wait", first["job"], "--timeout", "60", check=False).returncode == 0
    assert "draining" in str(host_record(spool, "a").get("policy"))
    assert not (markers / "h2.starts").exists()

    render(spool, "host", "resume", "a")
    assert render(spool, "wait", second["job"], "--timeout", "60", check=False).returncode == 0
    assert not (spool / "hosts" / "a.control").exists()


def test_host_command_refuses_an_unknown_host_in_one_line(spool: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    start_daemon("a")
    out = render(spool, "host", "pause", "nosuch", check=False)
    assert out.returncode == 2  # an unknown name is a usage error in every command (render_frontend/exitcodes.py)
    assert out.stderr.strip().splitlines() == [f"Error: no host 'nosuch' in {spool} (hosts: a)"]
    bad = render(spool, "host", "sleep", "a", check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_renderd_check_reports_signals_priorities_and_the_spools_disk(spool: Path, tmp_path: Path) -> None:
    activity = tmp_path / "sensor"
    activity.touch()
    work = tmp_path / "work"
    work.mkdir()
    add_job(spool, "1-1", ["true"], cwd=work)
    renderd = Path(sys.executable).parent / "renderd"
    out = subprocess.run(
        [str(renderd), "--check", "--spool", str(spool), "--activity-path", str(activity), "--idle-signals", "cpu"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "owner-activity signals (used: cpu):"
    by_signal = {line.split()[0]: line for line in lines[1:6]}
    assert set(by_signal) == {"logind", "input", "tty", "cpu", "path"}
    assert "works" in by_signal["cpu"] and "[not used]" in by_signal["tty"]
    assert "works" in by_signal["path"] and str(activity) in by_signal["path"]
    prio_line = next(line for line in lines if line.startswith("chunk priorities:"))
    assert prio_line.startswith("chunk priorities: SCHED_IDLE, nice 19, I/O class idle, ")
    assert prio_line.endswith("(all work)")
    spool_line = next(line for line in lines if line.strip().startswith("spool "))
    assert str(spool) in spool_line and ("bfq" in spool_line or "network" in spool_line or "block device" in spool_line)
    assert any(line.strip().startswith(f"output {work}: ") for line in lines)


def test_bad_policy_options_are_one_clear_line(spool: Path) -> None:
    renderd = Path(sys.executable).parent / "renderd"
    for option, value, words in (
        ("--schedule", "funday 9:00-17:00", "unknown day"),
        ("--min-free-mem", "lots", "is not a size"),
        ("--idle-signals", "mouse", "unknown signal"),
        ("--idle-after", "-1", "-1"),
    ):
        out = subprocess.run(
            [str(renderd), "--spool", str(spool), option, value], capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 2, (option, out.stderr)
        assert words in out.stderr and "Traceback" not in out.stderr
        assert out.stderr.strip().splitlines()[-1].startswith("Error: Invalid value for")


def test_job_pause_and_owner_activity_each_keep_a_chunk_stopped(  # type: ignore[no-untyped-def]
    spool: Path, markers: Path, tmp_path: Path, start_daemon
) -> None:
    """`render pause JOB --now` and the idle policy both stop a chunk; neither one's resume undoes the other."""
    activity = tmp_path / "owner-active"
    hold = tmp_path / "hold"
    hold.touch()
    start_daemon("a", *IDLE, "--activity-path", str(activity), "--idle-after", "0", "--resume-after", "1")
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "j", "--hold", str(hold)])
    pid = wait_started(markers, "j", 60)
    render(spool, "pause", job["job"], "--now")
    wait_for(lambda: group_states(pid) == {"T"}, 30, what="job pause to stop the chunk")
    with toucher(activity):
        render(spool, "resume", job["job"])  # the owner is working: the chunk must stay stopped
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # job control's SIGCONT may win for a moment; the policy stops it again
            wait_for(lambda: group_states(pid) == {"T"}, 30, what="the owner's activity to keep it stopped")
            time.sleep(0.1)
    wait_for(lambda: "T" not in group_states(pid), 60, what="the chunk to resume once the owner is idle")
    hold.unlink()
    assert render(spool, "wait", job["job"], "--timeout", "60", check=False).returncode == 0


def test_memory_floor_and_schedule_keep_chunks_from_starting(  # type: ignore[no-untyped-def]
    spool: Path, markers: Path, start_daemon
) -> None:
    tomorrow = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[(time.localtime().tm_wday + 1) % 7]
    start_daemon("low", "--allow-commands", "--poll", "0.5", "--min-free-mem", "1000T")
    start_daemon("late", "--allow-commands", "--poll", "0.5", "--schedule", tomorrow)
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "m"])
    wait_for(
        lambda: "free memory (needs 1024000.0)" in str(host_record(spool, "low").get("policy")),
        30,
        what="the memory floor to be the reason",
    )
    wait_for(
        lambda: str(host_record(spool, "late").get("policy")) == f"outside the schedule ({tomorrow})",
        30,
        what="the schedule to be the reason",
    )
    hosts = render(spool, "hosts").stdout
    assert f"(outside the schedule ({tomorrow}))" in hosts and "GiB free memory" in hosts
    assert render(spool, "wait", job["job"], "--timeout", "3", check=False).returncode == 3
    assert not (markers / "m.starts").exists()


def test_a_suspended_chunk_keeps_its_lease(spool: Path, markers: Path, tmp_path: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    hold = tmp_path / "hold"
    hold.touch()
    start_daemon("a", "--allow-commands", "--poll", "0.5", "--lease", "4")
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "k", "--hold", str(hold)])
    pid = wait_started(markers, "k", 60)
    render(spool, "host", "pause", "a")
    wait_for(lambda: group_states(pid) == {"T"}, 30, what="the chunk to be suspended")
    [beat] = list((spool / "claimed").glob("*.hb"))
    first = beat.read_bytes()
    wait_for(lambda: beat.read_bytes() != first, 30, what="the heartbeat to go on while suspended")
    assert group_states(pid) == {"T"}
    render(spool, "host", "resume", "a")
    hold.unlink()
    assert render(spool, "wait", job["job"], "--timeout", "60", check=False).returncode == 0


def test_stopping_the_daemon_gives_back_a_suspended_chunk(
    spool: Path, markers: Path, tmp_path: Path, start_daemon
) -> None:  # type: ignore[no-untyped-def]
    hold = tmp_path / "hold"
    hold.touch()
    a = start_daemon("a", "--allow-commands", "--poll", "0.5", "--grace", "5")
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "s", "--hold", str(hold)])
    pid = wait_started(markers, "s", 60)
    render(spool, "host", "pause", "a")
    wait_for(lambda: group_states(pid) == {"T"}, 30, what="the chunk to be suspended")
    assert a.stop() == 0
    assert not group_members(pid)  # a stopped process still dies: SIGCONT comes with the SIGTERM
    assert queued(spool) == [job["chunks"][0]["chunk"]]
    info = json.loads(next((spool / "queue").glob("*/*.info")).read_text())
    assert info["history"][-1]["event"] == "returned" and info["attempts"] == 0
