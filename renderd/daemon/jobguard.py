"""Job control: `JobGuard`, a daemon's reaction to jobs' control files (who owns a job is
access.job_owner; the cancelling moves it shares with `render cancel` are in jobcancel.py), and
`HostOrders`, who may give this host orders (`render host pause|drain`).

Every move goes through the spool (`take_over` renames the file to a private name first, so
when a daemon and a user act at the same moment exactly one of them moves each chunk)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from renderd.access import has_processes_here, job_owner, may_change_job, may_order_host
from renderd.format.control import JobControl
from renderd.jobcancel import cancel_queued
from renderd.runner import Run, Runner
from renderd.spool import Spool

log = logging.getLogger(__name__)
# A job this daemon only sees queued (and does not hold back) has its control file read this
# often, not every poll: each read is a few lookups on the file server, per job and per host
# (docs/netfs.md).  Jobs with runs here and held jobs (to see a resume) are read every poll.
QUEUED_EVERY = 30.0


@dataclass
class JobGuard:
    """A daemon's side of job control: what the control files say, which jobs get no new claims,
    which runs `render pause --now` suspended.  Called on the daemon's main thread only."""

    spool: Spool
    host: str
    admin_group: str | None
    runner: Runner
    emit: Callable[..., None]
    held: set[str] = field(default_factory=set)  # paused or cancelled: no new claims
    paused_runs: set[str] = field(default_factory=set)  # tokens suspended by `render pause --now`
    _refused: set[str] = field(default_factory=set)
    _looked: dict[str, float] = field(default_factory=dict)  # queued-only job -> when its control was read

    def control_of(self, job: str) -> JobControl:
        """The job's control flags, if whoever wrote them may change the job (else none).

        Who wrote control.json is its file's owner; who owns the job is the owner of its folder
        (access.job_owner), never the `uid` written in the manifest, which anyone who can replace
        the file can forge.  docs/security.md, "Job control"."""
        ctl = self.spool.job_control(job)
        if not ctl.holds:
            return ctl
        admins = [self.admin_group] if self.admin_group else []
        owner, why = job_owner(self.spool.job_dir(job))
        if may_change_job(ctl.uid, -1, owner, admins):
            return ctl
        if job not in self._refused:
            self._refused.add(job)
            log.warning("ignoring the control file of job %s: uid %d is not its owner (%s), root or in the admin group",
                        job, ctl.uid, why)
        return JobControl()

    def holds_at_claim(self, job: str) -> bool:
        """Right before a claim: is the job paused or cancelled?  (Polls notice it too; this closes the gap.)"""
        ctl = self.control_of(job)
        if not ctl.holds:
            return False
        self.held.add(job)
        if ctl.cancelled:
            cancel_queued(self.spool, job, self.host)
        return True

    def check(self, runs: dict[str, Run], queued_jobs: set[str], every_job: bool = False) -> bool:
        """Stop cancelled jobs' runs, suspend or resume paused ones.  True when a job was released.

        `every_job`: read every job's control now (`render` on this machine just changed one)."""
        # Only jobs with something here or in the queue: a cancelled job that is over costs nothing.
        running = {r.info.job for r in runs.values()}
        jobs = running | queued_jobs
        held: set[str] = set()
        now = time.monotonic()
        for gone in set(self._looked) - jobs:
            del self._looked[gone]
        for job in sorted(jobs):
            recent = now - self._looked.get(job, -QUEUED_EVERY) < QUEUED_EVERY
            if recent and not every_job and job not in running and job not in self.held:
                continue  # queued here only, not held: a pause is caught at claim time anyway (holds_at_claim)
            self._looked[job] = now
            ctl = self.control_of(job)
            if ctl.holds:
                held.add(job)
            mine = [r for r in runs.values() if r.info.job == job and r.stop_reason is None]
            if ctl.cancelled:
                self._cancel(job, mine)
            else:
                self._pause(job, mine, suspend=ctl.paused and ctl.now)
        released = bool(self.held - held)
        self.held = held
        return released

    def forget(self, token: str) -> None:
        self.paused_runs.discard(token)

    def _cancel(self, job: str, runs: list[Run]) -> None:
        for run in runs:
            log.info("job %s is cancelled: stopping %s", job, run.info.chunk)
            self.runner.resume(run)  # a stopped group would not act on SIGTERM
            self.paused_runs.discard(run.token)
            self.runner.stop(run, "cancel")
        if cancel_queued(self.spool, job, self.host):
            log.info("job %s is cancelled: removed its queued chunks", job)

    def _pause(self, job: str, runs: list[Run], suspend: bool) -> None:
        for run in runs:
            if suspend:
                if not run.suspended:  # (again, if the idle policy resumed it meanwhile)
                    self.runner.suspend(run)
                    self.emit("chunk-suspended", chunk=run.info.chunk, job=job, reason="job paused")
                self.paused_runs.add(run.token)
            elif run.token in self.paused_runs:
                self.runner.resume(run)
                self.paused_runs.discard(run.token)
                self.emit("chunk-resumed", chunk=run.info.chunk, job=job, reason="job resumed")


@dataclass
class HostOrders:
    """Who may pause or drain this host (access.may_order_host), as the idle policy asks each poll
    while an order is in hosts/; whether a uid runs anything here is looked up at most every 10 s."""

    daemon_uid: int
    admin_group: str | None
    _local: dict[int, tuple[float, bool]] = field(default_factory=dict)

    def __call__(self, uid: int) -> bool:
        admins = [self.admin_group] if self.admin_group else []
        return may_order_host(uid, self.daemon_uid, admins, self._is_local)

    def _is_local(self, uid: int) -> bool:
        now = time.monotonic()
        seen = self._local.get(uid)
        if seen is None or now - seen[0] >= 10.0:
            seen = (now, has_processes_here(uid))
            self._local[uid] = seen
        return seen[1]
