"""Who may do what: the one place that answers "may this user change that job / use this socket?".

A job may be changed by its owner, root, and members of an admin group configured on the daemons
(`renderd --admin-group`).  The owner is read from who owns the job's files (`job_owner`), never
from the `uid` written in the manifest: every artist may write the spool, so any uid written in
a file there can be forged (docs/security.md, "Job control")."""

from __future__ import annotations

import grp
import logging
import os
import pwd
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from renderd.ratelog import RateLimitedLog

if TYPE_CHECKING:
    from renderd.format.manifest import Manifest
    from renderd.spool import Spool

_warn = RateLimitedLog(logging.getLogger(__name__))


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


def job_owner(folder: Path) -> tuple[int | None, str]:
    """The uid that owns the job in `folder` (jobs/<job>/), and how we know (or why no uid does).

    The owner is the uid that owns the job's folder: `render add` makes it as the submitting
    user, and no one else can change a folder's owner.  Not the manifest's `uid` (anyone who may
    write the folder can replace the manifest), nor the manifest file's owner (replacing the file
    makes the replacer its owner, and would take the job from its owner)."""
    try:
        st = os.lstat(folder)
    except OSError as err:
        return None, f"cannot stat {err.filename}: {err.strerror}"
    if not stat.S_ISDIR(st.st_mode):
        return None, "its folder is not a plain folder"
    return st.st_uid, f"uid {st.st_uid}"


def has_processes_here(uid: int, proc: str = "/proc") -> bool:
    """Does `uid` run anything on this machine (a desktop session, a shell)?  /proc/<pid> is owned
    by its process's effective uid."""
    try:
        entries = os.listdir(proc)
    except OSError:
        return False
    for entry in entries:
        if entry.isdigit():
            try:
                if os.stat(os.path.join(proc, entry)).st_uid == uid:
                    return True
            except OSError:
                continue
    return False


def may_order_host(uid: int, daemon_uid: int, admin_groups: Iterable[str], local: Callable[[int], bool]) -> bool:
    """May `uid` pause or drain the host of a daemon running as `daemon_uid`?

    Root, the daemon's own user and the admin group may; and a user of this machine (one with a
    process here: the workstation's owner, who runs `render host pause` at their desk).  Not any
    artist anywhere: hosts/ is writable by all of them."""
    if uid in (0, daemon_uid) or any(in_group(uid, -1, g) for g in admin_groups if g):
        return True
    return local(uid)


def manifest_is_the_owners(folder_uid: int, manifest_uid: int, daemon_uid: int, admin_groups: Iterable[str]) -> bool:
    """Is a job's manifest its owner's word?  It is when its file is owned by the job folder's owner,
    or was rewritten by root, the daemon's user or the admin group (`render priority` by an admin).
    Anyone else who may write the folder can replace the manifest (a new file is theirs), and with
    it the job's kind, priority and scheduling rules."""
    if manifest_uid in (folder_uid, 0, daemon_uid):
        return True
    return any(in_group(manifest_uid, -1, g) for g in admin_groups if g)


def owners_manifest(spool: Spool, job: str, admin_group: str | None) -> Manifest | None:
    """The job's manifest when it is its owner's word (access.manifest_is_the_owners), else None
    (one log line).  Everything a daemon takes from a manifest goes through here: what it may
    run (claiming) and which hooks it runs (hooks.py); a manifest replaced by another artist,
    who may write the 2775 job folder, decides neither."""
    read = spool.read_manifest_owned(job)
    if read is None:
        return None
    manifest, manifest_uid, folder_uid = read
    if manifest_is_the_owners(folder_uid, manifest_uid, os.getuid(), [admin_group] if admin_group else []):
        return manifest
    _warn.warning("foreign manifest", "ignoring the manifest of job %s: written by uid %d, the job is "
                 "uid %d's", job, manifest_uid, folder_uid)
    return None
