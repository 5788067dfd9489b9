"""`render status [JOB]`: chunks by state per job, and the hosts working on them."""

from __future__ import annotations

import json
from typing import Any

import click

from render_frontend import completion, schedview, terminal
from render_frontend.context import Context, pass_ctx
from render_frontend.exitcodes import UnknownJob
from render_frontend.farm import snapshot, who_can_run
from render_frontend.reasons import failed_reasons
from render_frontend.schedview import explain
from render_frontend.views import NoSuchJob, created, jobs_json
from renderd.spool import Spool


@click.command("status")
@click.argument("job", required=False, shell_complete=completion.jobs)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (see docs/json.md).")
@click.option("--frames", "list_frames", is_flag=True,
              help="List missing frames: not rendered yet, or rendered but their files are gone.")
@pass_ctx
def command(ctx: Context, job: str | None, as_json: bool, list_frames: bool) -> None:
    """Show jobs: frames and chunks by state, hosts, elapsed time, ETA and frame times."""
    spool = ctx.spool()
    farm = snapshot(spool, job)
    whys = {name: explain(spool, farm, view) for name, view in farm.jobs.items()}
    try:
        out = jobs_json(spool, job, list_frames, farm, whys)
    except NoSuchJob as err:
        raise UnknownJob(str(err)) from None
    if as_json:
        unreadable = [{"job": j, "reason": why} for j, why in sorted(farm.unreadable.items())]
        terminal.echo(json.dumps({"jobs": out} | ({"unreadable": unreadable} if unreadable else {})))
        return
    for name, why in sorted(farm.unreadable.items()):  # one line each (e.g. a planted manifest), then the table
        terminal.echo(f"{name}: unreadable, left out ({why})", err=True)
    views = sorted(farm.jobs.values(), key=created)
    missing = {entry["job"]: entry["missing_frames"] for entry in out} if list_frames else {}
    if not views:
        terminal.echo("no jobs", err=True)
        return
    terminal.echo(f"{'JOB':32} {'STATE':10} {'DONE':>9} {'QUEUED':>6} {'RUN':>4} {'FAIL':>4}  HOSTS")
    for v in views:
        c = v.to_json()["chunks"]
        terminal.echo(
            f"{v.job:32} {v.state:10} {c['done']:>4}/{c['total']:<4} {c['queued']:>6} {c['running']:>4} "
            f"{c['failed'] + c['bad']:>4}  {terminal.visible(','.join(v.hosts))}"
        )
        terminal.echo(f"  {_details(v.to_json())}")
        _reasons(spool, v.failed, all_of_them=job is not None)
        if list_frames:
            terminal.echo(f"  missing frames: {frame_ranges(missing[v.job]) or 'none'}")
        if v.queued and not who_can_run(farm, v):
            terminal.echo(f"  ! no live daemon may run this job's {terminal.visible(v.manifest.kind)} chunks")
        for text in schedview.lines(whys[v.job], v):
            terminal.echo(f"  {terminal.visible(text)}")


SHOWN_REASONS = 3


def _reasons(spool: Spool, failed: list[str], all_of_them: bool) -> None:
    """Why chunks failed (failed/<chunk>.info.reason): every one for `status JOB`, a few in the list."""
    shown = failed if all_of_them else failed[:SHOWN_REASONS]
    for chunk, reason in failed_reasons(spool, shown).items():
        terminal.echo(f"  failed {terminal.visible(chunk)}: {terminal.visible(reason or '(no reason recorded)')}")
    if len(failed) > len(shown):
        terminal.echo(f"  ... {len(failed) - len(shown)} more failed chunk(s): render status JOB lists them")


def _duration(s: Any) -> str:
    if not isinstance(s, (int, float)):
        return "-"
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _details(j: dict[str, Any]) -> str:
    """frames 12/40, elapsed 1m02s, ETA 3m10s, frame 3.1 s avg (2.0 fastest, 4.2 slowest)"""
    t = j["frame_time"]
    frames = f"frames {j['frames']['done']}/{j['frames']['total']}"
    suspended = f" (suspended {_duration(j['suspended'])})" if j.get("suspended") else ""
    times = f"elapsed {_duration(j['elapsed'])}{suspended}, ETA {_duration(j['eta'])}"
    if t["average"] is None:
        return f"{frames}, {times}"
    avg, fast, slow = (_seconds(t[k]) for k in ("average", "fastest", "slowest"))
    return f"{frames}, {times}, frame {avg} s avg ({fast} fastest, {slow} slowest)"


def _seconds(value: float) -> str:
    """3.1 for seconds, 0.04 for the tiny frames of a test scene (never a misleading 0.0)."""
    return f"{value:.1f}" if value >= 1 else f"{value:.2g}"


def frame_ranges(frames: list[int]) -> str:
    """[1, 2, 3, 7, 9, 10] -> '1-3,7,9-10'"""
    runs: list[list[int]] = []
    for f in sorted(frames):
        if runs and f == runs[-1][1] + 1:
            runs[-1][1] = f
        else:
            runs.append([f, f])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
