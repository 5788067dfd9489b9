"""What every chunk kind offers the daemon, and what the daemon offers them.

Kept apart from the registry in `renderd.kinds` so that each kind's module imports this one
and nothing imports back: no import cycle, not even under TYPE_CHECKING.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from renderd.format.info import ChunkInfo
from renderd.spool import Spool


@dataclass(frozen=True)
class Capabilities:
    """What this daemon allows; fixed for its lifetime.

    `blender` is the absolute path of this host's Blender, resolved once when the daemon starts
    (from the daemon's own PATH, never a chunk's); with no working Blender it is the name it was
    given and `blender_version` is None, so every Blender chunk is left to others."""

    allow_commands: bool = False
    allow_scripts: bool = False
    blender: str = "blender"
    blender_version: str | None = None
    ffmpeg: str | None = None  # this host's ffmpeg, an absolute path (None: it leaves encode chunks to others)
    device: str | None = None  # the Cycles device of the slot a launch is for (`renderd --device`, kinds/devices.py)
    gpu: bool = False  # some slot renders on a GPU: it may take `render add --gpu` jobs
    allow_hooks: bool = False  # runs jobs' hooks (--allow-hooks or --allow-commands; docs/hooks.md)


class Launch(Protocol):
    """One prepared run of a chunk: its command line and what must happen to its outputs."""

    argv: list[str]

    def collect(self, saved: Sequence[str]) -> None:
        """While it runs: put outputs the program said it finished (`Saved:` lines) in place."""

    def settle(self, saved: Sequence[str], exited_ok: bool) -> list[str]:
        """After it ended (however): put finished outputs in place, remove what is left of the
        run's own files, and return the saved paths as readers see them."""


@dataclass
class PlainLaunch:
    """A run whose program writes where it likes: nothing to move or clean."""

    argv: list[str] = field(default_factory=list)

    def collect(self, saved: Sequence[str]) -> None:
        return None

    def settle(self, saved: Sequence[str], exited_ok: bool) -> list[str]:
        return list(saved)


class ChunkKind(Protocol):
    def refuse(self, info: ChunkInfo, caps: Capabilities) -> str | None:
        """Why this daemon must leave the chunk to others (None: it may run it)."""

    def launch(self, info: ChunkInfo, spool: Spool, caps: Capabilities, notes: Path | None) -> Launch:
        """Prepare one run (program and arguments, never passed through a shell; output folders).
        Raises BadInfoFile for fields no daemon may run, OSError when this host cannot prepare it.
        `notes` is the daemon's own folder where a launch leaves what a crash would leave behind."""

    def check_result(self, info: ChunkInfo, spool: Spool, log: Path) -> str | None:
        """After exit 0 and `settle`: why the run still failed (None: it succeeded)."""
