"""`render top`: a live full-screen overview of jobs (with progress bars) and hosts.

Keys: up/down (or k/j) select a job; p pauses it, r resumes it, c cancels it after a `y` to
confirm; q quits.  Drawn with rich, laid out to keep the progress bars and the important
columns at 80x24 (the job id is cut first, with an ellipsis); when stdout is not a terminal it
prints one snapshot as plain lines instead (like `top -b -n 1`), so it can be piped or logged."""

from __future__ import annotations

import os
import select
import sys
import termios
import time
import tty
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import click
from rich.console import Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from render_frontend import jobactions, terminal
from render_frontend.context import Context, pass_ctx
from render_frontend.farm import Farm, JobView, snapshot
from renderd.duration import Duration
from renderd.errors import RenderdError
from renderd.spool import Spool


@click.command("top")
@click.option("--interval", default="1s", show_default=True, type=Duration(0.1),
              help="Time between refreshes, e.g. 2s.")
@click.option("--once", is_flag=True, help="Print one snapshot as plain lines and exit (the default when piped).")
@pass_ctx
def command(ctx: Context, interval: float, once: bool) -> None:
    """A live overview of the farm: jobs with progress bars, and hosts.

    Keys: up/down select a job, p pause, r resume, c cancel (y confirms), q quit."""
    spool = ctx.spool()
    if once or not sys.stdout.isatty():
        for line in plain_lines(snapshot(spool)):
            terminal.echo(line)
        return
    state = Selection()
    try:
        with _keys() as read_key, Live(_screen(spool, snapshot(spool), state), screen=True,
                                       auto_refresh=False) as live:
            while True:
                key = read_key(interval)
                if key in ("q", "Q"):
                    break
                farm = snapshot(spool)
                if key is not None:
                    state.press(key, spool, _ordered(farm))
                live.update(_screen(spool, farm, state), refresh=True)
    except KeyboardInterrupt:
        pass


UP, DOWN = ("\x1b[A", "\x1bOA", "k"), ("\x1b[B", "\x1bOB", "j")


@dataclass
class Selection:
    """The selected job, a cancel waiting for its `y`, and the last action's answer."""

    index: int = 0
    confirm: str | None = None
    message: str = ""

    def press(self, key: str, spool: Spool, jobs: list[str]) -> None:
        self.index = min(self.index, max(len(jobs) - 1, 0))
        if self.confirm is not None:
            job, self.confirm = self.confirm, None
            self.message = self._act(lambda: jobactions.cancel(spool, job)) if key in ("y", "Y") \
                else f"{job}: not cancelled"
            return
        if key in UP:
            self.index = max(self.index - 1, 0)
        elif key in DOWN:
            self.index = min(self.index + 1, max(len(jobs) - 1, 0))
        elif not jobs:
            self.message = "no jobs"
        elif key in ("p", "P"):
            self.message = self._act(lambda: jobactions.pause(spool, jobs[self.index]))
        elif key in ("r", "R"):
            self.message = self._act(lambda: jobactions.resume(spool, jobs[self.index]))
        elif key in ("c", "C"):
            self.confirm = jobs[self.index]
            self.message = f"cancel {self.confirm}? y to confirm, any other key keeps it"

    @staticmethod
    def _act(action: Callable[[], str]) -> str:
        try:
            return action()
        except RenderdError as err:  # refused (not yours, finished, ...): said in the footer
            return str(err)


def _ordered(farm: Farm) -> list[str]:
    return [v.job for v in sorted(farm.jobs.values(), key=lambda v: v.manifest.created)]


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
    for job in sorted(farm.unreadable):  # its manifest fails its reader (render status --json says why)
        lines.append(f"{terminal.visible(job):32} {'unreadable':10}")
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


def _screen(spool: Spool, farm: Farm, state: Selection) -> Group:
    """Jobs, hosts and a footer.  At 80 columns the fixed columns take about 44: the bar gets at
    least 10 and the job id what is left (cut with an ellipsis, never the headers)."""
    jobs = Table(title=_cell(f"renderd — {spool.root}"), expand=True, title_justify="left", pad_edge=False)
    jobs.add_column("job", no_wrap=True, overflow="ellipsis", ratio=3, min_width=8)
    jobs.add_column("state", no_wrap=True, min_width=8)
    jobs.add_column("progress", no_wrap=True, ratio=2, min_width=10)
    for column in ("frames", "q/r/d/f", "ETA"):
        jobs.add_column(column, no_wrap=True, justify="right")
    ordered = sorted(farm.jobs.values(), key=lambda v: v.manifest.created)
    state.index = min(state.index, max(len(ordered) - 1, 0))
    for i, view in enumerate(ordered):
        fraction, done, total = job_progress(view, farm)
        counts = f"{len(view.queued)}/{len(view.running)}/{len(view.done)}/{len(view.failed) + len(view.bad)}"
        jobs.add_row(_cell(view.job), _cell(view.state), ProgressBar(total=1.0, completed=fraction),
                     _cell(f"{done}/{total}"), _cell(counts), _cell(_eta(view.timing(farm.taken_at)["eta"])),
                     style="reverse" if i == state.index else None)
    hosts = Table(expand=True, pad_edge=False)
    hosts.add_column("host", no_wrap=True, overflow="ellipsis", max_width=20)
    hosts.add_column("state", no_wrap=True)
    hosts.add_column("load", no_wrap=True, justify="right")
    hosts.add_column("chunks", no_wrap=True, overflow="ellipsis", ratio=1)
    for row in _host_rows(farm):
        hosts.add_row(*(_cell(value) for value in row))
    keys = "↑↓ select  p pause  r resume  c cancel  q quits"
    footer = Text(f"{time.strftime('%H:%M:%S')}  {keys}", style="dim", no_wrap=True, overflow="ellipsis")
    lines: list[Any] = [jobs, hosts, footer]
    if state.message:
        lines.append(Text(terminal.visible(state.message), style="bold", no_wrap=True, overflow="ellipsis"))
    return Group(*lines)


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
        """One key; an arrow key's escape sequence (`ESC [ A`) as one string."""
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return None
        key = os.read(fd, 1)
        if key == b"\x1b":
            while len(key) < 3 and select.select([fd], [], [], 0.05)[0]:
                key += os.read(fd, 1)
        return key.decode(errors="replace")

    try:
        yield read_key
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
