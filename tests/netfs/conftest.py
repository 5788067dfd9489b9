"""Two "hosts" on one machine: one folder mounted twice, through sshfs or through GlusterFS.

sshfs over 127.0.0.1: each mount has its own caches and its own (host-local) file locks, like
two NFS clients with `local_lock` — a harsher stand-in than NFS (docs/netfs.md).  The mounts are
made by `two_mounts.sh` beside this file, served by a private sshd on a free port.
GlusterFS: one volume on a local brick mounted twice through Gluster's FUSE client
(`gluster_mounts.sh`): a real distributed file system whose locks are cluster-wide.
`shared_mounts` gives each test both in turn; `two_mounts` is sshfs only (for what only sshfs
shows, e.g. locks that do not cross mounts).  Mounts are always undone when the module's tests
end, failed or not.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("two_mounts.sh")
GLUSTER_SCRIPT = Path(__file__).with_name("gluster_mounts.sh")
SSHD = Path("/usr/sbin/sshd")


@dataclass(frozen=True)
class TwoMounts:
    export: Path  # the real folder (the file server's disk); with GlusterFS a third client's view
    a: Path  # the folder as host A sees it
    b: Path  # the folder as host B sees it
    kind: str = "sshfs"

    def both(self, sub: str) -> tuple[Path, Path]:
        """One spool folder, made on the server, as seen through A and through B."""
        (self.export / sub).mkdir()
        return self.a / sub, self.b / sub


def _why_not() -> str | None:
    """Why sshfs mounts cannot be made here, or None."""
    for tool in ("sshfs", "fusermount3", "ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (Debian: apt-get install sshfs openssh-server fuse3)"
    if not os.access(SSHD, os.X_OK):
        return f"{SSHD} is not installed (Debian: apt-get install openssh-server)"
    try:
        os.close(os.open("/dev/fuse", os.O_RDWR))
    except OSError as err:
        return f"/dev/fuse cannot be opened ({err.strerror}); FUSE is not available to this user or container"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def two_mounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoMounts]:
    yield from _sshfs(tmp_path_factory)


@pytest.fixture(scope="module", params=["sshfs", "gluster"])
def shared_mounts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoMounts]:
    """One folder seen by two hosts, through sshfs and then through GlusterFS."""
    yield from (_sshfs if request.param == "sshfs" else _gluster)(tmp_path_factory)


def _why_not_gluster() -> str | None:
    """Why two GlusterFS mounts cannot be made here, or None."""
    for tool, package in (("gluster", "glusterfs-server"), ("glusterd", "glusterfs-server"),
                          ("mount.glusterfs", "glusterfs-client")):
        if shutil.which(tool) is None and not any(os.access(f"{d}/{tool}", os.X_OK) for d in ("/usr/sbin", "/sbin")):
            return f"`{tool}` is not installed (Debian: apt-get install {package})"
    if os.geteuid() != 0:
        return "glusterd and its FUSE mounts need root"
    try:
        os.close(os.open("/dev/fuse", os.O_RDWR))
    except OSError as err:
        return f"/dev/fuse cannot be opened ({err.strerror}); FUSE is not available to this user or container"
    return None


def _gluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoMounts]:
    reason = _why_not_gluster()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the two-mount tests on GlusterFS, but {reason}")
        pytest.skip(f"two GlusterFS mounts cannot be made here: {reason}")
    base = tmp_path_factory.mktemp("gluster")
    vol = f"renderd{os.getpid()}{base.name.replace('gluster', '')}"
    run = [str(GLUSTER_SCRIPT), "up", str(base), vol]
    try:
        up = subprocess.run(run, capture_output=True, text=True, timeout=300)
        if up.returncode != 0:
            raise AssertionError(f"gluster_mounts.sh up: {up.stderr.strip()}")
        # a third view for the test's own reads and set-up (the brick is the server's, not to be touched)
        yield TwoMounts(base / "hostA", base / "hostA", base / "hostB", "gluster")
    finally:
        down = subprocess.run([str(GLUSTER_SCRIPT), "down", str(base), vol], capture_output=True, text=True,
                              timeout=300)
        assert down.returncode == 0, f"gluster_mounts.sh down: {down.stderr}"


def _sshfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoMounts]:
    reason = _why_not()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the two-mount tests, but {reason}")
        pytest.skip(f"two sshfs mounts cannot be made here: {reason}")
    base = tmp_path_factory.mktemp("netfs")
    mounts = TwoMounts(base / "export", base / "hostA", base / "hostB")
    try:
        errors = []
        for _ in range(3):  # another program may take the free port before sshd binds it
            up = _script("up", str(base), str(_free_port()))
            if up.returncode == 0 and os.path.ismount(mounts.a) and os.path.ismount(mounts.b):
                break
            errors.append(up.stderr.strip())
            _script("down", str(base))
        else:
            raise AssertionError(f"could not mount the folder twice through sshfs: {errors}")
        yield mounts
    finally:
        down = _script("down", str(base))
        assert down.returncode == 0, f"two_mounts.sh down: {down.stderr}"
