"""Is the owner using this machine?  Signals of owner activity, each optional, and memory pressure.

Every signal answers one question: when (wall-clock seconds) did it last see the owner?
`None` means "this signal cannot tell" (not available here, or nothing to judge by); the
host's owner-idle time is the time since the newest activity any signal saw, and a host on
which no signal can tell anything (a headless box without sessions) counts as idle.

Signals (docs/idle.md explains each choice):
- `logind`: systemd-logind's user sessions, read from `loginctl show-session` text.
- `input`:  the last event time on readable /dev/input/event* devices (keys, pointer).
- `tty`:    access times of /dev/pts/* and /dev/tty[0-9]* (as HTCondor does; the kernel
            updates them with 8 s granularity).
- `cpu`:    CPU time used by processes that are not the farm's: everything but the `nice`
            column of /proc/stat (chunks run at nice 19), minus the daemon's own use.
- `path`:   the mtime of `--activity-path` (custom sensors, tests).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from renderd.idle.base import PathProbe, Probe, Reading
from renderd.idle.cpu import CpuProbe, farm_jiffies_outside_nice, own_cpu_jiffies, parse_proc_stat_cpu
from renderd.idle.devices import InputProbe, TtyProbe, last_input_event, tty_reading
from renderd.idle.logind import LogindProbe, Session, logind_reading, parse_session_ids, parse_show_session
from renderd.idle.memory import MemoryState, MemoryWatch, parse_vmstat_pswpout

__all__ = [
    "SIGNALS", "Activity", "CpuProbe", "InputProbe", "LogindProbe", "MemoryState", "MemoryWatch", "OwnerActivity",
    "PathProbe", "Probe", "Reading", "Session", "TtyProbe", "farm_jiffies_outside_nice", "last_input_event",
    "logind_reading", "make_probes", "own_cpu_jiffies", "parse_proc_stat_cpu", "parse_session_ids",
    "parse_show_session", "parse_signals", "parse_vmstat_pswpout", "tty_reading",
]

SIGNALS = ("logind", "input", "tty", "cpu")


@dataclass
class Activity:
    last: float | None  # wall time of the newest owner activity; None: none seen
    by: str  # the signal that saw it

    def idle_for(self, now: float) -> float:
        return float("inf") if self.last is None else max(0.0, now - self.last)


class OwnerActivity:
    """The chosen signals, read together."""

    def __init__(self, probes: list[Probe]) -> None:
        self.probes = probes
        self.readings: list[Reading] = []

    def sample(self, now: float, urgent: bool = True) -> Activity:
        self.readings = [p.read(now, urgent) for p in self.probes]
        newest = Activity(None, "")
        for r in self.readings:
            if r.last is not None and (newest.last is None or r.last > newest.last):
                newest = Activity(r.last, r.signal)
        return newest

    def set_farm(self, pids: list[int]) -> None:
        """The farm's own processes, whose CPU use is not the owner's."""
        for p in self.probes:
            if isinstance(p, CpuProbe):
                p.farm_pids = pids

    def close(self) -> None:
        for p in self.probes:
            p.close()


def make_probes(signals: Sequence[str], activity_path: Path | None, cpu_busy: float = 0.5) -> list[Probe]:
    makers: dict[str, Callable[[], Probe]] = {
        "logind": LogindProbe,
        "input": InputProbe,
        "tty": TtyProbe,
        "cpu": lambda: CpuProbe(cpu_busy),
    }
    probes: list[Probe] = [makers[s]() for s in signals]
    if activity_path is not None:
        probes.append(PathProbe(activity_path))
    return probes


def parse_signals(text: str) -> list[str]:
    """`logind,input,tty,cpu` (any subset), or `none`."""
    words = [w.strip() for w in text.split(",") if w.strip()]
    if words == ["none"]:
        return []
    unknown = [w for w in words if w not in SIGNALS]
    if unknown:
        raise ValueError(f"unknown signal(s) {', '.join(unknown)}; choose from {', '.join(SIGNALS)} or none")
    return list(dict.fromkeys(words))
