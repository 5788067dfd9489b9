"""Memory pressure: swap-outs (/proc/vmstat) and available memory, for the policy's memory rule."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from renderd.host import meminfo


def parse_vmstat_pswpout(text: str) -> int:
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "pswpout":
            return int(value)
    return 0


@dataclass
class MemoryState:
    free: int  # MemAvailable, bytes
    swap_total: int
    swapping: bool  # pages were swapped out since the last sample


@dataclass
class MemoryWatch:
    """Free memory and whether the host is pushing pages to swap right now."""

    interval: float = 0.5
    _last: MemoryState | None = None
    _pswpout: int | None = None
    _at: float = field(default=-float("inf"))

    def read(self) -> MemoryState:
        mono = time.monotonic()
        if self._last is not None and mono - self._at < self.interval:
            return self._last
        mem = meminfo()
        try:
            with open("/proc/vmstat", encoding="ascii") as fh:
                out = parse_vmstat_pswpout(fh.read())
        except (OSError, ValueError):
            out = 0
        swapping = self._pswpout is not None and out > self._pswpout
        self._pswpout, self._at = out, mono
        self._last = MemoryState(mem["mem_free"], mem["swap_total"], swapping)
        return self._last
