"""Who may do what: the one place that answers "may this user change that job / use this socket?".

A job may be changed by its owner (the uid `render add` recorded), root, and members of an
admin group configured on the daemons (`renderd --admin-group`)."""

from __future__ import annotations

import grp
import pwd
from collections.abc import Iterable


def in_group(uid: int, gid: int, group: str) -> bool:
    """Is the user `uid` (whose process runs with group `gid`) a member of `group`?"""
    try:
        entry = grp.getgrnam(group)
    except KeyError:
        return False
    if gid == entry.gr_gid:
        return True
    try:
        user = pwd.getpwuid(uid)
    except KeyError:
        return False
    return user.pw_gid == entry.gr_gid or user.pw_name in entry.gr_mem


def may_change_job(uid: int, gid: int, owner_uid: object, admin_groups: Iterable[str]) -> bool:
    if uid == 0 or (isinstance(owner_uid, int) and not isinstance(owner_uid, bool) and uid == owner_uid):
        return True
    return any(in_group(uid, gid, g) for g in admin_groups if g)
