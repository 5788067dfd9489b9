"""Host records that outlive their hosts: `render host forget NAME`, `render clean --hosts-older-than 7d`.

A daemon writes hosts/<name>.json on every heartbeat and marks it offline when it stops; a
host that is switched off for good, renamed or reinstalled leaves its record behind, shown as
"offline" for ever.  Only a record that is not live may go (a live daemon would write it again
within seconds anyway, and its name is its proof of identity, renderd/daemon/host_record.py).
With it goes the host's standing order (hosts/<name>.control); its event log stays until
`render clean` rotates it away like any other.
"""

from __future__ import annotations

import time

from renderd.errors import RenderdError
from renderd.format.host import HostRecord
from renderd.format.names import valid_name
from renderd.spool import Spool


class HostLive(RenderdError):
    """The host's daemon is running: its record is not ours to remove."""


class NoSuchHost(RenderdError):
    """No record of that name (exit 2, like an unknown job)."""

    exit_code = 2


def last_seen(record: HostRecord) -> float:
    return record.heartbeat or 0.0


def forget(spool: Spool, name: str) -> list[str]:
    """Remove a host's record and order; the files removed (spool-relative)."""
    records = spool.hosts()
    # a record that fails its reader (planted, damaged) is not live and may go too
    unreadable = valid_name(name, 64) and name not in records and f"{name}.json" in spool.names(spool.root / "hosts")
    if not valid_name(name, 64) or (name not in records and not unreadable):
        known = ", ".join(sorted(records)) or "none"
        raise NoSuchHost(f"no host {name!r} in {spool.root} (hosts: {known})")
    if name in records and records[name].is_live():
        raise HostLive(f"{name} is live (heartbeat {time.time() - last_seen(records[name]):.0f} s ago): "
                       "stop its daemon first; a running daemon writes its record again at once")
    removed = []
    for path in (spool.root / "hosts" / f"{name}.json", spool.host_control_path(name)):
        if spool.io.unlink(path):
            removed.append(str(path.relative_to(spool.root)))
    return removed


def stale(spool: Spool, older_than: float, at: float | None = None) -> list[str]:
    """Hosts that are not live and were last heard of more than `older_than` seconds ago."""
    at = time.time() if at is None else at
    return sorted(n for n, rec in spool.hosts().items()
                  if not rec.is_live(at) and at - last_seen(rec) > older_than)
