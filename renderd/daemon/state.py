"""What every part of the daemon shares: its settings, its runs and the parts built at start.

The daemon is one object assembled from a few mixins (claiming, running, finishing, leases,
host_record, core), each in its own module with one job; this base holds the state they share,
so each mixin's methods type-check on their own and no mixin imports another's module except
the one below it.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from renderd import sdnotify
from renderd.claim import Claim
from renderd.daemon.config import DaemonConfig
from renderd.daemon.devices import DeviceSetup
from renderd.daemon.jobguard import JobGuard
from renderd.daemon.picture import FarmPicture
from renderd.format.manifest import Manifest
from renderd.format.names import ClaimName
from renderd.kinds import Capabilities
from renderd.pilot import ExitRule
from renderd.policy import HostPolicy
from renderd.progress import ProgressWatcher
from renderd.recorder import Recorder
from renderd.runner import Run, Runner
from renderd.scanner import QueueScanner
from renderd.server import Server
from renderd.spawner import Spawner
from renderd.spool import Spool
from renderd.warm.pool import WarmPool

log = logging.getLogger("renderd")


@dataclass
class Deferred:
    """A chunk this daemon waits on for a while (another host may run it)."""

    until: float
    reason: str


class _Parts:
    """The parts `Daemon.run` builds before the loop starts (declared here for the type checker)."""

    spool: Spool
    caps: Capabilities
    warm: WarmPool | None  # warm Blenders, one per slot at most (None: --no-warm)
    devices: DeviceSetup  # the Cycles device of each slot (`--device`)
    notes: Path  # this daemon's own notes of its staging folders (kinds/blender_staging.py)
    spawner_prefix: list[str]
    spawner: Spawner
    runner: Runner
    jobs: JobGuard
    recorder: Recorder
    policy: HostPolicy
    scanner: QueueScanner
    picture: FarmPicture  # what schedule.pick() decides from (daemon/picture.py)
    exit_rule: ExitRule
    server: Server
    progress: ProgressWatcher
    started_wall: float


@dataclass
class DaemonState(_Parts):
    cfg: DaemonConfig
    events: queue.SimpleQueue[tuple[str, Any]] = field(default_factory=queue.SimpleQueue)
    runs: dict[str, Run] = field(default_factory=dict)
    side_runs: list[Any] = field(default_factory=list)  # end/error hooks running (renderd/daemon/hooks.py)
    stopping: bool = False
    deferred: dict[str, Deferred] = field(default_factory=dict)
    job_refusals: dict[str, str | None] = field(default_factory=dict)  # queue folder -> why we leave the job
    manifests: dict[str, Manifest | None] = field(default_factory=dict)  # queue folder -> its manifest
    share_full: set[str] = field(default_factory=set)  # jobs found at their --max-share in this pick
    rescan: bool = True
    listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)
    notify: sdnotify.Notifier = field(default_factory=sdnotify.Notifier)  # systemd's Type=notify
    _tokens: int = 0
    _last_state: str = ""
    _written: tuple[str, tuple[str, ...], float] = ("", (), float("-inf"))  # host record: state, chunks, when
    progress_now: dict[str, dict[str, Any]] = field(default_factory=dict)  # token -> last chunk-progress
    recording: set[ClaimName] = field(default_factory=set)  # claims whose done record the recorder writes

    def emit(self, event: str, **data: Any) -> None:
        """Tell every listener (socket clients, the spool's event log) what happened."""
        message = {"event": event, "time": round(time.time(), 3), "host": self.cfg.name, **data}
        for listener in list(self.listeners):
            try:
                listener(message)
            except Exception:  # a broken listener must not stop the daemon
                log.exception("event listener failed")

    def _start(self, held: Claim) -> None:
        """Start the chunk we just claimed (running.py)."""
        raise NotImplementedError

    def look_again(self) -> None:
        """Something in the queue may have changed: list the queue folders again on the next fill."""
        self.scanner.mark_dirty()
        self.rescan = True
