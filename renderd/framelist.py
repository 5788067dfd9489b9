"""Frame lists as other tools write them: `7`, `1-250`, `1-250:2`, `1-10,20-30`, `1-3,5,7-20:2`.

The grammar is Open Job Description's integer range expression: a comma-separated list of
items, each `N`, `A-B` or `A-B:STEP` (whitespace allowed around the tokens, negative frame
numbers allowed; A above B needs a negative STEP, which counts down from A to B).  One module so that `render add`,
`render status --frames`, `render retry --missing` and the web API read and write the same text.

Decisions where the grammar is silent (docs/blender.md says the same):
- a frame named twice (`1-10,5`) is refused: a job renders each frame once;
- the items keep their order on the command line, but the frames of a job are a set: chunks are
  cut within each item (a chunk never spans a gap), and `format_frames` writes sorted runs;
- at most MAX_FRAMES frames, so a typo (`1-10000000000`) is one line, not a full memory.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_FRAMES = 10_000_000
MAX_ITEMS = 10_000
_ITEM = re.compile(r"^\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*(?::\s*(-?\d+)\s*)?)?$")
HINT = "use e.g. 1-250, 1-250:2 or 1-10,20-30 (START-END[:STEP], comma-separated)"


class FrameListError(ValueError):
    """Not a frame list; the message quotes the text and says what is accepted."""


@dataclass(frozen=True)
class FrameRun:
    """start, start+step, ... up to end (end is the last frame in the run; step >= 1)."""

    start: int
    end: int
    step: int = 1

    @property
    def frames(self) -> range:
        return range(self.start, self.end + 1, self.step)

    def __len__(self) -> int:
        return len(self.frames)

    def text(self) -> str:
        if self.start == self.end:
            return str(self.start)
        return f"{self.start}-{self.end}" + (f":{self.step}" if self.step != 1 else "")


def parse_frame_list(text: str, default_step: int = 1, limit: int = MAX_FRAMES) -> list[FrameRun]:
    """`1-3,5,7-20:2` -> [FrameRun(1, 3), FrameRun(5, 5), FrameRun(7, 19, 2)]."""
    if not text.strip():
        raise FrameListError(f"bad frame list {text!r}: empty; {HINT}")
    runs: list[FrameRun] = []
    total = 0
    items = text.split(",")
    if len(items) > MAX_ITEMS:
        raise FrameListError(f"bad frame list {text[:40]!r}...: more than {MAX_ITEMS} items")
    for item in items:
        run = _parse_item(text, item, default_step)
        total += len(run)
        if total > limit:
            raise FrameListError(f"bad frame list {text!r}: more than {limit} frames")
        runs.append(run)
    _refuse_repeats(text, runs)
    return runs


def _parse_item(text: str, item: str, default_step: int) -> FrameRun:
    m = _ITEM.match(item)
    if m is None:
        raise FrameListError(f"bad frame list {text!r}: {item.strip()!r} is not a frame or a range; {HINT}")
    start = int(m[1])
    end = int(m[2]) if m[2] is not None else start
    step = int(m[3]) if m[3] is not None else default_step
    if step == 0:
        raise FrameListError(f"bad frame list {text!r}: the step of {item.strip()!r} is 0")
    if end < start and step > 0:
        raise FrameListError(f"bad frame list {text!r}: in {item.strip()!r} the end comes before the start "
                             f"(to count down, give a negative step: {start}-{end}:-1)")
    if end > start and step < 0:
        raise FrameListError(f"bad frame list {text!r}: {item.strip()!r} counts down but ends above its start")
    if abs(end - start) // abs(step) >= MAX_FRAMES:
        raise FrameListError(f"bad frame list {text!r}: more than {MAX_FRAMES} frames")
    if step < 0:  # 10-1:-3 is 10, 7, 4, 1: the same set counted up
        last = start + (end - start) // step * step
        start, end, step = last, start, -step
    else:
        end = start + (end - start) // step * step
    return FrameRun(start, end, step)


def _refuse_repeats(text: str, runs: list[FrameRun]) -> None:
    """Runs whose spans meet are compared by arithmetic, not by a set of millions of frames."""
    ordered = sorted(runs, key=lambda r: r.start)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if b.start > a.end:
                break
            if (b.start - a.start) % math.gcd(a.step, b.step):
                continue  # 1-9:2 and 2-10:2 never meet
            # If they meet, they meet within one period (lcm) of the later start: a short walk.
            lo = max(a.start, b.start)
            hi = min(a.end, b.end, lo + math.lcm(a.step, b.step))
            first = a.start + -(-(lo - a.start) // a.step) * a.step
            for frame in range(first, hi + 1, a.step):
                if frame in b.frames:
                    raise FrameListError(f"bad frame list {text!r}: frame {frame} is named twice")


def frames_of(runs: Iterable[FrameRun]) -> list[int]:
    """Every frame, in the order the list names them."""
    return [f for run in runs for f in run.frames]


def format_frames(frames: Iterable[int]) -> str:
    """Sorted runs: [1, 2, 3, 5, 7, 9, 11] -> `1-3,5,7-11:2` ('' for none).

    Steps are found greedily (a run of three or more frames at one spacing), so what
    `render status` prints is short and reads back with parse_frame_list to the same frames.
    """
    ordered = sorted(set(frames))
    out: list[str] = []
    i = 0
    while i < len(ordered):
        start = ordered[i]
        if i + 2 < len(ordered) and ordered[i + 1] - start == ordered[i + 2] - ordered[i + 1]:
            step = ordered[i + 1] - start
            j = i + 1
            while j + 1 < len(ordered) and ordered[j + 1] - ordered[j] == step:
                j += 1
            out.append(FrameRun(start, ordered[j], step).text())
            i = j + 1
        elif i + 1 < len(ordered) and ordered[i + 1] == start + 1:
            out.append(f"{start},{start + 1}")
            i += 2
        else:
            out.append(str(start))
            i += 1
    return ",".join(out)


def split_runs(runs: Iterable[FrameRun], per_chunk: int) -> list[FrameRun]:
    """Chunks of at most `per_chunk` frames, cut within each run (a chunk never spans a gap)."""
    if per_chunk < 1:
        raise FrameListError("a chunk must hold at least 1 frame")
    out: list[FrameRun] = []
    for run in runs:
        frames = run.frames
        for i in range(0, len(frames), per_chunk):
            part = frames[i : i + per_chunk]
            out.append(FrameRun(part[0], part[-1], run.step))
    return out
