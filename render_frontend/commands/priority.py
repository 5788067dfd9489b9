"""`render priority JOB N`: change a job's priority (higher runs first).

The priority is part of the job's queue folder name, so this renames the folder; chunks
already running are not affected."""

from __future__ import annotations

import json

import click

from render_frontend import completion, jobactions, terminal
from render_frontend.commands.control import one_line
from render_frontend.context import Context, pass_ctx
from renderd.format.names import MAX_PRIORITY


@click.command("priority")
@click.argument("job", shell_complete=completion.jobs)
@click.argument("priority", type=click.IntRange(0, MAX_PRIORITY))
@click.option("--json", "as_json", is_flag=True, help="Print what changed as JSON (old and new priority).")
@pass_ctx
def command(ctx: Context, job: str, priority: int, as_json: bool) -> None:
    """Set JOB's priority to PRIORITY (0-999, higher runs first)."""
    spool = ctx.spool()
    with one_line():
        before = spool.read_manifest(job)
        said = jobactions.set_priority(spool, job, priority)
    terminal.echo(said, err=True)
    if as_json:
        old = None if before is None else before.priority
        terminal.echo(json.dumps({"job": job, "action": "priority", "before": old, "after": priority,
                                  "changed": old != priority, "messages": [said]}))
