"""`render priority JOB N`: change a job's priority (higher runs first).

The priority is part of the job's queue folder name, so this renames the folder; chunks
already running are not affected."""

from __future__ import annotations

import click

from render_frontend import completion, terminal
from render_frontend.client import wake_local_daemons
from render_frontend.commands.control import changeable_job, spool_errors
from render_frontend.context import Context, pass_ctx
from renderd.spool import MAX_PRIORITY


@click.command("priority")
@click.argument("job", shell_complete=completion.jobs)
@click.argument("priority", type=click.IntRange(0, MAX_PRIORITY))
@pass_ctx
def command(ctx: Context, job: str, priority: int) -> None:
    """Set JOB's priority to PRIORITY (0-999, higher runs first)."""
    spool = ctx.spool()
    view = changeable_job(spool, job)
    with spool_errors(job):
        spool.set_priority(job, priority)
    wake_local_daemons(spool.root)
    terminal.echo(f"{job}: priority {view.manifest.get('priority')} -> {priority}", err=True)
