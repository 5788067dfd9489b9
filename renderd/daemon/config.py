"""The daemon's settings, as `renderd`'s options give them (renderd/cli.py builds one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from renderd.format.hooks import Hooks
from renderd.mailconfig import MailSettings
from renderd.policy import PolicyConfig
from renderd.warm.settings import WarmSettings


@dataclass
class DaemonConfig:
    spool: Path
    name: str
    slots: int = 1
    tags: frozenset[str] = frozenset()  # `--tags`: this host's groups (docs/scheduling.md)
    poll: float = 5.0
    lease: float = 60.0
    allow_commands: bool = False
    allow_scripts: bool = False
    allow_hooks: bool = False  # run jobs' --pre/--post/--end/--error hooks (also with allow_commands)
    hook_timeout: float = 600.0
    default_hooks: Hooks = field(default_factory=Hooks)  # the config file's [hooks] table, for every job
    mail: MailSettings | None = None  # the config file's [mail] table: how to mail jobs' owners (mailer.py)
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
    idle_exit: float | None = None  # leave when nothing we may run was queued this long (pilots)
    end_in: float | None = None  # seconds from start until a batch system ends us (a pilot's time limit)
    devices: tuple[str, ...] = ()  # `--device`: the Cycles device of each slot (renderd/daemon/devices.py)
    device_list: Path | None = None  # a recorded device listing instead of asking Blender
    warm: bool = True  # `--warm/--no-warm`: Blender chunks of one file reuse a loaded Blender (renderd/warm/)
    warm_settings: WarmSettings = field(default_factory=WarmSettings)
    only_jobs: tuple[str, ...] = ()  # run only these jobs' chunks (a pilot of `render burst --job`)

    @property
    def runs_hooks(self) -> bool:
        return self.allow_hooks or self.allow_commands

    @property
    def heartbeat(self) -> float:
        """Seconds between a running chunk's heartbeats: 5 s (a quarter lease for short leases), and
        a twelfth of the lease beyond 60 s, so a big farm that raises --lease writes fewer beats."""
        return min(self.lease / 4, max(5.0, self.lease / 12))

    @property
    def host_interval(self) -> float:
        """How often the host record is rewritten when nothing changed (a change is written at once).

        Each rewrite is a create, a write and a rename on the file server; the record only says
        "alive" and shows progress, so it need not be as fresh as a claim's heartbeat."""
        return max(self.heartbeat, min(30.0, self.lease / 2))

    @property
    def host_stale_after(self) -> float:
        """Readers count the host offline after this long without a rewrite (three missed)."""
        return max(15.0, 3 * self.host_interval)

    @property
    def lease_check(self) -> float:
        """How often other hosts' leases are judged: a stale claim waits at most lease + this."""
        return max(self.poll, self.lease / 6)
