"""Keeping our leases (heartbeats) and recovering other hosts' stale claims (renderd/claim.py)."""

from __future__ import annotations

import time

from renderd import claim
from renderd.daemon.state import DaemonState, log


class LeasesMixin(DaemonState):
    """Renews our claims' heartbeats and takes over other hosts' stale claims (recovery)."""

    watcher: claim.LeaseWatcher

    def _heartbeat(self) -> None:
        for run in list(self.runs.values()):
            if run.stop_reason == "lost":
                continue
            previous = run.claim.beat_at
            try:
                kept = claim.beat(run.claim)
            except OSError as err:
                log.warning("heartbeat of %s failed: %s", run.info.chunk, err)
                continue
            gap = time.monotonic() - previous  # also when the beat found the claim taken
            if gap >= self.cfg.lease / 2:  # the one way a live host loses a lease: say so
                log.warning(
                    "heartbeat of %s came %.2fs after the previous one (lease %gs): this host or its file system "
                    "stalled",
                    run.info.chunk,
                    gap,
                    self.cfg.lease,
                )
            if not kept:
                log.warning("lost the claim of %s (its lease was taken over): stopping it", run.info.chunk)
                self.runner.stop(run, "lost")

    def _recover_stale(self) -> None:
        try:
            stale = self.watcher.stale()
            swept = self.watcher.sweep_heartbeats()
        except OSError as err:
            log.warning("cannot check leases: %s", err)
            return
        if swept:
            log.info("removed %d heartbeat file(s) left by a daemon that died while dropping its claim", swept)
        for name in stale:
            try:
                state = claim.recover(self.spool, name, self.cfg.name)
            except OSError as err:
                log.warning("cannot recover %s: %s", name.chunk, err)
                continue
            if state is not None:
                log.info("re-queued %s: lease of %s (pid %d) expired -> %s", name.chunk, name.host, name.pid, state)
                self.emit("chunk-requeued", chunk=name.chunk, job=name.job, lost_host=name.host, state=state)
                self.look_again()
