"""Signals read off devices: the last input event (/dev/input/event*) and tty access times."""

from __future__ import annotations

import errno
import glob
import os
import re
import struct
import time
from collections.abc import Iterable, Sequence

from renderd.idle.base import Probe, Reading, _ago

# struct input_event: struct timeval (two longs), __u16 type, __u16 code, __s32 value.
INPUT_EVENT = struct.Struct("@llHHi")
EV_KEY, EV_REL, EV_ABS = 1, 2, 3
OWNER_EVENT_TYPES = frozenset({EV_KEY, EV_REL, EV_ABS})
TTY_RE = re.compile(r"^/dev/(pts/\d+|tty\d+)$")


class TtyProbe(Probe):
    """The newest access time of the terminals: typing on a tty or pty updates it (8 s granularity)."""

    name = "tty"
    interval = 1.0

    def __init__(self, patterns: Sequence[str] = ("/dev/pts/*", "/dev/tty[0-9]*")) -> None:
        super().__init__()
        self.patterns = patterns

    def sample(self, now: float) -> Reading:
        return tty_reading(self._ttys(), now)

    def _ttys(self) -> list[str]:
        return [p for pattern in self.patterns for p in glob.glob(pattern) if TTY_RE.match(p)]


def tty_reading(paths: Iterable[str], now: float) -> Reading:
    newest, count = None, 0
    for path in paths:
        try:
            atime = os.stat(path).st_atime
        except OSError:
            continue
        count += 1
        newest = atime if newest is None else max(newest, atime)
    if newest is None:
        return Reading("tty", False, None, "no terminals to watch")
    return Reading("tty", True, min(newest, now), f"{count} terminal(s), newest input {_ago(now, newest)}")




def last_input_event(data: bytes) -> float | None:
    """The time of the newest key/pointer event in raw `struct input_event` bytes (None: none)."""
    newest = None
    usable = len(data) - len(data) % INPUT_EVENT.size
    for sec, usec, etype, _code, _value in INPUT_EVENT.iter_unpack(data[:usable]):
        if etype in OWNER_EVENT_TYPES:
            stamp = sec + usec / 1e6
            newest = stamp if newest is None else max(newest, stamp)
    return newest


class InputProbe(Probe):
    """Reads pending events from every readable /dev/input/event* without disturbing other readers.

    evdev gives every opener its own copy of the events, so reading here steals nothing from
    the desktop.  Devices are looked for again every `rescan` seconds (hot-plugged mice)."""

    name = "input"
    rescan = 30.0

    def __init__(self, pattern: str = "/dev/input/event*") -> None:
        super().__init__()
        self.pattern = pattern
        self.fds: dict[str, int] = {}
        self.unreadable: list[str] = []
        self.newest: float | None = None
        self._scanned = -float("inf")

    def _scan(self) -> None:
        self._scanned = time.monotonic()
        self.unreadable = []
        for path in sorted(glob.glob(self.pattern)):
            if path in self.fds:
                continue
            try:
                self.fds[path] = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError:
                self.unreadable.append(path)

    def sample(self, now: float) -> Reading:
        if time.monotonic() - self._scanned >= self.rescan:
            self._scan()
        for path, fd in list(self.fds.items()):
            self._drain(path, fd, now)
        if not self.fds:
            why = f"{len(self.unreadable)} device(s), none readable" if self.unreadable else "no input devices"
            return Reading(self.name, False, None, why)
        detail = f"{len(self.fds)} readable device(s)" + (
            f", {len(self.unreadable)} unreadable" if self.unreadable else ""
        )
        return Reading(self.name, True, self.newest, detail + f", last event {_ago(now, self.newest)}")

    def _drain(self, path: str, fd: int, now: float) -> None:
        while True:
            try:
                data = os.read(fd, INPUT_EVENT.size * 256)
            except BlockingIOError:
                return
            except OSError as err:
                if err.errno != errno.EAGAIN:  # unplugged (ENODEV): forget it
                    os.close(fd)
                    del self.fds[path]
                return
            if not data:
                return
            stamp = last_input_event(data)
            if stamp is not None:
                stamp = min(stamp, now)
                self.newest = stamp if self.newest is None else max(self.newest, stamp)

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()
