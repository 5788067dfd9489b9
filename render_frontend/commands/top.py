"""`render top`: a live full-screen overview of jobs (with progress bars) and hosts; q quits.

Drawn with rich; when stdout is not a terminal it prints one snapshot as plain lines instead
(like `top -b -n 1`), so it can be piped or logged."""

from __future__ import annotations

import os
import select
import sys
import termios
import time
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from render_frontend import terminal
from render_frontend.context import Context, pass_ctx
from render_frontend.farm import Farm, JobView, snapshot
from renderd.duration import Duration
from renderd.spool import Spool


@click.command("top")
@click.option("--interval", default="1s", show_default=True, type=Duration(0.1),
              help="Time between refreshes, e.g. 2s.")
@click.option("--once", is_flag=True, help="Print one snapshot as plain lines and exit (the default when piped).")
@pass_ctx
def command(ctx: Context, interval: float, once: bool) -> None:
    """A live overview of the farm: jobs with progress bars, and hosts.  Press q to quit."""
    spool = ctx.spool()
    if once or not sys.stdout.isatty():
        for line in plain_lines(snapshot(spool)):
            terminal.echo(line)
        return
    try:
        with _keys() as read_key, Live(_screen(spool), screen=True, auto_refresh=False) as live:
            while read_key(interval) not in ("q", "Q"):
                live.update(_screen(spool), refresh=True)
    except KeyboardInterrupt:
        pass


# --------------------------------------------------------------------------- figures


def job_progress(view: JobView, farm: Farm) -> tuple[float, int, int]:
    """(fraction, frames done, frames total): done frames plus the running chunks' live progress."""
    total = view.manifest.frames
    done = float(view.frames_done())
    for rec in farm.live_hosts().values():
        for entry in rec.chunks:
            if entry.job == view.job and entry.fraction is not None and entry.frames_total is not None:
                done += entry.fraction * entry.frames_total
    return (min(1.0, done / total) if total else 0.0), view.frames_done(), total


def _eta(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "-"
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _host_rows(farm: Farm) -> Iterator[tuple[str, str, str, str]]:
    for name, rec in sorted(farm.hosts.items()):
        live = name in farm.live_hosts()
        load = str(rec.load[0]) if rec.load else "?"
        chunks = []
        for entry in rec.chunks:
            pct_text = "" if entry.fraction is None else f" {100 * entry.fraction:.0f}%"
            chunks.append(f"{entry.chunk}{pct_text}")
        yield name, rec.state if live else "offline", load, ", ".join(chunks) or "-"


def plain_lines(farm: Farm) -> list[str]:
    """The overview as plain text lines."""
    lines = [f"{'JOB':32} {'STATE':10} {'PROGRESS':>8} {'FRAMES':>11} {'Q/R/D/F':>13} {'ETA':>7}"]
    for view in sorted(farm.jobs.values(), key=lambda v: v.manifest.created):
        fraction, done, total = job_progress(view, farm)
        counts = f"{len(view.queued)}/{len(view.running)}/{len(view.done)}/{len(view.failed)}"
        eta = _eta(view.timing(farm.taken_at)["eta"])
        frames = f"{done:>5}/{total:<5}"
        job, state = terminal.visible(view.job), terminal.visible(view.state)
        lines.append(f"{job:32} {state:10} {100 * fraction:>7.0f}% {frames} {counts:>13} {eta:>7}")
    lines.append("")
    lines.append(f"{'HOST':20} {'STATE':10} {'LOAD':>5}  CHUNKS")
    for row in _host_rows(farm):
        name, state, load, chunks = (terminal.visible(value) for value in row)
        lines.append(f"{name:20} {state:10} {load:>5}  {chunks}")
    return lines


# --------------------------------------------------------------------------- the screen


def _cell(value: object) -> Text:
    """A table cell from the spool: a Text (never parsed as rich markup: a host named `[bold]`
    stays that), its control characters made visible (terminal.visible)."""
    return Text(terminal.visible(value))


def _screen(spool: Spool) -> Group:
    farm = snapshot(spool)
    jobs = Table(title=_cell(f"renderd — {spool.root}"), expand=True, title_justify="left")
    for column in ("job", "state", "progress", "frames", "queued", "running", "done", "failed", "ETA"):
        jobs.add_column(column, no_wrap=True, ratio=3 if column == "progress" else None)
    for view in sorted(farm.jobs.values(), key=lambda v: v.manifest.created):
        fraction, done, total = job_progress(view, farm)
        jobs.add_row(_cell(view.job), _cell(view.state), ProgressBar(total=1.0, completed=fraction),
                     _cell(f"{done}/{total}"), _cell(len(view.queued)), _cell(len(view.running)),
                     _cell(len(view.done)), _cell(len(view.failed) + len(view.bad)),
                     _cell(_eta(view.timing(farm.taken_at)["eta"])))
    hosts = Table(expand=True)
    for column in ("host", "state", "load", "chunks"):
        hosts.add_column(column, no_wrap=True)
    for row in _host_rows(farm):
        hosts.add_row(*(_cell(value) for value in row))
    footer = Text(f"{time.strftime('%H:%M:%S')}  q quits", style="dim")
    return Group(jobs, hosts, footer)


@contextmanager
def _keys() -> Iterator[Any]:
    """A `read_key(timeout)` that returns a key pressed within `timeout` seconds (or None)."""
    if not sys.stdin.isatty():
        def wait_only(timeout: float) -> str | None:
            time.sleep(timeout)
            return None

        yield wait_only
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)

    def read_key(timeout: float) -> str | None:
        ready, _, _ = select.select([fd], [], [], timeout)
        return os.read(fd, 1).decode(errors="replace") if ready else None

    try:
        yield read_key
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
