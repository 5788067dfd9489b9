"""When a daemon leaves on its own: the exit rules of a pilot (a renderd started by a batch job).

A pilot borrows a node of a cluster (`render burst --slurm N`, docs/burst.md).  It must give the
node back when the farm has nothing for it, and it must be gone before the batch system's time
limit ends the job, because the batch system then kills every process of the job at once: a chunk
killed that way would count as a failed attempt, and a claim left behind would wait for its lease.
So a pilot

* leaves when no chunk it may run has been queued for `idle_exit` seconds (and it runs nothing);
* stops claiming when the time left could not fit another chunk as long as the longest it ran,
  and stops its runs and gives them back (the normal shutdown path) when only a safety margin is
  left — before Slurm's SIGTERM, so nothing is lost and nothing counts as failed.

Everything here is a pure decision on a monotonic clock, so the rules are tested without Slurm;
the few facts taken from Slurm (the pilot's name, its time left) are read at start-up.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

PILOT_IDLE_EXIT = 60.0  # seconds: a pilot's default --idle-exit
END_MARGIN = 30.0  # seconds kept free before the time limit, beyond the runs' --grace
CLAIM_FACTOR = 1.25  # a chunk is claimed only if 1.25 x the longest run so far still fits
_TIME_LEFT_RE = re.compile(r"^(?:(?:(?P<d>\d+)-)?(?P<h>\d+):)?(?P<m>\d+):(?P<s>\d+)$")


@dataclass
class ExitRule:
    """Decides, on every turn of the daemon loop, whether it may claim, must give back, or leaves."""

    idle_exit: float | None  # None: never leave for idleness (a workstation's daemon)
    end_at: float | None  # monotonic time at which the batch system ends the job; None: no limit
    grace: float  # the daemon's SIGTERM -> SIGKILL time for its runs
    clock: Callable[[], float] = time.monotonic
    last_work: float = field(default=-1.0)
    longest_run: float = 0.0

    def __post_init__(self) -> None:
        if self.last_work < 0:
            self.last_work = self.clock()

    @property
    def active(self) -> bool:
        return self.idle_exit is not None or self.end_at is not None

    def saw_work(self) -> None:
        """A chunk this daemon may run is queued, or one of its runs is going: not idle."""
        self.last_work = self.clock()

    def ran(self, seconds: float) -> None:
        """A run ended after `seconds`: the next claim must leave room for one as long."""
        self.longest_run = max(self.longest_run, seconds)

    def _left(self) -> float:
        return float("inf") if self.end_at is None else self.end_at - self.clock()

    def give_back_margin(self) -> float:
        """Time left at which runs are stopped and given back: grace to stop them, plus a margin."""
        return self.grace + END_MARGIN

    def may_claim(self) -> bool:
        """Claim a new chunk only if one as long as the longest so far would end before the give-back."""
        return self._left() > self.give_back_margin() + CLAIM_FACTOR * self.longest_run

    def must_give_back(self) -> bool:
        return self._left() <= self.give_back_margin()

    def leave_reason(self, running: int) -> str | None:
        """Why the daemon should sign off now, or None to carry on."""
        if self.must_give_back():
            return "the batch job's time limit is near"
        if running:
            return None
        if self.end_at is not None and not self.may_claim():
            return "no time left in the batch job for another chunk"
        if self.idle_exit is not None and self.clock() - self.last_work >= self.idle_exit:
            return f"no chunk it may run was queued for {self.idle_exit:g} s (--idle-exit)"
        return None

    def next_check(self) -> float:
        """When the rule could next change its mind (the daemon's loop sleeps no longer)."""
        times = [float("inf")]
        if self.idle_exit is not None:
            times.append(self.last_work + self.idle_exit)
        if self.end_at is not None:
            times.append(self.end_at - self.give_back_margin())
        return min(times)


# ----------------------------------------------------------------------------- facts from Slurm


class NotInBatchJob(Exception):
    """`renderd --pilot` outside a Slurm job (no SLURM_JOB_ID)."""


def slurm_name(env: Mapping[str, str] = os.environ) -> str:
    """The pilot's daemon name: node name plus the job's (array job, task) ids, e.g. `node7-1234_3`.

    Unique in the farm (Slurm never reuses a job id soon), and it says where to look in `squeue`."""
    job = env.get("SLURM_JOB_ID")
    if not job:
        raise NotInBatchJob("renderd --pilot runs inside a Slurm job (SLURM_JOB_ID is not set)")
    node = (env.get("SLURMD_NODENAME") or env.get("HOSTNAME") or "node").split(".")[0]
    array, task = env.get("SLURM_ARRAY_JOB_ID"), env.get("SLURM_ARRAY_TASK_ID")
    ids = f"{array}_{task}" if array and task else job
    name = f"{node}-{ids}"
    return "".join(c if c.isalnum() or c in "._-+" else "-" for c in name)[:64]


def parse_time_left(text: str) -> float | None:
    """Slurm's `%L` (time left): `[D-]HH:MM:SS`, `MM:SS`; UNLIMITED / NOT_SET / INVALID -> None."""
    m = _TIME_LEFT_RE.match(text.strip())
    if m is None:
        return None
    days, hours = int(m["d"] or 0), int(m["h"] or 0)
    return float(((days * 24 + hours) * 60 + int(m["m"])) * 60 + int(m["s"]))


def slurm_time_left(env: Mapping[str, str] = os.environ, squeue: str = "squeue") -> float | None:
    """Seconds until Slurm ends this job, asked of `squeue` once at start-up; None if unknown."""
    job = env.get("SLURM_JOB_ID")
    if not job or not job.isdigit():
        return None
    try:
        out = subprocess.run(
            [squeue, "--noheader", "--jobs", job, "--format", "%L"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        log.warning("cannot ask squeue for the time left of job %s: %s; no time limit assumed", job, err)
        return None
    lines = out.stdout.split()
    if out.returncode != 0 or not lines:
        log.warning("squeue did not tell the time left of job %s (%s); no time limit assumed", job,
                    out.stderr.strip()[:200] or f"exit {out.returncode}")
        return None
    return parse_time_left(lines[0])
