"""A host owner's standing order (`render host pause|drain`), read by the daemon and by `render hosts`.

Apart from policy.py (the daemon's idle policy), so the front-end reads it without importing the
daemon's runner and idle probes."""

from __future__ import annotations

import logging
from collections.abc import Callable

from renderd.spool import Spool

log = logging.getLogger(__name__)

MAY_START = "may start chunks"  # the host record's `policy` when nothing holds the host back


_ignored: set[tuple[str, int]] = set()


def read_control(spool: Spool, host: str, may_order: Callable[[int], bool] | None = None) -> str | None:
    """The owner's standing order for this host (`render host pause|drain`); None: none.

    With `may_order` (the daemon's side) the order counts only when its file's owner may give it:
    hosts/ is writable by every artist, and one artist must not pause or drain the whole farm
    (docs/security.md, "Host orders").  An order that does not count is logged once per writer."""
    if may_order is None:
        order = spool.host_control(host)  # checked by its reader: "pause" or "drain"
        return None if order is None else order.control
    owned = spool.host_control_owned(host)
    if owned is None:
        return None
    order, uid = owned
    if may_order(uid):
        return order.control
    if (host, uid) not in _ignored:
        _ignored.add((host, uid))
        log.warning("ignoring hosts/%s.control (%s): written by uid %d, who may not order this host", host,
                    order.control, uid)
    return None
