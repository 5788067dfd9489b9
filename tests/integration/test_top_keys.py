"""`render top` on a real terminal (a pty of 80x24): bars and headers kept, keys act on the selected job."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import struct
import termios
import threading
from pathlib import Path

from helpers.daemons import BIN, render, wait_for


class Screen:
    """`render top` in a pty; everything it draws is collected by a thread (so it never blocks)."""

    def __init__(self, spool: Path) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: an 80x24 terminal
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
            env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")} | {"TERM": "xterm"}
            os.execve(str(BIN / "render"), ["render", "--spool", str(spool), "top", "--interval", "0.2s"], env)
        self.pid, self.fd = pid, fd
        self.out = b""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            self.out += data

    def text(self) -> str:
        return self.out.decode(errors="replace")

    def press(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def close(self) -> int:
        self.press("q")
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            return 0
        return os.waitstatus_to_exitcode(status)

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def _state(spool: Path, job: str) -> str:
    out = json.loads(render(spool, "status", job, "--json").stdout)["jobs"][0]["state"]
    return str(out)


def test_top_keeps_bars_and_headers_at_80_columns_and_keys_pause_resume_and_cancel(spool: Path) -> None:
    first = json.loads(render(spool, "add", "--frames", "1-40", "--name", "a-rather-long-job-name-x", "--json",
                              "--", "true", cwd=spool).stdout)["job"]
    second = json.loads(render(spool, "add", "--frames", "1-40", "--name", "comp", "--json", "--", "true",
                               cwd=spool).stdout)["job"]
    screen = Screen(spool)
    try:
        wait_for(lambda: "q/r/d/f" in screen.text() and "comp-" in screen.text(), 60, what="the first screen")
        text = screen.text()
        for header in ("job", "state", "progress", "frames", "q/r/d/f", "ETA"):
            assert header in text
        assert "━" in text  # the progress bars are drawn
        assert "…" in text  # the long job id is cut, not the columns
        screen.press("\x1b[B")  # down: the second job
        screen.press("p")
        wait_for(lambda: _state(spool, second) == "paused", 60, what="p to pause the selected job")
        assert _state(spool, first) == "queued"
        screen.press("r")
        wait_for(lambda: _state(spool, second) == "queued", 60, what="r to resume it")
        screen.press("c")
        wait_for(lambda: "y to confirm" in screen.text(), 60, what="the cancel question")
        screen.press("n")
        wait_for(lambda: "not cancelled" in screen.text(), 60, what="the cancel to be dropped")
        assert _state(spool, second) == "queued"
        screen.press("\x1b[A")  # up: the first job
        screen.press("c")
        wait_for(lambda: screen.text().count("y to confirm") >= 2, 60, what="the second cancel question")
        screen.press("y")
        wait_for(lambda: _state(spool, first) == "cancelled", 60, what="y to cancel the selected job")
        assert _state(spool, second) == "queued"
        assert screen.close() == 0
    finally:
        screen.kill()
