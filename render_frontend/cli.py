"""`render`: the front-end.  One click group; each sub-command lives in commands/ and is loaded on use.

The table below is the whole list of sub-commands: name -> where it lives and its short help
(what `render --help` and shell completion show without importing it; a test checks the text
is the command's own).  Commands import render_frontend.context, never this module.
"""

from __future__ import annotations

from pathlib import Path

import click

from render_frontend import exitcodes, terminal
from render_frontend.context import Context
from render_frontend.lazygroup import Lazy, LazyGroup
from renderd import __version__
from renderd.errors import RenderdError

_C = "render_frontend.commands."

COMMANDS: dict[str, Lazy] = {
    "add": Lazy(
        _C + "add:command",
        "Queue a job: `render add --frames 1-100 -- PROGRAM ARGS...` or `render add shot.blend [-- BLENDER ARGS]`.",
    ),
    "addon": Lazy(_C + "addon:command", 'The Blender add-on ("Send to renderd" in Render Properties).'),
    "burst": Lazy(
        _C + "burst:command",
        "Borrow cluster nodes: submit N renderd pilots to Slurm (--slurm N), or show them (--status).",
    ),
    "cancel": Lazy(
        _C + "control:cancel", "Cancel JOB: stop its running chunks on every host and remove its queued ones."
    ),
    "clean": Lazy(
        _C + "clean:command",
        "Remove finished jobs' records, old logs, rotated events, quarantined files and stale locks.",
    ),
    "host": Lazy(
        _C + "host:command",
        "Pause, drain or resume HOST (default: this machine's daemon); `forget HOST` removes a dead host's record.",
    ),
    "hosts": Lazy(
        _C + "hosts:command", "Show every host: state, cpu, load, memory/swap, current chunks, last heartbeat."
    ),
    "install-service": Lazy(
        _C + "install_service:command",
        "Install renderd's systemd unit on this machine and enable it, printing each step.",
    ),
    "log": Lazy(_C + "log:command", "Print the log of a chunk (CHUNK: its id or index), or of every chunk of JOB."),
    "pause": Lazy(
        _C + "control:pause", "Pause JOB: no new chunks start; running ones finish (or, with --now, are suspended)."
    ),
    "priority": Lazy(_C + "priority:command", "Set JOB's priority to PRIORITY (0-999, higher runs first)."),
    "remove": Lazy(
        _C + "control:remove",
        "Remove JOB and everything of it from the spool (manifest, records, logs, failed chunks).",
    ),
    "resume": Lazy(_C + "control:resume", "Resume a paused JOB (suspended chunks continue)."),
    "retry": Lazy(
        _C + "control:retry",
        "Re-queue JOB's failed chunks (attempts reset); --missing re-queues every missing frame's chunk.",
    ),
    "serve": Lazy(
        _C + "serve:command", "Serve the REST API (/api/v1) and a live dashboard of the farm (http://127.0.0.1:8470/)."
    ),
    "stats": Lazy(
        _C + "stats:command",
        "Show the farm's history per host, or JOB's (kept after `render clean`).",
    ),
    "status": Lazy(
        _C + "status:command", "Show jobs: frames and chunks by state, hosts, elapsed time, ETA and frame times."
    ),
    "tail": Lazy(
        _C + "tail:command", "Follow live events: chunks claimed, progress, done, failed (with the last log lines)."
    ),
    "top": Lazy(_C + "top:command", "A live overview of the farm: jobs with progress bars, and hosts."),
    "unblock": Lazy(_C + "unblock:command", "Let HOST take JOB's chunks again after it was blocked for failing them."),
    "wait": Lazy(_C + "wait:command", "Wait for JOB to finish; the exit code says how it went."),
}


@click.group(
    "render", cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]},
    epilog=exitcodes.HELP,
)
@click.option(
    "--spool",
    envvar="RENDERD_SPOOL",
    type=click.Path(file_okay=False, path_type=Path),
    help="The shared spool folder (or $RENDERD_SPOOL).",
)
@click.version_option(__version__, prog_name="render")
@click.pass_context
def cli(ctx: click.Context, spool: Path | None) -> None:
    """Submit, watch and manage render jobs in a renderd spool."""
    ctx.obj = Context(spool)


def main() -> None:
    """Run `render`; click's own error messages (which quote job ids, paths, ...) go through terminal.py."""
    try:
        code = cli.main(prog_name="render", standalone_mode=False)
    except click.ClickException as err:
        err.show(file=terminal.stream(err=True))
        raise SystemExit(err.exit_code) from None
    except click.Abort:
        terminal.echo("Aborted!", err=True)
        raise SystemExit(1) from None
    except RenderdError as err:  # a library error that a command did not translate
        terminal.echo(f"Error: {err}", err=True)
        raise SystemExit(getattr(err, "exit_code", 1)) from None
    raise SystemExit(code if isinstance(code, int) else 0)
