"""The daemon's settings, as `renderd`'s options give them (renderd/cli.py builds one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from renderd.policy import PolicyConfig


@dataclass
class DaemonConfig:
    spool: Path
    name: str
    slots: int = 1
    poll: float = 5.0
    lease: float = 60.0
    allow_commands: bool = False
    allow_scripts: bool = False
    when: str = "always"
    chunk_timeout: float | None = None
    grace: float = 10.0
    blender: str = "blender"
    watch: bool = True
    chunk_slice: str | None = None
    spawner_socket: str | None = None
    policy: PolicyConfig = field(default_factory=PolicyConfig)  # the idle policy (its `when` is ours)
    idle_signals: list[str] = field(default_factory=list)
    activity_path: Path | None = None
    socket: Path | None = None  # default: protocol.default_socket_path
    admin_group: str | None = None  # may use the socket and change anyone's jobs

    @property
    def heartbeat(self) -> float:
        return min(5.0, self.lease / 4)
