"""What every owner-activity signal answers (a Reading), the Probe they share, and `--activity-path`."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Reading:
    """What one signal says now: `last` = wall time of the newest owner activity it saw."""

    signal: str
    available: bool
    last: float | None
    detail: str


class Probe:
    """One signal.  `read` is cheap enough for every policy tick unless `interval` says otherwise."""

    name = ""
    interval = 0.0  # minimum seconds between real samples; the last reading is reused in between
    slow_interval = 0.0  # the same while no chunk runs (nothing to suspend): for the costly probes

    def __init__(self) -> None:
        self._cached: Reading | None = None
        self._at = -float("inf")

    def read(self, now: float, urgent: bool = True) -> Reading:
        mono = time.monotonic()
        wait = self.interval if urgent else max(self.interval, self.slow_interval)
        if self._cached is None or mono - self._at >= wait:
            self._cached = self.sample(now)
            self._at = mono
        return self._cached

    def sample(self, now: float) -> Reading:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the probe holds open."""




class PathProbe(Probe):
    """A file whose recent mtime means "owner active" (custom sensors: `touch` it)."""

    name = "path"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def sample(self, now: float) -> Reading:
        try:
            mtime = os.stat(self.path).st_mtime
        except FileNotFoundError:
            return Reading(self.name, True, None, f"{self.path} does not exist (no activity reported)")
        except OSError as err:
            return Reading(self.name, False, None, f"cannot stat {self.path}: {err.strerror}")
        return Reading(self.name, True, min(mtime, now), f"{self.path} touched {_ago(now, mtime)}")


def _ago(now: float, then: float | None) -> str:
    if then is None:
        return "never"
    return f"{max(0.0, now - then):.0f} s ago"
