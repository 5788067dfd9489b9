"""`renderd`'s options for pilots (renderd/pilot.py): --pilot, --idle-exit, --job.

Kept apart from renderd/cli.py like the idle policy's options (policy_cli.py), so the daemon's
command line stays one screen and the pilot's rules live beside each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from renderd import pilot
from renderd.duration import POSITIVE

F = TypeVar("F", bound=Callable[..., Any])


def pilot_options(func: F) -> F:
    options = [
        click.option(
            "--pilot",
            is_flag=True,
            help="Run as a Slurm pilot (render burst; docs/burst.md): named NODE-JOB_TASK, --idle-exit "
            f"{pilot.PILOT_IDLE_EXIT:g} unless given, leaves before the job's time limit.",
        ),
        click.option(
            "--idle-exit",
            type=POSITIVE,
            default=None,
            help="Leave when no chunk this daemon may run has been queued for this long, e.g. 60s "
            f"(default: never; {pilot.PILOT_IDLE_EXIT:g} with --pilot).",
        ),
        click.option(
            "--job", "only_jobs", multiple=True, metavar="JOB", help="Run only this job's chunks (repeatable)."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def pilot_settings(opts: dict[str, Any], name: str | None) -> tuple[str | None, dict[str, Any]]:
    """Pop the pilot's options from `opts`: the daemon's name, and DaemonConfig's pilot fields."""
    is_pilot, idle_exit, only_jobs = opts.pop("pilot"), opts.pop("idle_exit"), tuple(opts.pop("only_jobs"))
    end_in = None
    if is_pilot:
        try:
            name = name or pilot.slurm_name()
        except pilot.NotInBatchJob as err:
            raise click.UsageError(str(err)) from None
        idle_exit = pilot.PILOT_IDLE_EXIT if idle_exit is None else idle_exit
        end_in = pilot.slurm_time_left()
    return name, {"idle_exit": idle_exit, "end_in": end_in, "only_jobs": only_jobs}
