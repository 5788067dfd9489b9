"""Reading Blender's output lines: frame, memory, times, samples, saved files, progress.

Named regular expressions for the formats of Blender 3.x, 4.x and 5.x (fixtures of each in
tests/fixtures/blender_output/):

- 3.x/4.x status lines: `Fra:1 Mem:9.48M (Peak 10.22M) | Time:00:00.46 | Remaining:00:00.00 |
  Mem:0.84M, Peak:0.84M | Main, ViewLayer | Sample 1/4` (Eevee/Workbench: `Rendering 5 / 64 samples`)
- after each frame: `Saved: '/path/main_0001.png'` and ` Time: 00:00.59 (Saving: 00:00.13)`
  (4.5 drops the leading space before `Time:`)
- 5.0 prints no `Fra:` lines; its log lines carry a time stamp and a channel:
  `00:00.627  render           | Saved: '/path/main_0001.png'`

Progress keys on `Saved:` (it exists in every version) and uses the richer lines where they
exist: progress = (frames done + fraction of the current frame) / frames asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TIME = r"(?:\d+:)?\d+:\d+(?:\.\d+)?"
SIZE = r"\d+(?:\.\d+)?[KMGT]?"

LOG5_RE = re.compile(rf"^(?P<stamp>{TIME})\s+(?P<channel>[A-Za-z_][\w.]*)\s+\|\s?(?P<message>.*)$")
FRA_RE = re.compile(rf"^Fra:(?P<frame>-?\d+) Mem:(?P<mem>{SIZE}) \(Peak (?P<peak>{SIZE})\)")
ELAPSED_RE = re.compile(rf"\| Time:(?P<elapsed>{TIME})")
REMAINING_RE = re.compile(rf"\| Remaining:(?P<remaining>{TIME})")
CYCLES_SAMPLE_RE = re.compile(r"\| Sample (?P<done>\d+)/(?P<total>\d+)")
EEVEE_SAMPLE_RE = re.compile(r"Rendering (?P<done>\d+) / (?P<total>\d+) samples")
TILES_RE = re.compile(r"Rendered (?P<done>\d+)/(?P<total>\d+) Tiles")
SAVED_RE = re.compile(r"^Saved: '(?P<path>.*)'\s*$")
FRAME_TIME_RE = re.compile(rf"^\s?Time: (?P<time>{TIME}) \(Saving: (?P<saving>{TIME})\)")
QUIT_RE = re.compile(r"^Blender quit\s*$")
VERSION_RE = re.compile(r"^Blender (?P<version>\d+\.\d+(?:\.\d+)?)")
FRAME_IN_NAME_RE = re.compile(r"(-?\d+)(?!.*\d)")


def seconds(text: str) -> float:
    """`00:00.59`, `01:02:03.5` -> seconds."""
    total = 0.0
    for part in text.split(":"):
        total = total * 60 + float(part)
    return total


def mebibytes(text: str) -> float:
    """Blender's `9.48M`, `1.2G`, `512K` -> MiB."""
    scale = {"K": 1 / 1024, "M": 1.0, "G": 1024.0, "T": 1024.0 * 1024}
    unit = text[-1] if text[-1] in scale else "M"
    return float(text.rstrip("KMGT")) * scale[unit]


@dataclass
class BlenderProgress:
    """Fed one line at a time; knows how far a chunk of `frames_total` frames is."""

    frames_total: int = 1
    version: str | None = None
    frame: int | None = None
    mem: float | None = None
    peak: float | None = None
    elapsed: float | None = None
    remaining: float | None = None
    sample: int | None = None
    samples: int | None = None
    saved: list[str] = field(default_factory=list)
    frames_done: list[int | str] = field(default_factory=list)
    frame_times: list[float] = field(default_factory=list)
    quit: bool = False
    _last_saved_stamp: float = 0.0
    _time_lines: int = 0

    def feed(self, line: str) -> bool:
        """Take one output line; True if it told something new."""
        line = line.rstrip("\r\n")
        stamp: float | None = None
        m5 = LOG5_RE.match(line)
        if m5 is not None:
            stamp, line = seconds(m5["stamp"]), m5["message"]
        if (m := FRA_RE.match(line)) is not None:
            return self._status(m, line)
        if (m := SAVED_RE.match(line)) is not None:
            self._saved(m["path"], stamp)
            return True
        if (m := FRAME_TIME_RE.match(line)) is not None:
            self._frame_time(seconds(m["time"]))
            return True
        if (m := EEVEE_SAMPLE_RE.search(line)) is not None:
            self.sample, self.samples = int(m["done"]), int(m["total"])
            return True
        if QUIT_RE.match(line):
            self.quit = True
            return True
        if self.version is None and (m := VERSION_RE.match(line)) is not None:
            self.version = m["version"]
            return True
        return False

    def _status(self, m: re.Match[str], line: str) -> bool:
        frame = int(m["frame"])
        if frame != self.frame:
            self.sample = self.samples = self.remaining = None
        self.frame = frame
        self.mem, self.peak = mebibytes(m["mem"]), mebibytes(m["peak"])
        if (t := ELAPSED_RE.search(line)) is not None:
            self.elapsed = seconds(t["elapsed"])
        if (r := REMAINING_RE.search(line)) is not None:
            self.remaining = seconds(r["remaining"])
        for pattern in (CYCLES_SAMPLE_RE, EEVEE_SAMPLE_RE, TILES_RE):
            if (s := pattern.search(line)) is not None:
                self.sample, self.samples = int(s["done"]), int(s["total"])
                break
        return True

    def _saved(self, path: str, stamp: float | None) -> None:
        self.saved.append(path)
        key: int | str
        if self.frame is not None:
            key = self.frame
        else:
            digits = FRAME_IN_NAME_RE.search(Path(path).stem)
            key = int(digits[1]) if digits is not None else path
        if key not in self.frames_done:
            self.frames_done.append(key)
            if stamp is not None and self._time_lines == 0:
                # 5.0 prints no per-frame `Time:` line: the time between two saves is the frame's time
                self.frame_times.append(round(stamp - self._last_saved_stamp, 3))
        if stamp is not None:
            self._last_saved_stamp = stamp
        self.sample = self.samples = self.remaining = None

    def _frame_time(self, value: float) -> None:
        self._time_lines += 1
        if len(self.frame_times) >= len(self.frames_done) and self.frame_times:
            self.frame_times[-1] = value  # a second `Time:` for the same frame (multi-layer files)
        else:
            self.frame_times.append(value)

    @property
    def fraction_of_frame(self) -> float:
        if self.sample is not None and self.samples:
            return min(1.0, self.sample / self.samples)
        return 0.0

    @property
    def progress(self) -> float:
        done = len(self.frames_done)
        if done >= self.frames_total:
            return 1.0
        return min(1.0, (done + self.fraction_of_frame) / max(1, self.frames_total))

    def summary(self) -> dict[str, Any]:
        """The fields of a `chunk-progress` event (docs/json.md)."""
        out: dict[str, Any] = {
            "progress": round(self.progress, 4),
            "frames_done": len(self.frames_done),
            "frames_total": self.frames_total,
        }
        optional: dict[str, Any] = {
            "frame": self.frame,
            "sample": self.sample,
            "samples": self.samples,
            "mem": None if self.mem is None else round(self.mem, 2),
            "peak": None if self.peak is None else round(self.peak, 2),
            "remaining": self.remaining,
            "frame_seconds": self.frame_times[-1] if self.frame_times else None,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out


def parse_lines(lines: list[str], frames_total: int = 1) -> BlenderProgress:
    parser = BlenderProgress(frames_total)
    for line in lines:
        parser.feed(line)
    return parser


def parse_log(path: Path, frames_total: int = 1, limit: int = 64 * 1024 * 1024) -> BlenderProgress:
    """Parse a whole chunk log (a renderd log holds the run's stdout and stderr)."""
    with open(path, "rb") as fh:
        text = fh.read(limit).decode("utf-8", errors="replace")
    return parse_lines(text.splitlines(), frames_total)

