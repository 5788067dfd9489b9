"""A tiny chunk program for the fast tests.

usage: fakeprog.py MARKERS CHUNK [--sleep S] [--hold FILE] [--exit N] [--child-sleep S]

Records its start with an exclusive marker (MARKERS/CHUNK.running, O_EXCL: a second
concurrent run of the same chunk fails loudly with exit 99 and a `.double` marker), sleeps,
then appends `start end pid` to MARKERS/CHUNK.runs and removes the running marker.
"""

import os
import subprocess
import sys
import time


def main() -> int:
    markers, chunk = sys.argv[1], sys.argv[2]
    opts = dict(zip(sys.argv[3::2], sys.argv[4::2], strict=False))
    running = os.path.join(markers, f"{chunk}.running")
    started = time.time()
    try:
        fd = os.open(running, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        with open(os.path.join(markers, f"{chunk}.double"), "a") as fh:
            fh.write(f"{os.getpid()} {started}\n")
        return 99
    os.write(fd, f"{os.getpid()} {os.environ.get('RENDERD_HOST', '?')}\n".encode())
    os.close(fd)
    if "--child-sleep" in opts:
        # a grandchild that would outlive us if nobody killed the tree
        child = subprocess.Popen(
            [sys.executable, "-c", f"import time; time.sleep({opts['--child-sleep']})"], start_new_session=True
        )
        with open(os.path.join(markers, f"{chunk}.child"), "w") as fh:
            fh.write(str(child.pid))
    time.sleep(float(opts.get("--sleep", "0")))
    while "--hold" in opts and os.path.exists(opts["--hold"]):  # runs until the test removes that file
        time.sleep(0.05)
    with open(os.path.join(markers, f"{chunk}.runs"), "a") as fh:
        fh.write(f"{started} {time.time()} {os.getpid()} {os.environ.get('RENDERD_HOST', '?')}\n")
    os.unlink(running)
    return int(opts.get("--exit", "0"))


if __name__ == "__main__":
    sys.exit(main())
