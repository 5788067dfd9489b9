"""This daemon's host record in hosts/: its state, its runs, what it may run; and the name check.

Other daemons read the record to judge whether this host is live and what it may run
(`claiming.prefer_others`), `render hosts`/`render top` show it.  It is refreshed every
heartbeat and whenever the state changes, so a change shows at once.
"""

from __future__ import annotations

import os
import secrets
import socket
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from renderd import claim, host
from renderd.daemon.state import DaemonState, log
from renderd.errors import BadRecord
from renderd.format.host import HostRecord
from renderd.spool import registry

BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"
RECORD_LIMIT = 1024 * 1024


def boot_id(path: str = BOOT_ID_PATH) -> str | None:
    """This boot of this machine: a pid in a record from an earlier boot names nothing alive now."""
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read().strip() or None
    except OSError:
        return None


@dataclass(frozen=True)
class OwnedRecord:
    """A host record as read from hosts/, with the uid that owns its file (who wrote it)."""

    data: HostRecord
    uid: int


def read_own_record(path: Path) -> OwnedRecord | None:
    """Our name's record without following a link or blocking on a FIFO; None if absent or unreadable."""
    try:
        fd = registry.open_file(path)  # walked from the spool root: hosts/ swapped for a link is refused
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        raw = os.read(fd, RECORD_LIMIT + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(raw) > RECORD_LIMIT:
        return None
    try:
        return OwnedRecord(HostRecord.from_bytes(raw, path), st.st_uid)
    except BadRecord as err:
        log.warning("ignoring %s", err)
        return None


def name_conflict(
    record: OwnedRecord | None, me: str, hostname: str, pid: int, uid: int, boot: str | None
) -> tuple[str | None, str | None]:
    """(why the daemon `me` must not start under its name, why the record found there is ignored).

    The decision (docs/security.md, "Host names"): a record can hold a name only when its file
    is owned by this daemon's own uid or by root, since every artist may write hosts/.  Such a
    record holds the name while it is live, unless it is from this machine and its process is
    gone: same host name and same boot id and a dead pid, or another boot id (a reboot).
    """
    if record is None:
        return None, None
    if record.uid not in (uid, 0):
        return None, (
            f"ignoring hosts/{me}.json: written by uid {record.uid}, not by this daemon's user (uid {uid}) or root"
        )
    rec = record.data
    if not rec.is_live():
        return None, None
    other_pid = rec.pid
    if rec.hostname == hostname:
        if rec.boot_id is not None and boot is not None and rec.boot_id != boot:
            return None, None  # written before this machine last booted: its pid is gone
        if other_pid is not None and (other_pid == pid or not claim.pid_alive(other_pid)):
            return None, None
    return (
        f"renderd: the name {me!r} is in use by pid {other_pid} on {rec.hostname}; "
        "give this daemon another --name"
    ), None


class HostRecordMixin(DaemonState):
    """Writes hosts/<name>.json (refreshed, and at once when the state changes) and checks the
    name at start (`name_conflict`)."""

    boot_id: str | None = boot_id()
    instance: str = secrets.token_hex(8)  # this start of this daemon: tells restarts apart in hosts/

    def _check_name(self) -> None:
        record = read_own_record(self.spool.root / "hosts" / f"{self.cfg.name}.json")
        conflict, ignored = name_conflict(
            record, self.cfg.name, socket.gethostname(), os.getpid(), os.getuid(), self.boot_id
        )
        if ignored is not None:
            log.warning("%s", ignored)
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

    def _host_changed(self, now: float) -> bool:
        """The state or the running chunks changed since the last rewrite (at most one per heartbeat)."""
        state, chunks, at = self._written
        if now - at < self.cfg.heartbeat:
            return False
        return state != self._state() or chunks != tuple(sorted(r.info.chunk for r in self.runs.values()))

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
                "slot": r.slot,
            }
            for r in self.runs.values()
        ]
        extra = {
            "heartbeat": round(time.time(), 3),
            "boot_id": self.boot_id,
            "instance": self.instance,
            "started": round(self.started_wall, 3),
            "stale_after": self.cfg.host_stale_after,
            "slots": self.cfg.slots,
            "tags": sorted(self.cfg.tags),
            "ffmpeg": self.caps.ffmpeg is not None,
            "allow_commands": self.cfg.allow_commands,
            "allow_scripts": self.cfg.allow_scripts,
            "blender_version": self.caps.blender_version,
            "when": self.cfg.when,
            "queued_seen": self.scanner.queued_count(),
            "admin_group": self.cfg.admin_group,
            **self.policy.record(),
            **self.devices.found.record(),
        }
        if self.exit_rule.active:  # a pilot: `render hosts` and `render burst --status` say so
            extra["pilot"] = {"idle_exit": self.cfg.idle_exit, "end_in": self.cfg.end_in}
        self._written = (current, tuple(sorted(r.info.chunk for r in self.runs.values())), time.monotonic())
        try:
            self.spool.write_host(self.cfg.name, host.record(self.cfg.name, current, chunks, extra))
        except OSError as err:
            log.warning("cannot write the host record: %s", err)
