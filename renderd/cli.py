"""`renderd`: the daemon's command line."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from renderd import __version__
from renderd.config import ConfiguredCommand
from renderd.daemon import Daemon, DaemonConfig
from renderd.errors import RenderdError
from renderd.host import default_name
from renderd.spool import valid_name


def _positive(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and value <= 0:
        raise click.BadParameter("must be greater than 0")
    return value


@click.command(
    "renderd",
    cls=ConfiguredCommand,
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "RENDERD"},
)
@click.option(
    "--spool",
    envvar="RENDERD_SPOOL",
    type=click.Path(file_okay=False, path_type=Path),
    help="The shared spool folder (or $RENDERD_SPOOL, or spool in the config file).",
)
@click.option("--name", default=None, help="This daemon's name in the farm (default: the short host name).")
@click.option("--slots", default=1, show_default=True, type=click.IntRange(1, 256), help="Chunks run at once.")
@click.option(
    "--poll",
    default=5.0,
    show_default=True,
    type=float,
    callback=_positive,
    help="Seconds between polls of the spool (inotify misses other hosts' changes).",
)
@click.option(
    "--lease",
    default=60.0,
    show_default=True,
    type=float,
    callback=_positive,
    help="Seconds without a heartbeat after which a claim counts as abandoned.",
)
@click.option("--allow-commands", is_flag=True, help="Also run arbitrary command chunks (not only Blender).")
@click.option("--allow-scripts", is_flag=True, help="Let jobs that ask for it run Blender with Python scripts enabled.")
@click.option(
    "--chunk-timeout",
    type=float,
    default=None,
    callback=_positive,
    help="Kill a chunk after this many seconds (a job's own --timeout wins).",
)
@click.option(
    "--grace",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds between SIGTERM and SIGKILL when a chunk is stopped.",
)
@click.option(
    "--when",
    type=click.Choice(["always", "idle", "never"]),
    default="always",
    show_default=True,
    help="When to start chunks ('idle' behaves like 'always' until the idle policy lands).",
)
@click.option("--blender", default="blender", show_default=True, help="The Blender program this host renders with.")
@click.option("--no-watch", is_flag=True, help="Poll only; do not use inotify.")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
@click.version_option(__version__, prog_name="renderd")
def main(
    spool: Path | None,
    name: str | None,
    slots: int,
    poll: float,
    lease: float,
    allow_commands: bool,
    allow_scripts: bool,
    chunk_timeout: float | None,
    grace: float,
    when: str,
    blender: str,
    no_watch: bool,
    verbose: bool,
) -> None:
    """Run chunks from a shared spool folder on this workstation, at the lowest priority."""
    if spool is None:
        raise click.UsageError("no spool: pass --spool DIR, set RENDERD_SPOOL, or set spool in the config file")
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        # journald stamps time and pid itself
        format="%(levelname)s %(message)s" if "JOURNAL_STREAM" in os.environ else
        "%(asctime)s renderd[%(process)d] %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    name = name or default_name()
    if not valid_name(name, 64):
        raise click.BadParameter("use letters, digits, '.', '_', '-' and '+'", param_hint="--name")
    cfg = DaemonConfig(
        spool=spool,
        name=name,
        slots=slots,
        poll=poll,
        lease=lease,
        allow_commands=allow_commands,
        allow_scripts=allow_scripts,
        when=when,
        chunk_timeout=chunk_timeout,
        grace=grace,
        blender=blender,
        watch=not no_watch,
    )
    try:
        code = Daemon(cfg).run()
    except RenderdError as err:
        raise click.ClickException(str(err)) from None
    sys.exit(code)
