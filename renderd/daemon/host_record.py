"""This daemon's host record in hosts/: its state, its runs, what it may run; and the name check.

Other daemons read the record to judge whether this host is live and what it may run
(`claiming.prefer_others`), `render hosts`/`render top` show it.  It is refreshed every
heartbeat and whenever the state changes, so a change shows at once.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from typing import Any

from renderd import claim, host
from renderd.daemon.state import DaemonState, log
from renderd.spool import host_is_live


def name_conflict(record: Mapping[str, Any] | None, me: str, hostname: str, pid: int) -> str | None:
    """Why the daemon `me` must not start under its name (None: it may).

    A live record of another process holds the name, unless it is this machine's and that
    process is gone (a crash left the record behind)."""
    if record is None or not host_is_live(record):
        return None
    other_pid = record.get("pid")
    same_machine = record.get("hostname") == hostname
    if same_machine and isinstance(other_pid, int) and (other_pid == pid or not claim.pid_alive(other_pid)):
        return None
    return (
        f"renderd: the name {me!r} is in use by pid {other_pid} on {record.get('hostname')}; "
        "give this daemon another --name"
    )


class HostRecordMixin(DaemonState):
    def _check_name(self) -> None:
        conflict = name_conflict(self.spool.hosts().get(self.cfg.name), self.cfg.name, socket.gethostname(),
                                 os.getpid())
        if conflict is not None:
            raise SystemExit(conflict)

    def _state(self) -> str:
        if self.stopping:
            return "stopping"
        imposed = self.policy.state()  # paused / drain by the owner
        if imposed is not None:
            return imposed
        if not self.runs:
            return "idle"
        return "suspended" if all(r.suspended for r in self.runs.values()) else "busy"

    def _status(self) -> str:
        """One line for `systemctl status`."""
        chunks = ", ".join(r.info.chunk for r in self.runs.values())
        return f"{self._state()}: {len(self.runs)}/{self.cfg.slots} slot(s) busy" + (f" ({chunks})" if chunks else "")

    def _write_host(self, state: str | None = None) -> None:
        current = state or self._state()
        if current != self._last_state:
            self.emit("host-state", state=current, previous=self._last_state or None)
            self._last_state = current
        chunks = [
            {
                "chunk": r.info.chunk,
                "job": r.info.job,
                "start": r.info.start,
                "end": r.info.end,
                "started": round(r.started_wall, 3),
                "pid": r.program,
                "suspended": r.suspended,
                "progress": self.progress_now.get(r.token),
            }
            for r in self.runs.values()
        ]
        extra = {
            "heartbeat": round(time.time(), 3),
            "started": round(self.started_wall, 3),
            "stale_after": max(15.0, 6 * self.cfg.heartbeat),
            "slots": self.cfg.slots,
            "allow_commands": self.cfg.allow_commands,
            "allow_scripts": self.cfg.allow_scripts,
            "blender_version": self.caps.blender_version,
            "when": self.cfg.when,
            "queued_seen": self.scanner.queued_count(),
            "admin_group": self.cfg.admin_group,
            **self.policy.record(),
        }
        try:
            self.spool.write_host(self.cfg.name, host.record(self.cfg.name, current, chunks, extra))
        except OSError as err:
            log.warning("cannot write the host record: %s", err)
