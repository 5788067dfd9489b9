"""Which file system a path lives on: a spool on a local disk usually means the share is not mounted."""

from __future__ import annotations

import os
import re
from pathlib import Path

NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "lustre", "9p", "afs", "beegfs", "gpfs"}
_OCTAL = re.compile(rb"\\([0-7]{3})")


def unescape_mount(field: bytes) -> str:
    """The kernel writes space, tab, newline and backslash in mountinfo as `\\040`, `\\011`, `\\012`
    and `\\134`: decode every octal escape as a byte, then the bytes as the file system's names are
    (os.fsdecode), so a mount point with a tab or a UTF-8 name compares equal to realpath()'s."""
    return os.fsdecode(_OCTAL.sub(lambda m: bytes([int(m[1], 8) & 0xFF]), field))


def fs_type(path: Path, mountinfo: str = "/proc/self/mountinfo") -> str:
    """The file system type of the mount holding `path` ('' when unknown)."""
    target = os.path.realpath(path)
    best, best_type = "", ""
    try:
        with open(mountinfo, "rb") as fh:
            for line in fh:
                left, _, right = line.partition(b" - ")
                fields = left.split()
                if len(fields) < 5 or not right:
                    continue
                mount = unescape_mount(fields[4])
                inside = target == mount or target.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(best):
                    best, best_type = mount, os.fsdecode(right.split()[0])
    except OSError:
        return ""
    return best_type


def is_network_fs(path: Path) -> bool:
    kind = fs_type(path)
    return kind in NETWORK_FS or kind.startswith("fuse.sshfs") or kind == "fuse.glusterfs"
