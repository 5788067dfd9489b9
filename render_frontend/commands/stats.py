"""`render stats [JOB]`: the farm's history per host (or one job's), from stats/ — kept after
`render clean` and `render remove` (render_frontend/farmstats.py says what each figure means)."""

from __future__ import annotations

import json
from typing import Any

import click

from render_frontend import completion, farmstats, terminal
from render_frontend.context import Context, pass_ctx
from render_frontend.exitcodes import UnknownJob
from renderd.duration import POSITIVE, format_duration

HEADER = f"{'host':<20} {'done':>6} {'failed':>6} {'frames':>7} {'frame-s':>9} {'avg':>7} {'fastest':>7} " \
         f"{'slowest':>7} {'busy':>5}"


@click.command("stats")
@click.argument("job", required=False, shell_complete=completion.jobs)
@click.option("--since", type=POSITIVE, metavar="DURATION", help="Only the last DURATION (7d, 12h, 90m).")
@click.option("--host", "host", metavar="HOST", shell_complete=completion.hosts, help="Only this host.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (see docs/json.md).")
@pass_ctx
def command(ctx: Context, job: str | None, since: float | None, host: str | None, as_json: bool) -> None:
    """Show the farm's history per host, or JOB's (kept after `render clean`).

    Per host: chunks done and failed, frames, frame-seconds, average/fastest/slowest frame,
    failure reasons by count, and the share of its time it was busy."""
    spool = ctx.spool()
    now = farmstats.now()
    start = None if since is None else now - since
    skipped = [0]
    stats = farmstats.aggregate(farmstats.read_lines(spool, skipped), since=start, host=host, job=job)
    if job is not None and job not in stats.jobs and spool.read_manifest(job) is None:
        raise UnknownJob(f"no job {job!r} in {spool.root} (nor any history of it in stats/)")
    if as_json:
        terminal.echo(json.dumps(_json(stats, job, start, now, skipped[0])))
        return
    if not stats.total.done and not stats.total.failed:
        terminal.echo("no chunk has ended in this window" if since or host else "no chunk has ended yet", err=True)
        return
    title = f"job {job}" if job is not None else "farm"
    window = f" in the last {format_duration(since)}" if since is not None else ""
    terminal.echo(f"{title}{window}: {_summary(stats.total)}")
    terminal.echo(HEADER)
    rows = stats.job_hosts.get(job, {}) if job is not None else stats.hosts
    for name in sorted(rows):
        terminal.echo(_row(name, rows[name], start, now))
    if stats.total.reasons:
        terminal.echo("failure reasons:")
        for reason, count in stats.total.reasons.most_common(farmstats.TOP_REASONS):
            terminal.echo(f"  {count:>5} x {reason}")
    if skipped[0]:
        terminal.echo(f"({skipped[0]} line(s) of stats/ could not be read and were left out)", err=True)


def _summary(t: farmstats.Tally) -> str:
    avg = f", {_secs(t.average)} a frame on average" if t.average is not None else ""
    return f"{t.done} chunk(s) done, {t.failed} failed attempt(s), {t.frames} frame(s){avg}"


def _row(name: str, t: farmstats.Tally, since: float | None, now: float) -> str:
    share = t.busy_share(since, now)
    busy = f"{100 * share:.0f}%" if share is not None else "-"
    return (f"{name[:20]:<20} {t.done:>6} {t.failed:>6} {t.frames:>7} {t.frame_seconds:>9.1f} "
            f"{_secs(t.average):>7} {_secs(t.fastest):>7} {_secs(t.slowest):>7} {busy:>5}")


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2g}s" if value < 10 else f"{value:.0f}s"


def _json(stats: farmstats.FarmStats, job: str | None, since: float | None, now: float,
          skipped: int) -> dict[str, Any]:
    hosts = stats.job_hosts.get(job, {}) if job is not None else stats.hosts
    out: dict[str, Any] = {
        "since": since, "now": round(now, 3), "total": stats.total.as_json(),
        "hosts": {name: t.as_json(since, now) for name, t in sorted(hosts.items())},
        "skipped_lines": skipped,
    }
    if job is not None:
        out["job"] = job
    else:
        out["jobs"] = {name: t.as_json() for name, t in sorted(stats.jobs.items())}
    return out
