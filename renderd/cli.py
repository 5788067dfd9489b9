"""`renderd`: the daemon's command line."""

from __future__ import annotations

import grp
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import click

from renderd import __version__, config, devices_cli, logsetup
from renderd.check import run_check
from renderd.config import ConfiguredCommand
from renderd.daemon import Daemon, DaemonConfig
from renderd.devices_cli import device_specs
from renderd.duration import POSITIVE
from renderd.errors import RenderdError
from renderd.format.hooks import KINDS as HOOK_KINDS
from renderd.format.hooks import HookError, Hooks, check_argv
from renderd.format.names import valid_name
from renderd.format.rules import parse_tags
from renderd.host import default_name
from renderd.idle import parse_signals
from renderd.mailconfig import MailConfigError, MailSettings, from_table
from renderd.pilot_cli import pilot_options, pilot_settings
from renderd.policy_cli import daemon_policy, idle_options
from renderd.warm.settings import WarmSettings


def _known_group(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        try:
            grp.getgrnam(value)
        except KeyError:
            raise click.BadParameter(f"no group {value!r} on this machine") from None
    return value


def _tags(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    """Checked here, kept as written (so --print-config shows `gpu,lighting`); parsed in main()."""
    try:
        parse_tags(value or "")
    except ValueError as err:
        raise click.BadParameter(str(err)) from None
    return value or ""


def config_hooks() -> Hooks:
    """The config file's [hooks] table: each hook a command string (split shell-like) or a list of words."""
    words: dict[str, tuple[str, ...]] = {}
    for kind, value in config.table("hooks").items():
        try:
            argv = shlex.split(value) if isinstance(value, str) else value
            if kind not in HOOK_KINDS:
                raise HookError(f"unknown hook {kind!r} (hooks are {', '.join(HOOK_KINDS)})")
            words[kind] = check_argv(argv, kind)
        except (ValueError, HookError) as err:
            raise click.ClickException(f"config file [hooks] {kind}: {err}") from None
    return Hooks(**words)


def config_mail() -> MailSettings | None:
    """The config file's [mail] table (renderd/mailconfig.py); None without one (no mail is sent)."""
    try:
        return from_table(config.table("mail"))
    except MailConfigError as err:
        raise click.ClickException(f"config file [mail] {err}") from None


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
@click.option(
    "--tags",
    default="",
    callback=_tags,
    help="This host's groups, comma-separated (e.g. gpu,lighting): jobs added with --tags run only on hosts that "
    "have every one of theirs (docs/scheduling.md).",
)
@click.option("--slots", default=1, show_default=True, type=click.IntRange(1, 256), help="Chunks run at once.")
@click.option(
    "--poll",
    default="5s",
    show_default=True,
    type=POSITIVE,
    help="Time between polls of the spool (inotify misses other hosts' changes).",
)
@click.option(
    "--lease",
    default="60s",
    show_default=True,
    type=POSITIVE,
    help="Time without a heartbeat after which a claim counts as abandoned.",
)
@click.option("--allow-commands", is_flag=True, help="Also run arbitrary command chunks (not only Blender).")
@click.option("--allow-scripts", is_flag=True, help="Let jobs that ask for it run Blender with Python scripts enabled.")
@click.option("--allow-hooks", is_flag=True,
              help="Run jobs' --pre/--post/--end/--error hooks (commands; --allow-commands allows them too).")
@click.option("--hook-timeout", type=POSITIVE, default="10m", show_default=True,
              help="Stop a hook after this long (its attempt fails).")
@click.option(
    "--chunk-timeout",
    type=POSITIVE,
    default=None,
    help="Kill a chunk after this long, e.g. 2h (a job's own --timeout wins).",
)
@click.option(
    "--grace",
    type=POSITIVE,
    default="10s",
    show_default=True,
    help="Time between SIGTERM and SIGKILL when a chunk is stopped.",
)
@click.option(
    "--when",
    type=click.Choice(["always", "idle", "never"]),
    default="idle",
    show_default=True,
    help="When to start chunks: when the owner is idle (workstations), always (render boxes), never.",
)
@idle_options
@pilot_options
@click.option("--blender", default="blender", show_default=True, help="The Blender program this host renders with.")
@click.option("--device", "devices", multiple=True, metavar="SPEC", callback=device_specs,
              help="Render Blender chunks on this Cycles device: CPU, CUDA:0, OPTIX:* (repeat: one per slot, "
              "in order; renderd --list-gpus).")
@click.option("--list-gpus", is_flag=True, help="List the Cycles devices this host's Blender has, and exit.")
@click.option("--device-list", type=click.Path(dir_okay=False, path_type=Path), hidden=True,
              help="Read the devices from a recorded --list-gpus run of Blender instead of asking it.")
@click.option("--warm/--no-warm", default=True, show_default=True,
              help="Keep one Blender per .blend per slot loaded and hand it the next chunk of that file "
              "(--no-warm: a fresh Blender per chunk; docs/blender.md).")
@click.option("--warm-chunks", default=50, show_default=True, type=click.IntRange(1, 100_000),
              help="Chunks one warm Blender renders before a fresh one replaces it.")
@click.option("--warm-max-mem", default=0, show_default=True, type=click.IntRange(0, 1 << 30), metavar="MIB",
              help="Replace a warm Blender using more memory than this (0: half of this host's memory).")
@click.option("--warm-idle", default="2m", show_default=True, type=POSITIVE,
              help="Stop a warm Blender that had no chunk for this long.")
@click.option("--warm-prestart", is_flag=True,
              help="Keep a Blender with no file started in each free slot, so a job's first chunk pays only the "
              "file load (it holds ~150 MiB a slot while idle).")
@click.option("--no-watch", is_flag=True, help="Poll only; do not use inotify.")
@click.option(
    "--spawner-socket",
    type=click.Path(dir_okay=False),
    help="Start chunks through the spawner behind this socket (systemd's renderd-spawner.socket; docs/config.md).",
)
@click.option(
    "--chunk-slice",
    metavar="SLICE",
    help="Run chunks in this systemd slice, e.g. renderd-chunks.slice (needs systemd-run; docs/config.md).",
)
@click.option(
    "--socket",
    "socket_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The local control socket (default: $XDG_RUNTIME_DIR/renderd/<spool-hash>-<name>.sock; docs/control.md).",
)
@click.option(
    "--admin-group",
    callback=_known_group,
    help="Members of this group may use the socket and change anyone's jobs (besides the owner and root).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
@click.option("--json", "as_json", is_flag=True, help="With --check, --list-gpus or --print-config: print JSON.")
@click.version_option(__version__, prog_name="renderd")
def main(
    spool: Path | None,
    name: str | None,
    tags: str,
    slots: int,
    poll: float,
    lease: float,
    allow_commands: bool,
    allow_scripts: bool,
    allow_hooks: bool,
    hook_timeout: float,
    chunk_timeout: float | None,
    grace: float,
    when: str,
    blender: str,
    devices: tuple[str, ...],
    list_gpus: bool,
    device_list: Path | None,
    warm: bool,
    warm_chunks: int,
    warm_max_mem: int,
    warm_idle: float,
    warm_prestart: bool,
    no_watch: bool,
    chunk_slice: str | None,
    spawner_socket: str | None,
    socket_path: Path | None,
    admin_group: str | None,
    verbose: bool,
    as_json: bool,
    **idle: Any,
) -> None:
    """Run chunks from a shared spool folder on this workstation, at the lowest priority."""
    if idle.pop("check"):
        sys.exit(run_check(spool, idle["activity_path"], parse_signals(idle["idle_signals"]), blender, as_json))
    if list_gpus:
        devices_cli.list_gpus(blender, device_list, as_json)
        return
    if as_json:
        raise click.UsageError("--json goes with --check, --list-gpus or --print-config "
                               "(the daemon itself logs to stderr)")
    if spool is None:
        raise click.UsageError("no spool: pass --spool DIR, set RENDERD_SPOOL, or set spool in the config file")
    logsetup.configure(verbose, sys.stderr, os.environ)
    name, pilot = pilot_settings(idle, name)
    name = name or default_name()
    if not valid_name(name, 64):
        raise click.BadParameter("use letters, digits, '.', '_', '-' and '+'", param_hint="--name")
    cfg = DaemonConfig(
        spool=spool,
        name=name,
        tags=parse_tags(tags),
        slots=slots,
        poll=poll,
        lease=lease,
        allow_commands=allow_commands,
        allow_scripts=allow_scripts,
        allow_hooks=allow_hooks,
        hook_timeout=hook_timeout,
        default_hooks=config_hooks(),
        mail=config_mail(),
        when=when,
        chunk_timeout=chunk_timeout,
        grace=grace,
        blender=blender,
        devices=devices,
        device_list=device_list,
        warm=warm,
        warm_settings=WarmSettings(warm_chunks, warm_max_mem << 20, warm_idle, warm_prestart),
        watch=not no_watch,
        chunk_slice=chunk_slice,
        spawner_socket=spawner_socket,
        socket=socket_path,
        admin_group=admin_group,
        **daemon_policy(when, idle),
        **pilot,
    )
    try:
        code = Daemon(cfg).run()
    except RenderdError as err:
        raise click.ClickException(str(err)) from None
    sys.exit(code)
