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
from collections.abc import Iterable

from renderd.spool import ClaimName

SPREAD = 2  # judges per holder: a single dead neighbour costs nothing extra


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
