"""Which file system a path lives on: a spool on a local disk usually means the share is not mounted."""

from __future__ import annotations

import os
from pathlib import Path

NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "lustre", "9p", "afs", "beegfs", "gpfs"}


def fs_type(path: Path, mountinfo: str = "/proc/self/mountinfo") -> str:
    """The file system type of the mount holding `path` ('' when unknown)."""
    target = os.path.realpath(path)
    best, best_type = "", ""
    try:
        with open(mountinfo, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                left, _, right = line.partition(" - ")
                fields = left.split()
                if len(fields) < 5 or not right:
                    continue
                mount = fields[4].replace("\\040", " ")
                inside = target == mount or target.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(best):
                    best, best_type = mount, right.split()[0]
    except OSError:
        return ""
    return best_type


def is_network_fs(path: Path) -> bool:
    kind = fs_type(path)
    return kind in NETWORK_FS or kind.startswith("fuse.sshfs") or kind == "fuse.glusterfs"
