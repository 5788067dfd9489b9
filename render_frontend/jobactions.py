"""Changing a job: pause, resume, cancel, retry, priority, remove; `render` and `render serve` share it.

Each action checks that the user this process runs as may change the job (renderd/access.py:
its owner, root, or the daemons' admin group), changes the spool, wakes this machine's daemons
and returns the one line to tell the user.  Refusals are exceptions whose class says why, so
the CLI prints one line and the web service picks the status code."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from render_frontend.client import wake_local_daemons
from render_frontend.farm import JobView, snapshot
from render_frontend.views import NoSuchJob
from renderd.access import job_owner, may_change_job
from renderd.errors import RenderdError, UsageError
from renderd.format.control import JobControl
from renderd.format.names import MAX_PRIORITY
from renderd.jobcancel import cancel_failed, cancel_queued
from renderd.spool import Spool
from renderd.states import ChunkState


class NotAllowed(RenderdError):
    """The job belongs to someone this user may not act for."""


class Conflict(RenderdError):
    """The job is in a state where this action cannot be done (e.g. pausing a cancelled job)."""


class ActionFailed(RenderdError):
    """The spool refused a change (a file system error): one line, not a traceback."""


def me() -> str:
    return f"uid {os.getuid()}"


def changeable_job(spool: Spool, job: str) -> JobView:
    """The job, if this user may change it; else NoSuchJob or NotAllowed."""
    farm = snapshot(spool, job)
    view = farm.jobs.get(job)
    if view is None and job in farm.unreadable:
        raise NoSuchJob(f"job {job!r} is unreadable: {farm.unreadable[job]}")
    if view is None:
        raise NoSuchJob(f"no job {job!r} in {spool.root}")
    groups = {r.admin_group for r in farm.hosts.values() if r.admin_group is not None}
    owner_uid, _ = job_owner(spool.job_dir(job))  # who owns its folder, not the uid written in the manifest
    if not may_change_job(os.getuid(), os.getgid(), owner_uid, groups):
        who = view.manifest.owner or "?"
        raise NotAllowed(
            f"job {job} belongs to {who} (uid {owner_uid}): only its owner, root"
            + (f" or the admin group ({', '.join(sorted(groups))})" if groups else "")
            + " may change it"
        )
    return view


@contextmanager
def spool_errors(job: str) -> Iterator[None]:
    """A file system error while changing the spool becomes ActionFailed with the job's name."""
    try:
        yield
    except (OSError, RenderdError) as err:
        if isinstance(err, (NoSuchJob, NotAllowed, Conflict, ActionFailed, UsageError)):
            raise
        raise ActionFailed(f"{job}: {err}") from None


def _set_control(spool: Spool, view: JobView, **flags: Any) -> None:
    spool.write_control(view.job, replace(view.control, **flags), me())
    wake_local_daemons(spool.root)


def cancel(spool: Spool, job: str) -> str:
    view = changeable_job(spool, job)
    with spool_errors(job):
        spool.write_control(job, replace(view.control, cancelled=True), me())
        queued = cancel_queued(spool, job, me())
        failed = cancel_failed(spool, job, me())
    wake_local_daemons(spool.root)
    return (f"{job}: cancelled; {len(queued)} queued and {len(failed)} failed chunk(s) removed, "
            f"{len(view.running)} running chunk(s) being stopped")


def pause(spool: Spool, job: str, now: bool = False) -> str:
    view = changeable_job(spool, job)
    if view.control.cancelled:
        raise Conflict(f"{job} is cancelled (`render retry {job} --missing` revives it)")
    if not view.active:  # pausing what will never run again would say "paused" and change nothing
        raise Conflict(f"{job} has finished ({view.state}): nothing of it is queued or running to pause")
    with spool_errors(job):
        _set_control(spool, view, paused=True, now=now)
    what = "suspended" if now else "left to finish"
    return f"{job}: paused; {len(view.running)} running chunk(s) {what}"


def resume(spool: Spool, job: str) -> str:
    view = changeable_job(spool, job)
    if not view.control.paused:
        return f"{job} is not paused"
    with spool_errors(job):
        _set_control(spool, view, paused=False, now=False)
    return f"{job}: resumed"


def retry(spool: Spool, job: str, missing: bool = False) -> list[str]:
    """Re-queue failed chunks (and with `missing`, cancelled ones and vanished outputs); lines to tell."""
    view = changeable_job(spool, job)
    lines = []
    with spool_errors(job):
        if view.control.cancelled:  # else the daemons would cancel what comes back
            spool.write_control(job, replace(view.control, cancelled=False), me())
        count = sum(spool.retry_failed(chunk, me()) for chunk in view.failed)
        if missing:
            count += sum(spool.requeue_record(job, c, "cancelled", ChunkState.CANCELLED, me()) for c in view.cancelled)
            for chunk, frames in view.vanished_frames(spool.root).items():  # just the missing frames
                count += spool.requeue_record(job, chunk, "done", ChunkState.DONE, me(), frames=frame_span(frames))
    if missing:
        unknown = set(view.chunk_frames()) - set(view.done) - set(view.cancelled) - set(view.failed) \
            - set(view.queued) - set(view.running)
        if unknown:
            lines.append(f"{job}: {len(unknown)} chunk(s) have no record to run again from (quarantined in bad/?)")
    wake_local_daemons(spool.root)
    lines.append(f"{job}: {count} chunk(s) back in the queue")
    return lines


def frame_span(frames: list[int]) -> tuple[int, int, int] | None:
    """The narrowest start-end:step that holds `frames` (None: nothing to narrow to).

    Frames 4 and 7 of a chunk 1-10 re-render as 4-7:3; 3, 4 and 9 as 3-9:1 (a chunk is one
    range: the frames between are rendered again, never more than the span); the step is the
    gaps' greatest common divisor, so it stays within a chunk of step 2."""
    if not frames:
        return None
    ordered = sorted(set(frames))
    if len(ordered) == 1:
        return ordered[0], ordered[0], 1
    return ordered[0], ordered[-1], math.gcd(*(b - a for a, b in itertools.pairwise(ordered)))


def remove(spool: Spool, job: str) -> str:
    """Remove the job; Conflict (after cancelling them) while chunks of it still run."""
    view = changeable_job(spool, job)
    with spool_errors(job):
        if view.running:
            spool.write_control(job, JobControl(cancelled=True), me())
            cancel_queued(spool, job, me())
        else:
            cancel_queued(spool, job, me())
            for chunk in view.failed:
                spool.drop_failed(chunk)
            spool.remove_job(job)
    if view.running:
        wake_local_daemons(spool.root)
        raise Conflict(
            f"{job}: {len(view.running)} chunk(s) still running; cancelled them: run `render remove {job}` again "
            "once they stopped"
        )
    return f"{job}: removed"


def set_priority(spool: Spool, job: str, priority: int) -> str:
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= MAX_PRIORITY:
        raise UsageError(f"priority must be a whole number from 0 to {MAX_PRIORITY}")
    view = changeable_job(spool, job)
    with spool_errors(job):
        spool.set_priority(job, priority)
    wake_local_daemons(spool.root)
    return f"{job}: priority {view.manifest.priority} -> {priority}"
