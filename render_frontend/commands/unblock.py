"""`render unblock JOB HOST`: let a host take a job's chunks again after it was blocked for failing
them (`render add --block-after`, docs/scheduling.md).

The host's failures so far are forgiven (jobs/<job>/unblocked.json records how many), so it is
blocked again only after as many new failures as the job allows.  Daemons notice within a poll."""

from __future__ import annotations

import json

import click

from render_frontend import completion, jobactions, terminal
from render_frontend.client import wake_local_daemons
from render_frontend.commands.control import one_line
from render_frontend.context import Context, pass_ctx
from renderd import blocklist
from renderd.errors import UsageError
from renderd.format.names import valid_name


@click.command("unblock")
@click.argument("job", shell_complete=completion.jobs)
@click.argument("host", shell_complete=completion.hosts)
@click.option("--json", "as_json", is_flag=True, help="Print what changed as JSON.")
@pass_ctx
def command(ctx: Context, job: str, host: str, as_json: bool) -> None:
    """Let HOST take JOB's chunks again after it was blocked for failing them."""
    spool = ctx.spool()
    with one_line():
        if not valid_name(host, 64):
            raise UsageError(f"{host!r} is not a host name")
        view = jobactions.changeable_job(spool, job)
        before = blocklist.blocked_hosts(spool, job, view.manifest.rules.block_after)
        with jobactions.spool_errors(job):
            forgiven = blocklist.unblock(spool, job, host, jobactions.me())
        wake_local_daemons(spool.root)
    if host in before:
        said = f"{job}: {host} may take its chunks again ({forgiven} failure(s) forgiven)"
    else:
        said = f"{job}: {host} was not blocked ({forgiven} failure(s) forgiven)"
    terminal.echo(said, err=True)
    if as_json:
        terminal.echo(json.dumps({"job": job, "action": "unblock", "host": host, "was_blocked": host in before,
                                  "forgiven": forgiven, "messages": [said]}))
