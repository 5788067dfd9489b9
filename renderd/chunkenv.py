"""A chunk's environment: built by the daemon, not taken from the spool.

An info file's `env` block is written by whoever can write the spool.  Passed on as it was, it
chose the program (`PATH` with a fake `blender`), ran code despite `-Y`
(`BLENDER_USER_SCRIPTS` with a startup script, `PYTHONPATH`) and ran code in every process
(`LD_PRELOAD`) (issue 10, finding 2).  So the environment is the daemon's own plus renderd's
`RENDERD_*` variables, and the spool's `env` is used only where the daemon trusts the spool's
writers with any program anyway:

- a `command` chunk on a daemon started with `--allow-commands`: its whole `env` block (such
  a daemon runs whatever program the chunk names; its environment adds no power);
- a `blender` chunk: none of it.  `render add FILE.blend` writes no `env`, and nothing a
  Blender render needs must come from the spool (`SPOOL_ENV_FOR_BLENDER` is empty on purpose:
  PATH, LD_*, PYTHON*, BLENDER_*, OCIO, TMPDIR, locale paths all choose code or files).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from renderd.format.info import ChunkInfo

log = logging.getLogger(__name__)

SPOOL_ENV_FOR_BLENDER: frozenset[str] = frozenset()


def spool_env(info: ChunkInfo, allow_commands: bool) -> dict[str, str]:
    """The part of the chunk's `env` block this daemon takes."""
    if info.kind == "command" and allow_commands:
        return dict(info.env)
    allowed = SPOOL_ENV_FOR_BLENDER if info.kind == "blender" else frozenset()
    taken = {k: v for k, v in info.env.items() if k in allowed}
    ignored = sorted(set(info.env) - set(taken))
    if ignored:
        log.warning("%s: ignored its env entries %s (a %s chunk takes none from the spool)",
                    info.chunk, ", ".join(ignored)[:200], info.kind)
    return taken


def chunk_env(
    info: ChunkInfo, spool_root: Path, host: str, allow_commands: bool, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment a chunk runs with: the daemon's (`base`), what `spool_env` allows, renderd's own."""
    env = dict(os.environ if base is None else base)
    env.update(spool_env(info, allow_commands))
    env.update(
        RENDERD_SPOOL=str(spool_root),
        RENDERD_JOB=info.job,
        RENDERD_CHUNK=info.chunk,
        RENDERD_START=str(info.start),
        RENDERD_END=str(info.end),
        RENDERD_STEP=str(info.step),
        RENDERD_HOST=host,
    )
    return env
