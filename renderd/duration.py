"""One duration type for every time option: `90s`, `5m`, `2h`, `7d`, `1w`, `1h30m`, `1.5h`, `90`.

A bare number means seconds, in every option of both programs and in the config file (where
`lease = 90` and `lease = "90s"` are the same).  `render clean --older-than` alone used to read
a bare number as days; it still does, with a deprecation line (see `render_frontend` clean), so
that old cron lines keep their meaning until they are rewritten.

nan, inf and negative values are refused here once, so no option has to remember that a float
option lets `nan` through (which stops polls, leases and time limits in odd ways).
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import click

UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)")
_UNIT_NAMES = {"s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
               "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
               "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
               "d": "d", "day": "d", "days": "d", "w": "w", "week": "w", "weeks": "w"}
HINT = "use a number and a unit, e.g. 90s, 5m, 2h, 7d, 1h30m (a bare number means seconds)"
MAX_SECONDS = 100 * 365 * 86400.0  # a century: anything longer is a typo, and stays a finite float


class DurationError(ValueError):
    """Not a duration; the message says what is accepted."""


def is_bare_number(text: str) -> bool:
    """`90`, `2.5`: a number without a unit (clean's deprecated days)."""
    return re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*", text) is not None


def parse_duration(text: str) -> float:
    """`1h30m` -> 5400.0; refuses empty, negative, nan, inf and unknown units with one sentence."""
    s = text.strip().lower()
    if not s:
        raise DurationError(f"{text!r} is not a duration: {HINT}")
    if is_bare_number(s):
        return _bounded(text, float(s))
    total, pos, seen = 0.0, 0, set()
    for m in _PART.finditer(s):
        if s[pos : m.start()].strip():
            break
        unit = _UNIT_NAMES.get(m[2])
        if unit is None or unit in seen:
            raise DurationError(f"{text!r} is not a duration: {HINT}")
        seen.add(unit)
        total += float(m[1]) * UNITS[unit]
        pos = m.end()
    if pos == 0 or s[pos:].strip():
        raise DurationError(f"{text!r} is not a duration: {HINT}")
    return _bounded(text, total)


def _bounded(text: str, seconds: float) -> float:
    if not math.isfinite(seconds) or seconds > MAX_SECONDS:
        raise DurationError(f"{text!r} is longer than 100 years")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact spelling: 5400 -> `1h30m`, 90 -> `90s`, 0.5 -> `0.5s`."""
    if seconds != int(seconds) or seconds < 60:
        return f"{seconds:g}s"
    out, rest = [], int(seconds)
    for unit in ("w", "d", "h", "m", "s"):
        size = int(UNITS[unit])
        if rest >= size and (unit != "w" or rest % size == 0):
            out.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(out)


if TYPE_CHECKING:  # click 8.3+ types ParamType by its value; older clicks cannot subscript it
    _ParamType = click.ParamType[float, Any]
else:
    _ParamType = click.ParamType


class Duration(_ParamType):
    """A click type for durations; the value is seconds (float).

    `minimum` is inclusive unless `min_open` (a lease of 0 s makes no sense, an idle delay of
    0 s means 'at once').  Numbers (from a TOML file: `lease = 90`) are seconds; booleans are
    refused (TOML `true` is not a time).
    """

    name = "duration"

    def __init__(self, minimum: float = 0.0, min_open: bool = False, maximum: float | None = None) -> None:
        self.minimum = minimum
        self.min_open = min_open
        self.maximum = maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, bool):
            self.fail(f"{value!r} is not a duration: {HINT}", param, ctx)
        try:
            if isinstance(value, (int, float)):
                seconds = _bounded(str(value), float(value))  # negative: the minimum below says so
            else:
                seconds = parse_duration(str(value))
        except DurationError as err:
            self.fail(str(err), param, ctx)
        if seconds < self.minimum or (self.min_open and seconds == self.minimum):
            word = "more than" if self.min_open else "at least"
            self.fail(f"must be {word} {format_duration(self.minimum)}", param, ctx)
        if self.maximum is not None and seconds > self.maximum:
            tidy = format_duration(self.maximum)
            self.fail(f"must be at most {tidy if len(tidy) <= 8 else f'{self.maximum:g} seconds'}", param, ctx)
        return seconds

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "DURATION"


POSITIVE = Duration(0.0, min_open=True)
NON_NEGATIVE = Duration(0.0)
