"""`renderd`'s idle-policy options (kept here so renderd/cli.py stays short)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from renderd.duration import NON_NEGATIVE, POSITIVE
from renderd.idle import SIGNALS, parse_signals
from renderd.policy import PolicyConfig, Schedule

F = TypeVar("F", bound=Callable[..., Any])
UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_size(text: str) -> int:
    """`2G`, `512M`, `1.5g`, `0` -> bytes (powers of 1024)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", text.lower())
    if m is None:
        raise ValueError(f"{text!r} is not a size: use e.g. 2G, 512M or 0")
    return int(float(m[1]) * UNITS[m[2]])


def _size(ctx: click.Context, param: click.Parameter, value: str) -> int:
    try:
        return parse_size(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


def _schedule(ctx: click.Context, param: click.Parameter, value: str | None) -> Schedule | None:
    if not value:
        return None
    try:
        return Schedule.parse(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


def _signals(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Checked, and kept as text so that `--print-config` writes it back as it was given."""
    try:
        return ",".join(parse_signals(value)) or "none"
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


SECONDS = NON_NEGATIVE

OPTIONS = (
    click.option(
        "--idle-after",
        type=SECONDS,
        default="5m",
        show_default=True,
        help="With --when idle: start chunks after the owner was idle this long (0: at once).",
    ),
    click.option(
        "--resume-after",
        type=SECONDS,
        default="2m",
        show_default=True,
        help="Resume a suspended chunk after the owner was idle this long.",
    ),
    click.option(
        "--max-suspend",
        type=POSITIVE,
        default="30m",
        show_default=True,
        help="Give a chunk suspended longer than this many seconds back to the queue (preempted).",
    ),
    click.option(
        "--min-free-mem",
        default="2G",
        show_default=True,
        callback=_size,
        help="Never start a chunk with less free memory (MemAvailable) than this.",
    ),
    click.option(
        "--schedule",
        default=None,
        callback=_schedule,
        help="Hours in which chunks may start, e.g. 'mon-fri 19:00-08:00, sat-sun' (local time).",
    ),
    click.option(
        "--idle-signals",
        default=",".join(SIGNALS),
        show_default=True,
        callback=_signals,
        help="Owner-activity signals to use: any of logind,input,tty,cpu, or none.",
    ),
    click.option(
        "--cpu-busy",
        type=click.FloatRange(min=0, min_open=True),
        default=0.5,
        show_default=True,
        help="Cores used by processes outside the farm that count as owner activity.",
    ),
    click.option(
        "--activity-path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="A file whose recent mtime means 'owner active' (for custom sensors).",
    ),
    click.option(
        "--check",
        is_flag=True,
        help="Report which idle signals, priorities and I/O schedulers work on this host, then exit.",
    ),
)


def idle_options(func: F) -> F:
    for option in reversed(OPTIONS):
        func = option(func)
    return func


def daemon_policy(when: str, idle: dict[str, Any]) -> dict[str, Any]:
    """DaemonConfig fields from the options."""
    policy = PolicyConfig(
        when=when,
        idle_after=idle["idle_after"],
        resume_after=idle["resume_after"],
        max_suspend=idle["max_suspend"],
        min_free_mem=idle["min_free_mem"],
        schedule=idle["schedule"],
        cpu_busy=idle["cpu_busy"],
    )
    signals = parse_signals(idle["idle_signals"])
    return {"policy": policy, "idle_signals": signals, "activity_path": idle["activity_path"]}
