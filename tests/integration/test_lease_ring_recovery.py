"""Each daemon judges only its ring share of the leases (renderd/leases.py), and dead hosts' chunks still come back.

Six busy daemons, each holding one long chunk, so the ring has six holders and each daemon reads
the heartbeats of two others only.  Three ring neighbours are killed at once: the two whose
judges live are re-queued within a lease, and the third, whose both judges died with it, one
lease later, by the next live daemon on the ring.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from conftest import FAKEPROG
from helpers.daemons import add_job, wait_for

from renderd.format.names import ClaimName
from renderd.leases import _ring_key, judged_holders

pytestmark = pytest.mark.slow

LEASE = 3.0


def _holders(spool: Path) -> dict[str, str]:
    """host -> chunk of the claims that have a heartbeat (runs, not a recovery's instant)."""
    folder = spool / "claimed"
    names = set(os.listdir(folder))
    return {c.host: c.chunk for c in map(ClaimName.parse, names) if c is not None and f"{c.filename}.hb" in names}


def test_killed_ring_neighbours_are_recovered_by_the_live_daemons_that_judge_them(  # type: ignore[no-untyped-def]
    spool: Path, markers: Path, start_daemon
) -> None:
    names = [f"h{i}" for i in range(6)]
    add_job(spool, "1-6", [sys.executable, FAKEPROG, str(markers), "c{start}", "--sleep", "120"], "--chunk", "1")
    daemons = {n: start_daemon(n, "--allow-commands", "--poll", "0.5", "--lease", str(LEASE)) for n in names}
    held = wait_for(lambda: (h := _holders(spool)) and len(h) == 6 and h, 120, 0.1, "every daemon to run a chunk")

    ring = sorted(names, key=lambda h: (_ring_key(h), h))
    victim, first, second = ring[0], ring[1], ring[2]
    assert judged_holders(names, ring[3]) == {first, second}  # the first live daemon after them
    assert victim not in set().union(*(judged_holders(names, h) for h in ring[3:]))  # only the dead judged it
    killed = time.monotonic()
    for name in (victim, first, second):
        daemons[name].kill()

    gone: dict[str, float] = {}

    def recovered() -> bool:
        still = _holders(spool)
        for name in (victim, first, second):
            if name not in still and name not in gone:
                gone[name] = time.monotonic() - killed
        return len(gone) == 3

    wait_for(recovered, 6 * LEASE + 60, 0.05, "the three dead hosts' claims to be taken back")
    # judged by live daemons: within a lease, the check cadence and a loaded machine's slack
    print(f"claims taken back after (s): {gone}")
    assert gone[first] < LEASE + 10 and gone[second] < LEASE + 10, gone
    # judged only once its judges' own claims were gone: about one lease later
    assert gone[victim] >= min(gone[first], gone[second]), gone
    assert gone[victim] < 2 * LEASE + 15, gone
    queued = {p.name.removesuffix(".info") for p in (spool / "queue").rglob("*.info")}
    assert {held[victim], held[first], held[second]} <= queued
    requeuers = [n for n in ring[3:] if "re-queued" in daemons[n].output()]
    assert requeuers, "a live daemon re-queued them"
