"""The one-line progress display: drawn on a terminal (a real pty here), never into a pipe."""

from __future__ import annotations

import os
import pty
from pathlib import Path

from helpers.daemons import render

from render_frontend.progressbar import Counting, Line, bar


def _read_all(fd: int) -> bytes:
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return out
        if not chunk:
            return out
        out += chunk


def test_a_counting_sequence_draws_a_bar_on_a_terminal_and_clears_it() -> None:
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as tty:
        line = Line(tty, delay=0.0)
        items = list(range(5))
        assert list(Counting(items, "writing 5 chunks", line)) == items
        os.set_blocking(master, False)
        shown = _read_all(master).decode()
    os.close(master)
    assert "writing 5 chunks: [" in shown and "0/5" in shown
    assert shown.endswith("\r\x1b[K")  # cleared: the next line starts clean


def test_nothing_is_drawn_into_a_pipe(tmp_path: Path) -> None:
    r, w = os.pipe()
    with os.fdopen(w, "w") as pipe:
        line = Line(pipe, delay=0.0)
        line.show("x", force=True)
        line.clear()
    with os.fdopen(r) as fh:
        assert fh.read() == ""
    assert bar(5, 10, width=10) == "[#####-----] 5/10"


def test_a_big_add_into_a_pipe_prints_only_its_summary(spool: Path) -> None:
    out = render(spool, "add", "--frames", "1-3000", "--chunk", "1", "--", "true", cwd=spool)
    assert out.stderr == "queued 3000 chunk(s), 3000 frame(s)\n" and "\r" not in out.stdout
