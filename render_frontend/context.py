"""What every `render` sub-command shares: the spool option, as a small object commands import.

Commands import this module, never `render_frontend.cli`: cli.py loads the commands, so a
command importing cli.py back made a cycle (importing a command module first failed).  The
spool layer is imported only when a command asks for the spool, so `render --version` and tab
completion of command names do not pay for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from renderd.errors import RenderdError

if TYPE_CHECKING:
    from renderd.spool import Spool


class Context:
    """Shared options: where the spool is."""

    def __init__(self, spool: Path | None) -> None:
        self._spool_path = spool

    def spool_path(self) -> Path | None:
        """The spool folder as given (--spool, $RENDERD_SPOOL or the config file), not opened."""
        return self._spool_path

    def spool(self, create: bool = False) -> Spool:
        from renderd.spool import Spool

        if self._spool_path is None:
            raise click.UsageError("no spool: pass --spool DIR or set RENDERD_SPOOL")
        try:
            return Spool.open(self._spool_path, create=create)
        except RenderdError as err:
            raise click.ClickException(str(err)) from None

    def spool_for_reading(self) -> Spool:
        """The spool, or the folder that would become one (for --dry-run, which creates nothing)."""
        from renderd.spool import MARKER, Spool

        if self._spool_path is not None and self._spool_path.is_dir() and not (self._spool_path / MARKER).exists():
            return Spool(self._spool_path.expanduser().absolute())
        return self.spool()


pass_ctx = click.make_pass_decorator(Context)
