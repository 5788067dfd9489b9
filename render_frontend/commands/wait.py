"""`render wait JOB`: block until nothing of the job is queued or running.

Exit 0 if every chunk succeeded, 1 if any failed or was quarantined, 2 for an unknown job,
3 on timeout."""

from __future__ import annotations

import time

import click

from render_frontend import completion, terminal
from render_frontend.context import Context, pass_ctx
from render_frontend.farm import snapshot, who_can_run

POLL = 0.5


@click.command("wait")
@click.argument("job", shell_complete=completion.jobs)
@click.option("--timeout", type=click.FloatRange(min=0), help="Give up after this many seconds (exit 3).")
@pass_ctx
def command(ctx: Context, job: str, timeout: float | None) -> None:
    """Wait for JOB to finish; the exit code says how it went."""
    spool = ctx.spool()
    deadline = None if timeout is None else time.monotonic() + timeout
    warned = False
    looked_again = False
    while True:
        farm = snapshot(spool, job)
        view = farm.jobs.get(job)
        if view is None:
            terminal.echo(f"Error: no job {job!r} in {spool.root}", err=True)
            raise SystemExit(2)
        if not view.active:
            if view.total == 0:  # `render add` never writes an empty chunk list: nothing to judge success by
                terminal.echo(f"Error: the manifest of job {job!r} lists no chunks (damaged?)", err=True)
                raise SystemExit(1)
            missing = view.total - len(view.done)
            if missing == 0:
                terminal.echo(f"{job}: all {view.total} chunk(s) done", err=True)
                raise SystemExit(0)
            if missing > len(view.failed) + len(view.bad) + len(view.cancelled) and not looked_again:
                # A chunk in no state was moving while the folders were read (done/ read just before
                # it arrived there, claimed/ just after it left): look again before judging.
                looked_again = True
                time.sleep(POLL)
                continue
            terminal.echo(
                f"{job}: {len(view.failed)} failed, {len(view.bad)} quarantined, {len(view.cancelled)} cancelled, "
                f"{len(view.done)}/{view.total} done",
                err=True,
            )
            raise SystemExit(1)
        if view.queued and not view.running and not warned and not who_can_run(farm, view):
            terminal.echo(
                f"{job}: no live daemon may run its {view.manifest.get('kind')} chunks "
                "(command chunks need a renderd started with --allow-commands); still waiting",
                err=True,
            )
            warned = True
        if deadline is not None and time.monotonic() >= deadline:
            terminal.echo(f"{job}: timed out with {len(view.queued)} queued, {len(view.running)} running", err=True)
            raise SystemExit(3)
        time.sleep(POLL)
