"""`render cancel|pause|resume|retry|remove JOB`: job control through the spool.

The flags go to jobs/<job>/control.json, so every daemon on every host reacts within one poll
interval (this machine's daemons are woken at once through their sockets).  Only the job's
owner, root, or a member of an admin group configured on the daemons may change a job.
docs/control.md tells the whole story."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import click

from render_frontend import completion, terminal
from render_frontend.client import wake_local_daemons
from render_frontend.context import Context, pass_ctx
from render_frontend.farm import JobView, snapshot
from renderd.access import may_change_job
from renderd.errors import RenderdError
from renderd.jobcancel import cancel_failed, cancel_queued
from renderd.spool import JobControl, Spool
from renderd.states import ChunkState


def me() -> str:
    return f"uid {os.getuid()}"


def changeable_job(spool: Spool, job: str) -> JobView:
    """The job, if this user may change it; else one clear error."""
    view = snapshot(spool, job).jobs.get(job)
    if view is None:
        raise click.ClickException(f"no job {job!r} in {spool.root}")
    groups = {str(r["admin_group"]) for r in spool.hosts().values() if isinstance(r.get("admin_group"), str)}
    owner_uid = view.manifest.get("uid")
    if not may_change_job(os.getuid(), os.getgid(), owner_uid, groups):
        who = view.manifest.get("owner") or "?"
        raise click.ClickException(
            f"job {job} belongs to {who} (uid {owner_uid}): only its owner, root"
            + (f" or the admin group ({', '.join(sorted(groups))})" if groups else "")
            + " may change it"
        )
    return view


@contextmanager
def spool_errors(job: str) -> Iterator[None]:
    """A file system error while changing the spool: one line, not a traceback."""
    try:
        yield
    except (OSError, RenderdError) as err:
        raise click.ClickException(f"{job}: {err}") from None


def _set_control(spool: Spool, view: JobView, **flags: Any) -> None:
    spool.write_control(view.job, replace(view.control, **flags), me())
    wake_local_daemons(spool.root)


@click.command("cancel")
@click.argument("job", shell_complete=completion.jobs)
@pass_ctx
def cancel(ctx: Context, job: str) -> None:
    """Cancel JOB: stop its running chunks on every host and remove its queued ones.

    Removed chunks are kept as records (jobs/JOB/cancelled/); `render retry JOB --missing` brings them back."""
    spool = ctx.spool()
    view = changeable_job(spool, job)
    with spool_errors(job):
        spool.write_control(job, replace(view.control, cancelled=True), me())
        queued = cancel_queued(spool, job, me())
        failed = cancel_failed(spool, job, me())
    wake_local_daemons(spool.root)
    terminal.echo(f"{job}: cancelled; {len(queued)} queued and {len(failed)} failed chunk(s) removed, "
               f"{len(view.running)} running chunk(s) being stopped", err=True)


@click.command("pause")
@click.argument("job", shell_complete=completion.jobs)
@click.option("--now", is_flag=True, help="Also suspend its running chunks (SIGSTOP) instead of letting them finish.")
@pass_ctx
def pause(ctx: Context, job: str, now: bool) -> None:
    """Pause JOB: no new chunks start; running ones finish (or, with --now, are suspended)."""
    spool = ctx.spool()
    view = changeable_job(spool, job)
    if view.control.cancelled:
        raise click.ClickException(f"{job} is cancelled (`render retry {job} --missing` revives it)")
    with spool_errors(job):
        _set_control(spool, view, paused=True, now=now)
    what = "suspended" if now else "left to finish"
    terminal.echo(f"{job}: paused; {len(view.running)} running chunk(s) {what}", err=True)


@click.command("resume")
@click.argument("job", shell_complete=completion.jobs)
@pass_ctx
def resume(ctx: Context, job: str) -> None:
    """Resume a paused JOB (suspended chunks continue)."""
    spool = ctx.spool()
    view = changeable_job(spool, job)
    if not view.control.paused:
        terminal.echo(f"{job} is not paused", err=True)
        return
    with spool_errors(job):
        _set_control(spool, view, paused=False, now=False)
    terminal.echo(f"{job}: resumed", err=True)


@click.command("retry")
@click.argument("job", shell_complete=completion.jobs)
@click.option("--missing", is_flag=True,
              help="Also re-queue cancelled chunks and done chunks whose saved files are gone: every missing frame.")
@pass_ctx
def retry(ctx: Context, job: str, missing: bool) -> None:
    """Re-queue JOB's failed chunks (attempts reset); --missing re-queues every missing frame's chunk."""
    spool = ctx.spool()
    view = changeable_job(spool, job)
    with spool_errors(job):
        if view.control.cancelled:  # else the daemons would cancel what comes back
            spool.write_control(job, replace(view.control, cancelled=False), me())
        count = sum(spool.retry_failed(chunk, me()) for chunk in view.failed)
        if missing:
            count += sum(spool.requeue_record(job, c, "cancelled", ChunkState.CANCELLED, me()) for c in view.cancelled)
            count += sum(spool.requeue_record(job, c, "done", ChunkState.DONE, me()) for c in view.vanished(spool.root))
    if missing:
        unknown = set(view.chunk_frames()) - set(view.done) - set(view.cancelled) - set(view.failed) \
            - set(view.queued) - set(view.running)
        if unknown:
            terminal.echo(f"{job}: {len(unknown)} chunk(s) have no record to run again from (quarantined in bad/?)",
                       err=True)
    wake_local_daemons(spool.root)
    terminal.echo(f"{job}: {count} chunk(s) back in the queue", err=True)


@click.command("remove")
@click.argument("job", shell_complete=completion.jobs)
@pass_ctx
def remove(ctx: Context, job: str) -> None:
    """Remove JOB and everything of it from the spool (manifest, records, logs, failed chunks)."""
    spool = ctx.spool()
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
        raise click.ClickException(
            f"{job}: {len(view.running)} chunk(s) still running; cancelled them: run `render remove {job}` again "
            "once they stopped"
        )
    terminal.echo(f"{job}: removed", err=True)


commands = (cancel, pause, resume, retry, remove)
