"""`render status [JOB]`: chunks by state per job, and the hosts working on them."""

from __future__ import annotations

import json

import click

from render_frontend import completion
from render_frontend.cli import Context, pass_ctx
from render_frontend.farm import snapshot, who_can_run


@click.command("status")
@click.argument("job", required=False, shell_complete=completion.jobs)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (see docs/json.md).")
@pass_ctx
def command(ctx: Context, job: str | None, as_json: bool) -> None:
    """Show jobs: queued / running / done / failed chunks and hosts."""
    spool = ctx.spool()
    farm = snapshot(spool, job)
    if job is not None and job not in farm.jobs:
        raise click.ClickException(f"no job {job!r} in {spool.root}")
    views = sorted(farm.jobs.values(), key=lambda v: v.manifest.get("created", 0))
    if as_json:
        click.echo(json.dumps({"jobs": [v.to_json() for v in views]}))
        return
    if not views:
        click.echo("no jobs", err=True)
        return
    click.echo(f"{'JOB':32} {'STATE':10} {'DONE':>9} {'QUEUED':>6} {'RUN':>4} {'FAIL':>4}  HOSTS")
    for v in views:
        c = v.to_json()["chunks"]
        click.echo(
            f"{v.job:32} {v.state:10} {c['done']:>4}/{c['total']:<4} {c['queued']:>6} {c['running']:>4} "
            f"{c['failed'] + c['bad']:>4}  {','.join(v.hosts)}"
        )
        if v.queued and not who_can_run(farm, v):
            click.echo(f"  ! no live daemon may run this job's {v.manifest.get('kind')} chunks")
