"""`render`: the front-end.  One click group; each sub-command lives in commands/."""

from __future__ import annotations

from pathlib import Path

import click

from renderd import __version__
from renderd.config import ConfiguredGroup
from renderd.errors import RenderdError
from renderd.spool import MARKER, Spool


class Context:
    """Shared options: where the spool is."""

    def __init__(self, spool: Path | None) -> None:
        self._spool_path = spool

    def spool_path(self) -> Path | None:
        """The spool folder as given (--spool, $RENDERD_SPOOL or the config file), not opened."""
        return self._spool_path

    def spool(self, create: bool = False) -> Spool:
        if self._spool_path is None:
            raise click.UsageError("no spool: pass --spool DIR or set RENDERD_SPOOL")
        try:
            return Spool.open(self._spool_path, create=create)
        except RenderdError as err:
            raise click.ClickException(str(err)) from None

    def spool_for_reading(self) -> Spool:
        """The spool, or the folder that would become one (for --dry-run, which creates nothing)."""
        if self._spool_path is not None and self._spool_path.is_dir() and not (self._spool_path / MARKER).exists():
            return Spool(self._spool_path.expanduser().absolute())
        return self.spool()


pass_ctx = click.make_pass_decorator(Context)


@click.group("render", cls=ConfiguredGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


def _register() -> None:
    from render_frontend.commands import (
        add,
        addon,
        clean,
        control,
        host,
        hosts,
        install_service,
        log,
        priority,
        status,
        tail,
        top,
        wait,
    )

    for module in (add, status, wait, hosts, host, tail, log, priority, top, clean, install_service, addon):
        cli.add_command(module.command)
    for command in control.commands:
        cli.add_command(command)


_register()


def main() -> None:
    try:
        cli(prog_name="render")
    except RenderdError as err:  # a library error that a command did not translate
        click.echo(f"Error: {err}", err=True)
        raise SystemExit(1) from None
