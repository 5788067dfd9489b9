"""A one-line progress display on stderr for work that takes long: only on a terminal, only
after the first second (a quick `render add` prints nothing extra), cleared when done.

`render add` wraps the chunks it writes in `counting()`, so the spool layer needs no callback;
`render wait` calls `line()` with its own text.  When stderr is a pipe or a file nothing is
written at all (scripts and logs stay clean).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from typing import IO, TypeVar

from render_frontend import terminal

T = TypeVar("T")
DELAY = 1.0  # seconds before the first display
INTERVAL = 0.1  # seconds between redraws


class Line:
    """One status line, redrawn in place (`\\r`, erase to end of line)."""

    def __init__(self, stream: IO[str] | None = None, delay: float = DELAY) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty()
        self.started = time.monotonic()
        self.delay = delay
        self._last = 0.0
        self._shown = False

    def show(self, text: str, force: bool = False) -> None:
        if not self.live:
            return
        now = time.monotonic()
        if not force and (now - self.started < self.delay or now - self._last < INTERVAL):
            return
        self._last = now
        self._shown = True
        self.stream.write("\r" + terminal.visible(text) + "\x1b[K")
        self.stream.flush()

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False


def bar(done: int, total: int, width: int = 30) -> str:
    filled = width * done // total if total else width
    return "[" + "#" * filled + "-" * (width - filled) + f"] {done}/{total}"


class Counting(Sequence[T]):
    """A sequence that shows `what: [####----] n/total` while it is iterated."""

    def __init__(self, items: Sequence[T], what: str, line: Line | None = None) -> None:
        self.items = items
        self.what = what
        self.line = line if line is not None else Line()

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> T:  # type: ignore[override]
        return self.items[index]

    def __iter__(self) -> Iterator[T]:
        total = len(self.items)
        try:
            for n, item in enumerate(self.items, start=1):
                self.line.show(f"{self.what}: {bar(n - 1, total)}")
                yield item
        finally:
            self.line.clear()


def counting(items: Sequence[T], what: str) -> Sequence[T]:
    return Counting(items, what)
