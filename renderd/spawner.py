"""The spawner: a small single-threaded process that forks a launcher per chunk.

The daemon is threaded (watchdog, socket server), and fork in a threaded process is only
safe when the child execs at once, so it cannot set priorities or death signals there.
The spawner is started once, before those threads, imports what the launchers need, and
forks them cheaply (about a millisecond, against ~15 ms to start a fresh Python).

Protocol: the daemon writes one JSON request per line on the spawner's stdin; the spawner
writes `forked` (the launcher's pid) and launchers write `started`/`exited` JSON lines straight
to the spawner's stdout, which the daemon reads.  When the daemon dies the spawner gets
SIGTERM (PR_SET_PDEATHSIG) or EOF and exits; each launcher then gets SIGTERM from its own death
signal and kills its chunk.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from typing import IO, Any

from renderd import launcher


def main() -> None:
    parent = int(sys.argv[1]) if len(sys.argv) > 1 else os.getppid()
    launcher.prctl(launcher.PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        sys.exit(1)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # launchers are reaped by the kernel
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    me = os.getpid()
    out_fd = sys.stdout.fileno()
    for line in sys.stdin.buffer:
        try:
            req = json.loads(line)
        except json.JSONDecodeError:
            continue
        pid = os.fork()
        if pid == 0:
            launcher.run(req, out_fd, me)
        _forked(out_fd, req, pid)


def _forked(out_fd: int, req: Any, pid: int) -> None:
    """Tell the daemon the launcher's pid at once: it watches the launcher from here on, so one
    that dies before it could report `started` does not hold its slot for ever."""
    token = req.get("token") if isinstance(req, dict) else None
    line = (json.dumps({"token": token, "event": "forked", "launcher": pid}) + "\n").encode()
    try:
        os.write(out_fd, line)  # one short line (< PIPE_BUF): not interleaved with the launchers' lines
    except OSError:
        pass  # the daemon is gone; the launcher's death signal ends it


class Spawner:
    """Daemon side: starts the spawner process and relays its messages to `on_message`."""

    def __init__(self, on_message: Callable[[dict[str, Any]], None], prefix: Sequence[str] = ()) -> None:
        self._on_message = on_message
        # Started from the main thread: PR_SET_PDEATHSIG follows the thread that forked.
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "renderd.spawner", str(os.getpid())],  # prefix: chunkslice.py
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._stdin: IO[bytes] = self.proc.stdin
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,), name="spawner-reader", daemon=True)
        self._reader.start()

    def _read(self, stream: IO[bytes]) -> None:
        for line in stream:
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(msg, dict):
                self._on_message(msg)
        self._on_message({"event": "spawner-gone"})

    def spawn(self, request: dict[str, Any]) -> None:
        data = (json.dumps(request) + "\n").encode()
        with self._lock:
            self._stdin.write(data)
            self._stdin.flush()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        try:
            self._stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


if __name__ == "__main__":
    main()
