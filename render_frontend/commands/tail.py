"""`render tail`: follow what the daemons do, live.

Without options it follows this machine's daemons of the spool through their sockets (each
sends its current state first, then every event); `--farm` follows every host's event log
in the spool instead, so it works from any workstation."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from render_frontend import completion, terminal
from render_frontend.client import Follower
from render_frontend.context import Context, pass_ctx
from render_frontend.exitcodes import UnknownJob
from render_frontend.farmlog import FarmLog
from renderd import protocol
from renderd.duration import NON_NEGATIVE
from renderd.format.info import relative_path_ok
from renderd.format.names import valid_name
from renderd.spool import Spool, open_regular

FAILED_LOG_LINES = 5


@click.command("tail")
@click.option("--socket", "sockets", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Follow this daemon socket (repeatable; default: every local daemon of the spool).")
@click.option("--farm", is_flag=True, help="Follow every host's event log in the spool instead of local sockets.")
@click.option("--job", help="Only this job's events.", shell_complete=completion.jobs)
@click.option("-n", "--lines", default=10, show_default=True, type=click.IntRange(0),
              help="With --farm: events of the recent past to show first, per host.")
@click.option("--timeout", type=NON_NEGATIVE, help="Stop after this long, e.g. 90s or 10m.")
@click.option("--json", "as_json", is_flag=True, help="One JSON message per line (see docs/json.md).")
@pass_ctx
def command(ctx: Context, sockets: tuple[Path, ...], farm: bool, job: str | None, lines: int,
            timeout: float | None, as_json: bool) -> None:
    """Follow live events: chunks claimed, progress, done, failed (with the last log lines)."""
    if farm and sockets:
        raise click.UsageError("--farm reads the spool; it takes no --socket")
    _sockets(sockets)
    until = None if timeout is None else time.monotonic() + timeout
    spool = ctx.spool() if farm or not sockets else None
    if job is not None and spool is not None and (not valid_name(job) or not spool.job_dir(job).is_dir()):
        raise UnknownJob(f"no job {job!r} in {spool.root}")  # else it would follow nothing, for ever
    if farm:
        assert spool is not None
        stream = FarmLog(spool, lines).follow(until)
    else:
        follower = Follower(spool.root if spool else None, list(sockets))
        stream = _follow_sockets(follower, spool, until)
    try:
        for message in stream:
            if job is not None and not _about_job(message, job):
                continue
            if as_json:
                terminal.echo(json.dumps(message), nl=True)
            else:
                for line in describe(terminal.fields(message), spool):
                    terminal.echo(line)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # `render tail | head`: the reader is gone, so are we (quietly)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _sockets(paths: tuple[Path, ...]) -> tuple[Path, ...]:
    """A --socket that is not there (or not a socket) would be followed for ever, printing nothing."""
    for path in paths:
        try:
            mode = os.stat(path).st_mode
        except OSError as err:
            raise click.BadParameter(f"{path}: {err.strerror} (is that daemon running? `render hosts`)",
                                     param_hint="--socket") from None
        if not stat.S_ISSOCK(mode):
            raise click.BadParameter(f"{path}: not a socket", param_hint="--socket")
    return paths


def _follow_sockets(follower: Follower, spool: Spool | None, until: float | None) -> Iterator[dict[str, Any]]:
    if spool is not None and not protocol.find_sockets(spool.root):
        terminal.echo(f"no local daemon of {spool.root} yet; waiting for one "
                   "(`render tail --farm` follows every host through the spool)", err=True)
    yield from follower.follow(until)


def _about_job(message: dict[str, Any], job: str) -> bool:
    if message.get("type") == "state":
        return True
    return message.get("job") == job or str(message.get("chunk", "")).startswith(job + "-")


# --------------------------------------------------------------------------- human lines


def _clock(t: Any) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t)) if isinstance(t, (int, float)) else "--:--:--"


def _pct(x: Any) -> str:
    return f"{100 * x:.0f}%" if isinstance(x, (int, float)) else "?"


def describe(m: dict[str, Any], spool: Spool | None) -> list[str]:
    """One or a few lines a person reads for one message."""
    host = m.get("host") or m.get("daemon") or "?"
    if m.get("type") == "state":
        chunks = m.get("chunks") or []
        if not chunks:
            return [f"{_clock(time.time())} {host}: {m.get('state') or 'starting'}, nothing running"]
        # the host state is refreshed with the host record, a few seconds behind the chunks: not shown here
        head = f"{_clock(time.time())} {host}: {len(chunks)} chunk(s) running"
        return [head] + [f"  running {c.get('chunk')} frames {c.get('start')}-{c.get('end')}"
                         f"{' ' + _pct(c.get('progress')) if 'progress' in c else ''}"
                         f"{' (suspended)' if c.get('suspended') else ''}" for c in chunks if isinstance(c, dict)]
    event = str(m.get("event"))
    prefix = f"{_clock(m.get('time'))} {host}"
    chunk = m.get("chunk", "")
    texts: dict[str, Callable[[], str]] = {
        "daemon-started": lambda: f"daemon started (pid {m.get('pid')}, {m.get('slots')} slot(s))",
        "daemon-stopped": lambda: "daemon stopped",
        "host-state": lambda: f"is {m.get('state')}",
        "chunk-claimed": lambda: f"{chunk} claimed: frames {m.get('start')}-{m.get('end')}, run {m.get('run')}",
        "chunk-started": lambda: f"{chunk} started (pid {m.get('pid')})",
        "chunk-progress": lambda: _progress_text(m),
        "chunk-suspended": lambda: f"{chunk} suspended ({m.get('reason', '')})",
        "chunk-resumed": lambda: f"{chunk} resumed ({m.get('reason', '')})",
        "chunk-finished": lambda: f"{chunk} done in {m.get('seconds')} s ({m.get('frames')} frame(s))",
        "chunk-failed": lambda: f"{chunk} FAILED: {m.get('reason')} -> {m.get('state') or 'claim lost'}",
        "chunk-requeued": lambda: f"{chunk} back in the queue ({m.get('reason') or 'lost lease'})",
        "chunk-lost": lambda: f"{chunk} stopped: its claim was taken over",
        "chunk-cancelled": lambda: f"{chunk} cancelled",
    }
    text = texts.get(event, lambda: f"{event} {chunk}".rstrip())()
    lines = [f"{prefix} {text}"]
    if event == "chunk-failed" and spool is not None and isinstance(m.get("log"), str):
        lines.extend("    | " + line for line in last_lines(spool, m["log"], FAILED_LOG_LINES))
    return lines


def _progress_text(m: dict[str, Any]) -> str:
    """`shot-0002 33%: 2/6 frames saved, rendering frame 9 (sample 16/64), 3.1 s/frame, peak 250M`"""
    parts = [f"{m.get('chunk')} {_pct(m.get('progress'))}: {m.get('frames_done')}/{m.get('frames_total')} frames saved"]
    if m.get("frame") is not None:
        samples = f" (sample {m.get('sample')}/{m['samples']})" if m.get("samples") else ""
        parts.append(f"rendering frame {m['frame']}{samples}")
    if m.get("frame_seconds") is not None:
        parts.append(f"{m['frame_seconds']:.1f} s/frame")
    if m.get("peak") is not None:
        parts.append(f"peak {m['peak']:.0f}M")
    return ", ".join(parts)


def last_lines(spool: Spool, relative_log: str, n: int) -> list[str]:
    """The end of a chunk's log (a spool-relative path from an event: checked, never followed out)."""
    if not relative_path_ok(relative_log):
        return []
    try:
        fd = open_regular(spool.root / relative_log)
    except OSError:
        return []
    with os.fdopen(fd, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        fh.seek(max(0, size - 8192))
        text = fh.read().decode("utf-8", errors="replace")
    # renderd's own header and footer lines are in the event already: show the program's
    return [line for line in text.splitlines() if line.strip() and not line.startswith("renderd: ")][-n:]
