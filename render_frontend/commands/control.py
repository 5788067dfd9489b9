"""`render cancel|pause|resume|retry|remove JOB`: job control through the spool.

The flags go to jobs/<job>/control.json, so every daemon on every host reacts within one poll
interval (this machine's daemons are woken at once through their sockets).  Only the job's
owner, root, or a member of an admin group configured on the daemons may change a job.
docs/control.md tells the whole story; the steps themselves are in render_frontend/jobactions.py
(shared with `render serve`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from render_frontend import completion, jobactions, terminal
from render_frontend.context import Context, pass_ctx
from render_frontend.exitcodes import UnknownJob
from render_frontend.farm import snapshot
from render_frontend.views import NoSuchJob
from renderd.errors import RenderdError
from renderd.spool import Spool


@contextmanager
def one_line() -> Iterator[None]:
    """A refusal or a spool error from jobactions: one line and exit 1 (an unknown job: 2), no traceback."""
    try:
        yield
    except NoSuchJob as err:
        raise UnknownJob(str(err)) from None
    except RenderdError as err:
        raise click.ClickException(str(err)) from None


JSON = click.option("--json", "as_json", is_flag=True,
                    help="Print what changed as JSON: the job's state before and after, and the lines said.")


def _state(spool: Spool, job: str) -> str | None:
    view = snapshot(spool, job).jobs.get(job)
    return None if view is None else view.state


def _run(action: Callable[[], str | list[str]], spool: Spool | None = None, job: str = "", name: str = "",
         as_json: bool = False) -> None:
    before = _state(spool, job) if as_json and spool is not None else None
    with one_line():
        said = action()
    lines = [said] if isinstance(said, str) else said
    for line in lines:
        terminal.echo(line, err=True)
    if as_json and spool is not None:
        after = _state(spool, job)
        terminal.echo(json.dumps({"job": job, "action": name, "before": before, "after": after,
                                  "changed": before != after, "messages": lines}))


@click.command("cancel")
@click.argument("job", shell_complete=completion.jobs)
@JSON
@pass_ctx
def cancel(ctx: Context, job: str, as_json: bool) -> None:
    """Cancel JOB: stop its running chunks on every host and remove its queued ones.

    Removed chunks are kept as records (jobs/JOB/cancelled/); `render retry JOB --missing` brings them back."""
    spool = ctx.spool()
    _run(lambda: jobactions.cancel(spool, job), spool, job, "cancel", as_json)


@click.command("pause")
@click.argument("job", shell_complete=completion.jobs)
@JSON
@click.option("--now", is_flag=True, help="Also suspend its running chunks (SIGSTOP) instead of letting them finish.")
@pass_ctx
def pause(ctx: Context, job: str, now: bool, as_json: bool) -> None:
    """Pause JOB: no new chunks start; running ones finish (or, with --now, are suspended)."""
    spool = ctx.spool()
    _run(lambda: jobactions.pause(spool, job, now), spool, job, "pause", as_json)


@click.command("resume")
@click.argument("job", shell_complete=completion.jobs)
@JSON
@pass_ctx
def resume(ctx: Context, job: str, as_json: bool) -> None:
    """Resume a paused JOB (suspended chunks continue)."""
    spool = ctx.spool()
    _run(lambda: jobactions.resume(spool, job), spool, job, "resume", as_json)


@click.command("retry")
@click.argument("job", shell_complete=completion.jobs)
@JSON
@click.option("--missing", is_flag=True,
              help="Also re-queue cancelled chunks and done chunks whose saved files are gone: every missing frame.")
@pass_ctx
def retry(ctx: Context, job: str, missing: bool, as_json: bool) -> None:
    """Re-queue JOB's failed chunks (attempts reset); --missing re-queues every missing frame's chunk."""
    spool = ctx.spool()
    _run(lambda: jobactions.retry(spool, job, missing), spool, job, "retry", as_json)


@click.command("remove")
@click.argument("job", shell_complete=completion.jobs)
@JSON
@pass_ctx
def remove(ctx: Context, job: str, as_json: bool) -> None:
    """Remove JOB and everything of it from the spool (manifest, records, logs, failed chunks)."""
    spool = ctx.spool()
    _run(lambda: jobactions.remove(spool, job), spool, job, "remove", as_json)


commands = (cancel, pause, resume, retry, remove)
