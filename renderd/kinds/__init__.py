"""Kinds of chunks: how a daemon decides it may run one, prepares its run and judges its result.

A `command` chunk is an argv written by `render add -- PROGRAM ARGS`; it runs only on
daemons started with `--allow-commands` (kinds/command.py).  A `blender` chunk holds fields
from which the daemon builds its own Blender command line (kinds/blender.py), an `encode`
chunk fields from which it builds an ffmpeg command line (kinds/encode.py).  Each kind is
one small class; the daemon looks them up in `KINDS` and knows nothing else about them.
The kinds import the format and spool layers, never the reverse.
"""

from __future__ import annotations

from renderd.format.info import ChunkInfo
from renderd.kinds.base import Capabilities, ChunkKind, Launch
from renderd.kinds.blender import BlenderKind
from renderd.kinds.blender_version import host_blender
from renderd.kinds.command import CommandKind
from renderd.kinds.encode import EncodeKind, host_ffmpeg

__all__ = ["KINDS", "Capabilities", "ChunkKind", "Launch", "capabilities", "kind_of"]

KINDS: dict[str, ChunkKind] = {"command": CommandKind(), "blender": BlenderKind(), "encode": EncodeKind()}


def kind_of(info: ChunkInfo) -> ChunkKind | None:
    return KINDS.get(info.kind)


def capabilities(allow_commands: bool, allow_scripts: bool, blender: str,
                 ffmpeg: str | None = "ffmpeg") -> Capabilities:
    """This daemon's capabilities: its Blender and ffmpeg resolved to absolute paths and probed once."""
    program, version = host_blender(blender)
    encoder = host_ffmpeg(ffmpeg)[0] if ffmpeg else None
    return Capabilities(allow_commands, allow_scripts, program, version, encoder)
