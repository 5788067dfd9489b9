"""The farm's history from stats/ (renderd.statslog): per host and per job, also after `render clean`.

Pure aggregation over `StatsLine`s, plus the one reader of the spool's stats files.  Figures:
- chunks done / failed: runs that ended done / failed attempts (a chunk retried twice and then
  done counts 1 done and 2 failed);
- frames, frame-seconds, average / fastest / slowest frame: done runs only;
- busy share: the time a host spent running chunks (suspended time left out), over the time its
  slots were there to run them: from the window's start (`--since`, else the host's first line)
  to now, times its slots.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from renderd.errors import RenderdError
from renderd.format import stats
from renderd.format.stats import StatsLine
from renderd.spool import Spool

MAX_FILE = 64 * 1024 * 1024
TOP_REASONS = 5


@dataclass
class Tally:
    """Figures of one host, one job, or the whole farm."""

    done: int = 0
    failed: int = 0
    frames: int = 0
    frame_seconds: float = 0.0
    busy: float = 0.0
    fastest: float | None = None
    slowest: float | None = None
    first: float | None = None
    last: float | None = None
    slots: int = 1
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, line: StatsLine) -> None:
        self.busy += line.seconds - line.suspended
        start = line.time - line.seconds
        if self.first is None or start < self.first:
            self.first = start
        if self.last is None or line.time > self.last:
            self.last = line.time
        if line.slots > self.slots:
            self.slots = line.slots
        if not line.ok:
            self.failed += 1
            self.reasons[_reason_kind(line.reason)] += 1
            return
        self.done += 1
        self.frames += line.frames
        self.frame_seconds += line.frame_seconds
        if line.fastest is not None and (self.fastest is None or line.fastest < self.fastest):
            self.fastest = line.fastest
        if line.slowest is not None and (self.slowest is None or line.slowest > self.slowest):
            self.slowest = line.slowest

    def merge(self, other: Tally) -> None:
        self.done += other.done
        self.failed += other.failed
        self.frames += other.frames
        self.frame_seconds += other.frame_seconds
        self.busy += other.busy
        self.fastest = _pick(min, self.fastest, other.fastest)
        self.slowest = _pick(max, self.slowest, other.slowest)
        self.first = _pick(min, self.first, other.first)
        self.last = _pick(max, self.last, other.last)
        self.slots = max(self.slots, other.slots)
        self.reasons.update(other.reasons)

    @property
    def average(self) -> float | None:
        return self.frame_seconds / self.frames if self.frames else None

    def busy_share(self, since: float | None, now: float) -> float | None:
        start = since if since is not None else self.first
        if start is None or now <= start:
            return None
        return min(self.busy / ((now - start) * self.slots), 1.0)

    def as_json(self, since: float | None = None, now: float | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "chunks_done": self.done, "chunks_failed": self.failed, "frames": self.frames,
            "frame_seconds": round(self.frame_seconds, 3), "busy_seconds": round(self.busy, 3),
            "average_frame": _round(self.average), "fastest_frame": _round(self.fastest),
            "slowest_frame": _round(self.slowest), "first": _round(self.first), "last": _round(self.last),
            "failure_reasons": dict(self.reasons.most_common()),
        }
        if now is not None:
            out["busy_share"] = _round(self.busy_share(since, now), 4)
        return out


@dataclass
class FarmStats:
    hosts: dict[str, Tally] = field(default_factory=dict)
    jobs: dict[str, Tally] = field(default_factory=dict)
    total: Tally = field(default_factory=Tally)
    job_hosts: dict[str, dict[str, Tally]] = field(default_factory=dict)  # job -> host -> tally
    skipped: int = 0  # lines that failed their check


def aggregate(lines: Iterable[StatsLine], since: float | None = None, host: str | None = None,
              job: str | None = None) -> FarmStats:
    """One tally per (host, job) while reading (one `add` per line), then merged into the host,
    job and farm tallies."""
    groups: dict[tuple[str, str], Tally] = {}
    for line in lines:
        if since is not None and line.time < since:
            continue
        if (host is not None and line.host != host) or (job is not None and line.job != job):
            continue
        key = (line.host, line.job)
        tally = groups.get(key)
        if tally is None:
            tally = groups[key] = Tally()
        tally.add(line)
    out = FarmStats()
    for (host_name, job_name), tally in groups.items():
        out.total.merge(tally)
        out.hosts.setdefault(host_name, Tally()).merge(tally)
        out.jobs.setdefault(job_name, Tally()).merge(tally)
        out.job_hosts.setdefault(job_name, {})[host_name] = tally
    return out


def read_lines(spool: Spool, skipped: list[int] | None = None) -> Iterator[StatsLine]:
    """Every stats line of every daemon, rotated files included; a line that fails its check is
    skipped (and counted in `skipped[0]`), an unreadable file is skipped whole."""
    for path in spool.stats_logs():
        try:
            raw = spool.io.read(path, MAX_FILE)
        except (OSError, RenderdError):
            continue
        yield from stats.read_lines(raw, path, skipped)


def _reason_kind(reason: str) -> str:
    """Failure reasons by kind: `exit code 1: Error: ...` and `exit code 1: other` are told apart,
    but a path or a frame number in the message does not make a new kind."""
    text = reason.strip() or "unknown"
    return text.splitlines()[0][:120]


def _pick(choose: Callable[[float, float], float], a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else choose(a, b)


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def now() -> float:
    return time.time()
