"""One claimer "host" for the race test: claims queued chunks through its own mount.

usage: claim_racer.py SPOOL HOST
Reads `QUEUED_PATH CHUNK T0` lines on stdin; waits until the wall clock reaches T0 (both racers
share this machine's clock, so they start together), calls renderd.claim.take and prints
`won` or `lost`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from renderd import claim
from renderd.spool import Spool


def main() -> int:
    spool = Spool.open(sys.argv[1])
    host = sys.argv[2]
    for line in sys.stdin:
        queued, chunk, t0 = line.split()
        while time.time() < float(t0):
            pass  # spin: a sleep would let the scheduler stagger the two racers
        taken = claim.take(spool, Path(queued), chunk, host)
        print("won" if taken is not None else "lost", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
