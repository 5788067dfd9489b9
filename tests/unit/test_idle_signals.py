"""Owner-activity signals against recorded outputs and real files (tests/fixtures/idle/README.md)."""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import pytest

from renderd.idle import (
    CpuProbe,
    InputProbe,
    LogindProbe,
    OwnerActivity,
    PathProbe,
    last_input_event,
    logind_reading,
    parse_proc_stat_cpu,
    parse_session_ids,
    parse_show_session,
    parse_signals,
    parse_vmstat_pswpout,
    tty_reading,
)

FIX = Path(__file__).parents[1] / "fixtures" / "idle"
NOW = 1700001000.0  # wall clock of the written fixtures: 1000 s after alice's session went idle
MONO_NOW = 91000.0  # the matching CLOCK_MONOTONIC


def text(name: str) -> str:
    return (FIX / name).read_text()


# ----------------------------------------------------------------------------- logind


def test_session_ids_from_recorded_list_with_header_and_footer() -> None:
    ids = parse_session_ids(text("loginctl-list-sessions-uos.txt"))
    assert ids == ["1", "10", "12", "16", "19", "32", "4", "7", "c7"]


def test_session_ids_from_no_legend_listing() -> None:
    assert parse_session_ids(text("loginctl-list-sessions-no-legend.txt")) == ["2", "5", "c1", "9"]
    assert parse_session_ids("") == []


def test_recorded_x11_session_that_never_reports_idleness_cannot_tell() -> None:
    sessions = parse_show_session(text("loginctl-show-session-uos-1.txt"))
    assert [s.id for s in sessions] == ["1"]
    assert sessions[0].props["Desktop"] == "deepin" and sessions[0].props["Timestamp"].startswith("Tue 2023")
    reading = logind_reading(sessions, NOW, MONO_NOW)
    assert reading.available and reading.last is None
    assert "never reported idleness" in reading.detail


def test_several_sessions_the_active_ssh_session_wins_greeter_and_closing_ignored() -> None:
    sessions = parse_show_session(text("loginctl-show-session-several.txt"))
    assert [s.id for s in sessions] == ["2", "5", "c1", "9"]
    reading = logind_reading(sessions, NOW, MONO_NOW)
    assert reading.last == NOW  # session 5 (IdleHint=no with a timestamp) is in use right now
    assert "session c1: greeter" in reading.detail and "session 9: user closing" in reading.detail


def test_idle_session_counts_from_its_monotonic_idle_since() -> None:
    idle_only = [s for s in parse_show_session(text("loginctl-show-session-several.txt")) if s.id == "2"]
    reading = logind_reading(idle_only, NOW, MONO_NOW)
    # IdleSinceHintMonotonic = 90 000 s, now 91 000 s on the monotonic clock: idle for 1000 s
    assert reading.last == pytest.approx(NOW - 1000.0, abs=1e-3)


def test_idle_session_without_monotonic_stamp_uses_the_realtime_one() -> None:
    [session] = parse_show_session("Id=3\nClass=user\nState=active\nIdleHint=yes\nIdleSinceHint=1700000400000000\n")
    assert logind_reading([session], NOW, MONO_NOW).last == pytest.approx(1700000400.0, abs=1e-3)


def test_locked_session_means_the_owner_is_away() -> None:
    reading = logind_reading(parse_show_session(text("loginctl-show-session-locked.txt")), NOW, MONO_NOW)
    assert reading.last is None and "locked" in reading.detail


def test_no_sessions_is_a_headless_box_that_counts_as_idle() -> None:
    reading = logind_reading([], NOW, MONO_NOW)
    assert reading.available and reading.last is None and "headless" in reading.detail


def test_real_loginctl_here_reports_why_it_cannot_work() -> None:
    """This machine has loginctl but no logind: the probe says so instead of guessing."""
    probe = LogindProbe()
    reading = probe.read(time.time())
    if reading.available:  # a machine with logind: the reading is a real one
        assert reading.signal == "logind"
    else:
        assert reading.detail.startswith("loginctl does not work here:") and reading.last is None


def test_logind_probe_runs_loginctl_and_parses_its_output(tmp_path: Path) -> None:
    """A stand-in `loginctl` program that replays the recorded outputs (list-sessions, then show-session)."""
    tool = tmp_path / "loginctl"
    listing, shown = FIX / "loginctl-list-sessions-uos.txt", FIX / "loginctl-show-session-uos-1.txt"
    args_log = tmp_path / "args"
    tool.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"open({str(args_log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        f"sys.stdout.write(open({str(listing)!r} if 'list-sessions' in sys.argv else {str(shown)!r}).read())\n"
    )
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    reading = LogindProbe(str(tool)).read(NOW)
    assert reading.available and reading.last is None and "session 1" in reading.detail
    calls = args_log.read_text().splitlines()
    assert calls[0] == "--no-pager list-sessions --no-legend"
    assert calls[1].startswith("--no-pager show-session --property=Id ") and calls[1].endswith(
        " 1 10 12 16 19 32 4 7 c7"
    )


# ----------------------------------------------------------------------------- input devices


def test_input_events_keys_and_pointer_count_switches_and_sync_do_not() -> None:
    assert last_input_event((FIX / "input-keyboard-a.bin").read_bytes()) == pytest.approx(1700000123.18, abs=1e-3)
    assert last_input_event((FIX / "input-mouse-move.bin").read_bytes()) == pytest.approx(1700000125.508, abs=1e-3)
    assert last_input_event((FIX / "input-lid-switch.bin").read_bytes()) is None
    assert last_input_event((FIX / "input-keyboard-a.bin").read_bytes()[:54]) == pytest.approx(1700000123.1, abs=1e-3)


def test_input_probe_reads_pending_events_from_a_device_without_blocking(tmp_path: Path) -> None:
    """A FIFO stands in for /dev/input/event0: the probe opens it non-blocking and drains what is there."""
    device = tmp_path / "event0"
    os.mkfifo(device)
    probe = InputProbe(str(tmp_path / "event*"))
    try:
        first = probe.read(NOW)
        assert first.available and first.last is None and "1 readable device" in first.detail
        writer = os.open(device, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(writer, (FIX / "input-keyboard-a.bin").read_bytes())
            os.write(writer, (FIX / "input-lid-switch.bin").read_bytes())
            assert probe.read(NOW).last == pytest.approx(1700000123.18, abs=1e-3)
            os.write(writer, (FIX / "input-mouse-move.bin").read_bytes())
            assert probe.read(NOW).last == pytest.approx(1700000125.508, abs=1e-3)
        finally:
            os.close(writer)
    finally:
        probe.close()


def test_no_input_devices_is_reported_not_guessed(tmp_path: Path) -> None:
    reading = InputProbe(str(tmp_path / "event*")).read(NOW)
    assert not reading.available and reading.detail == "no input devices"


# ----------------------------------------------------------------------------- tty, path, cpu, memory


def test_tty_access_times_newest_wins(tmp_path: Path) -> None:
    ttys = [tmp_path / "pts0", tmp_path / "tty1"]
    for path, atime in zip(ttys, (NOW - 500, NOW - 30), strict=True):
        path.touch()
        os.utime(path, (atime, NOW - 900))
    reading = tty_reading([str(p) for p in ttys] + [str(tmp_path / "gone")], NOW)
    assert reading.last == NOW - 30 and "2 terminal(s)" in reading.detail
    assert not tty_reading([], NOW).available


def test_activity_path_mtime_is_the_owners_last_activity(tmp_path: Path) -> None:
    sensor = tmp_path / "active"
    probe = PathProbe(sensor)
    assert probe.read(NOW).last is None  # missing: nothing reported, which is not activity
    sensor.touch()
    os.utime(sensor, (NOW - 7, NOW - 7))
    assert probe.read(NOW).last == NOW - 7


def test_cpu_use_outside_the_farm_excludes_the_nice_column() -> None:
    busy, total = parse_proc_stat_cpu(text("proc-stat.txt"))
    # recorded: cpu  30350 9588 13794 418273 934 0 188 24 ...: user + system + irq + softirq, nice left out
    assert busy == 30350 + 13794 + 0 + 188
    assert total == 30350 + 9588 + 13794 + 418273 + 934 + 0 + 188 + 24
    with pytest.raises(ValueError):
        parse_proc_stat_cpu("intr 1 2 3\n")


def test_cpu_probe_sees_a_busy_normal_priority_process() -> None:
    """A real nice-0 busy loop in a child is foreign CPU use (threshold low enough for a shared machine)."""
    probe = CpuProbe(busy=0.2, window=0.5)
    probe.read(time.time())
    pid = os.fork()
    if pid == 0:
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            pass
        os._exit(0)
    os.waitpid(pid, 0)
    reading = probe.read(time.time())
    assert reading.available and reading.last is not None, reading.detail


def test_vmstat_pswpout() -> None:
    assert parse_vmstat_pswpout("pswpin 3\npswpout 42\npgfault 1\n") == 42
    assert parse_vmstat_pswpout("") == 0


def test_owner_activity_is_the_newest_of_all_signals(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.touch()
    b.touch()
    os.utime(a, (NOW - 50, NOW - 50))
    os.utime(b, (NOW - 5, NOW - 5))
    activity = OwnerActivity([PathProbe(a), PathProbe(b)]).sample(NOW)
    assert activity.last == NOW - 5 and activity.idle_for(NOW) == 5
    nothing = OwnerActivity([PathProbe(tmp_path / "none")]).sample(NOW)
    assert nothing.idle_for(NOW) == float("inf")


def test_signal_lists() -> None:
    assert parse_signals("logind,cpu") == ["logind", "cpu"]
    assert parse_signals("none") == []
    with pytest.raises(ValueError, match="unknown signal"):
        parse_signals("mouse")


def test_a_chunks_own_cpu_time_is_not_the_owners() -> None:
    """A niced chunk's user time is in /proc/stat's `nice` column; only its system time is booked
    elsewhere, and that is what the probe subtracts for the farm's processes."""
    from renderd.idle import farm_jiffies_outside_nice

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.nice(19)
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            pass
        os.write(write, b"x")
        time.sleep(30)
        os._exit(0)
    os.close(write)
    try:
        assert os.read(read, 1) == b"x"
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
        fields = raw[raw.rfind(b")") + 2 :].split()
        utime, stime, cstime = int(fields[11]), int(fields[12]), int(fields[14])
        assert utime > 0
        assert farm_jiffies_outside_nice(pid) == stime + cstime
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(read)
    me = farm_jiffies_outside_nice(os.getpid())  # nice 0, like a launcher: all of its time counts
    assert me is not None and me > 0
    assert farm_jiffies_outside_nice(2**22 + 7) is None
