"""Claim protocol: lock + atomic rename, a lease kept by an in-place heartbeat, stale-lease recovery.

Why each step (docs/spool-format.md, "Claim protocol", has the long form):
- a lock file (`flock`) serialises claimers cheaply where locks work; it is held for the claim
  transaction only and never trusted alone (sshfs and NFS `local_lock` keep locks per host).
- `rename(queue/.../C.info, claimed/C.info@host.pid.nonce)` succeeds once for one source:
  that is the real arbiter.  NFS may report an error for a rename that happened, so on
  any error we look at our unique target.
- The heartbeat file is written in place (never renamed) so that a host that lost its
  claim cannot resurrect it; observers compare its *content* on their own monotonic
  clock, so clock skew between hosts does not matter.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from renderd import leases
from renderd.errors import BadInfoFile
from renderd.format.info import ChunkInfo
from renderd.format.names import ClaimName
from renderd.spool import Spool, registry
from renderd.spool.io import UnsafeEntry
from renderd.states import ChunkState

log = logging.getLogger(__name__)

MAX_REQUEUES = 5
HB_WIDTH = 20


@dataclass
class Claim:
    """A chunk this daemon holds."""

    name: ClaimName
    path: Path
    heartbeat: Path
    beats: int = 0
    beat_at: float = field(default_factory=time.monotonic)  # when we last changed the heartbeat


def _exists(path: Path) -> bool:
    """Fresh existence check: open() revalidates on NFS, where stat() may be served from cache."""
    return registry.exists(path)


def _unlink(path: Path) -> None:
    try:
        registry.unlink(path)
    except UnsafeEntry as err:  # its folder swapped for a link: nothing is removed through it
        log.debug("not removing %s", err)


def take(spool: Spool, queued: Path, chunk: str, host: str) -> Claim | None:
    """Try to claim one queued info file; None if someone else has it."""
    try:
        lock = _lock(spool, chunk)
    except BlockingIOError:
        return None  # another claimer of this host (or of a mount whose locks work) has it
    except OSError as err:
        # The lock only saves work; the rename decides.  sshfs answers an exclusive create of an
        # existing lock file with EPERM, and the winner unlinks it meanwhile; a planted link or
        # FIFO at its name is refused (UnsafeEntry): claim without it.
        log.debug("claiming %s without its lock file: %s", chunk, err)
        lock = None
    try:
        name = ClaimName.new(chunk, host)
        target = spool.claimed_path(name)
        try:
            spool.move(queued, ChunkState.CLAIMED, dest=target)
        except UnsafeEntry as err:  # queue/... or claimed/ swapped for a link: nothing claimed, nothing followed
            log.debug("not claiming %s: %s", chunk, err)
            return None
        except OSError:
            if not _exists(target):
                return None
        claim = Claim(name, target, spool.heartbeat_path(name))
        spool.io.write_new(claim.heartbeat, _beat_bytes(0))
        # The lock guarded nothing but this rename; a taker still waiting on the unlinked
        # file finds the source gone, so removing it here is safe and keeps locks/ empty.
        _unlink(spool.lock_path(chunk))
        return claim
    finally:
        if lock is not None:
            os.close(lock)  # releases the flock


@contextmanager
def job_lock(spool: Spool, job: str) -> Iterator[bool]:
    """`locks/<job>.share.lock`, flock'ed without waiting, held while a daemon counts a capped job's
    claims and claims one (daemon/claiming.py): True when held, False when another claimer holds it.
    It is never unlinked (a waiter on an unlinked lock file would lock a different file than the next
    taker); `render clean` removes old lock files.  Where it cannot be opened, claim without it."""
    try:
        fd = spool.io.open(spool.root / "locks" / f"{job}.share.lock", os.O_RDWR | os.O_CREAT)
    except OSError as err:
        log.debug("claiming from %s without its share lock: %s", job, err)
        yield True
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        except OSError as err:
            log.debug("claiming from %s without its share lock: %s", job, err)
        yield True
    finally:
        os.close(fd)


def _lock(spool: Spool, chunk: str) -> int:
    """`locks/<chunk>.lock`, flock'ed without waiting; the fd (close it to release).

    Opened through the spool's I/O layer, never truncated: a lock name planted as a link to
    someone's file must neither be followed nor emptied (filelock opened with O_TRUNC)."""
    fd = spool.io.open(spool.lock_path(chunk), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _beat_bytes(n: int) -> bytes:
    return f"{n:0{HB_WIDTH}d}\n".encode()


def beat(claim: Claim) -> bool:
    """Renew the lease in place.  False means the claim was taken from us: stop the run."""
    claim.beats += 1
    try:
        fd = registry.open_file(claim.heartbeat, os.O_WRONLY)
    except UnsafeEntry as err:
        # Our heartbeat's name now holds a FIFO, a link or a folder: never written through (a FIFO
        # would block us for ever), replaced by a file of ours while the claim is still ours.
        log.warning("replacing the heartbeat of %s: %s", claim.name.chunk, err.what)
        try:
            registry.remove_tree(claim.heartbeat)
            fd = registry.open_file(claim.heartbeat, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except OSError:
            return False
    except OSError:
        return False
    try:
        os.pwrite(fd, _beat_bytes(claim.beats), 0)
        claim.beat_at = time.monotonic()
    finally:
        os.close(fd)
    return _exists(claim.path)


def still_ours(claim: Claim) -> bool:
    """The fence: checked right before any result of the run is recorded."""
    return _exists(claim.path)


def _forget(claim: Claim) -> None:
    _unlink(claim.path)
    _unlink(claim.heartbeat)


def finish_done(spool: Spool, claim: Claim, info: ChunkInfo, record: dict[str, Any]) -> bool:
    """Record success and drop the claim.  False if the claim was lost meanwhile."""
    if not still_ours(claim):
        return False
    spool.record_done(info, record, claim.path)
    _forget(claim)
    return True


def finish_failed(spool: Spool, claim: Claim, info: ChunkInfo, reason: str, host: str) -> str | None:
    """Count a failed attempt: back to the queue, or to failed/ when out of attempts.

    Returns the new state ("queued"/"failed"), or None if the claim was lost meanwhile."""
    if not still_ours(claim):
        return None
    info.attempts += 1
    if host not in info.failed_hosts:
        info.failed_hosts.append(host)
    info.note("failed", host, reason=reason[:500])
    if info.attempts >= info.max_attempts:
        spool.fail(claim.path, info, f"failed {info.attempts} times; last: {reason}", ChunkState.CLAIMED)
        state = "failed"
    else:
        spool.requeue(claim.path, info, ChunkState.CLAIMED)
        state = "queued"
    _unlink(claim.heartbeat)
    return state


def give_back(spool: Spool, claim: Claim, info: ChunkInfo, event: str, host: str) -> bool:
    """Return a chunk to the queue without counting a failure (shutdown, preemption)."""
    if not still_ours(claim):
        return False
    info.note(event, host)
    spool.requeue(claim.path, info, ChunkState.CLAIMED)
    _unlink(claim.heartbeat)
    return True


def quarantine_claim(spool: Spool, claim: Claim, reason: str) -> None:
    spool.quarantine(claim.path, reason, ChunkState.CLAIMED)
    _unlink(claim.heartbeat)


def _read_heartbeat(spool: Spool, name: ClaimName) -> bytes | None:
    try:
        fd = spool.io.open(spool.heartbeat_path(name))
    except OSError:
        return None
    try:
        return os.read(fd, 64)
    finally:
        os.close(fd)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def helpers_alive(daemon_pid: int) -> bool:
    """Is a spawner or chunk launcher of daemon `daemon_pid` still running on this machine?

    They carry its pid on their command line (`python -m renderd.spawner PID`), and a launcher
    exits only after its chunk's whole process tree is gone: none left means no orphan runs."""
    tail = [b"-m", b"renderd.spawner", str(daemon_pid).encode()]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")[:-1]
        except OSError:
            continue
        if argv[-3:] == tail:
            return True
    return False


@dataclass
class LeaseWatcher:
    """Judges other daemons' claims stale by 'no heartbeat change seen for `lease` seconds'.

    Only this daemon's share of the claims is judged (renderd/leases.py: the farm's heartbeat
    reads grow linearly in hosts), and `claimed/` is re-listed only when its mtime moved
    (leases.ClaimedListing): an idle farm's check is one stat."""

    spool: Spool
    host: str
    lease: float
    is_mine: Callable[[ClaimName], bool]
    clock: Callable[[], float] = time.monotonic
    seen: dict[str, tuple[bytes | None, float]] = field(default_factory=dict)
    orphans: dict[str, float] = field(default_factory=dict)  # heartbeat without its claim -> first seen
    spread: int = leases.SPREAD
    listing: leases.ClaimedListing | None = None

    def _names(self) -> list[str]:
        if self.listing is None:
            self.listing = leases.ClaimedListing(self.spool.root / "claimed", self.spool.names, self.spool.io.lstat)
        return self.listing.names()

    def stale(self) -> list[ClaimName]:
        now = self.clock()
        current: set[str] = set()
        out: list[ClaimName] = []
        claims = [c for c in map(ClaimName.parse, self._names()) if c is not None]
        for name in leases.my_share(claims, self.host, self.spread):
            if self.is_mine(name):
                continue
            key = name.filename
            current.add(key)
            if name.host == self.host and name.pid != os.getpid() and not pid_alive(name.pid):
                # our own name, a dead pid on this machine: a crashed predecessor; stale at once when
                # its chunk's processes are gone too (until then the heartbeat decides, as for others)
                if not helpers_alive(name.pid):
                    out.append(name)
                    continue
            content = _read_heartbeat(self.spool, name)
            prev = self.seen.get(key)
            if prev is None or prev[0] != content:
                self.seen[key] = (content, now)
            elif now - prev[1] >= self.lease:
                out.append(name)
        for key in set(self.seen) - current:
            del self.seen[key]
        return out

    def sweep_heartbeats(self) -> int:
        """Remove heartbeats whose claim has been gone for a whole lease; returns how many.

        A daemon killed between removing a claim and removing its heartbeat (done, failed,
        given back, or recovering another's claim) leaves the heartbeat behind, and nothing
        else would ever remove it.  Waiting a lease rides out the instant between the two
        unlinks and a listing that is a little out of date; a heartbeat is never recreated."""
        now = self.clock()
        folder = self.spool.root / "claimed"
        names = set(self._names())
        current: set[str] = set()
        removed = 0
        for name in names:
            if not name.endswith(".hb") or ClaimName.parse(name[:-3]) is None or name[:-3] in names:
                continue
            if _exists(folder / name[:-3]):
                continue
            current.add(name)
            if now - self.orphans.setdefault(name, now) >= self.lease:
                _unlink(folder / name)
                removed += 1
        for name in set(self.orphans) - current:
            del self.orphans[name]
        return removed


def recover(spool: Spool, stale: ClaimName, host: str) -> str | None:
    """Take a stale claim over and put its chunk back in the queue, exactly once.

    Only the daemon whose rename wins does anything.  Returns the new state or None."""
    mine = ClaimName.new(stale.chunk, host)
    target = spool.claimed_path(mine)
    try:
        spool.move(spool.claimed_path(stale), ChunkState.CLAIMED, dest=target)
    except UnsafeEntry:
        raise
    except OSError:
        if not _exists(target):
            return None
    _unlink(spool.heartbeat_path(stale))  # the returning holder sees it is gone and stops
    claim = Claim(mine, target, spool.heartbeat_path(mine))
    try:
        info = spool.read_info(target)
        if info.chunk != stale.chunk:
            raise BadInfoFile(f"holds chunk {info.chunk!r} under the name of {stale.chunk!r}", target)
    except BadInfoFile as err:
        quarantine_claim(spool, claim, err.message)
        return "bad"
    except FileNotFoundError:
        return None
    info.requeues += 1
    reason = f"lease of {stale.host} (pid {stale.pid}) expired"
    info.note("requeued", host, reason=reason)
    if info.requeues >= MAX_REQUEUES:
        spool.fail(
            target,
            info,
            f"its host vanished {info.requeues} times (suspected host-killer); last: {reason}",
            ChunkState.CLAIMED,
        )
        return "failed"
    spool.requeue(target, info, ChunkState.CLAIMED)
    return "queued"
