"""A host owner's standing order (`render host pause|drain`), read by the daemon and by `render hosts`.

Apart from policy.py (the daemon's idle policy), so the front-end reads it without importing the
daemon's runner and idle probes."""

from __future__ import annotations

from renderd.spool import Spool

MAY_START = "may start chunks"  # the host record's `policy` when nothing holds the host back


def read_control(spool: Spool, host: str) -> str | None:
    """The owner's standing order for this host (`render host pause|drain`); None: none."""
    order = spool.host_control(host)  # checked by its reader: "pause" or "drain"
    return None if order is None else order.control
