"""Frames -> chunks -> info files (written through renderd.spool)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from renderd.errors import UsageError

FRAMES_RE = re.compile(r"^\s*(-?\d+)\s*(?:-\s*(-?\d+))?\s*(?::\s*(\d+))?\s*$")
PLACEHOLDERS = ("{start}", "{end}", "{step}", "{frames}")


def parse_frames(text: str, default_step: int = 1) -> tuple[int, int, int]:
    """'1-200', '1-25:2', '7' -> (start, end, step)."""
    m = FRAMES_RE.match(text)
    if m is None:
        raise UsageError(f"bad frame range {text!r}: use START-END or START-END:STEP, e.g. 1-250:2")
    start = int(m[1])
    end = int(m[2]) if m[2] is not None else start
    step = int(m[3]) if m[3] is not None else default_step
    if step < 1:
        raise UsageError(f"bad frame range {text!r}: the step must be at least 1")
    if end < start:
        raise UsageError(f"bad frame range {text!r}: the end comes before the start")
    if (end - start) // step > 10_000_000:
        raise UsageError(f"bad frame range {text!r}: too many frames")
    return start, end, step


def split(start: int, end: int, step: int, per_chunk: int) -> list[tuple[int, int]]:
    """Chunks of `per_chunk` rendered frames; a chunk's end is its last rendered frame."""
    if per_chunk < 1:
        raise UsageError("a chunk must hold at least 1 frame")
    frames = range(start, end + 1, step)
    return [(frames[i], frames[min(i + per_chunk, len(frames)) - 1]) for i in range(0, len(frames), per_chunk)]


def expand(argv: Sequence[str], start: int, end: int, step: int) -> list[str]:
    """Fill in {start}, {end}, {step} and {frames} (comma-separated) in every argument."""
    values = {
        "{start}": str(start),
        "{end}": str(end),
        "{step}": str(step),
        "{frames}": ",".join(str(f) for f in range(start, end + 1, step)),
    }
    out = []
    for arg in argv:
        for key in PLACEHOLDERS:
            if key in arg:
                arg = arg.replace(key, values[key])
        out.append(arg)
    return out
