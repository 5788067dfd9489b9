"""A click group whose sub-commands are imported only when one is used.

Each `render` call used to import every command module, and with them the spool layer, the
daemon's modules, BAT, zstandard and rich: about 0.3 s paid on every tab completion and on each
refresh of the Blender add-on.  Here the group holds a table of name -> (`module:attr`, short
help); `render NAME` imports NAME's module only, and `render --help` and completion of command
names read the short help from the table and import none.  tests/unit/test_cli_lazy.py checks
that the table's short help is the command's own.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import click
from click.shell_completion import CompletionItem

from renderd.config import ConfiguredGroup, option_envvars


@dataclass(frozen=True)
class Lazy:
    """Where a sub-command lives (`package.module:attribute`) and its one-line help."""

    target: str
    short_help: str

    def load(self, name: str) -> click.Command:
        module_name, _, attr = self.target.partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.target} is not a click command (the lazy table of {name!r} is wrong)")
        return command

    def short(self, limit: int) -> str:
        """The short help as click would cut it from the command's own help."""
        return click.Command(None, help=self.short_help).get_short_help_str(limit)


class LazyGroup(ConfiguredGroup):
    """ConfiguredGroup (options from the config file) whose commands load on first use."""

    def __init__(self, *args: Any, lazy: Mapping[str, Lazy], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in self.lazy:
            command = self.lazy[cmd_name].load(cmd_name)
            option_envvars(command, cmd_name)
            self.add_command(command, cmd_name)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError:
            # click suggests close names from self.commands, which holds only the loaded ones.
            name = args[0] if args else ""
            if name in self.lazy or name in self.commands or not name or name.startswith("-"):
                raise
            close = _close(name, self.list_commands(ctx))
            raise click.UsageError(f"No such command {name!r}.{close}", ctx) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """`render --help`: short help from the table, no command imported."""
        names = [n for n in self.list_commands(ctx) if not self._hidden(n)]
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = [(n, self._short(ctx, n, limit)) for n in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """Command names (with their help, for zsh and fish) from the table, then the group's options."""
        items = [
            CompletionItem(n, help=self._short(ctx, n, 45))
            for n in self.list_commands(ctx)
            if n.startswith(incomplete) and not self._hidden(n)
        ]
        return items + click.Command.shell_complete(self, ctx, incomplete)

    def _hidden(self, name: str) -> bool:
        loaded = self.commands.get(name)
        return loaded is not None and loaded.hidden

    def _short(self, ctx: click.Context, name: str, limit: int) -> str:
        loaded = self.commands.get(name)
        if loaded is not None:
            return loaded.get_short_help_str(limit)
        return self.lazy[name].short(limit)


def _close(name: str, names: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, names)
    if not close:
        return ""
    if len(close) == 1:
        return f" Did you mean {close[0]!r}?"
    return f" (Possible commands: {', '.join(sorted(close))})"
