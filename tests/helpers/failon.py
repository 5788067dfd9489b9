"""A chunk program that fails on one host only (the blocklist tests).

usage: failon.py MARKERS BAD_HOST CHUNK [SLEEP]

Appends `CHUNK time` to MARKERS/<host>.runs (the host from $RENDERD_HOST, set by the daemon),
sleeps SLEEP seconds on the other hosts, exits 1 on BAD_HOST and 0 elsewhere.
"""

import os
import sys
import time


def main() -> int:
    markers, bad, chunk = sys.argv[1], sys.argv[2], sys.argv[3]
    host = os.environ.get("RENDERD_HOST", "?")
    with open(os.path.join(markers, f"{host}.runs"), "a") as fh:
        fh.write(f"{chunk} {time.time()}\n")
    if host == bad:
        print(f"Error: {chunk} cannot run on {host}", file=sys.stderr)
        return 1
    time.sleep(float(sys.argv[4]) if len(sys.argv) > 4 else 0.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
