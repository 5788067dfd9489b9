"""A tiny chunk program for the fast tests.

usage: fakeprog.py MARKERS CHUNK [--sleep S] [--hold FILE] [--exit N] [--child-sleep S] [--ignore-term 1]

Appends `start pid host` to MARKERS/CHUNK.starts, then holds an exclusive marker
(MARKERS/CHUNK.running, created by link() and flock'ed for the whole run: a second concurrent
run of the same chunk fails loudly with exit 99 and a `.double` marker), sleeps, then appends
`start end pid host` to MARKERS/CHUNK.runs and removes the running marker.  The lock dies with
the process, so the marker left by a killed run (kill -9) is taken over, not mistaken for a
concurrent one.
"""

import fcntl
import os
import signal
import subprocess
import sys
import time


def main() -> int:
    markers, chunk = sys.argv[1], sys.argv[2]
    opts = dict(zip(sys.argv[3::2], sys.argv[4::2], strict=False))
    if "--ignore-term" in opts:  # a hung program that only SIGKILL stops
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    running = os.path.join(markers, f"{chunk}.running")
    started = time.time()
    with open(os.path.join(markers, f"{chunk}.starts"), "a") as fh:
        fh.write(f"{started} {os.getpid()} {os.environ.get('RENDERD_HOST', '?')}\n")
    fd = hold_marker(running)
    if fd is None:
        with open(os.path.join(markers, f"{chunk}.double"), "a") as fh:
            fh.write(f"{os.getpid()} {started}\n")
        return 99
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
    os.close(fd)
    return int(opts.get("--exit", "0"))


def hold_marker(running: str) -> int | None:
    """The running marker, locked by us; None while a live run holds it."""
    mine = f"{running}.{os.getpid()}"
    fd = os.open(mine, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, f"{os.getpid()} {os.environ.get('RENDERD_HOST', '?')}\n".encode())
    while True:
        try:
            os.link(mine, running)  # born locked: nobody can mistake it for a stale one
            os.unlink(mine)
            return fd
        except FileExistsError:
            pass
        try:
            other = os.open(running, os.O_RDONLY)
        except FileNotFoundError:
            continue  # that run just ended
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(other)
            os.close(fd)
            os.unlink(mine)
            return None  # a live run holds it: we run concurrently
        try:
            same = os.stat(running).st_ino == os.fstat(other).st_ino
        except FileNotFoundError:
            same = False
        if same:  # locked by nobody yet still there: its run was killed; the marker is ours now
            os.close(fd)
            os.unlink(mine)
            return other
        os.close(other)  # it ended and was unlinked between our open and our lock: try again


if __name__ == "__main__":
    sys.exit(main())
