"""Warnings that an attacker can multiply, kept to a few lines a minute.

One hostile file deserves one log line; 2 000 of them (or one that is met on every poll) must
not fill journald: 2 000 mode-000 info files made a daemon write 80 000 warnings, 19 MiB of log,
in 10 seconds.  Each kind of warning (`key`) gets `burst` lines per `window`; the rest are
counted and summed up in one line when the window has passed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Window:
    started: float
    lines: int = 0
    held: int = 0


class RateLimitedLog:
    """`warning(key, msg, *args)`: at most `burst` lines per key in each `window` seconds."""

    def __init__(self, logger: logging.Logger, burst: int = 5, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger, self.burst, self.window, self.clock = logger, burst, window, clock
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def warning(self, key: str, msg: str, *args: object) -> bool:
        """Log unless this key is over its budget; True if the line was written."""
        return self.log(logging.WARNING, key, msg, *args)

    def debug(self, key: str, msg: str, *args: object) -> bool:
        """The same budget for debug lines (e.g. the scheduler's decisions: one kind per key)."""
        if not self.logger.isEnabledFor(logging.DEBUG):
            return False
        return self.log(logging.DEBUG, key, msg, *args)

    def log(self, level: int, key: str, msg: str, *args: object) -> bool:
        now = self.clock()
        with self._lock:
            win = self._windows.get(key)
            if win is None or now - win.started >= self.window:
                if win is not None and win.held:
                    what = "warning(s)" if level == logging.WARNING else "line(s)"
                    self.logger.log(level, "%d more %s like this held back in %.0f s: %s",
                                    win.held, what, now - win.started, key)
                win = self._windows[key] = _Window(now)
                if len(self._windows) > 1000:  # keys come from hostile names: keep the table small
                    self._windows = {key: win}
            if win.lines >= self.burst:
                win.held += 1
                return False
            win.lines += 1
        self.logger.log(level, msg, *args)
        return True
