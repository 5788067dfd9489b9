"""A chunk's environment is the daemon's own: the spool's `env` block counts only for command
chunks on a daemon with --allow-commands (issue 10, finding 2)."""

from __future__ import annotations

from pathlib import Path

from renderd.chunkenv import SPOOL_ENV_FOR_BLENDER, chunk_env
from renderd.format.info import ChunkInfo

PLANTED = {"PATH": "/evil/bin", "LD_PRELOAD": "/evil/x.so", "BLENDER_USER_SCRIPTS": "/evil", "PYTHONPATH": "/evil"}
DAEMON = {"PATH": "/usr/bin:/bin", "HOME": "/home/render"}


def info(kind: str) -> ChunkInfo:
    blender = {"file": "a.blend", "scene": "S", "output": "f_####.png"} if kind == "blender" else None
    return ChunkInfo("j", "j-0001", 1, kind, ["true"] if kind == "command" else [], 1, 2, 1, env=PLANTED,
                     blender=blender)


def test_a_blender_chunk_takes_nothing_from_the_spool() -> None:
    assert SPOOL_ENV_FOR_BLENDER == frozenset()
    env = chunk_env(info("blender"), Path("/spool"), "ws1", allow_commands=True, base=DAEMON)
    assert {k: env[k] for k in DAEMON} == DAEMON
    assert not set(PLANTED) - set(DAEMON) & set(env)
    assert env["RENDERD_CHUNK"] == "j-0001" and env["RENDERD_HOST"] == "ws1" and env["RENDERD_SPOOL"] == "/spool"


def test_a_command_chunk_keeps_its_env_only_where_commands_are_allowed() -> None:
    allowed = chunk_env(info("command"), Path("/spool"), "ws1", allow_commands=True, base=DAEMON)
    assert {k: allowed[k] for k in PLANTED} == PLANTED
    refused = chunk_env(info("command"), Path("/spool"), "ws1", allow_commands=False, base=DAEMON)
    assert refused["PATH"] == DAEMON["PATH"] and "LD_PRELOAD" not in refused


def test_renderd_variables_cannot_be_forged() -> None:
    forged = ChunkInfo("j", "j-0001", 1, "command", ["true"], 1, 2, 1, env={"RENDERD_CHUNK": "other"})
    assert chunk_env(forged, Path("/s"), "ws1", allow_commands=True, base=DAEMON)["RENDERD_CHUNK"] == "j-0001"
