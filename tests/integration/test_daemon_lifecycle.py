"""A daemon's life seen from outside: shutdown gives work back, no process outlives its chunk,
time limits, retries elsewhere, low priority for chunks only, and where the spool gets set up."""

from __future__ import annotations

import ctypes
import json
import os
import platform
import signal
from pathlib import Path
from typing import Any

import pytest
from conftest import FAKEPROG
from helpers.daemons import add_job, leftover_info_files, process_alive, render, wait_for

from renderd.launcher import IOPRIO_CLASS_IDLE, IOPRIO_CLASS_SHIFT, IOPRIO_SYSCALL, IOPRIO_WHO_PROCESS, descendants
from renderd.spool import LAYOUT, MARKER

FAST = ("--allow-commands", "--poll", "0.5")


def started(markers: Path, chunk: str) -> list[tuple[int, str]]:
    """(pid, host) of every run of `chunk` that has started, from fakeprog's .starts file."""
    try:
        lines = (markers / f"{chunk}.starts").read_text().splitlines()
    except FileNotFoundError:
        return []
    return [(int(pid), host) for _, pid, host in (line.split() for line in lines)]


def runs(markers: Path, chunk: str) -> list[str]:
    """The host of every run of `chunk` that reached its end."""
    try:
        lines = (markers / f"{chunk}.runs").read_text().splitlines()
    except FileNotFoundError:
        return []
    return [line.split()[3] for line in lines]


def queued_infos(spool: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in (spool / "queue").glob("*/*.info")]


def failed_info(spool: Path, chunk: str) -> tuple[dict[str, Any], str]:
    info = json.loads((spool / "failed" / f"{chunk}.info").read_text())
    return info, (spool / "failed" / f"{chunk}.info.reason").read_text()


def all_dead(pids: list[int]) -> bool:
    return not any(process_alive(p) for p in pids)


def wait_ok(spool: Path, job: dict[str, Any]) -> None:
    waited = render(spool, "wait", job["job"], "--timeout", "90", check=False)
    assert waited.returncode == 0, waited.stderr


def test_sigterm_stops_the_chunks_gives_them_back_and_another_daemon_finishes_them(
    spool: Path,
    markers: Path,
    tmp_path: Path,
    start_daemon,  # type: ignore[no-untyped-def]
) -> None:
    hold = tmp_path / "hold"
    hold.touch()
    job = add_job(spool, "1-2", ["python3", FAKEPROG, str(markers), "t{start}", "--hold", str(hold)], "--chunk", "1")
    a = start_daemon("a", *FAST, "--slots", "2", "--grace", "5")
    wait_for(lambda: started(markers, "t1") and started(markers, "t2"), 60, what="both chunks to start")
    [(pid1, host1)], [(pid2, host2)] = started(markers, "t1"), started(markers, "t2")
    assert host1 == host2 == "a"
    tree = descendants(a.pid)
    assert {pid1, pid2} <= set(tree)

    assert a.stop(60) == 0
    assert not process_alive(pid1) and not process_alive(pid2), "a chunk's program outlived the daemon"
    wait_for(lambda: all_dead(tree), 30, what="every process of the stopped daemon to end")
    infos = queued_infos(spool)
    assert sorted(i["chunk"] for i in infos) == sorted(c["chunk"] for c in job["chunks"])
    for info in infos:
        assert (info["attempts"], info["requeues"]) == (0, 0), "a shutdown is not a failed attempt"
        assert info["history"][-1]["event"] == "returned"
    assert os.listdir(spool / "claimed") == []
    assert json.loads((spool / "hosts" / "a.json").read_text())["state"] == "offline"

    hold.unlink()
    start_daemon("b", *FAST)
    wait_ok(spool, job)
    for chunk in ("t1", "t2"):
        assert runs(markers, chunk) == ["b"]
        assert [h for _, h in started(markers, chunk)] == ["a", "b"]
    assert leftover_info_files(spool) == []


def test_grandchild_in_its_own_session_dies_with_a_killed_daemon(
    spool: Path,
    markers: Path,
    tmp_path: Path,
    start_daemon,  # type: ignore[no-untyped-def]
) -> None:
    hold = tmp_path / "hold"
    hold.touch()
    add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "g", "--child-sleep", "300", "--hold", str(hold)])
    a = start_daemon("a", *FAST)
    wait_for(lambda: (markers / "g.child").exists() and (markers / "g.child").read_text(), 60, what="the grandchild")
    grandchild = int((markers / "g.child").read_text())
    [(pid, _)] = started(markers, "g")
    tree = descendants(a.pid)
    assert {pid, grandchild} <= set(tree)
    assert os.getsid(grandchild) == grandchild != os.getsid(pid), "the grandchild left the chunk's session"

    a.kill()  # SIGKILL: the daemon cleans up nothing itself
    wait_for(lambda: all_dead(tree), 60, what="every process of the killed daemon to die")


def test_grandchild_is_killed_when_its_chunk_ends_normally(
    spool: Path,
    markers: Path,
    start_daemon,  # type: ignore[no-untyped-def]
) -> None:
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "n", "--child-sleep", "300"])
    a = start_daemon("a", *FAST)
    wait_ok(spool, job)
    grandchild = int((markers / "n.child").read_text())
    wait_for(lambda: not process_alive(grandchild), 60, what="the grandchild to be killed")
    assert a.alive()
    assert [p for p in descendants(a.pid) if p == grandchild] == []


@pytest.mark.parametrize(
    ("job_opts", "daemon_opts", "prog_opts"),
    [
        (("--timeout", "2"), ("--chunk-timeout", "3600"), ()),  # the job's own limit wins
        ((), ("--chunk-timeout", "2"), ()),
        (("--timeout", "2"), (), ("--ignore-term", "1")),  # SIGKILL after --grace
    ],
    ids=["render-add-timeout", "renderd-chunk-timeout", "ignores-sigterm"],
)
def test_hung_chunk_is_killed_at_its_time_limit_and_counts_as_a_failed_attempt(
    spool: Path,
    markers: Path,
    tmp_path: Path,
    start_daemon,  # type: ignore[no-untyped-def]
    job_opts: tuple[str, ...],
    daemon_opts: tuple[str, ...],
    prog_opts: tuple[str, ...],
) -> None:
    hold = tmp_path / "hold"
    hold.touch()  # never removed: the chunk hangs
    argv = ["python3", FAKEPROG, str(markers), "h", "--hold", str(hold), *prog_opts]
    job = add_job(spool, "1-1", argv, "--max-attempts", "2", *job_opts)
    start_daemon("a", *FAST, "--grace", "1", *daemon_opts)
    waited = render(spool, "wait", job["job"], "--timeout", "90", check=False)
    assert waited.returncode == 1, waited.stderr
    info, reason = failed_info(spool, job["chunks"][0]["chunk"])
    assert info["attempts"] == 2 and info["requeues"] == 0
    assert "timed out" in reason
    failures = [h for h in info["history"] if h["event"] == "failed"]
    assert len(failures) == 2 and all(h["reason"].startswith("timed out after") for h in failures)
    pids = [p for p, _ in started(markers, "h")]  # a run killed while Python still starts up logs nothing
    assert len(pids) <= 2 and runs(markers, "h") == []
    wait_for(lambda: all_dead(pids), 60, what="the timed-out programs to be gone")


def test_failed_chunk_is_retried_on_another_live_host(
    spool: Path,
    markers: Path,
    start_daemon,  # type: ignore[no-untyped-def]
) -> None:
    start_daemon("a", *FAST)
    start_daemon("b", *FAST)
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "f", "--exit", "3"], "--max-attempts", "2")
    waited = render(spool, "wait", job["job"], "--timeout", "90", check=False)
    assert waited.returncode == 1, waited.stderr
    hosts = runs(markers, "f")
    assert sorted(hosts) == ["a", "b"], f"the retry ran on the host that failed it: {hosts}"
    info, reason = failed_info(spool, job["chunks"][0]["chunk"])
    assert sorted(info["failed_hosts"]) == ["a", "b"] and "exit code 3" in reason


def test_a_live_host_that_may_not_run_the_chunk_is_not_waited_for(
    spool: Path,
    markers: Path,
    start_daemon,  # type: ignore[no-untyped-def]
) -> None:
    start_daemon("a", *FAST)
    start_daemon("blender-only", "--poll", "0.5")  # live, but refuses command chunks
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "o", "--exit", "3"], "--max-attempts", "2")
    waited = render(spool, "wait", job["job"], "--timeout", "90", check=False)
    assert waited.returncode == 1, waited.stderr
    assert runs(markers, "o") == ["a", "a"]


def test_on_a_one_host_farm_the_same_host_retries(
    spool: Path,
    markers: Path,
    start_daemon,  # type: ignore[no-untyped-def]
) -> None:
    gone = start_daemon("gone", *FAST)
    assert gone.stop(60) == 0  # an offline host's record does not count as a host to prefer
    start_daemon("solo", *FAST)
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "s", "--exit", "3"], "--max-attempts", "3")
    waited = render(spool, "wait", job["job"], "--timeout", "90", check=False)
    assert waited.returncode == 1, waited.stderr
    assert runs(markers, "s") == ["solo", "solo", "solo"]
    info, _ = failed_info(spool, job["chunks"][0]["chunk"])
    assert info["attempts"] == 3 and info["failed_hosts"] == ["solo"]


def io_class(pid: int) -> int:
    """ioprio_get(IOPRIO_WHO_PROCESS, pid) >> 13: 0 none, 1 realtime, 2 best-effort, 3 idle."""
    nr = IOPRIO_SYSCALL[platform.machine()] + 1  # ioprio_get follows ioprio_set in each of these tables
    value = int(ctypes.CDLL(None, use_errno=True).syscall(nr, IOPRIO_WHO_PROCESS, pid))
    assert value >= 0, os.strerror(ctypes.get_errno())
    return value >> IOPRIO_CLASS_SHIFT


def stat_nice(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[19 - 3])  # field 19 of proc(5); fields[0] is field 3 (state)


def test_chunk_runs_at_nice_19_sched_idle_and_idle_io_while_the_daemon_keeps_normal_priority(
    spool: Path,
    markers: Path,
    tmp_path: Path,
    start_daemon,  # type: ignore[no-untyped-def]
) -> None:
    hold = tmp_path / "hold"
    hold.touch()
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "p", "--hold", str(hold)])
    a = start_daemon("a", *FAST)
    [(pid, _)] = wait_for(lambda: started(markers, "p"), 60, what="the chunk to start")
    assert stat_nice(pid) == 19
    assert os.sched_getscheduler(pid) == os.SCHED_IDLE
    assert io_class(pid) == IOPRIO_CLASS_IDLE
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    assert stat_nice(a.pid) == ours
    assert os.sched_getscheduler(a.pid) == os.SCHED_OTHER
    assert io_class(a.pid) != IOPRIO_CLASS_IDLE
    hold.unlink()
    wait_ok(spool, job)


def test_daemon_sets_up_the_spool_in_a_folder_that_already_holds_other_files(
    spool: Path,
    markers: Path,
    start_daemon,  # type: ignore[no-untyped-def]
) -> None:
    (spool / "shots").mkdir()
    (spool / "shots" / "010.blend").write_bytes(b"BLENDER-v304")
    (spool / "README.txt").write_text("studio share")
    a = start_daemon("a", *FAST)
    assert (spool / MARKER).is_file()
    assert all((spool / sub).is_dir() for sub in LAYOUT)
    assert (spool / "shots" / "010.blend").read_bytes() == b"BLENDER-v304"
    assert (spool / "README.txt").read_text() == "studio share"
    assert "created a NEW spool" in a.output() and "local" in a.output()
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "l"])
    wait_ok(spool, job)


@pytest.mark.parametrize("args", [("status",), ("status", "--json"), ("hosts",), ("wait", "job-1234")])
def test_read_only_commands_on_a_plain_folder_create_nothing_and_say_why_in_one_line(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    folder = tmp_path / "share"
    folder.mkdir()
    (folder / "shot.blend").write_bytes(b"x")
    out = render(folder, *args, check=False)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a renderd spool" in lines[0], out.stderr
    assert out.stdout == ""
    assert os.listdir(folder) == ["shot.blend"]
    missing = render(tmp_path / "missing", *args, check=False)
    assert missing.returncode != 0 and len(missing.stderr.strip().splitlines()) == 1
    assert "does not exist" in missing.stderr and not (tmp_path / "missing").exists()


def test_ctrl_c_on_an_idle_daemon_exits_0_and_signs_off(spool: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    a = start_daemon("a", *FAST)
    a.proc.send_signal(signal.SIGINT)
    assert a.proc.wait(60) == 0
    assert json.loads((spool / "hosts" / "a.json").read_text())["state"] == "offline"
