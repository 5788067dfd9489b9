"""`render log JOB[:CHUNK]`: the logs of a job's chunks, from any host and any attempt."""

from __future__ import annotations

import json

import click

from render_frontend import completion, terminal
from render_frontend.context import Context, pass_ctx
from render_frontend.exitcodes import UnknownJob
from render_frontend.reasons import failed_reasons
from render_frontend.views import NoSuchJob, job_chunks, log_entries, pick_chunk, read_log


@click.command("log")
@click.argument("target", metavar="JOB[:CHUNK]", shell_complete=completion.job_or_chunk)
@click.option("--run", "run_number", type=click.IntRange(1), help="Only this attempt (the run number in the name).")
@click.option("--last", is_flag=True, help="Only the newest log of each chunk.")
@click.option("--json", "as_json", is_flag=True, help="Print the logs as JSON (see docs/json.md).")
@pass_ctx
def command(ctx: Context, target: str, run_number: int | None, last: bool, as_json: bool) -> None:
    """Print the log of a chunk (CHUNK: its id or index), or of every chunk of JOB."""
    spool = ctx.spool()
    job, _, which = target.partition(":")
    try:
        chunks = job_chunks(spool, job)
        if which:
            chunks = [pick_chunk(chunks, job, which)]
    except NoSuchJob as err:
        raise UnknownJob(str(err)) from None
    logs = log_entries(spool, job, chunks, run_number, last)
    if as_json:
        out = [{**entry, "text": read_log(spool.root / entry["path"]).decode("utf-8", errors="replace")}
               for entry in logs]
        terminal.echo(json.dumps({"job": job, "logs": out}))
        return
    if not logs:
        failed = {c: r for c, r in failed_reasons(spool, chunks).items() if r}
        if failed:  # failed before it started (no cwd, no input, ...): say why instead of "nothing ran"
            chunk, reason = next(iter(failed.items()))
            more = f" (and {len(failed) - 1} more chunk(s) like it)" if len(failed) > 1 else ""
            raise click.ClickException(f"no log for {target}: {chunk} failed before it started: {reason}{more}")
        raise click.ClickException(f"no log yet for {target} (nothing of it has run)")
    for entry in logs:
        if len(logs) > 1:
            e = terminal.fields(entry)
            terminal.echo(f"==> {e['chunk']} on {e['host']}, run {e['run']} ({e['path']}) <==")
        terminal.write_body(read_log(spool.root / entry["path"]))
