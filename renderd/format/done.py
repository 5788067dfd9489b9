"""Records of finished chunks (format 1): `jobs/<job>/done/<chunk>.json` and
`jobs/<job>/cancelled/<chunk>.json`.

The info file is deleted when a chunk is done or cancelled, so its record keeps the chunk's
`info`: `render retry --missing` brings the chunk back from it.  A done record also says who
ran it, when, how long, the files the render said it saved and its per-frame times, read by
`render status`/`top`.  Both are hostile like any spool file: every field is checked, the kept
`info` as strictly as an info file in the queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from renderd.errors import BadInfoFile, BadRecord
from renderd.format import FORMAT, jsonload
from renderd.format.fields import Fields
from renderd.format.info import COUNTER_LIMITS, MAX_HISTORY, ChunkInfo, history_entry_ok

MAX_RECORD_BYTES = 1024 * 1024
MAX_SAVED = 1000  # the daemon keeps the last 1 000 saved files and frame times
MAX_SECONDS = 1e9


@dataclass(frozen=True)
class DoneRecord:
    chunk: str
    job: str
    host: str = ""
    run: int = 1
    start: int = 0
    end: int = 0
    step: int = 1
    frames: int = 0
    started: float | None = None
    finished: float | None = None
    seconds: float | None = None
    suspended: float = 0.0  # of `seconds`, the time the run spent suspended (SIGSTOP)
    log: str = ""
    attempts: int = 0
    requeues: int = 0
    history: tuple[dict[str, Any], ...] = ()
    saved: tuple[str, ...] = ()
    frame_times: tuple[float, ...] = ()
    info: ChunkInfo | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "chunk": self.chunk, "job": self.job, "host": self.host, "run": self.run, "start": self.start,
            "end": self.end, "step": self.step, "frames": self.frames, "started": self.started,
            "finished": self.finished, "seconds": self.seconds, "log": self.log, "attempts": self.attempts,
            "requeues": self.requeues, "history": list(self.history),
        }
        if self.suspended:
            out["suspended"] = self.suspended
        if self.saved or self.frame_times:
            out |= {"saved": list(self.saved), "frame_times": list(self.frame_times)}
        if self.info is not None:
            out["info"] = self.info.as_dict()
        return out

    def to_bytes(self) -> bytes:
        return jsonload.dumps(self.as_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path | str | None = None) -> DoneRecord:
        f = Fields(data, path, "done record")
        chunk, job = _ids(f)
        frame_times = f.items("frame_times", [], MAX_SAVED)
        if not all(isinstance(t, (int, float)) and not isinstance(t, bool) and 0 <= t <= MAX_SECONDS
                   for t in frame_times):
            raise f.fail("field 'frame_times' must be a list of seconds")
        return cls(
            chunk=chunk, job=job, host=f.text("host", "", 256), run=f.integer("run", 1, 0, 10_000),
            start=f.integer("start", 0, -(10**9), 10**9), end=f.integer("end", 0, -(10**9), 10**9),
            step=f.integer("step", 1, 1, 10**9), frames=f.integer("frames", 0, 0, 10**9),
            started=f.optional_number("started"), finished=f.optional_number("finished"),
            seconds=f.optional_number("seconds", 0.0, MAX_SECONDS), log=f.text("log", ""),
            suspended=f.optional_number("suspended", 0.0, MAX_SECONDS) or 0.0,
            attempts=f.integer("attempts", 0, 0, COUNTER_LIMITS["attempts"]),
            requeues=f.integer("requeues", 0, 0, COUNTER_LIMITS["requeues"]),
            history=_history(f), saved=tuple(f.texts("saved", [], MAX_SAVED)),
            frame_times=tuple(float(t) for t in frame_times), info=_info(f, chunk),
        )

    @classmethod
    def from_bytes(cls, raw: bytes, path: Path | str | None = None) -> DoneRecord:
        return cls.from_dict(jsonload.load_object(raw, path, what="done record", limit=MAX_RECORD_BYTES), path)


@dataclass(frozen=True)
class CancelledRecord:
    chunk: str
    job: str
    time: float | None = None
    by: str = ""
    info: ChunkInfo | None = None
    format: int = FORMAT

    def to_bytes(self) -> bytes:
        return jsonload.dumps({"format": self.format, "chunk": self.chunk, "job": self.job, "time": self.time,
                               "by": self.by, "info": None if self.info is None else self.info.as_dict()})

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path | str | None = None) -> CancelledRecord:
        f = Fields(data, path, "cancelled record")
        fmt = f.version(FORMAT) if "format" in data else FORMAT
        chunk, job = _ids(f)
        return cls(chunk=chunk, job=job, time=f.optional_number("time"), by=f.text("by", "", 256),
                   info=_info(f, chunk), format=fmt)

    @classmethod
    def from_bytes(cls, raw: bytes, path: Path | str | None = None) -> CancelledRecord:
        return cls.from_dict(jsonload.load_object(raw, path, what="cancelled record", limit=MAX_RECORD_BYTES), path)


def _ids(f: Fields) -> tuple[str, str]:
    chunk: str = f.name("chunk")
    job: str = f.name("job")
    if not chunk.startswith(job + "-"):
        raise f.fail(f"chunk {chunk!r} is not of job {job!r}")
    name = "" if f.path is None else Path(f.path).name
    if name.endswith(".json") and name != f"{chunk}.json":
        raise f.fail(f"holds chunk {chunk!r}, not the one its file name says")
    return chunk, job


def _history(f: Fields) -> tuple[dict[str, Any], ...]:
    entries = f.items("history", [], 10 * MAX_HISTORY)
    if not all(map(history_entry_ok, entries)):
        raise f.fail("field 'history' must be a list of flat objects")
    return tuple(dict(h) for h in entries[-MAX_HISTORY:])


def _info(f: Fields, chunk: str) -> ChunkInfo | None:
    data = f.obj("info", None)
    if data is None:
        return None
    try:
        info = ChunkInfo.from_dict(data)
    except BadInfoFile as err:
        raise BadRecord(f"{f.what}: its info: {err.message}", f.path) from None
    if info.chunk != chunk:
        raise f.fail(f"its info holds chunk {info.chunk!r}")
    return info
