"""Frames -> chunks -> info files (written through renderd.spool)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from renderd.errors import UsageError
from renderd.format.manifest import MAX_CHUNKS
from renderd.framelist import FrameListError, FrameRun, parse_frame_list, split_runs

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


def parse_frame_runs(text: str, default_step: int = 1) -> list[FrameRun]:
    """`--frames` as a frame list (renderd/framelist.py: `1-10,20-30`, `1-3,5,7-20:2`)."""
    try:
        return parse_frame_list(text, default_step)
    except FrameListError as err:
        raise UsageError(str(err)) from None


def chunk_runs(runs: Sequence[FrameRun], per_chunk: int) -> list[FrameRun]:
    """Chunks of `per_chunk` frames, cut within each item of the list (never across a gap)."""
    if per_chunk < 1:
        raise UsageError("a chunk must hold at least 1 frame")
    return split_runs(runs, per_chunk)


def chunk_count(runs: Sequence[FrameRun], per_chunk: int) -> int:
    return sum(math.ceil(len(r) / per_chunk) for r in runs)


def check_size(runs: Sequence[FrameRun], per_chunk: int) -> None:
    """Refused before a single chunk is built: the manifest could not list more."""
    count = chunk_count(runs, per_chunk)
    if count > MAX_CHUNKS:
        frames = sum(len(r) for r in runs)
        smallest = math.ceil(frames / MAX_CHUNKS)
        raise UsageError(f"{frames} frames in chunks of {per_chunk} make {count} chunks; a job holds at most "
                         f"{MAX_CHUNKS}: use --chunk {smallest} or more")


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
