"""Running chunks on the daemon's side: start through the spawner, suspend, resume, stop."""

from __future__ import annotations

import os
import select
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from renderd.claim import Claim
from renderd.format.info import ChunkInfo
from renderd.kinds.base import Launch
from renderd.spawner import Spawner


@dataclass
class Run:
    """One chunk running on this daemon."""

    token: str
    info: ChunkInfo
    claim: Claim
    log: Path
    argv: list[str]
    launch: Launch | None = None  # what happens to its outputs (renderd/kinds)
    started_wall: float = field(default_factory=time.time)
    started: float = field(default_factory=time.monotonic)
    deadline: float | None = None
    launcher: int | None = None
    program: int | None = None
    pidfd: int | None = None
    suspended: bool = False
    suspended_since: float | None = None  # monotonic time of the SIGSTOP in force
    suspended_total: float = 0.0  # seconds suspended before that
    stop_reason: str | None = None  # timeout / lost / shutdown / cancel / preempt
    stop_sent: bool = False
    forked: int | None = None  # the launcher's pid as the spawner reported it (before `started`)
    launcher_gone_at: float | None = None  # when we first saw the launcher dead without its `exited`
    slot: int = 0  # which of the daemon's slots it runs in (its Cycles device: renderd/daemon/devices.py)
    # hooks (renderd/daemon/hooks.py): the phase running now, and what the other phases run
    phase: str = "main"  # pre / main / post
    main_argv: list[str] | None = None  # the program's argv while pre runs
    main_deadline: float | None = None
    post_argv: list[str] | None = None
    cwd: str = ""
    env: dict[str, str] = field(default_factory=dict)
    kept: tuple[float, dict[str, Any]] | None = None  # the program's seconds and outputs while post runs

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def suspended_seconds(self) -> float:
        """Time spent stopped (SIGSTOP) so far: counted apart, so frame times are the work's own."""
        now = time.monotonic()
        return self.suspended_total + (now - self.suspended_since if self.suspended_since is not None else 0.0)


class Runner:
    """Starts runs via the spawner and signals them; results arrive as spawner messages."""

    def __init__(self, spawner: Spawner, grace: float, spool_root: Path | None = None) -> None:
        self.spawner = spawner
        self.grace = grace
        self.spool_root = spool_root  # the launcher opens the log under it without following links

    def start(self, run: Run, cwd: str, env: dict[str, str]) -> None:
        req: dict[str, object] = {"token": run.token, "argv": run.argv, "cwd": cwd, "env": env, "log": str(run.log),
                                  "grace": self.grace}
        if self.spool_root is not None:
            req["spool"] = str(self.spool_root)
        self.spawner.spawn(req)

    def forked(self, run: Run, launcher: int) -> None:
        """The spawner forked the run's launcher: watch it (pidfd) before it reports `started`."""
        run.forked = launcher
        if run.pidfd is None:
            self._watch(run, launcher)

    def started(self, run: Run, launcher: int, program: int) -> None:
        run.launcher, run.program = launcher, program
        if run.pidfd is None:
            self._watch(run, launcher)
        if run.stop_reason is not None:
            self._signal_launcher(run)

    def _watch(self, run: Run, launcher: int) -> None:
        try:
            run.pidfd = os.pidfd_open(launcher)
        except OSError:
            # Gone already.  A launcher writes `exited` before it exits, and the messages are read
            # in order, so a run still here has lost its launcher: the daemon ends it soon.
            run.pidfd = None
            run.launcher_gone_at = time.monotonic()

    def stop(self, run: Run, reason: str) -> None:
        """Ask the launcher to stop the program (SIGTERM, SIGKILL after the grace period)."""
        if run.stop_reason is None:
            run.stop_reason = reason
        if run.launcher is not None:
            self._signal_launcher(run)

    def _signal_launcher(self, run: Run) -> None:
        if run.stop_sent or run.pidfd is None:
            return
        try:
            signal.pidfd_send_signal(run.pidfd, signal.SIGTERM)
        except ProcessLookupError:
            pass
        run.stop_sent = True

    def suspend(self, run: Run) -> None:
        if run.program is not None and not run.suspended:
            _killpg(run.program, signal.SIGSTOP)
            run.suspended = True
            run.suspended_since = time.monotonic()

    def resume(self, run: Run) -> None:
        if run.program is not None and run.suspended:
            _killpg(run.program, signal.SIGCONT)
            run.suspended = False
            if run.suspended_since is not None:
                run.suspended_total += time.monotonic() - run.suspended_since
                run.suspended_since = None

    def launcher_gone(self, run: Run) -> bool:
        """Has the run's launcher exited?  (Its pidfd turns readable; it reports `exited` before.)"""
        if run.pidfd is None:
            return False
        poller = select.poll()
        poller.register(run.pidfd, select.POLLIN)
        return bool(poller.poll(0))

    def kill_group(self, run: Run) -> None:
        """SIGKILL what is left of a run whose launcher died (its death signal normally did it)."""
        if run.program is not None:
            _killpg(run.program, signal.SIGKILL)

    def finished(self, run: Run) -> None:
        if run.pidfd is not None:
            os.close(run.pidfd)
            run.pidfd = None


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
