"""`render priority JOB N`: change a job's priority (higher runs first).

The priority is part of the job's queue folder name, so this renames the folder; chunks
already running are not affected."""

from __future__ import annotations

import click

from render_frontend import completion, jobactions, terminal
from render_frontend.commands.control import one_line
from render_frontend.context import Context, pass_ctx
from renderd.spool import MAX_PRIORITY


@click.command("priority")
@click.argument("job", shell_complete=completion.jobs)
@click.argument("priority", type=click.IntRange(0, MAX_PRIORITY))
@pass_ctx
def command(ctx: Context, job: str, priority: int) -> None:
    """Set JOB's priority to PRIORITY (0-999, higher runs first)."""
    spool = ctx.spool()
    with one_line():
        said = jobactions.set_priority(spool, job, priority)
    terminal.echo(said, err=True)
