"""Who judges which lease: each daemon checks the claims of a few other holders, not all of them.

Every daemon used to read every running chunk's heartbeat on every poll: for the farm that is
hosts x running chunks reads per poll, quadratic in hosts (500 busy hosts polling every 5 s:
50 000 heartbeat reads a second on the file server).  Here the claim holders are placed on a
ring ordered by a hash of their daemon names, and a daemon judges the claims of the `SPREAD`
holders just before it on that ring (plus the claims under its own name, e.g. a crashed
predecessor's).  Each daemon then reads about SPREAD x slots heartbeats per check: the farm's
total is linear in hosts.

Why every claim still has a live judge:
* the ring is built from the `claimed/` listing that every daemon reads anyway, so all holders
  agree on it (up to a listing a moment old); a daemon that holds nothing puts itself on the
  ring too, so idle daemons judge as well, and one that just finished its last chunk still
  judges its predecessors;
* a holder's claims are judged by its SPREAD live successors; when those are dead too, their
  own claims are judged (and recovered) by the next live daemon, which takes them over under
  its own name, so the dead names leave the ring and the next live daemon moves up: a run of m
  dead holders in a row is cleared in about ceil(m / SPREAD) leases instead of one;
* the hash spreads the names, so a Slurm job array's pilots (`node-12_1`, `node-12_2`, ...),
  which are cancelled together, are not neighbours on the ring.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from renderd.format.names import ClaimName
from renderd.spool import list_names

SPREAD = 2  # judges per holder: a single dead neighbour costs nothing extra
RECENT_NS = 2_000_000_000  # a change this close to our listing could hide behind the mtime's granularity
FULL_RELIST = 60.0  # seconds: list anyway, in case a file server's mtime lies


def _ring_key(name: str) -> bytes:
    return hashlib.blake2b(name.encode(), digest_size=8).digest()


def judged_holders(holders: Iterable[str], me: str, spread: int = SPREAD) -> set[str]:
    """The holders whose claims `me` judges: its `spread` predecessors on the hashed ring."""
    ring = sorted(set(holders) | {me}, key=lambda h: (_ring_key(h), h))
    if len(ring) <= spread + 1:  # a small farm: everyone judges everyone
        return set(ring) - {me}
    at = ring.index(me)
    return {ring[(at - step) % len(ring)] for step in range(1, spread + 1)}


def my_share(claims: Iterable[ClaimName], me: str, spread: int = SPREAD) -> list[ClaimName]:
    """The claims `me` judges: those of its judged holders, and any claim under its own name."""
    claims = list(claims)
    judged = judged_holders((c.host for c in claims), me, spread)
    return [c for c in claims if c.host == me or c.host in judged]


@dataclass
class ClaimedListing:
    """The names in `claimed/`, listed again only when the folder's mtime moved.

    Claims and their heartbeats are created and removed in `claimed/` (a heartbeat's content
    changes in place, which does not touch the folder), so an unchanged mtime means an
    unchanged listing: a stat instead of an opendir and its readdirs.  As in the queue
    scanner, a listing made within the mtime's granularity of a change is not trusted, and
    the folder is listed anyway every FULL_RELIST seconds."""

    folder: Path
    lister: Callable[[Path], list[str]] = list_names
    stat: Callable[[Path], os.stat_result] = os.lstat
    clock: Callable[[], float] = time.monotonic
    _names: list[str] = field(default_factory=list)
    _mtime_ns: int = -1
    _listed_ns: int = 0
    _listed_at: float = float("-inf")

    def names(self) -> list[str]:
        try:
            mtime = self.stat(self.folder).st_mtime_ns
        except OSError:  # gone, or planted (a symlink): the lister decides what to say
            mtime = -1
        now = self.clock()
        fresh = mtime >= 0 and mtime == self._mtime_ns and self._listed_ns - mtime >= RECENT_NS
        if not fresh or now - self._listed_at >= FULL_RELIST:
            self._listed_ns, self._listed_at = time.time_ns(), now
            self._names = self.lister(self.folder)
            self._mtime_ns = mtime
        return list(self._names)
