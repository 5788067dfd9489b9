"""Kinds of chunks: how a daemon decides it may run one, builds its argv and judges its result.

A `command` chunk is an argv written by `render add -- PROGRAM ARGS`; it runs only on
daemons started with `--allow-commands`.  A `blender` chunk holds fields from which the
daemon builds its own Blender command line (renderd/blender.py).  Each kind is one small class; the daemon
looks them up in `KINDS` and knows nothing else about them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from renderd.blender import BlenderKind
from renderd.spool import ChunkInfo, Spool


@dataclass(frozen=True)
class Capabilities:
    """What this daemon allows; fixed for its lifetime."""

    allow_commands: bool = False
    allow_scripts: bool = False
    blender: str = "blender"
    blender_version: str | None = None


class ChunkKind(Protocol):
    def refuse(self, info: ChunkInfo, caps: Capabilities) -> str | None:
        """Why this daemon must leave the chunk to others (None: it may run it)."""

    def argv(self, info: ChunkInfo, spool: Spool, caps: Capabilities) -> list[str]:
        """The program and its arguments; never passed through a shell."""

    def check_result(self, info: ChunkInfo, spool: Spool, log: Path) -> str | None:
        """After exit 0: why the run still failed (None: it succeeded)."""


class CommandKind:
    def refuse(self, info: ChunkInfo, caps: Capabilities) -> str | None:
        if not caps.allow_commands:
            return "command chunks need a daemon started with --allow-commands"
        return None

    def argv(self, info: ChunkInfo, spool: Spool, caps: Capabilities) -> list[str]:
        return list(info.argv)

    def check_result(self, info: ChunkInfo, spool: Spool, log: Path) -> str | None:
        return None


KINDS: dict[str, ChunkKind] = {"command": CommandKind(), "blender": BlenderKind()}


def kind_of(info: ChunkInfo) -> ChunkKind | None:
    return KINDS.get(info.kind)
