"""The `command` chunk kind: an argv written by `render add -- PROGRAM ARGS`.

It runs only on daemons started with `--allow-commands`: whoever may write the spool may then
run any program there, so such a daemon trusts the spool's writers (docs/security.md)."""

from __future__ import annotations

from pathlib import Path

from renderd.format.info import ChunkInfo
from renderd.kinds.base import Capabilities, Launch, PlainLaunch
from renderd.spool import Spool


class CommandKind:
    def refuse(self, info: ChunkInfo, caps: Capabilities) -> str | None:
        if not caps.allow_commands:
            return "command chunks need a daemon started with --allow-commands"
        return None

    def launch(self, info: ChunkInfo, spool: Spool, caps: Capabilities, notes: Path | None) -> Launch:
        return PlainLaunch(list(info.argv))

    def check_result(self, info: ChunkInfo, spool: Spool, log: Path) -> str | None:
        return None
