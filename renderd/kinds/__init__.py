"""Kinds of chunks: how a daemon decides it may run one, prepares its run and judges its result.

A `command` chunk is an argv written by `render add -- PROGRAM ARGS`; it runs only on
daemons started with `--allow-commands` (kinds/command.py).  A `blender` chunk holds fields
from which the daemon builds its own Blender command line (kinds/blender.py).  Each kind is
one small class; the daemon looks them up in `KINDS` and knows nothing else about them.
The kinds import the format and spool layers, never the reverse.
"""

from __future__ import annotations

from renderd.format.info import ChunkInfo
from renderd.kinds.base import Capabilities, ChunkKind, Launch
from renderd.kinds.blender import BlenderKind
from renderd.kinds.blender_version import host_blender
from renderd.kinds.command import CommandKind

__all__ = ["KINDS", "Capabilities", "ChunkKind", "Launch", "capabilities", "kind_of"]

KINDS: dict[str, ChunkKind] = {"command": CommandKind(), "blender": BlenderKind()}


def kind_of(info: ChunkInfo) -> ChunkKind | None:
    return KINDS.get(info.kind)


def capabilities(allow_commands: bool, allow_scripts: bool, blender: str) -> Capabilities:
    """This daemon's capabilities: its Blender resolved to an absolute path and probed once."""
    program, version = host_blender(blender)
    return Capabilities(allow_commands, allow_scripts, program, version)
