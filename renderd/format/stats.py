"""Statistics lines (format 1): one JSON object per line of `stats/<daemon>.jsonl`.

Each daemon appends one line per chunk run that ended (done, or a failed attempt), so the farm's
history outlives the jobs: `render clean` and `render remove` delete job folders, never stats/.
`render stats` reads 100 000 lines in well under a second, so the reader here is a fast path:
one `json.loads` per line without per-number hooks (a line is at most MAX_LINE bytes, which
bounds Python's own int parsing), then a type and range check of each field.  A line that fails
is skipped by the reader (any artist can append to the file), never shown half.

Frame times: `frame_seconds` is the sum of the per-frame times Blender reported, `fastest` and
`slowest` the extremes; for a program that reports no frames they are the run's time (suspended
time left out) spread evenly over its frames.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from renderd.errors import BadRecord
from renderd.format.names import valid_name

VERSION = 1
MAX_LINE = 4096
MAX_REASON = 500
MAX_SECONDS = 1e9


@dataclass(slots=True)
class StatsLine:
    time: float  # when the run ended (seconds since 1970)
    host: str
    job: str
    chunk: str
    ok: bool
    frames: int
    seconds: float  # wall time, suspended time included
    suspended: float = 0.0
    frame_seconds: float = 0.0
    fastest: float | None = None
    slowest: float | None = None
    slots: int = 1
    run: int = 1
    reason: str = ""
    v: int = VERSION

    def to_line(self) -> bytes:
        return (json.dumps(asdict(self), ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n").encode()

    @classmethod
    def from_line(cls, raw: bytes | str, path: Path | str | None = None) -> StatsLine:
        if len(raw) > MAX_LINE:
            raise BadRecord(f"stats line longer than {MAX_LINE} bytes", path)
        try:
            data = json.loads(raw, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            raise BadRecord("stats line is not JSON", path) from None
        if not isinstance(data, dict):
            raise BadRecord("stats line is not a JSON object", path)
        try:
            return _checked(data)
        except (KeyError, TypeError, ValueError) as err:
            raise BadRecord(f"stats line does not hold a chunk's run ({err})", path) from None


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


_NAMES: dict[str, bool] = {}  # host and job names repeat on nearly every line: check each once


def _name(value: Any, key: str) -> str:
    ok = _NAMES.get(value) if isinstance(value, str) else False
    if ok is None:
        ok = _NAMES[value] = valid_name(value)
        if len(_NAMES) > 100_000:
            _NAMES.clear()
    if not ok:
        raise ValueError(f"{key} is not a name")
    return str(value)


_NUMBERS = (int, float)
_HI = MAX_SECONDS * 10


def _checked(data: dict[str, Any]) -> StatsLine:
    """Every field's type and range, written out flat (this runs once per recorded chunk): `type() in`
    refuses bools, and `0 <= x <= hi` refuses NaN and the infinities (1e400) too."""
    get: Any = data.get  # values are checked below, one by one
    v, ok, reason, job, chunk = get("v"), get("ok"), get("reason", ""), get("job"), get("chunk")
    host, frames, slots, run = get("host"), get("frames"), get("slots", 1), get("run", 1)
    t, seconds, suspended, frame_seconds = get("time"), get("seconds"), get("suspended", 0.0), get("frame_seconds", 0.0)
    fastest, slowest = get("fastest"), get("slowest")
    if type(v) is not int or not 1 <= v <= VERSION:
        raise ValueError("not a stats line of a known format")
    if type(ok) is not bool or type(reason) is not str or len(reason) > MAX_REASON:
        raise ValueError("ok or reason has the wrong type")
    for number in (t, seconds, suspended, frame_seconds):
        if type(number) not in _NUMBERS or not 0 <= number <= _HI:
            raise ValueError("a time is not a number in range")
    for extreme in (fastest, slowest):
        if extreme is not None and (type(extreme) not in _NUMBERS or not 0 <= extreme <= _HI):
            raise ValueError("a frame time is not a number in range")
    for count, hi in ((frames, 10**9), (slots, 4096), (run, 10**6)):
        if type(count) is not int or not 0 <= count <= hi:
            raise ValueError("a count is not a number in range")
    job = _name(job, "job")
    if type(chunk) is not str or len(chunk) > 200 or not chunk.startswith(job + "-"):
        raise ValueError("chunk is not a chunk of its job")
    return StatsLine(t, _name(host, "host"), job, chunk, ok, frames, seconds, min(suspended, seconds), frame_seconds,
                     fastest, slowest, slots or 1, run, reason, v)


def read_lines(raw: bytes, path: Path | str | None = None, skipped: list[int] | None = None) -> list[StatsLine]:
    """Every good line of one stats file, in order; a line that fails its check is left out (and
    counted in `skipped[0]`).  The whole file is parsed as one JSON array when it can be (one call
    into the C parser instead of one per line); a file holding a bad line is parsed line by line."""
    texts = [t for t in raw.splitlines() if t]
    try:
        if any(len(t) > MAX_LINE for t in texts):
            raise ValueError("a line is too long")
        values = json.loads(b"[" + b",".join(texts) + b"]", parse_constant=_no_constant)
        if len(values) != len(texts) or not all(type(v) is dict for v in values):
            raise ValueError("a line is not one object")
    except (ValueError, RecursionError):
        values = None
    out: list[StatsLine] = []
    bad = 0
    if values is not None:
        for data in values:
            try:
                out.append(_checked(data))
            except (TypeError, ValueError):
                bad += 1
    else:
        for text in texts:
            try:
                out.append(StatsLine.from_line(text, path))
            except BadRecord:
                bad += 1
    if skipped is not None:
        skipped[0] += bad
    return out


def from_run(*, time: float, host: str, job: str, chunk: str, ok: bool, frames: int, seconds: float,
             suspended: float, frame_times: list[float] | None, slots: int, run: int, reason: str = "") -> StatsLine:
    """The line for one ended run; per-frame figures from Blender's own frame times when it gave them."""
    busy = max(seconds - suspended, 0.0)
    times = [t for t in (frame_times or []) if isinstance(t, (int, float)) and math.isfinite(t) and t >= 0]
    if ok and times:
        frame_seconds, fastest, slowest = float(sum(times)), float(min(times)), float(max(times))
    elif ok and frames:
        frame_seconds = busy
        fastest = slowest = busy / frames
    else:
        frame_seconds, fastest, slowest = 0.0, None, None
    return StatsLine(time=round(time, 3), host=host, job=job, chunk=chunk, ok=ok, frames=frames if ok else 0,
                     seconds=round(seconds, 3), suspended=round(min(suspended, seconds), 3),
                     frame_seconds=round(frame_seconds, 3), fastest=None if fastest is None else round(fastest, 3),
                     slowest=None if slowest is None else round(slowest, 3), slots=max(1, slots), run=run,
                     reason=reason[:MAX_REASON])
