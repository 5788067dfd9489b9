"""CPU time used by processes that are not the farm's (all but /proc/stat's `nice` column, minus ours)."""

from __future__ import annotations

import os
import time
from collections import deque

from renderd.idle.base import Probe, Reading


def parse_proc_stat_cpu(text: str) -> tuple[int, int]:
    """(jiffies busy outside `nice`, all jiffies) from the aggregate `cpu` line of /proc/stat."""
    for line in text.splitlines():
        if line.startswith("cpu "):
            v = [int(x) for x in line.split()[1:]]
            v += [0] * (8 - len(v))
            user, _nice, system, idle, iowait, irq, softirq, steal = v[:8]
            return user + system + irq + softirq, user + v[1] + system + idle + iowait + irq + softirq + steal
    raise ValueError("no aggregate cpu line")


def _stat_fields(path: str) -> list[bytes]:
    with open(path, "rb") as fh:
        raw = fh.read()
    return raw[raw.rfind(b")") + 2 :].split()


def own_cpu_jiffies(stat_path: str = "/proc/self/stat") -> int:
    """utime + stime of this process (all threads)."""
    fields = _stat_fields(stat_path)
    return int(fields[11]) + int(fields[12])


def farm_jiffies_outside_nice(pid: int) -> int | None:
    """CPU time of one farm process that /proc/stat books outside the `nice` column.

    A niced chunk's user time is in `nice`, but its system time (page faults, I/O) is in
    `system`; the launcher runs at nice 0, so all of its time is outside `nice`."""
    try:
        f = _stat_fields(f"/proc/{pid}/stat")
    except OSError:
        return None
    utime, stime, _cutime, cstime, nice = int(f[11]), int(f[12]), int(f[13]), int(f[14]), int(f[16])
    return utime + stime if nice <= 0 else stime + cstime


class CpuProbe(Probe):
    """Owner active when processes outside the farm used `busy` cores or more over the last ~`window` s.

    Chunks run at nice 19, so the kernel counts their user time in the `nice` column; every
    other busy jiffy (user, system, irq) belongs to someone else — minus the daemon's own, its
    launchers' and the chunks' system time (`farm_pids`), so a chunk never suspends itself."""

    name = "cpu"

    def __init__(self, busy: float = 0.5, window: float = 1.0, ncpu: int | None = None) -> None:
        super().__init__()
        self.busy = busy
        self.window = window
        self.ncpu = ncpu or os.cpu_count() or 1
        self.samples: deque[tuple[float, int, int]] = deque()
        self.last_busy: float | None = None
        self.cores = 0.0
        self.farm_pids: list[int] = []  # the chunks' launchers and programs, kept up to date by the policy
        self._farm_seen: dict[int, int] = {}
        self._farm_total = 0

    def _farm(self) -> int:
        """The farm's CPU time outside `nice` so far (only what accrued while we watched each process)."""
        seen: dict[int, int] = {}
        for pid in self.farm_pids:
            value = farm_jiffies_outside_nice(pid)
            if value is not None:
                self._farm_total += max(0, value - self._farm_seen.get(pid, value))
                seen[pid] = value
        self._farm_seen = seen
        return self._farm_total

    def sample(self, now: float) -> Reading:
        try:
            with open("/proc/stat", encoding="ascii") as fh:
                busy, total = parse_proc_stat_cpu(fh.read())
            busy -= own_cpu_jiffies() + self._farm()
        except (OSError, ValueError, IndexError) as err:
            return Reading(self.name, False, None, f"cannot read /proc/stat: {err}")
        mono = time.monotonic()
        self.samples.append((mono, busy, total))
        while len(self.samples) > 2 and mono - self.samples[1][0] >= self.window:
            self.samples.popleft()
        _, b0, n0 = self.samples[0]
        if total > n0:
            self.cores = max(0.0, (busy - b0) / (total - n0) * self.ncpu)
            if self.cores >= self.busy:
                self.last_busy = now
        detail = f"{self.cores:.2f} core(s) used outside the farm (busy at {self.busy:g})"
        return Reading(self.name, True, self.last_busy, detail)
