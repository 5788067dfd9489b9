"""`render cancel|pause|resume|retry|remove JOB`: job control through the spool.

The flags go to jobs/<job>/control.json, so every daemon on every host reacts within one poll
interval (this machine's daemons are woken at once through their sockets).  Only the job's
owner, root, or a member of an admin group configured on the daemons may change a job.
docs/control.md tells the whole story; the steps themselves are in render_frontend/jobactions.py
(shared with `render serve`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from render_frontend import completion, jobactions, terminal
from render_frontend.context import Context, pass_ctx
from renderd.errors import RenderdError


@contextmanager
def one_line() -> Iterator[None]:
    """A refusal or a spool error from jobactions: one line and exit 1, no traceback."""
    try:
        yield
    except RenderdError as err:
        raise click.ClickException(str(err)) from None


def _run(action: Callable[[], str | list[str]]) -> None:
    with one_line():
        said = action()
    for line in [said] if isinstance(said, str) else said:
        terminal.echo(line, err=True)


@click.command("cancel")
@click.argument("job", shell_complete=completion.jobs)
@pass_ctx
def cancel(ctx: Context, job: str) -> None:
    """Cancel JOB: stop its running chunks on every host and remove its queued ones.

    Removed chunks are kept as records (jobs/JOB/cancelled/); `render retry JOB --missing` brings them back."""
    spool = ctx.spool()
    _run(lambda: jobactions.cancel(spool, job))


@click.command("pause")
@click.argument("job", shell_complete=completion.jobs)
@click.option("--now", is_flag=True, help="Also suspend its running chunks (SIGSTOP) instead of letting them finish.")
@pass_ctx
def pause(ctx: Context, job: str, now: bool) -> None:
    """Pause JOB: no new chunks start; running ones finish (or, with --now, are suspended)."""
    spool = ctx.spool()
    _run(lambda: jobactions.pause(spool, job, now))


@click.command("resume")
@click.argument("job", shell_complete=completion.jobs)
@pass_ctx
def resume(ctx: Context, job: str) -> None:
    """Resume a paused JOB (suspended chunks continue)."""
    spool = ctx.spool()
    _run(lambda: jobactions.resume(spool, job))


@click.command("retry")
@click.argument("job", shell_complete=completion.jobs)
@click.option("--missing", is_flag=True,
              help="Also re-queue cancelled chunks and done chunks whose saved files are gone: every missing frame.")
@pass_ctx
def retry(ctx: Context, job: str, missing: bool) -> None:
    """Re-queue JOB's failed chunks (attempts reset); --missing re-queues every missing frame's chunk."""
    spool = ctx.spool()
    _run(lambda: jobactions.retry(spool, job, missing))


@click.command("remove")
@click.argument("job", shell_complete=completion.jobs)
@pass_ctx
def remove(ctx: Context, job: str) -> None:
    """Remove JOB and everything of it from the spool (manifest, records, logs, failed chunks)."""
    spool = ctx.spool()
    _run(lambda: jobactions.remove(spool, job))


commands = (cancel, pause, resume, retry, remove)
