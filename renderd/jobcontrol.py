"""Job control: who owns a job (`job_owner`), and `JobGuard`, a daemon's reaction to jobs' control files (the
cancelling moves it shares with `render cancel` are in jobcancel.py).

Every move goes through the spool (`take_over` renames the file to a private name first, so
when a daemon and a user act at the same moment exactly one of them moves each chunk)."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from renderd.access import may_change_job
from renderd.jobcancel import cancel_queued
from renderd.runner import Run, Runner
from renderd.spool import JobControl, Spool

log = logging.getLogger(__name__)


def job_owner(spool: Spool, job: str, admin_groups: Sequence[str] = ()) -> tuple[int | None, str]:
    """The uid that owns `job`, and how we know (or why no uid does).

    The owner is the uid that owns both the job's folder (made by `render add`; no one else can
    change a folder's owner) and its manifest file, or whose folder holds a manifest rewritten by
    root or the admin group (`render priority` run by an admin rewrites it).  When they differ
    otherwise the manifest was replaced by someone else, and the job has no owner we can trust:
    only root and the admin group may control it then."""
    folder = spool.job_dir(job)
    try:
        folder_st = os.lstat(folder)
        manifest_st = os.lstat(folder / "manifest.json")
    except OSError as err:
        return None, f"cannot stat {err.filename}: {err.strerror}"
    if not stat.S_ISDIR(folder_st.st_mode) or not stat.S_ISREG(manifest_st.st_mode):
        return None, "its folder or manifest is not a plain folder or file"
    rewriter = manifest_st.st_uid
    if rewriter != folder_st.st_uid and not may_change_job(rewriter, -1, None, admin_groups):
        return None, (f"its manifest is owned by uid {manifest_st.st_uid}, its folder by uid {folder_st.st_uid}: "
                      "the manifest was replaced")
    return folder_st.st_uid, f"uid {folder_st.st_uid}"


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

    def control_of(self, job: str) -> JobControl:
        """The job's control flags, if whoever wrote them may change the job (else none).

        Who wrote control.json is its file's owner; who owns the job is `job_owner` (the files'
        owners, never the `uid` written in the manifest, which anyone who can replace the file
        can forge).  docs/security.md, "Job control"."""
        ctl = self.spool.job_control(job)
        if not ctl.holds:
            return ctl
        admins = [self.admin_group] if self.admin_group else []
        owner, why = job_owner(self.spool, job, admins)
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

    def check(self, runs: dict[str, Run], queued_jobs: set[str]) -> bool:
        """Stop cancelled jobs' runs, suspend or resume paused ones.  True when a job was released."""
        # Only jobs with something here or in the queue: a cancelled job that is over costs nothing.
        jobs = {r.info.job for r in runs.values()} | queued_jobs
        held: set[str] = set()
        for job in sorted(jobs):
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
